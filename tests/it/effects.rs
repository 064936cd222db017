//! Integration tests: the after-execution hook. A randomized workload over
//! the write commands runs on one server while its effects are recorded;
//! replaying the effects on a fresh server must give the same keyspace
//! (values, absolute expiry times, stream PELs), which is what the AOF
//! relies on.

use std::sync::Arc;
use std::time::Duration;

use keyward::server::effects::{Argv, EffectSink};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::{start, Raw, TestServer};

#[derive(Default)]
struct Recorder(Mutex<Vec<(usize, Argv)>>);

impl EffectSink for Recorder {
    fn append(&self, effects: Vec<(usize, Argv)>, atomic: bool) -> u64 {
        let effects = if atomic {
            keyward::server::effects::wrap(effects)
        } else {
            effects
        };
        self.0.lock().extend(effects);
        0
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = reply.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    while i < reply.len() {
        let Some(nl) = reply[i..].iter().position(|&b| b == b'\n').map(|p| p + i) else {
            break;
        };
        let len: usize = s(&reply[i + 1..nl - 1]).parse().unwrap_or(0);
        out.push(reply[nl + 1..nl + 1 + len].to_vec());
        i = nl + 1 + len + 2;
    }
    out
}

/// The whole keyspace as text, with absolute expiry times and stream
/// internals; consumer seen/active times are left out (a replay sets
/// them to its own clock, as a Redis replica does).
async fn digest(srv: &TestServer) -> String {
    let mut r = srv.raw().await;
    let mut out = String::new();
    for db in 0..4 {
        r.call(&[b"SELECT", db.to_string().as_bytes()]).await;
        let mut keys = bulks(&r.call(&[b"KEYS", b"*"]).await);
        keys.sort();
        for k in keys {
            let t = s(&r.call(&[b"TYPE", &k]).await);
            if t == "+none\r\n" {
                continue; // expired since KEYS listed it
            }
            let at = s(&r.call(&[b"PEXPIRETIME", &k]).await);
            // A key about to expire may be gone in one digest and not the
            // other, taken moments apart: leave it out of both.
            let at_ms: i64 = at.trim().trim_start_matches(':').parse().unwrap_or(-1);
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            if at_ms == -2 || (at_ms > 0 && at_ms < now_ms + 1000) {
                continue;
            }
            let body = match t.as_str() {
                "+string\r\n" => r.call(&[b"GET", &k]).await,
                "+list\r\n" => r.call(&[b"LRANGE", &k, b"0", b"-1"]).await,
                "+hash\r\n" => {
                    let mut v = bulks(&r.call(&[b"HGETALL", &k]).await);
                    let mut pairs: Vec<_> = v.chunks_mut(2).map(|c| c.to_vec()).collect();
                    pairs.sort();
                    format!("{pairs:?}").into_bytes()
                }
                "+set\r\n" => {
                    let mut v = bulks(&r.call(&[b"SMEMBERS", &k]).await);
                    v.sort();
                    format!("{v:?}").into_bytes()
                }
                "+zset\r\n" => r.call(&[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"]).await,
                "+stream\r\n" => {
                    let full = s(&r.call(&[b"XINFO", b"STREAM", &k, b"FULL"]).await);
                    strip_consumer_times(&full).into_bytes()
                }
                other => other.as_bytes().to_vec(),
            };
            out.push_str(&format!(
                "db{db} {} {} at={at} {}\n",
                s(&k),
                t.trim(),
                s(&body)
            ));
        }
    }
    out
}

/// Drops the values after `seen-time` and `active-time` in XINFO FULL.
fn strip_consumer_times(full: &str) -> String {
    let mut lines: Vec<&str> = full.split("\r\n").collect();
    for i in 0..lines.len() {
        if lines[i] == "seen-time" || lines[i] == "active-time" {
            if let Some(v) = lines.get_mut(i + 1) {
                *v = "_";
            }
        }
    }
    lines.join("|")
}

const KEYS: [&str; 6] = ["k1", "k2", "k3", "{t}a", "{t}b", "s1"];

fn pick<'a>(rng: &mut StdRng, v: &[&'a str]) -> &'a str {
    v[rng.gen_range(0..v.len())]
}

/// One random write command (and some reads that may expire keys lazily).
fn random_command(rng: &mut StdRng) -> Vec<String> {
    let k = pick(rng, &KEYS).to_string();
    let k2 = pick(rng, &KEYS).to_string();
    let n = rng.gen_range(0..20).to_string();
    let f = rng.gen_range(0..4).to_string();
    let v = |x: &str| x.to_string();
    let cmd: Vec<String> = match rng.gen_range(0..53) {
        0 => vec![v("SET"), k, n],
        1 => vec![v("SET"), k, n, v("EX"), v("100")],
        2 => vec![v("SET"), k, n, v("PX"), v("1")],
        3 => vec![v("SETEX"), k, v("50"), n],
        4 => vec![v("PSETEX"), k, v("2"), n],
        5 => vec![v("INCRBYFLOAT"), k, v("1.5")],
        6 => vec![v("INCR"), k],
        7 => vec![v("APPEND"), k, n],
        8 => vec![v("EXPIRE"), k, v("100")],
        9 => vec![v("PEXPIRE"), k, v("1")],
        10 => vec![v("EXPIRE"), k, v("-1")],
        11 => vec![v("GETEX"), k, v("PX"), v("100000")],
        12 => vec![v("GETEX"), k, v("PERSIST")],
        13 => vec![v("DEL"), k],
        14 => vec![v("RPUSH"), k, n.clone(), n],
        15 => vec![v("LPOP"), k],
        16 => vec![v("LMOVE"), k, k2, v("LEFT"), v("RIGHT")],
        17 => vec![v("BLPOP"), k, k2, v("0.01")],
        18 => vec![v("BLMOVE"), k, k2, v("RIGHT"), v("LEFT"), v("0.01")],
        19 => vec![v("SADD"), k, n, f],
        20 => vec![v("SPOP"), k],
        21 => vec![v("SPOP"), k, v("2")],
        22 => vec![v("HSET"), k, f, n],
        23 => vec![v("HINCRBYFLOAT"), k, f, v("0.25")],
        24 => vec![v("ZADD"), k, n, f],
        25 => vec![v("ZINCRBY"), k, v("1.1"), f],
        26 => vec![v("BZPOPMIN"), k, v("0.01")],
        27 => vec![v("BZMPOP"), v("0.01"), v("1"), k, v("MAX"), v("COUNT"), v("2")],
        28 => vec![v("XADD"), v("s1"), v("*"), f, n],
        29 => vec![v("XADD"), v("s1"), v("MAXLEN"), v("~"), v("3"), v("*"), f, n],
        30 => vec![v("XTRIM"), v("s1"), v("MAXLEN"), v("2")],
        31 => vec![v("XGROUP"), v("CREATE"), v("s1"), v("g"), v("0"), v("MKSTREAM")],
        32 => vec![v("XREADGROUP"), v("GROUP"), v("g"), v("c1"), v("COUNT"), v("2"), v("STREAMS"), v("s1"), v(">")],
        33 => vec![v("XREADGROUP"), v("GROUP"), v("g"), v("c2"), v("STREAMS"), v("s1"), v("0")],
        34 => vec![v("XCLAIM"), v("s1"), v("g"), v("c3"), v("0"), v("0-1"), v("1-1"), v("FORCE")],
        35 => vec![v("XAUTOCLAIM"), v("s1"), v("g"), v("c2"), v("0"), v("0"), v("COUNT"), v("3")],
        36 => vec![v("XACK"), v("s1"), v("g"), v("0-1")],
        37 => vec![
            v("EVAL"),
            v("redis.call('set', KEYS[1], ARGV[1]); redis.call('pexpire', KEYS[1], 100000); return redis.call('spop', KEYS[2])"),
            v("2"),
            k,
            k2,
            n,
        ],
        38 => vec![v("MOVE"), k, v("1")],
        39 => vec![v("COPY"), k, k2, v("DB"), v("2"), v("REPLACE")],
        40 => vec![v("SWAPDB"), v("0"), v("3")],
        41 => vec![v("GET"), k],
        42 => vec![v("SORT"), k, v("ALPHA"), v("STORE"), k2],
        43 => vec![v("SETBIT"), k, (rng.gen_range(0..40)).to_string(), (rng.gen_range(0..2)).to_string()],
        44 => match pick(rng, &["AND", "OR", "XOR", "NOT"]) {
            "NOT" => vec![v("BITOP"), v("NOT"), k, k2],
            op => vec![v("BITOP"), v(op), k.clone(), k, k2],
        },
        45 => vec![v("BITFIELD"), k, v("OVERFLOW"), v("SAT"), v("INCRBY"), v("u4"), format!("#{f}"), n, v("GET"), v("i8"), v("0")],
        46 => vec![v("PFADD"), k, n, f],
        47 => vec![v("PFMERGE"), k, k2],
        // Refreshing a stale cached cardinality is a logged write.
        48 => vec![v("PFCOUNT"), k],
        49 => vec![v("GEOADD"), k, format!("{n}.5"), format!("-{f}.25"), f],
        50 => vec![v("GEOSEARCHSTORE"), k2, k, v("FROMLONLAT"), v("10"), v("0"), v("BYRADIUS"), v("900"), v("km"), v("STOREDIST")],
        51 => vec![v("GEORADIUS"), k, v("10"), v("-1"), v("700"), v("km"), v("COUNT"), v("2"), v("STORE"), k2],
        _ => vec![v("SELECT"), rng.gen_range(0..4).to_string()],
    };
    cmd
}

async fn run(r: &mut Raw, cmd: &[String]) -> Vec<u8> {
    let a: Vec<&[u8]> = cmd.iter().map(|x| x.as_bytes()).collect();
    r.call(&a).await
}

/// Replays `effects` on `srv`, one SELECT per DB change; every effect must
/// be accepted.
async fn replay(srv: &TestServer, effects: &[(usize, Argv)]) {
    let mut r = srv.raw().await;
    let mut db = usize::MAX;
    let mut in_multi = false;
    for (d, argv) in effects {
        // Inside MULTI the SELECT is queued too, as the AOF writes it.
        if *d != db {
            r.call(&[b"SELECT", d.to_string().as_bytes()]).await;
            db = *d;
        }
        let a: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let reply = r.call(&a).await;
        // EXEC's reply holds each command's: none may be an error either.
        let failed = reply.starts_with(b"-")
            || (in_multi && argv[0].eq_ignore_ascii_case(b"EXEC") && s(&reply).contains("\r\n-"));
        if failed {
            for (d, e) in effects {
                eprintln!("{d} {:?}", e.iter().map(|x| s(x)).collect::<Vec<_>>());
            }
        }
        assert!(
            !failed,
            "replaying {:?} failed: {}",
            argv.iter().map(|x| s(x)).collect::<Vec<_>>(),
            s(&reply)
        );
        if argv[0].eq_ignore_ascii_case(b"MULTI") {
            in_multi = true;
        } else if argv[0].eq_ignore_ascii_case(b"EXEC") {
            in_multi = false;
        }
    }
}

#[tokio::test]
async fn replayed_effects_rebuild_the_same_keyspace() {
    for seed in 0..12u64 {
        let live = start().await;
        let rec = Arc::new(Recorder::default());
        assert!(live.handle.shared().start_propagation(rec.clone()));
        let mut rng = StdRng::seed_from_u64(seed);
        let mut a = live.raw().await;
        let mut b = live.raw().await;
        // A client blocked on lists the workload fills, so served pops
        // (not only immediate ones) are part of the log.
        b.cmd(&[b"BLPOP", b"k1", b"k2", b"0"]).await;
        let mut trace = None;
        if std::env::var("EFFECTS_TRACE").is_ok() {
            let copy = start().await;
            copy.handle.shared().keyspace.set_loading(true);
            trace = Some((copy, 0usize));
        }
        for i in 0..400 {
            let cmd = random_command(&mut rng);
            let reply = run(&mut a, &cmd).await;
            if std::env::var("EFFECTS_LIVE").is_ok() {
                eprintln!("live {cmd:?} -> {:?}", s(&reply));
            }
            if let Some((copy, done)) = trace.as_mut() {
                // Debugging aid (EFFECTS_TRACE=1): replay as we go and name
                // the first command after which the two keyspaces differ.
                let effects = rec.0.lock().clone();
                replay(copy, &effects[*done..]).await;
                *done = effects.len();
                let (x, y) = (digest(&live).await, digest(copy).await);
                assert_eq!(
                    x,
                    y,
                    "after {cmd:?} -> {:?}: {:?}",
                    s(&reply),
                    &effects[effects.len().saturating_sub(6)..]
                );
            }
            if i % 50 == 0 {
                // Let 1 ms TTLs run out, so lazy and active expiry happen.
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
        // MULTI/EXEC of writes is logged as one unit.
        for c in [
            &["MULTI"][..],
            &["SET", "tx", "1"],
            &["INCR", "tx"],
            &["EXPIRE", "tx", "100"],
            &["EXEC"],
        ] {
            let v: Vec<String> = c.iter().map(|x| x.to_string()).collect();
            run(&mut a, &v).await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        let want = digest(&live).await;
        let effects = rec.0.lock().clone();
        assert!(
            effects.len() > 100,
            "seed {seed}: only {} effects",
            effects.len()
        );
        let copy = start().await;
        // As the AOF loader does: nothing expires while the log replays.
        copy.handle.shared().keyspace.set_loading(true);
        replay(&copy, &effects).await;
        copy.handle.shared().keyspace.set_loading(false);
        let got = digest(&copy).await;
        if want != got {
            for (d, e) in &effects {
                eprintln!(
                    "effect {d} {:?}",
                    e.iter().map(|x| s(x)).collect::<Vec<_>>()
                );
            }
        }
        assert_eq!(want, got, "seed {seed}: the replay differs");
    }
}

#[tokio::test]
async fn effects_are_absolute_and_deterministic() {
    let live = start().await;
    let rec = Arc::new(Recorder::default());
    live.handle.shared().start_propagation(rec.clone());
    let mut r = live.raw().await;
    for c in [
        &["SET", "a", "1", "EX", "100"][..],
        &["EXPIRE", "a", "200"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["SADD", "s", "x"],
        &["SPOP", "s"],
        &["SET", "noop", "1", "NX"],
        &["SET", "noop", "2", "NX"],
        &["DEL", "missing"],
        &["XADD", "st", "*", "f", "v"],
    ] {
        let a: Vec<&[u8]> = c.iter().map(|x| x.as_bytes()).collect();
        r.call(&a).await;
    }
    let effects: Vec<String> = rec
        .0
        .lock()
        .iter()
        .map(|(_, a)| a.iter().map(|x| s(x)).collect::<Vec<_>>().join(" "))
        .collect();
    assert!(effects[0].starts_with("SET a 1 PXAT "), "{effects:?}");
    assert!(effects[1].starts_with("PEXPIREAT a "), "{effects:?}");
    assert_eq!(effects[2], "SET f 0.1 KEEPTTL");
    assert_eq!(effects[3], "SADD s x");
    assert_eq!(effects[4], "SREM s x");
    // A write that changed nothing is not logged.
    assert_eq!(effects[5], "SET noop 1 NX");
    assert!(
        effects[6].starts_with("XADD st ") && !effects[6].contains('*'),
        "{effects:?}"
    );
    assert_eq!(effects.len(), 7, "{effects:?}");
}

/// The order of a transaction that moves between DBs, with two clients
/// interleaved by hand on one thread (as two workers could run them): A's
/// transaction sets `k` in DB 1 and goes on in DB 0; B then sets `k` in
/// DB 1 before A's transaction ends. The log must have A's write before
/// B's, as they ran: what a transaction did in a DB is logged before it
/// lets go of that DB's lock.
#[tokio::test]
async fn a_transaction_logs_its_writes_in_a_db_before_it_leaves_it() {
    use keyward::commands::Ctx;
    use keyward::protocol::{Protocol, ReplyBuf};
    use keyward::server::client::Client;
    use keyward::server::dispatch::dispatch;

    let live = start().await;
    let shared = live.handle.shared();
    let rec = Arc::new(Recorder::default());
    assert!(shared.start_propagation(rec.clone()));
    let (mut a, mut b) = (Client::internal(shared), Client::internal(shared));
    let (mut out_a, mut out_b) = (
        ReplyBuf::new(Protocol::Resp2),
        ReplyBuf::new(Protocol::Resp2),
    );
    let mut ctx_a = Ctx::new(shared, &mut a, &mut out_a);
    // As EXEC runs its queue.
    ctx_a.client.in_exec = true;
    for argv in [
        &[&b"SELECT"[..], b"1"][..],
        &[b"SET", b"k", b"a"],
        &[b"SELECT", b"0"],
        &[b"SET", b"m", b"x"],
    ] {
        let _ = dispatch(&mut ctx_a, argv);
    }
    {
        // A holds DB 0 now; B writes in DB 1.
        let mut ctx_b = Ctx::new(shared, &mut b, &mut out_b);
        let _ = dispatch(&mut ctx_b, &[b"SELECT", b"1"]);
        let _ = dispatch(&mut ctx_b, &[b"SET", b"k", b"b"]);
    }
    // A's transaction ends.
    ctx_a.client.in_exec = false;
    let _ = dispatch(&mut ctx_a, &[b"GET", b"m"]);
    drop(ctx_a);
    let log: Vec<(usize, String)> = rec
        .0
        .lock()
        .iter()
        .map(|(d, argv)| {
            let words: Vec<String> = argv.iter().map(|w| s(w)).collect();
            (*d, words.join(" "))
        })
        .collect();
    let at = |what: &str| {
        log.iter()
            .position(|(d, c)| *d == 1 && c == what)
            .unwrap_or_else(|| panic!("{what} not logged: {log:?}"))
    };
    assert!(at("SET k a") < at("SET k b"), "{log:?}");
    assert!(
        log.iter().any(|(d, c)| *d == 0 && c == "SET m x"),
        "{log:?}"
    );
}
