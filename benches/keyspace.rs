//! Keyspace hot paths: GET/SET on a 100k-key database, command lookup, and
//! SCAN steps over the segmented table.
//!
//! `cargo bench --bench keyspace`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use keyward::commands::REGISTRY;
use keyward::keyspace::table::Table;
use keyward::keyspace::{Db, Entry, NewValue};

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

criterion_group!(benches, db_ops, registry, scan);
criterion_main!(benches);
