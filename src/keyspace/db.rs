//! One database: the table, lazy and active expiry, memory accounting, stats.
//!
//! Every mutation goes through `insert`/`remove`/`modify` so that `volatile`
//! (keys with a TTL) and `mem` (bytes owned by entries) stay exact without
//! ever recounting.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::entry::Entry;
use super::table::Table;
use crate::clock::lru_clock;

#[derive(Debug, Default, Clone, Copy)]
pub struct DbStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

pub struct Db {
    table: Table,
    volatile: usize,
    mem: usize,
    pub stats: DbStats,
    /// Next segment the active expiry cycle visits.
    expire_seg: usize,
    pub rng: SmallRng,
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
            rng: SmallRng::from_entropy(),
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
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

    /// Drops `key` if it has expired; true when it did.
    fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        if self.volatile == 0 {
            return false;
        }
        match self.table.get(key) {
            Some(e) if is_expired(e, now) => {
                self.remove(key);
                self.stats.expired += 1;
                true
            }
            _ => false,
        }
    }

    /// Looks a key up for reading: expires it lazily, counts a hit or miss,
    /// refreshes its LRU clock.
    pub fn get_read(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.expire_if_needed(key, now);
        match self.table.get_mut(key) {
            Some(e) => {
                self.stats.hits += 1;
                e.set_clock(lru_clock(now));
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Looks a key up for a command that will modify it (no hit/miss count).
    /// Callers that change the entry's size or TTL must use [`Db::modify`].
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.expire_if_needed(key, now);
        let e = self.table.get_mut(key)?;
        e.set_clock(lru_clock(now));
        Some(e)
    }

    /// Whether the key exists (and has not expired), without touching it.
    pub fn exists(&mut self, key: &[u8], now: i64) -> bool {
        self.expire_if_needed(key, now);
        self.table.get(key).is_some()
    }

    /// Looks a key up without side effects (no expiry, no LRU touch).
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.table.get(key)
    }

    /// Inserts or replaces an entry; returns the entry it replaced.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        self.mem += entry.mem_usage();
        if entry.expire().is_some() {
            self.volatile += 1;
        }
        let old = self.table.insert(entry);
        if let Some(o) = &old {
            self.forget(o);
        }
        old
    }

    fn forget(&mut self, e: &Entry) {
        self.mem -= e.mem_usage();
        if e.expire().is_some() {
            self.volatile -= 1;
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.table.remove(key)?;
        self.forget(&e);
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
        self.expire_if_needed(key, now);
        let e = self.table.get_mut(key)?;
        let before = e.mem_usage();
        let had_ttl = e.expire().is_some();
        e.set_clock(lru_clock(now));
        let r = f(e);
        let after = e.mem_usage();
        let has_ttl = e.expire().is_some();
        self.mem = self.mem + after - before;
        match (had_ttl, has_ttl) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        Some(r)
    }

    /// Removes every key; returns the old table so a caller can free it
    /// off the hot path (FLUSHDB ASYNC).
    pub fn flush(&mut self) -> Table {
        self.volatile = 0;
        self.mem = 0;
        self.expire_seg = 0;
        let mut t = Table::new();
        std::mem::swap(&mut t, &mut self.table);
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

    /// The active expiry cycle's step: visits segments in turn until about
    /// `budget` entries were examined; returns how many keys it expired.
    pub fn active_expire(&mut self, now: i64, budget: usize) -> usize {
        if self.volatile == 0 {
            return 0;
        }
        let segs = self.table.segment_count();
        let mut examined = 0;
        let mut removed_total = 0;
        for _ in 0..segs {
            let seg = self.expire_seg % segs;
            self.expire_seg = (seg + 1) % segs;
            let mut seen = 0;
            let removed = self.table.retain_segment(seg, |e| {
                seen += 1;
                !is_expired(e, now)
            });
            examined += seen;
            for e in &removed {
                self.forget(e);
            }
            removed_total += removed.len();
            if examined >= budget || self.volatile == 0 {
                break;
            }
        }
        self.stats.expired += removed_total as u64;
        removed_total
    }
}

/// Lookups and whole-DB operations used by the generic (keyspace) group.
impl Db {
    /// A read lookup that counts a hit or miss but leaves the LRU clock
    /// alone, as Redis's `LOOKUP_NOTOUCH` does for EXISTS, TYPE, TTL and OBJECT.
    pub fn get_read_notouch(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.expire_if_needed(key, now);
        match self.table.get(key) {
            Some(e) => {
                self.stats.hits += 1;
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Exchanges the keys of two DBs (SWAPDB). Only the data moves: stats
    /// and anything tied to the DB index stay where they are, as in Redis,
    /// where clients and settings belong to the index, not the dict.
    pub fn swap_contents(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.volatile, &mut other.volatile);
        std::mem::swap(&mut self.mem, &mut other.mem);
        std::mem::swap(&mut self.expire_seg, &mut other.expire_seg);
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
            n += db.active_expire(200, 1000);
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
