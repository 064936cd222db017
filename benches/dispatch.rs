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

/// A stream work queue as consumer groups use it: XADD a job, XREADGROUP
/// it (`>`, COUNT 1), XACK it, with 100k older entries pending in the
/// group (a backlog of unacknowledged jobs), so the PEL operations work on
/// a large PEL. Ids are explicit so every iteration does the same work.
fn streams(c: &mut Criterion) {
    let mut h = Harness::new(Config::default());
    h.call(&[b"XGROUP", b"CREATE", b"jobs", b"g", b"$", b"MKSTREAM"]);
    const BACKLOG: u64 = 100_000;
    for i in 1..=BACKLOG {
        let id = format!("{i}-0");
        h.call(&[b"XADD", b"jobs", id.as_bytes(), b"job", b"payload"]);
    }
    h.call(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"backlog",
        b"STREAMS",
        b"jobs",
        b">",
    ]);
    let mut g = c.benchmark_group("streams");
    let mut i = BACKLOG;
    g.bench_function("xadd_xreadgroup_xack_pel100k", |b| {
        b.iter(|| {
            i += 1;
            let id = format!("{i}-0");
            h.call(&[b"XADD", b"jobs", id.as_bytes(), b"job", b"payload"]);
            h.call(&[
                b"XREADGROUP",
                b"GROUP",
                b"g",
                b"worker",
                b"COUNT",
                b"1",
                b"STREAMS",
                b"jobs",
                b">",
            ]);
            black_box(h.call(&[b"XACK", b"jobs", b"g", id.as_bytes()]).len())
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

/// The Redis 7.2 families of issue 12 as benches/families.sh runs them
/// (bitmaps, HyperLogLog, geo), for callgrind instruction counts per
/// dispatch: wall clock is for families.sh on a quiet machine.
fn families(c: &mut Criterion) {
    let mut h = Harness::new(Config::default());
    let keys: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("k:{i:012}").into_bytes())
        .collect();
    let members: Vec<Vec<u8>> = (0..10_000).map(|i| format!("{i}").into_bytes()).collect();
    h.call(&[b"SETBIT", b"bitmap", b"8388607", b"1"]);
    for m in &members {
        h.call(&[b"PFADD", b"hll", m]);
        let lon = format!("13.36{}", m.len() * 7 + 1);
        h.call(&[b"GEOADD", b"geo", lon.as_bytes(), b"38.115556", m]);
    }
    let mut g = c.benchmark_group("families");
    let mut i = 0usize;
    let mut flip = false;
    // One bit flipped in place on 512-byte bitmaps (families.sh's
    // SETBIT line once its keys exist).
    g.bench_function("setbit", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            if i == 0 {
                flip = !flip;
            }
            let v: &[u8] = if flip { b"0" } else { b"1" };
            black_box(h.call(&[b"SETBIT", &keys[i], b"4095", v]).len())
        })
    });
    // A bitmap grown a byte at a time to 64 KiB, then started again: what
    // Redis's greedy sdsMakeRoomFor makes amortised O(1) per SETBIT.
    let mut bit = 0u64;
    g.bench_function("setbit_grow", |b| {
        b.iter(|| {
            bit += 8;
            if bit >= 8 * 65_536 {
                bit = 0;
                h.call(&[b"DEL", b"grow"]);
            }
            let off = bit.to_string();
            black_box(h.call(&[b"SETBIT", b"grow", off.as_bytes(), b"1"]).len())
        })
    });
    g.bench_function("getbit", |b| {
        b.iter(|| black_box(h.call(&[b"GETBIT", b"bitmap", b"4194303"]).len()))
    });
    g.bench_function("bitcount", |b| {
        b.iter(|| black_box(h.call(&[b"BITCOUNT", b"bitmap", b"0", b"4095"]).len()))
    });
    g.bench_function("pfadd", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(
                h.call(&[b"PFADD", &keys[i], b"a", b"b", b"c", &members[i]])
                    .len(),
            )
        })
    });
    g.bench_function("pfcount", |b| {
        b.iter(|| black_box(h.call(&[b"PFCOUNT", b"hll"]).len()))
    });
    g.bench_function("geoadd", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(
                h.call(&[b"GEOADD", &keys[i], b"13.361389", b"38.115556", &members[i]])
                    .len(),
            )
        })
    });
    g.bench_function("geosearch", |b| {
        b.iter(|| {
            black_box(
                h.call(&[
                    b"GEOSEARCH",
                    b"geo",
                    b"FROMLONLAT",
                    b"13.36",
                    b"38.11",
                    b"BYRADIUS",
                    b"50",
                    b"km",
                    b"ASC",
                    b"COUNT",
                    b"10",
                ])
                .len(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, strings, collections, streams, tenancy, families);
criterion_main!(benches);
