//! Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP — one mechanism (keyspace::blocking): FIFO per key,
//! served by the writer, timeouts, disconnects, CLIENT UNBLOCK, MULTI.

use std::time::{Duration, Instant};

use crate::support::{self, start, Raw};

async fn client_id(r: &mut Raw) -> String {
    let id = r.call(&[b"CLIENT", b"ID"]).await;
    String::from_utf8_lossy(&id[1..id.len() - 2]).to_string()
}

/// Waits until INFO reports `n` blocked clients.
async fn until_blocked(r: &mut Raw, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    for _ in 0..500 {
        let info = r.call(&[b"INFO", b"clients"]).await;
        if String::from_utf8_lossy(&info).contains(&want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never saw {want}");
}

#[tokio::test]
async fn blpop_serves_at_once_or_when_pushed() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut w = s.raw().await;
    a.call(&[b"RPUSH", b"q", b"x"]).await;
    assert_eq!(
        w.call(&[b"BLPOP", b"q", b"0"]).await,
        b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    );
    // Nothing there: block, then a push on the second key wakes it.
    w.cmd(&[b"BLPOP", b"q", b"q2", b"0"]).await;
    until_blocked(&mut a, 1).await;
    assert_eq!(a.call(&[b"LPUSH", b"q2", b"y"]).await, b":1\r\n");
    assert_eq!(w.reply().await, b"*2\r\n$2\r\nq2\r\n$1\r\ny\r\n");
    assert_eq!(
        a.call(&[b"EXISTS", b"q2"]).await,
        b":0\r\n",
        "served element was popped"
    );
    // BRPOP takes from the tail.
    a.call(&[b"RPUSH", b"r", b"1", b"2"]).await;
    assert_eq!(
        w.call(&[b"BRPOP", b"r", b"1"]).await,
        b"*2\r\n$1\r\nr\r\n$1\r\n2\r\n"
    );
}

#[tokio::test]
async fn fifo_among_many_waiters_and_exactly_once() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut waiters = Vec::new();
    for _ in 0..20 {
        let mut w = s.raw().await;
        w.cmd(&[b"BLPOP", b"jobs", b"0"]).await;
        waiters.push(w);
        // Arrival order is the order BLPOP reached the server.
        until_blocked(&mut a, waiters.len()).await;
    }
    let mut push = vec![&b"RPUSH"[..], b"jobs"];
    let items: Vec<String> = (0..20).map(|i| format!("j{i}")).collect();
    push.extend(items.iter().map(|s| s.as_bytes()));
    assert_eq!(a.call(&push).await, b":20\r\n");
    for (i, w) in waiters.iter_mut().enumerate() {
        let want = format!("*2\r\n$4\r\njobs\r\n${}\r\nj{i}\r\n", format!("j{i}").len());
        assert_eq!(w.reply().await, want.as_bytes(), "waiter {i}");
    }
    assert_eq!(a.call(&[b"LLEN", b"jobs"]).await, b":0\r\n");
}

#[tokio::test]
async fn timeouts_and_their_errors() {
    let s = start().await;
    let mut w = s.raw().await;
    let t = Instant::now();
    assert_eq!(w.call(&[b"BLPOP", b"none", b"0.1"]).await, b"*-1\r\n");
    assert!(t.elapsed() >= Duration::from_millis(90));
    assert_eq!(
        w.call(&[b"BLMOVE", b"none", b"d", b"LEFT", b"RIGHT", b"0.05"])
            .await,
        b"$-1\r\n"
    );
    assert_eq!(w.call(&[b"BZPOPMIN", b"none", b"0.05"]).await, b"*-1\r\n");
    w.call(&[b"HELLO", b"3"]).await;
    assert_eq!(w.call(&[b"BLPOP", b"none", b"0.05"]).await, b"_\r\n");
    support::diff_lines(&[
        "BLPOP k -1",
        "BLPOP k abc",
        "BLPOP k 0.01",
        "BRPOP k inf",
        "BLMPOP 0.01 0 k LEFT",
        "BLMPOP 0.01 1 k MIDDLE",
        "BLMPOP 0.01 1 k LEFT COUNT 0",
        "BZMPOP 0.01 1 k MIN COUNT -1",
        "BLMOVE a b UP DOWN 0",
        "SET str x",
        "BLPOP str 0",
        "BZPOPMAX str 0",
        "RPUSH l a b c",
        "BLMPOP 0 2 nokey l RIGHT COUNT 2",
        "BRPOPLPUSH l l2 0",
        "LRANGE l2 0 -1",
        "ZADD z 1 a 2 b",
        "BZPOPMAX z 0",
        "BZMPOP 0 1 z MIN COUNT 5",
    ])
    .await;
}

#[tokio::test]
async fn wakeups_race_timeouts_without_loss() {
    let s = start().await;
    let mut a = s.raw().await;
    // Each waiter times out after 20 ms while pushes arrive around then:
    // every pushed element is either delivered to exactly one waiter or
    // still in the list.
    let mut waiters = Vec::new();
    for _ in 0..30 {
        let mut w = s.raw().await;
        w.cmd(&[b"BLPOP", b"race", b"0.02"]).await;
        waiters.push(w);
    }
    tokio::time::sleep(Duration::from_millis(15)).await;
    for i in 0..30 {
        a.call(&[b"RPUSH", b"race", format!("e{i}").as_bytes()])
            .await;
    }
    let mut delivered = 0;
    for w in &mut waiters {
        let r = w.reply().await;
        if r != b"*-1\r\n" {
            assert!(
                r.starts_with(b"*2\r\n$4\r\nrace\r\n"),
                "{}",
                String::from_utf8_lossy(&r)
            );
            delivered += 1;
        }
    }
    let left = a.call(&[b"LLEN", b"race"]).await;
    let left: usize = String::from_utf8_lossy(&left[1..left.len() - 2])
        .parse()
        .unwrap();
    assert_eq!(delivered + left, 30);
}

#[tokio::test]
async fn disconnect_leaves_the_queue_and_unblock_works() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut gone = s.raw().await;
    gone.cmd(&[b"BLPOP", b"k", b"0"]).await;
    until_blocked(&mut a, 1).await;
    drop(gone);
    until_blocked(&mut a, 0).await;
    // The element is not lost to the departed client.
    a.call(&[b"RPUSH", b"k", b"v"]).await;
    assert_eq!(a.call(&[b"LLEN", b"k"]).await, b":1\r\n");

    let mut w = s.raw().await;
    let id = client_id(&mut w).await;
    w.cmd(&[b"BRPOP", b"empty", b"0"]).await;
    until_blocked(&mut a, 1).await;
    let list = String::from_utf8_lossy(&a.call(&[b"CLIENT", b"LIST"]).await).to_string();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains(" flags=b "),
        "{list}"
    );
    assert_eq!(
        a.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await,
        b":1\r\n"
    );
    assert_eq!(w.reply().await, b"*-1\r\n");
    w.cmd(&[b"BRPOP", b"empty", b"0"]).await;
    until_blocked(&mut a, 1).await;
    assert_eq!(
        a.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes(), b"ERROR"])
            .await,
        b":1\r\n"
    );
    assert_eq!(
        w.reply().await,
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(
        a.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await,
        b":0\r\n"
    );
}

#[tokio::test]
async fn blocked_client_blocks_nobody_else_and_keeps_its_pipeline() {
    let s = start().await;
    let mut w = s.raw().await;
    // BLPOP then PING in one write: PING waits for the pop, in order.
    let mut batch = support::encode(&[b"BLPOP", b"p", b"0"]);
    batch.extend(support::encode(&[b"PING"]));
    w.send(&batch).await;
    let mut a = s.raw().await;
    until_blocked(&mut a, 1).await;
    // Same DB, other clients: served normally while w is blocked.
    assert_eq!(a.call(&[b"SET", b"x", b"1"]).await, b"+OK\r\n");
    assert_eq!(a.call(&[b"GET", b"x"]).await, b"$1\r\n1\r\n");
    a.call(&[b"LPUSH", b"p", b"v"]).await;
    assert_eq!(w.reply().await, b"*2\r\n$1\r\np\r\n$1\r\nv\r\n");
    assert_eq!(w.reply().await, b"+PONG\r\n");
}

#[tokio::test]
async fn moves_zsets_multi_and_transactions_wake_waiters() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut w = s.raw().await;
    // BLMOVE: the element lands in the destination, atomically.
    w.cmd(&[b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0"])
        .await;
    until_blocked(&mut a, 1).await;
    a.call(&[b"RPUSH", b"src", b"m"]).await;
    assert_eq!(w.reply().await, b"$1\r\nm\r\n");
    assert_eq!(
        a.call(&[b"LRANGE", b"dst", b"0", b"-1"]).await,
        b"*1\r\n$1\r\nm\r\n"
    );
    // BZPOPMIN woken by ZADD.
    w.cmd(&[b"BZPOPMIN", b"z", b"0"]).await;
    until_blocked(&mut a, 1).await;
    a.call(&[b"ZADD", b"z", b"2", b"b", b"1", b"a"]).await;
    assert_eq!(w.reply().await, b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n");
    // Served after EXEC, not in the middle of it.
    w.cmd(&[b"BLPOP", b"t", b"0"]).await;
    until_blocked(&mut a, 1).await;
    a.call(&[b"MULTI"]).await;
    a.call(&[b"RPUSH", b"t", b"1"]).await;
    a.call(&[b"LPOP", b"t"]).await;
    a.call(&[b"RPUSH", b"t", b"2"]).await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*3\r\n:1\r\n$1\r\n1\r\n:1\r\n");
    assert_eq!(w.reply().await, b"*2\r\n$1\r\nt\r\n$1\r\n2\r\n");
    // Inside MULTI a blocking pop answers at once.
    a.call(&[b"MULTI"]).await;
    a.call(&[b"BLPOP", b"nothing", b"0"]).await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*1\r\n*-1\r\n");
    // RENAME onto a watched key wakes the waiter.
    w.cmd(&[b"BLPOP", b"target", b"0"]).await;
    until_blocked(&mut a, 1).await;
    a.call(&[b"RPUSH", b"tmp", b"r"]).await;
    a.call(&[b"RENAME", b"tmp", b"target"]).await;
    assert_eq!(w.reply().await, b"*2\r\n$6\r\ntarget\r\n$1\r\nr\r\n");
}

#[tokio::test]
async fn xread_and_xreadgroup_block_until_xadd() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut w = s.raw().await;
    // BullMQ's QueueEvents: XREAD BLOCK … STREAMS key $.
    a.call(&[b"XADD", b"ev", b"1-1", b"old", b"x"]).await;
    w.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"ev", b"$"])
        .await;
    until_blocked(&mut a, 1).await;
    a.call(&[b"XADD", b"ev", b"2-1", b"f", b"v"]).await;
    assert_eq!(
        w.reply().await,
        b"*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n".to_vec()
    );
    let t = Instant::now();
    assert_eq!(
        w.call(&[b"XREAD", b"BLOCK", b"50", b"STREAMS", b"ev", b"$"])
            .await,
        b"*-1\r\n"
    );
    assert!(t.elapsed() >= Duration::from_millis(45));
    // A consumer group reader blocks on `>` and gets the new entry pending.
    a.call(&[b"XGROUP", b"CREATE", b"ev", b"g", b"$"]).await;
    w.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"c1",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"ev",
        b">",
    ])
    .await;
    until_blocked(&mut a, 1).await;
    a.call(&[b"XADD", b"ev", b"3-1", b"job", b"7"]).await;
    assert_eq!(
        w.reply().await,
        b"*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$3\r\n3-1\r\n*2\r\n$3\r\njob\r\n$1\r\n7\r\n".to_vec()
    );
    let pending = a.call(&[b"XPENDING", b"ev", b"g"]).await;
    assert!(
        pending.starts_with(b"*4\r\n:1\r\n$3\r\n3-1\r\n"),
        "{}",
        String::from_utf8_lossy(&pending)
    );
    // Inside MULTI it answers at once.
    a.call(&[b"MULTI"]).await;
    a.call(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"ev", b"$"])
        .await;
    assert_eq!(a.call(&[b"EXEC"]).await, b"*1\r\n*-1\r\n");
}
