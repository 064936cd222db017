//! CLIENT PAUSE: the server-wide pause of clients' commands (all of them,
//! or only those that write or may replicate), as Redis 7.2 keeps it.
//!
//! Admission reads [`Pause::mode`] once per command (one relaxed load,
//! zero while nothing is paused); a paused command is not run and its
//! connection waits in [`Pause::wait`] until the pause changes or ends,
//! then dispatches it again. While a pause lasts, keys neither expire nor
//! get evicted: the end time is shared with the keyspace
//! ([`Keyspace::expiry_hold`](crate::keyspace::Keyspace)), so lazy expiry
//! reports an expired key as missing without deleting it, as Redis does,
//! and the active cycle and eviction skip their work.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::clock::Clock;

/// [`Pause::mode`] values; a stronger pause wins over a weaker one.
pub mod mode {
    pub const NONE: u8 = 0;
    /// Commands that write or may replicate wait (`CLIENT PAUSE t WRITE`).
    pub const WRITE: u8 = 1;
    /// Every command waits (`CLIENT PAUSE t` / `ALL`).
    pub const ALL: u8 = 2;
}

pub struct Pause {
    /// The admission gate's one load: [`mode::NONE`] while nothing is
    /// paused. It may stay set a little past the end time; readers check
    /// [`Pause::active`].
    mode: AtomicU8,
    /// End of the pause (the server clock's ms); shared with the keyspace,
    /// which holds expiry and eviction until then.
    end: Arc<AtomicI64>,
    /// Serializes changes (PAUSE, UNPAUSE, the end noticed).
    change: Mutex<()>,
    /// Wakes the waiting connections when the pause changes or ends.
    changed: Notify,
}

impl Pause {
    /// A pause whose end time is `hold` (the keyspace's expiry hold).
    pub fn new(hold: Arc<AtomicI64>) -> Pause {
        Pause {
            mode: AtomicU8::new(mode::NONE),
            end: hold,
            change: Mutex::new(()),
            changed: Notify::new(),
        }
    }

    /// The admission gate's load.
    #[inline(always)]
    pub fn mode(&self) -> u8 {
        self.mode.load(Ordering::Relaxed)
    }

    /// The mode in force at `now` ([`mode::NONE`] once the end passed).
    pub fn active(&self, now: i64) -> u8 {
        let m = self.mode.load(Ordering::Acquire);
        if m == mode::NONE || self.end.load(Ordering::Acquire) > now {
            return m;
        }
        self.end_if_due(now);
        mode::NONE
    }

    /// CLIENT PAUSE: Redis keeps the stronger mode and the later end of
    /// this pause and a running one.
    pub fn pause(&self, m: u8, end: i64, now: i64) {
        let _g = self.change.lock();
        let running = self.mode.load(Ordering::Acquire);
        let (m, end) = if running != mode::NONE && self.end.load(Ordering::Acquire) > now {
            (m.max(running), end.max(self.end.load(Ordering::Acquire)))
        } else {
            (m, end)
        };
        self.end.store(end, Ordering::Release);
        self.mode.store(m, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        let _g = self.change.lock();
        self.mode.store(mode::NONE, Ordering::Release);
        self.end.store(0, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Clears a pause whose end has passed and wakes its waiters (cron
    /// calls this too, so `INFO` and the waiters see the end on time).
    pub fn end_if_due(&self, now: i64) {
        if self.mode.load(Ordering::Acquire) == mode::NONE {
            return;
        }
        let _g = self.change.lock();
        if self.mode.load(Ordering::Acquire) != mode::NONE
            && self.end.load(Ordering::Acquire) <= now
        {
            self.mode.store(mode::NONE, Ordering::Release);
            self.end.store(0, Ordering::Release);
            self.changed.notify_waiters();
        }
    }

    /// Waits until the pause changes (UNPAUSE, a new PAUSE) or its end
    /// passes, or `kill` fires; the caller then dispatches its command
    /// again, which waits anew if it is still paused.
    pub async fn wait(&self, clock: &Clock, kill: &Notify) {
        let changed = self.changed.notified();
        tokio::pin!(changed);
        // Registered before the check, so a change in between still wakes us.
        changed.as_mut().enable();
        let now = clock.now_ms();
        if self.active(now) == mode::NONE {
            return;
        }
        // At most 100 ms: a clock moved forward (tests) is noticed too.
        let left = self
            .end
            .load(Ordering::Acquire)
            .saturating_sub(now)
            .clamp(1, 100) as u64;
        tokio::select! {
            _ = &mut changed => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(left)) => {
                self.end_if_due(clock.now_ms());
            }
            _ = kill.notified() => {}
        }
    }
}
