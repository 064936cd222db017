//! Integration tests: Prometheus metrics (`--metrics-addr`, GET /metrics).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, Raw, TestServer};
use keyward::metrics::names;

async fn start_metrics() -> TestServer {
    support::start_with(keyward::Config {
        metrics_addr: Some("127.0.0.1:0".into()),
        ..Default::default()
    })
    .await
}

/// One raw HTTP exchange: (status line, body).
async fn http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.expect("metrics listener");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("response within 10 s")
        .expect("read");
    let text = String::from_utf8(buf).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status = head.lines().next().unwrap_or_default().to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    if !request.starts_with("HEAD") {
        assert_eq!(len, body.len(), "content-length matches the body");
    }
    (status, body.to_string())
}

struct Scrape {
    text: String,
    values: HashMap<String, f64>,
}

impl Scrape {
    fn get(&self, series: &str) -> f64 {
        *self
            .values
            .get(series)
            .unwrap_or_else(|| panic!("no series {series} in\n{}", self.text))
    }

    fn has(&self, series: &str) -> bool {
        self.values.contains_key(series)
    }
}

async fn scrape(srv: &TestServer) -> Scrape {
    let addr = srv.handle.metrics_addr().expect("metrics on");
    let (status, text) = http(addr, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let mut values = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        assert!(
            values.insert(series.to_string(), v).is_none(),
            "duplicate {series}"
        );
    }
    Scrape { text, values }
}

async fn ok(r: &mut Raw, line: &str) {
    let reply = r.call_str(line).await;
    assert_eq!(
        reply,
        b"+OK\r\n",
        "{line}: {}",
        String::from_utf8_lossy(&reply)
    );
}

#[tokio::test]
async fn metrics_off_means_no_listener() {
    let srv = support::start().await;
    assert_eq!(srv.handle.metrics_addr(), None);
    assert!(srv.handle.shared().metrics.is_none());
    // Commands still run and commandstats still count.
    let mut r = srv.raw().await;
    assert_eq!(r.call_str("PING").await, b"+PONG\r\n");
}

#[tokio::test]
async fn per_db_per_user_and_latency_series() {
    let srv = start_metrics().await;
    let mut admin = srv.raw().await;
    ok(&mut admin, "ACL SETUSER worker on >wpw ~* +@all db=2").await;
    ok(&mut admin, "ACL SETUSER reader on >rpw ~* +get +auth db=3").await;
    // DB 0 as the default user: 2 keys, 1 with a TTL, 1 hit, 2 misses.
    ok(&mut admin, "SET a 1").await;
    ok(&mut admin, "SET b 2 EX 100").await;
    assert_eq!(admin.call_str("GET a").await, b"$1\r\n1\r\n");
    assert_eq!(admin.call_str("GET nope").await, b"$-1\r\n");
    assert_eq!(admin.call_str("GET nope2").await, b"$-1\r\n");

    // worker lands in DB 2: 1 key, 2 hits, 1 miss.
    let mut worker = srv.raw().await;
    ok(&mut worker, "AUTH worker wpw").await;
    ok(&mut worker, "SET x 1").await;
    assert_eq!(worker.call_str("GET x").await, b"$1\r\n1\r\n");
    assert_eq!(worker.call_str("GET x").await, b"$1\r\n1\r\n");
    assert_eq!(worker.call_str("GET y").await, b"$-1\r\n");

    // reader in DB 3: one NOPERM, one failed AUTH against itself, and a
    // failed AUTH for a user that does not exist (not a series).
    let mut reader = srv.raw().await;
    ok(&mut reader, "AUTH reader rpw").await;
    let denied = reader.call_str("SET k v").await;
    assert!(denied.starts_with(b"-NOPERM"), "{denied:?}");
    assert!(reader
        .call_str("AUTH reader wrong")
        .await
        .starts_with(b"-WRONGPASS"));
    assert!(reader
        .call_str("AUTH ghost x")
        .await
        .starts_with(b"-WRONGPASS"));

    let m = scrape(&srv).await;
    // Per DB.
    assert_eq!(m.get(r#"keyward_db_keys{db="0"}"#), 2.0);
    assert_eq!(m.get(r#"keyward_db_expires{db="0"}"#), 1.0);
    assert_eq!(m.get(r#"keyward_db_keyspace_hits_total{db="0"}"#), 1.0);
    assert_eq!(m.get(r#"keyward_db_keyspace_misses_total{db="0"}"#), 2.0);
    assert_eq!(m.get(r#"keyward_db_keys{db="2"}"#), 1.0);
    assert_eq!(m.get(r#"keyward_db_expires{db="2"}"#), 0.0);
    assert_eq!(m.get(r#"keyward_db_keyspace_hits_total{db="2"}"#), 2.0);
    assert_eq!(m.get(r#"keyward_db_keyspace_misses_total{db="2"}"#), 1.0);
    assert_eq!(m.get(r#"keyward_db_keys{db="3"}"#), 0.0);
    // An empty DB still owns its (small) table.
    assert!(
        m.get(r#"keyward_db_used_memory_bytes{db="0"}"#)
            > m.get(r#"keyward_db_used_memory_bytes{db="5"}"#)
    );
    assert_eq!(m.get(r#"keyward_db_maxmemory_bytes{db="0"}"#), 0.0);
    assert_eq!(m.get(r#"keyward_db_evicted_keys_total{db="0"}"#), 0.0);
    assert_eq!(m.get(r#"keyward_db_expired_keys_total{db="0"}"#), 0.0);
    assert_eq!(m.get(r#"keyward_db_oom_rejections_total{db="0"}"#), 0.0);
    assert_eq!(m.get(r#"keyward_db_throttled_commands_total{db="0"}"#), 0.0);
    assert!(m.has(r#"keyward_db_clients{db="15"}"#));
    // Per user. AUTH counts for the user it logged in as.
    assert_eq!(m.get(r#"keyward_user_connections{user="worker"}"#), 1.0);
    assert_eq!(m.get(r#"keyward_user_connections{user="reader"}"#), 1.0);
    assert_eq!(m.get(r#"keyward_user_connections{user="default"}"#), 1.0);
    assert_eq!(m.get(r#"keyward_user_commands_total{user="worker"}"#), 5.0);
    // AUTH reader rpw ran; SET was refused; the failed AUTHs ran (and failed).
    assert_eq!(m.get(r#"keyward_user_commands_total{user="reader"}"#), 3.0);
    assert_eq!(
        m.get(r#"keyward_user_acl_denials_total{user="reader"}"#),
        2.0
    );
    assert_eq!(
        m.get(r#"keyward_user_acl_denials_total{user="worker"}"#),
        0.0
    );
    assert!(!m.text.contains(r#"user="ghost""#), "{}", m.text);
    // Latency: 6 GETs ran (the denied SET did not).
    let get = |s: &str| m.get(&format!(r#"keyward_command_duration_seconds_{s}"#));
    assert_eq!(get(r#"count{cmd="get"}"#), 6.0);
    assert_eq!(get(r#"bucket{cmd="get",le="+Inf"}"#), 6.0);
    assert_eq!(get(r#"count{cmd="set"}"#), 3.0);
    assert!(get(r#"sum{cmd="get"}"#) >= 0.0);
    assert!(get(r#"bucket{cmd="get",le="1.048576"}"#) <= 6.0);
    assert!(get(r#"bucket{cmd="get",le="0.000001"}"#) <= get(r#"bucket{cmd="get",le="0.000002"}"#));
    assert!(!m.has(r#"keyward_command_duration_seconds_count{cmd="lpush"}"#));
    // Subcommands are labelled as ACL and COMMAND INFO name them.
    ok(&mut admin, "CLIENT SETNAME x").await;
    let m = scrape(&srv).await;
    assert_eq!(
        m.get(r#"keyward_command_duration_seconds_count{cmd="client|setname"}"#),
        1.0
    );
    // Every series carries its TYPE and HELP.
    for s in names::ALL {
        let kind = match s.kind {
            names::Kind::Counter => "counter",
            names::Kind::Gauge => "gauge",
            names::Kind::Histogram => "histogram",
        };
        assert!(
            m.text.contains(&format!("# TYPE {} {kind}\n", s.name)),
            "{}",
            s.name
        );
        assert!(
            m.text.contains(&format!("# HELP {} ", s.name)),
            "{}",
            s.name
        );
    }
}

#[tokio::test]
async fn histogram_buckets_are_cumulative() {
    let srv = start_metrics().await;
    let mut r = srv.raw().await;
    for i in 0..50 {
        ok(&mut r, &format!("SET k{i} v")).await;
    }
    let m = scrape(&srv).await;
    let mut prev = 0.0;
    let mut buckets = 0;
    for line in m.text.lines() {
        if let Some(rest) =
            line.strip_prefix(r#"keyward_command_duration_seconds_bucket{cmd="set",le=""#)
        {
            let (_, v) = rest.rsplit_once(' ').expect("value");
            let v: f64 = v.parse().expect("number");
            assert!(v >= prev, "{line}");
            prev = v;
            buckets += 1;
        }
    }
    // 21 finite bounds (1µs … 2^20µs) and +Inf.
    assert_eq!(buckets, 22);
    assert_eq!(prev, 50.0);
}

#[tokio::test]
async fn user_counters_survive_setuser_and_follow_connections() {
    let srv = start_metrics().await;
    let mut admin = srv.raw().await;
    ok(&mut admin, "ACL SETUSER worker on >pw ~* +@all").await;
    let mut w = srv.raw().await;
    ok(&mut w, "AUTH worker pw").await;
    ok(&mut w, "SET a 1").await;
    // SETUSER replaces the User object: the counters are kept by name.
    ok(&mut admin, "ACL SETUSER worker -flushall").await;
    ok(&mut w, "SET a 2").await;
    let m = scrape(&srv).await;
    assert_eq!(m.get(r#"keyward_user_commands_total{user="worker"}"#), 3.0);
    assert_eq!(m.get(r#"keyward_user_connections{user="worker"}"#), 1.0);
    // The new rules apply and the denial is counted.
    assert!(w.call_str("FLUSHALL").await.starts_with(b"-NOPERM"));
    // RESET goes back to the default user: the connection moves.
    assert_eq!(w.call_str("RESET").await, b"+RESET\r\n");
    let m = scrape(&srv).await;
    assert_eq!(
        m.get(r#"keyward_user_acl_denials_total{user="worker"}"#),
        1.0
    );
    assert_eq!(m.get(r#"keyward_user_connections{user="worker"}"#), 0.0);
    assert_eq!(m.get(r#"keyward_user_connections{user="default"}"#), 2.0);
    // DELUSER does not drop the history.
    ok(&mut w, "AUTH worker pw").await;
    assert_eq!(admin.call_str("ACL DELUSER worker").await, b":1\r\n");
    drop(w);
    drop(admin);
    let mut last = None;
    for _ in 0..200 {
        let m = scrape(&srv).await;
        if m.get(r#"keyward_user_connections{user="default"}"#) == 0.0
            && m.get(r#"keyward_user_connections{user="worker"}"#) == 0.0
        {
            last = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let m = last.expect("connections drop to 0 once clients close");
    assert_eq!(m.get(r#"keyward_user_commands_total{user="worker"}"#), 4.0);
}

#[tokio::test]
async fn counters_stay_monotonic_across_resetstat_and_names_label_dbs() {
    let srv = start_metrics().await;
    let mut r = srv.raw().await;
    assert_eq!(r.call_str("GET missing").await, b"$-1\r\n");
    assert_eq!(r.call_str("GET missing").await, b"$-1\r\n");
    let m = scrape(&srv).await;
    assert_eq!(m.get(r#"keyward_db_keyspace_misses_total{db="0"}"#), 2.0);
    ok(&mut r, "CONFIG RESETSTAT").await;
    assert_eq!(r.call_str("GET missing").await, b"$-1\r\n");
    let m = scrape(&srv).await;
    // Prometheus counters never go back: 2 before the reset, 1 after.
    assert_eq!(m.get(r#"keyward_db_keyspace_misses_total{db="0"}"#), 3.0);
    // The latency histogram is not reset either.
    assert_eq!(
        m.get(r#"keyward_command_duration_seconds_count{cmd="get"}"#),
        3.0
    );

    // A named DB carries a name label.
    *srv.handle.shared().tenancy.db(4).name.lock() = "queue".into();
    srv.handle
        .shared()
        .tenancy
        .db(4)
        .maxmemory
        .store(1 << 20, std::sync::atomic::Ordering::Relaxed);
    ok(&mut r, "SELECT 4").await;
    ok(&mut r, "SET job 1").await;
    let m = scrape(&srv).await;
    assert_eq!(m.get(r#"keyward_db_keys{db="4",name="queue"}"#), 1.0);
    assert_eq!(
        m.get(r#"keyward_db_maxmemory_bytes{db="4",name="queue"}"#),
        1048576.0
    );
}

#[tokio::test]
async fn http_routes_and_shutdown() {
    let srv = start_metrics().await;
    let addr = srv.handle.metrics_addr().expect("metrics on");
    let (status, _) = http(addr, "GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _) = http(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, body) = http(addr, "HEAD /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.is_empty());
    let mut r = srv.raw().await;
    assert_eq!(r.call_str("PING").await, b"+PONG\r\n");
    let (status, body) = http(addr, "GET /metrics?debug=1 HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("keyward_db_keys{db=\"0\"} 0\n"), "{body}");
    // Families come sorted by name, and each family's series sorted, so
    // two scrapes diff cleanly.
    let families: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert!(families.windows(2).all(|w| w[0] <= w[1]), "{families:?}");
    assert!(families.contains(&"keyward_command_duration_seconds histogram"));
    let keys: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("keyward_db_keys{"))
        .collect();
    assert_eq!(keys.len(), 16);
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    // Connections past the concurrency cap are closed at once; scrapes
    // work again once the idle ones go away.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(addr).await.expect("connects"));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut extra = TcpStream::connect(addr).await.expect("connects");
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "refused without a response");
    drop(idle);
    let mut answered = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut s = TcpStream::connect(addr).await.expect("connects");
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        let mut resp = Vec::new();
        let _ = s.read_to_end(&mut resp).await;
        if resp.starts_with(b"HTTP/1.1 200 OK") {
            answered = true;
            break;
        }
    }
    assert!(
        answered,
        "scrapes served again after idle connections closed"
    );
    // A scraper that never sends its request does not hold shutdown up.
    let _idle = TcpStream::connect(addr).await.expect("connects");
    tokio::time::timeout(Duration::from_secs(5), srv.handle.shutdown())
        .await
        .expect("shutdown is not held up by the metrics listener");
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn metrics_addr_setting() {
    let cli = keyward::config::parse_args(["--metrics-addr", "127.0.0.1:9121"].map(String::from))
        .expect("parses");
    assert_eq!(cli.config.metrics_addr.as_deref(), Some("127.0.0.1:9121"));
    assert!(keyward::config::parse_args(["--metrics-addr", "nocolon"].map(String::from)).is_err());
    assert!(
        keyward::config::parse_args(["--metrics-addr", "host:99999"].map(String::from)).is_err()
    );
    // From the TOML file's [server] table.
    let path = std::env::temp_dir().join(format!("keyward-metrics-{}.toml", std::process::id()));
    std::fs::write(&path, "[server]\nmetrics-addr = \"localhost:9122\"\n").expect("write");
    let mut c = keyward::Config::default();
    c.load_file(path.to_str().expect("utf-8 path"), &mut Vec::new())
        .expect("loads");
    let _ = std::fs::remove_file(&path);
    assert_eq!(c.metrics_addr.as_deref(), Some("localhost:9122"));
    // CONFIG GET shows it; it cannot change at runtime.
    let srv = start_metrics().await;
    let mut r = srv.raw().await;
    assert_eq!(
        r.call_str("CONFIG GET metrics-addr").await,
        b"*2\r\n$12\r\nmetrics-addr\r\n$11\r\n127.0.0.1:0\r\n"
    );
    assert!(r
        .call_str("CONFIG SET metrics-addr 127.0.0.1:1")
        .await
        .starts_with(b"-ERR"));
    // A taken address is a start error, not a silent "off".
    let taken = srv.handle.metrics_addr().expect("metrics on");
    let config = keyward::Config {
        bind: vec!["127.0.0.1".into()],
        port: 0,
        metrics_addr: Some(taken.to_string()),
        ..Default::default()
    };
    let err = keyward::Server::builder().config(config).start().await;
    assert!(matches!(err, Err(keyward::StartError::Bind { .. })));
}
