//! MULTI / EXEC / DISCARD / WATCH / UNWATCH.

use crate::support::{self, start};

#[tokio::test]
async fn multi_exec_queues_and_runs_in_order() {
    let s = start().await;
    let mut raw = s.raw().await;
    assert_eq!(raw.call(&[b"MULTI"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"SET", b"a", b"1"]).await, b"+QUEUED\r\n");
    assert_eq!(raw.call(&[b"GET", b"a"]).await, b"+QUEUED\r\n");
    assert_eq!(raw.call(&[b"EXEC"]).await, b"*2\r\n+OK\r\n$1\r\n1\r\n");
    // Runtime errors stay inside the reply array; the rest still runs.
    raw.call(&[b"MULTI"]).await;
    raw.call(&[b"SET", b"a", b"1", b"EX", b"0"]).await;
    raw.call(&[b"SET", b"b", b"2"]).await;
    assert_eq!(
        raw.call(&[b"EXEC"]).await,
        b"*2\r\n-ERR invalid expire time in 'set' command\r\n+OK\r\n".to_vec()
    );
}

#[tokio::test]
async fn queue_time_errors_abort_with_execabort() {
    let s = start().await;
    let mut raw = s.raw().await;
    raw.call(&[b"MULTI"]).await;
    assert!(raw
        .call(&[b"NOSUCH"])
        .await
        .starts_with(b"-ERR unknown command"));
    assert_eq!(
        raw.call(&[b"GET"]).await,
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    raw.call(&[b"SET", b"x", b"1"]).await;
    assert_eq!(
        raw.call(&[b"EXEC"]).await,
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(raw.call(&[b"GET", b"x"]).await, b"$-1\r\n", "nothing ran");
}

#[tokio::test]
async fn watch_detects_writes_from_other_clients_and_expiry() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    a.call(&[b"SET", b"w", b"1"]).await;
    assert_eq!(a.call(&[b"WATCH", b"w"]).await, b"+OK\r\n");
    b.call(&[b"SET", b"w", b"2"]).await;
    a.call(&[b"MULTI"]).await;
    a.call(&[b"SET", b"w", b"3"]).await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*-1\r\n");
    assert_eq!(a.call(&[b"GET", b"w"]).await, b"$1\r\n2\r\n");

    // Unchanged watched key: EXEC runs. WATCH is cleared by EXEC.
    a.call(&[b"WATCH", b"w"]).await;
    a.call(&[b"MULTI"]).await;
    a.call(&[b"SET", b"w", b"4"]).await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*1\r\n+OK\r\n");
    b.call(&[b"SET", b"w", b"5"]).await;
    a.call(&[b"MULTI"]).await;
    a.call(&[b"GET", b"w"]).await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*1\r\n$1\r\n5\r\n");

    // FLUSHALL-style deletion and UNWATCH.
    a.call(&[b"WATCH", b"w"]).await;
    b.call(&[b"DEL", b"w"]).await;
    a.call(&[b"UNWATCH"]).await;
    a.call(&[b"MULTI"]).await;
    a.call(&[b"PING"]).await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*1\r\n+PONG\r\n");

    // A watched key that expires before EXEC breaks the transaction.
    a.call(&[b"SET", b"t", b"1", b"PX", b"100000"]).await;
    a.call(&[b"WATCH", b"t"]).await;
    s.handle.advance_clock(std::time::Duration::from_secs(200));
    a.call(&[b"MULTI"]).await;
    a.call(&[b"PING"]).await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*-1\r\n");
}

#[tokio::test]
async fn discard_reset_and_nesting() {
    let s = start().await;
    let mut raw = s.raw().await;
    raw.call(&[b"MULTI"]).await;
    raw.call(&[b"SET", b"d", b"1"]).await;
    assert_eq!(raw.call(&[b"DISCARD"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b"d"]).await, b"$-1\r\n");
    raw.call(&[b"MULTI"]).await;
    raw.call(&[b"SET", b"d", b"1"]).await;
    assert_eq!(raw.call(&[b"RESET"]).await, b"+RESET\r\n");
    assert_eq!(raw.call(&[b"EXEC"]).await, b"-ERR EXEC without MULTI\r\n");
    assert_eq!(raw.call(&[b"GET", b"d"]).await, b"$-1\r\n");
    let mut c = s.client().await;
    // The redis crate's atomic pipeline: MULTI … EXEC in one write.
    let (v,): (String,) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("n")
        .arg(41)
        .ignore()
        .cmd("GET")
        .arg("n")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "41");
}

#[tokio::test]
async fn differential_transactions() {
    support::diff_lines(&[
        "EXEC",
        "DISCARD",
        "MULTI",
        "MULTI",
        "WATCH x",
        "SET a 1",
        "GET a",
        "EXEC",
        "EXEC",
        "WATCH",
        "WATCH a b c",
        "UNWATCH",
        "UNWATCH x",
        "MULTI",
        "SET a",
        "GET a",
        "EXEC",
        "MULTI",
        "PING",
        "ECHO hi",
        "DISCARD",
        "GET a",
    ])
    .await;
}

/// WATCH as Redis 7.2: a key that expires after WATCH breaks EXEC (by
/// active or lazy expiry), a key already expired at WATCH does not, and
/// FLUSHDB/FLUSHALL/SWAPDB break only WATCHes of keys that existed.
#[tokio::test]
async fn watch_sees_expiry_and_flushes_only_of_existing_keys() {
    for oracle in [
        support::Oracle::start().await,
        support::Oracle::valkey().await,
    ] {
        support::scenario(
            oracle,
            &[
                // Expires between WATCH and EXEC.
                "0 SET k 1 PX 100",
                "0 WATCH k",
                "sleep 300",
                "0 MULTI",
                "0 SET x 1",
                "0 EXEC",
                // Expired (but maybe still present) at WATCH time.
                "0 SET k 1 PX 1",
                "sleep 20",
                "0 WATCH k",
                "0 MULTI",
                "0 SET x 2",
                "0 EXEC",
                // FLUSHDB breaks the WATCH of a key that existed...
                "0 SET w 1",
                "0 WATCH w",
                "1 FLUSHDB",
                "0 MULTI",
                "0 SET x 3",
                "0 EXEC",
                // ...but not of one that did not.
                "0 WATCH nothere",
                "1 FLUSHALL",
                "0 MULTI",
                "0 SET x 4",
                "0 EXEC",
                // SWAPDB: a key that appears in the swapped-in DB counts.
                "1 SELECT 1",
                "1 SET s 1",
                "0 WATCH s",
                "1 SWAPDB 0 1",
                "0 MULTI",
                "0 SET x 5",
                "0 EXEC",
                "0 WATCH gone",
                "1 SWAPDB 0 1",
                "0 MULTI",
                "0 SET x 6",
                "0 EXEC",
            ],
        )
        .await;
    }
}
