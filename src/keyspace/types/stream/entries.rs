//! Stream entries packed into macro nodes, as Redis does: a B-tree keyed by
//! each node's master id (the first id appended to it) whose values are
//! [`ListPack`]s holding up to `stream-node-max-entries` entries back to back.
//!
//! A node starts with its master entry's field names (the first entry's);
//! an entry is `id-delta, n|same, values…` when its field names are the
//! master's (the common case: a queue's jobs share a shape) and
//! `id-delta, n, field, value, …` otherwise. The id is stored as varints
//! relative to the master id (a few bytes instead of 16). Per entry that is ~4 bytes of overhead where
//! a B-tree slot per entry would cost ~60. Deleting removes the entry's
//! bytes (Redis only flags it); a node whose last entry goes is dropped.
//! Nodes split where Redis's do, by the settings current at each append
//! (`stream-node-max-entries` counting deleted entries, and
//! `stream-node-max-bytes` measured as the size Redis's listpack of the same
//! entries would have, kept per node as [`redis_lp_bytes`] would count it),
//! so `MAXLEN ~` trims the same whole nodes Redis would and XINFO's
//! radix-tree counts match.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::StreamId;
use crate::keyspace::listpack::{ListPack, Pos};

/// When a stream's tail node is full: `stream-node-max-entries` and
/// `stream-node-max-bytes` (0 = no limit on that dimension), read at each
/// append as Redis reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

impl Default for NodeLimits {
    /// Redis's defaults.
    fn default() -> Self {
        NodeLimits {
            max_entries: 100,
            max_bytes: 4096,
        }
    }
}

/// Redis's `STREAM_LISTPACK_MAX_SIZE`: the byte cap when the setting is 0
/// or above it.
const LISTPACK_MAX_SIZE: u64 = 1 << 30;
/// B-tree slot plus node header, per macro node.
const NODE_OVERHEAD: usize = 64;

#[derive(Debug, Clone, Default)]
struct Node {
    /// The master entry's field names, then the entries.
    lp: ListPack,
    /// How many field names the master entry has.
    names: u32,
    /// Byte position of the first entry (after the names).
    start: Pos,
    /// Entries present.
    live: u32,
    /// Entries ever appended (Redis counts deleted ones towards the split).
    appended: u32,
    last: StreamId,
    /// Redis's `lpBytes` of this node without its master `count` and
    /// `deleted` integers (whose encoded size changes as they do): Redis
    /// keeps a deleted entry's bytes, so this only grows.
    rbytes: u64,
}

impl Node {
    /// The size Redis's listpack of this node has (`lpBytes`).
    fn redis_bytes(&self) -> u64 {
        let deleted = self.appended - self.live;
        self.rbytes + lp_int_size(i64::from(self.live)) + lp_int_size(i64::from(deleted))
    }
}

/// Listpack header (total bytes, element count) and end byte.
const LP_HEADER_AND_END: u64 = 6 + 1;

/// Bytes of an integer element in Redis's listpack (encoding + backlen).
fn lp_int_size(v: i64) -> u64 {
    let enc = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    enc + 1
}

/// Bytes of a string element in Redis's listpack: stored as an integer
/// when it is one's canonical spelling (`lpStringToInt64`).
fn lp_str_size(s: &[u8]) -> u64 {
    if s.len() <= 20 {
        if let Some(v) = std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
        {
            if itoa::Buffer::new().format(v).as_bytes() == s {
                return lp_int_size(v);
            }
        }
    }
    let len = s.len() as u64;
    let enc = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    let backlen = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    enc + backlen
}

/// Nodes are reference-counted so that a snapshot can share them (the
/// stream's `Clone`): a write to a node the snapshot still holds copies
/// that node (at most `stream-node-max-bytes`), never the whole stream.
#[derive(Debug, Clone, Default)]
pub struct Entries {
    nodes: BTreeMap<StreamId, Arc<Node>>,
    len: usize,
    mem: usize,
}

/// One entry's fields and values, borrowed from its node.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    lp: &'a ListPack,
    pos: Pos,
    n: usize,
    /// Where the master's field names start, when this entry stores only
    /// values (its fields are the master's).
    names: Option<Pos>,
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
            names: self.names,
        }
    }
}

pub struct FieldIter<'a> {
    lp: &'a ListPack,
    pos: Pos,
    left: usize,
    names: Option<Pos>,
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        // With master names, even positions are names, odd ones values.
        if let (Some(np), true) = (self.names, self.left % 2 == 0) {
            let (v, next) = self.lp.at(np);
            self.names = Some(next);
            self.left -= 1;
            return Some(v);
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
fn decode(node: &Node, master: StreamId, pos: Pos) -> (StreamId, EntryRef<'_>, Pos) {
    let lp = &node.lp;
    let (idb, p1) = lp.at(pos);
    let mut i = 0;
    let dms = get_varint(idb, &mut i);
    let seq = get_varint(idb, &mut i);
    let (nb, p2) = lp.at(p1);
    let mut j = 0;
    // Low bit: the entry's field names are the master's (only values stored).
    let flagged = get_varint(nb, &mut j) as usize;
    let (stored, same) = (flagged >> 1, flagged & 1 == 1);
    let mut next = p2;
    for _ in 0..stored {
        next = lp.at(next).1;
    }
    let id = StreamId::new(master.ms.wrapping_add(dms), seq);
    let e = EntryRef {
        lp,
        pos: p2,
        n: if same { stored * 2 } else { stored },
        names: same.then_some(0),
    };
    (id, e, next)
}

/// The element count of an entry at `pos` (id, count, stored fields).
fn entry_elements(node: &Node, pos: Pos) -> usize {
    let (_, p1) = node.lp.at(pos);
    let (nb, _) = node.lp.at(p1);
    let mut j = 0;
    2 + (get_varint(nb, &mut j) as usize >> 1)
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
        Some(decode(n, *m, n.start).0)
    }

    pub fn last_id(&self) -> Option<StreamId> {
        self.nodes.values().next_back().map(|n| n.last)
    }

    /// Appends an entry; `id` must be greater than every id present.
    /// Starts a new node where Redis's `streamAppendItem` would under
    /// `limits`.
    pub fn push(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        let mut idb = Vec::with_capacity(12);
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX_SIZE,
            b => b.min(LISTPACK_MAX_SIZE),
        };
        let values_len: u64 = fields.iter().map(|f| f.len() as u64).sum();
        let fits = self.nodes.iter().next_back().is_some_and(|(m, n)| {
            n.redis_bytes() + values_len < max_bytes
                && (limits.max_entries == 0 || u64::from(n.appended) < limits.max_entries)
                && id.ms >= m.ms
        });
        if !fits {
            // The tail node is full and won't grow again: a clone holds
            // exactly its bytes.
            if let Some(tail) = self.nodes.values_mut().next_back() {
                let tail = unshare(&mut self.mem, tail);
                let before = tail.lp.mem_usage();
                tail.lp = tail.lp.clone();
                self.mem = self.mem + tail.lp.mem_usage() - before;
            }
            let mut node = Node::default();
            // The first entry's field names become the node's master names.
            for f in fields.iter().step_by(2) {
                node.lp.push_back(f);
            }
            node.names = fields.len().div_ceil(2) as u32;
            node.start = node.lp.byte_len();
            // Master entry: count and deleted (counted by `redis_bytes`),
            // the number of fields, the names, a zero terminator.
            node.rbytes = LP_HEADER_AND_END
                + lp_int_size(i64::from(node.names))
                + fields
                    .iter()
                    .step_by(2)
                    .map(|f| lp_str_size(f))
                    .sum::<u64>()
                + lp_int_size(0);
            self.mem += NODE_OVERHEAD + node.lp.mem_usage();
            self.nodes.insert(id, Arc::new(node));
        }
        let (master, node) = self
            .nodes
            .iter_mut()
            .next_back()
            .expect("a tail node exists: found or just inserted");
        let node = unshare(&mut self.mem, node);
        put_varint(&mut idb, id.ms - master.ms);
        put_varint(&mut idb, id.seq);
        let same = fields.len() % 2 == 0
            && fields.len() / 2 == node.names as usize
            && node
                .lp
                .iter()
                .take(node.names as usize)
                .zip(fields.iter().step_by(2))
                .all(|(a, b)| a == *b);
        let mut nb = Vec::with_capacity(2);
        let stored = if same { fields.len() / 2 } else { fields.len() };
        put_varint(&mut nb, ((stored as u64) << 1) | u64::from(same));
        let before = node.lp.mem_usage();
        node.lp.push_back(&idb);
        node.lp.push_back(&nb);
        if same {
            for f in fields.iter().skip(1).step_by(2) {
                node.lp.push_back(f);
            }
        } else {
            for f in fields {
                node.lp.push_back(f);
            }
        }
        self.mem = self.mem + node.lp.mem_usage() - before;
        // Redis's entry: flags, ms-diff, seq-diff, [numfields, names],
        // values, lp-count.
        let numfields = (fields.len() / 2) as i64;
        let mut rb = lp_int_size(0)
            + lp_int_size(id.ms.wrapping_sub(master.ms) as i64)
            + lp_int_size(id.seq.wrapping_sub(master.seq) as i64);
        if same {
            rb += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|f| lp_str_size(f))
                .sum::<u64>();
            rb += lp_int_size(numfields + 3);
        } else {
            rb += lp_int_size(numfields);
            rb += fields.iter().map(|f| lp_str_size(f)).sum::<u64>();
            rb += lp_int_size(numfields * 2 + 4);
        }
        node.rbytes += rb;
        node.live += 1;
        node.appended += 1;
        node.last = id;
        self.len += 1;
    }

    /// Redis's radix tree node count (XINFO's `radix-tree-nodes`) for the
    /// node keys (16-byte big-endian master ids): a rax holds each run of
    /// bytes without a branch in one node, each branch's characters in one
    /// node, and one node per key, which the sorted keys determine.
    pub fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self
            .nodes
            .keys()
            .map(|m| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&m.ms.to_be_bytes());
                k[8..].copy_from_slice(&m.seq.to_be_bytes());
                k
            })
            .collect();
        if keys.is_empty() {
            return 1;
        }
        rax_nodes(&keys, 0)
    }

    /// The node that would hold `id`.
    fn node_for(&self, id: StreamId) -> Option<(&StreamId, &Node)> {
        self.nodes.range(..=id).next_back().map(|(m, n)| (m, &**n))
    }

    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let (m, n) = self.node_for(id)?;
        if id > n.last {
            return None;
        }
        let mut pos = n.start;
        while pos < n.lp.end() {
            let (eid, e, next) = decode(n, *m, pos);
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
        let node = unshare(
            &mut self.mem,
            self.nodes.get_mut(&m).expect("found just above"),
        );
        let mut pos = node.start;
        let mut prev = None;
        let found = loop {
            if pos >= node.lp.end() {
                break None;
            }
            let (eid, _, next) = decode(node, m, pos);
            if eid == id {
                break Some((pos, entry_elements(node, pos)));
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
        for _ in 0..n {
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

/// The node to change, copied first if a snapshot shares it. The copy's
/// listpack may keep less spare capacity than the original had; the byte
/// count follows it.
fn unshare<'a>(mem: &mut usize, node: &'a mut Arc<Node>) -> &'a mut Node {
    let before = node.lp.mem_usage();
    let node = Arc::make_mut(node);
    *mem -= before;
    *mem += node.lp.mem_usage();
    node
}

/// Rax nodes below depth `d` for sorted, distinct, equal-length `keys`
/// that share their first `d` bytes.
fn rax_nodes(keys: &[[u8; 16]], d: usize) -> usize {
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    if keys.len() == 1 {
        // The rest of the key in one node (if any), then the key's node.
        return 1 + usize::from(d < 16);
    }
    let lcp = d + first[d..]
        .iter()
        .zip(&last[d..])
        .take_while(|(a, b)| a == b)
        .count();
    // A run of common bytes is one node before the branch.
    let mut n = usize::from(lcp > d) + 1;
    let mut i = 0;
    while i < keys.len() {
        let c = keys[i][lcp];
        let j = i + keys[i..].iter().take_while(|k| k[lcp] == c).count();
        n += rax_nodes(&keys[i..j], lcp + 1);
        i = j;
    }
    n
}

pub struct Iter<'a> {
    nodes: std::collections::btree_map::Range<'a, StreamId, Arc<Node>>,
    cur: Option<(StreamId, &'a Node, Pos)>,
    start: StreamId,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (StreamId, EntryRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((m, node, pos)) = self.cur {
                if pos < node.lp.end() {
                    let (id, e, next) = decode(node, m, pos);
                    self.cur = Some((m, node, next));
                    if id >= self.start {
                        return Some((id, e));
                    }
                    continue;
                }
            }
            let (m, node) = self.nodes.next()?;
            self.cur = Some((*m, node, node.start));
        }
    }
}

pub struct RevIter<'a> {
    nodes: std::collections::btree_map::Range<'a, StreamId, Arc<Node>>,
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
            let mut pos = node.start;
            while pos < node.lp.end() {
                let (id, e, next) = decode(node, *m, pos);
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
            e.push(
                StreamId::new(i, i % 3),
                &[b"f", v.as_bytes()],
                NodeLimits::default(),
            );
        }
        assert_eq!(e.len(), 250);
        assert_eq!(e.node_count(), 3);
        assert_eq!(e.first_id(), Some(StreamId::new(1, 1)));
        assert_eq!(e.last_id(), Some(StreamId::new(250, 1)));
        let got = e.get(StreamId::new(120, 0)).expect("present");
        assert_eq!(got.iter().collect::<Vec<_>>(), vec![&b"f"[..], b"120"]);
        assert!(e.get(StreamId::new(120, 1)).is_none());
        // An entry shaped unlike its node's master keeps its own names.
        e.push(
            StreamId::new(251, 0),
            &[b"x", b"1", b"y", b"2"],
            NodeLimits::default(),
        );
        let got = e.get(StreamId::new(251, 0)).expect("present");
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            vec![&b"x"[..], b"1", b"y", b"2"]
        );
        assert!(e.remove(StreamId::new(251, 0)));
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
