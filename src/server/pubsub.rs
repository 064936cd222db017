//! The Pub/Sub registry: channel, pattern and shard-channel subscribers.
//!
//! PUBLISH encodes the message once per protocol (RESP2 array / RESP3 push)
//! and sends it down each subscriber's push channel. Queued bytes are
//! counted per client; a subscriber that stops reading is disconnected by
//! the pubsub class of `client-output-buffer-limit` (Redis's default
//! `32mb 8mb 60`: 32 MiB at once, or 8 MiB for over 60 seconds; see
//! `server::obuf`) instead of growing memory without bound.
//!
//! With `pubsub-scope db` every DB has its own namespace: the registry keys
//! a name by [`PubSub::key`] (the DB index in front), and replies and
//! messages show the name without it.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::RwLock;
use tokio::sync::mpsc::UnboundedSender;

use super::client::{ClientInfo, Push};
use crate::commands::glob::glob_match;
use crate::protocol::{Protocol, ReplyBuf};

/// A subscriber's delivery handle.
#[derive(Clone)]
pub struct Subscriber {
    pub info: Arc<ClientInfo>,
    pub tx: UnboundedSender<Push>,
}

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Vec<u8>, HashMap<u64, Subscriber>>>,
    patterns: RwLock<HashMap<Vec<u8>, HashMap<u64, Subscriber>>>,
    shard_channels: RwLock<HashMap<Vec<u8>, HashMap<u64, Subscriber>>>,
    /// `pubsub-scope db`; fixed at startup (see [`PubSub::set_per_db`]).
    per_db: AtomicBool,
}

/// Bytes of the DB prefix of a per-DB registry key.
const PREFIX: usize = 4;

/// Which namespace a (un)subscription is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
    /// Chooses per-DB namespaces (`pubsub-scope db`). Set once, before any
    /// client subscribes: keys made under one scope mean nothing in the other.
    pub fn set_per_db(&self, per_db: bool) {
        self.per_db.store(per_db, Ordering::Relaxed);
    }

    pub fn per_db(&self) -> bool {
        self.per_db.load(Ordering::Relaxed)
    }

    /// The registry key of channel or pattern `name` for a client in `db`.
    /// Borrowed (no allocation) under the global scope.
    pub fn key<'a>(&self, db: usize, name: &'a [u8]) -> Cow<'a, [u8]> {
        if !self.per_db() {
            return Cow::Borrowed(name);
        }
        let mut k = Vec::with_capacity(PREFIX + name.len());
        k.extend_from_slice(&(db as u32).to_be_bytes());
        k.extend_from_slice(name);
        Cow::Owned(k)
    }

    /// The name a client sees for registry key `key`.
    pub fn name<'a>(&self, key: &'a [u8]) -> &'a [u8] {
        if self.per_db() {
            key.get(PREFIX..).unwrap_or_default()
        } else {
            key
        }
    }

    /// The registry key's DB part (`None` under the global scope).
    fn prefix(&self, db: usize) -> Option<[u8; PREFIX]> {
        self.per_db().then(|| (db as u32).to_be_bytes())
    }

    fn map(&self, kind: Kind) -> &RwLock<HashMap<Vec<u8>, HashMap<u64, Subscriber>>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    pub fn subscribe(&self, kind: Kind, name: &[u8], sub: Subscriber) {
        self.map(kind)
            .write()
            .entry(name.to_vec())
            .or_default()
            .insert(sub.info.id, sub);
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], client_id: u64) {
        let mut m = self.map(kind).write();
        if let Some(subs) = m.get_mut(name) {
            subs.remove(&client_id);
            if subs.is_empty() {
                m.remove(name);
            }
        }
    }

    /// PUBLISH / SPUBLISH from a client in `db`: returns the number of
    /// clients that received it.
    pub fn publish(
        &self,
        shard: bool,
        db: usize,
        channel: &[u8],
        message: &[u8],
        now_ms: i64,
    ) -> usize {
        self.publish_to(shard, db, channel, message, now_ms, &mut |_| true)
    }

    /// [`PubSub::publish`] to the subscribers `admit` lets through (a
    /// keyspace event reaches only users who may see its DB).
    pub fn publish_to(
        &self,
        shard: bool,
        db: usize,
        channel: &[u8],
        message: &[u8],
        now_ms: i64,
        admit: &mut dyn FnMut(&Subscriber) -> bool,
    ) -> usize {
        let key = self.key(db, channel);
        let prefix = self.prefix(db);
        let mut enc = Encoded::default();
        let mut n = 0;
        let (kind, name): (Kind, &[u8]) = if shard {
            (Kind::Shard, b"smessage")
        } else {
            (Kind::Channel, b"message")
        };
        if let Some(subs) = self.map(kind).read().get(key.as_ref()) {
            for s in subs.values() {
                if !admit(s) {
                    continue;
                }
                let msg = enc.get(proto_of(&s.info), |r| {
                    r.push(3);
                    r.bulk(name);
                    r.bulk(channel);
                    r.bulk(message);
                });
                deliver(s, msg, now_ms);
                n += 1;
            }
        }
        if shard {
            return n;
        }
        for (pattern, subs) in self.patterns.read().iter() {
            let pattern = match &prefix {
                None => pattern.as_slice(),
                Some(p) => match pattern.strip_prefix(p.as_slice()) {
                    Some(rest) => rest,
                    None => continue,
                },
            };
            if !glob_match(pattern, channel, false) {
                continue;
            }
            for s in subs.values() {
                if !admit(s) {
                    continue;
                }
                let mut r = ReplyBuf::new(proto_of(&s.info));
                r.push(4);
                r.bulk(b"pmessage");
                r.bulk(pattern);
                r.bulk(channel);
                r.bulk(message);
                deliver(s, r.buf, now_ms);
                n += 1;
            }
        }
        n
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS [pattern], as seen from `db`.
    pub fn names(&self, kind: Kind, db: usize, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        let prefix = self.prefix(db);
        self.map(kind)
            .read()
            .keys()
            .filter_map(|k| match &prefix {
                None => Some(k.as_slice()),
                Some(p) => k.strip_prefix(p.as_slice()),
            })
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB, as seen from `db`.
    pub fn count(&self, kind: Kind, db: usize, name: &[u8]) -> usize {
        let key = self.key(db, name);
        self.map(kind)
            .read()
            .get(key.as_ref())
            .map_or(0, HashMap::len)
    }

    /// PUBSUB NUMPAT as seen from `db`: distinct patterns of its namespace.
    pub fn pattern_count_in(&self, db: usize) -> usize {
        match self.prefix(db) {
            None => self.pattern_count(),
            Some(p) => self
                .patterns
                .read()
                .keys()
                .filter(|k| k.starts_with(&p))
                .count(),
        }
    }

    /// Channels with at least one subscriber, all namespaces (INFO
    /// `pubsub_channels`).
    pub fn channel_count(&self) -> usize {
        self.channels.read().len()
    }

    /// PUBSUB NUMPAT: distinct patterns.
    pub fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }
}

fn proto_of(info: &ClientInfo) -> Protocol {
    if info.resp.load(Ordering::Relaxed) == 3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    }
}

/// The message encoded at most once per protocol.
#[derive(Default)]
struct Encoded {
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl Encoded {
    fn get(&mut self, proto: Protocol, f: impl FnOnce(&mut ReplyBuf)) -> Vec<u8> {
        let slot = match proto {
            Protocol::Resp2 => &mut self.resp2,
            Protocol::Resp3 => &mut self.resp3,
        };
        slot.get_or_insert_with(|| {
            let mut r = ReplyBuf::new(proto);
            f(&mut r);
            r.buf
        })
        .clone()
    }
}

/// Queues `msg` for `s` under its output buffer limit.
fn deliver(s: &Subscriber, msg: Vec<u8>, now_ms: i64) {
    deliver_to(&s.info, msg, now_ms);
}

/// Queues `msg` down the client's own push channel under its class's
/// `client-output-buffer-limit` (also used for tracking invalidations).
pub fn deliver_to(info: &ClientInfo, msg: Vec<u8>, now_ms: i64) {
    super::obuf::push(&info.obuf_limits, info, msg, now_ms);
}
