//! The kiosk's rate limit: at most `screens.kiosk_tickets_per_minute` tickets a minute from one
//! address without a login, so a child pressing the kiosk cannot print a roll of tickets.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

/// Recent tickets per address.
#[derive(Debug, Default)]
pub struct IssueLimiter {
    recent: Mutex<HashMap<IpAddr, VecDeque<Timestamp>>>,
}

impl IssueLimiter {
    /// Counts a ticket from `client` at `now` if fewer than `per_minute` were issued from it
    /// in the last minute; `false` (and nothing counted) when it is over. `0`: no limit.
    pub fn allow(&self, client: IpAddr, now: Timestamp, per_minute: u32) -> bool {
        if per_minute == 0 {
            return true;
        }
        let minute_ago = now - SignedDuration::from_secs(60);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget addresses that have been quiet, so the map stays small.
        if recent.len() > 1_000 {
            recent.retain(|_, times| times.back().is_some_and(|t| *t > minute_ago));
        }
        let times = recent.entry(client).or_default();
        while times.front().is_some_and(|t| *t <= minute_ago) {
            times.pop_front();
        }
        if times.len() >= usize::try_from(per_minute).unwrap_or(usize::MAX) {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_per_minute_per_address() {
        let limiter = IssueLimiter::default();
        let kiosk: IpAddr = [10, 0, 0, 5].into();
        let other: IpAddr = [10, 0, 0, 6].into();
        let t0: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        for i in 0..3 {
            assert!(limiter.allow(kiosk, t0 + SignedDuration::from_secs(i), 3));
        }
        assert!(!limiter.allow(kiosk, t0 + SignedDuration::from_secs(10), 3));
        assert!(limiter.allow(other, t0 + SignedDuration::from_secs(10), 3));
        assert!(limiter.allow(kiosk, t0 + SignedDuration::from_secs(61), 3));
        assert!(limiter.allow(kiosk, t0, 0), "0 is no limit");
    }
}
