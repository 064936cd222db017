//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB
//! CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB, UNSUBSCRIBE,
//! PUNSUBSCRIBE, SUNSUBSCRIBE; RESP2 subscribed-mode rules, RESP3 pushes.

use crate::support::{self, start};

#[tokio::test]
async fn subscribe_publish_resp2_and_resp3() {
    let s = start().await;
    let mut sub = s.raw().await;
    let mut pattern = s.raw().await;
    let mut pubr = s.raw().await;
    assert_eq!(
        sub.call(&[b"SUBSCRIBE", b"news", b"jobs"]).await,
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        sub.reply().await,
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\njobs\r\n:2\r\n"
    );
    // RESP3 pattern subscriber: pushes, and ordinary commands still work.
    pattern.call(&[b"HELLO", b"3"]).await;
    assert_eq!(
        pattern.call(&[b"PSUBSCRIBE", b"n*"]).await,
        b">3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    );
    assert_eq!(pattern.call(&[b"PING"]).await, b"+PONG\r\n");

    assert_eq!(pubr.call(&[b"PUBLISH", b"news", b"hello"]).await, b":2\r\n");
    assert_eq!(
        sub.reply().await,
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        pattern.reply().await,
        b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        pubr.call(&[b"PUBLISH", b"nobody", b"x"]).await,
        b":1\r\n",
        "pattern n* matches"
    );
    assert_eq!(
        pattern.reply().await,
        b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$6\r\nnobody\r\n$1\r\nx\r\n"
    );
    assert_eq!(pubr.call(&[b"PUBLISH", b"zzz", b"x"]).await, b":0\r\n");

    // RESP2 subscribed mode: only the pubsub commands, PING, QUIT, RESET.
    assert_eq!(
        sub.call(&[b"GET", b"k"]).await,
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        sub.call(&[b"PING"]).await,
        b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );

    let numsub = pubr.call(&[b"PUBSUB", b"NUMSUB", b"news", b"none"]).await;
    assert_eq!(numsub, b"*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n");
    assert_eq!(pubr.call(&[b"PUBSUB", b"NUMPAT"]).await, b":1\r\n");
    let stats = String::from_utf8_lossy(&pubr.call(&[b"INFO", b"stats"]).await).to_string();
    assert!(stats.contains("pubsub_channels:2\r\n"), "{stats}");
    assert!(stats.contains("pubsub_patterns:1\r\n"), "{stats}");
    let chans = pubr.call(&[b"PUBSUB", b"CHANNELS", b"j*"]).await;
    assert_eq!(chans, b"*1\r\n$4\r\njobs\r\n");

    assert_eq!(
        sub.call(&[b"UNSUBSCRIBE", b"news"]).await,
        b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(
        sub.call(&[b"UNSUBSCRIBE"]).await,
        b"*3\r\n$11\r\nunsubscribe\r\n$4\r\njobs\r\n:0\r\n"
    );
    assert_eq!(
        sub.call(&[b"GET", b"k"]).await,
        b"$-1\r\n",
        "out of subscribed mode"
    );
    assert_eq!(
        pattern.call(&[b"PUNSUBSCRIBE"]).await,
        b">3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n"
    );
}

#[tokio::test]
async fn shard_channels_and_disconnect_cleanup() {
    let s = start().await;
    let mut sub = s.raw().await;
    let mut p = s.raw().await;
    assert_eq!(
        sub.call(&[b"SSUBSCRIBE", b"orders"]).await,
        b"*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n"
    );
    assert_eq!(p.call(&[b"SPUBLISH", b"orders", b"o1"]).await, b":1\r\n");
    assert_eq!(
        sub.reply().await,
        b"*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\no1\r\n"
    );
    assert_eq!(
        p.call(&[b"PUBLISH", b"orders", b"x"]).await,
        b":0\r\n",
        "shard and global channels are apart"
    );
    assert_eq!(
        p.call(&[b"PUBSUB", b"SHARDCHANNELS"]).await,
        b"*1\r\n$6\r\norders\r\n"
    );
    assert_eq!(
        p.call(&[b"PUBSUB", b"SHARDNUMSUB", b"orders"]).await,
        b"*2\r\n$6\r\norders\r\n:1\r\n"
    );
    assert_eq!(
        sub.call(&[b"SUNSUBSCRIBE"]).await,
        b"*3\r\n$12\r\nsunsubscribe\r\n$6\r\norders\r\n:0\r\n"
    );
    sub.call(&[b"SUBSCRIBE", b"gone"]).await;
    drop(sub);
    for _ in 0..100 {
        if p.call(&[b"PUBLISH", b"gone", b"x"]).await == b":0\r\n" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("a disconnected subscriber must be removed");
}

#[tokio::test]
async fn reset_leaves_subscribed_mode() {
    let s = start().await;
    let mut sub = s.raw().await;
    sub.call(&[b"SUBSCRIBE", b"a"]).await;
    assert_eq!(sub.call(&[b"RESET"]).await, b"+RESET\r\n");
    assert_eq!(sub.call(&[b"GET", b"k"]).await, b"$-1\r\n");
    let mut p = s.raw().await;
    assert_eq!(p.call(&[b"PUBLISH", b"a", b"x"]).await, b":0\r\n");
}

#[tokio::test]
async fn slow_subscriber_hits_the_output_buffer_limit() {
    let s = start().await;
    let mut sub = s.raw().await;
    sub.call(&[b"SUBSCRIBE", b"flood"]).await;
    // The subscriber never reads; 40 MiB of messages exceed the 32 MiB hard limit.
    let mut p = s.raw().await;
    let payload = vec![b'x'; 1024 * 1024];
    let mut delivered_to_zero = false;
    for _ in 0..60 {
        if p.call(&[b"PUBLISH", b"flood", &payload]).await == b":0\r\n" {
            delivered_to_zero = true;
            break;
        }
    }
    assert!(
        delivered_to_zero,
        "the flooding subscriber must be disconnected"
    );
    assert_eq!(p.call(&[b"PING"]).await, b"+PONG\r\n");
    let help = p.call(&[b"PUBSUB", b"HELP"]).await;
    assert!(
        help.starts_with(b"*14\r\n+PUBSUB <subcommand>"),
        "{}",
        String::from_utf8_lossy(&help)
    );
}

#[tokio::test]
async fn differential_pubsub_replies() {
    support::diff_lines(&[
        "PUBLISH ch msg",
        "PUBLISH ch",
        "PUBSUB NUMPAT",
        "PUBSUB NUMSUB a b",
        "PUBSUB CHANNELS",
        "PUBSUB CHANNELS a b",
        "PUBSUB SHARDNUMSUB x",
        "PUBSUB NOSUCH",
        "SPUBLISH ch msg",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SUNSUBSCRIBE",
        "SUBSCRIBE one two",
        "PING",
        "PING hi",
        "SET a b",
        "PSUBSCRIBE p*",
        "UNSUBSCRIBE one",
        "PUNSUBSCRIBE p* q*",
        "UNSUBSCRIBE",
        "SET a b",
    ])
    .await;
}

/// node-redis 6 (RESP3) parses PUBSUB NUMSUB as a flat [channel, count, ...]
/// array, which is what Redis sends under both protocols; a RESP3 map made
/// it report no subscribers.
#[tokio::test]
async fn numsub_is_a_flat_array_in_resp3() {
    let s = start().await;
    let mut sub = s.raw().await;
    sub.call(&[b"SUBSCRIBE", b"news"]).await;
    sub.call(&[b"SSUBSCRIBE", b"orders"]).await;
    let mut c = s.raw().await;
    c.call(&[b"HELLO", b"3"]).await;
    assert_eq!(
        c.call(&[b"PUBSUB", b"NUMSUB", b"news", b"none"]).await,
        b"*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n"
    );
    assert_eq!(
        c.call(&[b"PUBSUB", b"SHARDNUMSUB", b"orders"]).await,
        b"*2\r\n$6\r\norders\r\n:1\r\n"
    );
}
