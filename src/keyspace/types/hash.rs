//! The hash value: a field → value map in one of Redis's two encodings.
//!
//! Small hashes are a [`ListPack`] of `field, value, field, value, …` in
//! insertion order (what Redis's listpack encoding replies in, so HGETALL
//! order matches Redis). A hash converts to a table once it holds more than
//! `hash-max-listpack-entries` pairs or gets a field/value longer than
//! `hash-max-listpack-value`, and never converts back, as in Redis.
//!
//! The table stores each pair in ONE allocation (`varint(field len) ++
//! field ++ value`) so a pair costs one allocator block plus a 16-byte slot,
//! instead of two strings with their own headers.

use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::keyspace::entry::alloc_class;
use crate::keyspace::listpack::ListPack;
use crate::keyspace::value::Thresholds;

use super::FIELD_HASHER;

#[derive(Debug, Clone)]
enum Repr {
    Pack(ListPack),
    Table(Box<Table>),
}

/// The large encoding: pairs in `1 << depth` segments chosen by the top
/// bits of the field's hash. A segment covers a contiguous range of hash
/// values and doubling only splits ranges, so HSCAN's cursor ("every field
/// hashing below it was returned") survives growth, and a scan step reads
/// only the segments it returns.
///
/// Segments are reference-counted so that a snapshot can share them
/// (`HashValue::clone`): a write to a segment the snapshot still holds
/// copies that segment (at most about [`SEG_MAX`] pairs), never the whole
/// hash.
#[derive(Debug, Clone)]
struct Table {
    segs: Vec<Arc<Seg>>,
    depth: u32,
    len: usize,
    /// Sum of `alloc_class` of every pair's block.
    payload: usize,
    /// Sum of the segments' own bytes (their `Arc` blocks and tables).
    seg_bytes: usize,
}

/// Pairs per segment before the table doubles its segment count.
const SEG_MAX: usize = 128;

/// One segment of a large hash (see `Table`).
#[derive(Debug, Clone, Default)]
pub struct Seg {
    map: HashTable<Box<[u8]>>,
}

impl Seg {
    fn mem(&self) -> usize {
        alloc_class(16 + std::mem::size_of::<Seg>()) + table_bytes(self.map.capacity())
    }
}

#[inline]
fn inner_hash(h: u64) -> u64 {
    // hashbrown takes its tag from the top bits, which are the segment
    // prefix here and so alike within a segment: remix first.
    h.rotate_left(26).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn field_hash(field: &[u8]) -> u64 {
    FIELD_HASHER.hash_one(field)
}

#[derive(Debug, Clone)]
pub struct HashValue {
    repr: Repr,
}

/// Splits a pair block into (field, value).
#[inline]
fn split(block: &[u8]) -> (&[u8], &[u8]) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = 0;
    loop {
        let b = block[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (&block[p..p + n], &block[p + n..])
}

fn make_block(field: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut v = Vec::with_capacity(10 + field.len() + value.len());
    let mut n = field.len();
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
    v.extend_from_slice(field);
    v.extend_from_slice(value);
    v.into_boxed_slice()
}

/// Bytes hashbrown allocates for a table of this capacity (slots + control bytes).
fn table_bytes(cap: usize) -> usize {
    if cap == 0 {
        return 0;
    }
    let buckets = if cap < 4 {
        4
    } else if cap < 8 {
        8
    } else {
        (cap * 8 / 7).next_power_of_two()
    };
    alloc_class(buckets * std::mem::size_of::<Box<[u8]>>() + buckets + 16)
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        let mut t = Table {
            segs: vec![Arc::default()],
            depth: 0,
            len: 0,
            payload: 0,
            seg_bytes: 0,
        };
        while t.segs.len() * SEG_MAX < n {
            t.grow();
        }
        t.seg_bytes = t.segs.iter().map(|s| s.mem()).sum();
        t
    }

    #[inline]
    fn seg_of(&self, h: u64) -> usize {
        if self.depth == 0 {
            0
        } else {
            (h >> (64 - self.depth)) as usize
        }
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let h = field_hash(field);
        self.segs[self.seg_of(h)]
            .map
            .find(inner_hash(h), |b| split(b).0 == field)
            .map(|b| split(b).1)
    }

    /// Inserts or replaces; true when the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let h = field_hash(field);
        let block = make_block(field, value);
        self.payload += alloc_class(block.len());
        let i = self.seg_of(h);
        let seg = Arc::make_mut(&mut self.segs[i]);
        let before = seg.mem();
        let new = match seg.map.entry(
            inner_hash(h),
            |b| split(b).0 == field,
            |b| inner_hash(field_hash(split(b).0)),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                self.payload -= alloc_class(o.get().len());
                *o.get_mut() = block;
                false
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(block);
                true
            }
        };
        self.seg_bytes = self.seg_bytes + seg.mem() - before;
        if new {
            self.len += 1;
            if self.len > self.segs.len() * SEG_MAX {
                self.grow();
            }
        }
        new
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let h = field_hash(field);
        let i = self.seg_of(h);
        // Do not copy a segment a snapshot shares only to find nothing.
        if Arc::strong_count(&self.segs[i]) > 1 && self.get(field).is_none() {
            return false;
        }
        let seg = Arc::make_mut(&mut self.segs[i]);
        match seg.map.find_entry(inner_hash(h), |b| split(b).0 == field) {
            Ok(o) => {
                let (b, _) = o.remove();
                self.payload -= alloc_class(b.len());
                self.len -= 1;
                true
            }
            Err(_) => false,
        }
    }

    /// Doubles the segment count: segment `i` splits into `2i` and `2i+1`
    /// on the next hash bit.
    fn grow(&mut self) {
        let bit = 1u64 << (63 - self.depth);
        let old = std::mem::take(&mut self.segs);
        let mut segs = Vec::with_capacity(old.len() * 2);
        for seg in old {
            let seg = Arc::try_unwrap(seg).unwrap_or_else(|s| (*s).clone());
            let half = seg.map.len() / 2 + 1;
            let (mut lo, mut hi) = (Seg::default(), Seg::default());
            lo.map.reserve(half, |_| 0);
            hi.map.reserve(half, |_| 0);
            for b in seg.map {
                let h = field_hash(split(&b).0);
                let dst = if h & bit == 0 { &mut lo } else { &mut hi };
                dst.map
                    .insert_unique(inner_hash(h), b, |b| inner_hash(field_hash(split(b).0)));
            }
            segs.push(Arc::new(lo));
            segs.push(Arc::new(hi));
        }
        self.segs = segs;
        self.depth += 1;
        self.seg_bytes = self.segs.iter().map(|s| s.mem()).sum();
    }

    fn mem_usage(&self) -> usize {
        std::mem::size_of::<Table>()
            + alloc_class(self.segs.capacity() * std::mem::size_of::<Arc<Seg>>())
            + self.seg_bytes
            + self.payload
    }

    fn iter(&self) -> SegIter<'_> {
        let pairs: fn(&Arc<Seg>) -> hashbrown::hash_table::Iter<'_, Box<[u8]>> = seg_pairs;
        self.segs.iter().flat_map(pairs)
    }
}

/// Iterates (field, value) pairs.
pub enum Iter<'a> {
    Pack(crate::keyspace::listpack::Iter<'a>),
    Table(SegIter<'a>),
}

type SegIter<'a> = std::iter::FlatMap<
    std::slice::Iter<'a, Arc<Seg>>,
    hashbrown::hash_table::Iter<'a, Box<[u8]>>,
    fn(&'a Arc<Seg>) -> hashbrown::hash_table::Iter<'a, Box<[u8]>>,
>;

fn seg_pairs(s: &Arc<Seg>) -> hashbrown::hash_table::Iter<'_, Box<[u8]>> {
    s.map.iter()
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(it) => {
                let f = it.next()?;
                let v = it.next()?;
                Some((f, v))
            }
            Iter::Table(it) => it.next().map(|b| split(b)),
        }
    }
}

impl HashValue {
    pub fn new(_t: &Thresholds) -> Self {
        HashValue {
            repr: Repr::Pack(ListPack::new()),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(lp) => lp.len() / 2,
            Repr::Table(t) => t.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned, kept up to date incrementally (O(1)).
    pub fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Pack(lp) => lp.mem_usage(),
            Repr::Table(t) => t.mem_usage(),
        }
    }

    /// The same figure as [`mem_usage`](Self::mem_usage), recomputed from
    /// every pair (tests check the running count against it).
    pub fn recount_memory(&self) -> usize {
        match &self.repr {
            Repr::Pack(lp) => lp.mem_usage(),
            Repr::Table(t) => {
                std::mem::size_of::<Table>()
                    + alloc_class(t.segs.capacity() * std::mem::size_of::<Arc<Seg>>())
                    + t.segs.iter().map(|s| s.mem()).sum::<usize>()
                    + t.iter().map(|b| alloc_class(b.len())).sum::<usize>()
            }
        }
    }

    /// Bytes a clone copies: a table's segment list (its segments are
    /// shared, see `Table`), a listpack whole.
    pub fn share_cost(&self) -> usize {
        match &self.repr {
            Repr::Pack(lp) => lp.mem_usage(),
            Repr::Table(t) => alloc_class(t.segs.len() * std::mem::size_of::<Arc<Seg>>()),
        }
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Pack(lp) => {
                let pos = lp.find(field, 2)?;
                let (_, vpos) = lp.at(pos);
                Some(lp.at(vpos).0)
            }
            Repr::Table(t) => t.get(field),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the table encoding before a write that would make the
    /// listpack exceed a value-length limit (Redis checks lengths first).
    fn convert_for_lengths(&mut self, field: &[u8], value: &[u8], t: &Thresholds) {
        if let Repr::Pack(_) = self.repr {
            if field.len() > t.hash_max_listpack_value || value.len() > t.hash_max_listpack_value {
                self.convert();
            }
        }
    }

    fn convert(&mut self) {
        if let Repr::Pack(lp) = &self.repr {
            let mut table = Table::with_capacity(lp.len() / 2 + 1);
            let mut it = lp.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                table.set(f, v);
            }
            self.repr = Repr::Table(Box::new(table));
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], t: &Thresholds) -> bool {
        self.convert_for_lengths(field, value, t);
        match &mut self.repr {
            Repr::Pack(lp) => {
                if let Some(pos) = lp.find(field, 2) {
                    let (_, vpos) = lp.at(pos);
                    lp.replace_at(vpos, value);
                    return false;
                }
                lp.push_back(field);
                lp.push_back(value);
                if lp.len() / 2 > t.hash_max_listpack_entries {
                    self.convert();
                }
                true
            }
            Repr::Table(tb) => tb.set(field, value),
        }
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(lp) => match lp.find(field, 2) {
                Some(pos) => {
                    let pos = lp.remove_at(pos);
                    lp.remove_at(pos);
                    lp.shrink();
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(field),
        }
    }

    /// Trims a listpack's spare capacity after a write command. Vec growth
    /// doubles, which would leave a small hash up to 2x its bytes; Redis's
    /// listpack is reallocated to size on every write, and our per-element
    /// memory must not exceed its. A clone allocates exactly the length.
    pub fn compact(&mut self) {
        if let Repr::Pack(lp) = &mut self.repr {
            if alloc_class(lp.byte_len()) < lp.mem_usage() {
                *lp = lp.clone();
            }
        }
    }

    /// Pairs in the encoding's order (insertion order for a listpack).
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Pack(lp) => Iter::Pack(lp.iter()),
            Repr::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// One HSCAN step: calls `f` for each pair returned; returns the next
    /// cursor (0 when done).
    ///
    /// A listpack returns everything at once with cursor 0, as Redis does.
    /// A table is walked in order of the fields' hashes (the process's
    /// field seed is fixed): the cursor is "next hash to return", so
    /// rehashing never makes a field that stays present be skipped. All
    /// fields sharing the last hash go out together so collisions can't be
    /// split across calls.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        let t = match &self.repr {
            Repr::Pack(lp) => {
                let mut it = lp.iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    f(k, v);
                }
                return 0;
            }
            Repr::Table(t) => t,
        };
        let count = count.max(1);
        let mut c = cursor;
        let mut emitted = 0;
        loop {
            let i = t.seg_of(c);
            let mut hashes: Vec<(u64, &[u8])> = t.segs[i]
                .map
                .iter()
                .filter_map(|b| {
                    let h = field_hash(split(b).0);
                    (h >= c).then_some((h, &b[..]))
                })
                .collect();
            let total = hashes.len();
            let want = count - emitted;
            if total > want {
                hashes.select_nth_unstable_by_key(want - 1, |e| e.0);
                let limit = hashes[want - 1].0;
                hashes.retain(|e| e.0 <= limit);
            }
            hashes.sort_unstable_by_key(|e| e.0);
            for (_, b) in &hashes {
                let (k, v) = split(b);
                f(k, v);
            }
            emitted += hashes.len();
            if total > hashes.len() {
                // More in this segment, all hashing above the last one.
                let last = hashes.last().map_or(c, |e| e.0);
                return last + 1;
            }
            if i + 1 >= t.segs.len() {
                return 0;
            }
            c = ((i + 1) as u64) << (64 - t.depth);
            if emitted >= count {
                return c;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_keeps_pairs() {
        let t = Thresholds {
            hash_max_listpack_entries: 4,
            ..Thresholds::default()
        };
        let mut h = HashValue::new(&t);
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", &t));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.set(b"f0", b"v0", &t));
        assert!(h.set(b"f4", b"v4", &t));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"f0"), Some(&b"v0"[..]));
        assert_eq!(h.mem_usage(), h.recount_memory());
        assert!(h.remove(b"f4"));
        assert!(!h.remove(b"f4"));
        assert_eq!(h.mem_usage(), h.recount_memory());
        let mut long = HashValue::new(&t);
        long.set(b"f", &[b'x'; 65], &t);
        assert_eq!(long.encoding(), "hashtable");
    }

    #[test]
    fn small_hash_costs_no_more_than_a_redis_listpack() {
        let t = Thresholds::default();
        let mut h = HashValue::new(&t);
        // Redis's listpack: 6-byte header + end byte, and per short string
        // element one encoding byte + data + one back-length byte.
        let mut redis = 7;
        for i in 0..10 {
            let (f, v) = (format!("field{i}"), format!("val{i}"));
            h.set(f.as_bytes(), v.as_bytes(), &t);
            h.compact();
            redis += f.len() + 2 + v.len() + 2;
        }
        assert!(
            h.mem_usage() <= alloc_class(redis),
            "{} > {}",
            h.mem_usage(),
            alloc_class(redis)
        );
    }

    /// Over many segments, a scan step returns at most COUNT fields (a
    /// page never runs past what was asked), and a full scan of a hash
    /// that does not change returns each field exactly once.
    #[test]
    fn table_scan_pages_are_bounded_and_complete() {
        let t = Thresholds::default();
        let mut h = HashValue::new(&t);
        for i in 0..5000 {
            h.set(format!("f{i}").as_bytes(), b"v", &t);
        }
        for count in [1, 10, 50, 1000] {
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            loop {
                let mut page = 0;
                cursor = h.scan(cursor, count, |k, _| {
                    assert!(seen.insert(k.to_vec()), "returned twice");
                    page += 1;
                });
                assert!(page <= count, "page of {page} for COUNT {count}");
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen.len(), 5000);
        }
    }

    #[test]
    fn table_scan_returns_every_stable_field() {
        let t = Thresholds {
            hash_max_listpack_entries: 1,
            ..Thresholds::default()
        };
        let mut h = HashValue::new(&t);
        for i in 0..500 {
            h.set(format!("f{i}").as_bytes(), b"v", &t);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut i = 0;
        loop {
            cursor = h.scan(cursor, 7, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn that forces rehashes mid-scan.
            h.set(format!("new{i}").as_bytes(), b"v", &t);
            h.remove(format!("new{}", i / 2).as_bytes());
            i += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(format!("f{i}").as_bytes()));
        }
        assert_eq!(h.mem_usage(), h.recount_memory());
    }
}
