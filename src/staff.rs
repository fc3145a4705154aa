//! Staff changes and their record in the audit trail: the one place where a change to users or
//! API tokens is paired with the [`StaffChange`] event that records it.
//!
//! What it owns: the pairs "make the change through [`Auth`], then say what to record"
//! ([`add_user`], [`set_password`], [`set_disabled`], [`set_roles`], [`set_rooms`],
//! [`create_token`], [`revoke_token`]); the operator's requests as data ([`StaffRequest`], what
//! `waitless user|token|audit` asks for, and [`StaffAnswer`]); and the two ways to carry one out
//! and record it: [`perform_online`] (inside the running server, recording through the engine)
//! and [`perform_offline`] (the command line on a stopped server, recording with
//! [`crate::engine::execute_offline`]). The admin socket ([`crate::control`]) and the command
//! line call these; the admin web API calls the pair functions and [`record`].
//!
//! What it does not own: the rules of accounts (passwords, names, sessions live in
//! [`crate::auth`]), the socket and its framing ([`crate::control`]), printing answers (the
//! binary's `admin` module).
//!
//! Invariant: the change is made first and recorded after it succeeded, so the audit trail never
//! shows a change that did not happen; a change whose record fails is reported as
//! [`StaffError::NotRecorded`]. No password or token secret is ever put in a [`StaffChange`],
//! logged, or shown by `Debug` ([`Secret`]).
//!
//! The pair functions block (disk, argon2): call them from `spawn_blocking` in async code.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::{Auth, AuthError, Role, TokenView, UserView};
use crate::clock::Clock;
use crate::domain::{ClinicCalendar, Command, Origin, Policy, RoomId, Source, StaffChange};
use crate::engine::{EngineError, EngineHandle, execute_offline};
use crate::store::Store;

/// A password or token secret: serialised as the plain string, but `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Why a staff request failed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// The change itself was refused or failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The change was made but its event could not be written.
    #[error(
        "the change was made, but it could not be recorded in the audit trail: {0} — check the \
         log and the disk"
    )]
    NotRecorded(EngineError),
    /// A blocking task failed (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

impl StaffError {
    /// A stable kebab-case code, e.g. `user-exists`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Auth(e) => e.code(),
            Self::NotRecorded(_) => "not-recorded",
            Self::Internal(_) => "internal",
        }
    }
}

fn role_names(roles: &BTreeSet<Role>) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

/// Adds a user; returns them and the change to record.
pub fn add_user(
    auth: &Auth,
    name: &str,
    password: &str,
    roles: BTreeSet<Role>,
    rooms: Vec<RoomId>,
) -> Result<(UserView, StaffChange), AuthError> {
    let user = auth.add_user(name, password, roles, rooms)?;
    let change = StaffChange::UserAdded {
        user: user.name.clone(),
        roles: role_names(&user.roles),
        rooms: user.rooms.clone(),
    };
    Ok((user, change))
}

/// Sets a user's password (ending their sessions); returns them and the change to record.
pub fn set_password(
    auth: &Auth,
    name: &str,
    password: &str,
) -> Result<(UserView, StaffChange), AuthError> {
    let user = auth.set_password(name, password)?;
    let change = StaffChange::PasswordSet {
        user: user.name.clone(),
    };
    Ok((user, change))
}

/// Disables (ending their sessions) or enables a user; returns them and the change to record.
pub fn set_disabled(
    auth: &Auth,
    name: &str,
    disabled: bool,
) -> Result<(UserView, StaffChange), AuthError> {
    let user = auth.set_disabled(name, disabled)?;
    let change = StaffChange::UserDisabled {
        user: user.name.clone(),
        disabled,
    };
    Ok((user, change))
}

/// Replaces a user's roles; returns them and the change to record.
pub fn set_roles(
    auth: &Auth,
    name: &str,
    roles: BTreeSet<Role>,
) -> Result<(UserView, StaffChange), AuthError> {
    let user = auth.set_roles(name, roles)?;
    let change = StaffChange::RolesSet {
        user: user.name.clone(),
        roles: role_names(&user.roles),
    };
    Ok((user, change))
}

/// Replaces a doctor's rooms; returns them and the change to record.
pub fn set_rooms(
    auth: &Auth,
    name: &str,
    rooms: Vec<RoomId>,
) -> Result<(UserView, StaffChange), AuthError> {
    let user = auth.set_rooms(name, rooms)?;
    let change = StaffChange::RoomsSet {
        user: user.name.clone(),
        rooms: user.rooms.clone(),
    };
    Ok((user, change))
}

/// Makes an API token; returns its secret (show it once), its view and the change to record.
pub fn create_token(
    auth: &Auth,
    name: &str,
    role: Role,
) -> Result<(Secret, TokenView, StaffChange), AuthError> {
    let (secret, token) = auth.create_token(name, role)?;
    let change = StaffChange::TokenCreated {
        token: token.name.clone(),
        role: token.role.as_str().to_owned(),
    };
    Ok((Secret(secret), token, change))
}

/// Revokes an API token by id; returns what it was and the change to record.
pub fn revoke_token(auth: &Auth, id: &str) -> Result<(TokenView, StaffChange), AuthError> {
    let token = auth
        .tokens()?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| AuthError::TokenNotFound(id.chars().take(64).collect()))?;
    auth.revoke_token(&token.id)?;
    let change = StaffChange::TokenRevoked {
        token: token.name.clone(),
    };
    Ok((token, change))
}

/// Records a change in the audit trail through the running engine.
pub async fn record(
    engine: &EngineHandle,
    change: StaffChange,
    origin: Origin,
) -> Result<(), StaffError> {
    engine
        .execute(Command::RecordStaffChange { change }, origin)
        .await
        .map(|_| ())
        .map_err(StaffError::NotRecorded)
}

/// What the database needs to record an event without a running engine.
#[derive(Clone, Copy)]
pub struct Offline<'a> {
    /// The database (opened by this process).
    pub store: &'a Store,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The clinic calendar (`Config::calendar`).
    pub calendar: &'a ClinicCalendar,
    /// The queue's rules (`Config::policy`).
    pub policy: &'a Policy,
}

impl fmt::Debug for Offline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offline")
            .field("store", &self.store.path())
            .finish_non_exhaustive()
    }
}

/// Records a change in the audit trail directly in the database (server stopped).
pub fn record_offline(
    offline: Offline<'_>,
    change: StaffChange,
    origin: &Origin,
) -> Result<(), StaffError> {
    execute_offline(
        offline.store,
        offline.clock,
        offline.calendar,
        offline.policy,
        &Command::RecordStaffChange { change },
        origin,
    )
    .map(|_| ())
    .map_err(StaffError::NotRecorded)
}

/// What the operator asks for: one `waitless user|token|audit` command. It is also the request
/// the admin socket carries (one JSON object, `"op"` names it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum StaffRequest {
    /// `waitless user add NAME --role R [--room ROOM]`
    UserAdd {
        /// Login name.
        name: String,
        /// Password.
        password: Secret,
        /// Roles.
        roles: BTreeSet<Role>,
        /// A doctor's rooms.
        #[serde(default)]
        rooms: Vec<RoomId>,
    },
    /// `waitless user list`
    UserList,
    /// `waitless user passwd NAME`
    UserPasswd {
        /// Login name.
        name: String,
        /// The new password.
        password: Secret,
    },
    /// `waitless user disable NAME` / `waitless user enable NAME`
    UserSetDisabled {
        /// Login name.
        name: String,
        /// Disable (true) or enable (false).
        disabled: bool,
    },
    /// `waitless token create --name N --role R`
    TokenCreate {
        /// What it is for.
        name: String,
        /// Its role.
        role: Role,
    },
    /// `waitless token list`
    TokenList,
    /// `waitless token revoke ID`
    TokenRevoke {
        /// The token's public id.
        id: String,
    },
    /// `waitless audit verify`
    AuditVerify,
}

impl StaffRequest {
    /// The value of `"op"` of every request (the socket tells an unknown op from a bad one).
    pub const OPS: [&'static str; 8] = [
        "user_add",
        "user_list",
        "user_passwd",
        "user_set_disabled",
        "token_create",
        "token_list",
        "token_revoke",
        "audit_verify",
    ];
}

/// What a [`StaffRequest`] gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum StaffAnswer {
    /// A user after a change (add, passwd, enable, disable).
    User {
        /// The user as they are now.
        user: UserView,
    },
    /// Every user.
    Users {
        /// By name.
        users: Vec<UserView>,
    },
    /// A token was made: its secret, shown once.
    TokenCreated {
        /// The bearer secret (`wl_...`).
        secret: Secret,
        /// The token.
        token: TokenView,
    },
    /// Every token (never a secret).
    Tokens {
        /// The tokens.
        tokens: Vec<TokenView>,
    },
    /// A token was revoked.
    TokenRevoked {
        /// What it was.
        token: TokenView,
    },
    /// The audit trail's hash chain was checked.
    Audit {
        /// Whether the chain is intact.
        intact: bool,
        /// The report, as `waitless audit verify` prints it.
        report: String,
    },
}

/// Carries out a request through `auth` (and `store` for the audit check). Returns the answer
/// and, for a change, what to record. Blocks.
pub fn perform(
    auth: &Auth,
    store: &Store,
    request: StaffRequest,
) -> Result<(StaffAnswer, Option<StaffChange>), AuthError> {
    let user = |(user, change): (UserView, StaffChange)| (StaffAnswer::User { user }, Some(change));
    Ok(match request {
        StaffRequest::UserAdd {
            name,
            password,
            roles,
            rooms,
        } => user(add_user(auth, &name, &password.0, roles, rooms)?),
        StaffRequest::UserList => (
            StaffAnswer::Users {
                users: auth.users()?,
            },
            None,
        ),
        StaffRequest::UserPasswd { name, password } => {
            user(set_password(auth, &name, &password.0)?)
        }
        StaffRequest::UserSetDisabled { name, disabled } => {
            user(set_disabled(auth, &name, disabled)?)
        }
        StaffRequest::TokenCreate { name, role } => {
            let (secret, token, change) = create_token(auth, &name, role)?;
            (StaffAnswer::TokenCreated { secret, token }, Some(change))
        }
        StaffRequest::TokenList => (
            StaffAnswer::Tokens {
                tokens: auth.tokens()?,
            },
            None,
        ),
        StaffRequest::TokenRevoke { id } => {
            let (token, change) = revoke_token(auth, &id)?;
            (StaffAnswer::TokenRevoked { token }, Some(change))
        }
        StaffRequest::AuditVerify => {
            let report = store.verify_chain()?;
            (
                StaffAnswer::Audit {
                    intact: report.is_ok(),
                    report: report.to_string(),
                },
                None,
            )
        }
    })
}

/// Carries out a request in the running server and records its change through the engine, as
/// `origin`.
pub async fn perform_online(
    auth: &Auth,
    store: &Arc<Store>,
    engine: &EngineHandle,
    request: StaffRequest,
    origin: Origin,
) -> Result<StaffAnswer, StaffError> {
    let (auth, store) = (auth.clone(), Arc::clone(store));
    let (answer, change) = tokio::task::spawn_blocking(move || perform(&auth, &store, request))
        .await
        .map_err(|e| StaffError::Internal(e.to_string()))??;
    if let Some(change) = change {
        record(engine, change, origin).await?;
    }
    Ok(answer)
}

/// Carries out a request on a database this process opened (server stopped) and records its
/// change there, as `origin`. Blocks.
pub fn perform_offline(
    auth: &Auth,
    offline: Offline<'_>,
    request: StaffRequest,
    origin: &Origin,
) -> Result<StaffAnswer, StaffError> {
    let (answer, change) = perform(auth, offline.store, request)?;
    if let Some(change) = change {
        record_offline(offline, change, origin)?;
    }
    Ok(answer)
}

/// The origin of a change made on the command line by the Unix user `uid`: source
/// [`Source::Cli`], actor `cli:<user name>` (or `cli:<uid>` when the name is unknown). Reads the
/// user database: blocks.
pub fn cli_origin(uid: u32) -> Origin {
    Origin::new(Source::Cli, format!("cli:{}", unix_user_name(uid)))
}

/// The name of Unix user `uid`, or the number when it has no (usable) name.
pub fn unix_user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user))
            if !user.name.is_empty()
                && user.name.len() <= 32
                && user.name.chars().all(|c| c.is_ascii_graphic()) =>
        {
            user.name
        }
        _ => uid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::EventKind;
    use crate::store::StoreOptions;

    fn setup() -> (tempfile::TempDir, Arc<Store>, ManualClock, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(
                &dir.path().join("w.redb"),
                &StoreOptions {
                    fsync: false,
                    cache_bytes: 1 << 20,
                },
            )
            .unwrap(),
        );
        let clock = ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        let auth = Auth::with_options(
            Arc::clone(&store),
            Arc::new(clock.clone()),
            crate::auth::AuthOptions::for_tests(),
        );
        (dir, store, clock, auth)
    }

    #[test]
    fn offline_requests_change_auth_and_record_each_change() {
        let (_dir, store, clock, auth) = setup();
        let calendar = crate::config::Config::default().calendar().unwrap();
        let policy = crate::config::Config::default().policy();
        let offline = Offline {
            store: &store,
            clock: &clock,
            calendar: &calendar,
            policy: &policy,
        };
        let origin = Origin::new(Source::Cli, "cli:root");
        let answer = perform_offline(
            &auth,
            offline,
            StaffRequest::UserAdd {
                name: "anita".to_owned(),
                password: Secret("a-long-enough-password".to_owned()),
                roles: BTreeSet::from([Role::Admin]),
                rooms: Vec::new(),
            },
            &origin,
        )
        .unwrap();
        assert!(matches!(answer, StaffAnswer::User { ref user } if user.name == "anita"));
        let created = perform_offline(
            &auth,
            offline,
            StaffRequest::TokenCreate {
                name: "his-bridge".to_owned(),
                role: Role::Reception,
            },
            &origin,
        )
        .unwrap();
        let StaffAnswer::TokenCreated { token, .. } = created else {
            panic!("{created:?}")
        };
        perform_offline(
            &auth,
            offline,
            StaffRequest::TokenRevoke { id: token.id },
            &origin,
        )
        .unwrap();
        // A refused change records nothing.
        let err = perform_offline(
            &auth,
            offline,
            StaffRequest::UserSetDisabled {
                name: "nobody".to_owned(),
                disabled: true,
            },
            &origin,
        )
        .unwrap_err();
        assert_eq!(err.code(), "user-not-found");

        let changes: Vec<_> = store
            .events_after(0, 100)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::StaffChanged { change } => Some((change, e.source, e.actor)),
                _ => None,
            })
            .collect();
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(matches!(&changes[0].0, StaffChange::UserAdded { user, .. } if user == "anita"));
        assert_eq!(
            changes[2].0,
            StaffChange::TokenRevoked {
                token: "his-bridge".to_owned()
            }
        );
        assert!(
            changes
                .iter()
                .all(|(_, source, actor)| *source == Source::Cli && actor == "cli:root")
        );
        let audit = perform(&auth, &store, StaffRequest::AuditVerify).unwrap().0;
        assert!(matches!(audit, StaffAnswer::Audit { intact: true, .. }));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let request = StaffRequest::UserPasswd {
            name: "anita".to_owned(),
            password: Secret("hunter2-hunter2".to_owned()),
        };
        assert!(!format!("{request:?}").contains("hunter2"));
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["password"], "hunter2-hunter2");
        assert_eq!(json["op"], "user_passwd");
    }

    #[test]
    fn ops_lists_every_request() {
        let requests = [
            StaffRequest::UserAdd {
                name: "a".to_owned(),
                password: Secret(String::new()),
                roles: BTreeSet::new(),
                rooms: Vec::new(),
            },
            StaffRequest::UserList,
            StaffRequest::UserPasswd {
                name: "a".to_owned(),
                password: Secret(String::new()),
            },
            StaffRequest::UserSetDisabled {
                name: "a".to_owned(),
                disabled: true,
            },
            StaffRequest::TokenCreate {
                name: "a".to_owned(),
                role: Role::Doctor,
            },
            StaffRequest::TokenList,
            StaffRequest::TokenRevoke { id: "x".to_owned() },
            StaffRequest::AuditVerify,
        ];
        let ops: Vec<String> = requests
            .iter()
            .map(|r| {
                serde_json::to_value(r).unwrap()["op"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ops, StaffRequest::OPS);
    }

    #[test]
    fn unknown_uids_are_shown_as_numbers() {
        assert_eq!(unix_user_name(0), "root");
        assert_eq!(unix_user_name(4_000_000_000), "4000000000");
    }
}
