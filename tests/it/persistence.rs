//! Integration tests: persistence through a real server — SAVE/BGSAVE and
//! the RDB file, the AOF under each fsync policy, BGREWRITEAOF, restarts,
//! MISCONF, and refusing a file that cannot be loaded.

use std::time::Duration;

use keyward::Config;

use crate::support::{start_with, temp_dir, Oracle, Raw, TestServer};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn config(dir: &std::path::Path) -> Config {
    Config {
        persistence: true,
        dir: dir.to_path_buf(),
        save: String::new(),
        ..Config::default()
    }
}

async fn call(r: &mut Raw, args: &[&str]) -> String {
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
    s(&r.call(&a).await)
}

async fn ok(r: &mut Raw, args: &[&str]) {
    let reply = call(r, args).await;
    assert!(!reply.starts_with('-'), "{args:?}: {reply}");
}

/// Keys of every type in DBs 0 and 3, some with a TTL.
async fn populate(r: &mut Raw) {
    for db in ["0", "3"] {
        ok(r, &["SELECT", db]).await;
        ok(r, &["SET", "str", "hello"]).await;
        ok(r, &["SET", "num", "12345"]).await;
        ok(r, &["SET", "ttl", "v", "EX", "1000"]).await;
        ok(r, &["INCRBYFLOAT", "float", "1.25"]).await;
        ok(r, &["RPUSH", "list", "a", "b", "c"]).await;
        ok(r, &["HSET", "hash", "f1", "v1", "f2", "v2"]).await;
        ok(r, &["SADD", "set", "1", "2", "x"]).await;
        ok(r, &["ZADD", "zset", "1.5", "a", "-2", "b"]).await;
        ok(r, &["XADD", "stream", "1-1", "f", "v"]).await;
        ok(r, &["XGROUP", "CREATE", "stream", "g", "0"]).await;
        ok(
            r,
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "stream", ">"],
        )
        .await;
    }
    ok(r, &["SELECT", "0"]).await;
}

/// The keyspace of DBs 0..4 as text (values, expiry times, stream PELs).
async fn digest(r: &mut Raw) -> String {
    digest_with(r, true).await
}

/// `full`: streams with XINFO STREAM FULL (PELs and delivery times), which
/// Redis 7.0 prints without 7.2's active-time; otherwise entries and groups.
async fn digest_with(r: &mut Raw, full: bool) -> String {
    let mut out = String::new();
    for db in 0..4 {
        ok(r, &["SELECT", &db.to_string()]).await;
        let keys = call(r, &["KEYS", "*"]).await;
        let mut names: Vec<String> = keys
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .map(str::to_string)
            .collect();
        names.sort();
        for k in names {
            let t = call(r, &["TYPE", &k]).await;
            let at = call(r, &["PEXPIRETIME", &k]).await;
            let v = match t.as_str() {
                "+string\r\n" => call(r, &["GET", &k]).await,
                "+list\r\n" => call(r, &["LRANGE", &k, "0", "-1"]).await,
                "+hash\r\n" => call(r, &["HGETALL", &k]).await,
                "+set\r\n" => {
                    let mut m: Vec<String> = call(r, &["SMEMBERS", &k])
                        .await
                        .split("\r\n")
                        .map(str::to_string)
                        .collect();
                    m.sort();
                    m.join("|")
                }
                "+zset\r\n" => call(r, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]).await,
                "+stream\r\n" if !full => {
                    let entries = call(r, &["XRANGE", &k, "-", "+"]).await;
                    entries + &call(r, &["XINFO", "GROUPS", &k]).await
                }
                "+stream\r\n" => {
                    let full = call(r, &["XINFO", "STREAM", &k, "FULL"]).await;
                    // Consumer seen/active times are the loader's clock.
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
                other => other.to_string(),
            };
            out.push_str(&format!("db{db} {k} {} {} {v}\n", t.trim(), at.trim()));
        }
    }
    ok(r, &["SELECT", "0"]).await;
    out
}

async fn info_field(r: &mut Raw, section: &str, name: &str) -> String {
    let info = call(r, &["INFO", section]).await;
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_default()
}

async fn restart(srv: TestServer, c: Config) -> TestServer {
    srv.handle.shutdown().await;
    start_with(c).await
}

#[tokio::test]
async fn save_then_restart_loads_the_same_keyspace() {
    let dir = temp_dir("save");
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    populate(&mut r).await;
    let before = digest(&mut r).await;
    let t0 = call(&mut r, &["LASTSAVE"]).await;
    assert!(t0.starts_with(':'), "{t0}");
    assert_eq!(
        info_field(&mut r, "persistence", "rdb_changes_since_last_save")
            .await
            .parse::<u64>()
            .map(|n| n > 0),
        Ok(true)
    );
    assert_eq!(call(&mut r, &["SAVE"]).await, "+OK\r\n");
    assert_eq!(
        info_field(&mut r, "persistence", "rdb_changes_since_last_save").await,
        "0"
    );
    assert!(dir.join("dump.rdb").exists());
    let srv = restart(srv, config(&dir)).await;
    let mut r = srv.raw().await;
    assert_eq!(digest(&mut r).await, before);
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bgsave_is_a_point_in_time_cut_while_writers_go_on() {
    let dir = temp_dir("bgsave");
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    for i in 0..5000 {
        ok(&mut r, &["SET", &format!("before:{i}"), &i.to_string()]).await;
    }
    ok(&mut r, &["HSET", "big", "f", "1"]).await;
    assert_eq!(
        call(&mut r, &["BGSAVE"]).await,
        "+Background saving started\r\n"
    );
    // Written after the cut: must not be in the file; overwritten after
    // the cut: the file keeps the value at the cut.
    for i in 0..2000 {
        ok(&mut r, &["SET", &format!("after:{i}"), "x"]).await;
        ok(&mut r, &["SET", &format!("before:{i}"), "changed"]).await;
    }
    ok(&mut r, &["DEL", "before:4999"]).await;
    for _ in 0..200 {
        if info_field(&mut r, "persistence", "rdb_bgsave_in_progress").await == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        info_field(&mut r, "persistence", "rdb_last_bgsave_status").await,
        "ok"
    );
    let srv = restart(srv, config(&dir)).await;
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["DBSIZE"]).await, ":5001\r\n");
    assert_eq!(call(&mut r, &["GET", "before:0"]).await, "$1\r\n0\r\n");
    assert_eq!(
        call(&mut r, &["GET", "before:4999"]).await,
        "$4\r\n4999\r\n"
    );
    assert_eq!(call(&mut r, &["EXISTS", "after:0"]).await, ":0\r\n");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn bgsave_and_wait(r: &mut Raw) {
    assert_eq!(call(r, &["BGSAVE"]).await, "+Background saving started\r\n");
    for _ in 0..500 {
        if info_field(r, "persistence", "rdb_bgsave_in_progress").await == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        info_field(r, "persistence", "rdb_last_bgsave_status").await,
        "ok"
    );
}

fn int_reply(reply: &str) -> i64 {
    reply
        .trim()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply}"))
}

/// A background save keeps what SAVE keeps of the eviction clocks: the
/// idle time under an LRU policy (IDLE), the access counter under LFU
/// (FREQ), as Redis's forked child writes them.
#[tokio::test]
async fn bgsave_keeps_lru_idle_times_and_lfu_counters() {
    // LRU: a key idle for 1000 s (the test clock) comes back that idle.
    let dir = temp_dir("bgsave-lru");
    let c = Config {
        maxmemory_policy: "allkeys-lru".into(),
        ..config(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["SET", "old", "v"]).await;
    ok(&mut r, &["HSET", "oldhash", "f", "v"]).await;
    srv.handle.advance_clock(Duration::from_secs(1000));
    ok(&mut r, &["SET", "new", "v"]).await;
    bgsave_and_wait(&mut r).await;
    let srv = restart(srv, c).await;
    let mut r = srv.raw().await;
    for k in ["old", "oldhash"] {
        let idle = int_reply(&call(&mut r, &["OBJECT", "IDLETIME", k]).await);
        assert!((999..=1003).contains(&idle), "{k}: idle {idle}");
    }
    let idle = int_reply(&call(&mut r, &["OBJECT", "IDLETIME", "new"]).await);
    assert!((0..=3).contains(&idle), "new: idle {idle}");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    // LFU: counters survive (no time passes, so no decay).
    let dir = temp_dir("bgsave-lfu");
    let c = Config {
        maxmemory_policy: "allkeys-lfu".into(),
        ..config(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["SET", "hot", "v"]).await;
    ok(&mut r, &["SET", "cold", "v"]).await;
    for _ in 0..300 {
        ok(&mut r, &["GET", "hot"]).await;
    }
    let hot = int_reply(&call(&mut r, &["OBJECT", "FREQ", "hot"]).await);
    let cold = int_reply(&call(&mut r, &["OBJECT", "FREQ", "cold"]).await);
    assert!(hot > cold, "{hot} vs {cold}");
    bgsave_and_wait(&mut r).await;
    let srv = restart(srv, c).await;
    let mut r = srv.raw().await;
    assert_eq!(
        int_reply(&call(&mut r, &["OBJECT", "FREQ", "hot"]).await),
        hot
    );
    assert_eq!(
        int_reply(&call(&mut r, &["OBJECT", "FREQ", "cold"]).await),
        cold
    );
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn aof_round_trip(fsync: &str) {
    let dir = temp_dir(&format!("aof-{fsync}"));
    let c = Config {
        appendonly: true,
        appendfsync: fsync.into(),
        ..config(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    populate(&mut r).await;
    ok(&mut r, &["EXPIRE", "str", "5000"]).await;
    ok(&mut r, &["SPOP", "set"]).await;
    ok(
        &mut r,
        &[
            "EVAL",
            "redis.call('set','from-lua','1') redis.call('incr','from-lua') return 1",
            "0",
        ],
    )
    .await;
    ok(&mut r, &["MULTI"]).await;
    ok(&mut r, &["INCR", "tx"]).await;
    ok(&mut r, &["SELECT", "2"]).await;
    ok(&mut r, &["SET", "tx2", "y"]).await;
    ok(&mut r, &["EXEC"]).await;
    ok(&mut r, &["SELECT", "0"]).await;
    assert_eq!(info_field(&mut r, "persistence", "aof_enabled").await, "1");
    let before = digest(&mut r).await;
    // A restart without any RDB save: everything comes from the AOF.
    let srv = restart(srv, c.clone()).await;
    let mut r = srv.raw().await;
    // The replay is not traffic (Redis loads without call()).
    let stats = s(&r.call(&[b"INFO", b"commandstats"]).await);
    assert!(!stats.contains("cmdstat_set:"), "{stats}");
    assert_eq!(digest(&mut r).await, before, "appendfsync {fsync}");
    let manifest = dir.join("appendonlydir").join("appendonly.aof.manifest");
    assert!(std::fs::read_to_string(&manifest)
        .expect("manifest")
        .contains("type b"));
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn aof_always_restart() {
    aof_round_trip("always").await;
}

#[tokio::test]
async fn aof_everysec_restart() {
    aof_round_trip("everysec").await;
}

#[tokio::test]
async fn aof_no_restart() {
    aof_round_trip("no").await;
}

/// BGREWRITEAOF during 20,000 INCRs from several clients: nothing lost.
#[tokio::test]
async fn bgrewriteaof_during_incrs_loses_nothing() {
    let dir = temp_dir("rewrite");
    let c = Config {
        appendonly: true,
        appendfsync: "always".into(),
        ..config(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut r = srv.raw().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..5000 {
                r.call(&[b"INCR", b"counter"]).await;
            }
        }));
    }
    let mut admin = srv.raw().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        call(&mut admin, &["BGREWRITEAOF"]).await,
        "+Background append only file rewriting started\r\n"
    );
    for t in tasks {
        t.await.expect("writer");
    }
    for _ in 0..200 {
        if info_field(&mut admin, "persistence", "aof_rewrite_in_progress").await == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let srv = restart(srv, c).await;
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["GET", "counter"]).await, "$5\r\n20000\r\n");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// CONFIG SET appendonly yes at runtime writes a base from the dataset, as
/// Redis's rewrite does; later writes go to the incr file.
#[tokio::test]
async fn appendonly_turned_on_at_runtime() {
    let dir = temp_dir("aof-on");
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["SET", "old", "1"]).await;
    ok(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await;
    ok(&mut r, &["SET", "new", "2"]).await;
    // What the writer read when it opened cannot change under it.
    assert_eq!(
        call(&mut r, &["CONFIG", "SET", "appendfsync", "always"]).await,
        "-ERR CONFIG SET failed (possibly related to argument 'appendfsync') - can't change while the AOF runs (CONFIG SET appendonly no first)\r\n"
    );
    ok(&mut r, &["CONFIG", "SET", "appendfsync", "everysec"]).await;
    // The base is written in the background: the AOF holds nothing a
    // restart could load before it is in.
    aof_base_done(&mut r).await;
    let c = Config {
        appendonly: true,
        ..config(&dir)
    };
    let srv = restart(srv, c).await;
    let mut r = srv.raw().await;
    assert_eq!(
        call(&mut r, &["MGET", "old", "new"]).await,
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until no AOF rewrite (the first base included) runs or is
/// scheduled.
async fn aof_base_done(r: &mut Raw) {
    for _ in 0..500 {
        let info = call(r, &["INFO", "persistence"]).await;
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the AOF rewrite did not finish in 10 s");
}

/// `n` keys `key:<i>` in the selected DB, by MSETs of 1000.
async fn fill(r: &mut Raw, n: usize) {
    for start in (0..n).step_by(1000) {
        let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
        for i in start..(start + 1000).min(n) {
            args.push(format!("key:{i}").into_bytes());
            args.push(format!("value-{i}").into_bytes());
        }
        let a: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        assert_eq!(r.call(&a).await, b"+OK\r\n");
    }
}

fn aof_dir_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `CONFIG SET appendonly yes` over 200k keys takes no lock for the
/// dataset's length: with the base writer held (a test hook), the command
/// has returned and other clients read and write (`everysec`: their
/// replies go out as usual), INFO says the AOF is on with a rewrite in
/// progress, and no manifest exists yet. Once the base is in, a restart
/// from the AOF alone has the dataset and every write made meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appendonly_on_at_runtime_writes_the_base_in_the_background() {
    let dir = temp_dir("aof-on-bg");
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    fill(&mut r, 200_000).await;
    let persist = &srv.handle.shared().persist;
    persist.hold_aof_rewrites(true);
    assert_eq!(
        call(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await,
        "+OK\r\n"
    );
    assert_eq!(info_field(&mut r, "persistence", "aof_enabled").await, "1");
    assert_eq!(
        info_field(&mut r, "persistence", "aof_rewrite_in_progress").await,
        "1"
    );
    // Other clients go on while the base is held.
    let mut other = srv.raw().await;
    for i in 0..200 {
        let k = format!("during:{i}");
        assert_eq!(call(&mut other, &["SET", &k, "x"]).await, "+OK\r\n");
        assert_eq!(call(&mut other, &["GET", &k]).await, "$1\r\nx\r\n");
        call(&mut other, &["INCR", "counter"]).await;
        // Overwrites and deletes of keys the walk still owes.
        ok(&mut other, &["SET", &format!("key:{i}"), "new"]).await;
        ok(&mut other, &["DEL", &format!("key:{}", 199_999 - i)]).await;
    }
    assert!(persist.aof_waiting(), "the base must still be held");
    assert_eq!(
        info_field(&mut r, "persistence", "aof_rewrite_in_progress").await,
        "1"
    );
    let names = aof_dir_names(&dir);
    assert!(
        !names.iter().any(|n| n.ends_with(".manifest")),
        "no manifest before the base: {names:?}"
    );
    assert!(
        names.contains(&"temp-appendonly.aof.incr".to_string()),
        "{names:?}"
    );
    persist.hold_aof_rewrites(false);
    aof_base_done(&mut r).await;
    assert!(!persist.aof_waiting());
    ok(&mut other, &["SET", "after", "1"]).await;
    let names = aof_dir_names(&dir);
    assert!(!names.iter().any(|n| n.starts_with("temp-")), "{names:?}");
    assert_eq!(
        info_field(&mut r, "persistence", "aof_last_bgrewrite_status").await,
        "ok"
    );
    let c = Config {
        appendonly: true,
        ..config(&dir)
    };
    let srv = restart(srv, c).await;
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["DBSIZE"]).await, ":200002\r\n");
    assert_eq!(call(&mut r, &["GET", "counter"]).await, "$3\r\n200\r\n");
    assert_eq!(call(&mut r, &["GET", "key:7"]).await, "$3\r\nnew\r\n");
    assert_eq!(call(&mut r, &["GET", "key:199999"]).await, "$-1\r\n");
    assert_eq!(
        call(&mut r, &["GET", "key:1000"]).await,
        "$10\r\nvalue-1000\r\n"
    );
    assert_eq!(
        call(&mut r, &["EXISTS", "during:199", "after"]).await,
        ":2\r\n"
    );
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `CONFIG SET appendonly no` while the first base is still being written
/// gives it up: the temp files go, no manifest is written, INFO says off;
/// turning it on again then works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appendonly_no_during_the_first_base_cancels_it() {
    let dir = temp_dir("aof-on-cancel");
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    fill(&mut r, 5_000).await;
    let persist = &srv.handle.shared().persist;
    persist.hold_aof_rewrites(true);
    ok(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await;
    ok(&mut r, &["SET", "during", "1"]).await;
    ok(&mut r, &["CONFIG", "SET", "appendonly", "no"]).await;
    assert_eq!(info_field(&mut r, "persistence", "aof_enabled").await, "0");
    persist.hold_aof_rewrites(false);
    for _ in 0..250 {
        if !srv.handle.shared().keyspace.snapshot_running() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(aof_dir_names(&dir), Vec::<String>::new());
    ok(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await;
    aof_base_done(&mut r).await;
    let names = aof_dir_names(&dir);
    assert!(names.iter().any(|n| n.ends_with(".manifest")), "{names:?}");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Debian's redis-server 7.0 loads the AOF directory of an AOF turned on
/// at runtime (`rdb-version 10` base), to the same keyspace.
#[tokio::test]
async fn redis_server_loads_an_aof_turned_on_at_runtime() {
    let dir = temp_dir("aof-on-oracle");
    let srv = start_with(Config {
        rdb_version: 10,
        ..config(&dir)
    })
    .await;
    let mut r = srv.raw().await;
    populate(&mut r).await;
    ok(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await;
    ok(&mut r, &["SELECT", "3"]).await;
    ok(&mut r, &["RPUSH", "list", "d"]).await;
    ok(&mut r, &["SET", "after", "1"]).await;
    ok(&mut r, &["SELECT", "0"]).await;
    aof_base_done(&mut r).await;
    let ours = digest_with(&mut r, false).await;
    srv.handle.shutdown().await;
    let Some(oracle) =
        Oracle::start_with(&["--dir", dir.to_str().expect("utf8"), "--appendonly", "yes"]).await
    else {
        return;
    };
    let mut o = oracle.raw().await;
    // Its port opens before the AOF is loaded (KEYS answers -LOADING).
    for _ in 0..250 {
        if info_field(&mut o, "persistence", "loading").await == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(digest_with(&mut o, false).await, ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A failed save with stop-writes-on-bgsave-error refuses writes with
/// Redis's MISCONF until a save succeeds.
#[tokio::test]
async fn failed_save_refuses_writes_until_a_save_succeeds() {
    let dir = temp_dir("misconf");
    // `dir` is a protected config (Redis 7): refused unless enabled.
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    assert_eq!(
        call(&mut r, &["CONFIG", "SET", "dir", "/tmp"]).await,
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"
    );
    srv.handle.shutdown().await;
    let srv = start_with(Config {
        enable_protected_configs: "local".into(),
        ..config(&dir)
    })
    .await;
    let mut r = srv.raw().await;
    ok(&mut r, &["SET", "k", "v"]).await;
    let missing = dir.join("no-such-dir");
    ok(
        &mut r,
        &["CONFIG", "SET", "dir", missing.to_str().expect("utf8")],
    )
    .await;
    assert!(call(&mut r, &["SAVE"]).await.starts_with("-ERR"));
    assert!(call(&mut r, &["SET", "k", "w"])
        .await
        .starts_with("-MISCONF Redis is configured to save RDB snapshots"));
    assert_eq!(call(&mut r, &["GET", "k"]).await, "$1\r\nv\r\n");
    assert!(call(&mut r, &["PING"]).await.starts_with("-MISCONF"));
    assert_eq!(
        info_field(&mut r, "persistence", "rdb_last_bgsave_status").await,
        "err"
    );
    ok(
        &mut r,
        &["CONFIG", "SET", "dir", dir.to_str().expect("utf8")],
    )
    .await;
    assert_eq!(call(&mut r, &["SAVE"]).await, "+OK\r\n");
    assert_eq!(call(&mut r, &["SET", "k", "w"]).await, "+OK\r\n");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file that cannot be loaded stops the start with an error naming it.
#[tokio::test]
async fn a_corrupt_rdb_refuses_to_start() {
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("dump.rdb"), b"REDIS0011\xfa\x05junk").expect("write");
    let err = keyward::Server::builder()
        .config(Config {
            bind: vec!["127.0.0.1".into()],
            port: 0,
            ..config(&dir)
        })
        .start()
        .await
        .err()
        .expect("the start fails");
    assert!(err.to_string().contains("dump.rdb"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// SHUTDOWN SAVE writes dump.rdb; NOSAVE does not; an embedded server
/// without persistence answers SAVE with an error and writes nothing.
#[tokio::test]
async fn shutdown_save_and_nosave() {
    let dir = temp_dir("shutdown");
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["SET", "k", "v"]).await;
    r.cmd(&[b"SHUTDOWN", b"NOSAVE"]).await;
    assert!(r.closed().await);
    srv.handle.shutdown().await;
    assert!(!dir.join("dump.rdb").exists());
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["SET", "k", "v"]).await;
    r.cmd(&[b"SHUTDOWN", b"SAVE"]).await;
    assert!(r.closed().await);
    srv.handle.shutdown().await;
    assert!(dir.join("dump.rdb").exists());
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["GET", "k"]).await, "$1\r\nv\r\n");
    srv.handle.shutdown().await;

    let embedded = crate::support::start().await;
    let mut e = embedded.raw().await;
    assert!(call(&mut e, &["SAVE"])
        .await
        .starts_with("-ERR persistence is off"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Debian's redis-server 7.0 loads the file keyward writes with
/// `rdb-version 10`, to the same keyspace.
#[tokio::test]
async fn redis_server_loads_our_v10_file() {
    let dir = temp_dir("v10");
    let srv = start_with(Config {
        rdb_version: 10,
        ..config(&dir)
    })
    .await;
    let mut r = srv.raw().await;
    populate(&mut r).await;
    let ours = digest_with(&mut r, false).await;
    assert_eq!(call(&mut r, &["SAVE"]).await, "+OK\r\n");
    srv.handle.shutdown().await;
    let Some(oracle) = Oracle::start_with(&[
        "--dir",
        dir.to_str().expect("utf8"),
        "--dbfilename",
        "dump.rdb",
    ])
    .await
    else {
        return;
    };
    let mut o = oracle.raw().await;
    assert_eq!(digest_with(&mut o, false).await, ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `persist = false` keeps a cache DB out of the RDB file and the AOF.
#[tokio::test]
async fn a_db_with_persist_false_stays_out_of_every_file() {
    let dir = temp_dir("nopersist");
    let mut cache = keyward::config::DbConfig::new(1);
    cache.no_persist = true;
    let c = Config {
        appendonly: true,
        dbs: vec![cache],
        ..config(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["SET", "kept", "1"]).await;
    ok(&mut r, &["SELECT", "1"]).await;
    ok(&mut r, &["SET", "cached", "1"]).await;
    ok(&mut r, &["SELECT", "0"]).await;
    assert_eq!(call(&mut r, &["SAVE"]).await, "+OK\r\n");
    assert_eq!(
        call(&mut r, &["BGREWRITEAOF"]).await,
        "+Background append only file rewriting started\r\n"
    );
    for _ in 0..100 {
        if info_field(&mut r, "persistence", "aof_rewrite_in_progress").await == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ok(&mut r, &["SELECT", "1"]).await;
    ok(&mut r, &["SET", "cached2", "1"]).await;
    srv.handle.shutdown().await;
    // From the AOF (base + incr) and from the RDB file alone.
    for appendonly in [true, false] {
        let srv = start_with(Config {
            appendonly,
            ..c.clone()
        })
        .await;
        let mut r = srv.raw().await;
        assert_eq!(
            call(&mut r, &["GET", "kept"]).await,
            "$1\r\n1\r\n",
            "appendonly {appendonly}"
        );
        ok(&mut r, &["SELECT", "1"]).await;
        assert_eq!(
            call(&mut r, &["DBSIZE"]).await,
            ":0\r\n",
            "appendonly {appendonly}"
        );
        srv.handle.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A DB that loads above its own limits loads anyway, says so in INFO's
/// tenancy line, and its next new key is refused by its policy.
#[tokio::test]
async fn a_db_loaded_over_its_limit_loads_and_refuses_new_keys() {
    let dir = temp_dir("overlimit");
    let srv = start_with(config(&dir)).await;
    let mut r = srv.raw().await;
    for i in 0..20 {
        ok(&mut r, &["SET", &format!("k{i}"), "v"]).await;
    }
    assert_eq!(call(&mut r, &["SAVE"]).await, "+OK\r\n");
    let mut limited = keyward::config::DbConfig::new(0);
    limited.max_keys = 10;
    let srv = restart(
        srv,
        Config {
            dbs: vec![limited],
            ..config(&dir)
        },
    )
    .await;
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["DBSIZE"]).await, ":20\r\n");
    let tenancy = call(&mut r, &["INFO", "tenancy"]).await;
    assert!(tenancy.contains("over_limit=1"), "{tenancy}");
    assert!(call(&mut r, &["SET", "new", "v"]).await.starts_with("-OOM"));
    assert_eq!(call(&mut r, &["SET", "k1", "w"]).await, "+OK\r\n");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server on a simulated disk (`SimFs`), for power-cut tests.
fn sim_config(appendfsync: &str, dbs: Vec<keyward::config::DbConfig>) -> Config {
    Config {
        bind: vec!["127.0.0.1".into()],
        port: 0,
        appendonly: true,
        appendfsync: appendfsync.into(),
        dbs,
        ..config(std::path::Path::new("/sim"))
    }
}

async fn start_sim(
    fs: keyward::persistence::fs::SimFs,
    c: Config,
) -> Result<keyward::ServerHandle, keyward::server::StartError> {
    keyward::Server::builder()
        .config(c)
        .fs(std::sync::Arc::new(fs))
        .start()
        .await
}

/// Power cuts at 1,000 points under `appendfsync always`, taken while
/// writes are in flight (a simulated disk keeps only what was synced and
/// tears the rest): every restarted server starts, and every write that
/// was acknowledged before the cut is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_crashes_under_always_lose_no_acknowledged_write() {
    use keyward::persistence::fs::SimFs;
    use rand::{Rng, SeedableRng};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let fs = SimFs::new();
    let c = sim_config("always", Vec::new());
    let srv = start_sim(fs.clone(), c.clone()).await.expect("starts");
    let addr = srv.addr();
    let acked = Arc::new(AtomicU64::new(0));
    let cuts = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The writer: SET k<i> and INCR counter, one at a time. It keeps pace
    // with the cutter (one cut per three pairs), so the cuts spread over
    // the whole run however the machine schedules the two.
    let writer = {
        let acked = acked.clone();
        let cuts = cuts.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut r = Raw::connect(addr).await;
            for i in 0..3000u64 {
                while cuts.load(Ordering::SeqCst) < i / 3 {
                    tokio::time::sleep(Duration::from_micros(100)).await;
                }
                let key = format!("k{i}");
                assert_eq!(r.call(&[b"SET", key.as_bytes(), b"v"]).await, b"+OK\r\n");
                r.call(&[b"INCR", b"counter"]).await;
                acked.store(i + 1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    // Power cuts: read what was acknowledged, then cut.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut images = Vec::new();
    while images.len() < 1000 && !done.load(Ordering::SeqCst) {
        let a = acked.load(Ordering::SeqCst);
        let seed: u64 = rng.gen();
        let mut tear_rng = rand::rngs::StdRng::seed_from_u64(seed);
        images.push((fs.crash(|n| tear_rng.gen_range(0..=n)), a));
        cuts.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    writer.await.expect("writer");
    srv.shutdown().await;
    assert!(images.len() >= 990, "only {} cut points", images.len());
    let mut checked = 0;
    for (img, a) in images {
        let srv = start_sim(img, c.clone())
            .await
            .expect("a crashed directory always loads");
        let mut r = Raw::connect(srv.addr()).await;
        if a > 0 {
            let last = format!("k{}", a - 1);
            assert_eq!(
                r.call(&[b"EXISTS", last.as_bytes()]).await,
                b":1\r\n",
                "after {a} acks"
            );
            let n: u64 = s(&r.call(&[b"GET", b"counter"]).await)
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            assert!(n >= a, "counter {n} after {a} acknowledged INCRs");
            let keys = s(&r.call(&[b"DBSIZE"]).await);
            let size: u64 = keys.trim().trim_start_matches(':').parse().unwrap_or(0);
            // Every acknowledged key (and the counter); writes acknowledged
            // after `a` was read, or in flight, may be there too.
            assert!(size > a, "dbsize {size} after {a} acks");
        }
        srv.shutdown().await;
        checked += 1;
    }
    eprintln!("{checked} crash points checked");
}

/// `[[db]] appendfsync = "always"` on one DB while the server runs
/// `appendfsync no`: that DB's acknowledged writes survive every power
/// cut; the others' need not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_with_its_own_appendfsync_always_loses_nothing_acknowledged() {
    use keyward::persistence::fs::SimFs;
    use rand::{Rng, SeedableRng};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let fs = SimFs::new();
    let mut queue = keyward::config::DbConfig::new(2);
    queue.fsync_always = true;
    let c = sim_config("no", vec![queue]);
    let srv = start_sim(fs.clone(), c.clone()).await.expect("starts");
    let addr = srv.addr();
    let acked = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (acked, done) = (acked.clone(), done.clone());
        tokio::spawn(async move {
            let mut cache = Raw::connect(addr).await;
            let mut q = Raw::connect(addr).await;
            q.call(&[b"SELECT", b"2"]).await;
            for i in 0..1500u64 {
                let key = format!("job{i}");
                cache.call(&[b"SET", key.as_bytes(), b"c"]).await;
                assert_eq!(q.call(&[b"SET", key.as_bytes(), b"q"]).await, b"+OK\r\n");
                acked.store(i + 1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut images = Vec::new();
    while images.len() < 300 && !done.load(Ordering::SeqCst) {
        let a = acked.load(Ordering::SeqCst);
        let mut tear = rand::rngs::StdRng::seed_from_u64(rng.gen());
        images.push((fs.crash(|n| tear.gen_range(0..=n)), a));
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    writer.await.expect("writer");
    srv.shutdown().await;
    assert!(images.len() >= 100, "only {} cut points", images.len());
    for (img, a) in images {
        let srv = start_sim(img, c.clone())
            .await
            .expect("a crashed directory always loads");
        let mut r = Raw::connect(srv.addr()).await;
        r.call(&[b"SELECT", b"2"]).await;
        if a > 0 {
            let last = format!("job{}", a - 1);
            assert_eq!(
                r.call(&[b"EXISTS", last.as_bytes()]).await,
                b":1\r\n",
                "after {a} acks"
            );
        }
        srv.shutdown().await;
    }
}

/// The same per-DB `always`, for a client served from a blocking command:
/// the moment a consumer has its BLPOP reply, both the push it observed
/// and its own pop are on disk. A power cut taken right then must show the
/// push counted and the list empty (without the wait, the reply goes out
/// before either is synced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_pop_in_a_db_with_appendfsync_always_is_synced_before_its_reply() {
    let fs = keyward::persistence::fs::SimFs::new();
    let mut queue = keyward::config::DbConfig::new(2);
    queue.fsync_always = true;
    let c = sim_config("no", vec![queue]);
    let srv = start_sim(fs.clone(), c.clone()).await.expect("starts");
    let mut consumer = Raw::connect(srv.addr()).await;
    let mut producer = Raw::connect(srv.addr()).await;
    let mut admin = Raw::connect(srv.addr()).await;
    for r in [&mut consumer, &mut producer] {
        assert_eq!(r.call(&[b"SELECT", b"2"]).await, b"+OK\r\n");
    }
    let mut images = Vec::new();
    for i in 1..=40u32 {
        consumer.cmd(&[b"BLPOP", b"q", b"0"]).await;
        // Pushed only once the consumer waits, so it is served by the push.
        while !s(&admin.call(&[b"INFO", b"clients"]).await).contains("blocked_clients:1") {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let job = format!("job{i}");
        producer.cmd(&[b"MULTI"]).await;
        producer.cmd(&[b"INCR", b"pushed"]).await;
        producer.cmd(&[b"LPUSH", b"q", job.as_bytes()]).await;
        producer.cmd(&[b"EXEC"]).await;
        let got = consumer.reply().await;
        assert!(s(&got).contains(&job), "{}", s(&got));
        images.push((fs.crash(|n| n / 2), i));
        for _ in 0..4 {
            producer.reply().await;
        }
    }
    srv.shutdown().await;
    for (img, i) in images {
        let srv = start_sim(img, c.clone()).await.expect("loads");
        let mut r = Raw::connect(srv.addr()).await;
        r.call(&[b"SELECT", b"2"]).await;
        let pushed = s(&r.call(&[b"GET", b"pushed"]).await);
        assert_eq!(
            pushed,
            format!("${}\r\n{i}\r\n", i.to_string().len()),
            "push {i}"
        );
        assert_eq!(r.call(&[b"LLEN", b"q"]).await, b":0\r\n", "pop {i}");
        srv.shutdown().await;
    }
}

/// BGREWRITEAOF, then a write retried until MISCONF lifts (the rewrite
/// runs in the background): it must within 5 s.
async fn rewrite_until_writes_pass(r: &mut Raw) {
    ok(r, &["BGREWRITEAOF"]).await;
    for _ in 0..200 {
        if call(r, &["SET", "k3", "v"]).await == "+OK\r\n" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("MISCONF not lifted by the rewrite");
}

/// Under `everysec`, an AOF write that fails (a full disk, simulated): the
/// write whose bytes did not reach the file gets no reply, every later
/// write gets MISCONF, the disk coming back changes nothing (the failed
/// file is not trusted again), and a BGREWRITEAOF lifts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_aof_write_is_never_acknowledged_until_a_rewrite() {
    use keyward::persistence::fs::SimFs;

    let fs = SimFs::new();
    let c = sim_config("everysec", Vec::new());
    let srv = start_sim(fs.clone(), c.clone()).await.expect("starts");
    let mut a = Raw::connect(srv.addr()).await;
    assert_eq!(a.call(&[b"SET", b"k1", b"v"]).await, b"+OK\r\n");
    fs.fail_writes(true);
    a.cmd(&[b"SET", b"k2", b"v"]).await;
    assert_eq!(
        a.try_reply(Duration::from_secs(5)).await.map(|r| s(&r)),
        None,
        "a write that is not in the file must not be acknowledged"
    );
    let mut b = Raw::connect(srv.addr()).await;
    let r = call(&mut b, &["SET", "k3", "v"]).await;
    assert!(
        r.starts_with("-MISCONF Errors writing to the AOF file: Error writing"),
        "{r}"
    );
    fs.fail_writes(false);
    let r = call(&mut b, &["SET", "k3", "v"]).await;
    assert!(r.starts_with("-MISCONF"), "refused until a rewrite: {r}");
    rewrite_until_writes_pass(&mut b).await;
    srv.shutdown().await;
    let srv = start_sim(fs, c).await.expect("restarts");
    let mut r = Raw::connect(srv.addr()).await;
    assert_eq!(call(&mut r, &["EXISTS", "k1", "k3"]).await, ":2\r\n");
    srv.shutdown().await;
}

/// While MISCONF stands, a read that expires a key lazily (its DEL is an
/// append the failed AOF refuses) still gets its reply, as in Redis; and
/// once a rewrite lifted MISCONF the server syncs as its policy says, not
/// on every wake (a refused append left no offset behind to wait for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_during_misconf_keeps_its_reply() {
    use keyward::persistence::fs::SimFs;

    let fs = SimFs::new();
    let c = sim_config("no", Vec::new());
    let srv = start_sim(fs.clone(), c.clone()).await.expect("starts");
    let mut a = Raw::connect(srv.addr()).await;
    ok(&mut a, &["SET", "k", "v", "EX", "1000"]).await;
    fs.fail_writes(true);
    a.cmd(&[b"SET", b"x", b"v"]).await;
    assert_eq!(a.try_reply(Duration::from_secs(2)).await, None);
    fs.fail_writes(false);
    srv.shared().clock.advance_ms(2_000_000);
    let mut b = Raw::connect(srv.addr()).await;
    b.cmd(&[b"GET", b"k"]).await;
    assert_eq!(
        b.try_reply(Duration::from_secs(2)).await.map(|r| s(&r)),
        Some("$-1\r\n".to_string())
    );
    rewrite_until_writes_pass(&mut b).await;
    let before = fs.syncs();
    for i in 0..10 {
        ok(&mut b, &["SET", "c", &i.to_string()]).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fs.syncs(),
        before,
        "appendfsync no: no fdatasync for writes"
    );
    srv.shutdown().await;
}

/// Under `always`, an fdatasync that fails stops the server at once, as
/// Redis exits, even when no other write comes to find the error; the
/// client waiting on it gets no reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fsync_under_always_stops_the_server() {
    use keyward::persistence::fs::SimFs;
    use std::sync::atomic::Ordering;

    let fs = SimFs::new();
    let mut srv = start_sim(fs.clone(), sim_config("always", Vec::new()))
        .await
        .expect("starts");
    let mut a = Raw::connect(srv.addr()).await;
    assert_eq!(a.call(&[b"SET", b"k1", b"v"]).await, b"+OK\r\n");
    fs.fail_syncs(true);
    a.cmd(&[b"SET", b"k2", b"v"]).await;
    assert_eq!(a.try_reply(Duration::from_secs(5)).await, None);
    tokio::time::timeout(Duration::from_secs(5), srv.stopped())
        .await
        .expect("the server stops by itself");
    assert!(srv.shared().persist.fatal.load(Ordering::Relaxed));
}

/// Under `everysec`, the once-a-second fdatasync fails while no client
/// writes: within about a second writes (and PING) get MISCONF, before any
/// write runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_background_fsync_refuses_writes_before_the_next_one() {
    use keyward::persistence::fs::SimFs;

    let fs = SimFs::new();
    let srv = start_sim(fs.clone(), sim_config("everysec", Vec::new()))
        .await
        .expect("starts");
    let mut a = Raw::connect(srv.addr()).await;
    assert_eq!(a.call(&[b"SET", b"k1", b"v"]).await, b"+OK\r\n");
    fs.fail_syncs(true);
    let mut refused = String::new();
    for _ in 0..200 {
        refused = call(&mut a, &["PING"]).await;
        if refused.starts_with('-') {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        refused.starts_with("-MISCONF Errors writing to the AOF file: Can't fsync"),
        "{refused}"
    );
    let r = call(&mut a, &["SET", "k2", "v"]).await;
    assert!(r.starts_with("-MISCONF"), "{r}");
    srv.shutdown().await;
}

/// WAITAOF 1: answers `[1, 0]` once an fdatasync covers the client's
/// writes — at once under `always`, within the second under `everysec`,
/// never under `no` (the timeout answers `[0, 0]`, as Redis does); at
/// once inside MULTI; with Redis's error when the AOF is turned off while
/// it waits.
#[tokio::test]
async fn waitaof_waits_for_the_fsync_of_the_clients_writes() {
    let dir = temp_dir("waitaof");
    let c = Config {
        appendonly: true,
        appendfsync: "everysec".into(),
        ..config(&dir)
    };
    let srv = start_with(c).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["INCR", "n"]).await;
    assert_eq!(
        call(&mut r, &["WAITAOF", "1", "0", "0"]).await,
        "*2\r\n:1\r\n:0\r\n"
    );
    // A client that never wrote is covered at once.
    let mut idle = srv.raw().await;
    assert_eq!(
        call(&mut idle, &["WAITAOF", "1", "0", "0"]).await,
        "*2\r\n:1\r\n:0\r\n"
    );
    // Replicas never acknowledge: the timeout ends it, local already 1.
    assert_eq!(
        call(&mut r, &["WAITAOF", "1", "1", "50"]).await,
        "*2\r\n:1\r\n:0\r\n"
    );

    ok(&mut r, &["CONFIG", "SET", "appendonly", "no"]).await;
    ok(&mut r, &["CONFIG", "SET", "appendfsync", "no"]).await;
    ok(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await;
    // The first base's commit fsyncs what was logged before it.
    aof_base_done(&mut r).await;
    ok(&mut r, &["INCR", "n"]).await;
    assert_eq!(
        call(&mut r, &["WAITAOF", "1", "0", "50"]).await,
        "*2\r\n:0\r\n:0\r\n"
    );
    ok(&mut r, &["MULTI"]).await;
    ok(&mut r, &["WAITAOF", "1", "0", "0"]).await;
    assert_eq!(call(&mut r, &["EXEC"]).await, "*1\r\n*2\r\n:0\r\n:0\r\n");
    // Waiting forever under `no`, until the AOF goes away.
    r.cmd(&[b"WAITAOF", b"1", b"0", b"0"]).await;
    let mut admin = srv.raw().await;
    ok(&mut admin, &["CONFIG", "SET", "appendonly", "no"]).await;
    assert_eq!(
        s(&r.reply().await),
        "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.\r\n"
    );

    ok(&mut r, &["CONFIG", "SET", "appendfsync", "always"]).await;
    ok(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await;
    ok(&mut r, &["INCR", "n"]).await;
    assert_eq!(
        call(&mut r, &["WAITAOF", "1", "0", "0"]).await,
        "*2\r\n:1\r\n:0\r\n"
    );
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `rename-command`, the AOF holds the names clients sent and
/// keyward's own effects (PEXPIREAT for EXPIRE, SREM for SPOP) under their
/// original names, even a removed one: the replay finds both.
#[tokio::test]
async fn aof_replays_renamed_commands() {
    let dir = temp_dir("aof-renames");
    let c = Config {
        appendonly: true,
        appendfsync: "always".into(),
        rename_command: [
            ("SET", "put"),
            ("EXPIRE", "exp"),
            ("SPOP", "pop1"),
            ("SREM", ""),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect(),
        ..config(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    ok(&mut r, &["put", "k", "v"]).await;
    assert_eq!(call(&mut r, &["exp", "k", "5000"]).await, ":1\r\n");
    assert_eq!(call(&mut r, &["SADD", "s", "a", "b"]).await, ":2\r\n");
    ok(&mut r, &["pop1", "s"]).await;
    assert!(call(&mut r, &["SREM", "s", "a"])
        .await
        .starts_with("-ERR unknown command 'SREM'"));
    let srv = restart(srv, c.clone()).await;
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["GET", "k"]).await, "$1\r\nv\r\n");
    let ttl = call(&mut r, &["TTL", "k"]).await;
    assert!(ttl.starts_with(":4") || ttl.starts_with(":5"), "{ttl}");
    assert_eq!(call(&mut r, &["SCARD", "s"]).await, ":1\r\n");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `CONFIG SET appendonly yes` under `appendfsync always`, with power cuts
/// while the first base is held and after it: no write is acknowledged
/// before the manifest that makes it loadable is durable (replies wait for
/// the base), every cut directory starts, and every acknowledged write is
/// in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_while_the_first_base_is_written_lose_no_acknowledged_write() {
    use keyward::persistence::fs::SimFs;
    use rand::{Rng, SeedableRng};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let fs = SimFs::new();
    let mut c = sim_config("always", Vec::new());
    c.appendonly = false;
    let srv = start_sim(fs.clone(), c.clone()).await.expect("starts");
    let mut admin = Raw::connect(srv.addr()).await;
    fill(&mut admin, 20_000).await;
    srv.shared().persist.hold_aof_rewrites(true);
    ok(&mut admin, &["CONFIG", "SET", "appendonly", "yes"]).await;
    let acked = Arc::new(AtomicU64::new(0));
    let writer = {
        let acked = acked.clone();
        let addr = srv.addr();
        tokio::spawn(async move {
            let mut r = Raw::connect(addr).await;
            for i in 0..400u64 {
                let key = format!("w{i}");
                assert_eq!(r.call(&[b"SET", key.as_bytes(), b"v"]).await, b"+OK\r\n");
                acked.store(i + 1, Ordering::SeqCst);
            }
        })
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut images = Vec::new();
    // While the base is held, no reply goes out.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let a = acked.load(Ordering::SeqCst);
        let mut tear = rand::rngs::StdRng::seed_from_u64(rng.gen());
        images.push((fs.crash(|n| tear.gen_range(0..=n)), a));
    }
    assert_eq!(acked.load(Ordering::SeqCst), 0, "a reply before the base");
    srv.shared().persist.hold_aof_rewrites(false);
    while !writer.is_finished() {
        let a = acked.load(Ordering::SeqCst);
        let mut tear = rand::rngs::StdRng::seed_from_u64(rng.gen());
        images.push((fs.crash(|n| tear.gen_range(0..=n)), a));
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    writer.await.expect("writer");
    srv.shutdown().await;
    let restart = Config {
        appendonly: true,
        ..c
    };
    let mut after_base = 0;
    for (img, a) in images {
        let srv = start_sim(img, restart.clone())
            .await
            .expect("a crashed directory always loads");
        let mut r = Raw::connect(srv.addr()).await;
        if a > 0 {
            after_base += 1;
            let last = format!("w{}", a - 1);
            assert_eq!(
                r.call(&[b"EXISTS", last.as_bytes(), b"key:19999"]).await,
                b":2\r\n",
                "after {a} acks"
            );
        }
        srv.shutdown().await;
    }
    assert!(after_base > 0, "no cut after the base");
}

/// The first base fails (its fdatasync, simulated): as Redis, the AOF
/// stays on and logging, writes are accepted (no MISCONF: a failed
/// rewrite loses nothing), `aof_last_bgrewrite_status` is `err`, and the
/// rewrite is retried until it succeeds; the result then loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_base_is_retried_and_writes_go_on() {
    use keyward::persistence::fs::SimFs;

    let fs = SimFs::new();
    let mut c = sim_config("no", Vec::new());
    c.appendonly = false;
    let srv = start_sim(fs.clone(), c.clone()).await.expect("starts");
    let mut r = Raw::connect(srv.addr()).await;
    fill(&mut r, 2_000).await;
    fs.fail_syncs(true);
    ok(&mut r, &["CONFIG", "SET", "appendonly", "yes"]).await;
    let mut failed = false;
    for _ in 0..250 {
        if info_field(&mut r, "persistence", "aof_last_bgrewrite_status").await == "err" {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failed, "the base must fail");
    assert_eq!(info_field(&mut r, "persistence", "aof_enabled").await, "1");
    assert_eq!(
        info_field(&mut r, "persistence", "aof_last_write_status").await,
        "ok"
    );
    assert_eq!(call(&mut r, &["SET", "during", "1"]).await, "+OK\r\n");
    assert!(srv.shared().persist.aof_waiting());
    fs.fail_syncs(false);
    // cron retries about once a second.
    aof_base_done(&mut r).await;
    assert_eq!(
        info_field(&mut r, "persistence", "aof_last_bgrewrite_status").await,
        "ok"
    );
    assert!(!srv.shared().persist.aof_waiting());
    ok(&mut r, &["SET", "after", "1"]).await;
    srv.shutdown().await;
    let srv = start_sim(
        fs,
        Config {
            appendonly: true,
            ..c
        },
    )
    .await
    .expect("restarts");
    let mut r = Raw::connect(srv.addr()).await;
    assert_eq!(
        call(&mut r, &["EXISTS", "during", "after", "key:1999"]).await,
        ":3\r\n"
    );
    srv.shutdown().await;
}

/// One random command for [`cross_db_writers_replay_to_the_same_keyspace`]:
/// cross-DB writes (MOVE, SWAPDB, COPY … DB, FLUSHDB), transactions and
/// scripts that SELECT, and plain writes, on a few keys so that clients
/// collide.
fn cross_db_command(rng: &mut rand::rngs::StdRng) -> Vec<Vec<String>> {
    use rand::Rng;
    let k = |rng: &mut rand::rngs::StdRng| format!("k{}", rng.gen_range(0..3));
    let d = |rng: &mut rand::rngs::StdRng| rng.gen_range(0..4).to_string();
    let one = |v: &[&str]| vec![v.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    match rng.gen_range(0..100) {
        0..=14 => one(&["INCR", &k(rng)]),
        15..=24 => one(&["SET", &k(rng), &rng.gen_range(0..100).to_string()]),
        25..=32 => one(&["RPUSH", &format!("l{}", rng.gen_range(0..3)), "x"]),
        33..=37 => one(&["DEL", &k(rng)]),
        38..=49 => one(&["MOVE", &k(rng), &d(rng)]),
        50..=55 => one(&["SWAPDB", &d(rng), &d(rng)]),
        56..=63 => one(&["COPY", &k(rng), &k(rng), "DB", &d(rng), "REPLACE"]),
        64..=65 => one(&["FLUSHDB"]),
        66..=71 => one(&["SELECT", &d(rng)]),
        72..=87 => {
            let (d1, d2, k1, k2) = (d(rng), d(rng), k(rng), k(rng));
            let dst = d(rng);
            vec![
                vec!["MULTI".into()],
                vec!["SELECT".into(), d1],
                vec!["INCR".into(), k1.clone()],
                vec!["MOVE".into(), k1, dst],
                vec!["SELECT".into(), d2],
                vec!["INCRBY".into(), k2, "10".into()],
                vec!["EXEC".into()],
            ]
        }
        _ => one(&[
            "EVAL",
            "redis.call('select', ARGV[1]) redis.call('incr', KEYS[1]) \
             redis.call('select', ARGV[2]) redis.call('rpush', KEYS[2], 'y') return 1",
            "2",
            &k(rng),
            &format!("l{}", rng.gen_range(0..3)),
            &d(rng),
            &d(rng),
        ]),
    }
}

/// Several workers (a 4-thread runtime, as `io-threads 4`) and several
/// clients hammer cross-DB writes; the AOF replayed by a restart must give
/// the live server's keyspace (DEBUG DIGEST over every DB, and each DB's
/// size), for several seeds. Effects are logged under the locks that
/// order them, so the log's order is the execution's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_db_writers_replay_to_the_same_keyspace() {
    use rand::SeedableRng;
    for seed in 0..4u64 {
        let dir = temp_dir(&format!("cross-db-{seed}"));
        let mut c = Config {
            appendonly: true,
            appendfsync: "no".into(),
            io_threads: 4,
            ..config(&dir)
        };
        c.accepted.insert("enable-debug-command", "yes".into());
        let srv = start_with(c.clone()).await;
        let mut tasks = Vec::new();
        for client in 0..8u64 {
            let mut r = srv.raw().await;
            tasks.push(tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed * 100 + client);
                for _ in 0..60 {
                    // Pipelines of 10 commands (or transactions) keep every
                    // worker busy, so clients' writes interleave finely.
                    let cmds: Vec<Vec<String>> =
                        (0..10).flat_map(|_| cross_db_command(&mut rng)).collect();
                    let mut out = Vec::new();
                    for c in &cmds {
                        let a: Vec<&[u8]> = c.iter().map(|x| x.as_bytes()).collect();
                        out.extend(crate::support::encode(&a));
                    }
                    r.send(&out).await;
                    for c in &cmds {
                        let reply = s(&r.reply().await);
                        assert!(
                            !reply.starts_with('-')
                                || reply.starts_with("-ERR source and destination"),
                            "{c:?}: {reply}"
                        );
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
        let mut r = srv.raw().await;
        let live = call(&mut r, &["DEBUG", "DIGEST"]).await;
        assert!(live.starts_with('+'), "{live}");
        let mut sizes = Vec::new();
        for db in 0..4 {
            ok(&mut r, &["SELECT", &db.to_string()]).await;
            sizes.push(call(&mut r, &["DBSIZE"]).await);
        }
        let srv = restart(srv, c).await;
        let mut r = srv.raw().await;
        assert_eq!(
            call(&mut r, &["DEBUG", "DIGEST"]).await,
            live,
            "seed {seed}"
        );
        for (db, size) in sizes.iter().enumerate() {
            ok(&mut r, &["SELECT", &db.to_string()]).await;
            assert_eq!(
                &call(&mut r, &["DBSIZE"]).await,
                size,
                "seed {seed} db {db}"
            );
        }
        assert_ne!(live, format!("+{}\r\n", "0".repeat(40)), "an empty run");
        srv.handle.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
