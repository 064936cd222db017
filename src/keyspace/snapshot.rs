//! Forkless point-in-time snapshots of the keyspace: what BGSAVE (and
//! later the AOF rewrite) serialize, without `fork` and without stopping
//! writers for more than a bounded chunk.
//!
//! **The cut.** [`Snapshot::begin`] locks every DB at once (`lock_all`)
//! and, for each, flips `Db::snap_done` and records the key counts; that is
//! the instant the snapshot shows. O(number of DBs), whatever the dataset.
//!
//! **The epoch bit.** Every entry carries one bit in its flags byte.
//! While no snapshot runs each entry's bit equals its DB's `snap_done`
//! (`Db::insert` stamps it, `Db::modify_with` re-stamps it after the
//! closure, which may rebuild the block). Flipping `snap_done` at the cut
//! makes every existing entry *owed* to the snapshot in O(1); entries
//! created after it are stamped with the new value and so are never owed,
//! hence never emitted. Handing an entry over (walk or pre-image) sets its
//! bit back to `snap_done`, so each key is emitted exactly once. A per-entry
//! bit rather than a per-segment version (Dragonfly's DashTable) because the
//! write that meets an unserialized entry then copies that one entry, not
//! its whole segment of up to 896: a write's extra latency is one value.
//!
//! **The walk.** Per DB a cursor — a hash value, as SCAN's — walks the
//! table segment by segment (`Table::walk_step`), taking the DB lock for
//! at most [`STEP_ENTRIES`] entries or [`STEP_BYTES`] of copied bytes,
//! then releasing it. Under the lock an entry is only handed over
//! (`Entry::share`): a string is copied (one block), a collection shared —
//! the large encodings keep their data in reference-counted chunks (list
//! nodes, set and hash segments, sorted-set node blocks of 1024, stream
//! nodes), so sharing costs O(chunks) and the live value copies a chunk
//! only when it next writes to it. Everything is encoded once the lock is
//! released, so the writers' wait is a memcpy per key, never an encoding.
//! Segment splits during the walk are harmless: a boundary
//! stays a boundary, and the bits, not positions, say what is left.
//! DBs are written one after the other in index order, so a consumer gets
//! each DB's records contiguously after a [`Chunk::BeginDb`] (an RDB's
//! SELECTDB/RESIZEDB); order inside a DB is free.
//!
//! **Pre-images.** A write about to replace, change or remove an owed
//! entry (`insert` over a key, `remove` — DEL, MOVE's source, lazy expiry,
//! eviction —, `modify_with` and so `with_object`, active expiry) first
//! hands it over the same way into the DB's queue, under the DB lock it
//! already holds; the walk takes that queue when it next takes the lock.
//! So the first write to a huge collection during a snapshot costs its
//! chunk list plus the one chunk it changes, not the collection
//! ([`SnapshotStats::copied_bytes`] counts what lock holders copied). An
//! entry is pre-imaged at most once per snapshot; the queues of DBs the
//! walk has not reached wait for their turn (each DB's records stay
//! contiguous), and the chunks they share stay alive until encoded: the
//! peak ([`SnapshotStats::peak_queued_bytes`], counted at full size) is
//! what writers changed in the DBs ahead of the walk. A stream's consumer
//! groups are shared the same way (their PELs and consumers live in leaves
//! of 128 items, `stream::chunked`). Known limit: small encodings are
//! copied (they are bounded by the `*-max-listpack-*` thresholds).
//! LRU/LFU clocks are read at hand-over, not at the cut (the encoder gets
//! the DB's policy, so an RDB keeps IDLE/FREQ as SAVE writes them);
//! expired-but-present keys are emitted (the encoder or loader drops them,
//! as Redis's loader does).
//!
//! **FLUSHDB / FLUSHALL.** `Db::flush` hands the old table to the
//! snapshot (`DbSnap::orphan`) when the walk has not finished the DB; the
//! walk goes on over it from the same cursor and frees it at the end
//! (outside the lock). The new table holds only post-cut keys. Until then
//! the old table's memory is outside the DB's `used_memory`, as a table
//! freed by FLUSHDB ASYNC is.
//!
//! **SWAPDB.** The snapshot state (cursor, queue, orphan, output index)
//! belongs to the contents and swaps with them (`Db::swap_contents`), so
//! each DB is still written under the index it had at the cut; the walk
//! finds moved contents by their output index. No DB has to finish first.
//! MOVE and COPY … DB need nothing: the removal is a pre-image, the key
//! inserted into the other DB is born after the cut.
//!
//! **Cost when idle.** `Db::snap` is `None`: one predictable branch per
//! mutation, plus a byte store of the bit in `insert`/`modify_with`. A SET
//! over an owed key pays its pre-image: 97 ns against 77 ns with no
//! snapshot (`benches/keyspace.rs`, `snapshot_set`, 40-byte entries). A
//! write to a chunked collection checks its chunk's reference count
//! (`Arc::make_mut`).
//!
//! **Cancellation.** Dropping an unfinished [`Snapshot`] (or cancelling a
//! [`SnapshotHandle`]) stops writers encoding and finishes the walk without
//! encoding — bits only, O(remaining entries) in the same bounded chunks —
//! so every entry again carries `snap_done` and the next snapshot starts
//! clean. One snapshot at a time: the bit has room for one epoch.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::MutexGuard;

use super::entry::Entry;
use super::evict::Policy;
use super::table::Table;
use super::{Db, Keyspace};

/// Turns an entry into its serialized record(s), appended to the buffer
/// (the RDB codec plugs in here), given the eviction policy of the entry's
/// DB (which says what its clock bits mean: LRU time or LFU counter).
/// Runs under the entry's DB lock, or on the walk's private copy of it.
pub type Encoder = Arc<dyn Fn(&Entry, Policy, &mut Vec<u8>) + Send + Sync>;

/// Entries a walk step emits per lock acquisition. The walk costs ~19 ns
/// a key with a trivial encoder (`benches/keyspace.rs`,
/// `snapshot_100k/walk`: 1.9 ms per 100k keys); copying a string entry
/// adds its allocation and copy, so a step holds the lock for ~5 µs with
/// small values (encoding happens after the lock is released). A writer
/// that meets the walk then mostly gets the lock while still spinning,
/// before it parks: on a 2-core VM, steps of 256 entries (~20 µs) made
/// writers park and wake late, and their p99 during BGSAVE went from 60 µs
/// to 3 ms; with 64 it stayed at the idle p99 (`benches/bgsave.sh`). A
/// step also reads past the done entries of at most a few segments.
pub const STEP_ENTRIES: usize = 64;
/// Entry bytes a walk step copies or encodes before releasing the lock,
/// so bigger values make shorter steps.
pub const STEP_BYTES: usize = 16 * 1024;
/// Segments a step moves through, bounding the hold on sparse tables.
const STEP_SEGMENTS: usize = 64;

/// What a [`Snapshot::step`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// DB `db`'s records follow (until the next `BeginDb` or `Done`); its
    /// key and TTL counts at the cut, for RDB's RESIZEDB. DBs empty at the
    /// cut get none, DBs come in increasing index order.
    BeginDb {
        db: usize,
        keys: usize,
        volatile: usize,
    },
    /// Encoded records of DB `db` are in the step's buffer.
    Records { db: usize },
    /// Every entry of the cut was emitted.
    Done,
}

/// Progress counters (see [`Snapshot::stats`], [`SnapshotHandle::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Entries emitted so far, by the walk or as pre-images.
    pub keys_done: u64,
    /// Entries a writer handed over before changing them.
    pub pre_images: u64,
    /// Bytes copied under a DB lock to hand entries over (strings whole,
    /// collections their chunk lists: [`Entry::share_cost`]).
    pub copied_bytes: u64,
    /// Encoded bytes produced (walk and pre-images).
    pub bytes: u64,
    /// Pre-image bytes waiting for the walk now (the entries' full size,
    /// shared chunks included).
    pub queued_bytes: u64,
    /// The most pre-image bytes ever waiting at once.
    pub peak_queued_bytes: u64,
    /// DBs fully emitted.
    pub dbs_done: usize,
}

/// [`Snapshot::begin`] found another snapshot running (or draining).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a snapshot is already in progress")]
pub struct SnapshotBusy;

/// State shared by the walk, the writers' pre-images and the handle.
struct Shared {
    encoder: Encoder,
    /// Set by a cancel: writers stop encoding, the walk only clears bits.
    cancelled: AtomicBool,
    keys_done: AtomicU64,
    pre_images: AtomicU64,
    copied: AtomicU64,
    bytes: AtomicU64,
    queued: AtomicU64,
    peak_queued: AtomicU64,
    dbs_done: AtomicUsize,
}

impl Shared {
    fn stats(&self) -> SnapshotStats {
        SnapshotStats {
            keys_done: self.keys_done.load(Ordering::Relaxed),
            pre_images: self.pre_images.load(Ordering::Relaxed),
            copied_bytes: self.copied.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            queued_bytes: self.queued.load(Ordering::Relaxed),
            peak_queued_bytes: self.peak_queued.load(Ordering::Relaxed),
            dbs_done: self.dbs_done.load(Ordering::Relaxed),
        }
    }
}

/// A running snapshot's state for one DB's contents, kept in the `Db`
/// (under its lock) so writers reach it without another lock.
pub(super) struct DbSnap {
    shared: Arc<Shared>,
    /// The DB index these contents had at the cut (SWAPDB may move them).
    output: usize,
    /// Every owed entry hashes at or above this (see `Table::walk_step`).
    cursor: u64,
    /// The table FLUSHDB replaced while the walk was inside it.
    pub(super) orphan: Option<Table>,
    /// Pre-images not yet handed to the walk: copies of strings, shared
    /// copies of collections ([`Entry::share`]), encoded by the walk once
    /// it has released the lock.
    queue: Vec<Entry>,
    /// Their `mem_usage`, counted in [`SnapshotStats::queued_bytes`].
    queue_bytes: u64,
}

impl DbSnap {
    /// Queues `e`'s encoding if it is still owed to the snapshot (its bit
    /// differs from `done`). The caller is about to drop `e` or re-stamp
    /// its bit, so `e` is never emitted twice.
    #[cold]
    #[inline(never)]
    pub(super) fn pre_image(&mut self, e: &Entry, done: bool) {
        if e.snap_bit() == done || self.shared.cancelled.load(Ordering::Relaxed) {
            return;
        }
        let copy = e.share();
        let n = copy.mem_usage() as u64;
        let s = &self.shared;
        s.copied
            .fetch_add(copy.share_cost() as u64, Ordering::Relaxed);
        self.queue.push(copy);
        self.queue_bytes += n;
        s.pre_images.fetch_add(1, Ordering::Relaxed);
        s.keys_done.fetch_add(1, Ordering::Relaxed);
        let queued = s.queued.fetch_add(n, Ordering::Relaxed) + n;
        s.peak_queued.fetch_max(queued, Ordering::Relaxed);
    }
}

/// DB index and counts at the cut of a DB that had keys.
struct Planned {
    db: usize,
    keys: usize,
    volatile: usize,
}

/// A point-in-time snapshot being walked; see the module doc. Step it by
/// hand ([`Snapshot::step`]) or run it on a thread ([`Snapshot::spawn`]).
/// Dropping it before [`Chunk::Done`] cancels it.
pub struct Snapshot<K: AsRef<Keyspace>> {
    ks: K,
    shared: Arc<Shared>,
    plan: Vec<Planned>,
    /// Position in `plan`.
    next: usize,
    /// Where `plan[next]`'s contents were last found (SWAPDB moves them).
    slot: usize,
    /// `BeginDb` was returned for `plan[next]`.
    begun: bool,
    finished: bool,
    step_entries: usize,
    /// Copies of string entries taken under the lock, encoded after it.
    staged: Vec<Entry>,
}

impl<K: AsRef<Keyspace>> Snapshot<K> {
    /// Takes the cut. `Err(SnapshotBusy)` while another snapshot runs.
    pub fn begin(ks: K, encoder: Encoder) -> Result<Self, SnapshotBusy> {
        Self::begin_inspect(ks, encoder, |_| {})
    }

    /// [`Snapshot::begin`], running `inspect` inside the cut with every DB
    /// locked: whatever must be consistent with the snapshot is read there
    /// (the AOF offset a rewrite continues from; tests record the
    /// expected contents).
    pub fn begin_inspect(
        ks: K,
        encoder: Encoder,
        inspect: impl FnOnce(&[MutexGuard<'_, Db>]),
    ) -> Result<Self, SnapshotBusy> {
        let keyspace = ks.as_ref();
        if keyspace
            .snapshot_busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(SnapshotBusy);
        }
        let shared = Arc::new(Shared {
            encoder,
            cancelled: AtomicBool::new(false),
            keys_done: AtomicU64::new(0),
            pre_images: AtomicU64::new(0),
            copied: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            peak_queued: AtomicU64::new(0),
            dbs_done: AtomicUsize::new(0),
        });
        let mut plan = Vec::new();
        {
            let mut all = keyspace.lock_all();
            for (i, db) in all.iter_mut().enumerate() {
                debug_assert!(db.snap.is_none(), "snapshot_busy guards one at a time");
                // Every entry carries `snap_done`; flipping it makes each
                // one owed, in O(1).
                db.snap_done = !db.snap_done;
                if db.is_empty() {
                    continue;
                }
                plan.push(Planned {
                    db: i,
                    keys: db.len(),
                    volatile: db.volatile(),
                });
                db.snap = Some(Box::new(DbSnap {
                    shared: Arc::clone(&shared),
                    output: i,
                    cursor: 0,
                    orphan: None,
                    queue: Vec::new(),
                    queue_bytes: 0,
                }));
            }
            inspect(&all);
        }
        let slot = plan.first().map_or(0, |p| p.db);
        Ok(Snapshot {
            ks,
            shared,
            plan,
            next: 0,
            slot,
            begun: false,
            finished: false,
            step_entries: STEP_ENTRIES,
            staged: Vec::new(),
        })
    }

    /// Owed entries a step emits per lock hold (tests use tiny steps to
    /// interleave writes finely). At least 1.
    pub fn set_step_entries(&mut self, n: usize) {
        self.step_entries = n.max(1);
    }

    /// The next piece of the snapshot: clears `out`, and for
    /// [`Chunk::Records`] fills it with encoded records. Each call holds a
    /// DB lock only for bounded chunks; keep calling until [`Chunk::Done`].
    pub fn step(&mut self, out: &mut Vec<u8>) -> Chunk {
        out.clear();
        self.advance(out, true)
    }

    pub fn stats(&self) -> SnapshotStats {
        self.shared.stats()
    }

    /// Walks on until something is emitted (or everything is done). With
    /// `encode` false (cancel) nothing is emitted: owed entries only get
    /// their bit cleared, and this returns at `Done`.
    fn advance(&mut self, out: &mut Vec<u8>, encode: bool) -> Chunk {
        loop {
            let Some(p) = self.plan.get(self.next) else {
                self.finish();
                return Chunk::Done;
            };
            let (output, keys, volatile) = (p.db, p.keys, p.volatile);
            if !self.begun {
                self.begun = true;
                if encode {
                    return Chunk::BeginDb {
                        db: output,
                        keys,
                        volatile,
                    };
                }
            }
            let ks = self.ks.as_ref();
            let finished = match lock_owner(ks, &self.shared, output, &mut self.slot) {
                Some(mut db) => {
                    let policy = db.policy;
                    let done = walk_chunk(
                        &mut db,
                        &self.shared,
                        &mut self.staged,
                        encode,
                        self.step_entries,
                    );
                    // Freed after the unlock: an orphaned table may be big.
                    let leftover = if done { db.snap.take() } else { None };
                    // A writer waiting on the DB goes first: the walk
                    // comes straight back for its next chunk and would
                    // otherwise win the lock again (parking_lot barges).
                    MutexGuard::unlock_fair(db);
                    drop(leftover);
                    encode_staged(&self.shared, &mut self.staged, out, policy);
                    done
                }
                None => {
                    debug_assert!(false, "a DB's snapshot state vanished");
                    true
                }
            };
            if finished {
                self.next += 1;
                self.begun = false;
                self.shared.dbs_done.fetch_add(1, Ordering::Relaxed);
            }
            if !out.is_empty() {
                return Chunk::Records { db: output };
            }
        }
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.ks
                .as_ref()
                .snapshot_busy
                .store(false, Ordering::Release);
        }
    }
}

impl<K: AsRef<Keyspace> + Send + 'static> Snapshot<K> {
    /// Runs the walk on its own thread, feeding `sink` each chunk and the
    /// records it carries (empty for `BeginDb`/`Done`). A sink error
    /// cancels the snapshot and is what [`SnapshotHandle::join`] returns.
    pub fn spawn<S>(mut self, mut sink: S) -> io::Result<SnapshotHandle>
    where
        S: FnMut(Chunk, &[u8]) -> io::Result<()> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        let thread = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let mut buf = Vec::new();
                loop {
                    if self.shared.cancelled.load(Ordering::Relaxed) {
                        // Dropping `self` finishes the cancel.
                        return Err(io::Error::new(
                            io::ErrorKind::Interrupted,
                            "snapshot cancelled",
                        ));
                    }
                    let chunk = self.step(&mut buf);
                    sink(chunk, &buf)?;
                    if chunk == Chunk::Done {
                        return Ok(self.stats());
                    }
                }
            })?;
        Ok(SnapshotHandle {
            shared,
            thread: Some(thread),
        })
    }
}

impl<K: AsRef<Keyspace>> Drop for Snapshot<K> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Cancelled: writers stop encoding, and the walk runs to the end
        // clearing bits only, so every entry carries `snap_done` again.
        self.shared.cancelled.store(true, Ordering::Relaxed);
        let mut scratch = Vec::new();
        self.advance(&mut scratch, false);
    }
}

/// A snapshot running on its own thread ([`Snapshot::spawn`]). Dropping
/// the handle cancels an unfinished snapshot; the thread then clears the
/// remaining bits and exits ([`Keyspace::snapshot_running`] turns false).
pub struct SnapshotHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<io::Result<SnapshotStats>>>,
}

impl SnapshotHandle {
    pub fn stats(&self) -> SnapshotStats {
        self.shared.stats()
    }

    /// True once the thread has exited (done, failed or cancelled).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Asks the walk to stop; [`SnapshotHandle::join`] then returns an
    /// `Interrupted` error unless it had already finished.
    pub fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::Relaxed);
    }

    /// Waits for the thread: the final stats, or the sink's error. Blocks;
    /// from async code call it in `spawn_blocking`, or poll `is_finished`.
    pub fn join(mut self) -> io::Result<SnapshotStats> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("snapshot thread panicked"))?,
            None => Err(io::Error::other("snapshot already joined")),
        }
    }
}

impl Drop for SnapshotHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.cancel();
        }
    }
}

impl AsRef<Keyspace> for Keyspace {
    fn as_ref(&self) -> &Keyspace {
        self
    }
}

impl Keyspace {
    /// A snapshot is running or still clearing its bits after a cancel.
    pub fn snapshot_running(&self) -> bool {
        self.snapshot_busy.load(Ordering::Acquire)
    }
}

/// Encodes the entries the last step copied, with no lock held.
fn encode_staged(shared: &Shared, staged: &mut Vec<Entry>, out: &mut Vec<u8>, policy: Policy) {
    if staged.is_empty() {
        return;
    }
    let start = out.len();
    for e in staged.drain(..) {
        (shared.encoder)(&e, policy, out);
    }
    shared
        .bytes
        .fetch_add((out.len() - start) as u64, Ordering::Relaxed);
}

/// Locks the DB now holding the contents that were DB `output` at the cut.
fn lock_owner<'a>(
    ks: &'a Keyspace,
    shared: &Arc<Shared>,
    output: usize,
    slot: &mut usize,
) -> Option<MutexGuard<'a, Db>> {
    let owns = |db: &Db| {
        db.snap
            .as_ref()
            .is_some_and(|s| s.output == output && Arc::ptr_eq(&s.shared, shared))
    };
    let db = ks.lock(*slot);
    if owns(&db) {
        return Some(db);
    }
    drop(db);
    // SWAPDB moved them: search with every DB held, so they cannot move
    // again behind the search.
    let mut all = ks.lock_all();
    let i = all.iter().position(|db| owns(db))?;
    *slot = i;
    Some(all.swap_remove(i))
}

/// One bounded chunk of the walk over `db`'s contents: moves queued
/// pre-images into `staged`, then adds the owed entries from the cursor
/// on (strings copied, collections shared: [`Entry::share`]), for the
/// caller to encode once the lock is released. True when the contents are
/// finished.
fn walk_chunk(
    db: &mut Db,
    shared: &Shared,
    staged: &mut Vec<Entry>,
    encode: bool,
    budget: usize,
) -> bool {
    let Db {
        table,
        snap,
        snap_done,
        ..
    } = db;
    let done = *snap_done;
    let Some(s) = snap.as_deref_mut() else {
        return true;
    };
    shared.queued.fetch_sub(s.queue_bytes, Ordering::Relaxed);
    s.queue_bytes = 0;
    if encode {
        staged.append(&mut s.queue);
    } else {
        s.queue = Vec::new();
    }
    let t = match s.orphan.as_mut() {
        Some(t) => t,
        None => table,
    };
    let mut seen = 0usize;
    let mut emitted = 0u64;
    // Output produced or staged in this step.
    let mut held = 0usize;
    let mut cursor = s.cursor;
    let mut finished = false;
    for _ in 0..STEP_SEGMENTS {
        let next = t.walk_step(cursor, |e| {
            if e.snap_bit() != done {
                // Only owed entries count: a segment revisited after an
                // early stop starts with entries already done, and the
                // step must get past them.
                seen += 1;
                if encode {
                    // A string is copied, a collection shared: both are
                    // encoded after the lock is released.
                    let copy = e.share();
                    held += copy.share_cost();
                    staged.push(copy);
                    emitted += 1;
                }
                e.set_snap_bit(done);
            }
            seen < budget && held < STEP_BYTES
        });
        match next {
            None => {
                finished = true;
                break;
            }
            Some(c) => cursor = c,
        }
        if seen >= budget || held >= STEP_BYTES {
            break;
        }
    }
    s.cursor = cursor;
    shared.copied.fetch_add(held as u64, Ordering::Relaxed);
    shared.keys_done.fetch_add(emitted, Ordering::Relaxed);
    finished
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::entry::{NewValue, ValueRef};
    use crate::keyspace::evict::Policy;
    use crate::keyspace::types::{hash::HashValue, list::ListValue};
    use crate::keyspace::value::{Object, Thresholds};
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicI64;

    type DbMap = BTreeMap<Vec<u8>, Vec<u8>>;

    /// The canonical text of a value: expiry, type, then its items
    /// (hash fields sorted, as `f=v`), shared by the keyspace and the model.
    fn canon_text(
        exp: Option<i64>,
        kind: &str,
        items: impl IntoIterator<Item = Vec<u8>>,
    ) -> Vec<u8> {
        let mut s = format!("exp={exp:?};{kind}:").into_bytes();
        for item in items {
            s.extend_from_slice(&item);
            s.push(b',');
        }
        s
    }

    fn pair(f: &[u8], v: &[u8]) -> Vec<u8> {
        [f, b"=", v].concat()
    }

    /// An entry's canonical text (integer-encoded strings as decimal).
    fn canon(e: &Entry) -> Vec<u8> {
        let exp = e.expire();
        match e.value() {
            ValueRef::Str(v) => canon_text(exp, "str", [v.to_vec()]),
            ValueRef::Int(n) => canon_text(exp, "str", [n.to_string().into_bytes()]),
            ValueRef::Obj(Object::Hash(h)) => {
                let mut pairs: Vec<_> = h.iter().collect();
                pairs.sort();
                canon_text(exp, "hash", pairs.into_iter().map(|(f, v)| pair(f, v)))
            }
            ValueRef::Obj(Object::List(l)) => canon_text(exp, "list", l.iter().map(|x| x.to_vec())),
            ValueRef::Obj(Object::Set(m)) => {
                let mut members: Vec<_> = m.iter().map(|x| x.to_vec()).collect();
                members.sort();
                canon_text(exp, "set", members)
            }
            ValueRef::Obj(Object::ZSet(z)) => {
                let mut items = Vec::new();
                z.for_each(|m, score| items.push(pair(m, score.to_string().as_bytes())));
                canon_text(exp, "zset", items)
            }
            ValueRef::Obj(Object::Stream(x)) => {
                use crate::keyspace::types::stream::StreamId;
                let entries = x.range(StreamId::ZERO, StreamId::MAX).map(|(id, e)| {
                    let mut b = format!("{}-{}", id.ms, id.seq).into_bytes();
                    for f in e.iter() {
                        b.push(b' ');
                        b.extend_from_slice(f);
                    }
                    b
                });
                // Consumer groups after the entries, as the RDB has them.
                let groups = x.groups().iter().map(|(name, g)| {
                    let mut b = format!(
                        "group {} {:?} {}:",
                        String::from_utf8_lossy(name),
                        g.last_id,
                        g.entries_read
                    );
                    for (id, n) in g.pel().iter() {
                        b += &format!(
                            " {}-{}/{}/{}/{}",
                            id.ms,
                            id.seq,
                            String::from_utf8_lossy(n.consumer()),
                            n.delivery_time,
                            n.delivery_count
                        );
                    }
                    for (cname, c) in g.consumers().iter() {
                        b += &format!(
                            " consumer {} {} {} {}:",
                            String::from_utf8_lossy(cname),
                            c.seen_time,
                            c.active_time,
                            c.pending()
                        );
                        for id in g.consumer_pel(c, StreamId::ZERO) {
                            b += &format!(" {}-{}", id.ms, id.seq);
                        }
                    }
                    b.into_bytes()
                });
                canon_text(exp, "stream", entries.chain(groups))
            }
        }
    }

    fn put(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    }

    /// Records: length-prefixed key, then length-prefixed canonical value.
    fn encoder() -> Encoder {
        Arc::new(|e: &Entry, _: Policy, out: &mut Vec<u8>| {
            put(out, e.key());
            put(out, &canon(e));
        })
    }

    fn contents(db: &Db) -> DbMap {
        db.table
            .iter()
            .map(|e| (e.key().to_vec(), canon(e)))
            .collect()
    }

    fn all_contents(ks: &Keyspace) -> Vec<DbMap> {
        (0..ks.len()).map(|i| contents(&ks.lock(i))).collect()
    }

    /// Checks the shape of the chunk stream and gathers the records.
    #[derive(Default)]
    struct Collector {
        dbs: Vec<DbMap>,
        current: Option<usize>,
        hints: Vec<(usize, usize)>,
        done: bool,
        buf: Vec<u8>,
    }

    impl Collector {
        fn new(n: usize) -> Self {
            Collector {
                dbs: vec![DbMap::new(); n],
                ..Default::default()
            }
        }

        /// One step of `snap`.
        fn pull<K: AsRef<Keyspace>>(&mut self, snap: &mut Snapshot<K>) {
            let mut buf = std::mem::take(&mut self.buf);
            let chunk = snap.step(&mut buf);
            self.feed(chunk, &buf);
            self.buf = buf;
        }

        /// Steps `snap` to the end; the records per DB.
        fn rest<K: AsRef<Keyspace>>(&mut self, snap: &mut Snapshot<K>) -> &[DbMap] {
            while !self.done {
                self.pull(snap);
            }
            &self.dbs
        }

        fn feed(&mut self, chunk: Chunk, mut bytes: &[u8]) {
            assert!(!self.done, "nothing after Done");
            match chunk {
                Chunk::BeginDb { db, keys, .. } => {
                    assert!(self.current.is_none_or(|c| db > c), "DBs in index order");
                    self.current = Some(db);
                    self.hints.push((db, keys));
                }
                Chunk::Records { db } => {
                    assert_eq!(self.current, Some(db), "records of the DB begun");
                    assert!(!bytes.is_empty());
                    let take = |b: &mut &[u8]| {
                        let n = u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
                        let v = b[4..4 + n].to_vec();
                        *b = &b[4 + n..];
                        v
                    };
                    while !bytes.is_empty() {
                        let k = take(&mut bytes);
                        let v = take(&mut bytes);
                        let prev = self.dbs[db].insert(k.clone(), v);
                        assert!(prev.is_none(), "key {k:?} emitted twice in DB {db}");
                    }
                }
                Chunk::Done => {
                    self.done = true;
                    // RESIZEDB hints are the counts at the cut.
                    for &(db, keys) in &self.hints {
                        assert_eq!(self.dbs[db].len(), keys, "DB {db}'s key count");
                    }
                }
            }
        }
    }

    fn drain<K: AsRef<Keyspace>>(snap: &mut Snapshot<K>, n: usize) -> Vec<DbMap> {
        Collector::new(n).rest(snap).to_vec()
    }

    /// Runs `snap` on its thread into a collector, the sink pausing
    /// `pause` per chunk (a slow disk); the final stats and the records.
    fn run_spawned<K: AsRef<Keyspace> + Send + 'static>(
        snap: Snapshot<K>,
        n: usize,
        pause: std::time::Duration,
    ) -> (SnapshotStats, Vec<DbMap>) {
        let got = Arc::new(parking_lot::Mutex::new(Collector::new(n)));
        let sink_got = Arc::clone(&got);
        let h = snap
            .spawn(move |chunk, bytes| {
                sink_got.lock().feed(chunk, bytes);
                std::thread::sleep(pause);
                Ok(())
            })
            .unwrap();
        let st = h.join().unwrap();
        let got = got.lock();
        assert!(got.done);
        (st, got.dbs.clone())
    }

    /// `n` DBs of `per_db` mixed keys each, and their contents.
    fn fixture(n: usize, per_db: usize, seed: u64) -> (Keyspace, Thresholds, Vec<DbMap>) {
        let t = Thresholds::default();
        let ks = Keyspace::new(n);
        populate(&ks, per_db, &t, &mut SmallRng::seed_from_u64(seed));
        let want = all_contents(&ks);
        (ks, t, want)
    }

    /// No snapshot state left, every bit back at `snap_done`.
    fn assert_clean(ks: &Keyspace) {
        assert!(!ks.snapshot_running());
        for i in 0..ks.len() {
            let db = ks.lock(i);
            assert!(db.snap.is_none(), "DB {i} keeps snapshot state");
            assert!(
                db.table.iter().all(|e| e.snap_bit() == db.snap_done),
                "DB {i} has entries still owed"
            );
        }
    }

    fn populate(ks: &Keyspace, per_db: usize, t: &Thresholds, rng: &mut SmallRng) {
        for i in 0..ks.len() {
            let mut db = ks.lock(i);
            for k in 0..per_db {
                let key = format!("k{k}").into_bytes();
                match k % 4 {
                    0 => {
                        db.insert(Entry::new(&key, NewValue::Str(b"value"), None, 0));
                    }
                    1 => {
                        let exp = rng.gen_bool(0.3).then(|| rng.gen_range(10..400));
                        db.insert(Entry::new(&key, NewValue::Int(k as i64), exp, 0));
                    }
                    2 => hset(&mut db, &key, b"f", b"v", 0, t),
                    _ => rpush(&mut db, &key, b"x", 0, t),
                }
            }
        }
    }

    fn hset(db: &mut Db, key: &[u8], f: &[u8], v: &[u8], now: i64, t: &Thresholds) {
        let make = || Object::Hash(HashValue::new(t));
        let _ = db.with_object(key, now, Some(&make), |o| {
            if let Object::Hash(h) = o {
                h.set(f, v, t);
            }
        });
    }

    fn rpush(db: &mut Db, key: &[u8], v: &[u8], now: i64, t: &Thresholds) {
        let make = || Object::List(ListValue::new(t));
        let _ = db.with_object(key, now, Some(&make), |o| {
            if let Object::List(l) = o {
                l.prepare_add(t, v.len(), 1);
                l.push(v, false);
            }
        });
    }

    fn incr(db: &mut Db, key: &[u8], now: i64) {
        db.modify(key, now, |e| {
            if let ValueRef::Int(n) = e.value() {
                e.set_int_in_place(n + 1);
            }
        });
    }

    #[test]
    fn static_keyspace_round_trips_and_repeats() {
        let (ks, _, _) = fixture(4, 3000, 1);
        ks.lock(2).flush(); // one empty DB: no BeginDb for it
        let want = all_contents(&ks);
        for round in 0..3 {
            let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
            assert_eq!(Snapshot::begin(&ks, encoder()).err(), Some(SnapshotBusy));
            snap.set_step_entries(100 + round * 300);
            assert_eq!(drain(&mut snap, 4), want, "round {round}");
            let st = snap.stats();
            assert_eq!((st.keys_done, st.pre_images, st.dbs_done), (9000, 0, 3));
            drop(snap);
            assert_clean(&ks);
        }
    }

    #[test]
    fn writes_during_the_walk_see_the_cut() {
        let (ks, t, want) = fixture(2, 2000, 2);
        let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
        snap.set_step_entries(10);
        let mut c = Collector::new(2);
        c.pull(&mut snap);
        {
            let mut db = ks.lock(0);
            db.insert(Entry::new(b"k0", NewValue::Str(b"new"), None, 0));
            db.insert(Entry::new(b"born-after", NewValue::Str(b"x"), None, 0));
            db.remove(b"k4");
            incr(&mut db, b"k1", 0);
            hset(&mut db, b"k2", b"g", b"w", 0, &t);
            rpush(&mut db, b"k3", b"y", 0, &t);
            db.modify(b"k8", 0, |e| e.set_expire(Some(5)));
            // A second touch of the same key owes nothing more.
            incr(&mut db, b"k1", 0);
        }
        assert_eq!(c.rest(&mut snap), want);
        let st = snap.stats();
        assert!(st.pre_images >= 5 && st.peak_queued_bytes > 0, "{st:?}");
        assert_eq!(st.queued_bytes, 0);
        drop(snap);
        assert_clean(&ks);
    }

    #[test]
    fn splits_and_big_pre_images_during_the_walk() {
        let (ks, t, _) = fixture(1, 1000, 8);
        {
            let mut db = ks.lock(0);
            for i in 0..10_000 {
                hset(&mut db, b"big", format!("f{i}").as_bytes(), b"v", 0, &t);
            }
        }
        let want = all_contents(&ks);
        let segments = ks.lock(0).table.segment_count();
        let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
        snap.set_step_entries(50);
        let mut c = Collector::new(1);
        c.pull(&mut snap); // BeginDb: nothing visited yet
                           // The first write to the big hash copies it whole, once.
        hset(&mut ks.lock(0), b"big", b"f1", b"changed", 0, &t);
        let mut round = 0;
        while !c.done {
            c.pull(&mut snap);
            let mut db = ks.lock(0);
            // Growth splits segments under the cursor and ahead of it.
            for j in 0..500 {
                let k = format!("new{round}-{j}");
                db.insert(Entry::new(k.as_bytes(), NewValue::Int(1), None, 0));
            }
            hset(&mut db, b"big", b"f2", b"changed", 0, &t);
            round += 1;
        }
        assert!(ks.lock(0).table.segment_count() > segments * 4);
        assert_eq!(c.dbs, want);
        // One pre-image, the hash whole (10k fields of ~8 bytes).
        let st = snap.stats();
        assert!(
            st.pre_images == 1 && st.peak_queued_bytes > 70_000,
            "{st:?}"
        );
        drop(snap);
        assert_clean(&ks);
    }

    /// Large collections are handed to the snapshot shared, not copied:
    /// the first write to each (a pre-image) and the walk copy their chunk
    /// lists under the lock, and the write itself copies one chunk. The
    /// output is still the cut, read in the RDB encoder's order (a sorted
    /// set from its highest member down).
    #[test]
    fn big_collections_are_shared_with_the_snapshot() {
        use crate::keyspace::types::stream::{StreamId, StreamValue};
        use crate::keyspace::types::{set::SetValue, zset::ZSetValue};
        let ks = Keyspace::new(1);
        let t = Thresholds::default();
        const N: usize = 100_000;
        {
            let mut db = ks.lock(0);
            let mut list = ListValue::new(&t);
            let mut set = SetValue::empty_hashtable();
            let mut zset = ZSetValue::new(&t);
            for i in 0..N {
                let m = format!("member-{i}");
                list.prepare_add(&t, m.len(), 1);
                list.push(m.as_bytes(), false);
                set.add(m.as_bytes(), &t);
                zset.put(m.as_bytes(), i as f64, &t);
            }
            let mut hash = HashValue::new(&t);
            for i in 0..N {
                hash.set(format!("field-{i}").as_bytes(), b"value", &t);
            }
            let mut stream = StreamValue::new(&t);
            for i in 1..=N as u64 {
                stream.append(
                    StreamId { ms: i, seq: 0 },
                    &[b"f", b"v"],
                    Default::default(),
                );
            }
            for (k, o) in [
                ("stream", Object::Stream(Box::new(stream))),
                ("hash", Object::Hash(hash)),
                ("list", Object::List(list)),
                ("set", Object::Set(set)),
                ("zset", Object::ZSet(zset)),
            ] {
                db.insert(Entry::new(
                    k.as_bytes(),
                    NewValue::Obj(Box::new(o)),
                    None,
                    0,
                ));
            }
        }
        let size: usize = ks.lock(0).table.iter().map(|e| e.mem_usage()).sum();
        // The zset's records as the RDB writer reads them.
        let enc: Encoder = Arc::new(|e: &Entry, _: Policy, out: &mut Vec<u8>| {
            put(out, e.key());
            match e.value() {
                ValueRef::Obj(Object::ZSet(z)) => {
                    let mut items = Vec::new();
                    z.for_range(0, usize::MAX, true, |m, sc| {
                        items.push(pair(m, sc.to_string().as_bytes()))
                    });
                    items.reverse();
                    put(out, &canon_text(None, "zset", items));
                }
                _ => put(out, &canon(e)),
            }
        });
        let want = all_contents(&ks);
        let mut snap = Snapshot::begin(&ks, enc).unwrap();
        let mut c = Collector::new(1);
        c.pull(&mut snap); // BeginDb
        {
            let mut db = ks.lock(0);
            let now = 0;
            rpush(&mut db, b"list", b"after", now, &t);
            hset(&mut db, b"hash", b"field-3", b"changed", now, &t);
            let _ = db.with_object(b"stream", now, None, |o| {
                if let Object::Stream(x) = o {
                    x.delete(StreamId { ms: 5, seq: 0 });
                    x.append(
                        StreamId {
                            ms: N as u64 + 1,
                            seq: 0,
                        },
                        &[b"f", b"after"],
                        Default::default(),
                    );
                }
            });
            let _ = db.with_object(b"set", now, None, |o| {
                if let Object::Set(s) = o {
                    s.add(b"after", &t);
                    s.remove(b"member-7");
                }
            });
            let _ = db.with_object(b"zset", now, None, |o| {
                if let Object::ZSet(z) = o {
                    z.put(b"after", 0.5, &t);
                    z.remove(b"member-9");
                }
            });
        }
        assert_eq!(c.rest(&mut snap), want);
        let st = snap.stats();
        assert_eq!(st.pre_images, 5, "{st:?}");
        assert!(
            st.copied_bytes * 100 < size as u64,
            "copied {} of {size} bytes: {st:?}",
            st.copied_bytes
        );
        drop(snap);
        assert_clean(&ks);
        // The live values kept their writes.
        let mut db = ks.lock(0);
        let _ = db.with_object(b"zset", 0, None, |o| {
            if let Object::ZSet(z) = o {
                assert_eq!(z.score(b"after"), Some(0.5));
                assert_eq!(z.score(b"member-9"), None);
                assert_eq!(z.len(), N);
            }
        });
    }

    /// A stream's consumer groups are shared with the snapshot as its
    /// entries are: with 100k entries pending in a group, XACK, XCLAIM,
    /// XREADGROUP (new and history) and XGROUP DELCONSUMER during the
    /// snapshot copy the leaves they touch, the hand-over copies the
    /// leaves' indexes, and the output is still the cut.
    #[test]
    fn stream_groups_are_shared_with_the_snapshot() {
        use crate::keyspace::types::stream::{StreamId, StreamValue};
        let ks = Keyspace::new(1);
        let t = Thresholds::default();
        const N: u64 = 100_000;
        let id = |ms: u64| StreamId { ms, seq: 0 };
        let mut stream = StreamValue::new(&t);
        for i in 1..=N {
            stream.append(id(i), &[b"job", b"payload"], Default::default());
        }
        let before = stream.mem_usage();
        assert!(stream.create_group(b"workers", StreamId::ZERO, 0));
        assert!(stream.create_group(b"audit", StreamId::ZERO, 0));
        // Two consumers read in turns, ten entries at a time, as
        // XREADGROUP … COUNT 10 does; nothing is acknowledged.
        let (view, mut g) = stream.split_group(b"workers").expect("created");
        g.ensure_consumer(b"alice", 1);
        g.ensure_consumer(b"bob", 1);
        for i in 1..=N {
            view.advance(&mut g, id(i));
            let c: &[u8] = if (i / 10) % 2 == 0 { b"alice" } else { b"bob" };
            g.deliver(id(i), c, i as i64, |_| 1);
        }
        assert_eq!(g.group().pel().len(), N as usize);
        let pel_bytes = stream.mem_usage() - before;
        ks.lock(0).insert(Entry::new(
            b"stream",
            NewValue::Obj(Box::new(Object::Stream(Box::new(stream)))),
            None,
            0,
        ));
        let want = all_contents(&ks);
        let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
        let mut c = Collector::new(1);
        c.pull(&mut snap); // BeginDb
        {
            let mut db = ks.lock(0);
            let _ = db.with_object(b"stream", 0, None, |o| {
                let Object::Stream(x) = o else {
                    unreachable!("a stream")
                };
                x.append(id(N + 1), &[b"job", b"new"], Default::default());
                let (view, mut g) = x.split_group(b"workers").expect("exists");
                // XACK: the oldest, one in the middle, and the newest.
                for i in [1, 2, N / 2, N] {
                    assert!(g.ack(id(i)));
                }
                // XCLAIM: alice's entry to bob, with a new time and count.
                g.deliver(id(20), b"bob", 7, |c| c.map_or(1, |c| c + 1));
                // XREADGROUP >: a new consumer gets the new entry.
                g.ensure_consumer(b"carol", 9);
                view.advance(&mut g, id(N + 1));
                g.deliver(id(N + 1), b"carol", 9, |_| 1);
                // XREADGROUP history: bob's first pending, redelivered.
                let first = g
                    .group()
                    .consumer(b"bob")
                    .and_then(|c| g.group().consumer_pel(c, StreamId::ZERO).next())
                    .expect("bob has entries pending");
                if let Some(n) = g.pel_mut(first) {
                    n.delivery_time = 11;
                    n.delivery_count += 1;
                }
                if let Some(c) = g.consumer_mut(b"bob") {
                    c.seen_time = 11;
                }
                x.with_group(b"audit", |g| {
                    g.ensure_consumer(b"dave", 12);
                    g.deliver(id(3), b"dave", 12, |_| 1);
                    // XGROUP DELCONSUMER
                    assert_eq!(g.delete_consumer(b"dave"), Some(1));
                });
            });
        }
        assert_eq!(c.rest(&mut snap), want);
        let st = snap.stats();
        assert_eq!(st.pre_images, 1, "{st:?}");
        assert!(
            st.copied_bytes * 100 < pel_bytes as u64,
            "copied {} bytes for a PEL of {pel_bytes}: {st:?}",
            st.copied_bytes
        );
        drop(snap);
        assert_clean(&ks);
        // The live stream kept its writes, with exact accounting.
        let mut db = ks.lock(0);
        let _ = db.with_object(b"stream", 0, None, |o| {
            let Object::Stream(x) = o else {
                unreachable!("a stream")
            };
            assert_eq!(x.mem_usage(), x.recount());
            let g = x.group(b"workers").expect("exists");
            assert_eq!(g.pel().len(), N as usize - 4 + 1);
            assert_eq!(
                g.pel().get(&id(20)).map(|n| n.consumer()),
                Some(&b"bob"[..])
            );
            assert_eq!(g.consumer(b"carol").map(|c| c.pending()), Some(1));
            let alice = g.consumer(b"alice").expect("exists");
            assert!(g.consumer_pel(alice, StreamId::ZERO).all(|i| i != id(20)));
            assert_eq!(
                g.consumer_pel(alice, StreamId::ZERO).count(),
                alice.pending()
            );
        });
    }

    #[test]
    fn flushdb_hands_the_old_table_over() {
        let (ks, _, want) = fixture(1, 5000, 3);
        let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
        snap.set_step_entries(500);
        let mut c = Collector::new(1);
        for _ in 0..3 {
            c.pull(&mut snap);
        }
        let freed = ks.lock(0).flush();
        assert!(freed.is_empty(), "the snapshot kept the old table");
        ks.lock(0)
            .insert(Entry::new(b"k1", NewValue::Str(b"after"), None, 0));
        let freed = ks.lock(0).flush();
        assert_eq!(freed.len(), 1, "a second flush frees post-cut keys");
        assert_eq!(c.rest(&mut snap), want);
        drop(snap);
        assert_clean(&ks);
    }

    #[test]
    fn swapdb_moves_the_walk_with_the_contents() {
        let (ks, _, _) = fixture(3, 2000, 4);
        ks.lock(1).flush();
        let want = all_contents(&ks);
        let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
        snap.set_step_entries(300);
        let mut c = Collector::new(3);
        for i in 0..6 {
            c.pull(&mut snap);
            // DB 0 mid-walk, DB 2 not begun, DB 1 empty at the cut.
            let (a, b) = [(0, 2), (0, 1), (1, 2)][i % 3];
            let (mut da, mut db) = ks.lock_two(a, b);
            da.swap_contents(&mut db);
            da.remove(b"k5");
            db.insert(Entry::new(b"k6", NewValue::Str(b"z"), None, 0));
        }
        assert_eq!(c.rest(&mut snap), want);
        drop(snap);
        assert_clean(&ks);
    }

    #[test]
    fn cancel_leaves_no_state() {
        let (ks, _, _) = fixture(3, 2000, 5);
        let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
        snap.set_step_entries(100);
        let mut c = Collector::new(3);
        for _ in 0..8 {
            c.pull(&mut snap);
        }
        ks.lock(1).remove(b"k7");
        drop(snap);
        assert_clean(&ks);
        let want = all_contents(&ks);
        let mut snap = Snapshot::begin(&ks, encoder()).unwrap();
        assert_eq!(drain(&mut snap, 3), want);
    }

    /// The server's state owns the keyspace behind an `Arc`; one
    /// `AsRef` impl (allowed by the orphan rules: `Keyspace` is local) lets
    /// BGSAVE hand that `Arc` to the walk's thread.
    #[test]
    fn an_arc_of_the_server_state_owns_the_walk() {
        struct ServerState {
            keyspace: Keyspace,
        }
        impl AsRef<Keyspace> for Arc<ServerState> {
            fn as_ref(&self) -> &Keyspace {
                &self.keyspace
            }
        }
        let (keyspace, _, want) = fixture(2, 100, 9);
        let state = Arc::new(ServerState { keyspace });
        let snap = Snapshot::begin(Arc::clone(&state), encoder()).unwrap();
        let (st, got) = run_spawned(snap, 2, Default::default());
        assert_eq!(st.keys_done, 200);
        assert_eq!(got, want);
    }

    #[test]
    fn spawned_snapshot_reports_and_cancels() {
        let (ks, _, want) = fixture(2, 3000, 6);
        let ks = Arc::new(ks);
        let snap = Snapshot::begin(Arc::clone(&ks), encoder()).unwrap();
        let (st, got) = run_spawned(snap, 2, Default::default());
        assert_eq!(st.keys_done, 6000);
        assert!(st.bytes > 0);
        assert_eq!(got, want);
        assert_clean(&ks);

        // A sink that fails: the error comes back, the keyspace is clean.
        let h = Snapshot::begin(Arc::clone(&ks), encoder())
            .unwrap()
            .spawn(|_, _| Err(io::Error::other("disk full")))
            .unwrap();
        assert_eq!(h.join().unwrap_err().to_string(), "disk full");
        assert_clean(&ks);

        // Dropping the handle cancels; the thread clears the bits.
        let h = Snapshot::begin(Arc::clone(&ks), encoder())
            .unwrap()
            .spawn(|_, _| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                Ok(())
            })
            .unwrap();
        drop(h);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ks.snapshot_running() {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_clean(&ks);
    }

    #[derive(Clone, Debug, PartialEq)]
    enum MV {
        Str(Vec<u8>),
        Hash(BTreeMap<Vec<u8>, Vec<u8>>),
        List(Vec<Vec<u8>>),
    }

    #[derive(Clone, Debug, PartialEq)]
    struct ME {
        v: MV,
        exp: Option<i64>,
    }

    type Model = Vec<BTreeMap<Vec<u8>, ME>>;

    /// `canon` of the model's entry.
    fn mcanon(e: &ME) -> Vec<u8> {
        match &e.v {
            MV::Str(v) => canon_text(e.exp, "str", [v.clone()]),
            MV::Hash(h) => canon_text(e.exp, "hash", h.iter().map(|(f, v)| pair(f, v))),
            MV::List(l) => canon_text(e.exp, "list", l.iter().cloned()),
        }
    }

    /// Panics with the first differences between two DB lists, readably.
    fn assert_same(got: &[DbMap], want: &[DbMap], what: &str) {
        let text = |v: Option<&Vec<u8>>| v.map(|v| String::from_utf8_lossy(v).into_owned());
        let mut diffs = Vec::new();
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            for k in g.keys().chain(w.keys()) {
                if g.get(k) != w.get(k) {
                    let k8 = String::from_utf8_lossy(k);
                    diffs.push(format!(
                        "db {i} {k8}: got {:?} want {:?}",
                        text(g.get(k)),
                        text(w.get(k))
                    ));
                }
            }
        }
        assert!(
            diffs.is_empty(),
            "{what}: {:?}",
            &diffs[..diffs.len().min(10)]
        );
        assert_eq!(got.len(), want.len());
    }

    fn view(m: &Model) -> Vec<DbMap> {
        m.iter()
            .map(|db| db.iter().map(|(k, e)| (k.clone(), mcanon(e))).collect())
            .collect()
    }

    /// The model's lazy expiry (`Db::expire_if_needed`).
    fn mexpire(db: &mut BTreeMap<Vec<u8>, ME>, k: &[u8], now: i64) {
        if db.get(k).is_some_and(|e| e.exp.is_some_and(|t| t <= now)) {
            db.remove(k);
        }
    }

    /// Drops model keys the DB no longer has; `at_most` bounds how many.
    fn resync(
        db: &Db,
        m: &mut BTreeMap<Vec<u8>, ME>,
        now: i64,
        expired_only: bool,
        at_most: usize,
    ) {
        let gone: Vec<Vec<u8>> = m.keys().filter(|k| db.peek(k).is_none()).cloned().collect();
        assert!(gone.len() <= at_most, "{} keys vanished", gone.len());
        for k in gone {
            let e = m.remove(&k).unwrap();
            if expired_only {
                assert!(e.exp.is_some_and(|t| t <= now), "{k:?} removed unexpired");
            }
        }
    }

    /// SWAPDB as its handler does it; false for one DB with itself.
    fn swap_dbs(ks: &Keyspace, a: usize, b: usize) -> bool {
        if a == b {
            return false;
        }
        let (mut da, mut db) = ks.lock_two(a, b);
        da.swap_contents(&mut db);
        true
    }

    /// MOVE as its handler does it (`from` != `to`).
    fn move_key(ks: &Keyspace, from: usize, to: usize, k: &[u8], now: i64) {
        let (mut src, mut dst) = ks.lock_two(from, to);
        if src.get(k, now).is_some() && !dst.exists(k, now) {
            let e = src.remove(k).unwrap();
            dst.insert(e);
        }
    }

    const VALUES: [&[u8]; 4] = [b"abc", b"17", b"-3", b"xyz"];

    /// One random write (or lazily expiring read) on both the keyspace and
    /// the model.
    fn random_op(
        ks: &Keyspace,
        m: &mut Model,
        rng: &mut SmallRng,
        keys: usize,
        now: i64,
        t: &Thresholds,
    ) {
        let n = ks.len();
        let d = rng.gen_range(0..n);
        let k = format!("k{}", rng.gen_range(0..keys)).into_bytes();
        let v = VALUES[rng.gen_range(0..VALUES.len())];
        match rng.gen_range(0..1000) {
            0..200 => {
                ks.lock(d).insert(Entry::new(&k, NewValue::Str(v), None, 0));
                m[d].insert(
                    k,
                    ME {
                        v: MV::Str(v.to_vec()),
                        exp: None,
                    },
                );
            }
            200..300 => {
                ks.lock(d).remove(&k);
                m[d].remove(&k);
            }
            300..400 => {
                incr(&mut ks.lock(d), &k, now);
                mexpire(&mut m[d], &k, now);
                if let Some(ME { v: MV::Str(s), .. }) = m[d].get_mut(&k) {
                    if let Some(i) = std::str::from_utf8(s)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                    {
                        *s = (i + 1).to_string().into_bytes();
                    }
                }
            }
            400..500 => {
                rpush(&mut ks.lock(d), &k, v, now, t);
                mexpire(&mut m[d], &k, now);
                match m[d].get_mut(&k) {
                    None => {
                        m[d].insert(
                            k,
                            ME {
                                v: MV::List(vec![v.to_vec()]),
                                exp: None,
                            },
                        );
                    }
                    Some(ME { v: MV::List(l), .. }) => l.push(v.to_vec()),
                    Some(_) => {}
                }
            }
            500..600 => {
                let f = format!("f{}", rng.gen_range(0..5)).into_bytes();
                hset(&mut ks.lock(d), &k, &f, v, now, t);
                mexpire(&mut m[d], &k, now);
                match m[d].get_mut(&k) {
                    None => {
                        let h = BTreeMap::from([(f, v.to_vec())]);
                        m[d].insert(
                            k,
                            ME {
                                v: MV::Hash(h),
                                exp: None,
                            },
                        );
                    }
                    Some(ME { v: MV::Hash(h), .. }) => {
                        h.insert(f, v.to_vec());
                    }
                    Some(_) => {}
                }
            }
            600..700 => {
                let at = (!rng.gen_bool(0.2)).then(|| now + rng.gen_range(1..300));
                ks.lock(d).modify(&k, now, |e| e.set_expire(at));
                mexpire(&mut m[d], &k, now);
                if let Some(e) = m[d].get_mut(&k) {
                    e.exp = at;
                }
            }
            700..800 => {
                ks.lock(d).get_read(&k, now);
                mexpire(&mut m[d], &k, now);
            }
            800..850 => {
                let mut db = ks.lock(d);
                db.active_expire(
                    now,
                    &mut crate::keyspace::expire::ExpireCycle::one_check(Default::default()),
                );
                resync(&db, &mut m[d], now, true, usize::MAX);
            }
            850..870 => {
                let mut db = ks.lock(d);
                db.evict_one(Policy::AllKeysRandom, 5, now);
                resync(&db, &mut m[d], now, false, 1);
            }
            870..873 => {
                drop(ks.lock(d).flush());
                m[d].clear();
            }
            873..900 => {
                let b = rng.gen_range(0..n);
                if swap_dbs(ks, d, b) {
                    m.swap(d, b);
                }
            }
            _ => {
                let b = rng.gen_range(0..n);
                if b != d {
                    move_key(ks, d, b, &k, now);
                    // MOVE looks at the target (expiring it) only when
                    // the source has the key.
                    mexpire(&mut m[d], &k, now);
                    if m[d].contains_key(&k) {
                        mexpire(&mut m[b], &k, now);
                    }
                    if m[d].contains_key(&k) && !m[b].contains_key(&k) {
                        let e = m[d].remove(&k).unwrap();
                        m[b].insert(k, e);
                    }
                }
            }
        }
    }

    /// Walk steps and writes interleaved at random in one thread, against
    /// a model of the keyspace: every snapshot equals the model at its cut,
    /// cancels leave no state, and the live keyspace still equals the model.
    fn run_model(seed: u64) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let t = Thresholds::default();
        let n = 4;
        let ks = Keyspace::new(n);
        for i in 0..n {
            ks.lock(i).set_policy(Policy::AllKeysRandom);
        }
        let mut m: Model = vec![BTreeMap::new(); n];
        let mut now = 1_000i64;
        let keys = rng.gen_range(20..4000);
        for _ in 0..keys * 2 {
            now += 1;
            random_op(&ks, &mut m, &mut rng, keys, now, &t);
        }
        let mut running: Option<(Snapshot<&Keyspace>, Collector, Vec<DbMap>)> = None;
        for _ in 0..rng.gen_range(1000..6000) {
            now += rng.gen_range(0..3);
            match running.as_mut() {
                None if rng.gen_bool(0.01) => {
                    let mut at_cut = Vec::new();
                    let mut s = Snapshot::begin_inspect(&ks, encoder(), |dbs| {
                        at_cut = dbs.iter().map(|db| contents(db)).collect();
                    })
                    .unwrap();
                    let want = view(&m);
                    assert_same(&at_cut, &want, "model and keyspace at the cut");
                    s.set_step_entries(rng.gen_range(1..200));
                    running = Some((s, Collector::new(n), want));
                }
                Some((s, c, want)) if rng.gen_bool(0.3) => {
                    c.pull(s);
                    if c.done {
                        assert_same(&c.dbs, want, "snapshot vs the model at its cut");
                        running = None;
                        assert_clean(&ks);
                    }
                }
                Some(_) if rng.gen_bool(0.002) => {
                    running = None;
                    assert_clean(&ks);
                }
                _ => random_op(&ks, &mut m, &mut rng, keys, now, &t),
            }
        }
        if let Some((mut s, mut c, want)) = running.take() {
            assert_same(c.rest(&mut s), &want, "snapshot vs the model at its cut");
        }
        assert_clean(&ks);
        assert_same(&all_contents(&ks), &view(&m), "live keyspace vs model");
        for i in 0..n {
            let db = ks.lock(i);
            assert_eq!(db.entry_memory(), db.recount_memory());
        }
        let mut s = Snapshot::begin(&ks, encoder()).unwrap();
        assert_same(&drain(&mut s, n), &view(&m), "last snapshot");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn interleaved_walk_and_writes_match_the_model(seed in proptest::prelude::any::<u64>()) {
            run_model(seed);
        }
    }

    /// Real threads: writers doing SET/DEL/INCR/RPUSH/HSET/EXPIRE/lazy and
    /// active expiry/FLUSHDB/SWAPDB/MOVE across 16 DBs while the walk runs on
    /// its thread; the snapshot equals the keyspace at the cut exactly.
    #[test]
    fn concurrent_writers_across_16_dbs() {
        let t = Thresholds::default();
        let ks = Arc::new(Keyspace::new(16));
        populate(&ks, 600, &t, &mut SmallRng::seed_from_u64(7));
        let clock = Arc::new(AtomicI64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3u64)
            .map(|w| {
                let (ks, clock, stop) = (Arc::clone(&ks), Arc::clone(&clock), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let t = Thresholds::default();
                    let mut rng = SmallRng::seed_from_u64(100 + w);
                    let mut ops = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let now = clock.fetch_add(1, Ordering::Relaxed);
                        concurrent_op(&ks, &mut rng, now, &t, w, ops);
                        ops += 1;
                    }
                    ops
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut want = Vec::new();
        let mut snap = Snapshot::begin_inspect(Arc::clone(&ks), encoder(), |dbs| {
            want = dbs.iter().map(|db| contents(db)).collect();
        })
        .unwrap();
        snap.set_step_entries(64);
        // A slow disk: writers get time between chunks.
        let (st, got) = run_spawned(snap, 16, std::time::Duration::from_micros(50));
        stop.store(true, Ordering::Relaxed);
        let ops: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(got, want);
        assert_eq!(
            st.keys_done as usize,
            want.iter().map(DbMap::len).sum::<usize>()
        );
        assert!(st.pre_images > 0, "{st:?} after {ops} ops");
        assert_clean(&ks);
    }

    /// One random write on a keyspace shared by threads (no model): the
    /// same mix as `random_op`, plus keys born after the cut.
    fn concurrent_op(ks: &Keyspace, rng: &mut SmallRng, now: i64, t: &Thresholds, w: u64, i: u64) {
        let n = ks.len();
        let d = rng.gen_range(0..n);
        let k = format!("k{}", rng.gen_range(0..600)).into_bytes();
        let v = VALUES[rng.gen_range(0..VALUES.len())];
        match rng.gen_range(0..1000) {
            0..200 => {
                ks.lock(d).insert(Entry::new(&k, NewValue::Str(v), None, 0));
            }
            200..300 => {
                ks.lock(d).remove(&k);
            }
            300..420 => incr(&mut ks.lock(d), &k, now),
            420..520 => rpush(&mut ks.lock(d), &k, v, now, t),
            520..620 => hset(&mut ks.lock(d), &k, b"f", v, now, t),
            620..720 => {
                let at = now + rng.gen_range(1..300);
                ks.lock(d).modify(&k, now, |e| e.set_expire(Some(at)));
            }
            720..800 => {
                ks.lock(d).get_read(&k, now);
            }
            800..840 => {
                ks.lock(d).active_expire(
                    now,
                    &mut crate::keyspace::expire::ExpireCycle::one_check(Default::default()),
                );
            }
            840..870 => {
                let k = format!("new{w}-{i}");
                ks.lock(d)
                    .insert(Entry::new(k.as_bytes(), NewValue::Str(b"n"), None, 0));
            }
            870..871 => drop(ks.lock(d).flush()),
            871..900 => {
                swap_dbs(ks, d, rng.gen_range(0..n));
            }
            _ => {
                let b = rng.gen_range(0..n);
                if b != d {
                    move_key(ks, d, b, &k, now);
                }
            }
        }
    }

    /// One random command of the real command set (every write path a
    /// handler takes), on keys `k0..k{keys}`.
    fn random_command(rng: &mut SmallRng, keys: usize) -> Vec<Vec<u8>> {
        let k = format!("k{}", rng.gen_range(0..keys));
        let k2 = format!("k{}", rng.gen_range(0..keys));
        let db = rng.gen_range(0..4).to_string();
        let v = VALUES[rng.gen_range(0..VALUES.len())];
        let v = std::str::from_utf8(v).unwrap();
        let cmd = match rng.gen_range(0..40) {
            0..3 => format!("SET {k} {v}"),
            3 => format!("SET {k} {v} EX 100"),
            4 => format!("APPEND {k} {v}"),
            5 => format!("SETRANGE {k} 2 {v}"),
            6 => format!("INCR {k}"),
            7 => format!("INCRBYFLOAT {k} 1.5"),
            8 => format!("GETDEL {k}"),
            9 => format!("GETEX {k} EX 50"),
            10 => format!("DEL {k} {k2}"),
            11 => format!("UNLINK {k}"),
            12 => format!("EXPIRE {k} 100"),
            13 => format!("PEXPIRE {k} 1"),
            14 => format!("PERSIST {k}"),
            15 => format!("RENAME {k} {k2}"),
            16 => format!("COPY {k} {k2} DB {db} REPLACE"),
            17 => format!("MOVE {k} {db}"),
            18 => format!("SWAPDB {db} {}", rng.gen_range(0..4)),
            19 if rng.gen_bool(0.01) => "FLUSHDB".to_string(),
            20 if rng.gen_bool(0.002) => "FLUSHALL".to_string(),
            21..23 => format!("HSET {k} f{} {v}", rng.gen_range(0..4)),
            23 => format!("HDEL {k} f1"),
            24 => format!("HINCRBY {k} n 2"),
            25..27 => format!("RPUSH {k} {v} {v}"),
            27 => format!("LPOP {k}"),
            28 => format!("LSET {k} 0 {v}"),
            29 => format!("LMOVE {k} {k2} LEFT RIGHT"),
            30 => format!("SADD {k} {v} m{}", rng.gen_range(0..9)),
            31 => format!("SREM {k} {v}"),
            32 => format!("SUNIONSTORE {k} {k2} {k}"),
            33 => format!("ZADD {k} {} {v}", rng.gen_range(0..9)),
            34 => format!("ZINCRBY {k} 2 {v}"),
            35 => format!("ZPOPMIN {k}"),
            36 => format!("XADD {k} * f {v}"),
            37 => format!("XTRIM {k} MAXLEN 1"),
            _ => format!("SELECT {db}"),
        };
        cmd.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    /// End to end: real commands through dispatch, interleaved with walk
    /// steps, every handler's write path included; each snapshot equals
    /// the keyspace recorded inside its cut.
    #[test]
    fn commands_through_dispatch_keep_the_cut() {
        use crate::config::Config;
        use crate::server::harness::Harness;
        for seed in 0..4 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut h = Harness::new(Config::default());
            let shared = Arc::clone(&h.shared);
            let ks = &shared.keyspace;
            let keys = 1500;
            let run = |h: &mut Harness, rng: &mut SmallRng| {
                let argv = random_command(rng, keys);
                let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
                h.call(&argv);
            };
            for _ in 0..8000 {
                run(&mut h, &mut rng);
            }
            let mut want = Vec::new();
            let mut snap = Snapshot::begin_inspect(ks, encoder(), |dbs| {
                want = dbs.iter().map(|db| contents(db)).collect();
            })
            .unwrap();
            snap.set_step_entries(rng.gen_range(2..20));
            let mut c = Collector::new(ks.len());
            while !c.done {
                if rng.gen_bool(0.05) {
                    c.pull(&mut snap);
                } else {
                    run(&mut h, &mut rng);
                }
            }
            assert_same(&c.dbs, &want, "snapshot vs the keyspace at its cut");
            assert!(snap.stats().pre_images > 0, "{:?}", snap.stats());
            drop(snap);
            assert_clean(ks);
        }
    }
}
