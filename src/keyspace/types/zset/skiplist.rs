//! The large sorted-set encoding: a skiplist whose nodes live in one arena
//! (`Vec<Node>`, linked by `u32` indexes, freed slots reused through a free
//! list) plus a member index (`HashTable<u32>` of node ids, hashed by the
//! member bytes the node already holds, so each member is stored once).
//!
//! Levels above the first carry a span (how many nodes the link skips), which
//! gives rank, range-by-rank and counts in O(log n) as in Redis's zskiplist.
//! Level 0 is inline in the node (its span is always 1); higher levels are
//! runs in a second arena, with one free list per run length. A node costs
//! ~40 B + its member allocation + ~3 B of upper levels + ~6-10 B of index,
//! against Redis's ~100-120 B (dictEntry, sds, skiplist node).

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::keyspace::entry::alloc_class;

pub const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
const HEAD: u32 = u32::MAX - 1;

#[derive(Clone, Copy, Debug, Default)]
struct Level {
    fwd: u32,
    span: u32,
}

#[derive(Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    back: u32,
    /// Level-0 forward link; for a free slot, the next free slot.
    next0: u32,
    /// First of this node's `height - 1` upper levels in `levels`.
    upper: u32,
    /// 0 marks a free slot.
    height: u8,
}

/// Nodes per chunk of the node arena (40 KiB of nodes).
const CHUNK_SHIFT: usize = 10;
const CHUNK: usize = 1 << CHUNK_SHIFT;

/// The node arena, in reference-counted chunks of [`CHUNK`] nodes so that
/// a snapshot can share it ([`SkipList::share`]): a write to a node in a
/// chunk the snapshot still holds copies that chunk (`Arc::make_mut`:
/// at most 1024 nodes), never the whole set. The first chunk grows like a
/// `Vec`, so a small skiplist does not pay for a whole chunk.
#[derive(Clone, Default)]
struct Nodes {
    chunks: Vec<Arc<Vec<Node>>>,
    len: usize,
}

impl Nodes {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, node: Node) {
        if self.len % CHUNK == 0 && self.len / CHUNK == self.chunks.len() {
            self.chunks.push(Arc::new(Vec::new()));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        Arc::make_mut(last).push(node);
        self.len += 1;
    }

    /// Heap bytes: the chunks (with their `Arc` blocks) and the chunk
    /// list. O(1): every chunk but the last is full (`CHUNK` nodes, which
    /// is also its capacity).
    fn mem(&self) -> usize {
        let Some(last) = self.chunks.last() else {
            return 0;
        };
        let node = std::mem::size_of::<Node>();
        let full = self.chunks.len() - 1;
        full * alloc_class(CHUNK * node)
            + alloc_class(last.capacity() * node)
            + self.chunks.len() * alloc_class(16 + std::mem::size_of::<Vec<Node>>())
            + alloc_class(self.chunks.capacity() * std::mem::size_of::<Arc<Vec<Node>>>())
    }

    /// Every node, by value (a chunk still shared is copied).
    fn into_nodes(self) -> impl Iterator<Item = Node> {
        self.chunks
            .into_iter()
            .flat_map(|c| Arc::try_unwrap(c).unwrap_or_else(|c| (*c).clone()))
    }
}

impl std::ops::Index<usize> for Nodes {
    type Output = Node;
    #[inline]
    fn index(&self, i: usize) -> &Node {
        &self.chunks[i >> CHUNK_SHIFT][i & (CHUNK - 1)]
    }
}

impl std::ops::IndexMut<usize> for Nodes {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut Node {
        &mut Arc::make_mut(&mut self.chunks[i >> CHUNK_SHIFT])[i & (CHUNK - 1)]
    }
}

#[derive(Clone)]
pub struct SkipList {
    nodes: Nodes,
    free_node: u32,
    levels: Vec<Level>,
    /// Free runs of upper levels, by run length - 1, chained through `fwd`.
    free_runs: [u32; MAX_LEVEL],
    head: [Level; MAX_LEVEL],
    tail: u32,
    level: usize,
    len: usize,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Allocated bytes of all members (kept so `mem_usage` is O(1)).
    member_bytes: usize,
    rng: u64,
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkipList")
            .field("len", &self.len)
            .field("level", &self.level)
            .finish()
    }
}

#[inline]
fn before(a_score: f64, a_mem: &[u8], b_score: f64, b_mem: &[u8]) -> bool {
    a_score < b_score || (a_score == b_score && a_mem < b_mem)
}

impl Default for SkipList {
    fn default() -> Self {
        Self::new()
    }
}

impl SkipList {
    pub fn new() -> SkipList {
        let hasher = foldhash::fast::RandomState::default();
        let rng = hasher.hash_one(0x5eed_u64) | 1;
        SkipList {
            nodes: Nodes::default(),
            free_node: NIL,
            levels: Vec::new(),
            free_runs: [NIL; MAX_LEVEL],
            head: [Level { fwd: NIL, span: 0 }; MAX_LEVEL],
            tail: NIL,
            level: 1,
            len: 0,
            index: HashTable::new(),
            hasher,
            member_bytes: 0,
            rng,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// A copy for a snapshot to read in order ([`SkipList::for_range`]
    /// over all ranks, ZSCAN order): the node arena is shared (O(chunks);
    /// see [`Nodes`]), the upper levels and the member index are left
    /// out, so it must not be searched by member or rank. The snapshot
    /// encoder only walks it.
    pub fn share(&self) -> SkipList {
        let mut head = [Level { fwd: NIL, span: 0 }; MAX_LEVEL];
        head[0] = self.head[0];
        SkipList {
            nodes: self.nodes.clone(),
            free_node: self.free_node,
            levels: Vec::new(),
            free_runs: [NIL; MAX_LEVEL],
            head,
            tail: self.tail,
            level: 1,
            len: self.len,
            index: HashTable::new(),
            hasher: self.hasher,
            member_bytes: self.member_bytes,
            rng: self.rng,
        }
    }

    /// Bytes [`SkipList::share`] copies.
    pub fn share_cost(&self) -> usize {
        std::mem::size_of::<SkipList>() + self.nodes.chunks.len() * 8
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned (the arenas' capacities, the index, the members).
    pub fn mem_usage(&self) -> usize {
        self.nodes.mem()
            + alloc_class(self.levels.capacity() * std::mem::size_of::<Level>())
            + self.index.allocation_size()
            + self.member_bytes
    }

    #[inline]
    fn fwd(&self, x: u32, i: usize) -> u32 {
        if x == HEAD {
            self.head[i].fwd
        } else {
            let n = &self.nodes[x as usize];
            if i == 0 {
                n.next0
            } else {
                self.levels[n.upper as usize + i - 1].fwd
            }
        }
    }

    #[inline]
    fn span(&self, x: u32, i: usize) -> u32 {
        if x == HEAD {
            self.head[i].span
        } else if i == 0 {
            1
        } else {
            self.levels[self.nodes[x as usize].upper as usize + i - 1].span
        }
    }

    #[inline]
    fn set_fwd(&mut self, x: u32, i: usize, to: u32) {
        if x == HEAD {
            self.head[i].fwd = to;
        } else if i == 0 {
            self.nodes[x as usize].next0 = to;
        } else {
            let u = self.nodes[x as usize].upper as usize;
            self.levels[u + i - 1].fwd = to;
        }
    }

    #[inline]
    fn set_span(&mut self, x: u32, i: usize, span: u32) {
        if x == HEAD {
            self.head[i].span = span;
        } else if i > 0 {
            let u = self.nodes[x as usize].upper as usize;
            self.levels[u + i - 1].span = span;
        }
    }

    fn random_level(&mut self) -> usize {
        // xorshift64; two bits per level gives Redis's p = 1/4.
        let mut r = self.rng;
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        self.rng = r;
        let mut l = 1;
        while l < MAX_LEVEL && r & 3 == 0 {
            l += 1;
            r >>= 2;
        }
        l
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    fn alloc_node(&mut self, member: Box<[u8]>, score: f64, height: usize) -> u32 {
        let upper = if height > 1 {
            let k = height - 1;
            let run = self.free_runs[k - 1];
            if run != NIL {
                self.free_runs[k - 1] = self.levels[run as usize].fwd;
                run
            } else {
                let at = self.levels.len() as u32;
                self.levels.resize(self.levels.len() + k, Level::default());
                at
            }
        } else {
            0
        };
        self.member_bytes += alloc_class(member.len());
        let node = Node {
            member,
            score,
            back: NIL,
            next0: NIL,
            upper,
            height: height as u8,
        };
        if self.free_node != NIL {
            let id = self.free_node;
            self.free_node = self.nodes[id as usize].next0;
            self.nodes[id as usize] = node;
            id
        } else {
            assert!(self.nodes.len() < HEAD as usize, "sorted set too large");
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    fn free_node(&mut self, id: u32) -> Box<[u8]> {
        let n = &mut self.nodes[id as usize];
        let member = std::mem::take(&mut n.member);
        let height = n.height as usize;
        let upper = n.upper;
        n.height = 0;
        n.next0 = self.free_node;
        self.free_node = id;
        if height > 1 {
            self.levels[upper as usize].fwd = self.free_runs[height - 2];
            self.free_runs[height - 2] = upper;
        }
        self.member_bytes -= alloc_class(member.len());
        member
    }

    /// The update vector and ranks for the position of (score, member).
    fn search(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let f = self.fwd(x, i);
                if f == NIL {
                    break;
                }
                let n = &self.nodes[f as usize];
                if !before(n.score, &n.member, score, member) {
                    break;
                }
                rank[i] += self.span(x, i);
                x = f;
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Links node `id` (its score and member set) at its sorted position.
    fn link(&mut self, id: u32) {
        let (score, height) = {
            let n = &self.nodes[id as usize];
            (n.score, n.height as usize)
        };
        let member = std::mem::take(&mut self.nodes[id as usize].member);
        let (mut update, mut rank) = self.search(score, &member);
        self.nodes[id as usize].member = member;
        if height > self.level {
            for i in self.level..height {
                rank[i] = 0;
                update[i] = HEAD;
                self.head[i].span = self.len as u32;
            }
            self.level = height;
        }
        for i in 0..height {
            let uf = self.fwd(update[i], i);
            self.set_fwd(id, i, uf);
            self.set_fwd(update[i], i, id);
            let us = self.span(update[i], i);
            self.set_span(id, i, us - (rank[0] - rank[i]));
            self.set_span(update[i], i, rank[0] - rank[i] + 1);
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(height) {
            let s = self.span(u, i);
            self.set_span(u, i, s + 1);
        }
        self.nodes[id as usize].back = if update[0] == HEAD { NIL } else { update[0] };
        let next = self.nodes[id as usize].next0;
        if next != NIL {
            self.nodes[next as usize].back = id;
        } else {
            self.tail = id;
        }
        self.len += 1;
    }

    /// Unlinks node `id` given the update vector of its position.
    fn unlink_with(&mut self, id: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.fwd(u, i) == id {
                let s = self.span(u, i) + self.span(id, i) - 1;
                self.set_span(u, i, s);
                let f = self.fwd(id, i);
                self.set_fwd(u, i, f);
            } else {
                let s = self.span(u, i) - 1;
                self.set_span(u, i, s);
            }
        }
        let (next, back) = {
            let n = &self.nodes[id as usize];
            (n.next0, n.back)
        };
        if next != NIL {
            self.nodes[next as usize].back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.head[self.level - 1].fwd == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    fn unlink(&mut self, id: u32) {
        let n = &self.nodes[id as usize];
        let (update, _) = self.search(n.score, &n.member);
        self.unlink_with(id, &update);
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let h = self.hash(member);
        self.index
            .find(h, |&id| &*self.nodes[id as usize].member == member)
            .copied()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.nodes[id as usize].score)
    }

    /// Inserts a member known to be absent.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        self.insert_owned(member.into(), score);
    }

    fn insert_owned(&mut self, member: Box<[u8]>, score: f64) {
        let height = self.random_level();
        let h = self.hash(&member);
        let id = self.alloc_node(member, score, height);
        self.link(id);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index
            .insert_unique(h, id, |&v| hasher.hash_one(&*nodes[v as usize].member));
    }

    /// Changes the score of a present member (no-op when absent).
    pub fn set_score(&mut self, member: &[u8], score: f64) {
        let Some(id) = self.find(member) else {
            return;
        };
        let n = &self.nodes[id as usize];
        // Stays in place when still between its neighbours.
        let back_ok = n.back == NIL || {
            let b = &self.nodes[n.back as usize];
            before(b.score, &b.member, score, member)
        };
        let next_ok = n.next0 == NIL || {
            let x = &self.nodes[n.next0 as usize];
            before(score, member, x.score, &x.member)
        };
        if back_ok && next_ok {
            self.nodes[id as usize].score = score;
            return;
        }
        self.unlink(id);
        self.nodes[id as usize].score = score;
        self.link(id);
    }

    fn drop_from_index(&mut self, id: u32) {
        let h = self.hash(&self.nodes[id as usize].member);
        if let Ok(e) = self.index.find_entry(h, |&v| v == id) {
            e.remove();
        }
    }

    /// Removes a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let score = self.nodes[id as usize].score;
        self.unlink(id);
        self.drop_from_index(id);
        self.free_node(id);
        self.maybe_shrink();
        Some(score)
    }

    /// Releases arena and index space after the set shrank a lot.
    fn maybe_shrink(&mut self) {
        if self.len == 0 {
            *self = SkipList {
                rng: self.rng,
                ..SkipList::new()
            };
        } else if self.nodes.len() > 4096 && self.len * 4 < self.nodes.len() {
            // Mostly holes: rebuild densely. At least 3/4 of the slots were
            // freed since the last rebuild, so this is O(log n) amortized
            // per removal. Live nodes keep their relative slot order, so a
            // ZSCAN in progress only risks missing members that moved
            // below its cursor.
            let mut fresh = SkipList {
                rng: self.rng,
                hasher: self.hasher,
                ..SkipList::new()
            };
            for n in std::mem::take(&mut self.nodes).into_nodes() {
                if n.height > 0 {
                    fresh.insert_owned(n.member, n.score);
                }
            }
            *self = fresh;
        } else if self.index.capacity() > 64 && self.index.capacity() > self.len * 4 {
            let (nodes, hasher) = (&self.nodes, &self.hasher);
            self.index
                .shrink_to(self.len, |&v| hasher.hash_one(&*nodes[v as usize].member));
        }
    }

    /// The 0-based rank of a member and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.find(member)?;
        let score = self.nodes[id as usize].score;
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL {
                    break;
                }
                let n = &self.nodes[f as usize];
                if !(before(n.score, &n.member, score, member) || f == id) {
                    break;
                }
                rank += self.span(x, i) as usize;
                x = f;
            }
            if x == id {
                return Some((rank - 1, score));
            }
        }
        None
    }

    /// How many leading elements satisfy `pred` (which must hold for a
    /// prefix of the order: "below min", "at most max").
    pub fn prefix_len(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL {
                    break;
                }
                let n = &self.nodes[f as usize];
                if !pred(n.score, &n.member) {
                    break;
                }
                rank += self.span(x, i) as usize;
                x = f;
            }
        }
        rank
    }

    /// Node at 0-based rank `r`.
    fn node_at(&self, r: usize) -> u32 {
        if r + 1 == self.len {
            return self.tail;
        }
        let want = r + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL || traversed + self.span(x, i) as usize > want {
                    break;
                }
                traversed += self.span(x, i) as usize;
                x = f;
            }
            if traversed == want {
                return x;
            }
        }
        NIL
    }

    pub fn get(&self, r: usize) -> Option<(&[u8], f64)> {
        if r >= self.len {
            return None;
        }
        let n = &self.nodes[self.node_at(r) as usize];
        Some((&n.member, n.score))
    }

    /// Visits ranks `start..end` ascending, or descending when `rev`.
    pub fn for_range<'a>(
        &'a self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(&'a [u8], f64),
    ) {
        if start >= end || start >= self.len {
            return;
        }
        let end = end.min(self.len);
        let mut x = self.node_at(if rev { end - 1 } else { start });
        for _ in start..end {
            let n = &self.nodes[x as usize];
            f(&n.member, n.score);
            x = if rev { n.back } else { n.next0 };
        }
    }

    /// Removes ranks `start..end`; returns how many were removed.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len);
        if start >= end {
            return 0;
        }
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL || traversed + self.span(x, i) as usize > start {
                    break;
                }
                traversed += self.span(x, i) as usize;
                x = f;
            }
            update[i] = x;
        }
        let mut x = self.fwd(update[0], 0);
        let mut removed = 0;
        while x != NIL && traversed < end {
            let next = self.nodes[x as usize].next0;
            self.unlink_with(x, &update);
            self.drop_from_index(x);
            self.free_node(x);
            removed += 1;
            traversed += 1;
            x = next;
        }
        self.maybe_shrink();
        removed
    }

    /// One ZSCAN step over arena slots (stable ids: a deletion never moves
    /// another member, so a full scan sees every member present throughout).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        let mut i = cursor as usize;
        let mut seen = 0;
        while i < self.nodes.len() && seen < count {
            let n = &self.nodes[i];
            if n.height > 0 {
                f(&n.member, n.score);
                seen += 1;
            }
            i += 1;
        }
        if i >= self.nodes.len() {
            0
        } else {
            i as u64
        }
    }

    /// Checks the structure (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let mut x = self.head[0].fwd;
        let mut prev = NIL;
        let mut n = 0;
        while x != NIL {
            let node = &self.nodes[x as usize];
            assert_eq!(node.back, prev);
            if prev != NIL {
                let p = &self.nodes[prev as usize];
                assert!(before(p.score, &p.member, node.score, &node.member));
            }
            assert_eq!(self.rank(&node.member).map(|r| r.0), Some(n));
            assert_eq!(self.find(&node.member), Some(x));
            prev = x;
            x = node.next0;
            n += 1;
        }
        assert_eq!(self.tail, prev);
        assert_eq!(n, self.len);
        assert_eq!(self.index.len(), self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    #[test]
    fn random_ops_match_a_model() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut s = SkipList::new();
        let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        for step in 0..20_000 {
            let m = format!("m{}", rng.gen_range(0..500)).into_bytes();
            let sc = rng.gen_range(0..50) as f64;
            match rng.gen_range(0..5) {
                0 | 1 => {
                    if model.contains_key(&m) {
                        s.set_score(&m, sc);
                    } else {
                        s.insert(&m, sc);
                    }
                    model.insert(m, sc);
                }
                2 => assert_eq!(s.remove(&m), model.remove(&m)),
                3 => {
                    let a = rng.gen_range(0..model.len() + 1);
                    let b = a + rng.gen_range(0..5);
                    let mut sorted: Vec<_> = model.iter().map(|(k, v)| (*v, k.clone())).collect();
                    sorted.sort_by(|x, y| x.partial_cmp(y).unwrap());
                    let n = s.remove_range(a, b);
                    assert_eq!(n, b.min(sorted.len()).saturating_sub(a));
                    for (_, k) in sorted.iter().skip(a).take(n) {
                        model.remove(k);
                    }
                }
                _ => {
                    let mut sorted: Vec<_> = model.iter().map(|(k, v)| (*v, k.clone())).collect();
                    sorted.sort_by(|x, y| x.partial_cmp(y).unwrap());
                    let mut got = Vec::new();
                    s.for_range(0, usize::MAX, false, |m, sc| got.push((sc, m.to_vec())));
                    assert_eq!(got, sorted);
                    if let Some((i, (sc, m))) = sorted.iter().enumerate().nth(sorted.len() / 2) {
                        assert_eq!(s.rank(m), Some((i, *sc)));
                        assert_eq!(s.get(i), Some((&m[..], *sc)));
                        assert_eq!(
                            s.prefix_len(|v, _| v < *sc),
                            sorted.iter().filter(|x| x.0 < *sc).count()
                        );
                    }
                }
            }
            assert_eq!(s.len(), model.len());
            if step % 1000 == 0 {
                s.check();
            }
        }
        s.check();
    }

    #[test]
    fn shrinks_after_mass_removal() {
        let mut s = SkipList::new();
        for i in 0..20_000u32 {
            s.insert(format!("m{i}").as_bytes(), (i % 97) as f64);
        }
        let full = s.mem_usage();
        for i in 0..20_000u32 {
            if i % 10 != 0 {
                assert!(s.remove(format!("m{i}").as_bytes()).is_some());
            }
        }
        s.check();
        assert_eq!(s.len(), 2_000);
        assert!(s.mem_usage() < full / 3, "{} vs {full}", s.mem_usage());
        assert_eq!(s.score(b"m10"), Some(10.0));
        assert_eq!(s.remove_range(0, 1000), 1000);
        s.check();
    }
}
