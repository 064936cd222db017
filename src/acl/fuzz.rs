//! Fuzz body of `fuzz/fuzz_targets/acl_rules.rs`, kept in the library so
//! that `cargo test` replays the tracked corpus (`fuzz/corpus/acl_rules/`)
//! through the very same checks.
//!
//! [`rules_round_trip`] reads its input as an `ACL SETUSER` rule list.
//! Whatever the parser accepts must describe itself (the `ACL LIST` /
//! aclfile line) in a form that parses back, through the aclfile reader,
//! to a user that describes itself identically: what `ACL SAVE` writes,
//! `ACL LOAD` must read back unchanged. Nothing may panic on the way.

use super::{parse_aclfile, rules, User};

/// DBs the fuzzed rules are checked against (`db=` beyond is an error).
const DATABASES: usize = 16;

/// The fuzz target's body; panics when a round trip changes the user.
pub fn rules_round_trip(data: &[u8]) {
    // The aclfile is text: rules travel through it as UTF-8.
    let text = String::from_utf8_lossy(data);
    let words: Vec<&[u8]> = text.split_ascii_whitespace().map(str::as_bytes).collect();
    let Ok(words) = rules::merge_selectors(&words) else {
        return;
    };
    let mut user = User::new("fuzz");
    for w in &words {
        if user.apply(w, DATABASES).is_err() {
            return;
        }
    }
    let line = user.finish().describe();
    let back = match parse_aclfile(&line, DATABASES, false) {
        Ok(users) => users,
        Err(e) => panic!("the line of {text:?} does not parse back: {line:?}: {e}"),
    };
    assert_eq!(back.len(), 1, "{line:?} read back as {} users", back.len());
    assert_eq!(back[0].describe(), line, "rules {text:?} do not round-trip");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_corpus() {
        crate::fuzz_corpus::replay("acl_rules", 15, rules_round_trip);
    }

    /// A cheap stand-in for the fuzzer under `cargo test`: random rule
    /// lists built from the grammar's pieces (xorshift, fixed seed).
    #[test]
    fn random_rule_lists_round_trip() {
        const PIECES: &[&str] = &[
            "on",
            "off",
            "nopass",
            "resetpass",
            ">pw",
            "<pw",
            "reset",
            "allkeys",
            "resetkeys",
            "~*",
            "~app:*",
            "%R~r:*",
            "%W~w:*",
            "%RW~x",
            "allchannels",
            "resetchannels",
            "&*",
            "&news",
            "+@all",
            "-@all",
            "+get",
            "-set",
            "+@read",
            "-@dangerous",
            "+client|id",
            "-client|kill",
            "allcommands",
            "nocommands",
            "alldbs",
            "resetdbs",
            "db=0",
            "db=2,5",
            "db=15",
            "db=16",
            "(~s:*",
            "+get)",
            "(+set ~k)",
            "clearselectors",
            "()",
            "(",
            ")",
            "~",
            "%",
            "%X~a",
            "+",
            "-",
            "+@nosuch",
            "+nosuch",
            "#",
            "+select|0",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3000 {
            let mut line = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for _ in 0..(x % 9) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.push_str(PIECES[(x % PIECES.len() as u64) as usize]);
                line.push(' ');
            }
            rules_round_trip(line.as_bytes());
        }
    }
}
