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
//!
//! `maxmemory-clients` (client eviction) is here too: it adds up what the
//! clients hold, output included, and closes the biggest.

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

impl OutputLimits {
    /// After a batch's replies went out: a soft-limit clock started by an
    /// earlier batch stops once the client is back under its soft limit
    /// (Redis resets it at the next check below the limit; here no check
    /// runs below `check_at`).
    #[cold]
    pub fn written(&self, info: &ClientInfo) {
        let soft = self.limit(info.is_pubsub()).soft;
        if soft == 0 || (info.output.queued() as u64) < soft {
            info.output.soft_since_s.store(0, Ordering::Relaxed);
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

/// Redis's floor for `maxmemory-clients`, so a small setting cannot cut
/// every client off.
const CLIENT_EVICTION_MIN: u64 = 128 * 1024;

/// `maxmemory-clients` in bytes (a percentage of `maxmemory`), 0 = off:
/// Redis's `getClientEvictionLimit`.
pub fn eviction_limit(maxmemory_clients: i64, maxmemory: u64) -> u64 {
    let limit = match maxmemory_clients {
        p if p < 0 && maxmemory > 0 => (maxmemory as f64 * (-p) as f64 / 100.0) as u64,
        n if n > 0 => n as u64,
        _ => return 0,
    };
    limit.max(CLIENT_EVICTION_MIN)
}

/// Client eviction (`maxmemory-clients`, Redis's `evictClients`): while
/// the clients' memory ([`ClientInfo::memory`]) adds up to the limit or
/// more, closes the client holding the most, skipping CLIENT NO-EVICT
/// ones. Runs each cron tick. Returns how many it closed.
pub fn evict_clients(srv: &super::Shared) -> usize {
    let limit = {
        let c = srv.config.read();
        eviction_limit(c.maxmemory_clients, c.maxmemory)
    };
    if limit == 0 {
        return 0;
    }
    let clients = srv.clients.snapshot();
    let mut total: u64 = clients.iter().map(|c| c.memory() as u64).sum();
    if total < limit {
        return 0;
    }
    let mut victims: Vec<(usize, &std::sync::Arc<ClientInfo>)> = clients
        .iter()
        .filter(|c| !c.no_evict.load(Ordering::Relaxed) && !c.killed.load(Ordering::Acquire))
        .map(|c| (c.memory(), c))
        .collect();
    victims.sort_by_key(|v| std::cmp::Reverse(v.0));
    let mut n = 0;
    for (mem, c) in victims {
        if total < limit {
            break;
        }
        tracing::info!(client = c.id, addr = %c.addr, mem, "Evicting client");
        c.kill();
        srv.stats.evicted_clients.fetch_add(1, Ordering::Relaxed);
        total = total.saturating_sub(mem as u64);
        n += 1;
    }
    if total >= limit {
        tracing::warn!("Over client maxmemory after evicting all evictable clients");
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_limit_as_redis() {
        assert_eq!(eviction_limit(0, 1 << 30), 0);
        assert_eq!(eviction_limit(1 << 20, 0), 1 << 20);
        assert_eq!(eviction_limit(1000, 0), 128 * 1024, "Redis's floor");
        assert_eq!(eviction_limit(-50, 1 << 30), 1 << 29);
        assert_eq!(eviction_limit(-50, 0), 0, "a percentage of no maxmemory");
    }

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
        // A batch written out (nothing else queued) stops the soft clock.
        l.written(&info);
        assert!(!l.over(&info, 500, 30_000), "a new clock");
        l.written(&info);
        assert!(!l.over(&info, 500, 40_000), "and again, not 10 s old");
        // The pubsub class is a subscribed client's.
        info.sub_counts[0].store(1, Ordering::Relaxed);
        assert!(!l.over(&info, 1 << 20, 20_000));
        assert!(l.over(&info, 32 << 20, 20_000));
    }
}
