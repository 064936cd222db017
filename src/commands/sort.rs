//! SORT and SORT_RO over lists, sets and sorted sets, with BY/GET
//! patterns (`*` is replaced by the element; `key->field` reads a hash
//! field), LIMIT, ASC/DESC, ALPHA and STORE.

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::spec::{cat, flags::*, CommandSpec, Group};
use super::Ctx;
use crate::clock::lru_clock;
use crate::commands::Outcome;
use crate::keyspace::notify::class;
use crate::keyspace::types::list::ListValue;
use crate::keyspace::value::Object;
use crate::keyspace::{Db, Entry, NewValue, ValueRef};

const G: Group = Group::Generic;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM, G, sort).find_keys(sort_keys)
        .legacy_keys(1, 1, 1)
        .only_cats(cat::SET | cat::SORTEDSET | cat::LIST | cat::DANGEROUS)
        .doc(
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        "1.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
    ),
    CommandSpec::new("sort_ro", -2, READONLY, G, sort_ro)
        .find_keys(sort_ro_keys)
        .legacy_keys(1, 1, 1)
        .only_cats(cat::SET | cat::SORTEDSET | cat::LIST | cat::DANGEROUS)
        .doc(
        "Returns the sorted elements of a list, a set, or a sorted set.",
        "7.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list/set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
    ),
];

/// SORT's keys, as its key specs find them (Redis's sortGetKeys): the
/// sorted key and the last STORE's destination.
fn sort_keys(argv: &[&[u8]]) -> Vec<usize> {
    super::keyspec::positions(super::keyspec::sort, argv)
}

/// SORT_RO's one key.
fn sort_ro_keys(argv: &[&[u8]]) -> Vec<usize> {
    super::keyspec::positions(super::keyspec::sort_ro, argv)
}

/// An element with its BY value and, unless ALPHA, its numeric score.
type Weighed = (Option<Vec<u8>>, Option<f64>, Vec<u8>);

struct Options<'a> {
    by: Option<&'a [u8]>,
    nosort: bool,
    gets: Vec<&'a [u8]>,
    limit: Option<(i64, i64)>,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

/// Redis 7: BY and GET read keys no key position names, so they need a
/// user that may read every key (`~*`).
const BY_DENIED: Error =
    Error::lit("ERR BY option of SORT denied due to insufficient ACL permissions.");
const GET_DENIED: Error =
    Error::lit("ERR GET option of SORT denied due to insufficient ACL permissions.");

fn parse<'a>(argv: &[&'a [u8]], readonly: bool, all_keys: bool) -> Result<Options<'a>, Error> {
    let mut o = Options {
        by: None,
        nosort: false,
        gets: Vec::new(),
        limit: None,
        desc: false,
        alpha: false,
        store: None,
    };
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        let left = argv.len() - i - 1;
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit = Some((args::int(argv[i + 1])?, args::int(argv[i + 2])?));
            i += 2;
        } else if is(a, "store") && left >= 1 && !readonly {
            o.store = Some(argv[i + 1]);
            i += 1;
        } else if is(a, "by") && left >= 1 {
            o.by = Some(argv[i + 1]);
            // A pattern without '*' (or with '->' before any '*') means "don't sort".
            if !argv[i + 1].contains(&b'*') {
                o.nosort = true;
            } else if !all_keys {
                return Err(BY_DENIED);
            }
            i += 1;
        } else if is(a, "get") && left >= 1 {
            if !all_keys {
                return Err(GET_DENIED);
            }
            o.gets.push(argv[i + 1]);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// Replaces the first `*` of `pattern` with `elem` and reads the result:
/// a string key, or a hash field with `key->field`. `#` is the element.
fn lookup(db: &mut Db, pattern: &[u8], elem: &[u8], now: i64) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let arrow = pattern
        .windows(2)
        .rposition(|w| w == b"->")
        .filter(|&p| p > star && p + 2 < pattern.len());
    let key_pat = &pattern[..arrow.unwrap_or(pattern.len())];
    let mut key = Vec::with_capacity(key_pat.len() + elem.len());
    key.extend_from_slice(&key_pat[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&key_pat[star + 1..]);
    let e = db.get_read(&key, now)?;
    match (e.value(), arrow) {
        (ValueRef::Str(s), None) => Some(s.to_vec()),
        (ValueRef::Int(n), None) => Some(n.to_string().into_bytes()),
        (ValueRef::Obj(Object::Hash(h)), Some(p)) => hash_field(h, &pattern[p + 2..]),
        _ => None,
    }
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], readonly: bool) -> CmdResult {
    let user = &ctx.client.user;
    let o = parse(argv, readonly, user.is_fast() || user.reads_all_keys())?;
    let now = ctx.now;
    let db = ctx.db();
    let mut elems: Vec<Vec<u8>> = match db.get_read(argv[1], now).map(|e| e.value()) {
        None => Vec::new(),
        Some(ValueRef::Obj(obj)) => match obj {
            Object::List(_) | Object::Set(_) | Object::ZSet(_) => elements(obj),
            _ => return Err(errors::WRONGTYPE),
        },
        Some(_) => return Err(errors::WRONGTYPE),
    };
    let is_zset = matches!(
        db.peek(argv[1]).map(|e| e.value()),
        Some(ValueRef::Obj(Object::ZSet(_)))
    );
    let sorting = !o.nosort;
    if sorting {
        // Weights first (BY), then sort; scores must parse unless ALPHA.
        let mut keyed: Vec<Weighed> = Vec::with_capacity(elems.len());
        for e in elems.drain(..) {
            let w = match o.by {
                Some(p) => lookup(db, p, &e, now),
                None => Some(e.clone()),
            };
            let score = if o.alpha {
                None
            } else {
                match &w {
                    None => Some(0.0),
                    Some(w) => Some(args::parse_f64(w).ok_or(Error::lit(
                        "ERR One or more scores can't be converted into double",
                    ))?),
                }
            };
            keyed.push((w, score, e));
        }
        keyed.sort_by(|a, b| {
            let ord = if o.alpha {
                // A missing BY key sorts first, as Redis's NULL compare does.
                match (&a.0, &b.0) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(_), None) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                let (x, y) = (a.1.unwrap_or(0.0), b.1.unwrap_or(0.0));
                x.partial_cmp(&y)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.2.cmp(&b.2))
            };
            if o.desc {
                ord.reverse()
            } else {
                ord
            }
        });
        elems = keyed.into_iter().map(|k| k.2).collect();
    } else if is_zset && o.desc {
        // Unsorted zset with DESC: Redis returns the reverse zset order.
        elems.reverse();
    }
    if let Some((off, count)) = o.limit {
        let n = elems.len() as i64;
        let start = off.clamp(0, n);
        let end = if count < 0 { n } else { (start + count).min(n) };
        elems = elems[start as usize..end as usize].to_vec();
    }
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    if o.gets.is_empty() {
        out.extend(elems.into_iter().map(Some));
    } else {
        for e in &elems {
            for g in &o.gets {
                out.push(lookup(db, g, e, now));
            }
        }
    }
    match o.store {
        Some(dst) => {
            let vals: Vec<Vec<u8>> = out.into_iter().map(Option::unwrap_or_default).collect();
            let n = vals.len();
            store_list(ctx, dst, vals)?;
            ctx.out.int(n as i64);
        }
        None => {
            ctx.out.array(out.len());
            for v in &out {
                match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
    }
    Ok(Outcome::Done)
}

fn sort(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// The elements SORT starts from, in the collection's own order.
fn elements(obj: &Object) -> Vec<Vec<u8>> {
    match obj {
        Object::List(l) => l.iter().map(|e| e.to_vec()).collect(),
        Object::Set(set) => set.iter().map(|m| m.to_vec()).collect(),
        Object::ZSet(z) => {
            let mut v = Vec::with_capacity(z.len());
            z.for_each(|m, _| v.push(m.to_vec()));
            v
        }
        _ => Vec::new(),
    }
}

fn hash_field(h: &crate::keyspace::types::hash::HashValue, field: &[u8]) -> Option<Vec<u8>> {
    h.get(field).map(|v| v.to_vec())
}

/// STORE: the result replaces `dst` as a list (deleted when empty).
fn store_list(ctx: &mut Ctx<'_>, dst: &[u8], vals: Vec<Vec<u8>>) -> Result<(), Error> {
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let db = ctx.db();
    // Expires an old `dst` lazily first, as Redis's lookup does.
    let existed = db.exists(dst, now);
    if vals.is_empty() {
        if existed {
            db.remove(dst);
            db.notify(class::GENERIC, "del", dst);
        }
        return Ok(());
    }
    let mut l = ListValue::new(&t);
    l.prepare_add(&t, vals.iter().map(Vec::len).sum(), vals.len());
    for v in &vals {
        l.push(v, false);
    }
    let obj = Box::new(Object::List(l));
    db.insert(Entry::new(dst, NewValue::Obj(obj), None, lru_clock(now)));
    db.signal_ready(dst);
    db.notify(class::LIST, "sortstore", dst);
    Ok(())
}
