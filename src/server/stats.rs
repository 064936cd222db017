//! Server-wide counters (INFO stats, commandstats) and the slow log.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-command counters, indexed by command id.
#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Latency histogram slots (see [`LATENCY_SLOTS`]) then the sum in µs;
    /// empty, and never touched, when metrics are off. Kept apart from
    /// `calls`/`usec` because CONFIG RESETSTAT must not make a Prometheus
    /// counter go backwards.
    latency: Box<[AtomicU64]>,
    /// `latency-tracking`: LATENCY HISTOGRAM and INFO latencystats.
    pub hist: crate::server::latency::Histogram,
}

/// Finite latency buckets: slot `k` counts commands that took less than
/// 2^k µs, so the bounds run 1µs, 2µs, 4µs … 2^20µs (~1.05 s).
pub const LATENCY_BUCKETS: usize = 21;
/// Finite buckets plus `+Inf`.
pub const LATENCY_SLOTS: usize = LATENCY_BUCKETS + 1;

/// The slot of a duration in whole µs: a leading-zero count, no search.
#[inline]
pub fn latency_slot(us: u64) -> usize {
    ((u64::BITS - us.leading_zeros()) as usize).min(LATENCY_BUCKETS)
}

/// Upper bound of finite bucket `k`, in seconds.
pub fn latency_bound_secs(k: usize) -> f64 {
    (1u64 << k) as f64 / 1e6
}

impl CmdStat {
    fn new(latency: bool) -> CmdStat {
        CmdStat {
            latency: if latency {
                (0..=LATENCY_SLOTS).map(|_| AtomicU64::new(0)).collect()
            } else {
                Box::default()
            },
            ..Default::default()
        }
    }

    /// Accounts one executed command: INFO commandstats always; when metrics
    /// are on, also the latency histogram and the client's user counters.
    /// With metrics off this costs one branch beyond the two counters.
    #[inline]
    pub fn record(&self, elapsed_us: u64, client: &mut crate::server::client::Client) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.usec.fetch_add(elapsed_us, Ordering::Relaxed);
        if let Some(meter) = &mut client.meter {
            if let [slots @ .., sum] = &*self.latency {
                if let Some(slot) = slots.get(latency_slot(elapsed_us)) {
                    slot.fetch_add(1, Ordering::Relaxed);
                }
                sum.fetch_add(elapsed_us, Ordering::Relaxed);
            }
            meter.command(&client.user);
        }
    }
}

/// Counter shards: each thread bumps its own copy of the per-command
/// counters, so two worker threads running GET never bounce a cache line.
pub const SHARDS: usize = 8;

thread_local! {
    static SHARD: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        (NEXT.fetch_add(1, Ordering::Relaxed) as usize) % SHARDS
    };
}

/// This thread's counter shard, in `0..SHARDS` (other sharded counters,
/// e.g. per-user ones, use it too).
#[inline]
pub fn shard() -> usize {
    SHARD.with(|s| *s)
}

/// One command's latency histogram, summed over shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyTotals {
    /// Per-slot counts (not cumulative); the last slot is `+Inf`.
    pub slots: [u64; LATENCY_SLOTS],
    pub sum_us: u64,
}

impl LatencyTotals {
    pub fn count(&self) -> u64 {
        self.slots.iter().sum()
    }
}

#[derive(Default, Clone, Copy, Debug)]
pub struct CmdTotals {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

pub struct Stats {
    shards: Box<[Box<[CmdStat]>]>,
    pub total_commands: AtomicU64,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    /// INFO's `evicted_clients` (`maxmemory-clients`).
    pub evicted_clients: AtomicU64,
    /// INFO's `client_query_buffer_limit_disconnections`.
    pub query_buffer_limit_disconnections: AtomicU64,
}

impl Stats {
    /// `latency`: keep the per-command latency histograms (metrics on).
    pub fn new(commands: usize, latency: bool) -> Stats {
        Stats {
            shards: (0..SHARDS)
                .map(|_| (0..commands).map(|_| CmdStat::new(latency)).collect())
                .collect(),
            total_commands: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            query_buffer_limit_disconnections: AtomicU64::new(0),
            evicted_clients: AtomicU64::new(0),
        }
    }

    /// This thread's counters for command `id`.
    #[inline]
    pub fn cmd(&self, id: u16) -> &CmdStat {
        let shard = SHARD.with(|s| *s);
        &self.shards[shard][id as usize]
    }

    /// Counters for command `id`, summed over shards.
    pub fn cmd_totals(&self, id: u16) -> CmdTotals {
        let mut t = CmdTotals::default();
        for s in self.shards.iter() {
            let c = &s[id as usize];
            t.calls += c.calls.load(Ordering::Relaxed);
            t.usec += c.usec.load(Ordering::Relaxed);
            t.rejected += c.rejected.load(Ordering::Relaxed);
            t.failed += c.failed.load(Ordering::Relaxed);
        }
        t
    }

    /// Command `id`'s latency histogram summed over shards; `None` when
    /// metrics are off.
    pub fn latency_totals(&self, id: u16) -> Option<LatencyTotals> {
        let mut t = LatencyTotals::default();
        for s in self.shards.iter() {
            let [slots @ .., sum] = &*s[id as usize].latency else {
                return None;
            };
            for (acc, slot) in t.slots.iter_mut().zip(slots) {
                *acc += slot.load(Ordering::Relaxed);
            }
            t.sum_us += sum.load(Ordering::Relaxed);
        }
        Some(t)
    }

    /// Command `id`'s tracked latencies (µs histogram slots, see
    /// `server::latency`) summed over shards; empty when never recorded.
    pub fn histogram(&self, id: u16) -> Vec<u64> {
        let mut counts = Vec::new();
        for s in self.shards.iter() {
            s[id as usize].hist.add_to(&mut counts);
        }
        counts
    }

    /// Number of command ids.
    pub fn commands(&self) -> usize {
        self.shards.first().map_or(0, |s| s.len())
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in self.shards.iter().flat_map(|s| s.iter()) {
            c.calls.store(0, Ordering::Relaxed);
            c.usec.store(0, Ordering::Relaxed);
            c.rejected.store(0, Ordering::Relaxed);
            c.failed.store(0, Ordering::Relaxed);
            c.hist.clear();
        }
        for a in [
            &self.total_commands,
            &self.connections_received,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
            &self.query_buffer_limit_disconnections,
            &self.evicted_clients,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }
}

pub struct SlowLogEntry {
    pub id: u64,
    pub time_s: i64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
    /// The DB the command ran in: a DB-restricted user lists only its own.
    pub db: usize,
}

/// Where and when a slow command ran.
pub struct SlowLogSource {
    pub duration_us: u64,
    pub time_s: i64,
    pub addr: String,
    pub name: Vec<u8>,
    pub db: usize,
}

#[derive(Default)]
pub struct SlowLog {
    pub next_id: u64,
    pub entries: VecDeque<SlowLogEntry>,
}

impl SlowLog {
    /// Records a command the way Redis trims it: at most 32 arguments (the
    /// last one saying how many more), each at most 128 bytes. Secrets are
    /// already redacted by the caller.
    pub fn push(&mut self, max_len: usize, argv: &[&[u8]], src: SlowLogSource) {
        let mut args = Vec::new();
        let shown = argv.len().min(32);
        for (i, a) in argv[..shown].iter().enumerate() {
            if i == 31 && argv.len() > 32 {
                args.push(format!("... ({} more arguments)", argv.len() - 31).into_bytes());
            } else if a.len() > 128 {
                let mut v = a[..128].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                args.push(v);
            } else {
                args.push(a.to_vec());
            }
        }
        self.entries.push_front(SlowLogEntry {
            id: self.next_id,
            time_s: src.time_s,
            duration_us: src.duration_us,
            args,
            addr: src.addr,
            name: src.name,
            db: src.db,
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_slot_k_holds_durations_below_2_pow_k_us() {
        assert_eq!(latency_slot(0), 0);
        assert_eq!(latency_slot(1), 1);
        assert_eq!(latency_slot(3), 2);
        for k in 0..LATENCY_BUCKETS {
            // The largest whole µs below 2^k lands in slot k, 2^k in the next.
            assert_eq!(latency_slot((1 << k) - 1), k);
            assert_eq!(latency_slot(1 << k), k + 1);
        }
        assert_eq!(latency_slot(1 << 20), LATENCY_BUCKETS);
        assert_eq!(latency_slot(u64::MAX), LATENCY_BUCKETS);
        assert_eq!(latency_bound_secs(0), 0.000_001);
        assert_eq!(latency_bound_secs(20), 1.048_576);
    }

    #[test]
    fn latency_kept_only_when_on() {
        assert_eq!(Stats::new(3, false).latency_totals(1), None);
        let on = Stats::new(3, true);
        assert_eq!(on.latency_totals(1), Some(LatencyTotals::default()));
        assert_eq!(on.commands(), 3);
    }
}
