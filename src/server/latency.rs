//! Latency: Redis's latency monitor (`latency-monitor-threshold`: events
//! such as `command`, `fast-command`, `expire-cycle`, `eviction-cycle`,
//! `aof-write`, `aof-fsync-always`, each a ring of 160 one-per-second
//! samples) and latency tracking (`latency-tracking`: a per-command
//! histogram for LATENCY HISTOGRAM and INFO `latencystats`).
//!
//! The hot path pays one relaxed load ([`HotLatency`]) and, with tracking
//! on (Redis's default), one relaxed add into this thread's histogram.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
pub const TS_LEN: usize = 160;

/// One event's samples, oldest first, at most one per second.
#[derive(Default, Clone)]
pub struct Series {
    /// (unix seconds, ms).
    pub samples: std::collections::VecDeque<(i64, u64)>,
    /// All-time high, ms.
    pub max: u64,
}

/// The latency monitor's events.
#[derive(Default)]
pub struct Monitor {
    events: Mutex<BTreeMap<&'static str, Series>>,
}

impl Monitor {
    /// Redis's `latencyAddSample`: a second sample in the same second
    /// keeps the higher value.
    pub fn add(&self, event: &'static str, ms: u64, now_s: i64) {
        let mut events = self.events.lock();
        let s = events.entry(event).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            Some(last) if last.0 == now_s => last.1 = last.1.max(ms),
            _ => {
                if s.samples.len() == TS_LEN {
                    s.samples.pop_front();
                }
                s.samples.push_back((now_s, ms));
            }
        }
    }

    pub fn events(&self) -> BTreeMap<&'static str, Series> {
        self.events.lock().clone()
    }

    pub fn series(&self, event: &[u8]) -> Option<Series> {
        let events = self.events.lock();
        events
            .iter()
            .find(|(k, _)| k.as_bytes() == event)
            .map(|(_, s)| s.clone())
    }

    /// LATENCY RESET: the named events (all without names); how many
    /// existed.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.events.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        let mut n = 0;
        for name in names {
            let key = events.keys().find(|k| k.as_bytes() == *name).copied();
            if let Some(k) = key {
                events.remove(k);
                n += 1;
            }
        }
        n
    }
}

/// The two settings the hot path reads, in one word: bit 63 = tracking on,
/// the rest the monitor's threshold in µs, [`OFF`] when the monitor is off
/// (so one comparison decides: no duration reaches it).
pub struct HotLatency(AtomicU64);

pub const TRACKING: u64 = 1 << 63;
/// The threshold bits of a monitor that is off.
pub const OFF: u64 = TRACKING - 1;

impl Default for HotLatency {
    fn default() -> Self {
        HotLatency(AtomicU64::new(TRACKING | OFF))
    }
}

impl HotLatency {
    pub fn set(&self, tracking: bool, threshold_ms: u64) {
        let t = match threshold_ms {
            0 => OFF,
            ms => ms.saturating_mul(1000).min(OFF),
        };
        self.0
            .store(t | if tracking { TRACKING } else { 0 }, Ordering::Relaxed);
    }

    #[inline(always)]
    pub fn load(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The monitor's threshold in µs; 0 when it is off.
    pub fn threshold_us(&self) -> u64 {
        match self.load() & !TRACKING {
            OFF => 0,
            t => t,
        }
    }
}

/// Sub-buckets per power of two (≈6 % resolution above 16 µs).
const SUB: usize = 16;
/// Slots: 0..16 µs one each, then 16 per power of two up to 2^40 µs.
pub const HIST_SLOTS: usize = SUB + (40 - 4) * SUB;

/// A command's latency histogram in µs (log-linear), allocated on first use.
#[derive(Default)]
pub struct Histogram(OnceLock<Box<[AtomicU64]>>);

#[inline]
fn slot(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let e = (63 - us.leading_zeros()) as usize; // ≥ 4
    if e >= 40 {
        return HIST_SLOTS - 1;
    }
    let sub = ((us >> (e - 4)) as usize) & (SUB - 1);
    SUB + (e - 4) * SUB + sub
}

/// The highest µs value slot `i` holds.
fn slot_high(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let e = (i - SUB) / SUB + 4;
    let sub = ((i - SUB) % SUB) as u64;
    ((SUB as u64 + sub + 1) << (e - 4)) - 1
}

impl Histogram {
    #[inline]
    pub fn record(&self, us: u64) {
        match self.0.get() {
            Some(h) => h[slot(us)].fetch_add(1, Ordering::Relaxed),
            None => self.first(us),
        };
    }

    #[cold]
    fn first(&self, us: u64) -> u64 {
        let h = self
            .0
            .get_or_init(|| (0..HIST_SLOTS).map(|_| AtomicU64::new(0)).collect());
        h[slot(us)].fetch_add(1, Ordering::Relaxed)
    }

    /// Adds this histogram's counts into `into` (shards summed).
    pub fn add_to(&self, into: &mut Vec<u64>) {
        if let Some(h) = self.0.get() {
            into.resize(HIST_SLOTS, 0);
            for (a, b) in into.iter_mut().zip(h.iter()) {
                *a += b.load(Ordering::Relaxed);
            }
        }
    }

    pub fn clear(&self) {
        if let Some(h) = self.0.get() {
            for s in h.iter() {
                s.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// The value (µs) at percentile `p` of summed counts.
pub fn percentile(counts: &[u64], p: f64) -> u64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0;
    }
    let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= want {
            return slot_high(i);
        }
    }
    slot_high(counts.len() - 1)
}

/// LATENCY HISTOGRAM's `histogram_usec`: (power-of-two µs bound,
/// cumulative count) for each bound that gained commands, as Redis's
/// `fillCommandCDF` reports its log buckets.
pub fn cdf(counts: &[u64]) -> Vec<(u64, u64)> {
    let mut by_bound: BTreeMap<u64, u64> = BTreeMap::new();
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 {
            let bound = slot_high(i).max(1).next_power_of_two();
            *by_bound.entry(bound).or_default() += c;
        }
    }
    let mut cum = 0;
    by_bound
        .into_iter()
        .map(|(b, c)| {
            cum += c;
            (b, cum)
        })
        .collect()
}

/// Redis's `trimDoubleString` for a percentile name: `50`, `99.9`.
pub fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// LATENCY GRAPH: Redis's sparkline (80 columns, 4 rows, filled), with
/// each sample labelled by how long ago it happened.
pub fn graph(event: &str, s: &Series, now_s: i64) -> String {
    let values: Vec<u64> = s.samples.iter().map(|x| x.1).collect();
    let labels: Vec<String> = s
        .samples
        .iter()
        .map(|&(t, _)| {
            let e = now_s - t;
            if e < 60 {
                format!("{e}s")
            } else if e < 3600 {
                format!("{}m", e / 60)
            } else if e < 86400 {
                format!("{}h", e / 3600)
            } else {
                format!("{}d", e / 86400)
            }
        })
        .collect();
    let min = values.iter().copied().min().unwrap_or(0);
    let max = values.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        s.max
    );
    out.push_str(&"-".repeat(80));
    out.push('\n');
    let mut j = 0;
    while j < values.len() {
        let len = (values.len() - j).min(80);
        if j != 0 {
            out.push('\n');
        }
        render_range(&mut out, &values, &labels, min, max, j, len);
        j += 80;
    }
    out
}

/// Redis's `sparklineRenderRange` with `SPARKLINE_FILL`.
fn render_range(
    out: &mut String,
    values: &[u64],
    labels: &[String],
    min: u64,
    max: u64,
    offset: usize,
    len: usize,
) {
    const FILL: &[u8] = b"_o#";
    const ROWS: i64 = 4;
    let charset_len = FILL.len() as i64;
    let steps = charset_len * ROWS;
    let relmax = if max == min { 1.0 } else { (max - min) as f64 };
    let mut row = 0i64;
    loop {
        let mut chars = vec![b' '; len];
        let mut more = false;
        for (j, c) in chars.iter_mut().enumerate() {
            let v = values[offset + j];
            let relval = (v - min) as f64;
            let step = (((relval * steps as f64) / relmax) as i64).clamp(0, steps - 1);
            if row < ROWS {
                let idx = step - (ROWS - row - 1) * charset_len;
                more = true;
                if (0..charset_len).contains(&idx) {
                    *c = FILL[idx as usize];
                } else if idx >= charset_len {
                    *c = b'|';
                }
            } else {
                // One blank row between the graph and the labels.
                if row - ROWS < 1 {
                    more = true;
                    break;
                }
                let label = labels[offset + j].as_bytes();
                let at = (row - ROWS - 1) as usize;
                if label.len() > at {
                    more = true;
                    *c = label[at];
                }
            }
        }
        if !more {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&chars));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_monotonic_and_bound_their_values() {
        let mut last = 0;
        for us in [0u64, 1, 15, 16, 17, 31, 32, 100, 1000, 65_535, 1 << 30] {
            let s = slot(us);
            assert!(s >= last);
            last = s;
            assert!(slot_high(s) >= us, "{us}");
            assert!(slot_high(s) as f64 <= us.max(1) as f64 * 1.07 + 1.0, "{us}");
        }
    }

    #[test]
    fn percentiles_and_cdf() {
        let h = Histogram::default();
        for _ in 0..99 {
            h.record(1);
        }
        h.record(1000);
        let mut c = Vec::new();
        h.add_to(&mut c);
        assert_eq!(percentile(&c, 50.0), 1);
        assert_eq!(percentile(&c, 99.0), 1);
        assert!((1000..1070).contains(&percentile(&c, 99.9)));
        assert_eq!(cdf(&c), vec![(1, 99), (1024, 100)]);
        assert_eq!(percentile_name(99.9), "99.9");
        assert_eq!(percentile_name(50.0), "50");
    }

    #[test]
    fn monitor_keeps_one_sample_per_second_and_the_max() {
        let m = Monitor::default();
        m.add("command", 5, 100);
        m.add("command", 9, 100);
        m.add("command", 3, 101);
        let s = m.series(b"command").unwrap();
        assert_eq!(s.samples, [(100, 9), (101, 3)]);
        assert_eq!(s.max, 9);
        assert_eq!(m.reset(&[b"nosuch"]), 0);
        assert_eq!(m.reset(&[]), 1);
    }

    #[test]
    fn graph_has_redis_shape() {
        let m = Monitor::default();
        m.add("command", 50, 100);
        let g = graph("command", &m.series(b"command").unwrap(), 100);
        assert_eq!(
            g,
            format!(
                "command - high 50 ms, low 50 ms (all time high 50 ms)\n{}\n \n \n \n_\n \n0\ns\n",
                "-".repeat(80)
            )
        );
    }
}
