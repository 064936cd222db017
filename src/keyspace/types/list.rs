//! The list value: a deque of packed nodes (Redis's quicklist idea).
//!
//! Each node is one allocation holding its elements back to back as
//! `varint(len) ++ bytes ++ reversed varint(len)`, so it can be walked from
//! either end (Redis's listpack keeps a back-length for the same reason) and
//! costs the same two bytes per short element as a Redis listpack entry.
//! The live bytes sit in `buf[start..end]` with free room on both sides, so
//! pushing and popping at either end of a node is O(1) amortized: the
//! `LPUSH`/`RPOP` queue pattern never memmoves a node.
//!
//! Encoding follows Redis 7.2: a list is `listpack` (one node) until a write
//! would make that node exceed `list-max-listpack-size`, then `quicklist`
//! (nodes bounded by the same rule); a quicklist that shrinks to a single
//! node within half the limit becomes `listpack` again. The decisions use
//! the byte size the node would have as a real Redis listpack (tracked per
//! node in `rbytes`), so conversions happen at the same writes as in Redis.

use std::collections::VecDeque;

use crate::keyspace::entry::{alloc_class, canonical_int};
use crate::keyspace::value::Thresholds;

/// Listpack node size limits for negative `list-max-listpack-size`.
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Size cap for count-limited nodes (Redis's `SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's per-entry overestimate when deciding whether a node takes one more.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Header and terminator of an empty Redis listpack.
const LP_EMPTY: usize = 7;

/// (size limit, count limit) of a node for a `list-max-listpack-size`.
fn node_limit(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, fill.max(1) as usize)
    } else {
        let i = ((-fill - 1) as usize).min(SIZE_LEVELS.len() - 1);
        (SIZE_LEVELS[i], usize::MAX)
    }
}

/// Redis's `quicklistNodeExceedsLimit`.
fn exceeds(fill: i64, sz: usize, count: usize) -> bool {
    let (sl, cl) = node_limit(fill);
    if sl != usize::MAX {
        sz > sl
    } else {
        sz > SIZE_SAFETY_LIMIT || count > cl
    }
}

/// Bytes `v` takes as a Redis listpack entry (encoding + back-length).
fn lp_entry_size(v: &[u8]) -> usize {
    let enc = match canonical_int(v) {
        Some(n) if (0..=127).contains(&n) => 1,
        Some(n) if (-4096..4096).contains(&n) => 2,
        Some(n) if (-32768..32768).contains(&n) => 3,
        Some(n) if (-8_388_608..8_388_608).contains(&n) => 4,
        Some(n) if i32::try_from(n).is_ok() => 5,
        Some(_) => 9,
        None if v.len() < 64 => 1 + v.len(),
        None if v.len() < 4096 => 2 + v.len(),
        None => 5 + v.len(),
    };
    let back = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    enc + back
}

fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

/// Bytes `v` takes in a node.
#[inline]
fn enc_len(v: &[u8]) -> usize {
    2 * varint_len(v.len()) + v.len()
}

/// Writes the encoding of `v` into `out` (exactly `enc_len(v)` bytes).
fn encode_into(out: &mut [u8], v: &[u8]) {
    let h = varint_len(v.len());
    let mut n = v.len();
    for i in 0..h {
        let b = (n & 0x7f) as u8 | if i + 1 < h { 0x80 } else { 0 };
        out[i] = b;
        // The trailer is the header reversed, so a backward walk reads it
        // low bits first, like the forward walk does.
        out[out.len() - 1 - i] = b;
        n >>= 7;
    }
    out[h..h + v.len()].copy_from_slice(v);
}

/// One packed node: elements live in `buf[start..end]`.
#[derive(Clone, Default)]
struct Node {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    count: usize,
    /// What this node would weigh as a Redis listpack.
    rbytes: usize,
}

impl Node {
    fn new() -> Node {
        Node {
            rbytes: LP_EMPTY,
            ..Node::default()
        }
    }

    fn mem(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            alloc_class(self.buf.len())
        }
    }

    /// Element at `pos`, and the position after it.
    #[inline]
    fn at(&self, pos: usize) -> (&[u8], usize) {
        let mut n = 0usize;
        let mut shift = 0;
        let mut p = pos;
        loop {
            let b = self.buf[p];
            p += 1;
            n |= ((b & 0x7f) as usize) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        let e = p + n;
        (&self.buf[p..e], e + (p - pos))
    }

    /// Start of the element that ends at `pos`.
    #[inline]
    fn before(&self, pos: usize) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        let mut p = pos;
        let mut h = 0;
        loop {
            p -= 1;
            h += 1;
            let b = self.buf[p];
            n |= ((b & 0x7f) as usize) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        p - n - h
    }

    /// Makes `need` free bytes at `pos`, shifting the smaller side or
    /// reallocating; returns where the gap now starts.
    fn open_gap(&mut self, pos: usize, need: usize, cap_limit: usize) -> usize {
        let used = self.end - self.start;
        if pos == self.start && self.start >= need {
            self.start -= need;
            return self.start;
        }
        if pos == self.end && self.buf.len() - self.end >= need {
            self.end += need;
            return pos;
        }
        let front = pos - self.start;
        let back = self.end - pos;
        if self.buf.len() - used >= need {
            // Enough room overall: slide the side that is cheaper to move.
            if (front <= back && self.start >= need) || self.buf.len() - self.end < need {
                if self.start >= need {
                    self.buf.copy_within(self.start..pos, self.start - need);
                    self.start -= need;
                    return pos - need;
                }
            } else {
                self.buf.copy_within(pos..self.end, pos + need);
                self.end += need;
                return pos;
            }
        }
        // Reallocate: double (bounded by the node size limit), and put the
        // free room on the side being grown so a run of pushes stays O(1).
        let want = used + need;
        let doubled = (self.buf.len() * 2).max(want).max(8);
        let cap = if doubled <= cap_limit {
            doubled
        } else if want <= cap_limit {
            cap_limit
        } else {
            // Past the limit only in listpack mode or with values bigger
            // than a node: grow by a quarter so pushes stay amortized O(1).
            want + want / 4
        };
        let mut nb = vec![0u8; cap].into_boxed_slice();
        let lead = if front <= back { cap - want } else { 0 };
        nb[lead..lead + front].copy_from_slice(&self.buf[self.start..pos]);
        nb[lead + front + need..lead + want].copy_from_slice(&self.buf[pos..self.end]);
        self.buf = nb;
        self.start = lead;
        self.end = lead + want;
        lead + front
    }

    fn insert(&mut self, pos: usize, v: &[u8], cap_limit: usize) {
        let n = enc_len(v);
        let at = self.open_gap(pos, n, cap_limit);
        encode_into(&mut self.buf[at..at + n], v);
        self.count += 1;
        self.rbytes += lp_entry_size(v);
    }

    /// Removes the element at `pos`; returns the position of what followed
    /// it (shifting whichever side is smaller).
    fn remove(&mut self, pos: usize) -> usize {
        let (v, next) = self.at(pos);
        self.rbytes -= lp_entry_size(v);
        self.count -= 1;
        let n = next - pos;
        if pos - self.start <= self.end - next {
            self.buf.copy_within(self.start..pos, self.start + n);
            self.start += n;
            next
        } else {
            self.buf.copy_within(next..self.end, pos);
            self.end -= n;
            pos
        }
    }

    /// Gives back memory when a node is mostly empty.
    fn maybe_shrink(&mut self) {
        let used = self.end - self.start;
        if self.buf.len() > 64 && used * 4 < self.buf.len() {
            let cap = (used * 2).max(8);
            let mut nb = vec![0u8; cap].into_boxed_slice();
            let lead = (cap - used) / 2;
            nb[lead..lead + used].copy_from_slice(&self.buf[self.start..self.end]);
            self.buf = nb;
            self.start = lead;
            self.end = lead + used;
        }
    }
}

/// A place in the list: node index and byte position in that node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    node: usize,
    pos: usize,
}

#[derive(Clone, Default)]
pub struct ListValue {
    nodes: VecDeque<Node>,
    len: usize,
    /// Sum of the nodes' allocation sizes.
    node_mem: usize,
    quick: bool,
    /// `list-max-listpack-size` as of the last write.
    fill: i64,
}

impl std::fmt::Debug for ListValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl ListValue {
    pub fn new(t: &Thresholds) -> Self {
        ListValue {
            fill: t.list_max_listpack_size,
            ..ListValue::default()
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned, kept up to date incrementally (O(1)).
    pub fn mem_usage(&self) -> usize {
        let deque = self.nodes.capacity() * std::mem::size_of::<Node>();
        self.node_mem + if deque == 0 { 0 } else { alloc_class(deque) }
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        if self.quick {
            "quicklist"
        } else {
            "listpack"
        }
    }

    fn cap_limit(&self) -> usize {
        let (sl, _) = node_limit(self.fill);
        if sl == usize::MAX {
            usize::MAX
        } else {
            sl
        }
    }

    /// Redis's growing conversion check, run before adding elements whose
    /// raw byte lengths sum to `add_bytes`.
    pub fn prepare_add(&mut self, t: &Thresholds, add_bytes: usize, add_len: usize) {
        self.fill = t.list_max_listpack_size;
        if self.quick {
            return;
        }
        let rbytes = self.nodes.front().map_or(LP_EMPTY, |n| n.rbytes);
        if exceeds(self.fill, rbytes + add_bytes, self.len + add_len) {
            self.quick = true;
        }
    }

    /// Redis's shrinking conversion check, run after removing elements.
    pub fn after_remove(&mut self) {
        if !self.quick || self.nodes.len() != 1 {
            return;
        }
        let (sl, cl) = node_limit(self.fill);
        let n = &self.nodes[0];
        if n.rbytes <= sl / 2 && self.len <= cl / 2 {
            self.quick = false;
        }
    }

    /// Runs `f` on node `i`, keeping `node_mem` exact.
    fn with_node<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, usize) -> R) -> R {
        let cap = self.cap_limit();
        let n = &mut self.nodes[i];
        let before = n.mem();
        let r = f(n, cap);
        let after = n.mem();
        self.node_mem = self.node_mem + after - before;
        r
    }

    fn drop_node_if_empty(&mut self, i: usize) -> bool {
        if self.nodes[i].count == 0 {
            let n = self.nodes.remove(i).expect("index checked by caller");
            self.node_mem -= n.mem();
            true
        } else {
            false
        }
    }

    /// Whether a node may take one more element of `sz` bytes.
    fn allow_insert(&self, i: usize, sz: usize) -> bool {
        if !self.quick {
            return true;
        }
        let n = &self.nodes[i];
        !exceeds(
            self.fill,
            n.rbytes + sz + SIZE_ESTIMATE_OVERHEAD,
            n.count + 1,
        )
    }

    fn new_node_at(&mut self, i: usize) {
        if self.nodes.capacity() == 0 {
            // Most lists are one node: a deque slot for one, not the
            // default four.
            self.nodes.reserve_exact(1);
        }
        self.nodes.insert(i, Node::new());
    }

    /// Pushes at the head (`left`) or tail. Call [`prepare_add`] first.
    pub fn push(&mut self, v: &[u8], left: bool) {
        if self.nodes.is_empty() {
            self.new_node_at(0);
        }
        if left {
            if !self.allow_insert(0, v.len()) {
                self.new_node_at(0);
            }
            self.with_node(0, |n, cap| n.insert(n.start, v, cap));
        } else {
            let mut last = self.nodes.len() - 1;
            if !self.allow_insert(last, v.len()) {
                last += 1;
                self.new_node_at(last);
            }
            self.with_node(last, |n, cap| n.insert(n.end, v, cap));
        }
        self.len += 1;
    }

    /// Pops from the head or tail, handing the element to `f` before it is
    /// dropped (replies copy it without an intermediate allocation). Call
    /// [`after_remove`] when done popping.
    pub fn pop_with<R>(&mut self, left: bool, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.len == 0 {
            return None;
        }
        let i = if left { 0 } else { self.nodes.len() - 1 };
        let r = self.with_node(i, |n, _| {
            let pos = if left { n.start } else { n.before(n.end) };
            let r = f(n.at(pos).0);
            n.remove(pos);
            if n.count > 0 {
                n.maybe_shrink();
            }
            r
        });
        self.drop_node_if_empty(i);
        self.len -= 1;
        Some(r)
    }

    pub fn pop(&mut self, left: bool) -> Option<Vec<u8>> {
        self.pop_with(left, <[u8]>::to_vec)
    }

    /// Cursor at element `i` (< len), walking from the nearer end.
    fn locate(&self, i: usize) -> Cursor {
        if i < self.len / 2 {
            let mut rem = i;
            for (ni, n) in self.nodes.iter().enumerate() {
                if rem < n.count {
                    let mut pos = n.start;
                    for _ in 0..rem {
                        pos = n.at(pos).1;
                    }
                    return Cursor { node: ni, pos };
                }
                rem -= n.count;
            }
        } else {
            let mut rem = self.len - 1 - i;
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                if rem < n.count {
                    let mut pos = n.before(n.end);
                    for _ in 0..rem {
                        pos = n.before(pos);
                    }
                    return Cursor { node: ni, pos };
                }
                rem -= n.count;
            }
        }
        unreachable!("index {i} < len {} is inside some node", self.len)
    }

    /// Resolves a Redis index (negative counts from the tail).
    pub fn index(&self, i: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if i < 0 { len + i } else { i };
        (0..len).contains(&i).then_some(i as usize)
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        (i < self.len).then(|| {
            let c = self.locate(i);
            self.nodes[c.node].at(c.pos).0
        })
    }

    fn elem(&self, c: Cursor) -> &[u8] {
        self.nodes[c.node].at(c.pos).0
    }

    fn next(&self, c: Cursor) -> Option<Cursor> {
        let n = &self.nodes[c.node];
        let (_, p) = n.at(c.pos);
        if p < n.end {
            return Some(Cursor {
                node: c.node,
                pos: p,
            });
        }
        let ni = c.node + 1;
        self.nodes.get(ni).map(|n| Cursor {
            node: ni,
            pos: n.start,
        })
    }

    fn prev(&self, c: Cursor) -> Option<Cursor> {
        let n = &self.nodes[c.node];
        if c.pos > n.start {
            return Some(Cursor {
                node: c.node,
                pos: n.before(c.pos),
            });
        }
        let ni = c.node.checked_sub(1)?;
        let n = &self.nodes[ni];
        Some(Cursor {
            node: ni,
            pos: n.before(n.end),
        })
    }

    /// Elements from index `from`, head to tail (`rev`: tail to head).
    pub fn iter_from(&self, from: usize, rev: bool) -> Iter<'_> {
        let cur = (from < self.len).then(|| self.locate(from));
        Iter {
            list: self,
            cur,
            rev,
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Replaces element `i` (< len). Call [`prepare_add`] first and
    /// [`after_remove`] after, as LSET does.
    pub fn set(&mut self, i: usize, v: &[u8]) {
        let c = self.locate(i);
        self.with_node(c.node, |n, cap| {
            let p = n.remove(c.pos);
            n.insert(p, v, cap);
        });
    }

    /// Inserts `v` before or after the element at `c`.
    fn insert_at(&mut self, c: Cursor, v: &[u8], after: bool) {
        let pos = if after {
            self.nodes[c.node].at(c.pos).1
        } else {
            c.pos
        };
        let (start, end) = (self.nodes[c.node].start, self.nodes[c.node].end);
        let mut node = c.node;
        let mut pos = pos;
        if !self.allow_insert(node, v.len()) {
            // Full node: use the neighbour when inserting at an edge, or
            // split the node, as Redis's quicklist does.
            if pos == end && node + 1 < self.nodes.len() && self.allow_insert(node + 1, v.len()) {
                node += 1;
                pos = self.nodes[node].start;
            } else if pos == start && node > 0 && self.allow_insert(node - 1, v.len()) {
                node -= 1;
                pos = self.nodes[node].end;
            } else if pos == end {
                node += 1;
                self.new_node_at(node);
                pos = 0;
            } else if pos == start {
                self.new_node_at(node);
                pos = 0;
            } else {
                self.split(node, pos);
                node += 1;
                pos = self.nodes[node].start;
                if !after {
                    node -= 1;
                    pos = self.nodes[node].end;
                }
            }
        }
        self.with_node(node, |n, cap| n.insert(pos, v, cap));
        self.len += 1;
    }

    /// Moves the elements of node `i` from `pos` on into a new node after it.
    fn split(&mut self, i: usize, pos: usize) {
        let mut tail = Node::new();
        let cap = self.cap_limit();
        let src = &self.nodes[i];
        let mut p = pos;
        while p < src.end {
            let (v, next) = src.at(p);
            tail.insert(tail.end, v, cap);
            p = next;
        }
        let (moved, rb) = (tail.count, tail.rbytes - LP_EMPTY);
        self.with_node(i, |n, _| {
            n.end = pos;
            n.count -= moved;
            n.rbytes -= rb;
            n.maybe_shrink();
        });
        self.node_mem += tail.mem();
        self.nodes.insert(i + 1, tail);
    }

    /// LINSERT: inserts `v` next to the first `pivot`; false when absent.
    pub fn insert_pivot(&mut self, pivot: &[u8], v: &[u8], after: bool) -> bool {
        let mut cur = (self.len > 0).then(|| Cursor {
            node: 0,
            pos: self.nodes[0].start,
        });
        while let Some(c) = cur {
            if self.elem(c) == pivot {
                self.insert_at(c, v, after);
                return true;
            }
            cur = self.next(c);
        }
        false
    }

    /// Removes the element at `c`; returns the cursor of the element that
    /// followed it (towards the tail).
    fn remove_at(&mut self, c: Cursor) -> Option<Cursor> {
        let p = self.with_node(c.node, |n, _| n.remove(c.pos));
        self.len -= 1;
        if self.drop_node_if_empty(c.node) {
            return self.nodes.get(c.node).map(|n| Cursor {
                node: c.node,
                pos: n.start,
            });
        }
        let n = &self.nodes[c.node];
        if p < n.end {
            Some(Cursor {
                node: c.node,
                pos: p,
            })
        } else {
            self.nodes.get(c.node + 1).map(|n| Cursor {
                node: c.node + 1,
                pos: n.start,
            })
        }
    }

    /// LREM: removes up to `count` (0 = all) elements equal to `v`, from
    /// the head, or from the tail when `count` is negative.
    pub fn remove_value(&mut self, v: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut cur = (self.len > 0).then(|| Cursor {
                node: 0,
                pos: self.nodes[0].start,
            });
            while let Some(c) = cur {
                if removed == limit {
                    break;
                }
                if self.elem(c) == v {
                    cur = self.remove_at(c);
                    removed += 1;
                } else {
                    cur = self.next(c);
                }
            }
        } else {
            let mut cur = (self.len > 0).then(|| self.locate(self.len - 1));
            while let Some(c) = cur {
                if removed == limit {
                    break;
                }
                let prev = self.prev(c);
                if self.elem(c) == v {
                    let sz = self.nodes[c.node].at(c.pos).1 - c.pos;
                    let p = self.with_node(c.node, |n, _| n.remove(c.pos));
                    self.len -= 1;
                    removed += 1;
                    let dropped = self.drop_node_if_empty(c.node);
                    // A removal that slid the node's front half moved the
                    // previous element too.
                    cur = prev.map(|mut q| {
                        if !dropped && q.node == c.node && p != c.pos {
                            q.pos += sz;
                        }
                        q
                    });
                } else {
                    cur = prev;
                }
            }
        }
        removed
    }

    /// Removes `n` elements from the head (`left`) or tail.
    pub fn remove_ends(&mut self, n: usize, left: bool) {
        let mut n = n.min(self.len);
        while n > 0 {
            let i = if left { 0 } else { self.nodes.len() - 1 };
            let whole = self.nodes[i].count;
            if whole <= n {
                let node = self.nodes.remove(i).expect("non-empty list has nodes");
                self.node_mem -= node.mem();
                self.len -= whole;
                n -= whole;
            } else {
                self.with_node(i, |nd, _| {
                    for _ in 0..n {
                        let pos = if left { nd.start } else { nd.before(nd.end) };
                        nd.remove(pos);
                    }
                    nd.maybe_shrink();
                });
                self.len -= n;
                n = 0;
            }
        }
    }

    /// Checks the incremental figures against a recount (tests).
    pub fn check(&self) -> bool {
        let mem: usize = self.nodes.iter().map(Node::mem).sum();
        let len: usize = self.nodes.iter().map(|n| n.count).sum();
        let rb = self.nodes.iter().all(|n| {
            let mut p = n.start;
            let mut rb = LP_EMPTY;
            let mut k = 0;
            while p < n.end {
                let (v, next) = n.at(p);
                rb += lp_entry_size(v);
                p = next;
                k += 1;
            }
            rb == n.rbytes && k == n.count && n.count > 0
        });
        mem == self.node_mem && len == self.len && rb && self.iter().count() == self.len
    }
}

pub struct Iter<'a> {
    list: &'a ListValue,
    cur: Option<Cursor>,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let c = self.cur?;
        let list: &'a ListValue = self.list;
        self.cur = if self.rev { list.prev(c) } else { list.next(c) };
        Some(list.elem(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(l: &ListValue) -> Vec<Vec<u8>> {
        l.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn model_check_against_vecdeque() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for fill in [-2i64, 4, -1, 1] {
            let t = Thresholds {
                list_max_listpack_size: fill,
                ..Thresholds::default()
            };
            let mut l = ListValue::new(&t);
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..6000 {
                let len = [1usize, 5, 70, 200, 300][rng.gen_range(0..5)];
                let v: Vec<u8> = (0..len).map(|_| rng.gen_range(b'a'..b'e')).collect();
                match rng.gen_range(0..10) {
                    0..=2 => {
                        let left = rng.gen_bool(0.5);
                        l.prepare_add(&t, v.len(), 1);
                        l.push(&v, left);
                        if left {
                            m.push_front(v)
                        } else {
                            m.push_back(v)
                        }
                    }
                    3..=4 => {
                        let left = rng.gen_bool(0.5);
                        let got = l.pop(left);
                        let want = if left { m.pop_front() } else { m.pop_back() };
                        assert_eq!(got, want);
                        l.after_remove();
                    }
                    5 if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        let after = rng.gen_bool(0.5);
                        let pivot = m[i].clone();
                        let j = m.iter().position(|x| *x == pivot).unwrap();
                        l.prepare_add(&t, v.len(), 1);
                        assert!(l.insert_pivot(&pivot, &v, after));
                        m.insert(if after { j + 1 } else { j }, v);
                    }
                    6 if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        l.prepare_add(&t, v.len(), 1);
                        l.set(i, &v);
                        l.after_remove();
                        m[i] = v;
                    }
                    7 if !m.is_empty() && step % 5 == 0 => {
                        let target = m[rng.gen_range(0..m.len())].clone();
                        let count = rng.gen_range(-2..3);
                        let n = l.remove_value(&target, count);
                        let mut removed = 0;
                        let limit = if count == 0 {
                            usize::MAX
                        } else {
                            count.unsigned_abs() as usize
                        };
                        if count >= 0 {
                            let mut i = 0;
                            while i < m.len() && removed < limit {
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1
                                } else {
                                    i += 1
                                }
                            }
                        } else {
                            let mut i = m.len();
                            while i > 0 && removed < limit {
                                i -= 1;
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1
                                }
                            }
                        }
                        assert_eq!(n, removed);
                        l.after_remove();
                    }
                    8 => {
                        let k = rng.gen_range(0..4);
                        let left = rng.gen_bool(0.5);
                        l.remove_ends(k, left);
                        for _ in 0..k.min(m.len()) {
                            if left {
                                m.pop_front();
                            } else {
                                m.pop_back();
                            }
                        }
                        l.after_remove();
                    }
                    _ => {
                        if !m.is_empty() {
                            let i = rng.gen_range(0..m.len());
                            assert_eq!(l.get(i), Some(&m[i][..]));
                            let back: Vec<&[u8]> = l.iter_from(i, true).collect();
                            assert_eq!(back.len(), i + 1);
                            assert_eq!(back[0], &m[i][..]);
                        }
                    }
                }
                assert!(l.check(), "fill {fill} step {step}");
                assert_eq!(l.len(), m.len());
            }
            assert_eq!(collect(&l), m.iter().cloned().collect::<Vec<_>>());
        }
    }

    #[test]
    fn encoding_converts_like_redis_7_2() {
        let t = Thresholds::default();
        let mut l = ListValue::new(&t);
        // Elements of 100 bytes weigh 103 Redis bytes: 7 + 79 * 103 + 100
        // exceeds 8192 on the 80th push, which converts first.
        let v = [b'x'; 100];
        for _ in 0..79 {
            l.prepare_add(&t, 100, 1);
            l.push(&v, false);
        }
        assert_eq!(l.encoding(), "listpack");
        assert_eq!(l.nodes.capacity(), 1, "a one-node list reserves one slot");
        l.prepare_add(&t, 100, 1);
        l.push(&v, false);
        assert_eq!(l.encoding(), "quicklist");
        assert_eq!(l.nodes.len(), 2);
        // Back to listpack once one node is left within half the limit:
        // 7 + 39 * 103 <= 4096 < 7 + 40 * 103.
        while l.len() > 40 {
            l.pop(false);
            l.after_remove();
            assert_eq!(l.encoding(), "quicklist");
        }
        l.pop(false);
        l.after_remove();
        assert_eq!(l.encoding(), "listpack");

        let t4 = Thresholds {
            list_max_listpack_size: 4,
            ..Thresholds::default()
        };
        let mut l = ListValue::new(&t4);
        for _ in 0..4 {
            l.prepare_add(&t4, 1, 1);
            l.push(b"1", true);
        }
        assert_eq!(l.encoding(), "listpack");
        l.prepare_add(&t4, 1, 1);
        l.push(b"1", true);
        assert_eq!(l.encoding(), "quicklist");
        assert_eq!(l.nodes.len(), 2);
    }

    #[test]
    fn entry_sizes_match_listpack() {
        assert_eq!(lp_entry_size(b"5"), 2);
        assert_eq!(lp_entry_size(b"-1"), 3);
        assert_eq!(lp_entry_size(b"40000"), 5);
        assert_eq!(lp_entry_size(b"hello"), 7);
        assert_eq!(lp_entry_size(&[b'a'; 100]), 103);
        assert_eq!(lp_entry_size(b"01"), 4);
    }
}
