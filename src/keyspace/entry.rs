//! One key and its value in a single heap block behind a thin pointer.
//!
//! This is where the memory per key is decided (DESIGN.md, "Memory layout").
//! Redis 7 spends four allocations on a small string key (dictEntry, key sds,
//! robj, value sds: ~136 B). Here a key costs one block plus an 8-byte table
//! slot:
//!
//! ```text
//! [flags:1][clock:3][klen,vlen: 1+1 or 4+4][spare:4 if SPARE][expire_ms:8 if HAS_EXPIRE][key][value][spare bytes]
//! ```
//!
//! For a 16 B key and 32 B value that is 4 + 2 + 48 = 54 bytes (mimalloc's
//! 56-byte class). The value part holds the raw string bytes, an `i64` for
//! integer-encoded strings (so INCR updates in place), or a `Box<Object>` for
//! collections. All fields are read unaligned with `from_le_bytes`, so the
//! block needs no alignment and no padding.
//!
//! This is the crate's one piece of `unsafe` in the keyspace; every access
//! goes through the small API below.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use super::value::Object;

const HAS_EXPIRE: u8 = 1;
const WIDE: u8 = 2;
const KIND_SHIFT: u8 = 2;
const KIND_MASK: u8 = 3 << KIND_SHIFT;
const KIND_RAW: u8 = 0;
const KIND_INT: u8 = 1;
const KIND_OBJ: u8 = 2;
/// The snapshot epoch bit (see `snapshot.rs`): an entry whose bit differs
/// from its DB's `snap_done` existed at a running snapshot's cut and has
/// not been handed to it yet. Rebuilding a block (`set_expire`,
/// `replace_value`) drops it; `Db` re-stamps after every mutation.
const SNAP: u8 = 1 << 4;
/// A string modified in place (APPEND, SETRANGE, SETBIT …): OBJECT
/// ENCODING says `raw` whatever its length or digits, as Redis's
/// `dbUnshareStringValue` leaves it. Kept by `set_expire`.
const RAW_ENC: u8 = 1 << 5;
/// A string grown in place (SETBIT, SETRANGE, APPEND, BITFIELD) keeps
/// room after its value, as Redis's greedy `sdsMakeRoomFor` does, so that
/// growing a value a little at a time costs amortised O(1) per write, not
/// a copy of the whole value each time. The block is then in the wide form
/// with a 4-byte count of the spare bytes after the lengths; the spare
/// bytes count in [`Entry::mem_usage`] as Redis's `sdsAllocSize` counts
/// an sds's free space. Rebuilding the block (`set_expire`,
/// `replace_value`) drops the room.
const SPARE: u8 = 1 << 6;
/// Redis's SDS_MAX_PREALLOC: growth doubles the length below it, and adds
/// this much above it.
const MAX_PREALLOC: usize = 1 << 20;

/// A borrowed view of an entry's value.
#[derive(Debug)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Int(i64),
    Obj(&'a Object),
}

/// What to store as the value of a new entry.
pub enum NewValue<'a> {
    /// Bytes; stored as an integer when they are a canonical integer of at
    /// most 20 characters (Redis's `int` encoding).
    Str(&'a [u8]),
    /// Bytes kept as they are, with the `raw` encoding: a value a command
    /// modified in place (see `RAW_ENC`).
    Raw(&'a [u8]),
    Int(i64),
    Obj(Box<Object>),
}

/// An owned key/value block. See the module doc for the layout.
pub struct Entry {
    ptr: NonNull<u8>,
}

// SAFETY: `Entry` uniquely owns its block (and the `Box<Object>` inside it);
// nothing else aliases it, so moving it or sharing `&Entry` across threads is
// as safe as for a `Box<[u8]>`.
unsafe impl Send for Entry {}
// SAFETY: as above; `&Entry` only gives shared reads.
unsafe impl Sync for Entry {}

struct Header {
    flags: u8,
    klen: usize,
    vlen: usize,
    /// End of the length fields (where the optional spare field starts).
    lens_end: usize,
    /// Allocated bytes after the value (see `SPARE`).
    spare: usize,
}

impl Header {
    /// Offset of the optional expire field.
    fn expire_at(&self) -> usize {
        self.lens_end + if self.flags & SPARE != 0 { 4 } else { 0 }
    }
    fn key_at(&self) -> usize {
        self.expire_at() + if self.flags & HAS_EXPIRE != 0 { 8 } else { 0 }
    }
    /// Bytes in use: header, key and value.
    fn total(&self) -> usize {
        self.key_at() + self.klen + self.vlen
    }
    /// Bytes allocated: [`Header::total`] and the spare room.
    fn alloc_len(&self) -> usize {
        self.total() + self.spare
    }
    fn kind(&self) -> u8 {
        (self.flags & KIND_MASK) >> KIND_SHIFT
    }
}

/// Parses an integer the way Redis decides on the `int` encoding.
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.len() > 20 {
        return None;
    }
    crate::protocol::parse::parse_i64(s)
}

impl Entry {
    /// Builds a block for `key` → `value`.
    pub fn new(key: &[u8], value: NewValue<'_>, expire: Option<i64>, clock: u32) -> Entry {
        match value {
            NewValue::Str(s) => match canonical_int(s) {
                Some(i) => Self::build(key, KIND_INT, &i.to_le_bytes(), expire, clock),
                None => Self::build(key, KIND_RAW, s, expire, clock),
            },
            NewValue::Raw(s) => {
                let mut e = Self::build(key, KIND_RAW, s, expire, clock);
                e.bytes_mut()[0] |= RAW_ENC;
                e
            }
            NewValue::Int(i) => Self::build(key, KIND_INT, &i.to_le_bytes(), expire, clock),
            NewValue::Obj(o) => {
                let raw = Box::into_raw(o) as usize as u64;
                Self::build(key, KIND_OBJ, &raw.to_le_bytes(), expire, clock)
            }
        }
    }

    fn build(key: &[u8], kind: u8, val: &[u8], expire: Option<i64>, clock: u32) -> Entry {
        let wide = key.len() > 255 || val.len() > 255;
        let mut flags = kind << KIND_SHIFT;
        if wide {
            flags |= WIDE;
        }
        if expire.is_some() {
            flags |= HAS_EXPIRE;
        }
        let lens_end = 4 + if wide { 8 } else { 2 };
        let h = Header {
            flags,
            klen: key.len(),
            vlen: val.len(),
            lens_end,
            spare: 0,
        };
        let total = h.total();
        let layout = Layout::from_size_align(total, 1).expect("entry size fits a Layout");
        // SAFETY: `total` is at least 6, so the layout is non-zero-sized.
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `ptr` points to `total` writable bytes we just allocated.
        let block = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), total) };
        block[0] = flags;
        block[1..4].copy_from_slice(&clock.to_le_bytes()[..3]);
        if wide {
            block[4..8].copy_from_slice(&(key.len() as u32).to_le_bytes());
            block[8..12].copy_from_slice(&(val.len() as u32).to_le_bytes());
        } else {
            block[4] = key.len() as u8;
            block[5] = val.len() as u8;
        }
        if let Some(at) = expire {
            block[lens_end..lens_end + 8].copy_from_slice(&at.to_le_bytes());
        }
        let k = h.key_at();
        block[k..k + key.len()].copy_from_slice(key);
        block[k + key.len()..].copy_from_slice(val);
        Entry { ptr }
    }

    #[inline]
    fn header(&self) -> Header {
        // SAFETY: every block starts with at least the 6 header bytes, the
        // wide form's 12 bytes when WIDE is set, and 16 when SPARE is (a
        // SPARE block is always wide: see `grow_raw`).
        unsafe {
            let p = self.ptr.as_ptr();
            let flags = *p;
            if flags & WIDE == 0 {
                Header {
                    flags,
                    klen: *p.add(4) as usize,
                    vlen: *p.add(5) as usize,
                    lens_end: 6,
                    spare: 0,
                }
            } else {
                let mut k = [0u8; 4];
                let mut v = [0u8; 4];
                std::ptr::copy_nonoverlapping(p.add(4), k.as_mut_ptr(), 4);
                std::ptr::copy_nonoverlapping(p.add(8), v.as_mut_ptr(), 4);
                let mut spare = [0u8; 4];
                if flags & SPARE != 0 {
                    std::ptr::copy_nonoverlapping(p.add(12), spare.as_mut_ptr(), 4);
                }
                Header {
                    flags,
                    klen: u32::from_le_bytes(k) as usize,
                    vlen: u32::from_le_bytes(v) as usize,
                    lens_end: 12,
                    spare: u32::from_le_bytes(spare) as usize,
                }
            }
        }
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        let total = self.header().total();
        // SAFETY: the block is `total` bytes long and owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), total) }
    }

    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        let total = self.header().total();
        // SAFETY: as in `bytes`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), total) }
    }

    #[inline]
    pub fn key(&self) -> &[u8] {
        let h = self.header();
        let k = h.key_at();
        &self.bytes()[k..k + h.klen]
    }

    fn value_bytes(&self) -> (&[u8], u8) {
        let h = self.header();
        let v = h.key_at() + h.klen;
        (&self.bytes()[v..v + h.vlen], h.kind())
    }

    fn obj_ptr(&self) -> Option<*mut Object> {
        match self.value_bytes() {
            (v, KIND_OBJ) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(v);
                Some(u64::from_le_bytes(a) as usize as *mut Object)
            }
            _ => None,
        }
    }

    #[inline]
    pub fn value(&self) -> ValueRef<'_> {
        match self.value_bytes() {
            (v, KIND_INT) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(v);
                ValueRef::Int(i64::from_le_bytes(a))
            }
            (_, KIND_OBJ) => {
                let p = self.obj_ptr().expect("object entry holds a pointer");
                // SAFETY: the pointer came from `Box::into_raw` in `new` and
                // is owned by this entry until `Drop`/`take_object`.
                ValueRef::Obj(unsafe { &*p })
            }
            (v, _) => ValueRef::Str(v),
        }
    }

    /// The collection value, mutably.
    pub fn object_mut(&mut self) -> Option<&mut Object> {
        // SAFETY: see `value`; `&mut self` makes the borrow unique.
        self.obj_ptr().map(|p| unsafe { &mut *p })
    }

    /// Overwrites an integer-encoded value in place. Returns false (and
    /// changes nothing) for other encodings.
    pub fn set_int_in_place(&mut self, n: i64) -> bool {
        let h = self.header();
        if h.kind() != KIND_INT {
            return false;
        }
        let v = h.key_at() + h.klen;
        self.bytes_mut()[v..v + 8].copy_from_slice(&n.to_le_bytes());
        true
    }

    /// The bytes of a raw (not integer-encoded) string value, for edits
    /// that keep its length (SETBIT, BITFIELD): no rebuild, TTL and clock
    /// untouched. `None` for other encodings.
    pub fn raw_str_mut(&mut self) -> Option<&mut [u8]> {
        let h = self.header();
        if h.kind() != KIND_RAW {
            return None;
        }
        let v = h.key_at() + h.klen;
        let bytes = self.bytes_mut();
        // Modified in place: Redis's encoding is `raw` from now on.
        bytes[0] |= RAW_ENC;
        Some(&mut bytes[v..v + h.vlen])
    }

    /// Zero-extends a raw string value to at least `len` bytes and returns
    /// its bytes, as Redis's `sdsgrowzero`: within the block's spare room
    /// when it fits, else into a new block with room to grow (`SPARE`:
    /// twice the length, or 1 MiB more past 1 MiB). TTL and clock kept;
    /// the encoding is `raw` from now on. `None` for other encodings.
    pub fn grow_raw(&mut self, len: usize) -> Option<&mut [u8]> {
        let h = self.header();
        if h.kind() != KIND_RAW {
            return None;
        }
        if len > h.vlen {
            let add = len - h.vlen;
            if add <= h.spare {
                let end = h.total();
                // SAFETY: the block is `alloc_len` = `total + spare` bytes
                // long (`add <= spare`), SPARE is set (spare > 0), so the
                // header is wide with its spare field at 12..16.
                unsafe {
                    let p = self.ptr.as_ptr();
                    std::ptr::write_bytes(p.add(end), 0, add);
                    std::ptr::copy_nonoverlapping((len as u32).to_le_bytes().as_ptr(), p.add(8), 4);
                    let rest = ((h.spare - add) as u32).to_le_bytes();
                    std::ptr::copy_nonoverlapping(rest.as_ptr(), p.add(12), 4);
                }
            } else {
                let room = if len < MAX_PREALLOC {
                    len
                } else {
                    MAX_PREALLOC
                };
                let room = room.min(u32::MAX as usize - len);
                *self = self.regrown(&h, len, room);
            }
        }
        self.raw_str_mut()
    }

    /// A copy of this raw-string block whose value is zero-extended to
    /// `len` bytes, with `room` spare bytes after it.
    fn regrown(&self, h: &Header, len: usize, room: usize) -> Entry {
        let flags = (h.flags | WIDE | SPARE | RAW_ENC) & !SNAP;
        let expire_len = if h.flags & HAS_EXPIRE != 0 { 8 } else { 0 };
        let key_at = 16 + expire_len;
        let total = key_at + h.klen + len;
        let layout = Layout::from_size_align(total + room, 1).expect("entry size fits a Layout");
        // SAFETY: `total` is at least 16, so the layout is non-zero-sized.
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: `ptr` points to `total + room` bytes we just allocated;
        // only the first `total` are exposed.
        let block = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), total) };
        let old = self.bytes();
        block[0] = flags;
        block[1..4].copy_from_slice(&old[1..4]);
        block[4..8].copy_from_slice(&(h.klen as u32).to_le_bytes());
        block[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        block[12..16].copy_from_slice(&(room as u32).to_le_bytes());
        let ex = h.expire_at();
        block[16..16 + expire_len].copy_from_slice(&old[ex..ex + expire_len]);
        let (k, v) = (h.key_at(), h.key_at() + h.klen);
        block[key_at..key_at + h.klen].copy_from_slice(&old[k..v]);
        let val = key_at + h.klen;
        block[val..val + h.vlen].copy_from_slice(&old[v..v + h.vlen]);
        block[val + h.vlen..].fill(0);
        Entry { ptr }
    }

    /// Whether the string was modified in place (see `RAW_ENC`).
    pub fn raw_encoded(&self) -> bool {
        self.header().flags & RAW_ENC != 0
    }

    /// Marks a string as modified in place (see `RAW_ENC`) without
    /// changing it: Redis's SETBIT unshares the value even when the bit
    /// was already set.
    pub fn mark_raw(&mut self) {
        if self.header().kind() != KIND_OBJ {
            self.bytes_mut()[0] |= RAW_ENC;
        }
    }

    pub fn expire(&self) -> Option<i64> {
        let h = self.header();
        if h.flags & HAS_EXPIRE == 0 {
            return None;
        }
        let at = h.expire_at();
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.bytes()[at..at + 8]);
        Some(i64::from_le_bytes(a))
    }

    /// Sets or clears the expire time. Rebuilds the block only when the
    /// presence of the field changes.
    pub fn set_expire(&mut self, at: Option<i64>) {
        let h = self.header();
        match (h.flags & HAS_EXPIRE != 0, at) {
            (true, Some(t)) => {
                let at = h.expire_at();
                self.bytes_mut()[at..at + 8].copy_from_slice(&t.to_le_bytes())
            }
            (false, None) => {}
            _ => {
                let (val, kind) = self.value_bytes();
                let mut rebuilt = Self::build(self.key(), kind, val, at, self.clock());
                rebuilt.bytes_mut()[0] |= h.flags & RAW_ENC;
                let old = std::mem::replace(self, rebuilt);
                // The value (and any Box<Object>) now belongs to the new block.
                old.forget_value();
            }
        }
    }

    /// Replaces the value, keeping key, expire and clock.
    pub fn replace_value(&mut self, value: NewValue<'_>) {
        let rebuilt = Entry::new(self.key(), value, self.expire(), self.clock());
        *self = rebuilt;
    }

    /// Takes the collection out (the entry then holds none and must be dropped).
    pub fn into_object(self) -> Option<Box<Object>> {
        let p = self.obj_ptr()?;
        self.forget_value();
        // SAFETY: ownership of the Box moves out; `forget_value` freed the
        // block without touching the object.
        Some(unsafe { Box::from_raw(p) })
    }

    /// A snapshot's copy of the entry, taken under its DB lock and encoded
    /// after it: a string is copied (`clone_inline`), a collection shared
    /// ([`Object::share`]: its chunks are shared, and the live value copies
    /// a chunk only when it next writes to it). Key, TTL and clock as here.
    pub fn share(&self) -> Entry {
        if let Some(copy) = self.clone_inline() {
            return copy;
        }
        let o = match self.value() {
            ValueRef::Obj(o) => o.share(),
            _ => unreachable!("clone_inline copies every non-object entry"),
        };
        Entry::new(
            self.key(),
            NewValue::Obj(Box::new(o)),
            self.expire(),
            self.clock(),
        )
    }

    /// Bytes [`Entry::share`] copies: the whole block of a string, what
    /// [`Object::share_cost`] says of a collection.
    pub fn share_cost(&self) -> usize {
        match self.value() {
            ValueRef::Obj(o) => alloc_class(self.header().total()) + o.share_cost(),
            _ => self.mem_usage(),
        }
    }

    /// A copy of an entry whose value lives in its block (a string or an
    /// integer): one allocation and a byte copy. `None` for a collection,
    /// whose block only points to it.
    pub fn clone_inline(&self) -> Option<Entry> {
        let h = self.header();
        if h.kind() == KIND_OBJ {
            return None;
        }
        let total = h.total();
        // The same allocation size (spare room included), as `Drop`
        // frees the copy by its header.
        let layout = Layout::from_size_align(h.alloc_len(), 1).expect("entry size fits a Layout");
        // SAFETY: `total` is at least 6, so the layout is non-zero-sized.
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: the new block is at least `total` bytes long, and the
        // blocks do not overlap; the copy owns nothing the original does
        // (no object pointer). Its spare bytes stay unread until written.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), total) };
        Some(Entry { ptr })
    }

    /// Frees the block without dropping an object it points to.
    fn forget_value(self) {
        let total = self.header().alloc_len();
        let ptr = self.ptr;
        std::mem::forget(self);
        let layout = Layout::from_size_align(total, 1).expect("entry size fits a Layout");
        // SAFETY: the block was allocated with exactly this layout.
        unsafe { alloc::dealloc(ptr.as_ptr(), layout) };
    }

    /// The 24-bit LRU/LFU clock.
    pub fn clock(&self) -> u32 {
        let b = self.bytes();
        u32::from_le_bytes([b[1], b[2], b[3], 0])
    }

    pub fn set_clock(&mut self, clock: u32) {
        let c = clock.to_le_bytes();
        self.bytes_mut()[1..4].copy_from_slice(&c[..3]);
    }

    /// The snapshot epoch bit (meaning: see `snapshot.rs`).
    #[inline]
    pub(super) fn snap_bit(&self) -> bool {
        // SAFETY: every block starts with its flags byte.
        unsafe { *self.ptr.as_ptr() & SNAP != 0 }
    }

    #[inline]
    pub(super) fn set_snap_bit(&mut self, on: bool) {
        // SAFETY: as in `snap_bit`; `&mut self` makes the write unique.
        unsafe {
            let p = self.ptr.as_ptr();
            *p = (*p & !SNAP) | if on { SNAP } else { 0 };
        }
    }

    /// Bytes this entry costs on the heap (allocator size class of the
    /// block, plus the collection's own accounting).
    pub fn mem_usage(&self) -> usize {
        // One header read: every write calls this twice (Db::modify_if).
        let h = self.header();
        let block = alloc_class(h.alloc_len());
        if h.kind() != KIND_OBJ {
            return block;
        }
        match self.value() {
            ValueRef::Obj(o) => block + alloc_class(std::mem::size_of::<Object>()) + o.mem_usage(),
            _ => block,
        }
    }

    /// The encoding OBJECT ENCODING reports for a string value.
    pub fn string_encoding(&self) -> &'static str {
        if self.raw_encoded() {
            return "raw";
        }
        match self.value() {
            ValueRef::Int(_) => "int",
            ValueRef::Str(s) if s.len() <= 44 => "embstr",
            _ => "raw",
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let obj = self.obj_ptr();
        let total = self.header().alloc_len();
        if let Some(p) = obj {
            // SAFETY: the object is owned by this entry (see `value`).
            drop(unsafe { Box::from_raw(p) });
        }
        let layout = Layout::from_size_align(total, 1).expect("entry size fits a Layout");
        // SAFETY: allocated in `build` or `grow_raw` with this layout
        // (`alloc_len` reads it back from the header); dropped once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &self.value())
            .field("expire", &self.expire())
            .finish()
    }
}

/// mimalloc's size class for an allocation of `n` bytes: multiples of 8 up
/// to 64, then four classes per power of two.
pub fn alloc_class(n: usize) -> usize {
    if n <= 64 {
        return n.div_ceil(8) * 8;
    }
    let p = usize::BITS - (n - 1).leading_zeros(); // 2^p >= n
    let step = 1usize << (p - 3);
    n.div_ceil(step) * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_roundtrip_and_expire_toggle() {
        let mut e = Entry::new(b"key:1", NewValue::Str(b"hello"), None, 7);
        assert_eq!(e.key(), b"key:1");
        assert!(matches!(e.value(), ValueRef::Str(b"hello")));
        assert_eq!(e.expire(), None);
        assert_eq!(e.clock(), 7);
        e.set_expire(Some(123_456));
        assert_eq!(e.expire(), Some(123_456));
        assert_eq!(e.key(), b"key:1");
        assert!(matches!(e.value(), ValueRef::Str(b"hello")));
        e.set_expire(Some(9));
        assert_eq!(e.expire(), Some(9));
        e.set_expire(None);
        assert_eq!(e.expire(), None);
        assert_eq!(e.clock(), 7);
    }

    #[test]
    fn int_encoding_and_in_place_update() {
        let mut e = Entry::new(b"n", NewValue::Str(b"-42"), Some(5), 0);
        assert!(matches!(e.value(), ValueRef::Int(-42)));
        assert!(e.set_int_in_place(43));
        assert!(matches!(e.value(), ValueRef::Int(43)));
        assert_eq!(e.string_encoding(), "int");
        let e = Entry::new(b"n", NewValue::Str(b"042"), None, 0);
        assert!(matches!(e.value(), ValueRef::Str(b"042")));
    }

    #[test]
    fn inline_values_clone_and_collections_do_not() {
        let big = vec![b'v'; 70_000];
        for (v, exp) in [
            (&b"hello"[..], None),
            (&b"12"[..], Some(5)),
            (&big[..], Some(1)),
        ] {
            let e = Entry::new(b"k", NewValue::Str(v), exp, 9);
            let c = e.clone_inline().expect("inline value");
            drop(e);
            assert_eq!((c.key(), c.expire(), c.clock()), (&b"k"[..], exp, 9));
            match c.value() {
                ValueRef::Str(s) => assert_eq!(s, v),
                ValueRef::Int(n) => assert_eq!(n.to_string().as_bytes(), v),
                other => panic!("{other:?}"),
            }
        }
        let t = crate::keyspace::value::Thresholds::default();
        let obj = Box::new(crate::keyspace::value::Object::Hash(
            crate::keyspace::types::hash::HashValue::new(&t),
        ));
        assert!(Entry::new(b"h", NewValue::Obj(obj), None, 0)
            .clone_inline()
            .is_none());
    }

    #[test]
    fn wide_lengths() {
        let key = vec![b'k'; 300];
        let val = vec![b'v'; 70_000];
        let mut e = Entry::new(&key, NewValue::Str(&val), None, 1);
        assert_eq!(e.key(), &key[..]);
        e.set_expire(Some(1));
        match e.value() {
            ValueRef::Str(v) => assert_eq!(v, &val[..]),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.string_encoding(), "raw");
    }

    #[test]
    fn small_key_is_one_small_block() {
        let e = Entry::new(&[b'k'; 16], NewValue::Str(&[b'v'; 32]), None, 0);
        assert_eq!(e.mem_usage(), 56);
    }

    /// Growing a string a byte at a time reallocates O(log n) times (the
    /// spare room doubles), keeps key, TTL, clock and bytes, and counts the
    /// room in `mem_usage`; a rebuild drops it.
    #[test]
    fn grown_strings_keep_room() {
        let mut e = Entry::new(b"bits", NewValue::Str(b"ab"), Some(77), 5);
        let mut moves = 0;
        let mut last = e.ptr;
        for len in 3..=5000 {
            let s = e.grow_raw(len).expect("a raw string");
            assert_eq!(s.len(), len);
            s[len - 1] = (len % 251) as u8;
            if e.ptr != last {
                moves += 1;
                last = e.ptr;
            }
        }
        assert!(moves <= 13, "{moves} reallocations");
        assert_eq!(
            (e.key(), e.expire(), e.clock()),
            (&b"bits"[..], Some(77), 5)
        );
        let ValueRef::Str(v) = e.value() else {
            panic!("a string")
        };
        assert_eq!(&v[..2], b"ab");
        assert!((3..=5000).all(|l| v[l - 1] == (l % 251) as u8));
        assert_eq!(e.string_encoding(), "raw");
        let h = e.header();
        assert!(h.spare > 0);
        assert_eq!(e.mem_usage(), alloc_class(h.total() + h.spare));
        // Clones (snapshots) keep the block's size; a TTL change rebuilds.
        let c = e.clone_inline().expect("a string");
        assert_eq!(c.mem_usage(), e.mem_usage());
        e.set_expire(None);
        assert_eq!(e.header().spare, 0);
        assert_eq!(e.mem_usage(), alloc_class(e.header().total()));
        let ValueRef::Str(w) = c.value() else {
            panic!("a string")
        };
        assert!(matches!(e.value(), ValueRef::Str(x) if x == w));
        // Shrinking asks for nothing; integers are not raw strings.
        assert_eq!(e.grow_raw(1).map(|s| s.len()), Some(5000));
        let mut n = Entry::new(b"n", NewValue::Int(5), None, 0);
        assert!(n.grow_raw(10).is_none());
    }

    #[test]
    fn size_classes() {
        assert_eq!(alloc_class(1), 8);
        assert_eq!(alloc_class(54), 56);
        assert_eq!(alloc_class(65), 80);
        assert_eq!(alloc_class(129), 160);
    }
}
