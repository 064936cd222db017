//! Tests: SIGTERM/SIGINT on the real binary, as `shutdown-on-sigterm` and
//! `shutdown-on-sigint` say (Redis 7's SHUTDOWN flags for each signal).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::support::{temp_dir, Raw};

const KEYWARD: &str = env!("CARGO_BIN_EXE_keyward");

/// The binary, killed on drop.
struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Binary {
    fn signal(&self, sig: libc::c_int) {
        let pid = self.0.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill");
    }

    /// Waits (generously) for the process to exit.
    async fn exited(&mut self) -> ExitStatus {
        for _ in 0..1500 {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("keyward did not exit");
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts the binary on a free port with `dir` and `extra` flags; returns
/// it and a connection once it answers.
async fn spawn(dir: &Path, extra: &[&str]) -> (Binary, Raw) {
    let port = free_port().to_string();
    let child = Command::new(KEYWARD)
        .args(["--port", &port, "--bind", "127.0.0.1"])
        .args(["--dir", dir.to_str().expect("utf-8 dir")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let mut bin = Binary(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            // Connected while loading answers -LOADING: wait it out.
            let mut c = Raw::connect(addr).await;
            if c.call_str("PING").await == b"+PONG\r\n" {
                return (bin, c);
            }
        }
        if let Ok(Some(status)) = bin.0.try_wait() {
            panic!("keyward exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("keyward did not start");
}

/// Starts, writes a key, sends `sig`; returns whether dump.rdb was written
/// and checks the exit status is 0.
async fn dump_after(name: &str, sig: libc::c_int, extra: &[&str]) -> bool {
    let dir = temp_dir(name);
    let (mut bin, mut c) = spawn(&dir, extra).await;
    assert_eq!(c.call_str("SET k v").await, b"+OK\r\n");
    bin.signal(sig);
    let status = bin.exited().await;
    assert!(status.success(), "{name}: {status}");
    let written = dir.join("dump.rdb").exists();
    let _ = std::fs::remove_dir_all(&dir);
    written
}

#[tokio::test]
async fn sigterm_and_sigint_follow_shutdown_on_sig_settings() {
    let save = ["--save", "3600 1"];
    // Default: save when save points exist, as SHUTDOWN with no flag.
    assert!(dump_after("sig-default", libc::SIGTERM, &save).await);
    assert!(dump_after("sig-int-default", libc::SIGINT, &save).await);
    assert!(!dump_after("sig-default-nosave-points", libc::SIGTERM, &["--save", ""]).await);
    // nosave (with now, which waits for no replica here) skips it.
    let term_nosave = ["--save", "3600 1", "--shutdown-on-sigterm", "nosave now"];
    assert!(!dump_after("sig-nosave", libc::SIGTERM, &term_nosave).await);
    // Each signal reads its own setting.
    assert!(dump_after("sig-int-other", libc::SIGINT, &term_nosave).await);
    let int_nosave = ["--save", "3600 1", "--shutdown-on-sigint", "nosave"];
    assert!(!dump_after("sig-int-nosave", libc::SIGINT, &int_nosave).await);
    // save without save points.
    let int_save = ["--save", "", "--shutdown-on-sigint", "save"];
    assert!(dump_after("sig-int-save", libc::SIGINT, &int_save).await);
}

/// CONFIG SET changes what the next signal does; a failed save without
/// `force` leaves the server running (Redis cancels the shutdown), with
/// `force` it exits anyway.
#[tokio::test]
async fn failed_save_keeps_running_unless_force() {
    let dir = temp_dir("sig-fail");
    let (mut bin, mut c) = spawn(&dir, &["--save", ""]).await;
    let set = |v: &'static str| [&b"CONFIG"[..], b"SET", b"shutdown-on-sigterm", v.as_bytes()];
    assert_eq!(c.call(&set("now nosave")).await, b"+OK\r\n");
    let v = c.call_str("CONFIG GET shutdown-on-sigterm").await;
    assert_eq!(
        String::from_utf8_lossy(&v),
        "*2\r\n$19\r\nshutdown-on-sigterm\r\n$10\r\nnosave now\r\n"
    );
    assert_eq!(
        c.call_str("CONFIG SET shutdown-on-sigterm save").await,
        b"+OK\r\n"
    );
    assert_eq!(c.call_str("SET k v").await, b"+OK\r\n");
    // A directory where dump.rdb should go: the save cannot finish.
    std::fs::create_dir(dir.join("dump.rdb")).expect("mkdir");
    bin.signal(libc::SIGTERM);
    // The server logs the failure and keeps serving.
    let mut alive = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(bin.0.try_wait().expect("try_wait").is_none(), "exited");
        if c.call_str("GET k").await == b"$1\r\nv\r\n" {
            alive = true;
        }
    }
    assert!(alive);
    assert_eq!(c.call(&set("save force")).await, b"+OK\r\n");
    bin.signal(libc::SIGTERM);
    let status = bin.exited().await;
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The settings' values as redis-server reads and prints them.
#[tokio::test]
async fn diff_shutdown_on_sig_values() {
    crate::support::diff_args(
        &[
            "CONFIG SET shutdown-on-sigint \"now nosave force\"",
            "CONFIG GET shutdown-on-sigint",
            "CONFIG SET shutdown-on-sigterm \"save nosave\"",
            "CONFIG SET shutdown-on-sigterm \"default now\"",
            "CONFIG GET shutdown-on-sigterm",
            "CONFIG SET shutdown-on-sigterm NOW",
            "CONFIG SET shutdown-on-sigterm \"\"",
            "CONFIG SET shutdown-on-sigterm bogus",
            "CONFIG SET shutdown-on-sigterm default",
            // (A glob's order is Redis's dict order: one name at a time.)
            "CONFIG GET shutdown-on-sigint",
            "CONFIG GET shutdown-on-sigterm",
        ]
        .iter()
        .map(|l| split_quoted(l))
        .collect::<Vec<_>>(),
    )
    .await;
}

fn split_quoted(line: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').expect("closing quote");
            out.push(r.as_bytes()[..end].to_vec());
            rest = &r[end + 1..];
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest.as_bytes()[..end].to_vec());
            rest = &rest[end..];
        }
    }
    out
}
