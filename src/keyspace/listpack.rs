//! A packed sequence of byte strings: the small encoding of hashes, sets,
//! sorted sets and list nodes (the idea of Redis's listpack).
//!
//! One `Vec<u8>` holds every element as `varint(len) ++ bytes`, so a small
//! collection costs one allocation and ~1 byte of overhead per element
//! instead of a pointer, a length and an allocation each. Operations are
//! linear scans, which is what Redis does too below its thresholds
//! (128 entries / 64-byte values by default).

/// A position in the buffer: the byte offset where an element's header starts.
pub type Pos = usize;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct ListPack {
    buf: Vec<u8>,
    len: usize,
}

fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl ListPack {
    pub fn new() -> ListPack {
        ListPack::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (capacity of the buffer).
    pub fn mem_usage(&self) -> usize {
        super::entry::alloc_class(self.buf.capacity())
    }

    /// Bytes used by the encoded elements.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Decodes the element at `pos`; returns it and the next position.
    #[inline]
    pub fn at(&self, pos: Pos) -> (&[u8], Pos) {
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
        (&self.buf[p..p + n], p + n)
    }

    /// Position of the first element (equal to `end()` when empty).
    pub fn first(&self) -> Pos {
        0
    }

    /// The position one past the last element.
    pub fn end(&self) -> Pos {
        self.buf.len()
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter { lp: self, pos: 0 }
    }

    /// The element at logical index `i` (linear).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.iter().nth(i)
    }

    /// Position of logical index `i`, or `end()` when `i == len`.
    pub fn pos_of(&self, i: usize) -> Option<Pos> {
        if i > self.len {
            return None;
        }
        let mut pos = 0;
        for _ in 0..i {
            pos = self.at(pos).1;
        }
        Some(pos)
    }

    pub fn push_back(&mut self, v: &[u8]) {
        write_varint(&mut self.buf, v.len());
        self.buf.extend_from_slice(v);
        self.len += 1;
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.insert_at(0, v);
    }

    /// Inserts `v` so that it starts at byte position `pos`.
    pub fn insert_at(&mut self, pos: Pos, v: &[u8]) {
        let mut enc = Vec::with_capacity(varint_len(v.len()) + v.len());
        write_varint(&mut enc, v.len());
        enc.extend_from_slice(v);
        self.buf.splice(pos..pos, enc);
        self.len += 1;
    }

    /// Removes the element at `pos`; returns the position of the element
    /// that followed it (now at `pos`).
    pub fn remove_at(&mut self, pos: Pos) -> Pos {
        let (_, next) = self.at(pos);
        self.buf.drain(pos..next);
        self.len -= 1;
        pos
    }

    /// Replaces the element at `pos` with `v`; returns the next position.
    pub fn replace_at(&mut self, pos: Pos, v: &[u8]) -> Pos {
        let (_, next) = self.at(pos);
        let mut enc = Vec::with_capacity(varint_len(v.len()) + v.len());
        write_varint(&mut enc, v.len());
        enc.extend_from_slice(v);
        let new_next = pos + enc.len();
        self.buf.splice(pos..next, enc);
        new_next
    }

    /// Removes the first element; returns it.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.len == 0 {
            return None;
        }
        let v = self.at(0).0.to_vec();
        self.remove_at(0);
        Some(v)
    }

    /// Removes the last element; returns it (linear: walks to the end).
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let last = self.pos_of(self.len.checked_sub(1)?)?;
        let v = self.at(last).0.to_vec();
        self.remove_at(last);
        Some(v)
    }

    /// Position of the first element equal to `v` among those at positions
    /// `start, start + stride, …` (stride 2 searches the fields of a
    /// field/value listpack).
    pub fn find(&self, v: &[u8], stride: usize) -> Option<Pos> {
        let mut pos = 0;
        let mut i = 0usize;
        while pos < self.buf.len() {
            let (e, next) = self.at(pos);
            if i % stride == 0 && e == v {
                return Some(pos);
            }
            pos = next;
            i += 1;
        }
        None
    }

    /// Releases spare capacity (after large deletions).
    pub fn shrink(&mut self) {
        if self.buf.capacity() > self.buf.len() * 2 + 64 {
            self.buf.shrink_to_fit();
        }
    }
}

pub struct Iter<'a> {
    lp: &'a ListPack,
    pos: Pos,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.lp.buf.len() {
            return None;
        }
        let (e, next) = self.lp.at(self.pos);
        self.pos = next;
        Some(e)
    }
}

impl std::fmt::Debug for ListPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_find_replace_remove() {
        let mut lp = ListPack::new();
        lp.push_back(b"f1");
        lp.push_back(b"v1");
        lp.push_back(b"f2");
        lp.push_back(&[b'x'; 300]);
        assert_eq!(lp.len(), 4);
        let p = lp.find(b"f2", 2).unwrap();
        let (_, vpos) = lp.at(p);
        assert_eq!(lp.at(vpos).0.len(), 300);
        lp.replace_at(vpos, b"short");
        assert_eq!(lp.get(3), Some(&b"short"[..]));
        assert!(
            lp.find(b"v1", 2).is_none(),
            "values are skipped with stride 2"
        );
        lp.push_front(b"first");
        assert_eq!(lp.pop_front().as_deref(), Some(&b"first"[..]));
        assert_eq!(lp.pop_back().as_deref(), Some(&b"short"[..]));
        let p = lp.find(b"f1", 1).unwrap();
        lp.remove_at(p);
        assert_eq!(lp.iter().collect::<Vec<_>>(), vec![&b"v1"[..], &b"f2"[..]]);
        assert_eq!(lp.pos_of(2), Some(lp.end()));
    }
}
