//! SortedSet group: ZADD … ZSCAN (the blocking pops live with the other
//! blocking commands and call [`pop_for_client`]).
//!
//! Argument checks run in Redis's order (options, then numbers, then the
//! key lookup), because which error wins is visible to clients.

use crate::commands::Outcome;
use hashbrown::HashMap;
use rand::Rng;

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::glob::glob_match;
use super::spec::{flags::*, CommandSpec, Group};
use super::spec::{numkeys_at_1, numkeys_at_2};
use super::Ctx;
use crate::keyspace::db::WrongType;
use crate::keyspace::notify::class;
use crate::keyspace::types::zset::{AddFlags, Added, LexBound, LexRange, ScoreRange, ZSetValue};
use crate::keyspace::value::Object;
use crate::keyspace::{Db, Entry, NewValue, ValueRef};
use crate::protocol::ReplyBuf;

const G: Group = Group::SortedSet;

const LOG_N: &str = "O(log(N)) where N is the number of elements in the sorted set.";
const RANGE_CPLX: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const BY_CPLX: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REM_CPLX: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const POP_CPLX: &str = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const UNION_CPLX: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER_CPLX: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_CPLX: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, G, zadd).keys(1, 1, 1).doc(
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        "1.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
    ),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, G, zincrby).keys(1, 1, 1).doc(
        "Increments the score of a member in a sorted set.",
        "1.2.0",
        LOG_N,
    ),
    CommandSpec::new("zrem", -3, WRITE | FAST, G, zrem).keys(1, 1, 1).doc(
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        "1.2.0",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
    ),
    CommandSpec::new("zcard", 2, READONLY | FAST, G, zcard).keys(1, 1, 1).doc(
        "Returns the number of members in a sorted set.",
        "1.2.0",
        "O(1)",
    ),
    CommandSpec::new("zscore", 3, READONLY | FAST, G, zscore).keys(1, 1, 1).doc(
        "Returns the score of a member in a sorted set.",
        "1.2.0",
        "O(1)",
    ),
    CommandSpec::new("zmscore", -3, READONLY | FAST, G, zmscore).keys(1, 1, 1).doc(
        "Returns the score of one or more members in a sorted set.",
        "6.2.0",
        "O(N) where N is the number of members being requested.",
    ),
    CommandSpec::new("zrank", -3, READONLY | FAST, G, zrank).keys(1, 1, 1).doc(
        "Returns the index of a member in a sorted set ordered by ascending scores.",
        "2.0.0",
        "O(log(N))",
    ),
    CommandSpec::new("zrevrank", -3, READONLY | FAST, G, zrevrank).keys(1, 1, 1).doc(
        "Returns the index of a member in a sorted set ordered by descending scores.",
        "2.0.0",
        "O(log(N))",
    ),
    CommandSpec::new("zcount", 4, READONLY | FAST, G, zcount).keys(1, 1, 1).doc(
        "Returns the count of members in a sorted set that have scores within a range.",
        "2.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, G, zlexcount).keys(1, 1, 1).doc(
        "Returns the number of members in a sorted set within a lexicographical range.",
        "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandSpec::new("zrange", -4, READONLY, G, zrange).keys(1, 1, 1).doc(
        "Returns members in a sorted set within a range of indexes.",
        "1.2.0",
        RANGE_CPLX,
    ),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, G, zrangestore)
        .keys(1, 2, 1).doc(
        "Stores a range of members from sorted set in a key.",
        "6.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
    ),
    CommandSpec::new("zrevrange", -4, READONLY, G, zrevrange).keys(1, 1, 1).doc(
        "Returns members in a sorted set within a range of indexes in reverse order.",
        "1.2.0",
        RANGE_CPLX,
    ),
    CommandSpec::new("zrangebyscore", -4, READONLY, G, zrangebyscore).keys(1, 1, 1).doc(
        "Returns members in a sorted set within a range of scores.",
        "1.0.5",
        BY_CPLX,
    ),
    CommandSpec::new("zrevrangebyscore", -4, READONLY, G, zrevrangebyscore).keys(1, 1, 1).doc(
        "Returns members in a sorted set within a range of scores in reverse order.",
        "2.2.0",
        BY_CPLX,
    ),
    CommandSpec::new("zrangebylex", -4, READONLY, G, zrangebylex).keys(1, 1, 1).doc(
        "Returns members in a sorted set within a lexicographical range.",
        "2.8.9",
        BY_CPLX,
    ),
    CommandSpec::new("zrevrangebylex", -4, READONLY, G, zrevrangebylex).keys(1, 1, 1).doc(
        "Returns members in a sorted set within a lexicographical range in reverse order.",
        "2.8.9",
        BY_CPLX,
    ),
    CommandSpec::new("zremrangebyscore", 4, WRITE, G, zremrangebyscore).keys(1, 1, 1).doc(
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        "1.2.0",
        REM_CPLX,
    ),
    CommandSpec::new("zremrangebyrank", 4, WRITE, G, zremrangebyrank).keys(1, 1, 1).doc(
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        "2.0.0",
        REM_CPLX,
    ),
    CommandSpec::new("zremrangebylex", 4, WRITE, G, zremrangebylex).keys(1, 1, 1).doc(
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        "2.8.9",
        REM_CPLX,
    ),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, G, zpopmin).keys(1, 1, 1).doc(
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "5.0.0",
        POP_CPLX,
    ),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, G, zpopmax).keys(1, 1, 1).doc(
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "5.0.0",
        POP_CPLX,
    ),
    CommandSpec::new("zmpop", -4, WRITE, G, zmpop).find_keys(numkeys_at_1).doc(
        "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
    ),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, G, zunionstore)
        .find_keys(dst_numkeys_at_2).legacy_keys(1, 1, 1).doc(
        "Stores the union of multiple sorted sets in a key.",
        "2.0.0",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
    ),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, G, zinterstore)
        .find_keys(dst_numkeys_at_2).legacy_keys(1, 1, 1).doc(
        "Stores the intersect of multiple sorted sets in a key.",
        "2.0.0",
        INTER_CPLX,
    ),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, G, zdiffstore)
        .find_keys(dst_numkeys_at_2).legacy_keys(1, 1, 1).doc(
        "Stores the difference of multiple sorted sets in a key.",
        "6.2.0",
        DIFF_CPLX,
    ),
    CommandSpec::new("zunion", -3, READONLY, G, zunion).find_keys(numkeys_at_1).doc(
        "Returns the union of multiple sorted sets.",
        "6.2.0",
        UNION_CPLX,
    ),
    CommandSpec::new("zinter", -3, READONLY, G, zinter).find_keys(numkeys_at_1).doc(
        "Returns the intersect of multiple sorted sets.",
        "6.2.0",
        INTER_CPLX,
    ),
    CommandSpec::new("zdiff", -3, READONLY, G, zdiff).find_keys(numkeys_at_1).doc(
        "Returns the difference between multiple sorted sets.",
        "6.2.0",
        DIFF_CPLX,
    ),
    CommandSpec::new("zintercard", -3, READONLY, G, zintercard).find_keys(numkeys_at_1).doc(
        "Returns the number of members of the intersect of multiple sorted sets.",
        "7.0.0",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
    ),
    CommandSpec::new("zrandmember", -2, READONLY, G, zrandmember).keys(1, 1, 1).doc(
        "Returns one or more random members from a sorted set.",
        "6.2.0",
        "O(N) where N is the number of members returned",
    ),
    CommandSpec::new("zscan", -3, READONLY, G, zscan).keys(1, 1, 1).doc(
        "Iterates over members and scores of a sorted set.",
        "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
    ),
];

// ---------------------------------------------------------------- key finders

/// Z*STORE: `cmd dst numkeys key…` (no keys at all when numkeys is bad).
fn dst_numkeys_at_2(argv: &[&[u8]]) -> Vec<usize> {
    let keys = numkeys_at_2(argv);
    if keys.is_empty() {
        return keys;
    }
    std::iter::once(1).chain(keys).collect()
}

// ---------------------------------------------------------------- parsing

/// `strtod`'s hexadecimal form (`0x10`, `-0x1.8p3`), which Redis accepts
/// wherever it reads a score.
fn parse_hex_float(arg: &[u8]) -> Option<f64> {
    let (neg, rest) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    let rest = rest
        .strip_prefix(b"0x")
        .or_else(|| rest.strip_prefix(b"0X"))?;
    let (mant, exp) = match rest.iter().position(|&c| c == b'p' || c == b'P') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut v = 0f64;
    let mut scale = 0i32;
    let mut digits = 0;
    let mut dot = false;
    for &c in mant {
        if c == b'.' && !dot {
            dot = true;
            continue;
        }
        let d = (c as char).to_digit(16)?;
        v = v * 16.0 + d as f64;
        digits += 1;
        if dot {
            scale -= 4;
        }
    }
    if digits == 0 {
        return None;
    }
    if let Some(e) = exp {
        let e: i32 = std::str::from_utf8(e).ok()?.parse().ok()?;
        scale = scale.checked_add(e)?;
    }
    let v = v * 2f64.powi(scale);
    Some(if neg { -v } else { v })
}

/// A float as `strtod` reads it: decimal, `inf`/`infinity`, or hex.
fn strtod(arg: &[u8]) -> Option<f64> {
    args::parse_f64(arg).or_else(|| parse_hex_float(arg))
}

/// A score the way `getDoubleFromObject` takes it: no spaces, no empty
/// string, no NaN, and no overflow to ±inf or underflow to 0 (ERANGE).
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    let v = strtod(arg)?;
    if v.is_infinite() {
        let lower = arg.to_ascii_lowercase();
        let body = lower
            .strip_prefix(b"+")
            .or_else(|| lower.strip_prefix(b"-"));
        let body = body.unwrap_or(&lower);
        if body != b"inf" && body != b"infinity" {
            return None;
        }
    }
    if v == 0.0 {
        let body = arg
            .strip_prefix(b"-")
            .or(arg.strip_prefix(b"+"))
            .unwrap_or(arg);
        let hex = body.len() > 1 && body[0] == b'0' && matches!(body[1], b'x' | b'X');
        let mantissa = if hex {
            body[2..].split(|&c| c == b'p' || c == b'P').next()
        } else {
            body.split(|&c| c == b'e' || c == b'E').next()
        }
        .unwrap_or(body);
        if mantissa.iter().any(|c| c.is_ascii_hexdigit() && *c != b'0') {
            return None;
        }
    }
    Some(v)
}

fn float_arg(arg: &[u8]) -> Result<f64, Error> {
    parse_score(arg).ok_or(errors::NOT_FLOAT)
}

/// A range bound as `strtod` reads it in `zslParseRange` (leading spaces
/// allowed, the empty string is 0, NaN refused).
fn parse_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, body) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let body = {
        let skip = body
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
            .count();
        &body[skip..]
    };
    if body.is_empty() {
        return Some((0.0, ex));
    }
    strtod(body).map(|v| (v, ex))
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
    match (parse_bound(min), parse_bound(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        }),
        _ => Err(errors::MINMAX_NOT_FLOAT),
    }
}

fn lex_bound(arg: &[u8]) -> Option<LexBound<'_>> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::Max),
        b'-' if arg.len() == 1 => Some(LexBound::Min),
        b'[' => Some(LexBound::Incl(&arg[1..])),
        b'(' => Some(LexBound::Excl(&arg[1..])),
        _ => None,
    }
}

fn lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, Error> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(errors::MINMAX_NOT_LEX),
    }
}

fn as_zset(o: &Object) -> Result<&ZSetValue, Error> {
    match o {
        Object::ZSet(z) => Ok(z),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The sorted set at `key` for reading (`None` when missing).
pub(crate) fn read<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
) -> Result<Option<&'d ZSetValue>, Error> {
    match db.object(key, now)? {
        None => Ok(None),
        Some(o) => as_zset(o).map(Some),
    }
}

/// Runs `f` on the sorted set at `key` (no creation); `Ok(None)` when missing.
fn write<R>(
    db: &mut Db,
    key: &[u8],
    now: i64,
    f: impl FnOnce(&mut ZSetValue) -> R,
) -> Result<Option<R>, Error> {
    db.with_object(key, now, None, |o| match o {
        Object::ZSet(z) => Ok(f(z)),
        _ => Err(errors::WRONGTYPE),
    })?
    .transpose()
}

/// Replaces `dst` with `z` (or deletes it when `z` is empty), as `setKey`
/// does for the *STORE commands: any TTL goes.
/// Fires `event` on `dst` when stored, `del` when an empty result deleted it.
pub(crate) fn store(db: &mut Db, dst: &[u8], z: ZSetValue, now: i64, event: &'static str) -> usize {
    let n = z.len();
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
            NewValue::Obj(Box::new(Object::ZSet(z))),
            None,
            crate::clock::lru_clock(now),
        ));
        db.signal_ready(dst);
        db.notify(class::ZSET, event, dst);
    }
    n
}

/// Array header for `n` members with or without scores.
fn pairs_header(out: &mut ReplyBuf, n: usize, withscores: bool) {
    if withscores && !out.is_resp3() {
        out.array(2 * n);
    } else {
        out.array(n);
    }
}

fn pair(out: &mut ReplyBuf, m: &[u8], s: f64, withscores: bool) {
    if withscores {
        if out.is_resp3() {
            out.array(2);
        }
        out.bulk(m);
        out.double(s);
    } else {
        out.bulk(m);
    }
}

// ---------------------------------------------------------------- ZADD

fn zadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, argv, false)
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, argv, true)
}

fn zadd_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], incr_cmd: bool) -> CmdResult {
    let key = argv[1];
    let mut f = AddFlags {
        incr: incr_cmd,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(errors::SYNTAX);
    }
    let elements = rest.len() / 2;
    if f.nx && f.xx {
        return Err(errors::ZADD_XX_NX);
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(errors::ZADD_GT_LT_NX);
    }
    if f.incr && elements > 1 {
        return Err(errors::ZADD_INCR_PAIRS);
    }
    // Every score is checked before anything is added: all or nothing.
    for p in rest.chunks(2) {
        float_arg(p[0])?;
    }
    // Parsed again as they are added rather than collected: a Vec per
    // ZADD cost 6 % of its instructions (callgrind, benches/dispatch.rs
    // zadd_10k: 2981 Ir per ZADD with it, 2805 without; 2796 before GEOADD
    // shared this path).
    let pairs = rest
        .chunks(2)
        .map(|p| (parse_score(p[0]).unwrap_or(0.0), p[1]));
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let incr = f.incr;
    let (db, out) = ctx.db_out();
    let (added, updated, last) = add_scored(db, key, now, &t, f, pairs)?;
    if added + updated > 0 {
        db.notify(class::ZSET, if incr { "zincr" } else { "zadd" }, key);
    }
    if incr {
        match last {
            Some(s) => out.double(s),
            None => out.null(),
        }
    } else {
        out.int(if ch { added + updated } else { added });
    }
    Ok(Outcome::Done)
}

/// ZADD's write once its arguments are checked: adds (score, member)
/// pairs under flags `f`, creating the key unless XX. Returns (added,
/// updated, the last element's resulting score). GEOADD shares it.
pub(crate) fn add_scored<'m>(
    db: &mut Db,
    key: &[u8],
    now: i64,
    t: &crate::keyspace::value::Thresholds,
    f: AddFlags,
    pairs: impl Iterator<Item = (f64, &'m [u8])>,
) -> Result<(i64, i64, Option<f64>), Error> {
    // Created packed and converted per insert, as redis-server 7.0 does
    // (a ZADD of 200 copies of one member stays a listpack).
    let make = || Object::ZSet(ZSetValue::new(t));
    let create: Option<&dyn Fn() -> Object> = if f.xx { None } else { Some(&make) };
    // A member added again with its score changes nothing: no write
    // (WATCH, effect, tracking), as Redis's ZADD signals added+updated.
    let r = db.with_object_if(key, now, create, |o| {
        let r = add_all(o, pairs, f, t);
        let changed = !matches!(r, Ok((0, 0, _)));
        (r, changed)
    })?;
    let r = match r {
        None => (0, 0, None),
        Some(r) => r?,
    };
    if r.0 > 0 {
        db.signal_ready(key);
    }
    Ok(r)
}

/// ZADD's loop over `pairs` into the sorted set `o`: added, updated, and
/// the last member's score.
fn add_all<'m>(
    o: &mut Object,
    pairs: impl Iterator<Item = (f64, &'m [u8])>,
    f: AddFlags,
    t: &crate::keyspace::value::Thresholds,
) -> Result<(i64, i64, Option<f64>), Error> {
    {
        let Object::ZSet(z) = o else {
            return Err(errors::WRONGTYPE);
        };
        let (mut added, mut updated, mut last) = (0i64, 0i64, None);
        for (score, member) in pairs {
            match z.add(member, score, f, t) {
                Added::NaN => return Err(errors::SCORE_NAN),
                Added::Nop => {}
                Added::Added(s) => {
                    added += 1;
                    last = Some(s);
                }
                Added::Updated(s) => {
                    updated += 1;
                    last = Some(s);
                }
                Added::Same(s) => last = Some(s),
            }
        }
        Ok((added, updated, last))
    }
}

// ---------------------------------------------------------------- simple reads

fn zrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    // Removing only absent members is no write.
    let n = db
        .with_object_if(argv[1], now, None, |o| match o {
            Object::ZSet(z) => {
                let n = argv[2..].iter().filter(|m| z.remove(m)).count();
                (Ok(n), n > 0)
            }
            _ => (Err(errors::WRONGTYPE), false),
        })?
        .transpose()?;
    if n.unwrap_or(0) > 0 {
        db.notify(class::ZSET, "zrem", argv[1]);
        db.notify_del_if_gone(argv[1]);
    }
    out.int(n.unwrap_or(0) as i64);
    Ok(Outcome::Done)
}

fn zcard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = read(db, argv[1], now)?.map_or(0, ZSetValue::len);
    out.int(n as i64);
    Ok(Outcome::Done)
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match read(db, argv[1], now)?.and_then(|z| z.score(argv[2])) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(Outcome::Done)
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    reply_per_member(ctx, argv, ReplyBuf::double, ReplyBuf::null)
}

/// One reply element per member named from `argv[2]` on, in the sorted set
/// at `argv[1]`: `found` with its score, `missing` when it is absent.
/// ZMSCORE, GEOHASH and GEOPOS.
pub(crate) fn reply_per_member(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    found: impl Fn(&mut ReplyBuf, f64),
    missing: fn(&mut ReplyBuf),
) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let z = read(db, argv[1], now)?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => found(out, s),
            None => missing(out),
        }
    }
    Ok(Outcome::Done)
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> CmdResult {
    if argv.len() > 4 {
        let name = String::from_utf8_lossy(argv[0]).to_lowercase();
        return Err(errors::wrong_arity(&name));
    }
    let withscore = match argv.get(3) {
        None => false,
        Some(a) if is(a, "withscore") => true,
        Some(_) => return Err(errors::SYNTAX),
    };
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let found = read(db, argv[1], now)?.and_then(|z| {
        z.rank(argv[2])
            .map(|(r, s)| (if rev { z.len() - 1 - r } else { r }, s))
    });
    match (found, withscore) {
        (Some((r, _)), false) => out.int(r as i64),
        (Some((r, s)), true) => {
            out.array(2);
            out.int(r as i64);
            out.double(s);
        }
        (None, false) => out.null(),
        (None, true) => out.null_array(),
    }
    Ok(Outcome::Done)
}

fn zcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = score_range(argv[2], argv[3])?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = read(db, argv[1], now)?.map_or(0, |z| {
        let (a, b) = z.score_range(&r);
        b - a
    });
    out.int(n as i64);
    Ok(Outcome::Done)
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = lex_range(argv[2], argv[3])?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = read(db, argv[1], now)?.map_or(0, |z| {
        let (a, b) = z.lex_range(&r);
        b - a
    });
    out.int(n as i64);
    Ok(Outcome::Done)
}

// ---------------------------------------------------------------- ZRANGE family

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand`: `at` is the index of the source key;
/// `dst` is set for ZRANGESTORE.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    at: usize,
    dst: Option<&[u8]>,
    mut kind: RangeType,
    rev_fixed: Option<bool>,
) -> CmdResult {
    let key = argv[at];
    let mut withscores = false;
    let mut offset: i64 = 0;
    let mut limit: i64 = -1;
    let mut rev = rev_fixed;
    let mut j = at + 3;
    while j < argv.len() {
        let a = argv[j];
        let left = argv.len() - j - 1;
        if dst.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = args::int(argv[j + 1])?;
            limit = args::int(argv[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if kind == RangeType::Auto && is(a, "bylex") {
            kind = RangeType::Lex;
        } else if kind == RangeType::Auto && is(a, "byscore") {
            kind = RangeType::Score;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == RangeType::Auto {
        kind = RangeType::Rank;
    }
    if limit != -1 && kind == RangeType::Rank {
        return Err(errors::ZRANGE_LIMIT_BY_RANK);
    }
    if withscores && kind == RangeType::Lex {
        return Err(errors::ZRANGE_BYLEX_WITHSCORES);
    }
    let (mut lo, mut hi) = (argv[at + 1], argv[at + 2]);
    if rev && kind != RangeType::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Parsed<'a> {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange<'a>),
    }
    let parsed = match kind {
        RangeType::Score => Parsed::Score(score_range(lo, hi)?),
        RangeType::Lex => Parsed::Lex(lex_range(lo, hi)?),
        _ => Parsed::Rank(args::int(lo)?, args::int(hi)?),
    };
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(z) = read(db, key, now)? else {
        match dst {
            Some(d) => {
                store(db, d, ZSetValue::new(&t), now, "zrangestore");
                out.int(0);
            }
            None => out.array(0),
        }
        return Ok(Outcome::Done);
    };
    let len = z.len() as i64;
    // The window as ascending ranks [s, e), walked backwards when `rev`.
    let (s, e) = match parsed {
        Parsed::Rank(mut start, mut end) => {
            if start < 0 {
                start += len;
            }
            if end < 0 {
                end += len;
            }
            start = start.max(0);
            if start > end || start >= len {
                (0, 0)
            } else {
                let end = end.min(len - 1);
                if rev {
                    ((len - 1 - end) as usize, (len - start) as usize)
                } else {
                    (start as usize, end as usize + 1)
                }
            }
        }
        Parsed::Score(r) => limit_window(z.score_range(&r), offset, limit, rev),
        Parsed::Lex(r) => limit_window(z.lex_range(&r), offset, limit, rev),
    };
    match dst {
        Some(d) => {
            let mut nz = ZSetValue::with_hint(&t, e - s, 0);
            z.for_range(s, e, rev, |m, sc| nz.put(m, sc, &t));
            let n = store(db, d, nz, now, "zrangestore");
            out.int(n as i64);
        }
        None => {
            pairs_header(out, e - s, withscores);
            z.for_range(s, e, rev, |m, sc| pair(out, m, sc, withscores));
        }
    }
    Ok(Outcome::Done)
}

/// Applies LIMIT to the rank window `[a, b)` of a score or lex range,
/// counting the offset from the top when `rev`.
fn limit_window((a, b): (usize, usize), offset: i64, limit: i64, rev: bool) -> (usize, usize) {
    let avail = (b - a) as i64;
    // A negative offset skips everything in Redis (its countdown never ends).
    if offset < 0 || offset >= avail {
        return (0, 0);
    }
    let take = if limit < 0 {
        avail - offset
    } else {
        limit.min(avail - offset)
    } as usize;
    let offset = offset as usize;
    if rev {
        (b - offset - take, b - offset)
    } else {
        (a + offset, a + offset + take)
    }
}

fn zrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Auto, None)
}

fn zrangestore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 2, Some(argv[1]), RangeType::Auto, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, argv, 1, None, RangeType::Lex, Some(true))
}

// ---------------------------------------------------------------- ZREMRANGEBY*

fn zremrange(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    event: &'static str,
    window: impl FnOnce(&ZSetValue) -> (usize, usize),
) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = write(db, key, now, |z| {
        let (a, b) = window(z);
        z.remove_range(a, b)
    })?;
    if n.unwrap_or(0) > 0 {
        db.notify(class::ZSET, event, key);
        db.notify_del_if_gone(key);
    }
    out.int(n.unwrap_or(0) as i64);
    Ok(Outcome::Done)
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = score_range(argv[2], argv[3])?;
    zremrange(ctx, argv[1], "zremrangebyscore", |z| z.score_range(&r))
}

fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let r = lex_range(argv[2], argv[3])?;
    zremrange(ctx, argv[1], "zremrangebylex", |z| z.lex_range(&r))
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (start, end) = (args::int(argv[2])?, args::int(argv[3])?);
    zremrange(ctx, argv[1], "zremrangebyrank", |z| {
        let len = z.len() as i64;
        let mut start = if start < 0 { start + len } else { start };
        let end = if end < 0 { end + len } else { end };
        start = start.max(0);
        if start > end || start >= len {
            (0, 0)
        } else {
            (start as usize, end.min(len - 1) as usize + 1)
        }
    })
}

// ---------------------------------------------------------------- pops

/// Members popped with their scores, in pop order.
pub type Popped = Vec<(Vec<u8>, f64)>;

/// Pops up to `count` members from the low end (or the high end with
/// `max`) of the sorted set at `key`, deleting the key when it empties.
/// `Ok(None)` when the key is missing. Shared with the blocking pops.
pub fn pop_for_client(
    db: &mut Db,
    key: &[u8],
    now: i64,
    max: bool,
    count: usize,
) -> Result<Option<Popped>, WrongType> {
    let r = db
        .with_object(key, now, None, |o| match o {
            Object::ZSet(z) => Ok(z.pop(max, count)),
            _ => Err(WrongType),
        })?
        .transpose()?;
    if r.as_ref().is_some_and(|p| !p.is_empty()) {
        db.notify(class::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        db.notify_del_if_gone(key);
    }
    Ok(r)
}

fn zpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zpop(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    zpop(ctx, argv, true)
}

fn positive(arg: &[u8]) -> Result<usize, Error> {
    match crate::protocol::parse::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(errors::MUST_BE_POSITIVE),
    }
}

fn zpop(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let count = argv.get(2).map(|a| positive(a)).transpose()?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let popped = pop_for_client(db, argv[1], now, max, count.unwrap_or(1))?.unwrap_or_default();
    // RESP3 nests [member, score] pairs only when COUNT was given.
    let nested = out.is_resp3() && count.is_some();
    if nested {
        out.array(popped.len());
    } else {
        out.array(popped.len() * 2);
    }
    for (m, s) in &popped {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        out.double(*s);
    }
    Ok(Outcome::Done)
}

fn zmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = match crate::protocol::parse::parse_i64(argv[1]) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(errors::NUMKEYS_POSITIVE),
    };
    let where_at = n
        .checked_add(2)
        .filter(|&w| w < argv.len())
        .ok_or(errors::SYNTAX)?;
    let max = if is(argv[where_at], "min") {
        false
    } else if is(argv[where_at], "max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count: Option<usize> = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        if count.is_none() && is(argv[j], "count") && j + 1 < argv.len() {
            match crate::protocol::parse::parse_i64(argv[j + 1]) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => return Err(errors::COUNT_POSITIVE),
            }
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    for key in &argv[2..where_at] {
        if let Some(popped) = pop_for_client(db, key, now, max, count.unwrap_or(1))? {
            out.array(2);
            out.bulk(key);
            out.array(popped.len());
            for (m, s) in &popped {
                out.array(2);
                out.bulk(m);
                out.double(*s);
            }
            return Ok(Outcome::Done);
        }
    }
    out.null_array();
    Ok(Outcome::Done)
}

// ---------------------------------------------------------------- set operations

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

#[inline]
fn aggregate(agg: Aggregate, target: &mut f64, v: f64) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis stores 0 rather than NaN.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v
            }
        }
    }
}

#[inline]
fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Redis's `zunionInterDiffGenericCommand`.
fn set_op(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    dst: Option<&[u8]>,
    numkeys_at: usize,
    op: SetOp,
    card_only: bool,
) -> CmdResult {
    let n = args::int(argv[numkeys_at])?;
    if n < 1 {
        let name = String::from_utf8_lossy(argv[0]).to_lowercase();
        return Err(errors::at_least_one_key(&name));
    }
    if n as u64 > (argv.len() - numkeys_at - 1) as u64 {
        return Err(errors::SYNTAX);
    }
    let n = n as usize;
    let keys = &argv[numkeys_at + 1..numkeys_at + 1 + n];
    let now = ctx.now;
    let t = ctx.srv.hot.thresholds();
    {
        // Types are checked (and expired keys dropped) before the options,
        // as in Redis.
        // Plain sets are accepted too, each member with score 1.
        let db = ctx.db();
        for k in keys {
            match db.object(k, now)? {
                None | Some(Object::ZSet(_)) | Some(Object::Set(_)) => {}
                Some(_) => return Err(errors::WRONGTYPE),
            }
        }
    }
    let mut weights = vec![1.0f64; n];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_at + 1 + n;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != SetOp::Diff && !card_only && remaining > n && is(a, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_score(argv[j + 1 + i]).ok_or(errors::WEIGHT_NOT_FLOAT)?;
            }
            j += 1 + n;
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(a, "aggregate") {
            let v = argv[j + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            limit = match crate::protocol::parse::parse_i64(argv[j + 1]) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err(errors::LIMIT_NEGATIVE),
            };
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let (db, out) = ctx.db_out();
    let empty = ZSetValue::new(&t);
    // Set inputs become sorted sets with every score 1, as in Redis.
    let converted: Vec<Option<ZSetValue>> = keys
        .iter()
        .map(|k| match db.peek(k).map(Entry::value) {
            Some(ValueRef::Obj(Object::Set(set))) => {
                let mut z = ZSetValue::with_hint(&t, set.len(), 0);
                for m in set.iter() {
                    m.with_bytes(|b| z.put(b, 1.0, &t));
                }
                Some(z)
            }
            _ => None,
        })
        .collect();
    let mut srcs: Vec<(&ZSetValue, f64)> = Vec::with_capacity(n);
    for ((k, w), conv) in keys.iter().zip(&weights).zip(&converted) {
        let z = match (conv, db.peek(k).map(Entry::value)) {
            (Some(z), _) => z,
            (None, Some(ValueRef::Obj(o))) => as_zset(o)?,
            (None, Some(_)) => return Err(errors::WRONGTYPE),
            (None, None) => &empty,
        };
        srcs.push((z, *w));
    }
    if op != SetOp::Diff {
        srcs.sort_by_key(|s| s.0.len());
    }
    let mut result: Vec<(&[u8], f64)> = Vec::new();
    match op {
        SetOp::Union => {
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            for (z, w) in &srcs {
                z.for_each(|m, s| {
                    let v = weighted(*w, s);
                    acc.entry(m)
                        .and_modify(|t| aggregate(agg, t, v))
                        .or_insert(v);
                });
            }
            result.extend(acc);
        }
        SetOp::Inter => {
            let (first, w0) = srcs[0];
            let mut count = 0usize;
            first.for_each(|m, s| {
                if card_only && limit > 0 && count >= limit {
                    return;
                }
                let mut score = weighted(w0, s);
                for (z, w) in &srcs[1..] {
                    match z.score(m) {
                        Some(s2) => aggregate(agg, &mut score, weighted(*w, s2)),
                        None => return,
                    }
                }
                count += 1;
                if !card_only {
                    result.push((m, score));
                }
            });
            if card_only {
                out.int(count as i64);
                return Ok(Outcome::Done);
            }
        }
        SetOp::Diff => {
            let first = srcs[0].0;
            first.for_each(|m, s| {
                if srcs[1..].iter().all(|(z, _)| z.score(m).is_none()) {
                    result.push((m, s));
                }
            });
        }
    }
    result.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    match dst {
        Some(d) => {
            let max_len = result.iter().map(|r| r.0.len()).max().unwrap_or(0);
            let mut z = ZSetValue::with_hint(&t, result.len(), max_len);
            for (m, s) in &result {
                z.put(m, *s, &t);
            }
            drop(srcs);
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            let n = store(db, d, z, now, event);
            out.int(n as i64);
        }
        None => {
            pairs_header(out, result.len(), withscores);
            for (m, s) in &result {
                pair(out, m, *s, withscores);
            }
        }
    }
    Ok(Outcome::Done)
}

fn zunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_op(ctx, argv, Some(argv[1]), 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_op(ctx, argv, Some(argv[1]), 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_op(ctx, argv, Some(argv[1]), 2, SetOp::Diff, false)
}

fn zunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_op(ctx, argv, None, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_op(ctx, argv, None, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_op(ctx, argv, None, 1, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    set_op(ctx, argv, None, 1, SetOp::Inter, true)
}

// ---------------------------------------------------------------- random, scan

fn zrandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    if argv.len() < 3 {
        let (db, out) = ctx.db_out();
        match read(db, argv[1], now)? {
            Some(z) if !z.is_empty() => {
                let r = rand::thread_rng().gen_range(0..z.len());
                match z.get(r) {
                    Some((m, _)) => out.bulk(m),
                    None => out.null(),
                }
            }
            _ => out.null(),
        }
        return Ok(Outcome::Done);
    }
    let l = args::int(argv[2])?;
    if l == i64::MIN {
        return Err(errors::RANDOM_COUNT_RANGE);
    }
    if argv.len() > 4 || (argv.len() == 4 && !is(argv[3], "withscores")) {
        return Err(errors::SYNTAX);
    }
    let withscores = argv.len() == 4;
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
        return Err(errors::VALUE_OUT_OF_RANGE);
    }
    let (db, out) = ctx.db_out();
    let Some(z) = read(db, argv[1], now)? else {
        out.array(0);
        return Ok(Outcome::Done);
    };
    let size = z.len();
    let count = l.unsigned_abs() as usize;
    if count == 0 || size == 0 {
        out.array(0);
        return Ok(Outcome::Done);
    }
    let mut rng = rand::thread_rng();
    // A listpack is read by rank in O(n): index it once instead.
    let small: Vec<(&[u8], f64)> = if z.encoding() == "listpack" {
        let mut v = Vec::with_capacity(size);
        z.for_each(|m, s| v.push((m, s)));
        v
    } else {
        Vec::new()
    };
    let at = |r: usize| -> (&[u8], f64) {
        if small.is_empty() {
            z.get(r).unwrap_or((&[][..], 0.0))
        } else {
            small[r]
        }
    };
    if l < 0 || count == 1 {
        pairs_header(out, count, withscores);
        for _ in 0..count {
            let (m, s) = at(rng.gen_range(0..size));
            pair(out, m, s, withscores);
        }
        return Ok(Outcome::Done);
    }
    if count >= size {
        // Redis walks the whole set from the tail here (zuiNext's order).
        pairs_header(out, size, withscores);
        z.for_range(0, size, true, |m, s| pair(out, m, s, withscores));
        return Ok(Outcome::Done);
    }
    // Distinct ranks in random order (partial Fisher-Yates over a sparse
    // permutation, so the cost is O(count), not O(size)).
    let mut swapped: HashMap<usize, usize> = HashMap::with_capacity(count * 2);
    pairs_header(out, count, withscores);
    for i in 0..count {
        let j = rng.gen_range(i..size);
        let vj = *swapped.get(&j).unwrap_or(&j);
        let vi = *swapped.get(&i).unwrap_or(&i);
        swapped.insert(j, vi);
        let (m, s) = at(vj);
        pair(out, m, s, withscores);
    }
    Ok(Outcome::Done)
}

/// A SCAN cursor as `strtoul` reads it in `parseScanCursorOrReply`: the
/// empty string is 0, a sign is allowed (`-1` wraps), overflow is refused.
fn scan_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

fn zscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = scan_cursor(argv[2]).ok_or(errors::CURSOR)?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(z) = read(db, argv[1], now)? else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(Outcome::Done);
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - i >= 2;
        if is(argv[i], "count") && more {
            let c = args::int(argv[i + 1])?;
            if c < 1 {
                return Err(errors::SYNTAX);
            }
            count = c as usize;
        } else if is(argv[i], "match") && more {
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut items: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            items.push((m, s));
        }
    });
    out.array(2);
    out.bulk_int(next as i64);
    out.array(items.len() * 2);
    let mut tmp = [0u8; 40];
    for (m, s) in items {
        out.bulk(m);
        out.bulk(crate::protocol::reply::format_double(s, &mut tmp));
    }
    Ok(Outcome::Done)
}
