//! List group (the non-blocking commands), plus the pop/move primitives the
//! blocking layer calls while it holds the DB lock.

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::spec::numkeys_at_1;
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;
use crate::commands::Outcome;
use crate::keyspace::db::WrongType;
use crate::keyspace::entry::canonical_int;
use crate::keyspace::notify::class;
use crate::keyspace::types::list::{Elem, ListValue};
use crate::keyspace::value::{Object, Thresholds};
use crate::keyspace::{Db, ValueRef};
use crate::protocol::parse::parse_i64;
use crate::protocol::ReplyBuf;

const G: Group = Group::List;

const INDEX_OUT_OF_RANGE: Error = Error::lit("ERR index out of range");
const RANK_ZERO: Error = Error::lit("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, G, lpush).keys(1, 1, 1).doc(
        "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
    ),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, G, rpush).keys(1, 1, 1).doc(
        "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
    ),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, G, lpushx).keys(1, 1, 1).doc(
        "Prepends one or more elements to a list only when the list exists.",
        "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
    ),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, G, rpushx).keys(1, 1, 1).doc(
        "Appends an element to a list only when the list exists.",
        "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
    ),
    CommandSpec::new("lpop", -2, WRITE | FAST, G, lpop).keys(1, 1, 1).doc(
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        "1.0.0",
        "O(N) where N is the number of elements returned",
    ),
    CommandSpec::new("rpop", -2, WRITE | FAST, G, rpop).keys(1, 1, 1).doc(
        "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        "1.0.0",
        "O(N) where N is the number of elements returned",
    ),
    CommandSpec::new("llen", 2, READONLY | FAST, G, llen).keys(1, 1, 1).doc(
        "Returns the length of a list.",
        "1.0.0",
        "O(1)",
    ),
    CommandSpec::new("lrange", 4, READONLY, G, lrange).keys(1, 1, 1).doc(
        "Returns a range of elements from a list.",
        "1.0.0",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
    ),
    CommandSpec::new("lindex", 3, READONLY, G, lindex).keys(1, 1, 1).doc(
        "Returns an element from a list by its index.",
        "1.0.0",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
    ),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, G, lset).keys(1, 1, 1).doc(
        "Sets the value of an element in a list by its index.",
        "1.0.0",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
    ),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, G, linsert).keys(1, 1, 1).doc(
        "Inserts an element before or after another element in a list.",
        "2.2.0",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
    ),
    CommandSpec::new("lrem", 4, WRITE, G, lrem).keys(1, 1, 1).doc(
        "Removes elements from a list. Deletes the list if the last element was removed.",
        "1.0.0",
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
    ),
    CommandSpec::new("ltrim", 4, WRITE, G, ltrim).keys(1, 1, 1).doc(
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        "1.0.0",
        "O(N) where N is the number of elements to be removed by the operation.",
    ),
    CommandSpec::new("lpos", -3, READONLY, G, lpos).keys(1, 1, 1).doc(
        "Returns the index of matching elements in a list.",
        "6.0.6",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
    ),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, G, lmove).keys(1, 2, 1).doc(
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        "6.2.0",
        "O(1)",
    ),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, G, rpoplpush).keys(1, 2, 1).doc(
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        "1.2.0",
        "O(1)",
    ),
    CommandSpec::new("lmpop", -4, WRITE, G, lmpop).find_keys(numkeys_at_1).doc(
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
    ),
];

/// Runs `f` on the list at `key` (creating it when `create` is given).
/// `Ok(None)` when the key is missing and not created.
fn with_list<R>(
    db: &mut Db,
    key: &[u8],
    now: i64,
    create: Option<&Thresholds>,
    f: impl FnOnce(&mut ListValue) -> R,
) -> Result<Option<R>, WrongType> {
    let t = create.copied();
    let make = move || Object::List(ListValue::new(&t.unwrap_or_default()));
    let create: Option<&dyn Fn() -> Object> = if t.is_some() { Some(&make) } else { None };
    let r = db.with_object(key, now, create, |o| match o {
        Object::List(l) => Ok(f(l)),
        _ => Err(WrongType),
    })?;
    r.transpose()
}

/// The list at `key` for reading.
fn read_list<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a ListValue>, Error> {
    match db.object(key, now)? {
        None => Ok(None),
        Some(Object::List(l)) => Ok(Some(l)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// Whether `key` holds something other than a list (no stats, as Redis's
/// `lookupKeyWrite`).
fn holds_non_list(db: &mut Db, key: &[u8], now: i64) -> Option<bool> {
    db.get(key, now)
        .map(|e| !matches!(e.value(), ValueRef::Obj(Object::List(_))))
}

/// `left`/`right` (LMOVE, LMPOP).
fn side(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

/// A count that must be positive, with the command's own error text for
/// both a non-integer and an out-of-range value (as Redis's
/// `getRangeLongFromObjectOrReply` with a message does).
fn ranged(arg: &[u8], min: i64, err: Error) -> Result<i64, Error> {
    match parse_i64(arg) {
        Some(n) if n >= min => Ok(n),
        _ => Err(err),
    }
}

/// Writes a stored element as a bulk string.
#[inline]
fn bulk_elem(out: &mut ReplyBuf, e: Elem<'_>) {
    match e {
        Elem::Str(s) => out.bulk(s),
        Elem::Int(i) => out.bulk_int(i),
    }
}

// ---- primitives for the blocking layer -------------------------------

/// Pops one element (`count` None) or up to `count` from the head
/// (`left`) or tail of the list at `key`. `Ok(None)` when the key is
/// missing; the key is deleted when emptied.
pub fn pop_for_client(
    db: &mut Db,
    key: &[u8],
    now: i64,
    left: bool,
    count: Option<usize>,
) -> Result<Option<Vec<Vec<u8>>>, WrongType> {
    let r = with_list(db, key, now, None, |l| {
        let n = count.unwrap_or(1).min(l.len());
        let v: Vec<Vec<u8>> = (0..n).filter_map(|_| l.pop(left)).collect();
        l.after_remove();
        v
    })?;
    if r.as_ref().is_some_and(|v| !v.is_empty()) {
        notify_popped(db, key, left);
    }
    Ok(r)
}

/// Redis's events after a pop: `lpop`/`rpop`, then `del` if it emptied
/// the list.
fn notify_popped(db: &mut Db, key: &[u8], left: bool) {
    db.notify(class::LIST, if left { "lpop" } else { "rpop" }, key);
    db.notify_del_if_gone(key);
}

fn push_event(left: bool) -> &'static str {
    if left {
        "lpush"
    } else {
        "rpush"
    }
}

/// Pops from `src` (head when `from_left`) and pushes to `dst` (head when
/// `to_left`); returns the element, `Ok(None)` when `src` is missing.
/// WRONGTYPE on either key leaves both untouched.
pub fn move_for_client(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    now: i64,
    from_left: bool,
    to_left: bool,
    t: &Thresholds,
) -> Result<Option<Vec<u8>>, Error> {
    match holds_non_list(db, src, now) {
        None => return Ok(None),
        Some(true) => return Err(errors::WRONGTYPE),
        Some(false) => {}
    }
    if src == dst {
        // One object: rotating in place keeps the key (and its TTL) alive
        // even when it holds a single element.
        let v = with_list(db, src, now, None, |l| {
            let v = l.pop(from_left);
            if let Some(v) = &v {
                l.prepare_add(t, v.len(), 1);
                l.push(v, to_left);
                l.after_remove();
            }
            v
        })?
        .flatten();
        if v.is_some() {
            db.signal_ready(dst);
            db.notify(class::LIST, push_event(to_left), dst);
            notify_popped(db, src, from_left);
        }
        return Ok(v);
    }
    if holds_non_list(db, dst, now) == Some(true) {
        return Err(errors::WRONGTYPE);
    }
    let Some(v) = with_list(db, src, now, None, |l| {
        let v = l.pop(from_left);
        l.after_remove();
        v
    })?
    .flatten() else {
        return Ok(None);
    };
    with_list(db, dst, now, Some(t), |l| {
        l.prepare_add(t, v.len(), 1);
        l.push(&v, to_left);
    })?;
    db.signal_ready(dst);
    // Redis pushes, then announces the pop and the emptied source.
    db.notify(class::LIST, push_event(to_left), dst);
    notify_popped(db, src, from_left);
    Ok(Some(v))
}

// ---- handlers ----------------------------------------------------------

fn push_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], left: bool, only_existing: bool) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let key = argv[1];
    let vals = &argv[2..];
    let add_bytes: usize = vals.iter().map(|v| v.len()).sum();
    let (db, out) = ctx.db_out();
    let create = if only_existing { None } else { Some(&t) };
    let n = with_list(db, key, now, create, |l| {
        l.prepare_add(&t, add_bytes, vals.len());
        for v in vals {
            l.push(v, left);
        }
        l.len()
    })?;
    match n {
        Some(n) => {
            db.signal_ready(key);
            db.notify(class::LIST, push_event(left), key);
            out.int(n as i64);
        }
        None => out.int(0),
    }
    Ok(Outcome::Done)
}

fn lpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    push_generic(ctx, argv, false, true)
}

/// Pops up to `count` elements into `out` as an array (or one as a bulk
/// string when `count` is None). `Ok(false)` when the key is missing.
fn pop_into(
    db: &mut Db,
    out: &mut ReplyBuf,
    key: &[u8],
    now: i64,
    left: bool,
    count: Option<usize>,
) -> Result<bool, WrongType> {
    let r = with_list(db, key, now, None, |l| {
        let n = match count {
            // The queue hot path: the element goes straight from the node
            // into the reply.
            None => {
                l.pop_with(left, |v| bulk_elem(out, v));
                1
            }
            Some(c) => {
                let n = c.min(l.len());
                out.array(n);
                for _ in 0..n {
                    l.pop_with(left, |v| bulk_elem(out, v));
                }
                n
            }
        };
        l.after_remove();
        n
    })?;
    if r.is_some_and(|n| n > 0) {
        notify_popped(db, key, left);
    }
    Ok(r.is_some())
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], left: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::wrong_arity(if left { "lpop" } else { "rpop" }));
    }
    let count = match argv.get(2) {
        Some(a) => Some(ranged(a, 0, errors::MUST_BE_POSITIVE)? as usize),
        None => None,
    };
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    if !pop_into(db, out, argv[1], now, left, count)? {
        if count.is_some() {
            out.null_array();
        } else {
            out.null();
        }
    }
    Ok(Outcome::Done)
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, true)
}

fn rpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, argv, false)
}

fn llen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = read_list(db, argv[1], now)?.map_or(0, ListValue::len);
    out.int(n as i64);
    Ok(Outcome::Done)
}

fn lrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let end = args::int(argv[3])?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(l) = read_list(db, argv[1], now)? else {
        out.array(0);
        return Ok(Outcome::Done);
    };
    let len = l.len() as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end.min(len - 1) };
    if start > end || start >= len {
        out.array(0);
        return Ok(Outcome::Done);
    }
    let n = (end - start + 1) as usize;
    out.array(n);
    for v in l.iter_from(start as usize, false).take(n) {
        bulk_elem(out, v);
    }
    Ok(Outcome::Done)
}

fn lindex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(l) = read_list(db, argv[1], now)? else {
        out.null();
        return Ok(Outcome::Done);
    };
    let i = args::int(argv[2])?;
    match l.index(i).and_then(|i| l.get(i)) {
        Some(v) => bulk_elem(out, v),
        None => out.null(),
    }
    Ok(Outcome::Done)
}

fn lset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let v = argv[3];
    let r: Option<Result<(), Error>> = with_list(db, argv[1], now, None, |l| {
        let i = args::int(argv[2])?;
        // Redis converts for the new value's size before looking at the index.
        l.prepare_add(&t, v.len(), 1);
        let i = l.index(i).ok_or(INDEX_OUT_OF_RANGE)?;
        l.set(i, v);
        l.after_remove();
        Ok(())
    })?;
    r.ok_or(errors::NO_SUCH_KEY)??;
    db.notify(class::LIST, "lset", argv[1]);
    out.ok();
    Ok(Outcome::Done)
}

fn linsert(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let after = if is(argv[2], "after") {
        true
    } else if is(argv[2], "before") {
        false
    } else {
        return Err(errors::SYNTAX);
    };
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (key, pivot, v) = (argv[1], argv[3], argv[4]);
    let (db, out) = ctx.db_out();
    let r = with_list(db, key, now, None, |l| {
        l.prepare_add(&t, v.len(), 1);
        l.insert_pivot(pivot, v, after).then(|| l.len())
    })?;
    match r {
        None => out.int(0),
        Some(None) => out.int(-1),
        Some(Some(n)) => {
            db.signal_ready(key);
            db.notify(class::LIST, "linsert", key);
            out.int(n as i64);
        }
    }
    Ok(Outcome::Done)
}

fn lrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let count = args::int(argv[2])?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = with_list(db, argv[1], now, None, |l| {
        let n = l.remove_value(argv[3], count);
        l.after_remove();
        n
    })?;
    if n.is_some_and(|n| n > 0) {
        db.notify(class::LIST, "lrem", argv[1]);
        db.notify_del_if_gone(argv[1]);
    }
    out.int(n.unwrap_or(0) as i64);
    Ok(Outcome::Done)
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let start = args::int(argv[2])?;
    let end = args::int(argv[3])?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let found = with_list(db, argv[1], now, None, |l| {
        let len = l.len() as i64;
        let start = if start < 0 {
            (len + start).max(0)
        } else {
            start
        };
        let end = if end < 0 { len + end } else { end };
        let (ltrim, rtrim) = if start > end || start >= len {
            (len, 0)
        } else {
            (start, len - end.min(len - 1) - 1)
        };
        l.remove_ends(ltrim as usize, true);
        l.remove_ends(rtrim as usize, false);
        l.after_remove();
    })?;
    if found.is_some() {
        db.notify(class::LIST, "ltrim", argv[1]);
        db.notify_del_if_gone(argv[1]);
    }
    out.ok();
    Ok(Outcome::Done)
}

fn lpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if is(argv[j], "rank") && more {
            j += 1;
            rank = args::int(argv[j])?;
            if rank == i64::MIN {
                return Err(errors::RANDOM_COUNT_RANGE);
            }
            if rank == 0 {
                return Err(RANK_ZERO);
            }
        } else if is(argv[j], "count") && more {
            j += 1;
            count = Some(ranged(argv[j], 0, Error::lit("ERR COUNT can't be negative"))? as usize);
        } else if is(argv[j], "maxlen") && more {
            j += 1;
            maxlen = ranged(argv[j], 0, Error::lit("ERR MAXLEN can't be negative"))? as usize;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(l) = read_list(db, argv[1], now)? else {
        if count.is_some() {
            out.array(0);
        } else {
            out.null();
        }
        return Ok(Outcome::Done);
    };
    let len = l.len();
    let rev = rank < 0;
    let skip = rank.unsigned_abs() - 1;
    let it = if rev {
        l.iter_from(len.saturating_sub(1), true)
    } else {
        l.iter_from(0, false)
    };
    let limit = if maxlen == 0 { len } else { maxlen.min(len) };
    let want = match count {
        Some(0) => usize::MAX,
        Some(c) => c,
        None => 1,
    };
    let needle_int = canonical_int(argv[2]);
    let mut seen: u64 = 0;
    let mut found: Vec<usize> = Vec::new();
    for (i, v) in it.take(limit).enumerate() {
        if v.eq_parsed(argv[2], needle_int) {
            seen += 1;
            if seen > skip {
                found.push(if rev { len - 1 - i } else { i });
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
    }
    Ok(Outcome::Done)
}

fn move_generic(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match move_for_client(db, src, dst, now, from_left, to_left, &t)? {
        Some(v) => out.bulk(&v),
        None => out.null(),
    }
    Ok(Outcome::Done)
}

fn lmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let from_left = side(argv[3])?;
    let to_left = side(argv[4])?;
    move_generic(ctx, argv[1], argv[2], from_left, to_left)
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    move_generic(ctx, argv[1], argv[2], false, true)
}

/// Parsed `numkeys key… LEFT|RIGHT [COUNT n]` (LMPOP; BLMPOP after its
/// timeout): keys range, side, count.
pub struct MpopArgs {
    pub first_key: usize,
    pub numkeys: usize,
    pub left: bool,
    pub count: usize,
}

/// Parses LMPOP's arguments starting at `numkeys_idx`, in Redis's order
/// and with its error texts.
pub fn parse_mpop(argv: &[&[u8]], numkeys_idx: usize) -> Result<MpopArgs, Error> {
    let numkeys = ranged(argv[numkeys_idx], 1, errors::NUMKEYS_POSITIVE)? as u64;
    let where_idx = (numkeys_idx as u64)
        .checked_add(numkeys)
        .and_then(|x| x.checked_add(1))
        .filter(|&w| w < argv.len() as u64)
        .ok_or(errors::SYNTAX)? as usize;
    let left = side(argv[where_idx])?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && is(argv[j], "count") && j + 1 < argv.len() {
            j += 1;
            count = Some(ranged(argv[j], 1, errors::COUNT_POSITIVE)? as usize);
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        first_key: numkeys_idx + 1,
        numkeys: numkeys as usize,
        left,
        count: count.unwrap_or(1),
    })
}

fn lmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = parse_mpop(argv, 1)?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    for key in &argv[a.first_key..a.first_key + a.numkeys] {
        let r = with_list(db, key, now, None, |l| {
            let n = a.count.min(l.len());
            out.array(2);
            out.bulk(key);
            out.array(n);
            for _ in 0..n {
                l.pop_with(a.left, |v| bulk_elem(out, v));
            }
            l.after_remove();
        })?;
        if r.is_some() {
            notify_popped(db, key, a.left);
            return Ok(Outcome::Done);
        }
    }
    out.null_array();
    Ok(Outcome::Done)
}
