//! Integration tests: DEBUG behind `enable-debug-command` (Redis 7's
//! refusal by default, `local` for loopback clients, refused to pinned
//! tenants) and its subcommands.

use keyward::config::UserConfig;
use keyward::Config;

use crate::support::{diff_lines, start_with, temp_dir};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn debug_config(v: &str) -> Config {
    let mut c = Config::default();
    c.accepted.insert("enable-debug-command", v.into());
    c
}

/// Refused by default with Redis 7's text, whatever the subcommand.
#[tokio::test]
async fn differential_debug_is_refused_by_default() {
    diff_lines(&[
        "DEBUG SLEEP 0",
        "DEBUG HELP",
        "DEBUG DIGEST",
        "DEBUG",
        "CONFIG GET enable-debug-command",
    ])
    .await;
}

#[tokio::test]
async fn debug_local_allows_loopback_and_yes_runs_the_subcommands() {
    // The test client connects over loopback: `local` lets it in.
    let srv = start_with(debug_config("local")).await;
    let mut r = srv.raw().await;
    assert_eq!(r.call_str("DEBUG SLEEP 0").await, b"+OK\r\n");
    assert_eq!(
        r.call_str("CONFIG GET enable-debug-command").await,
        b"*2\r\n$20\r\nenable-debug-command\r\n$5\r\nlocal\r\n"
    );
    let srv = start_with(debug_config("yes")).await;
    let mut r = srv.raw().await;
    // DIGEST: zeros when empty, stable for the same data, changes with it.
    assert_eq!(
        s(&r.call_str("DEBUG DIGEST").await),
        format!("+{}\r\n", "0".repeat(40))
    );
    r.call_str("SET a 1").await;
    r.call_str("RPUSH l x y z").await;
    let d1 = s(&r.call_str("DEBUG DIGEST").await);
    assert_eq!(d1.len(), 43, "{d1}");
    assert_eq!(s(&r.call_str("DEBUG DIGEST").await), d1);
    let v = s(&r.call_str("DEBUG DIGEST-VALUE a l nosuch").await);
    assert!(v.starts_with("*3\r\n+"), "{v}");
    assert!(v.ends_with(&format!("+{}\r\n", "0".repeat(40))), "{v}");
    r.call_str("SET a 2").await;
    assert_ne!(s(&r.call_str("DEBUG DIGEST").await), d1);
    // OBJECT: Redis's line.
    let o = s(&r.call_str("DEBUG OBJECT l").await);
    assert!(
        o.starts_with("+Value at:0x")
            && o.contains(" refcount:1 encoding:listpack serializedlength:"),
        "{o}"
    );
    assert!(
        o.contains(" lru:") && o.contains(" lru_seconds_idle:"),
        "{o}"
    );
    assert_eq!(
        s(&r.call_str("DEBUG OBJECT nosuch").await),
        "-ERR no such key\r\n"
    );
    assert_eq!(
        r.call_str("DEBUG LISTPACK l").await,
        b"+Listpack structure printed on stdout\r\n"
    );
    assert!(s(&r.call_str("DEBUG LISTPACK a").await).starts_with("-ERR The value stored"));
    // PROTOCOL, in RESP2 then RESP3.
    assert_eq!(r.call_str("DEBUG PROTOCOL integer").await, b":12345\r\n");
    assert_eq!(
        r.call_str("DEBUG PROTOCOL double").await,
        b"$5\r\n3.141\r\n"
    );
    assert_eq!(r.call_str("DEBUG PROTOCOL true").await, b":1\r\n");
    assert_eq!(r.call_str("DEBUG PROTOCOL null").await, b"$-1\r\n");
    r.call_str("HELLO 3").await;
    assert_eq!(r.call_str("DEBUG PROTOCOL double").await, b",3.141\r\n");
    assert_eq!(
        r.call_str("DEBUG PROTOCOL bignum").await,
        b"(1234567999999999999999999999999999999\r\n"
    );
    assert_eq!(
        r.call_str("DEBUG PROTOCOL map").await,
        b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"
    );
    assert_eq!(
        r.call_str("DEBUG PROTOCOL set").await,
        b"~3\r\n:0\r\n:1\r\n:2\r\n"
    );
    assert_eq!(r.call_str("DEBUG PROTOCOL false").await, b"#f\r\n");
    assert!(
        s(&r.call_str("DEBUG PROTOCOL nosuch").await).starts_with("-ERR Wrong protocol type name")
    );
    r.call_str("HELLO 2").await;
    assert_eq!(
        r.call_str("DEBUG QUICKLIST-PACKED-THRESHOLD 100").await,
        b"+OK\r\n"
    );
    assert!(s(&r.call_str("DEBUG QUICKLIST-PACKED-THRESHOLD x").await)
        .starts_with("-ERR argument must be"));
    assert_eq!(
        r.call_str("DEBUG STRINGMATCH-LEN").await,
        b"+Apparently Redis did not crash: test passed\r\n"
    );
    assert_eq!(r.call_str("DEBUG CHANGE-REPL-ID").await, b"+OK\r\n");
    assert!(s(&r.call_str("DEBUG HELP").await).starts_with("*"));
    assert_eq!(
        s(&r.call_str("DEBUG NOSUCH").await),
        "-ERR unknown subcommand or wrong number of arguments for 'NOSUCH'. Try DEBUG HELP.\r\n"
    );
}

#[tokio::test]
async fn debug_set_active_expire_stops_the_cycle() {
    let srv = start_with(debug_config("yes")).await;
    let mut r = srv.raw().await;
    assert_eq!(r.call_str("DEBUG SET-ACTIVE-EXPIRE 0").await, b"+OK\r\n");
    r.call_str("SET k v PX 1").await;
    srv.handle.shared().clock.advance_ms(1000);
    // Cron ticks (10 a second) leave it: DBSIZE still counts it.
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        assert_eq!(r.call_str("DBSIZE").await, b":1\r\n");
    }
    assert_eq!(r.call_str("DEBUG SET-ACTIVE-EXPIRE 1").await, b"+OK\r\n");
    for _ in 0..500 {
        if r.call_str("DBSIZE").await == b":0\r\n" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the active cycle never expired the key");
}

#[tokio::test]
async fn debug_reload_saves_and_loads_back() {
    let dir = temp_dir("debug-reload");
    let mut c = debug_config("yes");
    c.persistence = true;
    c.dir = dir.clone();
    c.save = String::new();
    let srv = start_with(c).await;
    let mut r = srv.raw().await;
    r.call_str("SET a 1").await;
    r.call_str("HSET h f v").await;
    r.call_str("SELECT 3").await;
    r.call_str("SADD s x").await;
    let before = s(&r.call_str("DEBUG DIGEST").await);
    assert_eq!(r.call_str("DEBUG RELOAD").await, b"+OK\r\n");
    assert_eq!(s(&r.call_str("DEBUG DIGEST").await), before);
    assert_eq!(r.call_str("SMEMBERS s").await, b"*1\r\n$1\r\nx\r\n");
    // The keys loaded back are no changes to save, as in Redis.
    let info = s(&r.call_str("INFO persistence").await);
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
    // NOSAVE: what the file holds replaces what changed since.
    r.call_str("SADD s y").await;
    assert_eq!(r.call_str("DEBUG RELOAD NOSAVE").await, b"+OK\r\n");
    assert_eq!(s(&r.call_str("DEBUG DIGEST").await), before);
    assert!(s(&r.call_str("DEBUG RELOAD BAD").await).starts_with("-ERR DEBUG RELOAD only supports"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn debug_is_refused_to_a_pinned_tenant_even_when_enabled() {
    let mut c = debug_config("yes");
    c.users = vec![UserConfig {
        name: "worker".into(),
        password_env: None,
        rules: "on >pw db=2 ~* &* +@all".into(),
        words: None,
        password: None,
    }];
    let srv = start_with(c).await;
    let mut w = srv.raw().await;
    w.call_str("AUTH worker pw").await;
    for line in [
        "DEBUG SLEEP 0",
        "DEBUG DIGEST",
        "DEBUG RELOAD",
        "DEBUG SET-ACTIVE-EXPIRE 0",
    ] {
        assert!(
            s(&w.call_str(line).await).starts_with("-NOPERM User worker is restricted"),
            "{line}"
        );
    }
}
