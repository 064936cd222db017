//! Generic (keyspace) group: key lifetime (DEL, EXPIRE …, TTL …), naming
//! (RENAME, COPY, MOVE), enumeration (KEYS, SCAN, RANDOMKEY), SWAPDB and
//! OBJECT introspection.
//!
//! Lookups follow Redis's flavours: a *write* lookup ([`Db::get`]) expires
//! lazily and touches the LRU clock without counting a hit; a *read* lookup
//! ([`Db::get_read`]) also counts a hit or miss; EXISTS, TYPE, TTL and
//! OBJECT use the `NOTOUCH` read lookup ([`Db::get_read_notouch`]), which
//! counts but leaves the clock alone so introspection does not change
//! eviction order.

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::glob::glob_match;
use super::spec::{cat, flags::*, CommandSpec, Group};
use super::Ctx;
use crate::clock::lru_clock;
use crate::commands::Outcome;
use crate::keyspace::evict::{self, Policy};
use crate::keyspace::notify::class;
use crate::keyspace::{Db, Entry, NewValue, ValueRef};
use crate::protocol::ReplyBuf;

const G: Group = Group::Generic;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, G, del)
        .keys(1, -1, 1)
        .doc("Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."),
    CommandSpec::new("unlink", -2, WRITE | FAST, G, del)
        .keys(1, -1, 1)
        .doc("Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of."),
    CommandSpec::new("exists", -2, READONLY | FAST, G, exists)
        .keys(1, -1, 1)
        .doc(
            "Determines whether one or more keys exist.",
            "1.0.0",
            "O(N) where N is the number of keys to check.",
        ),
    CommandSpec::new("type", 2, READONLY | FAST, G, type_)
        .keys(1, 1, 1)
        .doc("Determines the type of value stored at a key.", "1.0.0", "O(1)"),
    CommandSpec::new("rename", 3, WRITE, G, rename)
        .keys(1, 2, 1)
        .doc("Renames a key and overwrites the destination.", "1.0.0", "O(1)"),
    CommandSpec::new("renamenx", 3, WRITE | FAST, G, renamenx)
        .keys(1, 2, 1)
        .doc(
            "Renames a key only when the target key name doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new("expire", -3, WRITE | FAST, G, expire)
        .keys(1, 1, 1)
        .doc("Sets the expiration time of a key in seconds.", "1.0.0", "O(1)"),
    CommandSpec::new("pexpire", -3, WRITE | FAST, G, pexpire)
        .keys(1, 1, 1)
        .doc("Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)"),
    CommandSpec::new("expireat", -3, WRITE | FAST, G, expireat)
        .keys(1, 1, 1)
        .doc("Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)"),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, G, pexpireat)
        .keys(1, 1, 1)
        .doc(
            "Sets the expiration time of a key to a Unix milliseconds timestamp.",
            "2.6.0",
            "O(1)",
        ),
    CommandSpec::new("ttl", 2, READONLY | FAST, G, ttl)
        .keys(1, 1, 1)
        .doc("Returns the expiration time in seconds of a key.", "1.0.0", "O(1)"),
    CommandSpec::new("pttl", 2, READONLY | FAST, G, pttl)
        .keys(1, 1, 1)
        .doc("Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)"),
    CommandSpec::new("expiretime", 2, READONLY | FAST, G, expiretime)
        .keys(1, 1, 1)
        .doc("Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)"),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, G, pexpiretime)
        .keys(1, 1, 1)
        .doc(
            "Returns the expiration time of a key as a Unix milliseconds timestamp.",
            "7.0.0",
            "O(1)",
        ),
    CommandSpec::new("persist", 2, WRITE | FAST, G, persist)
        .keys(1, 1, 1)
        .doc("Removes the expiration time of a key.", "2.2.0", "O(1)"),
    CommandSpec::new("keys", 2, READONLY, G, keys)
        .cats(cat::DANGEROUS)
        .doc("Returns all key names that match a pattern.", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length."),
    CommandSpec::new("scan", -2, READONLY, G, scan)
        .doc("Iterates over the key names in the database.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."),
    CommandSpec::new("randomkey", 1, READONLY, G, randomkey)
        .doc("Returns a random key name from the database.", "1.0.0", "O(1)"),
    CommandSpec::new("touch", -2, READONLY | FAST | TOUCHES, G, touch)
        .keys(1, -1, 1)
        .doc(
            "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
            "3.2.1",
            "O(N) where N is the number of keys that will be touched.",
        ),
    CommandSpec::new("move", 3, WRITE | FAST | NO_DB_LOCK, G, move_)
        .keys(1, 1, 1)
        .dbs(&[2])
        .doc("Moves a key to another database.", "1.0.0", "O(1)"),
    // Redis files SWAPDB under the server group but gives it @keyspace.
    CommandSpec::new("swapdb", 3, WRITE | FAST | NO_DB_LOCK, Group::Server, swapdb)
        .dbs(&[1, 2])
        .cats(cat::KEYSPACE | cat::DANGEROUS)
        .doc("Swaps two Redis databases.", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases."),
    CommandSpec::new("copy", -3, WRITE | DENYOOM | NO_DB_LOCK, G, copy)
        .keys(1, 2, 1)
        .find_db(copy_db_arg)
        .doc("Copies the value of a key to a new key.", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."),
    CommandSpec::container("object", G, OBJECT_SUBS).doc(
        "A container for object introspection commands.",
        "2.2.3",
        "Depends on subcommand.",
    ),
];

static OBJECT_SUBS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, READONLY, G, object_encoding)
        .keys(2, 2, 1)
        .doc(
            "Returns the internal encoding of a Redis object.",
            "2.2.3",
            "O(1)",
        ),
    CommandSpec::new("freq", 3, READONLY, G, object_freq)
        .keys(2, 2, 1)
        .doc(
            "Returns the logarithmic access frequency counter of a Redis object.",
            "4.0.0",
            "O(1)",
        ),
    CommandSpec::new("idletime", 3, READONLY, G, object_idletime)
        .keys(2, 2, 1)
        .doc(
            "Returns the time since the last access to a Redis object.",
            "2.2.3",
            "O(1)",
        ),
    CommandSpec::new("refcount", 3, READONLY, G, object_refcount)
        .keys(2, 2, 1)
        .doc(
            "Returns the reference count of a value of a key.",
            "2.2.3",
            "O(1)",
        ),
    CommandSpec::new("help", 2, LOADING | STALE, G, object_help).doc(
        "Returns helpful text about the different subcommands.",
        "6.2.0",
        "O(1)",
    ),
];

// ---------------------------------------------------------------- helpers

/// Redis's `getIntFromObjectOrReply`: an i64 that must also fit an i32.
fn int32(arg: &[u8]) -> Result<i64, Error> {
    let n = args::int(arg)?;
    if n < i64::from(i32::MIN) || n > i64::from(i32::MAX) {
        return Err(errors::INT_OUT_OF_RANGE);
    }
    Ok(n)
}

/// A target DB index for MOVE / COPY … DB.
fn db_index(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, Error> {
    let n = int32(arg)?;
    if n < 0 || n as usize >= ctx.srv.databases() {
        return Err(errors::DB_OUT_OF_RANGE);
    }
    Ok(n as usize)
}

/// The name TYPE and SCAN … TYPE use.
fn type_name(e: &Entry) -> &'static str {
    match e.value() {
        ValueRef::Str(_) | ValueRef::Int(_) => "string",
        ValueRef::Obj(o) => o.type_name(),
    }
}

/// A new entry under `key` holding a copy of `e`'s value and TTL.
fn copy_entry(e: &Entry, key: &[u8], clock: u32) -> Entry {
    let value = match e.value() {
        // Redis's dupStringObject keeps the encoding.
        ValueRef::Str(s) if e.raw_encoded() => NewValue::Raw(s),
        ValueRef::Str(s) => NewValue::Str(s),
        ValueRef::Int(i) => NewValue::Int(i),
        ValueRef::Obj(o) => NewValue::Obj(Box::new(o.clone())),
    };
    Entry::new(key, value, e.expire(), clock)
}

/// `e` under a new name; a collection moves without being copied.
fn rekey(e: Entry, key: &[u8]) -> Entry {
    let (expire, clock) = (e.expire(), e.clock());
    let value = match e.value() {
        ValueRef::Str(s) if e.raw_encoded() => {
            return Entry::new(key, NewValue::Raw(s), expire, clock)
        }
        ValueRef::Str(s) => return Entry::new(key, NewValue::Str(s), expire, clock),
        ValueRef::Int(i) => NewValue::Int(i),
        ValueRef::Obj(_) => NewValue::Obj(e.into_object().expect("entry holds an object")),
    };
    Entry::new(key, value, expire, clock)
}

/// Parses a SCAN cursor as Redis 7.0/7.2 do (`strtoul` with a leading-space
/// check): optional sign, decimal digits, wrapping negation, no overflow.
/// An empty argument is cursor 0, as `strtoul("")` makes it.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

// ---------------------------------------------------------------- handlers

fn del(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    // Only a DEL of several keys can delete some of them and need the
    // list; a single key's DEL allocates nothing.
    let many = argv.len() > 2;
    let mut deleted: Vec<&[u8]> = Vec::new();
    let mut n = 0;
    for k in &argv[1..] {
        // `exists` drops an expired key first, so it is not counted.
        if db.exists(k, now) && db.remove(k).is_some() {
            db.notify(class::GENERIC, "del", k);
            n += 1;
            if many {
                deleted.push(k);
            }
        }
    }
    // The effect names only the keys deleted: tracking invalidates the
    // keys of an effect, and Redis signals (and invalidates) only a key
    // that was there. Replay is the same.
    if many && n > 0 && n + 1 < argv.len() && ctx.propagating() {
        let mut effect = vec![argv[0].to_vec()];
        effect.extend(deleted.iter().map(|k| k.to_vec()));
        ctx.propagate_as(vec![effect]);
    }
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

fn exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let n = argv[1..]
        .iter()
        .filter(|k| db.get_read_notouch(k, now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

fn type_(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let name = db.get_read_notouch(argv[1], now).map_or("none", type_name);
    out.simple(name.as_bytes());
    Ok(Outcome::Done)
}

fn rename(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

fn rename_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst) = (argv[1], argv[2]);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    if db.get(src, now).is_none() {
        return Err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            out.int(0);
        } else {
            out.ok();
        }
        return Ok(Outcome::Done);
    }
    // Expires an old `dst` lazily, as Redis's lookup does.
    if db.exists(dst, now) {
        if nx {
            out.int(0);
            return Ok(Outcome::Done);
        }
        if db.notes.wants(class::NEW) {
            // Redis deletes the old `dst` and adds the key anew: `new`.
            db.remove(dst);
        }
    }
    let e = db.remove(src).expect("source was found above");
    // The TTL travels with the value; insert replaces any old `dst`.
    db.insert(rekey(e, dst));
    db.notify(class::GENERIC, "rename_from", src);
    db.notify(class::GENERIC, "rename_to", dst);
    if nx {
        out.int(1);
    } else {
        out.ok();
    }
    Ok(Outcome::Done)
}

fn expire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, true, true, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, true, false, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, false, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, argv, false, false, "pexpireat")
}

/// Redis's `expireGenericCommand`: options first, then the time, then the
/// key; a time at or before now deletes the key (and still replies 1).
fn expire_generic(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    relative: bool,
    seconds: bool,
    name: &str,
) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &argv[3..] {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if is(opt, "gt") {
            gt = true;
        } else if is(opt, "lt") {
            lt = true;
        } else {
            return Err(errors::unsupported_option(opt));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(errors::EXPIRE_OPTIONS_NX_XX_GT_LT);
    }
    if gt && lt {
        return Err(errors::EXPIRE_OPTIONS_GT_LT);
    }
    let mut when = args::int(argv[2])?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| errors::invalid_expire(name))?;
    }
    let base = if relative { ctx.now } else { 0 };
    let when = when
        .checked_add(base)
        .ok_or_else(|| errors::invalid_expire(name))?;
    let key = argv[1];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(e) = db.get(key, now) else {
        out.int(0);
        return Ok(Outcome::Done);
    };
    let current = e.expire();
    // A key without a TTL counts as an infinite one for GT and LT.
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        out.int(0);
        return Ok(Outcome::Done);
    }
    // A log replay keeps a time already past (Redis's checkAlreadyExpired):
    // the key was alive when the commands after it ran.
    let past = when <= now && !db.loading;
    if past {
        db.remove(key);
        db.notify(class::GENERIC, "del", key);
    } else {
        db.modify(key, now, |e| e.set_expire(Some(when)));
        db.notify(class::GENERIC, "expire", key);
    }
    out.int(1);
    // Replayed later, a relative time would land elsewhere: log the
    // absolute one, or the deletion it caused (Redis 7 does the same).
    if ctx.propagating() {
        let effect = if past {
            crate::argv!(b"DEL", key)
        } else {
            crate::argv!(b"PEXPIREAT", key, when)
        };
        ctx.propagate_as(vec![effect]);
    }
    Ok(Outcome::Done)
}

fn ttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, false, false)
}

fn pttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, argv, true, true)
}

/// -2 for a missing key, -1 without a TTL; the second forms round to the
/// nearest second (EXPIRETIME too), as Redis does.
fn ttl_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let reply = match db.get_read_notouch(argv[1], now).map(Entry::expire) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let t = if absolute { at } else { (at - now).max(0) };
            if ms {
                t
            } else {
                (t + 500) / 1000
            }
        }
    };
    out.int(reply);
    Ok(Outcome::Done)
}

fn persist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let removed = db.modify(argv[1], now, |e| {
        let had = e.expire().is_some();
        if had {
            e.set_expire(None);
        }
        had
    });
    if removed == Some(true) {
        db.notify(class::GENERIC, "persist", argv[1]);
    }
    out.int(i64::from(removed == Some(true)));
    Ok(Outcome::Done)
}

/// The user whose key patterns limit what SCAN, KEYS and RANDOMKEY show;
/// `None` (no per-key cost) when they may read every key.
fn key_reader(ctx: &Ctx<'_>) -> Option<std::sync::Arc<crate::acl::User>> {
    let u = &ctx.client.user;
    (!u.is_fast() && !u.reads_all_keys()).then(|| u.clone())
}

/// How many keys RANDOMKEY draws for a key-restricted user before it gives
/// up and answers nil (the DB may hold no key the user can read).
const RANDOMKEY_TRIES: usize = 100;

fn keys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let pattern = argv[1];
    let all = pattern == b"*";
    let now = ctx.now;
    let reader = key_reader(ctx);
    let (db, out) = ctx.db_out();
    // The count precedes the items, so encode them aside first.
    let mut items = ReplyBuf {
        buf: Vec::new(),
        proto: out.proto,
    };
    let mut n = 0;
    for e in db.iter(now) {
        if (all || glob_match(pattern, e.key(), false))
            && reader.as_ref().is_none_or(|u| u.may_read_key(e.key()))
        {
            items.bulk(e.key());
            n += 1;
        }
    }
    out.array(n);
    out.raw(&items.buf);
    Ok(Outcome::Done)
}

fn scan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[1]).ok_or(errors::CURSOR)?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        if is(argv[i], "count") && has_value {
            let n = args::int(argv[i + 1])?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(argv[i], "match") && has_value {
            // "*" matches everything: skip the matcher.
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
        } else if is(argv[i], "type") && has_value {
            type_filter = Some(argv[i + 1]);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let now = ctx.now;
    let reader = key_reader(ctx);
    let (db, out) = ctx.db_out();
    let mut items = ReplyBuf {
        buf: Vec::new(),
        proto: out.proto,
    };
    let mut n = 0;
    let next = db.scan(cursor, count, now, |e| {
        if pattern.is_some_and(|p| !glob_match(p, e.key(), false)) {
            return;
        }
        // Redis compares type names case-insensitively; an unknown name
        // matches nothing (7.2 keeps that; 8.0 makes it an error).
        if type_filter.is_some_and(|t| !t.eq_ignore_ascii_case(type_name(e).as_bytes())) {
            return;
        }
        if reader.as_ref().is_some_and(|u| !u.may_read_key(e.key())) {
            return;
        }
        items.bulk(e.key());
        n += 1;
    });
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(n);
    out.raw(&items.buf);
    Ok(Outcome::Done)
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let reader = key_reader(ctx);
    let (db, out) = ctx.db_out();
    let key = match reader {
        None => db.random_key(now),
        Some(u) => (0..RANDOMKEY_TRIES)
            .map_while(|_| db.random_key(now))
            .find(|k| u.may_read_key(k)),
    };
    match key {
        Some(k) => out.bulk(&k),
        None => out.null(),
    }
    Ok(Outcome::Done)
}

fn touch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let n = argv[1..]
        .iter()
        .filter(|k| db.get_read(k, now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

fn move_(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let key = argv[1];
    let to = db_index(ctx, argv[2])?;
    let from = ctx.client.db;
    if from == to {
        return Err(errors::SAME_OBJECT);
    }
    let now = ctx.now;
    let (mut src, mut dst) = ctx.srv.keyspace.lock_two(from, to);
    let moved = src.get(key, now).is_some() && !dst.exists(key, now);
    if moved {
        let e = src.remove(key).expect("key was found above");
        dst.insert(e);
        src.notify(class::GENERIC, "move_from", key);
        dst.notify(class::GENERIC, "move_to", key);
        // Logged here, in order with the pops the move may let happen.
        src.propagate(|| crate::argv!(b"MOVE", key, to));
        dst.serve_ready(now);
    }
    if ctx.propagating() {
        ctx.emit_holding(&mut [(from, &mut src), (to, &mut dst)]);
        ctx.propagate_as(Vec::new());
    }
    drop((src, dst));
    ctx.out.int(i64::from(moved));
    Ok(Outcome::Done)
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = int32(argv[1]).map_err(|_| errors::INVALID_FIRST_DB)?;
    let b = int32(argv[2]).map_err(|_| errors::INVALID_SECOND_DB)?;
    let n = ctx.srv.databases() as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return Err(errors::DB_OUT_OF_RANGE);
    }
    if a != b {
        let (mut da, mut db) = ctx.srv.keyspace.lock_two(a as usize, b as usize);
        da.swap_contents(&mut db);
        // Logged before the pops the swap lets happen.
        da.propagate(|| crate::argv!(b"SWAPDB", argv[1], argv[2]));
        da.serve_ready(ctx.now);
        db.serve_ready(ctx.now);
        if ctx.propagating() {
            ctx.emit_holding(&mut [(a as usize, &mut da), (b as usize, &mut db)]);
        }
    }
    if ctx.propagating() {
        ctx.propagate_as(Vec::new());
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// COPY's `DB n` option: the index of `n` (the last one wins, as in the handler).
fn copy_db_arg(argv: &[&[u8]]) -> Option<usize> {
    let mut found = None;
    let mut i = 3;
    while i + 1 < argv.len() {
        if is(argv[i], "db") {
            found = Some(i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    found
}

fn copy(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (src, dst) = (argv[1], argv[2]);
    let from = ctx.client.db;
    let mut to = from;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if is(argv[i], "replace") {
            replace = true;
        } else if is(argv[i], "db") && i + 1 < argv.len() {
            to = db_index(ctx, argv[i + 1])?;
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if from == to && src == dst {
        return Err(errors::SAME_OBJECT);
    }
    let now = ctx.now;
    let copied = if from == to {
        let copied = copy_in(ctx.db(), None, src, dst, replace, now);
        // COPY takes its DB locks itself (no dirty check in dispatch): a
        // COPY that copied nothing is no effect (nor an invalidation).
        if !copied && ctx.propagating() {
            ctx.propagate_as(Vec::new());
        }
        copied
    } else {
        let (mut a, mut b) = ctx.srv.keyspace.lock_two(from, to);
        let copied = copy_in(&mut a, Some(&mut b), src, dst, replace, now);
        if copied {
            a.propagate(|| crate::argv!(b"COPY", src, dst, b"DB", to, b"REPLACE"));
        }
        b.serve_ready(now);
        if ctx.propagating() {
            ctx.emit_holding(&mut [(from, &mut a), (to, &mut b)]);
            ctx.propagate_as(Vec::new());
        }
        copied
    };
    ctx.out.int(i64::from(copied));
    Ok(Outcome::Done)
}

/// COPY within `a`, or from `a` to `b` when given.
fn copy_in(
    a: &mut Db,
    mut b: Option<&mut Db>,
    src: &[u8],
    dst: &[u8],
    replace: bool,
    now: i64,
) -> bool {
    if a.get_read(src, now).is_none() {
        return false;
    }
    let taken = match b.as_deref_mut() {
        Some(b) => b.exists(dst, now),
        None => a.exists(dst, now),
    };
    if taken && !replace {
        return false;
    }
    let e = copy_entry(
        a.peek(src).expect("source was found above"),
        dst,
        lru_clock(now),
    );
    let into = match b {
        Some(b) => b,
        None => a,
    };
    if taken && into.notes.wants(class::NEW) {
        // Redis deletes the old `dst` and adds the copy anew: `new`.
        into.remove(dst);
    }
    into.insert(e);
    into.notify(class::GENERIC, "copy_to", dst);
    true
}

// ---------------------------------------------------------------- OBJECT

fn object_encoding(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read_quiet(argv[2], now) {
        None => out.null(),
        Some(e) => {
            let enc = match e.value() {
                ValueRef::Obj(o) => o.encoding(),
                _ => e.string_encoding(),
            };
            out.bulk(enc.as_bytes());
        }
    }
    Ok(Outcome::Done)
}

/// Whether the selected DB runs an LFU policy: OBJECT FREQ/IDLETIME read
/// the per-DB policy, since that is what decides how the DB's entries use
/// their clock bits.
fn selected_db_is_lfu(ctx: &Ctx<'_>) -> bool {
    let p = ctx
        .srv
        .tenancy
        .db(ctx.client.db)
        .policy
        .load(std::sync::atomic::Ordering::Relaxed);
    Policy::from_u8(p).is_lfu()
}

fn object_freq(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lfu = selected_db_is_lfu(ctx);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let decay = db.lfu().decay_time;
    let Some(e) = db.get_read_quiet(argv[2], now) else {
        out.null();
        return Ok(Outcome::Done);
    };
    if !lfu {
        return Err(errors::LFU_NOT_SELECTED);
    }
    // Redis's LFUDecrAndReturn: decayed for the reply, not stored.
    out.int(i64::from(evict::lfu_decayed(e.clock(), now, decay)));
    Ok(Outcome::Done)
}

fn object_idletime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let lfu = selected_db_is_lfu(ctx);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(e) = db.get_read_quiet(argv[2], now) else {
        out.null();
        return Ok(Outcome::Done);
    };
    if lfu {
        return Err(errors::LFU_SELECTED);
    }
    out.int(evict::lru_idle(e.clock(), now) as i64);
    Ok(Outcome::Done)
}

fn object_refcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // Redis shares the integers 0..9999 (refcount INT_MAX) unless an
    // LRU/LFU limit needs a per-key clock; every other value has one owner.
    let shared_ints = {
        let c = ctx.srv.config.read();
        c.maxmemory == 0
            || !(c.maxmemory_policy.ends_with("-lru") || c.maxmemory_policy.ends_with("-lfu"))
    };
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read_quiet(argv[2], now).map(Entry::value) {
        None => out.null(),
        Some(ValueRef::Int(i)) if shared_ints && (0..10_000).contains(&i) => {
            out.int(i64::from(i32::MAX))
        }
        Some(_) => out.int(1),
    }
    Ok(Outcome::Done)
}

fn object_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let lines: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.status_lines(lines);
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"01"), Some(1));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1a"), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"1.5"), None);
    }

    #[test]
    fn lfu_counter_decays_per_minute() {
        let now = 10 * 60_000;
        assert_eq!(evict::lfu_decayed((10 << 8) | 5, now, 1), 5);
        assert_eq!(evict::lfu_decayed((8 << 8) | 5, now, 1), 3);
        assert_eq!(evict::lfu_decayed((1 << 8) | 5, now, 1), 0);
    }
}
