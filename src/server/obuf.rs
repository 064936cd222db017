//! Client output buffer limits (`client-output-buffer-limit`), as Redis's
//! `checkClientOutputBufferLimits`: per class (normal, pubsub; keyward has
//! no replicas) a hard limit that closes a client the moment its queued
//! output reaches it, and a soft limit that closes it once its output has
//! stayed at or above it for more than the class's seconds. 0 = no limit.
//!
//! A client's queued output is the replies of its current batch not yet
//! written (the reply buffer, and what a write stuck on a peer that stopped
//! reading still holds) plus what other clients pushed to it and it has not
//! been written yet (Pub/Sub messages, MONITOR lines, invalidations). It is
//! checked where it grows: after each command (one comparison against
//! [`OutputLimits::check_at`] in dispatch; the real check only above it)
//! and at each push. The class is pubsub while the client has a
//! subscription, else normal (MONITOR clients included, as in Redis).

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use super::client::ClientInfo;
use crate::config::Config;

/// One class's limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit`'s classes, in Redis's order.
pub const NORMAL: usize = 0;
pub const REPLICA: usize = 1;
pub const PUBSUB: usize = 2;

/// Redis's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
pub const DEFAULTS: [Limit; 3] = [
    Limit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    },
    Limit {
        hard: 256 << 20,
        soft: 64 << 20,
        soft_seconds: 60,
    },
    Limit {
        hard: 32 << 20,
        soft: 8 << 20,
        soft_seconds: 60,
    },
];

/// The server's limits (normal and pubsub, as CONFIG SET left them) and
/// the count of clients they closed.
#[derive(Default)]
pub struct OutputLimits {
    /// hard, soft, seconds for normal then pubsub.
    limits: [AtomicU64; 6],
    /// The smallest non-zero limit of either class (`usize::MAX` when
    /// none): below it no client can be over, so no check runs.
    check_at: AtomicUsize,
    /// INFO's `client_output_buffer_limit_disconnections`.
    pub disconnections: AtomicU64,
}

impl OutputLimits {
    pub fn load(&self, c: &Config) {
        let mut min = u64::MAX;
        for (i, class) in [NORMAL, PUBSUB].into_iter().enumerate() {
            let l = c.client_output_buffer_limit[class];
            self.limits[i * 3].store(l.hard, Ordering::Relaxed);
            self.limits[i * 3 + 1].store(l.soft, Ordering::Relaxed);
            self.limits[i * 3 + 2].store(l.soft_seconds, Ordering::Relaxed);
            for v in [l.hard, l.soft] {
                if v > 0 {
                    min = min.min(v);
                }
            }
        }
        self.check_at.store(
            usize::try_from(min).unwrap_or(usize::MAX),
            Ordering::Relaxed,
        );
    }

    /// Below this many queued bytes no client is over a limit.
    #[inline]
    pub fn check_at(&self) -> usize {
        self.check_at.load(Ordering::Relaxed)
    }

    pub fn limit(&self, pubsub: bool) -> Limit {
        let i = if pubsub { 3 } else { 0 };
        let v = |k: usize| self.limits[i + k].load(Ordering::Relaxed);
        Limit {
            hard: v(0),
            soft: v(1),
            soft_seconds: v(2),
        }
    }

    /// Whether `info`, with `used` bytes queued, must be closed now
    /// (Redis's `checkClientOutputBufferLimits`, its soft-limit clock in
    /// whole seconds as Redis's `server.unixtime`).
    pub fn over(&self, info: &ClientInfo, used: usize, now_ms: i64) -> bool {
        let l = self.limit(info.is_pubsub());
        let used = used as u64;
        let hard = l.hard > 0 && used >= l.hard;
        let mut soft = l.soft > 0 && used >= l.soft;
        let since = &info.output.soft_since_s;
        let now_s = now_ms.div_euclid(1000).max(1);
        if soft {
            let t = since.load(Ordering::Relaxed);
            if t == 0 {
                since.store(now_s, Ordering::Relaxed);
                soft = false;
            } else if now_s - t <= l.soft_seconds as i64 {
                soft = false;
            }
        } else {
            since.store(0, Ordering::Relaxed);
        }
        hard || soft
    }

    /// Closes `info` for being over its limit: at once, its queued output
    /// dropped, as Redis's `freeClientAsync` on this path.
    #[cold]
    pub fn close(&self, info: &ClientInfo, used: usize) {
        if info.killed.load(Ordering::Acquire) {
            return;
        }
        self.disconnections.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            client = info.id,
            addr = %info.addr,
            used,
            "Client scheduled to be closed ASAP for overcoming of output buffer limits."
        );
        info.kill();
    }

    /// The check after a command added `reply_len` bytes of replies to a
    /// client's batch: true when it was closed.
    #[cold]
    pub fn check_batch(&self, info: &ClientInfo, reply_len: usize, now_ms: i64) -> bool {
        let used = reply_len + info.output.queued();
        if self.over(info, used, now_ms) {
            self.close(info, used);
            true
        } else {
            false
        }
    }
}

/// One client's output beyond its running batch: pushes queued and not
/// yet written, and a stuck write's remaining bytes.
#[derive(Default, Debug)]
pub struct OutputBuffer {
    /// Pushed bytes not yet written (Pub/Sub, MONITOR, invalidations).
    pub pushed: AtomicUsize,
    /// Reply bytes a write waiting on the peer still holds.
    pub pending_write: AtomicUsize,
    /// When (unix seconds) the soft limit was first seen reached, or 0.
    pub soft_since_s: AtomicI64,
}

impl OutputBuffer {
    /// Queued bytes outside the running batch (CLIENT LIST's `omem`).
    pub fn queued(&self) -> usize {
        self.pushed.load(Ordering::Relaxed) + self.pending_write.load(Ordering::Relaxed)
    }
}

/// Queues `msg` down `info`'s push channel, closing the client instead
/// when that puts it over its class's limit.
pub fn push(limits: &OutputLimits, info: &ClientInfo, msg: Vec<u8>, now_ms: i64) {
    let ob = &info.output;
    let pushed = ob.pushed.fetch_add(msg.len(), Ordering::Relaxed) + msg.len();
    let used = pushed + ob.pending_write.load(Ordering::Relaxed);
    // Under every limit no state can change (a soft clock is reset by the
    // check itself once the client is back under): skip the check.
    let over = (used >= limits.check_at() || ob.soft_since_s.load(Ordering::Relaxed) != 0)
        && limits.over(info, used, now_ms);
    if over {
        limits.close(info, used);
        return;
    }
    let _ = info.push_tx.send(super::client::Push::Data(msg));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_needs_more_than_its_seconds_and_resets_below() {
        let mut c = Config::default();
        c.client_output_buffer_limit[NORMAL] = Limit {
            hard: 1000,
            soft: 100,
            soft_seconds: 2,
        };
        let l = OutputLimits::default();
        l.load(&c);
        assert_eq!(l.check_at(), 100);
        let info = ClientInfo::detached(1);
        assert!(!l.over(&info, 99, 10_000));
        assert!(!l.over(&info, 100, 10_000), "first sight starts the clock");
        assert!(!l.over(&info, 500, 12_999), "2 s: not more than 2");
        assert!(l.over(&info, 500, 13_000));
        assert!(!l.over(&info, 50, 13_000), "below: the clock resets");
        assert!(!l.over(&info, 500, 20_000));
        assert!(l.over(&info, 1000, 20_000), "hard: at once");
        // The pubsub class is a subscribed client's.
        info.sub_counts[0].store(1, Ordering::Relaxed);
        assert!(!l.over(&info, 1 << 20, 20_000));
        assert!(l.over(&info, 32 << 20, 20_000));
    }
}
