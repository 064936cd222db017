//! What a running server does with persistence: load `dir` at startup
//! (the AOF when `appendonly yes`, else the RDB file), SAVE, the save
//! schedule, the AOF as the effect sink (see `server::effects`), and the
//! save at shutdown. The formats live in [`super::rdb`] and [`super::aof`];
//! all I/O goes through [`Fs`].
//!
//! Gates dispatch reads in one relaxed load ([`Persistence::gate`]):
//! `LOADING` while the dataset loads, `MISCONF` after a failed save (with
//! `stop-writes-on-bgsave-error yes`) or a failed AOF write.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::aof::{self, Aof, AofConfig, AofError, AofHandle, FsyncPolicy, LoadItem};
use super::fs::{self, Fs, RealFs};
use super::rdb::{self, AuxFields, RdbVersion, RdbWriter};
use crate::commands::Ctx;
use crate::config::Config;
use crate::keyspace::Db;
use crate::server::effects::{Argv, EffectSink};
use crate::server::Shared;

/// Bits of [`Persistence::gate`].
pub mod gate {
    /// The dataset is loading: only `loading`-flagged commands run.
    pub const LOADING: u8 = 1;
    /// The last save failed and `stop-writes-on-bgsave-error` is on.
    pub const MISCONF_RDB: u8 = 2;
    /// An AOF write or fsync failed: writes are refused until a rewrite.
    pub const MISCONF_AOF: u8 = 4;
}

pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";
pub const MISCONF_RDB_ERROR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Server-wide persistence state, in [`Shared`].
pub struct Persistence {
    pub fs: Arc<dyn Fs>,
    pub gate: AtomicU8,
    state: Mutex<SaveState>,
    aof: Mutex<Option<Arc<AofSink>>>,
    /// `appendfsync always` is on: every batch's replies wait for the
    /// fsync that covers what they observed.
    always: AtomicBool,
    /// Load progress for INFO (`loading_loaded_bytes`, `loading_total_bytes`).
    pub loaded_bytes: AtomicU64,
    pub total_bytes: AtomicU64,
    /// The AOF failed under `always`: the server stops without saving.
    pub fatal: AtomicBool,
    /// The background save or AOF rewrite running (one snapshot at a time).
    background: Mutex<Option<Background>>,
    /// BGSAVE SCHEDULE asked for a save once the running job ends.
    pub bgsave_scheduled: AtomicBool,
    /// An AOF rewrite is due once nothing runs (Redis's
    /// `aof_rewrite_scheduled`): the first base of an AOF turned on while
    /// a snapshot ran, or the retry after that base failed.
    aof_rewrite_scheduled: AtomicBool,
    /// `aof_last_bgrewrite_status`.
    aof_rewrite_ok: AtomicBool,
    /// Rewrites failed in a row (Redis's `stat_aofrw_consecutive_failures`).
    aof_rewrite_failures: AtomicU32,
    /// Redis's `aofRewriteLimited` state: the current delay in minutes and
    /// the unix time before which a scheduled or automatic rewrite waits.
    aof_rewrite_limit: Mutex<(i64, i64)>,
    /// Test hook: while set, a background AOF rewrite waits before each
    /// chunk it writes (see [`Persistence::hold_aof_rewrites`]).
    rewrite_hold: Arc<(Mutex<bool>, parking_lot::Condvar)>,
}

struct Background {
    kind: Job,
    started: std::time::Instant,
    handle: crate::keyspace::snapshot::SnapshotHandle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Save,
    AofRewrite,
}

#[derive(Debug, Clone)]
pub struct SaveState {
    /// Unix seconds of the last successful save (or of the start).
    pub last_save: i64,
    pub last_ok: bool,
    pub last_duration_s: i64,
    /// Unix seconds of the last attempt (failed saves retry after 5 s).
    pub last_try: i64,
    /// The sum of the DBs' dirty counters at the last save.
    pub dirty_at_save: u64,
    pub saves: u64,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence::new(Arc::new(RealFs))
    }
}

impl Persistence {
    pub fn new(fs: Arc<dyn Fs>) -> Persistence {
        let now = unix_now();
        Persistence {
            fs,
            gate: AtomicU8::new(0),
            state: Mutex::new(SaveState {
                last_save: now,
                last_ok: true,
                last_duration_s: -1,
                last_try: 0,
                dirty_at_save: 0,
                saves: 0,
            }),
            aof: Mutex::new(None),
            always: AtomicBool::new(false),
            loaded_bytes: AtomicU64::new(0),
            total_bytes: AtomicU64::new(0),
            fatal: AtomicBool::new(false),
            background: Mutex::new(None),
            bgsave_scheduled: AtomicBool::new(false),
            aof_rewrite_scheduled: AtomicBool::new(false),
            aof_rewrite_ok: AtomicBool::new(true),
            aof_rewrite_failures: AtomicU32::new(0),
            aof_rewrite_limit: Mutex::new((0, 0)),
            rewrite_hold: Default::default(),
        }
    }

    /// Holds (or lets go of) background AOF rewrites, the first base of an
    /// AOF turned on at runtime included: while held, the writer stops
    /// before its next chunk. For tests that need the base unfinished
    /// while clients go on; the walk's pre-images still queue up.
    #[doc(hidden)]
    pub fn hold_aof_rewrites(&self, hold: bool) {
        let (lock, cv) = &*self.rewrite_hold;
        *lock.lock() = hold;
        cv.notify_all();
    }

    /// `aof_rewrite_scheduled` in INFO.
    pub fn aof_rewrite_scheduled(&self) -> bool {
        self.aof_rewrite_scheduled.load(Ordering::Relaxed)
    }

    /// `aof_last_bgrewrite_status` in INFO.
    pub fn aof_last_rewrite_ok(&self) -> bool {
        self.aof_rewrite_ok.load(Ordering::Relaxed)
    }

    /// Whether the AOF waits for its first base (turned on at runtime).
    pub fn aof_waiting(&self) -> bool {
        self.aof
            .lock()
            .as_ref()
            .is_some_and(|s| s.aof.lock().is_waiting())
    }

    /// Redis's `aofRewriteLimited`: after 3 rewrites failed in a row, a
    /// scheduled or automatic rewrite waits 1 minute, then 2, 4 … up to an
    /// hour between attempts (BGREWRITEAOF is never held back).
    fn rewrite_limited(&self) -> bool {
        let mut lim = self.aof_rewrite_limit.lock();
        if self.aof_rewrite_failures.load(Ordering::Relaxed) < 3 {
            *lim = (0, 0);
            return false;
        }
        let now = unix_now();
        if lim.1 != 0 {
            if now < lim.1 {
                return true;
            }
            lim.1 = 0;
            return false;
        }
        lim.0 = if lim.0 == 0 { 1 } else { (lim.0 * 2).min(60) };
        lim.1 = now + lim.0 * 60;
        tracing::warn!(
            minutes = lim.0,
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry later"
        );
        true
    }

    /// The dataset is still loading.
    pub fn loading(&self) -> bool {
        self.gate.load(Ordering::Relaxed) & gate::LOADING != 0
    }

    /// The background job running, if any (finished jobs are cleared).
    pub fn background(&self) -> Option<(Job, u64)> {
        let mut bg = self.background.lock();
        if bg.as_ref().is_some_and(|b| b.handle.is_finished()) {
            *bg = None;
        }
        bg.as_ref().map(|b| (b.kind, b.started.elapsed().as_secs()))
    }

    pub fn state(&self) -> SaveState {
        self.state.lock().clone()
    }

    fn set_gate(&self, bit: u8, on: bool) {
        if on {
            self.gate.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.gate.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// INFO persistence's AOF figures, when the AOF is on.
    pub fn aof_stats(&self) -> Option<aof::AofStats> {
        let sink = self.aof.lock().clone()?;
        let stats = sink.aof.lock().stats();
        Some(stats)
    }

    pub fn aof_on(&self) -> bool {
        self.aof.lock().is_some()
    }

    /// What a batch's replies wait for before they go out: under `always`
    /// everything appended so far (its own writes and any it observed);
    /// otherwise nothing to wait for, but a batch that wrote (`own` > 0)
    /// first writes the AOF buffer (one write(2) for the whole batch, and
    /// for whatever other clients appended meanwhile). `observed`: the
    /// reply wrote nothing itself, it saw other clients' writes (a client
    /// served from a blocking command).
    #[inline]
    pub fn reply_ticket(&self, own: u64, observed: bool) -> u64 {
        let always = self.always.load(Ordering::Relaxed);
        if !always && own == 0 {
            return 0;
        }
        let Some(sink) = self.aof.lock().clone() else {
            return 0;
        };
        self.ticket_with(&sink, own, observed)
    }

    /// [`Persistence::reply_ticket`] once the sink is in hand.
    fn ticket_with(&self, sink: &AofSink, own: u64, observed: bool) -> u64 {
        use crate::server::effects::{REFUSED, SYNC_REQUIRED};
        let always = self.always.load(Ordering::Relaxed);
        if own == REFUSED {
            // The batch's writes were refused by a failed AOF: no reply.
            return NEVER;
        }
        let handle = &sink.handle;
        let required = own & SYNC_REQUIRED != 0;
        let own = own & !SYNC_REQUIRED;
        if always {
            own.max(handle.offset())
        } else {
            match handle.write_pending() {
                // The AOF failed: the batch's writes may not be in the file,
                // so no reply, and writes are refused from now on. A client
                // served from a blocking command wrote nothing itself (its
                // pop went with the pusher's write, whose reply this is):
                // outside a DB with its own `appendfsync always` it gets
                // its reply, as before the failure; in one, only once an
                // fsync covers its pop (see `AofHandle::wait_durable`).
                Err(e) if !observed => {
                    sink.failed(&e);
                    return NEVER;
                }
                _ => {}
            }
            // A write to a DB with its own `appendfsync always`.
            if required {
                own
            } else {
                0
            }
        }
    }

    /// The AOF offset WAITAOF waits to see fsynced for a client whose last
    /// write ended at `woff`; `None` while the AOF is off. An offset from
    /// an AOF turned off and on again since is past the new one's end:
    /// everything before the new one is in its base, so its end will do.
    pub fn fsync_target(&self, woff: u64) -> Option<u64> {
        let sink = self.aof.lock().clone()?;
        Some(woff.min(sink.handle.offset()))
    }

    /// Whether an fdatasync of the AOF covers `offset`.
    pub fn fsynced(&self, offset: u64) -> bool {
        self.aof
            .lock()
            .as_ref()
            .is_some_and(|s| s.handle.synced_offset() >= offset)
    }

    /// Resolves once an fdatasync covers `offset`, without asking for one
    /// (WAITAOF waits for the policy's own fsyncs, as in Redis: under
    /// `appendfsync no` that may be never). Pending while the AOF is off.
    pub async fn until_fsynced(&self, offset: u64) {
        let handle = self.aof.lock().as_ref().map(|s| s.handle.clone());
        match handle {
            Some(h) => h.until_synced(offset).await,
            None => std::future::pending().await,
        }
    }

    /// What the reply of a client served from a blocking command in `db`
    /// waits for: the pop that served it is logged by now, so everything
    /// appended so far, synced under `always` or when `db` has its own
    /// `appendfsync always` (the client has observed that DB's write).
    pub fn served_ticket(&self, db: usize) -> u64 {
        let Some(sink) = self.aof.lock().clone() else {
            return 0;
        };
        let own = sink.handle.offset();
        let required = if sink.always.get(db).copied().unwrap_or(false) {
            crate::server::effects::SYNC_REQUIRED
        } else {
            0
        };
        self.ticket_with(&sink, own | required, true)
    }

    /// Waits until an fdatasync covers `ticket`; false when it never will
    /// (the AOF failed: the reply must not go out).
    pub async fn wait_durable(&self, ticket: u64) -> bool {
        if ticket == NEVER {
            return false;
        }
        let Some(sink) = self.aof.lock().clone() else {
            return true;
        };
        match sink.handle.wait_durable(ticket).await {
            Ok(()) => true,
            Err(e) => {
                // Found by the fsync thread: refuse writes now and, under
                // `always`, exit, without waiting for the next append.
                sink.failed(&e);
                false
            }
        }
    }
}

/// A reply ticket no fsync covers: the AOF failed, and the batch's writes
/// may not be in the file, so its replies must not go out.
const NEVER: u64 = u64::MAX;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn rdb_path(c: &Config) -> PathBuf {
    c.dir.join(&c.dbfilename)
}

fn rdb_version(c: &Config) -> RdbVersion {
    if c.rdb_version == 10 {
        RdbVersion::V10
    } else {
        RdbVersion::V11
    }
}

/// Changes since the last successful save (Redis's `server.dirty`).
pub fn changes_since_save(srv: &Shared) -> u64 {
    let total = dirty_total(srv);
    total.saturating_sub(srv.persist.state.lock().dirty_at_save)
}

/// The sum of every DB's dirty counter (changes since the start).
pub fn dirty_total(srv: &Shared) -> u64 {
    (0..srv.keyspace.len())
        .map(|i| srv.keyspace.lock(i).dirty)
        .sum()
}

/// The function libraries a file gets: Redis's global ones (`None`: before
/// the DBs), or under `script-scope db` each persisted DB's own.
fn persisted_libraries(srv: &Shared, c: &Config) -> Vec<(Option<usize>, Vec<u8>)> {
    let per_db = srv.scripting.is_per_db();
    let keep = persisted(c);
    srv.scripting
        .library_codes()
        .into_iter()
        .filter(|(scope, _)| !per_db || keep.get(*scope).copied().unwrap_or(true))
        .map(|(scope, code)| (per_db.then_some(scope), code))
        .collect()
}

/// Which DBs go to files: all but those with `persist = false`.
pub fn persisted(c: &Config) -> Vec<bool> {
    (0..c.databases)
        .map(|i| !c.dbs.iter().any(|d| d.index == i && d.no_persist))
        .collect()
}

/// Writes the DBs in `dbs` that persist (see [`persisted`]) as an RDB
/// stream to `w`, in the format `c` asks for.
fn write_dbs<W: Write>(
    w: W,
    dbs: &[&Db],
    libs: &[(Option<usize>, Vec<u8>)],
    c: &Config,
    aof_base: bool,
    now_ms: i64,
) -> std::io::Result<W> {
    let keep = persisted(c);
    let mut writer = RdbWriter::new(w, rdb_version(c), c.rdbcompression, c.rdbchecksum);
    writer.set_lfu_decay_time(c.lfu.decay_time);
    let used: u64 = dbs.iter().map(|d| d.used_memory() as u64).sum();
    let mut aux = AuxFields::new(now_ms / 1000, used);
    aux.aof_base = aof_base;
    writer.header(&aux)?;
    writer.functions(libs)?;
    for (i, db) in dbs.iter().enumerate() {
        if db.is_empty() || !keep.get(i).copied().unwrap_or(true) {
            continue;
        }
        writer.select_db(i, db.len() as u64, db.volatile() as u64)?;
        for e in db.iter(now_ms) {
            writer.entry(e, db.policy(), now_ms)?;
        }
    }
    writer.finish()
}

/// Writes `dbs` to `path` crash-safely (temp, fsync, rename, directory fsync).
fn write_rdb_file(
    fs: &dyn Fs,
    path: &Path,
    dbs: &[&Db],
    libs: &[(Option<usize>, Vec<u8>)],
    c: &Config,
    now_ms: i64,
) -> std::io::Result<()> {
    let tmp = fs::temp_path(path);
    let file = fs.create(&tmp)?;
    let out = write_dbs(BufWriter::new(file), dbs, libs, c, false, now_ms)?;
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_data()?;
    drop(file);
    fs.rename(&tmp, path)?;
    fs.sync_dir(fs::parent(path))
}

/// SAVE: the whole dataset to `dir/dbfilename`, with every DB locked (a
/// point-in-time cut; writers wait, as they do for Redis's SAVE).
pub fn save(srv: &Shared) -> Result<(), String> {
    let c = srv.config.read().clone();
    if !c.persistence {
        return Err(PERSISTENCE_OFF.into());
    }
    let started = std::time::Instant::now();
    let now_ms = srv.clock.now_ms();
    let guards = srv.keyspace.lock_all();
    let dirty: u64 = guards.iter().map(|d| d.dirty).sum();
    let dbs: Vec<&Db> = guards.iter().map(|g| &**g).collect();
    let libs = persisted_libraries(srv, &c);
    let result = write_rdb_file(
        srv.persist.fs.as_ref(),
        &rdb_path(&c),
        &dbs,
        &libs,
        &c,
        now_ms,
    )
    .map_err(|e| e.to_string());
    drop(dbs);
    drop(guards);
    save_finished(srv, result.clone(), dirty, started);
    result.map_err(|e| format!("ERR {e}"))
}

/// Runs `load` with the keyspace flagged as loading. What it inserts is
/// not a change to save (Redis loads without `call()`, so its dirty
/// counter does not move): at startup and at DEBUG RELOAD alike.
fn loading<T>(srv: &Shared, load: impl FnOnce() -> T) -> T {
    let before = dirty_total(srv);
    srv.keyspace.set_loading(true);
    let result = load();
    srv.keyspace.set_loading(false);
    let loaded = dirty_total(srv).saturating_sub(before);
    srv.persist.state.lock().dirty_at_save += loaded;
    result
}

/// DEBUG RELOAD: SAVE (unless `save_first` is false: NOSAVE), empty every
/// DB, load the file back. Like Redis's, it is not propagated.
pub fn reload(srv: &Shared, save_first: bool) -> Result<(), String> {
    let c = srv.config.read().clone();
    if !c.persistence {
        return Err(PERSISTENCE_OFF.into());
    }
    if save_first {
        save(srv)?;
    }
    // Emptying the DBs and loading them back change nothing to save.
    let result = loading(srv, || {
        for i in 0..srv.keyspace.len() {
            let old = srv.keyspace.lock(i).flush();
            drop(old);
        }
        load_rdb(srv, &c)
    });
    result.map_err(|e| {
        tracing::warn!("DEBUG RELOAD: {e}");
        "ERR Error trying to load the RDB dump, check server logs.".to_string()
    })
}

const PERSISTENCE_OFF: &str = "ERR persistence is off for this server (an embedded server keeps nothing unless Config::persistence is set)";

/// `save` points: (seconds, changes) pairs.
fn save_points(c: &Config) -> Vec<(i64, u64)> {
    let nums: Vec<i64> = c
        .save
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    nums.chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| (p[0], p[1].max(0) as u64))
        .collect()
}

/// The save schedule, from cron about once a second: a BGSAVE when a save
/// point is due (after a failed save, not again for 5 s, as Redis).
pub fn cron(srv: &Arc<Shared>) {
    let c = srv.config.read().clone();
    if !c.persistence || c.save.trim().is_empty() || srv.persist.loading() {
        return;
    }
    let st = srv.persist.state();
    let now = unix_now();
    if !st.last_ok && now - st.last_try < 5 {
        return;
    }
    let changes = dirty_total(srv).saturating_sub(st.dirty_at_save);
    let due = save_points(&c)
        .iter()
        .any(|&(secs, n)| changes >= n && n > 0 && now - st.last_save >= secs);
    if due && srv.persist.background().is_none() {
        tracing::info!(changes, "save point reached: background saving");
        if let Err(e) = bgsave(srv) {
            save_finished(srv, Err(e), 0, std::time::Instant::now());
        }
    }
}

/// What SHUTDOWN and SIGTERM do before the server stops: the AOF synced,
/// then a save when asked (SAVE) or when save points exist (unless
/// NOSAVE). A failed save stops the shutdown unless `force`.
pub fn before_shutdown(srv: &Shared, save_mode: Option<bool>, force: bool) -> Result<(), String> {
    let c = srv.config.read().clone();
    if !c.persistence {
        return Ok(());
    }
    if let Some(sink) = srv.persist.aof.lock().clone() {
        if sink.aof.lock().is_waiting() {
            // As Redis: the first base is not written yet, so the AOF holds
            // nothing a restart could load.
            if !force {
                tracing::warn!("Writing initial AOF, can't exit.");
                return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
            }
            tracing::warn!("Writing initial AOF. Exit anyway.");
        }
        let off = sink.handle.offset();
        if let Err(e) = sink.handle.flush_and_sync_up_to(off) {
            tracing::warn!(error = %e, "AOF sync at shutdown failed");
            if !force {
                return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
            }
        }
    }
    // While loading, the dataset is partial: never save it (Redis too).
    let wanted = save_mode.unwrap_or(!c.save.trim().is_empty()) && !srv.persist.loading();
    if wanted && !srv.persist.fatal.load(Ordering::Relaxed) {
        if let Err(e) = save(srv) {
            tracing::warn!(error = %e, "error trying to save the DB at shutdown");
            if !force {
                return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ load

/// Loads `dir` at startup (the caller has set the LOADING gate): the AOF
/// when `appendonly yes`, else `dbfilename` if it exists; then opens the
/// AOF. A file that cannot be loaded stops the server: an error, never a
/// panic or a partial start.
pub fn load_and_open(srv: &Arc<Shared>) -> Result<(), String> {
    let c = srv.config.read().clone();
    if !c.persistence {
        return Ok(());
    }
    loading(srv, || {
        let _thp = NoHugePages::new();
        if c.appendonly {
            load_aof(srv, &c)
        } else {
            load_rdb(srv, &c)
        }
    })?;
    warn_over_limits(srv, &c);
    if c.appendonly {
        start_aof(srv).map_err(|e| format!("cannot open the append only file: {e}"))?;
    }
    Ok(())
}

/// Transparent huge pages off while the dataset loads, as they were after.
/// A load faults in the whole dataset at once; with THP each 2 MB fault
/// zeroes its page in the loading thread, after direct compaction when
/// memory is fragmented, which made a 1.35 GB RDB load take 4.4-5.7 s
/// instead of 2.1-2.5 s (`benches/rdb-load.sh`). Served traffic keeps huge
/// pages unless `disable-thp yes` (they are worth 12-20% on pipelined 1 KiB
/// GET/SET). Process-wide, for the load's length only.
struct NoHugePages {
    #[cfg(target_os = "linux")]
    was_disabled: bool,
}

impl NoHugePages {
    fn new() -> NoHugePages {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: prctl with integer arguments only; it reads and sets
            // this process's THP flag and touches no memory of ours.
            let was_disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) } == 1;
            if !was_disabled {
                // SAFETY: as above.
                unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
            }
            NoHugePages { was_disabled }
        }
        #[cfg(not(target_os = "linux"))]
        NoHugePages {}
    }
}

impl Drop for NoHugePages {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if !self.was_disabled {
            // SAFETY: as in `new`.
            unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0) };
        }
    }
}

/// A DB that loaded above its own limits loads anyway: said once here
/// (INFO's tenancy line shows `over_limit=1`); its next write evicts by its
/// policy or gets OOM.
fn warn_over_limits(srv: &Shared, c: &Config) {
    for i in 0..srv.keyspace.len() {
        let t = srv.tenancy.db(i);
        let (keys, used) = {
            let db = srv.keyspace.lock(i);
            (db.len() as u64, db.used_memory() as u64)
        };
        let max = t.effective_maxmemory(c.maxmemory);
        let max_keys = t.max_keys.load(Ordering::Relaxed);
        if (max > 0 && used > max) || (max_keys > 0 && keys > max_keys) {
            tracing::warn!(
                db = i,
                keys,
                used_memory = used,
                maxmemory = max,
                max_keys,
                "the database loaded above its limits; its next writes evict or get OOM"
            );
        }
    }
}

fn rdb_options(srv: &Shared, c: &Config, keep_expired: bool) -> rdb::LoadOptions {
    let mut o = rdb::LoadOptions::new(c.databases, srv.clock.now_ms());
    o.thresholds = srv.hot.thresholds();
    o.keep_expired = keep_expired;
    o
}

fn load_rdb(srv: &Shared, c: &Config) -> Result<(), String> {
    let path = rdb_path(c);
    let fs = srv.persist.fs.as_ref();
    if !fs.exists(&path) {
        return Ok(());
    }
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let total = fs.len(&path).map_err(cannot)?;
    // Streamed: the file is never held whole in memory.
    let file = fs.open_read(&path).map_err(cannot)?;
    load_rdb_from(srv, c, file, total, false, &path.display().to_string())
}

fn load_rdb_bytes(
    srv: &Shared,
    c: &Config,
    bytes: &[u8],
    keep_expired: bool,
    name: &str,
) -> Result<(), String> {
    load_rdb_from(srv, c, bytes, bytes.len() as u64, keep_expired, name)
}

fn load_rdb_from(
    srv: &Shared,
    c: &Config,
    input: impl std::io::Read,
    total: u64,
    keep_expired: bool,
    name: &str,
) -> Result<(), String> {
    srv.persist.total_bytes.store(total, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut last_log = std::time::Instant::now();
    let mut opts = rdb_options(srv, c, keep_expired);
    opts.input_len = Some(total);
    let report = rdb::load_into(input, &opts, &srv.keyspace, &mut |done| {
        srv.persist.loaded_bytes.store(done, Ordering::Relaxed);
        if last_log.elapsed().as_secs() >= 1 {
            last_log = std::time::Instant::now();
            let secs = started.elapsed().as_secs_f64().max(0.001);
            tracing::info!(
                file = name,
                percent = format!("{:.1}", done as f64 * 100.0 / total.max(1) as f64),
                mb_per_s = format!("{:.1}", done as f64 / 1e6 / secs),
                "loading"
            );
        }
    })
    .map_err(|e| format!("cannot load {name}: {e}"))?;
    let keys: u64 = report.keys.iter().sum();
    tracing::info!(
        file = name,
        keys,
        expired_skipped = report.expired_skipped,
        empty_skipped = report.empty_skipped,
        seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
        "DB loaded from disk"
    );
    crate::scripting::functions::load_from_file(&srv.scripting, &report.functions)
        .map_err(|e| format!("cannot load {name}: {e}"))?;
    if !report.functions.is_empty() {
        tracing::info!(
            file = name,
            libraries = report.functions.len(),
            "function libraries loaded"
        );
    }
    Ok(())
}

fn aof_config(srv: &Shared, c: &Config) -> AofConfig {
    let mut a = AofConfig::new(c.dir.clone());
    a.appendfilename = c.appendfilename.clone();
    a.appenddirname = c.appenddirname.clone();
    a.fsync = match c.appendfsync.as_str() {
        "always" => FsyncPolicy::Always,
        "no" => FsyncPolicy::No,
        _ => FsyncPolicy::EverySec,
    };
    a.timestamps = c.aof_timestamp_enabled;
    a.no_fsync_on_rewrite = c.no_appendfsync_on_rewrite;
    a.use_rdb_preamble = c.aof_use_rdb_preamble;
    // The connection writes the buffer once per batch (`reply_ticket`).
    a.defer_write = true;
    // aof-write and aof-fsync-always in the latency monitor.
    let me = srv.me.clone();
    a.latency = Some(Arc::new(move |event, took| {
        if let Some(srv) = me.upgrade() {
            srv.latency_event(event, took);
        }
    }));
    a
}

/// Replays the AOF through dispatch, as an internal client that passes
/// every gate (a log is replayed whatever today's limits say).
fn load_aof(srv: &Arc<Shared>, c: &Config) -> Result<(), String> {
    let opts = aof::LoadOptions {
        load_truncated: c.aof_load_truncated,
        rdb_len: None,
    };
    let mut client = crate::server::client::Client::internal(srv);
    let mut out = crate::protocol::ReplyBuf::new(crate::protocol::Protocol::Resp2);
    let mut replay = |item: LoadItem| -> Result<(), String> {
        match item {
            LoadItem::RdbBase(bytes) => load_rdb_bytes(srv, c, &bytes, true, "AOF base"),
            LoadItem::Command { argv } => {
                let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
                out.buf.clear();
                let mut ctx = Ctx::new(srv, &mut client, &mut out);
                // A replayed write only changes the keyspace: its outcome
                // (for a connection) means nothing here.
                let _ = crate::server::dispatch::dispatch(&mut ctx, &args);
                drop(ctx);
                if out.buf.first() == Some(&b'-') {
                    return Err(format!(
                        "{} replaying {}",
                        String::from_utf8_lossy(&out.buf).trim_end(),
                        String::from_utf8_lossy(argv[0].as_slice())
                    ));
                }
                Ok(())
            }
        }
    };
    let stats = aof::load(
        &c.dir,
        &c.appendfilename,
        &c.appenddirname,
        srv.persist.fs.as_ref(),
        opts,
        &mut replay,
    )
    .map_err(|e| e.to_string())?;
    if stats.manifest.is_none() {
        // No AOF yet: Redis 7 starts from the RDB file, then writes a base.
        load_rdb(srv, c)?;
    }
    if let Some((file, len)) = &stats.truncated {
        tracing::warn!(file = %file, len, "!!! the AOF ended in a torn command: it was truncated to the last whole one");
    }
    if stats.reverted_multi {
        tracing::warn!("the AOF ended inside a MULTI: that unfinished transaction was dropped");
    }
    tracing::info!(commands = stats.commands, "DB loaded from append only file");
    Ok(())
}

// ------------------------------------------------------------------- AOF

/// The AOF as the server's effect sink.
struct AofSink {
    aof: Mutex<Aof>,
    handle: AofHandle,
    srv: std::sync::Weak<Shared>,
    /// DBs whose effects are logged (`persist = false` ones are not).
    keep: Vec<bool>,
    /// DBs whose replies wait for their fsync (`[[db]] appendfsync = "always"`).
    always: Vec<bool>,
}

impl EffectSink for AofSink {
    fn append(&self, mut effects: Vec<(usize, Argv)>, atomic: bool) -> u64 {
        // `persist = false` DBs stay out of the file; what is left of a
        // unit is wrapped (a transaction across a cache DB and a persisted
        // one loads as the persisted DB's part).
        if !self.keep.iter().all(|&k| k) {
            effects.retain(|(db, _)| self.keep.get(*db).copied().unwrap_or(true));
        }
        if atomic {
            effects = crate::server::effects::wrap(effects);
        }
        let mut aof = self.aof.lock();
        let mut ticket = 0;
        let mut i = 0;
        while i < effects.len() {
            // Consecutive commands of one DB go in one append.
            let db = effects[i].0;
            let mut j = i;
            while j < effects.len() && effects[j].0 == db {
                j += 1;
            }
            match aof.append(db, effects[i..j].iter().map(|(_, a)| a)) {
                Ok(off) => {
                    let must = self.always.get(db).copied().unwrap_or(false);
                    let flag = ticket & crate::server::effects::SYNC_REQUIRED;
                    ticket = off
                        | flag
                        | if must {
                            crate::server::effects::SYNC_REQUIRED
                        } else {
                            0
                        };
                }
                Err(e) => {
                    drop(aof);
                    self.failed(&e);
                    return u64::MAX;
                }
            }
            i = j;
        }
        ticket
    }
}

impl AofSink {
    fn failed(&self, e: &AofError) {
        let Some(srv) = self.srv.upgrade() else {
            return;
        };
        tracing::error!(error = %e, "AOF write failed");
        srv.persist.set_gate(gate::MISCONF_AOF, true);
        if matches!(e, AofError::Fatal(_)) {
            // Replies already promised durability: stop, as Redis exits.
            srv.persist.fatal.store(true, Ordering::Relaxed);
            srv.request_shutdown();
        }
    }
}

/// Opens the AOF and makes it the effect sink, under every DB lock so no
/// write falls between the base and the log. A directory without a base
/// gets one at once from the dataset as it is (Redis 7 does the same when
/// `appendonly` turns on).
pub fn start_aof(srv: &Arc<Shared>) -> Result<(), String> {
    if srv.persist.aof.lock().is_some() {
        return Ok(());
    }
    let c = srv.config.read().clone();
    let mut aof =
        Aof::open(srv.persist.fs.clone(), aof_config(srv, &c)).map_err(|e| e.to_string())?;
    let mut guards = srv.keyspace.lock_all();
    if aof.manifest().base.is_none() {
        let now_ms = srv.clock.now_ms();
        let base = aof.begin_rewrite().map_err(|e| e.to_string())?;
        let dbs: Vec<&Db> = guards.iter().map(|g| &**g).collect();
        let libs = persisted_libraries(srv, &c);
        let written = write_dbs(BufWriter::new(base), &dbs, &libs, &c, true, now_ms)
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()));
        drop(dbs);
        match written {
            Ok(base) => aof.finish_rewrite(base).map_err(|e| e.to_string())?,
            Err(e) => {
                aof.abort_rewrite(None);
                return Err(format!("writing the AOF base: {e}"));
            }
        }
    }
    install_sink(srv, &c, aof, &mut guards);
    drop(guards);
    Ok(())
}

/// Makes `aof` the effect sink, with every DB locked (`guards`) so that
/// every DB starts logging at the same instant.
fn install_sink(
    srv: &Arc<Shared>,
    c: &Config,
    aof: Aof,
    guards: &mut [parking_lot::MutexGuard<'_, Db>],
) {
    let handle = aof.handle();
    if c.appendfsync == "always" {
        // fsyncs on a worker, Redis's beforeSleep (see `run_inline_syncer`).
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(handle.clone().run_inline_syncer());
        }
    }
    let sink = Arc::new(AofSink {
        aof: Mutex::new(aof),
        handle,
        srv: Arc::downgrade(srv),
        keep: persisted(c),
        always: (0..c.databases)
            .map(|i| c.dbs.iter().any(|d| d.index == i && d.fsync_always))
            .collect(),
    });
    srv.persist
        .always
        .store(c.appendfsync == "always", Ordering::Relaxed);
    *srv.persist.aof.lock() = Some(sink.clone());
    srv.start_propagation_locked(guards, sink);
}

/// `CONFIG SET appendonly yes` on a running server, as Redis's
/// `startAppendOnly`: the AOF opens waiting for its first base (appends go
/// to a temp incr file, see [`Aof::open_waiting`]) and becomes the effect
/// sink at once; the base is a background rewrite's snapshot, so no lock
/// is held for the dataset's length. Until the base is in, replies under
/// `always` wait (nothing is durable before the manifest names the log);
/// under `everysec`/`no` they go out as usual. A snapshot already running
/// (BGSAVE) schedules the rewrite for when it ends; a rewrite that fails
/// is retried by cron.
fn start_aof_waiting(srv: &Arc<Shared>) -> Result<(), String> {
    if srv.persist.aof.lock().is_some() {
        return Ok(());
    }
    let c = srv.config.read().clone();
    let aof = Aof::open_waiting(srv.persist.fs.clone(), aof_config(srv, &c))
        .map_err(|e| e.to_string())?;
    {
        let mut guards = srv.keyspace.lock_all();
        install_sink(srv, &c, aof, &mut guards);
    }
    srv.persist.aof_rewrite_failures.store(0, Ordering::Relaxed);
    if srv.persist.background().is_some() || srv.keyspace.snapshot_running() {
        srv.persist
            .aof_rewrite_scheduled
            .store(true, Ordering::Relaxed);
        tracing::info!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        return Ok(());
    }
    if let Err(e) = bgrewriteaof(srv) {
        tracing::warn!(error = %e, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation.");
        stop_aof(srv);
        return Err("Unable to turn on AOF. Check server logs.".into());
    }
    Ok(())
}

/// Turns the AOF off (CONFIG SET appendonly no): the file is synced and
/// closed; writes are no longer logged.
pub fn stop_aof(srv: &Shared) {
    let mut guards = srv.keyspace.lock_all();
    srv.propagation.stop();
    // Client tracking may still need the DBs' own effects.
    if !srv.propagation.is_on() {
        for db in guards.iter_mut() {
            db.effects = None;
        }
    }
    let sink = srv.persist.aof.lock().take();
    srv.persist.always.store(false, Ordering::Relaxed);
    srv.persist.set_gate(gate::MISCONF_AOF, false);
    srv.persist
        .aof_rewrite_scheduled
        .store(false, Ordering::Relaxed);
    drop(guards);
    // A rewrite in progress is given up, as Redis kills its child.
    let job = {
        let mut bg = srv.persist.background.lock();
        match bg.as_ref().map(|b| b.kind) {
            Some(Job::AofRewrite) => bg.take(),
            _ => None,
        }
    };
    if let Some(b) = job {
        b.handle.cancel();
    }
    if let Some(s) = sink {
        {
            let mut aof = s.aof.lock();
            if aof.discard_waiting() {
                // The first base never came: nothing to close.
                tracing::info!(
                    "AOF turned off before its first base was written: temp files removed"
                );
                return;
            }
            if aof.stats().aof_rewrite_in_progress {
                aof.abort_rewrite(None);
            }
        }
        let off = s.handle.offset();
        if let Err(e) = s.handle.flush_and_sync_up_to(off) {
            tracing::warn!(error = %e, "AOF sync when turning it off failed");
        }
    }
}

/// CONFIG SET of `appendonly`: starts the AOF (writing a fresh base from
/// the dataset, as Redis's rewrite does) or stops it.
pub fn appendonly_changed(srv: &Arc<Shared>, on: bool) -> Result<(), String> {
    if srv.persist.loading() {
        return Err("the dataset is still loading".into());
    }
    if on {
        start_aof_waiting(srv)
    } else {
        stop_aof(srv);
        Ok(())
    }
}

// --------------------------------------------------- background snapshots

fn snapshot_encoder(c: &Config, clock: crate::clock::Clock) -> crate::keyspace::snapshot::Encoder {
    use crate::keyspace::evict::Policy;
    let version = rdb_version(c);
    let compression = c.rdbcompression;
    let decay = c.lfu.decay_time;
    Arc::new(move |e, policy, out| {
        // IDLE/FREQ as SAVE writes them, per the DB's policy. The time is
        // read here, under the DB lock, so no access stamped the entry
        // later than it (an idle time measured from the cut could be
        // negative); only under LRU/LFU policies, which write them.
        let clocked = policy.is_lfu() || matches!(policy, Policy::AllKeysLru | Policy::VolatileLru);
        let now_ms = if clocked { clock.now_ms() } else { 0 };
        rdb::write::encode_key_value(e, policy, decay, now_ms, version, compression, out)
    })
}

/// Streams a snapshot into an RDB stream over `file`; `done` gets the file
/// back (or the error) when the walk ends.
fn rdb_sink(
    file: Box<dyn fs::FsFile>,
    c: &Config,
    libs: &[(Option<usize>, Vec<u8>)],
    aof_base: bool,
    now_ms: i64,
    used: u64,
    mut done: impl FnMut(std::io::Result<Box<dyn fs::FsFile>>) + Send + 'static,
) -> std::io::Result<
    impl FnMut(crate::keyspace::snapshot::Chunk, &[u8]) -> std::io::Result<()> + Send + 'static,
> {
    use crate::keyspace::snapshot::Chunk;
    let mut w = RdbWriter::new(
        BufWriter::new(file),
        rdb_version(c),
        c.rdbcompression,
        c.rdbchecksum,
    );
    let mut aux = AuxFields::new(now_ms / 1000, used);
    aux.aof_base = aof_base;
    w.header(&aux)?;
    w.functions(libs)?;
    let mut w = Some(w);
    let keep = persisted(c);
    Ok(move |chunk: Chunk, bytes: &[u8]| {
        let r = (|| -> std::io::Result<()> {
            let Some(writer) = w.as_mut() else {
                return Ok(());
            };
            let kept = |db: usize| keep.get(db).copied().unwrap_or(true);
            match chunk {
                Chunk::BeginDb { db, .. } if !kept(db) => Ok(()),
                Chunk::Records { db } if !kept(db) => Ok(()),
                Chunk::BeginDb { db, keys, volatile } => {
                    writer.select_db(db, keys as u64, volatile as u64)
                }
                Chunk::Records { .. } => writer.raw(bytes),
                Chunk::Done => {
                    let writer = w.take().expect("checked above");
                    let file = writer
                        .finish()
                        .and_then(|b| b.into_inner().map_err(|e| e.into_error()));
                    done(file);
                    Ok(())
                }
            }
        })();
        if let Err(e) = &r {
            if w.take().is_some() {
                done(Err(std::io::Error::new(e.kind(), e.to_string())));
            }
        }
        r
    })
}

fn used_memory(srv: &Shared) -> u64 {
    srv.tenancy.total_used()
}

/// Records how a save (SAVE or BGSAVE) ended: the save state, and the
/// MISCONF gate under `stop-writes-on-bgsave-error`.
fn save_finished(
    srv: &Shared,
    result: Result<(), String>,
    dirty: u64,
    started: std::time::Instant,
) {
    let c = srv.config.read().clone();
    let p = &srv.persist;
    let mut st = p.state.lock();
    st.last_try = unix_now();
    st.last_duration_s = started.elapsed().as_secs() as i64;
    match result {
        Ok(()) => {
            st.last_save = unix_now();
            st.last_ok = true;
            st.dirty_at_save = dirty;
            st.saves += 1;
            drop(st);
            p.set_gate(gate::MISCONF_RDB, false);
            tracing::info!("DB saved on disk");
        }
        Err(e) => {
            st.last_ok = false;
            drop(st);
            if c.stop_writes_on_bgsave_error {
                p.set_gate(gate::MISCONF_RDB, true);
            }
            tracing::warn!(error = %e, "saving the DB failed");
        }
    }
}

/// BGSAVE: a point-in-time cut of every DB taken at once, written by a
/// background thread while clients go on (no fork: see
/// `keyspace::snapshot`).
pub fn bgsave(srv: &Arc<Shared>) -> Result<(), String> {
    let c = srv.config.read().clone();
    if !c.persistence {
        return Err(PERSISTENCE_OFF.into());
    }
    if srv.persist.background().is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let now_ms = srv.clock.now_ms();
    let path = rdb_path(&c);
    let tmp = fs::temp_path(&path);
    let file = srv
        .persist
        .fs
        .create(&tmp)
        .map_err(|e| format!("ERR {e}"))?;
    let started = std::time::Instant::now();
    let mut dirty = 0u64;
    let mut libs = Vec::new();
    let snap = crate::keyspace::snapshot::Snapshot::begin_inspect(
        srv.clone(),
        snapshot_encoder(&c, srv.clock.clone()),
        |guards| {
            dirty = guards.iter().map(|g| g.dirty).sum();
            libs = persisted_libraries(srv, &c);
        },
    )
    .map_err(|_| "ERR Background save already in progress".to_string())?;
    let weak = Arc::downgrade(srv);
    let fsys = srv.persist.fs.clone();
    let sink = rdb_sink(file, &c, &libs, false, now_ms, used_memory(srv), move |r| {
        let Some(srv) = weak.upgrade() else { return };
        let r = r.and_then(|mut f| {
            f.sync_data()?;
            drop(f);
            fsys.rename(&tmp, &path)?;
            fsys.sync_dir(fs::parent(&path))
        });
        save_finished(&srv, r.map_err(|e| e.to_string()), dirty, started);
    })
    .map_err(|e| format!("ERR {e}"))?;
    run_background(srv, Job::Save, started, snap, sink)?;
    tracing::info!("background saving started");
    Ok(())
}

type ServerSnapshot = crate::keyspace::snapshot::Snapshot<Arc<Shared>>;

/// Starts the walk on its thread and records it as the running job.
fn run_background<S>(
    srv: &Shared,
    kind: Job,
    started: std::time::Instant,
    snap: ServerSnapshot,
    sink: S,
) -> Result<(), String>
where
    S: FnMut(crate::keyspace::snapshot::Chunk, &[u8]) -> std::io::Result<()> + Send + 'static,
{
    let handle = snap.spawn(sink).map_err(|e| format!("ERR {e}"))?;
    *srv.persist.background.lock() = Some(Background {
        kind,
        started,
        handle,
    });
    Ok(())
}

/// BGREWRITEAOF: appends switch to a new incr file at the very moment of
/// the snapshot's cut (both under every DB lock), and the snapshot becomes
/// the new base; the manifest then names base + the new incrs only.
pub fn bgrewriteaof(srv: &Arc<Shared>) -> Result<(), String> {
    let Some(sink) = srv.persist.aof.lock().clone() else {
        return Err("ERR AOF is off: CONFIG SET appendonly yes first".into());
    };
    if srv.persist.background().is_some() {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    let c = srv.config.read().clone();
    let now_ms = srv.clock.now_ms();
    let mut base = None;
    let mut failed = None;
    let mut libs = Vec::new();
    let snap = crate::keyspace::snapshot::Snapshot::begin_inspect(
        srv.clone(),
        snapshot_encoder(&c, srv.clock.clone()),
        |_| {
            // Under the AOF's lock: a library change is in the base or
            // logged after it in the new incr file, not both.
            let mut aof = sink.aof.lock();
            libs = persisted_libraries(srv, &c);
            match aof.begin_rewrite() {
                Ok(f) => base = Some(f),
                Err(e) => failed = Some(e.to_string()),
            }
        },
    )
    .map_err(|_| "ERR Background append only file rewriting already in progress".to_string())?;
    let Some(base) = base else {
        drop(snap);
        return Err(format!("ERR {}", failed.unwrap_or_default()));
    };
    let started = std::time::Instant::now();
    let s2 = sink.clone();
    let writer = rdb_sink(base, &c, &libs, true, now_ms, used_memory(srv), move |r| {
        let outcome = match r {
            Ok(f) => s2.aof.lock().finish_rewrite(f).map_err(|e| e.to_string()),
            Err(e) => {
                s2.aof.lock().abort_rewrite(None);
                Err(e.to_string())
            }
        };
        if let Some(srv) = s2.srv.upgrade() {
            rewrite_finished(&srv, &s2, outcome);
        }
    })
    .map_err(|e| {
        sink.aof.lock().abort_rewrite(None);
        format!("ERR {e}")
    })?;
    // The test hook (`Persistence::hold_aof_rewrites`).
    let hold = srv.persist.rewrite_hold.clone();
    let mut writer = writer;
    let writer = move |chunk, bytes: &[u8]| {
        {
            let (lock, cv) = &*hold;
            let mut held = lock.lock();
            while *held {
                cv.wait(&mut held);
            }
        }
        writer(chunk, bytes)
    };
    run_background(srv, Job::AofRewrite, started, snap, writer)?;
    tracing::info!("background append only file rewriting started");
    Ok(())
}

/// How a background rewrite ended (Redis's `backgroundRewriteDoneHandler`):
/// `aof_last_bgrewrite_status`, and after a failure of the first base of
/// an AOF turned on at runtime, a retry scheduled for cron (no MISCONF: a
/// failed rewrite loses no write, the log goes on).
fn rewrite_finished(srv: &Shared, sink: &Arc<AofSink>, outcome: Result<(), String>) {
    let current = srv
        .persist
        .aof
        .lock()
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(s, sink));
    if !current {
        // Turned off meanwhile.
        return;
    }
    let p = &srv.persist;
    match outcome {
        Ok(()) => {
            tracing::info!("Background AOF rewrite finished successfully");
            p.aof_rewrite_ok.store(true, Ordering::Relaxed);
            p.aof_rewrite_failures.store(0, Ordering::Relaxed);
            // A fresh base and incr: writes may go on if the writer agrees.
            if sink.handle.check_writable().is_ok() {
                p.set_gate(gate::MISCONF_AOF, false);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "Background AOF rewrite terminated with error");
            p.aof_rewrite_ok.store(false, Ordering::Relaxed);
            p.aof_rewrite_failures.fetch_add(1, Ordering::Relaxed);
            if sink.aof.lock().is_waiting() {
                p.aof_rewrite_scheduled.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The background parts of cron: a scheduled BGSAVE once nothing runs,
/// and the automatic AOF rewrite by size.
pub fn background_cron(srv: &Arc<Shared>) {
    // A failure the fsync thread found while no reply waited on it: refuse
    // writes (under `always`, exit) now, not at the next write.
    let sink = srv.persist.aof.lock().clone();
    if let Some(s) = &sink {
        if let Err(e) = s.handle.check_writable() {
            if srv.persist.gate.load(Ordering::Relaxed) & gate::MISCONF_AOF == 0 {
                s.failed(&e);
            }
        }
    }
    if srv.persist.background().is_some() || srv.persist.loading() {
        return;
    }
    if srv.persist.bgsave_scheduled.swap(false, Ordering::Relaxed) {
        let _ = bgsave(srv);
        return;
    }
    let c = srv.config.read().clone();
    let sink = srv.persist.aof.lock().clone();
    if srv.persist.aof_rewrite_scheduled() {
        if sink.is_none() {
            srv.persist
                .aof_rewrite_scheduled
                .store(false, Ordering::Relaxed);
        } else if !srv.keyspace.snapshot_running() && !srv.persist.rewrite_limited() {
            srv.persist
                .aof_rewrite_scheduled
                .store(false, Ordering::Relaxed);
            if let Err(e) = bgrewriteaof(srv) {
                tracing::warn!(error = %e, "the scheduled AOF rewrite could not start");
                srv.persist.aof_rewrite_ok.store(false, Ordering::Relaxed);
                srv.persist
                    .aof_rewrite_failures
                    .fetch_add(1, Ordering::Relaxed);
                srv.persist
                    .aof_rewrite_scheduled
                    .store(true, Ordering::Relaxed);
            }
        }
        return;
    }
    if let Some(s) = sink {
        let due = c.auto_aof_rewrite_percentage > 0
            && s.aof
                .lock()
                .should_rewrite(c.auto_aof_rewrite_percentage, c.auto_aof_rewrite_min_size);
        if due && !srv.persist.rewrite_limited() {
            tracing::info!("starting automatic rewriting of AOF");
            let _ = bgrewriteaof(srv);
        }
    }
}
