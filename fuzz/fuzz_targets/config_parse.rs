//! The TOML and redis.conf parsers: no panic, and whatever one accepts
//! reads back the same after CONFIG REWRITE. The body lives in the library
//! so `cargo test` replays `corpus/config_parse/` through it (see
//! `keyward::config::fuzz`).
//!
//! cargo +nightly fuzz run config_parse corpus/config_parse

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = keyward::config::fuzz::parse_rewrite_agrees(data);
});
