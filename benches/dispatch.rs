//! Dispatch end to end without sockets (lookup, gates, handler, reply
//! encoding) through `server::harness`, and each collection type's hot
//! operations as the compare.sh mission mix uses them, and the cost of
//! per-DB quotas (`tenancy` group).
//!
//! `cargo bench --bench dispatch`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use keyward::config::{DbConfig, UserConfig};
use keyward::keyspace::evict::Policy;
use keyward::server::harness::Harness;
use keyward::Config;

fn strings(c: &mut Criterion) {
    let mut h = Harness::new(Config::default());
    let keys: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    for k in &keys {
        h.call(&[b"SET", k, b"xxx"]);
    }
    let mut g = c.benchmark_group("dispatch");
    let mut i = 0usize;
    g.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(h.call(&[b"GET", &keys[i]]).len())
        })
    });
    g.bench_function("set", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(h.call(&[b"SET", &keys[i], b"xxx"]).len())
        })
    });
    let counters: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("counter:{i:09}").into_bytes())
        .collect();
    g.bench_function("incr", |b| {
        b.iter(|| {
            i = (i + 1) % counters.len();
            black_box(h.call(&[b"INCR", &counters[i]]).len())
        })
    });
    g.bench_function("set_pipeline_16", |b| {
        b.iter(|| {
            i = (i + 16) % (keys.len() - 16);
            let batch: Vec<Vec<&[u8]>> = (0..16)
                .map(|j| vec![&b"SET"[..], &keys[i + j], &b"xxx"[..]])
                .collect();
            black_box(h.batch(&batch).len())
        })
    });
    g.bench_function("incr_expire_ratelimit", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            h.call(&[b"INCR", &keys[i]]);
            black_box(h.call(&[b"EXPIRE", &keys[i], b"60"]).len())
        })
    });
    g.finish();
}

/// The collection types' hot operations, as the compare.sh mission mix and
/// BullMQ use them.
fn collections(c: &mut Criterion) {
    let mut h = Harness::new(Config::default());
    let keys: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("k:{i:09}").into_bytes())
        .collect();
    let job = br#"job:{"id":"123","type":"email","attempt":1,"payload":"x"}"#;
    let mut g = c.benchmark_group("types");
    let mut i = 0usize;
    g.bench_function("hset_3_fields", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(
                h.call(&[
                    b"HSET",
                    &keys[i],
                    b"user",
                    b"u1",
                    b"role",
                    b"member",
                    b"ts",
                    b"1700000000",
                ])
                .len(),
            )
        })
    });
    g.bench_function("hgetall_3_fields", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(h.call(&[b"HGETALL", &keys[i]]).len())
        })
    });
    g.bench_function("lpush_rpop", |b| {
        b.iter(|| {
            h.call(&[b"LPUSH", b"queue", job]);
            black_box(h.call(&[b"RPOP", b"queue"]).len())
        })
    });
    for i in 0..10_000u64 {
        let score = (7_000_000_000_000_000u64 + i * 13).to_string();
        h.call(&[b"ZADD", b"delayed", score.as_bytes(), &keys[i as usize]]);
    }
    g.bench_function("zadd_10k", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(
                h.call(&[b"ZADD", b"delayed", b"7000000000000001", &keys[i]])
                    .len(),
            )
        })
    });
    g.bench_function("zrangebyscore_limit_10", |b| {
        b.iter(|| {
            black_box(
                h.call(&[
                    b"ZRANGEBYSCORE",
                    b"delayed",
                    b"0",
                    b"7000000000050000",
                    b"LIMIT",
                    b"0",
                    b"10",
                ])
                .len(),
            )
        })
    });
    for k in keys.iter().take(1000) {
        h.call(&[b"SADD", b"members", k]);
    }
    g.bench_function("sadd_sismember", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            h.call(&[b"SADD", b"members", &keys[i]]);
            black_box(h.call(&[b"SISMEMBER", b"members", &keys[i]]).len())
        })
    });
    g.finish();
}

/// GET/SET as the default user in a DB without limits (the quota gate is
/// one load and a branch), as a DB-pinned user with key patterns, and as
/// that user in a DB with every quota configured, none close to
/// triggering: what ACL key checks, then memory, max-keys and ops-rate
/// accounting cost.
fn tenancy(c: &mut Criterion) {
    let mut config = Config {
        maxmemory: 1 << 40,
        ..Config::default()
    };
    let mut db = DbConfig::new(2);
    db.maxmemory = 1 << 34;
    db.maxmemory_policy = Some(Policy::AllKeysLru);
    db.max_keys = 1 << 40;
    db.max_ops_per_sec = 1_000_000_000;
    db.max_clients = 1000;
    config.dbs.push(db);
    config.users.push(UserConfig {
        name: "tenant".into(),
        password_env: None,
        rules: "on >pw db=2 ~key:* +@all".into(),
        words: None,
        password: Some("pw".into()),
    });
    let keys: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    // No [[db]] tables and no global maxmemory: the gate's no-limit path.
    let mut plain = Harness::new(Config::default());
    // The same user without quotas: separates ACL key checks from quotas.
    let mut acl_only = Harness::new(Config {
        users: config.users.clone(),
        ..Config::default()
    });
    let mut pinned = Harness::new(config);
    for h in [&mut acl_only, &mut pinned] {
        assert_eq!(h.call(&[b"AUTH", b"tenant", b"pw"]), b"+OK\r\n");
    }
    for k in &keys {
        for h in [&mut plain, &mut acl_only, &mut pinned] {
            h.call(&[b"SET", k, b"xxx"]);
        }
    }
    let mut g = c.benchmark_group("tenancy");
    let mut i = 0usize;
    for (name, h) in [
        ("default", &mut plain),
        ("pinned", &mut acl_only),
        ("pinned_quotas", &mut pinned),
    ] {
        g.bench_function(format!("get_{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(h.call(&[b"GET", &keys[i]]).len())
            })
        });
        g.bench_function(format!("set_{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(h.call(&[b"SET", &keys[i], b"xxx"]).len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, strings, collections, tenancy);
criterion_main!(benches);
