//! The platform keyward exists for, played end to end with real clients
//! (issue 5): web-app sessions in DB 0, a cache in DB 1, BullMQ queues in
//! DB 2, rate limits in DB 5, one user per app. Each app is pinned to its
//! DB, cannot see, change, flush or starve another's, and each sees its
//! own eviction policy. (The BullMQ half of the scenario, a real queue run
//! on DB 2 as the pinned user, is tests/compat/tenancy-bullmq.js.)

use std::time::Duration;

use keyward::config::{DbConfig, UserConfig};
use keyward::keyspace::evict::Policy;
use keyward::Config;
use redis::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{start_with, Raw, TestServer};

const CACHE_LIMIT: u64 = 1 << 20;
const QUEUE_LIMIT: u64 = 256 * 1024;
const DENIED: &str = "-NOPERM No permissions to access database\r\n";

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn platform() -> Config {
    let db = |index: usize, name: &str, f: &dyn Fn(&mut DbConfig)| {
        let mut d = DbConfig::new(index);
        d.name = name.to_string();
        f(&mut d);
        d
    };
    let user = |name: &str, dbs: &str| UserConfig {
        name: name.to_string(),
        password_env: None,
        rules: format!("on db={dbs} ~* &* +@all"),
        words: None,
        password: Some(format!("{name}-pw")),
    };
    Config {
        dbs: vec![
            db(0, "sessions", &|d| {
                d.maxmemory = 2 << 20;
                d.maxmemory_policy = Some(Policy::VolatileLru);
            }),
            db(1, "cache", &|d| {
                d.maxmemory = CACHE_LIMIT;
                d.maxmemory_policy = Some(Policy::AllKeysLru);
            }),
            db(2, "queue", &|d| {
                d.maxmemory = QUEUE_LIMIT;
                d.maxmemory_policy = Some(Policy::NoEviction);
            }),
            db(5, "ratelimit", &|d| d.max_ops_per_sec = 1_000_000),
        ],
        users: vec![
            user("sessions", "0"),
            user("cache", "1"),
            user("worker", "2"),
            user("limiter", "5"),
        ],
        metrics_addr: Some("127.0.0.1:0".into()),
        ..Config::default()
    }
}

/// A raw connection logged in as `name` (never SELECTs: pinning does it).
async fn login(srv: &TestServer, name: &str) -> Raw {
    let mut r = srv.raw().await;
    let reply = r.call_str(&format!("AUTH {name} {name}-pw")).await;
    assert_eq!(s(&reply), "+OK\r\n", "AUTH {name}");
    r
}

fn info_field(info: &str, field: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO:\n{info}"))
        .trim()
        .to_string()
}

async fn info(r: &mut Raw, section: &str) -> String {
    s(&r.call_str(&format!("INFO {section}")).await)
}

async fn dbsize(r: &mut Raw) -> usize {
    let reply = s(&r.call_str("DBSIZE").await);
    reply[1..reply.len() - 2].parse().expect("integer reply")
}

#[tokio::test]
async fn four_tenants_share_one_server_safely() {
    let srv = start_with(platform()).await;
    let tenants = [("sessions", 0), ("cache", 1), ("worker", 2), ("limiter", 5)];

    // Each app lands in its own DB on AUTH and writes there.
    let mut conns = Vec::new();
    for (name, index) in tenants {
        let mut r = login(&srv, name).await;
        let client = s(&r.call_str("CLIENT INFO").await);
        assert!(
            client.contains(&format!(" db={index} ")),
            "{name}: {client}"
        );
        let set = format!("SET owner {name}");
        assert_eq!(s(&r.call_str(&set).await), "+OK\r\n");
        conns.push((name, index, r));
    }
    let mut admin = srv.raw().await;
    for (name, index) in tenants {
        assert_eq!(
            s(&admin.call_str(&format!("SELECT {index}")).await),
            "+OK\r\n"
        );
        let owner = s(&admin.call_str("GET owner").await);
        assert_eq!(owner, format!("${}\r\n{name}\r\n", name.len()));
    }
    assert_eq!(s(&admin.call_str("SELECT 0").await), "+OK\r\n");

    // Every path to another tenant's DB is refused, on every connection.
    for (name, index, r) in conns.iter_mut() {
        let other = if *index == 1 { 2 } else { 1 };
        for line in [
            format!("SELECT {other}"),
            format!("MOVE owner {other}"),
            format!("SWAPDB {index} {other}"),
            format!("COPY owner stolen DB {other}"),
            "FLUSHALL".to_string(),
        ] {
            assert_eq!(s(&r.call_str(&line).await), DENIED, "{name}: {line}");
        }
        // Inside MULTI (refused at queue time) and inside Lua.
        assert_eq!(s(&r.call_str("MULTI").await), "+OK\r\n");
        assert_eq!(
            s(&r.call_str(&format!("SELECT {other}")).await),
            DENIED,
            "{name}"
        );
        assert!(s(&r.call_str("EXEC").await).starts_with("-EXECABORT"));
        let lua = format!("return redis.call('select', {other})");
        let e = s(&r.call(&[b"EVAL", lua.as_bytes(), b"0"]).await);
        assert!(
            e.contains("No permissions to access database"),
            "{name}: {e}"
        );
        // Still in its own DB, data intact.
        let owner = s(&r.call_str("GET owner").await);
        assert_eq!(owner, format!("${}\r\n{name}\r\n", name.len()));
    }

    // CLIENT LIST shows a tenant only the clients in its own DB.
    for (name, index, r) in conns.iter_mut() {
        let list = s(&r.call_str("CLIENT LIST").await);
        let lines: Vec<&str> = list.lines().filter(|l| l.contains("id=")).collect();
        assert!(!lines.is_empty(), "{name}");
        for l in lines {
            assert!(l.contains(&format!(" db={index} ")), "{name} sees {l}");
        }
    }

    // INFO as each tenant shows that tenant's policy and limit.
    for (name, index, r) in conns.iter_mut() {
        let memory = info(r, "memory").await;
        let (policy, limit) = match *index {
            0 => ("volatile-lru", 2u64 << 20),
            1 => ("allkeys-lru", CACHE_LIMIT),
            2 => ("noeviction", QUEUE_LIMIT),
            _ => ("noeviction", 0),
        };
        assert_eq!(info_field(&memory, "maxmemory_policy"), policy, "{name}");
        assert_eq!(
            info_field(&memory, "maxmemory"),
            limit.to_string(),
            "{name}"
        );
        // INFO keyspace lists only the tenant's own DB.
        let keyspace = info(r, "keyspace").await;
        let listed: Vec<&str> = keyspace.lines().filter(|l| l.starts_with("db")).collect();
        assert_eq!(listed.len(), 1, "{name}: {keyspace}");
        assert!(listed[0].starts_with(&format!("db{index}:")), "{name}");
    }

    // The cache fills far past its 1 MB: it evicts, only its own keys.
    let value = vec![b'c'; 1000];
    let cache = &mut conns[1].2;
    for i in 0..3000 {
        let key = format!("page:{i}");
        let reply = cache.call(&[b"SET", key.as_bytes(), &value]).await;
        assert_eq!(s(&reply), "+OK\r\n", "a cache write is never refused");
    }
    let cached = dbsize(cache).await;
    assert!(cached < 1100, "the cache was evicted down: {cached} keys");
    assert_eq!(s(&cache.call_str("EXISTS page:2999").await), ":1\r\n");
    let stats = info(cache, "stats").await;
    assert!(info_field(&stats, "evicted_keys").parse::<u64>().unwrap() > 0);

    // The queue DB refuses writes at its limit and loses none it took.
    let queue = &mut conns[2].2;
    let mut acked = 0;
    let mut refusal = String::new();
    for i in 0..2000 {
        let key = format!("job:{i}");
        let reply = s(&queue.call(&[b"SET", key.as_bytes(), &value]).await);
        if reply != "+OK\r\n" {
            refusal = reply;
            break;
        }
        acked += 1;
    }
    assert_eq!(
        refusal,
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert!(acked > 100, "{acked}");
    for i in 0..acked {
        let key = format!("job:{i}");
        let got = queue.call(&[b"GET", key.as_bytes()]).await;
        assert_eq!(got.len(), 1000 + 9, "job:{i} was acknowledged, so it stays");
    }
    // The other tenants never lost a key to the cache or the queue.
    for (name, _, r) in conns.iter_mut().filter(|c| c.1 != 1 && c.1 != 2) {
        assert_eq!(dbsize(r).await, 1, "{name}");
    }

    // ACL LOG shows the database denials of every tenant.
    let log = {
        let mut c = redis::Client::open(srv.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let entries: Vec<Vec<Value>> = redis::cmd("ACL")
            .arg("LOG")
            .arg(100)
            .query_async(&mut c)
            .await
            .unwrap();
        entries
    };
    for (name, _) in tenants {
        let name = Value::BulkString(name.as_bytes().to_vec());
        assert!(
            log.iter().any(|e| e[3] == Value::BulkString(b"database".to_vec())
                && e.get(9) == Some(&name)),
            "a database denial of {name:?} in {log:?}"
        );
    }

    // The metrics endpoint has the per-DB series of all of it.
    let metrics = scrape(&srv).await;
    let series = |name: &str, db: usize| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("db=\"{db}\"")))
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.parse::<f64>().expect("number"))
            .unwrap_or_else(|| panic!("no {name} for db {db} in\n{metrics}"))
    };
    assert!(series("keyward_db_evicted_keys_total", 1) > 0.0);
    assert_eq!(series("keyward_db_evicted_keys_total", 2), 0.0);
    assert!(series("keyward_db_oom_rejections_total", 2) >= 1.0);
    assert_eq!(series("keyward_db_keys", 2), acked as f64 + 1.0);
    assert_eq!(series("keyward_db_keys", 5), 1.0);
    assert!(metrics.contains("keyward_user_acl_denials_total{user=\"worker\"}"));
}

async fn scrape(srv: &TestServer) -> String {
    let addr = srv.handle.metrics_addr().expect("metrics on");
    let mut sock = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics listener accepts");
    sock.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .expect("request sent");
    let mut body = String::new();
    tokio::time::timeout(Duration::from_secs(10), sock.read_to_string(&mut body))
        .await
        .expect("scrape answers in time")
        .expect("scrape reads");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body
}
