//! Scripting group: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT. The Lua
//! side lives in [`crate::scripting`].

use super::args::is;
use super::errors::{CmdResult, Error};
use super::spec::numkeys_at_2;
use super::spec::{flags::*, CommandSpec, Group, Tenant};
use super::Ctx;
use crate::commands::Outcome;

const G: Group = Group::Scripting;

// NO_DB_LOCK: the batch's DB lock is released before the Lua state's lock
// is taken, so a script waiting for a DB never waits on a client that
// holds that DB and waits for the Lua state.
const EV: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | NO_DB_LOCK;
const DEPENDS: &str = "Depends on the script that is executed.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, EV | MAY_REPLICATE, G, eval)
        .find_keys(numkeys_at_2)
        .doc("Execute a Lua script server side", "2.6.0", DEPENDS),
    CommandSpec::new("evalsha", -3, EV | MAY_REPLICATE, G, evalsha)
        .find_keys(numkeys_at_2)
        .doc("Execute a Lua script server side", "2.6.0", DEPENDS),
    CommandSpec::new("eval_ro", -3, READONLY | EV, G, eval_ro)
        .find_keys(numkeys_at_2)
        .doc(
            "Execute a read-only Lua script server side",
            "7.0.0",
            DEPENDS,
        ),
    CommandSpec::new("evalsha_ro", -3, READONLY | EV, G, evalsha_ro)
        .find_keys(numkeys_at_2)
        .doc(
            "Execute a read-only Lua script server side",
            "7.0.0",
            DEPENDS,
        ),
    CommandSpec::container("script", G, SCRIPT_SUBS).doc(
        "A container for Lua scripts management commands",
        "2.6.0",
        "Depends on subcommand.",
    ),
];

static SCRIPT_SUBS: &[CommandSpec] = &[
    CommandSpec::new("exists", -3, NOSCRIPT | NO_DB_LOCK, G, script_exists).doc(
        "Check existence of scripts in the script cache.",
        "2.6.0",
        "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
    ),
    CommandSpec::new("flush", -2, NOSCRIPT | MAY_REPLICATE | NO_DB_LOCK, G, script_flush)
        .tenant(Tenant::Check(own_script_cache))
        .doc(
        "Remove all the scripts from the script cache.",
        "2.6.0",
        "O(N) with N being the number of scripts in cache",
    ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, script_help).doc(
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
    ),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY | NO_DB_LOCK, G, script_kill)
        .tenant(Tenant::Check(own_running_script))
        .doc(
        "Kill the script currently in execution.",
        "2.6.0",
        "O(1)",
    ),
    CommandSpec::new("load", 3, NOSCRIPT | STALE | MAY_REPLICATE | NO_DB_LOCK, G, script_load).doc(
        "Load the specified Lua script into the script cache.",
        "2.6.0",
        "O(N) with N being the length in bytes of the script body.",
    ),
];

fn eval(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    crate::scripting::eval(ctx, argv, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    crate::scripting::eval(ctx, argv, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    crate::scripting::eval(ctx, argv, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    crate::scripting::eval(ctx, argv, true, true)
}

fn script_exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.out.array(argv.len() - 2);
    for sha in &argv[2..] {
        let found = ctx.srv.scripting.exists(ctx.client.db, sha);
        ctx.out.int(found as i64);
    }
    Ok(Outcome::Done)
}

/// SCRIPT FLUSH from a DB-restricted user: only where its DBs have caches
/// of their own (`script-scope db`); a global cache is every tenant's.
fn own_script_cache(ctx: &Ctx<'_>, _argv: &[&[u8]]) -> bool {
    ctx.srv.scripting.is_per_db()
}

/// SCRIPT KILL from a DB-restricted user: only a script running in one of
/// its DBs (or none, for the NOTBUSY reply).
fn own_running_script(ctx: &Ctx<'_>, _argv: &[&[u8]]) -> bool {
    ctx.srv
        .scripting
        .running_db()
        .is_none_or(|db| ctx.client.user.sees_db(db))
}

fn script_flush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 || (argv.len() == 3 && !is(argv[2], "sync") && !is(argv[2], "async")) {
        return Err(Error::lit(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    match ctx.client.user.visible_dbs() {
        Some(dbs) => ctx.srv.scripting.flush_dbs(dbs),
        None => ctx.srv.scripting.flush(),
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn script_kill(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let user = &ctx.client.user;
    ctx.srv.scripting.kill_if(|db| user.sees_db(db))?;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn script_load(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sha = ctx.srv.scripting.load(ctx.client.db, argv[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(Outcome::Done)
}

fn script_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l.as_bytes());
    }
    Ok(Outcome::Done)
}
