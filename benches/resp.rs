//! RESP decode and encode: our span parser against `redis-protocol`'s frame
//! decoder on the same pipelined buffer, and reply encoding.
//!
//! `cargo bench --bench resp`; the figures quoted in `src/protocol/parse.rs`
//! come from here.

use bytes::{Buf, Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use keyward::protocol::{parse_request, Limits, Parsed, Protocol, ReplyBuf};

const BATCH: usize = 16;

/// 16 pipelined `SET key:NNNN value` commands, as redis-benchmark -P 16 sends.
fn pipeline() -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..BATCH {
        buf.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n$8\r\nkey:{i:04}\r\n$5\r\nvalue\r\n").as_bytes(),
        );
    }
    buf
}

fn decode(c: &mut Criterion) {
    let wire = pipeline();
    let mut g = c.benchmark_group("decode_16_set");
    g.throughput(Throughput::Elements(BATCH as u64));

    g.bench_function("keyward_parse_request", |b| {
        // Multibulk parsing never writes to the buffer, so one copy serves
        // every iteration.
        let mut buf = wire.clone();
        let mut spans = Vec::with_capacity(BATCH * 3);
        let limits = Limits::default();
        b.iter(|| {
            spans.clear();
            let mut pos = 0;
            let mut n = 0;
            while let Ok(Parsed::Command { end }) =
                parse_request(&mut buf[pos..], &limits, &mut spans)
            {
                pos += end;
                n += 1;
            }
            assert_eq!(n, BATCH);
            black_box(&spans);
        })
    });

    g.bench_function("redis_protocol_decode_owned", |b| {
        b.iter(|| {
            let mut pos = 0;
            let mut n = 0;
            while let Ok(Some((frame, used))) = redis_protocol::resp2::decode::decode(&wire[pos..])
            {
                black_box(frame);
                pos += used;
                n += 1;
            }
            assert_eq!(n, BATCH);
        })
    });

    g.bench_function("redis_protocol_decode_bytes", |b| {
        let shared = Bytes::from(wire.clone());
        b.iter(|| {
            let mut rest = shared.clone();
            let mut n = 0;
            while let Ok(Some((frame, used))) = redis_protocol::resp2::decode::decode_bytes(&rest) {
                black_box(frame);
                rest.advance(used);
                n += 1;
            }
            assert_eq!(n, BATCH);
        })
    });

    g.bench_function("redis_protocol_decode_bytes_mut", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut buf| {
                let mut n = 0;
                while let Ok(Some((frame, _, _))) =
                    redis_protocol::resp2::decode::decode_bytes_mut(&mut buf)
                {
                    black_box(frame);
                    n += 1;
                }
                assert_eq!(n, BATCH);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let value = [b'v'; 32];
    let mut g = c.benchmark_group("encode_16_bulk");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("keyward_reply_buf", |b| {
        let mut out = ReplyBuf::new(Protocol::Resp2);
        b.iter(|| {
            out.buf.clear();
            for _ in 0..BATCH {
                out.bulk(black_box(&value));
            }
            black_box(out.len());
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
