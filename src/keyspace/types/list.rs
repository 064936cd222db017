//! The list value: a deque of packed nodes (Redis's quicklist idea).
//!
//! Each node is one allocation holding its elements in Redis's listpack
//! entry format (type byte with small integers and string lengths packed
//! in, payload, then a back-length), so a node can be walked from either
//! end and every element costs exactly what it costs in Redis: canonical
//! integers are stored as 1-9 byte numbers, strings with 2-10 bytes of
//! overhead. The live bytes sit in `buf[start..end]` with free room on
//! both sides, so pushing and popping at either end of a node is O(1)
//! amortized: the `LPUSH`/`RPOP` queue pattern never memmoves a node.
//!
//! Encoding follows Redis 7.2: a list is `listpack` (one node) until a write
//! would make that node exceed `list-max-listpack-size`, then `quicklist`
//! (nodes bounded by the same rule); a quicklist that shrinks to a single
//! node within half the limit becomes `listpack` again. The decisions use
//! the node's listpack byte size (tracked in `rbytes`, header included),
//! so conversions happen at the same writes as in Redis.

use std::collections::VecDeque;
use std::sync::Arc;

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
fn node_limit(fill: i32) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, fill.max(1) as usize)
    } else {
        let i = ((-fill - 1) as usize).min(SIZE_LEVELS.len() - 1);
        (SIZE_LEVELS[i], usize::MAX)
    }
}

/// `list-max-listpack-size` narrowed to what a node can use (Redis caps
/// counts at 2^15 anyway), keeping `ListValue` one word smaller.
fn clamp_fill(fill: i64) -> i32 {
    fill.clamp(-5, 1 << 16) as i32
}

/// Redis's `quicklistNodeExceedsLimit`.
fn exceeds(fill: i32, sz: usize, count: usize) -> bool {
    let (sl, cl) = node_limit(fill);
    if sl != usize::MAX {
        sz > sl
    } else {
        sz > SIZE_SAFETY_LIMIT || count > cl
    }
}

/// An element as stored: integers in canonical form are kept as numbers
/// (as a Redis listpack does), everything else as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(i) => i.to_string().into_bytes(),
        }
    }

    /// Whether this element equals the byte string `v`.
    #[inline]
    pub fn eq_bytes(self, v: &[u8]) -> bool {
        self.eq_parsed(v, canonical_int(v))
    }

    /// [`Elem::eq_bytes`] with `v`'s integer form (`canonical_int`)
    /// computed once by a caller comparing against many elements.
    #[inline]
    pub fn eq_parsed(self, v: &[u8], v_int: Option<i64>) -> bool {
        match self {
            Elem::Str(s) => v_int.is_none() && s == v,
            Elem::Int(i) => v_int == Some(i),
        }
    }
}

/// Size of the encoding (type byte(s) + payload) of `v`, and its integer
/// value when it is stored as one.
#[inline]
fn enc_size(v: &[u8]) -> (usize, Option<i64>) {
    let int = canonical_int(v);
    let n = match int {
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
    (n, int)
}

/// Bytes of the back-length that follows an encoding of `l` bytes.
#[inline]
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Bytes `v` takes as a Redis listpack entry (encoding + back-length):
/// exactly what it takes in a node. The RDB writer builds its listpacks
/// with this and [`encode_into`] too: one encoder for the format.
pub(crate) fn lp_entry_size(v: &[u8]) -> usize {
    let (l, _) = enc_size(v);
    l + backlen_size(l)
}

/// Bytes `v` takes in a node.
#[inline]
fn enc_len(v: &[u8]) -> usize {
    lp_entry_size(v)
}

/// Writes the listpack encoding of `v` into `out` (exactly `enc_len(v)`
/// bytes): type byte(s), payload, then the back-length (the encoding's
/// size, 7 bits a byte, read from the end).
pub(crate) fn encode_into(out: &mut [u8], v: &[u8]) {
    let (l, int) = enc_size(v);
    match int {
        Some(n) => {
            let le = n.to_le_bytes();
            match l {
                1 => out[0] = n as u8,
                2 => {
                    let u = (n as u16) & 0x1fff;
                    out[0] = 0xc0 | (u >> 8) as u8;
                    out[1] = u as u8;
                }
                3 => {
                    out[0] = 0xf1;
                    out[1..3].copy_from_slice(&le[..2]);
                }
                4 => {
                    out[0] = 0xf2;
                    out[1..4].copy_from_slice(&le[..3]);
                }
                5 => {
                    out[0] = 0xf3;
                    out[1..5].copy_from_slice(&le[..4]);
                }
                _ => {
                    out[0] = 0xf4;
                    out[1..9].copy_from_slice(&le);
                }
            }
        }
        None => {
            let len = v.len();
            let h = if len < 64 {
                out[0] = 0x80 | len as u8;
                1
            } else if len < 4096 {
                out[0] = 0xe0 | (len >> 8) as u8;
                out[1] = len as u8;
                2
            } else {
                out[0] = 0xf0;
                out[1..5].copy_from_slice(&(len as u32).to_le_bytes());
                5
            };
            out[h..h + len].copy_from_slice(v);
        }
    }
    put_backlen(&mut out[l..], l);
}

/// Writes the back-length of an encoding of `l` bytes at the start of
/// `out`; returns how many bytes it took. Low 7 bits in the last byte, a
/// set high bit meaning more bytes precede (Redis's lpEncodeBacklen).
pub(crate) fn put_backlen(out: &mut [u8], l: usize) -> usize {
    let k = backlen_size(l);
    let mut n = l;
    for i in 0..k {
        out[k - 1 - i] = (n & 0x7f) as u8 | if i + 1 < k { 0x80 } else { 0 };
        n >>= 7;
    }
    k
}

/// Sign-extends the low `bits` bits of `u`.
#[inline]
fn sext(u: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((u << shift) as i64) >> shift
}

/// The reference counts in front of an `Arc`'s data.
const ARC_HEADER: usize = 16;

/// A zero-filled shared buffer, allocated once.
fn zeroed(len: usize) -> Arc<[u8]> {
    std::iter::repeat_n(0u8, len).collect()
}

/// One packed node: elements live in `buf[start..end]`.
///
/// The buffer is reference-counted so that a snapshot can share it
/// (`ListValue::share`): a write to a node a snapshot still holds copies
/// that node (`bytes_mut`), never the whole list.
#[derive(Clone, Default)]
struct Node {
    buf: Arc<[u8]>,
    start: usize,
    end: usize,
    /// Elements held (a node is at most a few KiB, or one element past
    /// the limit, so this fits).
    count: u32,
}

impl Node {
    fn new() -> Node {
        Node::default()
    }

    /// What this node weighs as a Redis listpack (entries are stored in
    /// listpack format, so only the header and terminator are added).
    fn rbytes(&self) -> usize {
        LP_EMPTY + self.end - self.start
    }

    fn len(&self) -> usize {
        self.count as usize
    }

    fn mem(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            alloc_class(ARC_HEADER + self.buf.len())
        }
    }

    /// The buffer for writing: copied first if a snapshot shares it.
    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        Arc::make_mut(&mut self.buf)
    }

    /// Element at `pos`, and the position after it.
    #[inline]
    fn at(&self, pos: usize) -> (Elem<'_>, usize) {
        let b = &self.buf[pos..];
        let le = |k: usize| {
            let mut x = [0u8; 8];
            x[..k].copy_from_slice(&b[1..1 + k]);
            u64::from_le_bytes(x)
        };
        let (e, l) = match b[0] {
            0x00..=0x7f => (Elem::Int(i64::from(b[0])), 1),
            0x80..=0xbf => {
                let n = (b[0] & 0x3f) as usize;
                (Elem::Str(&b[1..1 + n]), 1 + n)
            }
            0xc0..=0xdf => {
                let u = (u64::from(b[0] & 0x1f) << 8) | u64::from(b[1]);
                (Elem::Int(sext(u, 13)), 2)
            }
            0xe0..=0xef => {
                let n = (((b[0] & 0x0f) as usize) << 8) | b[1] as usize;
                (Elem::Str(&b[2..2 + n]), 2 + n)
            }
            0xf0 => {
                let n = le(4) as usize;
                (Elem::Str(&b[5..5 + n]), 5 + n)
            }
            0xf1 => (Elem::Int(sext(le(2), 16)), 3),
            0xf2 => (Elem::Int(sext(le(3), 24)), 4),
            0xf3 => (Elem::Int(sext(le(4), 32)), 5),
            _ => (Elem::Int(le(8) as i64), 9),
        };
        (e, pos + l + backlen_size(l))
    }

    /// Start of the element that ends at `pos`.
    #[inline]
    fn before(&self, pos: usize) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        let mut p = pos;
        loop {
            p -= 1;
            let b = self.buf[p];
            n |= ((b & 0x7f) as usize) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        p - n
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
                    let start = self.start;
                    self.bytes_mut().copy_within(start..pos, start - need);
                    self.start -= need;
                    return pos - need;
                }
            } else {
                let end = self.end;
                self.bytes_mut().copy_within(pos..end, pos + need);
                self.end += need;
                return pos;
            }
        }
        // Reallocate: double (bounded by the node size limit), and put the
        // free room on the side being grown so a run of pushes stays O(1).
        let want = used + need;
        let doubled = (self.buf.len() * 2).max(want).max(8);
        let cap = if self.buf.is_empty() {
            // A new node: exact, so a node holding one large element
            // wastes nothing.
            want
        } else if doubled <= cap_limit {
            doubled
        } else if want <= cap_limit {
            cap_limit
        } else {
            // Past the limit only in listpack mode or with values bigger
            // than a node: grow by a quarter so pushes stay amortized O(1).
            want + want / 4
        };
        let mut nb = zeroed(cap);
        let lead = if front <= back { cap - want } else { 0 };
        let b = Arc::get_mut(&mut nb).expect("just allocated");
        b[lead..lead + front].copy_from_slice(&self.buf[self.start..pos]);
        b[lead + front + need..lead + want].copy_from_slice(&self.buf[pos..self.end]);
        self.buf = nb;
        self.start = lead;
        self.end = lead + want;
        lead + front
    }

    fn insert(&mut self, pos: usize, v: &[u8], cap_limit: usize) {
        let n = enc_len(v);
        let at = self.open_gap(pos, n, cap_limit);
        encode_into(&mut self.bytes_mut()[at..at + n], v);
        self.count += 1;
    }

    /// Inserts an element already encoded (moved from another node).
    fn insert_raw(&mut self, pos: usize, raw: &[u8], cap_limit: usize) {
        let at = self.open_gap(pos, raw.len(), cap_limit);
        self.bytes_mut()[at..at + raw.len()].copy_from_slice(raw);
        self.count += 1;
    }

    /// Removes the element at `pos`; returns the position of what followed
    /// it (shifting whichever side is smaller).
    fn remove(&mut self, pos: usize) -> usize {
        let (_, next) = self.at(pos);
        self.count -= 1;
        let n = next - pos;
        let (start, end) = (self.start, self.end);
        if pos - start <= end - next {
            self.bytes_mut().copy_within(start..pos, start + n);
            self.start += n;
            next
        } else {
            self.bytes_mut().copy_within(next..end, pos);
            self.end -= n;
            pos
        }
    }

    /// Gives back memory when a node is mostly empty.
    fn maybe_shrink(&mut self) {
        let used = self.end - self.start;
        if self.buf.len() > 64 && used * 4 < self.buf.len() {
            let cap = (used * 2).max(8);
            let mut nb = zeroed(cap);
            let lead = (cap - used) / 2;
            let b = Arc::get_mut(&mut nb).expect("just allocated");
            b[lead..lead + used].copy_from_slice(&self.buf[self.start..self.end]);
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
    fill: i32,
}

impl std::fmt::Debug for ListValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

impl ListValue {
    pub fn new(t: &Thresholds) -> Self {
        ListValue {
            fill: clamp_fill(t.list_max_listpack_size),
            ..ListValue::default()
        }
    }

    /// Number of elements.
    /// Each node's entries in Redis's listpack entry format, with their
    /// count: an RDB quicklist node is these bytes between a header and an
    /// end byte, so the writer copies them instead of re-encoding.
    pub fn packed_nodes(&self) -> impl Iterator<Item = (&[u8], usize)> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.count > 0)
            .map(|n| (&n.buf[n.start..n.end], n.count as usize))
    }

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

    /// Bytes a clone copies: the node list, not the nodes' buffers, which
    /// the clone shares (see [`Node`]).
    pub fn share_cost(&self) -> usize {
        alloc_class(self.nodes.len() * std::mem::size_of::<Node>())
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
        self.fill = clamp_fill(t.list_max_listpack_size);
        if self.quick {
            return;
        }
        let rbytes = self.nodes.front().map_or(LP_EMPTY, Node::rbytes);
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
        if n.rbytes() <= sl / 2 && self.len <= cl / 2 {
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
            n.rbytes() + sz + SIZE_ESTIMATE_OVERHEAD,
            n.len() + 1,
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
    pub fn pop_with<R>(&mut self, left: bool, f: impl FnOnce(Elem<'_>) -> R) -> Option<R> {
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
        self.pop_with(left, |e| e.to_vec())
    }

    /// Cursor at element `i` (< len), walking from the nearer end.
    fn locate(&self, i: usize) -> Cursor {
        if i < self.len / 2 {
            let mut rem = i;
            for (ni, n) in self.nodes.iter().enumerate() {
                if rem < n.len() {
                    let mut pos = n.start;
                    for _ in 0..rem {
                        pos = n.at(pos).1;
                    }
                    return Cursor { node: ni, pos };
                }
                rem -= n.len();
            }
        } else {
            let mut rem = self.len - 1 - i;
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                if rem < n.len() {
                    let mut pos = n.before(n.end);
                    for _ in 0..rem {
                        pos = n.before(pos);
                    }
                    return Cursor { node: ni, pos };
                }
                rem -= n.len();
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

    pub fn get(&self, i: usize) -> Option<Elem<'_>> {
        (i < self.len).then(|| {
            let c = self.locate(i);
            self.nodes[c.node].at(c.pos).0
        })
    }

    fn elem(&self, c: Cursor) -> Elem<'_> {
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
            let next = src.at(p).1;
            tail.insert_raw(tail.end, &src.buf[p..next], cap);
            p = next;
        }
        let moved = tail.count;
        self.with_node(i, |n, _| {
            n.end = pos;
            n.count -= moved;
            n.maybe_shrink();
        });
        self.node_mem += tail.mem();
        self.nodes.insert(i + 1, tail);
    }

    /// LINSERT: inserts `v` next to the first `pivot`; false when absent.
    pub fn insert_pivot(&mut self, pivot: &[u8], v: &[u8], after: bool) -> bool {
        let pivot_int = canonical_int(pivot);
        let mut cur = (self.len > 0).then(|| Cursor {
            node: 0,
            pos: self.nodes[0].start,
        });
        while let Some(c) = cur {
            if self.elem(c).eq_parsed(pivot, pivot_int) {
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
        let v_int = canonical_int(v);
        if count >= 0 {
            let mut cur = (self.len > 0).then(|| Cursor {
                node: 0,
                pos: self.nodes[0].start,
            });
            while let Some(c) = cur {
                if removed == limit {
                    break;
                }
                if self.elem(c).eq_parsed(v, v_int) {
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
                if self.elem(c).eq_parsed(v, v_int) {
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
            let whole = self.nodes[i].len();
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
        let len: usize = self.nodes.iter().map(Node::len).sum();
        let rb = self.nodes.iter().all(|n| {
            let mut p = n.start;
            let mut rb = LP_EMPTY;
            let mut k = 0;
            while p < n.end {
                let (e, next) = n.at(p);
                // Every element uses the encoding Redis would pick for it.
                rb += lp_entry_size(&e.to_vec());
                p = next;
                k += 1;
            }
            p == n.end && rb == n.rbytes() && k == n.len() && n.count > 0
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
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        let c = self.cur?;
        let list: &'a ListValue = self.list;
        self.cur = if self.rev { list.prev(c) } else { list.next(c) };
        Some(list.elem(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every integer width of the encoding, its edges, and near-integers
    /// that must stay strings.
    const INTS: &[&str] = &[
        "0",
        "5",
        "127",
        "128",
        "-1",
        "4095",
        "-4096",
        "4096",
        "-4097",
        "32767",
        "-32768",
        "32768",
        "8388607",
        "-8388608",
        "8388608",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "007",
        "-0",
        "+1",
        "1 ",
    ];

    #[test]
    fn elements_round_trip() {
        let t = Thresholds::default();
        let mut l = ListValue::new(&t);
        let long = "y".repeat(5000);
        let mid = "m".repeat(100);
        let mut all: Vec<&str> = INTS.to_vec();
        all.extend(["", "a", &mid, &long]);
        for v in &all {
            l.prepare_add(&t, v.len(), 1);
            l.push(v.as_bytes(), false);
        }
        assert!(l.check());
        let got: Vec<Vec<u8>> = collect(&l);
        let want: Vec<Vec<u8>> = all.iter().map(|v| v.as_bytes().to_vec()).collect();
        assert_eq!(got, want);
        let back: Vec<Vec<u8>> = l.iter_from(l.len() - 1, true).map(|e| e.to_vec()).collect();
        assert_eq!(back.into_iter().rev().collect::<Vec<_>>(), want);
        assert_eq!(l.get(1), Some(Elem::Int(5)));
        assert!(matches!(l.get(21), Some(Elem::Str(b"007"))));
    }

    fn collect(l: &ListValue) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
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
                let v: Vec<u8> = if rng.gen_bool(0.3) {
                    INTS[rng.gen_range(0..INTS.len())].as_bytes().to_vec()
                } else {
                    (0..len).map(|_| rng.gen_range(b'a'..b'e')).collect()
                };
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
                            assert_eq!(l.get(i).map(|e| e.to_vec()).as_ref(), Some(&m[i]));
                            let back: Vec<Vec<u8>> =
                                l.iter_from(i, true).map(|e| e.to_vec()).collect();
                            assert_eq!(back.len(), i + 1);
                            assert_eq!(back[0], m[i]);
                            assert!(l.get(i).is_some_and(|e| e.eq_bytes(&m[i])));
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
    fn node_slot_is_small() {
        // A one-node list pays one deque slot: keep it at 40 bytes.
        assert!(std::mem::size_of::<Node>() <= 40);
        // The list lives inside every collection's `Object` box.
        assert!(std::mem::size_of::<ListValue>() <= 56);
    }

    #[test]
    fn entry_sizes_match_listpack() {
        assert_eq!(lp_entry_size(b"5"), 2);
        assert_eq!(lp_entry_size(b"-1"), 3);
        assert_eq!(lp_entry_size(b"40000"), 5);
        assert_eq!(lp_entry_size(b"hello"), 7);
        assert_eq!(lp_entry_size(&[b'a'; 100]), 103);
        assert_eq!(lp_entry_size(b"01"), 4);
        for v in [
            &b"5"[..],
            b"-1",
            b"40000",
            b"hello",
            &[b'a'; 100],
            b"-9223372036854775808",
        ] {
            assert_eq!(enc_len(v), lp_entry_size(v));
        }
    }
}
