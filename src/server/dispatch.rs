//! Dispatch: the only way a command runs. Network, (later) EXEC and Lua all
//! come through [`dispatch`], so the gates below cannot be bypassed.
//!
//! Two halves. *Admission* ([`admit`]): the gates, in this fixed order,
//! each reading the command's flags and never its name: lookup → arity →
//! auth → ACL → tenant boundary → busy/script/subscribed context →
//! persistence (LOADING, MISCONF) → quota (`tenancy::gate`) → MULTI
//! queueing. *Execution* by an [`Executor`]: [`Local`] runs the handler on
//! the keyspace with the after-execution hook every write's effects pass
//! through. Then the bookkeeping both share. The handler's [`Outcome`]
//! tells the connection what comes next.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::acl::Denied;
use crate::commands::errors::{self, Error};
use crate::commands::spec::flags;
use crate::commands::spec::CommandSpec;
use crate::commands::table::Command;
use crate::commands::{CmdResult, Ctx, Outcome, REGISTRY};
use crate::scripting::Turn;
use crate::server::stats::CmdStat;

/// Resolves argv to a command (or subcommand) by the original names,
/// applying the lookup and arity gates.
pub fn resolve(argv: &[&[u8]]) -> Result<&'static Command, Error> {
    let cmd = REGISTRY
        .lookup(argv[0])
        .ok_or_else(|| errors::unknown_command(argv))?;
    resolve_sub(cmd, argv)
}

/// [`resolve`] by the names this server answers to (`rename-command`):
/// what clients and scripts send. A log being replayed also finds the
/// original names, which keyward's own effects use.
#[inline]
pub fn resolve_for(ctx: &Ctx<'_>, argv: &[&[u8]]) -> Result<&'static Command, Error> {
    resolve_in(ctx.srv.renames.as_deref(), argv, ctx.client.replaying)
}

/// [`resolve`] through `renames` when the server has any; `original`: a
/// log's names (see [`resolve_for`]).
#[inline]
pub fn resolve_in(
    renames: Option<&crate::commands::table::Renames>,
    argv: &[&[u8]],
    original: bool,
) -> Result<&'static Command, Error> {
    match renames {
        None => resolve(argv),
        Some(r) => resolve_renamed(r, argv, original),
    }
}

/// The top-level command `name` calls on this server (`rename-command`).
pub fn lookup_name(ctx: &Ctx<'_>, name: &[u8]) -> Option<&'static Command> {
    crate::commands::table::lookup_named(ctx.srv.renames.as_deref(), name)
}

/// [`resolve`] through `renames`; `original`: fall back to the original
/// names (see [`resolve_for`]).
#[cold]
#[inline(never)]
pub fn resolve_renamed(
    renames: &crate::commands::table::Renames,
    argv: &[&[u8]],
    original: bool,
) -> Result<&'static Command, Error> {
    let cmd = if original {
        renames.lookup_or_original(argv[0])
    } else {
        renames.lookup(argv[0])
    };
    resolve_sub(cmd.ok_or_else(|| errors::unknown_command(argv))?, argv)
}

/// The subcommand lookup and arity gates for a resolved top-level `cmd`.
/// Always inlined: as a call of its own it cost GET ~30 instructions
/// (callgrind on benches/dispatch.rs).
#[inline(always)]
fn resolve_sub(cmd: &'static Command, argv: &[&[u8]]) -> Result<&'static Command, Error> {
    let reg = &*REGISTRY;
    if cmd.is_container() {
        if argv.len() < 2 {
            if cmd.spec.handler.is_some() && cmd.spec.arity_ok(argv.len()) {
                return Ok(cmd);
            }
            return Err(errors::wrong_arity(&cmd.fullname));
        }
        let sub = reg
            .lookup_sub(cmd, argv[1])
            .ok_or_else(|| errors::unknown_subcommand(argv[0], argv[1]))?;
        if !sub.spec.arity_ok(argv.len()) {
            return Err(errors::wrong_arity(&sub.fullname));
        }
        return Ok(sub);
    }
    if !cmd.spec.arity_ok(argv.len()) {
        return Err(errors::wrong_arity(&cmd.fullname));
    }
    Ok(cmd)
}

fn noperm(denied: Denied, cmd: &Command, ctx: &Ctx<'_>) -> Error {
    let user = &ctx.client.user.name;
    let text = match denied {
        Denied::Command => format!(
            "NOPERM User {user} has no permissions to run the '{}' command",
            cmd.fullname
        ),
        Denied::Key => "NOPERM No permissions to access a key".to_string(),
        Denied::Channel => "NOPERM No permissions to access a channel".to_string(),
        Denied::Database => "NOPERM No permissions to access database".to_string(),
    };
    Error::from(text)
}

/// Runs one command on the local keyspace, writing its reply (or error)
/// into `ctx.out`; returns what the connection does next.
pub fn dispatch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Outcome {
    dispatch_with(ctx, argv, &Local)
}

/// Admission, then `exec`, then the bookkeeping every executed command
/// gets (commandstats, error replies, MONITOR, SLOWLOG).
#[inline]
pub fn dispatch_with<E: Executor>(ctx: &mut Ctx<'_>, argv: &[&[u8]], exec: &E) -> Outcome {
    match admit(ctx, argv) {
        Admission::Run(admitted) => run(ctx, admitted, argv, exec),
        Admission::Answered(outcome) => {
            // A refusal may follow evictions (the quota gate): their
            // events go out now, not at the next cron tick.
            if ctx.srv.keyspace.notifying() {
                ctx.publish_notes(false);
            }
            outcome
        }
    }
}

/// Where an admitted command runs: the local keyspace ([`Local`]); the
/// sidecar's upstream pool is the second implementation this seam is for.
pub trait Executor {
    /// Runs `cmd`, writing its reply into `ctx.out`; an error is returned
    /// (dispatch writes it), not written.
    fn execute(&self, ctx: &mut Ctx<'_>, cmd: &'static Command, argv: &[&[u8]]) -> CmdResult;
}

/// The local keyspace: the row's handler, with the after-execution hook
/// through which every write's effects pass (see `server::effects`), and
/// the blocked clients its writes made ready served after it.
pub struct Local;

impl Executor for Local {
    // Always: past a size LLVM stops inlining it, and the call costs SET
    // ~30 instructions (callgrind on benches/dispatch.rs).
    #[inline(always)]
    fn execute(&self, ctx: &mut Ctx<'_>, cmd: &'static Command, argv: &[&[u8]]) -> CmdResult {
        let spec = cmd.spec;
        let handler = spec
            .handler
            .expect("resolve returns only runnable commands");
        // One relaxed load when no AOF listens.
        if !ctx.srv.propagation.is_on() {
            let result = handler(ctx, argv);
            if !ctx.client.in_exec {
                // Inside EXEC, blocked clients are served once the queue ran.
                ctx.serve_blocked();
            }
            // One relaxed load while notifications are off.
            if ctx.srv.keyspace.notifying() {
                ctx.publish_notes(spec.has(flags::NO_DB_LOCK) && spec.has(flags::WRITE));
            }
            return result;
        }
        let db = ctx.client.db;
        // While a client tracks, the hook runs for it (see server::tracking).
        let tracking = ctx.srv.tracking.is_on();
        if tracking && !ctx.client.in_exec && !ctx.client.in_script {
            let mut own = Vec::new();
            ctx.srv.tracking.limit(ctx.srv, ctx.client.id, &mut own);
            ctx.out.buf.extend_from_slice(&own);
        }
        let dirty_before =
            (spec.has(flags::WRITE) && !spec.has(flags::NO_DB_LOCK)).then(|| ctx.db().dirty);
        let outer = std::mem::take(&mut ctx.effect);
        let result = handler(ctx, argv);
        record_effects(ctx, spec, argv, db, dirty_before, result.is_ok());
        if !ctx.client.in_exec {
            ctx.serve_blocked();
        }
        // Pops that served blocked clients come after the command.
        ctx.collect_db_effects();
        ctx.effect = outer;
        if tracking {
            super::tracking::after_command(ctx, spec, argv, db, result.is_ok());
        }
        if ctx.srv.keyspace.notifying() {
            ctx.publish_notes(spec.has(flags::NO_DB_LOCK) && spec.has(flags::WRITE));
        }
        // Still under the lock of the DB it ran in: the log's order is the
        // DB's order (see `emit_pending`).
        if !ctx.client.in_exec && !ctx.client.in_script {
            if !ctx.client.effects.is_empty() {
                emit_pending(ctx);
            }
            ctx.client.track_seen = 0;
        }
        result
    }
}

/// Hands the client's pending effects to the sink as one unit, in the
/// order they happened, and keeps the ticket its replies wait for.
///
/// Called while the DB locks that ordered those effects are still held:
/// at the end of a top-level command (its DB's lock), when a transaction
/// or script is about to let go of a DB's lock (`Ctx::db` switching DBs,
/// `Ctx::release_db`), and by a cross-DB write under the locks it took
/// (`Ctx::emit_holding`). So with any number of workers, a write logged
/// before another that touched the same DB also ran before it, and the
/// replayed log is the execution's order. The price: a transaction or
/// script that moves between DBs is logged as one MULTI/EXEC per stretch
/// in one DB (its stretches were not atomic for the other clients either).
pub fn emit_pending(ctx: &mut Ctx<'_>) {
    // Tracking invalidates what its hook has not seen yet (the command is
    // still running when a cross-DB write emits under its locks).
    if ctx.srv.tracking.is_on() {
        let from = ctx.client.track_seen.min(ctx.client.effects.len());
        if from < ctx.client.effects.len() {
            let effects: Vec<(usize, &super::effects::Argv)> = ctx.client.effects[from..]
                .iter()
                .map(|(_, d, a)| (*d, a))
                .collect();
            ctx.srv.tracking.invalidate(
                ctx.srv,
                &effects,
                Some(ctx.client.id),
                &mut ctx.client.track_pushes,
            );
        }
    }
    ctx.client.track_seen = 0;
    let mut pending = std::mem::take(&mut ctx.client.effects);
    pending.sort_by_key(|e| e.0);
    let effects = pending.into_iter().map(|(_, d, c)| (d, c)).collect();
    let ticket = ctx.srv.propagation.emit(effects, true);
    // A refused append (the AOF failed; the sink raised MISCONF)
    // withholds the replies of a batch whose writes it lost; a read
    // that only expired a key lazily keeps its reply, as in Redis.
    let own = std::mem::take(&mut ctx.client.effects_own);
    let c = &mut *ctx.client;
    if ticket != super::effects::REFUSED {
        c.sync_ticket = c.sync_ticket.max(ticket);
        if own {
            c.woff = c.woff.max(ticket & !super::effects::SYNC_REQUIRED);
        }
    } else if own {
        c.sync_ticket = ticket;
    }
}

/// What admission decided.
pub enum Admission<'s> {
    /// Every gate passed: the command runs.
    Run(Admitted<'s>),
    /// Refused (its error written) or queued in MULTI (`+QUEUED`
    /// written), or not run at all ([`Outcome::Wait`]).
    Answered(Outcome),
}

/// A command every gate let through.
pub struct Admitted<'s> {
    pub cmd: &'static Command,
    /// Its commandstats row (this thread's shard).
    stat: &'s CmdStat,
    /// The selected DB's quota gates as admission read them.
    gates: u8,
}

/// Lookup and every gate, in a fixed order, each reading the command's
/// flags and never its name. Nothing here touches the keyspace, so an
/// executor that forwards to another server gets the same gates.
/// Inlined into dispatch: as a call of its own, with a second commandstats
/// lookup and a 40-byte Outcome, the split cost 5 % of a SET
/// (callgrind on `benches/dispatch.rs`: 1482 Ir per dispatch before the
/// split, 1562 then, 1498 now; GET 1092 → 1099). The CLIENT PAUSE gate is
/// one more relaxed load (measured inside the bench loop only, setup
/// excluded: GET 944 → 945 Ir with it and CLIENT NO-TOUCH's check).
#[inline(always)]
pub fn admit<'s>(ctx: &mut Ctx<'s>, argv: &[&[u8]]) -> Admission<'s> {
    // Another client's script runs: nothing else does until it ends or
    // passes busy-reply-threshold. The connection waits for its turn and
    // dispatches this command again (see Scripting::wait_turn).
    // One atomic load when no script runs; the BUSY gate below reuses it.
    let turn = ctx.srv.scripting.turn(ctx.client.id, ctx.now);
    if turn == Turn::Wait && !ctx.client.in_script && !ctx.client.in_exec {
        return Admission::Answered(Outcome::Wait);
    }
    let cmd = match resolve_for(ctx, argv) {
        Ok(c) => c,
        Err(e) => {
            if let Some(c) = lookup_name(ctx, argv[0]) {
                ctx.srv
                    .stats
                    .cmd(c.id)
                    .rejected
                    .fetch_add(1, Ordering::Relaxed);
            }
            return refuse(ctx, &e);
        }
    };
    let spec = cmd.spec;
    let stat = ctx.srv.stats.cmd(cmd.id);
    if !ctx.client.authenticated && !spec.has(flags::NO_AUTH) {
        stat.rejected.fetch_add(1, Ordering::Relaxed);
        return refuse(ctx, &errors::NOAUTH);
    }
    // ACL gate: one atomic load for unrestricted users (the default one).
    if !ctx.client.user.is_fast() {
        if ctx.client.user.is_stale() {
            // ACL SETUSER/DELUSER replaced the user: pick up its new rules.
            match ctx.srv.acl.get(ctx.client.user.name.as_bytes()) {
                Some(u) => ctx.client.user = u,
                None => {
                    reply_error(ctx, &errors::NOAUTH);
                    return Admission::Answered(Outcome::Close);
                }
            }
        }
        if let Err((denied, arg)) = ctx.client.user.check(
            cmd,
            argv,
            ctx.client.db,
            ctx.srv.hot.all_dbs_own.load(Ordering::Relaxed),
        ) {
            stat.rejected.fetch_add(1, Ordering::Relaxed);
            let object = match (denied, arg.and_then(|i| argv.get(i))) {
                (_, Some(a)) => String::from_utf8_lossy(a).into_owned(),
                // Valkey logs the command when no argument names the DB.
                (_, None) => cmd.fullname.clone(),
            };
            let name = ctx.client.user.name.clone();
            crate::commands::acl::log_denial(ctx, denied.reason(), object, name);
            let e = noperm(denied, cmd, ctx);
            return refuse(ctx, &e);
        }
        // The tenant boundary: a DB-restricted user never acts outside its
        // DBs, whatever its command rules allow (the row's `Tenant`).
        if ctx.client.user.is_restricted() && !crate::tenancy::boundary::allows(ctx, cmd, argv) {
            stat.rejected.fetch_add(1, Ordering::Relaxed);
            let name = ctx.client.user.name.clone();
            let e = errors::outside_tenant(&name, &cmd.fullname);
            crate::commands::acl::log_denial(
                ctx,
                Denied::Database.reason(),
                cmd.fullname.clone(),
                name,
            );
            return refuse(ctx, &e);
        }
    }
    if turn == Turn::Busy && !spec.has(flags::ALLOW_BUSY) {
        stat.rejected.fetch_add(1, Ordering::Relaxed);
        let busy = ctx.srv.scripting.busy_error();
        return refuse(ctx, &busy);
    }
    // The next two refusals do not fail a transaction, as in Redis.
    if ctx.client.in_script && spec.has(flags::NOSCRIPT) {
        stat.rejected.fetch_add(1, Ordering::Relaxed);
        reply_error(ctx, &errors::NOT_FROM_SCRIPT);
        return Admission::Answered(Outcome::Done);
    }
    if ctx.client.subs.total() > 0 && !ctx.out.is_resp3() && !spec.has(flags::PUBSUB_CONTEXT) {
        stat.rejected.fetch_add(1, Ordering::Relaxed);
        reply_error(ctx, &errors::not_in_subscribed_context(&cmd.fullname));
        return Admission::Answered(Outcome::Done);
    }
    // Persistence gates: one relaxed load, zero unless loading or a save
    // or AOF write failed.
    let pgate = ctx.srv.persist.gate.load(Ordering::Relaxed);
    if pgate != 0 && !ctx.client.replaying {
        if let Some(e) = persistence_refusal(ctx, spec.flags_for(ctx, argv), pgate) {
            stat.rejected.fetch_add(1, Ordering::Relaxed);
            return refuse(ctx, &e);
        }
    }
    // CLIENT PAUSE: one relaxed load, zero unless a pause runs. Before the
    // quota gate, so a held command is charged once, when it runs.
    if ctx.srv.pause.mode() != 0 && paused(ctx, spec, argv) {
        return Admission::Answered(Outcome::Paused);
    }
    // Quota gate: one relaxed load and a branch for a DB without limits.
    let gates = ctx
        .srv
        .tenancy
        .db(ctx.client.db)
        .gates
        .load(Ordering::Relaxed);
    if gates != 0 && !ctx.client.replaying {
        let queuing = ctx.client.multi.is_some() && !spec.has(flags::TX_CONTROL);
        if let Err(e) = crate::tenancy::gate::check(ctx, spec, argv, gates, queuing) {
            stat.rejected.fetch_add(1, Ordering::Relaxed);
            return refuse(ctx, &e);
        }
    }
    if ctx.client.multi.is_some() && !spec.has(flags::TX_CONTROL) {
        if spec.has(flags::NO_MULTI) {
            return refuse(ctx, &errors::NOT_IN_MULTI);
        }
        if let Some(m) = &mut ctx.client.multi {
            m.queue.push(argv.iter().map(|a| a.to_vec()).collect());
        }
        ctx.out.simple(b"QUEUED");
        return Admission::Answered(Outcome::Done);
    }
    Admission::Run(Admitted { cmd, stat, gates })
}

/// Runs an admitted command on `exec`, then the bookkeeping.
#[inline]
fn run<E: Executor>(
    ctx: &mut Ctx<'_>,
    admitted: Admitted<'_>,
    argv: &[&[u8]],
    exec: &E,
) -> Outcome {
    let Admitted { cmd, stat, gates } = admitted;
    let spec = cmd.spec;
    if spec.has(flags::NO_DB_LOCK) {
        ctx.release_db();
    }
    ctx.client.info.last_cmd.store(cmd.id, Ordering::Relaxed);
    let reply_mark = ctx.out.len();
    let no_touch = ctx.client.no_touch && set_no_touch(ctx, spec, true);
    let result = exec.execute(ctx, cmd, argv);
    if no_touch {
        set_no_touch(ctx, spec, false);
    }
    let ended = Instant::now();
    let elapsed = ended.duration_since(ctx.mark).as_micros() as u64;
    ctx.mark = ended;
    // A log replayed at startup is not traffic: no commandstats (Redis
    // runs a loaded AOF's commands without call()), no MONITOR line, no
    // slow log.
    let traffic = !ctx.client.replaying;
    if traffic {
        stat.record(elapsed, ctx.client);
        // latency-tracking and the latency monitor: one load, two tests.
        latency_sample(ctx, spec, stat, elapsed, ctx.srv.hot.latency.load());
    }
    let (outcome, failed) = match result {
        Ok(Outcome::Refused(refused)) => {
            let (e, delay) = *refused;
            (Outcome::Delay(delay), Some(e))
        }
        Ok(outcome) => (outcome, None),
        Err(e) => (Outcome::Done, Some(e)),
    };
    if let Some(e) = failed {
        if traffic {
            stat.failed.fetch_add(1, Ordering::Relaxed);
        }
        ctx.out.truncate(reply_mark);
        reply_error(ctx, &e);
    }
    // client-output-buffer-limit: one comparison per command; a script's
    // calls fill the script's buffer, not the client's (Redis's Lua client
    // has no limit).
    if ctx.out.len() >= ctx.obuf_check_at
        && !ctx.client.in_script
        && ctx
            .srv
            .obuf
            .check_batch(&ctx.client.info, ctx.out.len(), ctx.now)
    {
        return Outcome::Close;
    }
    if gates & crate::tenancy::gates::MEMORY != 0 && spec.has(flags::WRITE) {
        let global = ctx.srv.tenancy.global_maxmemory.load(Ordering::Relaxed);
        if global > 0 {
            // Keeps the global limit's sum current without sweeping DB locks.
            let index = ctx.client.db;
            let srv = ctx.srv;
            let used = srv.tenancy.usage(index, ctx.db());
            srv.tenancy.publish_lazy(index, used, global);
        }
    }
    if !traffic {
        return outcome;
    }
    if ctx.srv.clients.has_monitors() && !spec.has(flags::SKIP_MONITOR | flags::ADMIN) {
        feed_monitors(ctx, spec, argv);
    }
    if !spec.has(flags::SKIP_SLOWLOG) {
        let threshold = ctx.srv.hot.slowlog_threshold.load(Ordering::Relaxed);
        if threshold >= 0 && elapsed >= threshold as u64 {
            log_slow(ctx, spec, argv, elapsed);
        }
    }
    outcome
}

/// Marks (or unmarks) the DB of a CLIENT NO-TOUCH client's command so
/// that lookups leave LRU/LFU alone; TOUCH is exempt. Commands that lock
/// DBs themselves (scripts, cross-DB ones) are not marked; a script's own
/// commands come back through dispatch and are. True when it marked.
#[cold]
#[inline(never)]
fn set_no_touch(ctx: &mut Ctx<'_>, spec: &CommandSpec, on: bool) -> bool {
    if spec.has(flags::NO_DB_LOCK | flags::TOUCHES) {
        return false;
    }
    ctx.db().no_touch = on;
    true
}

/// The command's latency into its histogram (`latency-tracking`) and, at
/// or past `latency-monitor-threshold`, into the monitor's `command` or
/// `fast-command` event, as Redis's `call()` does.
#[inline]
fn latency_sample(ctx: &Ctx<'_>, spec: &CommandSpec, stat: &CmdStat, elapsed: u64, lat: u64) {
    use crate::server::latency::TRACKING;
    if lat & TRACKING != 0 {
        stat.hist.record(elapsed);
    }
    // An idle monitor's threshold is beyond any duration.
    if elapsed >= lat & !TRACKING {
        let event = if spec.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        ctx.srv.latency.add(event, elapsed / 1000, ctx.now / 1000);
    }
}

/// The arguments as MONITOR and SLOWLOG keep them: secrets (the row's
/// [`Redact`](crate::commands::spec::Redact)) replaced by `(redacted)`.
fn shown_args<'a>(spec: &CommandSpec, argv: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut shown = argv.to_vec();
    for i in spec.redacted(argv) {
        if let Some(a) = shown.get_mut(i) {
            *a = REDACTED;
        }
    }
    shown
}

/// What Redis shows in place of a secret argument.
pub const REDACTED: &[u8] = b"(redacted)";

/// Collects the effects of the command that just ran into the client's
/// pending list: first what its DB did on its own while it ran (lazy
/// expiry), then the command's own effect — its replacement, or itself if
/// it is a write that changed its DB (a write without the DB lock, such as
/// MOVE or FLUSHALL, counts as changed when it succeeded).
fn record_effects(
    ctx: &mut Ctx<'_>,
    spec: &CommandSpec,
    argv: &[&[u8]],
    db: usize,
    dirty_before: Option<u64>,
    ok: bool,
) {
    // A write's effects (its own, or what it logged in its DBs: MOVE,
    // SWAPDB) are what a refused append must not acknowledge.
    ctx.client.effects_own |= ok && spec.has(flags::WRITE);
    // A cross-DB write (MOVE, COPY … DB, SWAPDB, FLUSHALL) logged what it
    // and its DBs did under the locks it took (`Ctx::emit_holding`).
    ctx.collect_db_effects();
    // The command's own effect takes its place after what its DB did while
    // it ran, and before the pops that serve blocked clients after it.
    match std::mem::take(&mut ctx.effect) {
        super::effects::Effect::Replaced(cmds) => {
            for c in cmds {
                ctx.push_effect(db, c);
            }
        }
        super::effects::Effect::ReplacedIn(cmds) => {
            for (d, c) in cmds {
                ctx.push_effect(d, c);
            }
        }
        super::effects::Effect::Verbatim => {
            if !ok || !spec.has(flags::WRITE) {
                return;
            }
            let changed = match dirty_before {
                Some(before) => ctx.db().dirty != before,
                None => true,
            };
            if changed {
                ctx.push_effect(db, argv.iter().map(|a| a.to_vec()).collect());
            }
        }
    }
}

/// The MISCONF refusal a write command would get now (FCALL of a function
/// that may write, which the row's flags cannot say).
pub fn write_refusal(ctx: &Ctx<'_>) -> Option<Error> {
    let pgate = ctx.srv.persist.gate.load(Ordering::Relaxed);
    if pgate == 0 {
        return None;
    }
    persistence_refusal(ctx, flags::WRITE, pgate)
}

/// Whether a running CLIENT PAUSE holds this command: every command under
/// `ALL`; under `WRITE` those Redis 7.2 counts as may-replicate (the
/// `write` and `may_replicate` flags of the invocation, so a script that
/// declares `no-writes` runs; EXEC of a queue holding one). Commands inside
/// EXEC or a script and a replayed log never wait (the pause starts after
/// the transaction).
#[cold]
#[inline(never)]
fn paused(ctx: &Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    use crate::server::pause::mode;
    let c = &*ctx.client;
    if c.in_exec || c.in_script || c.replaying {
        return false;
    }
    match ctx.srv.pause.active(ctx.now) {
        mode::NONE => false,
        mode::ALL => true,
        _ if spec.has(flags::RUNS_QUEUE) => c.multi.as_ref().is_some_and(|m| {
            m.queue.iter().any(|q| {
                let argv: Vec<&[u8]> = q.iter().map(Vec::as_slice).collect();
                resolve_for(ctx, &argv)
                    .is_ok_and(|cmd| may_replicate(cmd.spec.flags_for(ctx, &argv)))
            })
        }),
        _ => may_replicate(spec.flags_for(ctx, argv)),
    }
}

/// Redis's `is_may_replicate_command`, on the invocation's flags.
fn may_replicate(cmd_flags: u32) -> bool {
    cmd_flags & (flags::WRITE | flags::MAY_REPLICATE) != 0
}

/// LOADING refuses what is not flagged `loading`; MISCONF refuses writes
/// and the rows flagged `MISCONF` (PING, as Redis does).
fn persistence_refusal(ctx: &Ctx<'_>, cmd_flags: u32, pgate: u8) -> Option<Error> {
    use crate::persistence::runtime::{gate, LOADING_ERROR, MISCONF_RDB_ERROR};
    if pgate & gate::LOADING != 0 && cmd_flags & flags::LOADING == 0 {
        return Some(Error::lit(LOADING_ERROR));
    }
    if cmd_flags & (flags::WRITE | flags::MISCONF) == 0 {
        return None;
    }
    if pgate & gate::MISCONF_AOF != 0 {
        let why = ctx
            .srv
            .persist
            .aof_stats()
            .and_then(|s| s.aof_last_write_error)
            .unwrap_or_else(|| "unknown error".into());
        return Some(Error::from(format!(
            "MISCONF Errors writing to the AOF file: {why}"
        )));
    }
    if pgate & gate::MISCONF_RDB != 0 {
        return Some(Error::lit(MISCONF_RDB_ERROR));
    }
    None
}

/// Writes a refusal; one refused while queueing makes EXEC fail (Redis's
/// flagTransaction).
fn refuse<'s>(ctx: &mut Ctx<'s>, e: &Error) -> Admission<'s> {
    if let Some(m) = &mut ctx.client.multi {
        m.failed = true;
    }
    reply_error(ctx, e);
    Admission::Answered(Outcome::Done)
}

fn reply_error(ctx: &mut Ctx<'_>, e: &Error) {
    ctx.srv.stats.error_replies.fetch_add(1, Ordering::Relaxed);
    ctx.out.error(e.text().as_bytes());
}

fn log_slow(ctx: &mut Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]], elapsed: u64) {
    let max_len = ctx.srv.config.read().slowlog_max_len;
    let entry = crate::server::stats::SlowLogSource {
        duration_us: elapsed,
        time_s: ctx.now / 1000,
        addr: ctx.client.info.addr.to_string(),
        name: ctx.client.info.name.lock().clone().unwrap_or_default(),
        db: ctx.client.db,
    };
    ctx.srv
        .slowlog
        .lock()
        .push(max_len, &shown_args(spec, argv), entry);
}

/// `+<sec>.<usec> [<db> <addr>] "arg" ...` with Redis's quoting.
fn feed_monitors(ctx: &mut Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]]) {
    let argv = &shown_args(spec, argv)[..];
    let us = ctx.srv.clock.now_us();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        ctx.client.db,
        ctx.client.info.addr
    )
    .into_bytes();
    for a in argv {
        line.push(b' ');
        repr(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    let source = crate::server::client::MonitorSource {
        db: ctx.client.db,
        now_ms: ctx.now,
        user: &ctx.client.user.name,
        // A login names users and carries secrets: a restricted monitor
        // sees only its own user's.
        login: spec.has(flags::NO_AUTH),
    };
    ctx.srv.clients.feed_monitors(&line, &source, &ctx.srv.acl);
}

/// Redis's `sdscatrepr`: a double-quoted, escaped string.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}
