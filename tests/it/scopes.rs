//! Integration tests: what each tenant sees (INFO and CONFIG per DB, the
//! `# Tenancy` section, DB and key visibility, `flushall-scope`,
//! `pubsub-scope`, `script-scope`).

use keyward::config::DbConfig;
use keyward::keyspace::evict::Policy;
use keyward::Config;
use redis::Value;

use crate::support::{start_with, Oracle, Raw, TestServer};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn ok(r: &mut Raw, line: &str) {
    assert_eq!(s(&r.call_str(line).await), "+OK\r\n", "{line}");
}

/// The BullMQ layout: DB 1 a cache (allkeys-lru, 512 MB), DB 2 queues
/// (noeviction, 1 GB), DB 5 named only.
fn tenants() -> Config {
    let mut cache = DbConfig::new(1);
    cache.name = "cache".into();
    cache.maxmemory = 512 << 20;
    cache.maxmemory_policy = Some(Policy::AllKeysLru);
    let mut queue = DbConfig::new(2);
    queue.name = "queue".into();
    queue.maxmemory = 1 << 30;
    queue.maxmemory_policy = Some(Policy::NoEviction);
    let mut named = DbConfig::new(5);
    named.name = "ratelimit".into();
    Config {
        dbs: vec![cache, queue, named],
        ..Config::default()
    }
}

/// Two users pinned to DB 1 (`studio`, only `app:*` keys readable) and
/// DB 2 (`worker`), created by the default user on `admin`.
async fn users(srv: &TestServer) -> (Raw, Raw, Raw) {
    let mut admin = srv.raw().await;
    ok(&mut admin, "ACL SETUSER studio on >sp db=1 ~app:* &* +@all").await;
    ok(&mut admin, "ACL SETUSER worker on >wp db=2 ~* &* +@all").await;
    let mut studio = srv.raw().await;
    ok(&mut studio, "AUTH studio sp").await;
    let mut worker = srv.raw().await;
    ok(&mut worker, "AUTH worker wp").await;
    (admin, studio, worker)
}

/// INFO's `field:value` lines as pairs, section headers left out.
fn fields(info: &str) -> Vec<(String, String)> {
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| !k.starts_with('$') && !k.starts_with('='))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

fn field(info: &str, name: &str) -> Option<String> {
    fields(info)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn get(r: &mut Raw, name: &str) -> String {
    s(&r.call_str(&format!("CONFIG GET {name}")).await)
}

async fn info(r: &mut Raw, section: &str) -> String {
    s(&r.call_str(&format!("INFO {section}")).await)
}

#[tokio::test]
async fn info_memory_reports_the_selected_db() {
    let srv = start_with(tenants()).await;
    let (mut admin, mut studio, mut worker) = users(&srv).await;
    // BullMQ's check: the queue DB must read noeviction.
    let w = info(&mut worker, "memory").await;
    assert_eq!(field(&w, "maxmemory_policy").as_deref(), Some("noeviction"));
    assert_eq!(field(&w, "maxmemory").as_deref(), Some("1073741824"));
    assert_eq!(field(&w, "maxmemory_human").as_deref(), Some("1.00G"));
    let c = info(&mut studio, "memory").await;
    assert_eq!(
        field(&c, "maxmemory_policy").as_deref(),
        Some("allkeys-lru")
    );
    assert_eq!(field(&c, "maxmemory").as_deref(), Some("536870912"));
    assert_eq!(field(&c, "maxmemory_human").as_deref(), Some("512.00M"));
    // DB 0 has no limit of its own: the global values.
    let a = info(&mut admin, "memory").await;
    assert_eq!(field(&a, "maxmemory").as_deref(), Some("0"));
    assert_eq!(field(&a, "maxmemory_policy").as_deref(), Some("noeviction"));
    // A pinned user's used_memory is its DB's: it grows with that DB's
    // data only; the default user's is the process's (README "Memory").
    let before = |i: &str| field(i, "used_memory").unwrap().parse::<u64>().unwrap();
    let w0 = before(&w);
    let dataset = |i: &str| field(i, "used_memory_dataset").unwrap();
    let c0 = dataset(&c);
    let big = vec![b'x'; 100_000];
    assert_eq!(worker.call(&[b"SET", b"job", &big]).await, b"+OK\r\n");
    let w1 = before(&info(&mut worker, "memory").await);
    let c1 = dataset(&info(&mut studio, "memory").await);
    let a1 = before(&info(&mut admin, "memory").await);
    assert!(w1 >= w0 + 100_000, "{w0} -> {w1}");
    assert_eq!(c1, c0, "DB 1 untouched");
    assert!(a1 >= w1, "the process holds every DB: {a1} < {w1}");
    let human = field(&info(&mut worker, "memory").await, "used_memory_human").unwrap();
    assert!(human.ends_with('K'), "{human}");
}

#[tokio::test]
async fn config_get_and_set_act_on_the_selected_db() {
    let srv = start_with(tenants()).await;
    let (mut admin, _studio, _worker) = users(&srv).await;
    let pair = |k: &str, v: &str| format!("*2\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len());
    assert_eq!(get(&mut admin, "maxmemory").await, pair("maxmemory", "0"));
    ok(&mut admin, "SELECT 2").await;
    assert_eq!(
        get(&mut admin, "maxmemory").await,
        pair("maxmemory", "1073741824")
    );
    assert_eq!(
        get(&mut admin, "maxmemory-policy").await,
        pair("maxmemory-policy", "noeviction")
    );
    assert_eq!(
        get(&mut admin, "maxmemory-samples").await,
        pair("maxmemory-samples", "5")
    );
    ok(&mut admin, "SELECT 1").await;
    assert_eq!(
        get(&mut admin, "maxmemory-policy").await,
        pair("maxmemory-policy", "allkeys-lru")
    );
    // SET changes the selected DB only, in the tenancy state and the DB.
    ok(&mut admin, "SELECT 3").await;
    ok(
        &mut admin,
        "CONFIG SET maxmemory 10mb maxmemory-policy VOLATILE-TTL",
    )
    .await;
    let t = &srv.handle.shared().tenancy;
    assert_eq!(t.db(3).effective_maxmemory(0), 10 << 20);
    assert_eq!(t.db(3).policy(), Policy::VolatileTtl);
    assert_eq!(t.db(4).policy(), Policy::NoEviction, "DB 4 untouched");
    assert_eq!(t.db(4).effective_maxmemory(0), 0);
    assert_eq!(t.db(1).policy(), Policy::AllKeysLru);
    assert_eq!(
        get(&mut admin, "maxmemory").await,
        pair("maxmemory", "10485760")
    );
    assert_eq!(
        get(&mut admin, "maxmemory-polic?").await,
        pair("maxmemory-policy", "volatile-ttl")
    );
    let i = info(&mut admin, "memory").await;
    assert_eq!(
        field(&i, "maxmemory_policy").as_deref(),
        Some("volatile-ttl")
    );
    assert_eq!(
        srv.handle.shared().config.read().maxmemory,
        0,
        "the global limit is unchanged"
    );
    ok(&mut admin, "SELECT 4").await;
    assert_eq!(get(&mut admin, "maxmemory").await, pair("maxmemory", "0"));
    // A bad value changes nothing (all or nothing, per DB too).
    ok(&mut admin, "SELECT 3").await;
    let e = s(&admin
        .call_str("CONFIG SET maxmemory 1mb maxmemory-policy lru")
        .await);
    assert!(
        e.starts_with("-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')"),
        "{e}"
    );
    assert_eq!(t.db(3).effective_maxmemory(0), 10 << 20);
    // 0 = back to the global limit; samples stay global.
    ok(&mut admin, "CONFIG SET maxmemory 0 maxmemory-samples 7").await;
    assert_eq!(t.db(3).effective_maxmemory(0), 0);
    assert_eq!(t.samples.load(std::sync::atomic::Ordering::Relaxed), 7);
    // The scope settings: flushall-scope may change, the namespaces not.
    assert_eq!(
        get(&mut admin, "*-scope").await,
        "*6\r\n$14\r\nflushall-scope\r\n$4\r\ndeny\r\n$12\r\npubsub-scope\r\n$6\r\nglobal\r\n$12\r\nscript-scope\r\n$6\r\nglobal\r\n"
    );
    ok(&mut admin, "CONFIG SET flushall-scope own").await;
    let e = s(&admin.call_str("CONFIG SET flushall-scope all").await);
    assert!(e.contains("must be one of the following: deny, own"), "{e}");
    let e = s(&admin.call_str("CONFIG SET pubsub-scope db").await);
    assert!(e.contains("can't set immutable config"), "{e}");
    let e = s(&admin.call_str("CONFIG SET script-scope db").await);
    assert!(e.contains("can't set immutable config"), "{e}");
}

#[tokio::test]
async fn per_db_limit_reaches_the_quota_gate() {
    // CONFIG SET maxmemory in a DB must reach the gate, not only INFO.
    let srv = start_with(Config::default()).await;
    let mut r = srv.raw().await;
    ok(&mut r, "SELECT 6").await;
    ok(
        &mut r,
        "CONFIG SET maxmemory 64kb maxmemory-policy noeviction",
    )
    .await;
    let value = vec![b'v'; 1000];
    let mut refused = None;
    for i in 0..300 {
        let key = format!("k{i}");
        let reply = s(&r.call(&[b"SET", key.as_bytes(), &value]).await);
        if reply != "+OK\r\n" {
            refused = Some((i, reply));
            break;
        }
    }
    let (n, e) = refused.expect("the 64 KB limit refuses a write");
    assert!((30..100).contains(&n), "{n} writes fit");
    assert_eq!(
        e,
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    let t = info(&mut r, "tenancy").await;
    let line = field(&t, "db6").unwrap();
    assert!(
        line.contains(",maxmemory=65536,policy=noeviction,"),
        "{line}"
    );
    assert!(line.contains(",oom_rejected=1,"), "{line}");
    // DB 0 has no limit: other tenants are untouched.
    ok(&mut r, "SELECT 0").await;
    assert_eq!(s(&r.call(&[b"SET", b"a", &value]).await), "+OK\r\n");
    // Back to no limit in DB 6.
    ok(&mut r, "SELECT 6").await;
    ok(&mut r, "CONFIG SET maxmemory 0").await;
    assert_eq!(s(&r.call(&[b"SET", b"more", &value]).await), "+OK\r\n");
}

#[tokio::test]
async fn tenancy_section_lists_dbs_with_keys_names_or_limits() {
    let srv = start_with(tenants()).await;
    let (mut admin, mut studio, mut worker) = users(&srv).await;
    ok(&mut admin, "SELECT 7").await;
    ok(&mut admin, "SET a 1").await;
    ok(&mut admin, "SET b 2 EX 100").await;
    ok(&mut worker, "SET job 1").await;
    let t = info(&mut admin, "tenancy").await;
    assert!(t.starts_with("=") || t.contains("# Tenancy\r\n"), "{t}");
    let dbs: Vec<String> = fields(&t).into_iter().map(|(k, _)| k).collect();
    assert_eq!(dbs, ["db1", "db2", "db5", "db7"]);
    let db7 = field(&t, "db7").unwrap();
    let used7 = db7
        .split(',')
        .find_map(|f| f.strip_prefix("used_memory="))
        .unwrap();
    assert!(used7.parse::<u64>().unwrap() > 0, "{db7}");
    assert_eq!(
        db7,
        format!("name=,keys=2,expires=1,used_memory={used7},maxmemory=0,policy=noeviction,evicted_keys=0,oom_rejected=0,throttled=0,clients=1")
    );
    let db2 = field(&t, "db2").unwrap();
    assert!(
        db2.starts_with("name=queue,keys=1,expires=0,used_memory="),
        "{db2}"
    );
    assert!(
        db2.ends_with(",maxmemory=1073741824,policy=noeviction,evicted_keys=0,oom_rejected=0,throttled=0,clients=1"),
        "{db2}"
    );
    let db5 = field(&t, "db5").unwrap();
    assert!(db5.starts_with("name=ratelimit,keys=0,"), "{db5}");
    // In default INFO and INFO all/everything, after # Keyspace.
    for section in ["", "default", "all", "everything"] {
        let i = if section.is_empty() {
            s(&admin.call_str("INFO").await)
        } else {
            info(&mut admin, section).await
        };
        let k = i.find("# Keyspace\r\n").expect("keyspace");
        let t = i.find("# Tenancy\r\n").expect("tenancy");
        assert!(k < t, "{section}");
    }
    assert!(!info(&mut admin, "memory").await.contains("# Tenancy"));
    // A pinned user sees only its own DB.
    let t = info(&mut studio, "tenancy").await;
    let dbs: Vec<String> = fields(&t).into_iter().map(|(k, _)| k).collect();
    assert_eq!(dbs, ["db1"]);
}

#[tokio::test]
async fn info_keyspace_shows_only_the_users_dbs() {
    let srv = start_with(tenants()).await;
    let (mut admin, mut studio, mut worker) = users(&srv).await;
    ok(&mut studio, "SET app:1 x").await;
    ok(&mut worker, "SET job 1").await;
    ok(&mut admin, "SET top 1").await;
    let keyspace = |i: &str| -> Vec<String> { fields(i).into_iter().map(|(k, _)| k).collect() };
    assert_eq!(
        keyspace(&info(&mut admin, "keyspace").await),
        ["db0", "db1", "db2"]
    );
    assert_eq!(keyspace(&info(&mut studio, "keyspace").await), ["db1"]);
    assert_eq!(keyspace(&info(&mut worker, "keyspace").await), ["db2"]);
    // A user on two DBs sees both; a selector with alldbs sees everything.
    ok(&mut admin, "ACL SETUSER two on >tp db=1,2 ~* +@all").await;
    ok(
        &mut admin,
        "ACL SETUSER sel on >xp db=2 ~* +@all (+info ~* alldbs)",
    )
    .await;
    let mut two = srv.raw().await;
    ok(&mut two, "AUTH two tp").await;
    assert_eq!(keyspace(&info(&mut two, "keyspace").await), ["db1", "db2"]);
    let mut sel = srv.raw().await;
    ok(&mut sel, "AUTH sel xp").await;
    assert_eq!(
        keyspace(&info(&mut sel, "keyspace").await),
        ["db0", "db1", "db2"]
    );
}

#[tokio::test]
async fn scan_keys_and_randomkey_show_only_readable_keys() {
    let srv = start_with(tenants()).await;
    let (mut admin, mut studio, _worker) = users(&srv).await;
    ok(&mut admin, "SELECT 1").await;
    for i in 0..20 {
        ok(&mut admin, &format!("SET app:{i} v")).await;
        ok(&mut admin, &format!("SET secret:{i} v")).await;
    }
    // The admin (default user) sees everything.
    let all: Vec<String> = redis_keys(&mut admin, "*").await;
    assert_eq!(all.len(), 40);
    let mine = redis_keys(&mut studio, "*").await;
    assert_eq!(mine.len(), 20);
    assert!(mine.iter().all(|k| k.starts_with("app:")), "{mine:?}");
    assert!(redis_keys(&mut studio, "secret:*").await.is_empty());
    // SCAN walks the whole table, keeping only readable keys.
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let v = studio
            .call(&[b"SCAN", cursor.as_bytes(), b"COUNT", b"7"])
            .await;
        let (next, keys) = parse_scan(&v);
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|k| k.starts_with("app:")));
    for _ in 0..20 {
        let k = s(&studio.call_str("RANDOMKEY").await);
        assert!(k.contains("app:"), "{k}");
    }
    // Only unreadable keys: RANDOMKEY gives up with nil.
    ok(&mut admin, "SELECT 1").await;
    for i in 0..20 {
        admin.call_str(&format!("DEL app:{i}")).await;
    }
    assert_eq!(s(&studio.call_str("RANDOMKEY").await), "$-1\r\n");
    assert!(s(&admin.call_str("RANDOMKEY").await).contains("secret:"));
    // Write-only patterns (%W~) do not make keys visible.
    ok(&mut admin, "ACL SETUSER wo on >wo db=1 %W~secret:* +@all").await;
    let mut wo = srv.raw().await;
    ok(&mut wo, "AUTH wo wo").await;
    assert!(redis_keys(&mut wo, "*").await.is_empty());
    ok(&mut admin, "ACL SETUSER ro on >ro db=1 %R~secret:1* +@all").await;
    let mut ro = srv.raw().await;
    ok(&mut ro, "AUTH ro ro").await;
    let mut k = redis_keys(&mut ro, "*").await;
    k.sort();
    assert_eq!(k.len(), 11, "secret:1 and secret:10..19: {k:?}");
}

async fn redis_keys(r: &mut Raw, pattern: &str) -> Vec<String> {
    let v = r.call(&[b"KEYS", pattern.as_bytes()]).await;
    bulks(&s(&v))
}

/// The bulk strings of a flat RESP2 array reply.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    lines.next();
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap_or_default().to_string());
        }
    }
    out
}

fn parse_scan(v: &[u8]) -> (String, Vec<String>) {
    let text = s(v);
    let mut parts = text.split("\r\n");
    parts.next(); // *2
    parts.next(); // $len
    let cursor = parts.next().expect("a cursor").to_string();
    let rest: Vec<&str> = parts.collect();
    (cursor, bulks(&rest.join("\r\n")))
}

#[tokio::test]
async fn flushall_scope_deny_refuses_and_logs() {
    let srv = start_with(tenants()).await;
    let (mut admin, mut studio, mut worker) = users(&srv).await;
    ok(&mut studio, "SET app:1 x").await;
    ok(&mut worker, "SET job 1").await;
    assert_eq!(
        s(&worker.call_str("FLUSHALL").await),
        "-NOPERM No permissions to access database\r\n"
    );
    assert_eq!(s(&worker.call_str("DBSIZE").await), ":1\r\n");
    let mut c = srv.client().await;
    let log: Vec<Vec<Value>> = redis::cmd("ACL")
        .arg("LOG")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0][3], Value::BulkString(b"database".to_vec()));
    assert_eq!(log[0][5], Value::BulkString(b"toplevel".to_vec()));
    assert_eq!(log[0][7], Value::BulkString(b"flushall".to_vec()));
    assert_eq!(log[0][9], Value::BulkString(b"worker".to_vec()));
    // The ACL gate refuses it, so MULTI refuses it at queue time and
    // DRYRUN knows.
    ok(&mut worker, "MULTI").await;
    assert_eq!(
        s(&worker.call_str("FLUSHALL").await),
        "-NOPERM No permissions to access database\r\n"
    );
    assert!(s(&worker.call_str("EXEC").await).starts_with("-EXECABORT"));
    // (DRYRUN checks in the caller's DB: ask from the worker's own.)
    let mut in2 = srv.raw().await;
    ok(&mut in2, "SELECT 2").await;
    assert!(s(&in2.call_str("ACL DRYRUN worker flushall").await)
        .contains("has no permissions to access database"));
    assert_eq!(s(&in2.call_str("ACL DRYRUN worker get x").await), "+OK\r\n");
    // The default user keeps Redis's FLUSHALL: every DB.
    ok(&mut admin, "FLUSHALL").await;
    assert_eq!(s(&worker.call_str("DBSIZE").await), ":0\r\n");
    assert_eq!(s(&studio.call_str("DBSIZE").await), ":0\r\n");
}

#[tokio::test]
async fn flushall_scope_own_flushes_only_the_users_dbs() {
    let config = Config {
        flushall_own: true,
        ..tenants()
    };
    let srv = start_with(config).await;
    let (mut admin, mut studio, mut worker) = users(&srv).await;
    ok(&mut studio, "SET app:1 x").await;
    ok(&mut worker, "SET job 1").await;
    ok(&mut admin, "SET top 1").await;
    let mut in2 = srv.raw().await;
    ok(&mut in2, "SELECT 2").await;
    assert_eq!(
        s(&in2.call_str("ACL DRYRUN worker flushall").await),
        "+OK\r\n"
    );
    ok(&mut worker, "FLUSHALL").await;
    ok(&mut worker, "FLUSHALL ASYNC").await;
    assert_eq!(s(&worker.call_str("DBSIZE").await), ":0\r\n");
    assert_eq!(s(&studio.call_str("DBSIZE").await), ":1\r\n", "DB 1 intact");
    assert_eq!(s(&admin.call_str("DBSIZE").await), ":1\r\n", "DB 0 intact");
    assert_eq!(
        s(&worker.call_str("FLUSHALL NOW").await),
        "-ERR syntax error\r\n"
    );
    // A user on two DBs flushes both, and nothing else.
    ok(&mut admin, "ACL SETUSER two on >tp db=1,3 ~* +@all").await;
    ok(&mut admin, "SELECT 3").await;
    ok(&mut admin, "SET three 1").await;
    ok(&mut admin, "SELECT 0").await;
    let mut two = srv.raw().await;
    ok(&mut two, "AUTH two tp").await;
    ok(&mut two, "FLUSHALL").await;
    assert_eq!(s(&studio.call_str("DBSIZE").await), ":0\r\n");
    assert_eq!(s(&admin.call_str("DBSIZE").await), ":1\r\n");
    ok(&mut admin, "SELECT 3").await;
    assert_eq!(s(&admin.call_str("DBSIZE").await), ":0\r\n");
}

/// For the default user the memory section keeps Redis's field names and
/// CONFIG GET the shapes Redis gives.
#[tokio::test]
async fn differential_info_memory_and_config_get() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let srv = start_with(Config::default()).await;
    let mut ours = srv.raw().await;
    let mut theirs = oracle.raw().await;
    let o = info(&mut ours, "memory").await;
    let t = info(&mut theirs, "memory").await;
    let names = |i: &str| -> Vec<String> { fields(i).into_iter().map(|(k, _)| k).collect() };
    let theirs_names = names(&t);
    for n in names(&o) {
        assert!(
            theirs_names.contains(&n),
            "{n} is not a Redis INFO memory field"
        );
    }
    for f in ["maxmemory", "maxmemory_human", "maxmemory_policy"] {
        assert_eq!(field(&o, f), field(&t, f), "{f}");
    }
    for line in [
        "CONFIG GET maxmemory",
        "CONFIG GET maxmemory-policy",
        "CONFIG GET maxmemory-samples",
        "CONFIG SET maxmemory 1mb",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory-policy allkeys-lru",
        "CONFIG GET maxmemory-policy",
        "CONFIG SET maxmemory-policy nosuch",
        "CONFIG SET maxmemory 0 maxmemory-policy noeviction",
        "CONFIG SET maxmemory-samples 0",
        "CONFIG GET maxmemory",
        "CONFIG GET nosuch-*",
    ] {
        let a = s(&ours.call_str(line).await);
        let b = s(&theirs.call_str(line).await);
        if line.contains("nosuch") && line.starts_with("CONFIG SET") {
            // Same error, our list of policies is in another order.
            assert!(a.starts_with("-ERR CONFIG SET failed"), "{line}: {a}");
            assert!(b.starts_with("-ERR CONFIG SET failed"), "{line}: {b}");
            continue;
        }
        assert_eq!(a, b, "{line}");
    }
    let a = info(&mut ours, "memory").await;
    let b = info(&mut theirs, "memory").await;
    assert_eq!(field(&a, "maxmemory_policy"), field(&b, "maxmemory_policy"));
}

async fn subscriber(srv: &TestServer, db: usize, line: &str) -> Raw {
    let mut r = srv.raw().await;
    ok(&mut r, &format!("SELECT {db}")).await;
    r.cmd(&line.split(' ').map(str::as_bytes).collect::<Vec<_>>())
        .await;
    let confirm = s(&r.reply().await);
    assert!(confirm.contains("subscribe"), "{confirm}");
    r
}

#[tokio::test]
async fn pubsub_scope_db_keeps_channels_per_db() {
    let config = Config {
        pubsub_per_db: true,
        ..Config::default()
    };
    let srv = start_with(config).await;
    let mut sub2 = subscriber(&srv, 2, "SUBSCRIBE news").await;
    let mut psub2 = subscriber(&srv, 2, "PSUBSCRIBE n*").await;
    let mut sub3 = subscriber(&srv, 3, "SUBSCRIBE news").await;
    let mut p = srv.raw().await;
    ok(&mut p, "SELECT 2").await;
    assert_eq!(s(&p.call_str("PUBLISH news hi").await), ":2\r\n");
    assert_eq!(
        s(&sub2.reply().await),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n",
        "the channel shows without its DB"
    );
    assert_eq!(
        s(&psub2.reply().await),
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        s(&p.call_str("PUBSUB CHANNELS").await),
        "*1\r\n$4\r\nnews\r\n"
    );
    assert_eq!(
        s(&p.call_str("PUBSUB NUMSUB news other").await),
        "*4\r\n$4\r\nnews\r\n:1\r\n$5\r\nother\r\n:0\r\n"
    );
    assert_eq!(s(&p.call_str("PUBSUB NUMPAT").await), ":1\r\n");
    // DB 3 has its own "news" and no pattern.
    ok(&mut p, "SELECT 3").await;
    assert_eq!(s(&p.call_str("PUBLISH news db3").await), ":1\r\n");
    assert_eq!(
        s(&sub3.reply().await),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$3\r\ndb3\r\n"
    );
    assert_eq!(s(&p.call_str("PUBSUB NUMPAT").await), ":0\r\n");
    ok(&mut p, "SELECT 4").await;
    assert_eq!(s(&p.call_str("PUBLISH news nobody").await), ":0\r\n");
    assert_eq!(s(&p.call_str("PUBSUB CHANNELS *").await), "*0\r\n");
    assert_eq!(
        s(&p.call_str("PUBSUB NUMSUB news").await),
        "*2\r\n$4\r\nnews\r\n:0\r\n"
    );
    // Shard channels are per DB too.
    let mut ssub = subscriber(&srv, 5, "SSUBSCRIBE orders").await;
    assert_eq!(s(&p.call_str("SPUBLISH orders x").await), ":0\r\n");
    ok(&mut p, "SELECT 5").await;
    assert_eq!(s(&p.call_str("SPUBLISH orders x").await), ":1\r\n");
    assert_eq!(
        s(&ssub.reply().await),
        "*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        s(&p.call_str("PUBSUB SHARDCHANNELS").await),
        "*1\r\n$6\r\norders\r\n"
    );
    // UNSUBSCRIBE shows plain names, with or without arguments.
    assert_eq!(
        s(&sub2.call_str("UNSUBSCRIBE").await),
        "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n"
    );
    assert_eq!(
        s(&psub2.call_str("PUNSUBSCRIBE n*").await),
        "*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n"
    );
    ok(&mut p, "SELECT 2").await;
    assert_eq!(s(&p.call_str("PUBLISH news late").await), ":0\r\n");
    assert_eq!(s(&p.call_str("PUBSUB NUMPAT").await), ":0\r\n");
    // A RESP3 subscriber that SELECTs keeps its DB 2 subscription, and a
    // named UNSUBSCRIBE means the current DB's channel.
    let mut r3 = srv.raw().await;
    assert!(s(&r3.call_str("HELLO 3").await).starts_with('%'));
    ok(&mut r3, "SELECT 2").await;
    assert!(s(&r3.call_str("SUBSCRIBE news").await).starts_with(">3"));
    ok(&mut r3, "SELECT 6").await;
    assert_eq!(
        s(&r3.call_str("UNSUBSCRIBE news").await),
        ">3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n",
        "DB 6 had no such subscription"
    );
    assert_eq!(s(&p.call_str("PUBLISH news still").await), ":1\r\n");
}

#[tokio::test]
async fn pubsub_scope_global_is_redis() {
    let srv = start_with(Config::default()).await;
    let mut sub = subscriber(&srv, 2, "SUBSCRIBE news").await;
    let mut psub = subscriber(&srv, 5, "PSUBSCRIBE n*").await;
    let mut p = srv.raw().await;
    ok(&mut p, "SELECT 3").await;
    assert_eq!(s(&p.call_str("PUBLISH news hi").await), ":2\r\n");
    assert_eq!(
        s(&sub.reply().await),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        s(&psub.reply().await),
        "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        s(&p.call_str("PUBSUB CHANNELS").await),
        "*1\r\n$4\r\nnews\r\n"
    );
    assert_eq!(s(&p.call_str("PUBSUB NUMPAT").await), ":1\r\n");
    assert_eq!(
        s(&p.call_str("PUBSUB NUMSUB news").await),
        "*2\r\n$4\r\nnews\r\n:1\r\n"
    );
}

const SCRIPT: &str = "return 'scoped'";

async fn load(r: &mut Raw) -> String {
    let reply = s(&r.call(&[b"SCRIPT", b"LOAD", SCRIPT.as_bytes()]).await);
    reply.lines().nth(1).unwrap_or_default().to_string()
}

#[tokio::test]
async fn script_scope_db_keeps_a_cache_per_db() {
    let config = Config {
        script_per_db: true,
        ..Config::default()
    };
    let srv = start_with(config).await;
    let mut r = srv.raw().await;
    ok(&mut r, "SELECT 1").await;
    let sha = load(&mut r).await;
    assert_eq!(sha.len(), 40);
    let evalsha = |sha: &str| format!("EVALSHA {sha} 0");
    assert_eq!(s(&r.call_str(&evalsha(&sha)).await), "$6\r\nscoped\r\n");
    assert_eq!(
        s(&r.call_str(&format!("SCRIPT EXISTS {sha}")).await),
        "*1\r\n:1\r\n"
    );
    ok(&mut r, "SELECT 2").await;
    assert_eq!(
        s(&r.call_str(&evalsha(&sha)).await),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(
        s(&r.call_str(&format!("EVALSHA_RO {sha} 0")).await),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(
        s(&r.call_str(&format!("SCRIPT EXISTS {sha}")).await),
        "*1\r\n:0\r\n"
    );
    // EVAL caches in the current DB only.
    assert_eq!(
        s(&r.call(&[b"EVAL", SCRIPT.as_bytes(), b"0"]).await),
        "$6\r\nscoped\r\n"
    );
    assert_eq!(s(&r.call_str(&evalsha(&sha)).await), "$6\r\nscoped\r\n");
    ok(&mut r, "SELECT 3").await;
    assert!(s(&r.call_str(&evalsha(&sha)).await).starts_with("-NOSCRIPT"));
    // SCRIPT FLUSH empties every DB's cache.
    ok(&mut r, "SCRIPT FLUSH").await;
    ok(&mut r, "SELECT 1").await;
    assert!(s(&r.call_str(&evalsha(&sha)).await).starts_with("-NOSCRIPT"));
}

#[tokio::test]
async fn script_scope_global_is_redis() {
    let srv = start_with(Config::default()).await;
    let mut r = srv.raw().await;
    ok(&mut r, "SELECT 1").await;
    let sha = load(&mut r).await;
    ok(&mut r, "SELECT 2").await;
    assert_eq!(
        s(&r.call_str(&format!("EVALSHA {sha} 0")).await),
        "$6\r\nscoped\r\n"
    );
    assert_eq!(
        s(&r.call_str(&format!("SCRIPT EXISTS {sha}")).await),
        "*1\r\n:1\r\n"
    );
}
