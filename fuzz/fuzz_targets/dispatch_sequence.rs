//! Command sequences through dispatch on one in-process server: the input
//! picks commands from the command table, their arguments from small pools,
//! MULTI/EXEC, SELECT, time passing and disconnects; afterwards DBSIZE must
//! equal a full SCAN, TTLs must be sane, the per-DB memory accounting must
//! equal a recount. The body lives in the library so `cargo test` replays
//! `corpus/dispatch_sequence/` through it (see `keyward::server::fuzz`).
//!
//! cargo +nightly fuzz run dispatch_sequence corpus/dispatch_sequence

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keyward::server::fuzz::dispatch_sequence(data);
});
