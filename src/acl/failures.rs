//! Failed authentications, counted per user and per source address, and
//! the optional slow-down of repeated failures from one address
//! (`auth-fail-delay`): what INFO's `# Auth` section and the
//! `keyward_auth_failures_total` metric report.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

/// Source addresses remembered at most; past it the one idle longest is
/// forgotten, so a scan from many addresses cannot grow memory at will.
const MAX_ADDRS: usize = 1024;
/// A streak of failures from one address ends after this long without one.
const STREAK_RESET_MS: i64 = 60_000;
/// The longest a failed AUTH is held back.
const MAX_DELAY_MS: u64 = 10_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AddrFailures {
    pub failures: u64,
    /// Failures answered late because of `auth-fail-delay`.
    pub delayed: u64,
    last_ms: i64,
}

/// Consecutive failures against one user from one address (reset by that
/// user's success from there, or a minute's quiet). Keyed by the pair so a
/// tenant's own successful logins between guesses at another user's
/// password do not reset the guesses' streak.
#[derive(Debug, Default, Clone, Copy)]
struct Streak {
    count: u32,
    last_ms: i64,
}

#[derive(Debug, Default)]
pub struct AuthFailures {
    pub total: u64,
    /// By user name, for users that exist (a guessed name is not a series).
    pub by_user: BTreeMap<String, u64>,
    pub by_addr: HashMap<IpAddr, AddrFailures>,
    streaks: HashMap<(IpAddr, Vec<u8>), Streak>,
}

impl AuthFailures {
    /// Records a failed AUTH; returns how long to hold its reply back:
    /// nothing for the first failure of a streak, then `delay_ms` doubling
    /// with each further one, up to 10 s. `delay_ms` 0 = never.
    /// `user` is counted when it exists; `target` is the name the AUTH
    /// tried, whatever it is (the streak's key).
    pub fn failed(
        &mut self,
        user: Option<&str>,
        target: &[u8],
        addr: IpAddr,
        now_ms: i64,
        delay_ms: u64,
    ) -> Option<Duration> {
        self.total += 1;
        if let Some(u) = user {
            *self.by_user.entry(u.to_string()).or_default() += 1;
        }
        if self.by_addr.len() >= MAX_ADDRS && !self.by_addr.contains_key(&addr) {
            if let Some(oldest) = self
                .by_addr
                .iter()
                .min_by_key(|(_, a)| a.last_ms)
                .map(|(ip, _)| *ip)
            {
                self.by_addr.remove(&oldest);
            }
        }
        let a = self.by_addr.entry(addr).or_default();
        a.failures += 1;
        a.last_ms = now_ms;
        if self.streaks.len() >= MAX_ADDRS && !self.streaks.contains_key(&(addr, target.to_vec())) {
            self.streaks
                .retain(|_, s| now_ms - s.last_ms <= STREAK_RESET_MS);
            if self.streaks.len() >= MAX_ADDRS {
                self.streaks.clear();
            }
        }
        let st = self.streaks.entry((addr, target.to_vec())).or_default();
        if now_ms - st.last_ms > STREAK_RESET_MS {
            st.count = 0;
        }
        st.count = st.count.saturating_add(1);
        st.last_ms = now_ms;
        if delay_ms == 0 || st.count < 2 {
            return None;
        }
        let streak = st.count;
        if let Some(a) = self.by_addr.get_mut(&addr) {
            a.delayed += 1;
        }
        let factor = 1u64 << (streak - 2).min(16);
        Some(Duration::from_millis(
            delay_ms.saturating_mul(factor).min(MAX_DELAY_MS),
        ))
    }

    /// A successful AUTH as `user` from `addr` ends that pair's streak.
    pub fn succeeded(&mut self, addr: IpAddr, user: &[u8]) {
        self.streaks.remove(&(addr, user.to_vec()));
    }

    pub fn reset(&mut self) {
        *self = AuthFailures::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_from_the_second_failure_and_resets() {
        let ip: IpAddr = "10.0.0.1".parse().expect("valid ip");
        let mut f = AuthFailures::default();
        assert_eq!(f.failed(Some("u"), b"u", ip, 1_000, 100), None);
        assert_eq!(
            f.failed(Some("u"), b"u", ip, 1_001, 100),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            f.failed(None, b"u", ip, 1_002, 100),
            Some(Duration::from_millis(200))
        );
        for _ in 0..20 {
            f.failed(None, b"u", ip, 1_003, 100);
        }
        assert_eq!(
            f.failed(None, b"u", ip, 1_004, 100),
            Some(Duration::from_millis(MAX_DELAY_MS))
        );
        f.succeeded(ip, b"u");
        assert_eq!(f.failed(None, b"u", ip, 1_005, 100), None);
        // A minute's quiet ends a streak too.
        assert_eq!(
            f.failed(None, b"u", ip, 1_006, 100),
            Some(Duration::from_millis(100))
        );
        assert_eq!(f.failed(None, b"u", ip, 70_000, 100), None);
        assert_eq!(f.by_user.get("u"), Some(&2));
        assert_eq!(f.total, 27);
        assert_eq!(f.by_addr[&ip].failures, 27);
    }

    #[test]
    fn no_delay_when_off_and_addresses_are_bounded() {
        let mut f = AuthFailures::default();
        for i in 0..(MAX_ADDRS as u32 + 10) {
            let ip = IpAddr::from(i.to_be_bytes());
            assert_eq!(f.failed(None, b"u", ip, i64::from(i), 0), None);
            assert_eq!(f.failed(None, b"u", ip, i64::from(i), 0), None);
        }
        assert_eq!(f.by_addr.len(), MAX_ADDRS);
    }
}
