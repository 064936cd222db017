//! Hash group: HSET … HRANDFIELD over [`HashValue`].

use crate::commands::Outcome;
use rand::Rng;

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::glob::glob_match;
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;
use crate::keyspace::notify::class;
use crate::keyspace::types::hash::HashValue;
use crate::keyspace::value::{Object, Thresholds};
use crate::protocol::parse::parse_i64;
use crate::protocol::ReplyBuf;

const G: Group = Group::Hash;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, G, hset).keys(1, 1, 1).doc("Set the string value of a hash field", "2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, G, hsetnx).keys(1, 1, 1).doc("Set the value of a hash field, only if the field does not exist", "2.0.0", "O(1)"),
    CommandSpec::new("hget", 3, READONLY | FAST, G, hget).keys(1, 1, 1).doc("Get the value of a hash field", "2.0.0", "O(1)"),
    CommandSpec::new("hmget", -3, READONLY | FAST, G, hmget).keys(1, 1, 1).doc("Get the values of all the given hash fields", "2.0.0", "O(N) where N is the number of fields being requested."),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, G, hset).keys(1, 1, 1).doc("Set multiple hash fields to multiple values", "2.0.0", "O(N) where N is the number of fields being set."),
    CommandSpec::new("hdel", -3, WRITE | FAST, G, hdel).keys(1, 1, 1).doc("Delete one or more hash fields", "2.0.0", "O(N) where N is the number of fields to be removed."),
    CommandSpec::new("hexists", 3, READONLY | FAST, G, hexists).keys(1, 1, 1).doc("Determine if a hash field exists", "2.0.0", "O(1)"),
    CommandSpec::new("hlen", 2, READONLY | FAST, G, hlen).keys(1, 1, 1).doc("Get the number of fields in a hash", "2.0.0", "O(1)"),
    CommandSpec::new("hkeys", 2, READONLY, G, hkeys).keys(1, 1, 1).doc("Get all the fields in a hash", "2.0.0", "O(N) where N is the size of the hash."),
    CommandSpec::new("hvals", 2, READONLY, G, hvals).keys(1, 1, 1).doc("Get all the values in a hash", "2.0.0", "O(N) where N is the size of the hash."),
    CommandSpec::new("hgetall", 2, READONLY, G, hgetall).keys(1, 1, 1).doc("Get all the fields and values in a hash", "2.0.0", "O(N) where N is the size of the hash."),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, G, hincrby).keys(1, 1, 1).doc("Increment the integer value of a hash field by the given number", "2.0.0", "O(1)"),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, G, hincrbyfloat).keys(1, 1, 1).doc("Increment the float value of a hash field by the given amount", "2.6.0", "O(1)"),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, G, hstrlen).keys(1, 1, 1).doc("Get the length of the value of a hash field", "3.2.0", "O(1)"),
    CommandSpec::new("hscan", -3, READONLY, G, hscan).keys(1, 1, 1).doc("Incrementally iterate hash fields and associated values", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
    CommandSpec::new("hrandfield", -2, READONLY, G, hrandfield).keys(1, 1, 1).doc("Get one or multiple random fields from a hash", "6.2.0", "O(N) where N is the number of fields returned"),
];

const HASH_NOT_INT: Error = Error::lit("ERR hash value is not an integer");
const HASH_NOT_FLOAT: Error = Error::lit("ERR hash value is not a float");
const NAN_OR_INF: Error = Error::lit("ERR value is NaN or Infinity");
const OUT_OF_RANGE: Error = Error::lit("ERR value is out of range");

/// Runs `f` on the hash at `key` (created when `create`); `Ok(None)` when
/// the key is missing and not created.
fn with_hash<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut HashValue, &Thresholds) -> Result<R, Error>,
) -> Result<Option<R>, Error> {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let make = || Object::Hash(HashValue::new(&t));
    let create: Option<&dyn Fn() -> Object> = if create { Some(&make) } else { None };
    match ctx.db().with_object(key, now, create, |o| match o {
        Object::Hash(h) => {
            let r = f(h, &t);
            h.compact();
            r
        }
        _ => Err(errors::WRONGTYPE),
    })? {
        None => Ok(None),
        Some(r) => r.map(Some),
    }
}

/// Runs `f` with the hash at `key` (or `None`) and the reply buffer.
fn read_hash(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&HashValue>, &mut ReplyBuf),
) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.object(key, now)? {
        None => f(None, out),
        Some(Object::Hash(h)) => f(Some(h), out),
        Some(_) => return Err(errors::WRONGTYPE),
    }
    Ok(Outcome::Done)
}

fn hset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() % 2 != 0 {
        let name = String::from_utf8_lossy(argv[0]).to_ascii_lowercase();
        return Err(Error::from(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let added = with_hash(ctx, argv[1], true, |h, t| {
        let mut added = 0;
        for pair in argv[2..].chunks_exact(2) {
            added += h.set(pair[0], pair[1], t) as i64;
        }
        Ok(added)
    })?
    .unwrap_or(0);
    ctx.db().notify(class::HASH, "hset", argv[1]);
    // HMSET is the deprecated spelling that answers OK.
    if argv[0].len() == 5 {
        ctx.out.ok();
    } else {
        ctx.out.int(added);
    }
    Ok(Outcome::Done)
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let set = with_hash(ctx, argv[1], true, |h, t| {
        Ok(!h.contains(argv[2]) && h.set(argv[2], argv[3], t))
    })?
    .unwrap_or(false);
    if set {
        ctx.db().notify(class::HASH, "hset", argv[1]);
    }
    ctx.out.int(set as i64);
    Ok(Outcome::Done)
}

fn hget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        match h.and_then(|h| h.get(argv[2])) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    })
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        out.array(argv.len() - 2);
        for f in &argv[2..] {
            match h.and_then(|h| h.get(f)) {
                Some(v) => out.bulk(v),
                None => out.null(),
            }
        }
    })
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = with_hash(ctx, argv[1], false, |h, _| {
        Ok(argv[2..].iter().filter(|f| h.remove(f)).count() as i64)
    })?
    .unwrap_or(0);
    if n > 0 {
        let db = ctx.db();
        db.notify(class::HASH, "hdel", argv[1]);
        db.notify_del_if_gone(argv[1]);
    }
    ctx.out.int(n);
    Ok(Outcome::Done)
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        out.int(h.is_some_and(|h| h.contains(argv[2])) as i64)
    })
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        out.int(h.map_or(0, HashValue::len) as i64)
    })
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        out.int(h.and_then(|h| h.get(argv[2])).map_or(0, <[u8]>::len) as i64)
    })
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        out.array(h.map_or(0, HashValue::len));
        for (f, _) in h.into_iter().flat_map(HashValue::iter) {
            out.bulk(f);
        }
    })
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        out.array(h.map_or(0, HashValue::len));
        for (_, v) in h.into_iter().flat_map(HashValue::iter) {
            out.bulk(v);
        }
    })
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    read_hash(ctx, argv[1], |h, out| {
        out.map(h.map_or(0, HashValue::len));
        for (f, v) in h.into_iter().flat_map(HashValue::iter) {
            out.bulk(f);
            out.bulk(v);
        }
    })
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let incr = args::int(argv[3])?;
    let n = with_hash(ctx, argv[1], true, |h, t| {
        let cur = match h.get(argv[2]) {
            None => 0,
            Some(v) => parse_i64(v).ok_or(HASH_NOT_INT)?,
        };
        let n = cur.checked_add(incr).ok_or(errors::OVERFLOW)?;
        let mut buf = itoa::Buffer::new();
        h.set(argv[2], buf.format(n).as_bytes(), t);
        Ok(n)
    })?
    .unwrap_or(0);
    ctx.db().notify(class::HASH, "hincrby", argv[1]);
    ctx.out.int(n);
    Ok(Outcome::Done)
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // The sum in Redis's long double, exact to the last digit (shared
    // with INCRBYFLOAT); `strtold` accepts hex and denormals too.
    let incr = super::string::ldouble::parse(argv[3]).ok_or(errors::NOT_FLOAT)?;
    if incr == super::string::ldouble::Num::Inf {
        return Err(NAN_OR_INF);
    }
    let s = with_hash(ctx, argv[1], true, |h, t| {
        let cur = match h.get(argv[2]) {
            None => super::string::ldouble::Num::ZERO,
            Some(v) => super::string::ldouble::parse(v).ok_or(HASH_NOT_FLOAT)?,
        };
        let n = super::string::ldouble::add(cur, incr).ok_or(errors::INCR_NAN_INF)?;
        let s = super::string::ldouble::format(n);
        h.set(argv[2], s.as_bytes(), t);
        Ok(s)
    })?
    .unwrap_or_default();
    ctx.db().notify(class::HASH, "hincrbyfloat", argv[1]);
    ctx.out.bulk(s.as_bytes());
    // As INCRBYFLOAT: log the formatted result, not the arithmetic.
    if ctx.propagating() {
        ctx.propagate_as(vec![crate::argv!(b"HSET", argv[1], argv[2], s.as_bytes())]);
    }
    Ok(Outcome::Done)
}

fn hscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cursor = std::str::from_utf8(argv[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(errors::CURSOR)?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < argv.len() {
        if is(argv[i], "count") && i + 1 < argv.len() {
            let n = args::int(argv[i + 1])?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            count = n as usize;
            i += 2;
        } else if is(argv[i], "match") && i + 1 < argv.len() {
            pattern = Some(argv[i + 1]).filter(|p| *p != b"*");
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    read_hash(ctx, argv[1], |h, out| {
        let Some(h) = h else {
            out.array(2);
            out.bulk(b"0");
            out.array(0);
            return;
        };
        let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
        let next = h.scan(cursor, count, |f, v| {
            if pattern.is_none_or(|p| glob_match(p, f, false)) {
                pairs.push((f, v));
            }
        });
        out.array(2);
        let mut buf = itoa::Buffer::new();
        out.bulk(buf.format(next).as_bytes());
        out.array(pairs.len() * 2);
        for (f, v) in pairs {
            out.bulk(f);
            out.bulk(v);
        }
    })
}

fn hrandfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() == 2 {
        return read_hash(ctx, argv[1], |h, out| {
            match h.filter(|h| !h.is_empty()).and_then(|h| {
                let k = rand::thread_rng().gen_range(0..h.len());
                h.iter().nth(k)
            }) {
                Some((f, _)) => out.bulk(f),
                None => out.null(),
            }
        });
    }
    let count = args::int(argv[2])?;
    if count == i64::MIN {
        return Err(errors::RANDOM_COUNT_RANGE);
    }
    let with_values = match argv.len() {
        3 => false,
        4 if is(argv[3], "withvalues") => true,
        _ => return Err(errors::SYNTAX),
    };
    if with_values && count < -(i64::MAX / 2) {
        return Err(OUT_OF_RANGE);
    }
    read_hash(ctx, argv[1], |h, out| {
        let h = match h {
            Some(h) if count != 0 => h,
            _ => {
                out.array(0);
                return;
            }
        };
        let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
        let mut rng = rand::thread_rng();
        let picks: Vec<usize> = if count < 0 {
            (0..count.unsigned_abs())
                .map(|_| rng.gen_range(0..pairs.len()))
                .collect()
        } else if count as usize >= pairs.len() {
            (0..pairs.len()).collect()
        } else {
            rand::seq::index::sample(&mut rng, pairs.len(), count as usize).into_vec()
        };
        let pair_shape = with_values && out.is_resp3();
        if with_values && !pair_shape {
            out.array(picks.len() * 2);
        } else {
            out.array(picks.len());
        }
        for i in picks {
            let (f, v) = pairs[i];
            if pair_shape {
                out.array(2);
            }
            out.bulk(f);
            if with_values {
                out.bulk(v);
            }
        }
    })
}
