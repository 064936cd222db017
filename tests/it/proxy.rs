//! Proxy mode: keyward's admission in front of a real upstream. Every
//! test runs twice, against Debian's redis-server 7.0 (`proxy::redis::…`)
//! and valkey-server 8.1 (`proxy::valkey::…`); each starts its own
//! upstream (`Up`) and an embedded proxy on 127.0.0.1:0, and checks what
//! reaches the upstream directly.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keyward::config::{DbConfig, UserConfig};
use keyward::tenancy::OpsMode;
use keyward::Config;
use tokio::net::TcpStream;

use crate::support::{compare, encode, free_port, start_with, Raw, TestServer};

/// Which upstream server a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Redis,
    Valkey,
}

impl Kind {
    fn bin(self) -> String {
        let (var, default) = match self {
            Kind::Redis => ("REDIS_SERVER", "redis-server"),
            Kind::Valkey => ("VALKEY_SERVER", "valkey-server"),
        };
        std::env::var(var).unwrap_or_else(|_| default.into())
    }
}

/// An upstream on a free port, killed on drop; `None` when its binary is
/// missing outside CI (in CI that is a failure).
struct Up {
    child: Child,
    addr: SocketAddr,
    kind: Kind,
}

impl Up {
    async fn start(kind: Kind) -> Option<Up> {
        Up::start_with(kind, &[]).await
    }

    async fn start_with(kind: Kind, extra: &[&str]) -> Option<Up> {
        // A free port can be taken by another test before the server binds
        // it: the server then exits, and we try another.
        for _ in 0..5 {
            let port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let child = match Up::spawn(kind, port, extra) {
                Ok(c) => c,
                Err(_) if std::env::var("CI").is_err() => {
                    eprintln!("{} not found: skipping proxy test", kind.bin());
                    return None;
                }
                Err(e) => panic!("{} is required in CI: {e}", kind.bin()),
            };
            let mut up = Up { child, addr, kind };
            for _ in 0..250 {
                if TcpStream::connect(addr).await.is_ok() {
                    return Some(up);
                }
                if up.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("{:?} upstream did not start", kind);
    }

    fn spawn(kind: Kind, port: u16, extra: &[&str]) -> std::io::Result<Child> {
        Command::new(kind.bin())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }

    async fn wait_listening(&self) {
        for _ in 0..250 {
            if TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{:?} upstream did not listen on {}", self.kind, self.addr);
    }

    async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }

    /// SIGKILL, and waits for the exit.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The same server again on the same port (after [`Up::kill`]).
    async fn restart(&mut self, extra: &[&str]) {
        self.child = Up::spawn(self.kind, self.addr.port(), extra).expect("restarts");
        self.wait_listening().await;
    }

    /// SIGSTOP (`true`) or SIGCONT: a hung upstream whose socket still
    /// accepts.
    fn pause(&self, stop: bool) {
        let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({sig})");
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // SAFETY: as in `pause`; a stopped child is continued so that it
        // can be reaped at once.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGCONT) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Each named `async fn name(kind: Kind)` becomes `redis::name` and
/// `valkey::name`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Kind::Redis).await
            })*
        }
        mod valkey {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Kind::Valkey).await
            })*
        }
    };
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn user(name: &str, rules: &str) -> UserConfig {
    UserConfig {
        name: name.into(),
        password_env: None,
        rules: rules.into(),
        words: None,
        password: Some(format!("{name}-pw")),
    }
}

/// Users `alice` (db=2) and `bob` (db=5), passwords `<name>-pw`.
fn tenants() -> Config {
    Config {
        users: vec![
            user("alice", "on db=2 ~* &* +@all"),
            user("bob", "on db=5 ~* &* +@all"),
        ],
        ..Config::default()
    }
}

async fn proxy_to(up: &Up, mut config: Config) -> TestServer {
    config.proxy.upstream = Some(format!("redis://{}", up.addr));
    start_with(config).await
}

async fn login(p: &TestServer, name: &str) -> Raw {
    let mut r = p.raw().await;
    let pw = format!("{name}-pw");
    assert_eq!(
        s(&r.call(&[b"AUTH", name.as_bytes(), pw.as_bytes()]).await),
        "+OK\r\n"
    );
    r
}

/// The upstream itself, in `db`.
async fn direct(up: &Up, db: usize) -> Raw {
    let mut r = up.raw().await;
    assert_eq!(
        s(&r.call(&[b"SELECT", db.to_string().as_bytes()]).await),
        "+OK\r\n"
    );
    r
}

fn cmds(lines: &[&str]) -> Vec<Vec<Vec<u8>>> {
    lines
        .iter()
        .map(|l| l.split(' ').map(|a| a.as_bytes().to_vec()).collect())
        .collect()
}

async fn replies_are_the_upstreams_bytes(kind: Kind) {
    let (Some(up), Some(reference)) = (Up::start(kind).await, Up::start(kind).await) else {
        return;
    };
    let p = proxy_to(&up, Config::default()).await;
    let mut a = p.raw().await;
    let mut b = reference.raw().await;
    compare(
        &mut a,
        &mut b,
        &cmds(&[
            "PING",
            "PING hello",
            "ECHO x",
            "SET k v",
            "GET k",
            "GET missing",
            "INCR n",
            "INCRBY n 41",
            "APPEND k more",
            "LPUSH l a b c",
            "LRANGE l 0 -1",
            "HSET h f 1 g 2",
            "HGETALL h",
            "ZADD z 1.5 a 2 b",
            "ZRANGE z 0 -1 WITHSCORES",
            "SADD s x",
            "SMEMBERS s",
            "GET l",
            "INCR k",
            "EXPIRE k 100",
            "TTL k",
            "MGET k n nope",
            "EXISTS k n nope",
            "TYPE h",
            "DEL k n",
            "DBSIZE",
            "SELECT 3",
            "SET k three",
            "GET k",
            "DBSIZE",
            "SELECT 0",
            "GET k",
            "GET",
            "NOSUCHCOMMAND a",
            "SET k v NX XX",
            "OBJECT ENCODING l",
            "XADD st 1-1 f v",
            "XRANGE st - +",
        ]),
    )
    .await;
    // Pipelined: the same bytes in the same order.
    let mut batch = Vec::new();
    for i in 0..200 {
        let k = format!("p{}", i % 7);
        batch.extend(encode(&[b"INCR", k.as_bytes()]));
        batch.extend(encode(&[b"PING"]));
        batch.extend(encode(&[b"GET", k.as_bytes()]));
    }
    a.send(&batch).await;
    b.send(&batch).await;
    for _ in 0..600 {
        assert_eq!(s(&a.reply().await), s(&b.reply().await));
    }
    // Bad input gets Redis's error and the connection survives.
    assert_eq!(
        s(&a.call(&[b"SET", b"only-key"]).await),
        s(&b.call(&[b"SET", b"only-key"]).await)
    );
    assert_eq!(s(&a.call(&[b"PING"]).await), "+PONG\r\n");
}

async fn a_pinned_user_lands_in_its_db_and_cannot_leave_it(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, tenants()).await;
    let mut d0 = direct(&up, 0).await;
    assert_eq!(s(&d0.call_str("SET zero 0").await), "+OK\r\n");
    let mut a = login(&p, "alice").await;
    assert_eq!(s(&a.call_str("SET k alice").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("GET zero").await), "$-1\r\n");
    let mut d2 = direct(&up, 2).await;
    assert_eq!(s(&d2.call_str("GET k").await), "$5\r\nalice\r\n");
    assert_eq!(s(&d0.call_str("GET k").await), "$-1\r\n");
    // Every way out of DB 2 is refused before anything is forwarded.
    for line in [
        "SELECT 0",
        "MOVE k 0",
        "SWAPDB 2 0",
        "SWAPDB 0 1",
        "FLUSHALL",
        "COPY k k2 DB 0",
    ] {
        let r = s(&a.call_str(line).await);
        assert!(r.starts_with("-NOPERM"), "{line}: {r}");
    }
    // Nothing changed upstream.
    assert_eq!(s(&d0.call_str("GET zero").await), "$1\r\n0\r\n");
    assert_eq!(s(&d0.call_str("DBSIZE").await), ":1\r\n");
    assert_eq!(s(&d2.call_str("DBSIZE").await), ":1\r\n");
    assert_eq!(s(&a.call_str("GET k").await), "$5\r\nalice\r\n");
    // Its own DB is fine; a script is refused unless the config accepts it.
    assert_eq!(s(&a.call_str("SELECT 2").await), "+OK\r\n");
    let r = s(&a
        .call(&[b"EVAL", b"return redis.call('select', 0)", b"0"])
        .await);
    assert!(r.starts_with("-NOPERM keyward proxy: scripts"), "{r}");
    let r = s(&a.call(&[b"FCALL", b"f", b"0"]).await);
    assert!(r.starts_with("-NOPERM"), "{r}");
    // CLIENT LIST shows only alice's own clients.
    let mut b = login(&p, "bob").await;
    assert_eq!(s(&b.call_str("SET k bob").await), "+OK\r\n");
    let list = s(&a.call_str("CLIENT LIST").await);
    assert!(
        list.contains("user=alice") && !list.contains("user=bob"),
        "{list}"
    );
    // In Redis's format (what BullMQ's getWorkers() parses): a bulk
    // string, one `id=… addr=… … db=… … user=…` line per client.
    let body = s(&crate::support::bulk_payload(list.as_bytes()).expect("bulk"));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 1, "{body}");
    for l in lines {
        assert!(
            l.starts_with("id=") && l.contains(" addr=127.0.0.1:"),
            "{l}"
        );
        assert!(l.contains(" db=2 ") && l.contains(" user=alice "), "{l}");
    }
    let mut d5 = direct(&up, 5).await;
    assert_eq!(s(&d5.call_str("GET k").await), "$3\r\nbob\r\n");
}

async fn tenants_pipelining_on_shared_connections_never_see_each_other(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    // One shared connection per DB: every tenant's batches interleave on it.
    let mut config = tenants();
    config.proxy.pool_size = Some(1);
    let p = proxy_to(&up, config).await;
    let mut clients = Vec::new();
    for (name, n) in [("alice", 0), ("bob", 1), ("alice", 2), ("bob", 3)] {
        clients.push((name, n, login(&p, name).await));
    }
    // The default user hops between the same DBs within its pipelines.
    let mut hopper = p.raw().await;
    for round in 0..5 {
        for (name, n, c) in clients.iter_mut() {
            let mut batch = Vec::new();
            for i in 0..50 {
                let k = format!("k{i}");
                let v = format!("{name}{n}-{round}-{i}");
                batch.extend(encode(&[b"SET", k.as_bytes(), v.as_bytes()]));
                batch.extend(encode(&[b"GET", k.as_bytes()]));
            }
            c.send(&batch).await;
        }
        let mut batch = Vec::new();
        for i in 0..50 {
            let db = if i % 2 == 0 { b"2" } else { b"5" };
            batch.extend(encode(&[b"SELECT", db]));
            batch.extend(encode(&[b"SET", b"hop", db]));
            batch.extend(encode(&[b"GET", b"hop"]));
        }
        hopper.send(&batch).await;
        for (name, n, c) in clients.iter_mut() {
            for i in 0..50 {
                assert_eq!(s(&c.reply().await), "+OK\r\n");
                let v = format!("{name}{n}-{round}-{i}");
                let got = s(&c.reply().await);
                assert_eq!(got, format!("${}\r\n{v}\r\n", v.len()));
            }
        }
        for i in 0..50 {
            let db = if i % 2 == 0 { "2" } else { "5" };
            assert_eq!(s(&hopper.reply().await), "+OK\r\n");
            assert_eq!(s(&hopper.reply().await), "+OK\r\n");
            assert_eq!(s(&hopper.reply().await), format!("$1\r\n{db}\r\n"));
        }
    }
    // Upstream: alice's keys only in DB 2, bob's only in DB 5, nothing else.
    for (db, owner) in [(2, "alice"), (5, "bob")] {
        let mut d = direct(&up, db).await;
        assert_eq!(s(&d.call_str("DBSIZE").await), ":51\r\n");
        let v = s(&d.call_str("GET k7").await);
        assert!(v.contains(owner), "DB {db}: {v}");
        assert_eq!(s(&d.call_str("GET hop").await), format!("$1\r\n{db}\r\n"));
    }
    let mut d0 = direct(&up, 0).await;
    assert_eq!(s(&d0.call_str("DBSIZE").await), ":0\r\n");
}

async fn multi_exec_is_sent_as_one_block(kind: Kind) {
    let (Some(up), Some(reference)) = (Up::start(kind).await, Up::start(kind).await) else {
        return;
    };
    let p = proxy_to(&up, Config::default()).await;
    let mut a = p.raw().await;
    let mut b = reference.raw().await;
    compare(
        &mut a,
        &mut b,
        &cmds(&[
            "MULTI",
            "SET a 1",
            "INCR a",
            "LPUSH a x",
            "GET a",
            "EXEC",
            "EXEC",
            "DISCARD",
            "MULTI",
            "SET a",
            "INCR a",
            "EXEC",
            "GET a",
            "MULTI",
            "INCR a",
            "DISCARD",
            "GET a",
            "MULTI",
            "EXEC",
        ]),
    )
    .await;
    // SELECT inside a transaction would move a shared connection: refused.
    assert_eq!(s(&a.call_str("MULTI").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("SELECT 1").await), "+QUEUED\r\n");
    let r = s(&a.call_str("EXEC").await);
    assert!(r.starts_with("-EXECABORT"), "{r}");
    assert_eq!(s(&a.call_str("GET a").await), "$1\r\n2\r\n");
}

async fn watch_moves_the_client_to_a_dedicated_connection(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, tenants()).await;
    let mut a = login(&p, "alice").await;
    let mut other = login(&p, "alice").await;
    assert_eq!(s(&a.call_str("SET w 1").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("WATCH w").await), "+OK\r\n");
    assert_eq!(s(&other.call_str("SET w 2").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("MULTI").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("SET w 3").await), "+QUEUED\r\n");
    assert_eq!(s(&a.call_str("EXEC").await), "*-1\r\n");
    assert_eq!(s(&a.call_str("GET w").await), "$1\r\n2\r\n");
    // Untouched, it commits; the dedicated connection is in DB 2.
    assert_eq!(s(&a.call_str("WATCH w").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("MULTI").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("SET w 4").await), "+QUEUED\r\n");
    assert_eq!(s(&a.call_str("EXEC").await), "*1\r\n+OK\r\n");
    assert_eq!(s(&a.call_str("PING").await), "+PONG\r\n");
    let mut d2 = direct(&up, 2).await;
    assert_eq!(s(&d2.call_str("GET w").await), "$1\r\n4\r\n");
    // An aborted EXEC drops the WATCH upstream too: a later transaction
    // is not aborted by a write to the key watched before.
    assert_eq!(s(&a.call_str("WATCH w").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("MULTI").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("SET w").await).chars().next(), Some('-'));
    let r = s(&a.call_str("EXEC").await);
    assert!(r.starts_with("-EXECABORT"), "{r}");
    assert_eq!(s(&other.call_str("SET w 5").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("MULTI").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("SET w 6").await), "+QUEUED\r\n");
    assert_eq!(s(&a.call_str("EXEC").await), "*1\r\n+OK\r\n");
    assert_eq!(s(&d2.call_str("GET w").await), "$1\r\n6\r\n");
    // Still pinned there.
    let r = s(&a.call_str("SELECT 0").await);
    assert!(r.starts_with("-NOPERM"), "{r}");
    assert_eq!(s(&a.call_str("SELECT 2").await), "+OK\r\n");
}

async fn blpop_is_served_by_another_clients_push(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, tenants()).await;
    let mut waiter = login(&p, "bob").await;
    let mut pusher = login(&p, "bob").await;
    waiter.cmd(&[b"BLPOP", b"q", b"0"]).await;
    // Whether the push lands before or after BLPOP blocks, the reply is
    // the same.
    assert_eq!(s(&pusher.call_str("RPUSH q v").await), ":1\r\n");
    assert_eq!(s(&waiter.reply().await), "*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    // The waiter keeps working afterwards, in its DB.
    assert_eq!(s(&waiter.call_str("RPUSH q2 x").await), ":1\r\n");
    let mut d5 = direct(&up, 5).await;
    assert_eq!(s(&d5.call_str("LLEN q2").await), ":1\r\n");
    // A timeout answers as Redis does.
    assert_eq!(s(&waiter.call_str("BLPOP empty 0.01").await), "*-1\r\n");
}

async fn subscribe_and_publish(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, Config::default()).await;
    let mut sub = p.raw().await;
    let mut publ = p.raw().await;
    assert_eq!(
        s(&sub.call_str("SUBSCRIBE ch").await),
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(s(&publ.call_str("PUBLISH ch hi").await), ":1\r\n");
    assert_eq!(
        s(&sub.reply().await),
        "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    // In subscribed mode PING has Redis's Pub/Sub form (forwarded).
    assert_eq!(
        s(&sub.call_str("PING").await),
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    assert_eq!(
        s(&sub.call_str("UNSUBSCRIBE ch").await),
        "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"
    );
    assert_eq!(s(&publ.call_str("PUBLISH ch hi").await), ":0\r\n");
}

async fn upstream_restart_errors_then_recovers_with_the_handshake(kind: Kind) {
    let Some(mut up) = Up::start_with(kind, &["--requirepass", "uppw"]).await else {
        return;
    };
    let mut config = tenants();
    config.proxy.upstream = Some(format!("redis://:uppw@{}", up.addr));
    let p = start_with(config).await;
    let mut a = login(&p, "alice").await;
    assert_eq!(s(&a.call_str("SET before 1").await), "+OK\r\n");
    up.kill();
    let r = s(&a.call_str("GET before").await);
    assert!(r.starts_with("-ERR upstream"), "{r}");
    // Still refused while down, and the client connection survives.
    let r = s(&a.call_str("GET before").await);
    assert!(r.starts_with("-ERR upstream"), "{r}");
    up.restart(&["--requirepass", "uppw"]).await;
    // The next request reconnects: AUTH and SELECT 2 replayed.
    let mut answered = String::new();
    for _ in 0..50 {
        answered = s(&a.call_str("SET after 2").await);
        if answered == "+OK\r\n" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(answered, "+OK\r\n");
    let mut d = up.raw().await;
    assert_eq!(s(&d.call_str("AUTH uppw").await), "+OK\r\n");
    assert_eq!(s(&d.call_str("SELECT 2").await), "+OK\r\n");
    assert_eq!(s(&d.call_str("GET after").await), "$1\r\n2\r\n");
    assert_eq!(s(&d.call_str("SELECT 0").await), "+OK\r\n");
    assert_eq!(s(&d.call_str("DBSIZE").await), ":0\r\n");
}

async fn ops_per_sec_quota_refuses_as_standalone(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let mut d = DbConfig::new(5);
    d.max_ops_per_sec = 10;
    d.max_ops_mode = OpsMode::Reject;
    let mut config = tenants();
    config.dbs = vec![d];
    let p = proxy_to(&up, config).await;
    let mut b = login(&p, "bob").await;
    let mut batch = Vec::new();
    for i in 0..20 {
        batch.extend(encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
    }
    b.send(&batch).await;
    let mut refused = 0;
    for _ in 0..20 {
        match s(&b.reply().await).as_str() {
            "+OK\r\n" => {}
            e => {
                assert_eq!(
                    e,
                    "-ERR max-ops-per-sec exceeded for this database, retry later\r\n"
                );
                refused += 1;
            }
        }
    }
    assert!(refused >= 10, "{refused}");
    // Refused requests never reached the upstream.
    let mut d5 = direct(&up, 5).await;
    let keys = s(&d5.call_str("DBSIZE").await);
    assert_eq!(keys, format!(":{}\r\n", 20 - refused));
    // Other DBs are not limited.
    let mut a = login(&p, "alice").await;
    for _ in 0..30 {
        assert_eq!(s(&a.call_str("INCR n").await).chars().next(), Some(':'));
    }
}

#[tokio::test]
async fn a_tls_upstream_without_a_ca_is_refused_at_startup() {
    let e = keyward::Server::builder()
        .bind(&["127.0.0.1"])
        .port(0)
        .upstream("rediss://127.0.0.1:6380")
        .start()
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("needs a CA"), "{e}");
    // tls-* settings without rediss:// are a mistake, not ignored.
    let mut config = Config::default();
    config.proxy.upstream = Some("redis://127.0.0.1:6380".into());
    config.proxy.tls_ca_cert_file = Some("/nonexistent/ca.crt".into());
    let e = keyward::Server::builder()
        .config(config)
        .bind(&["127.0.0.1"])
        .port(0)
        .start()
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("need a rediss:// upstream"), "{e}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as
/// PEM files in a fresh directory: (directory, CA file).
fn pki(name: &str) -> (std::path::PathBuf, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let dir = crate::support::temp_dir(&format!("proxy-tls-{name}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, format!("proxy test CA {name}"));
    let ca = p.self_signed(&ca_key).expect("CA");
    std::fs::write(dir.join("ca.crt"), ca.pem()).expect("write");
    for (file, sans) in [
        ("server", vec!["127.0.0.1".to_string()]),
        ("client", vec![]),
    ] {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(sans).expect("params");
        p.distinguished_name.push(DnType::CommonName, file);
        let cert = p.signed_by(&key, &ca, &ca_key).expect("sign");
        std::fs::write(dir.join(format!("{file}.crt")), cert.pem()).expect("write");
        std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).expect("write");
    }
    let ca_file = dir.join("ca.crt").display().to_string();
    (dir, ca_file)
}

/// redis-server with TLS only (Valkey's wheel is built without TLS), with
/// client certificates required (Redis's default) and a password.
async fn tls_upstream(dir: &std::path::Path) -> Option<Up> {
    let f = |n: &str| dir.join(n).display().to_string();
    let port = free_port();
    let port_s = port.to_string();
    let (cert, key, ca) = (f("server.crt"), f("server.key"), f("ca.crt"));
    let extra = [
        "--port",
        "0",
        "--tls-port",
        &port_s,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--requirepass",
        "tlspw",
    ];
    let child = Up::spawn(Kind::Redis, free_port(), &extra).ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let up = Up {
        child,
        addr,
        kind: Kind::Redis,
    };
    up.wait_listening().await;
    Some(up)
}

#[tokio::test]
async fn a_tls_upstream_carries_tenants_and_verifies_its_certificate() {
    let (dir, ca) = pki("ok");
    let Some(up) = tls_upstream(&dir).await else {
        return;
    };
    let f = |n: &str| Some(dir.join(n).display().to_string());
    let mut config = tenants();
    config.proxy.upstream = Some(format!("rediss://:tlspw@{}", up.addr));
    config.proxy.tls_ca_cert_file = Some(ca);
    config.proxy.tls_cert_file = f("client.crt");
    config.proxy.tls_key_file = f("client.key");
    let p = start_with(config.clone()).await;
    let mut a = login(&p, "alice").await;
    assert_eq!(s(&a.call_str("SET k alice").await), "+OK\r\n");
    assert_eq!(s(&a.call_str("GET k").await), "$5\r\nalice\r\n");
    // Pipelined over TLS, byte for byte.
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(encode(&[b"INCR", b"n"]));
        batch.extend(encode(&[b"GET", format!("missing{i}").as_bytes()]));
    }
    a.send(&batch).await;
    for i in 1..=500 {
        assert_eq!(s(&a.reply().await), format!(":{i}\r\n"));
        assert_eq!(s(&a.reply().await), "$-1\r\n");
    }
    // Blocking commands on their dedicated TLS connection.
    let mut waiter = login(&p, "alice").await;
    waiter.cmd(&[b"BLPOP", b"q", b"0"]).await;
    assert_eq!(s(&a.call_str("RPUSH q v").await), ":1\r\n");
    assert_eq!(s(&waiter.reply().await), "*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    // In DB 2 upstream, as seen by the unrestricted default user.
    let mut root = p.raw().await;
    assert_eq!(s(&root.call_str("GET k").await), "$-1\r\n");
    assert_eq!(s(&root.call_str("SELECT 2").await), "+OK\r\n");
    assert_eq!(s(&root.call_str("GET k").await), "$5\r\nalice\r\n");
    // A proxy that trusts another CA never talks to it.
    let (_other, other_ca) = pki("other");
    let mut wrong = config;
    wrong.proxy.tls_ca_cert_file = Some(other_ca);
    let q = start_with(wrong).await;
    let mut c = q.raw().await;
    let r = s(&c.call_str("GET k").await);
    assert!(
        r.starts_with("-ERR upstream unavailable: TLS handshake with"),
        "{r}"
    );
}

async fn resp3_clients_get_resp3_replies_and_pushes(kind: Kind) {
    let (Some(up), Some(reference)) = (Up::start(kind).await, Up::start(kind).await) else {
        return;
    };
    let p = proxy_to(&up, Config::default()).await;
    let mut a = p.raw().await;
    let mut b = reference.raw().await;
    // HELLO is answered by the proxy (as keyward), the rest by the upstream
    // over a RESP3 connection.
    assert!(s(&a.call_str("HELLO 3").await).starts_with('%'));
    assert!(s(&b.call_str("HELLO 3").await).starts_with('%'));
    compare(
        &mut a,
        &mut b,
        &cmds(&[
            "HSET h a 1 b 2",
            "HGETALL h",
            "ZADD z 1.5 m",
            "ZSCORE z m",
            "GET nope",
            "SADD s x",
            "SMEMBERS s",
            "EXISTS h",
        ]),
    )
    .await;
    assert_eq!(
        s(&a.call_str("SUBSCRIBE ch").await),
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    let mut publ = p.raw().await;
    assert_eq!(s(&publ.call_str("PUBLISH ch hi").await), ":1\r\n");
    assert_eq!(
        s(&a.reply().await),
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    // RESP3 allows any command while subscribed.
    assert_eq!(s(&a.call_str("HGET h a").await), "$1\r\n1\r\n");
}

async fn a_client_leaving_mid_blpop_does_not_swallow_a_later_push(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, tenants()).await;
    let mut d5 = direct(&up, 5).await;
    {
        let mut waiter = login(&p, "bob").await;
        waiter.cmd(&[b"BLPOP", b"q", b"0"]).await;
        // Blocked upstream on its dedicated connection …
        loop {
            let info = s(&d5.call_str("INFO clients").await);
            if info.contains("blocked_clients:1") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    // … which is closed when its client leaves.
    loop {
        let info = s(&d5.call_str("INFO clients").await);
        if info.contains("blocked_clients:0") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut pusher = login(&p, "bob").await;
    assert_eq!(s(&pusher.call_str("RPUSH q v").await), ":1\r\n");
    assert_eq!(s(&d5.call_str("LLEN q").await), ":1\r\n");
}

async fn info_keyspace_shows_a_pinned_user_only_its_db(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, tenants()).await;
    let mut d0 = direct(&up, 0).await;
    assert_eq!(s(&d0.call_str("SET other 1").await), "+OK\r\n");
    let mut a = login(&p, "alice").await;
    assert_eq!(s(&a.call_str("SET mine 1").await), "+OK\r\n");
    let info = a.call_str("INFO keyspace").await;
    let body = crate::support::bulk_payload(&info).expect("bulk");
    let body = s(&body);
    assert!(body.contains("db2:keys=1"), "{body}");
    assert!(!body.contains("db0:"), "{body}");
    // Its tenancy section (keyward's own, from the polled figures) too.
    let mut body = String::new();
    for _ in 0..100 {
        let info = a.call_str("INFO").await;
        body = s(&crate::support::bulk_payload(&info).expect("bulk"));
        if body.contains("db2:name=,keys=1,") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(body.contains("# Tenancy\r\ndb2:name=,keys=1,"), "{body}");
    assert!(
        body.contains("# Server\r\n") && !body.contains("db0:"),
        "{body}"
    );
    let info = a.call_str("INFO tenancy").await;
    let body = s(&crate::support::bulk_payload(&info).expect("bulk"));
    assert!(body.starts_with("# Tenancy\r\ndb2:"), "{body}");
    // The default user sees every DB.
    let mut d = p.raw().await;
    let body = crate::support::bulk_payload(&d.call_str("INFO keyspace").await).expect("bulk");
    let body = s(&body);
    assert!(
        body.contains("db0:keys=1") && body.contains("db2:keys=1"),
        "{body}"
    );
}

async fn reset_leaves_the_dedicated_connection(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, Config::default()).await;
    let mut a = p.raw().await;
    let mut publ = p.raw().await;
    assert_eq!(s(&a.call_str("SELECT 4").await), "+OK\r\n");
    assert!(s(&a.call_str("SUBSCRIBE ch").await).contains("subscribe"));
    assert_eq!(s(&publ.call_str("PUBLISH ch x").await), ":1\r\n");
    assert!(s(&a.reply().await).contains("message"));
    assert_eq!(s(&a.call_str("RESET").await), "+RESET\r\n");
    // Unsubscribed upstream (the connection is gone), back in DB 0.
    loop {
        if s(&publ.call_str("PUBLISH ch x").await) == ":0\r\n" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(s(&a.call_str("SET k v").await), "+OK\r\n");
    let mut d0 = direct(&up, 0).await;
    assert_eq!(s(&d0.call_str("GET k").await), "$1\r\nv\r\n");
}

async fn the_proxy_table_configures_upstream_credentials_from_the_environment(kind: Kind) {
    let Some(up) = Up::start_with(kind, &["--requirepass", "from-env"]).await else {
        return;
    };
    std::env::set_var("KEYWARD_PROXY_TEST_UPSTREAM_AUTH", "default:from-env");
    let mut config = Config::default();
    let text = format!(
        "[proxy]\nupstream = \"redis://{}\"\nauth-env = \"KEYWARD_PROXY_TEST_UPSTREAM_AUTH\"\npool-size = 1\nconnect-timeout-ms = 500\nop-timeout-ms = 0\n",
        up.addr
    );
    config
        .load_toml(&text, "proxy.toml", &mut Vec::new())
        .expect("loads");
    assert_eq!(config.proxy.pool_size, Some(1));
    // The credentials come from the environment and never show.
    let shown = format!("{:?}", config.proxy);
    assert!(!shown.contains("from-env"), "{shown}");
    let p = start_with(config).await;
    let mut a = p.raw().await;
    assert_eq!(s(&a.call_str("SET k v").await), "+OK\r\n");
    let e = Config::default()
        .load_toml(
            "[proxy]\nupstream-url = \"x\"\n",
            "bad.toml",
            &mut Vec::new(),
        )
        .expect_err("unknown field refused");
    assert!(e.to_string().contains("upstream-url"), "{e}");
}

/// Admin credentials for the upstream started with `--requirepass adminpw`.
fn with_admin(up: &Up, mut config: Config) -> Config {
    std::env::set_var("KEYWARD_PROXY_TEST_ADMIN_PW", "adminpw");
    config.proxy.upstream = Some(format!("redis://:adminpw@{}", up.addr));
    config.proxy.admin_password_env = Some("KEYWARD_PROXY_TEST_ADMIN_PW".into());
    config
}

/// The upstream, authenticated as its admin, in `db`.
async fn admin(up: &Up, db: usize) -> Raw {
    let mut r = up.raw().await;
    assert_eq!(s(&r.call_str("AUTH adminpw").await), "+OK\r\n");
    assert_eq!(
        s(&r.call(&[b"SELECT", db.to_string().as_bytes()]).await),
        "+OK\r\n"
    );
    r
}

/// A script's call refused by the upstream's ACL: Redis 7.0 and Valkey
/// word it differently.
fn refused_by_acl(r: &str) -> bool {
    r.starts_with('-')
        && (r.contains("NOPERM")
            || r.contains("can't run this command")
            || r.contains("no permissions to run"))
}

async fn a_pinned_users_scripts_cannot_leave_its_db(kind: Kind) {
    let Some(mut up) = Up::start_with(kind, &["--requirepass", "adminpw"]).await else {
        return;
    };
    let p = start_with(with_admin(&up, tenants())).await;
    let mut d0 = admin(&up, 0).await;
    let mut d2 = admin(&up, 2).await;
    assert_eq!(s(&d0.call_str("SET zero 0").await), "+OK\r\n");
    assert_eq!(s(&d0.call_str("SET k other").await), "+OK\r\n");
    let mut a = login(&p, "alice").await;
    assert_eq!(s(&a.call_str("SET k alice").await), "+OK\r\n");
    // Scripts run, in alice's DB.
    let r = s(&a
        .call(&[b"EVAL", b"return redis.call('get', KEYS[1])", b"1", b"k"])
        .await);
    assert_eq!(r, "$5\r\nalice\r\n");
    // Every way a script could leave DB 2 is refused by the upstream.
    for script in [
        "redis.call('select',0) redis.call('set','x','y')",
        "redis.call('swapdb',0,2)",
        "redis.call('move','k',0)",
        "redis.call('copy','k','k2','db',0)",
        "redis.call('flushall')",
        "redis.call('migrate','127.0.0.1',ARGV[1],'k',0,1000)",
    ] {
        let port = up.addr.port().to_string();
        let r = s(&a
            .call(&[b"EVAL", script.as_bytes(), b"0", port.as_bytes()])
            .await);
        assert!(refused_by_acl(&r), "{script}: {r}");
    }
    // COPY within the DB still works (as the base credentials, after the
    // proxy checked its DB argument), in order within a pipeline.
    let mut batch = encode(&[b"SET", b"c1", b"one"]);
    batch.extend(encode(&[b"COPY", b"c1", b"c2"]));
    batch.extend(encode(&[b"GET", b"c2"]));
    batch.extend(encode(&[b"COPY", b"c1", b"c3", b"DB", b"2"]));
    batch.extend(encode(&[b"GET", b"c3"]));
    a.send(&batch).await;
    for want in ["+OK", ":1", "$3\r\none", ":1", "$3\r\none"] {
        assert_eq!(s(&a.reply().await), format!("{want}\r\n"));
    }
    let r = s(&a.call_str("COPY c1 c4 DB 0").await);
    assert!(r.starts_with("-NOPERM"), "{r}");
    assert_eq!(s(&d2.call_str("DEL c1 c2 c3").await), ":3\r\n");
    // RESP3 clients get the same upstream user (HELLO 3, then AUTH).
    let mut r3 = login(&p, "alice").await;
    assert!(s(&r3.call_str("HELLO 3").await).starts_with('%'));
    assert_eq!(s(&r3.call_str("GET k").await), "$5\r\nalice\r\n");
    let r = s(&r3
        .call(&[b"EVAL", b"return redis.call('select', 0)", b"0"])
        .await);
    assert!(refused_by_acl(&r), "{r}");
    // Server-wide script state is out of reach too.
    let r = s(&a.call_str("SCRIPT FLUSH").await);
    assert!(r.starts_with("-NOPERM"), "{r}");
    let lib = "#!lua name=evil\nserver.register_function('f', function() return 1 end)";
    let lib = lib.replace("server.", "redis.");
    let r = s(&a.call(&[b"FUNCTION", b"LOAD", lib.as_bytes()]).await);
    assert!(r.starts_with("-NOPERM"), "{r}");
    // Nothing changed outside DB 2.
    assert_eq!(s(&d0.call_str("GET x").await), "$-1\r\n");
    assert_eq!(s(&d0.call_str("DBSIZE").await), ":2\r\n");
    assert_eq!(s(&d0.call_str("GET k").await), "$5\r\nother\r\n");
    assert_eq!(s(&d2.call_str("DBSIZE").await), ":1\r\n");
    assert_eq!(s(&d2.call_str("GET k").await), "$5\r\nalice\r\n");
    // The upstream sees alice's connections as keyward-alice, in DB 2.
    let list = s(&d0.call_str("CLIENT LIST").await);
    assert!(
        list.lines()
            .any(|l| l.contains("user=keyward-alice") && l.contains(" db=2 ")),
        "{list}"
    );
    // An upstream restart forgets the user: it is provisioned again.
    up.kill();
    up.restart(&["--requirepass", "adminpw"]).await;
    let mut answered = String::new();
    for _ in 0..50 {
        answered = s(&a.call_str("SET after 1").await);
        if answered == "+OK\r\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answered, "+OK\r\n");
    let r = s(&a
        .call(&[
            b"EVAL",
            b"redis.call('select',0) redis.call('set','x','y')",
            b"0",
        ])
        .await);
    assert!(refused_by_acl(&r), "{r}");
    let mut d0 = admin(&up, 0).await;
    assert_eq!(s(&d0.call_str("DBSIZE").await), ":0\r\n");
    let mut d2 = admin(&up, 2).await;
    assert_eq!(s(&d2.call_str("GET after").await), "$1\r\n1\r\n");
    // An unrestricted user still goes as the base credentials.
    let mut root = p.raw().await;
    assert_eq!(
        s(&root.call_str("AUTH adminpw").await).chars().next(),
        Some('-')
    );
    let r = s(&root
        .call(&[
            b"EVAL",
            b"redis.call('select',3) return redis.call('set','y','1')",
            b"0",
        ])
        .await);
    assert_eq!(r, "+OK\r\n");
}

/// Polls `line` until it answers `want` (true) or 1.5 s pass (false).
async fn within_1_5s(c: &mut Raw, line: &str, want: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    loop {
        let got = s(&c.call_str(line).await);
        if got == want {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            eprintln!("{line}: {got}");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn max_keys_is_enforced_from_the_upstreams_keyspace(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let mut d = DbConfig::new(5);
    d.max_keys = 3;
    let mut config = tenants();
    config.dbs = vec![d];
    config.proxy.quota_poll_ms = Some(100);
    let p = proxy_to(&up, config).await;
    let mut b = login(&p, "bob").await;
    for k in ["k1", "k2", "k3"] {
        assert_eq!(s(&b.call(&[b"SET", k.as_bytes(), b"v"]).await), "+OK\r\n");
    }
    // Full: a write is refused within 1.5 s of the poll seeing it …
    let full = "-OOM command not allowed when the database is at its max-keys limit\r\n";
    assert!(within_1_5s(&mut b, "SET k4 v", full).await);
    let r = s(&b.call_str("LPUSH l x").await);
    assert_eq!(r, full);
    // … and so is a transaction that writes, whole.
    assert_eq!(s(&b.call_str("MULTI").await), "+OK\r\n");
    assert_eq!(s(&b.call_str("SET k5 v").await), "+QUEUED\r\n");
    let r = s(&b.call_str("EXEC").await);
    assert!(r.starts_with("-EXECABORT") && r.contains("max-keys"), "{r}");
    // Reads and DEL still work; the limit lifts once the poll sees it.
    assert_eq!(s(&b.call_str("GET k1").await), "$1\r\nv\r\n");
    // (A SET k4 before the poll saw the DB full may have gone through:
    // the overshoot of one poll interval, documented.)
    let r = s(&b.call_str("DEL k1 k4").await);
    assert!(r == ":1\r\n" || r == ":2\r\n", "{r}");
    assert!(within_1_5s(&mut b, "SET k4 v", "+OK\r\n").await);
    let mut d5 = direct(&up, 5).await;
    assert_eq!(s(&d5.call_str("DBSIZE").await), ":3\r\n");
    // Other DBs are not limited.
    let mut a = login(&p, "alice").await;
    for i in 0..10 {
        let k = format!("a{i}");
        assert_eq!(s(&a.call(&[b"SET", k.as_bytes(), b"v"]).await), "+OK\r\n");
    }
    // INFO's tenancy section counts the refusals.
    let info = s(&b.call_str("INFO tenancy").await);
    assert!(
        info.contains("db5:") && info.contains("oom_rejected="),
        "{info}"
    );
}

async fn maxmemory_is_enforced_from_sampled_memory_usage(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let mut d = DbConfig::new(5);
    d.maxmemory = 256 * 1024;
    let mut config = tenants();
    config.dbs = vec![d];
    config.proxy.quota_poll_ms = Some(100);
    let p = proxy_to(&up, config).await;
    let mut b = login(&p, "bob").await;
    // 64 values of 8 KiB: ~512 KiB upstream, twice the limit.
    let value = vec![b'x'; 8192];
    for i in 0..64 {
        let k = format!("big{i}");
        assert_eq!(s(&b.call(&[b"SET", k.as_bytes(), &value]).await), "+OK\r\n");
    }
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    assert!(within_1_5s(&mut b, "SET more v", oom).await);
    // DEL works, and freeing memory lifts the limit.
    let mut del: Vec<Vec<u8>> = vec![b"DEL".to_vec()];
    del.extend((0..60).map(|i| format!("big{i}").into_bytes()));
    let del: Vec<&[u8]> = del.iter().map(Vec::as_slice).collect();
    assert_eq!(s(&b.call(&del).await), ":60\r\n");
    assert!(within_1_5s(&mut b, "SET more v", "+OK\r\n").await);
    // Bob's DB only: alice writes the same amount freely.
    let mut a = login(&p, "alice").await;
    for i in 0..64 {
        let k = format!("big{i}");
        assert_eq!(s(&a.call(&[b"SET", k.as_bytes(), &value]).await), "+OK\r\n");
    }
}

#[tokio::test]
async fn limits_that_need_eviction_are_refused_in_proxy_mode() {
    let mut d = DbConfig::new(1);
    d.maxmemory = 1 << 20;
    d.maxmemory_policy = Some(keyward::keyspace::evict::Policy::AllKeysLru);
    let mut config = Config {
        dbs: vec![d],
        ..Config::default()
    };
    config.proxy.upstream = Some("redis://127.0.0.1:1".into());
    let e = keyward::Server::builder()
        .config(config)
        .bind(&["127.0.0.1"])
        .port(0)
        .start()
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("proxy mode cannot do"), "{e}");
}

/// A Lua loop that keeps the upstream busy for 3 s (TIME-based, so it
/// does not depend on the machine's speed).
const BUSY: &[u8] =
    b"local s = redis.call('TIME')[1] while redis.call('TIME')[1] - s < 3 do end return 1";

fn lost(r: &str) -> bool {
    r.starts_with("-ERR upstream connection lost") || r.starts_with("-ERR upstream unavailable")
}

async fn kill_mid_pipeline_answers_every_request_then_replays_the_handshake(kind: Kind) {
    let Some(mut up) = Up::start_with(kind, &["--requirepass", "uppw"]).await else {
        return;
    };
    let mut config = tenants();
    config.proxy.upstream = Some(format!("redis://:uppw@{}", up.addr));
    config.proxy.allow_pinned_scripts = true;
    let p = start_with(config).await;
    let mut a = login(&p, "alice").await;
    let mut b = login(&p, "bob").await;
    assert_eq!(s(&a.call_str("SET before 1").await), "+OK\r\n");
    assert_eq!(s(&b.call_str("SET before 1").await), "+OK\r\n");
    // alice's pipeline is stuck behind a busy script, bob's behind alice's
    // on another shared connection (DB 5): all of it in flight …
    let mut batch = encode(&[b"EVAL", BUSY, b"0"]);
    for _ in 0..100 {
        batch.extend(encode(&[b"INCR", b"n"]));
    }
    a.send(&batch).await;
    let mut batch = Vec::new();
    for _ in 0..100 {
        batch.extend(encode(&[b"INCR", b"n"]));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.send(&batch).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    up.kill();
    // … and every request gets an error, in order; none hangs (a reply
    // that never came would fail `reply`'s 10 s bound).
    for i in 0..101 {
        let r = s(&a.reply().await);
        assert!(lost(&r), "alice #{i}: {r}");
    }
    for i in 0..100 {
        let r = s(&b.reply().await);
        // Bob's DB 5 connection had no script in front: some of its INCRs
        // may have been answered before the kill.
        assert!(lost(&r) || r.starts_with(':'), "bob #{i}: {r}");
    }
    up.restart(&["--requirepass", "uppw"]).await;
    // The first request after the upstream listens again reconnects (no
    // backoff to wait out) and replays AUTH and SELECT 2.
    assert_eq!(s(&a.call_str("SET after 2").await), "+OK\r\n");
    assert_eq!(s(&b.call_str("SET after 5").await), "+OK\r\n");
    let mut d = up.raw().await;
    assert_eq!(s(&d.call_str("AUTH uppw").await), "+OK\r\n");
    assert_eq!(s(&d.call_str("SELECT 2").await), "+OK\r\n");
    assert_eq!(s(&d.call_str("GET after").await), "$1\r\n2\r\n");
    assert_eq!(s(&d.call_str("SELECT 5").await), "+OK\r\n");
    assert_eq!(s(&d.call_str("GET after").await), "$1\r\n5\r\n");
    assert_eq!(s(&d.call_str("SELECT 0").await), "+OK\r\n");
    assert_eq!(s(&d.call_str("DBSIZE").await), ":0\r\n");
}

async fn stateful_clients_get_an_error_and_are_disconnected_on_upstream_loss(kind: Kind) {
    let Some(mut up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, tenants()).await;
    let mut watcher = login(&p, "alice").await;
    assert_eq!(s(&watcher.call_str("WATCH k").await), "+OK\r\n");
    let mut subscriber = login(&p, "alice").await;
    assert!(s(&subscriber.call_str("SUBSCRIBE ch").await).contains("subscribe"));
    let mut blocked = login(&p, "bob").await;
    blocked.cmd(&[b"BLPOP", b"q", b"0"]).await;
    let mut d5 = direct(&up, 5).await;
    loop {
        let info = s(&d5.call_str("INFO clients").await);
        if info.contains("blocked_clients:1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    up.kill();
    // Each is told, then closed: it re-runs its setup as after a Redis
    // restart, never on a silently replaced connection.
    for c in [&mut watcher, &mut subscriber, &mut blocked] {
        let r = s(&c.reply().await);
        assert_eq!(r, "-ERR upstream connection lost\r\n");
        assert!(c.closed().await);
    }
    // New clients work again once the upstream is back.
    up.restart(&[]).await;
    let mut again = login(&p, "bob").await;
    assert_eq!(s(&again.call_str("RPUSH q v").await), ":1\r\n");
}

async fn a_stopped_upstream_times_out_but_does_not_cut_a_long_blpop(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let mut config = tenants();
    config.proxy.op_timeout_ms = Some(300);
    config.proxy.connect_timeout_ms = Some(300);
    let p = proxy_to(&up, config).await;
    let mut a = login(&p, "alice").await;
    assert_eq!(s(&a.call_str("SET k v").await), "+OK\r\n");
    let mut waiter = login(&p, "bob").await;
    waiter.cmd(&[b"BLPOP", b"q", b"30"]).await;
    let mut d5 = direct(&up, 5).await;
    loop {
        let info = s(&d5.call_str("INFO clients").await);
        if info.contains("blocked_clients:1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    up.pause(true);
    // The shared connection owes a reply past the op timeout: an error,
    // not a hang; while the upstream stays stopped, reconnecting (whose
    // handshake never completes) errors after the connect timeout.
    let r = s(&a.call_str("GET k").await);
    assert_eq!(r, "-ERR upstream connection lost\r\n");
    let r = s(&a.call_str("GET k").await);
    assert!(r.starts_with("-ERR upstream unavailable"), "{r}");
    // The blocked client's own timeout is 30 s: the op timeout does not
    // apply to it.
    assert_eq!(waiter.try_reply(Duration::from_millis(1000)).await, None);
    up.pause(false);
    let mut pusher = login(&p, "bob").await;
    assert_eq!(s(&pusher.call_str("RPUSH q v").await), ":1\r\n");
    assert_eq!(s(&waiter.reply().await), "*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    assert_eq!(s(&a.call_str("GET k").await), "$1\r\nv\r\n");
}

async fn bzpopmin_with_a_short_timeout_returns_nil(kind: Kind) {
    let Some(up) = Up::start(kind).await else {
        return;
    };
    let p = proxy_to(&up, tenants()).await;
    let mut a = login(&p, "alice").await;
    let mut other = login(&p, "alice").await;
    a.cmd(&[b"BZPOPMIN", b"z", b"0.5"]).await;
    // Meanwhile a client on a shared connection is served.
    assert_eq!(s(&other.call_str("SET x 1").await), "+OK\r\n");
    let r = a.try_reply(Duration::from_secs(5)).await.expect("answered");
    assert_eq!(s(&r), "*-1\r\n");
    // The client keeps its dedicated connection, in DB 2.
    assert_eq!(s(&a.call_str("ZADD z 1 m").await), ":1\r\n");
    assert_eq!(
        s(&a.call_str("BZPOPMIN z 0.5").await),
        "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$1\r\n1\r\n"
    );
}

both!(
    replies_are_the_upstreams_bytes,
    a_pinned_user_lands_in_its_db_and_cannot_leave_it,
    tenants_pipelining_on_shared_connections_never_see_each_other,
    multi_exec_is_sent_as_one_block,
    watch_moves_the_client_to_a_dedicated_connection,
    blpop_is_served_by_another_clients_push,
    subscribe_and_publish,
    upstream_restart_errors_then_recovers_with_the_handshake,
    ops_per_sec_quota_refuses_as_standalone,
    resp3_clients_get_resp3_replies_and_pushes,
    a_client_leaving_mid_blpop_does_not_swallow_a_later_push,
    info_keyspace_shows_a_pinned_user_only_its_db,
    reset_leaves_the_dedicated_connection,
    the_proxy_table_configures_upstream_credentials_from_the_environment,
    a_pinned_users_scripts_cannot_leave_its_db,
    max_keys_is_enforced_from_the_upstreams_keyspace,
    maxmemory_is_enforced_from_sampled_memory_usage,
    kill_mid_pipeline_answers_every_request_then_replays_the_handshake,
    stateful_clients_get_an_error_and_are_disconnected_on_upstream_loss,
    a_stopped_upstream_times_out_but_does_not_cut_a_long_blpop,
    bzpopmin_with_a_short_timeout_returns_nil,
);
