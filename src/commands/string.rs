//! String group: GET/SET and their variants, counters, ranges, LCS.
//!
//! Integer-encoded values are updated in place by INCR and friends (the
//! rate-limiting hot path: INCR + EXPIRE). INCRBYFLOAT reproduces Redis's
//! x87 `long double` arithmetic and `%.17Lf` formatting in software
//! ([`ldouble`]), because f64 visibly differs (0.1 + 0.2, large values).

use crate::commands::Outcome;
use std::sync::atomic::Ordering;

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;
use crate::clock::lru_clock;
use crate::keyspace::notify::class;
use crate::keyspace::{Db, Entry, NewValue, ValueRef};
use crate::protocol::parse::parse_i64;

const G: Group = Group::String;

const GETRANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, G, get)
        .keys(1, 1, 1)
        .doc("Returns the string value of a key.", "1.0.0", "O(1)"),
    CommandSpec::new("set", -3, WRITE | DENYOOM, G, set)
        .keys(1, 1, 1)
        .doc(
            "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, G, setnx)
        .keys(1, 1, 1)
        .doc(
            "Set the string value of a key only when the key doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, G, setex)
        .keys(1, 1, 1)
        .doc(
            "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
            "2.0.0",
            "O(1)",
        ),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, G, psetex)
        .keys(1, 1, 1)
        .doc(
            "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
            "2.6.0",
            "O(1)",
        ),
    CommandSpec::new("mget", -2, READONLY | FAST, G, mget)
        .keys(1, -1, 1)
        .doc(
            "Atomically returns the string values of one or more keys.",
            "1.0.0",
            "O(N) where N is the number of keys to retrieve.",
        ),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, G, mset)
        .keys(1, -1, 2)
        .doc(
            "Atomically creates or modifies the string values of one or more keys.",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
        ),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, G, msetnx)
        .keys(1, -1, 2)
        .doc(
            "Atomically modifies the string values of one or more keys only when all keys don't exist.",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
        ),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, G, getset)
        .keys(1, 1, 1)
        .doc(
            "Returns the previous string value of a key after setting it to a new value.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("getdel", 2, WRITE | FAST, G, getdel)
        .keys(1, 1, 1)
        .doc(
            "Returns the string value of a key after deleting the key.",
            "6.2.0",
            "O(1)",
        ),
    CommandSpec::new("getex", -2, WRITE | FAST, G, getex)
        .keys(1, 1, 1)
        .doc(
            "Returns the string value of a key after setting its expiration time.",
            "6.2.0",
            "O(1)",
        ),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, G, append)
        .keys(1, 1, 1)
        .doc(
            "Appends a string to the value of a key. Creates the key if it doesn't exist.",
            "2.0.0",
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        ),
    CommandSpec::new("strlen", 2, READONLY | FAST, G, strlen)
        .keys(1, 1, 1)
        .doc("Returns the length of a string value.", "2.2.0", "O(1)"),
    CommandSpec::new("getrange", 4, READONLY, G, getrange)
        .keys(1, 1, 1)
        .doc(
            "Returns a substring of the string stored at a key.",
            "2.4.0",
            GETRANGE_COMPLEXITY,
        ),
    CommandSpec::new("substr", 4, READONLY, G, getrange)
        .keys(1, 1, 1)
        .doc(
            "Returns a substring from a string value.",
            "1.0.0",
            GETRANGE_COMPLEXITY,
        ),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, G, setrange)
        .keys(1, 1, 1)
        .doc(
            "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
            "2.2.0",
            "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        ),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, G, incr)
        .keys(1, 1, 1)
        .doc(
            "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, G, decr)
        .keys(1, 1, 1)
        .doc(
            "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, G, incrby)
        .keys(1, 1, 1)
        .doc(
            "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, G, decrby)
        .keys(1, 1, 1)
        .doc(
            "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, G, incrbyfloat)
        .keys(1, 1, 1)
        .doc(
            "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
            "2.6.0",
            "O(1)",
        ),
    CommandSpec::new("lcs", -3, READONLY, G, lcs)
        .keys(1, 2, 1)
        .doc(
            "Finds the longest common substring.",
            "7.0.0",
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        ),
];

/// Writes a string value as a bulk reply.
#[inline]
pub fn reply_value(ctx: &mut Ctx<'_>, v: ValueRef<'_>) -> CmdResult {
    match v {
        ValueRef::Str(s) => ctx.out.bulk(s),
        ValueRef::Int(i) => ctx.out.bulk_int(i),
        ValueRef::Obj(_) => return Err(errors::WRONGTYPE),
    }
    Ok(Outcome::Done)
}

/// The bytes of a string value (integers formatted into `buf`), or
/// WRONGTYPE for a collection.
#[inline]
pub(super) fn string_bytes<'a>(
    v: ValueRef<'a>,
    buf: &'a mut itoa::Buffer,
) -> Result<&'a [u8], Error> {
    match v {
        ValueRef::Str(s) => Ok(s),
        ValueRef::Int(i) => Ok(buf.format(i).as_bytes()),
        ValueRef::Obj(_) => Err(errors::WRONGTYPE),
    }
}

/// Length of a string value without formatting it.
fn string_len(v: ValueRef<'_>) -> Result<usize, Error> {
    match v {
        ValueRef::Str(s) => Ok(s.len()),
        ValueRef::Int(i) => Ok(itoa::Buffer::new().format(i).len()),
        ValueRef::Obj(_) => Err(errors::WRONGTYPE),
    }
}

/// Stores a string under `key`, replacing whatever was there (and its TTL
/// unless `ttl` carries it over): Redis's `setKey`.
#[inline]
pub(super) fn store(db: &mut Db, key: &[u8], value: NewValue<'_>, ttl: Option<i64>, now: i64) {
    if db.notes.wants(class::EXPIRED | class::NEW) {
        // Redis's setKey looks the key up first: an expired one fires
        // `expired`, then the write `new`. Only paid while someone listens.
        db.exists(key, now);
    }
    db.insert(Entry::new(key, value, ttl, lru_clock(now)));
}

/// Redis's `checkStringLength`: the result of APPEND/SETRANGE must fit
/// proto-max-bulk-len.
fn check_len(ctx: &Ctx<'_>, size: u64, append: u64) -> Result<(), Error> {
    let max = ctx.srv.hot.proto_max_bulk_len.load(Ordering::Relaxed);
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(errors::STRING_TOO_LONG),
    }
}

fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read(argv[1], now) {
        None => out.null(),
        // Copied out under the lock: the reply buffer is ours alone.
        Some(e) => match e.value() {
            ValueRef::Str(s) => out.bulk(s),
            ValueRef::Int(i) => out.bulk_int(i),
            ValueRef::Obj(_) => return Err(errors::WRONGTYPE),
        },
    }
    Ok(Outcome::Done)
}

// Option bits of Redis's `parseExtendedStringArgumentsOrReply`.
const OPT_NX: u32 = 1;
const OPT_XX: u32 = 1 << 1;
const OPT_GET: u32 = 1 << 2;
const OPT_KEEPTTL: u32 = 1 << 3;
const OPT_PERSIST: u32 = 1 << 4;
const OPT_EX: u32 = 1 << 5;
const OPT_PX: u32 = 1 << 6;
const OPT_EXAT: u32 = 1 << 7;
const OPT_PXAT: u32 = 1 << 8;
const OPT_ANY_EXPIRE: u32 = OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT;

/// SET's and GETEX's options, with Redis's compatibility rules: a
/// conflicting option is a syntax error, a repeated one is accepted (the
/// last expire value wins). The expire value itself is checked later, so
/// `SET k v EX abc NX XX` is a syntax error as in Redis.
fn parse_options<'a>(argv: &[&'a [u8]], for_set: bool) -> Result<(u32, Option<&'a [u8]>), Error> {
    let mut f = 0u32;
    let mut expire = None;
    let mut i = if for_set { 3 } else { 2 };
    while i < argv.len() {
        let a = argv[i];
        let next = argv.get(i + 1).copied();
        let has = |bits: u32| f & bits != 0;
        if for_set && is(a, "nx") && !has(OPT_XX) {
            f |= OPT_NX;
        } else if for_set && is(a, "xx") && !has(OPT_NX) {
            f |= OPT_XX;
        } else if for_set && is(a, "get") {
            f |= OPT_GET;
        } else if for_set && is(a, "keepttl") && !has(OPT_PERSIST | OPT_ANY_EXPIRE) {
            f |= OPT_KEEPTTL;
        } else if !for_set && is(a, "persist") && !has(OPT_ANY_EXPIRE | OPT_KEEPTTL) {
            f |= OPT_PERSIST;
        } else if let (Some(v), Some(bit)) = (next, expire_option(a)) {
            if has(OPT_KEEPTTL | OPT_PERSIST | (OPT_ANY_EXPIRE & !bit)) {
                return Err(errors::SYNTAX);
            }
            f |= bit;
            expire = Some(v);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    Ok((f, expire))
}

fn expire_option(a: &[u8]) -> Option<u32> {
    if is(a, "ex") {
        Some(OPT_EX)
    } else if is(a, "px") {
        Some(OPT_PX)
    } else if is(a, "exat") {
        Some(OPT_EXAT)
    } else if is(a, "pxat") {
        Some(OPT_PXAT)
    } else {
        None
    }
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expire time in ms.
fn expire_at(arg: &[u8], f: u32, now: i64, cmd: &str) -> Result<i64, Error> {
    let n = args::int(arg)?;
    let seconds = f & (OPT_EX | OPT_EXAT) != 0;
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(errors::invalid_expire(cmd));
    }
    let ms = if seconds { n * 1000 } else { n };
    if f & (OPT_EX | OPT_PX) != 0 {
        return ms
            .checked_add(now)
            .ok_or_else(|| errors::invalid_expire(cmd));
    }
    Ok(ms)
}

/// Redis's `setGenericCommand`. SETNX answers :1/:0 (`int_replies`),
/// the others +OK/null; with GET the old value is the only reply.
fn set_generic(
    ctx: &mut Ctx<'_>,
    f: u32,
    key: &[u8],
    value: &[u8],
    expire: Option<i64>,
    int_replies: bool,
) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    if f & OPT_GET != 0 {
        // Before anything is written: WRONGTYPE leaves the key untouched.
        match db.get_read(key, now).map(Entry::value) {
            Some(ValueRef::Obj(_)) => return Err(errors::WRONGTYPE),
            Some(ValueRef::Str(s)) => out.bulk(s),
            Some(ValueRef::Int(n)) => out.bulk_int(n),
            None => out.null(),
        }
    }
    let found = db.get(key, now);
    let exists = found.is_some();
    if (f & OPT_NX != 0 && exists) || (f & OPT_XX != 0 && !exists) {
        if f & OPT_GET == 0 {
            if int_replies {
                out.int(0);
            } else {
                out.null();
            }
        }
        return Ok(Outcome::Done);
    }
    let ttl = if f & OPT_KEEPTTL != 0 {
        found.and_then(Entry::expire)
    } else {
        expire
    };
    store(db, key, NewValue::Str(value), ttl, now);
    db.notify(class::STRING, "set", key);
    if expire.is_some() {
        db.notify(class::GENERIC, "expire", key);
    }
    if f & OPT_GET == 0 {
        if int_replies {
            out.int(1);
        } else {
            out.ok();
        }
    }
    // EX/PX (and SETEX, PSETEX) are relative: log the absolute time.
    if let (Some(at), true) = (expire, f & OPT_ANY_EXPIRE != 0 && ctx.propagating()) {
        ctx.propagate_as(vec![crate::argv!(b"SET", key, value, b"PXAT", at)]);
    }
    Ok(Outcome::Done)
}

fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 3 {
        // Plain SET: one table probe (insert replaces), no option parsing.
        let now = ctx.now;
        let (db, out) = ctx.db_out();
        store(db, argv[1], NewValue::Str(argv[2]), None, now);
        db.notify(class::STRING, "set", argv[1]);
        out.ok();
        return Ok(Outcome::Done);
    }
    let (f, expire) = parse_options(argv, true)?;
    let at = match expire {
        Some(a) => Some(expire_at(a, f, ctx.now, "set")?),
        None => None,
    };
    set_generic(ctx, f, argv[1], argv[2], at, false)
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_generic(ctx, OPT_NX, argv[1], argv[2], None, true)
}

fn setex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let at = expire_at(argv[2], OPT_EX, ctx.now, "setex")?;
    set_generic(ctx, OPT_EX, argv[1], argv[3], Some(at), false)
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let at = expire_at(argv[2], OPT_PX, ctx.now, "psetex")?;
    set_generic(ctx, OPT_PX, argv[1], argv[3], Some(at), false)
}

fn mget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    out.array(argv.len() - 1);
    for key in &argv[1..] {
        // A key of another type reads as missing, as in Redis.
        match db.get_read(key, now).map(Entry::value) {
            Some(ValueRef::Str(s)) => out.bulk(s),
            Some(ValueRef::Int(n)) => out.bulk_int(n),
            _ => out.null(),
        }
    }
    Ok(Outcome::Done)
}

fn mset_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], nx: bool) -> CmdResult {
    if argv.len() % 2 == 0 {
        let name = if nx { "msetnx" } else { "mset" };
        return Err(errors::wrong_arity(name));
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    if nx && argv[1..].chunks(2).any(|kv| db.exists(kv[0], now)) {
        out.int(0);
        return Ok(Outcome::Done);
    }
    for kv in argv[1..].chunks(2) {
        store(db, kv[0], NewValue::Str(kv[1]), None, now);
        db.notify(class::STRING, "set", kv[0]);
    }
    if nx {
        out.int(1);
    } else {
        out.ok();
    }
    Ok(Outcome::Done)
}

fn mset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, false)
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, argv, true)
}

fn getset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_generic(ctx, OPT_GET, argv[1], argv[2], None, false)
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read(argv[1], now).map(Entry::value) {
        None => {
            out.null();
            return Ok(Outcome::Done);
        }
        Some(ValueRef::Obj(_)) => return Err(errors::WRONGTYPE),
        Some(ValueRef::Str(s)) => out.bulk(s),
        Some(ValueRef::Int(n)) => out.bulk_int(n),
    }
    db.remove(argv[1]);
    db.notify(class::GENERIC, "del", argv[1]);
    Ok(Outcome::Done)
}

fn getex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (f, expire) = parse_options(argv, false)?;
    let key = argv[1];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    // Redis looks the key up before validating the expire value: a missing
    // key answers null even for `GETEX k EX abc`.
    let Some(e) = db.get_read(key, now) else {
        out.null();
        return Ok(Outcome::Done);
    };
    if let ValueRef::Obj(_) = e.value() {
        return Err(errors::WRONGTYPE);
    }
    let at = match expire {
        Some(a) => Some(expire_at(a, f, now, "getex")?),
        None => None,
    };
    match e.value() {
        ValueRef::Str(s) => out.bulk(s),
        ValueRef::Int(n) => out.bulk_int(n),
        ValueRef::Obj(_) => return Err(errors::WRONGTYPE),
    }
    let effect = match at {
        Some(t) if f & (OPT_EXAT | OPT_PXAT) != 0 && t <= now => {
            db.remove(key);
            db.notify(class::GENERIC, "del", key);
            Some(crate::argv!(b"DEL", key))
        }
        Some(t) => {
            db.modify(key, now, |e| e.set_expire(Some(t)));
            db.notify(class::GENERIC, "expire", key);
            Some(crate::argv!(b"PEXPIREAT", key, t))
        }
        None if f & OPT_PERSIST != 0 => {
            let had_ttl = db.modify(key, now, |e| {
                let had = e.expire().is_some();
                e.set_expire(None);
                had
            });
            if had_ttl == Some(true) {
                db.notify(class::GENERIC, "persist", key);
            }
            Some(crate::argv!(b"PERSIST", key))
        }
        None => None,
    };
    if ctx.propagating() {
        ctx.propagate_as(effect.into_iter().collect());
    }
    Ok(Outcome::Done)
}

fn append(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, tail) = (argv[1], argv[2]);
    let now = ctx.now;
    let max = ctx.srv.hot.proto_max_bulk_len.load(Ordering::Relaxed);
    let (db, out) = ctx.db_out();
    let Some(e) = db.get(key, now) else {
        store(db, key, NewValue::Str(tail), None, now);
        db.notify(class::STRING, "append", key);
        out.int(tail.len() as i64);
        return Ok(Outcome::Done);
    };
    let mut buf = itoa::Buffer::new();
    let old = string_bytes(e.value(), &mut buf)?;
    let total = old.len() as u64 + tail.len() as u64;
    if total > max {
        return Err(errors::STRING_TOO_LONG);
    }
    let old_len = old.len();
    // Grown in place or with room to grow (Redis's greedy sdscatlen), so
    // appending a little at a time is not a copy of the value each time.
    db.modify(key, now, |e| grow_into(e, total as usize, old_len, tail));
    db.notify(class::STRING, "append", key);
    out.int(total as i64);
    Ok(Outcome::Done)
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = match db.get_read(argv[1], now) {
        None => 0,
        Some(e) => string_len(e.value())?,
    };
    out.int(n as i64);
    Ok(Outcome::Done)
}

/// GETRANGE and its old name SUBSTR, with Redis 7.2's index rules (both
/// negative with start > end is empty; `end` clamps to the last byte, so
/// `GETRANGE k 0 -100` on a short string still returns the first byte).
fn getrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut start = args::int(argv[2])?;
    let mut end = args::int(argv[3])?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(e) = db.get_read(argv[1], now) else {
        out.bulk(b"");
        return Ok(Outcome::Done);
    };
    let mut buf = itoa::Buffer::new();
    let s = string_bytes(e.value(), &mut buf)?;
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        out.bulk(b"");
        return Ok(Outcome::Done);
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end || len == 0 {
        out.bulk(b"");
    } else {
        out.bulk(&s[start as usize..=end as usize]);
    }
    Ok(Outcome::Done)
}

/// Writes `bytes` at `at` into the string `e`, zero-extended to `len`
/// bytes first (an integer-encoded value becomes its digits): Redis's
/// dbUnshareStringValue + sdsgrowzero, whose greedy growth
/// [`Entry::grow_raw`](crate::keyspace::Entry::grow_raw) follows.
pub(crate) fn grow_into(e: &mut Entry, len: usize, at: usize, bytes: &[u8]) {
    if let ValueRef::Int(n) = e.value() {
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(n).as_bytes().to_vec();
        e.replace_value(NewValue::Raw(&digits));
    }
    if let Some(s) = e.grow_raw(len) {
        s[at..at + bytes.len()].copy_from_slice(bytes);
    }
}

fn setrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, value) = (argv[1], argv[3]);
    let offset = args::int(argv[2])?;
    if offset < 0 {
        return Err(errors::OFFSET_OUT_OF_RANGE);
    }
    let offset = offset as u64;
    let now = ctx.now;
    let vlen = value.len() as u64;
    let exists = ctx.db().get(key, now).is_some();
    if !exists {
        if value.is_empty() {
            ctx.out.int(0);
            return Ok(Outcome::Done);
        }
        check_len(ctx, offset, vlen)?;
        let mut s = vec![0u8; (offset + vlen) as usize];
        s[offset as usize..].copy_from_slice(value);
        let (db, out) = ctx.db_out();
        store(db, key, NewValue::Raw(&s), None, now);
        db.notify(class::STRING, "setrange", key);
        out.int(s.len() as i64);
        return Ok(Outcome::Done);
    }
    let olen = match ctx.db().peek(key) {
        Some(e) => string_len(e.value())?,
        None => 0,
    };
    if value.is_empty() {
        ctx.out.int(olen as i64);
        return Ok(Outcome::Done);
    }
    check_len(ctx, offset, vlen)?;
    let (db, out) = ctx.db_out();
    let new_len = olen.max((offset + vlen) as usize);
    db.modify(key, now, |e| grow_into(e, new_len, offset as usize, value));
    db.notify(class::STRING, "setrange", key);
    out.int(new_len as i64);
    Ok(Outcome::Done)
}

/// INCR/DECR/INCRBY/DECRBY. An integer-encoded value is rewritten in place
/// (no rebuild, TTL and LRU untouched beyond the access clock).
#[inline]
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let updated = db.modify(key, now, |e| {
        let cur = match e.value() {
            ValueRef::Int(n) => n,
            ValueRef::Str(s) => parse_i64(s).ok_or(errors::NOT_INTEGER)?,
            ValueRef::Obj(_) => return Err(errors::WRONGTYPE),
        };
        let n = cur.checked_add(by).ok_or(errors::OVERFLOW)?;
        if !e.set_int_in_place(n) {
            e.replace_value(NewValue::Int(n));
        }
        Ok(n)
    });
    let n = match updated {
        Some(r) => r?,
        None => {
            store(db, key, NewValue::Int(by), None, now);
            by
        }
    };
    db.notify(class::STRING, "incrby", key);
    out.int(n);
    Ok(Outcome::Done)
}

fn incr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    incr_by(ctx, argv[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let by = args::int(argv[2])?;
    incr_by(ctx, argv[1], by)
}

fn decrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let by = args::int(argv[2])?;
    if by == i64::MIN {
        return Err(errors::DECR_OVERFLOW);
    }
    incr_by(ctx, argv[1], -by)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let current = match db.get(key, now) {
        None => ldouble::Num::ZERO,
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            let s = string_bytes(e.value(), &mut buf)?;
            ldouble::parse(s).ok_or(errors::NOT_FLOAT)?
        }
    };
    let incr = ldouble::parse(argv[2]).ok_or(errors::NOT_FLOAT)?;
    let sum = ldouble::add(current, incr).ok_or(errors::INCR_NAN_INF)?;
    let text = ldouble::format(sum);
    // Redis replaces the value but keeps the TTL (dbReplaceValue).
    if db
        .modify(key, now, |e| {
            e.replace_value(NewValue::Str(text.as_bytes()))
        })
        .is_none()
    {
        store(db, key, NewValue::Str(text.as_bytes()), None, now);
    }
    db.notify(class::STRING, "incrbyfloat", key);
    out.bulk(text.as_bytes());
    // The sum is formatted once here; a replay must not redo the float
    // arithmetic (Redis logs the same SET … KEEPTTL).
    if ctx.propagating() {
        ctx.propagate_as(vec![crate::argv!(b"SET", key, text.as_bytes(), b"KEEPTTL")]);
    }
    Ok(Outcome::Done)
}

fn lcs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    // Both values are copied out: one lookup's borrow would block the other.
    let mut fetch = |k: &[u8]| -> Result<Vec<u8>, Error> {
        match db.get_read(k, now).map(Entry::value) {
            None => Ok(Vec::new()),
            Some(ValueRef::Str(s)) => Ok(s.to_vec()),
            Some(ValueRef::Int(n)) => Ok(itoa::Buffer::new().format(n).as_bytes().to_vec()),
            Some(ValueRef::Obj(_)) => Err(errors::LCS_NOT_STRING),
        }
    };
    let a = fetch(argv[1]);
    let b = fetch(argv[2]);
    let (a, b) = (a?, b?);

    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut i = 3;
    while i < argv.len() {
        let opt = argv[i];
        let more = argv.len() - 1 - i;
        if is(opt, "idx") {
            getidx = true;
        } else if is(opt, "len") {
            getlen = true;
        } else if is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if is(opt, "minmatchlen") && more > 0 {
            minmatchlen = args::int(argv[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if getidx && getlen {
        return Err(errors::LCS_IDX_AND_LEN);
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(errors::LCS_TOO_LONG);
    }

    let (alen, blen) = (a.len(), b.len());
    let cells = (alen + 1)
        .checked_mul(blen + 1)
        .ok_or(errors::LCS_NO_MEMORY)?;
    let mut dp: Vec<u32> = Vec::new();
    dp.try_reserve_exact(cells)
        .map_err(|_| errors::LCS_NO_MEMORY)?;
    dp.resize(cells, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];

    if getlen {
        out.int(i64::from(total));
        return Ok(Outcome::Done);
    }
    // Walk back from the end as Redis does, collecting the string and the
    // ranges (a_start, a_end, b_start, b_end), longest-index first.
    let mut result = vec![0u8; total as usize];
    let mut ranges: Vec<[u32; 4]> = Vec::new();
    let mut idx = total as usize;
    let (mut i, mut j) = (alen, blen);
    let unset = alen as u32;
    let (mut as_, mut ae, mut bs, mut be) = (unset, 0u32, 0u32, 0u32);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if as_ == unset {
                as_ = (i - 1) as u32;
                ae = as_;
                bs = (j - 1) as u32;
                be = bs;
            } else if as_ == i as u32 && bs == j as u32 {
                as_ -= 1;
                bs -= 1;
            } else {
                emit = true;
            }
            if as_ == 0 || bs == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if as_ != unset {
                emit = true;
            }
        }
        if emit {
            let match_len = ae - as_ + 1;
            if getidx && (minmatchlen == 0 || i64::from(match_len) >= minmatchlen) {
                ranges.push([as_, ae, bs, be]);
            }
            as_ = unset;
        }
    }
    if !getidx {
        out.bulk(&result);
        return Ok(Outcome::Done);
    }
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for r in &ranges {
        out.array(if withmatchlen { 3 } else { 2 });
        out.array(2);
        out.int(i64::from(r[0]));
        out.int(i64::from(r[1]));
        out.array(2);
        out.int(i64::from(r[2]));
        out.int(i64::from(r[3]));
        if withmatchlen {
            out.int(i64::from(r[1] - r[0] + 1));
        }
    }
    out.bulk(b"len");
    out.int(i64::from(total));
    Ok(Outcome::Done)
}

/// A software model of x87 80-bit `long double` (64-bit mantissa), enough
/// for INCRBYFLOAT to match Redis byte for byte: glibc `strtold` parsing
/// (decimal and hex, correctly rounded, denormals), one addition rounded to
/// nearest-even, and `%.17Lf` printing with Redis's trailing-zero trim.
/// This is what Redis does on x86-64, where the reference replies came
/// from; an aarch64 build of Redis (128-bit long double) prints differently
/// in the last digits. Nothing here is on a hot path, so the big-number
/// helpers favour simplicity over speed.
pub(crate) mod ldouble {
    /// Smallest exponent of `m * 2^e` (denormals included) and the largest
    /// one a finite value can have.
    const EMIN: i32 = -16445;
    const EMAX: i32 = 16320;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Num {
        Inf,
        /// `(-1)^neg * m * 2^e`, `m` normalised to 64 bits unless denormal.
        Fin {
            neg: bool,
            m: u64,
            e: i32,
        },
    }

    impl Num {
        pub const ZERO: Num = Num::Fin {
            neg: false,
            m: 0,
            e: 0,
        };
    }

    /// Rounds `m * 2^e` (plus a nonzero tail below `m` when `sticky`) to
    /// the format; `None` on overflow.
    fn round(neg: bool, m: u128, e: i32, sticky: bool) -> Option<Num> {
        if m == 0 {
            return Some(Num::Fin { neg, m: 0, e: 0 });
        }
        let bits = 128 - m.leading_zeros() as i32;
        let shift = (bits - 64).max(EMIN - e);
        let (mut q, mut e) = if shift > 0 {
            let (q, half, below) = if shift > 128 {
                (0u128, false, true)
            } else if shift == 128 {
                (0, m >> 127 == 1, m & ((1u128 << 127) - 1) != 0 || sticky)
            } else {
                let q = m >> shift;
                let half = (m >> (shift - 1)) & 1 == 1;
                let below = m & ((1u128 << (shift - 1)) - 1) != 0 || sticky;
                (q, half, below)
            };
            let up = half && (below || q & 1 == 1);
            (q + u128::from(up), e + shift)
        } else {
            (m, e)
        };
        if q >> 64 != 0 {
            q >>= 1;
            e += 1;
        }
        let mut q = q as u64;
        if q == 0 {
            return Some(Num::Fin { neg, m: 0, e: 0 });
        }
        let s = (q.leading_zeros() as i32).min(e - EMIN);
        if s > 0 {
            q <<= s;
            e -= s;
        }
        (e <= EMAX).then_some(Num::Fin { neg, m: q, e })
    }

    /// `a + b`; `None` for an infinite or NaN result.
    pub fn add(a: Num, b: Num) -> Option<Num> {
        let (
            Num::Fin {
                neg: an,
                m: am,
                e: ae,
            },
            Num::Fin {
                neg: bn,
                m: bm,
                e: be,
            },
        ) = (a, b)
        else {
            return None;
        };
        if am == 0 {
            return Some(b);
        }
        if bm == 0 {
            return Some(a);
        }
        // a is the one with the larger exponent.
        let ((an, am, ae), (bn, bm, be)) = if ae >= be {
            ((an, am, ae), (bn, bm, be))
        } else {
            ((bn, bm, be), (an, am, ae))
        };
        // 62 guard bits below the 64-bit mantissa keep one rounding exact.
        let big_a = u128::from(am) << 62;
        let wide_b = u128::from(bm) << 62;
        let d = (ae - be) as u32;
        let (big_b, sticky) = if d >= 126 {
            (0, true)
        } else {
            (wide_b >> d, wide_b & ((1u128 << d) - 1) != 0)
        };
        let e = ae - 62;
        if an == bn {
            return round(an, big_a + big_b, e, sticky);
        }
        if big_a > big_b || (big_a == big_b && sticky) {
            // True b is big_b plus a fraction: borrow one and keep it sticky.
            let diff = big_a - big_b - u128::from(sticky);
            round(an, diff, e, sticky)
        } else if big_b > big_a {
            round(bn, big_b - big_a, e, false)
        } else {
            Some(Num::ZERO)
        }
    }

    /// Parses like Redis's `string2ld` (glibc `strtold`, whole string, no
    /// leading space, no NaN, no overflow or underflow to zero).
    pub fn parse(s: &[u8]) -> Option<Num> {
        // Redis copies into a 5 KiB buffer and requires strtold to consume
        // all of it, so an embedded NUL makes the text invalid.
        if s.is_empty() || s.len() >= 5 * 1024 || s.contains(&0) {
            return None;
        }
        if matches!(s[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Num::Inf);
        }
        if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            if let Some(n) = parse_hex(neg, &body[2..]) {
                return n;
            }
            // "0x" without hex digits: strtold stops after the "0".
            return None;
        }
        parse_dec(neg, body)
    }

    /// Digits, optional fraction, then an exponent introduced by `marker`.
    /// Returns (mantissa digits, digits after the point, exponent).
    fn split(s: &[u8], is_digit: fn(u8) -> bool, marker: u8) -> Option<(Vec<u8>, i64, i64)> {
        let mut digits = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() && is_digit(s[i]) {
            digits.push(s[i]);
            i += 1;
        }
        let mut frac = 0i64;
        if i < s.len() && s[i] == b'.' {
            i += 1;
            while i < s.len() && is_digit(s[i]) {
                digits.push(s[i]);
                frac += 1;
                i += 1;
            }
        }
        if digits.is_empty() {
            return None;
        }
        let mut exp = 0i64;
        if i < s.len() && (s[i] | 0x20) == marker {
            let mut j = i + 1;
            let eneg = match s.get(j) {
                Some(b'-') => {
                    j += 1;
                    true
                }
                Some(b'+') => {
                    j += 1;
                    false
                }
                _ => false,
            };
            let start = j;
            while j < s.len() && s[j].is_ascii_digit() {
                // Saturate: anything this large over- or underflows anyway.
                exp = (exp * 10 + i64::from(s[j] - b'0')).min(1 << 40);
                j += 1;
            }
            if j == start {
                // strtold would stop before the marker: trailing garbage.
                return None;
            }
            if eneg {
                exp = -exp;
            }
            i = j;
        }
        if i != s.len() {
            return None;
        }
        Some((digits, frac, exp))
    }

    fn parse_hex(neg: bool, s: &[u8]) -> Option<Option<Num>> {
        let (digits, frac, exp) = split(s, |c| c.is_ascii_hexdigit(), b'p')?;
        let mut n = Big::zero();
        for d in digits {
            let v = (d as char).to_digit(16).unwrap_or(0);
            n.mul_small(16);
            n.add_small(v);
        }
        let e = exp.saturating_sub(4 * frac);
        Some(from_big(neg, &n, e))
    }

    fn parse_dec(neg: bool, s: &[u8]) -> Option<Num> {
        let (digits, frac, exp) = split(s, |c| c.is_ascii_digit(), b'e')?;
        let first = digits.iter().position(|&d| d != b'0');
        let Some(first) = first else {
            return Some(Num::Fin { neg, m: 0, e: 0 });
        };
        let digits = &digits[first..];
        let e10 = exp - frac;
        let magnitude = digits.len() as i64 + e10; // value < 10^magnitude
        if magnitude > 4934 {
            return None; // overflow
        }
        if magnitude <= -4951 {
            return None; // underflow to zero (min denormal ~3.6e-4951)
        }
        let mut d = Big::zero();
        for chunk in digits.chunks(9) {
            let mut v = 0u32;
            for &c in chunk {
                v = v * 10 + u32::from(c - b'0');
            }
            d.mul_small(10u32.pow(chunk.len() as u32));
            d.add_small(v);
        }
        if e10 >= 0 {
            for _ in 0..e10 {
                d.mul_small(10);
            }
            return from_big(neg, &d, 0);
        }
        let p = Big::pow10((-e10) as u32);
        // q = floor(d * 2^s / p) with at least 66 bits, remainder sticky.
        let s = (p.bits() as i64 - d.bits() as i64 + 66).max(0) as u32;
        let x = d.shl(s);
        let (q, rem_nonzero) = Big::div_small_quotient(x, &p);
        match round(neg, q, -(s as i32), rem_nonzero)? {
            Num::Fin { m: 0, .. } => None, // underflowed to zero: ERANGE
            other => Some(other),
        }
    }

    /// Rounds a big integer times `2^e` into the format.
    fn from_big(neg: bool, n: &Big, e: i64) -> Option<Num> {
        let bits = n.bits() as i64;
        if bits == 0 {
            return Some(Num::Fin { neg, m: 0, e: 0 });
        }
        let drop = (bits - 128).max(0);
        let top_e = e + drop;
        if top_e + bits - drop > i64::from(EMAX) + 64 + 1 {
            return None;
        }
        if top_e + 128 < i64::from(EMIN) - 2 {
            return None; // underflow to zero
        }
        let (top, sticky) = n.top128(drop as u32);
        let r = round(neg, top, top_e as i32, sticky)?;
        match r {
            Num::Fin { m: 0, .. } => None, // underflowed to zero: ERANGE
            other => Some(other),
        }
    }

    /// `%.17Lf`, then Redis's trim of trailing zeros and the point, and
    /// "-0" as "0".
    pub fn format(n: Num) -> String {
        let Num::Fin { neg, m, e } = n else {
            return "inf".into();
        };
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        let mut frac: u64 = 0;
        if e >= 0 {
            out.push_str(&Big::from_u64(m).shl(e as u32).to_decimal());
        } else {
            let s = (-e) as u32;
            const TEN17: u128 = 100_000_000_000_000_000;
            let (mut int, f) = if s < 64 {
                (m >> s, m & ((1u64 << s) - 1))
            } else {
                (0, m)
            };
            let p = u128::from(f) * TEN17;
            let (mut q, up) = if s >= 128 {
                (0u128, false)
            } else {
                let q = p >> s;
                let r = p & ((1u128 << s) - 1);
                let half = 1u128 << (s - 1);
                (q, r > half || (r == half && q & 1 == 1))
            };
            if up {
                q += 1;
                if q == TEN17 {
                    q = 0;
                    int += 1;
                }
            }
            frac = q as u64;
            out.push_str(itoa::Buffer::new().format(int));
        }
        if frac != 0 {
            let digits = format!("{frac:017}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        if out == "-0" {
            out = "0".into();
        }
        out
    }

    /// A minimal unsigned big integer, little-endian base 2^32.
    #[derive(Clone, Debug)]
    struct Big(Vec<u32>);

    impl Big {
        fn zero() -> Big {
            Big(Vec::new())
        }

        fn from_u64(v: u64) -> Big {
            let mut b = Big(vec![v as u32, (v >> 32) as u32]);
            b.trim();
            b
        }

        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }

        fn bits(&self) -> u32 {
            match self.0.last() {
                None => 0,
                Some(&top) => (self.0.len() as u32 - 1) * 32 + (32 - top.leading_zeros()),
            }
        }

        fn bit(&self, i: u32) -> bool {
            self.0
                .get((i / 32) as usize)
                .is_some_and(|w| (w >> (i % 32)) & 1 == 1)
        }

        fn mul_small(&mut self, k: u32) {
            let mut carry = 0u64;
            for w in &mut self.0 {
                let v = u64::from(*w) * u64::from(k) + carry;
                *w = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
            self.trim();
        }

        fn add_small(&mut self, k: u32) {
            let mut carry = u64::from(k);
            for w in &mut self.0 {
                if carry == 0 {
                    break;
                }
                let v = u64::from(*w) + carry;
                *w = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
        }

        fn pow10(n: u32) -> Big {
            let mut b = Big(vec![1]);
            let mut left = n;
            while left > 0 {
                let k = left.min(9);
                b.mul_small(10u32.pow(k));
                left -= k;
            }
            b
        }

        fn shl(&self, s: u32) -> Big {
            let words = (s / 32) as usize;
            let bits = s % 32;
            let mut v = vec![0u32; words];
            let mut carry = 0u32;
            for &w in &self.0 {
                if bits == 0 {
                    v.push(w);
                } else {
                    v.push((w << bits) | carry);
                    carry = w >> (32 - bits);
                }
            }
            if carry != 0 {
                v.push(carry);
            }
            let mut b = Big(v);
            b.trim();
            b
        }

        fn cmp(&self, o: &Big) -> std::cmp::Ordering {
            self.0
                .len()
                .cmp(&o.0.len())
                .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
        }

        /// `self -= o`, with `self >= o`.
        fn sub_assign(&mut self, o: &Big) {
            let mut borrow = 0i64;
            for (i, w) in self.0.iter_mut().enumerate() {
                let sub = i64::from(o.0.get(i).copied().unwrap_or(0)) + borrow;
                let mut v = i64::from(*w) - sub;
                borrow = 0;
                if v < 0 {
                    v += 1 << 32;
                    borrow = 1;
                }
                *w = v as u32;
            }
            self.trim();
        }

        /// `floor(x / p)` for a quotient below 2^128, and whether the
        /// remainder is nonzero.
        fn div_small_quotient(mut x: Big, p: &Big) -> (u128, bool) {
            let mut q = 0u128;
            let top = (x.bits() as i64 - p.bits() as i64).clamp(0, 127) as u32;
            for i in (0..=top).rev() {
                let shifted = p.shl(i);
                if x.cmp(&shifted) != std::cmp::Ordering::Less {
                    x.sub_assign(&shifted);
                    q |= 1u128 << i;
                }
            }
            (q, !x.0.is_empty())
        }

        /// The value shifted right by `drop` bits (must fit 128 bits) and
        /// whether any dropped bit was set.
        fn top128(&self, drop: u32) -> (u128, bool) {
            let mut v = 0u128;
            for i in (0..128u32).rev() {
                v <<= 1;
                if self.bit(drop + i) {
                    v |= 1;
                }
            }
            let sticky = (0..drop).any(|i| self.bit(i));
            (v, sticky)
        }

        fn to_decimal(&self) -> String {
            if self.0.is_empty() {
                return "0".into();
            }
            let mut words = self.0.clone();
            let mut chunks = Vec::new();
            while !words.is_empty() {
                let mut rem = 0u64;
                for w in words.iter_mut().rev() {
                    let cur = (rem << 32) | u64::from(*w);
                    *w = (cur / 1_000_000_000) as u32;
                    rem = cur % 1_000_000_000;
                }
                while words.last() == Some(&0) {
                    words.pop();
                }
                chunks.push(rem as u32);
            }
            let mut s = String::new();
            for (i, c) in chunks.iter().rev().enumerate() {
                if i == 0 {
                    s.push_str(&c.to_string());
                } else {
                    s.push_str(&format!("{c:09}"));
                }
            }
            s
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn incr(a: &str, b: &str) -> Option<String> {
            let x = parse(a.as_bytes())?;
            let y = parse(b.as_bytes())?;
            add(x, y).map(format)
        }

        #[test]
        fn matches_redis_long_double() {
            // Expected strings are redis-server 7.0.15 (x86-64) output.
            assert_eq!(incr("10", "10.5").as_deref(), Some("20.5"));
            assert_eq!(incr("5.0e3", "2.0e2").as_deref(), Some("5200"));
            assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
            assert_eq!(
                incr("16", "1e30").as_deref(),
                Some("1000000000000000000024696061952")
            );
            assert_eq!(
                incr("1.1", "1e10").as_deref(),
                Some("10000000001.09999999962747097")
            );
            assert_eq!(incr("0", "-1e-20").as_deref(), Some("0"));
            assert_eq!(incr("0", "0x10").as_deref(), Some("16"));
            assert_eq!(incr("0", "1e-4940").as_deref(), Some("0"));
            assert_eq!(incr("0", "1e-5000"), None);
            assert_eq!(incr("0", "inf"), None);
            assert!(parse(b"1e5000").is_none());
            assert!(parse(b" 1").is_none());
            assert!(parse(b"1 ").is_none());
            assert!(parse(b"nan").is_none());
            assert!(parse(b"1e").is_none());
            assert!(parse(b"0x").is_none());
            assert_eq!(incr("0", "1e400").map(|s| s.len()), Some(401));
            assert_eq!(incr("0", "1e4932").map(|s| s.len()), Some(4933));
            assert_eq!(incr("3", "-3").as_deref(), Some("0"));
            assert_eq!(incr("-1.5", "0.25").as_deref(), Some("-1.25"));
        }
    }
}
