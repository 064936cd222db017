//! Tests: INFO memory's two views (the process's for a user who may use
//! every DB, its own DBs' for a pinned user), client buffer accounting,
//! and connection buffers that shrink after a big request or reply and
//! while idle (CLIENT LIST's rbs/qbuf/tot-mem). No RSS or timing asserts:
//! benches/mem-storm.sh and benches/idle-conns.sh measure those.

use std::time::Duration;

use crate::support::{self, start, Oracle, Raw};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn ok(r: &mut Raw, line: &str) {
    assert_eq!(s(&r.call_str(line).await), "+OK\r\n", "{line}");
}

/// Redis 7.2's INFO memory fields, in its order.
const REDIS_72_FIELDS: &[&str] = &[
    "used_memory",
    "used_memory_human",
    "used_memory_rss",
    "used_memory_rss_human",
    "used_memory_peak",
    "used_memory_peak_human",
    "used_memory_peak_perc",
    "used_memory_overhead",
    "used_memory_startup",
    "used_memory_dataset",
    "used_memory_dataset_perc",
    "allocator_allocated",
    "allocator_active",
    "allocator_resident",
    "total_system_memory",
    "total_system_memory_human",
    "used_memory_lua",
    "used_memory_vm_eval",
    "used_memory_lua_human",
    "used_memory_scripts_eval",
    "number_of_cached_scripts",
    "number_of_functions",
    "number_of_libraries",
    "used_memory_vm_functions",
    "used_memory_vm_total",
    "used_memory_vm_total_human",
    "used_memory_functions",
    "used_memory_scripts",
    "used_memory_scripts_human",
    "maxmemory",
    "maxmemory_human",
    "maxmemory_policy",
    "allocator_frag_ratio",
    "allocator_frag_bytes",
    "allocator_rss_ratio",
    "allocator_rss_bytes",
    "rss_overhead_ratio",
    "rss_overhead_bytes",
    "mem_fragmentation_ratio",
    "mem_fragmentation_bytes",
    "mem_not_counted_for_evict",
    "mem_replication_backlog",
    "mem_total_replication_buffers",
    "mem_clients_slaves",
    "mem_clients_normal",
    "mem_cluster_links",
    "mem_aof_buffer",
    "mem_allocator",
    "active_defrag_running",
    "lazyfree_pending_objects",
    "lazyfreed_objects",
];

/// INFO memory as (field, value) pairs, in order.
async fn memory(r: &mut Raw) -> Vec<(String, String)> {
    let text = s(&r.call_str("INFO memory").await);
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| !k.starts_with('$') && !k.starts_with('='))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

fn get<'a>(info: &'a [(String, String)], name: &str) -> &'a str {
    info.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn num(info: &[(String, String)], name: &str) -> u64 {
    get(info, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} not a number"))
}

/// One client's CLIENT LIST fields, by id.
async fn client_fields(admin: &mut Raw, id: u64) -> Vec<(String, String)> {
    let list = s(&admin.call_str(&format!("CLIENT LIST ID {id}")).await);
    let line = list
        .lines()
        .find(|l| l.contains("id="))
        .unwrap_or_else(|| panic!("client {id} listed: {list}"));
    line.split(' ')
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn client_id(r: &mut Raw) -> u64 {
    let reply = s(&r.call_str("CLIENT ID").await);
    reply.trim_start_matches(':').trim().parse().expect("an id")
}

/// Polls `$cond` every 100 ms for up to `$secs` until it holds (the
/// cron works once a second; no timing is asserted, only that it happens).
macro_rules! eventually {
    ($secs:expr, $cond:expr) => {{
        let mut held = false;
        for _ in 0..$secs * 10 {
            if $cond {
                held = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        held
    }};
}

#[tokio::test]
async fn info_memory_has_redis_72_fields_in_order() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let info = memory(&mut admin).await;
    let names: Vec<&str> = info.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, REDIS_72_FIELDS);
    // The list is the oracle's own (Redis 7.0 and 7.2 have the same one).
    if let Some(oracle) = Oracle::start().await {
        let mut theirs = oracle.raw().await;
        let t = memory(&mut theirs).await;
        let tn: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, tn);
    }
}

/// The default user (every DB) sees the process: used_memory is the
/// allocator's count, holding the dataset, the startup figure and the
/// clients; RSS and the allocator lines are the process's.
#[tokio::test]
async fn admin_sees_the_process_figures() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let before = memory(&mut admin).await;
    let used = num(&before, "used_memory");
    let dataset = num(&before, "used_memory_dataset");
    assert!(used >= dataset, "{used} < {dataset}");
    assert_eq!(num(&before, "used_memory_overhead"), used - dataset);
    assert!(num(&before, "used_memory_startup") <= used);
    assert!(
        num(&before, "used_memory_startup") > 0,
        "counted from the start"
    );
    assert_eq!(num(&before, "allocator_allocated"), used);
    assert!(num(&before, "allocator_active") > 0);
    assert!(num(&before, "used_memory_rss") > 0);
    assert!(num(&before, "used_memory_peak") >= used);
    let ratio: f64 = get(&before, "mem_fragmentation_ratio").parse().unwrap();
    assert!(ratio > 0.0);
    // At least this client and its structures.
    assert!(num(&before, "mem_clients_normal") > 0);
    // 1 MiB of data shows in the dataset and in used_memory.
    let big = vec![b'x'; 1 << 20];
    assert_eq!(admin.call(&[b"SET", b"big", &big]).await, b"+OK\r\n");
    let after = memory(&mut admin).await;
    let dataset2 = num(&after, "used_memory_dataset");
    assert!(dataset2 >= dataset + (1 << 20), "{dataset} -> {dataset2}");
    assert!(num(&after, "used_memory") >= dataset2);
    assert!(num(&after, "used_memory_peak") >= num(&after, "used_memory"));
    // MEMORY STATS reads the same figures.
    let stats = s(&admin.call_str("MEMORY STATS").await);
    assert!(stats.contains("total.allocated"), "{stats}");
    let d = stats
        .split("dataset.bytes\r\n:")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("dataset.bytes");
    assert_eq!(d, dataset2);
}

/// A client that pipelines big replies and does not read holds them as
/// output: INFO's mem_clients_normal (and the client's tot-mem) grow, and
/// go back down once the client is gone.
#[tokio::test]
async fn clients_figure_grows_with_pending_output() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    let big = vec![b'v'; 256 * 1024];
    assert_eq!(admin.call(&[b"SET", b"big", &big]).await, b"+OK\r\n");
    let base = num(&memory(&mut admin).await, "mem_clients_normal");
    let mut greedy = srv.raw().await;
    let mut pipeline = Vec::new();
    for _ in 0..64 {
        pipeline.extend_from_slice(&support::encode(&[b"GET", b"big"]));
    }
    greedy.send(&pipeline).await;
    // 16 MiB of replies: far more than the socket buffers take.
    let mut peak = 0;
    let grew = eventually!(10, {
        peak = num(&memory(&mut admin).await, "mem_clients_normal");
        peak > base + (4 << 20)
    });
    assert!(grew, "clients figure {base} -> {peak}");
    let used = num(&memory(&mut admin).await, "used_memory");
    assert!(used > peak, "used_memory {used} holds the clients' {peak}");
    drop(greedy);
    let shrank = eventually!(
        10,
        num(&memory(&mut admin).await, "mem_clients_normal") < base + (1 << 20)
    );
    assert!(shrank, "the output went with the client");
}

/// A user pinned to a DB sees that DB: used_memory is its dataset and
/// tables plus its clients, and no process-wide figure (RSS, allocator,
/// startup, scripts) reveals what other tenants use.
#[tokio::test]
async fn pinned_user_sees_only_its_db() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    ok(&mut admin, "ACL SETUSER worker on >wp db=2 ~* &* +@all").await;
    let mut worker = srv.raw().await;
    ok(&mut worker, "AUTH worker wp").await;
    let w = memory(&mut worker).await;
    let used = num(&w, "used_memory");
    let dataset = num(&w, "used_memory_dataset");
    let clients = num(&w, "mem_clients_normal");
    assert!(clients > 0, "its own connection");
    assert!(used >= dataset + clients);
    assert_eq!(num(&w, "used_memory_overhead"), used - dataset);
    for f in [
        "used_memory_rss",
        "allocator_allocated",
        "allocator_active",
        "allocator_resident",
        "used_memory_peak",
    ] {
        assert_eq!(num(&w, f), used, "{f} is the DB's figure");
    }
    assert_eq!(num(&w, "used_memory_startup"), 0);
    assert_eq!(num(&w, "used_memory_vm_total"), 0);
    assert_eq!(get(&w, "mem_fragmentation_ratio"), "1.00");
    // The admin's figure is the process's, far above one empty DB's.
    let a = memory(&mut admin).await;
    assert!(num(&a, "used_memory") > used);
    assert!(num(&a, "used_memory_rss") > num(&w, "used_memory_rss"));
    // Another tenant's data does not move the pinned figure's dataset.
    ok(&mut admin, "SELECT 3").await;
    let big = vec![b'x'; 1 << 20];
    assert_eq!(admin.call(&[b"SET", b"other", &big]).await, b"+OK\r\n");
    let w2 = memory(&mut worker).await;
    assert_eq!(num(&w2, "used_memory_dataset"), dataset);
    assert!(num(&w2, "used_memory") < 1 << 20);
    // Its own data does.
    assert_eq!(worker.call(&[b"SET", b"mine", &big]).await, b"+OK\r\n");
    let w3 = memory(&mut worker).await;
    assert!(num(&w3, "used_memory_dataset") >= dataset + (1 << 20));
}

/// Per-connection buffers: none before the first request, a big request
/// or reply does not leave its buffer behind, and an idle client's
/// buffers are freed by the cron (CLIENT LIST's rbs and tot-mem).
#[tokio::test]
async fn connection_buffers_shrink() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    // A client that has sent nothing holds no buffer yet.
    let _silent = Raw::connect(srv.addr).await;
    let idle_mem = eventually!(5, {
        let list = s(&admin.call_str("CLIENT LIST").await);
        list.lines().filter(|l| l.contains("id=")).count() == 2
    });
    assert!(idle_mem, "the silent client is registered");
    let list = s(&admin.call_str("CLIENT LIST").await);
    let silent = list
        .lines()
        .find(|l| l.contains("cmd=NULL"))
        .expect("the silent client");
    assert!(silent.contains(" rbs=0 "), "{silent}");
    let tot = |l: &str| -> u64 {
        l.split(' ')
            .find_map(|f| f.strip_prefix("tot-mem="))
            .and_then(|v| v.parse().ok())
            .expect("tot-mem")
    };
    let bare = tot(silent);
    assert!(bare < 4096, "an unused client's structures only: {bare}");

    let mut c = srv.raw().await;
    let id = client_id(&mut c).await;
    // Half of a 1 MiB request: buffered, and counted.
    let value = vec![b'g'; 1 << 20];
    let request = support::encode(&[b"SET", b"garbage", &value]);
    let (head, tail) = request.split_at(request.len() / 2);
    c.send(head).await;
    let buffered = eventually!(5, {
        let f = client_fields(&mut admin, id).await;
        let q: u64 = get(&f, "qbuf").parse().unwrap();
        q >= (head.len() as u64) / 2
    });
    assert!(buffered, "the partial request shows in qbuf");
    let f = client_fields(&mut admin, id).await;
    let tot_mid: u64 = get(&f, "tot-mem").parse().unwrap();
    assert!(
        tot_mid >= 256 * 1024,
        "tot-mem counts the big buffer: {tot_mid}"
    );
    c.send(tail).await;
    assert_eq!(c.reply().await, b"+OK\r\n");
    // The big read buffer went with the request that needed it.
    let f = client_fields(&mut admin, id).await;
    assert_eq!(get(&f, "qbuf"), "0");
    let rbs: u64 = get(&f, "rbs").parse().unwrap();
    assert!(rbs <= 64 * 1024, "rbs after the big request: {rbs}");
    // A 1 MiB reply: its buffer is freed once written.
    let got = c.call(&[b"GET", b"garbage"]).await;
    assert_eq!(support::bulk_payload(&got).expect("bulk").len(), 1 << 20);
    let f = client_fields(&mut admin, id).await;
    let tot_after: u64 = get(&f, "tot-mem").parse().unwrap();
    assert!(
        tot_after < 128 * 1024,
        "tot-mem after the big reply: {tot_after}"
    );
    // Idle: the cron frees what is left.
    let freed = eventually!(10, {
        let f = client_fields(&mut admin, id).await;
        get(&f, "rbs") == "0" && get(&f, "tot-mem").parse::<u64>().unwrap() == bare
    });
    let f = client_fields(&mut admin, id).await;
    assert!(freed, "idle client's buffers freed: {f:?}");
    assert_eq!(get(&f, "qbuf-free"), "0");
    // And it still works: buffers come back on demand.
    assert_eq!(c.call(&[b"PING"]).await, b"+PONG\r\n");
    assert_eq!(c.call(&[b"GET", b"nosuch"]).await, b"$-1\r\n");
}

/// MEMORY PURGE answers +OK for everyone allowed to run it, as Redis.
#[tokio::test]
async fn memory_purge_answers_ok() {
    let srv = start().await;
    let mut admin = srv.raw().await;
    ok(&mut admin, "MEMORY PURGE").await;
    assert!(num(&memory(&mut admin).await, "used_memory") > 0);
}
