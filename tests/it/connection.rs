//! Connection group and protocol-level behaviour.

use crate::support::{self, start};

#[tokio::test]
async fn ping_echo_select_with_redis_crate() {
    let s = start().await;
    let mut c = s.client().await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
    let e: String = redis::cmd("ECHO")
        .arg("hi")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(e, "hi");
    let r: redis::RedisResult<()> = redis::cmd("SELECT").arg(16).query_async(&mut c).await;
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("DB index is out of range"));
}

#[tokio::test]
async fn pipeline_split_at_every_byte() {
    let s = start().await;
    let mut pipeline = Vec::new();
    for i in 0..5 {
        pipeline.extend(support::encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
        pipeline.extend(support::encode(&[b"GET", format!("k{i}").as_bytes()]));
    }
    pipeline.extend_from_slice(b"PING\r\n");
    let expected: Vec<u8> = b"+OK\r\n$1\r\nv\r\n"
        .repeat(5)
        .into_iter()
        .chain(b"+PONG\r\n".iter().copied())
        .collect();
    for cut in 1..pipeline.len() {
        let mut raw = s.raw().await;
        raw.send(&pipeline[..cut]).await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        raw.send(&pipeline[cut..]).await;
        let mut got = Vec::new();
        for _ in 0..11 {
            got.extend(raw.reply().await);
        }
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[tokio::test]
async fn protocol_error_replies_and_closes() {
    let s = start().await;
    let mut raw = s.raw().await;
    raw.send(b"*1\r\n$4\r\nPING\r\n*x\r\n").await;
    assert_eq!(raw.reply().await, b"+PONG\r\n");
    assert_eq!(
        raw.reply().await,
        b"-ERR Protocol error: invalid multibulk length\r\n"
    );
    assert!(raw.closed().await);
    // The server survives.
    let mut raw = s.raw().await;
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn differential_connection_basics() {
    support::diff_lines(&[
        "PING",
        "PING hello",
        "PING a b",
        "ECHO",
        "SELECT 99",
        "SELECT x",
        "SELECT 1",
        "NOSUCHCMD a b",
        "CLIENT NOSUCH",
        "CLIENT",
        "AUTH x",
        "AUTH a b c",
        "HELLO 4",
        "HELLO x",
        "HELLO 2 FOO",
        "GET",
        "SET a",
    ])
    .await;
}
