//! Tests about the tests: every command in the table is exercised somewhere.
//!
//! Like Garnet's `AllCommandsCovered`: a command (or subcommand) counts as
//! tested when its name appears, case-insensitively and as a whole word, in
//! code (not comments) of some `tests/it/*.rs` file other than this one and
//! `main.rs` (whose `mod` lines would otherwise count). A subcommand needs
//! both words together: `CLIENT ID`, `client|id`, `"CLIENT", "ID"`,
//! `b"CLIENT", b"ID"` or `cmd("CLIENT").arg("ID")`.

use std::path::Path;

use keyward::commands::REGISTRY;

/// Name characters: a name must not run on into a longer word (`get` is not
/// found in `getrange` or `no-get`). `_` separates, so `fn get_returns_nil`
/// names GET.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Ends of the whole-word occurrences of `word` in `text`.
fn word_ends<'a>(text: &'a [u8], word: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    text.windows(word.len().max(1))
        .enumerate()
        .filter(move |&(i, w)| {
            w == word
                && (i == 0 || !is_word(text[i - 1]))
                && text.get(i + word.len()).is_none_or(|&b| !is_word(b))
        })
        .map(move |(i, _)| i + word.len())
}

/// Skips what may stand between a container and its subcommand; `None`
/// when the next word does not directly follow.
fn skip_separator(text: &[u8], mut i: usize) -> Option<usize> {
    let ws = |t: &[u8], mut j: usize| {
        while t.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
            j += 1;
        }
        j
    };
    if text[i..].starts_with(b"\").arg(\"") {
        return Some(i + 8);
    }
    match text.get(i)? {
        b'|' => Some(i + 1),
        b'"' => {
            // `"client", "id"` or `b"client", b"id"`
            i = ws(text, i + 1);
            if text.get(i) != Some(&b',') {
                return None;
            }
            i = ws(text, i + 1);
            if text.get(i) == Some(&b'b') {
                i += 1;
            }
            (text.get(i) == Some(&b'"')).then_some(i + 1)
        }
        b if b.is_ascii_whitespace() => Some(ws(text, i)),
        _ => None,
    }
}

fn names_command(text: &[u8], fullname: &str) -> bool {
    match fullname.split_once('|') {
        None => word_ends(text, fullname.as_bytes()).next().is_some(),
        Some((parent, sub)) => word_ends(text, parent.as_bytes()).any(|end| {
            skip_separator(text, end).is_some_and(|start| {
                text[start..].starts_with(sub.as_bytes())
                    && text.get(start + sub.len()).is_none_or(|&b| !is_word(b))
            })
        }),
    }
}

/// Lowercased code of every test module, comment lines dropped.
fn test_sources() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/it exists") {
        let path = entry.expect("readable entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".rs") || name == "meta.rs" || name == "main.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable test file");
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        out.push((name, code.to_ascii_lowercase().into_bytes()));
    }
    out
}

#[test]
fn every_command_is_named_in_a_test() {
    let sources = test_sources();
    assert!(!sources.is_empty(), "no test modules found");
    let missing: Vec<String> = REGISTRY
        .commands
        .iter()
        .filter(|c| !sources.iter().any(|(_, t)| names_command(t, &c.fullname)))
        .map(|c| c.fullname.to_uppercase().replace('|', " "))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} commands are not named in any tests/it/*.rs file: {}",
        missing.len(),
        REGISTRY.commands.len(),
        missing.join(", ")
    );
}

#[test]
fn matcher_finds_whole_words_only() {
    let t = b"let v = redis::cmd(\"getrange\").arg(\"k\"); // get\nc.get_x(); set-like";
    assert!(names_command(t, "getrange"));
    assert!(names_command(t, "get"), "`get_x` names GET");
    assert!(!names_command(b"getrange setrange", "get"));
    assert!(!names_command(b"reset", "set"));
    assert!(!names_command(t, "set"), "`set-like` is one word");
    assert!(!names_command(b"no-evict", "evict"));
    for s in [
        &b"client id"[..],
        b"\"client\n   id\"",
        b"client|id",
        b"[b\"client\", b\"id\"]",
        b"&[\"client\",\"id\"]",
        b"cmd(\"client\").arg(\"id\")",
    ] {
        assert!(
            names_command(s, "client|id"),
            "{}",
            String::from_utf8_lossy(s)
        );
    }
    for s in [
        &b"client idle"[..],
        b"client x id",
        b"client-id",
        b"client\", b\"x\", b\"id",
    ] {
        assert!(
            !names_command(s, "client|id"),
            "{}",
            String::from_utf8_lossy(s)
        );
    }
    assert!(names_command(b"client no-evict on", "client|no-evict"));
}
