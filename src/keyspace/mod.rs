//! The databases: `Keyspace` owns N [`Db`]s, each behind its own lock.
//!
//! Tenants in different DBs never contend: a connection locks only its
//! selected DB, once per pipelined batch. Commands that span DBs (MOVE,
//! SWAPDB, COPY … DB, FLUSHALL) lock in index order via [`Keyspace::lock_two`]
//! and [`Keyspace::lock_all`]. Point-in-time snapshots of all DBs, without
//! fork, are in [`snapshot`].

pub mod blocking;
pub mod db;
pub mod entry;
pub mod evict;
pub mod expire;
pub mod listpack;
pub mod notify;
pub mod snapshot;
pub mod table;
pub mod types;
pub mod value;

pub use db::Db;
pub use entry::{Entry, NewValue, ValueRef};

use std::sync::atomic::AtomicBool;

use parking_lot::{Mutex, MutexGuard};

/// Keeps each DB's lock on its own cache line.
#[repr(align(128))]
pub struct Slot(pub Mutex<Db>);

pub struct Keyspace {
    dbs: Box<[Slot]>,
    /// Numbers effects across DBs (see [`db::EffectLog`]).
    pub effect_seq: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// `notify-keyspace-events` as every DB tests it ([`notify::effective`]).
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// A snapshot runs (or drains after a cancel): one at a time, since
    /// the DBs' snapshot bits have room for one epoch (see `snapshot.rs`).
    pub(crate) snapshot_busy: AtomicBool,
    /// The LFU parameters every DB was last given (packed: log factor in
    /// the high half), so an unrelated CONFIG SET locks no DB.
    lfu: std::sync::atomic::AtomicU64,
    /// Until this time (ms; 0 = never) keys neither expire nor get evicted:
    /// CLIENT PAUSE's end, shared with every [`Db`] (see `server::pause`).
    pub expiry_hold: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Keyspace {
    pub fn new(count: usize) -> Keyspace {
        let effect_seq: std::sync::Arc<std::sync::atomic::AtomicU64> = Default::default();
        let hold: std::sync::Arc<std::sync::atomic::AtomicI64> = Default::default();
        let dbs = (0..count)
            .map(|_| {
                let mut db = Db::new();
                db.notes = notify::Notes::shared(effect_seq.clone());
                db.hold = hold.clone();
                Slot(Mutex::new(db))
            })
            .collect();
        Keyspace {
            dbs,
            effect_seq,
            notify_flags: std::sync::atomic::AtomicU32::new(0),
            snapshot_busy: AtomicBool::new(false),
            lfu: std::sync::atomic::AtomicU64::new(pack_lfu(evict::Lfu::default())),
            expiry_hold: hold,
        }
    }

    /// Gives every DB `lfu-log-factor` and `lfu-decay-time`; locks the
    /// DBs only when they changed.
    pub fn set_lfu(&self, params: evict::Lfu) {
        use std::sync::atomic::Ordering;
        let packed = pack_lfu(params);
        if self.lfu.swap(packed, Ordering::Relaxed) == packed {
            return;
        }
        for i in 0..self.dbs.len() {
            self.lock(i).set_lfu(params);
        }
    }

    /// Gives every DB the keyspace-event classes (`notify::effective`);
    /// locks the DBs only when they changed.
    pub fn set_notify(&self, flags: u32) {
        use std::sync::atomic::Ordering;
        if self.notify_flags.swap(flags, Ordering::Relaxed) == flags {
            return;
        }
        for i in 0..self.dbs.len() {
            self.lock(i).notes.set_flags(flags);
        }
    }

    pub fn len(&self) -> usize {
        self.dbs.len()
    }

    /// Whether any keyspace event may be published (one relaxed load).
    #[inline]
    pub fn notifying(&self) -> bool {
        self.notify_flags.load(std::sync::atomic::Ordering::Relaxed) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.dbs.is_empty()
    }

    #[inline]
    pub fn lock(&self, index: usize) -> MutexGuard<'_, Db> {
        self.dbs[index].0.lock()
    }

    /// The DB's lock if it is free (background work that must never wait
    /// on a thread, e.g. behind a long script holding the DB).
    pub fn try_lock(&self, index: usize) -> Option<MutexGuard<'_, Db>> {
        self.dbs[index].0.try_lock()
    }

    /// Locks two distinct DBs in index order; returns them as (a, b).
    pub fn lock_two(&self, a: usize, b: usize) -> (MutexGuard<'_, Db>, MutexGuard<'_, Db>) {
        assert_ne!(a, b, "lock_two needs two distinct DBs");
        if a < b {
            let ga = self.lock(a);
            (ga, self.lock(b))
        } else {
            let gb = self.lock(b);
            (self.lock(a), gb)
        }
    }

    /// Locks every DB in index order.
    /// Marks every DB as replaying a log (no expiry) or done with it.
    pub fn set_loading(&self, on: bool) {
        for db in self.lock_all().iter_mut() {
            db.loading = on;
        }
    }

    pub fn lock_all(&self) -> Vec<MutexGuard<'_, Db>> {
        self.dbs.iter().map(|s| s.0.lock()).collect()
    }
}

fn pack_lfu(p: evict::Lfu) -> u64 {
    (u64::from(p.log_factor) << 32) | u64::from(p.decay_time)
}
