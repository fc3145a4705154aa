//! Login throttling, pure: time is a parameter. Failures are counted per key (an account name
//! from one client address and, separately, a client address; a setup code's tries per
//! address). After [`FREE_FAILURES`] failures in a row each further
//! failure locks the key out for an exponentially growing time: 1 s, 2 s, 4 s ... capped at
//! [`MAX_BACKOFF`]. A success resets the key; a key with no failure for [`FORGET_AFTER`] starts
//! afresh. Held in memory only: a restart forgets, which costs an attacker a reboot of the
//! appliance per few guesses.

use std::collections::HashMap;
use std::net::IpAddr;

use jiff::SignedDuration;

use crate::domain::Timestamp;

/// Failures in a row that lock nothing: the next one (the fifth) locks for 1 s.
pub const FREE_FAILURES: u32 = 4;
/// The longest lock-out.
pub const MAX_BACKOFF: SignedDuration = SignedDuration::from_secs(15 * 60);
/// A key with no failure for this long is forgotten.
pub const FORGET_AFTER: SignedDuration = SignedDuration::from_secs(60 * 60);
/// Past this many keys, forgotten ones are pruned (bounds memory under a spray of addresses).
const PRUNE_ABOVE: usize = 10_000;

/// What failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A login name, tried from one address: guesses at an account from one place. Never the
    /// name alone, so failures elsewhere cannot lock the account's owner out.
    Account(String, IpAddr),
    /// A client's address (every name it tries).
    Client(IpAddr),
}

#[derive(Clone, Debug)]
struct Entry {
    failures: u32,
    last_failure: Timestamp,
    locked_until: Timestamp,
}

/// Failure counts and lock-outs.
#[derive(Debug, Default)]
pub struct Throttle {
    entries: HashMap<ThrottleKey, Entry>,
}

/// The lock-out after the `failures`-th failure in a row (`None`: no lock-out yet).
pub fn backoff(failures: u32) -> Option<SignedDuration> {
    let over = failures.checked_sub(FREE_FAILURES + 1)?;
    let secs = 1i64.checked_shl(over.min(30)).unwrap_or(i64::MAX);
    Some(SignedDuration::from_secs(secs).min(MAX_BACKOFF))
}

impl Throttle {
    /// No failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long `key` is still locked out at `now` (`None`: it may try).
    pub fn locked_for(&self, key: &ThrottleKey, now: Timestamp) -> Option<SignedDuration> {
        let entry = self.entries.get(key)?;
        let left = entry.locked_until.duration_since(now);
        left.is_positive().then_some(left)
    }

    /// The longest lock-out of any of `keys`, in whole seconds rounded up (`None`: none).
    pub fn retry_after_secs(&self, keys: &[ThrottleKey], now: Timestamp) -> Option<u64> {
        keys.iter()
            .filter_map(|k| self.locked_for(k, now))
            .max()
            .map(|d| {
                let secs = d.as_secs() + i64::from(d.subsec_nanos() > 0);
                u64::try_from(secs).unwrap_or(1).max(1)
            })
    }

    /// Counts a failure of `key` at `now`.
    pub fn failure(&mut self, key: ThrottleKey, now: Timestamp) {
        if self.entries.len() > PRUNE_ABOVE {
            self.prune(now);
        }
        let entry = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: now,
        });
        if now.duration_since(entry.last_failure) > FORGET_AFTER {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        entry.locked_until = match backoff(entry.failures) {
            Some(d) => now.checked_add(d).unwrap_or(now),
            None => now,
        };
    }

    /// A success resets `key`.
    pub fn success(&mut self, key: &ThrottleKey) {
        self.entries.remove(key);
    }

    /// The failures in a row counted for `key`.
    pub fn failures(&self, key: &ThrottleKey) -> u32 {
        self.entries.get(key).map_or(0, |e| e.failures)
    }

    fn prune(&mut self, now: Timestamp) {
        self.entries.retain(|_, e| {
            now.duration_since(e.last_failure) <= FORGET_AFTER || e.locked_until > now
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn client_ip() -> IpAddr {
        IpAddr::from([10, 0, 0, 9])
    }

    fn secs(s: i64) -> SignedDuration {
        SignedDuration::from_secs(s)
    }

    #[test]
    fn backoff_starts_after_five_failures_doubles_and_caps_at_fifteen_minutes() {
        let seq: Vec<_> = (1..=16).map(|n| backoff(n).map(|d| d.as_secs())).collect();
        assert_eq!(
            seq,
            [
                None,
                None,
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(64),
                Some(128),
                Some(256),
                Some(512),
                Some(900),
                Some(900)
            ]
        );
        assert_eq!(backoff(u32::MAX), Some(MAX_BACKOFF));
    }

    #[test]
    fn lock_out_follows_failures_and_expires() {
        let mut throttle = Throttle::new();
        let key = ThrottleKey::Account("anita".into(), client_ip());
        let keys = [key.clone()];
        let mut now = t0();
        for _ in 0..4 {
            throttle.failure(key.clone(), now);
            assert_eq!(throttle.retry_after_secs(&keys, now), None);
        }
        throttle.failure(key.clone(), now);
        assert_eq!(throttle.retry_after_secs(&keys, now), Some(1));
        now = now.checked_add(secs(1)).unwrap();
        assert_eq!(throttle.retry_after_secs(&keys, now), None);
        throttle.failure(key.clone(), now);
        assert_eq!(throttle.retry_after_secs(&keys, now), Some(2));
        now = now.checked_add(SignedDuration::from_millis(500)).unwrap();
        assert_eq!(throttle.retry_after_secs(&keys, now), Some(2)); // 1.5 s rounds up
        now = now.checked_add(secs(2)).unwrap();
        throttle.failure(key.clone(), now);
        assert_eq!(throttle.retry_after_secs(&keys, now), Some(4));
    }

    #[test]
    fn success_resets_and_other_keys_are_independent() {
        let mut throttle = Throttle::new();
        let anita = ThrottleKey::Account("anita".into(), client_ip());
        let client = ThrottleKey::Client("10.0.0.7".parse().unwrap());
        for _ in 0..6 {
            throttle.failure(anita.clone(), t0());
        }
        throttle.failure(client.clone(), t0());
        assert_eq!(
            throttle.retry_after_secs(&[client.clone(), anita.clone()], t0()),
            Some(2)
        );
        assert_eq!(
            throttle.retry_after_secs(std::slice::from_ref(&client), t0()),
            None
        );
        throttle.success(&anita);
        assert_eq!(throttle.failures(&anita), 0);
        assert_eq!(
            throttle.retry_after_secs(std::slice::from_ref(&anita), t0()),
            None
        );
        assert_eq!(throttle.failures(&client), 1);
    }

    #[test]
    fn failures_are_forgotten_after_an_hour_of_quiet() {
        let mut throttle = Throttle::new();
        let key = ThrottleKey::Account("anita".into(), client_ip());
        for _ in 0..4 {
            throttle.failure(key.clone(), t0());
        }
        let later = t0().checked_add(FORGET_AFTER + secs(1)).unwrap();
        throttle.failure(key.clone(), later);
        assert_eq!(throttle.failures(&key), 1);
        assert_eq!(throttle.retry_after_secs(&[key], later), None);
    }
}
