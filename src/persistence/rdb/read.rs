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

use crc::Digest;

use super::crc::{Crc64Impl, CRC64};
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
    /// The input's size in bytes, when known: [`load_into`] then presizes
    /// each database's table from its RESIZEDB count, capped by what an
    /// input of that size can hold (a lying count cannot allocate more).
    pub input_len: Option<u64>,
}

impl LoadOptions {
    pub fn new(databases: usize, now_ms: i64) -> Self {
        LoadOptions {
            databases,
            now_ms,
            thresholds: Thresholds::default(),
            keep_expired: false,
            input_len: None,
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
    /// Function library code (FUNCTION2 opcodes) in file order, each with
    /// the DB selected before it (`None` before any SELECTDB: where Redis
    /// writes them, before the DBs). keyward writes a DB's own libraries
    /// after its SELECTDB under `script-scope db`.
    pub functions: Vec<(Option<usize>, Vec<u8>)>,
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
    load_events(r, opts, false, &mut |ev| match ev {
        Event::Key(k) => sink(k),
        Event::Resize { .. } => Ok(()),
    })
}

/// What [`load_events`] hands on.
pub(crate) enum Event {
    Key(LoadedKey),
    /// A RESIZEDB opcode: DB `db` is about to receive about `keys` keys
    /// (a hint from the file, not to be trusted for allocation sizes).
    Resize {
        db: usize,
        keys: u64,
    },
}

/// The bytes the reader buffers from a file.
const FILE_BUFFER: usize = 1 << 20;

/// [`load`], also passing on the RESIZEDB hints.
/// `crc_thread`: the checksum runs on a thread of its own.
pub(crate) fn load_events<R: Read>(
    r: R,
    opts: &LoadOptions,
    crc_thread: bool,
    sink: &mut dyn FnMut(Event) -> Result<(), RdbError>,
) -> Result<LoadReport, RdbError> {
    let mut rd = Rd::new(r, FILE_BUFFER);
    rd.crc = if crc_thread {
        Checksum::thread()?
    } else {
        Checksum::Here(CRC64.digest())
    };
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
    let clock = lru_clock(opts.now_ms);
    // Reused for every key: a string key and value cost one allocation,
    // the entry's own block.
    let (mut key, mut scratch) = (Vec::new(), Vec::new());
    let (mut db, mut expire, mut idle, mut freq) = (0usize, None, None, None);
    let mut selected = false;
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
                selected = true;
            }
            opcodes::RESIZEDB => {
                let keys = rd.len()?;
                rd.len()?;
                sink(Event::Resize { db, keys })?;
            }
            opcodes::AUX => {
                let k = rd.string()?;
                let v = rd.string()?;
                report.aux.push((k, v));
            }
            opcodes::MODULE_AUX => return Err(RdbError::Module(ty)),
            opcodes::FUNCTION_PRE_GA => return Err(RdbError::FunctionPreGa),
            opcodes::FUNCTION2 => report
                .functions
                .push((selected.then_some(db), rd.string()?)),
            _ => {
                if !is_value_type(ty) {
                    return Err(RdbError::UnknownType(ty));
                }
                rd.string_into(&mut key)?;
                let (exp, id, fr) = (expire.take(), idle.take(), freq.take());
                let expired = !opts.keep_expired && exp.is_some_and(|at| at < opts.now_ms);
                let entry = if ty == types::STRING {
                    // Straight from the read buffer into the entry's block.
                    let at = rd.string_ref(&mut scratch)?;
                    if expired {
                        report.expired_skipped += 1;
                        continue;
                    }
                    let v = match at {
                        StrAt::Buf(r) => &rd.buf[r],
                        StrAt::Scratch => &scratch[..],
                    };
                    Entry::new(&key, NewValue::Str(v), exp, clock)
                } else {
                    let Some(value) = rd.object(ty, t)? else {
                        report.empty_skipped += 1;
                        continue;
                    };
                    if expired {
                        report.expired_skipped += 1;
                        continue;
                    }
                    value.into_entry(&key, exp, clock)
                };
                sink(Event::Key(LoadedKey {
                    db,
                    entry,
                    idle: id,
                    freq: fr,
                    offset: rd.pos(),
                }))?;
                report.keys[db] += 1;
            }
        }
    }
    // RDB 5 added the trailer; 0 means "saved with rdbchecksum no".
    if version >= 5 {
        // The trailer is not part of what it checks.
        let actual = rd.finish_crc()?;
        let expected = u64::from_le_bytes(rd.array()?);
        if expected != 0 {
            if expected != actual {
                return Err(RdbError::Checksum { expected, actual });
            }
            report.checksum_verified = true;
        }
    }
    report.bytes = rd.pos();
    Ok(report)
}

/// [`load`] into `ks`: each key goes to its DB with the clock bits of that
/// DB's eviction policy; a key already present refuses the file (Redis
/// treats a duplicate as corruption). `progress` gets the bytes read so
/// far every 64 KiB or so, and at the end.
///
/// With more than one core the file is parsed on the calling thread while
/// other threads insert (see [`load_into_with`]).
pub fn load_into<R: Read>(
    r: R,
    opts: &LoadOptions,
    ks: &Keyspace,
    progress: &mut dyn FnMut(u64),
) -> Result<LoadReport, RdbError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    load_into_with(r, opts, ks, progress, (cores - 1).min(MAX_INSERTERS))
}

/// Inserting threads a load uses at most.
pub const MAX_INSERTERS: usize = 4;
/// Keys handed over at a time (one DB lock per batch).
const BATCH: usize = 512;
/// Batches waiting per inserting thread: bounds what a parser that runs
/// ahead holds in memory.
const QUEUED_BATCHES: usize = 8;

/// Work for an inserting thread; a DB's jobs all go to the same thread,
/// in file order.
enum Job {
    Presize { db: usize, keys: usize },
    Keys { db: usize, keys: Vec<LoadedKey> },
}

/// [`load_into`] with `inserters` threads inserting while the calling
/// thread parses, and the checksum on a thread of its own; database `i`
/// goes to thread `i % inserters`, so databases fill in parallel. 0 does
/// everything on the calling thread.
///
/// The parser keeps the decoding and builds the entries (their allocation
/// and the page faults of a growing heap included): measured on a 1.35 GB
/// file, handing strings over as bytes for the inserters to build cost
/// 25% more CPU than it saved on the parser.
pub fn load_into_with<R: Read>(
    r: R,
    opts: &LoadOptions,
    ks: &Keyspace,
    progress: &mut dyn FnMut(u64),
    inserters: usize,
) -> Result<LoadReport, RdbError> {
    // The smallest record (type, empty key, empty string) is 3 bytes.
    let most_keys = opts.input_len.map_or(0, |n| n / 3);
    let now = opts.now_ms;
    if inserters == 0 {
        let mut run = |job| run_job(ks, job, now);
        return load_batched(r, opts, false, most_keys, progress, &mut run, &mut || None);
    }
    std::thread::scope(|scope| {
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<LoadedKey>>();
        let mut txs = Vec::new();
        let mut threads = Vec::new();
        for i in 0..inserters {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(QUEUED_BATCHES);
            let back = back_tx.clone();
            let t = std::thread::Builder::new()
                .name(format!("rdb-insert-{i}"))
                .spawn_scoped(scope, move || {
                    for job in rx {
                        // An error drops `rx`: the parser's next send fails.
                        if let Some(emptied) = run_job(ks, job, now)? {
                            let _ = back.send(emptied);
                        }
                    }
                    Ok(())
                })
                .map_err(RdbError::Io)?;
            txs.push(tx);
            threads.push(t);
        }
        drop(back_tx);
        let mut send = |job: Job| -> Result<Option<Vec<LoadedKey>>, RdbError> {
            let db = match &job {
                Job::Presize { db, .. } | Job::Keys { db, .. } => *db,
            };
            txs[db % inserters]
                .send(job)
                .map_err(|_| INSERTER_STOPPED)?;
            Ok(None)
        };
        let parsed = load_batched(r, opts, true, most_keys, progress, &mut send, &mut || {
            back_rx.try_recv().ok()
        });
        drop(txs);
        let mut failed = None;
        for t in threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed = failed.or(Some(e)),
                Err(_) => {
                    failed = failed.or(Some(RdbError::Corrupt("an inserting thread panicked")))
                }
            }
        }
        match (parsed, failed) {
            // The parser stopped because an inserter did: its error.
            (Err(RdbError::Corrupt(INSERTER_STOPPED_MSG)), Some(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(_), Some(e)) => Err(e),
            (Ok(report), None) => Ok(report),
        }
    })
}

const INSERTER_STOPPED_MSG: &str = "an inserting thread stopped";
const INSERTER_STOPPED: RdbError = RdbError::Corrupt(INSERTER_STOPPED_MSG);

/// Parses, gathering keys into per-DB batches for `run` (which returns
/// the emptied vector when it can); `spare` offers vectors to reuse.
fn load_batched<R: Read>(
    r: R,
    opts: &LoadOptions,
    crc_thread: bool,
    most_keys: u64,
    progress: &mut dyn FnMut(u64),
    run: &mut dyn FnMut(Job) -> Result<Option<Vec<LoadedKey>>, RdbError>,
    spare: &mut dyn FnMut() -> Option<Vec<LoadedKey>>,
) -> Result<LoadReport, RdbError> {
    let mut batch: Vec<LoadedKey> = Vec::with_capacity(BATCH);
    let mut recycled: Option<Vec<LoadedKey>> = None;
    let mut reported = 0u64;
    type Run<'a> = dyn FnMut(Job) -> Result<Option<Vec<LoadedKey>>, RdbError> + 'a;
    let mut flush = |batch: &mut Vec<LoadedKey>,
                     recycled: &mut Option<Vec<LoadedKey>>,
                     run: &mut Run<'_>|
     -> Result<(), RdbError> {
        let Some(last) = batch.last() else {
            return Ok(());
        };
        let (db, offset) = (last.db, last.offset);
        let next = recycled
            .take()
            .or_else(&mut *spare)
            .unwrap_or_else(|| Vec::with_capacity(BATCH));
        let keys = std::mem::replace(batch, next);
        *recycled = run(Job::Keys { db, keys })?;
        if offset - reported >= 64 * 1024 {
            reported = offset;
            progress(offset);
        }
        Ok(())
    };
    let report = load_events(r, opts, crc_thread, &mut |ev| match ev {
        Event::Resize { db, keys } => {
            flush(&mut batch, &mut recycled, run)?;
            let keys = keys.min(most_keys) as usize;
            run(Job::Presize { db, keys }).map(drop)
        }
        Event::Key(k) => {
            if batch.last().is_some_and(|l| l.db != k.db) {
                flush(&mut batch, &mut recycled, run)?;
            }
            batch.push(k);
            if batch.len() >= BATCH {
                flush(&mut batch, &mut recycled, run)?;
            }
            Ok(())
        }
    })?;
    flush(&mut batch, &mut recycled, run)?;
    progress(report.bytes);
    Ok(report)
}

/// Runs one job on the keyspace; a key batch's emptied vector comes back.
fn run_job(ks: &Keyspace, job: Job, now: i64) -> Result<Option<Vec<LoadedKey>>, RdbError> {
    match job {
        Job::Presize { db, keys } => {
            ks.lock(db).presize(keys);
            Ok(None)
        }
        Job::Keys {
            db: index,
            mut keys,
        } => {
            let mut db = ks.lock(index);
            let policy = db.policy();
            for k in keys.drain(..) {
                let clock = eviction_clock(policy, k.idle, k.freq, now);
                if let Some(old) = insert_with_clock(&mut db, k.entry, clock) {
                    let key = old.key().to_vec();
                    // Keep the first value, as if the duplicate never arrived.
                    db.insert(old);
                    return Err(RdbError::DuplicateKey { db: index, key });
                }
            }
            Ok(Some(keys))
        }
    }
}

/// Inserts `entry` with the clock bits `clock` (from [`eviction_clock`]);
/// returns the entry it replaced. `Db::insert` restamps clocks under LFU
/// (a written key starts afresh), which a loaded or restored key must not.
pub fn insert_with_clock(db: &mut Db, mut entry: Entry, clock: u32) -> Option<Entry> {
    if !db.policy().is_lfu() {
        // Only LFU restamps: the clock can go in with the entry.
        entry.set_clock(clock);
        return db.insert(entry);
    }
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
    Rd::new(bytes, bytes.len().min(FILE_BUFFER))
        .object(ty, t)?
        .ok_or(RdbError::Corrupt("empty key"))
}

/// One RDB string (any encoding) at the start of `bytes`, and the bytes
/// it took (a FUNCTION DUMP payload's library code).
pub fn read_string(bytes: &[u8]) -> Result<(Vec<u8>, usize), RdbError> {
    let mut rd = Rd::new(bytes, bytes.len().min(FILE_BUFFER));
    let s = rd.string()?;
    Ok((s, rd.pos() as usize))
}

fn is_value_type(ty: u8) -> bool {
    matches!(ty, 0..=7 | 9..=21)
}

const fn corrupt(what: &'static str) -> RdbError {
    RdbError::Corrupt(what)
}

/// The low-level reader: lengths, strings, numbers, and values.
///
/// It reads through its own buffer (1 MiB for a file) so that the many
/// one- and two-byte reads of the format are an index and a compare, and
/// so that strings can be handed out as slices of it without a copy; the
/// checksum is taken over the buffer in large runs (`crc_at` marks how far
/// it has got), never per small read, possibly on a thread of its own.
struct Rd<R> {
    r: R,
    buf: Box<[u8]>,
    /// Next unread byte of `buf`; `buf[at..end]` is read but unconsumed.
    at: usize,
    end: usize,
    /// The input offset of `buf[0]`.
    base: u64,
    /// The running CRC64 of everything consumed before `buf[crc_at]`.
    crc: Checksum,
    crc_at: usize,
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

/// Bytes a string is read in when it does not fit the buffer: allocation
/// follows the bytes that really arrive, not a claimed length.
const CHUNK: usize = 64 * 1024;

/// Where [`Rd::string_ref`] left a string.
enum StrAt {
    /// `rd.buf[range]`, valid until the next read.
    Buf(std::ops::Range<usize>),
    /// In the caller's scratch vector.
    Scratch,
}

/// How [`Rd`] checksums what it consumes.
enum Checksum {
    Off,
    /// On the reading thread.
    Here(Digest<'static, u64, Crc64Impl>),
    /// On a thread of its own: each full buffer goes there whole (with the
    /// range to checksum) and comes back through `back` for reuse.
    Thread {
        tx: std::sync::mpsc::SyncSender<(Box<[u8]>, std::ops::Range<usize>)>,
        back: std::sync::mpsc::Receiver<Box<[u8]>>,
        done: std::thread::JoinHandle<u64>,
    },
}

impl Checksum {
    fn thread() -> Result<Checksum, RdbError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Box<[u8]>, std::ops::Range<usize>)>(4);
        let (back_tx, back) = std::sync::mpsc::channel();
        let done = std::thread::Builder::new()
            .name("rdb-crc".into())
            .spawn(move || {
                let mut d = CRC64.digest();
                for (buf, range) in rx {
                    d.update(&buf[range]);
                    let _ = back_tx.send(buf);
                }
                d.finalize()
            })
            .map_err(RdbError::Io)?;
        Ok(Checksum::Thread { tx, back, done })
    }
}

impl<R: Read> Rd<R> {
    /// A reader with a buffer of `cap` bytes (at least 64).
    fn new(r: R, cap: usize) -> Self {
        Rd {
            r,
            buf: vec![0u8; cap.max(64)].into_boxed_slice(),
            at: 0,
            end: 0,
            base: 0,
            crc: Checksum::Off,
            crc_at: 0,
        }
    }

    /// Bytes consumed so far.
    fn pos(&self) -> u64 {
        self.base + self.at as u64
    }

    /// The checksum of everything consumed so far; later reads are not
    /// checksummed (the trailer).
    fn finish_crc(&mut self) -> Result<u64, RdbError> {
        let tail = self.crc_at..self.at;
        self.crc_at = self.at;
        match std::mem::replace(&mut self.crc, Checksum::Off) {
            Checksum::Off => Ok(0),
            Checksum::Here(mut d) => {
                d.update(&self.buf[tail]);
                Ok(d.finalize())
            }
            Checksum::Thread { tx, done, .. } => {
                let rest: Box<[u8]> = self.buf[tail].into();
                let len = rest.len();
                let _ = tx.send((rest, 0..len));
                drop(tx);
                done.join()
                    .map_err(|_| RdbError::Corrupt("the checksum thread panicked"))
            }
        }
    }

    /// Makes `buf[at..at + n]` readable (`n` ≤ the buffer's size), moving
    /// the unread tail to the front and reading more as needed.
    #[inline]
    fn ensure(&mut self, n: usize) -> Result<(), RdbError> {
        if self.end - self.at >= n {
            return Ok(());
        }
        self.refill(n)
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self, n: usize) -> Result<(), RdbError> {
        debug_assert!(n <= self.buf.len());
        if self.at + n > self.buf.len() {
            // Move the unread tail to the front: of this buffer after
            // checksumming what was consumed, or of a fresh one while the
            // checksum thread takes this one whole.
            let consumed = self.crc_at..self.at;
            match &mut self.crc {
                Checksum::Off => {}
                Checksum::Here(d) => d.update(&self.buf[consumed]),
                Checksum::Thread { tx, back, .. } => {
                    let len = self.buf.len();
                    let mut fresh = back
                        .try_recv()
                        .unwrap_or_else(|_| vec![0u8; len].into_boxed_slice());
                    let tail = self.end - self.at;
                    fresh[..tail].copy_from_slice(&self.buf[self.at..self.end]);
                    let old = std::mem::replace(&mut self.buf, fresh);
                    tx.send((old, consumed))
                        .map_err(|_| RdbError::Corrupt("the checksum thread stopped"))?;
                    self.base += self.at as u64;
                    self.end = tail;
                    self.at = 0;
                    self.crc_at = 0;
                }
            }
            if self.at > 0 {
                self.buf.copy_within(self.at..self.end, 0);
                self.base += self.at as u64;
                self.end -= self.at;
                self.at = 0;
            }
            self.crc_at = 0;
        }
        while self.end - self.at < n {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(RdbError::Truncated(self.pos())),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RdbError::io(e, self.pos())),
            }
        }
        Ok(())
    }

    /// The next `n` bytes (`n` ≤ the buffer's size), consumed.
    #[inline]
    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, RdbError> {
        self.ensure(n)?;
        let r = self.at..self.at + n;
        self.at += n;
        Ok(r)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let r = self.take(N)?;
        Ok(self.buf[r].try_into().expect("N bytes"))
    }

    #[inline]
    fn byte(&mut self) -> Result<u8, RdbError> {
        if self.at < self.end {
            let b = self.buf[self.at];
            self.at += 1;
            return Ok(b);
        }
        Ok(self.array::<1>()?[0])
    }

    /// `n` bytes appended to `out`, allocated only as they arrive: the
    /// vector grows chunk by chunk as reads succeed, never by the claimed
    /// length, so a hostile length costs at most twice the bytes really
    /// there.
    fn bytes_into(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), RdbError> {
        let step = CHUNK.min(self.buf.len()) as u64;
        let mut left = n;
        while left > 0 {
            let r = self.take(left.min(step) as usize)?;
            left -= r.len() as u64;
            out.extend_from_slice(&self.buf[r]);
        }
        Ok(())
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let mut v = Vec::new();
        self.bytes_into(n, &mut v)?;
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
        let mut v = Vec::new();
        self.string_into(&mut v)?;
        Ok(v)
    }

    /// [`Rd::string`] into `out` (cleared first), reusing its allocation.
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), RdbError> {
        out.clear();
        match self.string_ref(out)? {
            StrAt::Buf(r) => out.extend_from_slice(&self.buf[r]),
            StrAt::Scratch => {}
        }
        Ok(())
    }

    /// A string left where it is cheapest: a plain string that fits the
    /// buffer stays there (no copy, no allocation); integer, LZF and
    /// longer strings go to `scratch` (cleared first).
    fn string_ref(&mut self, scratch: &mut Vec<u8>) -> Result<StrAt, RdbError> {
        scratch.clear();
        let int = |v: i64, s: &mut Vec<u8>| {
            s.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            Ok(StrAt::Scratch)
        };
        match self.len_or_enc()? {
            Len::Plain(n) if n <= self.buf.len() as u64 => Ok(StrAt::Buf(self.take(n as usize)?)),
            Len::Plain(n) => {
                self.bytes_into(n, scratch)?;
                Ok(StrAt::Scratch)
            }
            Len::Encoded(ENC_INT8) => int(i64::from(self.byte()? as i8), scratch),
            Len::Encoded(ENC_INT16) => int(i64::from(i16::from_le_bytes(self.array()?)), scratch),
            Len::Encoded(ENC_INT32) => int(i64::from(i32::from_le_bytes(self.array()?)), scratch),
            Len::Encoded(ENC_LZF) => {
                let clen = self.len()?;
                let len = self.len()?;
                // One LZF back reference (3 bytes) yields at most 264:
                // a claimed length past that ratio cannot be honest.
                if len > clen.saturating_mul(90).saturating_add(64) {
                    return Err(corrupt("LZF length out of proportion"));
                }
                let out = if clen <= self.buf.len() as u64 {
                    let r = self.take(clen as usize)?;
                    lzf::decompress(&self.buf[r], len as usize)
                } else {
                    let packed = self.bytes(clen)?;
                    lzf::decompress(&packed, len as usize)
                };
                *scratch = out.ok_or(corrupt("invalid LZF data"))?;
                Ok(StrAt::Scratch)
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
                s.append(id, &refs, t.stream_node);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::rdb::{AuxFields, RdbVersion, RdbWriter};

    /// Per DB, its (key, value) pairs.
    type Dbs = Vec<Vec<(Vec<u8>, Vec<u8>)>>;

    /// A file of `dbs` databases: many small strings (records straddle
    /// the reader's buffer boundaries), integers, TTLs, and strings longer
    /// than the buffer, compressible and not.
    fn file(dbs: usize, per_db: usize, compression: bool) -> (Vec<u8>, Dbs) {
        let mut w = RdbWriter::new(Vec::new(), RdbVersion::V11, compression, true);
        w.header(&AuxFields::new(0, 0)).unwrap();
        let mut want = vec![Vec::new(); dbs];
        let big_random: Vec<u8> = (0..3 * FILE_BUFFER as u32 + 17)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for (db, w_db) in want.iter_mut().enumerate() {
            w.select_db(db, per_db as u64 + 2, 0).unwrap();
            let mut put = |k: Vec<u8>, v: Vec<u8>, exp: Option<i64>| {
                let e = Entry::new(&k, NewValue::Str(&v), exp, 0);
                w.entry(&e, Policy::NoEviction, 0).unwrap();
                w_db.push((k, v));
            };
            for i in 0..per_db {
                let k = format!("k{db}:{i}").into_bytes();
                let v = match i % 3 {
                    0 => i.to_string().into_bytes(),
                    1 => vec![b'a' + (i % 26) as u8; i % 300],
                    _ => big_random[i..i + 40 + i % 90].to_vec(),
                };
                put(k, v, (i % 5 == 0).then_some(i64::MAX / 2));
            }
            put(b"big-random".to_vec(), big_random.clone(), None);
            put(b"big-zeros".to_vec(), vec![0; 2 * FILE_BUFFER + 5], None);
        }
        (w.finish().unwrap(), want)
    }

    #[test]
    fn buffered_reader_loads_across_buffer_edges_and_big_strings() {
        for compression in [false, true] {
            let (bytes, want) = file(3, 20_000, compression);
            // A reader that hands out odd-sized pieces, as a pipe might.
            struct Dribble<'a>(&'a [u8], usize);
            impl Read for Dribble<'_> {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    self.1 += 1;
                    let n = buf.len().min(self.0.len()).min(1 + self.1 * 7919 % 70_000);
                    buf[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut got = vec![Vec::new(); 3];
            let rep = load(
                Dribble(&bytes, 0),
                &LoadOptions::new(16, 0),
                &mut |k: LoadedKey| {
                    let v = match k.entry.value() {
                        crate::keyspace::ValueRef::Str(s) => s.to_vec(),
                        crate::keyspace::ValueRef::Int(n) => n.to_string().into_bytes(),
                        _ => panic!("a string was loaded as something else"),
                    };
                    got[k.db].push((k.entry.key().to_vec(), v));
                    Ok(())
                },
            )
            .unwrap();
            assert!(rep.checksum_verified);
            assert_eq!(rep.bytes, bytes.len() as u64);
            assert_eq!(got, want, "compression {compression}");
        }
    }

    #[test]
    fn a_flipped_byte_fails_the_checksum() {
        let (mut bytes, _) = file(1, 5000, true);
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        let r = load(&bytes[..], &LoadOptions::new(16, 0), &mut |_| Ok(()));
        assert!(r.is_err(), "a corrupted file loaded");
    }

    fn contents(ks: &Keyspace, dbs: usize) -> Dbs {
        (0..dbs)
            .map(|i| {
                let db = ks.lock(i);
                let mut v: Vec<_> = db
                    .iter(0)
                    .map(|e| {
                        let v = match e.value() {
                            crate::keyspace::ValueRef::Str(s) => s.to_vec(),
                            crate::keyspace::ValueRef::Int(n) => n.to_string().into_bytes(),
                            _ => panic!("not a string"),
                        };
                        (e.key().to_vec(), v)
                    })
                    .collect();
                v.sort();
                v
            })
            .collect()
    }

    #[test]
    fn parallel_and_serial_loads_fill_the_same_databases() {
        let (bytes, mut want) = file(5, 3000, true);
        for w in &mut want {
            w.sort();
        }
        for inserters in [0, 1, 3] {
            let ks = Keyspace::new(16);
            let mut opts = LoadOptions::new(16, 0);
            opts.input_len = Some(bytes.len() as u64);
            let mut last = 0;
            let rep = load_into_with(&bytes[..], &opts, &ks, &mut |p| last = p, inserters).unwrap();
            assert_eq!(rep.keys[..5], [3002; 5], "{inserters} inserters");
            assert_eq!(last, bytes.len() as u64, "progress ends at the end");
            assert_eq!(contents(&ks, 5), want, "{inserters} inserters");
        }
    }

    #[test]
    fn a_duplicate_key_refuses_the_file_with_any_number_of_inserters() {
        let mut w = RdbWriter::new(Vec::new(), RdbVersion::V11, false, true);
        w.header(&AuxFields::new(0, 0)).unwrap();
        for db in 0..3 {
            w.select_db(db, 2000, 0).unwrap();
            for i in 0..2000 {
                // DB 2 has "k7" twice, far apart (different batches).
                let k = if db == 2 && i == 1500 { 7 } else { i };
                let e = Entry::new(format!("k{k}").as_bytes(), NewValue::Str(b"v"), None, 0);
                w.entry(&e, Policy::NoEviction, 0).unwrap();
            }
        }
        let bytes = w.finish().unwrap();
        for inserters in [0, 1, 2] {
            let ks = Keyspace::new(16);
            let r = load_into_with(
                &bytes[..],
                &LoadOptions::new(16, 0),
                &ks,
                &mut |_| {},
                inserters,
            );
            match r {
                Err(RdbError::DuplicateKey { db: 2, key }) => assert_eq!(key, b"k7"),
                other => panic!("{inserters} inserters: {other:?}"),
            }
        }
    }

    #[test]
    fn a_lying_resizedb_count_allocates_by_the_input_size() {
        let mut w = RdbWriter::new(Vec::new(), RdbVersion::V11, false, true);
        w.header(&AuxFields::new(0, 0)).unwrap();
        w.select_db(0, 1 << 40, 0).unwrap();
        let e = Entry::new(b"k", NewValue::Str(b"v"), None, 0);
        w.entry(&e, Policy::NoEviction, 0).unwrap();
        let bytes = w.finish().unwrap();
        let ks = Keyspace::new(16);
        let mut opts = LoadOptions::new(16, 0);
        opts.input_len = Some(bytes.len() as u64);
        load_into(&bytes[..], &opts, &ks, &mut |_| {}).unwrap();
        let db = ks.lock(0);
        assert_eq!(db.len(), 1);
        assert!(db.used_memory() < 1 << 20, "{} bytes", db.used_memory());
    }
}
