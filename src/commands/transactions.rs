//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing happens in dispatch (every command without `TX_CONTROL` is
//! checked by the gates and queued while a MULTI is open). EXEC replays the
//! queue through dispatch, so ACL and quota gates apply to each command.
//! The selected DB stays locked across the queue's commands (atomic for a
//! transaction on one DB); a command that locks other DBs itself
//! (`NO_DB_LOCK`: SWAPDB, FLUSHALL …) releases it in between.

use crate::commands::Outcome;
use std::sync::atomic::Ordering;

use super::errors::{CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;
use crate::server::client::{Client, Multi};
use crate::server::dispatch::dispatch;
use crate::server::Shared;

const G: Group = Group::Transactions;
const TX: u32 = NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | TX_CONTROL;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, TX | NO_DB_LOCK, G, multi).doc(
        "Starts a transaction.",
        "1.2.0",
        "O(1)",
    ),
    CommandSpec::new(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | TX_CONTROL | RUNS_QUEUE,
        G,
        exec,
    )
    .doc(
        "Executes all commands in a transaction.",
        "1.2.0",
        "Depends on commands in the transaction",
    ),
    CommandSpec::new("discard", 1, TX | NO_DB_LOCK, G, discard).doc(
        "Discards a transaction.",
        "2.0.0",
        "O(N), when N is the number of queued commands",
    ),
    CommandSpec::new("watch", -2, TX | NO_DB_LOCK, G, watch)
        .keys(1, -1, 1)
        .doc(
            "Monitors changes to keys to determine the execution of a transaction.",
            "2.2.0",
            "O(1) for every key.",
        ),
    CommandSpec::new(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NO_DB_LOCK,
        G,
        unwatch,
    )
    .doc(
        "Forgets about watched keys of a transaction.",
        "2.2.0",
        "O(1)",
    ),
];

fn multi(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::lit("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn discard(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(Error::lit("ERR DISCARD without MULTI"));
    }
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn watch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::lit("ERR WATCH inside MULTI is not allowed"));
    }
    let db_index = ctx.client.db;
    let mut db = ctx.srv.keyspace.lock(db_index);
    for key in &argv[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|(d, k)| *d == db_index && k.as_slice() == *key)
        {
            continue;
        }
        db.watch(key, ctx.client.watch_dirty.clone(), ctx.now);
        ctx.client.watched.push((db_index, key.to_vec()));
    }
    drop(db);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn unwatch(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// Forgets every WATCH of `client`. The caller must not hold a DB lock.
pub fn unwatch_all(srv: &Shared, client: &mut Client) {
    for (db_index, key) in client.watched.drain(..) {
        let mut db = srv.keyspace.lock(db_index);
        if let Some(flags) = db.watchers.get_mut(&key) {
            flags.retain(|w| !std::sync::Arc::ptr_eq(&w.dirty, &client.watch_dirty));
            if flags.is_empty() {
                db.watchers.remove(&key);
            }
        }
    }
    client.watch_dirty.store(false, Ordering::Relaxed);
}

/// Whether a WATCHed key changed (an expired one counts: looking it up
/// removes it, which marks it dirty).
fn watch_broken(ctx: &mut Ctx<'_>) -> bool {
    let now = ctx.now;
    for (db_index, key) in &ctx.client.watched {
        let mut db = ctx.srv.keyspace.lock(*db_index);
        db.exists(key, now);
    }
    ctx.client.watch_dirty.load(Ordering::Relaxed)
}

fn exec(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let Some(multi) = ctx.client.multi.take() else {
        return Err(Error::lit("ERR EXEC without MULTI"));
    };
    if let Err(oom) = crate::tenancy::gate::exec(ctx, &multi.queue) {
        ctx.release_db();
        unwatch_all(ctx.srv, ctx.client);
        return Err(Error::from(format!(
            "EXECABORT Transaction discarded because of: {}",
            oom.text()
        )));
    }
    ctx.release_db();
    if multi.failed {
        unwatch_all(ctx.srv, ctx.client);
        return Err(Error::lit(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let broken = watch_broken(ctx);
    unwatch_all(ctx.srv, ctx.client);
    if broken {
        ctx.out.null_array();
        return Ok(Outcome::Done);
    }
    ctx.out.array(multi.queue.len());
    ctx.client.in_exec = true;
    // Queued commands neither block nor wait (in_exec); one that closes
    // the connection (QUIT, the client's own user deleted) closes it
    // after EXEC's reply.
    let mut outcome = Outcome::Done;
    for cmd in &multi.queue {
        let argv: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        outcome = outcome.and(dispatch(ctx, &argv));
    }
    ctx.client.in_exec = false;
    ctx.serve_blocked();
    Ok(outcome)
}
