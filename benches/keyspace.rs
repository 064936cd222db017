//! Keyspace hot paths: GET/SET on a 100k-key database, command lookup,
//! SCAN steps over the segmented table, eviction on a 1M-key database, and
//! the snapshot engine (walk cost per key, a write's pre-image cost).
//!
//! `cargo bench --bench keyspace`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use keyward::commands::REGISTRY;
use keyward::keyspace::evict::Policy;
use keyward::keyspace::snapshot::{Chunk, Encoder, Snapshot};
use keyward::keyspace::table::Table;
use keyward::keyspace::{Db, Entry, Keyspace, NewValue, ValueRef};

const KEYS: usize = 100_000;

/// 16-byte keys and 32-byte values, the shape `mem-per-key.sh` loads.
fn keys() -> Vec<Vec<u8>> {
    (0..KEYS)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect()
}

const VALUE: &[u8; 32] = b"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

fn db_ops(c: &mut Criterion) {
    let keys = keys();
    let mut db = Db::new();
    for k in &keys {
        db.insert(Entry::new(k, NewValue::Str(VALUE), None, 0));
    }
    let now = 1_700_000_000_000;
    let mut g = c.benchmark_group("db_100k");

    let mut i = 0usize;
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            // A stride that is coprime with KEYS walks every key, out of order.
            i = (i + 7919) % KEYS;
            black_box(db.get_read(&keys[i], now).is_some())
        })
    });

    g.bench_function("get_miss", |b| {
        let miss = b"nokey:0000000000";
        b.iter(|| black_box(db.get_read(black_box(miss), now).is_none()))
    });

    g.bench_function("set_overwrite", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let e = Entry::new(&keys[i], NewValue::Str(VALUE), None, 0);
            black_box(db.insert(e).is_some())
        })
    });
    g.finish();
}

fn registry(c: &mut Criterion) {
    let mut g = c.benchmark_group("registry");
    g.bench_function("lookup_get", |b| {
        b.iter(|| black_box(REGISTRY.lookup(black_box(b"get")).is_some()))
    });
    g.bench_function("lookup_GET_mixed_case", |b| {
        b.iter(|| black_box(REGISTRY.lookup(black_box(b"GeT")).is_some()))
    });
    g.bench_function("lookup_unknown", |b| {
        b.iter(|| black_box(REGISTRY.lookup(black_box(b"nosuchcommand")).is_none()))
    });
    g.finish();
}

fn scan(c: &mut Criterion) {
    let mut t = Table::new();
    for k in keys() {
        t.insert(Entry::new(&k, NewValue::Str(VALUE), None, 0));
    }
    let mut g = c.benchmark_group("table_100k_scan");
    for count in [10usize, 100, 1000] {
        let mut cursor = 0u64;
        g.bench_function(format!("step_count_{count}"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                cursor = t.scan(cursor, count, |_| n += 1);
                black_box(n)
            })
        });
    }
    g.sample_size(10);
    g.bench_function("full_scan_count_100", |b| {
        b.iter(|| {
            let mut n = 0usize;
            let mut cursor = 0;
            loop {
                cursor = t.scan(cursor, 100, |_| n += 1);
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(n, KEYS);
        })
    });
    g.finish();
}

/// `evict_one` under allkeys-lru with the default 5 samples on a 1M-key
/// DB whose keys have spread-out access times: ns per eviction, which
/// should not depend on the DB size. Evicted keys are replaced by new ones
/// outside the timed part, so the DB stays at 1M keys.
fn eviction(c: &mut Criterion) {
    use std::time::{Duration, Instant};
    const N: usize = 1_000_000;
    const BATCH: u64 = 20_000;
    let now: i64 = 1_700_000_000_000;
    let mut db = Db::new();
    db.set_policy(Policy::AllKeysLru);
    // Access times spread over the last ~3 hours.
    let clock = |i: usize| keyward::clock::lru_clock(now - ((i * 7919) % 10_000) as i64 * 1000);
    for i in 0..N {
        let k = format!("key:{i:012}");
        db.insert(Entry::new(
            k.as_bytes(),
            NewValue::Str(VALUE),
            None,
            clock(i),
        ));
    }
    let mut next = N;
    let mut g = c.benchmark_group("evict_1m");
    g.bench_function("evict_one_allkeys_lru", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(BATCH);
                let start = Instant::now();
                for _ in 0..n {
                    black_box(db.evict_one(Policy::AllKeysLru, 5, now));
                }
                total += start.elapsed();
                for _ in 0..n {
                    let k = format!("key:{next:012}");
                    db.insert(Entry::new(
                        k.as_bytes(),
                        NewValue::Str(VALUE),
                        None,
                        clock(next),
                    ));
                    next += 1;
                }
                left -= n;
            }
            total
        })
    });
    g.finish();
}

/// A whole snapshot of a 100k-key DB through a trivial encoder (the
/// walk's own cost per key), and a SET over a key the snapshot still owes
/// (the pre-image a writer pays, once per key and snapshot) against the
/// same SET with no snapshot running.
fn snapshot(c: &mut Criterion) {
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let keys = keys();
    let ks = Keyspace::new(1);
    for k in &keys {
        ks.lock(0)
            .insert(Entry::new(k, NewValue::Str(VALUE), None, 0));
    }
    let enc: Encoder = Arc::new(|e: &Entry, _, out: &mut Vec<u8>| {
        out.extend_from_slice(e.key());
        if let ValueRef::Str(v) = e.value() {
            out.extend_from_slice(v);
        }
    });
    let mut g = c.benchmark_group("snapshot_100k");
    g.sample_size(10);
    g.bench_function("walk", |b| {
        b.iter(|| {
            let mut s = Snapshot::begin(&ks, Arc::clone(&enc)).expect("one snapshot at a time");
            let mut buf = Vec::new();
            let mut bytes = 0;
            while s.step(&mut buf) != Chunk::Done {
                bytes += buf.len();
            }
            black_box(bytes)
        })
    });
    g.finish();
    // Each SET below replaces an owed key: a fresh snapshot every KEYS
    // writes keeps them owed; taking and cancelling it is not timed.
    let mut g = c.benchmark_group("snapshot_set");
    for running in [false, true] {
        let name = if running {
            "set_owed_key"
        } else {
            "set_no_snapshot"
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(KEYS as u64);
                    let snap = running
                        .then(|| Snapshot::begin(&ks, Arc::clone(&enc)).expect("one at a time"));
                    let start = Instant::now();
                    for k in &keys[..n as usize] {
                        let e = Entry::new(k, NewValue::Str(VALUE), None, 0);
                        black_box(ks.lock(0).insert(e));
                    }
                    total += start.elapsed();
                    drop(snap);
                    left -= n;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, db_ops, registry, scan, eviction, snapshot);
criterion_main!(benches);
