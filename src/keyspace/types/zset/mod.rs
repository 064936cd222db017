//! The sorted-set value: a [`ListPack`] of (member, score) pairs sorted by
//! (score, member) while small, a [`SkipList`] once it passes
//! zset-max-listpack-entries / zset-max-listpack-value (never back, as in
//! Redis).
//!
//! Every range operation is expressed in ranks: a score or lex range becomes
//! the rank interval `[below-min count, at-most-max count)`, so counting,
//! LIMIT, REV and removal share one path for both encodings.
//!
//! In the listpack a score takes 0..7 bytes when it is an integer below
//! 2^53 (little-endian two's complement, minimal width) and 8 raw bytes
//! otherwise; the element's length prefix tells the two apart.

pub mod skiplist;

use super::super::listpack::{ListPack, Pos};
use crate::keyspace::entry::alloc_class;
use crate::keyspace::value::Thresholds;
pub use skiplist::SkipList;

#[derive(Debug, Clone)]
enum Repr {
    Pack(ListPack),
    Skip(Box<SkipList>),
}

#[derive(Debug, Clone)]
pub struct ZSetValue {
    repr: Repr,
}

/// ZADD's input flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    pub incr: bool,
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

/// What one ZADD element did (Redis's `ZADD_OUT_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Added {
    Added(f64),
    Updated(f64),
    /// The member was present with this (unchanged) score.
    Same(f64),
    Nop,
    NaN,
}

/// A score interval (`(` makes a bound exclusive).
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    #[inline]
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    #[inline]
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lex range: `-`, `+`, `[x` or `(x`.
#[derive(Debug, Clone, Copy)]
pub enum LexBound<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

#[derive(Debug, Clone, Copy)]
pub struct LexRange<'a> {
    pub min: LexBound<'a>,
    pub max: LexBound<'a>,
}

impl LexRange<'_> {
    /// Redis's up-front emptiness test (`sdscmplex` of the bounds).
    pub fn is_empty(&self) -> bool {
        use std::cmp::Ordering::*;
        if matches!(self.min, LexBound::Max) || matches!(self.max, LexBound::Min) {
            return true;
        }
        fn key<'b>(b: &LexBound<'b>) -> (&'b [u8], bool) {
            match *b {
                LexBound::Incl(v) => (v, false),
                LexBound::Excl(v) => (v, true),
                _ => (&[], false),
            }
        }
        let cmp = match (self.min, self.max) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Less,
            _ => key(&self.min).0.cmp(key(&self.max).0),
        };
        cmp == Greater || (cmp == Equal && (key(&self.min).1 || key(&self.max).1))
    }

    #[inline]
    pub fn gte_min(&self, v: &[u8]) -> bool {
        match self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(m) => v >= m,
            LexBound::Excl(m) => v > m,
        }
    }
    #[inline]
    pub fn lte_max(&self, v: &[u8]) -> bool {
        match self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(m) => v <= m,
            LexBound::Excl(m) => v < m,
        }
    }
}

const INT_SCORE_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

fn encode_score(v: f64, buf: &mut [u8; 8]) -> &[u8] {
    // -0.0 packs as 0 and reads back as +0.0: Redis's listpack does the
    // same (ZSCORE answers "0" there, "-0" once skiplist-encoded).
    if v.fract() == 0.0 && v.abs() < INT_SCORE_LIMIT {
        let i = v as i64;
        *buf = i.to_le_bytes();
        let mut n = 0;
        while n < 8 {
            // Smallest n whose sign-extension gives back i.
            let shift = 64 - 8 * n as u32;
            let back = if n == 0 { 0 } else { (i << shift) >> shift };
            if back == i {
                break;
            }
            n += 1;
        }
        &buf[..n]
    } else {
        *buf = v.to_bits().to_le_bytes();
        &buf[..]
    }
}

#[inline]
fn decode_score(b: &[u8]) -> f64 {
    if b.len() == 8 {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        return f64::from_bits(u64::from_le_bytes(a));
    }
    if b.is_empty() {
        return 0.0;
    }
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    let shift = 64 - 8 * b.len() as u32;
    ((i64::from_le_bytes(a) << shift) >> shift) as f64
}

/// Iterates (member, score, position of member) over a listpack.
struct PairIter<'a> {
    lp: &'a ListPack,
    pos: Pos,
}

impl<'a> Iterator for PairIter<'a> {
    type Item = (&'a [u8], f64, Pos);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.lp.end() {
            return None;
        }
        let at = self.pos;
        let (m, p) = self.lp.at(at);
        let (s, p) = self.lp.at(p);
        self.pos = p;
        Some((m, decode_score(s), at))
    }
}

fn pairs(lp: &ListPack) -> PairIter<'_> {
    PairIter { lp, pos: 0 }
}

fn pack_find(lp: &ListPack, member: &[u8]) -> Option<(Pos, f64)> {
    let pos = lp.find(member, 2)?;
    let (_, score_at) = lp.at(pos);
    Some((pos, decode_score(lp.at(score_at).0)))
}

fn pack_insert(lp: &mut ListPack, member: &[u8], score: f64) {
    let at = pairs(lp)
        .find(|&(m, s, _)| s > score || (s == score && m > member))
        .map_or(lp.end(), |p| p.2);
    let mut buf = [0u8; 8];
    lp.insert_at(at, encode_score(score, &mut buf));
    lp.insert_at(at, member);
}

fn pack_remove_at(lp: &mut ListPack, pos: Pos) {
    lp.remove_at(pos);
    lp.remove_at(pos);
}

impl ZSetValue {
    pub fn new(_t: &Thresholds) -> Self {
        ZSetValue {
            repr: Repr::Pack(ListPack::new()),
        }
    }

    /// The encoding Redis's `zsetTypeCreate` picks for a set about to
    /// receive `size` members whose longest is `max_len` bytes.
    pub fn with_hint(t: &Thresholds, size: usize, max_len: usize) -> Self {
        if size <= t.zset_max_listpack_entries && max_len <= t.zset_max_listpack_value {
            ZSetValue::new(t)
        } else {
            ZSetValue {
                repr: Repr::Skip(Box::default()),
            }
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(lp) => lp.len() / 2,
            Repr::Skip(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot's copy (see `Object::share`): a skiplist shares its
    /// node chunks and can only be walked in order.
    pub fn share(&self) -> ZSetValue {
        match &self.repr {
            Repr::Pack(lp) => ZSetValue {
                repr: Repr::Pack(lp.clone()),
            },
            Repr::Skip(s) => ZSetValue {
                repr: Repr::Skip(Box::new(s.share())),
            },
        }
    }

    /// Bytes [`ZSetValue::share`] copies.
    pub fn share_cost(&self) -> usize {
        match &self.repr {
            Repr::Pack(lp) => lp.mem_usage(),
            Repr::Skip(s) => s.share_cost(),
        }
    }

    /// Heap bytes owned, kept up to date incrementally (O(1)).
    pub fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Pack(lp) => lp.mem_usage(),
            Repr::Skip(s) => alloc_class(std::mem::size_of::<SkipList>()) + s.mem_usage(),
        }
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(lp) => pack_find(lp, member).map(|p| p.1),
            Repr::Skip(s) => s.score(member),
        }
    }

    fn convert(&mut self) {
        if let Repr::Pack(lp) = &self.repr {
            let mut s = SkipList::new();
            for (m, sc, _) in pairs(lp) {
                s.insert(m, sc);
            }
            self.repr = Repr::Skip(Box::new(s));
        }
    }

    /// Inserts a member known to be absent (converting first if needed).
    fn insert_new(&mut self, member: &[u8], score: f64, t: &Thresholds) {
        if let Repr::Pack(lp) = &self.repr {
            if lp.len() / 2 + 1 > t.zset_max_listpack_entries
                || member.len() > t.zset_max_listpack_value
            {
                self.convert();
            }
        }
        match &mut self.repr {
            Repr::Pack(lp) => pack_insert(lp, member, score),
            Repr::Skip(s) => s.insert(member, score),
        }
    }

    /// Sets a member's score, adding it when absent (stores, unions).
    pub fn put(&mut self, member: &[u8], score: f64, t: &Thresholds) {
        self.add(member, score, AddFlags::default(), t);
    }

    /// Redis's `zsetAdd`: one ZADD/ZINCRBY element with its flags.
    pub fn add(&mut self, member: &[u8], score: f64, f: AddFlags, t: &Thresholds) -> Added {
        if score.is_nan() {
            return Added::NaN;
        }
        let cur = self.score(member);
        let Some(cur) = cur else {
            if f.xx {
                return Added::Nop;
            }
            self.insert_new(member, score, t);
            return Added::Added(score);
        };
        if f.nx {
            return Added::Nop;
        }
        let mut score = score;
        if f.incr {
            score += cur;
            if score.is_nan() {
                return Added::NaN;
            }
        }
        if (f.lt && score >= cur) || (f.gt && score <= cur) {
            return Added::Nop;
        }
        if score == cur {
            return Added::Same(score);
        }
        match &mut self.repr {
            Repr::Pack(lp) => {
                if let Some((pos, _)) = pack_find(lp, member) {
                    pack_remove_at(lp, pos);
                }
                pack_insert(lp, member, score);
            }
            Repr::Skip(s) => s.set_score(member, score),
        }
        Added::Updated(score)
    }

    /// Removes a member; true when it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(lp) => match pack_find(lp, member) {
                Some((pos, _)) => {
                    pack_remove_at(lp, pos);
                    lp.shrink();
                    true
                }
                None => false,
            },
            Repr::Skip(s) => s.remove(member).is_some(),
        }
    }

    /// 0-based ascending rank of a member, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Pack(lp) => pairs(lp)
                .enumerate()
                .find(|(_, p)| p.0 == member)
                .map(|(i, p)| (i, p.1)),
            Repr::Skip(s) => s.rank(member),
        }
    }

    fn prefix_len(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(lp) => pairs(lp).take_while(|p| pred(p.1, p.0)).count(),
            Repr::Skip(s) => s.prefix_len(pred),
        }
    }

    /// The ranks `[start, end)` of the members whose scores are in `r`.
    pub fn score_range(&self, r: &ScoreRange) -> (usize, usize) {
        let a = self.prefix_len(|s, _| !r.gte_min(s));
        let b = self.prefix_len(|s, _| r.lte_max(s));
        (a, b.max(a))
    }

    /// The ranks `[start, end)` of the members in the lex range `r`.
    /// Lex ranges are meaningful when all scores are equal; for other sets
    /// this follows Redis's checks (`zslIsInLexRange`, then a walk from the
    /// first member at or above min) so replies still agree.
    pub fn lex_range(&self, r: &LexRange<'_>) -> (usize, usize) {
        let len = self.len();
        if len == 0 || r.is_empty() {
            return (0, 0);
        }
        let (Some((first, _)), Some((last, _))) = (self.get(0), self.get(len - 1)) else {
            return (0, 0);
        };
        if !r.gte_min(last) || !r.lte_max(first) {
            return (0, 0);
        }
        let a = self.prefix_len(|_, m| !r.gte_min(m));
        let b = match &self.repr {
            Repr::Pack(lp) => a + pairs(lp).skip(a).take_while(|p| r.lte_max(p.0)).count(),
            Repr::Skip(s) => s.prefix_len(|_, m| r.lte_max(m)),
        };
        (a, b.max(a))
    }

    /// Visits ranks `start..end` ascending, or descending when `rev`.
    pub fn for_range<'a>(
        &'a self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(&'a [u8], f64),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Pack(lp) => {
                if rev {
                    // A listpack walks forward only: collect the window's
                    // positions (at most 128) and replay them backwards.
                    let window: Vec<(&[u8], f64)> = pairs(lp)
                        .skip(start)
                        .take(end - start)
                        .map(|p| (p.0, p.1))
                        .collect();
                    for (m, s) in window.into_iter().rev() {
                        f(m, s);
                    }
                } else {
                    for (m, s, _) in pairs(lp).skip(start).take(end - start) {
                        f(m, s);
                    }
                }
            }
            Repr::Skip(s) => s.for_range(start, end, rev, f),
        }
    }

    /// Every member in order.
    pub fn for_each<'a>(&'a self, f: impl FnMut(&'a [u8], f64)) {
        self.for_range(0, usize::MAX, false, f);
    }

    /// The member at ascending rank `r`.
    pub fn get(&self, r: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Pack(lp) => pairs(lp).nth(r).map(|p| (p.0, p.1)),
            Repr::Skip(s) => s.get(r),
        }
    }

    /// Removes ranks `start..end`; returns how many went.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Pack(lp) => {
                let Some(pos) = lp.pos_of(2 * start) else {
                    return 0;
                };
                for _ in start..end {
                    pack_remove_at(lp, pos);
                }
                lp.shrink();
                end - start
            }
            Repr::Skip(s) => s.remove_range(start, end),
        }
    }

    /// Pops up to `count` members from the low (or, with `max`, high) end.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let n = count.min(self.len());
        let mut out = Vec::with_capacity(n);
        let (start, end) = if max {
            (self.len() - n, self.len())
        } else {
            (0, n)
        };
        self.for_range(start, end, max, |m, s| out.push((m.to_vec(), s)));
        self.remove_range(start, end);
        out
    }

    /// One ZSCAN step: a listpack goes in one call (cursor 0 back), as in
    /// Redis; a skiplist walks its arena slots.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match &self.repr {
            Repr::Pack(lp) => {
                for (m, s, _) in pairs(lp) {
                    f(m, s);
                }
                0
            }
            Repr::Skip(s) => s.scan(cursor, count, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_codec_roundtrips() {
        let mut buf = [0u8; 8];
        for v in [
            0.0,
            1.0,
            -1.0,
            127.0,
            128.0,
            -129.0,
            7e15,
            -7e15,
            9.007_199_254_740_991e15,
            1.5,
            0.1,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ] {
            let e = encode_score(v, &mut buf).to_vec();
            let d = decode_score(&e);
            assert_eq!(d.to_bits(), v.to_bits(), "{v} via {e:?}");
        }
        assert_eq!(encode_score(0.0, &mut buf).len(), 0);
        assert_eq!(decode_score(encode_score(-0.0, &mut buf)).to_bits(), 0);
        assert_eq!(encode_score(100.0, &mut buf).len(), 1);
        assert_eq!(encode_score(7e15, &mut buf).len(), 7);
    }

    #[test]
    fn listpack_and_skiplist_agree() {
        let t = Thresholds::default();
        let mut a = ZSetValue::new(&t);
        let mut b = ZSetValue {
            repr: Repr::Skip(Box::default()),
        };
        for i in 0..100u32 {
            let m = format!("m{}", (i * 37) % 61);
            let s = ((i * 13) % 7) as f64 - 3.0;
            assert_eq!(
                a.add(m.as_bytes(), s, AddFlags::default(), &t),
                b.add(m.as_bytes(), s, AddFlags::default(), &t)
            );
        }
        assert_eq!(a.encoding(), "listpack");
        let dump = |z: &ZSetValue| {
            let mut v = Vec::new();
            z.for_each(|m, s| v.push((m.to_vec(), s)));
            v
        };
        assert_eq!(dump(&a), dump(&b));
        let r = ScoreRange {
            min: -1.0,
            max: 2.0,
            minex: true,
            maxex: false,
        };
        assert_eq!(a.score_range(&r), b.score_range(&r));
        assert_eq!(a.rank(b"m5"), b.rank(b"m5"));
        assert_eq!(a.remove_range(3, 9), b.remove_range(3, 9));
        assert_eq!(dump(&a), dump(&b));
        assert_eq!(a.pop(true, 4), b.pop(true, 4));
        assert_eq!(a.pop(false, 4), b.pop(false, 4));
        assert_eq!(dump(&a), dump(&b));
    }

    #[test]
    fn converts_at_thresholds() {
        let t = Thresholds::default();
        let mut z = ZSetValue::new(&t);
        for i in 0..128 {
            z.put(format!("{i}").as_bytes(), i as f64, &t);
        }
        assert_eq!(z.encoding(), "listpack");
        z.put(b"x", 1.0, &t);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.len(), 129);
        let mut z = ZSetValue::new(&t);
        z.put(&[b'a'; 65], 1.0, &t);
        assert_eq!(z.encoding(), "skiplist");
    }

    /// Rough per-member cost of a 1M-member skiplist (Redis: ~100-120 B
    /// for short members). Run with `--ignored` (slow in debug builds).
    #[test]
    #[ignore]
    fn memory_per_member_of_a_large_set() {
        let t = Thresholds::default();
        let mut z = ZSetValue::new(&t);
        let n = 1_000_000;
        for i in 0..n {
            z.put(
                format!("member:{i}").as_bytes(),
                (7e15 + i as f64).floor(),
                &t,
            );
        }
        let per = z.mem_usage() / n;
        eprintln!("bytes per member: {per}");
        assert!(per <= 100, "{per} B per member");
    }

    #[test]
    fn memory_per_member_small_sample() {
        let t = Thresholds::default();
        let mut z = ZSetValue::new(&t);
        let n = 50_000;
        for i in 0..n {
            z.put(format!("member:{i}").as_bytes(), i as f64, &t);
        }
        let per = z.mem_usage() / n;
        assert!(per <= 100, "{per} B per member");
        for i in 0..n {
            assert!(z.remove(format!("member:{i}").as_bytes()));
        }
        assert!(z.is_empty());
    }
}
