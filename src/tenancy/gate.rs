//! The quota gate dispatch runs for a DB with any limit (its `gates` bits
//! non-zero): ops rate, memory, max-keys, in that order (the cheapest
//! refusal first, and eviction only for a command that may run).
//!
//! Eviction only ever touches the DB the command runs in: a tenant over
//! its own limit, or pushing the sum over the global one, pays with its
//! own keys, by its own policy.

use std::sync::atomic::Ordering;

use super::{gates, Charge, DbTenant};
use crate::commands::errors::{self, Error};
use crate::commands::spec::{flags, CommandSpec};
use crate::commands::Ctx;
use crate::keyspace::evict::Policy;

/// Evictions one command may trigger before it is let through while
/// still over the limit (Redis's eviction tenacity: a limit lowered far
/// below usage is reached over several commands, not in one long stall).
const EVICT_BUDGET: usize = 1024;

/// Applies the DB's limits to `spec` about to run (or, `queuing`, to be
/// queued by MULTI: Redis refuses any command queued while out of memory,
/// and charges and key counts wait for EXEC, which dispatches each command).
pub fn check(
    ctx: &mut Ctx<'_>,
    spec: &CommandSpec,
    argv: &[&[u8]],
    g: u8,
    queuing: bool,
) -> Result<(), Error> {
    let srv = ctx.srv;
    let index = ctx.client.db;
    let t = srv.tenancy.db(index);
    if queuing {
        return if g & gates::MEMORY != 0 {
            memory(ctx, t, index)
        } else {
            Ok(())
        };
    }
    if g & gates::OPS != 0 {
        ops(ctx, t, index)?;
    }
    if spec.flags_for(ctx, argv) & flags::DENYOOM == 0 {
        return Ok(());
    }
    // A script that already wrote runs to its end (Redis checks OOM for a
    // script's writes only until its first one).
    let script_wrote =
        ctx.client.in_script && (srv.scripting.has_written() || srv.scripting.allows_oom());
    if g & gates::MEMORY != 0 && !script_wrote {
        memory(ctx, t, index)?;
    }
    if g & gates::MAX_KEYS != 0 {
        max_keys(ctx, t, spec, argv)?;
    }
    Ok(())
}

/// The memory check of a function about to run that may write without
/// `allow-oom` (Redis's processCommand treats FCALL of such a function as a
/// denyoom command).
pub fn script_memory(ctx: &mut Ctx<'_>) -> Result<(), Error> {
    let index = ctx.client.db;
    let t = ctx.srv.tenancy.db(index);
    if t.gates.load(Ordering::Relaxed) & gates::MEMORY == 0 {
        return Ok(());
    }
    memory(ctx, t, index)
}

/// Takes one op from the client's credit for this DB, charging the DB's
/// bucket for a new credit when it is used up (reject mode: the whole
/// credit if it fits, else a single op).
#[inline]
fn ops(ctx: &mut Ctx<'_>, t: &DbTenant, index: usize) -> Result<(), Error> {
    let credit = &mut ctx.client.ops_credit;
    if credit.0 == index && credit.1 > 0 {
        credit.1 -= 1;
        return Ok(());
    }
    let now = ctx.srv.tenancy.nanos(ctx.mark);
    let n = t.credit_size();
    let got = match t.charge_n(now, n) {
        Charge::Rejected if n > 1 => match t.charge_n(now, 1) {
            Charge::Rejected => return Err(errors::DB_OPS_EXCEEDED),
            _ => 1,
        },
        Charge::Rejected => return Err(errors::DB_OPS_EXCEEDED),
        _ => n,
    };
    ctx.client.ops_credit = (index, got - 1);
    Ok(())
}

/// EXEC of a queue holding a DENYOOM command is refused as a whole when
/// the DB is out of memory (Redis checks the queue's accumulated flags
/// before running any of it), so a transaction is never half-applied by a
/// limit reached midway.
pub fn exec(ctx: &mut Ctx<'_>, queue: &[Vec<Vec<u8>>]) -> Result<(), Error> {
    let index = ctx.client.db;
    let srv = ctx.srv;
    let t = srv.tenancy.db(index);
    if t.gates.load(Ordering::Relaxed) & gates::MEMORY == 0 {
        return Ok(());
    }
    let denyoom = queue.iter().any(|cmd| {
        let argv: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        crate::server::dispatch::resolve_for(ctx, &argv)
            .is_ok_and(|c| c.spec.flags_for(ctx, &argv) & flags::DENYOOM != 0)
    });
    if denyoom {
        memory(ctx, t, index)?;
    }
    Ok(())
}

/// Evicts from this DB while it is over its own limit or the sum over DBs
/// is over the global one; `-OOM` when nothing can go.
fn memory(ctx: &mut Ctx<'_>, t: &DbTenant, index: usize) -> Result<(), Error> {
    let srv = ctx.srv;
    let ten = &srv.tenancy;
    let global = ten.global_maxmemory.load(Ordering::Relaxed);
    let own = t.maxmemory.load(Ordering::Relaxed);
    let policy = t.policy();
    let samples = ten.samples.load(Ordering::Relaxed) as usize;
    let now = ctx.now;
    let db = ctx.db();
    let mut started = None;
    let result = 'evict: {
        for _ in 0..EVICT_BUDGET {
            let used = ten.usage(index, db);
            let over = (own > 0 && used > own)
                || (global > 0 && {
                    ten.publish_lazy(index, used, global);
                    ten.total_with(index, used) > global
                });
            if !over {
                break 'evict Ok(());
            }
            started.get_or_insert_with(std::time::Instant::now);
            if policy == Policy::NoEviction || db.evict_one(policy, samples, now).is_none() {
                t.oom_rejected.fetch_add(1, Ordering::Relaxed);
                break 'evict Err(errors::OOM);
            }
        }
        ten.publish_lazy(index, ten.usage(index, db), global);
        Ok(())
    };
    // The latency monitor's `eviction-cycle`: the time spent evicting.
    if let Some(at) = started {
        srv.latency_event("eviction-cycle", at.elapsed());
    }
    result
}

/// Refuses (after trying to evict) a command that may add keys to a DB at
/// its `max-keys`. "May add" = a key argument that does not exist yet: an
/// over-estimate for commands that only read some of their keys
/// (SUNIONSTORE's sources), never an under-estimate.
fn max_keys(
    ctx: &mut Ctx<'_>,
    t: &DbTenant,
    spec: &CommandSpec,
    argv: &[&[u8]],
) -> Result<(), Error> {
    let max = t.max_keys.load(Ordering::Relaxed);
    let policy = t.policy();
    let samples = ctx.srv.tenancy.samples.load(Ordering::Relaxed) as usize;
    let now = ctx.now;
    let db = ctx.db();
    // Even if every argument were a new key it would fit: no key lookups.
    if db.len() as u64 + argv.len() as u64 - 1 <= max {
        return Ok(());
    }
    let live = |e: &crate::keyspace::Entry| e.expire().is_none_or(|at| at > now);
    let missing = spec
        .key_indexes(argv)
        .into_iter()
        .filter(|&k| !db.peek(argv[k]).is_some_and(live))
        .count() as u64;
    if missing == 0 {
        return Ok(());
    }
    for _ in 0..EVICT_BUDGET {
        if db.len() as u64 + missing <= max {
            break;
        }
        if policy == Policy::NoEviction || db.evict_one(policy, samples, now).is_none() {
            t.oom_rejected.fetch_add(1, Ordering::Relaxed);
            return Err(errors::DB_MAX_KEYS);
        }
    }
    Ok(())
}
