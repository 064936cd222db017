//! MEMORY USAGE, MALLOC-STATS and HELP.
//!
//! MEMORY STATS, DOCTOR and PURGE need the allocator's own figures
//! (issue 13's honest memory); until then they answer Redis's unknown
//! subcommand error rather than numbers keyward cannot back.

use crate::commands::Outcome;

use super::args::is;
use super::errors::CmdResult;
use super::spec::{flags::*, CommandSpec, Group};
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

/// What Redis answers when its allocator is not jemalloc.
fn malloc_stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out
        .bulk(b"Stats not supported for the current allocator");
    Ok(Outcome::Done)
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.status_lines(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(Outcome::Done)
}
