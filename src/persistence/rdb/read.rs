//! Reading RDB: whole files ([`load`], [`load_into`]) and single values
//! ([`decode_value`], for RESTORE).
//!
//! Loading follows `rdbLoadRioWithLoadingCtx` (Redis 7.2): opcodes set up
//! the next key (expire, idle time, frequency) or the DB; AUX fields and
//! function libraries go to the report; keys already expired are dropped
//! (as a master does); empty collections are skipped and counted. Values
//! are always checked as deeply as Redis checks them with
//! `sanitize-dump-payload yes`: a file is trusted no more than a payload.
//!
//! Allocation is bounded by the input: a string's length is honoured only
//! as bytes actually arrive (read in 64 KiB steps), and counts in the file drive
//! loops, never `with_capacity`.

use std::collections::BTreeMap;
use std::io::Read;

use super::crc::CrcReader;
use super::encodings::{self, Item};
use super::{lzf, opcodes, types, RdbError, MAX_VERSION};
use crate::clock::lru_clock;
use crate::keyspace::evict::{self, Policy};
use crate::keyspace::types::hash::HashValue;
use crate::keyspace::types::list::ListValue;
use crate::keyspace::types::set::SetValue;
use crate::keyspace::types::stream::{StreamId, StreamValue, ENTRIES_READ_INVALID};
use crate::keyspace::types::zset::ZSetValue;
use crate::keyspace::value::{Object, Thresholds};
use crate::keyspace::{Db, Entry, Keyspace, NewValue};

/// What the loader needs to know about the server it loads into.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `databases`: a SELECTDB at or past it refuses the file.
    pub databases: usize,
    /// Wall clock (ms) deciding which keys are already expired.
    pub now_ms: i64,
    pub thresholds: Thresholds,
    /// Keep keys whose expiry passed (an AOF preamble, a replica); a
    /// master drops them, as Redis does.
    pub keep_expired: bool,
}

impl LoadOptions {
    pub fn new(databases: usize, now_ms: i64) -> Self {
        LoadOptions {
            databases,
            now_ms,
            thresholds: Thresholds::default(),
            keep_expired: false,
        }
    }
}

/// One key read from the file, ready to insert.
pub struct LoadedKey {
    pub db: usize,
    /// Key, value and expiry; the clock is the LRU clock of `now_ms`
    /// ([`eviction_clock`] turns `idle`/`freq` into the DB's clock bits).
    pub entry: Entry,
    /// The IDLE opcode before the key (seconds).
    pub idle: Option<u64>,
    /// The FREQ opcode before the key (LFU counter).
    pub freq: Option<u8>,
    /// Bytes of input consumed so far, for progress reports.
    pub offset: u64,
}

/// What a load found besides keys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub version: u32,
    /// Keys handed to the sink, per DB.
    pub keys: Vec<u64>,
    /// Keys dropped because their expiry had passed.
    pub expired_skipped: u64,
    /// Empty collections skipped (Redis's "empty keys skipped").
    pub empty_skipped: u64,
    /// AUX fields in file order (`redis-ver`, `ctime`, `lua` …).
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function library code (FUNCTION2 opcodes), kept for a later FUNCTION
    /// implementation to load; keyward runs none yet.
    pub functions: Vec<Vec<u8>>,
    /// Whether the file carried a checksum that was verified.
    pub checksum_verified: bool,
    /// Total bytes read.
    pub bytes: u64,
}

/// A decoded value.
#[derive(Debug)]
pub enum Decoded {
    Str(Vec<u8>),
    Obj(Box<Object>),
}

impl Decoded {
    pub fn into_entry(self, key: &[u8], expire: Option<i64>, clock: u32) -> Entry {
        match self {
            Decoded::Str(s) => Entry::new(key, NewValue::Str(&s), expire, clock),
            Decoded::Obj(o) => Entry::new(key, NewValue::Obj(o), expire, clock),
        }
    }
}

/// The clock bits of a key loaded into a DB with `policy` (Redis's
/// `objectSetLRUOrLFU`): FREQ counts only under LFU, IDLE only under LRU.
pub fn eviction_clock(policy: Policy, idle: Option<u64>, freq: Option<u8>, now: i64) -> u32 {
    if policy.is_lfu() {
        match freq {
            Some(f) => (evict::lfu_minutes(now) << 8) | u32::from(f),
            None => evict::lfu_new(now),
        }
    } else {
        let clock = lru_clock(now);
        match idle {
            Some(s) if matches!(policy, Policy::AllKeysLru | Policy::VolatileLru) => {
                const LRU_CLOCK_MAX: u64 = 0x00FF_FFFF;
                // Redis's `objectSetLRUOrLFU`: an idle time reaching back
                // before the clock's zero becomes half a clock period.
                match u64::from(clock).checked_sub(s) {
                    Some(at) => at as u32,
                    None => ((u64::from(clock) + LRU_CLOCK_MAX / 2) % LRU_CLOCK_MAX) as u32,
                }
            }
            _ => clock,
        }
    }
}

/// Streams an RDB file, handing each key to `sink`. Any error aborts the
/// load; what the sink already received is then the caller's to discard.
pub fn load<R: Read>(
    r: R,
    opts: &LoadOptions,
    sink: &mut dyn FnMut(LoadedKey) -> Result<(), RdbError>,
) -> Result<LoadReport, RdbError> {
    // Buffered here so a caller may pass a bare `File`: the reader asks
    // for a few bytes at a time.
    let mut rd = Rd::new(CrcReader::new(std::io::BufReader::with_capacity(
        64 * 1024,
        r,
    )));
    let mut report = LoadReport {
        keys: vec![0; opts.databases],
        ..LoadReport::default()
    };
    let magic: [u8; 9] = rd.array()?;
    if magic.starts_with(b"VALKEY") {
        return Err(RdbError::Valkey);
    }
    if &magic[..5] != b"REDIS" || !magic[5..].iter().all(u8::is_ascii_digit) {
        return Err(RdbError::BadMagic);
    }
    let version = magic[5..]
        .iter()
        .fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
    if !(1..=MAX_VERSION).contains(&version) {
        return Err(RdbError::Version(version));
    }
    report.version = version;
    let t = &opts.thresholds;
    let (mut db, mut expire, mut idle, mut freq) = (0usize, None, None, None);
    loop {
        let ty = rd.byte()?;
        match ty {
            opcodes::EXPIRETIME => {
                let secs = u32::from_le_bytes(rd.array()?);
                expire = Some(i64::from(secs) * 1000);
            }
            opcodes::EXPIRETIME_MS => expire = Some(i64::from_le_bytes(rd.array()?)),
            opcodes::FREQ => freq = Some(rd.byte()?),
            opcodes::IDLE => idle = Some(rd.len()?),
            opcodes::EOF => break,
            opcodes::SELECTDB => {
                let index = rd.len()?;
                if index >= opts.databases as u64 {
                    return Err(RdbError::DbOutOfRange {
                        index,
                        databases: opts.databases,
                    });
                }
                db = index as usize;
            }
            opcodes::RESIZEDB => {
                rd.len()?;
                rd.len()?;
            }
            opcodes::AUX => {
                let k = rd.string()?;
                let v = rd.string()?;
                report.aux.push((k, v));
            }
            opcodes::MODULE_AUX => return Err(RdbError::Module(ty)),
            opcodes::FUNCTION_PRE_GA => return Err(RdbError::FunctionPreGa),
            opcodes::FUNCTION2 => report.functions.push(rd.string()?),
            _ => {
                if !is_value_type(ty) {
                    return Err(RdbError::UnknownType(ty));
                }
                let key = rd.string()?;
                let value = rd.object(ty, t)?;
                let (exp, id, fr) = (expire.take(), idle.take(), freq.take());
                let Some(value) = value else {
                    report.empty_skipped += 1;
                    continue;
                };
                if !opts.keep_expired && exp.is_some_and(|at| at < opts.now_ms) {
                    report.expired_skipped += 1;
                    continue;
                }
                let entry = value.into_entry(&key, exp, lru_clock(opts.now_ms));
                sink(LoadedKey {
                    db,
                    entry,
                    idle: id,
                    freq: fr,
                    offset: rd.pos,
                })?;
                report.keys[db] += 1;
            }
        }
    }
    // RDB 5 added the trailer; 0 means "saved with rdbchecksum no".
    if version >= 5 {
        let actual = rd.r.crc();
        let trailer = rd.r.read_trailer().map_err(|e| RdbError::io(e, rd.pos))?;
        rd.pos += 8;
        let expected = u64::from_le_bytes(trailer);
        if expected != 0 {
            if expected != actual {
                return Err(RdbError::Checksum { expected, actual });
            }
            report.checksum_verified = true;
        }
    }
    report.bytes = rd.pos;
    if !report.functions.is_empty() {
        tracing::warn!(
            libraries = report.functions.len(),
            "the RDB file holds function libraries; keyward has no FUNCTION support yet, so they are not loaded"
        );
    }
    Ok(report)
}

/// [`load`] into `ks`: each key goes to its DB with the clock bits of that
/// DB's eviction policy; a key already present refuses the file (Redis
/// treats a duplicate as corruption). `progress` gets the bytes read so
/// far after every key.
pub fn load_into<R: Read>(
    r: R,
    opts: &LoadOptions,
    ks: &Keyspace,
    progress: &mut dyn FnMut(u64),
) -> Result<LoadReport, RdbError> {
    let now = opts.now_ms;
    load(r, opts, &mut |k: LoadedKey| {
        let mut db = ks.lock(k.db);
        let clock = eviction_clock(db.policy(), k.idle, k.freq, now);
        if let Some(old) = insert_with_clock(&mut db, k.entry, clock) {
            let key = old.key().to_vec();
            // Keep the first value, as if the duplicate never arrived.
            db.insert(old);
            return Err(RdbError::DuplicateKey { db: k.db, key });
        }
        drop(db);
        progress(k.offset);
        Ok(())
    })
}

/// Inserts `entry` with the clock bits `clock` (from [`eviction_clock`]);
/// returns the entry it replaced. `Db::insert` restamps clocks under LFU
/// (a written key starts afresh), which a loaded or restored key must not.
pub fn insert_with_clock(db: &mut Db, entry: Entry, clock: u32) -> Option<Entry> {
    let key = entry.key().to_vec();
    let old = db.insert(entry);
    // `i64::MIN` as "now": no expiry check, the caller decided this key
    // lives; no access is recorded either.
    db.modify_with(&key, i64::MIN, false, |e| e.set_clock(clock));
    old
}

/// Decodes one value of type `ty` from `bytes` (a DUMP payload without its
/// trailer). Bytes after the value are ignored, as Redis's RESTORE does.
/// An empty collection is an error here: RESTORE must not create one.
pub fn decode_value(ty: u8, bytes: &[u8], t: &Thresholds) -> Result<Decoded, RdbError> {
    if !is_value_type(ty) {
        return Err(RdbError::UnknownType(ty));
    }
    Rd::new(bytes)
        .object(ty, t)?
        .ok_or(RdbError::Corrupt("empty key"))
}

fn is_value_type(ty: u8) -> bool {
    matches!(ty, 0..=7 | 9..=21)
}

const fn corrupt(what: &'static str) -> RdbError {
    RdbError::Corrupt(what)
}

/// The low-level reader: lengths, strings, numbers, and values.
struct Rd<R> {
    r: R,
    pos: u64,
}

/// A length or a special string encoding (`RDB_ENCVAL`).
enum Len {
    Plain(u64),
    Encoded(u8),
}

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

impl<R: Read> Rd<R> {
    fn new(r: R) -> Self {
        Rd { r, pos: 0 }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        self.r
            .read_exact(buf)
            .map_err(|e| RdbError::io(e, self.pos))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    fn byte(&mut self) -> Result<u8, RdbError> {
        Ok(self.array::<1>()?[0])
    }

    /// `n` bytes, allocated only as they arrive: the buffer grows chunk by
    /// chunk as reads succeed, never by the claimed length, so a hostile
    /// length costs at most twice the bytes really there.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        const CHUNK: u64 = 64 * 1024;
        let mut v = Vec::new();
        let mut left = n;
        while left > 0 {
            let take = left.min(CHUNK) as usize;
            let at = v.len();
            v.resize(at + take, 0);
            self.fill(&mut v[at..])?;
            left -= take as u64;
        }
        Ok(v)
    }

    fn len_or_enc(&mut self) -> Result<Len, RdbError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain(u64::from(b & 0x3F)),
            1 => Len::Plain((u64::from(b & 0x3F) << 8) | u64::from(self.byte()?)),
            3 => Len::Encoded(b & 0x3F),
            _ => match b {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(corrupt("unknown length encoding")),
            },
        })
    }

    fn len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(corrupt("encoded value where a length was expected")),
        }
    }

    /// A string in any of its encodings (raw, integer, LZF).
    fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_enc()? {
            Len::Plain(n) => self.bytes(n),
            Len::Encoded(ENC_INT8) => Ok(int_str(i64::from(self.byte()? as i8))),
            Len::Encoded(ENC_INT16) => {
                let v = i16::from_le_bytes(self.array()?);
                Ok(int_str(i64::from(v)))
            }
            Len::Encoded(ENC_INT32) => {
                let v = i32::from_le_bytes(self.array()?);
                Ok(int_str(i64::from(v)))
            }
            Len::Encoded(ENC_LZF) => {
                let clen = self.len()?;
                let len = self.len()?;
                // One LZF back reference (3 bytes) yields at most 264:
                // a claimed length past that ratio cannot be honest.
                if len > clen.saturating_mul(90).saturating_add(64) {
                    return Err(corrupt("LZF length out of proportion"));
                }
                let packed = self.bytes(clen)?;
                lzf::decompress(&packed, len as usize).ok_or(corrupt("invalid LZF data"))
            }
            Len::Encoded(_) => Err(corrupt("unknown string encoding")),
        }
    }

    /// A score of the old ZSET type: length-prefixed text (253 = nan,
    /// 254 = +inf, 255 = -inf).
    fn text_double(&mut self) -> Result<f64, RdbError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let b = self.bytes(u64::from(n))?;
                parse_score(&b).ok_or(corrupt("invalid double"))
            }
        }
    }

    fn ms_time(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn stream_id_raw(&mut self) -> Result<StreamId, RdbError> {
        let raw: [u8; 16] = self.array()?;
        Ok(raw_id(&raw))
    }

    /// A value of type `ty`; `None` for an empty collection.
    fn object(&mut self, ty: u8, t: &Thresholds) -> Result<Option<Decoded>, RdbError> {
        let obj = match ty {
            types::STRING => return Ok(Some(Decoded::Str(self.string()?))),
            types::LIST => {
                let mut l = ListValue::new(t);
                for _ in 0..self.len()? {
                    push_list(&mut l, Item::Str(&self.string()?), t);
                }
                Object::List(l)
            }
            types::SET => {
                let mut s = SetValue::new(t);
                for _ in 0..self.len()? {
                    if !s.add(&self.string()?, t) {
                        return Err(corrupt("duplicate set member"));
                    }
                }
                Object::Set(s)
            }
            types::ZSET | types::ZSET_2 => {
                let mut z = ZSetValue::new(t);
                for _ in 0..self.len()? {
                    let m = self.string()?;
                    let score = if ty == types::ZSET {
                        self.text_double()?
                    } else {
                        f64::from_le_bytes(self.array()?)
                    };
                    zset_add(&mut z, &m, score, t)?;
                }
                Object::ZSet(z)
            }
            types::HASH => {
                let mut h = HashValue::new(t);
                for _ in 0..self.len()? {
                    let f = self.string()?;
                    let v = self.string()?;
                    hash_add(&mut h, &f, &v, t)?;
                }
                Object::Hash(h)
            }
            types::HASH_ZIPMAP => {
                let blob = self.string()?;
                let mut h = HashValue::new(t);
                for (f, v) in encodings::zipmap(&blob)? {
                    hash_add(&mut h, f, v, t)?;
                }
                Object::Hash(h)
            }
            types::LIST_ZIPLIST => list_of(&encodings::ziplist(&self.string()?)?, t),
            types::SET_INTSET => {
                let blob = self.string()?;
                let mut s = SetValue::empty_intset();
                for v in encodings::intset(&blob)? {
                    s.add(itoa::Buffer::new().format(v).as_bytes(), t);
                }
                Object::Set(s)
            }
            types::SET_LISTPACK => set_of(&encodings::listpack(&self.string()?)?, t)?,
            types::ZSET_ZIPLIST => zset_of(&encodings::ziplist(&self.string()?)?, t)?,
            types::ZSET_LISTPACK => zset_of(&encodings::listpack(&self.string()?)?, t)?,
            types::HASH_ZIPLIST => hash_of(&encodings::ziplist(&self.string()?)?, t)?,
            types::HASH_LISTPACK => hash_of(&encodings::listpack(&self.string()?)?, t)?,
            types::LIST_QUICKLIST => {
                let mut l = ListValue::new(t);
                for _ in 0..self.len()? {
                    // Empty nodes are skipped, as Redis does.
                    for it in encodings::ziplist(&self.string()?)? {
                        push_list(&mut l, it, t);
                    }
                }
                Object::List(l)
            }
            types::LIST_QUICKLIST_2 => {
                let mut l = ListValue::new(t);
                for _ in 0..self.len()? {
                    let container = self.len()?;
                    let blob = self.string()?;
                    // Even a plain node of an empty element is refused:
                    // Redis never writes a zero-length node.
                    if blob.is_empty() {
                        return Err(corrupt("zero-length quicklist node"));
                    }
                    match container {
                        QUICKLIST_PLAIN => push_list(&mut l, Item::Str(&blob), t),
                        QUICKLIST_PACKED => {
                            for it in encodings::listpack(&blob)? {
                                push_list(&mut l, it, t);
                            }
                        }
                        _ => return Err(corrupt("unknown quicklist container")),
                    }
                }
                Object::List(l)
            }
            types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS_3 => {
                Object::Stream(Box::new(self.stream(ty, t)?))
            }
            types::MODULE_PRE_GA | types::MODULE_2 => return Err(RdbError::Module(ty)),
            _ => return Err(RdbError::UnknownType(ty)),
        };
        Ok((!obj.is_empty()).then(|| Decoded::Obj(Box::new(obj))))
    }

    fn stream(&mut self, ty: u8, t: &Thresholds) -> Result<StreamValue, RdbError> {
        let mut s = StreamValue::new(t);
        let mut prev: Option<StreamId> = None;
        let mut count = 0u64;
        for _ in 0..self.len()? {
            let key = self.string()?;
            let master: [u8; 16] = key
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("stream node key is not a stream ID"))?;
            let lp = self.string()?;
            let items = encodings::listpack(&lp)?;
            if items.is_empty() {
                return Err(corrupt("empty listpack inside stream"));
            }
            stream_node(raw_id(&master), &items, &mut |id, fields| {
                if prev.is_some_and(|p| id <= p) {
                    return Err(corrupt("stream entries out of order"));
                }
                prev = Some(id);
                let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
                s.append(id, &refs);
                count += 1;
                Ok(())
            })?;
        }
        let length = self.len()?;
        let last_id = StreamId::new(self.len()?, self.len()?);
        let (max_deleted, entries_added) = if ty >= types::STREAM_LISTPACKS_2 {
            // first_id is derived from the entries; read past it.
            self.len()?;
            self.len()?;
            let md = StreamId::new(self.len()?, self.len()?);
            (md, self.len()?)
        } else {
            (StreamId::ZERO, length)
        };
        if length != count {
            return Err(corrupt("stream length inconsistent with its entries"));
        }
        if prev.is_some_and(|p| p > last_id) {
            return Err(corrupt("stream last id below its entries"));
        }
        s.last_id = last_id;
        s.max_deleted = max_deleted;
        s.entries_added = entries_added;
        for _ in 0..self.len()? {
            self.stream_group(&mut s, ty)?;
        }
        Ok(s)
    }

    fn stream_group(&mut self, s: &mut StreamValue, ty: u8) -> Result<(), RdbError> {
        let name = self.string()?;
        let last = StreamId::new(self.len()?, self.len()?);
        let entries_read = if ty >= types::STREAM_LISTPACKS_2 {
            // Saved as a 64-bit length: -1 (unknown) arrives as u64::MAX.
            self.len()? as i64
        } else {
            ENTRIES_READ_INVALID
        };
        if !s.create_group(&name, last, entries_read) {
            return Err(corrupt("duplicate consumer group"));
        }
        if ty < types::STREAM_LISTPACKS_2 {
            // RDB 9 kept no read counter: estimate it as Redis 7 does.
            let (view, mut g) = s.split_group(&name).expect("group created above");
            let read = view.estimate_distance(last);
            g.set_last_id(last, Some(read));
        }
        // The group PEL comes first, owners only with the consumers.
        let mut pel: BTreeMap<StreamId, (i64, u64, bool)> = BTreeMap::new();
        for _ in 0..self.len()? {
            let id = self.stream_id_raw()?;
            let time = self.ms_time()?;
            let n = self.len()?;
            if pel.insert(id, (time, n, false)).is_some() {
                return Err(corrupt("duplicate stream PEL entry"));
            }
        }
        for _ in 0..self.len()? {
            let cname = self.string()?;
            let seen = self.ms_time()?;
            let active = if ty >= types::STREAM_LISTPACKS_3 {
                self.ms_time()?
            } else {
                seen
            };
            let mut ids = Vec::new();
            for _ in 0..self.len()? {
                let id = self.stream_id_raw()?;
                let nack = pel
                    .get_mut(&id)
                    .ok_or(corrupt("consumer PEL entry not in the group PEL"))?;
                if nack.2 {
                    return Err(corrupt("stream PEL entry owned twice"));
                }
                nack.2 = true;
                ids.push((id, nack.0, nack.1));
            }
            s.with_group(&name, |g| {
                if !g.ensure_consumer(&cname, seen) {
                    return Err(corrupt("duplicate stream consumer"));
                }
                let c = g.consumer_mut(&cname).expect("consumer created above");
                c.seen_time = seen;
                c.active_time = active;
                for (id, time, n) in ids {
                    g.deliver(id, &cname, time, |_| n);
                }
                Ok(())
            })
            .expect("group created above")?;
        }
        if pel.values().any(|n| !n.2) {
            return Err(corrupt("stream PEL entry without consumer"));
        }
        Ok(())
    }
}

const QUICKLIST_PLAIN: u64 = 1;
const QUICKLIST_PACKED: u64 = 2;

const STREAM_ITEM_DELETED: i64 = 1;
const STREAM_ITEM_SAMEFIELDS: i64 = 2;

fn int_str(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

fn raw_id(raw: &[u8; 16]) -> StreamId {
    let (ms, seq) = raw.split_at(8);
    StreamId::new(
        u64::from_be_bytes(ms.try_into().expect("8 bytes")),
        u64::from_be_bytes(seq.try_into().expect("8 bytes")),
    )
}

/// Decodes one stream node (`t_stream.c`'s layout): the master entry
/// `count, deleted, n, field₁…fieldₙ, 0`, then per entry
/// `flags, ms-diff, seq-diff, [n, field, value … | value …], lp-count`.
/// Live entries go to `emit` with their fields and values interleaved.
fn stream_node(
    master: StreamId,
    items: &[Item<'_>],
    emit: &mut dyn FnMut(StreamId, Vec<Vec<u8>>) -> Result<(), RdbError>,
) -> Result<(), RdbError> {
    const BAD: RdbError = corrupt("stream listpack integrity check failed");
    let mut it = items.iter().copied();
    fn int(it: &mut dyn Iterator<Item = Item<'_>>) -> Result<i64, RdbError> {
        it.next().and_then(Item::as_int).ok_or(BAD)
    }
    let live = int(&mut it)?;
    let deleted = int(&mut it)?;
    let nfields = usize::try_from(int(&mut it)?).map_err(|_| BAD)?;
    let fields: Vec<Item<'_>> = it.by_ref().take(nfields).collect();
    if fields.len() != nfields || int(&mut it)? != 0 {
        return Err(BAD);
    }
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    while it.len() > 0 {
        let flags = int(&mut it)?;
        let ms = master.ms.wrapping_add(int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(int(&mut it)? as u64);
        let mut kv = Vec::new();
        let lp_count = if flags & STREAM_ITEM_SAMEFIELDS != 0 {
            for f in &fields {
                kv.push(f.to_vec());
                kv.push(it.next().ok_or(BAD)?.to_vec());
            }
            nfields + 3
        } else {
            let n = usize::try_from(int(&mut it)?).map_err(|_| BAD)?;
            if n > it.len() {
                return Err(BAD);
            }
            for _ in 0..2 * n {
                kv.push(it.next().ok_or(BAD)?.to_vec());
            }
            2 * n + 4
        };
        if usize::try_from(int(&mut it)?).ok() != Some(lp_count) {
            return Err(BAD);
        }
        if flags & STREAM_ITEM_DELETED != 0 {
            seen_deleted += 1;
        } else {
            seen_live += 1;
            emit(StreamId::new(ms, seq), kv)?;
        }
    }
    if seen_live != live || seen_deleted != deleted {
        return Err(BAD);
    }
    Ok(())
}

/// Parses a score as `strtod` would for the texts Redis writes.
fn parse_score(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(b).ok()?.trim().parse::<f64>().ok()
}

fn push_list(l: &mut ListValue, it: Item<'_>, t: &Thresholds) {
    it.with_bytes(|b| {
        l.prepare_add(t, b.len(), 1);
        l.push(b, false);
    });
}

fn list_of(items: &[Item<'_>], t: &Thresholds) -> Object {
    let mut l = ListValue::new(t);
    for &it in items {
        push_list(&mut l, it, t);
    }
    Object::List(l)
}

fn set_of(items: &[Item<'_>], t: &Thresholds) -> Result<Object, RdbError> {
    let mut s = SetValue::new(t);
    for &it in items {
        if !it.with_bytes(|b| s.add(b, t)) {
            return Err(corrupt("duplicate set member"));
        }
    }
    Ok(Object::Set(s))
}

fn hash_add(h: &mut HashValue, f: &[u8], v: &[u8], t: &Thresholds) -> Result<(), RdbError> {
    if h.set(f, v, t) {
        Ok(())
    } else {
        Err(corrupt("duplicate hash field"))
    }
}

fn hash_of(items: &[Item<'_>], t: &Thresholds) -> Result<Object, RdbError> {
    if items.len() % 2 != 0 {
        return Err(corrupt("hash with an odd number of elements"));
    }
    let mut h = HashValue::new(t);
    for p in items.chunks_exact(2) {
        let f = p[0].to_vec();
        p[1].with_bytes(|v| hash_add(&mut h, &f, v, t))?;
    }
    Ok(Object::Hash(h))
}

fn zset_add(z: &mut ZSetValue, m: &[u8], score: f64, t: &Thresholds) -> Result<(), RdbError> {
    if score.is_nan() {
        return Err(corrupt("zset score is NaN"));
    }
    if z.score(m).is_some() {
        return Err(corrupt("duplicate zset member"));
    }
    z.put(m, score, t);
    Ok(())
}

fn zset_of(items: &[Item<'_>], t: &Thresholds) -> Result<Object, RdbError> {
    if items.len() % 2 != 0 {
        return Err(corrupt("zset with an odd number of elements"));
    }
    let mut z = ZSetValue::new(t);
    for p in items.chunks_exact(2) {
        let score = match p[1] {
            Item::Int(i) => i as f64,
            Item::Str(s) => parse_score(s).ok_or(corrupt("invalid zset score"))?,
        };
        p[0].with_bytes(|m| zset_add(&mut z, m, score, t))?;
    }
    Ok(Object::ZSet(z))
}
