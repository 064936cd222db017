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
