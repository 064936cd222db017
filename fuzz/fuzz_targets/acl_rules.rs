//! ACL rule lists: whatever `ACL SETUSER` accepts must describe itself as
//! an aclfile line that reads back to the same user, without panicking.
//! The body lives in the library so `cargo test` replays
//! `corpus/acl_rules/` through it (see `keyward::acl::fuzz`).
//!
//! cargo +nightly fuzz run acl_rules corpus/acl_rules

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keyward::acl::fuzz::rules_round_trip(data);
});
