//! First run: while there is no admin, waitless prints a one-time setup code in its log at
//! start; `/setup` takes that code with a name and password, creates the first admin, logs
//! them in, and the code is gone. (`waitless user add NAME --role admin` is the other way.)
//! The code is taken in the same step that checks it, so parallel requests cannot each create
//! an admin; wrong codes are throttled per address like wrong passwords.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use crate::auth::{Auth, Throttle, ThrottleKey};
use crate::domain::Timestamp;

/// The one-time code, while there is no admin. Cloneable; shared by every worker.
#[derive(Clone, Debug, Default)]
pub struct SetupCode {
    code: Arc<Mutex<Option<String>>>,
    /// Wrong codes per address.
    tries: Arc<Mutex<Throttle>>,
}

impl SetupCode {
    /// A fresh code when the database has no admin; none otherwise.
    pub fn for_start(auth: &Auth) -> anyhow::Result<Self> {
        if auth.has_admin()? {
            return Ok(Self::default());
        }
        let mut bytes = [0u8; 5];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot make a setup code: {e}"))?;
        // 8 characters a person can type: digits and letters without look-alikes.
        const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        let mut bits: u64 = bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b));
        let mut code = String::with_capacity(9);
        for i in 0..8 {
            if i == 4 {
                code.push('-');
            }
            code.push(char::from(
                ALPHABET[usize::try_from(bits & 31).unwrap_or(0)],
            ));
            bits >>= 5;
        }
        Ok(Self {
            code: Arc::new(Mutex::new(Some(code))),
            ..Self::default()
        })
    }

    /// The code, while it is valid.
    pub fn code(&self) -> Option<String> {
        self.code
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes the code if `given` is it (case and dashes do not matter; compared by hash), in
    /// one step under the lock: of many requests with the right code at once, exactly one gets
    /// it. The taker spends it by creating the admin, or gives it back with [`Self::give_back`]
    /// if that failed (a weak password), so the operator can try again.
    pub fn take(&self, given: &str) -> Option<String> {
        let normal = |s: &str| {
            Sha256::digest(
                s.chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_uppercase())
                    .collect::<String>()
                    .as_bytes(),
            )
        };
        let mut code = self.code.lock().unwrap_or_else(PoisonError::into_inner);
        if code.as_deref().is_some_and(|c| normal(c) == normal(given)) {
            code.take()
        } else {
            None
        }
    }

    /// Gives back a code [`Self::take`] took, when no admin was created with it.
    pub fn give_back(&self, taken: String) {
        let mut code = self.code.lock().unwrap_or_else(PoisonError::into_inner);
        code.get_or_insert(taken);
    }

    /// How long `client` must wait before trying a code again (`None`: it may try now).
    pub fn throttled(&self, client: IpAddr, now: Timestamp) -> Option<u64> {
        self.throttle()
            .retry_after_secs(&[ThrottleKey::Client(client)], now)
    }

    /// Counts a wrong code from `client`: throttled like a wrong password (after a few, each
    /// further try waits 1 s, 2 s, 4 s ...).
    pub fn failed(&self, client: IpAddr, now: Timestamp) {
        self.throttle().failure(ThrottleKey::Client(client), now);
    }

    fn throttle(&self) -> MutexGuard<'_, Throttle> {
        self.tries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_code(code: &str) -> SetupCode {
        SetupCode {
            code: Arc::new(Mutex::new(Some(code.to_owned()))),
            ..SetupCode::default()
        }
    }

    #[test]
    fn the_code_is_taken_once_and_can_be_given_back() {
        let setup = with_code("ABCD-EFGH");
        assert_eq!(setup.take("wrong"), None);
        let taken = setup.take("abcdefgh").unwrap();
        assert_eq!(setup.take("ABCD-EFGH"), None, "taken: nobody else gets it");
        setup.give_back(taken);
        assert_eq!(setup.take("abcd efgh").as_deref(), Some("ABCD-EFGH"));
        assert_eq!(setup.code(), None);
    }

    #[test]
    fn wrong_codes_are_throttled_per_address() {
        let setup = SetupCode::default();
        let (guesser, other) = (IpAddr::from([10, 0, 0, 9]), IpAddr::from([10, 0, 0, 10]));
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        for _ in 0..5 {
            assert_eq!(setup.throttled(guesser, now), None);
            setup.failed(guesser, now);
        }
        assert_eq!(setup.throttled(guesser, now), Some(1));
        assert_eq!(setup.throttled(other, now), None);
    }
}
