//! Set group. Semantics, reply shapes and encoding changes follow Redis
//! 7.2's `t_set.c`; the data structure is [`SetValue`].
//!
//! Multi-key commands run inside the selected DB under its one lock: they
//! first look every key up (expiring it lazily and checking its type, in
//! argument order as Redis does), then borrow all the sets at once.

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::glob::glob_match;
use super::spec::numkeys_at_1;
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;
use crate::commands::Outcome;
use crate::keyspace::notify::class;
use crate::keyspace::types::set::{self as sets, MemberRef, SetValue};
use crate::keyspace::value::{Object, Thresholds};
use crate::keyspace::{Db, Entry, NewValue, ValueRef};
use crate::protocol::ReplyBuf;

const G: Group = Group::Set;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, G, sadd).keys(1, 1, 1).doc(
        "Adds one or more members to a set. Creates the key if it doesn't exist.",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
    ),
    CommandSpec::new("srem", -3, WRITE | FAST, G, srem).keys(1, 1, 1).doc(
        "Removes one or more members from a set. Deletes the set if the last member was removed.",
        "1.0.0",
        "O(N) where N is the number of members to be removed.",
    ),
    CommandSpec::new("scard", 2, READONLY | FAST, G, scard)
        .keys(1, 1, 1)
        .doc("Returns the number of members in a set.", "1.0.0", "O(1)"),
    CommandSpec::new("sismember", 3, READONLY | FAST, G, sismember)
        .keys(1, 1, 1)
        .doc("Determines whether a member belongs to a set.", "1.0.0", "O(1)"),
    CommandSpec::new("smismember", -3, READONLY | FAST, G, smismember).keys(1, 1, 1).doc(
        "Determines whether multiple members belong to a set.",
        "6.2.0",
        "O(N) where N is the number of elements being checked for membership",
    ),
    CommandSpec::new("smembers", 2, READONLY, G, smembers).keys(1, 1, 1).doc(
        "Returns all members of a set.",
        "1.0.0",
        "O(N) where N is the set cardinality.",
    ),
    CommandSpec::new("spop", -2, WRITE | FAST, G, spop).keys(1, 1, 1).doc(
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
    ),
    CommandSpec::new("srandmember", -2, READONLY, G, srandmember).keys(1, 1, 1).doc(
        "Get one or multiple random members from a set",
        "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
    ),
    CommandSpec::new("smove", 4, WRITE | FAST, G, smove)
        .keys(1, 2, 1)
        .doc("Moves a member from one set to another.", "1.0.0", "O(1)"),
    CommandSpec::new("sinter", -2, READONLY, G, sinter).keys(1, -1, 1).doc(
        "Returns the intersect of multiple sets.",
        "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
    ),
    CommandSpec::new("sintercard", -3, READONLY, G, sintercard)
        .find_keys(numkeys_at_1)
        .doc(
            "Returns the number of members of the intersect of multiple sets.",
            "7.0.0",
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        ),
    CommandSpec::new("sunion", -2, READONLY, G, sunion).keys(1, -1, 1).doc(
        "Returns the union of multiple sets.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
    ),
    CommandSpec::new("sdiff", -2, READONLY, G, sdiff).keys(1, -1, 1).doc(
        "Returns the difference of multiple sets.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
    ),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, G, sinterstore)
        .keys(1, -1, 1).doc(
        "Stores the intersect of multiple sets in a key.",
        "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
    ),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, G, sunionstore)
        .keys(1, -1, 1).doc(
        "Stores the union of multiple sets in a key.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
    ),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, G, sdiffstore)
        .keys(1, -1, 1).doc(
        "Stores the difference of multiple sets in a key.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
    ),
    CommandSpec::new("sscan", -3, READONLY, G, sscan).keys(1, 1, 1).doc(
        "Iterates over members of a set.",
        "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
    ),
];

#[inline]
fn reply_member(out: &mut ReplyBuf, m: MemberRef<'_>) {
    match m {
        MemberRef::Int(i) => out.bulk_int(i),
        MemberRef::Bytes(b) => out.bulk(b),
    }
}

/// The set at `key` for reading (`None` when missing, WRONGTYPE otherwise).
fn read_set<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a SetValue>, Error> {
    match db.object(key, now)? {
        None => Ok(None),
        Some(Object::Set(s)) => Ok(Some(s)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// Looks every key up (lazy expiry, stats, type check in argument order)
/// as Redis 7.2's `lookupKeyRead`, the STORE forms included: a missing
/// source fires `keymiss`.
fn check_sets(db: &mut Db, keys: &[&[u8]], now: i64) -> Result<(), Error> {
    for k in keys {
        match db.get_read(k, now).map(Entry::value) {
            None | Some(ValueRef::Obj(Object::Set(_))) => {}
            Some(_) => return Err(errors::WRONGTYPE),
        }
    }
    Ok(())
}

/// Borrows the (already checked) sets at once.
fn peek_sets<'a>(db: &'a Db, keys: &[&[u8]]) -> Vec<Option<&'a SetValue>> {
    keys.iter()
        .map(|k| match db.peek(k).map(Entry::value) {
            Some(ValueRef::Obj(Object::Set(s))) => Some(s),
            _ => None,
        })
        .collect()
}

/// Runs `f` on the set at `key` (creating it with `create` when given),
/// WRONGTYPE when the key holds anything else.
fn with_set<R>(
    db: &mut Db,
    key: &[u8],
    now: i64,
    create: Option<&dyn Fn() -> Object>,
    f: impl FnOnce(&mut SetValue) -> R,
) -> Result<Option<R>, Error> {
    match db.with_object(key, now, create, |o| match o {
        Object::Set(s) => Some(f(s)),
        _ => None,
    })? {
        None => Ok(None),
        Some(Some(r)) => Ok(Some(r)),
        Some(None) => Err(errors::WRONGTYPE),
    }
}

/// Replaces `dst` with `value` (dropping any TTL), or deletes it when the
/// result is empty; replies with the cardinality.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], value: SetValue, event: &'static str) {
    let now = ctx.now;
    let n = value.len();
    let (db, out) = ctx.db_out();
    // Expires an old `dst` lazily first, as Redis's lookup does.
    let existed = db.exists(dst, now);
    if n == 0 {
        if existed {
            db.remove(dst);
            db.notify(class::GENERIC, "del", dst);
        }
    } else {
        db.insert(Entry::new(
            dst,
            NewValue::Obj(Box::new(Object::Set(value))),
            None,
            crate::clock::lru_clock(now),
        ));
        db.notify(class::SET, event, dst);
    }
    out.int(n as i64);
}

fn sadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let create = || Object::Set(SetValue::create(argv[2], argv.len() - 2, &t));
    // Members already there change nothing: no write (WATCH, effect,
    // tracking), as Redis's SADD signals only when it added.
    let added = db
        .with_object_if(argv[1], now, Some(&create), |o| match o {
            Object::Set(s) => {
                let n = argv[2..].iter().filter(|m| s.add(m, &t)).count();
                (Ok(n), n > 0)
            }
            _ => (Err(errors::WRONGTYPE), false),
        })?
        .transpose()?;
    if added.unwrap_or(0) > 0 {
        db.notify(class::SET, "sadd", argv[1]);
    }
    out.int(added.unwrap_or(0) as i64);
    Ok(Outcome::Done)
}

fn srem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let removed = with_set(db, argv[1], now, None, |s| {
        let mut n = 0;
        for m in &argv[2..] {
            if s.remove(m) {
                n += 1;
                if s.is_empty() {
                    break;
                }
            }
        }
        n
    })?;
    if removed.unwrap_or(0) > 0 {
        db.notify(class::SET, "srem", argv[1]);
        db.notify_del_if_gone(argv[1]);
    }
    out.int(removed.unwrap_or(0));
    Ok(Outcome::Done)
}

fn scard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = read_set(db, argv[1], now)?.map_or(0, SetValue::len);
    out.int(n as i64);
    Ok(Outcome::Done)
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let hit = read_set(db, argv[1], now)?.is_some_and(|s| s.contains(argv[2]));
    out.int(hit as i64);
    Ok(Outcome::Done)
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let s = read_set(db, argv[1], now)?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(Outcome::Done)
}

fn smembers(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match read_set(db, argv[1], now)? {
        None => out.set(0),
        Some(s) => {
            out.set(s.len());
            for m in s.iter() {
                reply_member(out, m);
            }
        }
    }
    Ok(Outcome::Done)
}

fn spop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        2 => {}
        3 => return spop_count(ctx, argv),
        _ => return Err(errors::SYNTAX),
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let mut popped_member = None;
    let popped = with_set(db, argv[1], now, None, |s| {
        let mut rng = rand::thread_rng();
        let m = s.random(&mut rng).map(MemberRef::to_vec);
        if let Some(m) = &m {
            out.bulk(m);
            s.remove(m);
        }
        let found = m.is_some();
        popped_member = m;
        found
    })?;
    if popped != Some(true) {
        out.null();
    } else {
        db.notify(class::SET, "spop", argv[1]);
        db.notify_del_if_gone(argv[1]);
    }
    // A random pick is not replayable: log which member went.
    if let (Some(m), true) = (popped_member, ctx.propagating()) {
        ctx.propagate_as(vec![crate::argv!(b"SREM", argv[1], m)]);
    }
    Ok(Outcome::Done)
}

fn spop_count(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let count = match crate::protocol::parse::parse_i64(argv[2]) {
        Some(n) if n >= 0 => n as usize,
        _ => return Err(errors::MUST_BE_POSITIVE),
    };
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let mut popped = ctx.propagating().then(Vec::new);
    let (db, out) = ctx.db_out();
    let done = with_set(db, argv[1], now, None, |s| {
        spop_many(s, count, &t, out, popped.as_mut());
    })?;
    if done.is_none() {
        out.set(0);
    } else if count > 0 {
        db.notify(class::SET, "spop", argv[1]);
        db.notify_del_if_gone(argv[1]);
    }
    // Log which members went (a random pick is not replayable).
    if let Some(members) = popped {
        let effect = (!members.is_empty()).then(|| {
            let mut cmd = crate::argv!(b"SREM", argv[1]);
            cmd.extend(members);
            cmd
        });
        ctx.propagate_as(effect.into_iter().collect());
    }
    Ok(Outcome::Done)
}

/// SPOP with a count on an existing set, with Redis's three strategies (the
/// third rebuilds the set, which can change its encoding as in Redis).
/// `popped` (when effects are logged) receives the members removed.
fn spop_many(
    s: &mut SetValue,
    count: usize,
    t: &Thresholds,
    out: &mut ReplyBuf,
    mut popped: Option<&mut Vec<Vec<u8>>>,
) {
    let size = s.len();
    if count == 0 {
        out.set(0);
        return;
    }
    if count >= size {
        out.set(size);
        for m in s.iter() {
            reply_member(out, m);
            if let Some(p) = popped.as_mut() {
                p.push(m.to_vec());
            }
        }
        *s = SetValue::default();
        return;
    }
    let mut rng = rand::thread_rng();
    let remaining = size - count;
    out.set(count);
    if remaining * 5 > count {
        for _ in 0..count {
            let Some(m) = s.random(&mut rng).map(MemberRef::to_vec) else {
                break;
            };
            out.bulk(&m);
            s.remove(&m);
            if let Some(p) = popped.as_mut() {
                p.push(m);
            }
        }
        return;
    }
    let mut keep = vec![false; size];
    for i in rand::seq::index::sample(&mut rng, size, remaining) {
        keep[i] = true;
    }
    let mut kept = if s.is_intset() {
        SetValue::empty_intset()
    } else {
        SetValue::default()
    };
    for (i, m) in s.iter().enumerate() {
        if keep[i] {
            kept.add_ref(m, t);
        } else {
            reply_member(out, m);
            if let Some(p) = popped.as_mut() {
                p.push(m.to_vec());
            }
        }
    }
    *s = kept;
}

fn srandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    match argv.len() {
        2 => {}
        3 => return srandmember_count(ctx, argv),
        _ => return Err(errors::SYNTAX),
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match read_set(db, argv[1], now)?.and_then(|s| s.random(&mut rand::thread_rng())) {
        Some(m) => reply_member(out, m),
        None => out.null(),
    }
    Ok(Outcome::Done)
}

fn srandmember_count(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let l = args::int(argv[2])?;
    if l == i64::MIN {
        return Err(errors::RANDOM_COUNT_RANGE);
    }
    let (count, uniq) = (l.unsigned_abs() as usize, l >= 0);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(s) = read_set(db, argv[1], now)? else {
        out.array(0);
        return Ok(Outcome::Done);
    };
    if count == 0 {
        out.array(0);
        return Ok(Outcome::Done);
    }
    let mut rng = rand::thread_rng();
    if !uniq || count == 1 {
        out.array(count);
        for _ in 0..count {
            if let Some(m) = s.random(&mut rng) {
                reply_member(out, m);
            }
        }
        return Ok(Outcome::Done);
    }
    if count >= s.len() {
        out.array(s.len());
        for m in s.iter() {
            reply_member(out, m);
        }
        return Ok(Outcome::Done);
    }
    let picked = s.sample(count, &mut rng);
    out.array(picked.len());
    for m in picked {
        reply_member(out, m);
    }
    Ok(Outcome::Done)
}

fn smove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (src, dst, m) = (argv[1], argv[2], argv[3]);
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let src_is_set = match db.get(src, now).map(Entry::value) {
        None => {
            out.int(0);
            return Ok(Outcome::Done);
        }
        Some(ValueRef::Obj(Object::Set(_))) => true,
        Some(_) => false,
    };
    let dst_ok = matches!(
        db.get(dst, now).map(Entry::value),
        None | Some(ValueRef::Obj(Object::Set(_)))
    );
    if !src_is_set || !dst_ok {
        return Err(errors::WRONGTYPE);
    }
    if src == dst {
        let hit = read_set(db, src, now)?.is_some_and(|s| s.contains(m));
        out.int(hit as i64);
        return Ok(Outcome::Done);
    }
    if with_set(db, src, now, None, |s| s.remove(m))? != Some(true) {
        out.int(0);
        return Ok(Outcome::Done);
    }
    db.notify(class::SET, "srem", src);
    db.notify_del_if_gone(src);
    let create = || Object::Set(SetValue::create(m, 1, &t));
    if with_set(db, dst, now, Some(&create), |s| s.add(m, &t))? == Some(true) {
        db.notify(class::SET, "sadd", dst);
    }
    out.int(1);
    Ok(Outcome::Done)
}

fn sinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let keys = &argv[1..];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    check_sets(db, keys, now)?;
    let sets = peek_sets(db, keys);
    let members = sets::intersect(&sets, 0);
    out.set(members.len());
    for m in members {
        reply_member(out, m);
    }
    Ok(Outcome::Done)
}

fn sintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = match crate::protocol::parse::parse_i64(argv[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(errors::NUMKEYS_POSITIVE),
    };
    if n > argv.len() - 2 {
        return Err(errors::NUMKEYS_TOO_MANY);
    }
    let mut limit = 0usize;
    let mut i = 2 + n;
    while i < argv.len() {
        if is(argv[i], "limit") && i + 1 < argv.len() {
            limit = match crate::protocol::parse::parse_i64(argv[i + 1]) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err(errors::LIMIT_NEGATIVE),
            };
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let keys = &argv[2..2 + n];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    check_sets(db, keys, now)?;
    let sets = peek_sets(db, keys);
    out.int(sets::intersect(&sets, limit).len() as i64);
    Ok(Outcome::Done)
}

fn sunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    union_diff_reply(ctx, &argv[1..], false)
}

fn sdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    union_diff_reply(ctx, &argv[1..], true)
}

fn union_diff_reply(ctx: &mut Ctx<'_>, keys: &[&[u8]], diff: bool) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    check_sets(db, keys, now)?;
    let sets = peek_sets(db, keys);
    let result = sets::union_diff(&sets, diff, false, &t);
    out.set(result.len());
    for m in result.iter() {
        reply_member(out, m);
    }
    Ok(Outcome::Done)
}

fn sinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let keys = &argv[2..];
    let db = ctx.db();
    // Redis's sinterGenericCommand reads its sources with lookupKeyRead
    // even when it stores (key misses count and are announced), unlike
    // SUNIONSTORE and SDIFFSTORE.
    check_sets(db, keys, now)?;
    let result = sets::intersect_store(&peek_sets(db, keys), &t);
    store(ctx, argv[1], result, "sinterstore");
    Ok(Outcome::Done)
}

fn sunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    union_diff_store(ctx, argv, false)
}

fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    union_diff_store(ctx, argv, true)
}

fn union_diff_store(ctx: &mut Ctx<'_>, argv: &[&[u8]], diff: bool) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let keys = &argv[2..];
    let db = ctx.db();
    check_sets(db, keys, now)?;
    let result = sets::union_diff(&peek_sets(db, keys), diff, true, &t);
    let event = if diff { "sdiffstore" } else { "sunionstore" };
    store(ctx, argv[1], result, event);
    Ok(Outcome::Done)
}

/// A SCAN cursor as Redis 7.2 parses it (`string2ull`): a canonical
/// non-negative integer, or anything `strtoull` takes whole.
fn parse_cursor(arg: &[u8]) -> Result<u64, Error> {
    if let Some(v) = crate::protocol::parse::parse_i64(arg) {
        return u64::try_from(v).map_err(|_| errors::CURSOR);
    }
    let s = std::str::from_utf8(arg).map_err(|_| errors::CURSOR)?;
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(errors::CURSOR);
    }
    t.parse::<u64>().map_err(|_| errors::CURSOR)
}

fn sscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(argv[2])?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(s) = read_set(db, argv[1], now)? else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(Outcome::Done);
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if is(argv[i], "count") && more {
            let n = args::int(argv[i + 1])?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            count = n as usize;
        } else if is(argv[i], "match") && more {
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let keep = |m: &[u8]| pattern.is_none_or(|p| glob_match(p, m, false));
    let mut found: Vec<MemberRef<'_>> = Vec::new();
    let next = match s {
        SetValue::Ht(h) => h.scan(cursor, count, |m| {
            if keep(m) {
                found.push(MemberRef::Bytes(m));
            }
        }),
        _ => {
            found.extend(s.iter().filter(|m| m.with_bytes(keep)));
            0
        }
    };
    out.array(2);
    // Cursors are u64 hash values: printed unsigned.
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(found.len());
    for m in found {
        reply_member(out, m);
    }
    Ok(Outcome::Done)
}
