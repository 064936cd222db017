//! Commands: the table ([`table`]), row type ([`spec`]), error catalogue
//! ([`errors`]), argument helpers ([`args`]) and one module per Redis group.
//!
//! A handler gets a [`Ctx`] and the argv. It writes its reply into
//! `ctx.out` and returns `Ok(Outcome::Done)` (or another [`Outcome`]), or returns an [`Error`] for dispatch to
//! write. The selected DB is locked lazily by [`Ctx::db`] and stays locked
//! for the rest of the pipelined batch; handlers flagged `NO_DB_LOCK` run
//! with it released.

pub mod acl;
pub mod args;
pub mod bitmap;
pub mod blocking;
pub mod cluster;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod errors;
pub mod generic;
pub mod geo;
mod geohash;
pub mod glob;
pub mod hash;
pub mod hll;
pub mod keyspec;
mod keyspecs;
pub mod latency;
pub mod list;
pub mod lolwut;
pub mod memory;
pub mod module;
pub mod outcome;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod sorted_set;
pub mod spec;
pub mod stream;
pub mod string;
pub mod table;
pub mod transactions;

pub use errors::{CmdResult, Error};
pub use outcome::Outcome;
pub use spec::{CommandSpec, Group};
pub use table::{CommandId, REGISTRY};

use std::time::Instant;

use parking_lot::MutexGuard;

use crate::keyspace::Db;
use crate::protocol::ReplyBuf;
use crate::server::client::Client;
use crate::server::Shared;

/// Every group's table, in the order COMMAND lists them.
pub static ALL_GROUPS: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    memory::COMMANDS,
    string::COMMANDS,
    bitmap::COMMANDS,
    hll::COMMANDS,
    generic::COMMANDS,
    dump::COMMANDS,
    replication::COMMANDS,
    sort::COMMANDS,
    hash::COMMANDS,
    list::COMMANDS,
    blocking::COMMANDS,
    set::COMMANDS,
    sorted_set::COMMANDS,
    geo::COMMANDS,
    transactions::COMMANDS,
    pubsub::COMMANDS,
    acl::COMMANDS,
    scripting::COMMANDS,
    stream::COMMANDS,
    cluster::COMMANDS,
    debug::COMMANDS,
    latency::COMMANDS,
    lolwut::COMMANDS,
    module::COMMANDS,
];

/// What a handler runs with.
pub struct Ctx<'a> {
    pub srv: &'a Shared,
    pub client: &'a mut Client,
    pub out: &'a mut ReplyBuf,
    /// Milliseconds since the epoch, fixed for the whole command (as
    /// Redis's `server.mstime` is), so one command sees one instant.
    pub now: i64,
    /// When the previous command of the batch ended (or the batch began):
    /// the next command's start, so each command costs one clock read.
    pub mark: Instant,
    /// What the running command logs instead of itself (set by handlers
    /// through [`Ctx::propagate_as`]; dispatch resets it per command).
    pub effect: crate::server::effects::Effect,
    /// Replies at or above this many bytes make dispatch check the
    /// client's output buffer limit (`server::obuf`); `usize::MAX` (no
    /// check) unless the connection sets it.
    pub obuf_check_at: usize,
    guard: Option<(usize, MutexGuard<'a, Db>)>,
}

impl<'a> Ctx<'a> {
    pub fn new(srv: &'a Shared, client: &'a mut Client, out: &'a mut ReplyBuf) -> Ctx<'a> {
        let now = srv.clock.now_ms();
        Ctx {
            srv,
            client,
            out,
            now,
            mark: Instant::now(),
            effect: Default::default(),
            obuf_check_at: usize::MAX,
            guard: None,
        }
    }

    /// Whether write effects are being logged: handlers build a
    /// replacement effect only then.
    #[inline]
    pub fn propagating(&self) -> bool {
        self.srv.propagation.is_on()
    }

    /// Logs `cmds` as this command's effect instead of its own arguments
    /// (none: nothing). Call only when [`Ctx::propagating`].
    pub fn propagate_as(&mut self, cmds: Vec<crate::server::effects::Argv>) {
        self.effect = crate::server::effects::Effect::Replaced(cmds);
    }

    /// Drains what the locked DB did on its own into the client's pending
    /// effects (expiry DELs, served pops).
    pub fn collect_db_effects(&mut self) {
        if let Some((index, db)) = &mut self.guard {
            for (n, argv) in db.take_effects() {
                self.client.effects.push((n, *index, argv));
            }
        }
    }

    /// Publishes the keyspace events fired since the last call: the locked
    /// DB's, and with `cross_db` (a write that locked DBs itself: MOVE,
    /// COPY … DB) every DB's, in the order they were fired. Call only when
    /// [`Keyspace::notifying`](crate::keyspace::Keyspace::notifying).
    /// Cold: notifications are off unless configured.
    #[cold]
    #[inline(never)]
    pub fn publish_notes(&mut self, cross_db: bool) {
        let mut notes: Vec<(usize, crate::keyspace::notify::Note)> = Vec::new();
        if let Some((i, db)) = &mut self.guard {
            if !db.notes.pending.is_empty() {
                let i = *i;
                notes.extend(db.notes.take().into_iter().map(|n| (i, n)));
            }
        }
        if cross_db {
            // One lock at a time, holding none: no order to keep.
            self.release_db();
            for i in 0..self.srv.keyspace.len() {
                let mut db = self.srv.keyspace.lock(i);
                if !db.notes.pending.is_empty() {
                    notes.extend(db.notes.take().into_iter().map(|n| (i, n)));
                }
            }
            notes.sort_by_key(|(_, n)| n.seq);
        }
        let mut rest = &notes[..];
        while let Some(&(db, _)) = rest.first() {
            let run = rest.iter().take_while(|(d, _)| *d == db).count();
            let batch: Vec<_> = rest[..run].iter().map(|(_, n)| n.clone()).collect();
            crate::server::notify::publish(self.srv, db, &batch);
            rest = &rest[run..];
        }
    }

    /// The selected DB, locked until [`Ctx::release_db`] or the end of the batch.
    #[inline]
    pub fn db(&mut self) -> &mut Db {
        let want = self.client.db;
        if !matches!(&self.guard, Some((i, _)) if *i == want) {
            if !self.client.effects.is_empty() {
                // A transaction or script leaves the DB: what it did
                // there is logged before another client can follow it.
                self.emit_before_unlock();
            }
            self.guard = None;
            self.guard = Some((want, self.srv.keyspace.lock(want)));
        }
        match &mut self.guard {
            Some((_, g)) => g,
            None => unreachable!("guard was just set"),
        }
    }

    /// The selected DB and the reply buffer at once (a reply often quotes
    /// a value that lives in the DB).
    #[inline]
    pub fn db_out(&mut self) -> (&mut Db, &mut ReplyBuf) {
        self.db();
        match &mut self.guard {
            Some((_, g)) => (g, &mut *self.out),
            None => unreachable!("db() just locked it"),
        }
    }

    /// Serves clients blocked on keys the last command made ready (only
    /// when this batch holds a DB lock and a key was signalled).
    #[inline]
    pub fn serve_blocked(&mut self) {
        if let Some((_, db)) = &mut self.guard {
            if db.blocking.has_ready() {
                db.serve_ready(self.now);
            }
        }
    }

    /// Releases the batch's DB lock (before locking several DBs, or waiting).
    pub fn release_db(&mut self) {
        if !self.client.effects.is_empty() {
            self.emit_before_unlock();
        }
        self.guard = None;
    }

    /// Logs the effects a transaction or script has gathered so far while
    /// the lock that ordered them is still held (see
    /// `server::dispatch::emit_pending`).
    #[cold]
    #[inline(never)]
    fn emit_before_unlock(&mut self) {
        self.collect_db_effects();
        crate::server::dispatch::emit_pending(self);
    }

    /// Logs `argv` as an effect in `db` (a write that names its effect
    /// itself, under the locks it holds: see [`Ctx::emit_holding`]).
    #[inline]
    pub fn push_effect(&mut self, db: usize, argv: crate::server::effects::Argv) {
        let n = self
            .srv
            .keyspace
            .effect_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.client.effects.push((n, db, argv));
    }

    /// A cross-DB write (MOVE, SWAPDB, COPY … DB, FLUSHALL) hands what it
    /// and its DBs did (its own effect, lazy-expiry DELs, pops it served,
    /// each DB's log taken here) to the sink while it still holds their
    /// locks, so no write to those DBs can be logged between it and its
    /// effects. Call only when [`Ctx::propagating`].
    pub fn emit_holding(&mut self, dbs: &mut [(usize, &mut Db)]) {
        for (i, db) in dbs.iter_mut() {
            for (n, argv) in db.take_effects() {
                self.client.effects.push((n, *i, argv));
            }
        }
        if !self.client.effects.is_empty() {
            self.client.effects_own = true;
            crate::server::dispatch::emit_pending(self);
        }
    }

    /// Refreshes `now` (the batch's commands share one millisecond clock
    /// read; a pipelined batch runs in microseconds).
    pub fn tick(&mut self) {
        self.now = self.srv.clock.now_ms();
    }
}
