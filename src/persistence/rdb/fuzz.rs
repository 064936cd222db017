//! The body of the `rdb_decode` fuzz target (see `fuzz/`), here so that
//! plain `cargo test` replays the tracked corpus (`fuzz/corpus/rdb_decode/`).
//!
//! [`decode_agrees`] feeds the input to both entry points that take
//! untrusted bytes: as a RESTORE payload (with its CRC recomputed, so the
//! parser is reached rather than the checksum check), and as a whole RDB
//! file. Either may refuse; neither may panic. A payload that decodes must
//! encode again and decode to the same type.

use super::crc::crc64;
use super::{dump_payload, load, restore_payload, LoadOptions};
use crate::keyspace::value::Thresholds;
use crate::keyspace::{Entry, ValueRef};

pub fn decode_agrees(data: &[u8]) {
    let t = Thresholds::default();
    if data.len() >= 10 {
        let mut p = data.to_vec();
        let body = p.len() - 8;
        let crc = crc64(&p[..body]);
        p[body..].copy_from_slice(&crc.to_le_bytes());
        if let Ok(v) = restore_payload(&p, &t) {
            let e = v.into_entry(b"k", None, 0);
            let again = dump_payload(e.value());
            let back = restore_payload(&again, &t).expect("our own DUMP restores");
            let e2 = back.into_entry(b"k", None, 0);
            assert_eq!(type_of(&e), type_of(&e2));
        }
    }
    let opts = LoadOptions::new(16, 0);
    let _ = load(data, &opts, &mut |_| Ok(()));
}

fn type_of(e: &Entry) -> &'static str {
    match e.value() {
        ValueRef::Obj(o) => o.type_name(),
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::decode_agrees;

    #[test]
    fn replay_corpus() {
        crate::fuzz_corpus::replay("rdb_decode", 20, decode_agrees);
    }

    /// A few thousand mutants of the seeds on every `cargo test`: flipped
    /// bytes, cut tails, spliced lengths. The fuzzer goes further; this
    /// keeps the obvious cases from regressing without it.
    #[test]
    fn random_mutations_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed);
        let seeds: Vec<Vec<u8>> = crate::fuzz_corpus::files("rdb_decode", 20)
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| d.len() < 4096)
            .collect();
        for round in 0..4000 {
            let mut d = seeds[round % seeds.len()].clone();
            for _ in 0..rng.gen_range(1..4) {
                if d.is_empty() {
                    break;
                }
                let i = rng.gen_range(0..d.len());
                match rng.gen_range(0..4) {
                    0 => d[i] ^= 1 << rng.gen_range(0..8),
                    1 => d[i] = rng.gen(),
                    2 => d.truncate(i),
                    _ => {
                        d[i] = [0x00, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xC3, 0xFE, 0xFF]
                            [rng.gen_range(0..10)]
                    }
                }
            }
            let r = std::panic::catch_unwind(|| decode_agrees(&d));
            assert!(r.is_ok(), "mutant {round} panics: {d:02x?}");
        }
    }
}
