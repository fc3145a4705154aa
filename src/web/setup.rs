//! First run: while there is no admin, waitless prints a one-time setup code in its log at
//! start; `/setup` takes that code with a name and password, creates the first admin, logs
//! them in, and the code is gone. (`waitless user add NAME --role admin` is the other way.)

use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use crate::auth::Auth;

/// The one-time code, while there is no admin. Cloneable; shared by every worker.
#[derive(Clone, Debug, Default)]
pub struct SetupCode {
    code: Arc<Mutex<Option<String>>>,
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
        })
    }

    /// The code, while it is valid.
    pub fn code(&self) -> Option<String> {
        self.code
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `given` is the code (case and dashes do not matter); compared by hash.
    pub fn matches(&self, given: &str) -> bool {
        let normal = |s: &str| {
            Sha256::digest(
                s.chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_uppercase())
                    .collect::<String>()
                    .as_bytes(),
            )
        };
        self.code()
            .is_some_and(|code| normal(&code) == normal(given))
    }

    pub fn spend(&self) {
        *self.code.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
