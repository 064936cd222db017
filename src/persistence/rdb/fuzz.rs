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

    fn corpus_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/rdb_decode")
    }

    #[test]
    fn replay_corpus() {
        let mut entries: Vec<_> = std::fs::read_dir(corpus_dir())
            .expect("fuzz/corpus/rdb_decode is tracked")
            .map(|e| e.expect("readable corpus entry").path())
            .collect();
        entries.sort();
        for path in &entries {
            let data = std::fs::read(path).expect("readable corpus file");
            let r = std::panic::catch_unwind(|| decode_agrees(&data));
            assert!(r.is_ok(), "corpus file {} fails", path.display());
        }
        assert!(entries.len() >= 20, "only {} corpus files", entries.len());
    }
}
