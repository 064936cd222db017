//! Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP. One shape for all: try to serve at once; otherwise
//! register a waiter (see `keyspace::blocking`) whose serve function the
//! writer that makes a key ready runs under the DB lock.

use crate::commands::Outcome;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::spec::{flags::*, numkeys_at_2, CommandSpec, Group};
use super::{list, sorted_set, Ctx};
use crate::commands::outcome::Blocked;
use crate::keyspace::blocking::{BlockedOp, ServeFn, Waiter};
use crate::keyspace::Db;
use crate::protocol::{Protocol, ReplyBuf};

const L: Group = Group::List;
const Z: Group = Group::SortedSet;
const B: u32 = WRITE | BLOCKING;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("blpop", -3, B | NOSCRIPT, L, blpop).keys(1, -2, 1).doc(
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "2.0.0",
        "O(N) where N is the number of provided keys.",
    ),
    CommandSpec::new("brpop", -3, B | NOSCRIPT, L, brpop).keys(1, -2, 1).doc(
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "2.0.0",
        "O(N) where N is the number of provided keys.",
    ),
    CommandSpec::new("brpoplpush", 4, B | NOSCRIPT | DENYOOM, L, brpoplpush).keys(1, 2, 1).doc(
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        "2.2.0",
        "O(1)",
    ),
    CommandSpec::new("blmove", 6, B | NOSCRIPT | DENYOOM, L, blmove).keys(1, 2, 1).doc(
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        "6.2.0",
        "O(1)",
    ),
    CommandSpec::new("blmpop", -5, B, L, blmpop).find_keys(numkeys_at_2).doc(
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
    ),
    CommandSpec::new("bzpopmin", -3, B | NOSCRIPT | FAST, Z, bzpopmin).keys(1, -2, 1).doc(
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandSpec::new("bzpopmax", -3, B | NOSCRIPT | FAST, Z, bzpopmax).keys(1, -2, 1).doc(
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
    ),
    CommandSpec::new("bzmpop", -5, B, Z, bzmpop).find_keys(numkeys_at_2).doc(
        "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
    ),
];

/// Redis's `getTimeoutFromObjectOrReply` in seconds: `None` = forever.
/// Like Redis 7.0 on x86-64, a value whose milliseconds do not fit an i64
/// (inf, 1e300) converts to LLONG_MIN and is reported as negative.
fn timeout(arg: &[u8]) -> Result<Option<Duration>, Error> {
    let secs =
        args::parse_f64(arg).ok_or(Error::lit("ERR timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if !(ms >= 0.0 && ms < i64::MAX as f64) {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

fn encode(proto: Protocol, f: impl FnOnce(&mut ReplyBuf)) -> Vec<u8> {
    let mut r = ReplyBuf {
        buf: Vec::new(),
        proto,
    };
    f(&mut r);
    r.buf
}

fn null_array(proto: Protocol) -> Vec<u8> {
    encode(proto, ReplyBuf::null_array)
}

fn null_bulk(proto: Protocol) -> Vec<u8> {
    encode(proto, ReplyBuf::null)
}

fn side_word(left: bool) -> &'static [u8] {
    if left {
        b"LEFT"
    } else {
        b"RIGHT"
    }
}

/// Serves `op` from `key` if it can; the reply is encoded for `proto`.
/// What it did goes to the DB's effects as the non-blocking command Redis
/// propagates (LPOP, LMOVE, ZPOPMIN …), whether it served at once or a
/// client that had been waiting.
fn serve(db: &mut Db, op: &BlockedOp, proto: Protocol, key: &[u8], now: i64) -> Option<Vec<u8>> {
    match op {
        BlockedOp::ListPop { left, count } => {
            let vals = list::pop_for_client(db, key, now, *left, *count).ok()??;
            db.propagate(|| {
                let name: &[u8] = if *left { b"LPOP" } else { b"RPOP" };
                match count {
                    None => crate::argv!(name, key),
                    Some(_) => crate::argv!(name, key, vals.len()),
                }
            });
            Some(encode(proto, |r| {
                r.array(2);
                r.bulk(key);
                match count {
                    None => r.bulk(&vals[0]),
                    Some(_) => {
                        r.array(vals.len());
                        for v in &vals {
                            r.bulk(v);
                        }
                    }
                }
            }))
        }
        BlockedOp::ListMove {
            dst,
            from_left,
            to_left,
            thresholds,
        } => {
            let v = list::move_for_client(db, key, dst, now, *from_left, *to_left, thresholds)
                .ok()??;
            db.propagate(|| {
                crate::argv!(
                    b"LMOVE",
                    key,
                    dst,
                    side_word(*from_left),
                    side_word(*to_left)
                )
            });
            Some(encode(proto, |r| r.bulk(&v)))
        }
        BlockedOp::XRead { .. } | BlockedOp::XReadGroup { .. } => None,
        BlockedOp::ZPop { max, count, multi } => {
            let vals = sorted_set::pop_for_client(db, key, now, *max, *count).ok()??;
            if vals.is_empty() {
                return None;
            }
            db.propagate(|| {
                let name: &[u8] = if *max { b"ZPOPMAX" } else { b"ZPOPMIN" };
                if *multi {
                    crate::argv!(name, key, vals.len())
                } else {
                    crate::argv!(name, key)
                }
            });
            Some(encode(proto, |r| {
                if *multi {
                    r.array(2);
                    r.bulk(key);
                    r.array(vals.len());
                    for (m, s) in &vals {
                        r.array(2);
                        r.bulk(m);
                        r.double(*s);
                    }
                } else {
                    let (m, s) = &vals[0];
                    r.array(3);
                    r.bulk(key);
                    r.bulk(m);
                    r.double(*s);
                }
            }))
        }
    }
}

/// The shared tail of every blocking command: serve now from the first
/// ready key, or block (or answer `timeout_reply` at once inside MULTI).
fn block_or_serve(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    op: BlockedOp,
    wait: Option<Duration>,
    timeout_reply: Vec<u8>,
) -> CmdResult {
    let now = ctx.now;
    let proto = ctx.out.proto;
    let db = ctx.db();
    for key in keys {
        // WRONGTYPE must surface before blocking, as in Redis.
        if let Some(e) = db.peek(key) {
            if !is_expected_type(e, &op) {
                if db.exists(key, now) {
                    return Err(errors::WRONGTYPE);
                }
                continue;
            }
        }
        if let Some(reply) = serve(db, &op, proto, key, now) {
            ctx.out.raw(&reply);
            // The pop is in the DB's effects already (see `serve`).
            if ctx.propagating() {
                ctx.propagate_as(Vec::new());
            }
            return Ok(Outcome::Done);
        }
    }
    if !ctx.client.may_block() {
        ctx.out.raw(&timeout_reply);
        return Ok(Outcome::Done);
    }
    Ok(register(ctx, keys, op, serve, wait, timeout_reply))
}

/// Parks the client on `keys` (see `keyspace::blocking`): `serve` runs in
/// the writer's context when one of them becomes ready; `timeout_reply`
/// answers when `wait` runs out (`None` waits forever). Returns the
/// [`Outcome::Block`] the handler hands its connection.
pub fn register(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    op: BlockedOp,
    serve: ServeFn,
    wait: Option<Duration>,
    timeout_reply: Vec<u8>,
) -> Outcome {
    let client_id = ctx.client.id;
    let tx = ctx.client.push_tx.clone();
    let db_index = ctx.client.db;
    let proto = ctx.out.proto;
    ctx.db().blocking.add(Waiter {
        id: client_id,
        client_id,
        keys: keys.iter().map(|k| k.to_vec()).collect(),
        op,
        proto,
        serve,
        tx,
        timeout_reply: timeout_reply.clone(),
    });
    ctx.client
        .info
        .blocked_db
        .store(db_index as i64, Ordering::Relaxed);
    Outcome::Block(Box::new(Blocked {
        db: db_index,
        timeout: wait,
        timeout_reply,
    }))
}

fn is_expected_type(e: &crate::keyspace::Entry, op: &BlockedOp) -> bool {
    use crate::keyspace::value::Object;
    use crate::keyspace::ValueRef;
    matches!(
        (e.value(), op),
        (
            ValueRef::Obj(Object::List(_)),
            BlockedOp::ListPop { .. } | BlockedOp::ListMove { .. }
        ) | (ValueRef::Obj(Object::ZSet(_)), BlockedOp::ZPop { .. })
    )
}

fn bpop(ctx: &mut Ctx<'_>, argv: &[&[u8]], left: bool) -> CmdResult {
    let wait = timeout(argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    let reply = null_array(ctx.out.proto);
    block_or_serve(
        ctx,
        keys,
        BlockedOp::ListPop { left, count: None },
        wait,
        reply,
    )
}

fn blpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop(ctx, argv, true)
}

fn brpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bpop(ctx, argv, false)
}

fn side(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

fn bmove(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
    t: &[u8],
) -> CmdResult {
    let wait = timeout(t)?;
    let reply = null_bulk(ctx.out.proto);
    let thresholds = ctx.srv.hot.thresholds();
    let op = BlockedOp::ListMove {
        dst: dst.to_vec(),
        from_left,
        to_left,
        thresholds,
    };
    block_or_serve(ctx, &[src], op, wait, reply)
}

fn blmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (from, to) = (side(argv[3])?, side(argv[4])?);
    bmove(ctx, argv[1], argv[2], from, to, argv[5])
}

fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bmove(ctx, argv[1], argv[2], false, true, argv[3])
}

/// BLMPOP/BZMPOP arguments: (wait, keys, LEFT|RIGHT|MIN|MAX, count).
type MpopArgs<'a> = (Option<Duration>, &'a [&'a [u8]], &'a [u8], usize);

/// Parses `timeout numkeys key... WHERE [COUNT n]`.
fn mpop_args<'a>(argv: &'a [&'a [u8]]) -> Result<MpopArgs<'a>, Error> {
    let wait = timeout(argv[1])?;
    let n = match crate::protocol::parse::parse_i64(argv[2]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(errors::NUMKEYS_POSITIVE),
    };
    if 3 + n >= argv.len() {
        return Err(errors::SYNTAX);
    }
    let keys = &argv[3..3 + n];
    let which = argv[3 + n];
    let mut count = 1;
    let rest = &argv[4 + n..];
    match rest {
        [] => {}
        [c, v] if is(c, "count") => match crate::protocol::parse::parse_i64(v) {
            Some(k) if k > 0 => count = k as usize,
            _ => return Err(errors::COUNT_POSITIVE),
        },
        _ => return Err(errors::SYNTAX),
    }
    Ok((wait, keys, which, count))
}

fn blmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    // As Redis's blmpopCommand: the timeout, then LMPOP's own parsing.
    let wait = timeout(argv[1])?;
    let a = list::parse_mpop(argv, 2)?;
    let keys = &argv[a.first_key..a.first_key + a.numkeys];
    let (left, count) = (a.left, a.count);
    let reply = null_array(ctx.out.proto);
    block_or_serve(
        ctx,
        keys,
        BlockedOp::ListPop {
            left,
            count: Some(count),
        },
        wait,
        reply,
    )
}

fn bzpop(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> CmdResult {
    let wait = timeout(argv[argv.len() - 1])?;
    let keys = &argv[1..argv.len() - 1];
    let reply = null_array(ctx.out.proto);
    block_or_serve(
        ctx,
        keys,
        BlockedOp::ZPop {
            max,
            count: 1,
            multi: false,
        },
        wait,
        reply,
    )
}

fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bzpop(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bzpop(ctx, argv, true)
}

fn bzmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (wait, keys, which, count) = mpop_args(argv)?;
    let max = if is(which, "min") {
        false
    } else if is(which, "max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let reply = null_array(ctx.out.proto);
    block_or_serve(
        ctx,
        keys,
        BlockedOp::ZPop {
            max,
            count,
            multi: true,
        },
        wait,
        reply,
    )
}
