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

use crate::keyspace::entry::alloc_class;
use crate::keyspace::listpack::ListPack;
use crate::keyspace::value::Thresholds;

use super::FIELD_HASHER;

#[derive(Debug, Clone)]
enum Repr {
    Pack(ListPack),
    Table(Box<Table>),
}

#[derive(Debug, Clone)]
struct Table {
    map: HashTable<Box<[u8]>>,
    /// Sum of `alloc_class` of every pair's block.
    payload: usize,
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
        Table {
            map: HashTable::with_capacity(n),
            payload: 0,
        }
    }

    #[inline]
    fn hash(&self, field: &[u8]) -> u64 {
        FIELD_HASHER.hash_one(field)
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.map
            .find(self.hash(field), |b| split(b).0 == field)
            .map(|b| split(b).1)
    }

    /// Inserts or replaces; true when the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let h = self.hash(field);
        let block = make_block(field, value);
        self.payload += alloc_class(block.len());
        let hasher = &*FIELD_HASHER;
        match self
            .map
            .entry(h, |b| split(b).0 == field, |b| hasher.hash_one(split(b).0))
        {
            hashbrown::hash_table::Entry::Occupied(mut o) => {
                self.payload -= alloc_class(o.get().len());
                *o.get_mut() = block;
                false
            }
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(block);
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let h = self.hash(field);
        match self.map.find_entry(h, |b| split(b).0 == field) {
            Ok(o) => {
                let (b, _) = o.remove();
                self.payload -= alloc_class(b.len());
                true
            }
            Err(_) => false,
        }
    }

    fn mem_usage(&self) -> usize {
        std::mem::size_of::<Table>() + table_bytes(self.map.capacity()) + self.payload
    }
}

/// Iterates (field, value) pairs.
pub enum Iter<'a> {
    Pack(crate::keyspace::listpack::Iter<'a>),
    Table(hashbrown::hash_table::Iter<'a, Box<[u8]>>),
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
            Repr::Table(t) => t.map.len(),
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
                    + table_bytes(t.map.capacity())
                    + t.map.iter().map(|b| alloc_class(b.len())).sum::<usize>()
            }
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
            Repr::Table(t) => Iter::Table(t.map.iter()),
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
        let mut hashes: Vec<(u64, &[u8])> = t
            .map
            .iter()
            .filter_map(|b| {
                let h = t.hash(split(b).0);
                (h >= cursor).then_some((h, &b[..]))
            })
            .collect();
        let total = hashes.len();
        if hashes.len() > count {
            hashes.select_nth_unstable_by_key(count - 1, |e| e.0);
            let limit = hashes[count - 1].0;
            hashes.retain(|e| e.0 <= limit);
        }
        hashes.sort_unstable_by_key(|e| e.0);
        let last = hashes.last().map(|e| e.0);
        let remaining_after = total > hashes.len();
        for (_, b) in &hashes {
            let (k, v) = split(b);
            f(k, v);
        }
        match last {
            Some(l) if remaining_after && l < u64::MAX => l + 1,
            _ => 0,
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
