//! Staff sessions and API tokens as stored, and the secrets that name them. A session id and a
//! token secret are 32 random bytes shown to their holder once; the store keeps only their
//! SHA-256, so a copy of the database does not let anyone in.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{AuthError, Role};
use crate::domain::Timestamp;

/// A session ends after this long without a request.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(12);
/// A session ends this long after login, however busy.
pub const SESSION_MAX_AGE: SignedDuration = SignedDuration::from_hours(7 * 24);
/// `last_seen` (of a session) and `last_used` (of a token) are written at most this often, so
/// a busy page does not cost a disk write per request.
pub const LAST_SEEN_RESOLUTION: SignedDuration = SignedDuration::from_secs(60);
/// The prefix of every API token, so a leaked one is easy to recognise (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "wl_";

pub use crate::domain::staff::SessionRecord;

/// What a login hands the browser: the session id (the cookie's value) and its CSRF token.
/// `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    id: String,
    csrf: String,
}

impl SessionToken {
    pub(super) fn new(id: String, csrf: String) -> Self {
        Self { id, csrf }
    }

    /// The session id: the cookie's value, and the argument of [`super::Auth::session`].
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The CSRF token for this session's forms.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

pub use crate::domain::TokenRecord;

impl TokenRecord {
    /// The token as shown.
    pub fn view(&self) -> TokenView {
        TokenView {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
            created_at: self.created_at,
            last_used: self.last_used,
        }
    }
}

/// An API token as shown: never its secret nor its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// Public id (used to revoke).
    pub id: String,
    /// What the token is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was made.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it was last accepted.
    #[schema(value_type = Option<String>)]
    pub last_used: Option<Timestamp>,
}

/// `n` random bytes from the system, base64url without padding.
pub(super) fn random_secret(n: usize) -> Result<String, AuthError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(&bytes))
}

/// SHA-256 of a secret, base64url without padding: the key it is stored under.
pub(super) fn secret_hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two strings (of hashes, whose length is public).
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
