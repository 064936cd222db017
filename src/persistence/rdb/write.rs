//! Writing RDB: [`RdbWriter`] streams a file; [`encode_value`] encodes one
//! value (DUMP, the AOF base and the snapshot engine share it).
//!
//! Version 11 writes what Redis 7.2 writes: lists as quicklist2 with
//! listpack nodes, listpack or plain hashes, intset / listpack / plain
//! sets, listpack or ZSET_2 sorted sets, STREAM_LISTPACKS_3. Version 10
//! writes what Redis 7.0 reads: sets never as listpacks and streams as
//! STREAM_LISTPACKS_2 (no consumer active time).

use std::io::{self, Write};

use crc::Digest;

use super::crc::{Crc64Impl, CRC64};
use super::encodings::{encode_intset, listpack_of, ListpackWriter};
use super::{lzf, opcodes, types, RdbVersion};
use crate::keyspace::evict::{self, Policy};
use crate::keyspace::types::set::SetValue;
use crate::keyspace::types::stream::{StreamId, StreamValue};
use crate::keyspace::value::Object;
use crate::keyspace::{Entry, ValueRef};

/// Strings shorter than this are never compressed (Redis's rule).
const LZF_MIN: usize = 21;
/// Redis's `stream-node-max-entries` and `stream-node-max-bytes` defaults.
const STREAM_NODE_ENTRIES: usize = 100;
const STREAM_NODE_BYTES: usize = 4096;

/// The AUX fields of the header.
#[derive(Debug, Clone)]
pub struct AuxFields {
    pub redis_ver: String,
    pub redis_bits: u32,
    /// Unix seconds.
    pub ctime: i64,
    pub used_mem: u64,
    /// Whether the file is an AOF base (`aof-base 1`).
    pub aof_base: bool,
}

impl AuxFields {
    pub fn new(ctime: i64, used_mem: u64) -> Self {
        AuxFields {
            redis_ver: "7.2.4".to_owned(),
            redis_bits: 64,
            ctime,
            used_mem,
            aof_base: false,
        }
    }
}

/// Streams an RDB file to `w` (wrap files in a `BufWriter`: values are
/// written in many small pieces).
pub struct RdbWriter<W: Write> {
    w: W,
    crc: Digest<'static, u64, Crc64Impl>,
    version: RdbVersion,
    compression: bool,
    checksum: bool,
    /// `lfu-decay-time`, for the FREQ byte (Redis writes it decayed).
    lfu_decay_time: u32,
    buf: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    pub fn new(w: W, version: RdbVersion, compression: bool, checksum: bool) -> Self {
        RdbWriter {
            w,
            crc: CRC64.digest(),
            version,
            compression,
            checksum,
            lfu_decay_time: crate::keyspace::evict::Lfu::default().decay_time,
            buf: Vec::new(),
        }
    }

    /// The `lfu-decay-time` FREQ bytes are decayed with (Redis's default 1
    /// unless set).
    pub fn set_lfu_decay_time(&mut self, minutes: u32) {
        self.lfu_decay_time = minutes;
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc.update(b);
        }
        self.w.write_all(b)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.put(&buf);
        self.buf = buf;
        self.buf.clear();
        r
    }

    /// The magic, the version and the AUX fields.
    pub fn header(&mut self, aux: &AuxFields) -> io::Result<()> {
        let magic = format!("REDIS{:04}", self.version.number());
        self.put(magic.as_bytes())?;
        self.aux(b"redis-ver", aux.redis_ver.as_bytes())?;
        self.aux(b"redis-bits", aux.redis_bits.to_string().as_bytes())?;
        self.aux(b"ctime", aux.ctime.to_string().as_bytes())?;
        self.aux(b"used-mem", aux.used_mem.to_string().as_bytes())?;
        self.aux(b"aof-base", if aux.aof_base { b"1" } else { b"0" })
    }

    /// One AUX field.
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.buf.push(opcodes::AUX);
        put_string(&mut self.buf, key, false);
        put_string(&mut self.buf, value, false);
        self.flush_buf()
    }

    /// One function library (a FUNCTION2 record: its code).
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.push(opcodes::FUNCTION2);
        put_string(&mut self.buf, code, self.compression);
        self.flush_buf()
    }

    /// The function libraries: global ones (`None`) right after the
    /// header, as Redis writes them; a DB's own (`script-scope db`) after
    /// a SELECTDB of that DB, which Redis also reads.
    pub fn functions(&mut self, libs: &[(Option<usize>, Vec<u8>)]) -> io::Result<()> {
        let mut current = None;
        for (db, code) in libs {
            if let Some(d) = db {
                if current != Some(*d) {
                    self.buf.push(opcodes::SELECTDB);
                    put_len(&mut self.buf, *d as u64);
                    self.flush_buf()?;
                    current = Some(*d);
                }
            }
            self.function(code)?;
        }
        Ok(())
    }

    /// Starts DB `index`, with the sizes Redis announces in RESIZEDB.
    pub fn select_db(&mut self, index: usize, keys: u64, expires: u64) -> io::Result<()> {
        self.buf.push(opcodes::SELECTDB);
        put_len(&mut self.buf, index as u64);
        self.buf.push(opcodes::RESIZEDB);
        put_len(&mut self.buf, keys);
        put_len(&mut self.buf, expires);
        self.flush_buf()
    }

    /// Records encoded elsewhere (by [`encode_key_value`]), counted in the
    /// checksum.
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.put(bytes)
    }

    /// One key: its expiry, its IDLE or FREQ under an LRU or LFU `policy`,
    /// the type byte, the key and the value.
    pub fn entry(&mut self, e: &Entry, policy: Policy, now_ms: i64) -> io::Result<()> {
        encode_key_value(
            e,
            policy,
            self.lfu_decay_time,
            now_ms,
            self.version,
            self.compression,
            &mut self.buf,
        );
        self.flush_buf()
    }

    /// EOF and the checksum (0 when checksums are off); returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.put(&[opcodes::EOF])?;
        let crc = if self.checksum {
            self.crc.clone().finalize()
        } else {
            0
        };
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// A whole key record as [`RdbWriter::entry`] writes it, appended to
/// `out` (for callers that cut their own files, e.g. a snapshot engine
/// serialising pre-images).
pub fn encode_key_value(
    e: &Entry,
    policy: Policy,
    lfu_decay_time: u32,
    now_ms: i64,
    version: RdbVersion,
    compression: bool,
    out: &mut Vec<u8>,
) {
    if let Some(at) = e.expire() {
        out.push(opcodes::EXPIRETIME_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    if policy.is_lfu() {
        out.push(opcodes::FREQ);
        out.push(evict::lfu_decayed(e.clock(), now_ms, lfu_decay_time));
    } else if matches!(policy, Policy::AllKeysLru | Policy::VolatileLru) {
        out.push(opcodes::IDLE);
        put_len(out, evict::lru_idle(e.clock(), now_ms));
    }
    let ty_at = out.len();
    out.push(0);
    put_string(out, e.key(), compression);
    let ty = encode_value(e.value(), version, compression, out);
    out[ty_at] = ty;
}

/// Appends the encoding of `v` to `out`; returns its type byte.
pub fn encode_value(
    v: ValueRef<'_>,
    version: RdbVersion,
    compression: bool,
    out: &mut Vec<u8>,
) -> u8 {
    let z = compression;
    match v {
        ValueRef::Str(s) => {
            put_string(out, s, z);
            types::STRING
        }
        ValueRef::Int(i) => {
            put_int_string(out, i);
            types::STRING
        }
        ValueRef::Obj(Object::List(l)) => {
            // The list's own nodes, as they are (Redis writes its quicklist
            // nodes the same way).
            put_len(out, l.packed_nodes().count() as u64);
            for (entries, count) in l.packed_nodes() {
                put_len(out, QUICKLIST_PACKED);
                put_string(out, &listpack_of(entries, count), z);
            }
            types::LIST_QUICKLIST_2
        }
        ValueRef::Obj(Object::Hash(h)) => {
            if h.encoding() == "listpack" {
                let mut lp = ListpackWriter::new();
                for (f, v) in h.iter() {
                    lp.push(f);
                    lp.push(v);
                }
                put_string(out, &lp.finish(), z);
                types::HASH_LISTPACK
            } else {
                put_len(out, h.len() as u64);
                for (f, v) in h.iter() {
                    put_string(out, f, z);
                    put_string(out, v, z);
                }
                types::HASH
            }
        }
        ValueRef::Obj(Object::Set(s)) => match s {
            SetValue::Int(is) => {
                let vals: Vec<i64> = is.iter().collect();
                put_string(out, &encode_intset(&vals), z);
                types::SET_INTSET
            }
            SetValue::Lp(_) if version == RdbVersion::V11 => {
                let mut lp = ListpackWriter::new();
                for m in s.iter() {
                    m.with_bytes(|b| lp.push(b));
                }
                put_string(out, &lp.finish(), z);
                types::SET_LISTPACK
            }
            _ => {
                put_len(out, s.len() as u64);
                for m in s.iter() {
                    m.with_bytes(|b| put_string(out, b, z));
                }
                types::SET
            }
        },
        ValueRef::Obj(Object::ZSet(zs)) => {
            if zs.encoding() == "listpack" {
                let mut lp = ListpackWriter::new();
                zs.for_each(|m, score| {
                    lp.push(m);
                    push_score(&mut lp, score);
                });
                put_string(out, &lp.finish(), z);
                types::ZSET_LISTPACK
            } else {
                put_len(out, zs.len() as u64);
                // Highest first, as Redis writes it: a loader inserting in
                // file order then always inserts at the head.
                zs.for_range(0, usize::MAX, true, |m, score| {
                    put_string(out, m, z);
                    out.extend_from_slice(&score.to_le_bytes());
                });
                types::ZSET_2
            }
        }
        ValueRef::Obj(Object::Stream(s)) => {
            put_stream(out, s, version, z);
            match version {
                RdbVersion::V11 => types::STREAM_LISTPACKS_3,
                RdbVersion::V10 => types::STREAM_LISTPACKS_2,
            }
        }
    }
}

const QUICKLIST_PACKED: u64 = 2;
const STREAM_ITEM_SAMEFIELDS: i64 = 2;

/// A zset score in a listpack as Redis's `zzlInsertAt` stores it: integral
/// values as integers, others as the shortest text that reads back exact.
fn push_score(lp: &mut ListpackWriter, score: f64) {
    if score.fract() == 0.0 && score.abs() < 9.007_199_254_740_992e15 {
        lp.push_int(score as i64);
    } else if score.is_infinite() {
        lp.push(if score > 0.0 { b"inf" } else { b"-inf" });
    } else {
        // Shortest round-trip digits, with C's `e+` exponent as Redis 7.2's
        // `fpconv_dtoa` prints them.
        let mut b = ryu::Buffer::new();
        let text = b.format_finite(score);
        match text.find('e') {
            Some(i) if !text[i + 1..].starts_with('-') => {
                lp.push(format!("{}e+{}", &text[..i], &text[i + 1..]).as_bytes())
            }
            _ => lp.push(text.as_bytes()),
        }
    }
}

fn put_stream(out: &mut Vec<u8>, s: &StreamValue, version: RdbVersion, z: bool) {
    // Nodes as Redis lays them out: each starts with a master entry naming
    // the first entry's fields; entries with the same fields store only
    // their values.
    let mut nodes: Vec<(StreamId, Vec<u8>)> = Vec::new();
    let mut pending: Vec<(StreamId, Vec<&[u8]>)> = Vec::new();
    let mut bytes = 0;
    let flush = |pending: &mut Vec<(StreamId, Vec<&[u8]>)>,
                 nodes: &mut Vec<(StreamId, Vec<u8>)>| {
        let Some((master, first)) = pending.first() else {
            return;
        };
        let master_fields: Vec<&[u8]> = first.iter().step_by(2).copied().collect();
        let mut lp = ListpackWriter::new();
        lp.push_int(pending.len() as i64);
        lp.push_int(0);
        lp.push_int(master_fields.len() as i64);
        for f in &master_fields {
            lp.push(f);
        }
        lp.push_int(0);
        for (id, kv) in pending.iter() {
            let same = kv.len() == 2 * master_fields.len()
                && kv
                    .iter()
                    .step_by(2)
                    .zip(&master_fields)
                    .all(|(a, b)| a == b);
            lp.push_int(if same { STREAM_ITEM_SAMEFIELDS } else { 0 });
            lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
            lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
            if same {
                for v in kv.iter().skip(1).step_by(2) {
                    lp.push(v);
                }
                lp.push_int(master_fields.len() as i64 + 3);
            } else {
                lp.push_int((kv.len() / 2) as i64);
                for x in kv {
                    lp.push(x);
                }
                lp.push_int(kv.len() as i64 + 4);
            }
        }
        nodes.push((*master, lp.finish()));
        pending.clear();
    };
    for (id, e) in s.entries().iter_from(StreamId::ZERO) {
        let kv: Vec<&[u8]> = e.iter().collect();
        if pending.len() >= STREAM_NODE_ENTRIES || bytes >= STREAM_NODE_BYTES {
            flush(&mut pending, &mut nodes);
            bytes = 0;
        }
        bytes += kv.iter().map(|x| x.len() + 2).sum::<usize>() + 6;
        pending.push((id, kv));
    }
    flush(&mut pending, &mut nodes);

    put_len(out, nodes.len() as u64);
    for (master, lp) in &nodes {
        put_string(out, &raw_id(*master), false);
        put_string(out, lp, z);
    }
    put_len(out, s.len() as u64);
    put_len(out, s.last_id.ms);
    put_len(out, s.last_id.seq);
    let first = s.first_id().unwrap_or(StreamId::ZERO);
    put_len(out, first.ms);
    put_len(out, first.seq);
    put_len(out, s.max_deleted.ms);
    put_len(out, s.max_deleted.seq);
    put_len(out, s.entries_added);
    put_len(out, s.groups().len() as u64);
    for (name, g) in s.groups() {
        put_string(out, name, z);
        put_len(out, g.last_id.ms);
        put_len(out, g.last_id.seq);
        // -1 ("unknown") travels as a 64-bit length, as in Redis.
        put_len(out, g.entries_read as u64);
        put_len(out, g.pel().len() as u64);
        for (id, n) in g.pel().iter() {
            out.extend_from_slice(&raw_id(*id));
            out.extend_from_slice(&n.delivery_time.to_le_bytes());
            put_len(out, n.delivery_count);
        }
        put_len(out, g.consumers().len() as u64);
        for (cname, c) in g.consumers().iter() {
            put_string(out, cname, z);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            if version == RdbVersion::V11 {
                out.extend_from_slice(&c.active_time.to_le_bytes());
            }
            put_len(out, c.pending() as u64);
            for id in g.consumer_pel(c, StreamId::ZERO) {
                out.extend_from_slice(&raw_id(id));
            }
        }
    }
}

fn raw_id(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// A length in RDB's variable encoding.
pub(crate) fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push((n & 0xFF) as u8);
    } else if let Ok(n32) = u32::try_from(n) {
        out.push(0x80);
        out.extend_from_slice(&n32.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// An integer string: Redis's int8/16/32 encodings when it fits, else its
/// decimal text.
fn put_int_string(out: &mut Vec<u8>, i: i64) {
    if let Ok(v) = i8::try_from(i) {
        out.extend_from_slice(&[0xC0, v as u8]);
    } else if let Ok(v) = i16::try_from(i) {
        out.push(0xC1);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(i) {
        out.push(0xC2);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        let mut b = itoa::Buffer::new();
        let s = b.format(i).as_bytes();
        put_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
}

/// A string as Redis's `rdbSaveRawString` writes it: short canonical
/// integers in an integer encoding, long strings LZF-compressed when
/// `compress` and that saves space, the rest as is.
pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(i) = crate::keyspace::entry::canonical_int(s) {
            if i32::try_from(i).is_ok() {
                put_int_string(out, i);
                return;
            }
        }
    }
    if compress && s.len() >= LZF_MIN {
        if let Some(packed) = lzf::compress(s) {
            out.push(0xC3);
            put_len(out, packed.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}
