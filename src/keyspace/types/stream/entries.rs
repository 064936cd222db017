//! Stream entries packed into macro nodes, as Redis does: a B-tree keyed by
//! each node's master id (the first id appended to it) whose values are
//! [`ListPack`]s holding up to [`NODE_MAX_ENTRIES`] entries back to back.
//!
//! An entry is `id-delta, n, field, value, …`: the id is stored as varints
//! relative to the master id (a few bytes instead of 16), and the fields
//! cost one length byte each. Per entry that is ~4 bytes of overhead where
//! a B-tree slot per entry would cost ~60. Deleting removes the entry's
//! bytes (Redis only flags it); a node whose last entry goes is dropped.
//! Nodes split where Redis's do (`stream-node-max-entries` 100 counting
//! deleted entries, `stream-node-max-bytes` 4096), so `MAXLEN ~` trims the
//! same whole nodes Redis would.

use std::collections::BTreeMap;

use super::StreamId;
use crate::keyspace::listpack::{ListPack, Pos};

/// stream-node-max-entries (Redis default).
pub const NODE_MAX_ENTRIES: u32 = 100;
/// stream-node-max-bytes (Redis default).
pub const NODE_MAX_BYTES: usize = 4096;
/// B-tree slot plus node header, per macro node.
const NODE_OVERHEAD: usize = 64;

#[derive(Debug, Clone, Default)]
struct Node {
    lp: ListPack,
    /// Entries present.
    live: u32,
    /// Entries ever appended (Redis counts deleted ones towards the split).
    appended: u32,
    last: StreamId,
}

#[derive(Debug, Clone, Default)]
pub struct Entries {
    nodes: BTreeMap<StreamId, Node>,
    len: usize,
    mem: usize,
}

/// One entry's fields and values, borrowed from its node.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    lp: &'a ListPack,
    pos: Pos,
    n: usize,
}

impl<'a> EntryRef<'a> {
    /// Number of fields plus values.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn iter(&self) -> FieldIter<'a> {
        FieldIter {
            lp: self.lp,
            pos: self.pos,
            left: self.n,
        }
    }
}

pub struct FieldIter<'a> {
    lp: &'a ListPack,
    pos: Pos,
    left: usize,
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (v, next) = self.lp.at(self.pos);
        self.pos = next;
        self.left -= 1;
        Some(v)
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(b: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    while let Some(&c) = b.get(*at) {
        *at += 1;
        n |= u64::from(c & 0x7f) << shift;
        if c < 0x80 {
            break;
        }
        shift += 7;
    }
    n
}

/// Decodes the entry at `pos` of a node with master id `master`: its id,
/// its fields, and where the next entry starts.
fn decode(lp: &ListPack, master: StreamId, pos: Pos) -> (StreamId, EntryRef<'_>, Pos) {
    let (idb, p1) = lp.at(pos);
    let mut i = 0;
    let dms = get_varint(idb, &mut i);
    let seq = get_varint(idb, &mut i);
    let (nb, p2) = lp.at(p1);
    let mut j = 0;
    let n = get_varint(nb, &mut j) as usize;
    let mut next = p2;
    for _ in 0..n {
        next = lp.at(next).1;
    }
    let id = StreamId::new(master.ms.wrapping_add(dms), seq);
    (id, EntryRef { lp, pos: p2, n }, next)
}

impl Entries {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (kept incrementally).
    pub fn mem_usage(&self) -> usize {
        self.mem
    }

    pub fn recount(&self) -> usize {
        self.nodes
            .values()
            .map(|n| NODE_OVERHEAD + n.lp.mem_usage())
            .sum()
    }

    /// Macro nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn first_id(&self) -> Option<StreamId> {
        let (m, n) = self.nodes.iter().next()?;
        Some(decode(&n.lp, *m, 0).0)
    }

    pub fn last_id(&self) -> Option<StreamId> {
        self.nodes.values().next_back().map(|n| n.last)
    }

    /// Appends an entry; `id` must be greater than every id present.
    pub fn push(&mut self, id: StreamId, fields: &[&[u8]]) {
        let mut idb = Vec::with_capacity(12);
        let fits = self.nodes.iter().next_back().is_some_and(|(m, n)| {
            n.appended < NODE_MAX_ENTRIES && n.lp.byte_len() < NODE_MAX_BYTES && id.ms >= m.ms
        });
        if !fits {
            self.mem += NODE_OVERHEAD;
            self.nodes.insert(id, Node::default());
        }
        let (master, node) = self
            .nodes
            .iter_mut()
            .next_back()
            .expect("a tail node exists: found or just inserted");
        put_varint(&mut idb, id.ms - master.ms);
        put_varint(&mut idb, id.seq);
        let mut nb = Vec::with_capacity(2);
        put_varint(&mut nb, fields.len() as u64);
        let before = node.lp.mem_usage();
        node.lp.push_back(&idb);
        node.lp.push_back(&nb);
        for f in fields {
            node.lp.push_back(f);
        }
        self.mem = self.mem + node.lp.mem_usage() - before;
        node.live += 1;
        node.appended += 1;
        node.last = id;
        self.len += 1;
    }

    /// The node that would hold `id`.
    fn node_for(&self, id: StreamId) -> Option<(&StreamId, &Node)> {
        self.nodes.range(..=id).next_back()
    }

    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let (m, n) = self.node_for(id)?;
        if id > n.last {
            return None;
        }
        let mut pos = 0;
        while pos < n.lp.end() {
            let (eid, e, next) = decode(&n.lp, *m, pos);
            if eid == id {
                return Some(e);
            }
            if eid > id {
                return None;
            }
            pos = next;
        }
        None
    }

    /// Entries with ids `>= start`, ascending.
    pub fn iter_from(&self, start: StreamId) -> Iter<'_> {
        let first = self.node_for(start).map_or(StreamId::ZERO, |(m, _)| *m);
        Iter {
            nodes: self.nodes.range(first..),
            cur: None,
            start,
        }
    }

    /// Entries with ids `<= end`, descending.
    pub fn rev_from(&self, end: StreamId) -> RevIter<'_> {
        RevIter {
            nodes: self.nodes.range(..=end),
            cur: Vec::new(),
            end,
        }
    }

    /// Removes `id`; true when it was there.
    pub fn remove(&mut self, id: StreamId) -> bool {
        let Some((&m, _)) = self.node_for(id) else {
            return false;
        };
        let node = self.nodes.get_mut(&m).expect("found just above");
        let mut pos = 0;
        let mut prev = None;
        let found = loop {
            if pos >= node.lp.end() {
                break None;
            }
            let (eid, e, next) = decode(&node.lp, m, pos);
            if eid == id {
                break Some((pos, e.n));
            }
            if eid > id {
                break None;
            }
            prev = Some(eid);
            pos = next;
        };
        let Some((pos, n)) = found else {
            return false;
        };
        let before = node.lp.mem_usage();
        for _ in 0..n + 2 {
            node.lp.remove_at(pos);
        }
        node.live -= 1;
        self.len -= 1;
        if node.live == 0 {
            self.mem -= before + NODE_OVERHEAD;
            self.nodes.remove(&m);
            return true;
        }
        self.mem = self.mem + node.lp.mem_usage() - before;
        if node.last == id {
            // The removed entry was the node's last: its predecessor is.
            node.last = prev.unwrap_or(m);
        }
        true
    }

    /// Redis's `streamTrim`: drops whole nodes while allowed; with
    /// `approx` stops at the first node that can't go whole, otherwise
    /// removes single entries from it. `limit` (0 = none) bounds the work
    /// as in Redis (checked per node). Returns the entries removed.
    pub fn trim(
        &mut self,
        maxlen: Option<usize>,
        minid: Option<StreamId>,
        approx: bool,
        limit: usize,
    ) -> usize {
        let mut deleted = 0;
        loop {
            if let Some(m) = maxlen {
                if self.len <= m {
                    break;
                }
            }
            if limit != 0 && deleted >= limit {
                break;
            }
            let Some((&master, node)) = self.nodes.iter().next() else {
                break;
            };
            let live = node.live as usize;
            if limit != 0 && deleted + live > limit {
                break;
            }
            let whole = match (maxlen, minid) {
                (Some(m), _) => self.len - live >= m,
                (None, Some(min)) => node.last < min,
                (None, None) => false,
            };
            if whole {
                self.mem -= NODE_OVERHEAD + node.lp.mem_usage();
                self.nodes.remove(&master);
                self.len -= live;
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // Single entries from the head of this node.
            while let Some(first) = self.first_id() {
                let go = match (maxlen, minid) {
                    (Some(m), _) => self.len > m,
                    (None, Some(min)) => first < min,
                    (None, None) => false,
                };
                if !go {
                    break;
                }
                self.remove(first);
                deleted += 1;
            }
            break;
        }
        deleted
    }
}

pub struct Iter<'a> {
    nodes: std::collections::btree_map::Range<'a, StreamId, Node>,
    cur: Option<(StreamId, &'a Node, Pos)>,
    start: StreamId,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (StreamId, EntryRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((m, node, pos)) = self.cur {
                if pos < node.lp.end() {
                    let (id, e, next) = decode(&node.lp, m, pos);
                    self.cur = Some((m, node, next));
                    if id >= self.start {
                        return Some((id, e));
                    }
                    continue;
                }
            }
            let (m, node) = self.nodes.next()?;
            self.cur = Some((*m, node, 0));
        }
    }
}

pub struct RevIter<'a> {
    nodes: std::collections::btree_map::Range<'a, StreamId, Node>,
    /// The current node's remaining entries, last one at the end.
    cur: Vec<(StreamId, EntryRef<'a>)>,
    end: StreamId,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = (StreamId, EntryRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((id, e)) = self.cur.pop() {
                if id <= self.end {
                    return Some((id, e));
                }
                continue;
            }
            let (m, node) = self.nodes.next_back()?;
            let mut pos = 0;
            while pos < node.lp.end() {
                let (id, e, next) = decode(&node.lp, *m, pos);
                self.cur.push((id, e));
                pos = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_iterate_remove_trim() {
        let mut e = Entries::default();
        for i in 1..=250u64 {
            let v = i.to_string();
            e.push(StreamId::new(i, i % 3), &[b"f", v.as_bytes()]);
        }
        assert_eq!(e.len(), 250);
        assert_eq!(e.node_count(), 3);
        assert_eq!(e.first_id(), Some(StreamId::new(1, 1)));
        assert_eq!(e.last_id(), Some(StreamId::new(250, 1)));
        let got = e.get(StreamId::new(120, 0)).expect("present");
        assert_eq!(got.iter().collect::<Vec<_>>(), vec![&b"f"[..], b"120"]);
        assert!(e.get(StreamId::new(120, 1)).is_none());
        let ids: Vec<u64> = e
            .iter_from(StreamId::new(99, 0))
            .take(4)
            .map(|(i, _)| i.ms)
            .collect();
        assert_eq!(ids, vec![99, 100, 101, 102]);
        let ids: Vec<u64> = e
            .rev_from(StreamId::new(101, 0))
            .take(3)
            .map(|(i, _)| i.ms)
            .collect();
        assert_eq!(ids, vec![100, 99, 98]);
        assert!(e.remove(StreamId::new(250, 1)));
        assert_eq!(e.last_id(), Some(StreamId::new(249, 0)));
        assert!(!e.remove(StreamId::new(250, 1)));
        assert_eq!(e.mem_usage(), e.recount());
        // Approximate: only whole nodes (100 entries) go.
        assert_eq!(e.trim(Some(180), None, true, 0), 0);
        assert_eq!(e.trim(Some(140), None, true, 0), 100);
        assert_eq!(e.trim(Some(10), None, false, 0), 139);
        assert_eq!(e.len(), 10);
        assert_eq!(e.first_id(), Some(StreamId::new(240, 0)));
        assert_eq!(e.mem_usage(), e.recount());
        assert_eq!(e.trim(None, Some(StreamId::new(245, 0)), false, 0), 5);
        assert_eq!(e.mem_usage(), e.recount());
    }
}
