//! DUMP and RESTORE over a real connection: every payload Redis 6.2, 7.0
//! and 7.2 wrote restores to the value Redis reported; each type survives
//! DUMP → RESTORE; each error has Redis's text; Redis's corrupt-dump
//! payloads get Redis 7.2's answers; and payloads cross between keyward
//! and redis-server 7.0 in both directions.

use keyward::keyspace::value::Thresholds;
use keyward::persistence::rdb::{self, RdbVersion};
use redis::aio::MultiplexedConnection;
use serde_json::Value;

use crate::rdb::{as_v10, bytes, expected, hex, read_json, view_of, KeyView, Val};
use crate::support::{self, Oracle};

async fn q<T: redis::FromRedisValue>(c: &mut MultiplexedConnection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("command name"));
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

/// The key as a client sees it through ordinary commands (streams, whose
/// groups no single command lists, through DUMP and our decoder).
async fn fetch(c: &mut MultiplexedConnection, key: &[u8]) -> KeyView {
    let ty: String = q(c, &[b"TYPE", key]).await;
    let pairs = |flat: Vec<Vec<u8>>| -> Vec<(Vec<u8>, Vec<u8>)> {
        flat.chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect()
    };
    let value = match ty.as_str() {
        "string" => Val::Str(q(c, &[b"GET", key]).await),
        "list" => Val::List(q(c, &[b"LRANGE", key, b"0", b"-1"]).await),
        "hash" => {
            let mut p = pairs(q(c, &[b"HGETALL", key]).await);
            p.sort();
            Val::Hash(p)
        }
        "set" => {
            let mut m: Vec<Vec<u8>> = q(c, &[b"SMEMBERS", key]).await;
            m.sort();
            Val::Set(m)
        }
        "zset" => Val::ZSet(
            pairs(q(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]).await)
                .into_iter()
                .map(|(m, s)| (m, String::from_utf8_lossy(&s).parse().expect("score")))
                .collect(),
        ),
        "stream" => {
            let payload: Vec<u8> = q(c, &[b"DUMP", key]).await;
            let v = rdb::restore_payload(&payload, &Thresholds::default()).expect("decodes");
            view_of(&v.into_entry(key, None, 0)).value
        }
        other => panic!("unexpected type {other}"),
    };
    let pexp: i64 = q(c, &[b"PEXPIRETIME", key]).await;
    KeyView {
        key: key.to_vec(),
        ty,
        ttl: (pexp >= 0).then_some(pexp),
        value,
    }
}

fn payloads(file: &str) -> Vec<Value> {
    read_json(file)["payloads"]
        .as_array()
        .expect("payloads")
        .clone()
}

#[tokio::test]
async fn restore_of_every_redis_payload_gives_the_expected_value() {
    let server = support::start().await;
    let mut c = server.client().await;
    for (file, json) in [
        (
            "redis-6.2.14-dump-payloads.json",
            "redis-6.2.14-all-types.loaded-by-7.2.6.json",
        ),
        (
            "redis-7.0.15-dump-payloads.json",
            "redis-7.0.15-all-types.loaded-by-7.2.6.json",
        ),
        (
            "redis-7.2.6-dump-payloads.json",
            "redis-7.2.6-all-types.expected.json",
        ),
    ] {
        let want = expected(json);
        let mut n = 0;
        for p in payloads(file) {
            let db = p["db"].as_u64().expect("db") as usize;
            let key = bytes(&p["key"]);
            let payload = hex(p["payload_hex"].as_str().expect("hex"));
            let mut exp = want[&db]
                .iter()
                .find(|k| k.key == key)
                .expect("the payload's key is in the keyspace")
                .clone();
            if p["payload_version"].as_u64() == Some(10) {
                // Version 10 streams carry no consumer active time.
                let one = std::collections::BTreeMap::from([(0, vec![exp])]);
                exp = as_v10(&one)[&0][0].clone();
            }
            let _: () = q(&mut c, &[b"SELECT", db.to_string().as_bytes()]).await;
            let ttl = exp
                .ttl
                .map_or(b"0".to_vec(), |t| t.to_string().into_bytes());
            let _: () = q(
                &mut c,
                &[b"RESTORE", &key, &ttl, &payload, b"REPLACE", b"ABSTTL"],
            )
            .await;
            let got = fetch(&mut c, &key).await;
            assert_eq!(got, exp, "{file}: {}", String::from_utf8_lossy(&key));
            n += 1;
        }
        assert!(n > 80, "{file}: only {n} payloads");
    }
}

#[tokio::test]
async fn dump_restore_round_trips_each_type() {
    let server = support::start().await;
    let mut raw = server.raw().await;
    for line in [
        "SET s hello",
        "SET n 12345",
        "SET big 0123456789012345678901234567890123456789012345678901234567890123456789",
        "RPUSH l a b 3 -4 c",
        "HSET h f1 v1 f2 2",
        "SADD si 1 2 3",
        "SADD ss a b c",
        "ZADD z 1 a 2.5 b -inf c",
        "XADD x 1-1 f v",
        "XADD x 1-2 f w g 1",
        "XGROUP CREATE x g 0",
        "XREADGROUP GROUP g alice COUNT 1 STREAMS x >",
        "PEXPIREAT s 4102444800000",
    ] {
        let r = raw.call_str(line).await;
        assert!(
            !r.starts_with(b"-"),
            "{line}: {}",
            String::from_utf8_lossy(&r)
        );
    }
    let mut c = server.client().await;
    for key in ["s", "n", "big", "l", "h", "si", "ss", "z", "x"] {
        let k = key.as_bytes();
        let payload: Vec<u8> = q(&mut c, &[b"DUMP", k]).await;
        assert_eq!(
            &payload[payload.len() - 10..payload.len() - 8],
            &[11, 0],
            "version 11"
        );
        let before = fetch(&mut c, k).await;
        let copy = format!("{key}:copy");
        let _: () = q(&mut c, &[b"RESTORE", copy.as_bytes(), b"0", &payload]).await;
        let after = fetch(&mut c, copy.as_bytes()).await;
        assert_eq!(after.value, before.value, "{key}");
        assert_eq!(after.ty, before.ty, "{key}");
    }
    let nil: Option<Vec<u8>> = q(&mut c, &[b"DUMP", b"missing"]).await;
    assert_eq!(nil, None);
}

#[tokio::test]
async fn restore_errors_have_redis_texts() {
    let server = support::start().await;
    let mut raw = server.raw().await;
    raw.call_str("SET k v").await;
    let good = support::bulk_payload(&raw.call_str("DUMP k").await).expect("payload");
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    let mut v12 = good.clone();
    v12[n - 10] = 12;
    let crc = rdb::crc::crc64(&v12[..n - 8]);
    v12[n - 8..].copy_from_slice(&crc.to_le_bytes());
    let mut garbage = vec![0x63u8, 1, 2, 3];
    garbage.extend_from_slice(&11u16.to_le_bytes());
    let crc = rdb::crc::crc64(&garbage);
    garbage.extend_from_slice(&crc.to_le_bytes());
    let cases: Vec<(Vec<&[u8]>, &str)> = vec![
        (
            vec![b"k", b"0", &good],
            "-BUSYKEY Target key name already exists.\r\n",
        ),
        (
            vec![b"k2", b"0", &bad_crc],
            "-ERR DUMP payload version or checksum are wrong\r\n",
        ),
        (
            vec![b"k2", b"0", &v12],
            "-ERR DUMP payload version or checksum are wrong\r\n",
        ),
        (
            vec![b"k2", b"0", b"short"],
            "-ERR DUMP payload version or checksum are wrong\r\n",
        ),
        (vec![b"k2", b"0", &garbage], "-ERR Bad data format\r\n"),
        (
            vec![b"k2", b"-1", &good],
            "-ERR Invalid TTL value, must be >= 0\r\n",
        ),
        (
            vec![b"k2", b"x", &good],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            vec![b"k2", b"0", &good, b"IDLETIME", b"-1"],
            "-ERR Invalid IDLETIME value, must be >= 0\r\n",
        ),
        (
            vec![b"k2", b"0", &good, b"FREQ", b"256"],
            "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n",
        ),
        (
            vec![b"k2", b"0", &good, b"FREQ", b"-1"],
            "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n",
        ),
        (
            vec![b"k2", b"0", &good, b"FREQ", b"1", b"IDLETIME", b"1"],
            "-ERR syntax error\r\n",
        ),
        (vec![b"k2", b"0", &good, b"BOGUS"], "-ERR syntax error\r\n"),
        (
            vec![b"k2", b"0", &good, b"IDLETIME"],
            "-ERR syntax error\r\n",
        ),
    ];
    for (args, want) in cases {
        let mut argv: Vec<&[u8]> = vec![b"RESTORE"];
        argv.extend(args);
        let got = raw.call(&argv).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            want,
            "{:?}",
            String::from_utf8_lossy(argv[1])
        );
    }
    // REPLACE overwrites; an expiry already past leaves no key (and removes
    // the one REPLACE replaced), as in Redis.
    assert_eq!(
        raw.call(&[b"RESTORE", b"k", b"0", &good, b"REPLACE"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        raw.call(&[b"RESTORE", b"k", b"1", &good, b"REPLACE", b"ABSTTL"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(raw.call_str("EXISTS k").await, b":0\r\n");
}

#[tokio::test]
async fn restore_sets_idle_time_and_frequency_under_the_dbs_policy() {
    let server = support::start().await;
    let mut raw = server.raw().await;
    raw.call_str("SET k v").await;
    let good = support::bulk_payload(&raw.call_str("DUMP k").await).expect("payload");
    raw.call_str("CONFIG SET maxmemory-policy allkeys-lru")
        .await;
    raw.call(&[b"RESTORE", b"idle", b"0", &good, b"IDLETIME", b"1000"])
        .await;
    let idle = raw.call_str("OBJECT IDLETIME idle").await;
    let secs: i64 = std::str::from_utf8(&idle[1..idle.len() - 2])
        .expect("int")
        .parse()
        .expect("int");
    assert!((1000..1005).contains(&secs), "{secs}");
    raw.call_str("CONFIG SET maxmemory-policy allkeys-lfu")
        .await;
    raw.call(&[b"RESTORE", b"hot", b"0", &good, b"FREQ", b"100"])
        .await;
    assert_eq!(raw.call_str("OBJECT FREQ hot").await, b":100\r\n");
}

#[tokio::test]
async fn corrupt_payloads_get_redis_7_2_answers() {
    let server = support::start().await;
    let mut raw = server.raw().await;
    let cases = payloads("corrupt-restore-payloads.json");
    assert_eq!(cases.len(), 68);
    let mut accepted = 0;
    let mut wrong = Vec::new();
    for p in &cases {
        let payload = hex(p["payload_hex"].as_str().expect("hex"));
        let want = p["redis_7_2_6_sanitize_yes"].as_str().expect("reply");
        let got = raw
            .call(&[b"RESTORE", b"corrupt:key", b"0", &payload, b"REPLACE"])
            .await;
        let got = String::from_utf8_lossy(&got);
        let got = got.trim_end().trim_start_matches(['-', '+']);
        if got != want {
            wrong.push(format!("{}: got {got}", p["test"]));
        }
        if got == "OK" {
            accepted += 1;
            // What was accepted is usable.
            let r = raw.call_str("TYPE corrupt:key").await;
            assert!(r.starts_with(b"+"), "{}", String::from_utf8_lossy(&r));
        }
        assert_eq!(
            raw.call_str("PING").await,
            b"+PONG\r\n",
            "the server survives"
        );
    }
    assert!(
        wrong.is_empty(),
        "{} differ from Redis:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(accepted, 1);
}

/// Payloads cross between redis-server 7.0 and keyward both ways. Ours
/// are version 11 like Redis 7.2's, which 7.0 refuses exactly as it
/// refuses 7.2's; version 10 payloads from the same codec restore there.
#[tokio::test]
async fn payloads_cross_between_redis_7_0_and_keyward() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let server = support::start().await;
    let mut theirs = redis::Client::open(format!("redis://{}/", oracle.addr))
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let mut ours = server.client().await;
    let setup: &[&[&str]] = &[
        &["SET", "s", "hello world, hello world, hello world"],
        &["SET", "n", "-77"],
        &["RPUSH", "l", "a", "1", "b"],
        &["HSET", "h", "f", "v", "g", "2"],
        &["SADD", "si", "5", "-3"],
        &["SADD", "ss", "x", "y"],
        &["ZADD", "z", "1.5", "a", "3", "b"],
        &["XADD", "x", "5-1", "f", "v"],
        &["XGROUP", "CREATE", "x", "g", "0"],
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "x", ">"],
    ];
    for cmd in setup {
        let args: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
        let _: redis::Value = q(&mut theirs, &args).await;
    }
    for key in ["s", "n", "l", "h", "si", "ss", "z", "x"] {
        let k = key.as_bytes();
        // Redis 7.0 → keyward.
        let payload: Vec<u8> = q(&mut theirs, &[b"DUMP", k]).await;
        let _: () = q(&mut ours, &[b"RESTORE", k, b"0", &payload]).await;
        let want = fetch(&mut theirs, k).await;
        assert_eq!(fetch(&mut ours, k).await, want, "{key} into keyward");
        // keyward → Redis 7.0: our DUMP (version 11) is refused there …
        let ours_v11: Vec<u8> = q(&mut ours, &[b"DUMP", k]).await;
        let r: redis::RedisResult<()> = redis::cmd("RESTORE")
            .arg(format!("{key}:v11"))
            .arg(0)
            .arg(&ours_v11)
            .query_async(&mut theirs)
            .await;
        let err = r.expect_err("7.0 refuses version 11");
        assert!(
            err.to_string()
                .contains("DUMP payload version or checksum are wrong"),
            "{err}"
        );
        // … and a version 10 payload of the same value restores.
        let t = Thresholds::default();
        let v = rdb::restore_payload(&ours_v11, &t).expect("our payload");
        let e = v.into_entry(k, None, 0);
        let v10 = rdb::dump_payload_as(e.value(), RdbVersion::V10);
        let copy = format!("{key}:copy");
        let _: () = q(&mut theirs, &[b"RESTORE", copy.as_bytes(), b"0", &v10]).await;
        let mut back = fetch(&mut theirs, copy.as_bytes()).await;
        back.key = k.to_vec();
        assert_eq!(back, want, "{key} into redis-server");
    }
}

/// RESTORE's row, key spec included (its key is OW, not the RW a write
/// row gets by default), reads exactly as redis-server's.
#[tokio::test]
async fn command_info_restore_matches_redis() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let server = support::start().await;
    let ours = server.raw().await.call_str("COMMAND INFO restore").await;
    let theirs = oracle.raw().await.call_str("COMMAND INFO restore").await;
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

fn st(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn call(a: &mut crate::support::Raw, args: Vec<Vec<u8>>) -> String {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    st(&a.call(&refs).await)
}

/// MIGRATE between two keyward servers: moves (or copies) keys with their
/// TTL, answers NOKEY, IOERR and the target's errors as Redis does. (Two
/// workers: the source blocks one for the transfer, as Redis blocks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_moves_keys_between_servers() {
    let src = support::start().await;
    let dst = support::start_with(keyward::Config {
        requirepass: Some("pw".into()),
        ..keyward::Config::default()
    })
    .await;
    let port = dst.addr.port().to_string();
    let mut a = src.raw().await;
    a.call(&[b"SET", b"k1", b"v1", b"EX", b"1000"]).await;
    a.call(&[b"RPUSH", b"k2", b"x", b"y"]).await;
    a.call(&[b"SET", b"k3", b"v3"]).await;
    let mig = |args: &[&str]| -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = vec![
            b"MIGRATE".to_vec(),
            b"127.0.0.1".to_vec(),
            port.as_bytes().to_vec(),
        ];
        v.extend(args.iter().map(|x| x.as_bytes().to_vec()));
        v
    };

    // Without AUTH the target refuses.
    let e = call(&mut a, mig(&["k1", "3", "1000"])).await;
    assert_eq!(
        e,
        "-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        call(&mut a, mig(&["k1", "3", "1000", "AUTH", "pw"])).await,
        "+OK\r\n"
    );
    assert_eq!(st(&a.call(&[b"EXISTS", b"k1"]).await), ":0\r\n");
    assert_eq!(
        call(
            &mut a,
            mig(&["", "3", "1000", "COPY", "AUTH", "pw", "KEYS", "k2", "k3", "nope"])
        )
        .await,
        "+OK\r\n"
    );
    assert_eq!(st(&a.call(&[b"EXISTS", b"k2", b"k3"]).await), ":2\r\n");
    let mut b = dst.raw().await;
    b.call(&[b"AUTH", b"pw"]).await;
    b.call(&[b"SELECT", b"3"]).await;
    assert_eq!(st(&b.call(&[b"GET", b"k1"]).await), "$2\r\nv1\r\n");
    let ttl: i64 = st(&b.call(&[b"TTL", b"k1"]).await)
        .trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or(0);
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    assert_eq!(
        st(&b.call(&[b"LRANGE", b"k2", b"0", b"-1"]).await),
        "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
    // The key exists there now: BUSYKEY, unless REPLACE.
    assert_eq!(
        call(&mut a, mig(&["k3", "3", "1000", "AUTH", "pw"])).await,
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(
        call(&mut a, mig(&["k3", "3", "1000", "REPLACE", "AUTH", "pw"])).await,
        "+OK\r\n"
    );
    assert_eq!(
        call(&mut a, mig(&["gone", "3", "1000"])).await,
        "+NOKEY\r\n"
    );
    assert_eq!(
        call(&mut a, mig(&["k2", "3", "1000", "KEYS", "k2"])).await,
        "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string\r\n"
    );
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = closed.local_addr().expect("addr").port().to_string();
    drop(closed);
    let reply = st(&a
        .call(&[
            b"MIGRATE",
            b"127.0.0.1",
            dead.as_bytes(),
            b"k2",
            b"0",
            b"200",
        ])
        .await);
    assert_eq!(
        reply,
        "-IOERR error or timeout connecting to the client\r\n"
    );
}

/// Debian's redis-server 7.0 MIGRATEs into keyward (its version-10
/// payloads restore here).
#[tokio::test]
async fn redis_server_migrates_into_keyward() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let kw = support::start().await;
    let mut o = oracle.raw().await;
    o.call(&[b"HSET", b"h", b"f", b"v"]).await;
    let port = kw.addr.port().to_string();
    let r = st(&o
        .call(&[
            b"MIGRATE",
            b"127.0.0.1",
            port.as_bytes(),
            b"h",
            b"0",
            b"1000",
        ])
        .await);
    assert_eq!(r, "+OK\r\n");
    let mut k = kw.raw().await;
    assert_eq!(st(&k.call(&[b"HGET", b"h", b"f"]).await), "$1\r\nv\r\n");
}
