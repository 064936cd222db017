//! Publishing keyspace notifications: what the DBs queued (see
//! `keyspace::notify`) goes out through Pub/Sub as Redis's
//! `notifyKeyspaceEvent` sends it, `__keyspace@<db>__:<key>` with the event
//! as message, then `__keyevent@<db>__:<event>` with the key as message.
//!
//! The tenant boundary: an event reaches only subscribers whose user may
//! see its DB; under `pubsub-scope db` the channel is in the event's DB's
//! namespace, so only clients that subscribed from that DB receive it.

use std::sync::atomic::Ordering;

use crate::keyspace::notify::{class, Note};

use super::pubsub::Subscriber;
use super::Shared;

/// Publishes `notes`, fired in DB `db`, in order.
pub fn publish(srv: &Shared, db: usize, notes: &[Note]) {
    let flags = srv.keyspace.notify_flags.load(Ordering::Relaxed);
    let now = srv.clock.now_ms();
    // Who may see `db`, asked once per subscriber and batch: a user
    // lookup per message would cost more than the message.
    let mut seen: Vec<(u64, bool)> = Vec::new();
    let mut admit = |s: &Subscriber| -> bool {
        if let Some(&(_, ok)) = seen.iter().find(|(id, _)| *id == s.info.id) {
            return ok;
        }
        let ok = {
            let name = s.info.user.lock();
            srv.acl.get(name.as_bytes()).is_some_and(|u| u.sees_db(db))
        };
        seen.push((s.info.id, ok));
        ok
    };
    let mut chan = Vec::new();
    for n in notes {
        if flags & n.class == 0 {
            // Turned off between firing and publishing.
            continue;
        }
        if flags & class::KEYSPACE != 0 {
            chan.clear();
            chan.extend_from_slice(format!("__keyspace@{db}__:").as_bytes());
            chan.extend_from_slice(&n.key);
            srv.pubsub
                .publish_to(false, db, &chan, n.event.as_bytes(), now, &mut admit);
        }
        if flags & class::KEYEVENT != 0 {
            chan.clear();
            chan.extend_from_slice(format!("__keyevent@{db}__:{}", n.event).as_bytes());
            srv.pubsub
                .publish_to(false, db, &chan, &n.key, now, &mut admit);
        }
    }
}
