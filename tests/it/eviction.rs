//! Eviction engine through the real server: OBJECT FREQ / OBJECT IDLETIME
//! under LRU and LFU policies (set per DB, as the tenancy config path will),
//! the LFU counter's life (new keys, hits, overwrites, decay), evictions
//! seen by clients (DBSIZE, INFO evicted_keys, broken WATCH), and the
//! error texts against redis-server.

use std::sync::atomic::Ordering;
use std::time::Duration;

use keyward::keyspace::evict::Policy;

use crate::support::{self, start, Oracle, Raw, TestServer};

/// Sets DB 0's policy both where the entries see it (`Db::set_policy`)
/// and where the commands read it (the tenancy atomic).
fn set_policy(s: &TestServer, p: Policy) {
    s.handle.shared().keyspace.lock(0).set_policy(p);
    s.handle
        .shared()
        .tenancy
        .db(0)
        .policy
        .store(p as u8, Ordering::Relaxed);
}

async fn call(raw: &mut Raw, line: &str) -> Vec<u8> {
    raw.call_str(line).await
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FREQ_ERR: &[u8] = b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";
const IDLE_ERR: &[u8] = b"-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";

#[tokio::test]
async fn object_freq_and_idletime_follow_the_db_policy() {
    let s = start().await;
    let mut raw = s.raw().await;
    call(&mut raw, "SET k v").await;
    // Default noeviction: LRU bookkeeping.
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, FREQ_ERR);
    assert_eq!(call(&mut raw, "OBJECT IDLETIME k").await, b":0\r\n");
    assert_eq!(call(&mut raw, "OBJECT FREQ nokey").await, b"$-1\r\n");

    set_policy(&s, Policy::AllKeysLfu);
    assert_eq!(call(&mut raw, "OBJECT IDLETIME k").await, IDLE_ERR);
    assert_eq!(call(&mut raw, "OBJECT IDLETIME nokey").await, b"$-1\r\n");
    // New keys start at LFU_INIT_VAL; the first hit always counts.
    call(&mut raw, "SET f v").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ f").await, b":5\r\n");
    call(&mut raw, "GET f").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ f").await, b":6\r\n");
    // OBJECT itself does not count as an access.
    assert_eq!(call(&mut raw, "OBJECT FREQ f").await, b":6\r\n");
    // An overwrite keeps the counter (Redis's dbSetValue).
    call(&mut raw, "SET f other").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ f").await, b":6\r\n");
    // A collection created by its first write is accessed once, not twice.
    call(&mut raw, "RPUSH l a").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ l").await, b":5\r\n");
    call(&mut raw, "RPUSH l b").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ l").await, b":6\r\n");
    // One decrement per idle minute.
    s.handle.advance_clock(Duration::from_secs(180));
    assert_eq!(call(&mut raw, "OBJECT FREQ f").await, b":3\r\n");
    s.handle.advance_clock(Duration::from_secs(3600));
    assert_eq!(call(&mut raw, "OBJECT FREQ f").await, b":0\r\n");

    // volatile-lfu is an LFU policy too.
    set_policy(&s, Policy::VolatileLfu);
    assert_eq!(call(&mut raw, "OBJECT IDLETIME f").await, IDLE_ERR);
    assert!(call(&mut raw, "OBJECT FREQ f").await.starts_with(b":"));

    // Back to LRU: accesses store the LRU time again.
    set_policy(&s, Policy::VolatileTtl);
    assert_eq!(call(&mut raw, "OBJECT FREQ f").await, FREQ_ERR);
    call(&mut raw, "GET f").await;
    s.handle.advance_clock(Duration::from_secs(7));
    assert_eq!(call(&mut raw, "OBJECT IDLETIME f").await, b":7\r\n");
}

/// `lfu-log-factor` and `lfu-decay-time` through CONFIG SET, as Redis:
/// factor 0 counts every access; decay-time 0 never decays, N takes one
/// step per N minutes. The clock is the server's test clock: no sleeps.
#[tokio::test]
async fn lfu_parameters_drive_the_counter() {
    let s = start().await;
    let mut raw = s.raw().await;
    assert_eq!(
        text(&call(&mut raw, "CONFIG GET lfu-*").await),
        "*4\r\n$14\r\nlfu-log-factor\r\n$2\r\n10\r\n$14\r\nlfu-decay-time\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        call(&mut raw, "CONFIG SET lfu-log-factor 0 lfu-decay-time 0").await,
        b"+OK\r\n"
    );
    set_policy(&s, Policy::AllKeysLfu);
    call(&mut raw, "SET k v").await;
    for _ in 0..100 {
        call(&mut raw, "GET k").await;
    }
    // 5 + 100, where the default factor would have stopped near 20.
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, b":105\r\n");
    for _ in 0..200 {
        call(&mut raw, "GET k").await;
    }
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, b":255\r\n");
    s.handle.advance_clock(Duration::from_secs(24 * 3600));
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, b":255\r\n");
    // Decay every 10 minutes: the day without decay now counts 144
    // steps, and 25 more minutes two more.
    call(&mut raw, "CONFIG SET lfu-decay-time 10").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, b":111\r\n");
    s.handle.advance_clock(Duration::from_secs(25 * 60));
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, b":109\r\n");
    // Redis's bounds.
    assert!(text(&call(&mut raw, "CONFIG SET lfu-log-factor -1").await).starts_with("-ERR"));
    assert!(text(&call(&mut raw, "CONFIG SET lfu-decay-time x").await).starts_with("-ERR"));
}

#[tokio::test]
async fn the_policy_is_per_db() {
    let s = start().await;
    set_policy(&s, Policy::AllKeysLfu);
    let mut raw = s.raw().await;
    call(&mut raw, "SELECT 1").await;
    call(&mut raw, "SET k v").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, FREQ_ERR);
    assert_eq!(call(&mut raw, "OBJECT IDLETIME k").await, b":0\r\n");
    call(&mut raw, "SELECT 0").await;
    call(&mut raw, "SET k v").await;
    assert_eq!(call(&mut raw, "OBJECT FREQ k").await, b":5\r\n");
}

#[tokio::test]
async fn evictions_are_visible_to_clients() {
    let s = start().await;
    set_policy(&s, Policy::AllKeysLru);
    let mut c = s.client().await;
    for i in 0..500 {
        let _: () = redis::cmd("SET")
            .arg(format!("old{i}"))
            .arg("x".repeat(40))
            .query_async(&mut c)
            .await
            .unwrap();
    }
    s.handle.advance_clock(Duration::from_secs(60));
    let _: () = redis::cmd("SET")
        .arg("fresh")
        .arg("y")
        .query_async(&mut c)
        .await
        .unwrap();

    // A transaction watching a key that gets evicted must fail.
    let mut raw = s.raw().await;
    let now = s.handle.shared().clock.now_ms();
    let evicted = {
        let mut db = s.handle.shared().keyspace.lock(0);
        let mut victims = Vec::new();
        for _ in 0..100 {
            assert!(db.evict_one(Policy::AllKeysLru, 5, now).is_some());
        }
        for i in 0..500 {
            let k = format!("old{i}");
            if db.peek(k.as_bytes()).is_none() {
                victims.push(k);
            }
        }
        assert_eq!(db.entry_memory(), db.recount_memory());
        victims
    };
    assert_eq!(evicted.len(), 100, "only the idle keys are evicted");
    let fresh: Option<String> = redis::cmd("GET")
        .arg("fresh")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(fresh.as_deref(), Some("y"));
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(size, 401);
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(info.contains("evicted_keys:100\r\n"), "{info}");
    assert!(info.contains("expired_keys:0\r\n"), "{info}");

    let target = (0..500)
        .map(|i| format!("old{i}"))
        .find(|k| !evicted.contains(k))
        .unwrap();
    call(&mut raw, &format!("WATCH {target}")).await;
    {
        let now = s.handle.shared().clock.now_ms();
        let mut db = s.handle.shared().keyspace.lock(0);
        while db.peek(target.as_bytes()).is_some() {
            assert!(db.evict_one(Policy::AllKeysRandom, 5, now).is_some());
        }
    }
    call(&mut raw, "MULTI").await;
    call(&mut raw, "SET x 1").await;
    assert_eq!(call(&mut raw, "EXEC").await, b"*-1\r\n");

    // noeviction and volatile-* without TTL keys evict nothing.
    let mut db = s.handle.shared().keyspace.lock(0);
    let n = db.len();
    assert_eq!(db.evict_one(Policy::NoEviction, 5, now), None);
    assert_eq!(db.evict_one(Policy::VolatileLru, 5, now), None);
    assert_eq!(db.len(), n);
}

/// OBJECT FREQ / IDLETIME against redis-server with the same policy on
/// both sides: error texts byte for byte, counters of fresh keys.
#[tokio::test]
async fn object_freq_differential_under_both_policies() {
    // Default policy on both: the FREQ error, IDLETIME 0, nulls.
    support::diff_lines(&[
        "SET k v",
        "OBJECT FREQ k",
        "OBJECT FREQ nokey",
        "OBJECT IDLETIME k",
        "OBJECT IDLETIME nokey",
        "OBJECT FREQ",
        "OBJECT FREQ k extra",
        "RPUSH l a",
        "OBJECT FREQ l",
    ])
    .await;

    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let s = start().await;
    let mut ours = s.raw().await;
    let mut theirs = oracle.raw().await;
    let script = [
        "SET k v",
        "OBJECT FREQ k",
        "GET k",
        "OBJECT FREQ k",
        // No further access of k: past 6 the counter grows with probability
        // 1/11 per access (LFULogIncr) in both servers, so FREQ would differ
        // at random.
        "OBJECT IDLETIME k",
        "OBJECT IDLETIME nokey",
        "OBJECT FREQ nokey",
        "RPUSH l a",
        "OBJECT FREQ l",
        "HSET h f v",
        "OBJECT FREQ h",
        "SADD s m",
        "OBJECT FREQ s",
        "ZADD z 1 m",
        "OBJECT FREQ z",
    ];
    for policy in [Policy::AllKeysLfu, Policy::VolatileLfu] {
        theirs
            .call_str(&format!("CONFIG SET maxmemory-policy {}", policy.name()))
            .await;
        set_policy(&s, policy);
        theirs.call_str("FLUSHALL").await;
        ours.call_str("FLUSHALL").await;
        for line in script {
            let (a, b) = (ours.call_str(line).await, theirs.call_str(line).await);
            assert_eq!(text(&a), text(&b), "{line} under {}", policy.name());
        }
    }
    // And back: FREQ refused again, with the same text.
    theirs
        .call_str("CONFIG SET maxmemory-policy allkeys-lru")
        .await;
    set_policy(&s, Policy::AllKeysLru);
    for line in [
        "OBJECT FREQ k",
        "OBJECT FREQ nokey",
        "OBJECT IDLETIME nokey",
    ] {
        let (a, b) = (ours.call_str(line).await, theirs.call_str(line).await);
        assert_eq!(text(&a), text(&b), "{line} after switching back");
    }
}
