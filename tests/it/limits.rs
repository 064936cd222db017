//! Limits, authentication and connection lifecycle: the server enforces
//! each limit with Redis's reply and survives the offending client.

use std::time::Duration;

use crate::support::{self, start, start_with, Raw};

fn config() -> keyward::Config {
    keyward::Config::default()
}

#[tokio::test]
async fn maxclients_refuses_with_redis_error() {
    let s = start_with(keyward::Config {
        maxclients: 2,
        ..config()
    })
    .await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    assert_eq!(a.call(&[b"PING"]).await, b"+PONG\r\n");
    assert_eq!(b.call(&[b"PING"]).await, b"+PONG\r\n");
    let mut c = s.raw().await;
    assert_eq!(c.reply().await, b"-ERR max number of clients reached\r\n");
    assert!(c.closed().await);
    drop(a);
    // Once a slot frees up, new clients are served again.
    for _ in 0..100 {
        let mut d = s.raw().await;
        d.cmd(&[b"PING"]).await;
        if d.reply().await == b"+PONG\r\n" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("a freed client slot was never reused");
}

#[tokio::test]
async fn query_buffer_limit_closes_the_client_only() {
    let s = start_with(keyward::Config {
        client_query_buffer_limit: 1024 * 1024,
        ..config()
    })
    .await;
    let mut raw = s.raw().await;
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n")
        .await;
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..40 {
        if tokio::io::AsyncWriteExt::write_all(&mut raw.stream, &chunk)
            .await
            .is_err()
        {
            closed = true;
            break;
        }
    }
    assert!(
        closed || raw.closed().await,
        "client past the query buffer limit must be closed"
    );
    let mut other = s.raw().await;
    assert_eq!(other.call(&[b"GET", b"k"]).await, b"$-1\r\n");
}

#[tokio::test]
async fn bulk_and_multibulk_limits() {
    let s = start().await;
    let mut raw = s.raw().await;
    raw.send(b"*1\r\n$536870913\r\n").await;
    assert_eq!(
        raw.reply().await,
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(raw.closed().await);
    let mut raw = s.raw().await;
    raw.send(b"*2147483648\r\n").await;
    assert_eq!(
        raw.reply().await,
        b"-ERR Protocol error: invalid multibulk length\r\n"
    );
    let mut raw = s.raw().await;
    raw.send(&vec![b'a'; 70 * 1024]).await;
    assert_eq!(
        raw.reply().await,
        b"-ERR Protocol error: too big inline request\r\n"
    );
    let mut raw = s.raw().await;
    raw.send(b"*1\r\n$3\r\nfoo\r\nPING\r\n").await;
    assert!(raw.reply().await.starts_with(b"-ERR unknown command 'foo'"));
    assert_eq!(raw.reply().await, b"+PONG\r\n");
}

#[tokio::test]
async fn requirepass_auth_flow_and_unauthenticated_limits() {
    let s = start_with(keyward::Config {
        requirepass: Some("s3cret".into()),
        ..config()
    })
    .await;
    let mut raw = s.raw().await;
    assert_eq!(
        raw.call(&[b"GET", b"k"]).await,
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        raw.call(&[b"AUTH", b"wrong"]).await,
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        raw.call(&[b"AUTH", b"nosuchuser", b"s3cret"]).await,
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let hello = raw.call(&[b"HELLO", b"3"]).await;
    assert!(
        hello.starts_with(b"-NOAUTH HELLO must be called with the client already authenticated")
    );
    // Before AUTH, Redis's stricter limits apply.
    raw.send(b"*11\r\n").await;
    assert_eq!(
        raw.reply().await,
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(raw.closed().await);

    let mut raw = s.raw().await;
    raw.send(b"*2\r\n$3\r\nGET\r\n$20000\r\n").await;
    assert_eq!(
        raw.reply().await,
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );

    // AUTH then a big command in the same write: the limits lift at once.
    let mut raw = s.raw().await;
    let mut batch = support::encode(&[b"AUTH", b"s3cret"]);
    let big = vec![b'v'; 20_000];
    batch.extend(support::encode(&[b"SET", b"k", &big]));
    batch.extend(support::encode(&[b"STRLEN", b"k"]));
    raw.send(&batch).await;
    assert_eq!(raw.reply().await, b"+OK\r\n");
    assert_eq!(raw.reply().await, b"+OK\r\n");
    let strlen = raw.reply().await;
    assert!(
        strlen == b":20000\r\n" || strlen.starts_with(b"-ERR unknown command"),
        "{strlen:?}"
    );

    let mut raw = s.raw().await;
    let hello = raw
        .call(&[
            b"HELLO", b"3", b"AUTH", b"default", b"s3cret", b"SETNAME", b"app",
        ])
        .await;
    assert!(
        hello.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    assert_eq!(raw.call(&[b"CLIENT", b"GETNAME"]).await, b"$3\r\napp\r\n");
    assert_eq!(raw.call(&[b"GET", b"nokey"]).await, b"_\r\n");
}

#[tokio::test]
async fn auth_without_password_configured() {
    support::diff_lines(&["AUTH foo", "AUTH default foo", "AUTH default"]).await;
}

#[tokio::test]
async fn idle_timeout_closes_idle_clients() {
    let s = start_with(keyward::Config {
        timeout: 1,
        ..config()
    })
    .await;
    let mut raw = s.raw().await;
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
    assert!(
        raw.closed().await,
        "idle client must be closed after `timeout` seconds"
    );
}

#[tokio::test]
async fn large_pipeline_and_large_values() {
    let s = start().await;
    let mut raw = s.raw().await;
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend(support::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
    }
    for i in 0..10_000 {
        batch.extend(support::encode(&[b"GET", format!("k{i}").as_bytes()]));
    }
    raw.send(&batch).await;
    for _ in 0..10_000 {
        assert_eq!(raw.reply().await, b"+OK\r\n");
    }
    for i in 0..10_000 {
        let v = format!("{i}");
        assert_eq!(
            raw.reply().await,
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
    }
    let big = vec![b'z'; 10 * 1024 * 1024];
    assert_eq!(raw.call(&[b"SET", b"big", &big]).await, b"+OK\r\n");
    let got = raw.call(&[b"GET", b"big"]).await;
    assert_eq!(&got[..11], b"$10485760\r\n");
    assert_eq!(got.len(), 11 + big.len() + 2);
}

#[tokio::test]
async fn client_kill_quit_and_reply_modes() {
    let s = start().await;
    let mut victim = s.raw().await;
    let id = victim.call(&[b"CLIENT", b"ID"]).await;
    let id = String::from_utf8_lossy(&id[1..id.len() - 2]).to_string();
    let mut killer = s.raw().await;
    assert_eq!(
        killer
            .call(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()])
            .await,
        b":1\r\n"
    );
    assert!(victim.closed().await);
    assert_eq!(
        killer.call(&[b"CLIENT", b"KILL", b"ID", b"999999"]).await,
        b":0\r\n"
    );
    assert_eq!(
        killer.call(&[b"CLIENT", b"KILL", b"1.2.3.4:5"]).await,
        b"-ERR No such client\r\n"
    );

    let mut raw = s.raw().await;
    raw.cmd(&[b"CLIENT", b"REPLY", b"OFF"]).await;
    raw.cmd(&[b"SET", b"a", b"1"]).await;
    raw.cmd(&[b"CLIENT", b"REPLY", b"SKIP"]).await;
    raw.cmd(&[b"CLIENT", b"REPLY", b"ON"]).await;
    assert_eq!(raw.reply().await, b"+OK\r\n");
    raw.cmd(&[b"CLIENT", b"REPLY", b"SKIP"]).await;
    raw.cmd(&[b"GET", b"a"]).await;
    assert_eq!(raw.call(&[b"GET", b"a"]).await, b"$1\r\n1\r\n");

    // CLIENT UNBLOCK of a client that is not blocked does nothing.
    assert_eq!(
        killer.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await,
        b":0\r\n"
    );
    assert_eq!(
        killer.call(&[b"CLIENT", b"UNBLOCK", b"1", b"NOPE"]).await,
        b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );

    let mut q = s.raw().await;
    assert_eq!(q.call(&[b"QUIT"]).await, b"+OK\r\n");
    assert!(q.closed().await);
}

#[tokio::test]
async fn client_list_info_setinfo_and_names() {
    let s = start().await;
    let mut raw = s.raw().await;
    assert_eq!(
        raw.call(&[b"CLIENT", b"SETNAME", b"bull:worker"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        raw.call(&[b"CLIENT", b"SETNAME", b"has space"]).await,
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        raw.call(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"ioredis"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(
        raw.call(&[b"CLIENT", b"SETINFO", b"LIB-VER", b"5.4.1"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(
        raw.call(&[b"CLIENT", b"SETINFO", b"nope", b"x"]).await,
        b"-ERR Unrecognized option 'nope'\r\n"
    );
    assert_eq!(raw.call(&[b"CLIENT", b"NO-EVICT", b"on"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"SELECT", b"3"]).await, b"+OK\r\n");
    let list = raw.call(&[b"CLIENT", b"LIST"]).await;
    let text = String::from_utf8_lossy(&list);
    assert!(text.contains(" name=bull:worker "), "{text}");
    assert!(text.contains(" lib-name=ioredis lib-ver=5.4.1"), "{text}");
    assert!(text.contains(" db=3 "), "{text}");
    assert!(text.contains(" flags=e "), "{text}");
    let info = raw.call(&[b"CLIENT", b"INFO"]).await;
    assert!(
        String::from_utf8_lossy(&info).contains("cmd=client|info"),
        "{}",
        String::from_utf8_lossy(&info)
    );
    assert_eq!(raw.call(&[b"HELLO", b"3"]).await[..4], *b"%7\r\n");
    let list = raw
        .call(&[b"CLIENT", b"LIST", b"ID", b"1", b"2", b"3", b"4", b"5"])
        .await;
    assert!(
        list.starts_with(b"="),
        "RESP3 CLIENT LIST is a verbatim string"
    );
    assert_eq!(
        raw.call(&[b"CLIENT", b"LIST", b"ID", b"x"]).await,
        b"-ERR Invalid client ID\r\n"
    );
    let help = raw.call(&[b"CLIENT", b"HELP"]).await;
    assert!(help.starts_with(b"*"));
    assert_eq!(raw.call(&[b"RESET"]).await, b"+RESET\r\n");
    assert_eq!(
        raw.call(&[b"GET", b"nokey"]).await,
        b"$-1\r\n",
        "RESET goes back to RESP2"
    );
    assert_eq!(
        raw.call(&[b"CLIENT", b"GETNAME"]).await,
        b"$11\r\nbull:worker\r\n"
    );
}

#[tokio::test]
async fn inline_commands_like_telnet() {
    let s = start().await;
    let mut raw = s.raw().await;
    raw.send(b"SET greeting \"hello world\"\r\nGET greeting\nPING\r\n\r\n")
        .await;
    assert_eq!(raw.reply().await, b"+OK\r\n");
    assert_eq!(raw.reply().await, b"$11\r\nhello world\r\n");
    assert_eq!(raw.reply().await, b"+PONG\r\n");
    raw.send(b"SET a \"unterminated\r\n").await;
    assert_eq!(
        raw.reply().await,
        b"-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert!(raw.closed().await);
}

#[tokio::test]
async fn shutdown_handle_closes_clients() {
    let s = start().await;
    let addr = s.addr;
    let mut raw = s.raw().await;
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
    s.handle.shutdown().await;
    assert!(raw.closed().await);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener must be closed"
    );
    let _ = Raw::connect; // the helper stays in use elsewhere
}

#[tokio::test]
async fn selects_are_isolated_keyspaces() {
    let s = start().await;
    let mut c = s.client().await;
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("db0")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::cmd("SELECT")
        .arg(5)
        .query_async(&mut c)
        .await
        .unwrap();
    let v: Option<String> = redis::cmd("GET")
        .arg("k")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, None);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("db5")
        .query_async(&mut c)
        .await
        .unwrap();
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(n, 1);
    let _: () = redis::cmd("SELECT")
        .arg(0)
        .query_async(&mut c)
        .await
        .unwrap();
    let v: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "db0");
}

/// CLIENT KILL of the calling client, old form (`addr`) and new (`ID`),
/// pipelined after a PING: Redis answers both, then closes. Compared byte
/// for byte with redis-server.
#[tokio::test]
async fn client_kill_of_itself_answers_then_closes() {
    async fn kill_self(mut r: Raw, old_form: bool) -> Vec<u8> {
        let me = r.stream.local_addr().expect("addr").to_string();
        let id = r.call(&[b"CLIENT", b"ID"]).await;
        let id = String::from_utf8_lossy(&id[1..id.len() - 2]).to_string();
        let mut bytes = crate::support::encode(&[b"PING"]);
        bytes.extend(if old_form {
            crate::support::encode(&[b"CLIENT", b"KILL", me.as_bytes()])
        } else {
            crate::support::encode(&[b"CLIENT", b"KILL", b"ID", id.as_bytes(), b"SKIPME", b"no"])
        });
        bytes.extend(crate::support::encode(&[b"PING"]));
        r.send(&bytes).await;
        r.drain(Duration::from_millis(300)).await
    }
    let s = start().await;
    let ours_old = kill_self(s.raw().await, true).await;
    let ours_new = kill_self(s.raw().await, false).await;
    assert_eq!(ours_old, b"+PONG\r\n+OK\r\n");
    assert_eq!(ours_new, b"+PONG\r\n:1\r\n");
    if let Some(o) = support::Oracle::start().await {
        let r = Raw::connect(o.addr).await;
        assert_eq!(kill_self(r, true).await, ours_old, "old form");
        let r = Raw::connect(o.addr).await;
        assert_eq!(kill_self(r, false).await, ours_new, "new form");
    }
}
