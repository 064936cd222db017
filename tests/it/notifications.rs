//! Keyspace notifications: differential against redis-server (the
//! oracle) for every data family, expiry (lazy and active), eviction,
//! `new` and key misses, transactions and scripts; CONFIG SET/GET of
//! `notify-keyspace-events`; the tenant boundary (a DB-pinned subscriber,
//! `pubsub-scope db`).
//!
//! Each run subscribes with `PSUBSCRIBE __key*__:*` on both servers, runs
//! the same commands (comparing replies too), then publishes a sentinel on
//! a channel the pattern matches: every event of the script was published
//! before it, so reading up to the sentinel needs no timing.

use std::time::Duration;

use crate::support::{start, start_with, Oracle, Raw, TestServer};

const SENTINEL: &str = "__keyspace@0__:__end__";

/// The bulk strings of a flat RESP array reply.
fn bulks(reply: &[u8]) -> Vec<String> {
    let line_end = |i: usize| {
        i + reply[i..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a complete reply")
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < reply.len() {
        let nl = line_end(i);
        if reply[i] == b'$' {
            let n: usize = std::str::from_utf8(&reply[i + 1..nl])
                .ok()
                .and_then(|t| t.parse().ok())
                .expect("a bulk length");
            out.push(String::from_utf8_lossy(&reply[nl + 2..nl + 2 + n]).into_owned());
            i = nl + 2 + n + 2;
        } else {
            i = nl + 2;
        }
    }
    out
}

/// A subscriber to every keyspace channel, with the events it receives as
/// `channel message` lines.
struct Sub {
    raw: Raw,
}

impl Sub {
    async fn new(mut raw: Raw) -> Sub {
        let confirm = raw.call_str("PSUBSCRIBE __key*__:*").await;
        assert!(String::from_utf8_lossy(&confirm).contains("psubscribe"));
        Sub { raw }
    }

    /// The next event, `channel message`.
    async fn next(&mut self) -> String {
        let r = self.raw.reply().await;
        let b = bulks(&r);
        assert_eq!(b[0], "pmessage", "{b:?}");
        format!("{} {}", b[2], b[3])
    }

    /// Events until the sentinel (which `publisher` sends now).
    async fn until_sentinel(&mut self, publisher: &mut Raw) -> Vec<String> {
        publisher
            .call(&[b"PUBLISH", SENTINEL.as_bytes(), b"end"])
            .await;
        let mut events = Vec::new();
        loop {
            let e = self.next().await;
            if e.starts_with(SENTINEL) {
                return events;
            }
            events.push(e);
        }
    }
}

/// keyward and the oracle, each with a command connection and a
/// subscriber, notifications set to `flags` on both.
struct Pair {
    _server: TestServer,
    _oracle: Oracle,
    ours: Raw,
    theirs: Raw,
    sub_ours: Sub,
    sub_theirs: Sub,
}

impl Pair {
    async fn new(flags: &str) -> Option<Pair> {
        Pair::with_server(flags, start().await).await
    }

    async fn with_server(flags: &str, server: TestServer) -> Option<Pair> {
        Pair::with_oracle(flags, server, Oracle::start().await?).await
    }

    async fn with_oracle(flags: &str, server: TestServer, oracle: Oracle) -> Option<Pair> {
        let mut ours = server.raw().await;
        let mut theirs = oracle.raw().await;
        for r in [&mut ours, &mut theirs] {
            r.call_str("FLUSHALL").await;
            let ok = r
                .call(&[
                    b"CONFIG",
                    b"SET",
                    b"notify-keyspace-events",
                    flags.as_bytes(),
                ])
                .await;
            assert_eq!(ok, b"+OK\r\n");
        }
        let sub_ours = Sub::new(server.raw().await).await;
        let sub_theirs = Sub::new(oracle.raw().await).await;
        Some(Pair {
            _server: server,
            _oracle: oracle,
            ours,
            theirs,
            sub_ours,
            sub_theirs,
        })
    }

    /// Runs `cmds` on both (same replies), then returns both event lists.
    async fn run(&mut self, cmds: &[Vec<&str>]) -> (Vec<String>, Vec<String>) {
        for cmd in cmds {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            let a = self.ours.call(&args).await;
            let b = self.theirs.call(&args).await;
            assert_eq!(
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b),
                "reply differs for {cmd:?}"
            );
        }
        let ours = self.sub_ours.until_sentinel(&mut self.ours).await;
        let theirs = self.sub_theirs.until_sentinel(&mut self.theirs).await;
        (ours, theirs)
    }

    /// Runs `script` (one command a line, split on spaces) and requires
    /// the same events in the same order.
    async fn same(&mut self, script: &str) {
        let cmds: Vec<Vec<&str>> = script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(' ').collect())
            .collect();
        let (ours, theirs) = self.run(&cmds).await;
        assert!(!theirs.is_empty(), "the script fired nothing:\n{script}");
        assert_eq!(ours, theirs, "events differ for:\n{script}");
    }
}

/// Every class, keyspace and keyevent channels, `new` and key misses.
const ALL: &str = "AKEmn";

#[tokio::test]
async fn strings() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "SET s1 a
         SET s1 b EX 100
         SETNX s1 c
         SETNX s2 c
         GETSET s2 d
         SET s3 x GET
         SET s3 y GET
         MSET m1 1 m2 2
         MSETNX m1 1 m3 3
         MSETNX m4 1 m5 2
         APPEND s1 zz
         APPEND s4 new
         SETRANGE s4 1 ab
         SETRANGE s5 3 ab
         INCR n
         INCRBY n 5
         DECR n
         DECRBY n 2
         INCRBYFLOAT f 1.5
         INCRBYFLOAT f 2
         GETDEL s2
         GETDEL nosuch
         GETEX s1 PERSIST
         GETEX s1 EX 100
         GETEX s1 PERSIST
         GETEX s1
         GETEX s1 PXAT 1
         GET nosuch
         MGET s4 nosuch2
         STRLEN nosuch
         GETRANGE nosuch 0 1
         SETEX se 100 v
         PSETEX pse 100000 v
         SET se w KEEPTTL
         SET nx v NX
         SET nx v2 XX
         SET xxmiss v XX
         SET nx v3 PXAT 99999999999999",
    )
    .await;
}

#[tokio::test]
async fn bitmaps_and_hyperloglogs() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "SETBIT b 7 1
         SETBIT b 100 0
         GETBIT nosuch 3
         BITCOUNT nosuch
         BITFIELD bf SET u8 0 255
         BITFIELD bf INCRBY u8 0 1
         BITFIELD nosuch GET u8 0
         BITOP OR dest b bf
         BITOP AND dest nosuch1
         BITOP AND dest nosuch1
         PFADD h a b c
         PFADD h a
         PFADD h2
         PFMERGE h3 h h2
         PFCOUNT h nosuch",
    )
    .await;
}

// Redis 7.2 writes (and announces) a SETBIT only when the key is created,
// grows or the bit flips (7.0 fired `setbit` for a SETBIT that changed
// nothing): asserted by hand.
#[tokio::test]
async fn setbit_that_changes_nothing_is_silent() {
    let s = start().await;
    let mut c = s.raw().await;
    c.call_str("CONFIG SET notify-keyspace-events KEA").await;
    let mut sub = Sub::new(s.raw().await).await;
    c.call_str("SETBIT b 3 1").await;
    c.call_str("SETBIT b 3 1").await;
    c.call_str("SETBIT b 3 0").await;
    let events = sub.until_sentinel(&mut c).await;
    assert_eq!(
        events,
        [
            "__keyspace@0__:b setbit",
            "__keyevent@0__:setbit b",
            "__keyspace@0__:b setbit",
            "__keyevent@0__:setbit b",
        ]
    );
}

#[tokio::test]
async fn generic() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "SET a 1
         SET b 2
         DEL a nosuch
         UNLINK b
         SET a 1
         RENAME a b
         SET c 3
         RENAME c b
         RENAMENX b c
         SET d 4
         RENAMENX b d
         RENAME b b
         EXPIRE b 100
         PEXPIRE b 100000
         EXPIREAT b 9999999999
         PEXPIREAT b 9999999999000
         EXPIRE b 100 NX
         EXPIRE nosuch 100
         PERSIST b
         PERSIST b
         EXPIRE b -1
         EXISTS b nosuch
         TYPE nosuch
         TTL nosuch
         PTTL nosuch
         TOUCH nosuch
         OBJECT ENCODING nosuch
         DUMP nosuch
         SET e 5
         COPY e f
         COPY e f
         COPY e f REPLACE
         COPY e e2 DB 2
         SET g 1
         MOVE g 1
         MOVE nosuch 1
         RPUSH sl 3 1 2
         SORT sl STORE sorted
         SORT sl STORE sorted
         SORT nosuch STORE sorted
         SORT nosuch STORE sorted",
    )
    .await;
}

#[tokio::test]
async fn restore_fires_new_and_restore() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    // Each server restores its own DUMP (the payloads are equal, but this
    // keeps the test about events).
    let mut payloads = Vec::new();
    for r in [&mut p.ours, &mut p.theirs] {
        r.call_str("SET src hello").await;
        let d = r.call_str("DUMP src").await;
        payloads.push(crate::support::bulk_payload(&d).expect("a payload"));
    }
    let mut events = Vec::new();
    for (i, (r, sub)) in [
        (&mut p.ours, &mut p.sub_ours),
        (&mut p.theirs, &mut p.sub_theirs),
    ]
    .into_iter()
    .enumerate()
    {
        let pl = &payloads[i];
        assert_eq!(r.call(&[b"RESTORE", b"dst", b"0", pl]).await, b"+OK\r\n");
        r.call(&[b"RESTORE", b"dst", b"0", pl, b"REPLACE"]).await;
        r.call(&[b"RESTORE", b"dst", b"1", pl, b"REPLACE", b"ABSTTL"])
            .await;
        events.push(sub.until_sentinel(r).await);
    }
    assert_eq!(events[0], events[1]);
    assert!(events[0].contains(&"__keyevent@0__:restore dst".to_string()));
}

#[tokio::test]
async fn hashes() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "HSET h f 1 g 2
         HSET h f 1
         HSETNX h f 2
         HSETNX h n 3
         HMSET h x 1
         HINCRBY h cnt 2
         HINCRBYFLOAT h fl 1.5
         HDEL h nosuch
         HDEL h f g n x cnt fl
         HGET nosuch f
         HGETALL nosuch
         HLEN h
         HEXISTS nosuch f",
    )
    .await;
}

#[tokio::test]
async fn lists() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "LPUSH l a b
         RPUSH l c
         LPUSHX nol a
         RPUSHX l d
         LINSERT l BEFORE a z
         LINSERT l BEFORE nope z
         LSET l 0 q
         LRANGE nosuch 0 -1
         LREM l 0 q
         LREM l 0 nothere
         LTRIM l 0 1
         LPOP l
         RPOP l 5
         RPUSH l2 a b c
         LMOVE l2 l3 LEFT RIGHT
         RPOPLPUSH l2 l3
         RPOPLPUSH l2 l3
         LMOVE l3 l3 LEFT RIGHT
         LMPOP 2 nol l3 LEFT COUNT 10
         LPOP nol
         RPUSH l4 x
         LPOP l4 0
         BLPOP l4 0
         RPUSH l5 a
         BLMOVE l5 l6 RIGHT LEFT 0
         RPUSH l7 a b
         BLMPOP 0 1 l7 RIGHT COUNT 5
         RPUSH l8 a
         LTRIM l8 5 10
         LINDEX nosuch 0
         LLEN nosuch",
    )
    .await;
}

#[tokio::test]
async fn sets() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "SADD s a b c
         SADD s a
         SREM s a nosuch
         SREM s zz
         SMOVE s s2 b
         SMOVE s s2 zz
         SMOVE s s2 c
         SADD t x
         SADD s2 b
         SMOVE s2 t x
         SMOVE t t x
         SADD u 1
         SPOP u
         SADD u 1 2 3
         SPOP u 0
         SPOP u 5
         SPOP nosuch
         SADD a1 1 2 3
         SADD a2 2 3 4
         SINTERSTORE d a1 a2
         SUNIONSTORE d a1 a2
         SDIFFSTORE d a1 a2
         SINTERSTORE d a1 nosuch
         SINTERSTORE d a1 nosuch
         SISMEMBER nosuch x
         SMEMBERS nosuch
         SINTER a1 nosuch",
    )
    .await;
}

#[tokio::test]
async fn sorted_sets_and_geo() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "ZADD z 1 a 2 b 3 c
         ZADD z 1 a
         ZADD z XX 5 nosuch
         ZADD zx XX 1 a
         ZADD z CH 9 a
         ZINCRBY z 1 b
         ZINCRBY z 0 b
         ZADD z INCR 1 c
         ZREM z a nosuch
         ZREMRANGEBYSCORE z 100 200
         ZADD z 4 d 5 e 6 f
         ZREMRANGEBYSCORE z 4 4
         ZREMRANGEBYRANK z 0 0
         ZADD lex 0 a 0 b 0 c
         ZREMRANGEBYLEX lex [a [b
         ZREMRANGEBYLEX lex - +
         ZPOPMIN z
         ZPOPMAX z 10
         ZPOPMIN nosuch
         ZADD z2 1 a 2 b
         ZADD z3 2 b 3 c
         ZUNIONSTORE zd 2 z2 z3
         ZINTERSTORE zd 2 z2 z3
         ZDIFFSTORE zd 2 z2 z3
         ZINTERSTORE zd 2 z2 nosuch
         ZRANGESTORE zr z2 0 -1
         ZRANGESTORE zr nosuch 0 -1
         ZMPOP 1 z2 MIN COUNT 5
         BZPOPMIN z3 0
         BZMPOP 0 1 z3 MAX
         ZSCORE nosuch a
         ZRANGE nosuch 0 -1
         ZCARD nosuch
         GEOADD g 13.361389 38.115556 Palermo
         GEOADD g 13.361389 38.115556 Palermo
         GEOSEARCHSTORE gd g FROMLONLAT 15 37 BYRADIUS 200 km
         GEORADIUS g 15 37 200 km STORE gr
         GEOSEARCHSTORE gd nosuch FROMLONLAT 15 37 BYRADIUS 200 km
         GEOPOS nosuch a",
    )
    .await;
}

#[tokio::test]
async fn streams() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    p.same(
        "XADD x 1-1 f v
         XADD x 2-1 f v
         XADD x MAXLEN 1 3-1 f v
         XADD nox NOMKSTREAM * f v
         XTRIM x MAXLEN 0
         XTRIM x MAXLEN 0
         XADD x 4-1 f v
         XDEL x 4-1
         XDEL x 9-9
         XSETID x 10-1
         XGROUP CREATE x g $
         XGROUP CREATE y g $ MKSTREAM
         XGROUP CREATECONSUMER x g c1
         XGROUP CREATECONSUMER x g c1
         XADD x 11-1 f v
         XREADGROUP GROUP g c2 STREAMS x >
         XCLAIM x g c3 0 11-1
         XAUTOCLAIM x g c4 0 0
         XACK x g 11-1
         XGROUP SETID x g 0
         XGROUP DELCONSUMER x g c1
         XGROUP DELCONSUMER x g nobody
         XGROUP DESTROY x g
         XGROUP DESTROY x g
         XRANGE nosuch - +
         XLEN nosuch",
    )
    .await;
}

#[tokio::test]
async fn transactions_and_scripts_fire_as_each_command_runs() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    let cmds: Vec<Vec<&str>> = vec![
        vec!["MULTI"],
        vec!["SET", "ta", "1"],
        vec!["LPUSH", "tl", "a"],
        vec!["INCR", "ta"],
        vec!["GET", "nosuch"],
        vec!["DEL", "tl"],
        vec!["EXEC"],
        vec![
            "EVAL",
            "redis.call('SET', KEYS[1], '1'); redis.call('RPUSH', KEYS[2], 'x'); \
             redis.call('GET', 'nosuch'); redis.call('DEL', KEYS[1]); return 1",
            "2",
            "sa",
            "sl",
        ],
        vec![
            "EVAL",
            "return redis.call('HSET', KEYS[1], 'f', 'v')",
            "1",
            "fh",
        ],
    ];
    let (ours, theirs) = p.run(&cmds).await;
    assert_eq!(ours, theirs);
    assert!(ours.contains(&"__keyevent@0__:hset fh".to_string()));
}

#[tokio::test]
async fn lazy_expiry_fires_expired_before_the_command() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    // Expired at once (PXAT 1) and accessed in the same transaction, so
    // no active expiry cycle can take the keys first, on either server.
    p.same(
        "MULTI
         SET k v PXAT 1
         GET k
         SET k2 v PXAT 1
         LPUSH k2 x
         SET k3 v PXAT 1
         SET k3 w
         SET k4 v PXAT 1
         EXISTS k4
         EXEC",
    )
    .await;
}

#[tokio::test]
async fn active_expiry_fires_expired() {
    // keyward: its clock moves on, the cron finds the key.
    let s = start().await;
    let mut c = s.raw().await;
    c.call_str("CONFIG SET notify-keyspace-events Ex").await;
    let mut sub = Sub::new(s.raw().await).await;
    c.call_str("SET k v PX 5000").await;
    s.handle.advance_clock(Duration::from_secs(10));
    assert_eq!(sub.next().await, "__keyevent@0__:expired k");
    // The oracle: a 1 ms TTL, found by its own cycle.
    let Some(o) = Oracle::start().await else {
        return;
    };
    let mut c = o.raw().await;
    c.call_str("CONFIG SET notify-keyspace-events Ex").await;
    let mut sub = Sub::new(o.raw().await).await;
    c.call_str("SET k v PX 1").await;
    assert_eq!(sub.next().await, "__keyevent@0__:expired k");
}

#[tokio::test]
async fn eviction_fires_evicted() {
    let Some(mut p) = Pair::new(ALL).await else {
        return;
    };
    // A limit below what an empty server uses: the next write evicts
    // every key, then is refused (-OOM) on both.
    p.same(
        "CONFIG SET maxmemory-policy allkeys-lru
         SET a 1
         CONFIG SET maxmemory 1
         SET b 2
         CONFIG SET maxmemory 0",
    )
    .await;
}

#[tokio::test]
async fn classes_filter_events() {
    for flags in ["K$", "Eg", "Kl", "Ex", "En", "Em", "KEA", "g$"] {
        let Some(mut p) = Pair::new(flags).await else {
            return;
        };
        let cmds: Vec<Vec<&str>> = [
            "SET a 1",
            "LPUSH l x",
            "DEL a",
            "GET nosuch",
            "SET e v PXAT 1",
            "GET e",
        ]
        .iter()
        .map(|l| l.split(' ').collect())
        .collect();
        let (ours, theirs) = p.run(&cmds).await;
        assert_eq!(ours, theirs, "flags {flags}");
    }
}

#[tokio::test]
async fn config_set_and_get_as_redis() {
    let Some(o) = Oracle::start().await else {
        return;
    };
    let s = start().await;
    let mut a = s.raw().await;
    let mut b = o.raw().await;
    for v in [
        "KEA",
        "AKEmn",
        "Ex",
        "g$lshzxetdKEmn",
        "nE",
        "",
        "A",
        "KEAX",
        "KE a",
        "$",
        "EtK",
    ] {
        for args in [
            vec![
                &b"CONFIG"[..],
                b"SET",
                b"notify-keyspace-events",
                v.as_bytes(),
            ],
            vec![&b"CONFIG"[..], b"GET", b"notify-keyspace-events"],
        ] {
            let ours = a.call(&args).await;
            let theirs = b.call(&args).await;
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{v:?}"
            );
        }
    }
}

#[tokio::test]
async fn flag_and_file_set_it() {
    let mut config = keyward::Config::default();
    keyward::config::params::find("notify-keyspace-events")
        .map(|p| (p.set)(&mut config, "KEA"))
        .expect("row")
        .expect("valid");
    let s = start_with(config).await;
    let mut c = s.raw().await;
    assert_eq!(
        c.call_str("CONFIG GET notify-keyspace-events").await,
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
    );
    let mut sub = Sub::new(s.raw().await).await;
    c.call_str("SET k v").await;
    assert_eq!(sub.next().await, "__keyspace@0__:k set");
    assert_eq!(sub.next().await, "__keyevent@0__:set k");
}

#[tokio::test]
async fn pinned_subscriber_sees_only_its_databases() {
    let s = start().await;
    let mut admin = s.raw().await;
    admin
        .call_str("ACL SETUSER tenant on >pw db=1 ~* &* +@all")
        .await;
    admin
        .call_str("CONFIG SET notify-keyspace-events KEA")
        .await;
    let mut raw = s.raw().await;
    assert_eq!(raw.call_str("AUTH tenant pw").await, b"+OK\r\n");
    let mut sub = Sub::new(raw).await;
    admin.call_str("SET in0 v").await;
    admin.call_str("SELECT 3").await;
    admin.call_str("LPUSH in3 v").await;
    admin.call_str("SELECT 1").await;
    admin.call_str("SET in1 v").await;
    admin.call_str("SELECT 0").await;
    // The sentinel goes to DB 1's channel, which the tenant may see.
    admin
        .call(&[b"PUBLISH", b"__keyspace@1__:__end__", b"end"])
        .await;
    let mut events = Vec::new();
    loop {
        let e = sub.next().await;
        if e.starts_with("__keyspace@1__:__end__") {
            break;
        }
        events.push(e);
    }
    assert_eq!(events, ["__keyspace@1__:in1 set", "__keyevent@1__:set in1"]);
}

#[tokio::test]
async fn pubsub_scope_db_delivers_in_the_subscribers_database() {
    let config = keyward::Config {
        pubsub_per_db: true,
        ..Default::default()
    };
    let s = start_with(config).await;
    let mut admin = s.raw().await;
    admin
        .call_str("CONFIG SET notify-keyspace-events KEA")
        .await;
    let mut raw = s.raw().await;
    raw.call_str("SELECT 2").await;
    let mut sub = Sub::new(raw).await;
    admin.call_str("SET in0 v").await;
    admin.call_str("SELECT 2").await;
    admin.call_str("SET in2 v").await;
    // Published from DB 2: the subscriber's namespace.
    admin
        .call(&[b"PUBLISH", b"__keyspace@2__:__end__", b"end"])
        .await;
    let mut events = Vec::new();
    loop {
        let e = sub.next().await;
        if e.starts_with("__keyspace@2__:__end__") {
            break;
        }
        events.push(e);
    }
    assert_eq!(events, ["__keyspace@2__:in2 set", "__keyevent@2__:set in2"]);
}

#[tokio::test]
async fn off_by_default() {
    let s = start().await;
    let mut c = s.raw().await;
    assert_eq!(
        c.call_str("CONFIG GET notify-keyspace-events").await,
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n"
    );
    let mut sub = Sub::new(s.raw().await).await;
    c.call_str("SET k v").await;
    c.call_str("GET nosuch").await;
    assert!(sub.until_sentinel(&mut c).await.is_empty());
}

/// Random writes (and reads, for key misses) over every type, with
/// `notify-keyspace-events` set to a random class set per chunk: the
/// subscriber on keyward and on the Redis 7.2 oracle must receive the
/// same message sequence, and every reply must match.
#[tokio::test]
async fn differential_random_events_72() {
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    for seed in 0..5 {
        let Some(oracle) = Oracle::valkey().await else {
            return;
        };
        let Some(mut p) = Pair::with_oracle(ALL, start().await, oracle).await else {
            return;
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let mut stream_id = 0u64;
        for chunk in 0..12 {
            let flags = random_classes(&mut rng);
            for r in [&mut p.ours, &mut p.theirs] {
                let ok = r
                    .call(&[
                        b"CONFIG",
                        b"SET",
                        b"notify-keyspace-events",
                        flags.as_bytes(),
                    ])
                    .await;
                assert_eq!(ok, b"+OK\r\n");
            }
            let cmds: Vec<Vec<String>> = (0..40)
                .map(|_| random_write(&mut rng, &mut stream_id))
                .collect();
            let refs: Vec<Vec<&str>> = cmds
                .iter()
                .map(|c| c.iter().map(String::as_str).collect())
                .collect();
            let (ours, theirs) = p.run(&refs).await;
            assert_eq!(
                ours, theirs,
                "events differ: seed {seed} chunk {chunk} flags {flags:?} commands {cmds:?}"
            );
        }
    }
}

/// A random `notify-keyspace-events` value: K and/or E with a random
/// subset of the classes (or A).
fn random_classes(rng: &mut rand::rngs::StdRng) -> String {
    use rand::Rng;
    let mut f = String::new();
    match rng.gen_range(0..3) {
        0 => f.push('K'),
        1 => f.push('E'),
        _ => f.push_str("KE"),
    }
    if rng.gen_bool(0.2) {
        f.push('A');
    } else {
        for c in "g$lshzxetd".chars() {
            if rng.gen_bool(0.4) {
                f.push(c);
            }
        }
    }
    for c in ['m', 'n'] {
        if rng.gen_bool(0.3) {
            f.push(c);
        }
    }
    f
}

/// One random command over a few keys shared by all types (so WRONGTYPE
/// and cross-type RENAME/COPY happen), deterministic in its reply.
fn random_write(rng: &mut rand::rngs::StdRng, stream_id: &mut u64) -> Vec<String> {
    use rand::Rng;
    let keys = ["k1", "k2", "k3", "k4"];
    let k = keys[rng.gen_range(0..keys.len())].to_string();
    let k2 = keys[rng.gen_range(0..keys.len())].to_string();
    let m = format!("m{}", rng.gen_range(0..4));
    let n = rng.gen_range(-3..10).to_string();
    let words: Vec<&str> = match rng.gen_range(0..48) {
        0 => vec!["SET", &k, &n],
        1 => vec!["APPEND", &k, "x"],
        2 => vec!["INCRBY", &k, &n],
        3 => vec!["INCRBYFLOAT", &k, "1.5"],
        4 => vec!["SETRANGE", &k, "2", "ab"],
        5 => vec!["GETDEL", &k],
        6 => vec!["GETEX", &k, "EX", "100"],
        7 => vec!["GETEX", &k, "PERSIST"],
        8 => vec!["MSET", &k, "1", &k2, "2"],
        9 => vec!["SET", &k, "v", "PX", "100000", "GET"],
        10 => vec!["DEL", &k, &k2],
        11 => vec!["UNLINK", &k],
        12 => vec!["EXPIRE", &k, "100"],
        // Not a time in the past (EXPIRE k 0, GETEX … PXAT 1): Redis 7.2
        // deletes and fires `del` (expire.c's checkAlreadyExpired
        // branch), Valkey 8 fires `expired`. `generic` checks `del`
        // against 7.0. An absolute time, so GT does not depend on the
        // millisecond each server runs it in.
        13 => vec!["PEXPIREAT", &k, "99999999999000", "GT"],
        14 => vec!["PERSIST", &k],
        15 => vec!["RENAME", &k, &k2],
        16 => vec!["RENAMENX", &k, &k2],
        17 => vec!["COPY", &k, &k2, "REPLACE"],
        18 => vec!["MOVE", &k, "1"],
        19 => vec!["LPUSH", &k, &m],
        20 => vec!["RPUSH", &k, &m, "z"],
        21 => vec!["RPOP", &k],
        22 => vec!["LMOVE", &k, &k2, "LEFT", "RIGHT"],
        23 => vec!["LTRIM", &k, "1", "-1"],
        24 => vec!["LSET", &k, "0", "q"],
        25 => vec!["LINSERT", &k, "BEFORE", &m, "w"],
        26 => vec!["LREM", &k, "0", &m],
        27 => vec!["HSET", &k, &m, &n],
        28 => vec!["HDEL", &k, &m],
        29 => vec!["HINCRBY", &k, &m, "2"],
        30 => vec!["HINCRBYFLOAT", &k, &m, "0.5"],
        31 => vec!["SADD", &k, &m],
        32 => vec!["SREM", &k, &m],
        33 => vec!["SMOVE", &k, &k2, &m],
        34 => vec!["SINTERSTORE", &k, &k2, "k3"],
        35 => vec!["SUNIONSTORE", &k, &k2, "k3"],
        36 => vec!["ZADD", &k, &n, &m],
        37 => vec!["ZINCRBY", &k, "2", &m],
        38 => vec!["ZREM", &k, &m],
        39 => vec!["ZPOPMIN", &k],
        40 => vec!["ZREMRANGEBYSCORE", &k, "0", "5"],
        41 => vec!["ZUNIONSTORE", &k, "2", &k2, "k3"],
        42 => {
            *stream_id += 1;
            let id = format!("{stream_id}-0");
            return ["XADD", &k, &id, "f", "v"].map(String::from).to_vec();
        }
        43 => vec!["XTRIM", &k, "MAXLEN", "1"],
        44 => vec!["XGROUP", "CREATE", &k, "g", "0", "MKSTREAM"],
        45 => vec!["SETBIT", &k, "5", "1"],
        46 => vec!["PFADD", &k, &m],
        // Reads, for `m` (key misses).
        _ => match rng.gen_range(0..5) {
            0 => vec!["GET", &k],
            1 => vec!["TYPE", &k],
            2 => vec!["HGET", &k, &m],
            3 => vec!["LRANGE", &k, "0", "-1"],
            _ => vec!["SMEMBERS", &k],
        },
    };
    words.into_iter().map(String::from).collect()
}
