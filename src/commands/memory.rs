//! MEMORY USAGE, STATS, DOCTOR, PURGE, MALLOC-STATS and HELP.
//!
//! INFO memory, STATS and DOCTOR read the same [`Figures`]: for a user
//! who may use every DB, the process as the counting allocator sees it
//! (`total.allocated` is `used_memory`); for a DB-restricted user, its
//! own DBs and their clients only (see [`Figures`]).

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

/// The figures INFO memory, MEMORY STATS and DOCTOR report, in one of
/// two views (README "Memory"):
/// - a user who may use every DB sees the process, as in Redis:
///   `used_memory` is the counting allocator's figure ([`crate::alloc`]),
///   and RSS and the allocator's figures are the process's;
/// - a DB-restricted user sees its DBs only: `used_memory` is their
///   accounting plus their clients' buffers, and the process-wide lines
///   (RSS, allocator, startup, scripts) show that same figure or 0, so
///   nothing reveals other tenants' usage.
pub(crate) struct Figures {
    pub used: u64,
    pub peak: u64,
    pub startup: u64,
    /// The visible DBs' entries.
    pub dataset: u64,
    /// `used - dataset`: tables, clients, scripts, the runtime.
    pub overhead: u64,
    /// The visible DBs' clients (CLIENT LIST's tot-mem, summed).
    pub clients: u64,
    /// (DB index, table overhead) for each visible DB with keys.
    pub dbs: Vec<(usize, u64)>,
    pub keys: u64,
    pub rss: u64,
    /// allocator_allocated, _active, _resident.
    pub allocator: (u64, u64, u64),
    pub scripts: crate::scripting::ScriptMemory,
}

impl Figures {
    /// What INFO calls `used_memory_scripts` (EVAL's cache and the
    /// functions' libraries, Lua states apart).
    pub fn scripts_bytes(&self) -> u64 {
        (self.scripts.scripts_eval + self.scripts.functions_bytes) as u64
    }
}

pub(crate) fn figures(ctx: &Ctx<'_>) -> Figures {
    let srv = ctx.srv;
    let user = &ctx.client.user;
    let restricted = user.is_restricted();
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
    let clients: u64 = srv
        .clients
        .snapshot()
        .iter()
        .filter(|c| !restricted || user.sees_db(c.db.load(Ordering::Relaxed)))
        .map(|c| c.memory() as u64)
        .sum();
    if restricted {
        let used = dataset + tables + clients;
        return Figures {
            used,
            peak: used,
            startup: 0,
            dataset,
            overhead: used - dataset,
            clients,
            dbs,
            keys,
            rss: used,
            allocator: (used, used, used),
            scripts: Default::default(),
        };
    }
    let scripts = srv.scripting.memory();
    let rss = crate::alloc::rss();
    let (used, allocator) = match crate::alloc::allocated() {
        Some(a) => {
            let committed = crate::alloc::committed();
            (a, (a, committed, committed))
        }
        // Another global allocator (an embedder's): the accounting, and
        // the process's RSS for the allocator's figures.
        None => {
            let used = dataset
                + tables
                + clients
                + (scripts.vm_eval + scripts.vm_functions) as u64
                + (scripts.scripts_eval + scripts.functions_bytes) as u64;
            (used, (used, rss, rss))
        }
    };
    let peak = srv.memory_peak.fetch_max(used, Ordering::Relaxed).max(used);
    Figures {
        used,
        peak,
        startup: srv.memory_startup.min(used),
        dataset,
        overhead: used.saturating_sub(dataset),
        clients,
        dbs,
        keys,
        rss,
        allocator,
        scripts,
    }
}

/// MEMORY STATS: Redis 7.2's fields, in its order (a map in RESP3).
fn stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let m = figures(ctx);
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
    let (allocated, active, resident) = m.allocator;
    int(out, "peak.allocated", m.peak);
    int(out, "total.allocated", m.used);
    int(out, "startup.allocated", m.startup);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", m.scripts.scripts_eval as u64);
    int(out, "functions.caches", m.scripts.functions_bytes as u64);
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
    // Redis: (used - startup) per key.
    let net = m.used.saturating_sub(m.startup);
    int(
        out,
        "keys.bytes-per-key",
        net.checked_div(m.keys).unwrap_or(0),
    );
    int(out, "dataset.bytes", m.dataset);
    dbl(out, "dataset.percentage", pct(m.dataset, net));
    dbl(out, "peak.percentage", pct(m.used, m.peak));
    int(out, "allocator.allocated", allocated);
    int(out, "allocator.active", active);
    int(out, "allocator.resident", resident);
    dbl(
        out,
        "allocator-fragmentation.ratio",
        ratio(active, allocated),
    );
    int(
        out,
        "allocator-fragmentation.bytes",
        active.saturating_sub(allocated),
    );
    dbl(out, "allocator-rss.ratio", ratio(resident, active));
    int(out, "allocator-rss.bytes", resident.saturating_sub(active));
    dbl(out, "rss-overhead.ratio", ratio(m.rss, resident));
    int(out, "rss-overhead.bytes", m.rss.saturating_sub(resident));
    dbl(out, "fragmentation", ratio(m.rss, m.used));
    int(out, "fragmentation.bytes", m.rss.saturating_sub(m.used));
    Ok(Outcome::Done)
}

/// MEMORY DOCTOR: Redis's report, from the same figures as STATS. Below
/// 5 MB of accounted memory Redis declines to judge, and so do we.
fn doctor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let m = figures(ctx);
    let text = if m.used < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else {
        let big_peak = m.peak as f64 / m.used as f64 > 1.5;
        let high_rss =
            m.rss as f64 / m.used as f64 > 1.4 && m.rss.saturating_sub(m.used) > 10 << 20;
        let clients = ctx.srv.clients.snapshot().len() as u64;
        let big_client_buf = clients > 0 && m.clients / clients > 200 * 1024;
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

/// MEMORY PURGE: mimalloc (the binary's global allocator) returns its
/// free pages to the OS now, and each worker collects its own heap as it
/// next parks (`alloc::purge`). Redis purges jemalloc's dirty pages the
/// same way and answers +OK.
fn purge(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    crate::alloc::purge();
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
