//! The set value and its three encodings, converted at the moments Redis
//! 7.2 converts them (`t_set.c`), so OBJECT ENCODING and small-set reply
//! order match Redis:
//! - `intset`: sorted integers packed at the narrowest width (2/4/8 bytes)
//!   that fits them all, like Redis's intset;
//! - `listpack`: members in insertion order in one [`ListPack`] buffer;
//! - `hashtable`: [`HashSetTable`], a hash table split by hash prefix into
//!   small segments so that SSCAN has a cursor (a hash value) that survives
//!   growth and still returns every member present for the whole scan.
//!
//! Encodings only move "up" (intset → listpack → hashtable) except where
//! Redis itself rebuilds a set (SINTERSTORE's result, SPOP's big-count path).

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use rand::Rng;

use crate::keyspace::entry::alloc_class;
use crate::keyspace::listpack::ListPack;
use crate::keyspace::value::Thresholds;
use crate::protocol::parse::parse_i64;

/// A member as stored: intsets hand out integers, the others bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRef<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl MemberRef<'_> {
    /// Runs `f` on the member's byte form (integers are formatted on the stack).
    #[inline]
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            MemberRef::Bytes(b) => f(b),
            MemberRef::Int(i) => {
                let mut buf = itoa::Buffer::new();
                f(buf.format(i).as_bytes())
            }
        }
    }

    /// The member as an integer when it is one (Redis's `string2ll`).
    #[inline]
    pub fn as_int(self) -> Option<i64> {
        match self {
            MemberRef::Int(i) => Some(i),
            MemberRef::Bytes(b) => parse_i64(b),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }
}

// ---------------------------------------------------------------- intset

/// Sorted distinct `i64`s stored little-endian at one width for all.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntSet {
    /// Bytes per element: 2, 4 or 8 (0 only while never written).
    width: u8,
    buf: Vec<u8>,
}

fn width_for(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    fn w(&self) -> usize {
        self.width.max(2) as usize
    }

    pub fn len(&self) -> usize {
        self.buf.len() / self.w()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        let w = self.w();
        let b = &self.buf[i * w..i * w + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_le_bytes(a)
            }
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    fn encode(v: i64, w: usize) -> [u8; 8] {
        let mut a = [0u8; 8];
        a[..w].copy_from_slice(&v.to_le_bytes()[..w]);
        a
    }

    /// Inserts `v`; false when already present.
    pub fn insert(&mut self, v: i64) -> bool {
        let need = width_for(v).max(self.width.max(2));
        if need as usize > self.w() {
            // Upgrade: every element is re-encoded wider (Redis's intsetUpgradeAndAdd).
            let n = self.len();
            let mut nb = Vec::with_capacity((n + 1) * need as usize);
            for i in 0..n {
                nb.extend_from_slice(&Self::encode(self.get(i), need as usize)[..need as usize]);
            }
            self.buf = nb;
        }
        self.width = need;
        match self.search(v) {
            Ok(_) => false,
            Err(pos) => {
                let w = self.w();
                if self.buf.capacity() - self.buf.len() < w {
                    // Grow by an eighth rather than double: Redis reallocates
                    // its intset exactly, and we must not cost more.
                    self.buf.reserve_exact((self.buf.len() / 8).max(4 * w));
                }
                let enc = Self::encode(v, w);
                self.buf.splice(pos * w..pos * w, enc[..w].iter().copied());
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(pos) => {
                let w = self.w();
                self.buf.drain(pos * w..pos * w + w);
                if self.buf.capacity() > self.buf.len() * 2 + 64 {
                    self.buf.shrink_to_fit();
                }
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn min(&self) -> Option<i64> {
        (!self.is_empty()).then(|| self.get(0))
    }

    pub fn max(&self) -> Option<i64> {
        (!self.is_empty()).then(|| self.get(self.len() - 1))
    }

    pub fn mem_usage(&self) -> usize {
        if self.buf.capacity() == 0 {
            0
        } else {
            alloc_class(self.buf.capacity())
        }
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// ------------------------------------------------------------- hashtable

/// Members per segment before the table doubles its segment count. Small
/// enough that one SSCAN step (a whole segment) and a compaction stay
/// cheap, large enough that per-segment headers cost well under a byte
/// per member.
const SEG_MAX: usize = 64;

/// One segment: members packed in an arena (`varint(len) ++ bytes`, like
/// [`ListPack`]) and a hash index of their offsets. A member costs its
/// bytes plus one length byte and an 8-byte slot, instead of a pointer,
/// a length and a heap block of its own; removed members leave holes that
/// are compacted once they are half the arena.
///
/// Segments are reference-counted so a snapshot can share them
/// (`HashSetTable::clone`): a write to a segment a snapshot still holds
/// copies that segment (`Arc::make_mut`), never the whole set.
#[derive(Clone, Default)]
struct Seg {
    arena: Vec<u8>,
    index: HashTable<u64>,
    /// Bytes of removed members still in `arena`.
    dead: usize,
}

#[inline]
fn member_at(arena: &[u8], off: u64) -> &[u8] {
    let mut p = off as usize;
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = arena[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    &arena[p..p + n]
}

fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

impl Seg {
    fn mem(&self) -> usize {
        // The segment's own `Arc` block.
        let header = alloc_class(16 + std::mem::size_of::<Seg>());
        let arena = if self.arena.capacity() == 0 {
            0
        } else {
            alloc_class(self.arena.capacity())
        };
        let cap = self.index.capacity();
        let index = if cap == 0 {
            0
        } else {
            let buckets = (cap * 8 / 7).next_power_of_two().max(4);
            alloc_class(buckets * (std::mem::size_of::<u64>() + 1) + 16)
        };
        header + arena + index
    }

    fn find(&self, h: u64, m: &[u8]) -> Option<&u64> {
        let arena = &self.arena;
        self.index
            .find(inner_hash(h), |&off| member_at(arena, off) == m)
    }

    /// Appends `m` (known absent) with hash `h`.
    fn push(&mut self, h: u64, m: &[u8], hasher: &foldhash::quality::RandomState) {
        let need = varint_len(m.len()) + m.len();
        if self.arena.capacity() - self.arena.len() < need {
            // Grow by an eighth, not double: the arena is most of the
            // segment's memory and this keeps its slack small.
            let extra = need.max(self.arena.capacity() / 8).max(32);
            self.arena.reserve_exact(extra);
        }
        let off = self.arena.len() as u64;
        let mut n = m.len();
        while n >= 0x80 {
            self.arena.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.arena.push(n as u8);
        self.arena.extend_from_slice(m);
        let arena = &self.arena;
        self.index.insert_unique(inner_hash(h), off, |&o| {
            inner_hash(hasher.hash_one(member_at(arena, o)))
        });
    }

    fn remove(&mut self, h: u64, m: &[u8], hasher: &foldhash::quality::RandomState) -> bool {
        let arena = &self.arena;
        match self
            .index
            .find_entry(inner_hash(h), |&off| member_at(arena, off) == m)
        {
            Ok(e) => {
                e.remove();
                self.dead += varint_len(m.len()) + m.len();
                if self.dead * 2 > self.arena.len() {
                    self.compact(hasher);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Rewrites the arena without holes and re-indexes it.
    fn compact(&mut self, hasher: &foldhash::quality::RandomState) {
        let old = std::mem::take(self);
        let live: usize = old.arena.len() - old.dead;
        self.arena = Vec::with_capacity(live);
        self.index = HashTable::with_capacity(old.index.len());
        for &off in old.index.iter() {
            let m = member_at(&old.arena, off);
            self.push(hasher.hash_one(m), m, hasher);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.index.iter().map(|&off| member_at(&self.arena, off))
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}

/// A hash set split into `1 << depth` segments by the top bits of each
/// member's hash. A segment covers a contiguous range of hash values, and
/// doubling only splits ranges, so "every member hashing below the cursor
/// was returned" stays true across growth: that is the SSCAN cursor.
#[derive(Clone)]
pub struct HashSetTable {
    segs: Vec<Arc<Seg>>,
    depth: u32,
    len: usize,
    /// Running byte count (segment arenas and indexes, segment vector).
    mem: usize,
    hasher: &'static foldhash::quality::RandomState,
}

#[inline]
fn inner_hash(h: u64) -> u64 {
    // hashbrown takes its tag from the top bits, which are the segment
    // prefix here and so identical within a segment: remix first.
    h.rotate_left(26).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl HashSetTable {
    pub fn new() -> Self {
        let mut t = HashSetTable {
            segs: vec![Arc::default()],
            depth: 0,
            len: 0,
            mem: 0,
            hasher: &super::MEMBER_HASHER,
        };
        t.mem = t.vec_bytes();
        t
    }

    fn vec_bytes(&self) -> usize {
        alloc_class(self.segs.capacity() * std::mem::size_of::<Arc<Seg>>())
    }

    pub fn with_capacity(n: usize) -> Self {
        let mut t = Self::new();
        while (t.segs.len() * SEG_MAX) < n {
            t.grow();
        }
        t
    }

    #[inline]
    fn hash(&self, m: &[u8]) -> u64 {
        self.hasher.hash_one(m)
    }

    #[inline]
    fn seg_of(&self, h: u64) -> usize {
        if self.depth == 0 {
            0
        } else {
            (h >> (64 - self.depth)) as usize
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn mem_usage(&self) -> usize {
        self.mem
    }

    /// Bytes a clone copies: the segment list, not the segments, which
    /// the clone shares (see [`Seg`]).
    pub fn share_cost(&self) -> usize {
        self.vec_bytes()
    }

    /// Recomputes `mem` from scratch (tests compare it with the running count).
    pub fn recount_mem(&self) -> usize {
        self.vec_bytes() + self.segs.iter().map(|s| s.mem()).sum::<usize>()
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        let h = self.hash(m);
        self.segs[self.seg_of(h)].find(h, m).is_some()
    }

    pub fn insert(&mut self, m: &[u8]) -> bool {
        let h = self.hash(m);
        let i = self.seg_of(h);
        if self.segs[i].find(h, m).is_some() {
            return false;
        }
        let seg = Arc::make_mut(&mut self.segs[i]);
        let before = seg.mem();
        seg.push(h, m, self.hasher);
        self.mem = self.mem + seg.mem() - before;
        self.len += 1;
        if self.len > self.segs.len() * SEG_MAX {
            self.grow();
        }
        true
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        let h = self.hash(m);
        let i = self.seg_of(h);
        // Do not copy a segment a snapshot shares only to find nothing.
        if Arc::strong_count(&self.segs[i]) > 1 && self.segs[i].find(h, m).is_none() {
            return false;
        }
        let seg = Arc::make_mut(&mut self.segs[i]);
        let before = seg.mem();
        if !seg.remove(h, m, self.hasher) {
            return false;
        }
        self.mem = self.mem + seg.mem() - before;
        self.len -= 1;
        true
    }

    /// Doubles the segment count: segment `i` splits into `2i` and `2i+1`
    /// on the next hash bit, so each old range is exactly two new ranges.
    fn grow(&mut self) {
        let bit = 1u64 << (63 - self.depth);
        let old = std::mem::take(&mut self.segs);
        let mut segs = Vec::with_capacity(old.len() * 2);
        let hasher = self.hasher;
        for seg in old {
            let mut lo = Seg::default();
            let mut hi = Seg::default();
            for m in seg.iter() {
                let h = hasher.hash_one(m);
                let dst = if h & bit == 0 { &mut lo } else { &mut hi };
                dst.push(h, m, hasher);
            }
            segs.push(Arc::new(lo));
            segs.push(Arc::new(hi));
        }
        self.segs = segs;
        self.depth += 1;
        self.mem = self.recount_mem();
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.segs.iter().flat_map(|s| s.iter())
    }

    /// One SSCAN step: every member of the segments from `cursor` on until
    /// at least `count` were visited; returns the next cursor (0 at the end).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8])) -> u64 {
        let mut c = cursor;
        let mut emitted = 0usize;
        loop {
            let i = self.seg_of(c);
            for m in self.segs[i].iter() {
                // A cursor the client made up may fall inside a segment.
                if self.hash(m) >= c {
                    f(m);
                    emitted += 1;
                }
            }
            if i + 1 >= self.segs.len() {
                return 0;
            }
            c = ((i + 1) as u64) << (64 - self.depth);
            if emitted >= count {
                return c;
            }
        }
    }

    /// A uniformly random member: a random segment accepted with probability
    /// proportional to its size (rejection sampling), then a random member of it.
    pub fn random(&self, rng: &mut impl Rng) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        let cap = self.segs.len().saturating_mul(SEG_MAX * 2).max(self.len);
        let m = (cap / self.segs.len()).max(1);
        for _ in 0..256 {
            let s = &self.segs[rng.gen_range(0..self.segs.len())];
            if s.len() == 0 || rng.gen_range(0..m) >= s.len() {
                continue;
            }
            return s.iter().nth(rng.gen_range(0..s.len()));
        }
        let n = rng.gen_range(0..self.len);
        self.iter().nth(n)
    }
}

impl Default for HashSetTable {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for HashSetTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

// ------------------------------------------------------------------ set

#[derive(Debug, Clone)]
pub enum SetValue {
    Int(IntSet),
    Lp(ListPack),
    Ht(HashSetTable),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Lp(ListPack::new())
    }
}

fn intset_max(t: &Thresholds) -> usize {
    t.set_max_intset_entries.min(1 << 30)
}

fn digits10(v: i64) -> usize {
    let mut b = itoa::Buffer::new();
    b.format(v).len()
}

impl SetValue {
    pub fn new(_t: &Thresholds) -> Self {
        SetValue::default()
    }

    /// The empty set Redis's `setTypeCreate(first, hint)` makes for a write
    /// whose first member is `first` and that will add about `hint` members.
    pub fn create(first: &[u8], hint: usize, t: &Thresholds) -> Self {
        if parse_i64(first).is_some() && hint <= intset_max(t) {
            SetValue::Int(IntSet::default())
        } else if hint <= t.set_max_listpack_entries {
            SetValue::Lp(ListPack::new())
        } else {
            SetValue::Ht(HashSetTable::with_capacity(hint))
        }
    }

    pub fn empty_intset() -> Self {
        SetValue::Int(IntSet::default())
    }

    pub fn empty_hashtable() -> Self {
        SetValue::Ht(HashSetTable::new())
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Int(s) => s.len(),
            SetValue::Lp(l) => l.len(),
            SetValue::Ht(h) => h.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned, kept up to date incrementally (O(1)).
    pub fn mem_usage(&self) -> usize {
        match self {
            SetValue::Int(s) => s.mem_usage(),
            SetValue::Lp(l) => l.mem_usage(),
            SetValue::Ht(h) => h.mem_usage(),
        }
    }

    /// Bytes a clone copies (a table shares its segments).
    pub fn share_cost(&self) -> usize {
        match self {
            SetValue::Ht(h) => h.share_cost(),
            _ => self.mem_usage(),
        }
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Int(_) => "intset",
            SetValue::Lp(_) => "listpack",
            SetValue::Ht(_) => "hashtable",
        }
    }

    pub fn is_intset(&self) -> bool {
        matches!(self, SetValue::Int(_))
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Int(s) => parse_i64(m).is_some_and(|v| s.contains(v)),
            SetValue::Lp(l) => l.find(m, 1).is_some(),
            SetValue::Ht(h) => h.contains(m),
        }
    }

    pub fn contains_ref(&self, m: MemberRef<'_>) -> bool {
        match (self, m) {
            (SetValue::Int(s), MemberRef::Int(v)) => s.contains(v),
            (_, MemberRef::Bytes(b)) => self.contains(b),
            (_, m) => m.with_bytes(|b| self.contains(b)),
        }
    }

    fn convert_to_hashtable(&mut self, extra: usize) {
        let mut h = HashSetTable::with_capacity(self.len() + extra);
        for m in self.iter() {
            m.with_bytes(|b| h.insert(b));
        }
        *self = SetValue::Ht(h);
    }

    /// Adds `m`; false when it was already a member (`setTypeAdd`).
    pub fn add(&mut self, m: &[u8], t: &Thresholds) -> bool {
        self.add_ref(MemberRef::Bytes(m), t)
    }

    /// `setTypeAddAux`: the conversions happen exactly where Redis's do.
    pub fn add_ref(&mut self, m: MemberRef<'_>, t: &Thresholds) -> bool {
        match self {
            SetValue::Int(s) => match m.as_int() {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > intset_max(t) {
                        self.convert_to_hashtable(0);
                    }
                    true
                }
                None => {
                    let b = match m {
                        MemberRef::Bytes(b) => b,
                        MemberRef::Int(_) => unreachable!("an Int member parses as an integer"),
                    };
                    let maxelelen = match (s.min(), s.max()) {
                        (Some(lo), Some(hi)) => digits10(lo).max(digits10(hi)),
                        _ => 0,
                    };
                    if s.len() < t.set_max_listpack_entries
                        && b.len() <= t.set_max_listpack_value
                        && maxelelen <= t.set_max_listpack_value
                    {
                        let mut lp = ListPack::new();
                        let mut buf = itoa::Buffer::new();
                        for v in s.iter() {
                            lp.push_back(buf.format(v).as_bytes());
                        }
                        lp.push_back(b);
                        lp.shrink();
                        *self = SetValue::Lp(lp);
                    } else {
                        self.convert_to_hashtable(1);
                        if let SetValue::Ht(h) = self {
                            h.insert(b);
                        }
                    }
                    true
                }
            },
            SetValue::Lp(_) => m.with_bytes(|b| self.add_to_listpack(b, t)),
            SetValue::Ht(h) => m.with_bytes(|b| h.insert(b)),
        }
    }

    fn add_to_listpack(&mut self, b: &[u8], t: &Thresholds) -> bool {
        let SetValue::Lp(l) = self else {
            unreachable!("called on a listpack set only")
        };
        if l.find(b, 1).is_some() {
            return false;
        }
        if l.len() < t.set_max_listpack_entries && b.len() <= t.set_max_listpack_value {
            l.push_back(b);
        } else {
            self.convert_to_hashtable(1);
            if let SetValue::Ht(h) = self {
                h.insert(b);
            }
        }
        true
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Int(s) => parse_i64(m).is_some_and(|v| s.remove(v)),
            SetValue::Lp(l) => match l.find(m, 1) {
                Some(p) => {
                    l.remove_at(p);
                    l.shrink();
                    true
                }
                None => false,
            },
            SetValue::Ht(h) => h.remove(m),
        }
    }

    pub fn remove_ref(&mut self, m: MemberRef<'_>) -> bool {
        match (&mut *self, m) {
            (SetValue::Int(s), MemberRef::Int(v)) => s.remove(v),
            (_, m) => m.with_bytes(|b| self.remove(b)),
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        match self {
            SetValue::Int(s) => Iter::Int(s, 0),
            SetValue::Lp(l) => Iter::Lp(l.iter()),
            SetValue::Ht(h) => Iter::Ht(Box::new(h.iter())),
        }
    }

    /// A uniformly random member.
    pub fn random(&self, rng: &mut impl Rng) -> Option<MemberRef<'_>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match self {
            SetValue::Int(s) => Some(MemberRef::Int(s.get(rng.gen_range(0..n)))),
            SetValue::Lp(l) => l.get(rng.gen_range(0..n)).map(MemberRef::Bytes),
            SetValue::Ht(h) => h.random(rng).map(MemberRef::Bytes),
        }
    }

    /// `count` distinct random members (`count < len`), in no useful order.
    pub fn sample(&self, count: usize, rng: &mut impl Rng) -> Vec<MemberRef<'_>> {
        let n = self.len();
        let count = count.min(n);
        if let (SetValue::Ht(h), true) = (self, count * 3 <= n) {
            // Few picks from a big table: pick until distinct rather than walk it all.
            let mut seen: hashbrown::HashSet<&[u8]> = hashbrown::HashSet::with_capacity(count);
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                if let Some(m) = h.random(rng) {
                    if seen.insert(m) {
                        out.push(MemberRef::Bytes(m));
                    }
                }
            }
            return out;
        }
        let mut idx = rand::seq::index::sample(rng, n, count).into_vec();
        idx.sort_unstable();
        let mut out = Vec::with_capacity(count);
        let mut want = idx.into_iter().peekable();
        for (i, m) in self.iter().enumerate() {
            match want.peek() {
                Some(&w) if w == i => {
                    out.push(m);
                    want.next();
                }
                Some(_) => {}
                None => break,
            }
        }
        out
    }

    /// Converts an all-integer set to an intset when it fits (the end of
    /// SINTERSTORE: `maybeConvertToIntset`).
    pub fn maybe_to_intset(&mut self, t: &Thresholds) {
        if self.is_intset() || self.len() > intset_max(t) {
            return;
        }
        let mut s = IntSet::default();
        for m in self.iter() {
            match m.as_int() {
                Some(v) => {
                    s.insert(v);
                }
                None => return,
            }
        }
        *self = SetValue::Int(s);
    }
}

pub enum Iter<'a> {
    Int(&'a IntSet, usize),
    Lp(crate::keyspace::listpack::Iter<'a>),
    Ht(Box<dyn Iterator<Item = &'a [u8]> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = MemberRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<MemberRef<'a>> {
        match self {
            Iter::Int(s, i) => {
                if *i >= s.len() {
                    return None;
                }
                *i += 1;
                Some(MemberRef::Int(s.get(*i - 1)))
            }
            Iter::Lp(it) => it.next().map(MemberRef::Bytes),
            Iter::Ht(it) => it.next().map(MemberRef::Bytes),
        }
    }
}

// ------------------------------------------------- multi-set operations

/// Members of the intersection of `sets` (a missing key is `None`, an
/// empty set), in the iteration order of the smallest set, as SINTER
/// replies; stops after `limit` members when `limit > 0`.
pub fn intersect<'a>(sets: &[Option<&'a SetValue>], limit: usize) -> Vec<MemberRef<'a>> {
    let mut present: Vec<&SetValue> = Vec::with_capacity(sets.len());
    for s in sets {
        match s {
            Some(s) => present.push(s),
            None => return Vec::new(),
        }
    }
    if present.is_empty() {
        return Vec::new();
    }
    // Smallest first, as Redis's qsort by cardinality (stable for ties).
    present.sort_by_key(|s| s.len());
    let first = present[0];
    let mut out = Vec::new();
    for m in first.iter() {
        let all = present[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, first) || s.contains_ref(m));
        if all {
            out.push(m);
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// SINTERSTORE's result set, built as Redis builds it: an intset when the
/// smallest source is one, otherwise a listpack that converts on the way;
/// an all-integer result ends as an intset when it fits.
pub fn intersect_store(sets: &[Option<&SetValue>], t: &Thresholds) -> SetValue {
    let first_is_intset = sets
        .iter()
        .flatten()
        .min_by_key(|s| s.len())
        .is_some_and(|s| s.is_intset());
    let members = intersect(sets, 0);
    let mut dst = if first_is_intset {
        SetValue::empty_intset()
    } else {
        SetValue::default()
    };
    let mut only_ints = true;
    for m in members {
        if only_ints && m.as_int().is_none() {
            only_ints = false;
        }
        dst.add_ref(m, t);
    }
    if only_ints && !dst.is_empty() {
        dst.maybe_to_intset(t);
    }
    dst
}

/// SUNION/SDIFF (and their STORE forms): Redis's `sunionDiffGenericCommand`,
/// including its choice of diff algorithm, which decides the intermediate
/// sizes and so the encoding a stored result ends with.
pub fn union_diff(sets: &[Option<&SetValue>], diff: bool, store: bool, t: &Thresholds) -> SetValue {
    let all_intsets = sets.iter().flatten().all(|s| s.is_intset());
    let mut dst = if store || all_intsets {
        SetValue::empty_intset()
    } else {
        SetValue::empty_hashtable()
    };
    if !diff {
        for s in sets.iter().flatten() {
            for m in s.iter() {
                dst.add_ref(m, t);
            }
        }
        return dst;
    }
    let Some(first) = sets.first().copied().flatten() else {
        return dst;
    };
    if sets[1..].iter().flatten().any(|s| std::ptr::eq(*s, first)) {
        return dst;
    }
    let others: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
    let n = others.len() + 1;
    let algo_one = (first.len() * n) / 2;
    let algo_two: usize = first.len() + others.iter().map(|s| s.len()).sum::<usize>();
    if algo_one <= algo_two {
        let mut others = others;
        // Biggest first: a common member is found sooner.
        others.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for m in first.iter() {
            if !others.iter().any(|s| s.contains_ref(m)) {
                dst.add_ref(m, t);
            }
        }
    } else {
        for m in first.iter() {
            dst.add_ref(m, t);
        }
        for s in others {
            if dst.is_empty() {
                break;
            }
            for m in s.iter() {
                dst.remove_ref(m);
            }
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn t() -> Thresholds {
        Thresholds::default()
    }

    #[test]
    fn intset_widths_and_order() {
        let mut s = IntSet::default();
        assert!(s.insert(5));
        assert!(s.insert(-3));
        assert!(!s.insert(5));
        assert_eq!(s.buf.len(), 4);
        assert!(s.insert(1 << 40));
        assert!(s.insert(70000));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 5, 70000, 1 << 40]);
        assert!(s.remove(5));
        assert!(!s.remove(5));
        assert!(s.contains(1 << 40));
        assert!(s.insert(i64::MIN));
        assert_eq!(s.min(), Some(i64::MIN));
        let mut s = IntSet::default();
        for i in 0..512 {
            s.insert(i);
        }
        // Redis: 8-byte header + 1024 bytes, in a 1280-byte allocation.
        assert!(s.mem_usage() <= 1280, "{}", s.mem_usage());
    }

    #[test]
    fn conversions_follow_redis() {
        let t = t();
        let mut s = SetValue::create(b"1", 1, &t);
        s.add(b"1", &t);
        s.add(b"3", &t);
        s.add(b"2", &t);
        assert_eq!(s.encoding(), "intset");
        s.add(b"a", &t);
        assert_eq!(s.encoding(), "listpack");
        let v: Vec<Vec<u8>> = s.iter().map(MemberRef::to_vec).collect();
        assert_eq!(
            v,
            vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec(), b"a".to_vec()]
        );
        s.add(&[b'x'; 65], &t);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);

        let mut s = SetValue::create(b"0", 1, &t);
        for i in 0..512 {
            s.add(i.to_string().as_bytes(), &t);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"512", &t);
        assert_eq!(s.encoding(), "hashtable");

        let mut s = SetValue::create(b"0", 1, &t);
        for i in 0..200 {
            s.add(i.to_string().as_bytes(), &t);
        }
        s.add(b"x", &t);
        assert_eq!(
            s.encoding(),
            "hashtable",
            "intset of 200 cannot become a listpack"
        );
        assert!(SetValue::create(b"a", 129, &t).encoding() == "hashtable");
    }

    #[test]
    fn hashtable_scan_random_and_memory() {
        let mut h = HashSetTable::new();
        for i in 0..5000 {
            assert!(h.insert(format!("m{i}").as_bytes()));
        }
        assert!(!h.insert(b"m1"));
        assert_eq!(h.mem_usage(), h.recount_mem());
        for i in (0..5000).step_by(3) {
            assert!(h.remove(format!("m{i}").as_bytes()));
        }
        assert_eq!(h.mem_usage(), h.recount_mem());
        // Scan while growing: every member present throughout is seen.
        let stable: std::collections::HashSet<Vec<u8>> = h.iter().map(<[u8]>::to_vec).collect();
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut extra = 0;
        loop {
            cursor = h.scan(cursor, 10, |m| {
                seen.insert(m.to_vec());
            });
            for _ in 0..50 {
                h.insert(format!("new{extra}").as_bytes());
                extra += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        assert!(stable.iter().all(|m| seen.contains(m)));
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let r = h.random(&mut rng).map(<[u8]>::to_vec);
        assert!(r.is_some_and(|m| h.contains(&m)));
        assert_eq!(h.mem_usage(), h.recount_mem());
    }

    #[test]
    fn hashtable_churn_compacts_and_stays_compact() {
        let mut h = HashSetTable::new();
        let mut model = std::collections::HashSet::new();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for round in 0..40_000u32 {
            let m = format!("member:{:06}", rng.gen_range(0..20_000u32));
            if round % 3 == 0 {
                assert_eq!(h.remove(m.as_bytes()), model.remove(&m));
            } else {
                assert_eq!(h.insert(m.as_bytes()), model.insert(m));
            }
        }
        assert_eq!(h.len(), model.len());
        assert!(model.iter().all(|m| h.contains(m.as_bytes())));
        assert_eq!(h.iter().count(), model.len());
        assert_eq!(h.mem_usage(), h.recount_mem());
        // Redis 7.2 spends ~45 bytes on a 13-byte member (sds block, dict
        // entry, bucket slot); the packed segments must stay well below.
        let mut fresh = HashSetTable::new();
        for i in 0..10_000 {
            fresh.insert(format!("member:{i:06}").as_bytes());
        }
        let per = fresh.mem_usage() / fresh.len();
        assert!(per <= 40, "{per} bytes per member");
    }

    #[test]
    fn store_results_encode_like_redis() {
        let t = t();
        let mut a = SetValue::create(b"x", 3, &t);
        let mut b = SetValue::create(b"1", 3, &t);
        for m in [&b"1"[..], b"2", b"x"] {
            a.add(m, &t);
            b.add(m, &t);
        }
        let r = intersect_store(&[Some(&a), Some(&b)], &t);
        assert_eq!(r.encoding(), "listpack");
        let mut c = SetValue::create(b"2", 2, &t);
        c.add(b"2", &t);
        c.add(b"1", &t);
        let r = intersect_store(&[Some(&a), Some(&c)], &t);
        assert_eq!(r.encoding(), "intset");
        assert_eq!(r.len(), 2);
        let u = union_diff(&[Some(&c), None], false, false, &t);
        assert_eq!(u.encoding(), "intset");
        let d = union_diff(&[Some(&a), Some(&c)], true, true, &t);
        assert_eq!(d.iter().collect::<Vec<_>>(), vec![MemberRef::Bytes(b"x")]);
    }
}
