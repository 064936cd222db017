//! Dispatch end to end without sockets (lookup, gates, handler, reply
//! encoding) through `server::harness`, and each collection type's hot
//! operations as the compare.sh mission mix uses them.
//!
//! `cargo bench --bench dispatch`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
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

criterion_group!(benches, strings);
criterion_main!(benches);
