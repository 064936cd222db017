//! Operations: the unix socket (`unixsocket`, `unixsocketperm`) served
//! beside TCP or alone, its file's life, and CLIENT LIST's view of its
//! clients compared with redis-server started with `--unixsocket`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::support::{encode, reply_len, temp_dir, Oracle};

/// A raw RESP connection over a unix socket.
struct UnixRaw {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl UnixRaw {
    async fn connect(path: &Path) -> UnixRaw {
        UnixRaw {
            stream: UnixStream::connect(path).await.expect("connects"),
            buf: Vec::new(),
        }
    }

    async fn call(&mut self, args: &[&[u8]]) -> String {
        self.stream.write_all(&encode(args)).await.expect("write");
        loop {
            if let Some(n) = reply_len(&self.buf) {
                let r: Vec<u8> = self.buf.drain(..n).collect();
                return String::from_utf8_lossy(&r).into_owned();
            }
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("reply within 10 s")
                .expect("read");
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn start_unix(
    path: &Path,
    port: u16,
    edit: impl FnOnce(&mut keyward::Config),
) -> keyward::ServerHandle {
    let mut config = keyward::Config {
        bind: vec!["127.0.0.1".into()],
        port,
        unixsocket: path.to_str().expect("utf-8 path").into(),
        ..Default::default()
    };
    edit(&mut config);
    keyward::Server::builder()
        .config(config)
        .start()
        .await
        .expect("server starts")
}

/// The `name=value` fields of a CLIENT LIST/INFO line named in `names`.
fn fields(line: &str, names: &[&str]) -> Vec<String> {
    line.split_whitespace()
        .filter(|f| names.iter().any(|n| f.split('=').next() == Some(n)))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn unix_socket_alone_with_port_0() {
    let dir = temp_dir("unix-alone");
    let path = dir.join("keyward.sock");
    // A stale file where the socket goes (a server killed with SIGKILL
    // leaves one): replaced, as redis-server does.
    std::fs::write(&path, b"stale").expect("stale file");
    let server = start_unix(&path, 0, |c| c.unixsocketperm = 0o700).await;
    assert!(server.addrs().is_empty(), "port 0: no TCP listener");
    assert_eq!(server.unixsocket(), Some(path.as_path()));
    let meta = std::fs::metadata(&path).expect("socket file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o700, "unixsocketperm");

    let mut c = UnixRaw::connect(&path).await;
    assert_eq!(c.call(&[b"SET", b"k", b"v"]).await, "+OK\r\n");
    assert_eq!(c.call(&[b"GET", b"k"]).await, "$1\r\nv\r\n");
    let p = path.display().to_string();
    let info = c.call(&[b"CLIENT", b"INFO"]).await;
    assert_eq!(
        fields(&info, &["addr", "laddr", "flags"]),
        vec![
            format!("addr={p}:0"),
            format!("laddr={p}:0"),
            "flags=U".to_string()
        ],
        "{info}"
    );
    // CLIENT KILL ADDR takes what CLIENT LIST shows.
    let mut other = UnixRaw::connect(&path).await;
    assert_eq!(other.call(&[b"PING"]).await, "+PONG\r\n");
    let killed = c
        .call(&[
            b"CLIENT",
            b"KILL",
            b"ADDR",
            format!("{p}:0").as_bytes(),
            b"SKIPME",
            b"yes",
        ])
        .await;
    assert_eq!(killed, ":1\r\n");
    assert_eq!(
        c.call(&[b"CONFIG", b"GET", b"unixsocketperm"]).await,
        "*2\r\n$14\r\nunixsocketperm\r\n$3\r\n700\r\n"
    );

    server.shutdown().await;
    assert!(!path.exists(), "the socket file is removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn unix_socket_beside_tcp_with_auth_and_protected_mode() {
    let dir = temp_dir("unix-tcp");
    let path = dir.join("k.sock");
    let port = free_port();
    // Protected mode on, no password: a unix socket client is local.
    let server = start_unix(&path, port, |_| {}).await;
    assert_eq!(server.addr().port(), port, "TCP too when port is not 0");
    let mut u = UnixRaw::connect(&path).await;
    assert_eq!(u.call(&[b"PING"]).await, "+PONG\r\n");
    assert_eq!(
        u.call(&[b"CONFIG", b"GET", b"protected-mode"]).await,
        "*2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n"
    );
    // A key written over TCP is read over the socket: one server.
    let mut t = crate::support::Raw::connect(server.addr()).await;
    assert_eq!(t.call_str("SET shared 1").await, b"+OK\r\n");
    assert_eq!(u.call(&[b"GET", b"shared"]).await, "$1\r\n1\r\n");
    server.shutdown().await;

    // With a password: the socket asks for it like TCP does, and the
    // `redis` crate's unix URL logs in.
    let server = start_unix(&path, 0, |c| c.requirepass = Some("s3cret".into())).await;
    let mut u = UnixRaw::connect(&path).await;
    assert_eq!(
        u.call(&[b"GET", b"x"]).await,
        "-NOAUTH Authentication required.\r\n"
    );
    assert!(u.call(&[b"AUTH", b"wrong"]).await.starts_with("-WRONGPASS"));
    assert_eq!(u.call(&[b"AUTH", b"s3cret"]).await, "+OK\r\n");
    let url = format!("redis+unix://{}?pass=s3cret", path.display());
    let mut conn = redis::Client::open(url)
        .expect("valid url")
        .get_multiplexed_async_connection()
        .await
        .expect("connects over the socket");
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .expect("PING");
    assert_eq!(pong, "PONG");
    drop(conn);
    server.shutdown().await;
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// CLIENT LIST's `addr`, `laddr` and `flags` of a unix socket client, as
/// redis-server shows them (the path differs: each server has its own).
#[tokio::test]
async fn client_list_of_a_unix_client_matches_redis() {
    let dir = temp_dir("unix-diff");
    let theirs_path = dir.join("redis.sock");
    let Some(_oracle) =
        Oracle::start_with(&["--unixsocket", theirs_path.to_str().expect("utf-8")]).await
    else {
        return;
    };
    let ours_path = dir.join("keyward.sock");
    let server = start_unix(&ours_path, 0, |_| {}).await;
    let names = ["addr", "laddr", "flags", "db", "cmd"];
    let mut ours = UnixRaw::connect(&ours_path).await;
    // The oracle's socket appears once it listens; it listens on TCP first.
    let mut theirs = {
        let mut tries = 0;
        loop {
            match UnixStream::connect(&theirs_path).await {
                Ok(stream) => {
                    break UnixRaw {
                        stream,
                        buf: Vec::new(),
                    }
                }
                Err(e) => {
                    tries += 1;
                    assert!(tries < 500, "redis-server's socket: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    };
    for cmd in [&b"LIST"[..], b"INFO"] {
        let a = ours.call(&[b"CLIENT", cmd]).await;
        let b = theirs.call(&[b"CLIENT", cmd]).await;
        let a = fields(&a, &names)
            .join(" ")
            .replace(ours_path.to_str().expect("utf-8"), "PATH");
        let b = fields(&b, &names)
            .join(" ")
            .replace(theirs_path.to_str().expect("utf-8"), "PATH");
        assert_eq!(a, b);
        assert!(a.contains("addr=PATH:0 laddr=PATH:0"), "{a}");
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------ the binary

const KEYWARD: &str = env!("CARGO_BIN_EXE_keyward");

/// A process started by a test, killed on drop.
struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until 127.0.0.1:`port` accepts connections (generous: the
/// machine may be busy), failing early if the process exited.
async fn until_listening(p: &mut Proc, port: u16) {
    for _ in 0..3000 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = p.0.try_wait() {
            panic!("keyward exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("keyward did not listen on {port}");
}

/// Waits until the server on `port` answers PING with PONG (not -LOADING).
async fn until_pong(p: &mut Proc, port: u16) -> crate::support::Raw {
    until_listening(p, port).await;
    let mut c = crate::support::Raw::connect(([127, 0, 0, 1], port).into()).await;
    for _ in 0..3000 {
        let r = c.call_str("PING").await;
        if !r.starts_with(b"-LOADING") {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("still loading");
}

/// Datagrams from the notify socket until `last` arrives (60 s at most
/// per datagram), on a blocking thread.
async fn notifications(
    sock: std::sync::Arc<std::os::unix::net::UnixDatagram>,
    last: &'static str,
) -> Vec<String> {
    tokio::task::spawn_blocking(move || {
        sock.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).expect("a notification within 60 s");
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg == last;
            got.push(msg);
            if done {
                return got;
            }
        }
    })
    .await
    .expect("receiver")
}

fn sigterm(p: &Proc) {
    // SAFETY: kill(2) on our own child's pid, no memory involved.
    let r = unsafe { libc::kill(p.0.id() as i32, libc::SIGTERM) };
    assert_eq!(r, 0, "kill");
}

/// `supervised systemd`: redis-server's notifications, READY=1 only once
/// it serves, STOPPING=1 at shutdown; the pid file lives from start to
/// exit; the log goes to `logfile`.
#[tokio::test]
async fn systemd_notify_pidfile_and_logfile() {
    let dir = temp_dir("systemd");
    let notify_path = dir.join("notify.sock");
    let sock = std::sync::Arc::new(
        std::os::unix::net::UnixDatagram::bind(&notify_path).expect("notify socket"),
    );
    let port = free_port();
    let pidfile = dir.join("keyward.pid");
    let logfile = dir.join("keyward.log");
    let mut p = Proc(
        std::process::Command::new(KEYWARD)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--supervised", "systemd"])
            .arg("--dir")
            .arg(&dir)
            .arg("--pidfile")
            .arg(&pidfile)
            .arg("--logfile")
            .arg(&logfile)
            .env("NOTIFY_SOCKET", &notify_path)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the binary runs"),
    );
    let got = notifications(sock.clone(), "READY=1\n").await;
    assert_eq!(
        got,
        [
            "STATUS=Redis is loading...\n",
            "STATUS=Ready to accept connections\n",
            "READY=1\n"
        ]
    );
    // Ready means serving.
    let mut c = crate::support::Raw::connect(([127, 0, 0, 1], port).into()).await;
    assert_eq!(c.call_str("PING").await, b"+PONG\r\n");
    assert_eq!(
        std::fs::read_to_string(&pidfile).expect("pid file"),
        format!("{}\n", p.0.id())
    );
    sigterm(&p);
    assert_eq!(notifications(sock, "STOPPING=1\n").await, ["STOPPING=1\n"]);
    let status = tokio::task::spawn_blocking(move || {
        let s = p.0.wait();
        (p, s)
    })
    .await
    .expect("wait")
    .1
    .expect("exit status");
    assert!(status.success(), "{status}");
    assert!(!pidfile.exists(), "the pid file is removed at exit");
    let log = std::fs::read_to_string(&logfile).expect("log file");
    assert!(log.contains("keyward ready to accept connections"), "{log}");
    assert!(log.contains("Removing the pid file."), "{log}");
    assert!(!log.contains('\u{1b}'), "no colours in a file: {log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `supervised auto` finds NOTIFY_SOCKET; `@name` is an abstract socket;
/// SHUTDOWN (not a signal) sends STOPPING=1 too. JSON logs: one object a line.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn systemd_auto_with_an_abstract_socket_and_json_logs() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!(
        "keyward-it-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let sock = std::sync::Arc::new(
        std::os::unix::net::UnixDatagram::bind_addr(&addr).expect("abstract socket"),
    );
    let dir = temp_dir("systemd-auto");
    let port = free_port();
    let logfile = dir.join("json.log");
    let mut p = Proc(
        std::process::Command::new(KEYWARD)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--supervised", "auto", "--log-format", "json"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(&logfile)
            .env("NOTIFY_SOCKET", format!("@{name}"))
            .env_remove("UPSTART_JOB")
            .spawn()
            .expect("the binary runs"),
    );
    let got = notifications(sock.clone(), "READY=1\n").await;
    assert_eq!(got.last().map(String::as_str), Some("READY=1\n"));
    until_listening(&mut p, port).await;
    let mut c = crate::support::Raw::connect(([127, 0, 0, 1], port).into()).await;
    c.cmd(&[b"SHUTDOWN", b"NOSAVE"]).await;
    assert_eq!(notifications(sock, "STOPPING=1\n").await, ["STOPPING=1\n"]);
    let status = tokio::task::spawn_blocking(move || {
        let s = p.0.wait();
        (p, s)
    })
    .await
    .expect("wait")
    .1
    .expect("exit status");
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(&logfile).expect("log file");
    let mut saw_ready = false;
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        assert!(
            v["ts"].is_string() && v["level"].is_string() && v["fields"].is_object(),
            "{line}"
        );
        if v["message"] == "keyward ready to accept connections" {
            saw_ready = true;
            assert!(v["fields"]["addrs"].is_string(), "{line}");
        }
    }
    assert!(saw_ready, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `keyward --check-config`: 0 and the tenancy table for a good file
/// (no password, not even a hash), 1 and the reason for a bad one.
#[test]
fn check_config_prints_tenancy_without_secrets() {
    let dir = temp_dir("check-config");
    let file = dir.join("k.toml");
    std::fs::write(
        &file,
        r#"[server]
requirepass = "topsecret-1"
[[db]]
index = 2
name = "queue"
maxmemory = "1gb"
maxmemory-policy = "noeviction"
max-ops-per-sec = 100
[[user]]
name = "worker"
rules = "on >topsecret-2 db=2 ~* &* +@all -@dangerous"
"#,
    )
    .expect("write");
    let out = std::process::Command::new(KEYWARD)
        .arg("--check-config")
        .arg(&file)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("requirepass set"), "{text}");
    let queue = text
        .lines()
        .find(|l| l.starts_with("2 "))
        .expect("the queue's row");
    let cells: Vec<&str> = queue.split_whitespace().collect();
    assert_eq!(
        cells[..5],
        ["2", "queue", "1gb", "noeviction", "-"],
        "{text}"
    );
    let worker = text
        .lines()
        .find(|l| l.starts_with("worker "))
        .expect("the worker's row");
    assert!(
        worker.contains(" 2 ") && worker.contains("-@dangerous"),
        "{worker}"
    );
    assert!(!text.contains("topsecret"), "{text}");
    let hash = |p: &str| {
        use sha2::Digest;
        sha2::Sha256::digest(p.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(
        !text.contains(&hash("topsecret-1")) && !text.contains(&hash("topsecret-2")),
        "{text}"
    );

    std::fs::write(&file, "[server]\nport = \"x\"\n").expect("write");
    let out = std::process::Command::new(KEYWARD)
        .arg("--check-config")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("port"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------ the container

/// The image's entrypoint, run without Docker against the built binary.
fn entrypoint(env: &[(&str, &str)], args: &[&str], log: &Path) -> Proc {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/entrypoint.sh");
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(script)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEYWARD_BIN", KEYWARD)
        .stdout(log.try_clone().expect("clone"))
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("sh runs"))
}

/// `keyward --ping` with this environment: its exit status.
fn ping(env: &[(&str, &str)], args: &[&str]) -> Option<i32> {
    let mut cmd = std::process::Command::new(KEYWARD);
    cmd.arg("--ping")
        .args(args)
        .env_remove("PORT")
        .env_remove("REDIS_PASSWORD")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.status().expect("runs").code()
}

/// A non-loopback address of this host, to connect from "outside"; `None`
/// on a host without one.
fn outside_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.255:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn entrypoint_maps_the_environment_and_ping_checks_health() {
    let dir = temp_dir("entrypoint");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let data_s = data.to_str().expect("utf-8").to_string();

    // No password: bound on `::`, protected mode answers outsiders -DENIED
    // while the loopback health check passes.
    let port = free_port();
    let port_s = port.to_string();
    let log = dir.join("open.log");
    let mut p = entrypoint(
        &[("PORT", &port_s), ("KEYWARD_DIR", &data_s)],
        &["--save", ""],
        &log,
    );
    let mut c = until_pong(&mut p, port).await;
    assert_eq!(c.call_str("PING").await, b"+PONG\r\n");
    let dir_reply = String::from_utf8_lossy(&c.call_str("CONFIG GET dir").await).into_owned();
    assert!(dir_reply.contains(&data_s), "{dir_reply}");
    assert_eq!(
        c.call_str("CONFIG GET bind").await,
        b"*2\r\n$4\r\nbind\r\n$2\r\n::\r\n"
    );
    if let Some(ip) = outside_ip() {
        let mut o = crate::support::Raw::connect((ip, port).into()).await;
        o.cmd(&[b"PING"]).await;
        let r = o.reply().await;
        assert!(r.starts_with(b"-DENIED"), "{}", String::from_utf8_lossy(&r));
    }
    assert_eq!(ping(&[("PORT", &port_s)], &[]), Some(0));
    assert_eq!(ping(&[], &["--port", &port_s]), Some(0));
    assert_eq!(
        ping(&[("PORT", &port_s), ("REDIS_PASSWORD", "x")], &[]),
        Some(1),
        "an AUTH that fails is not healthy"
    );
    drop(p);
    assert_eq!(ping(&[("PORT", &port_s)], &[]), Some(1), "nothing listens");

    // A password from REDIS_PASSWORD: never on a command line or in the log.
    let secret = "s3cr3t 'quoted' \"x\" $HOME";
    let port = free_port();
    let port_s = port.to_string();
    let log = dir.join("auth.log");
    let mut p = entrypoint(
        &[
            ("PORT", &port_s),
            ("KEYWARD_DIR", &data_s),
            ("REDIS_PASSWORD", secret),
        ],
        &["--save", ""],
        &log,
    );
    let mut c = until_pong(&mut p, port).await;
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.0.id())).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("s3cr3t"),
        "the password is not an argument"
    );
    assert_eq!(
        c.call_str("PING").await,
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.call(&[b"AUTH", secret.as_bytes()]).await, b"+OK\r\n");
    // NOAUTH comes before LOADING: logged in, wait for the load.
    while c.call_str("PING").await.starts_with(b"-LOADING") {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(ip) = outside_ip() {
        let mut o = crate::support::Raw::connect((ip, port).into()).await;
        assert_eq!(o.call(&[b"AUTH", secret.as_bytes()]).await, b"+OK\r\n");
        assert_eq!(o.call_str("PING").await, b"+PONG\r\n");
    }
    assert_eq!(
        ping(&[("PORT", &port_s), ("REDIS_PASSWORD", secret)], &[]),
        Some(0)
    );
    assert_eq!(ping(&[("PORT", &port_s)], &[]), Some(1), "NOAUTH");
    assert_eq!(
        ping(&[("PORT", &port_s), ("REDIS_PASSWORD", "wrong")], &[]),
        Some(1)
    );
    // CONFIG REWRITE-free check that the variable's name is what is kept.
    assert_eq!(
        c.call_str("CONFIG GET requirepass-env").await,
        b"*2\r\n$15\r\nrequirepass-env\r\n$14\r\nREDIS_PASSWORD\r\n"
    );
    c.cmd(&[b"SHUTDOWN", b"NOSAVE"]).await;
    let status = tokio::task::spawn_blocking(move || {
        let s = p.0.wait();
        (p, s)
    })
    .await
    .expect("wait")
    .1
    .expect("exit status");
    assert!(status.success(), "{status}");
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("ready to accept connections"), "{logged}");
    assert!(!logged.contains("s3cr3t"), "{logged}");

    // KEYWARD_CONFIG: the file first, the environment's flags over it.
    let file = dir.join("keyward.toml");
    std::fs::write(
        &file,
        format!("[server]\nbind = \"127.0.0.1\"\nport = 1\ndatabases = 4\nsave = \"\"\ndir = \"{data_s}\"\n"),
    )
    .expect("config");
    let port = free_port();
    let port_s = port.to_string();
    let mut p = entrypoint(
        &[
            ("PORT", &port_s),
            ("KEYWARD_CONFIG", file.to_str().expect("utf-8")),
        ],
        &[],
        &dir.join("conf.log"),
    );
    let mut c = until_pong(&mut p, port).await;
    assert_eq!(
        c.call_str("CONFIG GET databases").await,
        b"*2\r\n$9\r\ndatabases\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        c.call_str("CONFIG GET bind").await,
        b"*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n",
        "the file's bind, not ::"
    );
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}
