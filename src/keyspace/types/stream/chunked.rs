//! An ordered map whose items live in reference-counted sorted leaves, so
//! that a clone shares them: what a consumer group keeps its pending
//! entries (PEL), its consumers and their PELs in.
//!
//! A snapshot takes a stream with [`Clone`] under its DB lock. With a
//! B-tree per PEL that copied every pending entry (a million-entry PEL
//! stalled its DB for the whole copy); here a clone copies the leaf index
//! (one slot per [`LEAF_MAX`] items) and shares the leaves, and a later
//! write copies only the leaf it changes (`Arc::make_mut`).
//!
//! The index is a `BTreeMap` from a *fence* to a leaf: a key `<=` every
//! key of its leaf and `>` every key of the previous leaf. A fence need not
//! be present (removing a leaf's first item leaves it), so acknowledging
//! the oldest entry never re-keys the index; only an insert below the first
//! fence does. Leaves are `VecDeque`s because queues insert at the tail
//! and remove at the head: both O(1) in a deque, where a `Vec` would shift
//! the leaf on each acknowledgement. An insert past the end of a full leaf
//! starts a new leaf instead of splitting it, and a full leaf splits where
//! the insert goes, so ascending inserts (new deliveries, at the end of the
//! group PEL or inside the consumers' PEL set) leave full leaves; a leaf
//! that falls under [`LEAF_MIN`] is merged with a neighbour when both fit
//! in one, so the index stays within a small factor of `len / LEAF_MAX`
//! whatever the removal pattern. Lookups check the first and last leaves
//! before searching the index: queues work at the ends.
//!
//! Cost, callgrind on `benches/dispatch.rs` `streams/xadd_xreadgroup_xack_pel100k`
//! (instructions per XADD + XREADGROUP + XACK cycle, 100k entries pending):
//! 36,975 with B-trees, 39,731 with range searches for every lookup,
//! 37,265 with the end checks (XACK 2,663 → 2,662, XREADGROUP 28,605 →
//! 28,958). A snapshot of a stream whose group has 100k entries pending
//! copies ~73 KB under the lock instead of the whole group state (~9 MB
//! as accounted): `snapshot::tests::stream_groups_are_shared_with_the_snapshot`.

use std::borrow::Borrow;
use std::collections::btree_map;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::sync::Arc;

/// Items per leaf at most: a leaf copy is at most 128 items (6 KiB of PEL
/// entries), and the index of a 1M-entry PEL ~8k slots.
pub const LEAF_MAX: usize = 128;
/// Under this a leaf is merged with a neighbour when they fit in one.
pub const LEAF_MIN: usize = LEAF_MAX / 4;

type Leaf<K, V> = Arc<VecDeque<(K, V)>>;

#[derive(Debug)]
pub struct ChunkMap<K, V> {
    leaves: BTreeMap<K, Leaf<K, V>>,
    len: usize,
}

impl<K, V> Default for ChunkMap<K, V> {
    fn default() -> Self {
        ChunkMap {
            leaves: BTreeMap::new(),
            len: 0,
        }
    }
}

/// Shares every leaf: O(leaves), never O(items).
impl<K: Clone, V> Clone for ChunkMap<K, V> {
    fn clone(&self) -> Self {
        ChunkMap {
            leaves: self.leaves.clone(),
            len: self.len,
        }
    }
}

impl<K: Ord + Clone, V: Clone> ChunkMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Leaves in the index (what a clone copies a slot of each).
    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// Bytes a clone copies: the index's slots (key, leaf pointer, and the
    /// B-tree's per-slot share of its nodes).
    pub fn share_cost(&self) -> usize {
        self.leaves.len() * (std::mem::size_of::<K>() + std::mem::size_of::<usize>() + 8)
    }

    /// Which leaf would hold `k`: the ends are checked first, because a
    /// queue works there (deliveries append to the last leaf, the oldest
    /// entries are acknowledged from the first), and a `BTreeMap` range
    /// search costs several times a look at its first or last slot.
    fn place<Q>(&self, k: &Q) -> Option<Place>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        place(&self.leaves, k)
    }

    /// The leaf (and its fence) that holds `k` if anything does.
    fn leaf_of<Q>(&self, k: &Q) -> Option<(&K, &Leaf<K, V>)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.place(k)? {
            Place::Last => self.leaves.last_key_value(),
            Place::First => self.leaves.first_key_value(),
            Place::Inner => self
                .leaves
                .range::<Q, _>((Unbounded, Included(k)))
                .next_back(),
        }
    }

    /// As [`ChunkMap::leaf_of`], to change (the caller copies it if shared).
    fn leaf_mut<Q>(&mut self, k: &Q) -> Option<&mut Leaf<K, V>>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        leaf_mut(&mut self.leaves, k)
    }

    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get_key_value(k).map(|(_, v)| v)
    }

    pub fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (_, leaf) = self.leaf_of(k)?;
        let i = leaf.binary_search_by(|(x, _)| x.borrow().cmp(k)).ok()?;
        let (k, v) = &leaf[i];
        Some((k, v))
    }

    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get_key_value(k).is_some()
    }

    /// The value of `k` to change: copies its leaf first if a clone
    /// shares it (only when `k` is present).
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let leaf = self.leaf_mut(k)?;
        let i = leaf.binary_search_by(|(x, _)| x.borrow().cmp(k)).ok()?;
        Some(&mut Arc::make_mut(leaf)[i].1)
    }

    /// Inserts or replaces; the old value when `k` was present.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let Some(first) = self.leaves.keys().next() else {
            self.len = 1;
            self.leaves
                .insert(k.clone(), Arc::new(VecDeque::from([(k, v)])));
            return None;
        };
        if k < *first {
            // Below every fence: the first leaf takes it, under a new fence.
            let (_, leaf) = self.leaves.pop_first().expect("not empty");
            self.leaves.insert(k.clone(), leaf);
        }
        let leaf = leaf_mut(&mut self.leaves, &k).expect("k is at or above the first fence");
        let at = match leaf.binary_search_by(|(x, _)| x.cmp(&k)) {
            Ok(i) => return Some(std::mem::replace(&mut Arc::make_mut(leaf)[i].1, v)),
            Err(i) => i,
        };
        self.len += 1;
        if leaf.len() < LEAF_MAX {
            Arc::make_mut(leaf).insert(at, (k, v));
            return None;
        }
        if at == leaf.len() {
            // Past the end of a full leaf: a new leaf, so that ascending
            // inserts fill leaves instead of leaving them half full.
            self.leaves
                .insert(k.clone(), Arc::new(VecDeque::from([(k, v)])));
            return None;
        }
        let l = Arc::make_mut(leaf);
        // Split where the key goes (within bounds): ascending inserts into
        // the middle of the map (a consumer's PEL that others' follow) then
        // fill the left part instead of leaving half-full leaves behind.
        let mut right = l.split_off(at.clamp(LEAF_MIN, LEAF_MAX - LEAF_MIN));
        if at <= l.len() {
            l.insert(at, (k, v));
        } else {
            right.insert(at - l.len(), (k, v));
        }
        let right_fence = right[0].0.clone();
        self.leaves.insert(right_fence, Arc::new(right));
        None
    }

    /// Removes `k`; its value when it was present.
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let leaf = leaf_mut(&mut self.leaves, k)?;
        let i = leaf.binary_search_by(|(x, _)| x.borrow().cmp(k)).ok()?;
        let l = Arc::make_mut(leaf);
        let (_, v) = l.remove(i).expect("found above");
        let left = l.len();
        self.len -= 1;
        // A merge is tried when the leaf falls under the minimum, not at
        // every removal after (a queue drains its first leaf one by one).
        if left != 0 && left != LEAF_MIN - 1 {
            return Some(v);
        }
        // The leaf's fence still places `k` in it (a range search if the
        // first leaf just lost its greatest key).
        let fence = self
            .leaves
            .range::<Q, _>((Unbounded, Included(k)))
            .next_back()
            .map(|(f, _)| f.clone())
            .expect("the leaf k was in");
        if left == 0 {
            self.leaves.remove::<K>(&fence);
        } else {
            self.merge_small(fence);
        }
        Some(v)
    }

    /// Merges the small leaf at `fence` with its next neighbour, or else
    /// its previous one, when the two fit in one leaf.
    fn merge_small(&mut self, fence: K) {
        let small = self.leaves[&fence].len();
        let next = self
            .leaves
            .range((Excluded(&fence), Unbounded))
            .next()
            .filter(|(_, l)| l.len() + small <= LEAF_MAX)
            .map(|(f, _)| f.clone());
        if let Some(next) = next {
            let items = take_items(self.leaves.remove(&next).expect("found above"));
            let leaf = self.leaves.get_mut(&fence).expect("found above");
            Arc::make_mut(leaf).extend(items);
            return;
        }
        let prev = self
            .leaves
            .range((Unbounded, Excluded(&fence)))
            .next_back()
            .filter(|(_, l)| l.len() + small <= LEAF_MAX)
            .map(|(f, _)| f.clone());
        if let Some(prev) = prev {
            let items = take_items(self.leaves.remove(&fence).expect("found above"));
            let leaf = self.leaves.get_mut(&prev).expect("found above");
            Arc::make_mut(leaf).extend(items);
        }
    }

    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        let (k, v) = self.leaves.values().next()?.front()?;
        Some((k, v))
    }

    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        let (k, v) = self.leaves.values().next_back()?.back()?;
        Some((k, v))
    }

    /// Every item, ascending.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            leaves: self
                .leaves
                .range::<K, (_, _)>((Unbounded::<&K>, Unbounded::<&K>)),
            cur: None,
        }
    }

    /// Items with keys `>= from`, ascending: O(log n) to the first.
    pub fn range_from<Q>(&self, from: &Q) -> Iter<'_, K, V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let Some((fence, leaf)) = self.leaf_of(from) else {
            return self.iter();
        };
        let at = leaf.partition_point(|(x, _)| x.borrow() < from);
        Iter {
            leaves: self.leaves.range::<K, _>((Excluded(fence), Unbounded)),
            cur: Some(leaf.range(at..)),
        }
    }

    /// Checks the structure (tests): fences order the leaves, no leaf is
    /// empty or over [`LEAF_MAX`], the count is right.
    #[cfg(test)]
    pub fn check(&self) {
        let mut n = 0;
        let mut prev: Option<&K> = None;
        for (fence, leaf) in &self.leaves {
            assert!(!leaf.is_empty() && leaf.len() <= LEAF_MAX);
            assert!(leaf[0].0 >= *fence);
            if let Some(p) = prev {
                assert!(*fence > *p);
            }
            for w in leaf.iter().zip(leaf.iter().skip(1)) {
                assert!(w.0 .0 < w.1 .0);
            }
            prev = leaf.back().map(|(k, _)| k);
            n += leaf.len();
        }
        assert_eq!(n, self.len);
    }
}

/// [`ChunkMap::place`] on the index alone (so a caller can hold a leaf
/// and the count apart).
fn place<K, V, Q>(leaves: &BTreeMap<K, Leaf<K, V>>, k: &Q) -> Option<Place>
where
    K: Borrow<Q> + Ord,
    Q: Ord + ?Sized,
{
    let (last, _) = leaves.last_key_value()?;
    if last.borrow() <= k {
        return Some(Place::Last);
    }
    let (first, leaf) = leaves.first_key_value()?;
    if k < first.borrow() {
        return None;
    }
    // At or below the first leaf's greatest key: below the next fence.
    if leaf.back().is_some_and(|(x, _)| k <= x.borrow()) {
        return Some(Place::First);
    }
    Some(Place::Inner)
}

/// [`ChunkMap::leaf_mut`] on the index alone.
fn leaf_mut<'a, K, V, Q>(
    leaves: &'a mut BTreeMap<K, Leaf<K, V>>,
    k: &Q,
) -> Option<&'a mut Leaf<K, V>>
where
    K: Borrow<Q> + Ord,
    Q: Ord + ?Sized,
{
    match place(leaves, k)? {
        Place::Last => leaves.values_mut().next_back(),
        Place::First => leaves.values_mut().next(),
        Place::Inner => leaves
            .range_mut::<Q, _>((Unbounded, Included(k)))
            .next_back()
            .map(|(_, l)| l),
    }
}

/// Where [`ChunkMap::place`] found a key's leaf.
enum Place {
    First,
    Last,
    Inner,
}

/// A leaf's items, moved out when no clone shares it, copied otherwise.
fn take_items<K: Clone, V: Clone>(leaf: Leaf<K, V>) -> VecDeque<(K, V)> {
    Arc::try_unwrap(leaf).unwrap_or_else(|shared| (*shared).clone())
}

pub struct Iter<'a, K, V> {
    leaves: btree_map::Range<'a, K, Leaf<K, V>>,
    cur: Option<std::collections::vec_deque::Iter<'a, (K, V)>>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.cur.as_mut().and_then(|c| c.next()) {
                return Some((k, v));
            }
            self.cur = Some(self.leaves.next()?.1.iter());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// Random inserts, replacements, removals and range reads against a
    /// `BTreeMap`, with clones taken along the way that must keep the
    /// contents they had however the original changes afterwards.
    #[test]
    fn matches_a_btreemap_and_clones_keep_their_contents() {
        let mut rng = SmallRng::seed_from_u64(11);
        let mut m: ChunkMap<u32, u64> = ChunkMap::new();
        let mut model: BTreeMap<u32, u64> = BTreeMap::new();
        let mut clones: Vec<(ChunkMap<u32, u64>, BTreeMap<u32, u64>)> = Vec::new();
        for step in 0..60_000u64 {
            // Phases: ascending appends, random churn, head removals.
            let k: u32 = match (step / 10_000) % 3 {
                0 => (step as u32) * 2,
                1 => rng.gen_range(0..30_000),
                _ => model.keys().next().copied().unwrap_or(0),
            };
            match rng.gen_range(0..10) {
                0..=4 if (step / 10_000) % 3 != 2 => {
                    assert_eq!(m.insert(k, step), model.insert(k, step));
                }
                5 => {
                    if let (Some(v), Some(w)) = (m.get_mut(&k), model.get_mut(&k)) {
                        *v += 1;
                        *w += 1;
                    }
                }
                _ => assert_eq!(m.remove(&k), model.remove(&k)),
            }
            assert_eq!(m.get(&k), model.get(&k));
            if step % 997 == 0 {
                m.check();
                assert_eq!(m.len(), model.len());
                let from = rng.gen_range(0..30_000);
                let got: Vec<_> = m.range_from(&from).take(300).collect();
                let want: Vec<_> = model.range(from..).take(300).collect();
                assert_eq!(got, want);
                assert_eq!(m.first_key_value(), model.first_key_value());
                assert_eq!(m.last_key_value(), model.last_key_value());
                clones.push((m.clone(), model.clone()));
            }
        }
        m.check();
        assert!(m.iter().eq(model.iter()));
        for (c, want) in &clones {
            c.check();
            assert!(c.iter().eq(want.iter()));
        }
    }

    #[test]
    fn ascending_inserts_fill_leaves_and_removals_merge_them() {
        let mut m: ChunkMap<u64, ()> = ChunkMap::new();
        for i in 0..(LEAF_MAX as u64 * 100) {
            m.insert(i, ());
        }
        assert_eq!(m.leaf_count(), 100);
        // Keep every 16th: leaves fall under the minimum and merge.
        for i in 0..(LEAF_MAX as u64 * 100) {
            if i % 16 != 0 {
                m.remove(&i);
            }
        }
        m.check();
        assert_eq!(m.len(), LEAF_MAX * 100 / 16);
        assert!(m.leaf_count() <= 100 / 2, "{} leaves", m.leaf_count());
    }

    /// Consumers' PELs as `(tag, id)`: two consumers reading in turns
    /// insert ascending ids inside the set (before the other's range), and
    /// splitting where the insert goes keeps those leaves full too.
    #[test]
    fn ascending_inserts_inside_the_map_fill_leaves() {
        let mut m: ChunkMap<(u64, u64), ()> = ChunkMap::new();
        let n = LEAF_MAX as u64 * 200;
        for i in 0..n {
            m.insert(((i / 10) % 2, i), ());
        }
        m.check();
        assert!(m.leaf_count() <= 205, "{} leaves", m.leaf_count());
    }

    /// A clone shares the leaves: a write to the original copies one.
    #[test]
    fn a_write_after_a_clone_copies_one_leaf() {
        let mut m: ChunkMap<u64, u64> = ChunkMap::new();
        for i in 0..10_000 {
            m.insert(i, i);
        }
        let snap = m.clone();
        m.remove(&5000);
        *m.get_mut(&7000).expect("present") = 1;
        let unshared = m
            .leaves
            .values()
            .filter(|l| Arc::strong_count(l) == 1)
            .count();
        assert_eq!(unshared, 2);
        assert_eq!(snap.get(&5000), Some(&5000));
        assert_eq!(snap.get(&7000), Some(&7000));
    }
}
