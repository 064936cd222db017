//! Tests: clients that go away in the middle of something leave nothing
//! behind. Each test takes a baseline with only its admin connection open,
//! has clients disconnect mid-MULTI, mid-blocking command (BLPOP, BZPOPMIN,
//! XREAD BLOCK, WAIT, a CLIENT PAUSE hold), mid-script (the caller and a
//! client queued behind it), mid-large-reply, while subscribed, while
//! tracking, then polls (generous deadline, no timing assertion) until
//! CLIENT LIST, INFO clients, the blocking-key count, PUBSUB NUMSUB/NUMPAT
//! and the memory accounting (MEMORY STATS `clients.normal`, the DBs'
//! dataset bytes) are back where they were — and checks that no ghost of a
//! gone client still acts (a push to a list a dead BLPOP waited on stays in
//! the list).

use std::time::Duration;

use crate::support::{self, start, start_with, Raw, TestServer};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What must come back after clients leave.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    connected_clients: u64,
    client_list_lines: usize,
    blocked_clients: u64,
    tracking_clients: u64,
    total_blocking_keys: u64,
    tracking_total_prefixes: u64,
    numpat: i64,
    numsub: Vec<(String, i64)>,
    clients_normal: u64,
    dataset_bytes: u64,
    keyspace: Vec<String>,
}

fn field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("INFO has no {name}:\n{info}"))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name} is a number"))
}

/// The integer after `name` in a flat RESP2 array of MEMORY STATS.
fn stat(reply: &str, name: &str) -> u64 {
    let mut lines = reply.split("\r\n");
    while let Some(l) = lines.next() {
        if l == name {
            let v = lines.next().expect("a value follows");
            return v.trim_start_matches(':').parse().expect("an integer stat");
        }
    }
    panic!("MEMORY STATS has no {name}: {reply}")
}

/// RESP2 integers of an array reply (PUBSUB NUMSUB: name, count, ...).
fn numsub(reply: &str) -> Vec<(String, i64)> {
    let parts: Vec<&str> = reply.split("\r\n").collect();
    let mut out = Vec::new();
    let mut i = 1;
    while i + 2 < parts.len() {
        let name = parts[i + 1].to_string();
        let n = parts[i + 2]
            .trim_start_matches(':')
            .parse()
            .expect("a count");
        out.push((name, n));
        i += 3;
    }
    out
}

async fn state(admin: &mut Raw, channels: &[&str]) -> State {
    let info = text(&admin.call(&[b"INFO", b"everything"]).await);
    let list = text(&admin.call(&[b"CLIENT", b"LIST"]).await);
    let mem = text(&admin.call(&[b"MEMORY", b"STATS"]).await);
    let numpat = text(&admin.call(&[b"PUBSUB", b"NUMPAT"]).await);
    let mut args: Vec<&[u8]> = vec![b"PUBSUB", b"NUMSUB"];
    args.extend(channels.iter().map(|c| c.as_bytes()));
    let subs = text(&admin.call(&args).await);
    State {
        connected_clients: field(&info, "connected_clients"),
        client_list_lines: list.lines().filter(|l| l.contains("id=")).count(),
        blocked_clients: field(&info, "blocked_clients"),
        tracking_clients: field(&info, "tracking_clients"),
        total_blocking_keys: field(&info, "total_blocking_keys"),
        tracking_total_prefixes: field(&info, "tracking_total_prefixes"),
        numpat: numpat
            .trim_start_matches(':')
            .trim()
            .parse()
            .expect("NUMPAT integer"),
        numsub: numsub(&subs),
        clients_normal: stat(&mem, "clients.normal"),
        dataset_bytes: stat(&mem, "dataset.bytes"),
        keyspace: info
            .lines()
            .filter(|l| l.starts_with("db"))
            .map(|l| l.split(",expires").next().unwrap_or(l).to_string())
            .collect(),
    }
}

/// Polls until the server is back at `base` (deadline 20 s: a generous
/// bound for a loaded machine, not a timing assertion).
async fn back_to(admin: &mut Raw, base: &State, channels: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = state(admin, channels).await;
        if &now == base {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            assert_eq!(&now, base, "state not back to the baseline after 20 s");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls INFO until `name` reaches `want` (the clients got where the test
/// needs them before they disconnect).
async fn wait_field(admin: &mut Raw, name: &str, want: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let info = text(&admin.call(&[b"INFO", b"everything"]).await);
        if field(&info, name) == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never reached {want}:\n{info}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn admin_of(s: &TestServer) -> Raw {
    let mut a = s.raw().await;
    a.call(&[b"CLIENT", b"SETNAME", b"admin"]).await;
    a
}

#[tokio::test]
async fn disconnect_mid_multi_leaves_nothing() {
    let s = start().await;
    let mut admin = admin_of(&s).await;
    let base = state(&mut admin, &[]).await;
    for db in [b"0", b"3"] {
        let mut c = s.raw().await;
        assert_eq!(c.call(&[b"SELECT", db]).await, b"+OK\r\n");
        assert_eq!(c.call(&[b"WATCH", b"w1", b"w2"]).await, b"+OK\r\n");
        assert_eq!(c.call(&[b"MULTI"]).await, b"+OK\r\n");
        assert_eq!(c.call(&[b"SET", b"k", b"v"]).await, b"+QUEUED\r\n");
        assert_eq!(c.call(&[b"LPUSH", b"l", b"x"]).await, b"+QUEUED\r\n");
        drop(c);
    }
    back_to(&mut admin, &base, &[]).await;
    // Nothing queued ran, and the watched keys' DBs work as before.
    assert_eq!(admin.call(&[b"EXISTS", b"k", b"l"]).await, b":0\r\n");
    assert_eq!(admin.call(&[b"SET", b"w1", b"x"]).await, b"+OK\r\n");
    assert_eq!(admin.call(&[b"DEL", b"w1"]).await, b":1\r\n");
}

#[tokio::test]
async fn disconnect_mid_blocking_commands_leaves_no_waiter() {
    let s = start().await;
    let mut admin = admin_of(&s).await;
    let base = state(&mut admin, &[]).await;
    let mut clients = Vec::new();
    let blocking: [&[&[u8]]; 6] = [
        &[b"BLPOP", b"list", b"0"],
        &[b"BLPOP", b"list", b"other", b"0"],
        &[b"BZPOPMIN", b"zset", b"0"],
        &[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"stream", b"$"],
        &[b"BLMOVE", b"src", b"list", b"LEFT", b"RIGHT", b"0"],
        &[b"WAIT", b"1", b"0"],
    ];
    for cmd in blocking {
        let mut c = s.raw().await;
        c.cmd(cmd).await;
        clients.push(c);
    }
    wait_field(&mut admin, "blocked_clients", 6).await;
    // list, other, zset, stream, src: WAIT blocks on no key.
    wait_field(&mut admin, "total_blocking_keys", 5).await;
    drop(clients);
    back_to(&mut admin, &base, &[]).await;
    // No gone waiter takes what arrives now.
    assert_eq!(admin.call(&[b"LPUSH", b"list", b"a"]).await, b":1\r\n");
    assert_eq!(admin.call(&[b"LPUSH", b"src", b"a"]).await, b":1\r\n");
    assert_eq!(admin.call(&[b"ZADD", b"zset", b"1", b"m"]).await, b":1\r\n");
    assert_eq!(admin.call(&[b"LLEN", b"list"]).await, b":1\r\n");
    assert_eq!(admin.call(&[b"LLEN", b"src"]).await, b":1\r\n");
    assert_eq!(admin.call(&[b"ZCARD", b"zset"]).await, b":1\r\n");
    // And a new waiter is served as usual.
    let mut c = s.raw().await;
    assert_eq!(
        c.call(&[b"BLPOP", b"list", b"0"]).await,
        b"*2\r\n$4\r\nlist\r\n$1\r\na\r\n"
    );
}

/// A client held by CLIENT PAUSE (counted as blocked) that goes away.
#[tokio::test]
async fn disconnect_while_paused_leaves_no_blocked_client() {
    let s = start().await;
    let mut admin = admin_of(&s).await;
    let base = state(&mut admin, &[]).await;
    assert_eq!(
        admin.call(&[b"CLIENT", b"PAUSE", b"60000", b"WRITE"]).await,
        b"+OK\r\n"
    );
    let mut c = s.raw().await;
    c.cmd(&[b"SET", b"k", b"v"]).await;
    wait_field(&mut admin, "blocked_clients", 1).await;
    drop(c);
    back_to(&mut admin, &base, &[]).await;
    assert_eq!(admin.call(&[b"CLIENT", b"UNPAUSE"]).await, b"+OK\r\n");
    // The held SET never runs once its client is gone.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(admin.call(&[b"EXISTS", b"k"]).await, b":0\r\n");
}

/// The script's caller and a client queued behind the script both go
/// away while it runs; the script is killed, everyone's state goes. The
/// script holds its worker thread, so the admin needs another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_script_caller_and_queued_client() {
    let config = keyward::Config {
        busy_reply_threshold: 200,
        ..keyward::Config::default()
    };
    let s = start_with(config).await;
    let mut admin = admin_of(&s).await;
    let base = state(&mut admin, &[]).await;
    let mut caller = s.raw().await;
    caller
        .cmd(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"])
        .await;
    let mut queued = s.raw().await;
    // Until the busy threshold a command waits behind the script.
    queued.cmd(&[b"SET", b"k", b"v"]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(caller);
    drop(queued);
    // The admin gets -BUSY until the script is killed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = admin.call(&[b"SCRIPT", b"KILL"]).await;
        if r == b"+OK\r\n" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SCRIPT KILL never succeeded: {}",
            text(&r)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The kill takes effect at the script's next hook call.
    while admin.call(&[b"PING"]).await != b"+PONG\r\n" {
        assert!(tokio::time::Instant::now() < deadline, "script never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // On a loaded machine the SET may have run before the script started;
    // what this test is about is the clients' state, not that key.
    admin.call(&[b"DEL", b"k"]).await;
    back_to(&mut admin, &base, &[]).await;
    assert_eq!(admin.call(&[b"PING"]).await, b"+PONG\r\n");
}

/// A script that ends on its own after its caller left: its writes stay,
/// the reply goes nowhere, nothing of the caller remains.
#[tokio::test]
async fn disconnect_mid_script_that_completes() {
    let s = start().await;
    let mut admin = admin_of(&s).await;
    let base = state(&mut admin, &[]).await;
    let mut caller = s.raw().await;
    let script = b"for i = 1, 3000000 do end redis.call('SET', KEYS[1], 'done') return 1";
    caller.cmd(&[b"EVAL", script, b"1", b"sk"]).await;
    let mut queued = s.raw().await;
    queued.cmd(&[b"INCR", b"counter"]).await;
    drop(caller);
    drop(queued);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while admin.call(&[b"GET", b"sk"]).await != b"$4\r\ndone\r\n" {
        assert!(tokio::time::Instant::now() < deadline, "script never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(admin.call(&[b"DEL", b"sk", b"counter"]).await.len(), 4);
    back_to(&mut admin, &base, &[]).await;
}

/// A client asks for a 50 MB reply and closes without reading it; another
/// stays connected without reading for a while, then closes.
#[tokio::test]
async fn disconnect_mid_large_reply_frees_the_output() {
    let s = start().await;
    let mut admin = admin_of(&s).await;
    let size = 50 * 1024 * 1024;
    let last = (size - 1).to_string();
    assert_eq!(
        admin
            .call(&[b"SETRANGE", b"big", last.as_bytes(), b"x"])
            .await,
        format!(":{size}\r\n").into_bytes()
    );
    let base = state(&mut admin, &[]).await;
    let mut gone = s.raw().await;
    gone.cmd(&[b"GET", b"big"]).await;
    drop(gone);
    let mut stalled = s.raw().await;
    let mut pipeline = Vec::new();
    for _ in 0..4 {
        pipeline.extend_from_slice(&support::encode(&[b"GET", b"big"]));
    }
    stalled.send(&pipeline).await;
    // Its replies pile up in the server's output (omem or the socket).
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stalled);
    back_to(&mut admin, &base, &[]).await;
    let mut reader = s.raw().await;
    let got = reader.call(&[b"STRLEN", b"big"]).await;
    assert_eq!(got, format!(":{size}\r\n").into_bytes());
}

#[tokio::test]
async fn disconnect_mid_subscribe_drops_subscriptions() {
    let s = start().await;
    let mut admin = admin_of(&s).await;
    let channels = ["news", "alerts", "s1"];
    let base = state(&mut admin, &channels).await;
    let mut subs = Vec::new();
    for _ in 0..3 {
        let mut c = s.raw().await;
        c.cmd(&[b"SUBSCRIBE", b"news", b"alerts"]).await;
        c.reply().await;
        c.reply().await;
        c.cmd(&[b"PSUBSCRIBE", b"news.*", b"a*"]).await;
        c.reply().await;
        c.reply().await;
        c.cmd(&[b"SSUBSCRIBE", b"s1"]).await;
        c.reply().await;
        subs.push(c);
    }
    // A RESP3 client mixes subscriptions and commands.
    let mut r3 = s.raw().await;
    r3.call(&[b"HELLO", b"3"]).await;
    r3.cmd(&[b"SUBSCRIBE", b"news"]).await;
    r3.reply().await;
    assert_eq!(r3.call(&[b"SET", b"x", b"1"]).await, b"+OK\r\n");
    subs.push(r3);
    assert_eq!(
        admin.call(&[b"PUBSUB", b"NUMSUB", b"news"]).await,
        b"*2\r\n$4\r\nnews\r\n:4\r\n"
    );
    // Unique patterns, as Redis counts them.
    assert_eq!(admin.call(&[b"PUBSUB", b"NUMPAT"]).await, b":2\r\n");
    // Messages are queued for them as they go.
    assert_eq!(admin.call(&[b"PUBLISH", b"news", b"m"]).await.len(), 4);
    drop(subs);
    assert_eq!(admin.call(&[b"DEL", b"x"]).await, b":1\r\n");
    back_to(&mut admin, &base, &channels).await;
    assert_eq!(admin.call(&[b"PUBLISH", b"news", b"m"]).await, b":0\r\n");
    assert_eq!(admin.call(&[b"SPUBLISH", b"s1", b"m"]).await, b":0\r\n");
}

#[tokio::test]
async fn disconnect_mid_tracking_drops_the_tracking_state() {
    let s = start().await;
    let mut admin = admin_of(&s).await;
    for k in [&b"t1"[..], b"t2", b"p:1"] {
        assert_eq!(admin.call(&[b"SET", k, b"v"]).await, b"+OK\r\n");
    }
    let channels = ["__redis__:invalidate"];
    let base = state(&mut admin, &channels).await;
    // Default mode, RESP3: remembers the keys it reads.
    let mut plain = s.raw().await;
    plain.call(&[b"HELLO", b"3"]).await;
    assert_eq!(
        plain.call(&[b"CLIENT", b"TRACKING", b"ON"]).await,
        b"+OK\r\n"
    );
    plain.call(&[b"GET", b"t1"]).await;
    plain.call(&[b"GET", b"t2"]).await;
    // Broadcasting with prefixes.
    let mut bcast = s.raw().await;
    bcast.call(&[b"HELLO", b"3"]).await;
    assert_eq!(
        bcast
            .call(&[b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"PREFIX", b"p:"])
            .await,
        b"+OK\r\n"
    );
    // Redirected to a RESP2 subscriber that goes away as well.
    let mut target = s.raw().await;
    let id = text(&target.call(&[b"CLIENT", b"ID"]).await);
    let id = id.trim_start_matches(':').trim().to_string();
    target.cmd(&[b"SUBSCRIBE", b"__redis__:invalidate"]).await;
    target.reply().await;
    let mut redirected = s.raw().await;
    assert_eq!(
        redirected
            .call(&[b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", id.as_bytes()])
            .await,
        b"+OK\r\n"
    );
    redirected.call(&[b"GET", b"t1"]).await;
    wait_field(&mut admin, "tracking_clients", 3).await;
    drop((plain, bcast, target, redirected));
    // The keys they read are invalidated now, for nobody.
    for k in [&b"t1"[..], b"t2", b"p:1"] {
        assert_eq!(admin.call(&[b"SET", k, b"v"]).await, b"+OK\r\n");
    }
    back_to(&mut admin, &base, &channels).await;
    let info = text(&admin.call(&[b"INFO", b"stats"]).await);
    assert_eq!(field(&info, "tracking_total_keys"), 0, "{info}");
}

/// Many clients at once, each in the middle of something different, with
/// a pinned user among them: the per-DB client counts come back too.
#[tokio::test]
async fn many_clients_leaving_together_restore_every_count() {
    let mut config = keyward::Config::default();
    for i in [0, 4, 7] {
        let mut db = keyward::config::DbConfig::new(i);
        db.name = format!("t{i}");
        db.max_clients = 100;
        config.dbs.push(db);
    }
    let s = start_with(config).await;
    let mut admin = admin_of(&s).await;
    assert_eq!(
        admin
            .call(&[b"ACL", b"SETUSER", b"t", b"on", b">pw", b"db=4", b"~*", b"&*", b"+@all"])
            .await,
        b"+OK\r\n"
    );
    let base = state(&mut admin, &["c"]).await;
    let tenancy_before = text(&admin.call(&[b"INFO", b"tenancy"]).await);
    assert!(tenancy_before.contains("clients=1"), "{tenancy_before}");
    let mut all = Vec::new();
    for i in 0..40u32 {
        let mut c = s.raw().await;
        match i % 5 {
            0 => {
                assert_eq!(c.call(&[b"AUTH", b"t", b"pw"]).await, b"+OK\r\n");
                c.cmd(&[b"BLPOP", b"q", b"0"]).await;
            }
            1 => {
                c.call(&[b"MULTI"]).await;
                c.call(&[b"INCR", b"n"]).await;
            }
            2 => {
                c.cmd(&[b"SUBSCRIBE", b"c"]).await;
                c.reply().await;
            }
            3 => {
                c.call(&[b"SELECT", b"7"]).await;
                c.cmd(&[b"BZPOPMAX", b"z", b"0"]).await;
            }
            _ => {
                c.call(&[b"CLIENT", b"TRACKING", b"ON"]).await;
                c.call(&[b"GET", b"n"]).await;
            }
        }
        all.push(c);
    }
    wait_field(&mut admin, "blocked_clients", 16).await;
    let tenancy_during = text(&admin.call(&[b"INFO", b"tenancy"]).await);
    assert!(
        tenancy_during.contains("name=t4,") && tenancy_during.contains("clients=8"),
        "{tenancy_during}"
    );
    drop(all);
    back_to(&mut admin, &base, &["c"]).await;
    let tenancy_after = text(&admin.call(&[b"INFO", b"tenancy"]).await);
    assert_eq!(tenancy_after, tenancy_before);
}
