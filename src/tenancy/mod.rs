//! Per-DB limits and counters (DESIGN.md, "Tenancy model").
//!
//! Everything the hot path reads is an atomic in [`DbTenant`], one per DB,
//! so the quota gate in dispatch takes no lock beyond the DB's own. The
//! metrics exporter and INFO's `# Tenancy` section read the same counters.
//!
//! The configuration (`[[db]]` tables, `[server] maxmemory`) is the source
//! of truth: [`Tenancy::apply`] copies it into the atomics at startup, and
//! again whenever a per-DB setting changes at runtime. Each DB's `gates`
//! bitmask says which limits it has, so a DB without limits costs dispatch
//! one relaxed load and a branch ([`gate`] holds the checks themselves).

pub mod boundary;
pub mod gate;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::Config;
use crate::keyspace::evict::Policy;
use crate::keyspace::{Db, Keyspace};

/// What `max-ops-per-sec` does to a DB over its rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpsMode {
    /// The connection sleeps off its DB's debt before its next batch.
    #[default]
    Throttle,
    /// Commands over the rate get an error.
    Reject,
}

impl OpsMode {
    /// Its `[[db]]` spelling (`max-ops-mode`).
    pub fn name(self) -> &'static str {
        match self {
            OpsMode::Throttle => "throttle",
            OpsMode::Reject => "reject",
        }
    }
}

/// Bits of [`DbTenant::gates`]: which limits the DB has.
pub mod gates {
    /// A memory limit applies (own `maxmemory`, or the global one).
    pub const MEMORY: u8 = 1 << 0;
    pub const MAX_KEYS: u8 = 1 << 1;
    pub const OPS: u8 = 1 << 2;
    /// With [`OPS`]: reject instead of throttling.
    pub const OPS_REJECT: u8 = 1 << 3;
}

/// How far ahead of the steady rate a DB may run: bursts up to a tenth of a
/// second's quota pass untouched (GCRA's tolerance, in nanoseconds).
pub const BURST_NS: u64 = 100_000_000;

/// How far a DB's used memory may drift from its published figure (the
/// global limit's view of other DBs) before a write republishes it, as a
/// fraction of the global limit: with 16 DBs the sum lags by at most 1/16.
pub const PUBLISH_STEP_DIVISOR: u64 = 256;

/// One DB's limits (0 = no limit) and tenancy counters. Aligned so that
/// one DB's written counters (ops bucket, published memory) never share a
/// cache line with another DB's `gates`, which every command reads.
#[derive(Default)]
#[repr(align(128))]
pub struct DbTenant {
    /// `[[db]] name` (empty when unnamed).
    pub name: Mutex<String>,
    /// This DB's own `maxmemory` in bytes; 0 = only the global limit applies
    /// (see [`DbTenant::effective_maxmemory`]). After changing a limit
    /// directly, call [`Tenancy::refresh`].
    pub maxmemory: AtomicU64,
    /// The effective `maxmemory-policy` (its own, else the `[server]`
    /// default) as `keyspace::evict::Policy as u8`. Whoever changes it also
    /// calls `Db::set_policy`.
    pub policy: AtomicU8,
    pub max_keys: AtomicU64,
    pub max_ops_per_sec: AtomicU64,
    pub max_clients: AtomicU64,
    /// Authenticated clients whose selected DB this is.
    pub clients: AtomicU64,
    /// Writes refused with `-OOM` (memory or max-keys).
    pub oom_rejected: AtomicU64,
    /// Commands delayed or refused by `max-ops-per-sec`.
    pub throttled: AtomicU64,
    /// The DB's used memory as last published (after write commands, by
    /// the quota gate, and by the cron); the global limit sums these.
    pub used_memory: AtomicU64,
    /// The table's own bytes (buckets) as of the last full count: walking
    /// the segments is O(keys / 896), too slow for every write, and the
    /// figure only moves when a segment resizes.
    table_overhead: AtomicU64,
    /// Which limits apply ([`gates`] bits), derived by [`Tenancy::refresh`].
    pub gates: AtomicU8,
    /// `max-ops-mode = "reject"`.
    pub ops_reject: AtomicBool,
    /// GCRA state: the theoretical arrival time of the next command, in
    /// nanoseconds since [`Tenancy::epoch`].
    ops_tat: AtomicU64,
    /// Nanoseconds per command at `max-ops-per-sec` (0 = no limit).
    ops_interval_ns: AtomicU64,
}

/// Outcome of charging one command to a DB's ops budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    Admitted,
    /// Over the rate in throttle mode: admitted, and the DB is now in debt
    /// (the connection sleeps it off before its next batch).
    Throttled,
    /// Over the rate in reject mode: refused, nothing charged.
    Rejected,
}

impl DbTenant {
    /// This DB's INFO `# Tenancy` line after `db<N>:` (the standalone
    /// server's and the proxy's, from their own key and memory figures),
    /// or `None` for a DB with no keys, name or limit. `over_limit=1`
    /// flags a DB above a limit (a file loaded over it, a limit lowered):
    /// its next write evicts by its policy or gets OOM.
    pub fn info_fields(
        &self,
        keys: u64,
        expires: u64,
        mem: u64,
        evicted: u64,
        global_maxmemory: u64,
    ) -> Option<String> {
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let name = self.name.lock().clone();
        let limited = ld(&self.maxmemory) > 0
            || ld(&self.max_keys) > 0
            || ld(&self.max_ops_per_sec) > 0
            || ld(&self.max_clients) > 0;
        if keys == 0 && name.is_empty() && !limited {
            return None;
        }
        let max = self.effective_maxmemory(global_maxmemory);
        let keys_max = ld(&self.max_keys);
        let over = (max > 0 && mem > max) || (keys_max > 0 && keys > keys_max);
        Some(format!(
            "name={name},keys={keys},expires={expires},used_memory={mem},maxmemory={max},policy={},evicted_keys={evicted},oom_rejected={},throttled={},clients={}{}",
            self.policy().name(),
            ld(&self.oom_rejected),
            ld(&self.throttled),
            ld(&self.clients),
            if over { ",over_limit=1" } else { "" },
        ))
    }

    /// The limit this DB's own usage is held to: its own `maxmemory`, else
    /// the global one (0 = none).
    pub fn effective_maxmemory(&self, global: u64) -> u64 {
        match self.maxmemory.load(Ordering::Relaxed) {
            0 => global,
            own => own,
        }
    }

    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Counts one more client in this DB unless it is at `max-clients`.
    /// Exact under races: the limit is checked and the count taken in one CAS.
    pub fn try_enter(&self) -> bool {
        let max = self.max_clients.load(Ordering::Relaxed);
        if max == 0 {
            self.clients.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.clients
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| {
                (c < max).then_some(c + 1)
            })
            .is_ok()
    }

    /// Forgets one client (saturating: the in-process harness's client is
    /// never counted in).
    pub fn leave(&self) {
        let _ = self
            .clients
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |c| c.checked_sub(1));
    }

    /// Charges one command at `now_ns` (GCRA over one atomic).
    #[inline]
    pub fn charge(&self, now_ns: u64) -> Charge {
        self.charge_n(now_ns, 1)
    }

    /// How many ops a connection charges at once: up to 1 ms of the rate,
    /// at most 16. One contended RMW per 16 commands instead of per command
    /// (the shared bucket's cache line moving between cores cost pipelined
    /// SETs ~5% in benches/pinned-user.sh); a low limit stays exact.
    #[inline]
    pub fn credit_size(&self) -> u32 {
        (self.max_ops_per_sec.load(Ordering::Relaxed) / 1000).clamp(1, 16) as u32
    }

    /// Charges `n` commands at `now_ns` (GCRA over one atomic).
    #[inline]
    pub fn charge_n(&self, now_ns: u64, n: u32) -> Charge {
        let t = self.ops_interval_ns.load(Ordering::Relaxed) * n as u64;
        if t == 0 {
            return Charge::Admitted;
        }
        let limit = now_ns + BURST_NS;
        if self.ops_reject.load(Ordering::Relaxed) {
            let r = self
                .ops_tat
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                    (tat <= limit).then(|| tat.max(now_ns) + t)
                });
            if r.is_err() {
                // A refused credit is retried as one op: count only that.
                if n == 1 {
                    self.throttled.fetch_add(1, Ordering::Relaxed);
                }
                return Charge::Rejected;
            }
            return Charge::Admitted;
        }
        let prev = self
            .ops_tat
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                Some(tat.max(now_ns) + t)
            })
            .unwrap_or_else(|v| v);
        // Past the tolerance: the connection's next batch will wait.
        if prev.max(now_ns) + t > limit {
            self.throttled.fetch_add(n as u64, Ordering::Relaxed);
            return Charge::Throttled;
        }
        Charge::Admitted
    }
}

/// Tenancy state of every DB, indexed like the keyspace.
pub struct Tenancy {
    pub dbs: Box<[DbTenant]>,
    /// `[server] maxmemory`: the limit on the sum over all DBs (0 = none).
    pub global_maxmemory: AtomicU64,
    /// `maxmemory-samples`, for `Db::evict_one`.
    pub samples: AtomicU32,
    /// Sum of the DBs' published `used_memory`.
    total_used: AtomicU64,
    /// Origin of the ops limiter's monotonic nanoseconds.
    pub epoch: Instant,
}

impl Tenancy {
    pub fn new(databases: usize) -> Tenancy {
        Tenancy {
            dbs: (0..databases).map(|_| DbTenant::default()).collect(),
            global_maxmemory: AtomicU64::new(0),
            samples: AtomicU32::new(5),
            total_used: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    #[inline]
    pub fn db(&self, index: usize) -> &DbTenant {
        &self.dbs[index]
    }

    /// Copies the whole configuration into the atomics: the global limit
    /// and samples, and every DB's `[[db]]` settings (DBs without a table
    /// get no limits and the `[server] maxmemory-policy` default). Tells
    /// each DB its policy (`Db::set_policy`) and publishes its memory.
    ///
    /// Locks each DB in turn, so the caller must hold no DB lock (CONFIG
    /// SET is `NO_DB_LOCK`). Counters (clients, rejections) are kept.
    pub fn apply(&self, config: &Config, keyspace: &Keyspace) {
        let default = Policy::parse(config.maxmemory_policy.as_bytes()).unwrap_or_default();
        for i in 0..self.dbs.len() {
            let d = config.dbs.iter().find(|d| d.index == i);
            self.store_db(i, d, default, keyspace);
        }
        self.apply_global(config);
    }

    /// Applies one DB's `[[db]]` settings (`None`: no table, no limits)
    /// after a runtime change (CONFIG SET of a per-DB setting): locks only
    /// that DB. The caller must not hold a DB lock.
    pub fn apply_db(
        &self,
        index: usize,
        d: Option<&crate::config::DbConfig>,
        default: Policy,
        keyspace: &Keyspace,
    ) {
        self.store_db(index, d, default, keyspace);
        self.refresh();
    }

    fn store_db(
        &self,
        i: usize,
        d: Option<&crate::config::DbConfig>,
        default: Policy,
        keyspace: &Keyspace,
    ) {
        {
            let t = &self.dbs[i];
            *t.name.lock() = d.map(|d| d.name.clone()).unwrap_or_default();
            let policy = d.and_then(|d| d.maxmemory_policy).unwrap_or(default);
            t.policy.store(policy as u8, Ordering::Relaxed);
            let field = |f: fn(&crate::config::DbConfig) -> u64| d.map_or(0, f);
            t.maxmemory.store(field(|d| d.maxmemory), Ordering::Relaxed);
            t.max_keys.store(field(|d| d.max_keys), Ordering::Relaxed);
            t.max_ops_per_sec
                .store(field(|d| d.max_ops_per_sec), Ordering::Relaxed);
            t.max_clients
                .store(field(|d| d.max_clients), Ordering::Relaxed);
            let reject = d.is_some_and(|d| d.max_ops_mode == OpsMode::Reject);
            t.ops_reject.store(reject, Ordering::Relaxed);
            if let Some(mut db) = (i < keyspace.len()).then(|| keyspace.lock(i)) {
                db.set_policy(policy);
                self.recount(i, &db);
            }
        }
    }

    /// Copies only the global settings (`maxmemory`, `maxmemory-samples`);
    /// run on every CONFIG SET. Takes no DB lock.
    pub fn apply_global(&self, config: &Config) {
        self.global_maxmemory
            .store(config.maxmemory, Ordering::Relaxed);
        self.samples
            .store(config.maxmemory_samples.max(1), Ordering::Relaxed);
        self.refresh();
    }

    /// Re-derives each DB's `gates` and ops interval from its limit
    /// atomics; call after storing a limit directly.
    pub fn refresh(&self) {
        let global = self.global_maxmemory.load(Ordering::Relaxed);
        for t in self.dbs.iter() {
            let mut g = 0;
            if t.effective_maxmemory(global) > 0 {
                g |= gates::MEMORY;
            }
            if t.max_keys.load(Ordering::Relaxed) > 0 {
                g |= gates::MAX_KEYS;
            }
            let ops = t.max_ops_per_sec.load(Ordering::Relaxed);
            let interval = match 1_000_000_000u64.checked_div(ops) {
                Some(ns) => {
                    g |= gates::OPS;
                    if t.ops_reject.load(Ordering::Relaxed) {
                        g |= gates::OPS_REJECT;
                    }
                    // Above 1e9/s a nanosecond per command is the finest step.
                    ns.max(1)
                }
                None => 0,
            };
            t.ops_interval_ns.store(interval, Ordering::Relaxed);
            t.gates.store(g, Ordering::Relaxed);
        }
    }

    /// Records DB `index`'s used memory. Every caller holds that DB's lock,
    /// so the swap and the total's adjustment are not interleaved for one DB.
    #[inline]
    pub fn publish(&self, index: usize, bytes: u64) {
        let slot = &self.dbs[index].used_memory;
        // Reads (and the gate's check before a write) change nothing: no RMW.
        if slot.load(Ordering::Relaxed) == bytes {
            return;
        }
        let old = slot.swap(bytes, Ordering::Relaxed);
        if old != bytes {
            // Wrapping add of a possibly negative delta.
            self.total_used
                .fetch_add(bytes.wrapping_sub(old), Ordering::Relaxed);
        }
    }

    /// DB `index`'s used memory in O(1): its entries (counted exactly by
    /// every mutation) plus the table overhead of the last [`Tenancy::recount`].
    #[inline]
    pub fn usage(&self, index: usize, db: &Db) -> u64 {
        db.entry_memory() as u64 + self.dbs[index].table_overhead.load(Ordering::Relaxed)
    }

    /// Counts DB `index`'s memory fully (table overhead included) and
    /// publishes it: the cron does, every tick, under the DB's lock.
    pub fn recount(&self, index: usize, db: &Db) {
        let used = db.used_memory() as u64;
        let entries = db.entry_memory() as u64;
        self.dbs[index]
            .table_overhead
            .store(used.saturating_sub(entries), Ordering::Relaxed);
        self.publish(index, used);
    }

    /// [`Tenancy::publish`] only when the figure moved by at least
    /// `global / PUBLISH_STEP_DIVISOR`: writes then pay a load and a
    /// compare, not two contended RMWs each (~4% of pipelined SETs with a
    /// memory limit). Other DBs' figures lag by less than the step; the
    /// writing DB's own figure is exact in [`Tenancy::total_with`].
    #[inline]
    pub fn publish_lazy(&self, index: usize, bytes: u64, global: u64) {
        let old = self.dbs[index].used_memory.load(Ordering::Relaxed);
        if bytes.abs_diff(old) >= global / PUBLISH_STEP_DIVISOR {
            self.publish(index, bytes);
        }
    }

    /// The sum over DBs with DB `index`'s figure replaced by `bytes` (its
    /// exact current usage).
    #[inline]
    pub fn total_with(&self, index: usize, bytes: u64) -> u64 {
        let old = self.dbs[index].used_memory.load(Ordering::Relaxed);
        self.total_used().wrapping_sub(old).wrapping_add(bytes)
    }

    /// Published memory of all DBs together.
    #[inline]
    pub fn total_used(&self) -> u64 {
        self.total_used.load(Ordering::Relaxed)
    }

    /// Nanoseconds since [`Tenancy::epoch`].
    #[inline]
    pub fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// How long a connection about to run a batch in DB `index` must sleep
    /// first (throttle mode only): until the DB's ops debt is back within
    /// the burst tolerance. `None` without debt (one load, and no clock
    /// read, when the DB has no ops limit: this runs before every batch).
    #[inline]
    pub fn throttle_delay(&self, index: usize) -> Option<Duration> {
        let t = self.dbs.get(index)?;
        if t.gates.load(Ordering::Relaxed) & (gates::OPS | gates::OPS_REJECT) != gates::OPS {
            return None;
        }
        let limit = self.nanos(Instant::now()) + BURST_NS;
        let tat = t.ops_tat.load(Ordering::Relaxed);
        (tat > limit).then(|| Duration::from_nanos(tat - limit))
    }

    /// Moves one client's count between DBs (`None` = not counted: not
    /// authenticated). False, with nothing changed, when `to` is at its
    /// `max-clients`.
    pub fn move_client(&self, from: Option<usize>, to: Option<usize>) -> bool {
        if from == to {
            return true;
        }
        if let Some(t) = to.and_then(|i| self.dbs.get(i)) {
            if !t.try_enter() {
                return false;
            }
        }
        if let Some(f) = from.and_then(|i| self.dbs.get(i)) {
            f.leave();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DbConfig;

    fn tenancy(dbs: Vec<DbConfig>, global: u64) -> (Tenancy, Keyspace) {
        let config = Config {
            databases: 4,
            maxmemory: global,
            maxmemory_policy: "allkeys-lru".into(),
            dbs,
            ..Config::default()
        };
        let t = Tenancy::new(4);
        let ks = Keyspace::new(4);
        t.apply(&config, &ks);
        (t, ks)
    }

    #[test]
    fn apply_derives_gates_and_policies() {
        let mut d1 = DbConfig::new(1);
        d1.maxmemory = 1000;
        d1.maxmemory_policy = Some(Policy::NoEviction);
        let mut d2 = DbConfig::new(2);
        d2.max_keys = 10;
        d2.max_ops_per_sec = 100;
        d2.max_ops_mode = OpsMode::Reject;
        let (t, _) = tenancy(vec![d1, d2], 0);
        assert_eq!(t.db(0).gates.load(Ordering::Relaxed), 0);
        assert_eq!(t.db(1).gates.load(Ordering::Relaxed), gates::MEMORY);
        assert_eq!(
            t.db(2).gates.load(Ordering::Relaxed),
            gates::MAX_KEYS | gates::OPS | gates::OPS_REJECT
        );
        assert_eq!(t.db(1).policy(), Policy::NoEviction);
        assert_eq!(t.db(0).policy(), Policy::AllKeysLru, "the [server] default");
        assert_eq!(t.db(1).effective_maxmemory(5000), 1000);
        assert_eq!(t.db(0).effective_maxmemory(5000), 5000);
        let (t, _) = tenancy(vec![], 5000);
        assert!(t
            .dbs
            .iter()
            .all(|d| d.gates.load(Ordering::Relaxed) == gates::MEMORY));
    }

    #[test]
    fn gcra_rejects_past_the_burst_and_recovers() {
        let mut d = DbConfig::new(0);
        d.max_ops_per_sec = 100; // 10 ms apart; 100 ms of burst
        d.max_ops_mode = OpsMode::Reject;
        let (t, _) = tenancy(vec![d], 0);
        let db = t.db(0);
        let now = 1_000_000_000;
        let admitted = (0..50)
            .filter(|_| db.charge(now) == Charge::Admitted)
            .count();
        assert_eq!(admitted, 11, "burst of 100 ms at 10 ms each, plus one");
        assert_eq!(db.throttled.load(Ordering::Relaxed), 39);
        assert_eq!(db.charge(now + 10_000_000), Charge::Admitted);
    }

    #[test]
    fn throttle_mode_admits_and_reports_the_delay() {
        let mut d = DbConfig::new(0);
        d.max_ops_per_sec = 1000;
        let (t, _) = tenancy(vec![d], 0);
        let now = Instant::now();
        let ns = t.nanos(now);
        for _ in 0..300 {
            assert_ne!(t.db(0).charge(ns), Charge::Rejected);
        }
        // 300 ms of work charged, 100 ms tolerated: ~200 ms to sleep.
        let d = t.throttle_delay(0).expect("in debt");
        assert!(d > Duration::from_millis(190) && d <= Duration::from_millis(200));
        assert_eq!(t.throttle_delay(1), None);
    }

    #[test]
    fn published_memory_sums_across_dbs() {
        let (t, _) = tenancy(vec![], 0);
        // apply published the empty DBs' table overhead.
        let base = t.total_used()
            - t.dbs[..2]
                .iter()
                .map(|d| d.used_memory.load(Ordering::Relaxed))
                .sum::<u64>();
        t.publish(0, 100);
        t.publish(1, 50);
        t.publish(0, 30);
        assert_eq!(t.total_used() - base, 80);
    }

    #[test]
    fn client_moves_respect_max_clients() {
        let mut d = DbConfig::new(1);
        d.max_clients = 1;
        let (t, _) = tenancy(vec![d], 0);
        assert!(t.move_client(None, Some(0)));
        assert!(t.move_client(Some(0), Some(1)));
        assert!(!t.move_client(None, Some(1)), "DB 1 is full");
        assert!(t.move_client(Some(1), Some(1)), "staying is not entering");
        assert!(t.move_client(Some(1), None));
        assert_eq!(t.db(0).clients.load(Ordering::Relaxed), 0);
        assert_eq!(t.db(1).clients.load(Ordering::Relaxed), 0);
        t.db(0).leave();
        assert_eq!(t.db(0).clients.load(Ordering::Relaxed), 0, "saturates");
    }
}
