//! RDB decoding: the input as a RESTORE payload (CRC recomputed so the
//! parser is reached) and as a whole RDB file; refusals are fine, panics
//! are not. The body lives in the library so `cargo test` replays
//! `corpus/rdb_decode/` through it (see `keyward::persistence::rdb::fuzz`).
//!
//! cargo +nightly fuzz run rdb_decode corpus/rdb_decode

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keyward::persistence::rdb::fuzz::decode_agrees(data);
});
