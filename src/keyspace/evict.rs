//! Eviction within one DB: Redis's sampled approximations of LRU, LFU,
//! random and TTL order (`maxmemory-policy`, `maxmemory-samples`).
//!
//! Each DB has its own policy (DESIGN.md, "Tenancy model"): the quota gate
//! in dispatch calls [`Db::evict_one`] on the DB that is over its limit, and
//! no other DB is ever touched for it.

use super::Db;

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

impl Db {
    /// Tells the DB which policy it runs under, so accesses keep LRU time
    /// or LFU counters in the entries' clock bits accordingly.
    pub fn set_policy(&mut self, policy: Policy) {
        // Placeholder until the sampling engine lands (eviction helper).
        let _ = policy;
    }

    /// Evicts one key chosen by `policy` among `samples` sampled candidates
    /// (keyed as Redis's eviction pool ranks them); returns the bytes freed,
    /// or `None` when the policy is `noeviction` or no key qualifies.
    pub fn evict_one(&mut self, policy: Policy, samples: usize, now: i64) -> Option<usize> {
        // Placeholder until the sampling engine lands (eviction helper).
        let _ = (policy, samples, now);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
