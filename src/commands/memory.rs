//! MEMORY USAGE, STATS, DOCTOR, PURGE, MALLOC-STATS and HELP.
//!
//! STATS has Redis 7.2's fields and shape, filled from what keyward
//! accounts exactly (each DB's entries and table, clients' buffers) and
//! from the process (RSS): `total.allocated` is that accounting, not an
//! allocator's count, and `startup.allocated` is 0 (keyward does not
//! measure a baseline). The allocator figures (`allocator.*`) are the
//! process's resident memory, so the allocator ratios read 1 and the
//! whole gap between the accounting and RSS shows as `fragmentation`.
//! A DB-restricted user sees only its own DBs (db.N entries, keys and
//! dataset); the process figures are the ones INFO memory shows anyone.

use std::sync::atomic::Ordering;

use crate::commands::Outcome;

use super::args::is;
use super::errors::CmdResult;
use super::spec::{flags::*, CommandSpec, Group, Tenant};
use super::Ctx;
use crate::protocol::parse::parse_i64;

const G: Group = Group::Server;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("memory", G, SUBS).doc(
    "A container for memory diagnostics commands.",
    "4.0.0",
    "Depends on subcommand.",
)];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("usage", -3, READONLY, G, usage)
        .keys(2, 2, 1)
        .doc(
            "Estimates the memory usage of a key.",
            "4.0.0",
            "O(N) where N is the number of samples.",
        ),
    CommandSpec::new("stats", 2, NO_DB_LOCK, G, stats)
        .tenant(Tenant::Own)
        .doc("Returns details about memory usage.", "4.0.0", "O(1)"),
    CommandSpec::new("doctor", 2, NO_DB_LOCK, G, doctor)
        .tenant(Tenant::Own)
        .doc("Outputs a memory problems report.", "4.0.0", "O(1)"),
    CommandSpec::new("purge", 2, NO_DB_LOCK, G, purge).doc(
        "Asks the allocator to release memory.",
        "4.0.0",
        "Depends on how much memory is allocated, could be slow",
    ),
    CommandSpec::new("malloc-stats", 2, NO_DB_LOCK, G, malloc_stats).doc(
        "Returns the allocator statistics.",
        "4.0.0",
        "Depends on how much memory is allocated, could be slow",
    ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, help).doc(
        "Returns helpful text about the different subcommands.",
        "4.0.0",
        "O(1)",
    ),
];

/// MEMORY USAGE key [SAMPLES count]: the bytes the key costs, from the
/// same accounting as the DB's `maxmemory` (its entry block and its
/// collection's own allocations), so exact: SAMPLES is checked as Redis
/// does and then has nothing left to change.
fn usage(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut i = 3;
    while i < argv.len() {
        if is(argv[i], "samples") && i + 1 < argv.len() {
            let n = parse_i64(argv[i + 1]).ok_or(super::errors::NOT_INTEGER)?;
            if n < 0 {
                return Err(super::errors::SYNTAX);
            }
            i += 2;
        } else {
            return Err(super::errors::SYNTAX);
        }
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read_quiet(argv[2], now) {
        Some(e) => out.int(e.mem_usage() as i64),
        None => out.null(),
    }
    Ok(Outcome::Done)
}

/// The figures MEMORY STATS reports (and DOCTOR reads).
struct MemoryStats {
    peak: u64,
    total: u64,
    clients_normal: u64,
    lua_caches: u64,
    /// (DB index, table overhead) for each visible DB with keys.
    dbs: Vec<(usize, u64)>,
    overhead: u64,
    keys: u64,
    dataset: u64,
    rss: u64,
}

fn memory_stats(ctx: &Ctx<'_>) -> MemoryStats {
    let srv = ctx.srv;
    let user = &ctx.client.user;
    let mut dbs = Vec::new();
    let (mut keys, mut dataset, mut tables) = (0u64, 0u64, 0u64);
    for i in 0..srv.keyspace.len() {
        if !user.sees_db(i) {
            continue;
        }
        let db = srv.keyspace.lock(i);
        let overhead = (db.used_memory() - db.entry_memory()) as u64;
        dataset += db.entry_memory() as u64;
        tables += overhead;
        if !db.is_empty() {
            keys += db.len() as u64;
            dbs.push((i, overhead));
        }
    }
    // Each client's read and write buffers, as CLIENT LIST's tot-mem.
    let clients_normal: u64 = srv
        .clients
        .snapshot()
        .iter()
        .filter(|c| !user.is_restricted() || user.sees_db(c.db.load(Ordering::Relaxed)))
        .map(|c| 2 * 16384 + u64::from(c.qbuf.load(Ordering::Relaxed)))
        .sum();
    let lua_caches = 0;
    let overhead = tables + clients_normal + lua_caches;
    let total = overhead + dataset;
    let peak = if user.is_restricted() {
        total
    } else {
        srv.memory_peak
            .fetch_max(total, Ordering::Relaxed)
            .max(total)
    };
    MemoryStats {
        peak,
        total,
        clients_normal,
        lua_caches,
        dbs,
        overhead,
        keys,
        dataset,
        rss: super::server::rss_bytes(),
    }
}

/// MEMORY STATS: Redis 7.2's fields, in its order (a map in RESP3).
fn stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let m = memory_stats(ctx);
    let out = &mut *ctx.out;
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    out.map(27 + m.dbs.len());
    let int = |out: &mut crate::protocol::ReplyBuf, k: &str, v: u64| {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    };
    let dbl = |out: &mut crate::protocol::ReplyBuf, k: &str, v: f64| {
        out.bulk(k.as_bytes());
        out.double(v);
    };
    int(out, "peak.allocated", m.peak);
    int(out, "total.allocated", m.total);
    int(out, "startup.allocated", 0);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients_normal);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", m.lua_caches);
    int(out, "functions.caches", 0);
    for &(i, overhead) in &m.dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", overhead);
        // Expiry lives in each key's block: no second table.
        int(out, "overhead.hashtable.expires", 0);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", m.overhead);
    int(out, "keys.count", m.keys);
    int(
        out,
        "keys.bytes-per-key",
        m.total.checked_div(m.keys).unwrap_or(0),
    );
    int(out, "dataset.bytes", m.dataset);
    dbl(out, "dataset.percentage", pct(m.dataset, m.total));
    dbl(out, "peak.percentage", pct(m.total, m.peak));
    // The allocator's own counts are not kept: its resident memory is the
    // process's, and what it holds allocated is our accounting.
    int(out, "allocator.allocated", m.total);
    int(out, "allocator.active", m.rss);
    int(out, "allocator.resident", m.rss);
    dbl(out, "allocator-fragmentation.ratio", ratio(m.rss, m.total));
    int(
        out,
        "allocator-fragmentation.bytes",
        m.rss.saturating_sub(m.total),
    );
    dbl(out, "allocator-rss.ratio", 1.0);
    int(out, "allocator-rss.bytes", 0);
    dbl(out, "rss-overhead.ratio", 1.0);
    int(out, "rss-overhead.bytes", 0);
    dbl(out, "fragmentation", ratio(m.rss, m.total));
    int(out, "fragmentation.bytes", m.rss.saturating_sub(m.total));
    Ok(Outcome::Done)
}

/// MEMORY DOCTOR: Redis's report, from the same figures as STATS. Below
/// 5 MB of accounted memory Redis declines to judge, and so do we.
fn doctor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let m = memory_stats(ctx);
    let text = if m.total < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else {
        let big_peak = m.peak as f64 / m.total as f64 > 1.5;
        let high_rss = m.rss as f64 / m.total as f64 > 1.4 && m.rss - m.total > 10 << 20;
        let clients = ctx.srv.clients.snapshot().len() as u64;
        let big_client_buf = clients > 0 && m.clients_normal / clients > 200 * 1024;
        if !big_peak && !high_rss && !big_client_buf {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
        } else {
            let mut s = "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
                .to_string();
            if big_peak {
                s.push_str(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
            }
            if high_rss {
                s.push_str(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"mimalloc\".\n\n");
            }
            if big_client_buf {
                s.push_str(" * Big client buffers: The clients output buffers are in general too big, over 200KB per client on average. This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
            }
            s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
            s
        }
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(Outcome::Done)
}

extern "C" {
    /// mimalloc's `mi_collect`: returns freed pages to the OS. Linked
    /// through the `mimalloc` dependency (libmimalloc-sys builds the C
    /// library), whether or not mimalloc is this process's global
    /// allocator (the `keyward` binary's is; an embedder's may not be).
    fn mi_collect(force: bool);
}

/// MEMORY PURGE: mimalloc (the binary's global allocator) returns its
/// free pages to the OS (`mi_collect(true)`), and on glibc the system
/// heap, which an embedder may use instead, is trimmed (`malloc_trim`).
/// Redis purges jemalloc's dirty pages the same way and answers +OK.
fn purge(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    // SAFETY: mi_collect takes no pointers and may be called from any
    // thread at any time; it only walks mimalloc's own heaps.
    unsafe { mi_collect(true) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a pad size and touches only glibc's heap.
    unsafe {
        libc::malloc_trim(0);
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// What Redis answers when its allocator is not jemalloc.
fn malloc_stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out
        .bulk(b"Stats not supported for the current allocator");
    Ok(Outcome::Done)
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.status_lines(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(Outcome::Done)
}
