//! Per-DB limits and counters (DESIGN.md, "Tenancy model").
//!
//! Everything the hot path reads is an atomic in [`DbTenant`], one per DB,
//! so the quota gate in dispatch takes no lock beyond the DB's own. The
//! metrics exporter and INFO's `# Tenancy` section read the same counters.

use std::sync::atomic::{AtomicU64, AtomicU8};

use parking_lot::Mutex;

/// One DB's limits (0 = no limit) and tenancy counters.
#[derive(Default)]
pub struct DbTenant {
    /// `[[db]] name` (empty when unnamed).
    pub name: Mutex<String>,
    /// This DB's own `maxmemory` in bytes; 0 = only the global limit applies.
    pub maxmemory: AtomicU64,
    /// `maxmemory-policy` as `keyspace::evict::Policy as u8`.
    pub policy: AtomicU8,
    pub max_keys: AtomicU64,
    pub max_ops_per_sec: AtomicU64,
    pub max_clients: AtomicU64,
    /// Clients whose selected DB this is.
    pub clients: AtomicU64,
    /// Writes refused with `-OOM`.
    pub oom_rejected: AtomicU64,
    /// Commands delayed or refused by `max-ops-per-sec`.
    pub throttled: AtomicU64,
}

/// Tenancy state of every DB, indexed like the keyspace.
pub struct Tenancy {
    pub dbs: Box<[DbTenant]>,
}

impl Tenancy {
    pub fn new(databases: usize) -> Tenancy {
        Tenancy {
            dbs: (0..databases).map(|_| DbTenant::default()).collect(),
        }
    }

    #[inline]
    pub fn db(&self, index: usize) -> &DbTenant {
        &self.dbs[index]
    }
}
