//! The one source of time: wall-clock milliseconds plus a per-server offset
//! that tests advance to expire keys without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clone for Clock {
    /// A clock with the same offset as `self` has now (a background job
    /// reads the server's time without holding the server).
    fn clone(&self) -> Clock {
        Clock {
            offset_ms: AtomicI64::new(self.offset_ms.load(Ordering::Relaxed)),
        }
    }
}

impl Clock {
    /// Unix time in milliseconds.
    #[inline]
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Unix time in microseconds (TIME, CLIENT LIST ages).
    pub fn now_us(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed) * 1000
    }

    /// Moves this server's time forward (tests).
    pub fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Redis's 24-bit LRU clock: seconds, wrapping.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u32) & 0x00FF_FFFF
}
