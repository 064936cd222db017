//! Integration tests: CLIENT PAUSE / UNPAUSE (Redis 7.2's pause: held
//! commands wait, never fail; expiry and eviction stop meanwhile) and
//! CLIENT NO-TOUCH / NO-EVICT flags. No durations are asserted: each test
//! waits for an observable state (a client counted as blocked, a reply).

use std::time::Duration;

use keyward::config::UserConfig;
use keyward::Config;

use crate::support::{start, start_with, Oracle, Raw, TestServer};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The server's `blocked_clients` as INFO reports it.
async fn blocked(r: &mut Raw) -> usize {
    let info = s(&r.call_str("INFO clients").await);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients")
}

/// Waits until `n` clients are held (blocked_clients, as Redis's tests do).
async fn wait_blocked(r: &mut Raw, n: usize) {
    for _ in 0..500 {
        if blocked(r).await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("blocked_clients never reached {n}");
}

/// Waits until `n` connections are held by the pause, reading the server's
/// state directly (under PAUSE ALL no command of ours would run).
async fn wait_postponed(srv: &TestServer, n: usize) {
    use std::sync::atomic::Ordering;
    for _ in 0..500 {
        let held = srv
            .handle
            .shared()
            .clients
            .snapshot()
            .iter()
            .filter(|c| c.postponed.load(Ordering::Relaxed))
            .count();
        if held == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never {n} postponed clients");
}

#[tokio::test]
async fn client_pause_write_holds_writes_and_lets_reads_through() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut rd = srv.raw().await;
    admin.call_str("SET foo bar").await;
    assert_eq!(
        admin.call_str("CLIENT PAUSE 100000 WRITE").await,
        b"+OK\r\n"
    );
    // Reads, PING, INFO run.
    assert_eq!(rd.call_str("GET foo").await, b"$3\r\nbar\r\n");
    assert_eq!(rd.call_str("PING").await, b"+PONG\r\n");
    assert!(rd.call_str("INFO").await.starts_with(b"$"));
    // Syntax errors answer at once.
    assert!(s(&rd.call_str("SET foo").await).starts_with("-ERR wrong number of arguments"));
    assert_eq!(blocked(&mut admin).await, 0);
    // A write waits, counted as blocked, flagged `b`, and CLIENT UNBLOCK
    // cannot end it.
    let id = s(&rd.call_str("CLIENT ID").await);
    let id = id.trim_start_matches(':').trim().to_string();
    rd.cmd(&[b"SET", b"foo", b"baz"]).await;
    wait_blocked(&mut admin, 1).await;
    let list = s(&admin.call_str("CLIENT LIST").await);
    let line = list
        .lines()
        .find(|l| l.contains(&format!("id={id} ")))
        .expect("listed");
    assert!(line.contains(" flags=b "), "{line}");
    assert_eq!(
        admin.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await,
        b":0\r\n"
    );
    assert_eq!(rd.try_reply(Duration::from_millis(50)).await, None);
    assert_eq!(admin.call_str("GET foo").await, b"$3\r\nbar\r\n");
    assert_eq!(admin.call_str("CLIENT UNPAUSE").await, b"+OK\r\n");
    assert_eq!(rd.reply().await, b"+OK\r\n");
    assert_eq!(admin.call_str("GET foo").await, b"$3\r\nbaz\r\n");
    assert_eq!(blocked(&mut admin).await, 0);
}

#[tokio::test]
async fn client_pause_write_holds_what_may_replicate() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    admin.call_str("PFADD pause-hll test").await;
    admin.call_str("SET FOO BAR").await;
    // A transaction queued before the pause, with a write.
    let mut tx = srv.raw().await;
    assert_eq!(tx.call_str("MULTI").await, b"+OK\r\n");
    assert_eq!(tx.call_str("SET FOO BAR2").await, b"+QUEUED\r\n");
    assert_eq!(
        admin.call_str("CLIENT PAUSE 100000 WRITE").await,
        b"+OK\r\n"
    );
    // Read-only transactions and read-only scripts run.
    let mut ro = srv.raw().await;
    ro.call_str("MULTI").await;
    assert_eq!(ro.call_str("PING").await, b"+QUEUED\r\n");
    assert_eq!(ro.call_str("GET FOO").await, b"+QUEUED\r\n");
    assert_eq!(ro.call_str("EXEC").await, b"*2\r\n+PONG\r\n$3\r\nBAR\r\n");
    assert_eq!(
        ro.call(&[
            b"EVAL_RO",
            b"return redis.call('get', KEYS[1])",
            b"1",
            b"FOO"
        ])
        .await,
        b"$3\r\nBAR\r\n"
    );
    // PFCOUNT, PUBLISH, SCRIPT LOAD, EVAL, EXEC of a write wait.
    let mut held = Vec::new();
    for cmd in [
        &[&b"PFCOUNT"[..], b"pause-hll"][..],
        &[b"PUBLISH", b"foo", b"bar"],
        &[b"SCRIPT", b"LOAD", b"return 1"],
        &[b"EVAL", b"return 1", b"0"],
    ] {
        let mut c = srv.raw().await;
        c.cmd(cmd).await;
        held.push(c);
        wait_blocked(&mut admin, held.len()).await;
    }
    tx.cmd(&[b"EXEC"]).await;
    wait_blocked(&mut admin, held.len() + 1).await;
    assert_eq!(admin.call_str("GET FOO").await, b"$3\r\nBAR\r\n");
    assert_eq!(admin.call_str("CLIENT UNPAUSE").await, b"+OK\r\n");
    let replies: Vec<String> = {
        let mut v = Vec::new();
        for c in &mut held {
            v.push(s(&c.reply().await));
        }
        v
    };
    assert_eq!(replies[0], ":1\r\n");
    assert_eq!(replies[1], ":0\r\n");
    assert!(replies[2].starts_with("$40\r\n"), "{}", replies[2]);
    assert_eq!(replies[3], ":1\r\n");
    assert_eq!(tx.reply().await, b"*1\r\n+OK\r\n");
    assert_eq!(admin.call_str("GET FOO").await, b"$4\r\nBAR2\r\n");
}

/// Under CLIENT PAUSE WRITE a script runs by the flags its shebang (or
/// its function) declares: `no-writes` ones run at once, one that may
/// write waits; the same on keyward and on the Redis 7.2 oracle.
async fn pause_by_script_flags(addr: std::net::SocketAddr) {
    let no_writes = "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])";
    let writes = "#!lua\nreturn redis.call('set', KEYS[1], 'w')";
    let lib = "#!lua name=pl\n\
        redis.register_function{function_name='pl_get', callback=function(k) \
        return redis.call('get', k[1]) end, flags={'no-writes'}}\n\
        redis.register_function('pl_set', function(k) return redis.call('set', k[1], 'f') end)";
    let mut admin = Raw::connect(addr).await;
    admin.call_str("SET k v").await;
    let sha_ro = s(&admin
        .call(&[b"SCRIPT", b"LOAD", no_writes.as_bytes()])
        .await);
    let sha_ro = sha_ro.lines().nth(1).expect("sha").to_string();
    let sha_w = s(&admin.call(&[b"SCRIPT", b"LOAD", writes.as_bytes()]).await);
    let sha_w = sha_w.lines().nth(1).expect("sha").to_string();
    assert_eq!(
        admin
            .call(&[b"FUNCTION", b"LOAD", b"REPLACE", lib.as_bytes()])
            .await,
        b"$2\r\npl\r\n"
    );
    assert_eq!(
        admin.call_str("CLIENT PAUSE 100000 WRITE").await,
        b"+OK\r\n"
    );
    let mut r = Raw::connect(addr).await;
    for (args, want) in [
        (vec!["EVAL", no_writes, "1", "k"], "$1\r\nv\r\n"),
        (vec!["EVALSHA", &sha_ro, "1", "k"], "$1\r\nv\r\n"),
        (vec!["EVAL_RO", no_writes, "1", "k"], "$1\r\nv\r\n"),
        (vec!["FCALL", "pl_get", "1", "k"], "$1\r\nv\r\n"),
        (
            vec![
                "EVAL",
                "#!lua flags=no-writes\nreturn redis.call('set','k','x')",
                "0",
            ],
            "-ERR Write commands are not allowed from read-only scripts. script: \
             5aa977770c3ca38345ccc0a014ee51fb780defc0, on @user_script:2.\r\n",
        ),
    ] {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        assert_eq!(s(&r.call(&argv).await), want, "{args:?}");
    }
    // Those that may write wait, each on its own connection.
    let mut held = Vec::new();
    for args in [
        vec!["EVAL", writes, "1", "k"],
        vec!["EVALSHA", &sha_w, "1", "k"],
        vec!["FCALL", "pl_set", "1", "k"],
    ] {
        let mut c = Raw::connect(addr).await;
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        c.cmd(&argv).await;
        held.push(c);
        wait_blocked(&mut admin, held.len()).await;
    }
    assert_eq!(admin.call_str("GET k").await, b"$1\r\nv\r\n");
    assert_eq!(admin.call_str("CLIENT UNPAUSE").await, b"+OK\r\n");
    for c in &mut held {
        assert_eq!(c.reply().await, b"+OK\r\n");
    }
    assert_eq!(admin.call_str("GET k").await, b"$1\r\nf\r\n");
}

#[tokio::test]
async fn client_pause_write_reads_script_flags() {
    let srv = start().await;
    pause_by_script_flags(srv.addr).await;
    if let Some(oracle) = Oracle::valkey().await {
        pause_by_script_flags(oracle.addr).await;
    }
}

#[tokio::test]
async fn client_pause_all_holds_everything_until_it_ends() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let mut rd = srv.raw().await;
    assert_eq!(admin.call_str("CLIENT PAUSE 1000000 ALL").await, b"+OK\r\n");
    rd.cmd(&[b"PING"]).await;
    wait_postponed(&srv, 1).await;
    // A weaker, shorter pause keeps the stronger, longer one.
    let mut other = srv.raw().await;
    other.cmd(&[b"GET", b"x"]).await;
    wait_postponed(&srv, 2).await;
    // Its end: the server's clock passes it (cron or the waiters notice).
    srv.handle.shared().clock.advance_ms(2_000_000);
    assert_eq!(rd.reply().await, b"+PONG\r\n");
    assert_eq!(other.reply().await, b"$-1\r\n");
    assert_eq!(admin.call_str("PING").await, b"+PONG\r\n");
}

#[tokio::test]
async fn client_pause_keeps_the_stronger_mode_and_the_later_end() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    assert_eq!(
        admin.call_str("CLIENT PAUSE 1000000 WRITE").await,
        b"+OK\r\n"
    );
    // A shorter pause: the longer end stays.
    assert_eq!(admin.call_str("CLIENT PAUSE 10 WRITE").await, b"+OK\r\n");
    srv.handle.shared().clock.advance_ms(1000);
    let mut w = srv.raw().await;
    w.cmd(&[b"SET", b"a", b"1"]).await;
    wait_blocked(&mut admin, 1).await;
    // ALL over WRITE: even reads wait now.
    assert_eq!(admin.call_str("CLIENT PAUSE 10 ALL").await, b"+OK\r\n");
    let mut r = srv.raw().await;
    r.cmd(&[b"GET", b"a"]).await;
    wait_postponed(&srv, 2).await;
    // UNPAUSE is held under ALL too (as in Redis): the clock ends it.
    srv.handle.shared().clock.advance_ms(2_000_000);
    assert_eq!(w.reply().await, b"+OK\r\n");
    assert_eq!(r.reply().await, b"$1\r\n1\r\n");
}

#[tokio::test]
async fn client_pause_starts_after_the_transaction_that_sets_it() {
    let srv = start().await;
    let mut r = srv.raw().await;
    r.call_str("MULTI").await;
    r.call_str("SET FOO1 BAR").await;
    r.call_str("CLIENT PAUSE 100000 WRITE").await;
    r.call_str("SET FOO2 BAR").await;
    assert_eq!(
        r.call_str("EXEC").await,
        b"*3\r\n+OK\r\n+OK\r\n+OK\r\n".to_vec()
    );
    let mut w = srv.raw().await;
    w.cmd(&[b"SET", b"FOO3", b"BAR"]).await;
    wait_blocked(&mut r, 1).await;
    assert_eq!(r.call_str("GET FOO1").await, b"$3\r\nBAR\r\n");
    assert_eq!(r.call_str("GET FOO2").await, b"$3\r\nBAR\r\n");
    assert_eq!(r.call_str("GET FOO3").await, b"$-1\r\n");
    r.call_str("CLIENT UNPAUSE").await;
    assert_eq!(w.reply().await, b"+OK\r\n");
}

fn expired_keys(info: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("expired_keys")
}

#[tokio::test]
async fn client_pause_holds_active_and_lazy_expiry() {
    let srv = start().await;
    let mut r = srv.raw().await;
    let before = expired_keys(&s(&r.call_str("INFO stats").await));
    r.call_str("MULTI").await;
    r.call_str("SET foo bar PX 10").await;
    r.call_str("SET bar foo PX 10").await;
    r.call_str("CLIENT PAUSE 100000000 WRITE").await;
    r.call_str("EXEC").await;
    srv.handle.shared().clock.advance_ms(1000);
    // Logically expired for readers…
    assert_eq!(r.call_str("GET foo").await, b"$-1\r\n");
    assert_eq!(r.call_str("EXISTS bar").await, b":0\r\n");
    // …but nothing was deleted: no expired key, both still counted, also
    // across cron ticks.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(r.call_str("DBSIZE").await, b":2\r\n");
    }
    assert_eq!(expired_keys(&s(&r.call_str("INFO stats").await)), before);
    r.call_str("CLIENT UNPAUSE").await;
    r.call_str("GET foo").await;
    r.call_str("GET bar").await;
    assert_eq!(
        expired_keys(&s(&r.call_str("INFO stats").await)),
        before + 2
    );
}

#[tokio::test]
async fn client_pause_and_unpause_are_refused_to_a_pinned_tenant() {
    let config = Config {
        users: vec![UserConfig {
            name: "worker".into(),
            password_env: None,
            rules: "on >pw db=2 ~* &* +@all".into(),
            words: None,
            password: None,
        }],
        ..Config::default()
    };
    let srv = start_with(config).await;
    let mut w = srv.raw().await;
    assert_eq!(w.call_str("AUTH worker pw").await, b"+OK\r\n");
    for line in [
        "CLIENT PAUSE 100000 WRITE",
        "CLIENT PAUSE 100000",
        "CLIENT UNPAUSE",
    ] {
        let reply = s(&w.call_str(line).await);
        assert!(
            reply.starts_with("-NOPERM User worker is restricted to its databases"),
            "{line}: {reply}"
        );
    }
    // Nothing was paused: another client writes at once.
    let mut other = srv.raw().await;
    assert_eq!(other.call_str("SET k v").await, b"+OK\r\n");
    // NO-TOUCH and NO-EVICT act on the tenant's own connection.
    assert_eq!(w.call_str("CLIENT NO-TOUCH ON").await, b"+OK\r\n");
    assert_eq!(w.call_str("CLIENT NO-EVICT ON").await, b"+OK\r\n");
    let info = s(&w.call_str("CLIENT INFO").await);
    assert!(info.contains(" flags=eT "), "{info}");
}

#[tokio::test]
async fn differential_client_pause_errors() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let srv = start().await;
    let mut a = srv.raw().await;
    let mut b = oracle.raw().await;
    let cmds: Vec<Vec<Vec<u8>>> = [
        "CLIENT PAUSE 10 foo",
        "CLIENT PAUSE abc",
        "CLIENT PAUSE -1",
        "CLIENT PAUSE 10 WRITE x",
        "CLIENT PAUSE 99999999999999999999",
        "CLIENT PAUSE",
        "CLIENT UNPAUSE x",
        "CLIENT PAUSE 0 WRITE",
        "CLIENT UNPAUSE",
        "CLIENT NO-EVICT maybe",
        "CLIENT NO-EVICT on",
        "CLIENT NO-EVICT off",
    ]
    .iter()
    .map(|l| l.split(' ').map(|w| w.as_bytes().to_vec()).collect())
    .collect();
    crate::support::compare(&mut a, &mut b, &cmds).await;
}

#[tokio::test]
async fn client_no_touch_keeps_the_lru_clock_except_for_touch() {
    let srv = start().await;
    let mut r = srv.raw().await;
    r.call_str("SET k v").await;
    srv.handle.shared().clock.advance_ms(10_000);
    let idle = |b: Vec<u8>| s(&b).trim_start_matches(':').trim().parse::<i64>().unwrap();
    assert!(idle(r.call_str("OBJECT IDLETIME k").await) >= 10);
    assert_eq!(r.call_str("CLIENT NO-TOUCH ON").await, b"+OK\r\n");
    assert!(s(&r.call_str("CLIENT INFO").await).contains(" flags=T "));
    r.call_str("GET k").await;
    assert!(idle(r.call_str("OBJECT IDLETIME k").await) >= 10);
    // TOUCH still touches.
    assert_eq!(r.call_str("TOUCH k").await, b":1\r\n");
    assert!(idle(r.call_str("OBJECT IDLETIME k").await) < 10);
    srv.handle.shared().clock.advance_ms(10_000);
    assert_eq!(r.call_str("CLIENT NO-TOUCH OFF").await, b"+OK\r\n");
    r.call_str("GET k").await;
    assert!(idle(r.call_str("OBJECT IDLETIME k").await) < 10);
    assert!(s(&r.call_str("CLIENT NO-TOUCH maybe").await).starts_with("-ERR syntax error"));
}
