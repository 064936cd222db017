//! WAIT, WAITAOF and ROLE: keyward answers them as a Redis master with no
//! replicas (replication is not part of keyward; the sidecar runs in front
//! of a real Redis deployment instead).
//!
//! WAITAOF's local part is real: it waits until an fdatasync of the AOF
//! covers every write the client made, which is what a queue that runs
//! under `appendfsync everysec` uses to make one job durable. Both waits
//! are [`Outcome::Await`]s the connection serves (see `server::connection`).

use std::time::Duration;

use crate::commands::outcome::Awaited;
use crate::commands::Outcome;

use super::args;
use super::errors::{self, CmdResult, Error};
use super::spec::{cat, flags::*, CommandSpec, Group};
use super::Ctx;

const G: Group = Group::Generic;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("wait", 3, NOSCRIPT, G, wait)
        .only_cats(cat::CONNECTION)
        .doc(
            "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
            "3.0.0",
            "O(1)",
        ),
    CommandSpec::new("waitaof", 4, NOSCRIPT | BLOCKING, G, waitaof)
        .only_cats(cat::CONNECTION)
        .doc(
            "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.",
            "7.2.0",
            "O(1)",
        ),
    // @admin without the `admin` flag, as in Redis: what it shows is the
    // same for every client, so pinned tenants may run it too.
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, Group::Server, role)
        .only_cats(cat::ADMIN | cat::DANGEROUS)
        .doc(
            "Returns the replication role.",
            "2.8.12",
            "O(1)",
        ),
    // What keyward is not: a replica or a master with replicas. These
    // answer an error naming the missing feature, never a fake +OK.
    CommandSpec::new(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING | NO_DB_LOCK,
        Group::Server,
        replicaof,
    )
    .doc(
        "Configures a server as replica of another, or promotes it to a master.",
        "5.0.0",
        "O(1)",
    ),
    CommandSpec::new(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING | NO_DB_LOCK,
        Group::Server,
        replicaof,
    )
    .doc_flags(&["deprecated"])
    .doc(
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
        "1.0.0",
        "O(1)",
    ),
    CommandSpec::new(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | NO_DB_LOCK,
        Group::Server,
        no_replication,
    )
    .doc("An internal command used in replication.", "1.0.0", ""),
    CommandSpec::new(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | NO_DB_LOCK,
        Group::Server,
        no_replication,
    )
    .doc("An internal command used in replication.", "2.8.0", ""),
    CommandSpec::new(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY | NO_DB_LOCK,
        Group::Server,
        no_replication,
    )
    .doc(
        "An internal command for configuring the replication stream",
        "3.0.0",
        "O(1)",
    ),
    CommandSpec::new(
        "failover",
        -1,
        ADMIN | NOSCRIPT | STALE | NO_DB_LOCK,
        Group::Server,
        no_replication,
    )
    .doc(
        "Starts a coordinated failover from a server to one of its replicas.",
        "6.2.0",
        "O(1)",
    ),
];

/// SYNC, PSYNC, REPLCONF, FAILOVER and REPLICAOF host port.
fn no_replication(_ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let cmd = String::from_utf8_lossy(argv[0]).to_uppercase();
    Err(Error::from(format!(
        "ERR {cmd} is not supported: keyward has no replication"
    )))
}

/// REPLICAOF NO ONE is true of a server that is always a master, and
/// answers +OK as Redis does on a master; anything else needs replication.
fn replicaof(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if args::is(argv[1], "no") && args::is(argv[2], "one") {
        ctx.out.ok();
        return Ok(Outcome::Done);
    }
    no_replication(ctx, argv)
}

pub(crate) const TIMEOUT_NOT_INT: Error =
    Error::lit("ERR timeout is not an integer or out of range");
pub(crate) const TIMEOUT_OUT_OF_RANGE: Error = Error::lit("ERR timeout is out of range");
const NO_AOF: Error =
    Error::lit("ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.");

/// Redis's `getTimeoutFromObjectOrReply` in milliseconds: `None` = forever.
fn timeout_ms(arg: &[u8], now_ms: i64) -> Result<Option<Duration>, Error> {
    let ms = crate::protocol::parse::parse_i64(arg).ok_or(TIMEOUT_NOT_INT)?;
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    if ms > 0 && ms > i64::MAX - now_ms {
        return Err(TIMEOUT_OUT_OF_RANGE);
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// WAIT numreplicas timeout: no replica ever acknowledges, so 0 — at once
/// when none is asked for (or the client may not block), else when the
/// timeout runs out (never, for 0), as Redis without replicas does.
fn wait(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let numreplicas = args::int(argv[1])?;
    let timeout = timeout_ms(argv[2], ctx.now)?;
    if numreplicas <= 0 || !ctx.client.may_block() {
        ctx.out.int(0);
        return Ok(Outcome::Done);
    }
    Ok(Outcome::Await(Box::new(Awaited::Replicas { timeout })))
}

/// WAITAOF numlocal numreplicas timeout: `[local, replicas]`, local being 1
/// once an fdatasync of the AOF covers the client's writes.
fn waitaof(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let numlocal = args::int(argv[1])?;
    if !(0..=1).contains(&numlocal) {
        return Err(Error::lit(
            "ERR value is out of range, value must between 0 and 1",
        ));
    }
    let numreplicas = args::int(argv[2])?;
    if numreplicas < 0 {
        return Err(Error::lit("ERR value is out of range, must be positive"));
    }
    let timeout = timeout_ms(argv[3], ctx.now)?;
    let target = ctx.srv.persist.fsync_target(ctx.client.woff);
    if numlocal > 0 && target.is_none() {
        return Err(NO_AOF);
    }
    let acked = target.is_some_and(|t| ctx.srv.persist.fsynced(t));
    if (acked || numlocal == 0) && numreplicas == 0 || !ctx.client.may_block() {
        write_waitaof(ctx.out, acked);
        return Ok(Outcome::Done);
    }
    Ok(Outcome::Await(Box::new(Awaited::Aof {
        offset: target,
        numlocal: numlocal > 0,
        // Replicas never acknowledge: only the timeout ends that wait.
        until_timeout: numreplicas > 0,
        timeout,
    })))
}

/// WAITAOF's reply: `[local, 0]`.
fn write_waitaof(out: &mut crate::protocol::ReplyBuf, local: bool) {
    out.array(2);
    out.int(i64::from(local));
    out.int(0);
}

/// How an [`Awaited`] wait ended.
pub enum End {
    /// Its timeout ran out (or CLIENT UNBLOCK … TIMEOUT), or the fsync
    /// came: `covered` says whether an fdatasync covers the client's writes.
    Answered { covered: bool },
    /// CLIENT UNBLOCK … ERROR.
    Unblocked,
    /// The AOF was turned off while a WAITAOF waited for a local fsync.
    NoAof,
}

/// The reply that ends an [`Awaited`] wait; the same bytes in RESP2 and
/// RESP3.
pub fn awaited_reply(a: &Awaited, end: End) -> Vec<u8> {
    let mut out = crate::protocol::ReplyBuf::new(crate::protocol::Protocol::Resp2);
    match (end, a) {
        (End::Unblocked, _) => out.error(errors::UNBLOCKED.text().as_bytes()),
        (End::NoAof, _) => out.error(NO_AOF.text().as_bytes()),
        (End::Answered { .. }, Awaited::Replicas { .. }) => out.int(0),
        (End::Answered { covered }, Awaited::Aof { .. }) => write_waitaof(&mut out, covered),
    }
    out.buf
}

/// A master with no replicas: `master`, offset 0, no replicas (INFO
/// replication says the same).
fn role(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array(0);
    Ok(Outcome::Done)
}
