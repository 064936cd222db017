//! Generic (keyspace) group: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX,
//! EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME,
//! PERSIST, KEYS, SCAN, RANDOMKEY, TOUCH, MOVE, SWAPDB, COPY, OBJECT.

use std::collections::HashSet;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, RedisResult};

use crate::support::{self, start, Raw};

async fn q<T: FromRedisValue>(c: &mut MultiplexedConnection, args: &[&str]) -> T {
    try_q(c, args)
        .await
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

async fn try_q<T: FromRedisValue>(c: &mut MultiplexedConnection, args: &[&str]) -> RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c).await
}

async fn err(c: &mut MultiplexedConnection, args: &[&str]) -> String {
    match try_q::<redis::Value>(c, args).await {
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// A boxed call: keeps `Raw::reply`'s 64 KiB read chunk out of the test's
/// own future, which in debug builds otherwise grows with every call site
/// until it overflows the test thread's stack.
async fn call(raw: &mut Raw, line: &str) -> Vec<u8> {
    Box::pin(raw.call_str(line)).await
}

/// Every key of the selected DB through a full SCAN iteration.
async fn scan_all(raw: &mut Raw, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let line = args.join(" ");
        let reply = call(raw, &line).await;
        let (next, batch) = parse_scan(&reply);
        keys.extend(batch);
        calls += 1;
        cursor = next;
        if cursor == "0" {
            return (keys, calls);
        }
    }
}

/// Splits a RESP2 SCAN reply into cursor and keys.
fn parse_scan(reply: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(reply);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "*2", "{text}");
    let cursor = lines[2].to_string();
    let n: usize = lines[3][1..].parse().expect("key count");
    let keys = (0..n).map(|i| lines[5 + 2 * i].to_string()).collect();
    (cursor, keys)
}

#[tokio::test]
async fn del_unlink_exists_touch_type() {
    let s = start().await;
    let mut c = s.client().await;
    let _: () = q(&mut c, &["SET", "a", "1"]).await;
    let _: () = q(&mut c, &["SET", "b", "hello"]).await;
    assert_eq!(
        q::<i64>(&mut c, &["EXISTS", "a", "b", "a", "nope"]).await,
        3
    );
    assert_eq!(q::<i64>(&mut c, &["TOUCH", "a", "nope", "b"]).await, 2);
    assert_eq!(q::<String>(&mut c, &["TYPE", "a"]).await, "string");
    assert_eq!(q::<String>(&mut c, &["TYPE", "nope"]).await, "none");
    assert_eq!(q::<i64>(&mut c, &["DEL", "a", "a", "nope"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["UNLINK", "b", "nope"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a", "b"]).await, 0);
    assert!(err(&mut c, &["UNLINK"])
        .await
        .contains("wrong number of arguments"));
    let mut raw = s.raw().await;
    // TYPE answers with a status reply, not a bulk string.
    assert_eq!(call(&mut raw, "TYPE nope").await, b"+none\r\n");
}

#[tokio::test]
async fn ttl_pttl_expiretime_follow_the_clock() {
    let s = start().await;
    let mut c = s.client().await;
    let _: () = q(&mut c, &["SET", "k", "v"]).await;
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await, -1);
    assert_eq!(q::<i64>(&mut c, &["PTTL", "k"]).await, -1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRETIME", "k"]).await, -1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "missing"]).await, -2);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "missing"]).await, -2);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await, 100);
    let pttl: i64 = q(&mut c, &["PTTL", "k"]).await;
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    let at: i64 = q(&mut c, &["PEXPIRETIME", "k"]).await;
    assert_eq!(
        q::<i64>(&mut c, &["EXPIRETIME", "k"]).await,
        (at + 500) / 1000
    );

    s.handle.advance_clock(Duration::from_secs(60));
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await, 40);
    assert_eq!(q::<i64>(&mut c, &["PEXPIRETIME", "k"]).await, at);

    // Lazy expiry: the key is gone on the next access.
    s.handle.advance_clock(Duration::from_secs(41));
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "k"]).await, None);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await, -2);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]).await, 0);

    // Absolute forms are exact.
    let _: () = q(&mut c, &["SET", "abs", "v"]).await;
    assert_eq!(
        q::<i64>(&mut c, &["PEXPIREAT", "abs", "4000000000123"]).await,
        1
    );
    assert_eq!(
        q::<i64>(&mut c, &["PEXPIRETIME", "abs"]).await,
        4_000_000_000_123
    );
    // EXPIRETIME rounds to the nearest second, like TTL.
    assert_eq!(
        q::<i64>(&mut c, &["EXPIRETIME", "abs"]).await,
        4_000_000_000
    );
    assert_eq!(
        q::<i64>(&mut c, &["EXPIREAT", "abs", "4000000001"]).await,
        1
    );
    assert_eq!(
        q::<i64>(&mut c, &["PEXPIRETIME", "abs"]).await,
        4_000_000_001_000
    );
    assert_eq!(q::<i64>(&mut c, &["PEXPIRE", "abs", "5000"]).await, 1);
    let pttl: i64 = q(&mut c, &["PTTL", "abs"]).await;
    assert!((4_000..=5_000).contains(&pttl), "{pttl}");
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "abs"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "abs"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["PERSIST", "missing"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["TTL", "abs"]).await, -1);
}

#[tokio::test]
async fn expire_options_and_past_times() {
    let s = start().await;
    let mut c = s.client().await;
    let _: () = q(&mut c, &["SET", "k", "v"]).await;
    // No TTL counts as infinite: GT fails, LT succeeds, XX fails, NX succeeds.
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "GT"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "XX"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "100", "NX"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "200", "NX"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "50", "GT"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "200", "gt"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await, 200);
    assert_eq!(
        q::<i64>(&mut c, &["EXPIRE", "k", "300", "XX", "LT"]).await,
        0
    );
    assert_eq!(
        q::<i64>(&mut c, &["EXPIRE", "k", "150", "xx", "lt"]).await,
        1
    );
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).await, 150);
    assert!(err(&mut c, &["EXPIRE", "k", "1", "NX", "XX"])
        .await
        .contains("NX and XX, GT or LT options at the same time are not compatible"));
    assert!(err(&mut c, &["EXPIRE", "k", "1", "GT", "LT"])
        .await
        .contains("GT and LT options at the same time are not compatible"));
    assert!(err(&mut c, &["PEXPIRE", "k", "1", "FOO"])
        .await
        .contains("Unsupported option FOO"));
    assert!(err(&mut c, &["EXPIRE", "k", "9223372036854775807"])
        .await
        .contains("invalid expire time in 'expire' command"));
    assert!(err(&mut c, &["PEXPIRE", "k", "9223372036854775000"])
        .await
        .contains("invalid expire time in 'pexpire' command"));
    assert!(err(&mut c, &["EXPIREAT", "k", "9223372036854775807"])
        .await
        .contains("invalid expire time in 'expireat' command"));
    // A time in the past deletes the key and still answers 1.
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "-1"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]).await, 0);
    let _: () = q(&mut c, &["SET", "k", "v"]).await;
    assert_eq!(q::<i64>(&mut c, &["PEXPIREAT", "k", "1"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "k", "10"]).await, 0);
    // The accounting saw the TTL come and go.
    let db = s.handle.shared().keyspace.lock(0);
    assert_eq!(db.volatile(), 0);
    assert_eq!(db.entry_memory(), db.recount_memory());
}

#[tokio::test]
async fn active_expiry_removes_keys_without_access() {
    let s = start().await;
    let mut c = s.client().await;
    for i in 0..200 {
        let _: () = q(&mut c, &["SET", &format!("v{i}"), "x", "PX", "1000"]).await;
    }
    for i in 0..10 {
        let _: () = q(&mut c, &["SET", &format!("p{i}"), "x"]).await;
    }
    let mut raw = s.raw().await;
    assert_eq!(call(&mut raw, "DBSIZE").await, b":210\r\n");
    s.handle.advance_clock(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The cron runs every 100 ms; allow a loaded machine some slack.
    for _ in 0..30 {
        if call(&mut raw, "DBSIZE").await == b":10\r\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(call(&mut raw, "DBSIZE").await, b":10\r\n");
    let db = s.handle.shared().keyspace.lock(0);
    assert_eq!(db.volatile(), 0);
    assert!(db.stats.expired >= 200);
}

#[tokio::test]
async fn rename_and_renamenx_keep_the_ttl() {
    let s = start().await;
    let mut c = s.client().await;
    let _: () = q(&mut c, &["SET", "a", "va"]).await;
    assert_eq!(q::<i64>(&mut c, &["EXPIRE", "a", "1000"]).await, 1);
    let _: () = q(&mut c, &["RENAME", "a", "b"]).await;
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "a"]).await, 0);
    assert_eq!(q::<String>(&mut c, &["GET", "b"]).await, "va");
    assert_eq!(q::<i64>(&mut c, &["TTL", "b"]).await, 1000);
    // Overwrite: the destination's old value and TTL are gone.
    let _: () = q(&mut c, &["SET", "c", "vc", "EX", "50"]).await;
    let _: () = q(&mut c, &["SET", "d", "7"]).await;
    let _: () = q(&mut c, &["RENAME", "d", "c"]).await;
    assert_eq!(q::<i64>(&mut c, &["GET", "c"]).await, 7);
    assert_eq!(q::<i64>(&mut c, &["TTL", "c"]).await, -1);
    // Renaming to itself is a no-op that still needs the key.
    let _: () = q(&mut c, &["RENAME", "c", "c"]).await;
    assert!(err(&mut c, &["RENAME", "nope", "x"])
        .await
        .contains("no such key"));
    assert!(err(&mut c, &["RENAMENX", "nope", "x"])
        .await
        .contains("no such key"));
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "b", "c"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "c", "c"]).await, 0);
    assert_eq!(q::<i64>(&mut c, &["RENAMENX", "b", "e"]).await, 1);
    assert_eq!(q::<i64>(&mut c, &["TTL", "e"]).await, 1000);
    // A renamed key still expires.
    s.handle.advance_clock(Duration::from_secs(1001));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "e"]).await, 0);
    let db = s.handle.shared().keyspace.lock(0);
    assert_eq!(db.volatile(), 0);
    assert_eq!(db.entry_memory(), db.recount_memory());
}

#[tokio::test]
async fn scan_returns_every_key_of_10k() {
    let s = start().await;
    let mut c = s.client().await;
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query_async(&mut c).await.unwrap();
    let mut raw = s.raw().await;
    let (keys, calls) = scan_all(&mut raw, &["COUNT", "100"]).await;
    let set: HashSet<String> = keys.iter().cloned().collect();
    assert_eq!(set.len(), 10_000);
    for i in 0..10_000 {
        assert!(set.contains(&format!("key:{i}")), "missed key:{i}");
    }
    assert!((50..=200).contains(&calls), "{calls} calls");
    // With the default COUNT of 10.
    let (keys, _) = scan_all(&mut raw, &[]).await;
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 10_000);
}

#[tokio::test]
async fn scan_sees_stable_keys_while_the_db_grows() {
    let s = start().await;
    let mut raw = s.raw().await;
    let mut writer = s.raw().await;
    for i in 0..3_000 {
        call(&mut writer, &format!("SET old:{i} x")).await;
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let reply = call(&mut raw, &format!("SCAN {cursor} COUNT 50")).await;
        let (next, keys) = parse_scan(&reply);
        seen.extend(keys);
        // Grow the table between steps so segments split mid-scan.
        for j in 0..100 {
            call(&mut writer, &format!("SET new:{step}:{j} x")).await;
        }
        step += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    for i in 0..3_000 {
        assert!(seen.contains(&format!("old:{i}")), "missed old:{i}");
    }
}

#[tokio::test]
async fn scan_match_type_count_and_errors() {
    let s = start().await;
    let mut raw = s.raw().await;
    for i in 0..100 {
        call(&mut raw, &format!("SET user:{i} x")).await;
        call(&mut raw, &format!("SET item:{i} y")).await;
    }
    let (keys, _) = scan_all(&mut raw, &["MATCH", "user:1*"]).await;
    let mut keys: Vec<String> = keys;
    keys.sort();
    let mut want: Vec<String> = (0..100)
        .map(|i| format!("user:{i}"))
        .filter(|k| k.starts_with("user:1"))
        .collect();
    want.sort();
    assert_eq!(keys, want);
    let (keys, _) = scan_all(&mut raw, &["TYPE", "STRING", "COUNT", "1000"]).await;
    assert_eq!(keys.len(), 200);
    let (keys, _) = scan_all(&mut raw, &["TYPE", "hash"]).await;
    assert!(keys.is_empty());
    let (keys, calls) = scan_all(&mut raw, &["MATCH", "*", "COUNT", "100000"]).await;
    assert_eq!((keys.len(), calls), (200, 1));
    // Expired keys are skipped even before anything removed them.
    call(&mut raw, "SET short x PX 100").await;
    s.handle.advance_clock(Duration::from_secs(1));
    let (keys, _) = scan_all(&mut raw, &["MATCH", "short"]).await;
    assert!(keys.is_empty());

    assert_eq!(call(&mut raw, "SCAN x").await, b"-ERR invalid cursor\r\n");
    assert_eq!(
        call(&mut raw, "SCAN 18446744073709551616").await,
        b"-ERR invalid cursor\r\n"
    );
    assert_eq!(
        call(&mut raw, "SCAN 0 COUNT 0").await,
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        call(&mut raw, "SCAN 0 COUNT x").await,
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        call(&mut raw, "SCAN 0 MATCH").await,
        b"-ERR syntax error\r\n"
    );
    // RESP3: the same array shape.
    call(&mut raw, "HELLO 3").await;
    let r = call(&mut raw, "SCAN 0 MATCH user:42").await;
    assert!(r.starts_with(b"*2\r\n$"), "{}", String::from_utf8_lossy(&r));
    assert!(r.ends_with(b"*1\r\n$7\r\nuser:42\r\n") || r.ends_with(b"*0\r\n"));
}

#[tokio::test]
async fn keys_globs_and_skips_expired() {
    let s = start().await;
    let mut c = s.client().await;
    for k in ["hello", "hallo", "hxllo", "heeeello", "world"] {
        let _: () = q(&mut c, &["SET", k, "1"]).await;
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let k: Vec<String> = q(&mut c, &["KEYS", "h?llo"]).await;
    assert_eq!(sorted(k), ["hallo", "hello", "hxllo"]);
    let k: Vec<String> = q(&mut c, &["KEYS", "h*llo"]).await;
    assert_eq!(sorted(k).len(), 4);
    let k: Vec<String> = q(&mut c, &["KEYS", "h[ae]llo"]).await;
    assert_eq!(sorted(k), ["hallo", "hello"]);
    let k: Vec<String> = q(&mut c, &["KEYS", "*"]).await;
    assert_eq!(k.len(), 5);
    let _: () = q(&mut c, &["SET", "temp", "1", "EX", "5"]).await;
    let k: Vec<String> = q(&mut c, &["KEYS", "t*"]).await;
    assert_eq!(k, ["temp"]);
    s.handle.advance_clock(Duration::from_secs(6));
    let k: Vec<String> = q(&mut c, &["KEYS", "*"]).await;
    assert_eq!(k.len(), 5);
    assert!(!k.contains(&"temp".to_string()));
}

#[tokio::test]
async fn randomkey_picks_a_live_key() {
    let s = start().await;
    let mut c = s.client().await;
    assert_eq!(q::<Option<String>>(&mut c, &["RANDOMKEY"]).await, None);
    let _: () = q(&mut c, &["SET", "only", "1"]).await;
    assert_eq!(q::<String>(&mut c, &["RANDOMKEY"]).await, "only");
    for i in 0..50 {
        let _: () = q(&mut c, &["SET", &format!("k{i}"), "1"]).await;
    }
    for _ in 0..20 {
        let k: String = q(&mut c, &["RANDOMKEY"]).await;
        assert!(k == "only" || k.starts_with('k'), "{k}");
    }
}

#[tokio::test]
async fn move_between_dbs() {
    let s = start().await;
    let mut raw = s.raw().await;
    call(&mut raw, "SET k v EX 1000").await;
    assert_eq!(call(&mut raw, "MOVE k 1").await, b":1\r\n");
    assert_eq!(call(&mut raw, "EXISTS k").await, b":0\r\n");
    assert_eq!(call(&mut raw, "MOVE k 1").await, b":0\r\n");
    assert_eq!(
        call(&mut raw, "MOVE k 0").await,
        b"-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(
        call(&mut raw, "MOVE k 16").await,
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        call(&mut raw, "MOVE k x").await,
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        call(&mut raw, "MOVE k 4294967296").await,
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    call(&mut raw, "SELECT 1").await;
    assert_eq!(call(&mut raw, "GET k").await, b"$1\r\nv\r\n");
    assert_eq!(call(&mut raw, "TTL k").await, b":1000\r\n");
    // The destination wins: nothing moves over an existing key.
    call(&mut raw, "SELECT 0").await;
    call(&mut raw, "SET k other").await;
    assert_eq!(call(&mut raw, "MOVE k 1").await, b":0\r\n");
    assert_eq!(call(&mut raw, "GET k").await, b"$5\r\nother\r\n");
    for i in [0, 1] {
        let db = s.handle.shared().keyspace.lock(i);
        assert_eq!(db.entry_memory(), db.recount_memory());
        assert_eq!(db.len(), 1);
    }
    assert_eq!(s.handle.shared().keyspace.lock(1).volatile(), 1);
}

#[tokio::test]
async fn swapdb_swaps_contents() {
    let s = start().await;
    let mut raw = s.raw().await;
    call(&mut raw, "SET a 1").await;
    call(&mut raw, "SET b 2 EX 100").await;
    call(&mut raw, "SELECT 3").await;
    call(&mut raw, "SET c 3").await;
    assert_eq!(call(&mut raw, "SWAPDB 0 3").await, b"+OK\r\n");
    // The connection stays on index 3, which now holds DB 0's keys.
    assert_eq!(call(&mut raw, "DBSIZE").await, b":2\r\n");
    assert_eq!(call(&mut raw, "TTL b").await, b":100\r\n");
    call(&mut raw, "SELECT 0").await;
    assert_eq!(call(&mut raw, "GET c").await, b"$1\r\n3\r\n");
    assert_eq!(call(&mut raw, "SWAPDB 0 0").await, b"+OK\r\n");
    assert_eq!(
        call(&mut raw, "SWAPDB 0 16").await,
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        call(&mut raw, "SWAPDB x 1").await,
        b"-ERR invalid first DB index\r\n"
    );
    assert_eq!(
        call(&mut raw, "SWAPDB 1 y").await,
        b"-ERR invalid second DB index\r\n"
    );
    let ks = &s.handle.shared().keyspace;
    assert_eq!(ks.lock(3).volatile(), 1);
    assert_eq!(ks.lock(0).volatile(), 0);
    // Expiry keeps working in the swapped DB.
    s.handle.advance_clock(Duration::from_secs(101));
    call(&mut raw, "SELECT 3").await;
    assert_eq!(call(&mut raw, "EXISTS b").await, b":0\r\n");
}

#[tokio::test]
async fn copy_within_and_across_dbs() {
    let s = start().await;
    let mut raw = s.raw().await;
    call(&mut raw, "SET src hello EX 500").await;
    assert_eq!(call(&mut raw, "COPY src dst").await, b":1\r\n");
    assert_eq!(call(&mut raw, "GET dst").await, b"$5\r\nhello\r\n");
    assert_eq!(call(&mut raw, "TTL dst").await, b":500\r\n");
    assert_eq!(call(&mut raw, "COPY src dst").await, b":0\r\n");
    call(&mut raw, "SET src 42").await;
    assert_eq!(call(&mut raw, "COPY src dst REPLACE").await, b":1\r\n");
    assert_eq!(call(&mut raw, "GET dst").await, b"$2\r\n42\r\n");
    assert_eq!(call(&mut raw, "TTL dst").await, b":-1\r\n");
    assert_eq!(call(&mut raw, "COPY missing dst").await, b":0\r\n");
    assert_eq!(
        call(&mut raw, "COPY src src").await,
        b"-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(call(&mut raw, "COPY src src DB 2").await, b":1\r\n");
    assert_eq!(call(&mut raw, "COPY src src DB 2").await, b":0\r\n");
    assert_eq!(
        call(&mut raw, "COPY src other DB 2 REPLACE").await,
        b":1\r\n"
    );
    assert_eq!(
        call(&mut raw, "COPY src x DB 16").await,
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        call(&mut raw, "COPY src x DB").await,
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        call(&mut raw, "COPY src x FOO").await,
        b"-ERR syntax error\r\n"
    );
    call(&mut raw, "SELECT 2").await;
    assert_eq!(call(&mut raw, "GET src").await, b"$2\r\n42\r\n");
    assert_eq!(call(&mut raw, "GET other").await, b"$2\r\n42\r\n");
    // The copy is independent of its source.
    call(&mut raw, "SELECT 0").await;
    call(&mut raw, "SET src changed").await;
    call(&mut raw, "SELECT 2").await;
    assert_eq!(call(&mut raw, "GET src").await, b"$2\r\n42\r\n");
    for i in [0, 2] {
        let db = s.handle.shared().keyspace.lock(i);
        assert_eq!(db.entry_memory(), db.recount_memory());
    }
}

#[tokio::test]
async fn object_subcommands() {
    let s = start().await;
    let mut raw = s.raw().await;
    call(&mut raw, "SET n 123").await;
    call(&mut raw, "SET big 123456").await;
    call(&mut raw, "SET s hello").await;
    raw.call(&[b"SET", b"r", &[b'x'; 45]]).await;
    assert_eq!(call(&mut raw, "OBJECT ENCODING n").await, b"$3\r\nint\r\n");
    assert_eq!(
        call(&mut raw, "OBJECT ENCODING s").await,
        b"$6\r\nembstr\r\n"
    );
    assert_eq!(call(&mut raw, "OBJECT ENCODING r").await, b"$3\r\nraw\r\n");
    assert_eq!(call(&mut raw, "OBJECT ENCODING none").await, b"$-1\r\n");
    assert_eq!(
        call(&mut raw, "OBJECT REFCOUNT n").await,
        b":2147483647\r\n"
    );
    assert_eq!(call(&mut raw, "OBJECT REFCOUNT big").await, b":1\r\n");
    assert_eq!(call(&mut raw, "OBJECT REFCOUNT s").await, b":1\r\n");
    assert_eq!(call(&mut raw, "OBJECT FREQ none").await, b"$-1\r\n");
    assert!(raw
        .call_str("OBJECT FREQ s")
        .await
        .starts_with(b"-ERR An LFU maxmemory policy is not selected"));
    assert_eq!(call(&mut raw, "OBJECT IDLETIME s").await, b":0\r\n");
    // Introspection does not refresh the access time; GET does.
    s.handle.advance_clock(Duration::from_secs(10));
    for cmd in ["TYPE s", "TTL s", "EXISTS s", "OBJECT ENCODING s", "PTTL s"] {
        call(&mut raw, cmd).await;
    }
    assert_eq!(call(&mut raw, "OBJECT IDLETIME s").await, b":10\r\n");
    call(&mut raw, "GET s").await;
    assert_eq!(call(&mut raw, "OBJECT IDLETIME s").await, b":0\r\n");
    let help = call(&mut raw, "OBJECT HELP").await;
    assert!(help.starts_with(b"*15\r\n+OBJECT <subcommand>"));
    assert_eq!(
        call(&mut raw, "OBJECT FOO").await,
        b"-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n"
    );
    assert_eq!(
        call(&mut raw, "OBJECT ENCODING").await,
        b"-ERR wrong number of arguments for 'object|encoding' command\r\n"
    );
    call(&mut raw, "HELLO 3").await;
    assert_eq!(call(&mut raw, "OBJECT ENCODING none").await, b"_\r\n");
}

#[tokio::test]
async fn lookups_count_hits_like_redis() {
    let s = start().await;
    let mut raw = s.raw().await;
    call(&mut raw, "SET k v").await;
    let stats = || {
        let db = s.handle.shared().keyspace.lock(0);
        (db.stats.hits, db.stats.misses)
    };
    let base = stats();
    // Read lookups count (with or without touching the clock) …
    for cmd in [
        "EXISTS k",
        "TYPE k",
        "TTL k",
        "OBJECT ENCODING k",
        "TOUCH k",
        "COPY k k2",
    ] {
        call(&mut raw, cmd).await;
    }
    call(&mut raw, "TYPE nope").await;
    assert_eq!(stats(), (base.0 + 6, base.1 + 1));
    // … write lookups do not.
    for cmd in [
        "EXPIRE k 100",
        "PERSIST k",
        "RENAME k2 k3",
        "MOVE k3 1",
        "DEL k",
    ] {
        call(&mut raw, cmd).await;
    }
    assert_eq!(stats(), (base.0 + 6, base.1 + 1));
}

#[tokio::test]
async fn differential_delete_exists_type() {
    support::diff_lines(&[
        "SET a 1",
        "SET b hello",
        "EXISTS a b c a",
        "EXISTS",
        "TYPE a",
        "TYPE c",
        "TYPE",
        "TYPE a b",
        "TOUCH a c b",
        "TOUCH",
        "DEL a c",
        "DEL",
        "UNLINK b a",
        "UNLINK",
        "EXISTS a b",
        "RANDOMKEY",
        "SET only 1",
        "RANDOMKEY",
        "RANDOMKEY x",
    ])
    .await;
}

#[tokio::test]
async fn differential_expire_family() {
    support::diff_lines(&[
        "SET k v",
        "TTL k",
        "PTTL k",
        "EXPIRETIME k",
        "PEXPIRETIME k",
        "TTL nokey",
        "PTTL nokey",
        "EXPIRETIME nokey",
        "PEXPIRETIME nokey",
        "EXPIRE k 100 GT",
        "EXPIRE k 100 XX",
        "EXPIRE k 100 LT",
        "TTL k",
        "EXPIRE k 1000 NX",
        "EXPIRE k 1000 GT",
        "TTL k",
        "EXPIRE k 500 gt",
        "EXPIRE k 500 xx lt",
        "TTL k",
        "EXPIRE k 100 NX XX",
        "EXPIRE k 100 NX GT",
        "EXPIRE k 100 nx lt",
        "EXPIRE k 100 GT LT",
        "EXPIRE k 100 XX GT LT",
        "EXPIRE k 100 FOO",
        "EXPIRE k abc FOO",
        "EXPIRE k abc",
        "EXPIRE k 1.5",
        "EXPIRE k",
        "EXPIRE k 9223372036854775807",
        "EXPIRE nokey 9223372036854775807",
        "EXPIRE k -9223372036854775808",
        "PEXPIRE k 9223372036854775807",
        "EXPIREAT k 9223372036854775807",
        "PEXPIREAT k 9223372036854775807",
        "PEXPIRETIME k",
        "EXPIREAT k 4000000000",
        "EXPIRETIME k",
        "PEXPIRETIME k",
        "PEXPIREAT k 4000000000999",
        "EXPIRETIME k",
        "PEXPIREAT k 4000000000499",
        "EXPIRETIME k",
        "PEXPIRETIME k",
        "EXPIREAT k 4000000001 LT",
        "EXPIREAT k 3000000000 LT",
        "EXPIRETIME k",
        "PERSIST k",
        "PERSIST k",
        "PERSIST nokey",
        "PERSIST",
        "TTL k",
        "EXPIRE nokey 100",
        "PEXPIRE nokey 100",
        "EXPIRE k 0",
        "EXISTS k",
        "SET k v",
        "EXPIRE k -100 NX",
        "EXISTS k",
        "SET k v",
        "PEXPIRE k -9223372036854775808",
        "EXISTS k",
        "SET k v",
        "EXPIREAT k 1",
        "EXISTS k",
        "SET k v EX 100",
        "EXPIRE k -1 XX",
        "EXISTS k",
        "SET k v",
        "EXPIRE k -1 GT",
        "EXPIRE k -1 LT",
        "EXISTS k",
    ])
    .await;
}

#[tokio::test]
async fn differential_rename_copy_move_swapdb() {
    support::diff_lines(&[
        "RENAME nokey x",
        "RENAMENX nokey x",
        "RENAME nokey nokey",
        "SET a 1",
        "RENAME a a",
        "RENAMENX a a",
        "SET b 2",
        "RENAMENX a b",
        "EXPIRE a 1000",
        "RENAME a c",
        "TTL c",
        "EXISTS a",
        "RENAME c b",
        "GET b",
        "TTL b",
        "RENAMENX b d",
        "GET d",
        "RENAME d",
        "RENAME d e f",
        "COPY d d",
        "COPY nokey x",
        "COPY d e",
        "GET e",
        "TTL e",
        "COPY d e",
        "COPY d e REPLACE",
        "COPY d e replace REPLACE",
        "COPY d e FOO",
        "COPY d e DB",
        "COPY d e DB x",
        "COPY d e DB -1",
        "COPY d e DB 16",
        "COPY d e DB 4294967296",
        "COPY d d DB 0",
        "COPY d d DB 1",
        "COPY d d DB 1",
        "COPY d d DB 1 REPLACE",
        "COPY d z DB 1 REPLACE",
        "MOVE d 0",
        "MOVE nokey 0",
        "MOVE d 16",
        "MOVE d -1",
        "MOVE d x",
        "MOVE nokey x",
        "MOVE d 2147483648",
        "MOVE d 1",
        "MOVE e 2",
        "MOVE e 2",
        "MOVE nokey 2",
        "EXISTS d e",
        "SELECT 1",
        "EXISTS d z",
        "DBSIZE",
        "TTL d",
        "SELECT 2",
        "GET e",
        "TTL e",
        "SWAPDB 1 2",
        "GET e",
        "DBSIZE",
        "SWAPDB 0 0",
        "SWAPDB 0 16",
        "SWAPDB -1 0",
        "SWAPDB x 0",
        "SWAPDB 0 x",
        "SWAPDB 4294967296 0",
        "SWAPDB 0",
        "SELECT 0",
        "SWAPDB 0 2",
        "DBSIZE",
        "GET d",
    ])
    .await;
}

#[tokio::test]
async fn differential_keys_scan_object() {
    support::diff_lines(&[
        "KEYS *",
        "SCAN 0",
        "SCAN 0 COUNT 100 MATCH *",
        "SET hello 1",
        "KEYS *",
        "KEYS h?llo",
        "KEYS h[a-z]llo",
        "KEYS h[^e]llo",
        "KEYS x*",
        "KEYS",
        "KEYS a b",
        "SCAN 0",
        "SCAN 0 MATCH h*",
        "SCAN 0 MATCH x*",
        "SCAN 0 TYPE string",
        "SCAN 0 TYPE STRING",
        "SCAN 0 TYPE hash",
        "SCAN 0 TYPE nosuchtype",
        "SCAN 0 COUNT 10 MATCH hel* TYPE string",
        "SCAN x",
        "SCAN 1.5",
        "SCAN 1a",
        "SCAN -",
        "SCAN 18446744073709551616",
        "SCAN 0 COUNT 0",
        "SCAN 0 COUNT -1",
        "SCAN 0 COUNT x",
        "SCAN 0 COUNT",
        "SCAN 0 MATCH",
        "SCAN 0 TYPE",
        "SCAN 0 FOO 1",
        "SCAN 0 NOVALUES",
        "SCAN",
        "SET n 42",
        "SET big 12345678",
        "SET neg -5",
        "OBJECT ENCODING hello",
        "OBJECT ENCODING n",
        "OBJECT ENCODING neg",
        "OBJECT ENCODING big",
        "OBJECT ENCODING nokey",
        "OBJECT REFCOUNT n",
        "OBJECT REFCOUNT hello",
        "OBJECT REFCOUNT big",
        "OBJECT REFCOUNT neg",
        "OBJECT REFCOUNT nokey",
        "OBJECT FREQ n",
        "OBJECT FREQ nokey",
        "OBJECT IDLETIME nokey",
        "OBJECT HELP",
        "OBJECT help",
        "OBJECT HELP x",
        "OBJECT",
        "OBJECT FOO",
        "OBJECT ENCODING",
        "OBJECT ENCODING a b",
        "OBJECT REFCOUNT",
    ])
    .await;
    // Arguments that cannot be written space-separated.
    let args = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    support::diff_args(&[
        args(&["SET", "only", "v"]),
        args(&["SCAN", ""]),
        args(&["SCAN", " 1"]),
        args(&["SCAN", "0", "MATCH", "o n*"]),
        args(&["KEYS", ""]),
        args(&["EXPIRE", "only", "100", "bad\r\noption"]),
        args(&["OBJECT", "ENCODING", ""]),
        args(&["COPY", "only", "only", "DB", "0"]),
        args(&["SET", "long", &"x".repeat(45)]),
        args(&["OBJECT", "ENCODING", "long"]),
        args(&["SET", "edge", &"y".repeat(44)]),
        args(&["OBJECT", "ENCODING", "edge"]),
        args(&["SET", "i", "9999"]),
        args(&["OBJECT", "REFCOUNT", "i"]),
        args(&["SET", "j", "10000"]),
        args(&["OBJECT", "REFCOUNT", "j"]),
    ])
    .await;
}

#[tokio::test]
async fn cross_db_commands_inside_a_pipelined_batch() {
    // The batch holds DB 0's lock between commands; MOVE, COPY … DB and
    // SWAPDB must release it before locking two DBs, or this deadlocks.
    let s = start().await;
    let mut raw = s.raw().await;
    let mut batch = Vec::new();
    for line in [
        "SET a 1",
        "MOVE a 1",
        "SET b 2",
        "COPY b b DB 1",
        "GET b",
        "SWAPDB 0 1",
        "GET a",
        "DBSIZE",
        "SWAPDB 1 0",
        "GET a",
    ] {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        batch.extend(support::encode(&args));
    }
    raw.send(&batch).await;
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(Box::pin(raw.reply()).await);
    }
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+OK\r\n:1\r\n+OK\r\n:1\r\n$1\r\n2\r\n+OK\r\n$1\r\n1\r\n:2\r\n+OK\r\n$-1\r\n"
    );
}

/// A seeded random mix of every deterministic generic command, valid and
/// invalid, over a few keys in three DBs. Only absolute expiry times are
/// used, so no reply depends on when it runs (TTL/PTTL and relative
/// EXPIRE with a positive time would).
#[tokio::test]
async fn differential_random_keyspace_sequences() {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    for seed in 0..4 {
        let mut rng = SmallRng::seed_from_u64(0x006e_6e72_6963 + seed);
        let keys = ["a", "b", "c", "{a}x"];
        let mut lines = Vec::new();
        for _ in 0..600 {
            let k = keys[rng.gen_range(0..keys.len())];
            let k2 = keys[rng.gen_range(0..keys.len())];
            let db = ["0", "1", "2", "16", "x"][rng.gen_range(0..5)];
            let opt = [
                "", " NX", " XX", " GT", " LT", " NX XX", " GT LT", " XX GT", " BAD",
            ][rng.gen_range(0..9)];
            let secs = 4_000_000_000i64 + rng.gen_range(-3..=3) * 1000;
            let line = match rng.gen_range(0..24) {
                0 | 1 => format!("SET {k} {}", rng.gen_range(0..20_000)),
                2 => format!("SET {k} str{}", rng.gen_range(0..5)),
                3 => format!("DEL {k} {k2}"),
                4 => format!("UNLINK {k}"),
                5 => format!("EXISTS {k} {k2} {k}"),
                6 => format!("TYPE {k}"),
                7 => format!("RENAME {k} {k2}"),
                8 => format!("RENAMENX {k} {k2}"),
                9 => format!("EXPIREAT {k} {secs}{opt}"),
                10 => format!("PEXPIREAT {k} {}{opt}", secs * 1000 + rng.gen_range(0..999)),
                11 => format!("EXPIRE {k} -{}{opt}", rng.gen_range(0..5)),
                12 => format!("PEXPIREAT {k} {}{opt}", rng.gen_range(0..5)),
                13 => format!("EXPIRETIME {k}"),
                14 => format!("PEXPIRETIME {k}"),
                15 => format!("PERSIST {k}"),
                16 => format!("TOUCH {k} {k2}"),
                17 => format!("MOVE {k} {db}"),
                18 => format!("COPY {k} {k2} DB {db}"),
                19 => format!("COPY {k} {k2}{}", [" REPLACE", ""][rng.gen_range(0..2)]),
                20 => format!("SELECT {}", rng.gen_range(0..3)),
                21 => format!("SWAPDB {} {db}", rng.gen_range(0..3)),
                // Not REFCOUNT: Redis's COPY of a shared integer makes an
                // unshared one (refcount 1), which our entries do not record.
                22 => format!("OBJECT {} {k}", ["ENCODING", "FREQ"][rng.gen_range(0..2)]),
                _ => "DBSIZE".to_string(),
            };
            lines.push(line);
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        support::diff_lines(&refs).await;
    }
}
