//! Tests: `client-output-buffer-limit` for the normal and pubsub classes
//! (clients that stop reading), INFO's disconnection count, CLIENT LIST's
//! omem, and the setting's replies next to redis-server's.

use std::time::Duration;

use crate::support::{self, start, Raw};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// INFO stats' `client_output_buffer_limit_disconnections`.
async fn disconnections(c: &mut Raw) -> u64 {
    let info = text(&c.call(&[b"INFO", b"stats"]).await);
    info.lines()
        .find_map(|l| l.strip_prefix("client_output_buffer_limit_disconnections:"))
        .expect("field present")
        .trim()
        .parse()
        .expect("a number")
}

async fn set_limit(c: &mut Raw, v: &str) {
    let r = c
        .call(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            v.as_bytes(),
        ])
        .await;
    assert_eq!(text(&r), "+OK\r\n", "{v}");
}

/// A client that pipelines GETs of a large value and never reads is closed
/// once its replies reach the normal class's hard limit; the server and its
/// other clients go on.
#[tokio::test]
async fn pipelined_big_replies_hit_the_normal_hard_limit() {
    let s = start().await;
    let mut admin = s.raw().await;
    set_limit(&mut admin, "normal 1mb 0 0").await;
    let big = vec![b'v'; 64 * 1024];
    assert_eq!(admin.call(&[b"SET", b"big", &big]).await, b"+OK\r\n");
    let mut greedy = s.raw().await;
    let mut pipeline = Vec::new();
    for _ in 0..2000 {
        pipeline.extend_from_slice(&support::encode(&[b"GET", b"big"]));
    }
    greedy.send(&pipeline).await;
    assert!(greedy.closed().await, "closed over the hard limit");
    assert_eq!(disconnections(&mut admin).await, 1);
    assert_eq!(admin.call(&[b"PING"]).await, b"+PONG\r\n");
    let mut other = s.raw().await;
    let got = other.call(&[b"GET", b"big"]).await;
    assert_eq!(support::bulk_payload(&got).expect("bulk"), big);
    // Under the limit nothing happens: a reading client gets every reply.
    let mut ok = s.raw().await;
    let mut pipeline = Vec::new();
    for _ in 0..10 {
        pipeline.extend_from_slice(&support::encode(&[b"GET", b"big"]));
    }
    ok.send(&pipeline).await;
    for _ in 0..10 {
        assert_eq!(ok.reply().await.len(), big.len() + 10);
    }
    // Back to Redis's default (no limit for normal clients).
    set_limit(&mut admin, "normal 0 0 0").await;
    let mut pipeline = Vec::new();
    for _ in 0..40 {
        pipeline.extend_from_slice(&support::encode(&[b"GET", b"big"]));
    }
    let mut unlimited = s.raw().await;
    unlimited.send(&pipeline).await;
    for _ in 0..40 {
        assert_eq!(unlimited.reply().await.len(), big.len() + 10);
    }
    assert_eq!(disconnections(&mut admin).await, 1);
}

/// A subscriber that never reads: its queued messages show in CLIENT
/// LIST's omem, and the pubsub class's hard limit (as CONFIG SET made it)
/// closes it; publishers and other clients are unaffected.
#[tokio::test]
async fn slow_subscriber_hits_the_configured_pubsub_limit() {
    let s = start().await;
    let mut admin = s.raw().await;
    let mut sub = s.raw().await;
    sub.call(&[b"CLIENT", b"SETNAME", b"slowsub"]).await;
    sub.call(&[b"SUBSCRIBE", b"flood"]).await;
    let mut p = s.raw().await;
    let payload = vec![b'x'; 256 * 1024];
    // Under the default 32mb limit: publish until messages queue up.
    let mut omem = 0u64;
    for _ in 0..100 {
        assert_eq!(p.call(&[b"PUBLISH", b"flood", &payload]).await, b":1\r\n");
        let list = text(&admin.call(&[b"CLIENT", b"LIST"]).await);
        let line = list
            .lines()
            .find(|l| l.contains("name=slowsub"))
            .expect("listed");
        omem = line
            .split(' ')
            .find_map(|f| f.strip_prefix("omem="))
            .expect("omem")
            .parse()
            .expect("number");
        if omem > 0 {
            break;
        }
    }
    assert!(omem > 0, "queued output shows in omem");
    set_limit(&mut admin, "pubsub 2mb 1mb 60").await;
    let mut dropped = false;
    for _ in 0..100 {
        if p.call(&[b"PUBLISH", b"flood", &payload]).await == b":0\r\n" {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the subscriber was closed");
    assert_eq!(disconnections(&mut admin).await, 1);
    assert_eq!(p.call(&[b"PING"]).await, b"+PONG\r\n");
}

/// The pubsub soft limit: over it for more than its seconds closes the
/// subscriber (waited for, not timed).
#[tokio::test]
async fn slow_subscriber_over_the_soft_limit_long_enough_is_closed() {
    let s = start().await;
    let mut admin = s.raw().await;
    set_limit(&mut admin, "pubsub 0 64kb 1").await;
    let mut sub = s.raw().await;
    sub.call(&[b"SUBSCRIBE", b"slow"]).await;
    let mut p = s.raw().await;
    let payload = vec![b'y'; 64 * 1024];
    let mut dropped = false;
    // Each publish adds to what the subscriber has not read; the soft
    // clock runs from the first time it is over 64kb.
    for _ in 0..1500 {
        if p.call(&[b"PUBLISH", b"slow", &payload]).await == b":0\r\n" {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dropped, "closed after the soft limit's seconds");
    assert_eq!(disconnections(&mut admin).await, 1);
}

/// CONFIG SET/GET of the setting as redis-server answers them (the
/// replica class aside: keyward keeps its default).
#[tokio::test]
async fn diff_client_output_buffer_limit_values() {
    let cmds: Vec<Vec<Vec<u8>>> = [
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 512kb 10",
        ][..],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 64mb 16mb 120 normal 0 0 0",
        ],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 512kb",
        ],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "bogus 1mb 512kb 1",
        ],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal x 512kb 1",
        ],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 256mb 64mb 60",
        ],
        &["CONFIG", "GET", "client-output-buffer-limit"],
    ]
    .iter()
    .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
    .collect();
    support::diff_args(&cmds).await;
    // keyward refuses what would limit replicas it does not have.
    let s = start().await;
    let mut c = s.raw().await;
    let r = text(
        &c.call(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"replica 1mb 1mb 1",
        ])
        .await,
    );
    assert!(r.starts_with("-ERR CONFIG SET failed"), "{r}");
}

/// INFO stats' `evicted_clients`.
async fn evicted(c: &mut Raw) -> u64 {
    let info = text(&c.call(&[b"INFO", b"stats"]).await);
    info.lines()
        .find_map(|l| l.strip_prefix("evicted_clients:"))
        .expect("field present")
        .trim()
        .parse()
        .expect("a number")
}

/// `maxmemory-clients`: once the clients' memory (output waiting for slow
/// subscribers) reaches it, the biggest evictable client is closed; CLIENT
/// NO-EVICT clients stay.
#[tokio::test]
async fn maxmemory_clients_evicts_the_biggest_evictable_client() {
    let s = start().await;
    let mut admin = s.raw().await;
    let mut p = s.raw().await;
    let mut keep = s.raw().await;
    let mut evictable = s.raw().await;
    for c in [&mut admin, &mut p, &mut keep] {
        assert_eq!(c.call(&[b"CLIENT", b"NO-EVICT", b"on"]).await, b"+OK\r\n");
    }
    keep.call(&[b"SUBSCRIBE", b"ch"]).await;
    evictable.call(&[b"SUBSCRIBE", b"ch"]).await;
    let r = admin
        .call(&[b"CONFIG", b"SET", b"maxmemory-clients", b"2mb"])
        .await;
    assert_eq!(text(&r), "+OK\r\n");
    // Neither subscriber reads: their queued output grows until the total
    // passes 2mb, and the next cron tick evicts the one that may go.
    let payload = vec![b'z'; 128 * 1024];
    let mut gone = false;
    for _ in 0..1000 {
        if p.call(&[b"PUBLISH", b"ch", &payload]).await == b":1\r\n" {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the evictable subscriber was closed");
    assert_eq!(evicted(&mut admin).await, 1);
    assert!(evictable.closed().await);
    let list = text(&admin.call(&[b"CLIENT", b"LIST"]).await);
    assert_eq!(list.matches("id=").count(), 3, "{list}");
    assert_eq!(p.call(&[b"PING"]).await, b"+PONG\r\n");
    // Settings read back as Redis's.
    for (set, get) in [("50%", "50%"), ("0%", "0"), ("1mb", "1048576"), ("0", "0")] {
        let r = admin
            .call(&[b"CONFIG", b"SET", b"maxmemory-clients", set.as_bytes()])
            .await;
        assert_eq!(text(&r), "+OK\r\n");
        let r = text(&admin.call(&[b"CONFIG", b"GET", b"maxmemory-clients"]).await);
        assert!(r.ends_with(&format!("{get}\r\n")), "{set}: {r}");
    }
}

#[tokio::test]
async fn diff_maxmemory_clients_values() {
    support::diff_lines(&[
        "CONFIG SET maxmemory-clients 50%",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 200%",
        "CONFIG SET maxmemory-clients -1",
        "CONFIG SET maxmemory-clients 10",
        "CONFIG GET maxmemory-clients",
        "CONFIG SET maxmemory-clients 0",
    ])
    .await;
}
