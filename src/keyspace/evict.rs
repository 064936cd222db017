//! Eviction within one DB: Redis's sampled approximations of LRU, LFU,
//! random and TTL order (`maxmemory-policy`, `maxmemory-samples`).
//!
//! Each DB has its own policy (DESIGN.md, "Tenancy model"): the quota gate
//! in dispatch calls [`Db::evict_one`] on the DB that is over its limit, and
//! no other DB is ever touched for it.
//!
//! The algorithm is Redis's (`evict.c`), scaled to one DB:
//! - each call draws `samples` entries with [`Table::sample`] (O(1)
//!   expected per draw, whatever the DB size) and offers them to the DB's
//!   [`EvictionPool`]: the 16 best candidates seen so far, kept across
//!   calls, ranked by idle seconds (LRU), by `255 - counter` (LFU) or by
//!   nearness of expiry (volatile-ttl); the best pooled key that is still
//!   as it was when pooled is evicted;
//! - the random policies evict the first qualifying draw;
//! - the volatile policies qualify only keys with a TTL. Redis samples its
//!   separate `expires` dict; we have one table, so draws that hit
//!   persistent keys are skipped, at most [`VOLATILE_DRAWS`] per wanted
//!   sample. When those find none (TTL keys under ~1/16 of the DB), a walk
//!   of up to [`VOLATILE_WALK`] entries, resumed where the last one
//!   stopped, looks for them; only if that finds none either does
//!   `evict_one` return `None` although some TTL key may exist;
//! - eviction goes through [`Db::remove`] (accounting, WATCH) and counts
//!   `stats.evicted`, never `expired`.
//!
//! LFU data lives in the entry's 24 clock bits as in Redis: 16 bits of
//! minutes at the last decrement, 8 bits of logarithmic counter. Accesses
//! update whichever the DB's policy uses ([`touch`]); on a policy switch
//! the bits are simply reinterpreted, as Redis does.

use rand::rngs::SmallRng;
use rand::Rng;

use super::entry::Entry;
use super::table::Table;
use super::Db;
use crate::clock::lru_clock;

/// Redis's `LFU_INIT_VAL`: a new key's counter, so it is not evicted
/// before it had a chance to be read.
pub const LFU_INIT_VAL: u8 = 5;

/// `lfu-log-factor` and `lfu-decay-time`: how slowly the logarithmic
/// counter grows (10, Redis's default: ~1M hits saturate it; 0: one step
/// per access) and how many minutes take one step off it (1; 0: never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lfu {
    pub log_factor: u32,
    pub decay_time: u32,
}

impl Default for Lfu {
    fn default() -> Self {
        Lfu {
            log_factor: 10,
            decay_time: 1,
        }
    }
}
/// Redis's `EVPOOL_SIZE`.
pub const POOL_SIZE: usize = 16;
/// Draws per wanted candidate before a volatile policy gives up drawing:
/// with TTL keys at ≥ 1/16 of the DB a full sample is expected.
const VOLATILE_DRAWS: usize = 16;
/// Entries a volatile policy walks when its draws found no TTL key at all.
const VOLATILE_WALK: usize = 4096;
/// Pool refills per eviction when every pooled candidate turned out stale.
const MAX_ROUNDS: usize = 4;

/// `maxmemory-policy`. The discriminants are stable: the policy is kept in
/// an `AtomicU8` per DB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    #[default]
    NoEviction = 0,
    AllKeysLru = 1,
    VolatileLru = 2,
    AllKeysLfu = 3,
    VolatileLfu = 4,
    AllKeysRandom = 5,
    VolatileRandom = 6,
    VolatileTtl = 7,
}

impl Policy {
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::VolatileLru,
        Policy::AllKeysLfu,
        Policy::VolatileLfu,
        Policy::AllKeysRandom,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    /// The redis.conf name (`allkeys-lru`).
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::VolatileLru => "volatile-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// Parses a redis.conf name, case-insensitively as CONFIG SET does.
    pub fn parse(s: &[u8]) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().as_bytes().eq_ignore_ascii_case(s))
    }

    pub fn from_u8(v: u8) -> Policy {
        Policy::ALL.get(v as usize).copied().unwrap_or_default()
    }

    /// LFU policies keep an access counter in the entry's clock bits
    /// instead of the last-access time.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Only keys with a TTL are candidates.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Redis's `LFUGetTimeInMinutes`.
#[inline]
pub fn lfu_minutes(now: i64) -> u32 {
    (now.div_euclid(60_000) & 0xFFFF) as u32
}

/// Redis's `LFUDecrAndReturn`: the counter after one decrement per
/// elapsed `lfu-decay-time` period (none when it is 0), without storing it.
#[inline]
pub fn lfu_decayed(clock: u32, now: i64, decay_time: u32) -> u8 {
    let ldt = (clock >> 8) & 0xFFFF;
    let counter = clock & 0xFF;
    let m = lfu_minutes(now);
    // Redis's LFUTimeElapsed, wrapping at 16 bits (≈ 45 days).
    let elapsed = if m >= ldt { m - ldt } else { 65535 - ldt + m };
    match elapsed.checked_div(decay_time) {
        Some(periods) => counter.saturating_sub(periods) as u8,
        None => counter as u8,
    }
}

/// Redis's `LFULogIncr`: the counter grows with probability
/// `1 / ((counter - LFU_INIT_VAL) * lfu_log_factor + 1)`.
#[inline]
pub fn lfu_log_incr(counter: u8, log_factor: u32, rng: &mut impl Rng) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL);
    if base == 0 || log_factor == 0 {
        // p = 1: no draw needed.
        return counter + 1;
    }
    let p = 1.0 / (f64::from(base) * f64::from(log_factor) + 1.0);
    if rng.gen::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// The clock bits of a key created now under an LFU policy.
#[inline]
pub fn lfu_new(now: i64) -> u32 {
    (lfu_minutes(now) << 8) | u32::from(LFU_INIT_VAL)
}

/// Redis's `estimateObjectIdleTime`, in seconds (our LRU clock's unit),
/// over the wrapping 24-bit clock.
#[inline]
pub fn lru_idle(clock: u32, now: i64) -> u64 {
    let (c, then) = (u64::from(lru_clock(now)), u64::from(clock & 0x00FF_FFFF));
    if c >= then {
        c - then
    } else {
        c + (0x00FF_FFFF - then)
    }
}

/// Records an access in the entry's clock bits: the LRU time, or Redis's
/// `updateLFU` (decay, then logarithmic increment) when `lfu`. The branch
/// is on a per-DB flag that changes only with the policy, so it is always
/// predicted; the LFU arm stays out of line to keep the LRU path small.
#[inline(always)]
pub fn touch(e: &mut Entry, lfu: bool, params: Lfu, now: i64, rng: &mut SmallRng) {
    if lfu {
        lfu_touch(e, params, now, rng);
    } else {
        e.set_clock(lru_clock(now));
    }
}

#[inline(never)]
fn lfu_touch(e: &mut Entry, params: Lfu, now: i64, rng: &mut SmallRng) {
    let decayed = lfu_decayed(e.clock(), now, params.decay_time);
    let counter = lfu_log_incr(decayed, params.log_factor, rng);
    e.set_clock((lfu_minutes(now) << 8) | u32::from(counter));
}

/// Rank of a candidate under `policy`: higher is evicted first (Redis's
/// pool "idle" field).
fn score(policy: Policy, lfu: Lfu, e: &Entry, now: i64) -> u64 {
    match policy {
        Policy::AllKeysLfu | Policy::VolatileLfu => {
            255 - u64::from(lfu_decayed(e.clock(), now, lfu.decay_time))
        }
        Policy::VolatileTtl => u64::MAX - e.expire().unwrap_or(i64::MAX).max(0) as u64,
        _ => lru_idle(e.clock(), now),
    }
}

/// One pooled candidate: its rank and what the entry looked like when
/// ranked, so a key accessed, rewritten or re-expired since is recognised
/// as stale instead of being evicted on outdated grounds.
struct Candidate {
    score: u64,
    clock: u32,
    expire: Option<i64>,
    key: Vec<u8>,
}

/// Redis's `EvictionPoolLRU` for one DB: up to [`POOL_SIZE`] candidates in
/// increasing score order. Key buffers are recycled, so a warmed-up pool
/// allocates nothing per eviction (Redis keeps a cached sds per slot for
/// the same reason).
#[derive(Default)]
pub struct EvictionPool {
    slots: Vec<Candidate>,
    spare: Vec<Vec<u8>>,
    /// The policy the scores were computed for.
    policy: Policy,
}

impl EvictionPool {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets every candidate (policy change, FLUSHDB, SWAPDB).
    pub fn clear(&mut self) {
        for c in self.slots.drain(..) {
            self.spare.push(c.key);
        }
    }

    fn recycle(&mut self, key: Vec<u8>) {
        if self.spare.len() < POOL_SIZE + 1 {
            self.spare.push(key);
        }
    }

    /// Offers `e` with rank `score`; the worst candidate drops out when
    /// the pool is full, and a candidate worse than all of a full pool is
    /// not taken (Redis's `evictionPoolPopulate`).
    fn offer(&mut self, score: u64, e: &Entry) {
        let key = e.key();
        if let Some(i) = self.slots.iter().position(|c| c.key == key) {
            // Drawn again: re-rank it with its current state.
            let c = self.slots.remove(i);
            self.recycle(c.key);
        }
        let mut k = self.slots.partition_point(|c| c.score < score);
        if self.slots.len() == POOL_SIZE {
            if k == 0 {
                return;
            }
            let worst = self.slots.remove(0);
            self.recycle(worst.key);
            k -= 1;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(key);
        if self.slots.capacity() == 0 {
            self.slots.reserve_exact(POOL_SIZE);
        }
        self.slots.insert(
            k,
            Candidate {
                score,
                clock: e.clock(),
                expire: e.expire(),
                key: buf,
            },
        );
    }
}

/// Draws up to `samples` candidates (only keys with a TTL when
/// `volatile`) and passes each to `f`; returns how many were found.
/// `walk_seg` is where the volatile fallback walk resumes.
fn sample(
    table: &Table,
    rng: &mut SmallRng,
    walk_seg: &mut usize,
    samples: usize,
    volatile: bool,
    mut f: impl FnMut(&Entry),
) -> usize {
    let mut found = 0;
    if !volatile {
        for _ in 0..samples {
            match table.sample(rng) {
                Some(e) => f(e),
                None => break,
            }
            found += 1;
        }
        return found;
    }
    for _ in 0..samples * VOLATILE_DRAWS {
        let Some(e) = table.sample(rng) else { break };
        if e.expire().is_some() {
            f(e);
            found += 1;
            if found == samples {
                return found;
            }
        }
    }
    if found == 0 {
        *walk_seg = table.walk(*walk_seg, VOLATILE_WALK, |e| {
            if e.expire().is_some() {
                f(e);
                found += 1;
            }
            found < samples
        });
    }
    found
}

impl Db {
    /// Tells the DB which policy it runs under, so accesses keep LRU time
    /// or LFU counters in the entries' clock bits accordingly.
    pub fn set_policy(&mut self, policy: Policy) {
        if policy != self.policy {
            self.pool.clear();
        }
        self.policy = policy;
        self.lfu = policy.is_lfu();
        if self.time_hint == 0 {
            // Until the first cron tick or eviction brings the server's
            // own (possibly test-shifted) time.
            self.time_hint = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
        }
    }

    /// Sets `lfu-log-factor` and `lfu-decay-time` for this DB's accesses
    /// and LFU ranking.
    pub fn set_lfu(&mut self, params: Lfu) {
        self.lfu_params = params;
    }

    /// The LFU parameters last given to [`Db::set_lfu`].
    pub fn lfu(&self) -> Lfu {
        self.lfu_params
    }

    /// The policy last given to [`Db::set_policy`].
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Candidates currently pooled (tests, DEBUG).
    pub fn eviction_pool_len(&self) -> usize {
        self.pool.len()
    }

    /// Evicts one key chosen by `policy` among `samples` sampled candidates
    /// (keyed as Redis's eviction pool ranks them); returns the bytes freed,
    /// or `None` when the policy is `noeviction`, no key qualifies, or a
    /// CLIENT PAUSE holds eviction (Redis's `EVICT_FAIL` while paused).
    pub fn evict_one(&mut self, policy: Policy, samples: usize, now: i64) -> Option<usize> {
        self.time_hint = now;
        if policy == Policy::NoEviction || self.table.is_empty() || self.held(now) {
            return None;
        }
        let volatile = policy.is_volatile();
        if volatile && self.volatile == 0 {
            return None;
        }
        let samples = samples.max(1);
        let mut key = std::mem::take(&mut self.evict_key);
        let chosen = match policy {
            Policy::AllKeysRandom | Policy::VolatileRandom => {
                let mut first = true;
                sample(
                    &self.table,
                    &mut self.rng,
                    &mut self.evict_seg,
                    1,
                    volatile,
                    |e| {
                        if first {
                            key.clear();
                            key.extend_from_slice(e.key());
                            first = false;
                        }
                    },
                ) > 0
            }
            _ => self.pick_from_pool(policy, samples, now, &mut key),
        };
        let freed = if chosen {
            let freed = self.remove(&key).map(|e| {
                self.stats.evicted += 1;
                e.mem_usage()
            });
            if freed.is_some() {
                self.notify(super::notify::class::EVICTED, "evicted", &key);
                self.propagate(|| vec![b"DEL".to_vec(), key.clone()]);
            }
            freed
        } else {
            None
        };
        self.evict_key = key;
        freed
    }

    /// Refills the pool and takes its best still-valid candidate into
    /// `key`; false when sampling finds no candidate at all.
    fn pick_from_pool(
        &mut self,
        policy: Policy,
        samples: usize,
        now: i64,
        key: &mut Vec<u8>,
    ) -> bool {
        if self.pool.policy != policy {
            self.pool.clear();
            self.pool.policy = policy;
        }
        let volatile = policy.is_volatile();
        let lfu = self.lfu_params;
        for _ in 0..MAX_ROUNDS {
            let pool = &mut self.pool;
            let drawn = sample(
                &self.table,
                &mut self.rng,
                &mut self.evict_seg,
                samples,
                volatile,
                |e| pool.offer(score(policy, lfu, e, now), e),
            );
            while let Some(c) = self.pool.slots.pop() {
                let valid = self.table.get(&c.key).is_some_and(|e| {
                    e.clock() == c.clock
                        && e.expire() == c.expire
                        && (!volatile || e.expire().is_some())
                });
                if valid {
                    key.clear();
                    key.extend_from_slice(&c.key);
                    self.pool.recycle(c.key);
                    return true;
                }
                self.pool.recycle(c.key);
            }
            if drawn == 0 {
                return false;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::entry::NewValue;
    use rand::SeedableRng;

    /// A realistic "now": `set_policy` seeds the LFU clock hint from the
    /// wall clock, so LFU tests run on wall time.
    fn wall() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap()
    }

    fn put(db: &mut Db, k: &str, exp: Option<i64>, now: i64) {
        db.insert(Entry::new(
            k.as_bytes(),
            NewValue::Str(b"some value"),
            exp,
            lru_clock(now),
        ));
    }

    fn evict_n(db: &mut Db, p: Policy, samples: usize, n: usize, now: i64) -> Vec<String> {
        let mut before: std::collections::HashSet<Vec<u8>> =
            db.iter(i64::MIN).map(|e| e.key().to_vec()).collect();
        for _ in 0..n {
            assert!(db.evict_one(p, samples, now).is_some());
        }
        for e in db.iter(i64::MIN) {
            before.remove(e.key());
        }
        before
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect()
    }

    fn seeded() -> Db {
        let mut db = Db::new();
        db.rng = SmallRng::seed_from_u64(7);
        db
    }

    #[test]
    fn lru_evicts_mostly_the_least_recently_used() {
        let t0 = 1_700_000_000_000;
        let mut db = seeded();
        db.set_policy(Policy::AllKeysLru);
        for i in 0..2000 {
            put(&mut db, &format!("k{i}"), None, t0);
        }
        let t1 = t0 + 100_000;
        for i in (0..2000).step_by(2) {
            assert!(db.get_read(format!("k{i}").as_bytes(), t1).is_some());
        }
        let evicted = evict_n(&mut db, Policy::AllKeysLru, 10, 500, t1 + 1000);
        assert_eq!(evicted.len(), 500);
        let untouched = evicted
            .iter()
            .filter(|k| k[1..].parse::<u32>().unwrap() % 2 == 1)
            .count();
        assert!(untouched * 100 >= 90 * 500, "{untouched} of 500 untouched");
        assert_eq!(db.len(), 1500);
        assert_eq!(db.stats.evicted, 500);
        assert_eq!(db.stats.expired, 0);
        assert_eq!(db.entry_memory(), db.recount_memory());
    }

    #[test]
    fn lfu_counter_follows_redis() {
        // Minute-aligned, so +59.999 s is still the same minute.
        let now = 28_333_333 * 60_000;
        let mut rng = SmallRng::seed_from_u64(1);
        // New keys start at 5; the first hit always counts (p = 1).
        assert_eq!(lfu_decayed(lfu_new(now), now, 1), LFU_INIT_VAL);
        assert_eq!(lfu_log_incr(LFU_INIT_VAL, 10, &mut rng), 6);
        assert_eq!(lfu_log_incr(255, 10, &mut rng), 255);
        // One decrement per elapsed minute, floored at 0.
        let c = (lfu_minutes(now) << 8) | 10;
        assert_eq!(lfu_decayed(c, now + 59_999, 1), 10);
        assert_eq!(lfu_decayed(c, now + 3 * 60_000, 1), 7);
        assert_eq!(lfu_decayed(c, now + 60 * 60_000, 1), 0);
        // The 16-bit minute clock wraps (Redis's LFUTimeElapsed).
        let c = (0xFFFF << 8) | 20;
        let at = (0x1_0000 + 2) * 60_000; // minute 2 after the wrap
        assert_eq!(lfu_decayed(c, at, 1), 20 - 2);
        // Logarithmic growth: 1000 hits stay far from saturation.
        let mut k = LFU_INIT_VAL;
        for _ in 0..1000 {
            k = lfu_log_incr(k, 10, &mut rng);
        }
        assert!((10..40).contains(&k), "{k}");
    }

    #[test]
    fn lfu_parameters_as_redis() {
        let now = 28_333_333 * 60_000;
        let mut rng = SmallRng::seed_from_u64(7);
        // lfu-log-factor 0: p = 1 at every step, one per access up to 255.
        let mut k = LFU_INIT_VAL;
        for i in 1..=300u32 {
            k = lfu_log_incr(k, 0, &mut rng);
            assert_eq!(u32::from(k), (u32::from(LFU_INIT_VAL) + i).min(255));
        }
        // lfu-decay-time N: one step per N minutes; 0: never.
        let c = (lfu_minutes(now) << 8) | 100;
        assert_eq!(lfu_decayed(c, now + 10 * 60_000, 5), 98);
        assert_eq!(lfu_decayed(c, now + 9 * 60_000, 5), 99);
        assert_eq!(lfu_decayed(c, now + 60_000 * 60_000, 0), 100);
        // Through a DB: its parameters drive the access path.
        let mut db = seeded();
        db.set_policy(Policy::AllKeysLfu);
        db.set_lfu(Lfu {
            log_factor: 0,
            decay_time: 0,
        });
        put(&mut db, "a", None, now);
        for _ in 0..50 {
            db.get_read(b"a", now);
        }
        let clock = db.peek(b"a").unwrap().clock();
        assert_eq!(lfu_decayed(clock, now, 0), 55);
        // A year later, still 55 (and one more access makes 56).
        let later = now + 365 * 24 * 3_600_000;
        assert_eq!(lfu_decayed(clock, later, 0), 55);
        db.get_read(b"a", later);
        assert_eq!(lfu_decayed(db.peek(b"a").unwrap().clock(), later, 0), 56);
    }

    #[test]
    fn lfu_insert_access_and_overwrite() {
        let now = wall();
        let mut db = seeded();
        db.set_policy(Policy::AllKeysLfu);
        put(&mut db, "a", None, now);
        assert_eq!(lfu_decayed(db.peek(b"a").unwrap().clock(), now, 1), 5);
        db.get_read(b"a", now);
        assert_eq!(lfu_decayed(db.peek(b"a").unwrap().clock(), now, 1), 6);
        // Overwriting keeps the counter (Redis's dbSetValue).
        put(&mut db, "a", None, now);
        assert_eq!(lfu_decayed(db.peek(b"a").unwrap().clock(), now, 1), 6);
        // Back to LRU: accesses store the LRU time again.
        db.set_policy(Policy::AllKeysLru);
        db.get_read(b"a", now);
        assert_eq!(db.peek(b"a").unwrap().clock(), lru_clock(now));
    }

    #[test]
    fn lfu_keeps_hot_keys() {
        let now = wall();
        let mut db = seeded();
        db.set_policy(Policy::AllKeysLfu);
        for i in 0..1000 {
            put(&mut db, &format!("k{i}"), None, now);
        }
        for _ in 0..30 {
            for i in 0..100 {
                db.get_read(format!("k{i}").as_bytes(), now);
            }
        }
        let evicted = evict_n(&mut db, Policy::AllKeysLfu, 10, 500, now);
        let hot = evicted
            .iter()
            .filter(|k| k[1..].parse::<u32>().unwrap() < 100)
            .count();
        assert_eq!(hot, 0, "hot keys evicted: {hot}");
        assert_eq!(db.entry_memory(), db.recount_memory());
    }

    #[test]
    fn volatile_policies_spare_persistent_keys() {
        let now = 1_700_000_000_000;
        for p in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let mut db = seeded();
            db.set_policy(p);
            for i in 0..1000 {
                put(&mut db, &format!("p{i}"), None, now);
            }
            assert_eq!(db.evict_one(p, 5, now), None, "{p:?} without TTL keys");
            for i in 0..50 {
                put(&mut db, &format!("v{i}"), Some(now + 10_000 + i), now);
            }
            let evicted = evict_n(&mut db, p, 5, 50, now);
            assert!(evicted.iter().all(|k| k.starts_with('v')), "{p:?}");
            assert_eq!(db.volatile(), 0);
            assert_eq!(db.evict_one(p, 5, now), None, "{p:?} after the TTL keys");
            assert_eq!(db.len(), 1000);
            assert_eq!(db.entry_memory(), db.recount_memory());
        }
    }

    #[test]
    fn volatile_finds_rare_ttl_keys_by_walking() {
        let now = 1_700_000_000_000;
        let mut db = seeded();
        for i in 0..20_000 {
            put(&mut db, &format!("p{i}"), None, now);
        }
        put(&mut db, "v1", Some(now + 5), now);
        put(&mut db, "v2", Some(now + 6), now);
        let mut found = 0;
        // Each call's walk covers ~4096 entries and resumes where the last
        // one stopped, so a few calls cover the DB.
        for _ in 0..20 {
            if db.evict_one(Policy::VolatileLru, 5, now).is_some() {
                found += 1;
            }
        }
        assert_eq!(found, 2);
        assert_eq!(db.volatile(), 0);
        assert_eq!(db.len(), 20_000);
    }

    #[test]
    fn volatile_ttl_prefers_the_nearest_expiry() {
        let now = 1_700_000_000_000;
        let mut db = seeded();
        for i in 0..1000 {
            put(&mut db, &format!("k{i}"), Some(now + 1000 + i * 1000), now);
        }
        let evicted = evict_n(&mut db, Policy::VolatileTtl, 10, 100, now);
        let early = evicted
            .iter()
            .filter(|k| k[1..].parse::<i64>().unwrap() < 300)
            .count();
        assert!(early >= 90, "{early} of 100 among the 300 nearest");
    }

    #[test]
    fn a_pause_holds_eviction_and_active_expiry() {
        let mut db = Db::new();
        for i in 0..10 {
            let k = format!("k{i}");
            db.insert(Entry::new(k.as_bytes(), NewValue::Str(b"v"), Some(100), 0));
        }
        db.hold.store(10_000, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(db.evict_one(Policy::AllKeysRandom, 5, 1000), None);
        assert_eq!(
            db.active_expire(
                1000,
                &mut crate::keyspace::expire::ExpireCycle::one_check(Default::default()),
            ),
            0
        );
        assert_eq!(db.len(), 10);
        // Expired keys read as missing but stay.
        assert!(!db.exists(b"k1", 1000));
        assert!(db.get_read(b"k2", 1000).is_none());
        assert_eq!(db.len(), 10);
        // The pause over: both resume.
        assert!(db.evict_one(Policy::AllKeysRandom, 5, 20_000).is_some());
        assert!(
            db.active_expire(
                20_000,
                &mut crate::keyspace::expire::ExpireCycle::one_check(Default::default()),
            ) > 0
        );
    }

    #[test]
    fn evicting_an_expired_key_counts_as_eviction() {
        let now = 1_700_000_000_000;
        let mut db = seeded();
        put(&mut db, "gone", Some(now - 1), now);
        assert!(db.evict_one(Policy::VolatileTtl, 5, now).is_some());
        assert_eq!((db.stats.evicted, db.stats.expired), (1, 0));
    }

    #[test]
    fn random_policies_evict_and_noeviction_never_does() {
        let now = 1_700_000_000_000;
        let mut db = seeded();
        for i in 0..100 {
            put(
                &mut db,
                &format!("k{i}"),
                (i % 2 == 0).then_some(now + 5000),
                now,
            );
        }
        assert_eq!(db.evict_one(Policy::NoEviction, 5, now), None);
        assert_eq!(db.len(), 100);
        let freed = db.evict_one(Policy::AllKeysRandom, 5, now).unwrap();
        assert!(freed >= 16, "{freed}");
        let evicted = evict_n(&mut db, Policy::VolatileRandom, 5, 49, now);
        assert!(evicted
            .iter()
            .all(|k| k[1..].parse::<u32>().unwrap() % 2 == 0));
        let left = db.len();
        evict_n(&mut db, Policy::AllKeysRandom, 5, left, now);
        assert!(db.is_empty());
        assert_eq!(db.evict_one(Policy::AllKeysRandom, 5, now), None);
        assert_eq!(db.stats.evicted, 100);
        assert_eq!(db.entry_memory(), 0);
    }

    #[test]
    fn freed_bytes_match_the_accounting() {
        let now = 1_700_000_000_000;
        let mut db = seeded();
        for i in 0..300 {
            let v = vec![b'x'; i * 7];
            db.insert(Entry::new(
                format!("k{i}").as_bytes(),
                NewValue::Str(&v),
                None,
                lru_clock(now - i as i64 * 1000),
            ));
        }
        while !db.is_empty() {
            let before = db.entry_memory();
            let freed = db.evict_one(Policy::AllKeysLru, 5, now).unwrap();
            assert_eq!(before - db.entry_memory(), freed);
            assert_eq!(db.entry_memory(), db.recount_memory());
        }
    }

    #[test]
    fn stale_pool_candidates_are_skipped() {
        let now = 1_700_000_000_000;
        let mut db = seeded();
        for i in 0..16 {
            db.insert(Entry::new(
                format!("old{i}").as_bytes(),
                NewValue::Str(b"v"),
                None,
                lru_clock(now - 1_000_000 - i * 1000),
            ));
        }
        put(&mut db, "young", None, now);
        assert!(db.evict_one(Policy::AllKeysLru, 10, now).is_some());
        assert!(db.eviction_pool_len() > 0);
        // Every pooled candidate goes away or changes behind the pool's back.
        for i in 0..16 {
            let k = format!("old{i}");
            if i % 2 == 0 {
                db.remove(k.as_bytes());
            } else {
                db.get(k.as_bytes(), now);
            }
        }
        // Now each key but `young` was just touched; whatever is evicted
        // must be a live key, and no stale candidate may fail the call.
        let n = db.len();
        assert!(db.evict_one(Policy::AllKeysLru, 10, now + 5000).is_some());
        assert_eq!(db.len(), n - 1);
        assert_eq!(db.entry_memory(), db.recount_memory());
    }

    #[test]
    fn set_policy_clears_the_pool() {
        let now = 1_700_000_000_000;
        let mut db = seeded();
        for i in 0..100 {
            put(&mut db, &format!("k{i}"), None, now - i * 1000);
        }
        db.set_policy(Policy::AllKeysLru);
        db.evict_one(Policy::AllKeysLru, 10, now).unwrap();
        assert!(db.eviction_pool_len() > 0);
        db.set_policy(Policy::AllKeysLfu);
        assert_eq!(db.eviction_pool_len(), 0);
        assert_eq!(db.policy(), Policy::AllKeysLfu);
    }

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.name().as_bytes()), Some(p));
            assert_eq!(Policy::from_u8(p as u8), p);
        }
        assert_eq!(Policy::parse(b"ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::parse(b"lru"), None);
    }
}
