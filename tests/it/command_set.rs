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

/// The elements of a RESP2 array reply (`*N\r\n` then N values), as bytes.
fn elements(reply: &[u8]) -> Vec<&[u8]> {
    let nl = reply.iter().position(|&b| b == b'\n').expect("header line");
    let head = std::str::from_utf8(&reply[1..nl - 1]).expect("ascii header");
    assert!(reply.starts_with(b"*"), "not an array: {head}");
    let n: usize = head.parse().expect("array length");
    let mut pos = nl + 1;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = crate::support::reply_len(&reply[pos..]).expect("complete element");
        out.push(&reply[pos..pos + len]);
        pos += len;
    }
    out
}

/// COMMAND INFO's key specs (and the legacy first/last/step derived from
/// them) are the 7.2 oracle's, byte for byte, for every command and
/// subcommand both have. Tips and the other fields are not this test's.
#[tokio::test]
async fn command_info_key_specs_are_redis_72s() {
    let Some(oracle) = Oracle::valkey().await else {
        return;
    };
    let s = start().await;
    let mut ours = s.raw().await;
    let mut theirs = oracle.raw().await;
    let mut checked = 0;
    let mut with_specs = 0;
    let mut diffs = Vec::new();
    // RESP2, then RESP3 (where key specs and their flags are sets).
    for proto in ["2", "3"] {
        for r in [&mut ours, &mut theirs] {
            r.call(&[b"HELLO", proto.as_bytes()]).await;
        }
        for c in REGISTRY.commands.iter() {
            let name = c.fullname.as_bytes();
            let a = ours.call(&[b"COMMAND", b"INFO", name]).await;
            let b = theirs.call(&[b"COMMAND", b"INFO", name]).await;
            let (a, b) = (elements(&a), elements(&b));
            if b[0] == b"*-1\r\n" || b[0] == b"_\r\n" {
                continue;
            }
            let (a, b) = (elements(a[0]), elements(b[0]));
            checked += 1;
            if b[8] != b"*0\r\n" && b[8] != b"~0\r\n" {
                with_specs += 1;
            }
            for (i, field) in [(3, "first"), (4, "last"), (5, "step"), (8, "key specs")] {
                if a[i] != b[i] {
                    diffs.push(format!(
                        "RESP{proto} {} {field}: ours {:?}, 7.2 {:?}",
                        c.fullname,
                        String::from_utf8_lossy(a[i]),
                        String::from_utf8_lossy(b[i])
                    ));
                }
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // Every shared command was compared, and most key-bearing ones are.
    assert_eq!(checked, 2 * REGISTRY.len());
    assert!(
        with_specs > 300,
        "only {with_specs} commands with key specs"
    );
}

/// Command lines whose keys depend on their options: flags that vary
/// (SET … GET, BITFIELD), keys after keywords (SORT … STORE, GEORADIUS …
/// STORE, MIGRATE … KEYS, XREAD(GROUP) … STREAMS), counts (EVAL, FCALL,
/// ZUNIONSTORE, LMPOP …) and the fallbacks Redis takes when a spec does
/// not fit (numkeys 0 or not a number, a keyword as the last argument).
const GETKEYS_LINES: &[&str] = &[
    "set k v",
    "set k v get",
    "set k v EX 10 GET",
    "set k v px 1 nx",
    "set k get v",
    "bitfield k",
    "bitfield k get u8 0",
    "bitfield k GET u8 0 get i4 1",
    "bitfield k get u8 0 set u8 0 1",
    "bitfield k incrby u8 0 1",
    "bitfield k overflow sat get u8 0",
    "bitfield k overflow",
    "bitfield k nonsense",
    "bitfield_ro k get u8 0",
    "sort s",
    "sort s store d",
    "sort s BY w* GET # LIMIT 0 1 STORE d",
    "sort s store d store e",
    "sort s store",
    "sort s get store by store",
    "sort_ro s by w* get #",
    "georadius s 0 0 1 km",
    "georadius s 0 0 1 km store d",
    "georadius s 0 0 1 km storedist d",
    "georadius s 0 0 1 km store d storedist e",
    "georadius s 0 0 1 km store",
    "georadiusbymember s m 1 km store d",
    "georadiusbymember s m 1 km STORE",
    "georadius_ro s 0 0 1 km",
    "geosearchstore d s frommember m byradius 1 km",
    "migrate h 1 k 0 5",
    "migrate h 1 k 0 5 copy replace",
    "migrate h 1 \"\" 0 5 keys a b c",
    "migrate h 1  0 5 keys a b c",
    "migrate h 1  0 5 auth keys keys a b",
    "migrate h 1  0 5 auth2 u p keys a",
    "migrate h 1 k 0 5 keys a b",
    "migrate h 1  0 5 keys",
    "xread streams a b 0 0",
    "xread count 1 block 0 streams a 0",
    "xread streams a b 0",
    "xread streams",
    "xread count 1 streams streams streams 0 0",
    "xread nonsense streams a 0",
    "xreadgroup group g c streams a 0",
    "xreadgroup group g c count 1 noack streams a b > >",
    "xreadgroup group g c streams a",
    "xreadgroup group g c streams",
    "eval s 0",
    "eval s 1 k",
    "eval s 2 k1 k2 a",
    "eval s 3 k1 k2",
    "eval s -1 k",
    "eval s 2x k1 k2",
    "eval s x",
    "evalsha s 1 k",
    "eval_ro s 1 k",
    "evalsha_ro s 2 a b",
    "fcall f 1 k a",
    "fcall f 0",
    "fcall_ro f 2 a b",
    "fcall_ro f 1",
    "zunionstore d 2 a b",
    "zunionstore d 2 a b weights 1 2",
    "zunionstore d 0 a",
    "zunionstore d 3 a b",
    "zunionstore d 2x a b",
    "zinterstore d 1 a",
    "zdiffstore d 2 a b",
    "zunion 2 a b",
    "zinter 1 a withscores",
    "zdiff 3 a b",
    "zintercard 2 a b limit 1",
    "sintercard 1 a",
    "sintercard 0 a",
    "sinterstore d a b",
    "sunionstore d a",
    "sdiffstore d a b c",
    "smove a b m",
    "lmove a b left right",
    "blmove a b left right 0",
    "rpoplpush a b",
    "brpoplpush a b 0",
    "lmpop 2 a b left",
    "lmpop 1 a right count 2",
    "lmpop 0 a left",
    "blmpop 0 2 a b left",
    "zmpop 1 a min",
    "bzmpop 0 1 a max",
    "blpop a b 0",
    "bzpopmin a b 0",
    "copy a b",
    "copy a b db 1 replace",
    "rename a b",
    "renamenx a b",
    "bitop and d a b",
    "bitop not d a",
    "pfmerge d a b",
    "pfcount a b",
    "mset a 1 b 2",
    "msetnx a 1 b 2",
    "mget a b c",
    "del a b",
    "unlink a",
    "exists a b",
    "touch a",
    "type a",
    "object encoding a",
    "object freq a",
    "memory usage a",
    "incr a",
    "getdel a",
    "getex a persist",
    "lcs a b",
    "restore k 0 payload",
    "restore-asking k 0 payload",
    "dump k",
    "watch a b",
    "xadd s * f v",
    "xautoclaim s g c 0 0",
    "xgroup create s g $",
    "xinfo stream s",
    "publish ch m",
    "spublish ch m",
    "ssubscribe a b",
];

/// Every command line in `lines` gives the 7.2 oracle's COMMAND GETKEYS
/// and GETKEYSANDFLAGS replies, errors included.
async fn compare_getkeys(ours: &mut Raw, theirs: &mut Raw, lines: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut diffs = Vec::new();
    for line in lines {
        for sub in [&b"GETKEYS"[..], b"GETKEYSANDFLAGS"] {
            let mut args: Vec<&[u8]> = vec![b"COMMAND", sub];
            args.extend(line.iter().map(Vec::as_slice));
            let a = ours.call(&args).await;
            let b = theirs.call(&args).await;
            if a != b {
                diffs.push(format!(
                    "{:?}: ours {:?}, 7.2 {:?}",
                    args.iter()
                        .map(|x| String::from_utf8_lossy(x))
                        .collect::<Vec<_>>(),
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b)
                ));
            }
        }
    }
    diffs
}

#[tokio::test]
async fn getkeys_and_flags_are_redis_72s_for_option_dependent_keys() {
    let Some(oracle) = Oracle::valkey().await else {
        return;
    };
    let s = start().await;
    let (mut ours, mut theirs) = (s.raw().await, oracle.raw().await);
    // `""` in a line is an empty argument (MIGRATE's key for KEYS).
    let lines: Vec<Vec<Vec<u8>>> = GETKEYS_LINES
        .iter()
        .map(|l| {
            l.split(' ')
                .map(|w| {
                    if w == "\"\"" {
                        Vec::new()
                    } else {
                        w.as_bytes().to_vec()
                    }
                })
                .collect()
        })
        .collect();
    let diffs = compare_getkeys(&mut ours, &mut theirs, &lines).await;
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Every command (and subcommand) with generated arguments: its arity and
/// a few more, filled with names, with `1` and with `2` (so counts such as
/// numkeys read as numbers). GETKEYS does not run the command, so
/// SHUTDOWN and friends are safe to name.
#[tokio::test]
async fn getkeys_and_flags_are_redis_72s_for_every_command() {
    let Some(oracle) = Oracle::valkey().await else {
        return;
    };
    let s = start().await;
    let (mut ours, mut theirs) = (s.raw().await, oracle.raw().await);
    let mut lines = Vec::new();
    for c in REGISTRY.commands.iter().filter(|c| !c.is_container()) {
        let words: Vec<Vec<u8>> = c
            .fullname
            .split('|')
            .map(|w| w.as_bytes().to_vec())
            .collect();
        let arity = c.spec.arity.unsigned_abs() as usize;
        let extra = if c.spec.arity < 0 { 4 } else { 1 };
        // COMMAND GETKEYS's own arity is -4 in Redis 7.2 (Valkey 8 made it
        // -3 so that `COMMAND GETKEYS PING` reaches the no-keys error):
        // command lines of one word are left out.
        for len in arity.max(words.len()).max(2)..=arity + extra {
            for fill in ["k", "1", "2"] {
                let mut line = words.clone();
                for i in line.len()..len {
                    line.push(if fill == "k" {
                        format!("k{i}").into_bytes()
                    } else {
                        fill.as_bytes().to_vec()
                    });
                }
                lines.push(line);
            }
        }
    }
    assert!(lines.len() > 1000, "{} lines", lines.len());
    let diffs = compare_getkeys(&mut ours, &mut theirs, &lines).await;
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
