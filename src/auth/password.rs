//! Password hashing: argon2id with a random salt, stored as a PHC string. Verification reads
//! the parameters from the stored string (so raising the cost later keeps old hashes valid) and
//! compares in constant time (the argon2 crate does). The length policy lives here too.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use super::AuthError;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_LEN: usize = 10;
/// The longest password accepted, in bytes (hashing a megabyte on every try would be a cheap
/// way to load the server).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// How expensive a hash is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashCost {
    /// argon2's recommended defaults (19 MiB, 2 passes, 1 lane): production.
    Default,
    /// The cheapest parameters argon2 allows: for tests and development only, never for real
    /// passwords.
    Low,
}

/// Hashes and verifies passwords.
#[derive(Clone, Debug)]
pub struct PasswordHashing {
    params: Params,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self::new(HashCost::Default)
    }
}

impl PasswordHashing {
    /// A hasher of the given cost.
    pub fn new(cost: HashCost) -> Self {
        let params = match cost {
            HashCost::Default => Params::DEFAULT,
            HashCost::Low => Params::new(Params::MIN_M_COST, Params::MIN_T_COST, 1, None)
                .unwrap_or(Params::DEFAULT),
        };
        Self { params }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a password with a fresh random salt into a PHC string (`$argon2id$v=19$...`).
    pub fn hash(&self, password: &str) -> Result<String, AuthError> {
        let hash = self
            .argon2()
            .hash_password(password.as_bytes())
            .map_err(|e| AuthError::Hash(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// Whether `password` matches the PHC string `hash`. A malformed hash never matches.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        self.argon2()
            .verify_password(password.as_bytes(), hash)
            .is_ok()
    }
}

/// Checks a new password against the policy: at least [`MIN_PASSWORD_LEN`] characters, at most
/// [`MAX_PASSWORD_LEN`] bytes.
pub fn check_strength(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::WeakPassword {
            min: MIN_PASSWORD_LEN,
        });
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AuthError::PasswordTooLong {
            max: MAX_PASSWORD_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trip_accepts_the_password_and_refuses_others() {
        let hashing = PasswordHashing::new(HashCost::Low);
        let hash = hashing.hash("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(hashing.verify("correct horse battery", &hash));
        assert!(!hashing.verify("correct horse batterY", &hash));
        assert!(!hashing.verify("", &hash));
        assert!(!hashing.verify("correct horse battery", "not a phc string"));
        // Same password, new salt.
        assert_ne!(hash, hashing.hash("correct horse battery").unwrap());
    }

    #[test]
    fn verify_uses_the_parameters_stored_in_the_hash() {
        let low = PasswordHashing::new(HashCost::Low);
        let hash = low.hash("correct horse battery").unwrap();
        assert!(PasswordHashing::default().verify("correct horse battery", &hash));
    }

    #[test]
    fn strength_policy_counts_characters() {
        assert!(matches!(
            check_strength("123456789"),
            Err(AuthError::WeakPassword { min: 10 })
        ));
        assert!(check_strength("1234567890").is_ok());
        assert!(check_strength("ééééééééé").is_err()); // 9 characters, 18 bytes
        assert!(check_strength("éééééééééé").is_ok());
        assert!(matches!(
            check_strength(&"x".repeat(MAX_PASSWORD_LEN + 1)),
            Err(AuthError::PasswordTooLong { .. })
        ));
    }
}
