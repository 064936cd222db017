//! RESP request decoding: one-go vs incremental parsing, and agreement with
//! `redis-protocol`. The body lives in the library so `cargo test` replays
//! `corpus/resp_decode/` through it (see `keyward::protocol::fuzz`).
//!
//! cargo +nightly fuzz run resp_decode corpus/resp_decode

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keyward::protocol::fuzz::decode_agrees(data);
});
