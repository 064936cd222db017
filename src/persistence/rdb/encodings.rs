//! The packed blobs inside RDB values: listpack (Redis 7), ziplist
//! (Redis ≤ 6.2), intset and zipmap (Redis ≤ 2.4), decoded with the checks
//! of Redis's deep sanitisation (`sanitize-dump-payload yes`): every entry
//! inside the blob, headers that agree with the contents, back-lengths and
//! previous-lengths that match. A decoder returns borrowed items, so the
//! number of items is bounded by the blob's size, never by a count in it.
//!
//! Also the listpack and intset encoders the writer uses.

use super::RdbError;
use crate::keyspace::types::list::{encode_into, lp_entry_size, put_backlen};

/// One element of a listpack or ziplist: Redis stores integers as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Item<'_> {
    /// Runs `f` on the element's bytes (integers formatted on the stack).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Item::Str(s) => f(s),
            Item::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }

    /// The element as an integer: a number, or bytes that parse as one.
    pub fn as_int(self) -> Option<i64> {
        match self {
            Item::Int(i) => Some(i),
            Item::Str(s) => crate::protocol::parse::parse_i64(s),
        }
    }
}

const fn corrupt(what: &'static str) -> RdbError {
    RdbError::Corrupt(what)
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |acc, &x| (acc << 8) | u64::from(x))
}

/// Sign-extends the low `bits` of `v`.
fn sext(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

// ---------------------------------------------------------------- listpack

const LP_HEADER: usize = 6;
const LP_EOF: u8 = 0xFF;
/// The element count in the header when it does not fit in 16 bits.
const LP_COUNT_UNKNOWN: usize = 65535;

/// Decodes and validates a whole listpack.
pub fn listpack(blob: &[u8]) -> Result<Vec<Item<'_>>, RdbError> {
    const BAD: RdbError = corrupt("listpack integrity check failed");
    if blob.len() < LP_HEADER + 1 || le(&blob[..4]) != blob.len() as u64 {
        return Err(BAD);
    }
    let count = le(&blob[4..6]) as usize;
    let end = blob.len() - 1;
    if blob[end] != LP_EOF {
        return Err(BAD);
    }
    let mut items = Vec::new();
    let mut p = LP_HEADER;
    while p < end {
        let (item, enc_len) = lp_entry(&blob[p..end]).ok_or(BAD)?;
        let mut back = [0u8; 5];
        let k = put_backlen(&mut back, enc_len);
        let after = p + enc_len;
        if blob.get(after..after + k) != Some(&back[..k]) || after + k > end {
            return Err(BAD);
        }
        items.push(item);
        p = after + k;
    }
    if count != LP_COUNT_UNKNOWN && count != items.len() {
        return Err(BAD);
    }
    Ok(items)
}

/// One entry at the start of `b` (which excludes the terminator): the item
/// and the size of its encoding plus data (without the back-length).
fn lp_entry(b: &[u8]) -> Option<(Item<'_>, usize)> {
    let e = *b.first()?;
    let int = |n: usize| -> Option<(Item<'_>, usize)> {
        let v = le(b.get(1..1 + n)?);
        Some((Item::Int(sext(v, 8 * n as u32)), 1 + n))
    };
    let string = |hdr: usize, len: usize| -> Option<(Item<'_>, usize)> {
        let end = hdr.checked_add(len)?;
        Some((Item::Str(b.get(hdr..end)?), end))
    };
    match e {
        0x00..=0x7F => Some((Item::Int(i64::from(e)), 1)),
        0x80..=0xBF => string(1, usize::from(e & 0x3F)),
        0xC0..=0xDF => {
            let v = (u64::from(e & 0x1F) << 8) | u64::from(*b.get(1)?);
            Some((Item::Int(sext(v, 13)), 2))
        }
        0xE0..=0xEF => string(2, (usize::from(e & 0x0F) << 8) | usize::from(*b.get(1)?)),
        0xF0 => string(5, le(b.get(1..5)?) as usize),
        0xF1 => int(2),
        0xF2 => int(3),
        0xF3 => int(4),
        0xF4 => int(8),
        _ => None,
    }
}

/// Builds a listpack the way Redis's `lpAppend` does: strings that are
/// canonical integers are stored as integers, in the smallest encoding.
/// Entries are encoded by the list type's encoder, the one the in-memory
/// nodes use.
pub struct ListpackWriter {
    entries: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackWriter {
    pub fn new() -> Self {
        ListpackWriter {
            entries: Vec::new(),
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn push(&mut self, v: &[u8]) {
        let start = self.entries.len();
        self.entries.resize(start + lp_entry_size(v), 0);
        encode_into(&mut self.entries[start..], v);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        self.push(itoa::Buffer::new().format(v).as_bytes());
    }

    /// The finished listpack.
    pub fn finish(self) -> Vec<u8> {
        listpack_of(&self.entries, self.count)
    }
}

/// A listpack around `entries` (already in listpack entry format):
/// header (total bytes, element count), the entries, the end byte.
pub fn listpack_of(entries: &[u8], count: usize) -> Vec<u8> {
    let total = LP_HEADER + entries.len() + 1;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(count.min(LP_COUNT_UNKNOWN) as u16).to_le_bytes());
    out.extend_from_slice(entries);
    out.push(LP_EOF);
    out
}

// ---------------------------------------------------------------- ziplist

const ZL_HEADER: usize = 10;
const ZL_END: u8 = 0xFF;
const ZL_BIGLEN: u8 = 254;

/// Decodes and validates a whole ziplist.
pub fn ziplist(blob: &[u8]) -> Result<Vec<Item<'_>>, RdbError> {
    const BAD: RdbError = corrupt("ziplist integrity check failed");
    if blob.len() < ZL_HEADER + 1 || le(&blob[..4]) != blob.len() as u64 {
        return Err(BAD);
    }
    let tail = le(&blob[4..8]) as usize;
    let count = le(&blob[8..10]) as usize;
    let end = blob.len() - 1;
    if blob[end] != ZL_END {
        return Err(BAD);
    }
    let mut items = Vec::new();
    let (mut p, mut prev_len, mut last) = (ZL_HEADER, 0usize, ZL_HEADER);
    while p < end {
        let (prevlen, hdr) = match blob[p] {
            ZL_BIGLEN => (le(blob.get(p + 1..p + 5).ok_or(BAD)?) as usize, 5),
            b => (usize::from(b), 1),
        };
        if prevlen != prev_len {
            return Err(BAD);
        }
        let (item, len) = zl_entry(blob.get(p + hdr..end).ok_or(BAD)?).ok_or(BAD)?;
        items.push(item);
        last = p;
        prev_len = hdr + len;
        p += prev_len;
    }
    if p != end || last != tail || (count != usize::from(u16::MAX) && count != items.len()) {
        return Err(BAD);
    }
    Ok(items)
}

/// The entry after its prevlen: the item and its encoding plus data size.
fn zl_entry(b: &[u8]) -> Option<(Item<'_>, usize)> {
    let e = *b.first()?;
    let string = |hdr: usize, len: usize| -> Option<(Item<'_>, usize)> {
        let end = hdr.checked_add(len)?;
        Some((Item::Str(b.get(hdr..end)?), end))
    };
    let int = |n: usize| -> Option<(Item<'_>, usize)> {
        let v = le(b.get(1..1 + n)?);
        Some((Item::Int(sext(v, 8 * n as u32)), 1 + n))
    };
    match e >> 6 {
        0 => string(1, usize::from(e & 0x3F)),
        1 => string(2, (usize::from(e & 0x3F) << 8) | usize::from(*b.get(1)?)),
        2 => {
            let len = b
                .get(1..5)?
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x));
            string(5, len)
        }
        _ => match e {
            0xC0 => int(2),
            0xD0 => int(4),
            0xE0 => int(8),
            0xF0 => int(3),
            0xFE => int(1),
            0xF1..=0xFD => Some((Item::Int(i64::from(e & 0x0F) - 1), 1)),
            _ => None,
        },
    }
}

// ---------------------------------------------------------------- intset

/// Decodes and validates an intset: a known width, a size that matches the
/// count, strictly ascending members.
pub fn intset(blob: &[u8]) -> Result<Vec<i64>, RdbError> {
    const BAD: RdbError = corrupt("intset integrity check failed");
    if blob.len() < 8 {
        return Err(BAD);
    }
    let width = le(&blob[..4]) as usize;
    let count = le(&blob[4..8]) as usize;
    if !matches!(width, 2 | 4 | 8)
        || (blob.len() - 8) / width != count
        || (blob.len() - 8) % width != 0
    {
        return Err(BAD);
    }
    let vals: Vec<i64> = blob[8..]
        .chunks_exact(width)
        .map(|c| sext(le(c), 8 * width as u32))
        .collect();
    if vals.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BAD);
    }
    Ok(vals)
}

/// An intset of `vals` (ascending, distinct), at the narrowest width.
pub fn encode_intset(vals: &[i64]) -> Vec<u8> {
    let width: usize = if vals.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if vals.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + vals.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(vals.len() as u32).to_le_bytes());
    for v in vals {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

// ---------------------------------------------------------------- zipmap

/// A field and its value, borrowed from the blob.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes and validates a zipmap (hashes of RDB ≤ 3) into field/value pairs.
pub fn zipmap(blob: &[u8]) -> Result<Vec<Pair<'_>>, RdbError> {
    const BAD: RdbError = corrupt("zipmap integrity check failed");
    let zmlen = usize::from(*blob.first().ok_or(BAD)?);
    let mut p = 1;
    let len_at = |p: &mut usize| -> Result<Option<usize>, RdbError> {
        match *blob.get(*p).ok_or(BAD)? {
            0xFF => Ok(None),
            ZL_BIGLEN => {
                let v = le(blob.get(*p + 1..*p + 5).ok_or(BAD)?) as usize;
                *p += 5;
                Ok(Some(v))
            }
            b => {
                *p += 1;
                Ok(Some(usize::from(b)))
            }
        }
    };
    let take = |p: &mut usize, n: usize| -> Result<&[u8], RdbError> {
        let s = blob.get(*p..p.checked_add(n).ok_or(BAD)?).ok_or(BAD)?;
        *p += n;
        Ok(s)
    };
    let mut pairs = Vec::new();
    while let Some(klen) = len_at(&mut p)? {
        let k = take(&mut p, klen)?;
        let vlen = len_at(&mut p)?.ok_or(BAD)?;
        let free = usize::from(*take(&mut p, 1)?.first().ok_or(BAD)?);
        let v = take(&mut p, vlen)?;
        take(&mut p, free)?;
        pairs.push((k, v));
    }
    if p + 1 != blob.len() || (zmlen < usize::from(ZL_BIGLEN) && zmlen != pairs.len()) {
        return Err(BAD);
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trips_every_encoding() {
        let ints = [
            0,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            8_388_607,
            -8_388_608,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let big = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let mut w = ListpackWriter::new();
        for i in ints {
            w.push_int(i);
        }
        w.push(b"");
        w.push(b"abc");
        w.push(&mid);
        w.push(&big);
        w.push(b"007");
        let lp = w.finish();
        let items = listpack(&lp).expect("our own listpack is valid");
        let mut want: Vec<Item<'_>> = ints.iter().map(|&i| Item::Int(i)).collect();
        want.extend([
            Item::Str(b""),
            Item::Str(b"abc"),
            Item::Str(&mid),
            Item::Str(&big),
            Item::Str(b"007"),
        ]);
        assert_eq!(items, want);
    }

    #[test]
    fn listpack_flaws_are_refused() {
        let mut w = ListpackWriter::new();
        w.push(b"hello");
        w.push_int(300);
        let lp = w.finish();
        for i in 0..lp.len() {
            let mut bad = lp.clone();
            bad[i] ^= 0x40;
            // A flipped bit either still decodes to something valid (a
            // different string byte) or is refused; never a panic.
            let _ = listpack(&bad);
        }
        assert!(listpack(&lp[..lp.len() - 1]).is_err());
        let mut wrong_count = lp.clone();
        wrong_count[4] = 3;
        assert!(listpack(&wrong_count).is_err());
    }

    #[test]
    fn ziplist_checks_every_bound() {
        // Two entries: "ab" and the immediate integer 5.
        let mut zl = vec![0u8; 10];
        zl.extend_from_slice(&[0x00, 0x02, b'a', b'b', 0x04, 0xF6, 0xFF]);
        let n = zl.len() as u32;
        zl[..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&14u32.to_le_bytes());
        zl[8..10].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(
            ziplist(&zl).expect("valid"),
            vec![Item::Str(b"ab"), Item::Int(5)]
        );
        let mut wrong_prev = zl.clone();
        wrong_prev[14] = 3;
        assert!(ziplist(&wrong_prev).is_err());
        let mut wrong_tail = zl.clone();
        wrong_tail[4] = 10;
        assert!(ziplist(&wrong_tail).is_err());
        // A 5-byte prevlen whose header runs into the terminator.
        let mut cut = vec![15, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0xFE, 1, 0, 0, 0xFF];
        assert!(ziplist(&cut).is_err());
        cut[10] = 0x00;
        assert!(ziplist(&cut).is_err());
    }

    #[test]
    fn intset_checks_order_and_size() {
        let good = encode_intset(&[-5, 1, 300]);
        assert_eq!(intset(&good).expect("valid"), vec![-5, 1, 300]);
        assert!(intset(&encode_intset(&[3, 1])).is_err());
        assert!(intset(&good[..good.len() - 1]).is_err());
        assert_eq!(encode_intset(&[1 << 40])[0], 8);
    }
}
