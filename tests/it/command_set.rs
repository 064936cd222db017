//! Which commands keyward has: the command table, COMMAND COUNT/LIST/INFO/
//! DOCS, what answers `unknown command`, and the README agree, and the set
//! is Redis 7.2's minus the README's list of what is missing.
//!
//! Redis 7.2's set is read off the 7.2 oracle (valkey-server 8.1, forked
//! from Redis 7.2.4) minus the commands Valkey added since the fork.

use std::collections::BTreeSet;

use keyward::commands::REGISTRY;

use crate::support::{start, Oracle, Raw};

/// In Valkey 8.1's COMMAND LIST but not in Redis 7.2.
const VALKEY_ONLY: &[&str] = &[
    "client|capa",
    "client|import-source",
    "cluster|slot-stats",
    "commandlog",
    "commandlog|get",
    "commandlog|help",
    "commandlog|len",
    "commandlog|reset",
    "script|show",
];

/// Names in a RESP2 array of bulk strings (COMMAND LIST's reply).
fn names(reply: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n");
    let mut out = BTreeSet::new();
    let header = lines.next().expect("array header");
    assert!(header.starts_with('*'), "not an array: {header}");
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.insert(lines.next().expect("bulk body").to_ascii_lowercase());
        }
    }
    out
}

/// The README's list of Redis 7.2 commands keyward does not have, between
/// its `missing-commands` markers.
fn readme_missing() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- missing-commands -->")
        .expect("README has a <!-- missing-commands --> list");
    let end = readme[start..]
        .find("<!-- /missing-commands -->")
        .expect("the list ends with <!-- /missing-commands -->")
        + start;
    readme[start..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.to_ascii_lowercase())
        .collect()
}

/// Does `name` (`cmd` or `cmd|sub`) answer Redis's unknown-command or
/// unknown-subcommand error?
async fn unknown(raw: &mut Raw, name: &str) -> bool {
    let words: Vec<&[u8]> = name.split('|').map(str::as_bytes).collect();
    let reply = raw.call(&words).await;
    let text = String::from_utf8_lossy(&reply);
    text.starts_with("-ERR unknown command") || text.starts_with("-ERR unknown subcommand")
}

#[tokio::test]
async fn the_command_set_is_redis_72_minus_the_readme_list() {
    let s = start().await;
    let mut raw = s.raw().await;
    let ours = names(&raw.call(&[b"COMMAND", b"LIST"]).await);

    // COMMAND LIST is the table, subcommands included.
    let table: BTreeSet<String> = REGISTRY
        .commands
        .iter()
        .map(|c| c.fullname.clone())
        .collect();
    assert_eq!(ours, table, "COMMAND LIST and the command table differ");
    // COMMAND COUNT counts the top-level rows.
    let top = table.iter().filter(|n| !n.contains('|')).count();
    assert_eq!(
        raw.call(&[b"COMMAND", b"COUNT"]).await,
        format!(":{top}\r\n").into_bytes()
    );
    // Every top-level command has COMMAND INFO and COMMAND DOCS. (They
    // are not run here: SHUTDOWN, QUIT or MONITOR would end the test;
    // dispatch resolves names through the same table.)
    for name in table.iter().filter(|n| !n.contains('|')) {
        let info = raw.call(&[b"COMMAND", b"INFO", name.as_bytes()]).await;
        assert!(
            !info.starts_with(b"*1\r\n*-1"),
            "no COMMAND INFO for {name}"
        );
        let docs = raw.call(&[b"COMMAND", b"DOCS", name.as_bytes()]).await;
        assert!(docs.starts_with(b"*2\r\n"), "no COMMAND DOCS for {name}");
    }

    let missing_listed = readme_missing();
    let Some(oracle) = Oracle::valkey().await else {
        return;
    };
    let mut theirs_raw = oracle.raw().await;
    let mut redis72 = names(&theirs_raw.call(&[b"COMMAND", b"LIST"]).await);
    for v in VALKEY_ONLY {
        assert!(redis72.remove(*v), "{v} is no longer in Valkey's list");
    }
    assert_eq!(
        redis72.len(),
        370,
        "Redis 7.2 has 370 commands and subcommands"
    );

    let extra: Vec<_> = ours.difference(&redis72).collect();
    assert!(extra.is_empty(), "not Redis 7.2 commands: {extra:?}");
    let missing: BTreeSet<String> = redis72.difference(&ours).cloned().collect();
    assert_eq!(
        missing, missing_listed,
        "the README's missing-commands list is not what keyward lacks"
    );
    for name in &missing {
        assert!(
            unknown(&mut raw, name).await,
            "{name} is missing but answers"
        );
    }
}
