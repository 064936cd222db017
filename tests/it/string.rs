//! String group: every command through the `redis` crate, expiry with the
//! server's test clock, raw RESP2/RESP3 shapes, and differential runs
//! against redis-server.

use std::time::Duration;

use redis::Value;

use crate::support::{self, err, q, start, Oracle};

/// `support::diff_args` over space-separated lines, where `''` is an
/// empty argument and `\s` stands for a space inside one.
async fn diff(lines: &[&str]) {
    let cmds: Vec<Vec<Vec<u8>>> = lines
        .iter()
        .map(|l| {
            l.split(' ')
                .map(|a| {
                    if a == "''" {
                        Vec::new()
                    } else {
                        a.replace("\\s", " ").into_bytes()
                    }
                })
                .collect()
        })
        .collect();
    support::diff_args(&cmds).await;
}

/// The entry memory tracked incrementally still equals a full recount.
fn assert_accounting(s: &support::TestServer) {
    let db = s.handle.shared().keyspace.lock(0);
    assert_eq!(db.entry_memory(), db.recount_memory());
}

#[tokio::test]
async fn get_set_and_set_options() {
    let s = start().await;
    let mut c = s.client().await;
    let () = q(&mut c, &["SET", "k", "v"]).await.unwrap();
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).await.unwrap(), "v");
    // NX on an existing key: null; XX on a missing key: null.
    let r: Option<String> = q(&mut c, &["SET", "k", "x", "NX"]).await.unwrap();
    assert_eq!(r, None);
    let r: Option<String> = q(&mut c, &["SET", "missing", "x", "XX"]).await.unwrap();
    assert_eq!(r, None);
    assert!(!q::<bool>(&mut c, &["EXISTS", "missing"]).await.unwrap());
    // GET returns the old value; with NX (allowed since 7.0) nothing is set.
    let r: Option<String> = q(&mut c, &["SET", "k", "w", "GET"]).await.unwrap();
    assert_eq!(r.as_deref(), Some("v"));
    let r: Option<String> = q(&mut c, &["SET", "k", "z", "NX", "GET"]).await.unwrap();
    assert_eq!(r.as_deref(), Some("w"));
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).await.unwrap(), "w");
    let r: Option<String> = q(&mut c, &["SET", "new", "1", "GET"]).await.unwrap();
    assert_eq!(r, None);
    for bad in [
        vec!["SET", "k", "v", "NX", "XX"],
        vec!["SET", "k", "v", "KEEPTTL", "EX", "10"],
        vec!["SET", "k", "v", "EX", "10", "PX", "100"],
        vec!["SET", "k", "v", "EX"],
        vec!["SET", "k", "v", "EX", "abc", "NX", "XX"],
        vec!["SET", "k", "v", "PERSIST"],
    ] {
        assert!(err(&mut c, &bad).await.contains("syntax error"), "{bad:?}");
    }
    assert!(err(&mut c, &["SET", "k", "v", "EX", "0"])
        .await
        .contains("invalid expire time in 'set' command"));
    assert!(err(&mut c, &["SET", "k", "v", "EX", "x"])
        .await
        .contains("not an integer"));
    // A repeated option is accepted, the last expire wins.
    let () = q(&mut c, &["SET", "k", "v", "EX", "100", "EX", "10"])
        .await
        .unwrap();
    s.handle.advance_clock(Duration::from_secs(11));
    assert_eq!(
        q::<Option<String>>(&mut c, &["GET", "k"]).await.unwrap(),
        None
    );
    assert_accounting(&s);
}

#[tokio::test]
async fn set_expiry_keepttl_and_absolute_times() {
    let s = start().await;
    let mut c = s.client().await;
    let () = q(&mut c, &["SET", "a", "1", "EX", "10"]).await.unwrap();
    let () = q(&mut c, &["SET", "b", "1", "PX", "10000"]).await.unwrap();
    let () = q(&mut c, &["SET", "a", "2", "KEEPTTL"]).await.unwrap();
    // Plain SET drops the TTL.
    let () = q(&mut c, &["SET", "b", "2"]).await.unwrap();
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 10)
        .to_string();
    let () = q(&mut c, &["SET", "c", "1", "EXAT", &far]).await.unwrap();
    let () = q(&mut c, &["SET", "d", "1", "PXAT", "1"]).await.unwrap();
    assert_eq!(
        q::<Option<String>>(&mut c, &["GET", "d"]).await.unwrap(),
        None
    );
    s.handle.advance_clock(Duration::from_secs(11));
    let got: Vec<Option<String>> = q(&mut c, &["MGET", "a", "b", "c"]).await.unwrap();
    assert_eq!(got, vec![None, Some("2".into()), None]);
    assert_accounting(&s);
}

#[tokio::test]
async fn setnx_setex_psetex() {
    let s = start().await;
    let mut c = s.client().await;
    assert_eq!(q::<i64>(&mut c, &["SETNX", "k", "a"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["SETNX", "k", "b"]).await.unwrap(), 0);
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).await.unwrap(), "a");
    let () = q(&mut c, &["SETEX", "e", "5", "v"]).await.unwrap();
    let () = q(&mut c, &["PSETEX", "p", "20000", "v"]).await.unwrap();
    assert!(err(&mut c, &["SETEX", "e", "0", "v"])
        .await
        .contains("invalid expire time in 'setex' command"));
    assert!(err(&mut c, &["PSETEX", "e", "-5", "v"])
        .await
        .contains("invalid expire time in 'psetex' command"));
    assert!(err(&mut c, &["SETEX", "e", "9223372036854775807", "v"])
        .await
        .contains("invalid expire time in 'setex' command"));
    s.handle.advance_clock(Duration::from_secs(6));
    assert_eq!(
        q::<Option<String>>(&mut c, &["GET", "e"]).await.unwrap(),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["GET", "p"])
            .await
            .unwrap()
            .as_deref(),
        Some("v")
    );
    s.handle.advance_clock(Duration::from_secs(15));
    assert_eq!(
        q::<Option<String>>(&mut c, &["GET", "p"]).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn mget_mset_msetnx() {
    let s = start().await;
    let mut c = s.client().await;
    let () = q(&mut c, &["MSET", "a", "1", "b", "2", "a", "3"])
        .await
        .unwrap();
    let got: Vec<Option<String>> = q(&mut c, &["MGET", "a", "b", "zz"]).await.unwrap();
    assert_eq!(got, vec![Some("3".into()), Some("2".into()), None]);
    assert!(err(&mut c, &["MSET", "a", "1", "b"])
        .await
        .contains("wrong number of arguments for 'mset' command"));
    assert_eq!(
        q::<i64>(&mut c, &["MSETNX", "x", "1", "a", "9"])
            .await
            .unwrap(),
        0
    );
    assert!(!q::<bool>(&mut c, &["EXISTS", "x"]).await.unwrap());
    assert_eq!(
        q::<i64>(&mut c, &["MSETNX", "x", "1", "y", "2"])
            .await
            .unwrap(),
        1
    );
    // MSET clears TTLs.
    let () = q(&mut c, &["SET", "t", "1", "EX", "5"]).await.unwrap();
    let () = q(&mut c, &["MSET", "t", "2"]).await.unwrap();
    s.handle.advance_clock(Duration::from_secs(6));
    assert_eq!(q::<String>(&mut c, &["GET", "t"]).await.unwrap(), "2");
}

#[tokio::test]
async fn getset_getdel_getex() {
    let s = start().await;
    let mut c = s.client().await;
    assert_eq!(
        q::<Option<String>>(&mut c, &["GETSET", "k", "a"])
            .await
            .unwrap(),
        None
    );
    let () = q(&mut c, &["SET", "k", "a", "EX", "5"]).await.unwrap();
    assert_eq!(
        q::<Option<String>>(&mut c, &["GETSET", "k", "b"])
            .await
            .unwrap()
            .as_deref(),
        Some("a")
    );
    // GETSET dropped the TTL.
    s.handle.advance_clock(Duration::from_secs(6));
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).await.unwrap(), "b");

    assert_eq!(
        q::<Option<String>>(&mut c, &["GETDEL", "k"])
            .await
            .unwrap()
            .as_deref(),
        Some("b")
    );
    assert!(!q::<bool>(&mut c, &["EXISTS", "k"]).await.unwrap());
    assert_eq!(
        q::<Option<String>>(&mut c, &["GETDEL", "k"]).await.unwrap(),
        None
    );

    let () = q(&mut c, &["SET", "g", "v"]).await.unwrap();
    assert_eq!(
        q::<Option<String>>(&mut c, &["GETEX", "g", "EX", "5"])
            .await
            .unwrap()
            .as_deref(),
        Some("v")
    );
    s.handle.advance_clock(Duration::from_secs(3));
    assert_eq!(
        q::<Option<String>>(&mut c, &["GETEX", "g", "PERSIST"])
            .await
            .unwrap()
            .as_deref(),
        Some("v")
    );
    s.handle.advance_clock(Duration::from_secs(5));
    assert_eq!(q::<String>(&mut c, &["GET", "g"]).await.unwrap(), "v");
    let () = q(&mut c, &["GETEX", "g", "PX", "1000"])
        .await
        .map(|_: Value| ())
        .unwrap();
    s.handle.advance_clock(Duration::from_secs(2));
    assert_eq!(
        q::<Option<String>>(&mut c, &["GET", "g"]).await.unwrap(),
        None
    );
    // An absolute time in the past deletes the key after replying.
    let () = q(&mut c, &["SET", "g", "v"]).await.unwrap();
    assert_eq!(
        q::<Option<String>>(&mut c, &["GETEX", "g", "PXAT", "1"])
            .await
            .unwrap()
            .as_deref(),
        Some("v")
    );
    assert!(!q::<bool>(&mut c, &["EXISTS", "g"]).await.unwrap());
    assert!(err(&mut c, &["GETEX", "g", "NX"])
        .await
        .contains("syntax error"));
    let () = q(&mut c, &["SET", "g", "v"]).await.unwrap();
    assert!(err(&mut c, &["GETEX", "g", "EX", "0"])
        .await
        .contains("invalid expire time in 'getex' command"));
    assert!(err(&mut c, &["GETEX", "g", "PERSIST", "EX", "1"])
        .await
        .contains("syntax error"));
    assert_accounting(&s);
}

#[tokio::test]
async fn append_strlen_getrange_setrange() {
    let s = start().await;
    let mut c = s.client().await;
    assert_eq!(
        q::<i64>(&mut c, &["APPEND", "k", "Hello"]).await.unwrap(),
        5
    );
    assert_eq!(
        q::<i64>(&mut c, &["APPEND", "k", " World"]).await.unwrap(),
        11
    );
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "k"]).await.unwrap(), 11);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "nokey"]).await.unwrap(), 0);
    assert_eq!(
        q::<String>(&mut c, &["GETRANGE", "k", "0", "4"])
            .await
            .unwrap(),
        "Hello"
    );
    assert_eq!(
        q::<String>(&mut c, &["GETRANGE", "k", "-5", "-1"])
            .await
            .unwrap(),
        "World"
    );
    assert_eq!(
        q::<String>(&mut c, &["SUBSTR", "k", "6", "100"])
            .await
            .unwrap(),
        "World"
    );
    assert_eq!(
        q::<String>(&mut c, &["GETRANGE", "k", "-1", "-5"])
            .await
            .unwrap(),
        ""
    );
    assert_eq!(
        q::<String>(&mut c, &["GETRANGE", "nokey", "0", "-1"])
            .await
            .unwrap(),
        ""
    );
    assert_eq!(
        q::<i64>(&mut c, &["SETRANGE", "k", "6", "Redis"])
            .await
            .unwrap(),
        11
    );
    assert_eq!(
        q::<String>(&mut c, &["GET", "k"]).await.unwrap(),
        "Hello Redis"
    );
    assert_eq!(
        q::<i64>(&mut c, &["SETRANGE", "pad", "3", "x"])
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        q::<Vec<u8>>(&mut c, &["GET", "pad"]).await.unwrap(),
        b"\0\0\0x"
    );
    assert_eq!(
        q::<i64>(&mut c, &["SETRANGE", "none", "10", ""])
            .await
            .unwrap(),
        0
    );
    assert!(!q::<bool>(&mut c, &["EXISTS", "none"]).await.unwrap());
    assert!(err(&mut c, &["SETRANGE", "k", "-1", "x"])
        .await
        .contains("offset is out of range"));
    assert!(err(&mut c, &["SETRANGE", "k", "536870911", "xx"])
        .await
        .contains("string exceeds maximum allowed size (proto-max-bulk-len)"));
    // Integers are strings too; APPEND keeps the TTL.
    let () = q(&mut c, &["SET", "n", "123", "EX", "5"]).await.unwrap();
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "n"]).await.unwrap(), 3);
    assert_eq!(q::<i64>(&mut c, &["APPEND", "n", "4"]).await.unwrap(), 4);
    assert_eq!(
        q::<String>(&mut c, &["GETRANGE", "n", "1", "2"])
            .await
            .unwrap(),
        "23"
    );
    assert_eq!(
        q::<i64>(&mut c, &["SETRANGE", "n", "0", "9"])
            .await
            .unwrap(),
        4
    );
    assert_eq!(q::<String>(&mut c, &["GET", "n"]).await.unwrap(), "9234");
    s.handle.advance_clock(Duration::from_secs(6));
    assert!(!q::<bool>(&mut c, &["EXISTS", "n"]).await.unwrap());
    assert_accounting(&s);
}

#[tokio::test]
async fn append_and_setrange_respect_proto_max_bulk_len() {
    let config = keyward::Config {
        proto_max_bulk_len: 1024 * 1024,
        ..Default::default()
    };
    let s = support::start_with(config).await;
    let mut c = s.client().await;
    let big = "x".repeat(1024 * 1024 - 1);
    assert_eq!(
        q::<i64>(&mut c, &["APPEND", "k", &big]).await.unwrap(),
        1024 * 1024 - 1
    );
    assert_eq!(
        q::<i64>(&mut c, &["APPEND", "k", "y"]).await.unwrap(),
        1024 * 1024
    );
    let e = err(&mut c, &["APPEND", "k", "z"]).await;
    assert!(
        e.contains("string exceeds maximum allowed size (proto-max-bulk-len)"),
        "{e}"
    );
    assert_eq!(
        q::<i64>(&mut c, &["STRLEN", "k"]).await.unwrap(),
        1024 * 1024
    );
    let e = err(&mut c, &["SETRANGE", "other", "1048576", "a"]).await;
    assert!(e.contains("proto-max-bulk-len"), "{e}");
    assert_eq!(
        q::<i64>(&mut c, &["SETRANGE", "other", "1048575", "a"])
            .await
            .unwrap(),
        1048576
    );
    // Setting nothing never checks the limit.
    assert_eq!(
        q::<i64>(&mut c, &["SETRANGE", "other", "99999999", ""])
            .await
            .unwrap(),
        1048576
    );
}

#[tokio::test]
async fn incr_family_in_place_and_ttl() {
    let s = start().await;
    let mut c = s.client().await;
    assert_eq!(q::<i64>(&mut c, &["INCR", "n"]).await.unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["INCRBY", "n", "41"]).await.unwrap(), 42);
    assert_eq!(q::<i64>(&mut c, &["DECR", "n"]).await.unwrap(), 41);
    assert_eq!(q::<i64>(&mut c, &["DECRBY", "n", "-9"]).await.unwrap(), 50);
    assert_eq!(q::<i64>(&mut c, &["DECR", "fresh"]).await.unwrap(), -1);
    // The rate-limit pattern: INCR keeps the TTL set with the first hit.
    let () = q(&mut c, &["SET", "rl", "0", "EX", "10"]).await.unwrap();
    for i in 1..=5 {
        assert_eq!(q::<i64>(&mut c, &["INCR", "rl"]).await.unwrap(), i);
    }
    {
        let db = s.handle.shared().keyspace.lock(0);
        let e = db.peek(b"rl").expect("rl exists");
        assert!(matches!(e.value(), keyward::keyspace::ValueRef::Int(5)));
        assert!(e.expire().is_some());
        assert_eq!(db.volatile(), 1);
    }
    s.handle.advance_clock(Duration::from_secs(11));
    assert_eq!(q::<i64>(&mut c, &["INCR", "rl"]).await.unwrap(), 1);
    {
        let db = s.handle.shared().keyspace.lock(0);
        assert_eq!(db.peek(b"rl").and_then(|e| e.expire()), None);
    }
    let () = q(&mut c, &["SET", "max", &i64::MAX.to_string()])
        .await
        .unwrap();
    assert!(err(&mut c, &["INCR", "max"])
        .await
        .contains("increment or decrement would overflow"));
    let () = q(&mut c, &["SET", "min", &i64::MIN.to_string()])
        .await
        .unwrap();
    assert!(err(&mut c, &["DECR", "min"])
        .await
        .contains("increment or decrement would overflow"));
    assert!(err(&mut c, &["DECRBY", "n", "-9223372036854775808"])
        .await
        .contains("decrement would overflow"));
    let () = q(&mut c, &["SET", "s", "abc"]).await.unwrap();
    assert!(err(&mut c, &["INCR", "s"]).await.contains("not an integer"));
    assert!(err(&mut c, &["INCRBY", "n", "1.5"])
        .await
        .contains("not an integer"));
    let () = q(&mut c, &["SET", "sp", " 1"]).await.unwrap();
    assert!(err(&mut c, &["INCR", "sp"])
        .await
        .contains("not an integer"));
    assert_accounting(&s);
}

#[tokio::test]
async fn incrbyfloat_formats_like_redis() {
    let s = start().await;
    let mut c = s.client().await;
    let () = q(&mut c, &["SET", "f", "10"]).await.unwrap();
    assert_eq!(
        q::<String>(&mut c, &["INCRBYFLOAT", "f", "10.5"])
            .await
            .unwrap(),
        "20.5"
    );
    let () = q(&mut c, &["SET", "g", "5.0e3"]).await.unwrap();
    assert_eq!(
        q::<String>(&mut c, &["INCRBYFLOAT", "g", "2.0e2"])
            .await
            .unwrap(),
        "5200"
    );
    let () = q(&mut c, &["SET", "h", "0.1"]).await.unwrap();
    assert_eq!(
        q::<String>(&mut c, &["INCRBYFLOAT", "h", "0.2"])
            .await
            .unwrap(),
        "0.3"
    );
    assert_eq!(
        q::<String>(&mut c, &["INCRBYFLOAT", "x", "0x10"])
            .await
            .unwrap(),
        "16"
    );
    assert!(err(&mut c, &["INCRBYFLOAT", "x", "inf"])
        .await
        .contains("increment would produce NaN or Infinity"));
    assert!(err(&mut c, &["INCRBYFLOAT", "x", "abc"])
        .await
        .contains("not a valid float"));
    let () = q(&mut c, &["SET", "s", "1.5x"]).await.unwrap();
    assert!(err(&mut c, &["INCRBYFLOAT", "s", "1"])
        .await
        .contains("not a valid float"));
    // TTL survives.
    let () = q(&mut c, &["SET", "t", "1", "EX", "5"]).await.unwrap();
    assert_eq!(
        q::<String>(&mut c, &["INCRBYFLOAT", "t", "0.5"])
            .await
            .unwrap(),
        "1.5"
    );
    s.handle.advance_clock(Duration::from_secs(6));
    assert!(!q::<bool>(&mut c, &["EXISTS", "t"]).await.unwrap());
    assert_accounting(&s);
}

#[tokio::test]
async fn lcs_string_len_idx() {
    let s = start().await;
    let mut c = s.client().await;
    let () = q(&mut c, &["MSET", "a", "ohmytext", "b", "mynewtext"])
        .await
        .unwrap();
    assert_eq!(
        q::<String>(&mut c, &["LCS", "a", "b"]).await.unwrap(),
        "mytext"
    );
    assert_eq!(
        q::<i64>(&mut c, &["LCS", "a", "b", "LEN"]).await.unwrap(),
        6
    );
    assert_eq!(
        q::<String>(&mut c, &["LCS", "a", "nokey"]).await.unwrap(),
        ""
    );
    assert!(err(&mut c, &["LCS", "a", "b", "LEN", "IDX"])
        .await
        .contains("If you want both the length and indexes, please just use IDX."));
    assert!(err(&mut c, &["LCS", "a", "b", "MINMATCHLEN"])
        .await
        .contains("syntax error"));
    // RESP2: a flat array for the map.
    let mut raw = s.raw().await;
    let r = raw
        .call(&[
            b"LCS",
            b"a",
            b"b",
            b"IDX",
            b"MINMATCHLEN",
            b"4",
            b"WITHMATCHLEN",
        ])
        .await;
    assert_eq!(
        r,
        b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
    // RESP3: a map.
    raw.call(&[b"HELLO", b"3"]).await;
    let r = raw.call(&[b"LCS", b"a", b"b", b"IDX"]).await;
    assert_eq!(
        r,
        b"%2\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
            .to_vec()
    );
}

/// Each row's arity, flags and key positions equal redis-server's COMMAND
/// INFO (COMMAND itself belongs to another area, so the row is read from
/// the registry directly).
#[tokio::test]
async fn command_rows_match_redis_command_info() {
    use keyward::commands::spec::{flags, Keys};
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let mut theirs = oracle.raw().await;
    for name in [
        "get",
        "set",
        "setnx",
        "setex",
        "psetex",
        "mget",
        "mset",
        "msetnx",
        "getset",
        "getdel",
        "getex",
        "append",
        "strlen",
        "getrange",
        "substr",
        "setrange",
        "incr",
        "decr",
        "incrby",
        "decrby",
        "incrbyfloat",
        "lcs",
    ] {
        let bytes = theirs.call(&[b"COMMAND", b"INFO", name.as_bytes()]).await;
        let v = redis::parse_redis_value(&bytes).expect("valid reply");
        let Value::Array(outer) = v else {
            panic!("{v:?}")
        };
        let Value::Array(f) = &outer[0] else {
            panic!("{outer:?}")
        };
        let int = |v: &Value| match v {
            Value::Int(n) => *n,
            other => panic!("{other:?}"),
        };
        let Value::Array(flag_values) = &f[2] else {
            panic!("{f:?}")
        };
        let their_flags: Vec<String> = flag_values
            .iter()
            .map(|v| match v {
                Value::SimpleString(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let cmd = keyward::commands::REGISTRY
            .lookup(name.as_bytes())
            .unwrap_or_else(|| panic!("{name} is registered"));
        let spec = cmd.spec;
        let our_flags: Vec<String> = flags::NAMES
            .iter()
            .filter(|(bit, _)| spec.flags & bit != 0)
            .map(|(_, n)| n.to_string())
            .collect();
        let (first, last, step) = match spec.keys {
            Keys::Range { first, last, step } => (first, last, step),
            _ => (0, 0, 0),
        };
        assert_eq!(i64::from(spec.arity), int(&f[1]), "{name} arity");
        assert_eq!(our_flags, their_flags, "{name} flags");
        assert_eq!(
            (i64::from(first), i64::from(last), i64::from(step)),
            (int(&f[3]), int(&f[4]), int(&f[5])),
            "{name} keys"
        );
        assert!(!spec.summary.is_empty(), "{name} has docs");
    }
}

#[tokio::test]
async fn differential_set_family() {
    diff(&[
        "SET k v",
        "GET k",
        "SET k v NX",
        "SET k v XX",
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v NX NX",
        "SET k v nx get",
        "SET k2 v XX GET",
        "SET k v GET GET",
        "SET k v KEEPTTL EX 10",
        "SET k v EX 10 KEEPTTL",
        "SET k v PX 10 EX 10",
        "SET k v EX 10 EX 20",
        "SET k v EXAT 10 PXAT 10",
        "SET k v EX 0",
        "SET k v EX -1",
        "SET k v PX 0",
        "SET k v EXAT 0",
        "SET k v PXAT -5",
        "SET k v EX abc",
        "SET k v EX 1.5",
        "SET k v EX abc NX XX",
        "SET k v EX 9223372036854775807",
        "SET k v EX 9223372036854775",
        "SET k v PX 9223372036854775807",
        "SET k v EX",
        "SET k v PERSIST",
        "SET k v FOO",
        "SET k v KEEPTTL",
        "SET k v PXAT 1",
        "GET k",
        "DBSIZE",
        "SET",
        "SET k",
        "GET k extra",
        "SETNX k a",
        "SETNX k b",
        "SETNX",
        "GET k",
        "SETEX k 0 v",
        "SETEX k -10 v",
        "SETEX k abc v",
        "SETEX k 9223372036854775807 v",
        "SETEX k 100 v",
        "GET k",
        "PSETEX k 0 v",
        "PSETEX k 1.5 v",
        "PSETEX k 100000 v",
        "SETEX k 10",
        "GET k",
        "SET n 12345",
        "SET n 12345 GET",
        "SET e '' GET",
        "GET e",
    ])
    .await;
}

#[tokio::test]
async fn differential_multi_and_get_variants() {
    diff(&[
        "MSET a 1 b 2 c 3",
        "MGET a b c d",
        "MGET d",
        "MSET a",
        "MSET a 1 b",
        "MSET",
        "MSETNX a 1 b",
        "MSETNX x 1 a 2",
        "MGET x a",
        "MSETNX x 1 y 2",
        "MSETNX z 1 z 2",
        "MGET x y z",
        "MSET a 10 a 20",
        "GET a",
        "GETSET a 30",
        "GETSET nokey v",
        "GETSET nokey",
        "GET nokey",
        "GETDEL a",
        "GETDEL a",
        "GETDEL",
        "DBSIZE",
        "GETEX b",
        "GETEX nokey2",
        "GETEX nokey2 EX abc",
        "GETEX b EX abc",
        "GETEX b EX 0",
        "GETEX b PX -1",
        "GETEX b EXAT 0",
        "GETEX b EX 9223372036854775807",
        "GETEX b EX 10 PX 10",
        "GETEX b PERSIST EX 10",
        "GETEX b EX 10 PERSIST",
        "GETEX b KEEPTTL",
        "GETEX b NX",
        "GETEX b GET",
        "GETEX b EX",
        "GETEX b FOO",
        "GETEX b PERSIST PERSIST",
        "GETEX b EX 100",
        "GETEX b PX 100000",
        "GETEX b EX 10 EX 20",
        "GETEX b PERSIST",
        "GETEX b PXAT 1",
        "EXISTS b",
        "GETEX",
        "DBSIZE",
    ])
    .await;
}

#[tokio::test]
async fn differential_ranges_and_append() {
    let long = "x".repeat(300);
    let mut lines: Vec<String> = [
        "APPEND k Hello",
        "APPEND k ''",
        "APPEND k World",
        "GET k",
        "STRLEN k",
        "STRLEN nokey",
        "STRLEN",
        "GETRANGE k 0 3",
        "GETRANGE k 0 -1",
        "GETRANGE k -3 -1",
        "GETRANGE k -1 -3",
        "GETRANGE k 0 -100",
        "GETRANGE k -100 -50",
        "GETRANGE k -100 100",
        "GETRANGE k 5 3",
        "GETRANGE k 100 200",
        "GETRANGE k 0 0",
        "GETRANGE k -1 -1",
        "GETRANGE k 9223372036854775807 -9223372036854775808",
        "GETRANGE k -9223372036854775808 9223372036854775807",
        "GETRANGE k a 1",
        "GETRANGE k 1 b",
        "GETRANGE k 1.0 2",
        "GETRANGE nokey 0 -1",
        "GETRANGE nokey a b",
        "SUBSTR k 0 3",
        "SUBSTR k -3 -1",
        "SUBSTR k 0 -100",
        "SETRANGE k 0 J",
        "GET k",
        "SETRANGE k 12 tail",
        "GET k",
        "SETRANGE k -1 x",
        "SETRANGE k x x",
        "SETRANGE k 9223372036854775807 x",
        "SETRANGE k 9223372036854775807 ''",
        "SETRANGE k 536870911 xx",
        "SETRANGE k 536870912 ''",
        "SETRANGE new 0 ''",
        "SETRANGE new 100 ''",
        "SETRANGE new -1 ''",
        "EXISTS new",
        "SETRANGE new 3 abc",
        "GET new",
        "STRLEN new",
        "SET n 100",
        "APPEND n 5",
        "GET n",
        "INCR n",
        "SETRANGE n 0 9",
        "GET n",
        "GETRANGE n 0 1",
        "STRLEN n",
        "SET neg -12",
        "STRLEN neg",
        "GETRANGE neg 0 0",
        "APPEND neg -",
        "INCR neg",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    lines.push(format!("APPEND long {long}"));
    lines.push(format!("APPEND long {long}"));
    lines.push("STRLEN long".into());
    lines.push("GETRANGE long 290 310".into());
    lines.push("SETRANGE long 598 abcd".into());
    lines.push("GETRANGE long -6 -1".into());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    diff(&refs).await;
}

#[tokio::test]
async fn differential_counters() {
    diff(&[
        "INCR n",
        "INCR n",
        "DECR n",
        "INCRBY n 100",
        "DECRBY n 50",
        "INCRBY n -9223372036854775808",
        "DECRBY n -9223372036854775808",
        "DECRBY n 9223372036854775807",
        "INCRBY n 9223372036854775807",
        "GET n",
        "SET max 9223372036854775807",
        "INCR max",
        "INCRBY max 0",
        "DECR max",
        "INCR max",
        "INCR max",
        "SET min -9223372036854775808",
        "DECR min",
        "INCRBY min -1",
        "INCRBY min 9223372036854775807",
        "SET big 9223372036854775808",
        "INCR big",
        "SET s abc",
        "INCR s",
        "DECR s",
        "INCRBY s 1",
        "SET sp1 \\s1",
        "SET sp 1\\s",
        "INCR sp1",
        "INCR sp",
        "SET plus +1",
        "INCR plus",
        "SET zero 0",
        "INCR zero",
        "SET lead 01",
        "INCR lead",
        "SET negz -0",
        "INCR negz",
        "SET hex 0x10",
        "INCR hex",
        "SET fl 1.0",
        "INCR fl",
        "SET e ''",
        "INCR e",
        "INCRBY n abc",
        "INCRBY n 1.5",
        "INCRBY n ''",
        "INCRBY n 99999999999999999999",
        "INCRBY n +5",
        "DECRBY n 1e3",
        "INCR",
        "INCRBY n",
        "DECR a b",
        "SET t 5 EX 100",
        "INCR t",
        "INCRBY t 10",
        "GET t",
        "DBSIZE",
    ])
    .await;
}

#[tokio::test]
async fn differential_incrbyfloat_edge_forms() {
    diff(&[
        "SET f 10",
        "INCRBYFLOAT f 10.5",
        "SET g 5.0e3",
        "INCRBYFLOAT g 2.0e2",
        "SET h 0.1",
        "INCRBYFLOAT h 0.2",
        "INCRBYFLOAT h -0.3",
        "INCRBYFLOAT a 1e3",
        "INCRBYFLOAT a 1E3",
        "INCRBYFLOAT a 1e-3",
        "INCRBYFLOAT a .5",
        "INCRBYFLOAT a 5.",
        "INCRBYFLOAT a +1.5",
        "INCRBYFLOAT a -1.5",
        "INCRBYFLOAT a 0x10",
        "INCRBYFLOAT a 0x1p-2",
        "INCRBYFLOAT a 0X1.8P1",
        "INCRBYFLOAT a 0x",
        "INCRBYFLOAT a 0xg",
        "INCRBYFLOAT a inf",
        "INCRBYFLOAT a -inf",
        "INCRBYFLOAT a +Infinity",
        "INCRBYFLOAT a nan",
        "INCRBYFLOAT a NaN",
        "INCRBYFLOAT a abc",
        "INCRBYFLOAT a 1e",
        "INCRBYFLOAT a 1e+",
        "INCRBYFLOAT a 1.2.3",
        "INCRBYFLOAT a ''",
        "INCRBYFLOAT a .",
        "INCRBYFLOAT a -",
        "INCRBYFLOAT a 1e5000",
        "INCRBYFLOAT a 1e-5000",
        "INCRBYFLOAT a 1e-4940",
        "GET a",
        "INCRBYFLOAT big 1e400",
        "INCRBYFLOAT big 1e4932",
        "INCRBYFLOAT big 1e4932",
        "INCRBYFLOAT huge 1.18e4932",
        "INCRBYFLOAT huge 1.18e4932",
        "INCRBYFLOAT k 1.1",
        "INCRBYFLOAT k 1e10",
        "INCRBYFLOAT k -1e10",
        "INCRBYFLOAT l -1e-20",
        "INCRBYFLOAT m 3.0",
        "INCRBYFLOAT m -3",
        "INCRBYFLOAT m -0.0",
        "INCRBYFLOAT i 9223372036854775807",
        "INCRBYFLOAT i 1",
        "INCRBYFLOAT j 123456789012345678901234567890",
        "INCRBYFLOAT j 0.000000000000000001",
        "INCRBYFLOAT tiny 0.000000000000000005",
        "INCRBYFLOAT tiny 0.000000000000000015",
        "INCRBYFLOAT half 0.000003814697265625",
        "INCRBYFLOAT half 0.0000000000000000125",
        "SET s hello",
        "INCRBYFLOAT s 1",
        "SET sp \\s1.5",
        "SET sp2 1.5\\s",
        "INCRBYFLOAT sp 1",
        "INCRBYFLOAT sp2 1",
        "SET hexv 0x1A",
        "INCRBYFLOAT hexv 1",
        "SET infv inf",
        "INCRBYFLOAT infv 1",
        "SET ninf -inf",
        "INCRBYFLOAT ninf inf",
        "SET n 5 EX 100",
        "INCRBYFLOAT n 0.25",
        "INCRBYFLOAT",
        "INCRBYFLOAT n",
        "DBSIZE",
    ])
    .await;
}

/// Deterministic pseudo-random decimal and exponent forms, summed on both
/// servers: exercises the long double parsing, rounding and printing.
#[tokio::test]
async fn differential_incrbyfloat_random_sums() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cmds = Vec::new();
    for i in 0..800 {
        let r = next();
        let sign = if r & 1 == 1 { "-" } else { "" };
        let int = (r >> 8) % [10, 1000, 1_000_000, 10_000_000_000][(r >> 4) as usize % 4];
        let frac = (r >> 20) % 100_000_000;
        let r2 = next();
        let v = match (r >> 1) % 8 {
            0 => format!("{sign}{int}.{frac}"),
            1 => format!("{sign}{int}"),
            2 => format!("{sign}{int}.{frac}e{}", (r >> 50) as i64 % 40 - 20),
            3 => format!("{sign}0.{frac:08}"),
            4 => format!("{sign}{int}e{}", (r >> 50) % 30),
            // Long mantissas and exponents across the long double range.
            5 => format!(
                "{sign}{}{:019}.{}e{}",
                r2 % 1000,
                r2 >> 1,
                r >> 3,
                (r2 % 9800) as i64 - 4900
            ),
            6 => format!(
                "{sign}0x{:x}.{:x}p{}",
                r2 >> 20,
                r2 & 0xffff,
                (r2 >> 40) % 200
            ),
            _ => format!("{sign}0.{:018}{}", r2 >> 4, r2 % 10),
        };
        let key = format!("k{}", i % 7);
        cmds.push(vec![
            b"INCRBYFLOAT".to_vec(),
            key.into_bytes(),
            v.into_bytes(),
        ]);
    }
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn differential_lcs() {
    diff(&[
        "MSET a ohmytext b mynewtext",
        "LCS a b",
        "LCS b a",
        "LCS a b LEN",
        "LCS a b len",
        "LCS a b IDX",
        "LCS a b IDX WITHMATCHLEN",
        "LCS a b IDX MINMATCHLEN 4",
        "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN",
        "LCS a b IDX MINMATCHLEN -5",
        "LCS a b IDX MINMATCHLEN abc",
        "LCS a b MINMATCHLEN",
        "LCS a b LEN IDX",
        "LCS a b FOO",
        "LCS a b WITHMATCHLEN",
        "LCS a b LEN WITHMATCHLEN",
        "LCS a missing",
        "LCS missing1 missing2",
        "LCS missing1 missing2 IDX",
        "LCS a missing IDX",
        "LCS a a",
        "LCS a a IDX",
        "MSET x 1234567890 y 24680",
        "LCS x y",
        "LCS x y IDX WITHMATCHLEN",
        "MSET p aaaaaaaa q aaa",
        "LCS p q IDX",
        "MSET r abcabcabc s cbacbacba",
        "LCS r s",
        "LCS r s IDX WITHMATCHLEN",
        "LCS r s IDX MINMATCHLEN 2",
        "MSET e1 '' e2 abc",
        "LCS e1 e2",
        "LCS a",
        "LCS",
    ])
    .await;
}

/// LCS IDX under RESP3 on both servers (HELLO's own reply differs, so it
/// is read and dropped).
#[tokio::test]
async fn differential_lcs_resp3() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let s = start().await;
    let mut a = s.raw().await;
    let mut b = oracle.raw().await;
    for r in [&mut a, &mut b] {
        r.call(&[b"HELLO", b"3"]).await;
        r.call(&[b"FLUSHALL"]).await;
    }
    let lines = [
        "MSET a ohmytext b mynewtext",
        "LCS a b IDX",
        "LCS a b IDX WITHMATCHLEN MINMATCHLEN 2",
        "LCS a b LEN",
        "LCS a b",
        "LCS a nokey IDX",
        "MGET a nokey",
        "GETEX nokey",
        "SET k v GET",
        "INCRBYFLOAT f 1.5",
    ];
    for line in lines {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        assert_eq!(
            String::from_utf8_lossy(&a.call(&args).await),
            String::from_utf8_lossy(&b.call(&args).await),
            "{line}"
        );
    }
}

/// Binary-safe values (NUL, CR/LF, high bytes) through every command that
/// reads or rewrites bytes, plus strtold's view of a NUL inside a float.
#[tokio::test]
async fn differential_binary_values() {
    let c = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<Vec<u8>>>();
    support::diff_args(&[
        c(&[b"SET", b"b", b"a\0b\r\nc\xff"]),
        c(&[b"GET", b"b"]),
        c(&[b"STRLEN", b"b"]),
        c(&[b"APPEND", b"b", b"\0\0"]),
        c(&[b"GETRANGE", b"b", b"1", b"-2"]),
        c(&[b"SETRANGE", b"b", b"10", b"\xfe\0"]),
        c(&[b"GET", b"b"]),
        c(&[b"MSET", b"x\0", b"1\0", b"y", b"\xff\xfe"]),
        c(&[b"MGET", b"x\0", b"y", b"x"]),
        c(&[b"LCS", b"b", b"y"]),
        c(&[b"LCS", b"b", b"x\0", b"IDX"]),
        c(&[b"INCR", b"x\0"]),
        c(&[b"INCRBYFLOAT", b"f", b"1\0abc"]),
        c(&[b"INCRBYFLOAT", b"f", b"\0"]),
        c(&[b"INCRBYFLOAT", b"f", b"2.5\0"]),
        c(&[b"INCRBYFLOAT", b"f", b"3.6e-4951"]),
        c(&[b"INCRBYFLOAT", b"f", b"1e-4951"]),
        c(&[b"INCRBYFLOAT", b"f", b"1.9e-4951"]),
        c(&[b"INCRBYFLOAT", b"f", b"1.18973149535723176502e4932"]),
        c(&[b"INCRBYFLOAT", b"f", b"1.18973149535723176508e4932"]),
        c(&[b"INCRBYFLOAT", b"f", b"1.2e4932"]),
        c(&[b"GET", b"f"]),
        c(&[b"GETDEL", b"b"]),
        c(&[b"GETSET", b"y", b"\r\n"]),
        c(&[b"GETEX", b"y", b"PERSIST"]),
    ])
    .await;
}

/// OBJECT ENCODING as Redis 7.2: a string modified in place (APPEND,
/// SETRANGE, SETBIT, BITOP, PFADD) is `raw` whatever it holds; SET, INCR
/// and a new key by APPEND choose int/embstr/raw from the value.
#[tokio::test]
async fn object_encoding_follows_in_place_modification() {
    let lines = [
        "SET k 12",
        "OBJECT ENCODING k",
        "APPEND k 3",
        "OBJECT ENCODING k",
        "INCR k",
        "OBJECT ENCODING k",
        "SET s abc",
        "SETRANGE s 1 z",
        "OBJECT ENCODING s",
        "EXPIRE s 100",
        "OBJECT ENCODING s",
        "SET b x",
        "SETBIT b 3 1",
        "OBJECT ENCODING b",
        "SETBIT nb 3 1",
        "OBJECT ENCODING nb",
        "BITOP OR d b b",
        "OBJECT ENCODING d",
        "SETRANGE nk 0 abc",
        "OBJECT ENCODING nk",
        "APPEND na 123",
        "OBJECT ENCODING na",
        "PFADD h a",
        "OBJECT ENCODING h",
        "SET f 1.5",
        "INCRBYFLOAT f 1",
        "OBJECT ENCODING f",
        "SET l 123456789012345678901234567890123456789012345",
        "OBJECT ENCODING l",
        "COPY b b2",
        "OBJECT ENCODING b2",
    ];
    support::diff_lines(&lines).await;
    support::diff_lines_72(&lines).await;
}
