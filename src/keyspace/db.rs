//! One database: the table, lazy and active expiry, memory accounting, stats.
//!
//! Every mutation goes through `insert`/`remove`/`modify` so that `volatile`
//! (keys with a TTL) and `mem` (bytes owned by entries) stay exact without
//! ever recounting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::blocking::Blocking;
use super::entry::{Entry, NewValue, ValueRef};
use super::evict::{self, EvictionPool, Policy};
use super::expire::ExpireCycle;
#[cfg(test)]
use super::expire::ExpireEffort;
use super::notify::{class, Notes};
use super::snapshot::DbSnap;
use super::value::Object;

/// Commands a DB ran on its own, each numbered from one counter shared by
/// every DB, so that effects logged in several DBs (a SWAPDB and the pop
/// it let happen) keep the order in which they happened.
pub struct EffectLog {
    seq: Arc<std::sync::atomic::AtomicU64>,
    pub entries: Vec<(u64, Vec<Vec<u8>>)>,
}

impl EffectLog {
    pub fn new(seq: Arc<std::sync::atomic::AtomicU64>) -> EffectLog {
        EffectLog {
            seq,
            entries: Vec::new(),
        }
    }

    pub fn push(&mut self, argv: Vec<Vec<u8>>) {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.entries.push((n, argv));
    }
}

/// The key holds a value of another type (WRONGTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;
use super::table::Table;
use crate::clock::lru_clock;

#[derive(Debug, Default, Clone, Copy)]
pub struct DbStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

/// One client's WATCH of one key.
pub struct Watch {
    /// The client's flag: set when any key it watches changes.
    pub dirty: Arc<AtomicBool>,
    /// The key was present but past its TTL when WATCHed: deleting it is
    /// no change (Redis's `wk->expired`).
    pub expired: bool,
}

impl Watch {
    /// The key was written (`present`: it is in the table now) or deleted.
    #[inline]
    fn touched(&mut self, present: bool) {
        if self.expired && !present {
            self.expired = false;
        } else {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }
}

pub struct Db {
    pub(super) table: Table,
    pub(super) volatile: usize,
    mem: usize,
    pub stats: DbStats,
    /// Where the active expiry cycle goes on: a segment, and how many of
    /// its entries it already looked at.
    expire_seg: usize,
    expire_pos: usize,
    pub rng: SmallRng,
    /// WATCHed keys and their watchers (see [`Watch`]): any mutation of
    /// the key (insert/remove/modify/expiry/flush all funnel through here)
    /// marks them dirty.
    pub watchers: HashMap<Vec<u8>, Vec<Watch>>,
    /// Clients blocked on this DB's keys (stay with the DB index: SWAPDB
    /// swaps data, not waiters).
    pub blocking: Blocking,
    /// `maxmemory-policy` of this DB (see `evict.rs`).
    pub(super) policy: Policy,
    /// `policy.is_lfu()`, the one flag the access path branches on.
    pub(super) lfu: bool,
    /// `lfu-log-factor`, `lfu-decay-time` (see [`Keyspace::set_lfu`](super::Keyspace::set_lfu)).
    pub(super) lfu_params: evict::Lfu,
    /// A recent `now` (ms) for work that gets none: stamping keys created
    /// by `insert` under LFU. Refreshed by every cron tick
    /// (`active_expire`) and every eviction.
    pub(super) time_hint: i64,
    pub(super) pool: EvictionPool,
    /// Reused buffer for the key being evicted.
    pub(super) evict_key: Vec<u8>,
    /// Where the volatile policies' fallback walk resumes.
    pub(super) evict_seg: usize,
    /// Mutations so far (Redis's `server.dirty`, per DB): dispatch compares
    /// it around a write to know whether it changed anything, and it feeds
    /// `rdb_changes_since_last_save`.
    pub dirty: u64,
    /// While effects are propagated (AOF): what the DB did on its own, as
    /// commands — lazy and active expiry and eviction as DEL, pops that
    /// served blocked clients — for dispatch's after-execution hook (or
    /// cron) to pass on in order. `None` costs one branch per such event.
    pub effects: Option<EffectLog>,
    /// Keyspace events fired under this DB's lock, for the server to
    /// publish after the command (see `notify.rs`).
    pub notes: Notes,
    /// Replaying a log (AOF load): nothing expires, as in Redis, where
    /// `server.loading` keeps `expireIfNeeded` away — a key that expired
    /// after it was logged must still be there for the commands that
    /// followed it then. Expiry resumes when loading ends.
    pub loading: bool,
    /// CLIENT PAUSE's end (ms, shared by every DB of a keyspace): until
    /// then nothing expires or is evicted. Read only when a key is found
    /// expired or eviction is due, so it costs the hot path nothing.
    pub hold: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// The running command comes from a CLIENT NO-TOUCH client: lookups
    /// leave the LRU/LFU clock alone (Redis's `LOOKUP_NOTOUCH`).
    pub no_touch: bool,
    /// The running snapshot's state for these contents, `None` when no
    /// snapshot runs or it has finished with them: the one branch a write
    /// pays for snapshots (see `snapshot.rs`).
    pub(super) snap: Option<Box<DbSnap>>,
    /// The value of an entry's snapshot bit that means "nothing owed to a
    /// snapshot"; every entry carries it while no snapshot runs, and the
    /// cut flips it.
    pub(super) snap_done: bool,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn is_expired(e: &Entry, now: i64) -> bool {
    matches!(e.expire(), Some(t) if t <= now)
}

impl Db {
    pub fn new() -> Db {
        Db {
            table: Table::new(),
            volatile: 0,
            mem: 0,
            stats: DbStats::default(),
            expire_seg: 0,
            expire_pos: 0,
            rng: SmallRng::from_entropy(),
            blocking: Blocking::default(),
            watchers: HashMap::new(),
            policy: Policy::NoEviction,
            lfu: false,
            lfu_params: evict::Lfu::default(),
            time_hint: 0,
            pool: EvictionPool::default(),
            evict_key: Vec::new(),
            evict_seg: 0,
            dirty: 0,
            effects: None,
            notes: Notes::default(),
            loading: false,
            hold: Default::default(),
            no_touch: false,
            snap: None,
            snap_done: false,
        }
    }

    /// Records a command this DB ran on its own (see [`Db::effects`]).
    #[inline]
    pub fn propagate(&mut self, argv: impl FnOnce() -> Vec<Vec<u8>>) {
        if let Some(log) = &mut self.effects {
            log.push(argv());
        }
    }

    /// Fires keyspace event `event` of `class` on `key` (Redis's
    /// `notifyKeyspaceEvent`): one load and a branch while nobody wants it.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.notes.fire(class, event, key);
    }

    /// Fires `del` when `key` is gone: a command that emptied a collection
    /// (the DB deletes it in [`Db::with_object`]) announces that after its
    /// own event, as Redis does.
    #[inline]
    pub fn notify_del_if_gone(&mut self, key: &[u8]) {
        if self.notes.wants(class::GENERIC) && self.table.get(key).is_none() {
            self.notes.fire(class::GENERIC, "del", key);
        }
    }

    /// Takes what [`Db::effects`] holds, with its sequence numbers.
    pub fn take_effects(&mut self) -> Vec<(u64, Vec<Vec<u8>>)> {
        self.effects
            .as_mut()
            .map(|l| std::mem::take(&mut l.entries))
            .unwrap_or_default()
    }

    /// Records the deletion of an expired or evicted key as a DEL.
    fn propagate_del(&mut self, key: &[u8]) {
        self.propagate(|| vec![b"DEL".to_vec(), key.to_vec()]);
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Makes room for about `n` keys in an empty DB at once (a load that
    /// announces its size: RESIZEDB); a DB with keys is left as it is.
    pub fn presize(&mut self, n: usize) {
        self.table.presize(n);
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Keys with a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// Bytes owned by this DB's entries and its table.
    pub fn used_memory(&self) -> usize {
        self.mem + self.table.overhead_bytes()
    }

    /// Bytes owned by entries only (what the accounting tracks incrementally).
    pub fn entry_memory(&self) -> usize {
        self.mem
    }

    /// Recomputes the entry memory from scratch (tests compare it with the
    /// incremental figure).
    pub fn recount_memory(&self) -> usize {
        self.table.iter().map(Entry::mem_usage).sum()
    }

    /// Whether expiry and eviction are held (a CLIENT PAUSE runs).
    pub fn held(&self, now: i64) -> bool {
        self.hold.load(Ordering::Relaxed) > now
    }

    /// Drops `key` if it has expired; true when it did, or when it has
    /// expired but a pause keeps it (Redis's `KEY_EXPIRED` without the
    /// delete): callers then treat it as missing.
    #[inline]
    fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        if self.volatile == 0 || self.loading {
            return false;
        }
        self.expire_volatile(key, now)
    }

    /// [`Db::expire_if_needed`] once some key has a TTL.
    fn expire_volatile(&mut self, key: &[u8], now: i64) -> bool {
        match self.table.get(key) {
            Some(e) if is_expired(e, now) => {
                if self.held(now) {
                    return true;
                }
                self.remove(key);
                self.stats.expired += 1;
                self.notify(class::EXPIRED, "expired", key);
                self.propagate_del(key);
                true
            }
            _ => false,
        }
    }

    /// Looks a key up for reading: expires it lazily, counts a hit or miss,
    /// records the access (LRU time or LFU counter).
    pub fn get_read(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        let gone = self.expire_if_needed(key, now);
        match self.table.get_mut(key).filter(|_| !gone) {
            Some(e) => {
                self.stats.hits += 1;
                if !self.no_touch {
                    evict::touch(e, self.lfu, self.lfu_params, now, &mut self.rng);
                }
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                self.notes.fire(class::KEY_MISS, "keymiss", key);
                None
            }
        }
    }

    /// Looks a key up for a command that will modify it (no hit/miss count).
    /// Callers that change the entry's size or TTL must use [`Db::modify`].
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        let e = self.table.get_mut(key)?;
        if !self.no_touch {
            evict::touch(e, self.lfu, self.lfu_params, now, &mut self.rng);
        }
        Some(e)
    }

    /// OBJECT ENCODING's `raw` for a string a command "modified" without
    /// changing it (see [`Entry::mark_raw`]); not a write.
    pub fn mark_raw(&mut self, key: &[u8]) {
        if let Some(e) = self.table.get_mut(key) {
            e.mark_raw();
        }
    }

    /// Whether the key exists (and has not expired), without touching it.
    pub fn exists(&mut self, key: &[u8], now: i64) -> bool {
        !self.expire_if_needed(key, now) && self.table.get(key).is_some()
    }

    /// Looks a key up without side effects (no expiry, no LRU touch).
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.table.get(key)
    }

    /// Inserts or replaces an entry; returns the entry it replaced.
    /// Marks WATCHers of `key` dirty (`present`: the key exists after the
    /// change, false for a deletion). One emptiness check when none.
    #[inline]
    fn touch(&mut self, key: &[u8], present: bool) {
        if !self.watchers.is_empty() {
            if let Some(watches) = self.watchers.get_mut(key) {
                for w in watches {
                    w.touched(present);
                }
            }
        }
    }

    /// FLUSHDB (`replaced_with` None) or SWAPDB: marks dirty the WATCHers
    /// of keys that existed in the emptied contents (`self`, still holding
    /// them) or exist in what replaces them, as Redis's
    /// `touchAllWatchedKeysInDb`. A key expired at WATCH time that is
    /// merely deleted, or stays expired, is no change.
    pub fn touch_all_watched(&mut self, replaced_with: Option<&Table>, now: i64) {
        for (key, watches) in self.watchers.iter_mut() {
            let emptied = self.table.get(key).is_some();
            let incoming = replaced_with.and_then(|t| t.get(key));
            if !emptied && incoming.is_none() {
                continue;
            }
            let incoming_expired = incoming.is_some_and(|e| is_expired(e, now));
            for w in watches.iter_mut() {
                if w.expired {
                    if incoming.is_none() {
                        w.expired = false;
                        continue;
                    }
                    if incoming_expired {
                        continue;
                    }
                } else if !emptied && incoming_expired {
                    w.expired = true;
                    continue;
                }
                w.dirty.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Registers a WATCH of `key` (once per client and key: the caller
    /// checks). A key present but past its TTL is noted as expired, so its
    /// deletion does not count as a change (Redis's `wk->expired`).
    pub fn watch(&mut self, key: &[u8], dirty: Arc<AtomicBool>, now: i64) {
        let expired = self.table.get(key).is_some_and(|e| is_expired(e, now));
        self.watchers
            .entry(key.to_vec())
            .or_default()
            .push(Watch { dirty, expired });
    }

    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        if self.notes.wants(class::NEW) && self.table.get(entry.key()).is_none() {
            self.notes.fire(class::NEW, "new", entry.key());
        }
        self.insert_quiet(entry)
    }

    /// [`Db::insert`] without the `new` event (the caller fires it).
    fn insert_quiet(&mut self, mut entry: Entry) -> Option<Entry> {
        // New at any running snapshot's cut, so owed to none.
        entry.set_snap_bit(self.snap_done);
        self.dirty += 1;
        self.touch(entry.key(), true);
        // A key written whole (RENAME, MOVE, COPY, SET…) may be what a
        // blocked client waits for; its serve function checks the type.
        self.blocking.mark_ready(entry.key());
        self.mem += entry.mem_usage();
        if entry.expire().is_some() {
            self.volatile += 1;
        }
        let old = if self.lfu {
            self.insert_lfu(entry)
        } else {
            self.table.insert(entry)
        };
        if let Some(o) = &old {
            self.forget(o);
            if let Some(s) = self.snap.as_deref_mut() {
                s.pre_image(o, self.snap_done);
            }
        }
        old
    }

    /// Under LFU a new key starts at `LFU_INIT_VAL` (Redis's
    /// `createObject`), and a key written over keeps the counter of the
    /// value it replaces (Redis's `dbSetValue`), so rewriting a hot key
    /// does not make it look new. Callers stamp entries with the LRU time,
    /// which means nothing under LFU, hence the restamp here.
    #[inline(never)]
    fn insert_lfu(&mut self, mut entry: Entry) -> Option<Entry> {
        entry.set_clock(evict::lfu_new(self.time_hint));
        self.table
            .insert_with(entry, |new, old| new.set_clock(old.clock()))
    }

    fn forget(&mut self, e: &Entry) {
        self.mem -= e.mem_usage();
        if e.expire().is_some() {
            self.volatile -= 1;
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.table.remove(key)?;
        self.dirty += 1;
        self.touch(key, false);
        self.forget(&e);
        // Deleted under a client blocked in XREADGROUP: it gets -NOGROUP
        // (the others' serve functions find nothing and keep waiting).
        self.blocking.mark_ready(key);
        if let Some(s) = self.snap.as_deref_mut() {
            s.pre_image(&e, self.snap_done);
        }
        Some(e)
    }

    /// Runs `f` on the (live) entry for `key`, keeping the accounting exact
    /// whatever `f` changes (value size, TTL). `None` when the key is absent.
    pub fn modify<R>(
        &mut self,
        key: &[u8],
        now: i64,
        f: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        self.modify_with(key, now, true, f)
    }

    /// [`Db::modify`], recording an access only when `access`: a caller
    /// that already looked the key up must not count a second LFU hit.
    pub fn modify_with<R>(
        &mut self,
        key: &[u8],
        now: i64,
        access: bool,
        f: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        self.modify_if(key, now, access, |e| (f(e), true))
    }

    /// [`Db::modify_with`] for a write that may change nothing (a ZADD of
    /// a member with the score it has, an SADD of a member already there):
    /// `f` says whether it changed the entry, and only then is the key
    /// touched (a WATCH on it breaks) and the dirty count moved (so the
    /// command is an effect, and tracking clients hear of it), as Redis
    /// signals only real changes.
    pub fn modify_if<R>(
        &mut self,
        key: &[u8],
        now: i64,
        access: bool,
        f: impl FnOnce(&mut Entry) -> (R, bool),
    ) -> Option<R> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        let e = self.table.get_mut(key)?;
        let before = e.mem_usage();
        let had_ttl = e.expire().is_some();
        if access && !self.no_touch {
            evict::touch(e, self.lfu, self.lfu_params, now, &mut self.rng);
        }
        if let Some(s) = self.snap.as_deref_mut() {
            s.pre_image(e, self.snap_done);
        }
        let (r, changed) = f(e);
        // `f` may have rebuilt the block (`set_expire`, `replace_value`),
        // which clears the bit; done either way now.
        e.set_snap_bit(self.snap_done);
        let after = e.mem_usage();
        let has_ttl = e.expire().is_some();
        self.mem = self.mem + after - before;
        match (had_ttl, has_ttl) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        if changed {
            self.dirty += 1;
            self.touch(key, true);
        }
        Some(r)
    }

    /// Records that `key` may now satisfy clients blocked on it (a push to
    /// a list, an add to a sorted set); [`Db::serve_ready`] serves them
    /// after the command. One emptiness check when nobody is blocked.
    #[inline]
    pub fn signal_ready(&mut self, key: &[u8]) {
        self.blocking.mark_ready(key);
    }

    /// The collection at `key` for reading: `Ok(None)` when missing,
    /// `Err(())` when the key holds a string.
    pub fn object(&mut self, key: &[u8], now: i64) -> Result<Option<&Object>, WrongType> {
        match self.get_read(key, now) {
            None => Ok(None),
            Some(e) => match e.value() {
                ValueRef::Obj(o) => Ok(Some(o)),
                _ => Err(WrongType),
            },
        }
    }

    /// The collection at `key` as a write looks it up (Redis's
    /// `lookupKeyWrite`: no hit/miss count, no `keymiss` event).
    pub fn object_for_write(&mut self, key: &[u8], now: i64) -> Result<Option<&Object>, WrongType> {
        match self.get(key, now) {
            None => Ok(None),
            Some(e) => match e.value() {
                ValueRef::Obj(o) => Ok(Some(o)),
                _ => Err(WrongType),
            },
        }
    }

    /// Runs `f` on the collection at `key`, creating it with `create` when
    /// missing (or returning `Ok(None)` when `create` is `None`), keeping
    /// the accounting exact and deleting the key if `f` leaves it empty.
    /// `Err(WrongType)` when the key holds a string; `f` must itself check
    /// that the `Object` variant is the one it expects.
    pub fn with_object<R>(
        &mut self,
        key: &[u8],
        now: i64,
        create: Option<&dyn Fn() -> Object>,
        f: impl FnOnce(&mut Object) -> R,
    ) -> Result<Option<R>, WrongType> {
        self.with_object_if(key, now, create, |o| (f(o), true))
    }

    /// [`Db::with_object`] for a write that may change nothing: `f` says
    /// whether it did (see [`Db::modify_if`]); a key it created counts as
    /// changed.
    pub fn with_object_if<R>(
        &mut self,
        key: &[u8],
        now: i64,
        create: Option<&dyn Fn() -> Object>,
        f: impl FnOnce(&mut Object) -> (R, bool),
    ) -> Result<Option<R>, WrongType> {
        let mut created = false;
        match self
            .get(key, now)
            .map(|e| matches!(e.value(), ValueRef::Obj(_)))
        {
            Some(false) => return Err(WrongType),
            Some(true) => {}
            None => match create {
                None => return Ok(None),
                Some(make) => {
                    let obj = Box::new(make());
                    self.insert_quiet(Entry::new(key, NewValue::Obj(obj), None, lru_clock(now)));
                    created = true;
                }
            },
        }
        // The lookup above (or the creation) was this command's access.
        let (r, empty) = self
            .modify_if(key, now, false, |e| {
                let o = e
                    .object_mut()
                    .expect("checked above: the entry holds an object");
                let (r, changed) = f(o);
                ((r, o.is_empty()), changed || created)
            })
            .expect("the key exists: found or just inserted");
        if empty {
            self.remove(key);
        } else if created {
            // Only a key that stays is new (ZADD XX on a missing key
            // creates nothing in Redis); before the command's own event.
            self.notes.fire(class::NEW, "new", key);
        }
        Ok(Some(r))
    }

    /// Removes every key; returns the old table so a caller can free it
    /// off the hot path (FLUSHDB ASYNC).
    pub fn flush(&mut self) -> Table {
        self.dirty += self.table.len() as u64;
        self.touch_all_watched(None, self.time_hint);
        self.volatile = 0;
        self.mem = 0;
        self.expire_seg = 0;
        self.expire_pos = 0;
        self.evict_seg = 0;
        self.pool.clear();
        let mut t = Table::new();
        std::mem::swap(&mut t, &mut self.table);
        if let Some(s) = self.snap.as_deref_mut() {
            // The walk has not finished these contents: it takes the old
            // table over and walks it from its cursor; the new table holds
            // only keys born after the cut. A second flush finds `orphan`
            // taken, and the table it drops owes the snapshot nothing.
            if s.orphan.is_none() {
                s.orphan = Some(t);
                return Table::new();
            }
        }
        t
    }

    /// A random live key, or `None` for an empty DB.
    pub fn random_key(&mut self, now: i64) -> Option<Vec<u8>> {
        for _ in 0..100 {
            let e = self.table.random(&mut self.rng)?;
            if !is_expired(e, now) {
                return Some(e.key().to_vec());
            }
            let k = e.key().to_vec();
            self.remove(&k);
            self.stats.expired += 1;
            self.notify(class::EXPIRED, "expired", &k);
        }
        // Mostly expired keys: return one anyway, as Redis does after trying.
        self.table.random(&mut self.rng).map(|e| e.key().to_vec())
    }

    /// One SCAN step over live keys; see [`Table::scan`].
    pub fn scan(&self, cursor: u64, count: usize, now: i64, mut f: impl FnMut(&Entry)) -> u64 {
        self.table.scan(cursor, count, |e| {
            if !is_expired(e, now) {
                f(e)
            }
        })
    }

    /// Every live entry (KEYS, DEBUG, INFO recount).
    pub fn iter(&self, now: i64) -> impl Iterator<Item = &Entry> {
        self.table.iter().filter(move |e| !is_expired(e, now))
    }

    /// This DB's part of an active expiry tick (Redis's per-DB loop in
    /// `activeExpireCycle`): loops of up to `keys_per_loop` keys with a TTL,
    /// repeated while more than `acceptable_stale` percent of them had
    /// expired, the time checked every 16 loops. Returns the keys expired.
    pub fn active_expire(&mut self, now: i64, cycle: &mut ExpireCycle<'_>) -> usize {
        // Every DB gets this call each cron tick: the clock hint's refresh.
        self.time_hint = now;
        // Off (DEBUG SET-ACTIVE-EXPIRE 0: a cycle that starts timed out),
        // or held by CLIENT PAUSE: the clock refresh only.
        if self.volatile == 0 || self.loading || cycle.timed_out || self.held(now) {
            return 0;
        }
        let per_loop = cycle.effort.keys_per_loop;
        let mut total = 0;
        let mut iteration = 0usize;
        loop {
            iteration += 1;
            cycle.loops += 1;
            let (sampled, expired) = self.expire_loop(now, per_loop, per_loop * 20, cycle);
            total += expired;
            if iteration & 0xf == 0 && cycle.over_time() {
                break;
            }
            if self.volatile == 0 {
                break;
            }
            if sampled != 0 && expired * 100 / sampled <= cycle.effort.acceptable_stale {
                break;
            }
        }
        self.stats.expired += total as u64;
        total
    }

    /// One loop: walks entries from the cycle's cursor (a segment, and a
    /// position among its entries) until `want` keys with a TTL or `cap`
    /// entries were looked at, removing the expired ones. Returns (keys
    /// with a TTL looked at, keys expired).
    fn expire_loop(
        &mut self,
        now: i64,
        want: usize,
        cap: usize,
        cycle: &mut ExpireCycle<'_>,
    ) -> (usize, usize) {
        let segs = self.table.segment_count();
        let (mut sampled, mut examined, mut expired) = (0, 0, 0);
        let mut visited = 0;
        while sampled < want && examined < cap && visited <= segs {
            let seg = self.expire_seg % segs;
            // Entries kept so far in this segment: the ones before the
            // position were looked at by an earlier loop.
            let skip = self.expire_pos;
            let mut kept = 0;
            let mut stop = false;
            let removed = self.table.retain_segment(seg, |e| {
                if stop {
                    return true;
                }
                if kept < skip {
                    kept += 1;
                    return true;
                }
                examined += 1;
                let keep = match e.expire() {
                    Some(t) => {
                        sampled += 1;
                        t > now
                    }
                    None => true,
                };
                if keep {
                    kept += 1;
                }
                stop = sampled >= want || examined >= cap;
                keep
            });
            if stop {
                self.expire_seg = seg;
                self.expire_pos = kept;
            } else {
                self.expire_seg = (seg + 1) % segs;
                self.expire_pos = 0;
                visited += 1;
            }
            expired += removed.len();
            for e in &removed {
                self.forget(e);
                self.dirty += 1;
                self.touch(e.key(), false);
                self.notes.fire(class::EXPIRED, "expired", e.key());
                self.propagate_del(e.key());
                if let Some(s) = self.snap.as_deref_mut() {
                    s.pre_image(e, self.snap_done);
                }
            }
        }
        cycle.examined += examined;
        (sampled, expired)
    }
}

/// Lookups and whole-DB operations used by the generic (keyspace) group.
impl Db {
    /// A read lookup that counts a hit or miss but leaves the LRU clock
    /// alone, as Redis's `LOOKUP_NOTOUCH` does for EXISTS, TYPE, TTL and OBJECT.
    pub fn get_read_notouch(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.lookup_notouch(key, now, true)
    }

    /// [`Db::get_read_notouch`] without the `keymiss` event: Redis's
    /// `LOOKUP_NONOTIFY`, as OBJECT and MEMORY USAGE look keys up.
    pub fn get_read_quiet(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.lookup_notouch(key, now, false)
    }

    fn lookup_notouch(&mut self, key: &[u8], now: i64, notify: bool) -> Option<&Entry> {
        let gone = self.expire_if_needed(key, now);
        match self.table.get(key).filter(|_| !gone) {
            Some(e) => {
                self.stats.hits += 1;
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                if notify {
                    self.notes.fire(class::KEY_MISS, "keymiss", key);
                }
                None
            }
        }
    }

    /// Exchanges the keys of two DBs (SWAPDB). Only the data moves: stats
    /// and anything tied to the DB index stay where they are, as in Redis,
    /// where clients and settings belong to the index, not the dict.
    pub fn swap_contents(&mut self, other: &mut Db) {
        self.dirty += 1;
        other.dirty += 1;
        // Watchers stay with the DB index; what they look at changes.
        self.touch_all_watched(Some(&other.table), self.time_hint);
        other.touch_all_watched(Some(&self.table), other.time_hint);
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.volatile, &mut other.volatile);
        std::mem::swap(&mut self.mem, &mut other.mem);
        std::mem::swap(&mut self.expire_seg, &mut other.expire_seg);
        std::mem::swap(&mut self.expire_pos, &mut other.expire_pos);
        // A running snapshot's state (cursor, pre-images, output DB index)
        // belongs to the contents, not the index: the snapshot still writes
        // each DB as it was at the cut (see `snapshot.rs`).
        std::mem::swap(&mut self.snap, &mut other.snap);
        std::mem::swap(&mut self.snap_done, &mut other.snap_done);
        // Pooled candidates name keys of the old contents; the policy
        // stays with the index like the other settings.
        self.pool.clear();
        other.pool.clear();
        // Waiters stay with the DB index too: they get a chance.
        for db in [&mut *self, &mut *other] {
            for k in db.blocking.watched_keys() {
                db.blocking.mark_ready(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::entry::NewValue;

    fn put(db: &mut Db, k: &str, v: &str, exp: Option<i64>) {
        db.insert(Entry::new(
            k.as_bytes(),
            NewValue::Str(v.as_bytes()),
            exp,
            0,
        ));
    }

    /// A clock that reports the tick over its limit from the `n`-th check on.
    fn over_after(n: usize) -> Box<dyn FnMut() -> u64 + Send> {
        let mut checks = 0;
        Box::new(move || {
            checks += 1;
            if checks >= n {
                u64::MAX
            } else {
                0
            }
        })
    }

    #[test]
    fn active_expire_effort_scales_keys_per_loop_and_stops_at_the_time_limit() {
        for (effort, per_loop) in [(1, 20), (4, 35), (10, 65)] {
            let e = ExpireEffort::new(effort);
            // Every key expired: each loop finds 100% stale and repeats, so
            // only the time check (every 16 loops) ends the DB's turn.
            let mut db = Db::new();
            for i in 0..5_000 {
                put(&mut db, &format!("k{i}"), "v", Some(100));
            }
            let mut cycle = ExpireCycle::with_clock(e, 1000, over_after(1));
            assert_eq!(db.active_expire(200, &mut cycle), 16 * per_loop);
            assert!(cycle.timed_out);
            assert_eq!(cycle.loops, 16);
            assert_eq!(db.volatile(), 5_000 - 16 * per_loop);
            // A timed-out tick leaves the other DBs alone.
            let mut other = Db::new();
            put(&mut other, "x", "v", Some(100));
            assert_eq!(other.active_expire(200, &mut cycle), 0);
            // Two checks pass before the limit: 48 loops.
            let mut cycle = ExpireCycle::with_clock(e, 1000, over_after(3));
            let before = db.volatile();
            assert_eq!(db.active_expire(200, &mut cycle), 48 * per_loop);
            assert_eq!(db.volatile(), before - 48 * per_loop);

            // Nothing expired: one loop of `keys_per_loop` keys with a TTL.
            let mut db = Db::new();
            for i in 0..5_000 {
                put(&mut db, &format!("k{i}"), "v", Some(1_000_000));
            }
            let mut cycle = ExpireCycle::with_clock(e, u64::MAX, over_after(usize::MAX));
            assert_eq!(db.active_expire(200, &mut cycle), 0);
            assert_eq!((cycle.loops, cycle.examined), (1, per_loop));
            assert!(!cycle.timed_out);
        }
    }

    #[test]
    fn active_expire_repeats_while_above_the_acceptable_stale_percent() {
        // Every 20th key in the table's walk order expired (5%): above
        // effort 10's 1% (each loop of 65 finds 3 or 4, so loops repeat
        // until the time check), at effort 1's 10% (a loop of 20 finds one:
        // one loop per tick). TTLs change in place: the walk order stays.
        let fill = || {
            let mut db = Db::new();
            for i in 0..20_000 {
                put(&mut db, &format!("k{i}"), "v", Some(1_000_000));
            }
            let order: Vec<Vec<u8>> = db.table.iter().map(|e| e.key().to_vec()).collect();
            for k in order.iter().skip(19).step_by(20) {
                db.modify(k, 0, |e| e.set_expire(Some(100)));
            }
            db
        };
        let mut low = fill();
        let mut cycle = ExpireCycle::with_clock(ExpireEffort::new(1), 0, over_after(1));
        assert_eq!(low.active_expire(200, &mut cycle), 1);
        assert_eq!((cycle.loops, cycle.examined), (1, 20));
        let mut high = fill();
        let mut cycle = ExpireCycle::with_clock(ExpireEffort::new(10), 0, over_after(1));
        assert_eq!(high.active_expire(200, &mut cycle), 16 * 65 / 20);
        assert_eq!((cycle.loops, cycle.examined), (16, 16 * 65));
    }

    #[test]
    fn lazy_and_active_expiry_keep_counts() {
        let mut db = Db::new();
        for i in 0..10_000 {
            put(
                &mut db,
                &format!("k{i}"),
                "v",
                if i % 2 == 0 { Some(100) } else { None },
            );
        }
        assert_eq!(db.volatile(), 5_000);
        assert!(db.get_read(b"k0", 50).is_some());
        assert!(db.get_read(b"k0", 100).is_none());
        assert_eq!(db.volatile(), 4_999);
        let mut n = 0;
        while db.volatile() > 0 {
            n += db.active_expire(200, &mut ExpireCycle::one_check(ExpireEffort::default()));
        }
        assert_eq!(n, 4_999);
        assert_eq!(db.len(), 5_000);
        assert_eq!(db.entry_memory(), db.recount_memory());
    }

    #[test]
    fn modify_tracks_memory_and_ttl() {
        let mut db = Db::new();
        put(&mut db, "a", "x", None);
        db.modify(b"a", 0, |e| {
            e.replace_value(NewValue::Str(&[b'y'; 1000]));
            e.set_expire(Some(10));
        });
        assert_eq!(db.volatile(), 1);
        assert_eq!(db.entry_memory(), db.recount_memory());
        db.remove(b"a");
        assert_eq!(db.entry_memory(), 0);
        assert_eq!(db.volatile(), 0);
    }
}
