//! The AOF writer: appends commands to the current incr file under one of
//! Redis's three fsync policies, and switches files for a rewrite.
//!
//! Two locks, so that appends never wait for the disk: `buf` holds what
//! was appended and not yet written (taken in O(1) by whoever writes);
//! `cur` owns the open file and is held for a write or an fdatasync. While
//! one fdatasync runs under `cur`, appends keep filling `buf`, and the next
//! fdatasync covers all of them: that is the group commit.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::loader::{read_manifest, upgrade_if_needed};
use super::manifest::Manifest;
use super::AofPaths;
use crate::clock::Clock;
use crate::persistence::fs::{Fs, FsFile};
use crate::protocol::encode_command;

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    EverySec,
    No,
}

/// The settings the writer needs (Redis config names in the comments).
#[derive(Clone)]
pub struct AofConfig {
    /// `dir`.
    pub dir: PathBuf,
    /// `appendfilename`.
    pub appendfilename: String,
    /// `appenddirname`.
    pub appenddirname: String,
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    /// `aof-timestamp-enabled`.
    pub timestamps: bool,
    /// `no-appendfsync-on-rewrite`.
    pub no_fsync_on_rewrite: bool,
    /// `aof-use-rdb-preamble`: whether a rewrite writes an RDB base
    /// (`.base.rdb`) or RESP commands (`.base.aof`).
    pub use_rdb_preamble: bool,
    pub clock: Arc<Clock>,
    /// Run the background fsync thread (`always`, `everysec`). Off, the
    /// caller drives every sync through [`AofHandle::flush_and_sync_up_to`]:
    /// deterministic crash tests do.
    pub sync_thread: bool,
    /// Under `everysec` and `no`, leave appends in the buffer: the caller
    /// writes them with [`AofHandle::write_pending`] before it replies, so
    /// a pipelined batch (or several clients' commands) costs one write(2)
    /// instead of one per command, as Redis's beforeSleep does.
    pub defer_write: bool,
    /// Told how long each write(2) (`aof-write`) and, under `always`, each
    /// fdatasync (`aof-fsync-always`) took: the latency monitor's events.
    pub latency: Option<LatencyHook>,
}

/// See [`AofConfig::latency`].
pub type LatencyHook = Arc<dyn Fn(&'static str, std::time::Duration) + Send + Sync>;

impl AofConfig {
    /// Redis's defaults for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> AofConfig {
        AofConfig {
            dir: dir.into(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            fsync: FsyncPolicy::EverySec,
            timestamps: false,
            no_fsync_on_rewrite: false,
            use_rdb_preamble: true,
            clock: Arc::new(Clock::default()),
            sync_thread: true,
            defer_write: false,
            latency: None,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum AofError {
    /// Under `always` a write or fsync failed: replies may already have
    /// promised durability, so the process must exit (as Redis does).
    #[error("Can't persist AOF when the AOF fsync policy is 'always': {0}. Exiting...")]
    Fatal(String),
    /// Writes are refused until a rewrite succeeds (the reply text,
    /// without the leading '-').
    #[error("MISCONF Errors writing to the AOF file: {0}")]
    Misconf(String),
    /// Opening, or a rewrite step, failed; the AOF goes on as before.
    #[error("AOF I/O error: {0}")]
    Io(String),
    #[error("Background append only file rewriting already in progress")]
    RewriteInProgress,
    #[error("No AOF rewrite in progress")]
    NoRewrite,
}

fn io(what: &str, e: impl std::fmt::Display) -> AofError {
    AofError::Io(format!("{what}: {e}"))
}

/// INFO persistence fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AofStats {
    pub aof_rewrite_in_progress: bool,
    pub aof_current_size: u64,
    pub aof_base_size: u64,
    pub aof_delayed_fsync: u64,
    /// `aof_last_write_status`: None is "ok".
    pub aof_last_write_error: Option<String>,
    /// Bytes appended since open.
    pub offset: u64,
    /// Bytes covered by a successful fdatasync.
    pub synced_offset: u64,
}

/// Appended, not yet written.
#[derive(Default)]
struct Buffered {
    bytes: Vec<u8>,
    /// The offset just past `bytes`: everything appended so far.
    end: u64,
}

/// The incr file being written.
struct Current {
    file: Box<dyn FsFile>,
    seq: u64,
    /// The offset written through to a file (this one or an earlier one).
    written: u64,
    /// Bytes in this file.
    file_bytes: u64,
    /// An fsync of this file failed: never trust it again.
    sync_failed: bool,
}

struct Shared {
    fs: Arc<dyn Fs>,
    policy: FsyncPolicy,
    latency: Option<LatencyHook>,
    no_fsync_on_rewrite: bool,
    buf: Mutex<Buffered>,
    cur: Mutex<Current>,
    synced: AtomicU64,
    /// The offset a reply may be sent for: `synced`, or under
    /// `no-appendfsync-on-rewrite` during a rewrite, what was written.
    acked: watch::Sender<u64>,
    /// The sticky error and the incr seq of the file it happened on.
    error: Mutex<Option<(String, u64)>>,
    fatal: AtomicBool,
    rewriting: AtomicBool,
    /// The AOF waits for its first base (see [`Aof::open_waiting`]): the
    /// incr file is a temp file no manifest names, so nothing written to
    /// it is durable yet, whatever was fsynced. `synced` and `acked` stay
    /// put until the commit publishes them.
    pending: AtomicBool,
    delayed_fsync: AtomicU64,
    postponed_since: Mutex<Option<Instant>>,
    current_size: AtomicU64,
    base_size: AtomicU64,
    /// The highest offset a waiter needs fsynced whatever the policy (a
    /// DB with its own `appendfsync always`); the sync thread serves it.
    demand: AtomicU64,
    /// Waits that found their offset not yet synced (one per reply that
    /// waits): what group commit counts (see [`Group`]).
    arrivals: AtomicU64,
    /// Wakes the sync thread: "something was appended".
    wake: Mutex<bool>,
    wake_cv: Condvar,
    stop: AtomicBool,
    /// Under `always`, the runtime task that fsyncs on a worker thread
    /// instead of the sync thread (see [`AofHandle::run_inline_syncer`]).
    inline: Mutex<Option<Arc<tokio::sync::Notify>>>,
}

impl Shared {
    fn error_text(&self) -> Option<String> {
        self.error.lock().as_ref().map(|(t, _)| t.clone())
    }

    /// The error a caller gets while the sticky state is set.
    fn refusal(&self) -> Option<AofError> {
        let text = self.error_text()?;
        // From the policy, not `fatal`, so that no reader can catch the
        // error set and `fatal` not yet.
        Some(if self.policy == FsyncPolicy::Always {
            AofError::Fatal(text)
        } else {
            AofError::Misconf(text)
        })
    }

    fn fail(&self, seq: u64, text: String) {
        {
            let mut e = self.error.lock();
            if e.is_none() {
                tracing::warn!(error = %text, "AOF write failed");
                *e = Some((text, seq));
            }
        }
        if self.policy == FsyncPolicy::Always {
            self.fatal.store(true, Ordering::Release);
        }
        // Waiters re-check the error state.
        self.acked.send_modify(|_| {});
    }

    /// Writes everything buffered to the current file. False on failure
    /// (the sticky error is then set) and while the sticky error stands.
    ///
    /// After a failure, what was not written stays buffered and is retried
    /// (by the sync thread, once a second) into the same file: it was
    /// accepted before the failure, and part of it may be acknowledged
    /// already (an `everysec` write postponed behind an fdatasync), so it
    /// must reach the file once the disk takes it, as Redis retries its
    /// buffer. Writes are still refused until a rewrite, and a file whose
    /// fdatasync failed is never synced again. Until the retry, the file
    /// may end inside a command: the loader cuts that off, the failed file
    /// being the manifest's last until a rewrite replaces it.
    fn write_buffer(&self, cur: &mut Current) -> bool {
        let failed_seq = self.error.lock().as_ref().map(|(_, seq)| *seq);
        if failed_seq.is_some_and(|seq| seq != cur.seq) {
            // A rewrite's new file: it stays empty until the rewrite
            // installs its base, which holds what was accepted.
            return false;
        }
        let (bytes, end) = {
            let mut b = self.buf.lock();
            (std::mem::take(&mut b.bytes), b.end)
        };
        if bytes.is_empty() {
            return true;
        }
        let start = end - bytes.len() as u64;
        let mut done = 0;
        let began = Instant::now();
        let result = loop {
            if done == bytes.len() {
                break Ok(());
            }
            match cur.file.write(&bytes[done..]) {
                Ok(0) => break Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if let Some(hook) = &self.latency {
            hook("aof-write", began.elapsed());
        }
        cur.written = start + done as u64;
        cur.file_bytes += done as u64;
        self.current_size.fetch_add(done as u64, Ordering::Relaxed);
        match result {
            Ok(()) => failed_seq.is_none(),
            Err(e) => {
                // The rest goes back ahead of anything appended meanwhile.
                {
                    let mut b = self.buf.lock();
                    let later = std::mem::take(&mut b.bytes);
                    b.bytes = bytes[done..].to_vec();
                    b.bytes.extend_from_slice(&later);
                }
                self.fail(cur.seq, format!("Error writing to the AOF file: {e}"));
                false
            }
        }
    }

    /// fdatasyncs the current file up to what was written.
    fn sync_current(&self, cur: &mut Current) -> bool {
        if cur.sync_failed {
            return false;
        }
        if self.synced.load(Ordering::Acquire) >= cur.written {
            return true;
        }
        let began = Instant::now();
        let synced = cur.file.sync_data();
        if let (Some(hook), FsyncPolicy::Always) = (&self.latency, self.policy) {
            hook("aof-fsync-always", began.elapsed());
        }
        match synced {
            // Fsynced, but loadable only once the base commits.
            Ok(()) if self.pending.load(Ordering::Acquire) => true,
            Ok(()) => {
                self.synced.store(cur.written, Ordering::Release);
                self.acked.send_modify(|a| *a = (*a).max(cur.written));
                true
            }
            Err(e) => {
                cur.sync_failed = true;
                self.fail(cur.seq, format!("Can't fsync the AOF file: {e}"));
                false
            }
        }
    }

    fn skip_fsync(&self) -> bool {
        // Not while waiting for the first base: nothing may be released
        // before the commit.
        self.no_fsync_on_rewrite
            && self.rewriting.load(Ordering::Acquire)
            && !self.pending.load(Ordering::Acquire)
    }

    /// Writes and fdatasyncs everything appended up to `offset` (and
    /// whatever else is buffered). Whoever holds `cur` syncs for everyone
    /// queued behind it; a caller whose offset got covered meanwhile
    /// returns without touching the disk.
    fn flush_and_sync_up_to(&self, offset: u64) -> Result<u64, AofError> {
        let acked = *self.acked.borrow();
        if acked >= offset {
            return Ok(acked);
        }
        if let Some(e) = self.refusal() {
            return Err(e);
        }
        let mut cur = self.cur.lock();
        let acked = *self.acked.borrow();
        if acked >= offset {
            return Ok(acked);
        }
        let ok = self.write_buffer(&mut cur);
        if ok && self.skip_fsync() {
            let w = cur.written;
            self.acked.send_modify(|a| *a = (*a).max(w));
            return Ok(w);
        }
        if ok && self.sync_current(&mut cur) {
            return Ok(cur.written);
        }
        Err(self
            .refusal()
            .unwrap_or_else(|| AofError::Io("AOF write failed".into())))
    }

    /// `everysec` / `no`: write the buffer through before the reply. Under
    /// `everysec` an fdatasync in progress holds the file; as Redis does,
    /// the write is postponed (the bytes stay buffered) for up to 2 s, and
    /// then waits for it, counting `aof_delayed_fsync`.
    fn write_through(&self) {
        let mut cur = match self.cur.try_lock() {
            Some(c) => c,
            None if self.policy == FsyncPolicy::No => self.cur.lock(),
            None => {
                let mut since = self.postponed_since.lock();
                match *since {
                    None => {
                        *since = Some(Instant::now());
                        return;
                    }
                    Some(t) if t.elapsed() < Duration::from_secs(2) => return,
                    Some(_) => {
                        *since = None;
                        self.delayed_fsync.fetch_add(1, Ordering::Relaxed);
                        drop(since);
                        self.cur.lock()
                    }
                }
            }
        };
        *self.postponed_since.lock() = None;
        self.write_buffer(&mut cur);
    }

    fn kick(&self) {
        if self.policy == FsyncPolicy::Always {
            if let Some(n) = &*self.inline.lock() {
                n.notify_one();
                return;
            }
        }
        *self.wake.lock() = true;
        self.wake_cv.notify_one();
    }
}

/// Group commit for the fsyncs replies wait for.
///
/// Syncing as soon as a waiter asks splits a closed-loop group in two:
/// the clients one fdatasync releases come back one by one, the first of
/// them starts the next fdatasync alone and the rest wait for the one
/// after (rounds alternate 1 and N-1, half the throughput Redis gets by
/// syncing once per event-loop turn, in beforeSleep). So a round first
/// waits until as many waiters have arrived as the previous round
/// released, for at most half the last fdatasync's duration (and at most
/// [`Group::MAX_WAIT`]). One writer: no wait at all. Measured with
/// redis-benchmark -c 50 -P 1 SET under `appendfsync always` on a disk
/// with 2.7 ms fdatasyncs: see the README's persistence figures.
#[derive(Default)]
struct Group {
    /// `arrivals` when the last round started writing.
    start: u64,
    /// Waiters the last round covered: the size of the next group.
    released: u64,
    /// How long the last fdatasync took.
    last_sync: Duration,
}

impl Group {
    const MAX_WAIT: Duration = Duration::from_millis(2);

    /// Waits for the group (see the type's docs), then marks the round's
    /// start.
    fn gather(&mut self, shared: &Shared) {
        if self.released > 1 {
            let deadline = Instant::now() + (self.last_sync / 2).min(Self::MAX_WAIT);
            loop {
                let arrived = shared.arrivals.load(Ordering::Acquire) - self.start;
                if arrived >= self.released || shared.stop.load(Ordering::Acquire) {
                    break;
                }
                let mut woken = shared.wake.lock();
                if !*woken && shared.wake_cv.wait_until(&mut woken, deadline).timed_out() {
                    break;
                }
                *woken = false;
            }
        }
        let now = shared.arrivals.load(Ordering::Acquire);
        self.released = now - self.start;
        self.start = now;
    }

    /// One group-committed fdatasync of everything appended so far.
    fn sync(&mut self, shared: &Shared) {
        self.gather(shared);
        let end = shared.buf.lock().end;
        let t = Instant::now();
        // A failure is recorded in the shared state, where the waiters
        // find it.
        let _ = shared.flush_and_sync_up_to(end);
        self.last_sync = t.elapsed();
    }
}

/// The background fsync thread (`always`: group commit; `everysec`: once a
/// second). A std thread, not a tokio task: it blocks in fdatasync.
fn sync_thread(shared: Arc<Shared>) {
    let mut last_sync = Instant::now();
    let mut group = Group::default();
    loop {
        {
            let mut woken = shared.wake.lock();
            if !*woken && !shared.stop.load(Ordering::Acquire) {
                let wait = match shared.policy {
                    FsyncPolicy::EverySec => {
                        Duration::from_secs(1).saturating_sub(last_sync.elapsed())
                    }
                    _ => Duration::from_secs(1),
                };
                shared.wake_cv.wait_for(&mut woken, wait);
            }
            *woken = false;
        }
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        match shared.policy {
            FsyncPolicy::Always => {
                let end = shared.buf.lock().end;
                if end > *shared.acked.borrow() && !shared.fatal.load(Ordering::Acquire) {
                    group.sync(&shared);
                }
            }
            FsyncPolicy::EverySec => {
                let mut cur = shared.cur.lock();
                // Postponed bytes first: they must reach the file soon.
                shared.write_buffer(&mut cur);
                if last_sync.elapsed() >= Duration::from_secs(1) {
                    last_sync = Instant::now();
                    if !shared.skip_fsync() {
                        shared.sync_current(&mut cur);
                    }
                    // Appends postponed during the fsync.
                    shared.write_buffer(&mut cur);
                }
            }
            FsyncPolicy::No => {
                // What a failed write left behind (see `write_buffer`).
                shared.write_buffer(&mut shared.cur.lock());
            }
        }
        let wanted = shared.demand.load(Ordering::Acquire);
        if wanted > *shared.acked.borrow() && !shared.fatal.load(Ordering::Acquire) {
            group.sync(&shared);
        }
    }
}

/// A cheap, cloneable view for connections: offsets and the wait for
/// durability, without the writer's lock.
#[derive(Clone)]
pub struct AofHandle {
    shared: Arc<Shared>,
}

impl AofHandle {
    /// `always`: fsyncs on the calling runtime instead of the sync thread,
    /// as Redis does in `beforeSleep`. Waiters wake this task (a local
    /// wake, no thread hand-off); it first yields, so every client that
    /// is ready runs and appends, then writes and fdatasyncs what all of
    /// them appended, blocking its worker for the fdatasync (as Redis's
    /// event loop blocks), and the waiters it releases are woken on the
    /// same worker. Handing each group to the sync thread and back cost two
    /// cross-thread wake-ups per fdatasync. Returns when the AOF closes.
    pub async fn run_inline_syncer(self) {
        if self.shared.policy != FsyncPolicy::Always {
            return;
        }
        let notify = Arc::new(tokio::sync::Notify::new());
        *self.shared.inline.lock() = Some(notify.clone());
        let mut group = Group::default();
        loop {
            notify.notified().await;
            if self.shared.stop.load(Ordering::Acquire) {
                break;
            }
            // Let every runnable client (and the sockets ready now) append
            // first: the fdatasync below then covers all of them. Then, as
            // the sync thread's group commit does, keep yielding until as
            // many waiters as the last round released have arrived (their
            // replies went out one task at a time, so their next requests
            // trickle in), for at most half the last fdatasync.
            tokio::task::yield_now().await;
            if group.released > 1 {
                let deadline = Instant::now() + (group.last_sync / 2).min(Group::MAX_WAIT);
                while self.shared.arrivals.load(Ordering::Acquire) - group.start < group.released
                    && Instant::now() < deadline
                    && !self.shared.stop.load(Ordering::Acquire)
                {
                    tokio::task::yield_now().await;
                }
            }
            let now = self.shared.arrivals.load(Ordering::Acquire);
            group.released = now - group.start;
            group.start = now;
            let end = self.offset();
            if end > *self.shared.acked.borrow() && !self.shared.fatal.load(Ordering::Acquire) {
                let t = Instant::now();
                // A failure is recorded in the shared state, where the
                // waiters find it.
                let _ = self.shared.flush_and_sync_up_to(end);
                group.last_sync = t.elapsed();
            }
        }
        *self.shared.inline.lock() = None;
    }

    /// The offset just past everything appended so far. Under `always` a
    /// read waits for this before replying, so it never observes a write
    /// that a crash could still take back.
    pub fn offset(&self) -> u64 {
        self.shared.buf.lock().end
    }

    /// Bytes covered by a successful fdatasync.
    pub fn synced_offset(&self) -> u64 {
        self.shared.synced.load(Ordering::Acquire)
    }

    /// Waits until a reply for a write at `offset` may go out: under
    /// `always`, until an fdatasync covers it (done by the sync thread; with
    /// [`AofConfig::sync_thread`] off, use
    /// [`AofHandle::flush_and_sync_up_to`] instead). Returns at once under
    /// `everysec` and `no`. `Err(Fatal)` means the process must exit.
    pub async fn wait_synced(&self, offset: u64) -> Result<(), AofError> {
        if self.shared.policy != FsyncPolicy::Always {
            // Written through by the append already: nothing to wait for.
            return Ok(());
        }
        let mut rx = self.shared.acked.subscribe();
        if *rx.borrow_and_update() >= offset {
            return Ok(());
        }
        self.shared.arrivals.fetch_add(1, Ordering::AcqRel);
        loop {
            // Synced before any failure: durable, whatever came after.
            if *rx.borrow_and_update() >= offset {
                return Ok(());
            }
            if self.shared.fatal.load(Ordering::Acquire) {
                return Err(self
                    .shared
                    .refusal()
                    .unwrap_or_else(|| AofError::Fatal("AOF failed".into())));
            }
            self.shared.kick();
            if rx.changed().await.is_err() {
                return Err(AofError::Io("AOF writer closed".into()));
            }
        }
    }

    /// Resolves once an fdatasync covers `offset`, asking nobody for one.
    pub async fn until_synced(&self, offset: u64) {
        let mut rx = self.shared.acked.subscribe();
        while self.synced_offset() < offset {
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Waits until an fdatasync covers `offset`, whatever the policy (a
    /// reply for a DB with its own `appendfsync always`): the sync thread
    /// is asked for it. `Err` when it never will be.
    pub async fn wait_durable(&self, offset: u64) -> Result<(), AofError> {
        if self.shared.policy == FsyncPolicy::Always {
            return self.wait_synced(offset).await;
        }
        self.shared.demand.fetch_max(offset, Ordering::AcqRel);
        let mut rx = self.shared.acked.subscribe();
        if *rx.borrow_and_update() < offset {
            self.shared.arrivals.fetch_add(1, Ordering::AcqRel);
        }
        loop {
            // Synced before any failure: durable, whatever came after.
            if *rx.borrow_and_update() >= offset {
                return Ok(());
            }
            if let Some(e) = self.shared.refusal() {
                return Err(e);
            }
            self.shared.kick();
            if rx.changed().await.is_err() {
                return Err(AofError::Io("AOF writer closed".into()));
            }
        }
    }

    /// The blocking form of [`AofHandle::wait_synced`] for non-async
    /// callers: does the write + fdatasync itself if nobody else is.
    pub fn flush_and_sync_up_to(&self, offset: u64) -> Result<u64, AofError> {
        self.shared.flush_and_sync_up_to(offset)
    }

    /// Writes what appends left in the buffer (see [`AofConfig::defer_write`]):
    /// under `everysec` and `no`, what makes a reply "written before it goes
    /// out". `Err` while the sticky error stands: the write failed, or came
    /// after a failure and may not be in the file, so the reply must not go
    /// out.
    pub fn write_pending(&self) -> Result<(), AofError> {
        self.shared.write_through();
        self.check_writable()
    }

    /// `Err(Misconf | Fatal)` while writes must be refused: the server
    /// checks this before running a write command.
    pub fn check_writable(&self) -> Result<(), AofError> {
        match self.shared.refusal() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The AOF writer. One owner (the server keeps it behind its lock, so the
/// order of appends is the order of execution); connections use an
/// [`AofHandle`] to wait.
pub struct Aof {
    cfg: AofConfig,
    paths: AofPaths,
    shared: Arc<Shared>,
    manifest: Manifest,
    /// The DB the current file's last command ran in; `None` after a file
    /// opens, so its first command is preceded by a SELECT (as Redis).
    selected_db: Option<usize>,
    last_ts: i64,
    thread: Option<JoinHandle<()>>,
    /// A rewrite begun after a failure: the failed file and what it did
    /// not take, put back if the rewrite is given up (see `begin_rewrite`).
    parked: Option<Parked>,
}

/// What `begin_rewrite` set aside after a failure.
struct Parked {
    cur: Current,
    /// Accepted (possibly acknowledged: an `everysec` write postponed
    /// behind an fsync) but not in the failed file yet: the retry's bytes.
    tail: Vec<u8>,
    manifest: Manifest,
    /// The new incr file, named by no manifest on disk.
    new_incr: PathBuf,
}

impl Aof {
    /// Opens the AOF for appending after [`super::load`] has run: the last
    /// incr file of the manifest, or a new one (with the manifest written)
    /// for a fresh directory. A fresh directory gets no base file: a
    /// server that starts with data calls a rewrite right away.
    pub fn open(fs: Arc<dyn Fs>, cfg: AofConfig) -> Result<Aof, AofError> {
        let paths = AofPaths::new(&cfg.dir, &cfg.appendfilename, &cfg.appenddirname);
        fs.create_dir_all(&paths.aof_dir)
            .map_err(|e| io("Can't open or create append-only dir", e))?;
        let manifest =
            read_manifest(fs.as_ref(), &paths).map_err(|e| AofError::Io(e.to_string()))?;
        let (manifest, _) = upgrade_if_needed(fs.as_ref(), &paths, manifest)
            .map_err(|e| AofError::Io(e.to_string()))?;
        let mut manifest = manifest.unwrap_or_default();
        let fresh = manifest.incrs.is_empty();
        if fresh {
            manifest.new_incr(&cfg.appendfilename);
        }
        // A crash between a rewrite's manifest and its clean-up leaves
        // history files; a crash mid-rewrite leaves a temp base (named
        // after a pid that is gone). Neither is part of the log.
        let history = std::mem::take(&mut manifest.history);
        let tidy = !history.is_empty();
        for h in history {
            let _ = fs.remove(&paths.file(&h.name));
        }
        // A crash while the AOF waited for its first base leaves the temp
        // incr file: no manifest names it, and the base never came.
        let _ = fs.remove(&paths.temp_incr());
        if let Ok(names) = fs.list(&paths.aof_dir) {
            for n in names
                .iter()
                .filter(|n| n.starts_with("temp-rewriteaof-bg-"))
            {
                let _ = fs.remove(&paths.file(n));
            }
        }
        let last = manifest
            .incrs
            .last()
            .map(|i| (i.name.clone(), i.seq))
            .ok_or_else(|| AofError::Io("no incr file".into()))?;
        let path = paths.file(&last.0);
        let file = fs
            .append(&path)
            .map_err(|e| io("Can't open the append-only file", e))?;
        if fresh || tidy {
            // After creating the file: the manifest's directory fsync makes
            // the new name durable too.
            manifest
                .persist(fs.as_ref(), &paths.manifest())
                .map_err(|e| io("Can't write the AOF manifest", e))?;
        }
        if fresh {
            // A directory just created must itself be durable in `dir`.
            fs.sync_dir(&paths.dir)
                .map_err(|e| io("Can't sync the AOF directory's parent", e))?;
        }
        let size = |name: &str| fs.len(&paths.file(name)).unwrap_or(0);
        let base_size = manifest.base.as_ref().map_or(0, |b| size(&b.name));
        let total = base_size + manifest.incrs.iter().map(|i| size(&i.name)).sum::<u64>();
        let current = Current {
            file,
            file_bytes: size(&last.0),
            seq: last.1,
            written: 0,
            sync_failed: false,
        };
        Aof::with_file(fs, cfg, paths, manifest, current, total, base_size, false)
    }

    /// Opens the AOF for `CONFIG SET appendonly yes` on a running server,
    /// as Redis's `AOF_WAIT_REWRITE`: appends go to a temp incr file
    /// (`temp-<appendfilename>.incr`) that no manifest names, and nothing
    /// counts as synced until a rewrite ([`Aof::begin_rewrite`] …
    /// [`Aof::finish_rewrite`]) has installed the first base, renamed the
    /// temp incr into a real one and written the manifest. A manifest
    /// already in the directory (an AOF turned off earlier) is left as it
    /// is until then; its files become history at the commit. A crash
    /// before the commit leaves no AOF (or the old one), never a log
    /// without its base.
    pub fn open_waiting(fs: Arc<dyn Fs>, cfg: AofConfig) -> Result<Aof, AofError> {
        let paths = AofPaths::new(&cfg.dir, &cfg.appendfilename, &cfg.appenddirname);
        fs.create_dir_all(&paths.aof_dir)
            .map_err(|e| io("Can't open or create append-only dir", e))?;
        let manifest = read_manifest(fs.as_ref(), &paths)
            .map_err(|e| AofError::Io(e.to_string()))?
            .unwrap_or_default();
        let file = fs
            .create(&paths.temp_incr())
            .map_err(|e| io("Can't open the temp incr file", e))?;
        let current = Current {
            file,
            file_bytes: 0,
            seq: 0,
            written: 0,
            sync_failed: false,
        };
        Aof::with_file(fs, cfg, paths, manifest, current, 0, 0, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn with_file(
        fs: Arc<dyn Fs>,
        cfg: AofConfig,
        paths: AofPaths,
        manifest: Manifest,
        current: Current,
        total: u64,
        base_size: u64,
        pending: bool,
    ) -> Result<Aof, AofError> {
        let shared = Arc::new(Shared {
            policy: cfg.fsync,
            latency: cfg.latency.clone(),
            no_fsync_on_rewrite: cfg.no_fsync_on_rewrite,
            buf: Mutex::new(Buffered::default()),
            cur: Mutex::new(current),
            synced: AtomicU64::new(0),
            acked: watch::Sender::new(0),
            error: Mutex::new(None),
            fatal: AtomicBool::new(false),
            rewriting: AtomicBool::new(false),
            pending: AtomicBool::new(pending),
            delayed_fsync: AtomicU64::new(0),
            postponed_since: Mutex::new(None),
            current_size: AtomicU64::new(total),
            base_size: AtomicU64::new(base_size),
            demand: AtomicU64::new(0),
            arrivals: AtomicU64::new(0),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            inline: Mutex::new(None),
            stop: AtomicBool::new(false),
            fs,
        });
        // Under `no` too: it then fsyncs only on demand (`wait_durable`).
        let thread = match cfg.fsync {
            _ if !cfg.sync_thread => None,
            _ => {
                let s = Arc::clone(&shared);
                Some(
                    std::thread::Builder::new()
                        .name("aof-fsync".into())
                        .spawn(move || sync_thread(s))
                        .map_err(|e| io("Can't start the AOF fsync thread", e))?,
                )
            }
        };
        Ok(Aof {
            cfg,
            paths,
            shared,
            manifest,
            selected_db: None,
            last_ts: 0,
            thread,
            parked: None,
        })
    }

    pub fn handle(&self) -> AofHandle {
        AofHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.cfg.fsync
    }

    /// The manifest in force.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Appends the effects of one command (several for a transaction or a
    /// script: pass MULTI/EXEC in `cmds` and they stay one unit) run in
    /// `db`. Returns the offset just past them. Under `always` the caller
    /// must not reply before [`AofHandle::wait_synced`] covers it; under
    /// `everysec`/`no` it is written to the file on return.
    ///
    /// Refused (`Misconf`/`Fatal`) while the sticky error is set.
    pub fn append<I, A>(&mut self, db: usize, cmds: I) -> Result<u64, AofError>
    where
        I: IntoIterator,
        I::Item: AsRef<[A]>,
        A: AsRef<[u8]>,
    {
        if let Some(e) = self.shared.refusal() {
            return Err(e);
        }
        let mut out = Vec::new();
        if self.cfg.timestamps {
            let now = self.cfg.clock.now_ms() / 1000;
            if now > self.last_ts {
                self.last_ts = now;
                out.extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        if self.selected_db != Some(db) {
            let d = db.to_string();
            encode_command(&mut out, &[b"SELECT", d.as_bytes()]);
            self.selected_db = Some(db);
        }
        for c in cmds {
            encode_command(&mut out, c.as_ref());
        }
        let offset = {
            let mut b = self.shared.buf.lock();
            b.bytes.extend_from_slice(&out);
            b.end += out.len() as u64;
            b.end
        };
        match self.cfg.fsync {
            // Deferred: the waiter kicks the sync thread once per batch
            // (`AofHandle::wait_synced`), not once per command.
            _ if self.cfg.defer_write => {}
            FsyncPolicy::Always => self.shared.kick(),
            _ => self.shared.write_through(),
        }
        Ok(offset)
    }

    /// Writes whatever is buffered (a postponed `everysec` write) now.
    pub fn flush(&mut self) -> Result<(), AofError> {
        let mut cur = self.shared.cur.lock();
        if self.shared.write_buffer(&mut cur) {
            Ok(())
        } else {
            Err(self
                .shared
                .refusal()
                .unwrap_or_else(|| AofError::Io("AOF write failed".into())))
        }
    }

    /// The offset just past everything appended.
    pub fn offset(&self) -> u64 {
        self.shared.buf.lock().end
    }

    pub fn stats(&self) -> AofStats {
        AofStats {
            aof_rewrite_in_progress: self.shared.rewriting.load(Ordering::Acquire),
            aof_current_size: self.shared.current_size.load(Ordering::Relaxed),
            aof_base_size: self.shared.base_size.load(Ordering::Relaxed),
            aof_delayed_fsync: self.shared.delayed_fsync.load(Ordering::Relaxed),
            aof_last_write_error: self.shared.error_text(),
            offset: self.offset(),
            synced_offset: self.shared.synced.load(Ordering::Acquire),
        }
    }

    /// `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`, as
    /// Redis's serverCron decides.
    pub fn should_rewrite(&self, percentage: u64, min_size: u64) -> bool {
        if percentage == 0 || self.shared.rewriting.load(Ordering::Acquire) {
            return false;
        }
        let current = self.shared.current_size.load(Ordering::Relaxed);
        if current <= min_size {
            return false;
        }
        let base = self.shared.base_size.load(Ordering::Relaxed).max(1);
        let growth = (current * 100 / base).saturating_sub(100);
        growth >= percentage
    }

    /// Starts a rewrite: what was appended so far goes to the old incr
    /// file (written and fdatasynced), later appends to a new incr file
    /// that is in the manifest before this returns. The caller must take
    /// the dataset snapshot for the base *at this point* (under the same
    /// lock that orders appends) and write it to the returned temp file,
    /// then call [`Aof::finish_rewrite`] (or [`Aof::abort_rewrite`]).
    pub fn begin_rewrite(&mut self) -> Result<Box<dyn FsFile>, AofError> {
        if self.shared.rewriting.load(Ordering::Acquire) {
            return Err(AofError::RewriteInProgress);
        }
        if self.shared.pending.load(Ordering::Acquire) {
            return self.begin_first_base();
        }
        let fs = Arc::clone(&self.shared.fs);
        let temp = fs
            .create(&self.paths.temp_base())
            .map_err(|e| io("Can't create the temp rewrite file", e))?;
        let mut cur = self.shared.cur.lock();
        // Close out the old file. After a failure its tail is dropped: the
        // new base, taken now, holds those writes.
        // A failure is recorded in the shared state and checked below.
        let _ = self.shared.write_buffer(&mut cur) && self.shared.sync_current(&mut cur);
        if self.shared.fatal.load(Ordering::Acquire) {
            drop(cur);
            let _ = fs.remove(&self.paths.temp_base());
            return Err(self
                .shared
                .refusal()
                .unwrap_or_else(|| AofError::Fatal("AOF failed".into())));
        }
        let end = self.shared.buf.lock().end;
        let mut next = self.manifest.clone();
        let name = next.new_incr(&self.cfg.appendfilename);
        let path = self.paths.file(&name);
        // After a write or fsync failure the old file may end in a torn
        // command, which the loader accepts only in the last file. Appends
        // are refused until the rewrite finishes, so the new file stays
        // empty until then and only the finishing manifest names it: a
        // crash before that leaves the failed file last.
        let in_error = self.shared.error.lock().is_some();
        let opened = fs.create(&path).and_then(|f| {
            if in_error {
                return Ok(f);
            }
            next.persist(fs.as_ref(), &self.paths.manifest())
                .map(|()| f)
        });
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                // The new incr file stays: if the manifest rename got
                // through and only the directory sync failed, the manifest
                // on disk names it, and an empty incr file loads fine.
                let _ = fs.remove(&self.paths.temp_base());
                return Err(io("Can't open a new incr file for the rewrite", e));
            }
        };
        let failed = std::mem::replace(
            &mut *cur,
            Current {
                file,
                seq: next.curr_incr_seq,
                written: end,
                file_bytes: 0,
                sync_failed: false,
            },
        );
        if in_error {
            // What the failed file did not take: the base, taken now, holds
            // it, and it must not follow the base in the new file. Set
            // aside, not dropped: if the rewrite is given up, the retry
            // goes on in the failed file (`abort_rewrite`).
            let tail = std::mem::take(&mut self.shared.buf.lock().bytes);
            self.parked = Some(Parked {
                cur: failed,
                tail,
                manifest: self.manifest.clone(),
                new_incr: path,
            });
        }
        drop(cur);
        self.manifest = next;
        self.selected_db = None;
        self.shared.rewriting.store(true, Ordering::Release);
        Ok(temp)
    }

    /// [`Aof::begin_rewrite`] while waiting for the first base: the base
    /// taken now holds everything appended so far, so the temp incr file
    /// starts over empty (Redis truncates it when the rewrite starts; after
    /// a failed attempt this is the retry).
    fn begin_first_base(&mut self) -> Result<Box<dyn FsFile>, AofError> {
        let fs = Arc::clone(&self.shared.fs);
        let temp = fs
            .create(&self.paths.temp_base())
            .map_err(|e| io("Can't create the temp rewrite file", e))?;
        let file = match fs.create(&self.paths.temp_incr()) {
            Ok(f) => f,
            Err(e) => {
                let _ = fs.remove(&self.paths.temp_base());
                return Err(io("Can't open the temp incr file", e));
            }
        };
        if self.shared.fatal.load(Ordering::Acquire) {
            let _ = fs.remove(&self.paths.temp_base());
            return Err(self
                .shared
                .refusal()
                .unwrap_or_else(|| AofError::Fatal("AOF failed".into())));
        }
        let mut cur = self.shared.cur.lock();
        let end = {
            let mut b = self.shared.buf.lock();
            b.bytes.clear();
            b.end
        };
        // A seq of its own per attempt: a write error on an earlier temp
        // file (now discarded) is lifted by this attempt's commit, one on
        // this file is not (see `write_buffer`).
        let seq = cur.seq.wrapping_add(1) | (1 << 62);
        *cur = Current {
            file,
            seq,
            written: end,
            file_bytes: 0,
            sync_failed: false,
        };
        drop(cur);
        self.shared.current_size.store(0, Ordering::Relaxed);
        self.selected_db = None;
        self.shared.rewriting.store(true, Ordering::Release);
        Ok(temp)
    }

    /// [`Aof::finish_rewrite`] of the first base: base synced and renamed,
    /// then the temp incr written, fdatasynced and renamed into the new
    /// manifest's incr file, the directory synced, the manifest written.
    /// Only then is anything appended durable: `synced` and `acked` jump
    /// to what the incr file holds, releasing the replies that waited.
    fn finish_first_base(&mut self, mut base: Box<dyn FsFile>) -> Result<(), AofError> {
        let fs = Arc::clone(&self.shared.fs);
        let temp = self.paths.temp_base();
        let mut next = self.manifest.clone();
        let incr = next.new_incr(&self.cfg.appendfilename);
        let name = next.install_base(&self.cfg.appendfilename, self.cfg.use_rdb_preamble);
        let path = self.paths.file(&name);
        let fail = |this: &mut Aof, e: String| {
            let _ = this.shared.fs.remove(&this.paths.temp_base());
            this.shared.rewriting.store(false, Ordering::Release);
            Err(io("AOF rewrite failed", e))
        };
        if let Err(e) = base.sync_data().and_then(|()| {
            drop(base);
            fs.rename(&temp, &path)
        }) {
            return fail(self, e.to_string());
        }
        let mut cur = self.shared.cur.lock();
        // An error on an earlier attempt's temp file refuses appends, so
        // nothing is buffered; this attempt's commit lifts it (below).
        let stale = self
            .shared
            .error
            .lock()
            .as_ref()
            .is_some_and(|(_, seq)| *seq != cur.seq);
        if !stale && !self.shared.write_buffer(&mut cur) {
            drop(cur);
            let text = self.shared.error_text().unwrap_or_default();
            return fail(self, text);
        }
        if let Err(e) = cur.file.sync_data() {
            // An fdatasync failed: this file is never trusted again (and
            // under `always` the server stops).
            cur.sync_failed = true;
            let seq = cur.seq;
            self.shared
                .fail(seq, format!("Can't fsync the AOF file: {e}"));
            drop(cur);
            return fail(self, e.to_string());
        }
        let committed = fs
            .rename(&self.paths.temp_incr(), &self.paths.file(&incr))
            .and_then(|()| fs.sync_dir(&self.paths.aof_dir))
            .and_then(|()| next.persist(fs.as_ref(), &self.paths.manifest()));
        if let Err(e) = committed {
            drop(cur);
            return fail(self, e.to_string());
        }
        let old_seq = cur.seq;
        cur.seq = next.curr_incr_seq;
        let written = cur.written;
        let file_bytes = cur.file_bytes;
        self.shared.pending.store(false, Ordering::Release);
        self.shared.synced.store(written, Ordering::Release);
        self.shared.acked.send_modify(|a| *a = (*a).max(written));
        {
            let mut err = self.shared.error.lock();
            if !self.shared.fatal.load(Ordering::Acquire)
                && err.as_ref().is_some_and(|(_, seq)| *seq != old_seq)
            {
                *err = None;
            }
        }
        drop(cur);
        tracing::info!("the AOF's first base is in: the append only file is on");
        // An AOF turned off earlier left its files: history now.
        let mut tidy = next.clone();
        for h in std::mem::take(&mut tidy.history) {
            let _ = fs.remove(&self.paths.file(&h.name));
        }
        if tidy.persist(fs.as_ref(), &self.paths.manifest()).is_ok() {
            next = tidy;
        }
        self.manifest = next;
        let base_size = fs.len(&path).unwrap_or(0);
        self.shared.base_size.store(base_size, Ordering::Relaxed);
        self.shared
            .current_size
            .store(base_size + file_bytes, Ordering::Relaxed);
        self.shared.rewriting.store(false, Ordering::Release);
        Ok(())
    }

    /// Whether the AOF still waits for its first base (see
    /// [`Aof::open_waiting`]).
    pub fn is_waiting(&self) -> bool {
        self.shared.pending.load(Ordering::Acquire)
    }

    /// Turns an AOF that still waits for its first base off (`CONFIG SET
    /// appendonly no` meanwhile): its temp files go, nothing is committed,
    /// and a base that finishes later is refused. False when the base was
    /// in already (the caller then closes the AOF as usual).
    pub fn discard_waiting(&mut self) -> bool {
        if !self.shared.pending.load(Ordering::Acquire) {
            return false;
        }
        self.shared.rewriting.store(false, Ordering::Release);
        let _ = self.shared.fs.remove(&self.paths.temp_base());
        let _ = self.shared.fs.remove(&self.paths.temp_incr());
        true
    }

    /// Installs the base written to `base`: fdatasync, rename into place,
    /// and a new manifest (new base; old base and incr files now history)
    /// written atomically; then deletes the history files. A sticky error
    /// from a file that is now history is cleared.
    pub fn finish_rewrite(&mut self, mut base: Box<dyn FsFile>) -> Result<(), AofError> {
        if !self.shared.rewriting.load(Ordering::Acquire) {
            return Err(AofError::NoRewrite);
        }
        if self.shared.pending.load(Ordering::Acquire) {
            return self.finish_first_base(base);
        }
        let fs = Arc::clone(&self.shared.fs);
        let temp = self.paths.temp_base();
        let mut next = self.manifest.clone();
        let name = next.install_base(&self.cfg.appendfilename, self.cfg.use_rdb_preamble);
        let path = self.paths.file(&name);
        let installed = base
            .sync_data()
            .and_then(|()| {
                drop(base);
                fs.rename(&temp, &path)
            })
            // The base's name must be durable before a manifest names it.
            .and_then(|()| fs.sync_dir(&self.paths.aof_dir))
            .and_then(|()| next.persist(fs.as_ref(), &self.paths.manifest()));
        if let Err(e) = installed {
            // Only the temp file goes: a renamed base may already be named
            // by the manifest on disk if just its directory sync failed.
            let _ = fs.remove(&temp);
            self.shared.rewriting.store(false, Ordering::Release);
            return Err(io("AOF rewrite failed", e));
        }
        // History files are garbage now; a failure to delete them only
        // leaves them listed for the next rewrite.
        let mut tidy = next.clone();
        for h in std::mem::take(&mut tidy.history) {
            let _ = fs.remove(&self.paths.file(&h.name));
        }
        if tidy.persist(fs.as_ref(), &self.paths.manifest()).is_ok() {
            next = tidy;
        }
        self.manifest = next;
        // The base holds what the failed file did not take.
        self.parked = None;
        let base_size = fs.len(&path).unwrap_or(0);
        let cur_seq = {
            let cur = self.shared.cur.lock();
            self.shared
                .current_size
                .store(base_size + cur.file_bytes, Ordering::Relaxed);
            cur.seq
        };
        self.shared.base_size.store(base_size, Ordering::Relaxed);
        {
            let mut err = self.shared.error.lock();
            if !self.shared.fatal.load(Ordering::Acquire)
                && err.as_ref().is_some_and(|(_, seq)| *seq < cur_seq)
            {
                tracing::info!("AOF rewrite succeeded; writes are accepted again");
                *err = None;
            }
        }
        self.shared.rewriting.store(false, Ordering::Release);
        Ok(())
    }

    /// Gives up a rewrite: the temp base is removed; the incr file opened
    /// for it stays in the manifest as a second incr, as in Redis. After a
    /// failure the failed file comes back with what it did not take, so the
    /// retry can still put that in it.
    pub fn abort_rewrite(&mut self, base: Option<Box<dyn FsFile>>) {
        drop(base);
        let _ = self.shared.fs.remove(&self.paths.temp_base());
        if let Some(p) = self.parked.take() {
            *self.shared.cur.lock() = p.cur;
            {
                // Appends are refused while the error stands: nothing came
                // after the tail.
                let mut b = self.shared.buf.lock();
                let later = std::mem::take(&mut b.bytes);
                b.bytes = p.tail;
                b.bytes.extend_from_slice(&later);
            }
            self.manifest = p.manifest;
            self.selected_db = None;
            let _ = self.shared.fs.remove(&p.new_incr);
        }
        self.shared.rewriting.store(false, Ordering::Release);
    }
}

impl Drop for Aof {
    fn drop(&mut self) {
        // A clean shutdown writes and syncs what is left, as Redis does
        // (not a temp incr file that no base ever made part of the log).
        let pending = self.shared.pending.load(Ordering::Acquire);
        if !pending && self.cfg.fsync != FsyncPolicy::No && self.shared.refusal().is_none() {
            let end = self.offset();
            let _ = self.shared.flush_and_sync_up_to(end);
        } else if !pending {
            let _ = self.flush();
        }
        self.shared.stop.store(true, Ordering::Release);
        self.shared.kick();
        // Both: the inline syncer, if any, and the sync thread.
        *self.shared.wake.lock() = true;
        self.shared.wake_cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::aof::crash_tests::load_d;
    use crate::persistence::aof::LoadItem;
    use crate::persistence::fs::SimFs;

    fn cfg(policy: FsyncPolicy) -> AofConfig {
        let mut c = AofConfig::new("/d");
        c.fsync = policy;
        c.use_rdb_preamble = false;
        c
    }

    fn set(k: &'static str, v: &'static str) -> Vec<&'static [u8]> {
        vec![b"SET", k.as_bytes(), v.as_bytes()]
    }

    /// The commands a load replays, as text.
    fn loaded(fs: &SimFs) -> Vec<String> {
        let mut out = Vec::new();
        load_d(fs, &mut |i| {
            if let LoadItem::Command { argv } = i {
                let s: Vec<String> = argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                out.push(s.join(" "));
            }
            Ok(())
        })
        .expect("load");
        out
    }

    #[test]
    fn append_encodes_select_and_timestamps_and_round_trips() {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::No);
        c.timestamps = true;
        let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        let o1 = aof.append(0, &[set("a", "1")]).expect("append");
        let o2 = aof.append(0, &[set("b", "2")]).expect("append");
        let o3 = aof
            .append(3, &[vec![&b"MULTI"[..]], set("c", "3"), vec![&b"EXEC"[..]]])
            .expect("append");
        assert!(o1 < o2 && o2 < o3);
        // `no`: written through before the append returns.
        let file = fs
            .read("/d/appendonlydir/appendonly.aof.1.incr.aof".as_ref())
            .expect("read");
        assert_eq!(file.len() as u64, o3);
        assert!(file.starts_with(b"#TS:"));
        assert_eq!(
            loaded(&fs),
            ["SELECT 0", "SET a 1", "SET b 2", "SELECT 3", "MULTI", "SET c 3", "EXEC"]
        );
        assert_eq!(
            fs.read("/d/appendonlydir/appendonly.aof.manifest".as_ref())
                .expect("manifest"),
            b"file appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        drop(aof);
        // Reopening appends to the same incr file; its first command gets
        // a SELECT again.
        let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::No)).expect("reopen");
        assert_eq!(aof.stats().aof_current_size, o3);
        aof.append(3, &[set("d", "4")]).expect("append");
        drop(aof);
        let all = loaded(&fs);
        assert_eq!(&all[7..], ["SELECT 3", "SET d 4"]);
    }

    #[test]
    fn latency_hook_sees_writes_and_always_fsyncs() {
        let seen: Arc<parking_lot::Mutex<Vec<&'static str>>> = Default::default();
        for policy in [FsyncPolicy::No, FsyncPolicy::Always] {
            seen.lock().clear();
            let fs = SimFs::new();
            let mut c = cfg(policy);
            let s = seen.clone();
            c.latency = Some(Arc::new(move |event, _| s.lock().push(event)));
            let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
            aof.append(0, &[set("a", "1")]).expect("append");
            drop(aof);
            let events = seen.lock().clone();
            assert!(events.contains(&"aof-write"), "{policy:?}: {events:?}");
            assert_eq!(
                events.contains(&"aof-fsync-always"),
                policy == FsyncPolicy::Always,
                "{policy:?}: {events:?}"
            );
        }
    }

    #[test]
    fn always_is_durable_once_synced() {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::Always);
        c.sync_thread = false;
        let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        let h = aof.handle();
        let off = aof.append(0, &[set("a", "1")]).expect("append");
        // Buffered only: a crash now loses it, and that is allowed,
        // because nobody was told it is durable.
        assert_eq!(h.synced_offset(), 0);
        assert!(loaded(&fs.crash(|n| n)).is_empty());
        h.flush_and_sync_up_to(off).expect("sync");
        assert_eq!(h.synced_offset(), off);
        assert_eq!(loaded(&fs.crash(|_| 0)), ["SELECT 0", "SET a 1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn always_waiters_are_released_by_the_sync_thread() {
        let fs = SimFs::new();
        let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::Always)).expect("open");
        let h = aof.handle();
        let off = aof.append(0, &[set("a", "1")]).expect("append");
        tokio::time::timeout(Duration::from_secs(10), h.wait_synced(off))
            .await
            .expect("in time")
            .expect("synced");
        assert!(h.synced_offset() >= off);
        assert_eq!(loaded(&fs.crash(|_| 0)), ["SELECT 0", "SET a 1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn always_fsync_failure_is_fatal() {
        let fs = SimFs::new();
        let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::Always)).expect("open");
        let h = aof.handle();
        fs.fail_syncs(true);
        let off = aof.append(0, &[set("a", "1")]).expect("append");
        let r = tokio::time::timeout(Duration::from_secs(10), h.wait_synced(off))
            .await
            .expect("in time");
        assert!(matches!(r, Err(AofError::Fatal(_))), "{r:?}");
        assert!(matches!(
            aof.append(0, &[set("b", "2")]),
            Err(AofError::Fatal(_))
        ));
        assert!(matches!(h.check_writable(), Err(AofError::Fatal(_))));
        // Never retried: a later "successful" fsync proves nothing.
        fs.fail_syncs(false);
        assert!(h.flush_and_sync_up_to(off).is_err());
        assert_eq!(h.synced_offset(), 0);
    }

    #[test]
    fn everysec_fsync_failure_refuses_writes_until_a_rewrite() {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::EverySec);
        c.sync_thread = false;
        let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        let h = aof.handle();
        let off = aof.append(0, &[set("a", "1")]).expect("append");
        fs.fail_syncs(true);
        let err = h.flush_and_sync_up_to(off).expect_err("fsync fails");
        assert!(
            err.to_string()
                .starts_with("MISCONF Errors writing to the AOF file: Can't fsync"),
            "{err}"
        );
        assert_eq!(aof.append(0, &[set("b", "2")]), Err(err.clone()));
        assert!(aof.stats().aof_last_write_error.is_some());
        fs.fail_syncs(false);
        // Still refused: the failed file is not trusted again.
        assert!(h.check_writable().is_err());
        let mut base = aof.begin_rewrite().expect("begin");
        assert!(h.check_writable().is_err(), "refused until the base is in");
        base.write_all(
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n",
        )
        .expect("base");
        aof.finish_rewrite(base).expect("finish");
        h.check_writable().expect("writable again");
        let off = aof.append(0, &[set("b", "2")]).expect("append");
        h.flush_and_sync_up_to(off).expect("sync");
        assert_eq!(
            loaded(&fs.crash(|_| 0)),
            ["SELECT 0", "SET a 1", "SELECT 0", "SET b 2"]
        );
    }

    /// An `everysec` AOF on a simulated disk that the test drives by hand:
    /// no sync thread, appends written only by `write_pending`/`flush`.
    fn everysec_by_hand() -> (SimFs, Aof) {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::EverySec);
        c.sync_thread = false;
        c.defer_write = true;
        let aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        (fs, aof)
    }

    #[test]
    fn write_pending_refuses_replies_once_the_aof_failed() {
        let (fs, mut aof) = everysec_by_hand();
        let h = aof.handle();
        aof.append(0, &[set("a", "1")]).expect("append");
        h.write_pending().expect("written: the reply may go out");
        // The write of "b" fails: its reply must not go out.
        aof.append(0, &[set("b", "2")]).expect("append");
        fs.fail_writes(true);
        let err = h.write_pending().expect_err("not written");
        assert!(
            err.to_string()
                .starts_with("MISCONF Errors writing to the AOF file: Error writing"),
            "{err}"
        );
        assert_eq!(loaded(&fs), ["SELECT 0", "SET a 1"]);
        fs.fail_writes(false);
        // The retry writes it, but the refusal stands until a rewrite.
        assert!(h.write_pending().is_err());
        assert_eq!(loaded(&fs), ["SELECT 0", "SET a 1", "SET b 2"]);

        // The once-a-second fsync fails while "d" waits for its write: no
        // reply for "d" either, though it goes to the file (never synced).
        let (fs, mut aof) = everysec_by_hand();
        let h = aof.handle();
        aof.append(0, &[set("c", "3")]).expect("append");
        h.write_pending().expect("written");
        aof.append(0, &[set("d", "4")]).expect("append");
        fs.fail_syncs(true);
        assert!(!aof.shared.sync_current(&mut aof.shared.cur.lock()));
        let err = h.write_pending().expect_err("refused");
        assert!(
            err.to_string()
                .starts_with("MISCONF Errors writing to the AOF file: Can't fsync"),
            "{err}"
        );
        fs.fail_syncs(false);
        assert_eq!(loaded(&fs), ["SELECT 0", "SET c 3", "SET d 4"]);
        assert_eq!(
            h.synced_offset(),
            0,
            "a file whose fsync failed is not synced again"
        );
    }

    #[test]
    fn a_failed_write_is_kept_and_retried_and_a_rewrite_does_not_repeat_it() {
        let (fs, mut aof) = everysec_by_hand();
        let h = aof.handle();
        // Buffered, as a write postponed behind an fsync is, whose reply
        // went out already: a failed write must not drop it.
        aof.append(0, &[set("a", "1")]).expect("append");
        fs.fail_writes(true);
        assert!(aof.flush().is_err());
        assert!(loaded(&fs).is_empty());
        fs.fail_writes(false);
        assert!(aof.flush().is_err(), "writes stay refused");
        assert_eq!(
            loaded(&fs),
            ["SELECT 0", "SET a 1"],
            "but it is in the file"
        );
        let mut base = aof.begin_rewrite().expect("begin");
        base.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n")
            .expect("base");
        aof.finish_rewrite(base).expect("finish");
        h.check_writable().expect("writable again");
        aof.append(0, &[set("c", "3")]).expect("append");
        h.write_pending().expect("written");
        assert_eq!(loaded(&fs), ["SET a 1", "SELECT 0", "SET c 3"]);
    }

    #[test]
    fn an_aborted_rewrite_gives_the_retry_back_what_the_failed_write_kept() {
        let (fs, mut aof) = everysec_by_hand();
        // "a" is buffered (as a postponed everysec write, acknowledged
        // already); its write fails on a full disk and is kept for the retry.
        aof.append(0, &[set("a", "1")]).expect("append");
        fs.fail_data_writes(true);
        assert!(aof.flush().is_err());
        // A rewrite starts while the disk is still full and is given up.
        let base = aof.begin_rewrite().expect("begin");
        aof.abort_rewrite(Some(base));
        // The disk recovers: the retry puts "a" in the failed file, which
        // the manifest on disk still names.
        fs.fail_data_writes(false);
        assert!(aof.flush().is_err(), "writes stay refused until a rewrite");
        assert_eq!(loaded(&fs.crash(|n| n)), ["SELECT 0", "SET a 1"]);
    }

    #[test]
    fn write_failure_under_no_is_sticky() {
        let fs = SimFs::new();
        let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::No)).expect("open");
        fs.fail_writes(true);
        // The failing append itself was executed already; the next is refused.
        aof.append(0, &[set("a", "1")]).expect("append");
        fs.fail_writes(false);
        let err = aof.append(0, &[set("b", "2")]).expect_err("refused");
        assert!(
            err.to_string()
                .starts_with("MISCONF Errors writing to the AOF file: Error writing"),
            "{err}"
        );
    }

    #[test]
    fn rewrite_installs_base_and_deletes_history() {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::EverySec);
        c.sync_thread = false;
        let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        aof.append(0, &[set("a", "1")]).expect("append");
        let mut base = aof.begin_rewrite().expect("begin");
        assert!(aof.stats().aof_rewrite_in_progress);
        assert!(matches!(
            aof.begin_rewrite(),
            Err(AofError::RewriteInProgress)
        ));
        // Appends go to the new incr file at once, and the manifest
        // already lists it.
        aof.append(0, &[set("b", "2")]).expect("append");
        let m = fs
            .read("/d/appendonlydir/appendonly.aof.manifest".as_ref())
            .expect("manifest");
        assert_eq!(
            m,
            b"file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        base.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n")
            .expect("base");
        aof.finish_rewrite(base).expect("finish");
        let m = fs
            .read("/d/appendonlydir/appendonly.aof.manifest".as_ref())
            .expect("manifest");
        assert_eq!(
            m,
            b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        let names = fs.list("/d/appendonlydir".as_ref()).expect("list");
        assert!(
            !names.iter().any(|n| n == "appendonly.aof.1.incr.aof"),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.starts_with("temp-")), "{names:?}");
        let st = aof.stats();
        assert!(!st.aof_rewrite_in_progress);
        assert_eq!(st.aof_base_size, 27);
        assert_eq!(loaded(&fs), ["SET a 1", "SELECT 0", "SET b 2"]);
    }

    #[test]
    fn aborted_rewrite_keeps_two_incr_files() {
        let fs = SimFs::new();
        let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::No)).expect("open");
        aof.append(0, &[set("a", "1")]).expect("append");
        let base = aof.begin_rewrite().expect("begin");
        aof.append(1, &[set("b", "2")]).expect("append");
        aof.abort_rewrite(Some(base));
        assert!(!aof.stats().aof_rewrite_in_progress);
        assert_eq!(aof.manifest().incrs.len(), 2);
        assert_eq!(loaded(&fs), ["SELECT 0", "SET a 1", "SELECT 1", "SET b 2"]);
    }

    #[test]
    fn everysec_postpones_a_write_behind_a_slow_fsync_then_counts_it() {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::EverySec);
        c.sync_thread = false;
        let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        let shared = Arc::clone(&aof.shared);
        let incr = || {
            fs.len("/d/appendonlydir/appendonly.aof.1.incr.aof".as_ref())
                .expect("len")
        };
        // Stand in for an fdatasync in progress: hold the file.
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let _cur = shared.cur.lock();
            held_tx.send(()).expect("send");
            std::thread::sleep(Duration::from_millis(200));
        });
        held_rx.recv().expect("held");
        let o1 = aof.append(0, &[set("a", "1")]).expect("append");
        // Postponed: buffered, not written, and the append did not block.
        assert_eq!(incr(), 0);
        assert_eq!(aof.stats().aof_delayed_fsync, 0);
        // Two seconds later the next write waits for the fsync instead.
        *aof.shared.postponed_since.lock() = Some(Instant::now() - Duration::from_secs(3));
        let o2 = aof.append(0, &[set("b", "2")]).expect("append");
        holder.join().expect("holder");
        assert_eq!(aof.stats().aof_delayed_fsync, 1);
        assert!(o1 < o2);
        assert_eq!(incr(), o2);
    }

    #[test]
    fn everysec_thread_syncs_about_once_a_second() {
        let fs = SimFs::new();
        let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::EverySec)).expect("open");
        let h = aof.handle();
        let off = aof.append(0, &[set("a", "1")]).expect("append");
        let start = Instant::now();
        while h.synced_offset() < off {
            assert!(start.elapsed() < Duration::from_secs(5), "no fsync in 5 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(loaded(&fs.crash(|_| 0)), ["SELECT 0", "SET a 1"]);
    }

    #[test]
    fn no_appendfsync_on_rewrite_releases_waiters_without_fsync() {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::Always);
        c.sync_thread = false;
        c.no_fsync_on_rewrite = true;
        let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        let h = aof.handle();
        let base = aof.begin_rewrite().expect("begin");
        let syncs = fs.syncs();
        let off = aof.append(0, &[set("a", "1")]).expect("append");
        assert_eq!(h.flush_and_sync_up_to(off).expect("released"), off);
        assert_eq!(fs.syncs(), syncs, "no fsync while rewriting");
        assert!(h.synced_offset() < off, "and synced_offset says so");
        aof.finish_rewrite(base).expect("finish");
        let off2 = aof.append(0, &[set("b", "2")]).expect("append");
        h.flush_and_sync_up_to(off2).expect("sync");
        assert_eq!(h.synced_offset(), off2);
    }

    #[test]
    fn failed_rewrite_steps_leave_the_aof_working() {
        let fs = SimFs::new();
        let mut c = cfg(FsyncPolicy::EverySec);
        c.sync_thread = false;
        let mut aof = Aof::open(Arc::new(fs.clone()), c).expect("open");
        let h = aof.handle();
        aof.append(0, &[set("a", "1")]).expect("append");
        // The base cannot be synced: the rewrite fails, nothing changes.
        let base = aof.begin_rewrite().expect("begin");
        fs.fail_syncs(true);
        assert!(matches!(aof.finish_rewrite(base), Err(AofError::Io(_))));
        fs.fail_syncs(false);
        assert!(!aof.stats().aof_rewrite_in_progress);
        assert!(aof.manifest().base.is_none());
        h.check_writable()
            .expect("a failed rewrite is no write error");
        let off = aof.append(0, &[set("b", "2")]).expect("append");
        h.flush_and_sync_up_to(off).expect("sync");
        // No file can be created: the rewrite is refused, appends go on.
        fs.fail_writes(true);
        assert!(matches!(aof.begin_rewrite(), Err(AofError::Io(_))));
        fs.fail_writes(false);
        let off = aof.append(0, &[set("c", "3")]).expect("append");
        h.flush_and_sync_up_to(off).expect("sync");
        let all = loaded(&fs.crash(|_| 0));
        assert_eq!(
            all.iter().filter(|c| c.starts_with("SET")).count(),
            3,
            "{all:?}"
        );
    }

    #[test]
    fn open_deletes_history_and_stale_temp_files() {
        use crate::persistence::fs::write_atomic;
        let fs = SimFs::new();
        let dir = "/d/appendonlydir";
        let f = |n: &str| PathBuf::from(format!("{dir}/{n}"));
        write_atomic(
            &fs,
            &f("appendonly.aof.manifest"),
            b"file appendonly.aof.2.base.aof seq 2 type b\n\
file appendonly.aof.1.incr.aof seq 1 type h\n\
file appendonly.aof.2.incr.aof seq 2 type i\n",
        )
        .expect("manifest");
        for n in [
            "appendonly.aof.2.base.aof",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.2.incr.aof",
            "temp-rewriteaof-bg-1.aof",
        ] {
            write_atomic(&fs, &f(n), b"").expect("file");
        }
        let aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::No)).expect("open");
        assert!(aof.manifest().history.is_empty());
        assert_eq!(
            fs.list(dir.as_ref()).expect("list"),
            [
                "appendonly.aof.2.base.aof",
                "appendonly.aof.2.incr.aof",
                "appendonly.aof.manifest"
            ]
        );
        assert_eq!(
            fs.crash(|_| 0).read(&f("appendonly.aof.manifest")).expect("manifest"),
            b"file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }

    #[test]
    fn should_rewrite_follows_auto_aof_rewrite_settings() {
        let fs = SimFs::new();
        let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::No)).expect("open");
        assert!(!aof.should_rewrite(100, 0));
        aof.append(0, &[set("a", "1")]).expect("append");
        // No base: any growth over min-size counts.
        assert!(aof.should_rewrite(100, 0));
        assert!(!aof.should_rewrite(100, 1024));
        assert!(!aof.should_rewrite(0, 0), "0 disables");
    }
}
