//! Geo group: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS(_RO),
//! GEORADIUSBYMEMBER(_RO), GEOSEARCH and GEOSEARCHSTORE, on sorted sets
//! whose scores are 52-bit geohashes (the arithmetic is in
//! [`geohash`](super::geohash)).
//!
//! GEOADD is ZADD with computed scores and shares its write path. The
//! searches follow Redis's `georadiusGeneric` step by step, because the
//! order of its checks decides which error a client sees, and the order
//! it scans cells in is the order of an unsorted reply.

use std::cmp::Ordering;

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::geohash::{self, Extent, Hit, Shape};
use super::sorted_set::{add_scored, parse_score, read, reply_per_member, store};
use super::spec::{flags::*, CommandSpec, Group};
use super::{Ctx, Outcome};
use crate::keyspace::notify::class;
use crate::keyspace::types::zset::{AddFlags, ScoreRange, ZSetValue};
use crate::protocol::ReplyBuf;

const G: Group = Group::Geo;

const EACH_MEMBER: &str = "O(1) for each member requested.";
const RADIUS_CPLX: &str = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.";
const SEARCH_CPLX: &str = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, G, geoadd)
        .keys(1, 1, 1)
        .doc(
            "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
            "3.2.0",
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        ),
    CommandSpec::new("geodist", -4, READONLY, G, geodist)
        .keys(1, 1, 1)
        .doc(
            "Returns the distance between two members of a geospatial index.",
            "3.2.0",
            "O(1)",
        ),
    CommandSpec::new("geohash", -2, READONLY, G, geohash_cmd)
        .keys(1, 1, 1)
        .doc(
            "Returns members from a geospatial index as geohash strings.",
            "3.2.0",
            EACH_MEMBER,
        ),
    CommandSpec::new("geopos", -2, READONLY, G, geopos)
        .keys(1, 1, 1)
        .doc(
            "Returns the longitude and latitude of members from a geospatial index.",
            "3.2.0",
            EACH_MEMBER,
        ),
    CommandSpec::new("georadius", -6, WRITE | DENYOOM, G, georadius)
        .find_keys(georadius_keys)
        .legacy_keys(1, 1, 1)
        .doc(
            "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
            "3.2.0",
            RADIUS_CPLX,
        ),
    CommandSpec::new("georadius_ro", -6, READONLY, G, georadius_ro)
        .keys(1, 1, 1)
        .doc(
            "Returns members from a geospatial index that are within a distance from a coordinate.",
            "3.2.10",
            RADIUS_CPLX,
        ),
    CommandSpec::new("georadiusbymember", -5, WRITE | DENYOOM, G, georadiusbymember)
        .find_keys(georadius_keys)
        .legacy_keys(1, 1, 1)
        .doc(
            "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
            "3.2.0",
            RADIUS_CPLX,
        ),
    CommandSpec::new("georadiusbymember_ro", -5, READONLY, G, georadiusbymember_ro)
        .keys(1, 1, 1)
        .doc(
            "Returns members from a geospatial index that are within a distance from a member.",
            "3.2.10",
            RADIUS_CPLX,
        ),
    CommandSpec::new("geosearch", -7, READONLY, G, geosearch)
        .keys(1, 1, 1)
        .doc(
            "Queries a geospatial index for members inside an area of a box or a circle.",
            "6.2.0",
            SEARCH_CPLX,
        ),
    CommandSpec::new("geosearchstore", -8, WRITE | DENYOOM, G, geosearchstore)
        .keys(1, 2, 1)
        .doc(
            "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
            "6.2.0",
            SEARCH_CPLX,
        ),
];

/// GEORADIUS[BYMEMBER]: the source key, and the STORE/STOREDIST key when
/// one is given (the last one wins, as in the handler).
fn georadius_keys(argv: &[&[u8]]) -> Vec<usize> {
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        if (is(argv[i], "store") || is(argv[i], "storedist")) && i + 1 < argv.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    std::iter::once(1).chain(stored).collect()
}

// ---------------------------------------------------------------- arguments

fn float(arg: &[u8]) -> Result<f64, Error> {
    parse_score(arg).ok_or(errors::NOT_FLOAT)
}

/// A longitude, latitude pair that can be indexed.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let (lon, lat) = (float(lon)?, float(lat)?);
    if !geohash::valid(lon, lat) {
        return Err(errors::geo_invalid_pair(lon, lat));
    }
    Ok((lon, lat))
}

/// Meters per unit.
fn unit(arg: &[u8]) -> Result<f64, Error> {
    if is(arg, "m") {
        Ok(1.0)
    } else if is(arg, "km") {
        Ok(1000.0)
    } else if is(arg, "ft") {
        Ok(0.3048)
    } else if is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(errors::GEO_UNIT)
    }
}

/// `radius unit`.
fn radius_shape(r: &[u8], u: &[u8]) -> Result<Shape, Error> {
    let r = parse_score(r).ok_or(errors::GEO_RADIUS_NOT_NUMERIC)?;
    if r < 0.0 {
        return Err(errors::GEO_RADIUS_NEGATIVE);
    }
    Ok(Shape {
        extent: Extent::Radius(r),
        conversion: unit(u)?,
    })
}

/// `width height unit`.
fn box_shape(w: &[u8], h: &[u8], u: &[u8]) -> Result<Shape, Error> {
    let w = parse_score(w).ok_or(errors::GEO_WIDTH_NOT_NUMERIC)?;
    let h = parse_score(h).ok_or(errors::GEO_HEIGHT_NOT_NUMERIC)?;
    if h < 0.0 || w < 0.0 {
        return Err(errors::GEO_BOX_NEGATIVE);
    }
    Ok(Shape {
        extent: Extent::Box(w, h),
        conversion: unit(u)?,
    })
}

/// A member's position (`None` when it is not in the set).
fn member_pos(z: &ZSetValue, member: &[u8]) -> Option<(f64, f64)> {
    z.score(member).map(geohash::decode_score)
}

// ---------------------------------------------------------------- replies

/// A distance as Redis prints it: `%.4f` in a bulk string, in both protocols.
fn distance_reply(out: &mut ReplyBuf, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

/// A coordinate as `addReplyHumanLongDouble` writes it.
fn coord_reply(out: &mut ReplyBuf, v: f64) {
    let s = geohash::human_coord(v);
    if out.is_resp3() {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

// ---------------------------------------------------------------- GEOADD … GEOPOS

fn geoadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 2;
    while i < argv.len() {
        if is(argv[i], "nx") {
            nx = true;
        } else if is(argv[i], "xx") {
            xx = true;
        } else if is(argv[i], "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &argv[i..];
    // No element at all is ZADD's syntax error, which GEOADD hands on.
    if rest.len() % 3 != 0 || (xx && nx) || rest.is_empty() {
        return Err(errors::SYNTAX);
    }
    // Every pair is checked before anything is added. The first one is
    // kept apart so that the usual GEOADD of one member allocates nothing.
    let scored = |e: &[&[u8]]| -> Result<f64, Error> {
        let (lon, lat) = lon_lat(e[0], e[1])?;
        geohash::score_of(lon, lat).ok_or_else(|| errors::geo_invalid_pair(lon, lat))
    };
    let first = (scored(&rest[..3])?, rest[2]);
    let mut more = Vec::new();
    for e in rest[3..].chunks(3) {
        more.push((scored(e)?, e[2]));
    }
    let f = AddFlags {
        nx,
        xx,
        ..AddFlags::default()
    };
    let t = ctx.srv.hot.thresholds();
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let pairs = std::iter::once(first).chain(more.iter().copied());
    let (added, updated, _) = add_scored(db, argv[1], now, &t, f, pairs)?;
    // Redis runs GEOADD as a ZADD: its event.
    if added + updated > 0 {
        db.notify(class::ZSET, "zadd", argv[1]);
    }
    out.int(if ch { added + updated } else { added });
    Ok(Outcome::Done)
}

fn geodist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let to_meters = match argv.len() {
        4 => 1.0,
        5 => unit(argv[4])?,
        _ => return Err(errors::SYNTAX),
    };
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(z) = read(db, argv[1], now)? else {
        out.null();
        return Ok(Outcome::Done);
    };
    match (member_pos(z, argv[2]), member_pos(z, argv[3])) {
        (Some(a), Some(b)) => {
            distance_reply(out, geohash::distance(a.0, a.1, b.0, b.1) / to_meters)
        }
        _ => out.null(),
    }
    Ok(Outcome::Done)
}

fn geohash_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    reply_per_member(
        ctx,
        argv,
        |out, s| out.bulk(&geohash::hash_string(s)),
        ReplyBuf::null,
    )
}

fn geopos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    reply_per_member(
        ctx,
        argv,
        |out, s| {
            let (lon, lat) = geohash::decode_score(s);
            out.array(2);
            coord_reply(out, lon);
            coord_reply(out, lat);
        },
        ReplyBuf::null_array,
    )
}

// ---------------------------------------------------------------- searches

/// Which command `search_generic` runs for (Redis's `RADIUS_*` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS: `key lon lat radius unit`.
    Coords { store_ok: bool },
    /// GEORADIUSBYMEMBER: `key member radius unit`.
    Member { store_ok: bool },
    /// GEOSEARCH: `key FROM… BY…`.
    Search,
    /// GEOSEARCHSTORE: `dst key FROM… BY…`.
    SearchStore,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

fn georadius(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, 1, Kind::Coords { store_ok: true })
}

fn georadius_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, 1, Kind::Coords { store_ok: false })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, 1, Kind::Member { store_ok: true })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, 1, Kind::Member { store_ok: false })
}

fn geosearch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, 1, Kind::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    search_generic(ctx, argv, 2, Kind::SearchStore)
}

/// Redis's `georadiusGeneric`.
fn search_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], src: usize, kind: Kind) -> CmdResult {
    let now = ctx.now;
    let t = ctx.srv.hot.thresholds();
    let (db, out) = ctx.db_out();
    // The type check comes before any argument check, as in Redis.
    let z = read(db, argv[src], now)?;
    let search = matches!(kind, Kind::Search | Kind::SearchStore);
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<Shape> = None;
    let mut storekey: Option<&[u8]> = None;
    let base = match kind {
        Kind::Coords { .. } => {
            center = Some(lon_lat(argv[2], argv[3])?);
            shape = Some(radius_shape(argv[4], argv[5])?);
            6
        }
        Kind::Member { .. } => {
            // Without the key the arguments are still parsed, to know
            // which empty reply to give.
            if let Some(z) = z {
                center = Some(member_pos(z, argv[2]).ok_or(errors::GEO_MEMBER)?);
                shape = Some(radius_shape(argv[3], argv[4])?);
            }
            5
        }
        Kind::Search => 2,
        Kind::SearchStore => {
            storekey = Some(argv[1]);
            3
        }
    };
    let store_ok = matches!(
        kind,
        Kind::Coords { store_ok: true } | Kind::Member { store_ok: true }
    );
    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: usize = 0;
    let mut storedist = false;
    let mut i = base;
    while i < argv.len() {
        let a = argv[i];
        let left = argv.len() - i - 1;
        if is(a, "withdist") {
            withdist = true;
        } else if is(a, "withhash") {
            withhash = true;
        } else if is(a, "withcoord") {
            withcoord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            sort = Sort::Asc;
        } else if is(a, "desc") {
            sort = Sort::Desc;
        } else if is(a, "count") && left >= 1 {
            let n = args::int(argv[i + 1])?;
            if n <= 0 {
                return Err(errors::GEO_COUNT);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && store_ok {
            storekey = Some(argv[i + 1]);
            storedist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && kind == Kind::SearchStore {
            storedist = true;
        } else if is(a, "frommember") && left >= 1 && search && !fromloc {
            if let Some(z) = z {
                center = Some(member_pos(z, argv[i + 1]).ok_or(errors::GEO_MEMBER)?);
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && search && !frommember {
            center = Some(lon_lat(argv[i + 1], argv[i + 2])?);
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && search && !bybox {
            shape = Some(radius_shape(argv[i + 1], argv[i + 2])?);
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && search && !byradius {
            shape = Some(box_shape(argv[i + 1], argv[i + 2], argv[i + 3])?);
            bybox = true;
            i += 3;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoord) {
        return Err(errors::geo_store_with_options(kind == Kind::SearchStore));
    }
    if search && !(frommember || fromloc) {
        return Err(errors::geo_need_from(argv[0]));
    }
    if search && !(byradius || bybox) {
        return Err(errors::geo_need_by(argv[0]));
    }
    if any && count == 0 {
        return Err(errors::GEO_ANY_WITHOUT_COUNT);
    }
    let (Some(z), Some((lon, lat)), Some(shape)) = (z, center, shape) else {
        // No source key: an empty reply, or the destination deleted.
        match storekey {
            Some(dst) => {
                store(db, dst, ZSetValue::new(&t), now, "");
                out.int(0);
            }
            None => out.array(0),
        }
        return Ok(Outcome::Done);
    };
    // COUNT means the nearest ones unless ANY says any will do.
    if count > 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let limit = if any { count } else { 0 };
    let mut hits = geohash::search(lon, lat, shape, limit, |min, max, f| {
        scan_scores(z, min, max, f)
    });
    let returned = if count == 0 {
        hits.len()
    } else {
        hits.len().min(count)
    };
    if sort != Sort::None {
        let asc = |a: &Hit<'_>, b: &Hit<'_>| a.dist.partial_cmp(&b.dist).unwrap_or(Ordering::Equal);
        let cmp = |a: &Hit<'_>, b: &Hit<'_>| match sort {
            Sort::Desc => asc(b, a),
            _ => asc(a, b),
        };
        // Which of several equally distant members come first is visible:
        // a full sort is glibc's qsort (a stable merge sort), a partial
        // one Redis's `pqsort`.
        if returned == hits.len() {
            hits.sort_by(cmp);
        } else {
            partial_sort(&mut hits, &cmp, returned - 1);
        }
    }
    hits.truncate(returned);
    let conversion = shape.conversion;
    match storekey {
        None => reply_hits(out, &hits, conversion, withdist, withhash, withcoord),
        Some(dst) => {
            let max_len = hits.iter().map(|h| h.member.len()).max().unwrap_or(0);
            let mut result = ZSetValue::with_hint(&t, hits.len(), max_len);
            for h in &hits {
                let score = if storedist {
                    h.dist / conversion
                } else {
                    h.score
                };
                result.put(h.member, score, &t);
            }
            drop(hits);
            let event = if search {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            store(db, dst, result, now, event);
            out.int(returned as i64);
        }
    }
    Ok(Outcome::Done)
}

/// Calls `f` with the members whose scores are in `[min, max)`, ascending,
/// until it returns false.
fn scan_scores<'a>(z: &'a ZSetValue, min: f64, max: f64, f: &mut dyn FnMut(&'a [u8], f64) -> bool) {
    let (start, end) = z.score_range(&ScoreRange {
        min,
        max,
        minex: false,
        maxex: true,
    });
    let mut go = true;
    z.for_range(start, end, false, |m, s| {
        if go {
            go = f(m, s);
        }
    });
}

fn reply_hits(
    out: &mut ReplyBuf,
    hits: &[Hit<'_>],
    conversion: f64,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
) {
    let extras = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    out.array(hits.len());
    for h in hits {
        if extras > 0 {
            out.array(extras + 1);
        }
        out.bulk(h.member);
        if withdist {
            distance_reply(out, h.dist / conversion);
        }
        if withhash {
            out.int(h.score as i64);
        }
        if withcoord {
            out.array(2);
            coord_reply(out, h.lon);
            coord_reply(out, h.lat);
        }
    }
}

/// Redis's `pqsort` (NetBSD's Bentley–McIlroy quicksort that only sorts
/// the parts overlapping `0..=last`): places the smallest `last + 1`
/// elements first, in order, and leaves ties where that algorithm leaves
/// them, so COUNT picks the same members among equally distant ones.
fn partial_sort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering, last: usize) {
    pqsort_range(v, cmp, 0, v.len(), last);
}

fn med3<T>(v: &[T], cmp: &impl Fn(&T, &T) -> Ordering, a: usize, b: usize, c: usize) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

fn insertion_sort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering, lo: usize, n: usize) {
    for m in lo + 1..lo + n {
        let mut l = m;
        while l > lo && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

/// Sorts `v[lo..lo + n]` as far as it overlaps ranks `0..=last`.
fn pqsort_range<T>(
    v: &mut [T],
    cmp: &impl Fn(&T, &T) -> Ordering,
    mut lo: usize,
    mut n: usize,
    last: usize,
) {
    loop {
        if n < 7 {
            insertion_sort(v, cmp, lo, n);
            return;
        }
        let mut pm = lo + n / 2;
        if n > 7 {
            let mut pl = lo;
            let mut pn = lo + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, cmp, pl, pl + d, pl + 2 * d);
                pm = med3(v, cmp, pm - d, pm, pm + d);
                pn = med3(v, cmp, pn - 2 * d, pn - d, pn);
            }
            pm = med3(v, cmp, pl, pm, pn);
        }
        v.swap(lo, pm);
        // Signed: `pc` may step just below `pb`.
        let (mut pa, mut pb) = (lo as isize + 1, lo as isize + 1);
        let (mut pc, mut pd) = ((lo + n - 1) as isize, (lo + n - 1) as isize);
        let mut swapped = false;
        loop {
            while pb <= pc {
                let r = cmp(&v[pb as usize], &v[lo]);
                if r == Ordering::Greater {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pa as usize, pb as usize);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&v[pc as usize], &v[lo]);
                if r == Ordering::Less {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb as usize, pc as usize);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            insertion_sort(v, cmp, lo, n);
            return;
        }
        let pn = (lo + n) as isize;
        let vecswap = |v: &mut [T], a: isize, b: isize, k: isize| {
            for i in 0..k {
                v.swap((a + i) as usize, (b + i) as usize);
            }
        };
        let r = (pa - lo as isize).min(pb - pa);
        vecswap(v, lo as isize, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        // A part is sorted only when it holds one of the ranks wanted,
        // that is when it starts at or before `last`.
        let r = (pb - pa) as usize;
        if r > 1 && lo <= last {
            pqsort_range(v, cmp, lo, r, last);
        }
        let r = (pd - pc) as usize;
        if r > 1 {
            lo = pn as usize - r;
            n = r;
            if lo <= last {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn geo_partial_sort_orders_the_wanted_prefix() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let n = rng.gen_range(1..120);
            let mut v: Vec<u32> = (0..n).map(|_| rng.gen_range(0..20)).collect();
            let last = rng.gen_range(0..n);
            let mut sorted = v.clone();
            sorted.sort();
            partial_sort(&mut v, &|a: &u32, b: &u32| a.cmp(b), last);
            assert_eq!(v[..=last], sorted[..=last]);
            let mut rest = v.clone();
            rest.sort();
            assert_eq!(rest, sorted, "a permutation");
        }
    }
}
