//! WAIT, WAITAOF and ROLE on a server without replicas, compared with
//! redis-server where it has the command (7.0 has no WAITAOF).

use std::time::{Duration, Instant};

use crate::support::{start, Oracle, Raw};

async fn replies(r: &mut Raw, cmds: &[&str]) -> Vec<String> {
    let mut got = Vec::new();
    for c in cmds {
        got.push(String::from_utf8_lossy(&r.call_str(c).await).into_owned());
    }
    got
}

#[tokio::test]
async fn wait_and_role_answer_as_a_master_without_replicas() {
    let cmds = [
        "WAIT 0 0",
        "WAIT -1 10",
        "WAIT 1 50",
        "WAIT x 1",
        "WAIT 1 -1",
        "WAIT 1 x",
        "WAIT 1 9223372036854775808",
        "ROLE",
        "MULTI",
        "WAIT 1 0",
        "EXEC",
    ];
    let s = start().await;
    let mut r = s.raw().await;
    let ours = replies(&mut r, &cmds).await;
    assert_eq!(ours[0], ":0\r\n");
    assert_eq!(
        ours[2], ":0\r\n",
        "no replica acknowledges: 0 at the timeout"
    );
    assert_eq!(ours[7], "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    assert_eq!(ours[10], "*1\r\n:0\r\n", "inside MULTI WAIT does not block");
    // Redis 7.2's overflow check (7.0 would block forever here).
    assert_eq!(
        r.call_str("WAIT 1 9223372036854775807").await,
        b"-ERR timeout is out of range\r\n"
    );
    // WAIT with no timeout blocks until the timeout ends it.
    let t = Instant::now();
    assert_eq!(r.call_str("WAIT 1 200").await, b":0\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t.elapsed()
    );
    if let Some(o) = Oracle::start().await {
        let mut theirs = Raw::connect(o.addr).await;
        assert_eq!(ours, replies(&mut theirs, &cmds).await);
    }
}

#[tokio::test]
async fn waitaof_without_an_aof() {
    let s = start().await;
    let mut r = s.raw().await;
    r.call_str("SET k v").await;
    let got = replies(
        &mut r,
        &[
            "WAITAOF 1 0 0",
            "WAITAOF 0 0 0",
            "WAITAOF 2 0 0",
            "WAITAOF -1 0 0",
            "WAITAOF x 0 0",
            "WAITAOF 0 -1 0",
            "WAITAOF 0 0 -1",
            "WAITAOF 0 1 50",
        ],
    )
    .await;
    assert_eq!(
        got,
        [
            "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.\r\n",
            "*2\r\n:0\r\n:0\r\n",
            "-ERR value is out of range, value must between 0 and 1\r\n",
            "-ERR value is out of range, value must between 0 and 1\r\n",
            "-ERR value is not an integer or out of range\r\n",
            "-ERR value is out of range, must be positive\r\n",
            "-ERR timeout is negative\r\n",
            "*2\r\n:0\r\n:0\r\n",
        ]
    );
}

/// CLIENT UNBLOCK ends a WAIT with its timeout reply (0) or the UNBLOCKED
/// error, as redis-server does, and a WAITAOF the same way.
#[tokio::test]
async fn client_unblock_ends_wait_and_waitaof() {
    async fn unblock(waiter: &mut Raw, admin: &mut Raw, cmd: &str, how: &str) -> (String, String) {
        let id = String::from_utf8_lossy(&waiter.call_str("CLIENT ID").await)[1..]
            .trim()
            .to_string();
        waiter
            .send(&crate::support::encode(
                &cmd.split(' ').map(str::as_bytes).collect::<Vec<_>>(),
            ))
            .await;
        // Until the server has it waiting: CLIENT UNBLOCK answers 0 before.
        // INFO counts it among blocked clients, as Redis does.
        let mut seen = false;
        for _ in 0..200 {
            let info = String::from_utf8_lossy(&admin.call_str("INFO clients").await).into_owned();
            if info.contains("blocked_clients:1\r\n") {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(seen, "{cmd}: never counted in blocked_clients");
        let mut n = String::new();
        for _ in 0..200 {
            n = String::from_utf8_lossy(
                &admin.call_str(&format!("CLIENT UNBLOCK {id} {how}")).await,
            )
            .into_owned();
            if n == ":1\r\n" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (
            n,
            String::from_utf8_lossy(&waiter.reply().await).into_owned(),
        )
    }
    let s = start().await;
    let (mut w, mut a) = (s.raw().await, s.raw().await);
    let ours = (
        unblock(&mut w, &mut a, "WAIT 1 0", "TIMEOUT").await,
        unblock(&mut w, &mut a, "WAIT 1 0", "ERROR").await,
    );
    assert_eq!(ours.0, (":1\r\n".into(), ":0\r\n".into()));
    assert_eq!(
        ours.1,
        (
            ":1\r\n".into(),
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".into()
        )
    );
    assert_eq!(
        unblock(&mut w, &mut a, "WAITAOF 0 1 0", "TIMEOUT").await,
        (":1\r\n".into(), "*2\r\n:0\r\n:0\r\n".into())
    );
    // The connection goes on afterwards.
    assert_eq!(w.call_str("PING").await, b"+PONG\r\n");
    if let Some(o) = Oracle::start().await {
        let (mut w, mut a) = (Raw::connect(o.addr).await, Raw::connect(o.addr).await);
        let theirs = (
            unblock(&mut w, &mut a, "WAIT 1 0", "TIMEOUT").await,
            unblock(&mut w, &mut a, "WAIT 1 0", "ERROR").await,
        );
        assert_eq!(ours, theirs);
    }
}
