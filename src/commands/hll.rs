//! HyperLogLog group: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST on
//! string values laid out byte for byte as Redis's `hyperloglog.c` lays
//! them out, so an HLL moves between keyward and Redis (GET/SET, DUMP,
//! replication) unchanged and counts the same.
//!
//! The value is a 16-byte header — `HYLL`, an encoding byte (0 dense,
//! 1 sparse), three unused bytes, the cached cardinality as 8 bytes little
//! endian whose top bit marks it stale — then the registers: 16384 6-bit
//! registers packed little-endian (dense, 12288 bytes), or a run-length
//! code (sparse: ZERO `00xxxxxx`, XZERO `01xxxxxx yyyyyyyy`, VAL
//! `1vvvvvxx`). A sparse value that would grow past `hll-sparse-max-bytes`,
//! or needs a register above 32, becomes dense.
//!
//! Writes build on the stored bytes: a dense PFADD first checks whether any
//! register rises and only then changes the value in place, so a PFADD that
//! changes nothing writes nothing (no dirty count, no logged effect), as in
//! Redis. PFCOUNT refreshing a stale cache is a write of the value in Redis
//! too (it bumps `dirty`, so it is logged and replicated): same here.

use std::sync::atomic::Ordering;

use super::args::is;
use super::errors::{self, CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::string::store;
use super::{Ctx, Outcome};
use crate::keyspace::notify::class;
use crate::keyspace::{Db, NewValue, ValueRef};

const G: Group = Group::Hyperloglog;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, G, pfadd)
        .keys(1, 1, 1)
        .doc(
            "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
            "2.8.9",
            "O(1) to add every element.",
        ),
    // READONLY although a stale cache is rewritten (and propagated), as
    // in Redis: the key spec says RW.
    CommandSpec::new("pfcount", -2, READONLY | MAY_REPLICATE, G, pfcount)
        .keys(1, -1, 1)
        .doc(
            "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
            "2.8.9",
            "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        ),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, G, pfmerge)
        .keys(1, -1, 1)
        .doc(
            "Merges one or more HyperLogLog values into a single key.",
            "2.8.9",
            "O(N) to merge N HyperLogLogs, but with high constant times.",
        ),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, G, pfdebug)
        .keys(2, 2, 1)
        .doc_flags(&["syscmd"])
        .doc(
            "Internal commands for debugging HyperLogLog values.",
            "2.8.9",
            "N/A",
        ),
    CommandSpec::new("pfselftest", 1, ADMIN, G, pfselftest)
        .doc_flags(&["syscmd"])
        .doc(
            "An internal command for testing HyperLogLog values.",
            "2.8.9",
            "N/A",
        ),
];

const P: u32 = 14;
const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
const HDR: usize = 16;
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// A sparse register code that does not add up to 16384 registers.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt;

impl From<Corrupt> for Error {
    fn from(_: Corrupt) -> Error {
        errors::HLL_CORRUPT
    }
}

/// Austin Appleby's MurmurHash64A, as Redis uses it (little-endian reads).
pub fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = u64::from(seed) ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("chunks of 8"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// Redis's `hllPatLen`: the register an element hashes to, and the length
/// of the run of zeros (plus one) in the rest of its hash.
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The sentinel bit bounds the count at Q + 1.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = u16::from(regs[byte]);
    // The last register's second byte is Redis's sds terminator: zero.
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) as u8) & REGISTER_MAX
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = u16::from(v);
    let lo = &mut regs[byte];
    *lo &= !((u16::from(REGISTER_MAX) << fb) as u8);
    *lo |= (v << fb) as u8;
    if let Some(hi) = regs.get_mut(byte + 1) {
        let shift = 8 - fb;
        *hi &= !((u16::from(REGISTER_MAX) >> shift) as u8);
        *hi |= (v >> shift) as u8;
    }
}

/// Raises register `i` of a dense register array to `count`; whether it rose.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// One decoded sparse opcode.
#[derive(Clone, Copy)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    fn at(code: &[u8], p: usize) -> Op {
        let b = code[p];
        match b & 0xc0 {
            0 => Op::Zero(usize::from(b & 0x3f) + 1),
            0x40 => {
                let lo = code.get(p + 1).copied().unwrap_or(0);
                Op::XZero(((usize::from(b & 0x3f) << 8) | usize::from(lo)) + 1)
            }
            _ => Op::Val(((b >> 2) & 0x1f) + 1, usize::from(b & 3) + 1),
        }
    }
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
    fn width(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }
}

fn zero_op(len: usize) -> u8 {
    (len - 1) as u8
}

fn xzero_op(len: usize) -> [u8; 2] {
    let l = len - 1;
    [((l >> 8) as u8) | 0x40, (l & 0xff) as u8]
}

fn val_op(v: u8, len: usize) -> u8 {
    (((v - 1) << 2) | (len - 1) as u8) | 0x80
}

/// A zero run as one ZERO or one XZERO opcode.
fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        seq.extend_from_slice(&xzero_op(len));
    } else {
        seq.push(zero_op(len));
    }
}

/// Calls `f(first_register, op)` for each opcode of a sparse code.
fn walk(code: &[u8], mut f: impl FnMut(usize, Op)) -> usize {
    let (mut p, mut idx) = (0, 0);
    while p < code.len() {
        let op = Op::at(code, p);
        f(idx, op);
        idx += op.span();
        p += op.width();
    }
    idx
}

/// A new, empty HLL: sparse, one XZERO covering every register.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    v.extend_from_slice(&xzero_op(XZERO_MAX_LEN));
    v
}

/// Redis's `isHLLObjectOrReply`: the string is an HLL (magic, a known
/// encoding, and the exact dense length for a dense one).
pub fn is_hll(s: &[u8]) -> bool {
    s.len() >= HDR
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// The HLL bytes of a value, or the error Redis gives.
fn hll_bytes(v: ValueRef<'_>) -> Result<&[u8], Error> {
    match v {
        ValueRef::Str(s) if is_hll(s) => Ok(s),
        ValueRef::Str(_) | ValueRef::Int(_) => Err(errors::HLL_WRONGTYPE),
        ValueRef::Obj(_) => Err(errors::WRONGTYPE),
    }
}

fn invalidate(hll: &mut [u8]) {
    hll[15] |= 0x80;
}

fn cached(hll: &[u8]) -> Option<u64> {
    (hll[15] & 0x80 == 0).then(|| u64::from_le_bytes(hll[8..16].try_into().expect("8 bytes")))
}

/// Redis's `hllSparseToDense` (a no-op on a dense value). The header,
/// cached cardinality included, carries over.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&hll[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    sparse_values(&hll[HDR..], |first, n, v| {
        for i in first..first + n {
            dense_put(regs, i, v);
        }
    })?;
    *hll = dense;
    Ok(())
}

/// Redis's `hllSparseSet`: raises register `index` to `count` in a sparse
/// value, splitting the opcode that covers it, merging equal neighbours,
/// and going dense when the value would pass `max_bytes` or `count` does
/// not fit a VAL opcode. Whether the register rose.
fn sparse_set(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: u64) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: the opcode covering `index`.
    let end = hll.len();
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let mut found = None;
    while p < end {
        let op = Op::at(hll, p);
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.width();
        first += op.span();
    }
    let Some(op) = found else {
        return Err(Corrupt);
    };
    let last = first + op.span() - 1;
    // Step 2: the cases that need no split.
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => hll[p] = val_op(count, 1),
        _ => {
            // Worst case XZERO-VAL-XZERO: five bytes.
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Val(cur, _) => {
                    if index != first {
                        seq.push(val_op(cur, index - first));
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        seq.push(val_op(cur, last - index));
                    }
                }
                _ => {
                    if index != first {
                        push_zeros(&mut seq, index - first);
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        push_zeros(&mut seq, last - index);
                    }
                }
            }
            // Step 3: splice the new sequence in, unless it grows the
            // value past the limit.
            let grows = seq.len() > op.width();
            if grows && (hll.len() + seq.len() - op.width()) as u64 > max_bytes {
                return promote(hll, index, count);
            }
            hll.splice(p..(p + op.width()).min(end), seq);
            // An XZERO cut short by the end of the value reads its second
            // byte as 0 in Redis (the sds terminator), and the length
            // then grows by the new sequence less two bytes: one byte of
            // the sequence falls off the end. The same here, so a corrupt
            // value changes as it does there.
            if p + op.width() > end {
                hll.pop();
            }
        }
    }
    // Step 4: merge adjacent equal VALs, scanning up to five opcodes from
    // the one before the change.
    let mut q = prev.unwrap_or(HDR);
    let mut budget = 5;
    while q < hll.len() && budget > 0 {
        budget -= 1;
        match Op::at(hll, q) {
            Op::XZero(_) => q += 2,
            Op::Zero(_) => q += 1,
            Op::Val(v1, l1) => {
                if let Some(&next) = hll.get(q + 1) {
                    if let Op::Val(v2, l2) = Op::at(&[next], 0) {
                        if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                            hll[q + 1] = val_op(v1, l1 + l2);
                            hll.remove(q);
                            continue;
                        }
                    }
                }
                q += 1;
            }
        }
    }
    invalidate(hll);
    Ok(true)
}

fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    // A promotion happens only for a register that rises.
    dense_set(&mut hll[HDR..], index, count);
    Ok(true)
}

/// Raises register `index` to `count` in either encoding.
fn set(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: u64) -> Result<bool, Corrupt> {
    if hll[4] == DENSE {
        Ok(dense_set(&mut hll[HDR..], index, count))
    } else {
        sparse_set(hll, index, count, max_bytes)
    }
}

/// Redis's `hllMerge`: `max[i] = max(max[i], hll[i])`.
fn merge(max: &mut [u8; REGISTERS], hll: &[u8]) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        let regs = &hll[HDR..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    sparse_values(&hll[HDR..], |first, n, v| {
        for m in &mut max[first..first + n] {
            *m = (*m).max(v);
        }
    })
}

/// Calls `each(first, n, value)` for every VAL run of sparse `code`, after
/// checking it stays inside the registers; `Corrupt` when a run overflows
/// them or the opcodes do not cover exactly all of them (Redis's checks in
/// `hllSparseToDense` and `hllMerge`).
fn sparse_values(code: &[u8], mut each: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut overflow = false;
    let total = walk(code, |first, op| {
        if let Op::Val(v, n) = op {
            if first + n > REGISTERS {
                overflow = true;
            } else if !overflow {
                each(first, n, v);
            }
        }
    });
    if overflow || total != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Redis 7's `hllSigma` (Ertl's estimator, for the zero registers).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

/// Redis 7's `hllTau` (for the saturated registers).
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram (Redis's `hllCount`).
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - histo[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimate of one stored HLL.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u64; 64];
    if hll[4] == DENSE {
        let regs = &hll[HDR..];
        for i in 0..REGISTERS {
            histo[usize::from(dense_get(regs, i))] += 1;
        }
    } else {
        let total = walk(&hll[HDR..], |_, op| match op {
            Op::Zero(n) | Op::XZero(n) => histo[0] += n as u64,
            Op::Val(v, n) => histo[usize::from(v)] += n as u64,
        });
        if total != REGISTERS {
            return Err(Corrupt);
        }
    }
    Ok(estimate(&histo))
}

/// The estimate of unpacked registers (PFCOUNT of several keys).
fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in regs {
        histo[usize::from(r)] += 1;
    }
    estimate(&histo)
}

/// Writes `hll` over the string at `key` (in place when the length is
/// unchanged), keeping its TTL.
fn write_back(db: &mut Db, key: &[u8], now: i64, hll: &[u8]) {
    db.modify_with(key, now, false, |e| match e.raw_str_mut() {
        Some(s) if s.len() == hll.len() => s.copy_from_slice(hll),
        _ => e.replace_value(NewValue::Raw(hll)),
    });
}

fn max_bytes(ctx: &Ctx<'_>) -> u64 {
    ctx.srv.hot.hll_sparse_max_bytes.load(Ordering::Relaxed)
}

fn pfadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let limit = max_bytes(ctx);
    let key = argv[1];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let adds: Vec<(usize, u8)> = argv[2..].iter().map(|e| pat_len(e)).collect();
    let (mut hll, created) = match db.get(key, now) {
        None => (new_sparse(), true),
        Some(e) => {
            let s = hll_bytes(e.value())?;
            if s[4] == DENSE {
                // In place, and only when some register rises.
                let regs = &s[HDR..];
                if !adds.iter().any(|&(i, c)| dense_get(regs, i) < c) {
                    out.int(0);
                    return Ok(Outcome::Done);
                }
                db.modify_with(key, now, false, |e| {
                    if let Some(s) = e.raw_str_mut() {
                        for &(i, c) in &adds {
                            dense_set(&mut s[HDR..], i, c);
                        }
                        invalidate(s);
                    }
                });
                db.notify(class::STRING, "pfadd", key);
                out.int(1);
                return Ok(Outcome::Done);
            }
            (s.to_vec(), false)
        }
    };
    let mut updated = created;
    for &(i, c) in &adds {
        updated |= set(&mut hll, i, c, limit)?;
    }
    if updated {
        invalidate(&mut hll);
        if created {
            store(db, key, NewValue::Raw(&hll), None, now);
        } else {
            write_back(db, key, now, &hll);
        }
        db.notify(class::STRING, "pfadd", key);
    }
    out.int(i64::from(updated));
    Ok(Outcome::Done)
}

fn pfcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    if argv.len() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        for key in &argv[1..] {
            if let Some(e) = db.get_read(key, now) {
                merge(&mut max, hll_bytes(e.value())?)?;
            }
        }
        out.int(count_raw(&max) as i64);
        return Ok(Outcome::Done);
    }
    let key = argv[1];
    let mut refreshed = false;
    let card = match db.get_read(key, now) {
        None => 0,
        Some(e) => {
            let s = hll_bytes(e.value())?;
            match cached(s) {
                Some(card) => card,
                None => {
                    let card = count(s)?;
                    db.modify_with(key, now, false, |e| {
                        if let Some(s) = e.raw_str_mut() {
                            s[8..16].copy_from_slice(&card.to_le_bytes());
                        }
                    });
                    refreshed = true;
                    card
                }
            }
        }
    };
    out.int(card as i64);
    // A refreshed cache changed the value: Redis propagates the PFCOUNT
    // (its dirty counter moved), so the log holds the same bytes. The row
    // is `readonly`, which the after-execution hook does not log itself.
    if refreshed && ctx.propagating() {
        ctx.propagate_as(vec![crate::argv!(b"PFCOUNT", key)]);
    }
    Ok(Outcome::Done)
}

fn pfmerge(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let limit = max_bytes(ctx);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let mut max = Box::new([0u8; REGISTERS]);
    let mut use_dense = false;
    // The destination counts among the inputs.
    for key in &argv[1..] {
        if let Some(e) = db.get_read(key, now) {
            let s = hll_bytes(e.value())?;
            use_dense |= s[4] == DENSE;
            merge(&mut max, s)?;
        }
    }
    let dest = argv[1];
    let (mut hll, created) = match db.get(dest, now) {
        Some(e) => (hll_bytes(e.value())?.to_vec(), false),
        None => (new_sparse(), true),
    };
    // Sparse stays sparse unless an input was dense (or it outgrows the
    // limit on the way).
    if use_dense {
        to_dense(&mut hll)?;
    }
    for (i, &c) in max.iter().enumerate() {
        if c != 0 {
            set(&mut hll, i, c, limit)?;
        }
    }
    invalidate(&mut hll);
    if created {
        store(db, dest, NewValue::Raw(&hll), None, now);
    } else {
        write_back(db, dest, now, &hll);
    }
    // Redis announces a merge as a PFADD (a mass add of elements).
    db.notify(class::STRING, "pfadd", dest);
    out.ok();
    Ok(Outcome::Done)
}

/// PFDEBUG DECODE's text: `z:N`, `Z:N`, `v:value,len` per opcode.
fn decode(code: &[u8]) -> String {
    let mut parts = Vec::new();
    walk(code, |_, op| {
        parts.push(match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::XZero(n) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        })
    });
    parts.join(" ")
}

fn pfdebug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (sub, key) = (argv[1], argv[2]);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(e) = db.get(key, now) else {
        return Err(errors::HLL_NO_KEY);
    };
    let s = hll_bytes(e.value())?;
    let sparse = s[4] == SPARSE;
    if is(sub, "getreg") || is(sub, "todense") {
        let mut hll = s.to_vec();
        if sparse {
            to_dense(&mut hll)?;
            // Redis bumps dirty here so the conversion propagates.
            write_back(db, key, now, &hll);
        }
        if is(sub, "todense") {
            out.int(i64::from(sparse));
        } else {
            out.array(REGISTERS);
            for i in 0..REGISTERS {
                out.int(i64::from(dense_get(&hll[HDR..], i)));
            }
        }
    } else if is(sub, "decode") {
        if !sparse {
            return Err(errors::HLL_NOT_SPARSE);
        }
        out.bulk(decode(&s[HDR..]).as_bytes());
    } else if is(sub, "encoding") {
        out.simple(if sparse { b"sparse" } else { b"dense" });
    } else {
        return Err(errors::pfdebug_unknown(sub));
    }
    Ok(Outcome::Done)
}

fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match selftest(0x5eed_1234) {
        Ok(()) => ctx.out.ok(),
        Err(msg) => return Err(Error::from(format!("TESTFAILED {msg}"))),
    }
    Ok(Outcome::Done)
}

/// PFSELFTEST's body, Redis's two checks at a smaller size: dense register
/// packing round-trips (every register, random values, several passes),
/// and a sparse HLL (promoting past the default limit) and a dense one fed
/// the same elements stay equal and within Redis's error bound.
pub fn selftest(mut seed: u64) -> Result<(), String> {
    let mut rand = move || {
        // xorshift64*: any decent sequence will do.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut want = vec![0u8; REGISTERS];
    for _ in 0..64 {
        for (i, w) in want.iter_mut().enumerate() {
            *w = (rand() & u64::from(REGISTER_MAX)) as u8;
            dense_put(&mut regs, i, *w);
        }
        for (i, &w) in want.iter().enumerate() {
            let got = dense_get(&regs, i);
            if got != w {
                return Err(format!("Register error at {i}: {got} != {w}"));
            }
        }
    }
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|_| "empty HLL is corrupt".to_string())?;
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 1u64;
    let salt = rand();
    for j in 1..=100_000u64 {
        let ele = (salt ^ j).to_le_bytes();
        let (i, c) = pat_len(&ele);
        set(&mut sparse, i, c, 3000).map_err(|_| "sparse HLL became corrupt".to_string())?;
        set(&mut dense, i, c, 3000).map_err(|_| "dense HLL became corrupt".to_string())?;
        if j == checkpoint {
            let a = count(&sparse).map_err(|_| "sparse HLL is corrupt".to_string())?;
            let b = count(&dense).map_err(|_| "dense HLL is corrupt".to_string())?;
            if a != b {
                return Err(format!(
                    "Sparse and dense estimates differ at {j}: {a} != {b}"
                ));
            }
            // Redis's bound: six standard errors, and 1 at 10 (where a
            // collision is likely enough to fail a wider bound by chance).
            let max_err = if j == 10 {
                1
            } else {
                (relerr * 6.0 * j as f64).ceil() as u64
            };
            if a.abs_diff(j) > max_err {
                return Err(format!("Approximation error too big at {j}: {a}"));
            }
            checkpoint *= 10;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hll_murmur_known_values() {
        // Empty input: only the length mixing and the finaliser.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", 0xadc8_3b19), murmur64a(b"b", 0xadc8_3b19));
    }

    #[test]
    fn hll_dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn hll_sparse_matches_dense() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for j in 0..500u32 {
            let (i, c) = pat_len(&j.to_le_bytes());
            set(&mut sparse, i, c, 1 << 20).unwrap();
            set(&mut dense, i, c, 1 << 20).unwrap();
        }
        assert_eq!(sparse[4], SPARSE);
        assert_eq!(count(&sparse).unwrap(), count(&dense).unwrap());
        let mut promoted = sparse.clone();
        to_dense(&mut promoted).unwrap();
        assert_eq!(promoted[HDR..], dense[HDR..]);
    }

    #[test]
    fn hll_empty_counts_zero_and_corrupt_is_refused() {
        assert_eq!(count(&new_sparse()).unwrap(), 0);
        let mut bad = new_sparse();
        bad.pop();
        assert_eq!(count(&bad), Err(Corrupt));
        assert!(is_hll(&new_sparse()));
        assert!(!is_hll(b"HYLL\x00"));
    }

    /// Arbitrary sparse codes (what SET can store under a HYLL header)
    /// give answers or `Corrupt`, never a panic.
    #[test]
    fn hll_corrupt_sparse_never_panics() {
        let mut seed = 7u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut v = new_sparse();
            v.truncate(HDR);
            for _ in 0..(rand() % 12) {
                v.push(rand() as u8);
            }
            let _ = count(&v);
            let _ = decode(&v[HDR..]);
            let mut max = Box::new([0u8; REGISTERS]);
            let _ = merge(&mut max, &v);
            let mut d = v.clone();
            let _ = to_dense(&mut d);
            for _ in 0..4 {
                let (i, c) = pat_len(&rand().to_le_bytes());
                if set(&mut v, i, c, 3000).is_err() {
                    break;
                }
            }
        }
    }

    #[test]
    fn hll_selftest_passes() {
        selftest(42).unwrap();
    }
}
