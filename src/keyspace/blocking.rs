//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, …): one mechanism.
//!
//! Each DB keeps a FIFO of waiters per key. A write that may satisfy them
//! calls [`Db::signal_ready`](super::Db::signal_ready); after the command,
//! dispatch calls [`Db::serve_ready`](super::Db::serve_ready), which runs
//! *in the writer's context, under the same DB lock*: for each ready key it
//! serves waiters in arrival order with the waiter's own serve function
//! and sends the encoded reply down the waiter's push channel. Serving
//! under the lock makes delivery exactly-once and FIFO without any
//! wake-and-retry race (Redis's `serveClientsBlockedOnKeys` does the same
//! on its single thread).
//!
//! A waiter that times out, is unblocked (CLIENT UNBLOCK) or disconnects
//! removes itself under the lock; if it is already gone, it was served and
//! its reply is on the way.

use std::collections::VecDeque;

use hashbrown::HashMap;
use tokio::sync::mpsc::UnboundedSender;

use super::db::Db;
use super::types::stream::StreamId;
use super::value::Thresholds;
use crate::protocol::Protocol;
use crate::server::client::Push;

/// Tries to satisfy a waiter's `op` from `key`: `Some(reply bytes, encoded
/// in the waiter's protocol)` when served.
pub type ServeFn =
    fn(db: &mut Db, op: &BlockedOp, proto: Protocol, key: &[u8], now: i64) -> Option<Vec<u8>>;

/// A blocked command's arguments, as the serve function needs them.
#[derive(Debug, Clone)]
pub enum BlockedOp {
    /// BLPOP/BRPOP (`count: None`) and BLMPOP (`Some(count)`).
    ListPop { left: bool, count: Option<usize> },
    /// BLMOVE/BRPOPLPUSH.
    ListMove {
        dst: Vec<u8>,
        from_left: bool,
        to_left: bool,
        thresholds: Thresholds,
    },
    /// BZPOPMIN/BZPOPMAX (`multi: false`) and BZMPOP.
    ZPop {
        max: bool,
        count: usize,
        multi: bool,
    },
    /// XREAD BLOCK: entries after `from[i]` in `keys[i]` (`$` already resolved).
    XRead {
        keys: Vec<Vec<u8>>,
        from: Vec<StreamId>,
        count: usize,
    },
    /// XREADGROUP BLOCK with `>`: new entries for the group.
    XReadGroup {
        keys: Vec<Vec<u8>>,
        group: Vec<u8>,
        consumer: Vec<u8>,
        count: usize,
        noack: bool,
    },
}

pub struct Waiter {
    pub id: u64,
    pub client_id: u64,
    pub keys: Vec<Vec<u8>>,
    pub op: BlockedOp,
    pub proto: Protocol,
    pub serve: ServeFn,
    pub tx: UnboundedSender<Push>,
    /// The reply CLIENT UNBLOCK … TIMEOUT sends.
    pub timeout_reply: Vec<u8>,
}

#[derive(Default)]
pub struct Blocking {
    by_key: HashMap<Vec<u8>, VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
    ready: Vec<Vec<u8>>,
}

impl Blocking {
    /// Whether any client waits on `key`.
    #[inline]
    pub fn is_watched(&self, key: &[u8]) -> bool {
        !self.by_key.is_empty() && self.by_key.contains_key(key)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub fn mark_ready(&mut self, key: &[u8]) {
        if self.is_watched(key) && !self.ready.iter().any(|k| k == key) {
            self.ready.push(key.to_vec());
        }
    }

    pub fn add(&mut self, w: Waiter) {
        for k in &w.keys {
            self.by_key.entry(k.clone()).or_default().push_back(w.id);
        }
        self.waiters.insert(w.id, w);
    }

    /// Removes a waiter; `None` if it was already served or removed.
    pub fn remove(&mut self, id: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&id)?;
        for k in &w.keys {
            if let Some(q) = self.by_key.get_mut(k) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        Some(w)
    }

    /// Number of blocked clients (INFO `blocked_clients`).
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// Keys with at least one waiter (INFO `total_blocking_keys`).
    pub fn watched_key_count(&self) -> usize {
        self.by_key.len()
    }

    /// Every key with waiters (after SWAPDB all of them may be ready).
    pub fn watched_keys(&self) -> Vec<Vec<u8>> {
        self.by_key.keys().cloned().collect()
    }

    fn take_ready(&mut self) -> Option<Vec<u8>> {
        self.ready.pop()
    }

    fn front(&self, key: &[u8]) -> Option<u64> {
        self.by_key.get(key).and_then(|q| q.front().copied())
    }

    fn get(&self, id: u64) -> Option<&Waiter> {
        self.waiters.get(&id)
    }
}

impl Db {
    /// Serves clients blocked on keys that writes made ready (see the
    /// module doc). Serving may make more keys ready (BLMOVE pushes to its
    /// destination); the loop runs until none is left.
    pub fn serve_ready(&mut self, now: i64) {
        while let Some(key) = self.blocking.take_ready() {
            while let Some(id) = self.blocking.front(&key) {
                let Some(w) = self.blocking.get(id) else {
                    break;
                };
                // The serve function needs `&mut Db`: work on a copy of the
                // (small) op so the waiter keeps its place if not served.
                let (serve, op, proto) = (w.serve, w.op.clone(), w.proto);
                let Some(reply) = serve(self, &op, proto, &key, now) else {
                    break; // empty or wrong type now: everyone keeps waiting
                };
                if let Some(w) = self.blocking.remove(id) {
                    let _ = w.tx.send(Push::Unblocked(reply));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::entry::{Entry, NewValue};
    use tokio::sync::mpsc;

    /// Serves by deleting a string key and replying with its name.
    fn take_string(
        db: &mut Db,
        _op: &BlockedOp,
        _p: Protocol,
        key: &[u8],
        _now: i64,
    ) -> Option<Vec<u8>> {
        db.remove(key).map(|_| key.to_vec())
    }

    fn waiter(id: u64, keys: &[&str], tx: &UnboundedSender<Push>) -> Waiter {
        Waiter {
            id,
            client_id: id,
            keys: keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
            op: BlockedOp::ListPop {
                left: true,
                count: None,
            },
            proto: Protocol::Resp2,
            serve: take_string,
            tx: tx.clone(),
            timeout_reply: b"*-1\r\n".to_vec(),
        }
    }

    #[test]
    fn fifo_exactly_once_and_removal() {
        let mut db = Db::new();
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        db.blocking.add(waiter(1, &["a", "b"], &tx1));
        db.blocking.add(waiter(2, &["a"], &tx2));
        assert_eq!(db.blocking.len(), 2);
        // Nothing to serve yet: the key is ready but empty.
        db.signal_ready(b"a");
        db.serve_ready(0);
        assert!(rx1.try_recv().is_err());
        // One value: the first waiter gets it, the second keeps waiting.
        db.insert(Entry::new(b"a", NewValue::Str(b"x"), None, 0));
        db.signal_ready(b"a");
        db.serve_ready(0);
        assert!(matches!(rx1.try_recv(), Ok(Push::Unblocked(r)) if r == b"a"));
        assert!(rx2.try_recv().is_err());
        assert_eq!(db.blocking.len(), 1);
        // Waiter 1 was removed from key b's queue too.
        assert!(!db.blocking.is_watched(b"b"));
        assert!(db.blocking.remove(1).is_none());
        assert!(db.blocking.remove(2).is_some());
        assert!(db.blocking.is_empty());
        assert!(!db.blocking.is_watched(b"a"));
    }
}
