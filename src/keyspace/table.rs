//! The key → entry table of one database.
//!
//! Extendible hashing over small `hashbrown` tables ("segments"), in the
//! spirit of Dragonfly's DashTable:
//! - a slot is one 8-byte [`Entry`] pointer, so an empty slot costs 9 bytes
//!   (slot + control byte) and a full table is ~87% slots in use;
//! - no resize ever touches more than one segment (≤ [`SEGMENT_SPLIT`]
//!   entries), so growing a 10M-key database never stalls it;
//! - a segment covers a contiguous range of the 64-bit hash space (its
//!   prefix), which gives SCAN a cursor that is simply a hash value:
//!   "every key with hash ≥ cursor is still to come". Splits only refine
//!   ranges, so a key present for the whole scan is returned at least once,
//!   which is Redis's SCAN guarantee.
//!
//! The routing hash is foldhash with a per-process random seed (HashDoS);
//! hashbrown gets a remixed copy so that its tag and bucket bits do not
//! coincide with the segment prefix bits.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rand::Rng;

use super::entry::Entry;

/// A segment splits instead of growing once it holds this many entries.
pub const SEGMENT_SPLIT: usize = 896;

/// Tag probes one [`Table::sample`] draw tries before falling back to a
/// positional pick in the chosen segment (miss odds per probe are ≤ 0.95
/// at the lowest load a split leaves, so ≤ 4% of draws fall back).
const PROBES_PER_DRAW: usize = 64;

struct Segment {
    /// Number of leading hash bits shared by every key in the segment.
    depth: u32,
    map: HashTable<Entry>,
}

pub struct Table {
    /// Directory: `1 << global_depth` segment indices, by hash prefix.
    dir: Vec<u32>,
    global_depth: u32,
    segs: Vec<Segment>,
    len: usize,
    hasher: foldhash::quality::RandomState,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn inner_hash(h: u64) -> u64 {
    // Bijective remix: hashbrown reads the top 7 bits as the tag and the low
    // bits as the bucket, neither of which may be the segment prefix.
    h.rotate_left(26).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Table {
    pub fn new() -> Self {
        Table {
            dir: vec![0],
            global_depth: 0,
            segs: vec![Segment {
                depth: 0,
                map: HashTable::new(),
            }],
            len: 0,
            hasher: foldhash::quality::RandomState::default(),
        }
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn seg_index(&self, h: u64) -> usize {
        if self.global_depth == 0 {
            0
        } else {
            self.dir[(h >> (64 - self.global_depth)) as usize] as usize
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        let h = self.hash(key);
        let s = &self.segs[self.seg_index(h)];
        s.map.find(inner_hash(h), |e| e.key() == key)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = self.hash(key);
        let i = self.seg_index(h);
        self.segs[i].map.find_mut(inner_hash(h), |e| e.key() == key)
    }

    /// Inserts or replaces; returns the previous entry for the key.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        self.insert_with(entry, |_, _| {})
    }

    /// Inserts or replaces; on a replacement `on_replace(new, old)` runs
    /// with the new entry already in its slot (LFU carries the old
    /// counter over this way without a second probe).
    pub fn insert_with(
        &mut self,
        entry: Entry,
        on_replace: impl FnOnce(&mut Entry, &Entry),
    ) -> Option<Entry> {
        let h = self.hash(entry.key());
        let i = self.seg_index(h);
        let hasher = &self.hasher;
        let seg = &mut self.segs[i];
        match seg.map.find_mut(inner_hash(h), |e| e.key() == entry.key()) {
            Some(slot) => {
                let old = std::mem::replace(slot, entry);
                on_replace(slot, &old);
                return Some(old);
            }
            None => {
                if seg.map.len() >= SEGMENT_SPLIT && seg.depth < 48 {
                    self.split(i);
                    return self.insert_with(entry, on_replace);
                }
                seg.map.insert_unique(inner_hash(h), entry, |e| {
                    inner_hash(hasher.hash_one(e.key()))
                });
            }
        }
        self.len += 1;
        None
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let h = self.hash(key);
        let i = self.seg_index(h);
        let found = self.segs[i]
            .map
            .find_entry(inner_hash(h), |e| e.key() == key)
            .ok()?;
        let (e, _) = found.remove();
        self.len -= 1;
        Some(e)
    }

    /// Lays an empty table out for about `n` entries at once (a load that
    /// announces its size): `2^d` segments planned for at most 2/3 of
    /// [`SEGMENT_SPLIT`] entries each, so filling it splits nothing. A
    /// table that has entries is left as it is.
    pub fn presize(&mut self, n: usize) {
        const PER: usize = SEGMENT_SPLIT * 2 / 3;
        if !self.is_empty() || n <= PER {
            return;
        }
        let depth = n.div_ceil(PER).next_power_of_two().trailing_zeros();
        let count = 1usize << depth;
        let each = n / count;
        let cap = (each + each / 8 + 16).min(SEGMENT_SPLIT);
        self.dir = (0..count as u32).collect();
        self.global_depth = depth;
        self.segs = (0..count)
            .map(|_| Segment {
                depth,
                map: HashTable::with_capacity(cap),
            })
            .collect();
    }

    fn split(&mut self, i: usize) {
        let depth = self.segs[i].depth;
        if depth == self.global_depth {
            // Double the directory: each slot d becomes 2d and 2d+1.
            self.dir = self.dir.iter().flat_map(|&s| [s, s]).collect();
            self.global_depth += 1;
        }
        let bit = 1u64 << (63 - depth);
        let hasher = &self.hasher;
        let mut moved = HashTable::with_capacity(self.segs[i].map.len() / 2 + 16);
        for e in self.segs[i]
            .map
            .extract_if(|e| hasher.hash_one(e.key()) & bit != 0)
        {
            let h = hasher.hash_one(e.key());
            moved.insert_unique(inner_hash(h), e, |x| inner_hash(hasher.hash_one(x.key())));
        }
        self.segs[i].depth = depth + 1;
        let new_idx = self.segs.len() as u32;
        self.segs.push(Segment {
            depth: depth + 1,
            map: moved,
        });
        // Directory slots whose prefix had `bit` set now point to the new one.
        let shift = self.global_depth - (depth + 1);
        for (d, slot) in self.dir.iter_mut().enumerate() {
            if *slot == i as u32 && (d >> shift) & 1 == 1 {
                *slot = new_idx;
            }
        }
    }

    pub fn clear(&mut self) {
        *self = Table {
            hasher: self.hasher,
            ..Table::new()
        };
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.segs.iter().flat_map(|s| s.map.iter())
    }

    /// Removes every entry for which `keep` returns false; returns them.
    pub fn retain_segment(
        &mut self,
        seg: usize,
        mut keep: impl FnMut(&mut Entry) -> bool,
    ) -> Vec<Entry> {
        let Some(s) = self.segs.get_mut(seg) else {
            return Vec::new();
        };
        let out: Vec<Entry> = s.map.extract_if(|e| !keep(e)).collect();
        self.len -= out.len();
        out
    }

    pub fn segment_count(&self) -> usize {
        self.segs.len()
    }

    /// One SCAN step from `cursor` (a hash value). Calls `f` for at least
    /// `count` entries when that many remain (more when hashes tie or the
    /// step lands on an almost empty segment run), in increasing hash order,
    /// and returns the next cursor (0 when the scan is complete).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Entry)) -> u64 {
        let count = count.max(1);
        let mut c = cursor;
        let mut emitted = 0usize;
        loop {
            let i = self.seg_index(c);
            let seg = &self.segs[i];
            // The segment's hash range is [lo, hi) with hi = 0 for the top one.
            let lo = if seg.depth == 0 {
                0
            } else {
                c & !(u64::MAX >> seg.depth)
            };
            let hi = if seg.depth == 0 {
                0
            } else {
                lo.wrapping_add(1u64 << (64 - seg.depth))
            };
            let mut cand: Vec<(u64, &Entry)> = seg
                .map
                .iter()
                .map(|e| (self.hash(e.key()), e))
                .filter(|(h, _)| *h >= c)
                .collect();
            let want = count - emitted;
            if cand.len() > want {
                cand.select_nth_unstable_by_key(want, |(h, _)| *h);
                let cut = cand[want].0;
                // Keep every entry hashing below the cut: ties at the cut
                // value go to the next step.
                cand.retain(|(h, _)| *h < cut);
                for (_, e) in &cand {
                    f(e);
                }
                if cut > c || !cand.is_empty() {
                    return cut;
                }
                // Everything left ties at `c`: emit all of them.
                for e in seg.map.iter().filter(|e| self.hash(e.key()) == c) {
                    f(e);
                }
                return c.wrapping_add(1).max(1);
            }
            emitted += cand.len();
            for (_, e) in &cand {
                f(e);
            }
            if hi == 0 {
                return 0;
            }
            c = hi;
            if emitted >= count {
                return c;
            }
        }
    }

    /// One step of a snapshot walk (see `snapshot.rs`): calls `visit` on
    /// the entries of the segment whose hash range holds `cursor`, in
    /// table order, until it returns false. Returns where the walk goes on:
    /// `Some(cursor)` again when `visit` stopped early (the caller's
    /// per-entry bit says which entries are already done, so revisiting a
    /// segment is harmless), the segment's upper bound once it was visited
    /// whole, or `None` past the top of the hash space.
    ///
    /// A segment boundary stays a boundary forever (splits only refine
    /// ranges), so a cursor taken before a split still starts a segment
    /// after it and no key of the table can fall behind the walk.
    pub(super) fn walk_step(
        &mut self,
        cursor: u64,
        mut visit: impl FnMut(&mut Entry) -> bool,
    ) -> Option<u64> {
        let i = self.seg_index(cursor);
        let seg = &mut self.segs[i];
        for e in seg.map.iter_mut() {
            if !visit(e) {
                return Some(cursor);
            }
        }
        if seg.depth == 0 {
            return None;
        }
        let lo = cursor & !(u64::MAX >> seg.depth);
        match lo.wrapping_add(1u64 << (64 - seg.depth)) {
            0 => None,
            hi => Some(hi),
        }
    }

    /// A random entry, `None` when the table is empty. Same distribution
    /// and cost as one draw of [`Table::sample`].
    pub fn random(&self, rng: &mut impl Rng) -> Option<&Entry> {
        self.sample(rng)
    }

    /// One approximately uniform random entry in O(1) expected time
    /// (`None` only when the table is empty); eviction draws its
    /// candidates with it.
    ///
    /// A segment is picked by a random hash, so with the probability of
    /// its share of the hash range, which is its expected share of the
    /// keys. Inside it, hashbrown exposes no bucket indexing, but
    /// `iter_hash(r)` for a random `r` reads the one 16-slot control group
    /// at `r`'s position and yields the full slots whose 7-bit tag equals
    /// `r`'s: a hit with probability ≈ load/8 per probe (a few ns each), so
    /// ~10–20 probes at the 44–87% loads segments live at. Every slot is
    /// equally likely to be hit, so entries inside a segment are drawn
    /// uniformly; across segments the pick follows hash ranges, which
    /// track key counts within the binomial spread (±15% at the 450–900
    /// keys a segment holds). A segment left sparse by deletions (segments never
    /// shrink) can miss [`PROBES_PER_DRAW`] times; then one pick by
    /// position in that segment, O(segment), keeps the draw exact.
    pub fn sample(&self, rng: &mut impl Rng) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        // Empty segments own a share of the hash range but no keys;
        // redrawing keeps the pick weighted by key count.
        let Some(seg) = (0..64)
            .map(|_| &self.segs[self.seg_index(rng.gen())])
            .find(|s| !s.map.is_empty())
        else {
            // Almost every segment is empty: a linear pick.
            let n = rng.gen_range(0..self.len);
            return self.iter().nth(n);
        };
        for _ in 0..PROBES_PER_DRAW {
            if let Some(e) = seg.map.iter_hash(rng.gen()).next() {
                return Some(e);
            }
        }
        seg.map.iter().nth(rng.gen_range(0..seg.map.len()))
    }

    /// Visits entries segment by segment from segment `start` (wrapping)
    /// until `f` returns false or `budget` entries were visited; returns
    /// the segment after the last one visited, for a caller that walks on
    /// across calls.
    pub fn walk(&self, start: usize, budget: usize, mut f: impl FnMut(&Entry) -> bool) -> usize {
        let n = self.segs.len();
        let mut seen = 0;
        for step in 0..n {
            let i = (start + step) % n;
            for e in self.segs[i].map.iter() {
                seen += 1;
                if !f(e) {
                    return (i + 1) % n;
                }
            }
            if seen >= budget {
                return (i + 1) % n;
            }
        }
        start % n.max(1)
    }

    /// Bytes held by the table structure itself (slots and control bytes).
    pub fn overhead_bytes(&self) -> usize {
        self.segs
            .iter()
            .map(|s| {
                let buckets = if s.map.capacity() == 0 {
                    0
                } else {
                    (s.map.capacity() * 8 / 7).next_power_of_two()
                };
                buckets * (std::mem::size_of::<Entry>() + 1)
            })
            .sum::<usize>()
            + self.dir.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::entry::NewValue;
    use std::collections::HashSet;

    fn e(k: &str) -> Entry {
        Entry::new(k.as_bytes(), NewValue::Str(b"v"), None, 0)
    }

    #[test]
    fn presized_table_fills_without_splits_and_grows_on() {
        let mut t = Table::new();
        t.presize(100_000);
        let segs = t.segment_count();
        assert_eq!(segs, 256);
        for i in 0..100_000 {
            assert!(t.insert(e(&format!("k{i}"))).is_none());
        }
        assert_eq!(t.segment_count(), segs, "no split while filling");
        for i in 100_000..300_000 {
            assert!(t.insert(e(&format!("k{i}"))).is_none());
        }
        assert!(t.segment_count() > segs);
        assert_eq!(t.len(), 300_000);
        for i in 0..300_000 {
            assert!(t.get(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
        // SCAN still sees every key once.
        let mut seen = HashSet::new();
        let mut c = 0;
        loop {
            c = t.scan(c, 1000, |e| assert!(seen.insert(e.key().to_vec())));
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 300_000);
        // A table with entries is not laid out again.
        t.presize(10_000_000);
        assert_eq!(t.len(), 300_000);
    }

    #[test]
    fn insert_get_remove_across_splits() {
        let mut t = Table::new();
        for i in 0..50_000 {
            assert!(t.insert(e(&format!("k{i}"))).is_none());
        }
        assert!(t.segment_count() > 8);
        assert_eq!(t.len(), 50_000);
        for i in 0..50_000 {
            assert!(t.get(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
        assert!(t.insert(e("k7")).is_some());
        assert_eq!(t.len(), 50_000);
        for i in (0..50_000).step_by(2) {
            assert!(t.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(t.len(), 25_000);
        assert!(t.get(b"k2").is_none());
        assert!(t.get(b"k3").is_some());
    }

    #[test]
    fn scan_returns_every_stable_key_despite_growth() {
        let mut t = Table::new();
        for i in 0..5_000 {
            t.insert(e(&format!("old{i}")));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = t.scan(cursor, 10, |x| {
                seen.insert(x.key().to_vec());
            });
            // Grow the table under the scan: forces splits mid-way.
            for j in 0..40 {
                t.insert(e(&format!("new{steps}-{j}")));
            }
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..5_000 {
            assert!(seen.contains(format!("old{i}").as_bytes()), "missed old{i}");
        }
    }

    #[test]
    fn scan_count_is_respected_roughly() {
        let mut t = Table::new();
        for i in 0..10_000 {
            t.insert(e(&format!("k{i}")));
        }
        let mut n = 0;
        let next = t.scan(0, 10, |_| n += 1);
        assert!(next != 0);
        assert!((10..=20).contains(&n), "{n}");
        let mut total = 0;
        let mut c = 0;
        loop {
            c = t.scan(c, 100, |_| total += 1);
            if c == 0 {
                break;
            }
        }
        assert_eq!(total, 10_000);
    }

    #[test]
    fn sample_is_close_to_uniform_across_segments() {
        use rand::SeedableRng;
        let mut t = Table::new();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for i in 0..60_000 {
            t.insert(e(&format!("k{i}")));
        }
        // Segments differ in bucket count (a split leaves the old half in
        // the big table); a per-bucket draw would favour the small ones.
        let mut hits = vec![0usize; t.segs.len()];
        let mut where_: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        for (i, s) in t.segs.iter().enumerate() {
            for x in s.map.iter() {
                where_.insert(x.key().to_vec(), i);
            }
        }
        let draws = 300_000;
        let mut seen = HashSet::new();
        for _ in 0..draws {
            let k = t.sample(&mut rng).unwrap().key().to_vec();
            hits[where_[&k]] += 1;
            seen.insert(k);
        }
        for (i, s) in t.segs.iter().enumerate() {
            let expected = draws as f64 * s.map.len() as f64 / t.len() as f64;
            let ratio = hits[i] as f64 / expected;
            // Segments are picked by hash range, which matches their key
            // count only up to ~±15% (binomial spread): within that, but
            // far from the 2x a per-bucket pick would give.
            assert!((0.7..1.4).contains(&ratio), "segment {i}: {ratio}");
        }
        // 5 draws per key on average: e^-5 ≈ 0.7% never drawn when exact,
        // ~2% with the per-segment spread; far below the 5% a sampler
        // blind to part of the table would leave.
        assert!(seen.len() > 58_000, "{}", seen.len());
    }

    #[test]
    fn sample_survives_a_sparse_table() {
        let mut t = Table::new();
        let mut rng = rand::thread_rng();
        for i in 0..20_000 {
            t.insert(e(&format!("k{i}")));
        }
        for i in 1..20_000 {
            t.remove(format!("k{i}").as_bytes());
        }
        for _ in 0..20 {
            assert_eq!(t.sample(&mut rng).unwrap().key(), b"k0");
        }
        let mut n = 0;
        t.walk(3, 100, |_| {
            n += 1;
            true
        });
        assert_eq!(n, 1);
    }

    #[test]
    fn insert_with_sees_the_replaced_entry() {
        let mut t = Table::new();
        t.insert(Entry::new(b"a", NewValue::Str(b"1"), None, 42));
        let old = t.insert_with(
            Entry::new(b"a", NewValue::Str(b"2"), None, 0),
            |new, old| new.set_clock(old.clock()),
        );
        assert_eq!(old.unwrap().clock(), 42);
        assert_eq!(t.get(b"a").unwrap().clock(), 42);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn random_hits_existing_keys() {
        let mut t = Table::new();
        let mut rng = rand::thread_rng();
        assert!(t.random(&mut rng).is_none());
        for i in 0..10_000 {
            t.insert(e(&format!("k{i}")));
        }
        for _ in 0..100 {
            let k = t.random(&mut rng).unwrap().key().to_vec();
            assert!(t.get(&k).is_some());
        }
    }
}
