//! Integration tests: the tenant boundary (issue: a pinned tenant cannot
//! escape its databases or read secrets, through any command).
//!
//! The attacker is `worker`, pinned with `on db=2 ~* &* +@all` (what many
//! operators write instead of finding every command BullMQ needs). The
//! walk runs every row of the command table as that user, with several
//! argument shapes, and an unrestricted `admin` checks that nothing outside
//! DB 2 was changed, and that no reply, MONITOR line, SLOWLOG entry or
//! Pub/Sub message carried another tenant's data or a secret. New commands
//! are covered by the walk without a change here.

use std::time::Duration;

use keyward::commands::REGISTRY;
use keyward::config::UserConfig;
use keyward::Config;

use crate::support::{start_with, Oracle, Raw, TestServer};

const ADMIN_PW: &str = "admin-pw-7f3a";
const WORKER_PW: &str = "worker-pw";

/// Text that must never reach the worker: values and key names that live
/// only outside DB 2, the admin's password (and its SHA-256, which ACL LIST
/// prints) and the admin connection's name.
fn secrets() -> Vec<String> {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(ADMIN_PW.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    vec![
        "VALUE0".into(),
        "hidden0".into(),
        ADMIN_PW.into(),
        hash,
        "admin-conn".into(),
    ]
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    let text = s(bytes);
    for secret in secrets() {
        assert!(
            !text.contains(&secret),
            "{what} leaked {secret:?} to the pinned worker: {text:?}"
        );
    }
}

fn user(name: &str, rules: &str) -> UserConfig {
    UserConfig {
        name: name.into(),
        password_env: None,
        rules: rules.into(),
        words: None,
        password: None,
    }
}

/// The issue's setup: `default` off, an admin, a worker pinned to DB 2;
/// per-DB Pub/Sub and script caches; every command slow-logged.
fn config() -> Config {
    Config {
        users: vec![
            user("default", "off"),
            user("admin", &format!("on >{ADMIN_PW} alldbs ~* &* +@all")),
            user("worker", &format!("on >{WORKER_PW} db=2 ~* &* +@all")),
            // A second tenant user of DB 2: the walk's CLIENT KILL reaches
            // only the worker's own clients, so these listeners survive it.
            user("watcher", &format!("on >{WORKER_PW} db=2 ~* &* +@all")),
        ],
        pubsub_per_db: true,
        script_per_db: true,
        slowlog_log_slower_than: 0,
        slowlog_max_len: 1_000_000,
        ..Config::default()
    }
}

async fn login(srv: &TestServer, name: &str, pw: &str) -> Raw {
    let mut r = srv.raw().await;
    assert_eq!(
        s(&r.call(&[b"AUTH", name.as_bytes(), pw.as_bytes()]).await),
        "+OK\r\n"
    );
    r
}

async fn admin(srv: &TestServer) -> Raw {
    login(srv, "admin", ADMIN_PW).await
}

async fn worker(srv: &TestServer) -> Raw {
    login(srv, "worker", WORKER_PW).await
}

async fn ok(r: &mut Raw, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
    let reply = s(&r.call(&a).await);
    assert!(
        !reply.starts_with('-'),
        "{args:?} failed during setup: {reply}"
    );
}

/// Keys of every type in `db`: `known0:*` (names the attacker uses) and
/// `hidden0:*` (names only a listing could reveal), all holding VALUE0.
async fn seed_other(r: &mut Raw, db: &str) {
    ok(r, &["SELECT", db]).await;
    for prefix in ["known0", "hidden0"] {
        ok(r, &["SET", &format!("{prefix}:str"), "VALUE0-str"]).await;
        ok(
            r,
            &[
                "SET",
                &format!("{prefix}:ttl"),
                "VALUE0-ttl",
                "EX",
                "100000",
            ],
        )
        .await;
        ok(
            r,
            &["RPUSH", &format!("{prefix}:list"), "VALUE0-l1", "VALUE0-l2"],
        )
        .await;
        ok(r, &["HSET", &format!("{prefix}:hash"), "f", "VALUE0-h"]).await;
        ok(r, &["SADD", &format!("{prefix}:set"), "VALUE0-s"]).await;
        ok(r, &["ZADD", &format!("{prefix}:zset"), "1", "VALUE0-z"]).await;
        ok(
            r,
            &["XADD", &format!("{prefix}:stream"), "1-1", "f", "VALUE0-x"],
        )
        .await;
        ok(
            r,
            &["XGROUP", "CREATE", &format!("{prefix}:stream"), "g", "0"],
        )
        .await;
    }
}

/// Everything outside DB 2 that the worker must not change, as text.
async fn digest(srv: &TestServer) -> String {
    let mut r = admin(srv).await;
    let mut out = String::new();
    for db in (0..16).filter(|&d| d != 2) {
        ok(&mut r, &["SELECT", &db.to_string()]).await;
        let mut keys = parse_bulks(&r.call(&[b"KEYS", b"*"]).await);
        keys.sort();
        for k in keys {
            let t = s(&r.call(&[b"TYPE", &k]).await);
            let ttl = s(&r.call(&[b"PTTL", &k]).await);
            let has_ttl = ttl != ":-1\r\n";
            let body = match t.as_str() {
                "+string\r\n" => r.call(&[b"GET", &k]).await,
                "+list\r\n" => r.call(&[b"LRANGE", &k, b"0", b"-1"]).await,
                "+hash\r\n" => r.call(&[b"HGETALL", &k]).await,
                "+set\r\n" => r.call(&[b"SMEMBERS", &k]).await,
                "+zset\r\n" => r.call(&[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"]).await,
                "+stream\r\n" => {
                    let mut b = r.call(&[b"XRANGE", &k, b"-", b"+"]).await;
                    b.extend(r.call(&[b"XINFO", b"GROUPS", &k]).await);
                    b
                }
                other => other.as_bytes().to_vec(),
            };
            out.push_str(&format!(
                "db{db} {} {t} ttl={has_ttl} {}\n",
                s(&k),
                s(&body)
            ));
        }
    }
    ok(&mut r, &["SELECT", "0"]).await;
    for probe in [
        &["FUNCTION", "LIST", "WITHCODE"][..],
        &["ACL", "LIST"][..],
        &["CONFIG", "GET", "*"],
        &[
            "SCRIPT",
            "EXISTS",
            "2a7cd8c63ed1e5bd4e0ac9a0b84b66b6b3b6a8cb",
        ],
        &["PUBSUB", "NUMSUB", "chan0"],
    ] {
        let a: Vec<&[u8]> = probe.iter().map(|x| x.as_bytes()).collect();
        out.push_str(&format!("{probe:?} {}\n", s(&r.call(&a).await)));
    }
    // The admin's own named connection is still there.
    let list = s(&r.call(&[b"CLIENT", b"LIST"]).await);
    out.push_str(&format!(
        "admin-conn alive: {}\n",
        list.contains("name=admin-conn")
    ));
    out
}

fn parse_bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = reply.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    while i < reply.len() {
        let nl = i + reply[i..].iter().position(|&b| b == b'\n').unwrap_or(0);
        let len: usize = std::str::from_utf8(&reply[i + 1..nl - 1])
            .ok()
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        out.push(reply[nl + 1..nl + 1 + len].to_vec());
        i = nl + 1 + len + 2;
    }
    out
}

/// Argument shapes tried for each row: DB indexes, the other tenant's key
/// names, patterns.
fn shapes(min_args: usize) -> Vec<Vec<&'static str>> {
    let n = min_args.max(1);
    let cycle = |words: &[&'static str]| -> Vec<&'static str> {
        (0..n).map(|i| words[i % words.len()]).collect()
    };
    vec![
        cycle(&["0"]),
        cycle(&["known0:str", "0", "known0:hash"]),
        cycle(&["*", "0"]),
        cycle(&["known0:list", "known0:set", "known0:zset", "known0:stream"]),
        {
            let mut v = cycle(&["0"]);
            v.extend(["DB", "0", "ANY", "known0:str"]);
            v
        },
    ]
}

/// Hand-written attacks from the issue, beyond what the shapes reach.
fn attacks() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "ACL", "SETUSER", "evil", "on", ">x", "alldbs", "~*", "+@all",
        ],
        vec!["ACL", "SETUSER", "worker", "alldbs"],
        vec!["ACL", "SETUSER", "admin", ">stolen"],
        vec!["ACL", "DELUSER", "admin"],
        vec!["ACL", "LOAD"],
        vec!["ACL", "SAVE"],
        vec!["ACL", "LOG", "RESET"],
        vec!["ACL", "DRYRUN", "admin", "GET", "known0:str"],
        vec!["ACL", "GETUSER", "admin"],
        vec!["CONFIG", "SET", "requirepass", "owned"],
        vec!["CONFIG", "SET", "timeout", "1"],
        vec!["CONFIG", "SET", "maxmemory", "1", "timeout", "1"],
        vec!["CONFIG", "RESETSTAT"],
        vec!["CONFIG", "REWRITE"],
        vec!["SHUTDOWN", "NOSAVE"],
        vec!["SHUTDOWN"],
        vec!["SLOWLOG", "RESET"],
        vec!["FLUSHALL"],
        vec!["FLUSHALL", "ASYNC"],
        vec!["FUNCTION", "FLUSH"],
        vec!["FUNCTION", "DELETE", "lib0"],
        vec!["FCALL", "fn0", "0"],
        vec![
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=lib0\nredis.register_function('fn0', function() return 1 end)",
        ],
        vec!["SWAPDB", "0", "2"],
        vec!["SWAPDB", "2", "0"],
        vec!["SELECT", "0"],
        vec!["MOVE", "own:str", "0"],
        vec!["COPY", "own:str", "known0:str", "DB", "0", "REPLACE"],
        vec!["CLIENT", "KILL", "USER", "admin"],
        vec!["CLIENT", "KILL", "SKIPME", "yes"],
        vec!["CLIENT", "LIST"],
        vec!["CLIENT", "UNBLOCK", "1"],
        vec!["SCRIPT", "FLUSH"],
        vec!["SCRIPT", "KILL"],
        vec![
            "EVAL",
            "redis.call('select', 0) return redis.call('get', 'known0:str')",
            "0",
        ],
        vec![
            "EVAL",
            "redis.pcall('select', 0) return redis.call('set', 'known0:str', 'x')",
            "0",
        ],
        vec!["EVAL", "return redis.call('swapdb', 0, 2)", "0"],
        vec!["EVAL", "return redis.call('flushall')", "0"],
        vec!["SORT", "own:list", "BY", "known0:*", "GET", "known0:*"],
        vec!["KEYS", "*"],
        vec!["SCAN", "0", "COUNT", "1000"],
        vec!["RANDOMKEY"],
        vec!["INFO", "all"],
        vec!["INFO", "everything"],
        vec!["PUBSUB", "CHANNELS"],
        vec!["PUBSUB", "NUMSUB", "chan0"],
        vec!["AUTH", "admin", "guess"],
        vec!["HELLO", "3", "AUTH", "admin", "guess"],
        vec!["MULTI"],
    ]
}

/// Reads everything `r` receives, for as long as the test runs.
fn collect(mut r: Raw) -> std::sync::Arc<parking_lot::Mutex<Vec<u8>>> {
    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        loop {
            let chunk = r.drain(Duration::from_millis(20)).await;
            sink.lock().extend_from_slice(&chunk);
        }
    });
    seen
}

/// Runs one command as the worker on a fresh connection; returns its
/// reply (or nothing for a command that blocks or closes).
async fn as_worker(srv: &TestServer, args: &[&str]) -> Vec<u8> {
    let mut r = worker(srv).await;
    // May fail (an earlier step may have set DB 2's own maxmemory).
    r.call(&[b"SET", b"own:str", b"mine"]).await;
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
    r.cmd(&a).await;
    let mut got = r
        .try_reply(Duration::from_millis(250))
        .await
        .unwrap_or_default();
    // A MULTI leaves the connection queueing: run the attack inside it too.
    if args == ["MULTI"] {
        for attack in [&["FLUSHALL"][..], &["SELECT", "0"], &["SWAPDB", "0", "2"]] {
            let a: Vec<&[u8]> = attack.iter().map(|x| x.as_bytes()).collect();
            got.extend(r.call(&a).await);
        }
        got.extend(r.call(&[b"EXEC"]).await);
    }
    got
}

#[tokio::test]
async fn a_pinned_worker_cannot_reach_outside_its_database() {
    let srv = start_with(config()).await;
    let mut adm = admin(&srv).await;
    ok(&mut adm, &["CLIENT", "SETNAME", "admin-conn"]).await;
    seed_other(&mut adm, "0").await;
    seed_other(&mut adm, "5").await;
    ok(&mut adm, &["SELECT", "0"]).await;
    ok(&mut adm, &["SCRIPT", "LOAD", "return 'VALUE0-script'"]).await;
    ok(
        &mut adm,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib0\nredis.register_function('fn0', function() return 'VALUE0-function' end)",
        ],
    )
    .await;
    let mut sub0 = admin(&srv).await;
    ok(&mut sub0, &["SUBSCRIBE", "chan0"]).await;

    // Long-lived listeners of the worker: MONITOR, and subscriptions to
    // the other tenant's channel name and every pattern.
    // They are read all along, so their output buffers never fill.
    let mut monitor = login(&srv, "watcher", WORKER_PW).await;
    ok(&mut monitor, &["MONITOR"]).await;
    let monitor = collect(monitor);
    let mut listener = login(&srv, "watcher", WORKER_PW).await;
    ok(&mut listener, &["SUBSCRIBE", "chan0"]).await;
    ok(&mut listener, &["PSUBSCRIBE", "*"]).await;
    let listener = collect(listener);

    let before = digest(&srv).await;

    let mut tried = 0;
    for cmd in &REGISTRY.commands {
        if cmd.spec.handler.is_none() {
            continue;
        }
        let arity = cmd.spec.arity.unsigned_abs() as usize;
        let words: Vec<&str> = cmd.fullname.split('|').collect();
        let extra = arity.saturating_sub(words.len());
        for shape in shapes(extra) {
            let mut args = words.clone();
            args.extend(shape);
            let reply = as_worker(&srv, &args).await;
            assert_no_secret(&format!("{args:?}"), &reply);
            tried += 1;
        }
    }
    for attack in attacks() {
        let reply = as_worker(&srv, &attack).await;
        assert_no_secret(&format!("{attack:?}"), &reply);
        tried += 1;
    }
    assert!(tried > 500, "the walk ran only {tried} commands");

    // The other tenants' world is exactly as it was.
    let after = digest(&srv).await;
    assert_eq!(before, after, "the pinned worker changed another DB");

    // What the admin does in DB 0 meanwhile never reaches the worker's
    // listeners, and neither does another user's login.
    ok(&mut adm, &["SELECT", "0"]).await;
    ok(&mut adm, &["GET", "hidden0:str"]).await;
    ok(&mut adm, &["PUBLISH", "chan0", "VALUE0-message"]).await;
    let _relogin = admin(&srv).await;
    let mut w = worker(&srv).await;
    ok(&mut w, &["SET", "own:monitored", "1"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = monitor.lock().clone();
    assert_no_secret("MONITOR", &seen);
    assert!(
        s(&seen).contains("own:monitored"),
        "MONITOR shows the worker its own DB: {}",
        s(&seen)
    );
    let heard = listener.lock().clone();
    assert_no_secret("Pub/Sub", &heard);

    // Introspection shows only the worker's own world.
    for probe in [
        &["SLOWLOG", "GET", "-1"][..],
        &["CLIENT", "LIST"],
        &["ACL", "LIST"],
        &["ACL", "USERS"],
        &["ACL", "LOG"],
        &["INFO", "everything"],
        &["CONFIG", "GET", "*"],
    ] {
        let reply = as_worker(&srv, probe).await;
        assert_no_secret(&format!("{probe:?}"), &reply);
    }
    let info = s(&as_worker(&srv, &["INFO", "everything"]).await);
    for line in info.lines() {
        assert!(
            !line.starts_with("db0:") && !line.starts_with("db5:") && !line.starts_with("cmdstat_"),
            "INFO shows the worker another tenant's figures: {line}"
        );
    }
    assert!(info.contains("db2:"), "INFO shows the worker its own DB");
    let users = s(&as_worker(&srv, &["ACL", "USERS"]).await);
    assert_eq!(users, "*1\r\n$6\r\nworker\r\n");
    assert_eq!(
        s(&as_worker(&srv, &["ACL", "WHOAMI"]).await),
        "$6\r\nworker\r\n"
    );
    let me = s(&as_worker(&srv, &["ACL", "GETUSER", "worker"]).await);
    assert!(me.contains("db=2") || me.contains("$1\r\n2\r\n"), "{me}");
    assert!(s(&as_worker(&srv, &["CLIENT", "LIST"]).await).contains("user=worker"));
}

#[tokio::test]
async fn server_scope_refusals_are_noperm_and_logged() {
    let srv = start_with(config()).await;
    let mut w = worker(&srv).await;
    for (args, name) in [
        (
            &["ACL", "SETUSER", "evil", "on", ">x", "alldbs"][..],
            "acl|setuser",
        ),
        (&["ACL", "DELUSER", "admin"], "acl|deluser"),
        (&["ACL", "GETUSER", "admin"], "acl|getuser"),
        (&["ACL", "DRYRUN", "admin", "GET", "x"], "acl|dryrun"),
        (&["ACL", "LOG", "RESET"], "acl|log"),
        (&["CONFIG", "SET", "requirepass", "x"], "config|set"),
        (&["CONFIG", "RESETSTAT"], "config|resetstat"),
        (&["SHUTDOWN", "NOSAVE"], "shutdown"),
        (&["SLOWLOG", "RESET"], "slowlog|reset"),
        (&["SCRIPT", "FLUSH"], "script|flush"),
    ] {
        let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
        let reply = s(&w.call(&a).await);
        // SCRIPT FLUSH is allowed under script-scope db; the rest never.
        if name == "script|flush" {
            assert_eq!(reply, "+OK\r\n", "{args:?}");
            continue;
        }
        assert_eq!(
            reply,
            format!(
                "-NOPERM User worker is restricted to its databases and '{name}' acts outside them\r\n"
            ),
            "{args:?}"
        );
    }
    // Its own DB's eviction policy and its own identity stay reachable;
    // the memory limit the operator set is not the tenant's to lift.
    assert_eq!(
        s(
            &w.call(&[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lru"])
                .await
        ),
        "+OK\r\n"
    );
    assert_eq!(
        s(&w.call(&[b"CONFIG", b"GET", b"maxmemory-policy"]).await),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    assert!(s(&w.call(&[b"CONFIG", b"SET", b"maxmemory", b"0"]).await).starts_with("-NOPERM"));
    assert!(s(&w.call(&[b"ACL", b"DRYRUN", b"worker", b"GET", b"x"]).await).starts_with("+OK"));
    // Its CONFIG GET does not read the server's secrets.
    assert_eq!(
        s(&w.call(&[b"CONFIG", b"GET", b"requirepass"]).await),
        "*0\r\n"
    );

    let mut adm = admin(&srv).await;
    // Another DB's policy was not touched by the worker's CONFIG SET.
    assert_eq!(
        s(&adm.call(&[b"CONFIG", b"GET", b"maxmemory-policy"]).await),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"
    );
    let log = s(&adm.call(&[b"ACL", b"LOG"]).await);
    for name in [
        "acl|setuser",
        "acl|deluser",
        "config|set",
        "shutdown",
        "slowlog|reset",
    ] {
        assert!(
            log.contains(&format!("$6\r\nobject\r\n${}\r\n{name}\r\n", name.len())),
            "ACL LOG has no entry for {name}: {log}"
        );
    }
    assert!(log.contains("$6\r\nreason\r\n$8\r\ndatabase\r\n"), "{log}");
    assert!(log.contains("$8\r\nusername\r\n$6\r\nworker\r\n"), "{log}");
    // The worker reads only its own entries, and cannot reset them.
    let own = s(&w.call(&[b"ACL", b"LOG"]).await);
    assert!(
        own.contains("worker") && !own.contains("$5\r\nadmin\r\n"),
        "{own}"
    );
    // The server is still up and the admin still exists.
    assert!(s(&adm.call(&[b"ACL", b"USERS"]).await).contains("admin"));
    assert_eq!(
        s(&adm.call(&[b"INFO", b"stats"]).await)
            .lines()
            .find(|l| l.starts_with("acl_access_denied_database:"))
            .map(str::to_string),
        Some("acl_access_denied_database:10".into())
    );
}

/// With `default` off and no other rules (an aclfile's `user default off`),
/// AUTH and HELLO … AUTH still log in as another user: Redis skips the
/// command check for no-auth commands.
#[tokio::test]
async fn auth_and_hello_need_no_command_permission() {
    let srv = start_with(config()).await;
    let mut r = srv.raw().await;
    assert_eq!(
        s(&r.call(&[b"PING"]).await),
        "-NOAUTH Authentication required.\r\n"
    );
    let hello = s(&r
        .call(&[b"HELLO", b"2", b"AUTH", b"worker", WORKER_PW.as_bytes()])
        .await);
    assert!(hello.starts_with("*14\r\n"), "{hello}");
    // The worker lands in its own DB at once.
    let info = s(&r.call(&[b"CLIENT", b"INFO"]).await);
    assert!(info.contains(" db=2 "), "{info}");
    let mut r2 = srv.raw().await;
    assert_eq!(
        s(&r2.call(&[b"AUTH", b"admin", ADMIN_PW.as_bytes()]).await),
        "+OK\r\n"
    );
}

/// MONITOR and SLOWLOG show secrets as `(redacted)`, as Redis 7 does.
#[tokio::test]
async fn monitor_and_slowlog_redact_secrets() {
    let srv = start_with(config()).await;
    let mut adm = admin(&srv).await;
    let mut mon = admin(&srv).await;
    ok(&mut mon, &["MONITOR"]).await;
    let mut other = srv.raw().await;
    other.call(&[b"AUTH", b"admin", ADMIN_PW.as_bytes()]).await;
    other.call(&[b"AUTH", b"nobody-pw"]).await;
    other
        .call(&[
            b"HELLO",
            b"2",
            b"AUTH",
            b"admin",
            ADMIN_PW.as_bytes(),
            b"SETNAME",
            b"n1",
        ])
        .await;
    other
        .call(&[b"ACL", b"SETUSER", b"someone", b"on", b">sekrit-pw", b"~*"])
        .await;
    other
        .call(&[
            b"CONFIG",
            b"SET",
            b"requirepass",
            b"sekrit-pw",
            b"timeout",
            b"0",
        ])
        .await;
    let seen = s(&mon.drain(Duration::from_millis(300)).await);
    assert!(
        !seen.contains(ADMIN_PW) && !seen.contains("sekrit") && !seen.contains("nobody-pw"),
        "{seen}"
    );
    assert!(
        seen.contains(r#""AUTH" "(redacted)" "(redacted)""#),
        "{seen}"
    );
    assert!(seen.contains(r#""AUTH" "(redacted)""#), "{seen}");
    assert!(
        seen.contains(r#""HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n1""#),
        "{seen}"
    );
    let slow = s(&adm.call(&[b"SLOWLOG", b"GET", b"-1"]).await);
    assert!(
        !slow.contains(ADMIN_PW) && !slow.contains("sekrit"),
        "{slow}"
    );
    let setuser = format!("$7\r\nSETUSER\r\n{}", "$10\r\n(redacted)\r\n".repeat(4));
    assert!(slow.contains(&setuser), "{slow}");
    assert!(
        slow.contains("$11\r\nrequirepass\r\n$10\r\n(redacted)\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"),
        "{slow}"
    );
}

/// The redacted MONITOR lines and SLOWLOG arguments have Redis's shape
/// (Debian's redis-server 7.0 as the oracle).
#[tokio::test]
async fn redaction_matches_redis() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let srv = crate::support::start().await;
    let script: &[&[&[u8]]] = &[
        &[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"],
        &[b"ACL", b"SETUSER", b"u1", b"on", b">pw1", b"~*", b"+@all"],
        &[b"AUTH", b"u1", b"pw1"],
        &[b"AUTH", b"u1", b"wrong"],
        &[b"HELLO", b"2", b"AUTH", b"u1", b"pw1"],
        &[b"CONFIG", b"SET", b"requirepass", b"pw2"],
        &[b"AUTH", b"pw2"],
        &[b"CONFIG", b"SET", b"requirepass", b""],
        &[b"SET", b"k", b"v"],
    ];
    let mut lines = Vec::new();
    let mut slowlogs = Vec::new();
    for addr in [srv.addr, oracle.addr] {
        let mut mon = Raw::connect(addr).await;
        mon.call(&[b"MONITOR"]).await;
        let mut r = Raw::connect(addr).await;
        r.call(&[b"SLOWLOG", b"RESET"]).await;
        for cmd in script {
            r.call(cmd).await;
        }
        let seen = s(&mon.drain(Duration::from_millis(300)).await);
        // `+<time> [<db> <addr>] "args"`: keep the arguments.
        let args: Vec<String> = seen
            .lines()
            .filter_map(|l| l.split_once("] ").map(|(_, a)| a.to_string()))
            .collect();
        lines.push(args);
        let slow = r.call(&[b"SLOWLOG", b"GET", b"-1"]).await;
        // The argument arrays only: drop ids, times, durations, addresses.
        let text = s(&slow);
        let mut argsets: Vec<String> = text
            .split("*6\r\n")
            .skip(1)
            .map(|e| {
                e.lines()
                    .skip(3)
                    .take_while(|l| !l.contains("127.0.0.1"))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        argsets.sort();
        slowlogs.push(argsets);
    }
    assert_eq!(
        lines[0], lines[1],
        "MONITOR lines differ from redis-server's"
    );
    assert_eq!(
        slowlogs[0], slowlogs[1],
        "SLOWLOG arguments differ from redis-server's"
    );
}

#[tokio::test]
async fn failed_auths_are_counted_and_slowed() {
    let srv = start_with(config()).await;
    let mut adm = admin(&srv).await;
    ok(&mut adm, &["CONFIG", "SET", "auth-fail-delay", "100"]).await;
    let mut r = srv.raw().await;
    let start = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(
            s(&r.call(&[b"AUTH", b"worker", b"guess"]).await),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
    }
    // The first failure is answered at once, then 100 ms, then 200 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    r.call(&[b"AUTH", b"no-such-user", b"guess"]).await;
    let auth = s(&adm.call(&[b"INFO", b"auth"]).await);
    assert!(auth.contains("auth_failures:4\r\n"), "{auth}");
    assert!(auth.contains("user_worker:failures=3\r\n"), "{auth}");
    assert!(!auth.contains("no-such-user"), "{auth}");
    assert!(
        auth.contains("addr_127.0.0.1:failures=4,delayed=2\r\n"),
        "{auth}"
    );
    let stats = s(&adm.call(&[b"INFO", b"stats"]).await);
    assert!(stats.contains("acl_access_denied_auth:4\r\n"), "{stats}");
    // A pinned user sees only its own user's line.
    let mut w = worker(&srv).await;
    let mine = s(&w.call(&[b"INFO", b"auth"]).await);
    assert!(
        mine.contains("user_worker:failures=3") && !mine.contains("addr_"),
        "{mine}"
    );
    // Off by default: no delay at all.
    ok(&mut adm, &["CONFIG", "SET", "auth-fail-delay", "0"]).await;
    let start = std::time::Instant::now();
    for _ in 0..5 {
        r.call(&[b"AUTH", b"worker", b"guess"]).await;
    }
    assert!(start.elapsed() < Duration::from_millis(250));
}

/// Every tenant's scripts run in one Lua state: nothing a script reaches
/// may keep a change for another tenant's scripts (the sandbox's raw
/// functions cannot write to the shared tables).
#[tokio::test]
async fn a_script_cannot_tamper_with_another_tenants_scripts() {
    let mut c = config();
    c.users
        .push(user("other", &format!("on >{WORKER_PW} db=1 ~* &* +@all")));
    let srv = start_with(c).await;
    let mut w = worker(&srv).await;
    for attack in [
        "local rc=redis.call; rawset(redis,'call',function(...) rawset(_G,'loot',{...}); return rc(...) end) return 1",
        "rawset(_G, 'loot', {}) return 1",
        "getfenv(0).loot = {} return 1",
        "rawset(getfenv(0), 'loot', {}) return 1",
        "getmetatable('').__index.len = function() return 99 end return 1",
        "rawset(getmetatable('').__index, 'len', function() return 99 end) return 1",
        "rawset(string, 'len', function() return 99 end) return 1",
        "setfenv(0, {}) return 1",
        "loadstring('loot = 1')() return 1",
        "rawset(cjson, 'encode', function() return 'x' end) return 1",
    ] {
        let reply = s(&w.call(&[b"EVAL", attack.as_bytes(), b"0"]).await);
        assert!(reply.starts_with("-ERR"), "{attack}: {reply}");
    }
    // The other tenant's scripts are untouched.
    let mut o = login(&srv, "other", WORKER_PW).await;
    assert_eq!(
        s(&o.call(&[
            b"EVAL",
            b"redis.call('set','secret','s3cr3t') return string.len('abc')",
            b"0"
        ])
        .await),
        ":3\r\n"
    );
    let loot = s(&w
        .call(&[
            b"EVAL",
            b"return rawget(_G, 'loot') == nil and 1 or 0",
            b"0",
        ])
        .await);
    assert_eq!(loot, ":1\r\n");
    assert_eq!(s(&w.call(&[b"EXISTS", b"secret"]).await), ":0\r\n");
    // Reading through the sandbox still works as in Redis.
    assert_eq!(
        s(
            &w.call(&[b"EVAL", b"return type(getmetatable('').__index.len)", b"0"])
                .await
        ),
        "$8\r\nfunction\r\n"
    );
}
