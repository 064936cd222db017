//! The Pub/Sub registry: channel, pattern and shard-channel subscribers.
//!
//! PUBLISH encodes the message once per protocol (RESP2 array / RESP3 push)
//! and sends it down each subscriber's push channel. Queued bytes are
//! counted per client; a subscriber that stops reading is disconnected by
//! Redis's pubsub output-buffer limit (`32mb 8mb 60`: over 32 MiB at once,
//! or over 8 MiB for 60 seconds) instead of growing memory without bound.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::RwLock;
use tokio::sync::mpsc::UnboundedSender;

use super::client::{ClientInfo, Push};
use crate::commands::glob::glob_match;
use crate::protocol::{Protocol, ReplyBuf};

pub const HARD_LIMIT: usize = 32 * 1024 * 1024;
pub const SOFT_LIMIT: usize = 8 * 1024 * 1024;
pub const SOFT_SECONDS: i64 = 60;

/// A subscriber's delivery handle.
#[derive(Clone)]
pub struct Subscriber {
    pub info: Arc<ClientInfo>,
    pub tx: UnboundedSender<Push>,
}

/// Output-buffer accounting of one client's pushes.
#[derive(Default, Debug)]
pub struct OutputBuffer {
    pub queued: AtomicUsize,
    /// When the soft limit was first exceeded (ms), or 0.
    pub soft_since_ms: AtomicI64,
}

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Vec<u8>, HashMap<u64, Subscriber>>>,
    patterns: RwLock<HashMap<Vec<u8>, HashMap<u64, Subscriber>>>,
    shard_channels: RwLock<HashMap<Vec<u8>, HashMap<u64, Subscriber>>>,
}

/// Which namespace a (un)subscription is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl PubSub {
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

    /// PUBLISH / SPUBLISH: returns the number of clients that received it.
    pub fn publish(&self, shard: bool, channel: &[u8], message: &[u8], now_ms: i64) -> usize {
        let mut enc = Encoded::default();
        let mut n = 0;
        let (kind, name): (Kind, &[u8]) = if shard {
            (Kind::Shard, b"smessage")
        } else {
            (Kind::Channel, b"message")
        };
        if let Some(subs) = self.map(kind).read().get(channel) {
            for s in subs.values() {
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
            if !glob_match(pattern, channel, false) {
                continue;
            }
            for s in subs.values() {
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

    /// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.map(kind)
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB.
    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).read().get(name).map_or(0, HashMap::len)
    }

    /// Channels with at least one subscriber (INFO `pubsub_channels`).
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

/// Queues `msg` for `s`, enforcing the pubsub output-buffer limit.
fn deliver(s: &Subscriber, msg: Vec<u8>, now_ms: i64) {
    let ob = &s.info.output;
    let queued = ob.queued.fetch_add(msg.len(), Ordering::Relaxed) + msg.len();
    if queued > SOFT_LIMIT {
        let since = ob.soft_since_ms.load(Ordering::Relaxed);
        if since == 0 {
            ob.soft_since_ms.store(now_ms, Ordering::Relaxed);
        }
        if queued > HARD_LIMIT || (since != 0 && now_ms - since >= SOFT_SECONDS * 1000) {
            tracing::warn!(client = s.info.id, addr = %s.info.addr, queued, "closing subscriber over the pubsub output buffer limit");
            s.info.kill();
            return;
        }
    } else {
        ob.soft_since_ms.store(0, Ordering::Relaxed);
    }
    let _ = s.tx.send(Push::Data(msg));
}
