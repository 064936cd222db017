//! Bitmap group: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, all on string values with Redis's `bitops.c` semantics
//! (bit 0 is the most significant bit of the first byte).
//!
//! Writes first work out their result against the stored bytes plus a
//! small [`Overlay`] of the bytes they would change, so a command that
//! changes nothing writes nothing: no dirty count, no propagated effect, no
//! broken WATCH, as in Redis 7.2. Changed bytes then go into the value in
//! place when it is raw and long enough; growing it uses the block's spare
//! room or rebuilds it with room to grow (`Entry::grow_raw`, Redis's greedy
//! sdsgrowzero), so a bitmap grown a bit at a time is not copied on every
//! SETBIT; `Db::modify` keeps the memory accounting exact.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::string::{store, string_bytes};
use super::{Ctx, Outcome};
use crate::keyspace::notify::class;
use crate::keyspace::{Db, NewValue, ValueRef};
use crate::protocol::parse::parse_i64;

const G: Group = Group::Bitmap;

const BITFIELD_COMPLEXITY: &str = "O(1) for each subcommand specified";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, G, setbit)
        .keys(1, 1, 1)
        .doc(
            "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
            "2.2.0",
            "O(1)",
        ),
    CommandSpec::new("getbit", 3, READONLY | FAST, G, getbit)
        .keys(1, 1, 1)
        .doc("Returns a bit value by offset.", "2.2.0", "O(1)"),
    CommandSpec::new("bitcount", -2, READONLY, G, bitcount)
        .keys(1, 1, 1)
        .doc(
            "Counts the number of set bits (population counting) in a string.",
            "2.6.0",
            "O(N)",
        ),
    CommandSpec::new("bitpos", -3, READONLY, G, bitpos)
        .keys(1, 1, 1)
        .doc(
            "Finds the first set (1) or clear (0) bit in a string.",
            "2.8.7",
            "O(N)",
        ),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, G, bitop)
        .keys(2, -1, 1)
        .doc(
            "Performs bitwise operations on multiple strings, and stores the result.",
            "2.6.0",
            "O(N)",
        ),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, G, bitfield)
        .keys(1, 1, 1)
        .doc(
            "Performs arbitrary bitfield integer operations on strings.",
            "3.2.0",
            BITFIELD_COMPLEXITY,
        ),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, G, bitfield_ro)
        .keys(1, 1, 1)
        .doc(
            "Performs arbitrary read-only bitfield integer operations on strings.",
            "6.0.0",
            BITFIELD_COMPLEXITY,
        ),
];

/// Redis's `getBitOffsetFromArgument`: a bit offset whose byte is below
/// proto-max-bulk-len (2^32 bits by default). With a field `width`
/// (BITFIELD), `#N` means N fields of that width.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], width: Option<u32>) -> Result<u64, Error> {
    let max = ctx.srv.hot.proto_max_bulk_len.load(Ordering::Relaxed);
    let (digits, times) = match (arg.first(), width) {
        (Some(b'#'), Some(w)) => (&arg[1..], i64::from(w)),
        _ => (arg, 1),
    };
    // Redis 7.2 multiplies without an overflow check (later versions
    // refuse): an overflowing `#N` is refused here.
    match parse_i64(digits).and_then(|n| n.checked_mul(times)) {
        Some(n) if n >= 0 && (n as u64 >> 3) < max => Ok(n as u64),
        _ => Err(errors::BIT_OFFSET),
    }
}

/// Stores `writes` (byte index, value) into the string at `key`, first
/// zero-extended to at least `len` bytes (Redis's `sdsgrowzero`); creates
/// the key when missing. The caller has checked that the key holds a
/// string.
///
/// `exists`: the caller's lookup found the key; when it did not, the
/// string is created without a second lookup (a new bitmap costs a lookup
/// and an insert, as Redis's lookupKeyWrite + dbAdd).
fn write_bytes(
    db: &mut Db,
    key: &[u8],
    now: i64,
    len: usize,
    writes: &[(usize, u8)],
    exists: bool,
) {
    let apply = |s: &mut [u8]| {
        for &(i, b) in writes {
            s[i] = b;
        }
    };
    let done = exists
        .then(|| {
            db.modify_with(key, now, false, |e| {
                // In place, or grown with room to spare (sdsgrowzero).
                if let Some(s) = e.grow_raw(len) {
                    apply(s);
                } else if let ValueRef::Int(n) = e.value() {
                    // Redis's dbUnshareStringValue: the digits as raw bytes.
                    let mut buf = itoa::Buffer::new();
                    let digits = buf.format(n).as_bytes().to_vec();
                    e.replace_value(NewValue::Raw(&digits));
                    if let Some(s) = e.grow_raw(len) {
                        apply(s);
                    }
                }
            })
        })
        .flatten();
    if done.is_none() {
        let mut s = vec![0u8; len];
        apply(&mut s);
        store(db, key, NewValue::Raw(&s), None, now);
    }
}

fn setbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, argv[2], None)?;
    let on = match parse_i64(argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(errors::BIT_VALUE),
    };
    let key = argv[1];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let mut buf = itoa::Buffer::new();
    let (old, len) = match db.get(key, now) {
        None => (0, None),
        Some(e) => {
            let s = string_bytes(e.value(), &mut buf)?;
            (s.get(byte).copied().unwrap_or(0), Some(s.len()))
        }
    };
    let was = old & mask != 0;
    // Redis writes (and propagates) only when the key is created, grows,
    // or the bit flips.
    if len.is_none_or(|l| l <= byte) || was != on {
        let new = if on { old | mask } else { old & !mask };
        write_bytes(db, key, now, byte + 1, &[(byte, new)], len.is_some());
        db.notify(class::STRING, "setbit", key);
    } else {
        db.mark_raw(key);
    }
    out.int(i64::from(was));
    Ok(Outcome::Done)
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, argv[2], None)?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let bit = match db.get_read(argv[1], now) {
        None => 0,
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            let s = string_bytes(e.value(), &mut buf)?;
            s.get((offset >> 3) as usize)
                .map_or(0, |b| (b >> (7 - (offset & 7))) & 1)
        }
    };
    out.int(i64::from(bit));
    Ok(Outcome::Done)
}

/// Resolves `[start, end]` over `total` units the way BITCOUNT and BITPOS
/// do (negative counts from the end, then clamped); `None` when empty.
fn clamp_range(mut start: i64, mut end: i64, total: i64) -> Option<(u64, u64)> {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start <= end).then_some((start as u64, end as u64))
}

/// The BYTE|BIT unit argument: whether indexes count bits.
fn unit_is_bit(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

/// A clamped range in `unit_is_bit` units, as inclusive bit positions.
fn bit_span((start, end): (u64, u64), bits: bool) -> (u64, u64) {
    if bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    }
}

fn word(c: &[u8]) -> u64 {
    u64::from_ne_bytes(c.try_into().expect("chunks_exact(8) yields 8 bytes"))
}

/// Set bits in `s`, a word at a time.
fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let words: u64 = chunks
        .by_ref()
        .map(|c| u64::from(word(c).count_ones()))
        .sum();
    let rest: u64 = chunks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    words + rest
}

/// Set bits between bit positions `lo` and `hi` (inclusive, within `s`).
fn count_bits(s: &[u8], lo: u64, hi: u64) -> u64 {
    let (lb, hb) = ((lo / 8) as usize, (hi / 8) as usize);
    let before = s[lb] & !(0xFFu8 >> (lo % 8));
    let after = s[hb] & !(0xFFu8 << (7 - hi % 8));
    popcount(&s[lb..=hb]) - u64::from(before.count_ones()) - u64::from(after.count_ones())
}

/// Index of the first byte of `s` other than `skip`, a word at a time.
fn first_byte_not(s: &[u8], skip: u8) -> Option<usize> {
    let all = u64::from_ne_bytes([skip; 8]);
    let mut at = 0;
    for c in s.chunks_exact(8) {
        if word(c) != all {
            break;
        }
        at += 8;
    }
    s[at..].iter().position(|&b| b != skip).map(|i| at + i)
}

/// The first bit equal to `bit` between positions `lo` and `hi`
/// (inclusive, within `s`).
fn first_bit(s: &[u8], bit: bool, lo: u64, hi: u64) -> Option<u64> {
    let (lb, hb) = ((lo / 8) as usize, (hi / 8) as usize);
    // The byte with the bits we look for set, the out-of-range ones cleared.
    let look = |i: usize| {
        let mut v = if bit { s[i] } else { !s[i] };
        if i == lb {
            v &= 0xFF >> (lo % 8);
        }
        if i == hb {
            v &= 0xFF << (7 - hi % 8);
        }
        v
    };
    let found = |i: usize, v: u8| Some(i as u64 * 8 + u64::from(v.leading_zeros()));
    let v = look(lb);
    if v != 0 {
        return found(lb, v);
    }
    if lb == hb {
        return None;
    }
    let skip = if bit { 0x00 } else { 0xFF };
    if let Some(i) = first_byte_not(&s[lb + 1..hb], skip) {
        let i = lb + 1 + i;
        return found(i, look(i));
    }
    let v = look(hb);
    if v != 0 {
        return found(hb, v);
    }
    None
}

/// BITCOUNT key [start end [BYTE|BIT]], with Redis 7.2's order: the
/// arguments are checked before the key is looked up.
fn bitcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let range = match argv.len() {
        2 => None,
        4 | 5 => {
            let start = args::int(argv[2])?;
            let end = args::int(argv[3])?;
            let bits = match argv.get(4) {
                Some(a) => unit_is_bit(a)?,
                None => false,
            };
            Some((start, end, bits))
        }
        _ => return Err(errors::SYNTAX),
    };
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(e) = db.get_read(argv[1], now) else {
        out.int(0);
        return Ok(Outcome::Done);
    };
    let mut buf = itoa::Buffer::new();
    let s = string_bytes(e.value(), &mut buf)?;
    let n = match range {
        None => popcount(s),
        // Both from the end and crossed: empty whatever the length.
        Some((start, end, _)) if start < 0 && end < 0 && start > end => 0,
        Some((start, end, bits)) => {
            let total = s.len() as i64 * if bits { 8 } else { 1 };
            match clamp_range(start, end, total) {
                None => 0,
                Some(r) => {
                    let (lo, hi) = bit_span(r, bits);
                    count_bits(s, lo, hi)
                }
            }
        }
    };
    out.int(n as i64);
    Ok(Outcome::Done)
}

/// BITPOS key bit [start [end [BYTE|BIT]]]. A missing key is all zeros;
/// a clear bit is found just past the string unless `end` was given.
fn bitpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let bit = match args::int(argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(errors::BITPOS_BIT),
    };
    if argv.len() > 6 {
        return Err(errors::SYNTAX);
    }
    let start = match argv.get(3) {
        Some(a) => args::int(a)?,
        None => 0,
    };
    // Redis reads the unit before `end`.
    let bits = match argv.get(5) {
        Some(a) => unit_is_bit(a)?,
        None => false,
    };
    let end = match argv.get(4) {
        Some(a) => Some(args::int(a)?),
        None => None,
    };
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(e) = db.get_read(argv[1], now) else {
        out.int(if bit { -1 } else { 0 });
        return Ok(Outcome::Done);
    };
    let mut buf = itoa::Buffer::new();
    let s = string_bytes(e.value(), &mut buf)?;
    let total = s.len() as i64 * if bits { 8 } else { 1 };
    let pos = match clamp_range(start, end.unwrap_or(total - 1), total) {
        None => -1,
        Some(r) => {
            let (lo, hi) = bit_span(r, bits);
            match first_bit(s, bit, lo, hi) {
                Some(p) => p as i64,
                None if bit || end.is_some() => -1,
                None => hi as i64 + 1,
            }
        }
    };
    out.int(pos);
    Ok(Outcome::Done)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP op dest src…: missing sources are zeros, the result is as long
/// as the longest source, and an empty result deletes `dest`.
fn bitop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let op = match argv[1] {
        a if is(a, "and") => BitOp::And,
        a if is(a, "or") => BitOp::Or,
        a if is(a, "xor") => BitOp::Xor,
        a if is(a, "not") => BitOp::Not,
        _ => return Err(errors::SYNTAX),
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(errors::BITOP_NOT_ONE_KEY);
    }
    let (dest, srcs) = (argv[2], &argv[3..]);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    // First pass: lookups (hits, misses, lazy expiry) and type checks.
    let mut maxlen = 0;
    for key in srcs {
        let len = match db.get_read(key, now).map(|e| e.value()) {
            None => 0,
            Some(ValueRef::Str(s)) => s.len(),
            Some(ValueRef::Int(n)) => itoa::Buffer::new().format(n).len(),
            Some(ValueRef::Obj(_)) => return Err(errors::WRONGTYPE),
        };
        maxlen = maxlen.max(len);
    }
    if maxlen == 0 {
        if db.exists(dest, now) {
            db.remove(dest);
            db.notify(class::GENERIC, "del", dest);
        }
        out.int(0);
        return Ok(Outcome::Done);
    }
    let mut res = vec![0u8; maxlen];
    let mut buf = itoa::Buffer::new();
    for (j, key) in srcs.iter().enumerate() {
        let s: &[u8] = match db.peek(key) {
            Some(e) => string_bytes(e.value(), &mut buf)?,
            None => &[],
        };
        match op {
            BitOp::Not => res.iter_mut().zip(s).for_each(|(r, b)| *r = !b),
            _ if j == 0 => res[..s.len()].copy_from_slice(s),
            BitOp::And => {
                res.iter_mut().zip(s).for_each(|(r, b)| *r &= b);
                res[s.len()..].fill(0);
            }
            BitOp::Or => res.iter_mut().zip(s).for_each(|(r, b)| *r |= b),
            BitOp::Xor => res.iter_mut().zip(s).for_each(|(r, b)| *r ^= b),
        }
    }
    store(db, dest, NewValue::Raw(&res), None, now);
    db.notify(class::STRING, "set", dest);
    out.int(maxlen as i64);
    Ok(Outcome::Done)
}

/// What BITFIELD does on overflow, for the operations after `OVERFLOW`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Get,
    Set,
    Incrby,
}

#[derive(Clone, Copy)]
struct FieldOp {
    kind: FieldKind,
    signed: bool,
    bits: u32,
    offset: u64,
    /// SET's value or INCRBY's increment.
    value: i64,
    overflow: Overflow,
}

/// Redis's `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`
/// (lowercase only).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(errors::BITFIELD_TYPE),
    };
    // Redis reads the width as a C string: it ends at a NUL byte.
    let rest = &arg[1..];
    let digits = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
    let max = if signed { 64 } else { 63 };
    match parse_i64(digits) {
        Some(n) if (1..=max).contains(&n) => Ok((signed, n as u32)),
        _ => Err(errors::BITFIELD_TYPE),
    }
}

/// Parses BITFIELD's operations; the second value is the highest bit a
/// SET or INCRBY reaches (`None`: only GETs).
fn parse_field_ops(ctx: &Ctx<'_>, argv: &[&[u8]]) -> Result<(Vec<FieldOp>, Option<u64>), Error> {
    let mut ops = Vec::new();
    let mut highest: Option<u64> = None;
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let rest = argv.len() - j - 1;
        let sub = argv[j];
        let kind = if is(sub, "get") && rest >= 2 {
            FieldKind::Get
        } else if is(sub, "set") && rest >= 3 {
            FieldKind::Set
        } else if is(sub, "incrby") && rest >= 3 {
            FieldKind::Incrby
        } else if is(sub, "overflow") && rest >= 1 {
            let a = argv[j + 1];
            overflow = if is(a, "wrap") {
                Overflow::Wrap
            } else if is(a, "sat") {
                Overflow::Sat
            } else if is(a, "fail") {
                Overflow::Fail
            } else {
                return Err(errors::BITFIELD_OVERFLOW);
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX);
        };
        let (signed, bits) = field_type(argv[j + 1])?;
        let offset = bit_offset(ctx, argv[j + 2], Some(bits))?;
        let mut value = 0;
        if kind == FieldKind::Get {
            j += 3;
        } else {
            let top = offset + u64::from(bits) - 1;
            highest = Some(highest.map_or(top, |h| h.max(top)));
            value = args::int(argv[j + 3])?;
            j += 4;
        }
        ops.push(FieldOp {
            kind,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
    }
    Ok((ops, highest))
}

/// The stored bytes (zeros past their end) with the bytes this command
/// has changed so far on top.
struct Overlay<'a> {
    base: &'a [u8],
    writes: BTreeMap<usize, u8>,
}

impl Overlay<'_> {
    fn byte(&self, i: usize) -> u8 {
        match self.writes.get(&i) {
            Some(&b) => b,
            None => self.base.get(i).copied().unwrap_or(0),
        }
    }

    fn get(&self, offset: u64, bits: u32) -> u64 {
        (offset..offset + u64::from(bits)).fold(0, |v, p| {
            let b = (self.byte((p >> 3) as usize) >> (7 - (p & 7))) & 1;
            (v << 1) | u64::from(b)
        })
    }

    fn get_signed(&self, offset: u64, bits: u32) -> i64 {
        let mut v = self.get(offset, bits);
        if bits < 64 && v & (1 << (bits - 1)) != 0 {
            v |= u64::MAX << bits;
        }
        v as i64
    }

    /// Writes the low `bits` bits of `value`.
    fn set(&mut self, offset: u64, bits: u32, value: u64) {
        for k in 0..u64::from(bits) {
            let p = offset + k;
            let on = (value >> (u64::from(bits) - 1 - k)) & 1 == 1;
            let i = (p >> 3) as usize;
            let mask = 0x80u8 >> (p & 7);
            let b = self.byte(i);
            self.writes.insert(i, if on { b | mask } else { b & !mask });
        }
    }
}

/// Redis's `checkUnsignedBitfieldOverflow` (with its exact arithmetic):
/// the value to store instead when `value + incr` leaves the field.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, how: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrapped = value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if how == Overflow::Sat { max } else { wrapped })
    } else if incr < 0 && incr < minincr {
        Some(if how == Overflow::Sat { 0 } else { wrapped })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, quirks included (its bounds are
/// computed with wrapping arithmetic, which a few extreme SET values hit).
fn signed_overflow(value: i64, incr: i64, bits: u32, how: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrapped = {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            // Sign-extend from the field's top bit.
            let high = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c | high
            } else {
                c & !high
            }
        } else {
            c
        }
    } as i64;
    let wide = bits == 64;
    if value > max || (!wide && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if how == Overflow::Sat { max } else { wrapped })
    } else if value < min || (!wide && incr < minincr) || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if how == Overflow::Sat { min } else { wrapped })
    } else {
        None
    }
}

impl FieldOp {
    /// Runs the operation: its reply (`None`: refused by OVERFLOW FAIL)
    /// and whether it changed the field.
    fn run(&self, view: &mut Overlay<'_>) -> (Option<i64>, bool) {
        let (offset, bits, incr) = (self.offset, self.bits, self.kind == FieldKind::Incrby);
        if self.kind == FieldKind::Get {
            let v = if self.signed {
                view.get_signed(offset, bits)
            } else {
                view.get(offset, bits) as i64
            };
            return (Some(v), false);
        }
        let (old, new, reply, overflowed) = if self.signed {
            let old = view.get_signed(offset, bits);
            if incr {
                let o = signed_overflow(old, self.value, bits, self.overflow);
                let new = o.unwrap_or(old.wrapping_add(self.value));
                (old as u64, new as u64, new, o.is_some())
            } else {
                let o = signed_overflow(self.value, 0, bits, self.overflow);
                (old as u64, o.unwrap_or(self.value) as u64, old, o.is_some())
            }
        } else {
            let old = view.get(offset, bits);
            if incr {
                let o = unsigned_overflow(old, self.value, bits, self.overflow);
                let new = o.unwrap_or(old.wrapping_add_signed(self.value));
                (old, new, new as i64, o.is_some())
            } else {
                let o = unsigned_overflow(self.value as u64, 0, bits, self.overflow);
                (old, o.unwrap_or(self.value as u64), old as i64, o.is_some())
            }
        };
        if overflowed && self.overflow == Overflow::Fail {
            return (None, false);
        }
        view.set(offset, bits, new);
        (Some(reply), old != new)
    }
}

fn bitfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, argv, true)
}

/// BITFIELD and BITFIELD_RO: every operation is parsed (and every error
/// found) before the key is looked up. A write grows the string to the
/// highest bit any SET/INCRBY reaches, even when OVERFLOW FAIL then
/// refuses them all, as Redis does.
fn bitfield_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], read_only: bool) -> CmdResult {
    let (ops, highest) = parse_field_ops(ctx, argv)?;
    if read_only && highest.is_some() {
        return Err(errors::BITFIELD_RO_GET_ONLY);
    }
    let key = argv[1];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let mut buf = itoa::Buffer::new();
    let Some(highest) = highest else {
        let base: &[u8] = match db.get_read(key, now) {
            Some(e) => string_bytes(e.value(), &mut buf)?,
            None => &[],
        };
        let mut view = Overlay {
            base,
            writes: BTreeMap::new(),
        };
        out.array(ops.len());
        for op in &ops {
            match op.run(&mut view).0 {
                Some(v) => out.int(v),
                None => out.null(),
            }
        }
        return Ok(Outcome::Done);
    };
    let (base, exists): (&[u8], bool) = match db.get(key, now) {
        Some(e) => (string_bytes(e.value(), &mut buf)?, true),
        None => (&[], false),
    };
    let len = base.len().max((highest >> 3) as usize + 1);
    let grows = !exists || base.len() < len;
    let mut view = Overlay {
        base,
        writes: BTreeMap::new(),
    };
    let mut changed = false;
    let replies: Vec<Option<i64>> = ops
        .iter()
        .map(|op| {
            let (reply, ch) = op.run(&mut view);
            changed |= ch;
            reply
        })
        .collect();
    let writes: Vec<(usize, u8)> = view.writes.into_iter().collect();
    if grows || changed {
        write_bytes(db, key, now, len, &writes, exists);
        db.notify(class::STRING, "setbit", key);
    }
    out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => out.int(v),
            None => out.null(),
        }
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_count(s: &[u8], lo: u64, hi: u64) -> u64 {
        (lo..=hi)
            .filter(|&p| s[(p / 8) as usize] & (0x80 >> (p % 8)) != 0)
            .count() as u64
    }

    fn naive_first(s: &[u8], bit: bool, lo: u64, hi: u64) -> Option<u64> {
        (lo..=hi).find(|&p| (s[(p / 8) as usize] & (0x80 >> (p % 8)) != 0) == bit)
    }

    #[test]
    fn bit_scans_match_a_naive_walk() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..300 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = 1 + (seed % 40) as usize;
            // Mostly-uniform strings exercise the word-at-a-time skips.
            let fill = if round % 3 == 0 { 0x00 } else { 0xFF };
            let mut s = vec![fill; len];
            s[(seed >> 8) as usize % len] = (seed >> 16) as u8;
            let total = len as u64 * 8;
            let lo = (seed >> 24) % total;
            let hi = lo + (seed >> 32) % (total - lo);
            assert_eq!(count_bits(&s, lo, hi), naive_count(&s, lo, hi));
            for bit in [false, true] {
                assert_eq!(first_bit(&s, bit, lo, hi), naive_first(&s, bit, lo, hi));
            }
        }
        assert_eq!(popcount(&[0xFF; 19]), 152);
    }

    #[test]
    fn field_overflow_rules() {
        use Overflow::*;
        assert_eq!(unsigned_overflow(250, 10, 8, Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Sat), Some(0));
        assert_eq!(unsigned_overflow(5, -5, 8, Wrap), None);
        assert_eq!(signed_overflow(120, 10, 8, Wrap), Some(-126));
        assert_eq!(signed_overflow(120, 10, 8, Sat), Some(127));
        assert_eq!(signed_overflow(-120, -10, 8, Sat), Some(-128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(1, 1, 64, Wrap), None);
    }

    #[test]
    fn field_types() {
        assert_eq!(field_type(b"i64"), Ok((true, 64)));
        assert_eq!(field_type(b"u63"), Ok((false, 63)));
        assert!(field_type(b"u64").is_err());
        assert!(field_type(b"i0").is_err());
        assert!(field_type(b"I8").is_err());
        assert!(field_type(b"").is_err());
    }
}
