//! The active expiry cycle's knobs and its per-tick budget: Redis's
//! `activeExpireCycle` (expire.c) scaled by `active-expire-effort`.
//!
//! Per DB the cycle runs loops that each look at up to `keys_per_loop` keys
//! with a TTL (and at most 20 times that many entries, Redis's bucket cap)
//! and repeats while more than `acceptable_stale` percent of those were
//! expired; every 16 loops it checks the tick's time limit,
//! `time_perc`% of a cron period, and stops the whole tick when it is spent.
//! The DB walk itself is [`super::db::Db::active_expire`].

use std::time::Instant;

/// Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`.
const KEYS_PER_LOOP: usize = 20;
/// Redis's `ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC`.
const SLOW_TIME_PERC: u64 = 25;
/// Redis's `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE`.
const ACCEPTABLE_STALE: usize = 10;

/// What `active-expire-effort` (1..10) makes of the cycle, as Redis
/// computes it from `effort - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpireEffort {
    /// Keys with a TTL examined per loop: 20 + 5 per effort step.
    pub keys_per_loop: usize,
    /// Percent of expired keys among those above which a DB is looped
    /// again: 10 - 1 per step.
    pub acceptable_stale: usize,
    /// Percent of a cron period the cycle may take: 25 + 2 per step.
    pub time_perc: u64,
}

impl ExpireEffort {
    pub fn new(effort: u32) -> ExpireEffort {
        let e = effort.clamp(1, 10) as usize - 1;
        ExpireEffort {
            keys_per_loop: KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * e,
            acceptable_stale: ACCEPTABLE_STALE - e,
            time_perc: SLOW_TIME_PERC + 2 * e as u64,
        }
    }

    /// The tick's time limit in microseconds at `hz` ticks a second.
    pub fn time_limit_us(&self, hz: u32) -> u64 {
        self.time_perc * 1_000_000 / u64::from(hz.max(1)) / 100
    }
}

impl Default for ExpireEffort {
    fn default() -> Self {
        ExpireEffort::new(1)
    }
}

/// One cron tick's run over the DBs: the knobs, the time spent so far, and
/// whether the limit stopped it.
pub struct ExpireCycle<'a> {
    pub effort: ExpireEffort,
    limit_us: u64,
    /// Microseconds since the tick started (a test passes its own clock).
    elapsed_us: Box<dyn FnMut() -> u64 + Send + 'a>,
    /// The time limit was reached: the tick's remaining DBs wait for the
    /// next one (Redis's `timelimit_exit`).
    pub timed_out: bool,
    /// Entries looked at, for tests and the cycle's accounting.
    pub examined: usize,
    /// Loops run (each looks at up to `keys_per_loop` keys with a TTL).
    pub loops: usize,
}

impl<'a> ExpireCycle<'a> {
    /// A tick timed by the real clock.
    pub fn timed(effort: ExpireEffort, hz: u32) -> ExpireCycle<'static> {
        let start = Instant::now();
        ExpireCycle::with_clock(
            effort,
            effort.time_limit_us(hz),
            Box::new(move || start.elapsed().as_micros() as u64),
        )
    }

    /// A tick whose elapsed time `elapsed_us` reports.
    pub fn with_clock(
        effort: ExpireEffort,
        limit_us: u64,
        elapsed_us: Box<dyn FnMut() -> u64 + Send + 'a>,
    ) -> ExpireCycle<'a> {
        ExpireCycle {
            effort,
            limit_us,
            elapsed_us,
            timed_out: false,
            examined: 0,
            loops: 0,
        }
    }

    /// A tick that stops at its first time check (after 16 loops in a DB
    /// that keeps finding expired keys): a bounded step for tests.
    pub fn one_check(effort: ExpireEffort) -> ExpireCycle<'static> {
        ExpireCycle::with_clock(effort, 0, Box::new(|| 1))
    }

    /// Checks the time limit (every 16 loops, as Redis).
    pub(super) fn over_time(&mut self) -> bool {
        if (self.elapsed_us)() > self.limit_us {
            self.timed_out = true;
        }
        self.timed_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_scales_as_redis() {
        let e1 = ExpireEffort::new(1);
        assert_eq!(
            (e1.keys_per_loop, e1.acceptable_stale, e1.time_perc),
            (20, 10, 25)
        );
        let e10 = ExpireEffort::new(10);
        assert_eq!(
            (e10.keys_per_loop, e10.acceptable_stale, e10.time_perc),
            (65, 1, 43)
        );
        assert_eq!(e1.time_limit_us(10), 25_000);
        assert_eq!(e10.time_limit_us(10), 43_000);
        assert_eq!(ExpireEffort::new(0), e1);
    }
}
