//! Staff authentication, with no web code: users and their roles, password hashing (argon2id),
//! sessions, API tokens, login throttling, and the authorisation rule ([`Principal::can`]).
//!
//! [`Auth`] is the service the web layer calls: `login` gives a [`SessionToken`] (the cookie),
//! `session` turns a cookie back into a [`Principal`], `verify_token` does the same for an API
//! bearer token. What it owns: the rules (password policy, session lifetimes, throttling).
//! What it does not: HTTP (cookies, headers, status codes live in `web`), and rows on disk
//! ([`crate::store`] keeps users, sessions and tokens in its own tables).
//!
//! Invariants: no password, session id or token secret is ever stored or logged — only an
//! argon2id hash (passwords) or a SHA-256 (session ids, token secrets); a session is valid only
//! while its user exists, is enabled and has not changed password since the login.
//!
//! Every method blocks (disk, and argon2 takes tens of milliseconds on purpose): call it from
//! `spawn_blocking`. Wall time comes from the [`Clock`] given at construction.

mod password;
mod principal;
pub mod screen;
mod session;
mod throttle;
mod user;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use jiff::SignedDuration;

pub use password::{HashCost, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, PasswordHashing, check_strength};
pub use principal::{Need, Principal, PrincipalKind};
pub use session::{
    LAST_SEEN_RESOLUTION, SESSION_IDLE, SESSION_MAX_AGE, SessionRecord, SessionToken, TOKEN_PREFIX,
    TokenRecord, TokenView,
};
pub use throttle::{FORGET_AFTER, FREE_FAILURES, MAX_BACKOFF, Throttle, ThrottleKey, backoff};
pub use user::{MAX_NAME_LEN, Role, User, UserView, validate_name};

use crate::clock::Clock;
use crate::domain::{RoomId, Timestamp};
use crate::store::{Store, StoreError};

/// Why an authentication call failed. Each variant has one stable meaning; [`AuthError::code`]
/// gives the kebab-case code the web layer shows.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong name or password (deliberately the same for both), or an unknown session/token.
    #[error("wrong user name or password")]
    InvalidCredentials,
    /// Too many failed logins (or setup codes) from this address, or for this account from it.
    #[error("too many failed logins: try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next try is allowed.
        retry_after_secs: u64,
    },
    /// The new password is too short.
    #[error("password too short: use at least {min} characters")]
    WeakPassword {
        /// The minimum length, in characters.
        min: usize,
    },
    /// The new password is absurdly long.
    #[error("password too long: use at most {max} bytes")]
    PasswordTooLong {
        /// The maximum length, in bytes.
        max: usize,
    },
    /// A user or token name breaks the naming rule.
    #[error(
        "invalid name {0:?}: use 1–64 lowercase letters, digits, '-', '.' or '_', starting with a letter or digit"
    )]
    InvalidName(String),
    /// A role name that is none of ours.
    #[error("unknown role {0:?}: expected admin, reception, doctor or manager")]
    UnknownRole(String),
    /// No screen is waiting with that pairing code (mistyped, or older than 15 minutes).
    #[error(
        "no screen is waiting with that code: check the code on the screen, or reload it for a new one"
    )]
    PairingCodeUnknown,
    /// The password was right but the user is disabled.
    #[error("this user is disabled: ask an administrator")]
    Disabled,
    /// Hashing failed (not a wrong password: an internal error).
    #[error("cannot hash the password: {0}")]
    Hash(String),
    /// The system's random source failed.
    #[error("cannot make a secret: the system's random source failed: {0}")]
    Random(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// A stable kebab-case code for the error, e.g. `invalid-credentials`.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::InvalidCredentials => "invalid-credentials",
            AuthError::Throttled { .. } => "throttled",
            AuthError::PairingCodeUnknown => "pairing-code-unknown",
            AuthError::WeakPassword { .. } => "weak-password",
            AuthError::PasswordTooLong { .. } => "password-too-long",
            AuthError::InvalidName(_) => "invalid-name",
            AuthError::UnknownRole(_) => "unknown-role",
            AuthError::Disabled => "user-disabled",
            AuthError::Hash(_) | AuthError::Random(_) | AuthError::Store(_) => "internal",
        }
    }
}

/// How [`Auth`] behaves; [`AuthOptions::default`] is production.
#[derive(Clone, Debug)]
pub struct AuthOptions {
    /// Cost of password hashes.
    pub hash_cost: HashCost,
    /// A session ends after this long without a request.
    pub session_idle: SignedDuration,
    /// A session ends this long after login.
    pub session_max_age: SignedDuration,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            hash_cost: HashCost::Default,
            session_idle: SESSION_IDLE,
            session_max_age: SESSION_MAX_AGE,
        }
    }
}

impl AuthOptions {
    /// Production lifetimes with the cheapest hashes: for tests only (integration tests log
    /// in many times; argon2's real cost would make them slow).
    pub fn for_tests() -> Self {
        Self {
            hash_cost: HashCost::Low,
            ..Self::default()
        }
    }
}

/// The authentication service. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Auth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    options: AuthOptions,
    hashing: PasswordHashing,
    throttle: Mutex<Throttle>,
    /// A hash of a password nobody knows, verified against for unknown users so that a login
    /// takes as long whether the user exists or not.
    dummy_hash: OnceLock<String>,
}

impl Auth {
    /// The service with production options.
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>) -> Self {
        Self::with_options(store, clock, AuthOptions::default())
    }

    /// The service with the given options.
    pub fn with_options(store: Arc<Store>, clock: Arc<dyn Clock>, options: AuthOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                hashing: PasswordHashing::new(options.hash_cost),
                options,
                throttle: Mutex::new(Throttle::new()),
                dummy_hash: OnceLock::new(),
            }),
        }
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn throttle(&self) -> MutexGuard<'_, Throttle> {
        // The throttle holds no invariant a panic elsewhere could break half-way.
        self.inner
            .throttle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Prepares a new user for [`crate::domain::StaffOp::AddUser`]: checks the name and the
    /// password's strength and hashes it (slow on purpose: call it off the engine's thread).
    /// Whether the name is taken is decided by the engine.
    pub fn prepare_user(
        &self,
        name: &str,
        password: &str,
        roles: BTreeSet<Role>,
        rooms: Vec<RoomId>,
    ) -> Result<User, AuthError> {
        validate_name(name)?;
        check_strength(password)?;
        let password_hash = self.inner.hashing.hash(password)?;
        let now = self.now();
        Ok(User {
            name: name.to_owned(),
            roles,
            rooms,
            password_hash,
            disabled: false,
            created_at: now,
            password_changed_at: now,
        })
    }

    /// Checks a new password's strength and hashes it, for
    /// [`crate::domain::StaffOp::SetPassword`].
    pub fn hash_password(&self, password: &str) -> Result<String, AuthError> {
        check_strength(password)?;
        self.inner.hashing.hash(password)
    }

    /// A user, as shown.
    pub fn user(&self, name: &str) -> Result<Option<UserView>, AuthError> {
        Ok(self.store().user_get(name)?.map(|u| u.view()))
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<UserView>, AuthError> {
        Ok(self.store().users()?.iter().map(User::view).collect())
    }

    /// Whether an enabled admin exists (if not, the web layer offers first-run setup).
    pub fn has_admin(&self) -> Result<bool, AuthError> {
        Ok(self
            .store()
            .users()?
            .iter()
            .any(|u| !u.disabled && u.roles.contains(&Role::Admin)))
    }

    /// Checks a user's password as a login does (throttled, logged, the same error for a wrong
    /// name and a wrong password) without opening a session: for a user confirming their
    /// current password before changing it.
    pub fn check_password(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<(), AuthError> {
        self.verified(name, password, client).map(|_| ())
    }

    /// The enabled user `name` if `password` is theirs and neither the account from `client`
    /// nor `client` itself is throttled. Failures from one address never throttle another: the
    /// right password from an address without failures always works.
    fn verified(&self, name: &str, password: &str, client: IpAddr) -> Result<User, AuthError> {
        let name = name.trim().to_lowercase();
        // What the logs show of a name typed by anyone: bounded, and Debug-escaped below.
        let shown: String = name.chars().take(MAX_NAME_LEN + 6).collect();
        let keys = [
            // Bounded: no user's name is longer, and a sprayer's names must not fill memory.
            ThrottleKey::Account(name.chars().take(MAX_NAME_LEN + 1).collect(), client),
            ThrottleKey::Client(client),
        ];
        let now = self.now();
        if let Some(retry_after_secs) = self.throttle().retry_after_secs(&keys, now) {
            tracing::warn!(user = ?shown, %client, retry_after_secs, "login refused: throttled");
            return Err(AuthError::Throttled { retry_after_secs });
        }
        let user = match self.store().user_get(&name)? {
            Some(user) if self.inner.hashing.verify(password, &user.password_hash) => user,
            found => {
                if found.is_none() {
                    // Spend the time a real check takes, so timing does not tell who exists.
                    self.inner.hashing.verify(password, self.dummy_hash()?);
                }
                let mut throttle = self.throttle();
                for key in keys {
                    throttle.failure(key, now);
                }
                drop(throttle);
                tracing::warn!(user = ?shown, %client, "login failed");
                return Err(AuthError::InvalidCredentials);
            }
        };
        {
            let mut throttle = self.throttle();
            for key in &keys {
                throttle.success(key);
            }
        }
        if user.disabled {
            tracing::warn!(user = ?shown, %client, "login refused: user disabled");
            return Err(AuthError::Disabled);
        }
        Ok(user)
    }

    /// Logs a user in from `client`: checks the throttle (a throttled try is refused without
    /// looking at the password), then the password, and on success opens a session. A wrong
    /// password and an unknown user give the same error in about the same time.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<(SessionToken, Principal), AuthError> {
        let user = self.verified(name, password, client)?;
        let now = self.now();
        let id = session::random_secret(32)?;
        let csrf = session::random_secret(32)?;
        let record = SessionRecord {
            user: user.name.clone(),
            created_at: now,
            last_seen: now,
            csrf: csrf.clone(),
            client: client.to_string(),
        };
        self.store()
            .session_put(&session::secret_hash(&id), &record)?;
        tracing::info!(user = %user.name, %client, "login");
        let principal = user_principal(&user, csrf.clone());
        Ok((SessionToken::new(id, csrf), principal))
    }

    fn dummy_hash(&self) -> Result<&str, AuthError> {
        if let Some(hash) = self.inner.dummy_hash.get() {
            return Ok(hash);
        }
        let hash = self.inner.hashing.hash(&session::random_secret(24)?)?;
        Ok(self.inner.dummy_hash.get_or_init(|| hash))
    }

    /// The principal of a session id (a cookie's value), or `None` if it is unknown, expired
    /// (idle or too old), or its user is gone, disabled or changed password since. Records the
    /// request time, at most once a [`LAST_SEEN_RESOLUTION`].
    pub fn session(&self, token: &str) -> Option<Principal> {
        match self.session_checked(token) {
            Ok(principal) => principal,
            Err(e) => {
                tracing::error!(error = %e, "cannot check a session");
                None
            }
        }
    }

    fn session_checked(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        let key = session::secret_hash(token);
        let Some(record) = self.store().session_get(&key)? else {
            return Ok(None);
        };
        let now = self.now();
        let options = &self.inner.options;
        let expired = now.duration_since(record.last_seen) > options.session_idle
            || now.duration_since(record.created_at) > options.session_max_age;
        let user = self
            .store()
            .user_get(&record.user)?
            .filter(|u| !u.disabled && u.password_changed_at <= record.created_at);
        let Some(user) = user.filter(|_| !expired) else {
            self.store().session_delete(&key)?;
            return Ok(None);
        };
        if now.duration_since(record.last_seen) >= LAST_SEEN_RESOLUTION
            && !self.store().session_touch(&key, now)?
        {
            return Ok(None); // logged out meanwhile
        }
        Ok(Some(user_principal(&user, record.csrf)))
    }

    /// Ends a session (no error if it was already gone).
    pub fn logout(&self, token: &str) -> Result<(), AuthError> {
        self.store().session_delete(&session::secret_hash(token))?;
        Ok(())
    }

    /// Ends every session of a user.
    pub fn revoke_sessions(&self, name: &str) -> Result<usize, AuthError> {
        Ok(self.store().sessions_delete_for_user(name)?)
    }

    /// Prepares an API token for [`crate::domain::StaffOp::CreateToken`]: its secret (`wl_...`,
    /// shown once, never stored) and the record the engine stores.
    pub fn prepare_token(
        &self,
        name: &str,
        role: Role,
    ) -> Result<(String, TokenRecord), AuthError> {
        validate_name(name)?;
        let secret = format!("{TOKEN_PREFIX}{}", session::random_secret(32)?);
        let record = TokenRecord {
            id: session::random_secret(9)?,
            name: name.to_owned(),
            role,
            secret_hash: session::secret_hash(&secret),
            created_at: self.now(),
            last_used: None,
        };
        Ok((secret, record))
    }

    /// Every API token, as shown.
    pub fn tokens(&self) -> Result<Vec<TokenView>, AuthError> {
        Ok(self
            .store()
            .tokens()?
            .iter()
            .map(TokenRecord::view)
            .collect())
    }

    /// The principal of a bearer token (the `wl_...` secret), or `None` if it is not a live
    /// token. Records the use, at most once a [`LAST_SEEN_RESOLUTION`].
    pub fn verify_token(&self, bearer: &str) -> Option<Principal> {
        match self.verify_token_checked(bearer) {
            Ok(principal) => principal,
            Err(e) => {
                tracing::error!(error = %e, "cannot check an API token");
                None
            }
        }
    }

    fn verify_token_checked(&self, bearer: &str) -> Result<Option<Principal>, AuthError> {
        if !bearer.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = session::secret_hash(bearer);
        let Some(record) = self
            .store()
            .tokens()?
            .into_iter()
            .find(|t| session::same(&t.secret_hash, &hash))
        else {
            return Ok(None);
        };
        let now = self.now();
        if record
            .last_used
            .is_none_or(|at| now.duration_since(at) >= LAST_SEEN_RESOLUTION)
            && !self.store().token_touch(&record.id, now)?
        {
            return Ok(None); // revoked meanwhile
        }
        Ok(Some(Principal {
            kind: PrincipalKind::Token {
                id: record.id,
                name: record.name,
            },
            roles: BTreeSet::from([record.role]),
            rooms: Vec::new(),
            csrf: None,
        }))
    }
}

fn user_principal(user: &User, csrf: String) -> Principal {
    Principal {
        kind: PrincipalKind::User {
            name: user.name.clone(),
        },
        roles: user.roles.clone(),
        rooms: user.rooms.clone(),
        csrf: Some(csrf),
    }
}

#[cfg(test)]
mod tests;
