//! Scripting group: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL,
//! FCALL_RO, FUNCTION. The Lua side lives in [`crate::scripting`].

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
        .flags_from(eval_flags)
        .doc("Execute a Lua script server side", "2.6.0", DEPENDS),
    CommandSpec::new("evalsha", -3, EV | MAY_REPLICATE, G, evalsha)
        .find_keys(numkeys_at_2)
        .flags_from(evalsha_flags)
        .doc("Execute a Lua script server side", "2.6.0", DEPENDS),
    CommandSpec::new("eval_ro", -3, READONLY | EV, G, eval_ro)
        .find_keys(numkeys_at_2)
        .flags_from(eval_flags)
        .doc(
            "Execute a read-only Lua script server side",
            "7.0.0",
            DEPENDS,
        ),
    CommandSpec::new("evalsha_ro", -3, READONLY | EV, G, evalsha_ro)
        .find_keys(numkeys_at_2)
        .flags_from(evalsha_flags)
        .doc(
            "Execute a read-only Lua script server side",
            "7.0.0",
            DEPENDS,
        ),
    CommandSpec::new("fcall", -3, EV | MAY_REPLICATE, G, fcall)
        .find_keys(numkeys_at_2)
        .flags_from(fcall_flags)
        .doc("Invoke a function", "7.0.0", DEPENDS),
    CommandSpec::new("fcall_ro", -3, READONLY | EV, G, fcall_ro)
        .find_keys(numkeys_at_2)
        .flags_from(fcall_flags)
        .doc("Invoke a read-only function", "7.0.0", DEPENDS),
    CommandSpec::container("function", G, FUNCTION_SUBS).doc(
        "A container for function commands",
        "7.0.0",
        "Depends on subcommand.",
    ),
    CommandSpec::container("script", G, SCRIPT_SUBS).doc(
        "A container for Lua scripts management commands",
        "2.6.0",
        "Depends on subcommand.",
    ),
];

// Library changes are writes (logged as effects, counted for the save
// schedule); under `script-scope global` they change every tenant's
// libraries, so DB-restricted users may make them only with per-DB ones.
const FN: u32 = NOSCRIPT | NO_DB_LOCK;

static FUNCTION_SUBS: &[CommandSpec] = &[
    CommandSpec::new("delete", 3, WRITE | FN, G, function_delete)
        .tenant(Tenant::Check(own_libraries))
        .doc("Delete a function by name", "7.0.0", "O(1)"),
    CommandSpec::new("dump", 2, FN, G, function_dump).doc(
        "Dump all functions into a serialized binary payload",
        "7.0.0",
        "O(N) where N is the number of functions",
    ),
    CommandSpec::new("flush", -2, WRITE | FN, G, function_flush)
        .tenant(Tenant::Check(own_libraries))
        .doc(
            "Deleting all functions",
            "7.0.0",
            "O(N) where N is the number of functions deleted",
        ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, function_help).doc(
        "Show helpful text about the different subcommands",
        "7.0.0",
        "O(1)",
    ),
    CommandSpec::new("kill", 2, FN | ALLOW_BUSY, G, function_kill)
        .tenant(Tenant::Check(own_running_script))
        .doc("Kill the function currently in execution.", "7.0.0", "O(1)"),
    CommandSpec::new("list", -2, FN, G, function_list).doc(
        "List information about all the functions",
        "7.0.0",
        "O(N) where N is the number of functions",
    ),
    CommandSpec::new("load", -3, WRITE | DENYOOM | FN, G, function_load)
        .tenant(Tenant::Check(own_libraries))
        .doc(
            "Create a function with the given arguments (name, code, description)",
            "7.0.0",
            "O(1) (considering compilation time is redundant)",
        ),
    CommandSpec::new("restore", -3, WRITE | DENYOOM | FN, G, function_restore)
        .tenant(Tenant::Check(own_libraries))
        .doc(
            "Restore all the functions on the given payload",
            "7.0.0",
            "O(N) where N is the number of functions on the payload",
        ),
    CommandSpec::new("stats", 2, FN | ALLOW_BUSY, G, function_stats).doc(
        "Return information about the function currently running (name, description, duration)",
        "7.0.0",
        "O(1)",
    ),
];

static SCRIPT_SUBS: &[CommandSpec] = &[
    CommandSpec::new("debug", 3, NOSCRIPT | NO_DB_LOCK, G, script_debug).doc(
        "Set the debug mode for executed scripts.",
        "3.2.0",
        "O(1)",
    ),
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

/// EVAL of a script with a `#!` line runs with the flags it declares
/// (Redis's evalGetCommandFlags); one that does not parse keeps the row's,
/// and EVAL answers the error.
fn eval_flags(_ctx: &Ctx<'_>, argv: &[&[u8]], row: u32) -> u32 {
    match crate::scripting::shebang::eval_flags(argv[1]) {
        Ok(Some((declared, _))) => crate::scripting::shebang::command_flags(row, declared),
        _ => row,
    }
}

/// EVALSHA: the flags the cached script declared.
fn evalsha_flags(ctx: &Ctx<'_>, argv: &[&[u8]], row: u32) -> u32 {
    match ctx.srv.scripting.sha_flags(ctx.client.db, argv[1]) {
        Some(declared) => crate::scripting::shebang::command_flags(row, declared),
        None => row,
    }
}

/// FCALL: the flags the function was registered with.
fn fcall_flags(ctx: &Ctx<'_>, argv: &[&[u8]], row: u32) -> u32 {
    let sc = &ctx.srv.scripting;
    let scope = sc.function_scope(ctx.client.db);
    let declared = sc
        .libraries
        .read()
        .function(scope, argv[1])
        .map(|f| f.flags);
    match declared {
        Some(declared) => crate::scripting::shebang::command_flags(row, declared),
        None => row,
    }
}

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
    ctx.srv.scripting.kill_if(|db| user.sees_db(db), false)?;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn script_load(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sha = ctx.srv.scripting.load(ctx.client.db, argv[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(Outcome::Done)
}

/// SCRIPT DEBUG: keyward has no Lua debugger (LDB). NO asks for what is
/// already so; YES and SYNC are refused, never acknowledged.
fn script_debug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if is(argv[2], "no") {
        ctx.out.ok();
        Ok(Outcome::Done)
    } else if is(argv[2], "yes") || is(argv[2], "sync") {
        Err(Error::lit(
            "ERR SCRIPT DEBUG is not supported: keyward has no Lua debugger",
        ))
    } else {
        Err(Error::lit("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
    }
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
    ctx.out.status_lines(LINES);
    Ok(Outcome::Done)
}

fn fcall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    crate::scripting::functions::fcall(ctx, argv, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    crate::scripting::functions::fcall(ctx, argv, true)
}

/// FUNCTION LOAD / DELETE / FLUSH / RESTORE from a DB-restricted user:
/// only when each DB has its own libraries (`script-scope db`); global
/// libraries are every tenant's.
fn own_libraries(ctx: &Ctx<'_>, _argv: &[&[u8]]) -> bool {
    ctx.srv.scripting.is_per_db()
}

/// A library change counts for the save schedule, as Redis's `dirty++`.
/// Global libraries are not the selected DB's: a change made from a
/// `persist = false` DB is logged in a persisted one, so the AOF keeps it.
fn libraries_changed(ctx: &mut Ctx<'_>, argv: &[&[u8]]) {
    ctx.db().dirty += 1;
    ctx.release_db();
    if ctx.propagating() && !ctx.srv.scripting.is_per_db() {
        let keep = crate::persistence::runtime::persisted(&ctx.srv.config.read());
        if !keep.get(ctx.client.db).copied().unwrap_or(true) {
            if let Some(db) = keep.iter().position(|k| *k) {
                let cmd = argv.iter().map(|a| a.to_vec()).collect();
                ctx.effect = crate::server::effects::Effect::ReplacedIn(vec![(db, cmd)]);
            }
        }
    }
}

fn function_load(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut replace = false;
    let mut at = 2;
    while at < argv.len() - 1 {
        if is(argv[at], "replace") {
            replace = true;
            at += 1;
            continue;
        }
        return Err(Error::from(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(argv[at])
        )));
    }
    if at >= argv.len() {
        return Err(Error::lit("ERR Function code is missing"));
    }
    let sc = &ctx.srv.scripting;
    let scope = sc.function_scope(ctx.client.db);
    let timeout = !ctx.client.replaying;
    let name = sc
        .function_load(scope, argv[at], replace, timeout)
        .map_err(|e| Error::from(format!("ERR {e}")))?;
    libraries_changed(ctx, argv);
    ctx.out.bulk(name.as_bytes());
    Ok(Outcome::Done)
}

fn function_delete(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sc = &ctx.srv.scripting;
    sc.function_delete(sc.function_scope(ctx.client.db), argv[2])?;
    libraries_changed(ctx, argv);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn function_flush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() > 3 {
        return Err(super::errors::subcommand_syntax(argv[0], argv[1]));
    }
    if argv.len() == 3 && !is(argv[2], "sync") && !is(argv[2], "async") {
        return Err(Error::lit(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    let sc = &ctx.srv.scripting;
    if sc.is_per_db() {
        // Each DB's libraries are its own: FLUSH empties the selected DB's.
        sc.function_flush(Some(&[ctx.client.db]));
    } else {
        sc.function_flush(None);
    }
    libraries_changed(ctx, argv);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn function_restore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    use crate::scripting::functions::{parse_payload, RestorePolicy};
    if argv.len() > 4 {
        return Err(super::errors::subcommand_syntax(argv[0], argv[1]));
    }
    let policy =
        match argv.get(3) {
            None => RestorePolicy::Append,
            Some(p) if is(p, "append") => RestorePolicy::Append,
            Some(p) if is(p, "replace") => RestorePolicy::Replace,
            Some(p) if is(p, "flush") => RestorePolicy::Flush,
            Some(_) => return Err(Error::lit(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let err = |e: String| Error::from(format!("ERR {e}"));
    let codes = parse_payload(argv[2]).map_err(err)?;
    let sc = &ctx.srv.scripting;
    sc.function_restore(sc.function_scope(ctx.client.db), codes, policy)
        .map_err(err)?;
    libraries_changed(ctx, argv);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn function_dump(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let sc = &ctx.srv.scripting;
    let scope = sc.function_scope(ctx.client.db);
    let codes: Vec<Vec<u8>> = sc
        .libraries
        .read()
        .scope(scope)
        .map(|l| l.code.clone())
        .collect();
    let payload = crate::scripting::functions::dump_payload(&codes);
    ctx.out.bulk(&payload);
    Ok(Outcome::Done)
}

fn function_list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    use crate::scripting::functions::flag;
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < argv.len() {
        if !with_code && is(argv[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(argv[i], "libraryname") {
            if i >= argv.len() - 1 {
                return Err(Error::lit("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(argv[i]);
        } else {
            return Err(Error::from(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(argv[i])
            )));
        }
        i += 1;
    }
    let sc = &ctx.srv.scripting;
    let scope = sc.function_scope(ctx.client.db);
    let libs = sc.libraries.read();
    let shown: Vec<_> = libs
        .scope(scope)
        .filter(|l| pattern.is_none_or(|p| super::glob::glob_match(p, l.name.as_bytes(), true)))
        .collect();
    let out = &mut *ctx.out;
    out.array(shown.len());
    for lib in shown {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = flag::NAMES
                .iter()
                .filter(|(b, _)| f.flags & b != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(Outcome::Done)
}

fn function_stats(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let sc = &ctx.srv.scripting;
    let scope = sc.function_scope(ctx.client.db);
    let (libraries, functions) = {
        let libs = sc.libraries.read();
        libs.scope(scope)
            .fold((0, 0), |(l, f), lib| (l + 1, f + lib.functions.len()))
    };
    // A DB-restricted user sees only a function running in its DBs.
    let running = sc
        .running_function()
        .filter(|(_, _, db)| ctx.client.user.sees_db(*db));
    let started = sc.started_ms();
    let now = ctx.srv.clock.now_ms();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some((name, cmd, _)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(cmd.len());
            for a in &cmd {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int((now - started).max(0));
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
    Ok(Outcome::Done)
}

fn function_kill(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let user = &ctx.client.user;
    ctx.srv.scripting.kill_if(|db| user.sees_db(db), true)?;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn function_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    const LINES: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.status_lines(LINES);
    Ok(Outcome::Done)
}
