//! CLIENT TRACKING (client-side caching): RESP3 pushes, RESP2 redirection,
//! BCAST prefixes, OPTIN/OPTOUT, NOLOOP, flushes, expiry, and keyward's
//! tenancy rule (the table is keyed by DB and key; a tenant hears only its
//! own DBs). "Nothing arrived" is checked with a sentinel: a later
//! invalidation from the same writer must be the next message.

use crate::support::{compare, start, start_with, Oracle, Raw};

fn inv(keys: &[&str]) -> Vec<u8> {
    let mut m = b">2\r\n$10\r\ninvalidate\r\n".to_vec();
    m.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
    for k in keys {
        m.extend_from_slice(format!("${}\r\n{k}\r\n", k.len()).as_bytes());
    }
    m
}

fn msg2(keys: Option<&[&str]>) -> Vec<u8> {
    let mut m = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n".to_vec();
    match keys {
        None => m.extend_from_slice(b"$-1\r\n"),
        Some(keys) => {
            m.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for k in keys {
                m.extend_from_slice(format!("${}\r\n{k}\r\n", k.len()).as_bytes());
            }
        }
    }
    m
}

const NULL_INV: &[u8] = b">2\r\n$10\r\ninvalidate\r\n_\r\n";

async fn resp3(c: &mut Raw) {
    let hello = c.call(&[b"HELLO", b"3"]).await;
    assert!(
        hello.starts_with(b"%"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn resp3_push_on_write_by_another_client() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    resp3(&mut c).await;
    assert_eq!(c.call_str("CLIENT TRACKING on").await, b"+OK\r\n");
    assert_eq!(c.call_str("GET foo").await, b"_\r\n");
    assert_eq!(w.call_str("SET foo 1").await, b"+OK\r\n");
    assert_eq!(s(&c.reply().await), s(&inv(&["foo"])));
    // Invalidated once: no longer tracked until read again.
    w.call_str("SET foo 2").await;
    c.call_str("GET bar").await;
    w.call_str("SET bar 1").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["bar"])));
    // A key never read is never sent; DEL of several keys sends each.
    w.call_str("MSET x 1 y 1").await;
    c.call_str("MGET x y").await;
    w.call_str("SET z 1").await;
    w.call_str("DEL x y").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["x"])));
    assert_eq!(s(&c.reply().await), s(&inv(&["y"])));
}

#[tokio::test]
async fn own_write_invalidates_after_the_reply() {
    let srv = start().await;
    let mut c = srv.raw().await;
    resp3(&mut c).await;
    c.call_str("CLIENT TRACKING on").await;
    c.call_str("GET k").await;
    // Pipelined: the push follows SET's reply and precedes GET's.
    c.send(b"SET k v\r\nGET k\r\n").await;
    assert_eq!(c.reply().await, b"+OK\r\n");
    assert_eq!(s(&c.reply().await), s(&inv(&["k"])));
    assert_eq!(c.reply().await, b"$1\r\nv\r\n");
    // Inside MULTI: after EXEC's reply.
    c.call_str("MULTI").await;
    c.call_str("INCR n").await;
    c.call_str("GET n").await;
    c.call_str("SET k w").await;
    assert_eq!(c.call_str("EXEC").await, b"*3\r\n:1\r\n$1\r\n1\r\n+OK\r\n");
    assert_eq!(s(&c.reply().await), s(&inv(&["k"])));
    // n was read after its write in the transaction: still tracked.
    c.call_str("INCR n").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["n"])));
}

#[tokio::test]
async fn noloop_hides_own_writes() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    resp3(&mut c).await;
    c.call_str("CLIENT TRACKING on NOLOOP").await;
    c.call_str("GET a").await;
    c.call_str("GET b").await;
    assert_eq!(c.call_str("SET a 1").await, b"+OK\r\n");
    w.call_str("SET b 1").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["b"])));
    // a was dropped from the table by the own write, silently.
    w.call_str("SET a 2").await;
    c.call_str("GET b").await;
    w.call_str("SET b 2").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["b"])));
}

#[tokio::test]
async fn optin_and_optout_follow_client_caching() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    resp3(&mut c).await;
    c.call_str("CLIENT TRACKING on OPTIN").await;
    c.call_str("GET a").await;
    assert_eq!(c.call_str("CLIENT CACHING yes").await, b"+OK\r\n");
    c.call_str("GET b").await;
    // CACHING covered one command only.
    c.call_str("GET c").await;
    w.call_str("MSET a 1 c 1 b 1").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["b"])));
    assert_eq!(
        c.call_str("CLIENT CACHING no").await,
        b"-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    c.call_str("CLIENT TRACKING off").await;
    c.call_str("CLIENT TRACKING on OPTOUT").await;
    c.call_str("CLIENT CACHING no").await;
    c.call_str("GET a").await;
    c.call_str("GET c").await;
    w.call_str("MSET a 2 c 2").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["c"])));
}

#[tokio::test]
async fn bcast_prefixes() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    resp3(&mut c).await;
    assert_eq!(
        c.call_str("CLIENT TRACKING on BCAST PREFIX user: PREFIX job:")
            .await,
        b"+OK\r\n"
    );
    w.call_str("SET other 1").await;
    w.call_str("MSET user:2 x user:1 y").await;
    // Sorted, one message per prefix.
    assert_eq!(s(&c.reply().await), s(&inv(&["user:1", "user:2"])));
    w.call_str("SET job:1 x").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["job:1"])));
    let info = c.call_str("CLIENT TRACKINGINFO").await;
    assert_eq!(
        s(&info),
        "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n$4\r\njob:\r\n$5\r\nuser:\r\n"
    );
    let list = s(&w.call_str("CLIENT LIST").await);
    assert!(list.contains("flags=tB "), "{list}");
    let stats = s(&w.call_str("INFO").await);
    assert!(stats.contains("tracking_clients:1\r\n"), "{stats}");
    assert!(stats.contains("tracking_total_prefixes:2\r\n"), "{stats}");
}

#[tokio::test]
async fn flush_sends_null() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    resp3(&mut c).await;
    c.call_str("CLIENT TRACKING on").await;
    c.call_str("GET a").await;
    w.call_str("FLUSHDB").await;
    assert_eq!(c.reply().await, NULL_INV);
    w.call_str("FLUSHALL").await;
    assert_eq!(c.reply().await, NULL_INV);
    // Own flush: after the reply.
    assert_eq!(c.call_str("FLUSHALL").await, b"+OK\r\n");
    assert_eq!(c.reply().await, NULL_INV);
}

#[tokio::test]
async fn expiry_invalidates() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    resp3(&mut c).await;
    w.call_str("SET lazy v PX 1000").await;
    c.call_str("CLIENT TRACKING on").await;
    assert_eq!(c.call_str("GET lazy").await, b"$1\r\nv\r\n");
    srv.handle.advance_clock(std::time::Duration::from_secs(5));
    // Another client's read expires it: the DEL invalidates.
    assert_eq!(w.call_str("GET lazy").await, b"$-1\r\n");
    assert_eq!(s(&c.reply().await), s(&inv(&["lazy"])));
    // Active expiry (cron) too.
    w.call_str("SET active v PX 1000").await;
    c.call_str("GET active").await;
    srv.handle.advance_clock(std::time::Duration::from_secs(5));
    assert_eq!(s(&c.reply().await), s(&inv(&["active"])));
}

#[tokio::test]
async fn databases_are_isolated() {
    let srv = start().await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    resp3(&mut c).await;
    c.call_str("CLIENT TRACKING on").await;
    c.call_str("GET foo").await;
    w.call_str("SELECT 3").await;
    // Same name, another DB: not the key c read.
    w.call_str("SET foo 1").await;
    w.call_str("SELECT 0").await;
    w.call_str("SET foo 2").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["foo"])));
    // MOVE changes the key in both DBs.
    c.call_str("SELECT 3").await;
    c.call_str("GET foo").await;
    w.call_str("MOVE foo 3").await;
    w.call_str("SELECT 3").await;
    w.call_str("DEL foo").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["foo"])));
}

#[tokio::test]
async fn pinned_users_hear_only_their_databases() {
    let mut config = keyward::Config::default();
    config.users.push(keyward::config::UserConfig {
        name: "t1".into(),
        password_env: None,
        rules: "on >pw db=1 ~* &* +@all".into(),
        password: Some("pw".into()),
        words: None,
    });
    let srv = start_with(config).await;
    let mut c = srv.raw().await;
    let mut w = srv.raw().await;
    c.call_str("HELLO 3 AUTH t1 pw").await;
    assert_eq!(c.call_str("CLIENT TRACKING on BCAST").await, b"+OK\r\n");
    w.call_str("SELECT 2").await;
    w.call_str("SET secret 1").await;
    // A flush of another tenant's DB is not announced either.
    w.call_str("FLUSHDB").await;
    w.call_str("SELECT 1").await;
    w.call_str("SET mine 1").await;
    assert_eq!(s(&c.reply().await), s(&inv(&["mine"])));
    // An unpinned BCAST client hears every DB, as in Redis.
    let mut u = srv.raw().await;
    resp3(&mut u).await;
    u.call_str("CLIENT TRACKING on BCAST").await;
    w.call_str("SELECT 2").await;
    w.call_str("SET secret 2").await;
    assert_eq!(s(&u.reply().await), s(&inv(&["secret"])));
    // A pinned user may not redirect to a client that is not its own.
    let id = s(&u.call_str("CLIENT ID").await);
    let id = id.trim_start_matches(':').trim();
    c.call_str("CLIENT TRACKING off").await;
    assert_eq!(
        c.call(&[b"CLIENT", b"TRACKING", b"on", b"REDIRECT", id.as_bytes()])
            .await,
        b"-ERR The client ID you want redirect to does not exist\r\n"
    );
}

#[tokio::test]
async fn table_max_keys_evicts() {
    let srv = start().await;
    let mut c = srv.raw().await;
    resp3(&mut c).await;
    assert_eq!(
        c.call_str("CONFIG SET tracking-table-max-keys 1").await,
        b"+OK\r\n"
    );
    c.call_str("CLIENT TRACKING on").await;
    c.call_str("GET a").await;
    c.call_str("GET b").await;
    // Over the limit: the next command drops a key first, with its push.
    c.send(b"PING\r\n").await;
    let push = s(&c.reply().await);
    assert!(push == s(&inv(&["a"])) || push == s(&inv(&["b"])), "{push}");
    assert_eq!(c.reply().await, b"+PONG\r\n");
    let info = s(&c.call_str("INFO stats").await);
    assert!(info.contains("tracking_total_keys:1\r\n"), "{info}");
}

/// RESP2 with REDIRECT to a subscriber, the broken redirect, and the
/// replies and errors of the CLIENT subcommands: byte for byte against
/// redis-server.
#[tokio::test]
async fn differential_against_redis() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let srv = start().await;
    for (addr, name) in [(srv.addr, "keyward"), (oracle.addr, "redis")] {
        let mut r = Raw::connect(addr).await;
        let mut c = Raw::connect(addr).await;
        let mut w = Raw::connect(addr).await;
        w.call_str("FLUSHALL").await;
        let id = s(&r.call_str("CLIENT ID").await);
        let id = id.trim_start_matches(':').trim().to_string();
        r.call_str("SUBSCRIBE __redis__:invalidate").await;
        let on = format!("CLIENT TRACKING on REDIRECT {id}");
        assert_eq!(c.call_str(&on).await, b"+OK\r\n", "{name}");
        assert_eq!(
            s(&c.call_str("CLIENT GETREDIR").await),
            format!(":{id}\r\n")
        );
        c.call_str("GET a").await;
        w.call_str("INCR a").await;
        assert_eq!(s(&r.reply().await), s(&msg2(Some(&["a"]))), "{name}");
        w.call_str("FLUSHALL").await;
        assert_eq!(s(&r.reply().await), s(&msg2(None)), "{name}");
        let list = s(&w.call_str("CLIENT LIST").await);
        assert!(
            list.contains(&format!("flags=t redir={id}")) || list.contains(&format!("redir={id} ")),
            "{name}: {list}"
        );
        // The redirect target goes away: RESP3 hears of it at the next
        // invalidation, and the flag shows.
        drop(r);
        let mut b = Raw::connect(addr).await;
        resp3(&mut b).await;
        let id = s(&w.call_str("CLIENT ID").await);
        let id = id.trim_start_matches(':').trim().to_string();
        let mut tmp = Raw::connect(addr).await;
        let tid = s(&tmp.call_str("CLIENT ID").await);
        let tid = tid.trim_start_matches(':').trim().to_string();
        b.call_str(&format!("CLIENT TRACKING on REDIRECT {tid}"))
            .await;
        b.call_str("GET k").await;
        drop(tmp);
        // Wait until the server saw the close (no timing: poll the list).
        loop {
            let l = s(&w.call_str("CLIENT LIST").await);
            if !l.contains(&format!("id={tid} ")) {
                break;
            }
            tokio::task::yield_now().await;
        }
        w.call_str("SET k 1").await;
        assert_eq!(
            s(&b.reply().await),
            format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{tid}\r\n"),
            "{name}"
        );
        let info = s(&b.call_str("CLIENT TRACKINGINFO").await);
        assert!(info.contains("broken_redirect"), "{name}: {info}");
        let _ = id;
    }
    let mut a = srv.raw().await;
    let mut b = oracle.raw().await;
    let lines = [
        "CLIENT TRACKINGINFO",
        "CLIENT GETREDIR",
        "CLIENT CACHING yes",
        "CLIENT TRACKING on PREFIX a",
        "CLIENT TRACKING on BCAST PREFIX a PREFIX ab",
        "CLIENT TRACKING on OPTIN OPTOUT",
        "CLIENT TRACKING on BCAST OPTIN",
        "CLIENT TRACKING on REDIRECT 999999",
        "CLIENT TRACKING on REDIRECT abc",
        "CLIENT TRACKING maybe",
        "CLIENT TRACKING on bogus",
        "CLIENT TRACKING on OPTIN",
        "CLIENT TRACKINGINFO",
        "CLIENT CACHING yes",
        "CLIENT TRACKINGINFO",
        "CLIENT CACHING no",
        "CLIENT CACHING maybe",
        "CLIENT TRACKING on OPTOUT",
        "CLIENT TRACKING on BCAST",
        "CLIENT GETREDIR",
        "CLIENT TRACKING off",
        "CLIENT TRACKING on BCAST PREFIX b NOLOOP",
        "CLIENT TRACKING on BCAST PREFIX bc",
        "CLIENT TRACKINGINFO",
        "CLIENT TRACKING off",
    ];
    let cmds: Vec<Vec<Vec<u8>>> = lines
        .iter()
        .map(|l| l.split(' ').map(|x| x.as_bytes().to_vec()).collect())
        .collect();
    compare(&mut a, &mut b, &cmds).await;
    resp3(&mut a).await;
    resp3(&mut b).await;
    let lines = [
        "CLIENT TRACKING on BCAST PREFIX x PREFIX y NOLOOP",
        "CLIENT TRACKINGINFO",
        "CLIENT TRACKING off",
        "CLIENT TRACKINGINFO",
        "CLIENT CACHING",
        "CONFIG GET tracking-table-max-keys",
        "CONFIG SET tracking-table-max-keys -1",
    ];
    let cmds: Vec<Vec<Vec<u8>>> = lines
        .iter()
        .map(|l| l.split(' ').map(|x| x.as_bytes().to_vec()).collect())
        .collect();
    compare(&mut a, &mut b, &cmds).await;
}

/// Reads replies until one that is not a push; returns the pushes seen
/// first and the reply.
async fn reply_after_pushes(r: &mut Raw) -> (Vec<String>, String) {
    let mut pushes = Vec::new();
    loop {
        let m = r.reply().await;
        if m.starts_with(b">") {
            pushes.push(s(&m));
        } else {
            return (pushes, s(&m));
        }
    }
}

/// A random CLIENT TRACKING ON line: default, BCAST (random prefixes,
/// sometimes overlapping: an error), OPTIN or OPTOUT, with or without
/// NOLOOP.
fn random_tracking_mode(rng: &mut rand::rngs::StdRng) -> String {
    use rand::Rng;
    let mut line = String::from("CLIENT TRACKING on");
    match rng.gen_range(0..4) {
        0 => {}
        1 => {
            line.push_str(" BCAST");
            for p in ["a", "b", "ab", "c"] {
                if rng.gen_bool(0.35) {
                    line.push_str(" PREFIX ");
                    line.push_str(p);
                }
            }
        }
        2 => line.push_str(" OPTIN"),
        _ => line.push_str(" OPTOUT"),
    }
    if rng.gen_bool(0.4) {
        line.push_str(" NOLOOP");
    }
    line
}

/// Two RESP3 clients with random tracking modes (changed now and then)
/// do random reads and writes over keys that share prefixes; after each
/// step both PING, so every invalidation the step caused has arrived.
/// What each connection receives, pushes included and in order, must be
/// the same on keyward and on the Redis 7.2 oracle.
#[tokio::test]
async fn differential_random_tracking_72() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    for seed in 0..6 {
        let Some(oracle) = Oracle::valkey().await else {
            return;
        };
        let srv = start().await;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..2 {
            let (mut a, mut b) = (srv.raw().await, oracle.raw().await);
            resp3(&mut a).await;
            resp3(&mut b).await;
            ours.push(a);
            theirs.push(b);
        }
        ours[0].call_str("FLUSHALL").await;
        theirs[0].call_str("FLUSHALL").await;
        let mut history: Vec<String> = Vec::new();
        for step in 0..500 {
            let c = rng.gen_range(0..2);
            let keys = ["a", "ab", "b", "bc", "c"];
            let k = keys[rng.gen_range(0..keys.len())];
            let k2 = keys[rng.gen_range(0..keys.len())];
            let read = match rng.gen_range(0..5) {
                0 => format!("MGET {k} {k2}"),
                1 => format!("STRLEN {k}"),
                2 => format!("EXISTS {k}"),
                _ => format!("GET {k}"),
            };
            let mut lines: Vec<String> = match rng.gen_range(0..27) {
                0 => vec![random_tracking_mode(&mut rng)],
                1 => vec!["CLIENT TRACKING off".into()],
                2..=9 => vec![read],
                10 | 11 => vec!["CLIENT CACHING yes".into(), read],
                12 | 13 => vec!["CLIENT CACHING no".into(), read],
                14..=16 => vec![format!("SET {k} {step}")],
                17 => vec![format!("INCR {k}")],
                18 => vec![format!("APPEND {k} x")],
                19 => vec![format!("DEL {k} {k2}")],
                20 => vec![format!("MSET {k} 1 {k2} 2")],
                21 => vec![format!("EXPIRE {k} 0")],
                22 if rng.gen_bool(0.2) => vec!["FLUSHDB".into()],
                // Writes that read other keys: only the written one is
                // invalidated.
                23 => vec![format!("COPY {k} {k2} REPLACE")],
                24 => vec![format!("BITOP OR {k} {k2}")],
                25 => vec![format!("SETRANGE {k} 1 yy")],
                _ => vec!["CLIENT TRACKINGINFO".into()],
            };
            if step == 0 {
                lines.insert(0, random_tracking_mode(&mut rng));
            }
            let mut got = [String::new(), String::new()];
            for (i, conns) in [&mut ours, &mut theirs].into_iter().enumerate() {
                for line in &lines {
                    conns[c]
                        .cmd(&line.split(' ').map(str::as_bytes).collect::<Vec<_>>())
                        .await;
                    let (pushes, reply) = reply_after_pushes(&mut conns[c]).await;
                    got[i].push_str(&format!("{c}: {line} -> {pushes:?} {reply:?}\n"));
                }
                for (j, r) in conns.iter_mut().enumerate() {
                    r.cmd(&[b"PING"]).await;
                    let (pushes, reply) = reply_after_pushes(r).await;
                    got[i].push_str(&format!("{j}: PING -> {pushes:?} {reply:?}\n"));
                }
            }
            assert_eq!(
                got[0],
                got[1],
                "seed {seed} step {step}: keyward (left) and the oracle differ after:\n{}",
                history.join("")
            );
            history.push(got[1].clone());
        }
    }
}
