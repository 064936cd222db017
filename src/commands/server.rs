//! Server group: COMMAND, INFO, CONFIG, SLOWLOG, TIME, DBSIZE, FLUSHDB,
//! FLUSHALL, SHUTDOWN, MONITOR.
//!
//! COMMAND's replies are rendered from the registry rows, never from a
//! second table, so what COMMAND INFO says is what dispatch enforces.

use crate::commands::Outcome;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::args::is;
use super::errors::{self, CmdResult, Error};
use super::glob::glob_match;
use super::keyspec::{self, Begin, Find, KeySpec};
use super::spec::{cat, flags, flags::*, CommandSpec, Group, Keys, Redact, Tenant};
use super::table::{Command, Renames};
use super::{Ctx, REGISTRY};
use crate::config::params;
use crate::keyspace::db::DbStats;
use crate::keyspace::evict::Policy;
use crate::protocol::ReplyBuf;

const G: Group = Group::Server;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dbsize", 1, READONLY | FAST, G, dbsize)
        .cats(cat::KEYSPACE)
        .doc(
            "Returns the number of keys in the database.",
            "1.0.0",
            "O(1)",
        ),
    // A container that also runs bare: `COMMAND` alone lists everything.
    CommandSpec::container("command", G, COMMAND_SUBS)
        .bare(-1, LOADING | STALE | NO_DB_LOCK, command)
        .cats(cat::CONNECTION)
        .doc(
            "Returns detailed information about all commands.",
            "2.8.13",
            "O(N) where N is the total number of Redis commands",
        ),
    CommandSpec::new("info", -1, LOADING | STALE | NO_DB_LOCK, G, info)
        .cats(cat::DANGEROUS)
        .tenant(Tenant::Own)
        .doc(
            "Returns information and statistics about the server.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::container("config", G, CONFIG_SUBS).doc(
        "A container for server configuration commands.",
        "2.0.0",
        "Depends on subcommand.",
    ),
    CommandSpec::container("slowlog", G, SLOWLOG_SUBS).doc(
        "A container for slow log commands.",
        "2.2.12",
        "Depends on subcommand.",
    ),
    CommandSpec::new("time", 1, LOADING | STALE | FAST | NO_DB_LOCK, G, time).doc(
        "Returns the server time.",
        "2.6.0",
        "O(1)",
    ),
    CommandSpec::new("flushdb", -1, WRITE, G, flushdb)
        .cats(cat::KEYSPACE | cat::DANGEROUS)
        .doc(
            "Remove all keys from the current database.",
            "1.0.0",
            "O(N) where N is the number of keys in the selected database",
        ),
    // Touches every DB: a DB-restricted user is refused by the ACL gate,
    // unless `flushall-scope own` makes it flush only the user's DBs.
    CommandSpec::new("flushall", -1, WRITE | NO_DB_LOCK, G, flushall)
        .all_dbs()
        .cats(cat::KEYSPACE | cat::DANGEROUS)
        .doc(
            "Removes all keys from all databases.",
            "1.0.0",
            "O(N) where N is the total number of keys in all databases",
        ),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY | NO_DB_LOCK,
        G,
        shutdown,
    )
    .doc(
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "1.0.0",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
    ),
    CommandSpec::new(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | NO_DB_LOCK,
        G,
        save,
    )
    .doc(
        "Synchronously saves the database(s) to disk.",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
    ),
    CommandSpec::new(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_DB_LOCK,
        G,
        bgsave,
    )
    .doc("Asynchronously saves the database(s) to disk.", "1.0.0", "O(1)"),
    CommandSpec::new(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_DB_LOCK,
        G,
        bgrewriteaof,
    )
    .doc("Asynchronously rewrites the append-only file to disk.", "1.0.0", "O(1)"),
    CommandSpec::new("lastsave", 1, LOADING | STALE | FAST | NO_DB_LOCK, G, lastsave)
        .cats(cat::ADMIN | cat::DANGEROUS)
        .doc(
            "Returns the Unix timestamp of the last successful save to disk.",
            "1.0.0",
            "O(1)",
        ),
    CommandSpec::new(
        "monitor",
        1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_DB_LOCK,
        G,
        monitor,
    )
    .tenant(Tenant::Own)
    .doc(
        "Listens for all requests received by the server in real-time.",
        "1.0.0",
        "",
    ),
];

const CMD: u32 = LOADING | STALE | NO_DB_LOCK;

/// COMMAND's subcommands.
static COMMAND_SUBS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, CMD, G, command_count)
        .cats(cat::CONNECTION)
        .doc("Returns a count of commands.", "2.8.13", "O(1)"),
    CommandSpec::new("docs", -2, CMD, G, command_docs)
        .cats(cat::CONNECTION)
        .doc(
            "Returns documentary information about one, multiple or all commands.",
            "7.0.0",
            "O(N) where N is the number of commands to look up",
        ),
    CommandSpec::new("getkeys", -4, CMD, G, command_getkeys)
        .cats(cat::CONNECTION)
        .doc(
            "Extracts the key names from an arbitrary command.",
            "2.8.13",
            "O(N) where N is the number of arguments to the command",
        ),
    CommandSpec::new("getkeysandflags", -4, CMD, G, command_getkeys)
        .cats(cat::CONNECTION)
        .doc(
            "Extracts the key names and access flags for an arbitrary command.",
            "7.0.0",
            "O(N) where N is the number of arguments to the command",
        ),
    CommandSpec::new("help", 2, CMD, G, command_help)
        .cats(cat::CONNECTION)
        .doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
        ),
    CommandSpec::new("info", -2, CMD, G, command_info)
        .cats(cat::CONNECTION)
        .doc(
            "Returns information about one, multiple or all commands.",
            "2.8.13",
            "O(N) where N is the number of commands to look up",
        ),
    CommandSpec::new("list", -2, CMD, G, command_list)
        .cats(cat::CONNECTION)
        .doc(
            "Returns a list of command names.",
            "7.0.0",
            "O(N) where N is the total number of Redis commands",
        ),
];

const CFG: u32 = ADMIN | NOSCRIPT | LOADING | STALE | NO_DB_LOCK;

static CONFIG_SUBS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, CFG, G, config_get)
        .tenant(Tenant::Own)
        .doc(
            "Returns the effective values of configuration parameters.",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
        ),
    CommandSpec::new("set", -4, CFG, G, config_set)
        .tenant(Tenant::Check(sets_own_db))
        .redact(Redact::Find(config_secrets))
        .doc(
            "Sets configuration parameters in-flight.",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
        ),
    CommandSpec::new("resetstat", 2, CFG, G, config_resetstat).doc(
        "Resets the server's statistics.",
        "2.0.0",
        "O(1)",
    ),
    CommandSpec::new("rewrite", 2, CFG, G, config_rewrite).doc(
        "Persists the effective configuration to file.",
        "2.8.0",
        "O(1)",
    ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, config_help).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
    ),
];

const SLOW: u32 = ADMIN | LOADING | STALE | NO_DB_LOCK;

static SLOWLOG_SUBS: &[CommandSpec] = &[
    CommandSpec::new("get", -2, SLOW, G, slowlog_get)
        .tenant(Tenant::Own)
        .doc(
            "Returns the slow log's entries.",
            "2.2.12",
            "O(N) where N is the number of entries returned",
        ),
    CommandSpec::new("len", 2, SLOW, G, slowlog_len)
        .tenant(Tenant::Own)
        .doc(
            "Returns the number of entries in the slow log.",
            "2.2.12",
            "O(1)",
        ),
    CommandSpec::new("reset", 2, SLOW, G, slowlog_reset).doc(
        "Clears all entries from the slow log.",
        "2.2.12",
        "O(N) where N is the number of entries in the slowlog",
    ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, slowlog_help).doc(
        "Returns helpful text about the different subcommands.",
        "6.2.0",
        "O(1)",
    ),
];

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

// ---------------------------------------------------------------- COMMAND

/// Bare `COMMAND`: the info of every command.
fn command(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    command_info(ctx, &argv[..1])
}

/// The top-level commands a client can call (COMMAND, COUNT, LIST, DOCS).
fn callable(renames: Option<&Renames>) -> impl Iterator<Item = &'static Command> + '_ {
    REGISTRY
        .top_level()
        .filter(move |c| renames.is_none_or(|r| r.reachable(c)))
}

/// Looks up `name` or `container|sub`, COMMAND's own subcommands included,
/// by the names the server answers to (shown by their original names, as
/// Redis shows a renamed command's fullname).
fn find_full(renames: Option<&Renames>, name: &[u8]) -> Option<(String, &'static CommandSpec)> {
    match name.iter().position(|&b| b == b'|') {
        None => super::table::lookup_named(renames, name).map(|c| (c.fullname.clone(), c.spec)),
        Some(p) => {
            let parent = super::table::lookup_named(renames, &name[..p])?;
            if let Some(c) = REGISTRY.lookup_sub(parent, &name[p + 1..]) {
                return Some((c.fullname.clone(), c.spec));
            }
            let sub = parent
                .spec
                .subcommands
                .iter()
                .find(|s| is(&name[p + 1..], s.name))?;
            Some((format!("{}|{}", parent.spec.name, sub.name), sub))
        }
    }
}

/// Resolves a command line the way dispatch would (COMMAND GETKEYS).
fn find_argv(renames: Option<&Renames>, argv: &[&[u8]]) -> Option<&'static Command> {
    let top = super::table::lookup_named(renames, argv[0])?;
    if top.is_container() {
        return REGISTRY.lookup_sub(top, argv.get(1)?);
    }
    Some(top)
}

fn flag_names(spec: &CommandSpec) -> impl Iterator<Item = &'static str> + '_ {
    flags::NAMES
        .iter()
        .filter(move |(bit, _)| spec.has(*bit))
        .map(|(_, n)| *n)
}

/// Key-spec flags as a set of simple strings, in Redis's order.
fn write_key_flags(out: &mut ReplyBuf, f: u16) {
    let names = keyspec::flags::NAMES.iter().filter(|(bit, _)| f & bit != 0);
    out.set(names.clone().count());
    for (_, n) in names {
        out.simple(n.as_bytes());
    }
}

/// One key spec as COMMAND INFO shows it (Redis's `addReplyCommandKeySpecs`).
fn write_key_spec(out: &mut ReplyBuf, ks: &KeySpec) {
    out.map(3 + usize::from(!ks.notes.is_empty()));
    if !ks.notes.is_empty() {
        out.bulk(b"notes");
        out.bulk(ks.notes.as_bytes());
    }
    out.bulk(b"flags");
    write_key_flags(out, ks.flags);
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match ks.begin {
        Begin::Index(i) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(i as i64);
        }
        Begin::Keyword(word, startfrom) => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(word.as_bytes());
            out.bulk(b"startfrom");
            out.int(startfrom as i64);
        }
        Begin::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match ks.find {
        Find::Range(lastkey, keystep, limit) => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(lastkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
            out.bulk(b"limit");
            out.int(limit as i64);
        }
        Find::Keynum(keynumidx, firstkey, keystep) => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"keynumidx");
            out.int(keynumidx as i64);
            out.bulk(b"firstkey");
            out.int(firstkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
        }
        Find::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

/// A container has no categories of its own beyond the ones its row names
/// (Redis shows `client` as just @slow); anything else reads its row.
fn categories(spec: &'static CommandSpec) -> u64 {
    if spec.subcommands.is_empty() {
        spec.categories()
    } else {
        spec.extra_categories | cat::SLOW
    }
}

fn write_info(out: &mut ReplyBuf, fullname: &str, spec: &'static CommandSpec) {
    out.array(10);
    out.bulk(fullname.as_bytes());
    out.int(spec.arity as i64);
    out.set(flag_names(spec).count());
    for n in flag_names(spec) {
        out.simple(n.as_bytes());
    }
    let (first, last, step) = match spec.keys {
        Keys::Range { first, last, step } => (first, last, step),
        _ => spec.legacy_keys,
    };
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    let cats = categories(spec);
    let names: Vec<&str> = cat::NAMES
        .iter()
        .filter(|(bit, _)| cats & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    let mut tmp = String::with_capacity(16);
    for n in names {
        tmp.clear();
        tmp.push('@');
        tmp.push_str(n);
        out.simple(tmp.as_bytes());
    }
    // Tips: not recorded in our rows.
    out.set(0);
    let specs = keyspec::specs_for(fullname);
    out.set(specs.len());
    for ks in specs {
        write_key_spec(out, ks);
    }
    let subs = spec.subcommands;
    if subs.is_empty() {
        out.set(0);
    } else {
        out.array(subs.len());
        for s in subs {
            write_info(out, &format!("{fullname}|{}", s.name), s);
        }
    }
}

fn command_info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() <= 2 {
        let renames = ctx.srv.renames.as_deref();
        let n = callable(renames).count();
        ctx.out.array(n);
        for c in callable(renames) {
            write_info(ctx.out, &c.fullname, c.spec);
        }
        return Ok(Outcome::Done);
    }
    ctx.out.array(argv.len() - 2);
    for name in &argv[2..] {
        match find_full(ctx.srv.renames.as_deref(), name) {
            Some((full, spec)) => write_info(ctx.out, &full, spec),
            None => ctx.out.null(),
        }
    }
    Ok(Outcome::Done)
}

fn write_docs(out: &mut ReplyBuf, fullname: &str, spec: &'static CommandSpec) {
    let subs = spec.subcommands;
    let fields = 4 + usize::from(!subs.is_empty()) + usize::from(!spec.doc_flags.is_empty());
    out.map(fields);
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.name().as_bytes());
    out.bulk(b"complexity");
    out.bulk(spec.complexity.as_bytes());
    if !spec.doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        out.set(spec.doc_flags.len());
        for f in spec.doc_flags {
            out.simple(f.as_bytes());
        }
    }
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        out.map(subs.len());
        for s in subs {
            let full = format!("{fullname}|{}", s.name);
            out.bulk(full.as_bytes());
            write_docs(out, &full, s);
        }
    }
}

fn command_docs(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let found: Vec<(String, &'static CommandSpec)> = if argv.len() == 2 {
        callable(ctx.srv.renames.as_deref())
            .map(|c| (c.fullname.clone(), c.spec))
            .collect()
    } else {
        // Unknown names are left out, as Redis does.
        let renames = ctx.srv.renames.as_deref();
        argv[2..]
            .iter()
            .filter_map(|n| find_full(renames, n))
            .collect()
    };
    ctx.out.map(found.len());
    for (full, spec) in &found {
        ctx.out.bulk(full.as_bytes());
        write_docs(ctx.out, full, spec);
    }
    Ok(Outcome::Done)
}

fn command_count(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out
        .int(callable(ctx.srv.renames.as_deref()).count() as i64);
    Ok(Outcome::Done)
}

enum ListFilter<'a> {
    All,
    Module,
    AclCat(Option<u64>),
    Pattern(&'a [u8]),
}

fn command_list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let filter = match argv.len() {
        2 => ListFilter::All,
        5 if is(argv[2], "filterby") => {
            let v = argv[4];
            if is(argv[3], "module") {
                ListFilter::Module
            } else if is(argv[3], "aclcat") {
                ListFilter::AclCat(
                    cat::NAMES
                        .iter()
                        .find(|(_, n)| is(v, n))
                        .map(|(bit, _)| *bit),
                )
            } else if is(argv[3], "pattern") {
                ListFilter::Pattern(v)
            } else {
                return Err(errors::SYNTAX);
            }
        }
        _ => return Err(errors::SYNTAX),
    };
    let keep = |full: &str, spec: &'static CommandSpec| match filter {
        ListFilter::All => true,
        ListFilter::Module => false,
        ListFilter::AclCat(None) => false,
        ListFilter::AclCat(Some(bit)) => categories(spec) & bit != 0,
        ListFilter::Pattern(p) => glob_match(p, full.as_bytes(), true),
    };
    let mut names = Vec::new();
    for c in callable(ctx.srv.renames.as_deref()) {
        if keep(&c.fullname, c.spec) {
            names.push(c.fullname.clone());
        }
        for s in c.spec.subcommands {
            let full = format!("{}|{}", c.fullname, s.name);
            if keep(&full, s) {
                names.push(full);
            }
        }
    }
    ctx.out.array(names.len());
    for n in &names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(Outcome::Done)
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS (told apart by argv[1]).
fn command_getkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let with_flags = is(argv[1], "getkeysandflags");
    let line = &argv[2..];
    let Some(cmd) = find_argv(ctx.srv.renames.as_deref(), line) else {
        return Err(errors::INVALID_COMMAND_SPECIFIED);
    };
    let spec = cmd.spec;
    if !cmd.has_keys() {
        return Err(errors::COMMAND_HAS_NO_KEYS);
    }
    if !spec.arity_ok(line.len()) {
        return Err(errors::INVALID_NUMBER_OF_ARGUMENTS);
    }
    let keys = cmd.keys_with_flags(line);
    if keys.is_empty() && !spec.has(NO_MANDATORY_KEYS) {
        return Err(errors::INVALID_ARGUMENTS_FOR_COMMAND);
    }
    ctx.out.array(keys.len());
    for k in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(line[k.pos]);
            write_key_flags(ctx.out, k.flags);
        } else {
            ctx.out.bulk(line[k.pos]);
        }
    }
    Ok(Outcome::Done)
}

fn command_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.status_lines(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(Outcome::Done)
}

// ------------------------------------------------------------------- INFO

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "tenancy",
    "auth",
];

const ALL_MASK: u32 = (1 << SECTIONS.len()) - 1;

/// The bit of a section in a request mask.
fn bit(name: &str) -> u32 {
    SECTIONS
        .iter()
        .position(|s| *s == name)
        .map_or(0, |i| 1 << i)
}

/// Sections of plain `INFO` / `INFO default`: all but commandstats.
fn default_mask() -> u32 {
    ALL_MASK & !bit("commandstats") & !bit("latencystats")
}

/// Redis's `bytesToHuman`.
fn human(n: u64) -> String {
    let d = n as f64;
    const K: f64 = 1024.0;
    if n < 1024 {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else if d < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K))
    } else {
        format!("{:.2}P", d / (K * K * K * K * K))
    }
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// (user, system) CPU seconds of this process, from /proc (100 ticks/s).
fn cpu_times() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

fn os_line() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        other => other,
    };
    format!("{os} {} {}", release.trim(), std::env::consts::ARCH)
}

struct DbInfo {
    index: usize,
    keys: usize,
    expires: usize,
    mem: usize,
    stats: DbStats,
    blocked: usize,
    blocking_keys: usize,
}

fn info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut mask = 0u32;
    if argv.len() == 1 {
        mask = default_mask();
    }
    for a in &argv[1..] {
        if is(a, "default") {
            mask |= default_mask();
        } else if is(a, "all") || is(a, "everything") {
            mask |= ALL_MASK;
        } else if let Some(i) = SECTIONS.iter().position(|s| is(a, s)) {
            mask |= 1 << i;
        }
    }
    let text = info_text(ctx, mask);
    ctx.out.verbatim(text.as_bytes());
    Ok(Outcome::Done)
}

fn info_text(ctx: &Ctx<'_>, mask: u32) -> String {
    let srv = ctx.srv;
    let per_db = bit("memory") | bit("stats") | bit("keyspace") | bit("clients") | bit("tenancy");
    // One DB locked at a time, briefly: INFO never stalls a tenant.
    let dbs: Vec<DbInfo> = if mask & per_db != 0 {
        (0..srv.keyspace.len())
            .map(|i| {
                let db = srv.keyspace.lock(i);
                DbInfo {
                    index: i,
                    keys: db.len(),
                    expires: db.volatile(),
                    mem: db.used_memory(),
                    stats: db.stats,
                    blocked: db.blocking.len(),
                    blocking_keys: db.blocking.watched_key_count(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let cfg = srv.config.read().clone();
    // A DB-restricted user sees only its own DBs in the per-DB sections.
    let user = ctx.client.user.clone();
    let sees = |d: &&DbInfo| user.sees_db(d.index);
    let selected = ctx.client.db;
    let uptime = srv.started.elapsed().as_secs();
    let mut s = String::with_capacity(4096);
    let mut first = true;
    for (i, name) in SECTIONS.iter().enumerate() {
        if mask & (1 << i) == 0 {
            continue;
        }
        if !first {
            s.push_str("\r\n");
        }
        first = false;
        let title = match *name {
            "cpu" => "CPU".to_string(),
            n => {
                let mut t = n.to_string();
                t[..1].make_ascii_uppercase();
                t
            }
        };
        let _ = write!(s, "# {title}\r\n");
        let mut line = |k: &str, v: &dyn std::fmt::Display| {
            let _ = write!(s, "{k}:{v}\r\n");
        };
        match *name {
            "server" => {
                let port = srv.addrs.lock().first().map_or(cfg.port, |a| a.port());
                let exe = std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                line("redis_version", &crate::server::REDIS_VERSION);
                line("keyward_version", &crate::server::KEYWARD_VERSION);
                line("redis_git_sha1", &"00000000");
                line("redis_git_dirty", &0);
                line("redis_build_id", &0);
                line("redis_mode", &"standalone");
                line("os", &os_line());
                line("arch_bits", &usize::BITS);
                line("monotonic_clock", &"POSIX clock_gettime");
                line("multiplexing_api", &"epoll");
                line("process_id", &std::process::id());
                line("process_supervised", &"no");
                line("run_id", &srv.run_id);
                line("tcp_port", &port);
                line("server_time_usec", &srv.clock.now_us());
                line("uptime_in_seconds", &uptime);
                line("uptime_in_days", &(uptime / 86400));
                line("hz", &cfg.hz);
                line("configured_hz", &cfg.hz);
                line("lru_clock", &crate::clock::lru_clock(ctx.now));
                line("executable", &exe);
                let config_file = cfg.config_file.as_deref().unwrap_or(Path::new(""));
                line("config_file", &config_file.display());
                line("io_threads_active", &0);
            }
            "clients" => {
                let connected = if user.is_restricted() {
                    srv.clients
                        .snapshot()
                        .iter()
                        .filter(|c| user.sees_db(c.db.load(Ordering::Relaxed)))
                        .count()
                } else {
                    srv.clients.len()
                };
                line("connected_clients", &connected);
                line("cluster_connections", &0);
                line("maxclients", &cfg.maxclients);
                line("client_recent_max_input_buffer", &0);
                line("client_recent_max_output_buffer", &0);
                // Clients in WAIT/WAITAOF count too, as in Redis (they wait
                // on no key, so no DB's waiter list has them).
                let awaiting = srv
                    .clients
                    .snapshot()
                    .iter()
                    .filter(|c| {
                        (c.awaiting.load(Ordering::Relaxed) || c.postponed.load(Ordering::Relaxed))
                            && user.sees_db(c.db.load(Ordering::Relaxed))
                    })
                    .count();
                line(
                    "blocked_clients",
                    &(dbs.iter().filter(sees).map(|d| d.blocked).sum::<usize>() + awaiting),
                );
                line("tracking_clients", &srv.tracking.stats().0);
                line("clients_in_timeout_table", &0);
                line(
                    "total_blocking_keys",
                    &dbs.iter()
                        .filter(sees)
                        .map(|d| d.blocking_keys)
                        .sum::<usize>(),
                );
                line("total_blocking_keys_on_nokey", &0);
            }
            // Redis 7.2's fields in its order (README "Memory": the
            // process's figures for a user who may use every DB, its own
            // DBs' for a DB-restricted one); maxmemory and the policy are
            // the selected DB's (DESIGN.md: INFO is DB-aware), so a client
            // such as BullMQ checks the policy of the DB it uses.
            "memory" => {
                let m = super::memory::figures(ctx);
                let tenant = srv.tenancy.db(selected);
                let max = tenant.effective_maxmemory(cfg.maxmemory);
                let total = total_system_memory();
                let (allocated, active, resident) = m.allocator;
                let pct = |a: u64, b: u64| {
                    format!(
                        "{:.2}%",
                        if b == 0 {
                            0.0
                        } else {
                            a as f64 * 100.0 / b as f64
                        }
                    )
                };
                let ratio = |a: u64, b: u64| {
                    format!("{:.2}", if b == 0 { 0.0 } else { a as f64 / b as f64 })
                };
                let sc = m.scripts;
                let vm_total = (sc.vm_eval + sc.vm_functions) as u64;
                line("used_memory", &m.used);
                line("used_memory_human", &human(m.used));
                line("used_memory_rss", &m.rss);
                line("used_memory_rss_human", &human(m.rss));
                line("used_memory_peak", &m.peak);
                line("used_memory_peak_human", &human(m.peak));
                line("used_memory_peak_perc", &pct(m.used, m.peak));
                line("used_memory_overhead", &m.overhead);
                line("used_memory_startup", &m.startup);
                line("used_memory_dataset", &m.dataset);
                let net = m.used.saturating_sub(m.startup);
                line("used_memory_dataset_perc", &pct(m.dataset, net));
                line("allocator_allocated", &allocated);
                line("allocator_active", &active);
                line("allocator_resident", &resident);
                line("total_system_memory", &total);
                line("total_system_memory_human", &human(total));
                line("used_memory_lua", &sc.vm_eval);
                line("used_memory_vm_eval", &sc.vm_eval);
                line("used_memory_lua_human", &human(sc.vm_eval as u64));
                line("used_memory_scripts_eval", &sc.scripts_eval);
                line("number_of_cached_scripts", &sc.cached_scripts);
                line("number_of_functions", &sc.functions);
                line("number_of_libraries", &sc.libraries);
                line("used_memory_vm_functions", &sc.vm_functions);
                line("used_memory_vm_total", &vm_total);
                line("used_memory_vm_total_human", &human(vm_total));
                line("used_memory_functions", &sc.functions_bytes);
                line("used_memory_scripts", &m.scripts_bytes());
                line("used_memory_scripts_human", &human(m.scripts_bytes()));
                line("maxmemory", &max);
                line("maxmemory_human", &human(max));
                line("maxmemory_policy", &tenant.policy().name());
                line("allocator_frag_ratio", &ratio(active, allocated));
                line("allocator_frag_bytes", &active.saturating_sub(allocated));
                line("allocator_rss_ratio", &ratio(resident, active));
                line("allocator_rss_bytes", &resident.saturating_sub(active));
                line("rss_overhead_ratio", &ratio(m.rss, resident));
                line("rss_overhead_bytes", &m.rss.saturating_sub(resident));
                line("mem_fragmentation_ratio", &ratio(m.rss, m.used));
                line("mem_fragmentation_bytes", &m.rss.saturating_sub(m.used));
                line("mem_not_counted_for_evict", &0);
                line("mem_replication_backlog", &0);
                line("mem_total_replication_buffers", &0);
                line("mem_clients_slaves", &0);
                line("mem_clients_normal", &m.clients);
                line("mem_cluster_links", &0);
                line("mem_aof_buffer", &0);
                line("mem_allocator", &"mimalloc");
                line("active_defrag_running", &0);
                line("lazyfree_pending_objects", &0);
                line("lazyfreed_objects", &0);
            }
            "persistence" => {
                let p = &srv.persist;
                let st = p.state();
                let gate = p.gate.load(Ordering::Relaxed);
                let loading = gate & crate::persistence::runtime::gate::LOADING != 0;
                let changes =
                    crate::persistence::runtime::dirty_total(srv).saturating_sub(st.dirty_at_save);
                let ok = |b: bool| if b { "ok" } else { "err" };
                line("loading", &u8::from(loading));
                line("async_loading", &0);
                if loading {
                    let done = p.loaded_bytes.load(Ordering::Relaxed);
                    let total = p.total_bytes.load(Ordering::Relaxed);
                    line("loading_total_bytes", &total);
                    line("loading_loaded_bytes", &done);
                    line(
                        "loading_loaded_perc",
                        &format!("{:.2}", done as f64 * 100.0 / total.max(1) as f64),
                    );
                }
                line("rdb_changes_since_last_save", &changes);
                let bg = p.background();
                let saving = matches!(bg, Some((crate::persistence::runtime::Job::Save, _)));
                line("rdb_bgsave_in_progress", &u8::from(saving));
                line("rdb_last_save_time", &st.last_save);
                line("rdb_last_bgsave_status", &ok(st.last_ok));
                line("rdb_last_bgsave_time_sec", &st.last_duration_s);
                line(
                    "rdb_current_bgsave_time_sec",
                    &bg.filter(|b| saving && b.1 < u64::MAX)
                        .map_or(-1, |b| b.1 as i64),
                );
                line("rdb_saves", &st.saves);
                let aof = p.aof_stats();
                line("aof_enabled", &u8::from(aof.is_some()));
                line(
                    "aof_rewrite_in_progress",
                    &u8::from(aof.as_ref().is_some_and(|a| a.aof_rewrite_in_progress)),
                );
                line(
                    "aof_rewrite_scheduled",
                    &u8::from(p.aof_rewrite_scheduled()),
                );
                line("aof_last_rewrite_time_sec", &-1);
                line("aof_current_rewrite_time_sec", &-1);
                line("aof_last_bgrewrite_status", &ok(p.aof_last_rewrite_ok()));
                let write_ok = aof
                    .as_ref()
                    .is_none_or(|a| a.aof_last_write_error.is_none());
                line("aof_last_write_status", &ok(write_ok));
                if let Some(a) = &aof {
                    line("aof_current_size", &a.aof_current_size);
                    line("aof_base_size", &a.aof_base_size);
                    line("aof_pending_rewrite", &0);
                    line("aof_buffer_length", &0);
                    line("aof_pending_bio_fsync", &0);
                    line("aof_delayed_fsync", &a.aof_delayed_fsync);
                }
            }
            "stats" => {
                let st = &srv.stats;
                let processed: u64 = REGISTRY
                    .commands
                    .iter()
                    .map(|c| st.cmd_totals(c.id).calls)
                    .sum();
                let sum = |f: fn(&DbStats) -> u64| {
                    dbs.iter().filter(sees).map(|d| f(&d.stats)).sum::<u64>()
                };
                let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                line("total_connections_received", &ld(&st.connections_received));
                line("total_commands_processed", &processed);
                line("instantaneous_ops_per_sec", &0);
                line("total_net_input_bytes", &ld(&st.net_input_bytes));
                line("total_net_output_bytes", &ld(&st.net_output_bytes));
                line("instantaneous_input_kbps", &"0.00");
                line("instantaneous_output_kbps", &"0.00");
                line("rejected_connections", &ld(&st.rejected_connections));
                line("sync_full", &0);
                line("sync_partial_ok", &0);
                line("sync_partial_err", &0);
                line("expired_keys", &sum(|d| d.expired));
                line("evicted_keys", &sum(|d| d.evicted));
                line("evicted_clients", &ld(&st.evicted_clients));
                line("keyspace_hits", &sum(|d| d.hits));
                line("keyspace_misses", &sum(|d| d.misses));
                line("pubsub_channels", &srv.pubsub.channel_count());
                line("pubsub_patterns", &srv.pubsub.pattern_count());
                line("latest_fork_usec", &0);
                line("total_forks", &0);
                let (_, keys, items, prefixes) = srv.tracking.stats();
                line("tracking_total_keys", &keys);
                line("tracking_total_items", &items);
                line("tracking_total_prefixes", &prefixes);
                line("unexpected_error_replies", &0);
                line("total_error_replies", &ld(&st.error_replies));
                line(
                    "client_query_buffer_limit_disconnections",
                    &ld(&st.query_buffer_limit_disconnections),
                );
                line(
                    "client_output_buffer_limit_disconnections",
                    &ld(&srv.obuf.disconnections),
                );
                let denied = |r: &str| {
                    crate::acl::DENIAL_REASONS
                        .iter()
                        .position(|x| *x == r)
                        .map_or(0, |i| ld(&srv.acl.denials[i]))
                };
                line("acl_access_denied_auth", &denied("auth"));
                line("acl_access_denied_cmd", &denied("command"));
                line("acl_access_denied_key", &denied("key"));
                line("acl_access_denied_channel", &denied("channel"));
                line("acl_access_denied_database", &denied("database"));
            }
            "replication" => {
                use sha2::Digest;
                let h = sha2::Sha256::digest(srv.run_id.as_bytes());
                let replid: String = h[..20].iter().map(|b| format!("{b:02x}")).collect();
                line("role", &"master");
                line("connected_slaves", &0);
                line("master_failover_state", &"no-failover");
                line("master_replid", &replid);
                line("master_replid2", &"0".repeat(40));
                line("master_repl_offset", &0);
                line("second_repl_offset", &-1);
                line("repl_backlog_active", &0);
                line("repl_backlog_size", &1048576);
                line("repl_backlog_first_byte_offset", &0);
                line("repl_backlog_histlen", &0);
            }
            "cpu" => {
                let (user, sys) = cpu_times();
                line("used_cpu_sys", &format!("{sys:.6}"));
                line("used_cpu_user", &format!("{user:.6}"));
                line("used_cpu_sys_children", &"0.000000");
                line("used_cpu_user_children", &"0.000000");
            }
            // Server-wide per-command counts tell a tenant what the others
            // run: a DB-restricted user gets the section empty.
            "commandstats" if user.is_restricted() => {}
            "commandstats" => {
                for c in &REGISTRY.commands {
                    let t = srv.stats.cmd_totals(c.id);
                    if t.calls == 0 && t.failed == 0 && t.rejected == 0 {
                        continue;
                    }
                    let per = if t.calls > 0 {
                        t.usec as f64 / t.calls as f64
                    } else {
                        0.0
                    };
                    line(
                        &format!("cmdstat_{}", c.fullname),
                        &format_args!(
                            "calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}",
                            t.calls, t.usec, t.rejected, t.failed
                        ),
                    );
                }
            }
            // Like commandstats: what the others run is not a tenant's.
            "latencystats" if user.is_restricted() => {}
            "latencystats" => {
                let ps: Vec<f64> = cfg
                    .accepted
                    .get("latency-tracking-info-percentiles")
                    .map_or("50 99 99.9", String::as_str)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                for c in &REGISTRY.commands {
                    let counts = srv.stats.histogram(c.id);
                    if counts.iter().all(|&n| n == 0) {
                        continue;
                    }
                    let values: Vec<String> = ps
                        .iter()
                        .map(|&p| {
                            format!(
                                "p{}={:.3}",
                                crate::server::latency::percentile_name(p),
                                crate::server::latency::percentile(&counts, p) as f64
                            )
                        })
                        .collect();
                    line(
                        &format!("latency_percentiles_usec_{}", c.fullname),
                        &values.join(","),
                    );
                }
            }
            "cluster" => line("cluster_enabled", &0),
            "keyspace" => {
                for d in dbs.iter().filter(sees) {
                    if d.keys > 0 {
                        line(
                            &format!("db{}", d.index),
                            &format_args!("keys={},expires={},avg_ttl=0", d.keys, d.expires),
                        );
                    }
                }
            }
            "tenancy" => {
                for d in dbs.iter().filter(sees) {
                    let fields = srv.tenancy.db(d.index).info_fields(
                        d.keys as u64,
                        d.expires as u64,
                        d.mem as u64,
                        d.stats.evicted,
                        cfg.maxmemory,
                    );
                    if let Some(f) = fields {
                        line(&format!("db{}", d.index), &f);
                    }
                }
            }
            // Failed AUTHs by user and by source address. A DB-restricted
            // user sees only its own user's count.
            "auth" => {
                let f = srv.acl.failures.lock();
                if !user.is_restricted() {
                    line("auth_failures", &f.total);
                }
                for (name, n) in &f.by_user {
                    if !user.is_restricted() || *name == user.name {
                        line(&format!("user_{name}"), &format_args!("failures={n}"));
                    }
                }
                if !user.is_restricted() {
                    let mut addrs: Vec<_> = f.by_addr.iter().collect();
                    addrs.sort_by_key(|(ip, _)| **ip);
                    for (ip, a) in addrs {
                        line(
                            &format!("addr_{ip}"),
                            &format_args!("failures={},delayed={}", a.failures, a.delayed),
                        );
                    }
                }
            }
            // modules, errorstats: nothing to report.
            _ => {}
        }
    }
    s
}

// ----------------------------------------------------------------- CONFIG

/// CONFIG GET/SET from a client act on its selected DB for per-DB rows.
fn scope<'a>(ctx: &Ctx<'a>) -> params::Scope<'a> {
    let srv: &'a crate::server::Shared = ctx.srv;
    params::Scope::Db {
        index: ctx.client.db,
        tenant: srv.tenancy.db(ctx.client.db),
    }
}

/// CONFIG SET's (name, value) pairs as `(name index, param)`.
fn config_set_params<'a>(
    argv: &'a [&'a [u8]],
) -> impl Iterator<Item = (usize, Option<&'static params::Param>)> + 'a {
    (2..argv.len()).step_by(2).map(|i| {
        let p = std::str::from_utf8(argv[i]).ok().and_then(params::find);
        (i, p)
    })
}

/// CONFIG SET's secrets: the values of sensitive parameters (Redis's
/// `SENSITIVE_CONFIG`, e.g. requirepass).
fn config_secrets(argv: &[&[u8]]) -> Vec<usize> {
    config_set_params(argv)
        .filter(|(_, p)| p.is_some_and(|p| p.sensitive))
        .map(|(i, _)| i + 1)
        .collect()
}

/// CONFIG SET from a DB-restricted user: only its selected DB's own
/// settings that a tenant may change (its eviction policy, not the limits
/// the operator set); a name the table lacks gets the usual error.
fn sets_own_db(_ctx: &Ctx<'_>, argv: &[&[u8]]) -> bool {
    config_set_params(argv).all(|(_, p)| p.is_none_or(|p| p.db.is_some_and(|d| d.tenant_may_set)))
}

fn config_get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cfg = ctx.srv.config.read().clone();
    let scope = scope(ctx);
    // A DB-restricted user does not read the server's secrets.
    let secrets_hidden = ctx.client.user.is_restricted();
    let hits: Vec<&params::Param> = params::PARAMS
        .iter()
        .filter(|p| !(secrets_hidden && p.sensitive))
        .filter(|p| {
            argv[2..]
                .iter()
                .any(|pat| glob_match(pat, p.name.as_bytes(), true))
        })
        .collect();
    ctx.out.map(hits.len());
    for p in hits {
        ctx.out.bulk(p.name.as_bytes());
        ctx.out.bulk(p.value(&cfg, scope).as_bytes());
    }
    Ok(Outcome::Done)
}

/// `enable-protected-configs`: yes for anyone, local for loopback clients.
fn protected_allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.srv.config.read().enable_protected_configs.as_str() {
        "yes" => true,
        "local" => ctx.client.info.addr.is_local(),
        _ => false,
    }
}

fn config_set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() % 2 != 0 {
        return Err(errors::SYNTAX);
    }
    let pairs: Vec<(&[u8], &[u8])> = argv[2..].chunks(2).map(|p| (p[0], p[1])).collect();
    let mut found: Vec<&params::Param> = Vec::with_capacity(pairs.len());
    // The first problem is the one reported, as in Redis.
    let mut problem: Option<Error> = None;
    for &(name, _) in &pairs {
        match std::str::from_utf8(name).ok().and_then(params::find) {
            None => {
                problem.get_or_insert_with(|| errors::config_set_unknown(name));
            }
            Some(p) => {
                if problem.is_none() {
                    if !p.mutable {
                        problem = Some(errors::config_set_failed(
                            name,
                            "can't set immutable config",
                        ));
                    } else if p.protected && !protected_allowed(ctx) {
                        problem = Some(errors::config_set_failed(
                            name,
                            "can't set protected config",
                        ));
                    } else if found
                        .iter()
                        .any(|q| std::ptr::eq(params::canonical(q), params::canonical(p)))
                    {
                        problem = Some(errors::config_set_failed(name, "duplicate parameter"));
                    }
                }
                found.push(p);
            }
        }
    }
    if let Some(e) = problem {
        return Err(e);
    }
    // All or nothing: apply to a copy, commit only when every value parsed.
    let scope = scope(ctx);
    let mut next = ctx.srv.config.read().clone();
    let mut db_changed = false;
    for (p, &(name, value)) in found.iter().zip(&pairs) {
        let v = String::from_utf8_lossy(value);
        db_changed |= p
            .assign(&mut next, scope, &v)
            .map_err(|why| errors::config_set_failed(name, &why))?;
    }
    let db_settings = db_changed
        .then(|| next.dbs.iter().find(|d| d.index == ctx.client.db).cloned())
        .flatten();
    let default_policy = Policy::parse(next.maxmemory_policy.as_bytes()).unwrap_or_default();
    let aof_turn = {
        let was = ctx.srv.config.read().appendonly;
        (next.appendonly != was).then_some(next.appendonly)
    };
    // Rows the AOF writer reads when it opens: a change while it runs
    // would be reported and not applied, so it is refused instead.
    if ctx.srv.persist.aof_on() && aof_turn.is_none() {
        let cur = ctx.srv.config.read().clone();
        if let Some(p) = found
            .iter()
            .find(|p| p.aof_open && (p.get)(&cur) != (p.get)(&next))
        {
            return Err(errors::config_set_failed(
                p.name.as_bytes(),
                "can't change while the AOF runs (CONFIG SET appendonly no first)",
            ));
        }
    }
    if aof_turn == Some(true) && !next.persistence {
        return Err(errors::config_set_failed(
            b"appendonly",
            "persistence is off for this server (embedded without Config::persistence)",
        ));
    }
    // TLS: every file is read again now (a renewed certificate at the same
    // path included); a bad one fails the whole CONFIG SET, as in Redis.
    let tls = match found
        .iter()
        .zip(&pairs)
        .find(|(p, _)| params::reconfigures_tls(p))
    {
        Some((_, &(name, _))) => Some(crate::server::tls::Tls::prepare(&next).map_err(|why| {
            tracing::warn!("Failed to configure TLS: {why}");
            errors::config_set_failed(
                name,
                "Unable to update TLS configuration. Check server logs.",
            )
        })?),
        None => None,
    };
    *ctx.srv.config.write() = next;
    if let Some(tls) = tls {
        ctx.srv.tls.install(tls);
    }
    ctx.srv.config_changed();
    if let Some(d) = db_settings {
        let srv = ctx.srv;
        srv.tenancy
            .apply_db(d.index, Some(&d), default_policy, &srv.keyspace);
    }
    if let (Some(on), Some(srv)) = (aof_turn, ctx.srv.me.upgrade()) {
        // Every DB is locked to cut the base: the batch's lock goes first.
        ctx.release_db();
        if let Err(e) = crate::persistence::runtime::appendonly_changed(&srv, on) {
            srv.config.write().appendonly = !on;
            return Err(Error::from(format!("ERR {e}")));
        }
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn config_resetstat(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.srv.acl.failures.lock().reset();
    for d in &ctx.srv.acl.denials {
        d.store(0, Ordering::Relaxed);
    }
    for i in 0..ctx.srv.keyspace.len() {
        ctx.srv.keyspace.lock(i).stats = DbStats::default();
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// Writes the running configuration (and, without an aclfile, the users)
/// into the file the server was started with, TOML or redis.conf; see
/// `config::rewrite`.
fn config_rewrite(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    // One rewrite at a time: two would share a temp file, and the later
    // snapshot of the settings must be the one that lands.
    static REWRITING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let _one = REWRITING.lock();
    let cfg = ctx.srv.config.read().clone();
    let Some(path) = cfg.config_file.clone() else {
        return Err(errors::NO_CONFIG_FILE);
    };
    let users = ctx.srv.acl.users();
    crate::config::rewrite::rewrite_file(ctx.srv.persist.fs.as_ref(), &path, &cfg, &users)
        .map_err(|e| {
            // The reason only: the file's content holds secrets.
            tracing::warn!(path = %path.display(), error = %e, "CONFIG REWRITE failed");
            Error::from(format!("ERR Rewriting config file: {e}"))
        })?;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn config_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.status_lines(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(Outcome::Done)
}

// ---------------------------------------------------------------- SLOWLOG

fn slowlog_get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(errors::subcommand_syntax(argv[0], argv[1]));
    }
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match crate::protocol::parse::parse_i64(a) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => return Err(errors::SLOWLOG_COUNT),
        },
    };
    let log = ctx.srv.slowlog.lock();
    // A DB-restricted user lists only the commands run in its DBs.
    let user = &ctx.client.user;
    let shown: Vec<_> = log
        .entries
        .iter()
        .filter(|e| user.sees_db(e.db))
        .take(count)
        .collect();
    let out = &mut *ctx.out;
    out.array(shown.len());
    for e in shown {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time_s);
        out.int(e.duration_us as i64);
        out.array(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.addr.as_bytes());
        out.bulk(&e.name);
    }
    Ok(Outcome::Done)
}

fn slowlog_len(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let user = &ctx.client.user;
    let n = ctx
        .srv
        .slowlog
        .lock()
        .entries
        .iter()
        .filter(|e| user.sees_db(e.db))
        .count();
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.slowlog.lock().entries.clear();
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn slowlog_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.status_lines(&[
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(Outcome::Done)
}

// ------------------------------------------------------------------ misc

fn time(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let us = ctx.srv.clock.now_us();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
    Ok(Outcome::Done)
}

/// `[ASYNC|SYNC]`: true for ASYNC.
fn flush_mode(argv: &[&[u8]]) -> Result<bool, Error> {
    match argv.len() {
        1 => Ok(false),
        2 if is(argv[1], "async") => Ok(true),
        2 if is(argv[1], "sync") => Ok(false),
        _ => Err(errors::SYNTAX),
    }
}

/// Frees flushed tables off the command path when asked to.
fn dispose<T: Send + 'static>(old: T, async_free: bool) {
    if async_free {
        std::thread::spawn(move || drop(old));
    } else {
        drop(old);
    }
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let async_free = flush_mode(argv)?;
    let db = ctx.db();
    let old = db.flush();
    // Always a change, as Redis counts it (`server.dirty++`): logged and
    // announced to tracking clients even when the DB was empty.
    db.dirty += 1;
    // Dropped after the reply is written but, for SYNC, before the next
    // command of this client runs: Redis's SYNC semantics.
    dispose(old, async_free);
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// Redis's FLUSHALL for users with `alldbs`. A DB-restricted user is
/// refused (`flushall-scope deny`, logged like any database denial) or
/// flushes only its own DBs (`own`).
fn flushall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let async_free = flush_mode(argv)?;
    // Owned: the flush logs through `ctx` while it walks the list.
    let only = ctx.client.user.visible_dbs().map(<[usize]>::to_vec);
    let propagating = ctx.propagating();
    let srv = ctx.srv;
    // Logged under the locks that order it (`Ctx::emit_holding`).
    let old: Vec<_> = match only {
        None => {
            let mut all = srv.keyspace.lock_all();
            let old = all.iter_mut().map(|db| db.flush()).collect();
            if propagating {
                ctx.push_effect(ctx.client.db, argv.iter().map(|a| a.to_vec()).collect());
                let mut dbs: Vec<(usize, &mut crate::keyspace::Db)> =
                    all.iter_mut().map(|g| &mut **g).enumerate().collect();
                ctx.emit_holding(&mut dbs);
            }
            old
        }
        // One DB at a time: the others' tenants are never stalled. The log
        // says which DBs went, or a replay would flush them all.
        Some(list) => list
            .iter()
            .copied()
            .filter(|&i| i < srv.keyspace.len())
            .map(|i| {
                let mut db = srv.keyspace.lock(i);
                let old = db.flush();
                if propagating {
                    ctx.push_effect(i, crate::argv!(b"FLUSHDB"));
                    ctx.emit_holding(&mut [(i, &mut db)]);
                }
                old
            })
            .collect(),
    };
    if propagating {
        ctx.propagate_as(Vec::new());
    }
    // Every lock is released before the tables are freed.
    dispose(old, async_free);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn shutdown(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for a in &argv[1..] {
        if is(a, "nosave") {
            nosave = true;
        } else if is(a, "save") {
            save = true;
        } else if is(a, "now") || is(a, "force") {
            other = true;
        } else if is(a, "abort") {
            abort = true;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    if (abort && (nosave || save || other)) || (nosave && save) {
        return Err(errors::SYNTAX);
    }
    if abort {
        // Shutdown is immediate here, so there is never one to abort.
        return Err(errors::NO_SHUTDOWN_IN_PROGRESS);
    }
    let force = argv[1..].iter().any(|a| is(a, "force"));
    let mode = if nosave {
        Some(false)
    } else if save {
        Some(true)
    } else {
        None
    };
    crate::persistence::runtime::before_shutdown(ctx.srv, mode, force).map_err(Error::from)?;
    ctx.srv.request_shutdown();
    Ok(Outcome::Close)
}

fn save(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    crate::persistence::runtime::save(ctx.srv).map_err(Error::from)?;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn bgsave(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let schedule = match argv.get(1) {
        None => false,
        Some(a) if argv.len() == 2 && is(a, "schedule") => true,
        Some(_) => return Err(errors::SYNTAX),
    };
    let srv = ctx.srv.me.upgrade().ok_or(errors::SYNTAX)?;
    let running = srv.persist.background();
    if let (true, Some(_)) = (schedule, running) {
        srv.persist
            .bgsave_scheduled
            .store(true, std::sync::atomic::Ordering::Relaxed);
        ctx.out.simple(b"Background saving scheduled");
        return Ok(Outcome::Done);
    }
    if let Some((crate::persistence::runtime::Job::AofRewrite, _)) = running {
        return Err(Error::lit(
            "ERR Background append only file rewriting in progress",
        ));
    }
    crate::persistence::runtime::bgsave(&srv).map_err(Error::from)?;
    ctx.out.simple(b"Background saving started");
    Ok(Outcome::Done)
}

fn bgrewriteaof(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let srv = ctx.srv.me.upgrade().ok_or(errors::SYNTAX)?;
    crate::persistence::runtime::bgrewriteaof(&srv).map_err(Error::from)?;
    ctx.out
        .simple(b"Background append only file rewriting started");
    Ok(Outcome::Done)
}

fn lastsave(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.srv.persist.state().last_save);
    Ok(Outcome::Done)
}

fn monitor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    // A second MONITOR is silently ignored, as in Redis.
    if ctx.client.info.monitor.load(Ordering::Relaxed) {
        return Ok(Outcome::Done);
    }
    ctx.srv.clients.add_monitor(&ctx.client.info);
    ctx.out.ok();
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_like_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(1 << 30), "1.00G");
    }

    #[test]
    fn command_subs_are_found() {
        let (full, spec) = find_full(None, b"COMMAND|Info").expect("command|info");
        assert_eq!(full, "command|info");
        assert_eq!(spec.arity, -2);
        assert!(find_full(None, b"command|nosuch").is_none());
        assert_eq!(spec.subcommands.len(), 0);
    }
}
