//! The after-execution hook: every write's effects, as Redis 7 propagates
//! them, pass through here on their way to the append-only file (and later
//! replication, keyspace notifications, tracking).
//!
//! An effect is a deterministic command: replaying the effects of a run in
//! order rebuilds its keyspace exactly. By default a write command that
//! changed its DB (the DB's `dirty` counter moved) is its own effect. A
//! handler whose command is not deterministic on replay says what to log
//! instead with [`Ctx::propagate_as`](crate::commands::Ctx::propagate_as):
//! relative expiries become absolute (`PEXPIREAT`, `SET … PXAT`), random
//! pops become plain ones, INCRBYFLOAT a SET with KEEPTTL. What a DB does
//! on its own (expiry and eviction as DEL, pops that serve blocked
//! clients) comes from [`Db::effects`](crate::keyspace::Db::effects).
//!
//! Commands run inside EXEC or a script collect their effects on the
//! client; the top-level command hands them to the sink at once, wrapped
//! in MULTI/EXEC when there is more than one, so a replay applies them
//! atomically.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// One command as logged: its arguments.
pub type Argv = Vec<Vec<u8>>;

/// A ticket with this bit set must be fsynced before the reply, whatever
/// the server's `appendfsync` (the effects touched a DB with its own
/// `appendfsync always`); the other bits are the offset.
pub const SYNC_REQUIRED: u64 = 1 << 63;

/// The ticket of an append the sink refused (the AOF failed): no fsync
/// will ever cover it.
pub const REFUSED: u64 = u64::MAX;

/// Receives the effects of each top-level command, each with the DB it ran in.
pub trait EffectSink: Send + Sync {
    /// Logs `effects` in order; returns a ticket the command's reply must
    /// wait for (an AOF offset to be written or synced), 0 for none. An
    /// `atomic` unit is one command's (an EXEC's, a script's) effects:
    /// replayed as one, so the sink wraps it ([`wrap`]) once it has kept
    /// what it logs; otherwise they are independent (active expiry).
    fn append(&self, effects: Vec<(usize, Argv)>, atomic: bool) -> u64;
}

/// Where effects go, and whether anyone listens (one relaxed load per
/// write command when nobody does). Two listeners: the sink (the AOF) and
/// client tracking, which needs the effects even with no AOF and for
/// `persist = false` DBs (the sink drops those itself).
#[derive(Default)]
pub struct Propagation {
    sink: RwLock<Option<Arc<dyn EffectSink>>>,
    /// `SINK | TRACKING` bits.
    on: AtomicU8,
}

const SINK: u8 = 1;
const TRACKING: u8 = 2;

impl Propagation {
    /// Whether the after-execution hook runs (a sink or tracking listens).
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed) != 0
    }

    /// Whether a sink listens (not only tracking).
    pub fn has_sink(&self) -> bool {
        self.on.load(Ordering::Relaxed) & SINK != 0
    }

    /// Client tracking starts or stops listening (see
    /// `server::tracking::Tracking::sync_hook`).
    pub fn set_tracking(&self, on: bool) {
        if on {
            self.on.fetch_or(TRACKING, Ordering::Relaxed);
        } else {
            self.on.fetch_and(!TRACKING, Ordering::Relaxed);
        }
    }

    /// Installs the sink and turns propagation on; false when another
    /// sink was installed already. Every DB must start logging its own
    /// effects at the same moment: the caller holds all DB locks (see
    /// `Shared::start_propagation`).
    pub fn install(&self, sink: Arc<dyn EffectSink>) -> bool {
        let mut slot = self.sink.write();
        if slot.is_some() {
            return false;
        }
        *slot = Some(sink);
        self.on.fetch_or(SINK, Ordering::Relaxed);
        true
    }

    /// Turns propagation off and drops the sink (CONFIG SET appendonly no).
    pub fn stop(&self) {
        self.on.fetch_and(!SINK, Ordering::Relaxed);
        *self.sink.write() = None;
    }

    /// Hands effects to the sink (see [`EffectSink::append`]); returns
    /// its ticket.
    pub fn emit(&self, effects: Vec<(usize, Argv)>, atomic: bool) -> u64 {
        if !self.has_sink() || effects.is_empty() {
            return 0;
        }
        match &*self.sink.read() {
            Some(s) => s.append(effects, atomic),
            None => 0,
        }
    }
}

/// What the running command asked to log instead of itself.
#[derive(Debug, Default)]
pub enum Effect {
    /// Itself, if it changed its DB.
    #[default]
    Verbatim,
    /// These commands (none: nothing to log).
    Replaced(Vec<Argv>),
    /// These commands, each in its own DB (FLUSHALL of some DBs only).
    ReplacedIn(Vec<(usize, Argv)>),
}

/// Wraps an atomic unit's effects for the log: `MULTI … EXEC` when there
/// is more than one, MULTI in the DB of the first and EXEC in that of the
/// last (SELECTs between DBs are the sink's to write).
pub fn wrap(mut effects: Vec<(usize, Argv)>) -> Vec<(usize, Argv)> {
    if effects.len() > 1 {
        let first = effects[0].0;
        let last = effects[effects.len() - 1].0;
        effects.insert(0, (first, vec![b"MULTI".to_vec()]));
        effects.push((last, vec![b"EXEC".to_vec()]));
    }
    effects
}

/// Builds an argv from byte strings and numbers.
#[macro_export]
macro_rules! argv {
    ($($a:expr),* $(,)?) => {
        vec![$($crate::server::effects::Arg::bytes($a)),*]
    };
}

/// Anything an effect's argument may be made of.
pub trait Arg {
    fn bytes(self) -> Vec<u8>;
}

impl Arg for &[u8] {
    fn bytes(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl<const N: usize> Arg for &[u8; N] {
    fn bytes(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl Arg for &str {
    fn bytes(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Arg for Vec<u8> {
    fn bytes(self) -> Vec<u8> {
        self
    }
}

impl Arg for &Vec<u8> {
    fn bytes(self) -> Vec<u8> {
        self.clone()
    }
}

impl Arg for i64 {
    fn bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl Arg for u64 {
    fn bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl Arg for usize {
    fn bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_only_several() {
        let one = vec![(0, argv!(b"SET", b"k", b"v"))];
        assert_eq!(wrap(one.clone()), one);
        let two = wrap(vec![(0, argv!(b"SET", "k", 1i64)), (3, argv!(b"DEL", "x"))]);
        assert_eq!(two.len(), 4);
        assert_eq!(two[0], (0, vec![b"MULTI".to_vec()]));
        assert_eq!(two[1].1[2], b"1".to_vec());
        assert_eq!(two[3], (3, vec![b"EXEC".to_vec()]));
    }
}
