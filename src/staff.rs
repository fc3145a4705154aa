//! The operator's staff requests: what `waitless user|token|audit` asks for, as data
//! ([`StaffRequest`], also what the admin socket carries, and [`StaffAnswer`]), and the two
//! ways to carry one out: [`perform_online`] (inside the running server, through the engine)
//! and [`perform_offline`] (the command line on a stopped server, with
//! [`crate::engine::execute_offline`]). The admin socket ([`crate::control`]) and the command
//! line call these.
//!
//! A request is carried out in three steps: [`prepare`] checks it and makes what is slow or
//! secret (a password hash, a token secret) off the engine's thread; the engine commits the
//! [`StaffOp`] and its `staff_changed` event in one transaction (so the audit trail never
//! shows a change that did not happen, nor misses one that did); [`finish`] reads the answer.
//!
//! What it does not own: the rules of accounts (names and passwords in [`crate::auth`], who
//! exists and the last admin in [`crate::domain::Directory`]), the socket and its framing
//! ([`crate::control`]), printing answers ([`crate::cli::operator`]). No password or token
//! secret is ever put in an event, logged, or shown by `Debug` ([`Secret`]).

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::auth::{Auth, AuthError, Role, TokenView, UserView};
use crate::clock::Clock;
use crate::domain::{
    ClinicCalendar, Command, DomainError, Origin, Policy, RoomId, Source, StaffOp,
};
use crate::engine::{EngineError, EngineHandle, execute_offline};
use crate::store::{BackupError, BackupReport, Store, StoreError};

/// A password or token secret: serialised as the plain string, but `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Why a staff request failed. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// A name or password was refused, or hashing failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The engine refused the change (no such user, the last admin) or could not commit it.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A read of the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A backup or an export failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// A request only the running server carries out (a test message needs its senders).
    #[error("{0} needs the running server")]
    NeedsServer(&'static str),
    /// A blocking task failed (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DomainError> for StaffError {
    fn from(e: DomainError) -> Self {
        Self::Engine(EngineError::Domain(e))
    }
}

impl StaffError {
    /// A stable kebab-case code, e.g. `user-exists`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Auth(e) => e.code(),
            Self::Engine(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Backup(e) => e.code(),
            Self::NeedsServer(_) => "needs-server",
            Self::Internal(_) => "internal",
        }
    }
}

/// The origin of a change made on the command line by the Unix user `uid`: source
/// [`Source::Cli`], actor `cli:<user name>` (or `cli:<uid>` when the name is unknown). Reads the
/// user database: blocks.
pub fn cli_origin(uid: u32) -> Origin {
    Origin::new(Source::Cli, format!("cli:{}", unix_user_name(uid)))
}

/// What the database needs to execute a command without a running engine.
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
    /// `waitless backup FILE`: the server writes a verified copy of the database into its
    /// data folder (the one folder the hardened service may write) and answers where; the
    /// command line moves it to FILE.
    Backup,
    /// `waitless export --from --to [--out FILE]`: the server writes the visits of clinic days
    /// `from..=to` as CSV into its data folder and answers where; the command line moves the
    /// file to FILE or prints it.
    Export {
        /// The first clinic day.
        from: Date,
        /// The last clinic day.
        to: Date,
        /// The time zone of the times (IANA name; empty: the system's).
        timezone: String,
    },
    /// `waitless notify-test --to ...`: the running server sends a test message through its
    /// sender (the admin socket carries it out; with the server stopped, the command line sends
    /// it itself).
    NotifyTest {
        /// Channel, recipient, language.
        test: crate::notify::build::TestRequest,
    },
}

impl StaffRequest {
    /// The value of `"op"` of every request (the socket tells an unknown op from a bad one).
    pub const OPS: [&'static str; 11] = [
        "user_add",
        "user_list",
        "user_passwd",
        "user_set_disabled",
        "token_create",
        "token_list",
        "token_revoke",
        "audit_verify",
        "backup",
        "export",
        "notify_test",
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
    /// A backup was written and verified.
    Backup {
        /// What was written.
        report: BackupReport,
    },
    /// Visits were exported.
    Export {
        /// How many rows (visits).
        visits: u64,
        /// The CSV file, in the data folder.
        file: PathBuf,
    },
    /// A test message was sent.
    NotifySent {
        /// The carrier's or gateway's reference, when it gave one.
        reference: Option<String>,
        /// What sent it.
        transport: String,
    },
}

/// A request, checked and made ready: answered already (a read), or a change for the engine
/// and how to answer once it is committed.
#[derive(Debug)]
pub enum Prepared {
    /// A read: the answer.
    Answer(StaffAnswer),
    /// A change: the op to commit, then the answer.
    Change(StaffOp, Then),
}

/// How to answer a committed change.
#[derive(Debug)]
pub enum Then {
    /// With the user as they are now.
    User(String),
    /// With the new token and its secret.
    TokenCreated(Secret, TokenView),
    /// With the revoked token.
    TokenRevoked(TokenView),
}

/// Checks a request and makes what it needs (password hashes, token secrets); reads are
/// answered at once. Blocks (disk, argon2).
pub fn prepare(auth: &Auth, store: &Store, request: StaffRequest) -> Result<Prepared, StaffError> {
    let change = |op, then| Ok(Prepared::Change(op, then));
    match request {
        StaffRequest::UserAdd {
            name,
            password,
            roles,
            rooms,
        } => {
            let user = auth.prepare_user(&name, &password.0, roles, rooms)?;
            change(StaffOp::AddUser { user }, Then::User(name))
        }
        StaffRequest::UserList => Ok(Prepared::Answer(StaffAnswer::Users {
            users: auth.users()?,
        })),
        StaffRequest::UserPasswd { name, password } => {
            let password_hash = auth.hash_password(&password.0)?;
            let op = StaffOp::SetPassword {
                user: name.clone(),
                password_hash,
            };
            change(op, Then::User(name))
        }
        StaffRequest::UserSetDisabled { name, disabled } => {
            // The operator's command line is the rescue path: it may disable the last admin.
            let op = StaffOp::SetDisabled {
                user: name.clone(),
                disabled,
                keep_an_admin: false,
            };
            change(op, Then::User(name))
        }
        StaffRequest::TokenCreate { name, role } => {
            let (secret, token) = auth.prepare_token(&name, role)?;
            let view = token.view();
            change(
                StaffOp::CreateToken { token },
                Then::TokenCreated(Secret(secret), view),
            )
        }
        StaffRequest::TokenList => Ok(Prepared::Answer(StaffAnswer::Tokens {
            tokens: auth.tokens()?,
        })),
        StaffRequest::TokenRevoke { id } => {
            let token = auth
                .tokens()?
                .into_iter()
                .find(|t| t.id == id)
                .ok_or_else(|| DomainError::TokenNotFound(id.chars().take(64).collect()))?;
            change(StaffOp::RevokeToken { id }, Then::TokenRevoked(token))
        }
        StaffRequest::AuditVerify => {
            let report = store.verify_chain()?;
            Ok(Prepared::Answer(StaffAnswer::Audit {
                intact: report.is_ok(),
                report: report.to_string(),
            }))
        }
        StaffRequest::Backup => Ok(Prepared::Answer(StaffAnswer::Backup {
            report: store.backup_to(&crate::backup::staging(store, "backup", "redb"))?,
        })),
        StaffRequest::Export { from, to, timezone } => {
            let file = crate::backup::staging(store, "export", "csv");
            let visits = crate::backup::export(store, from, to, &timezone, &file)?;
            Ok(Prepared::Answer(StaffAnswer::Export { visits, file }))
        }
        StaffRequest::NotifyTest { .. } => Err(StaffError::NeedsServer("a test message")),
    }
}

/// The answer to a committed change. Blocks (reads the user).
pub fn finish(auth: &Auth, then: Then) -> Result<StaffAnswer, StaffError> {
    Ok(match then {
        Then::User(name) => StaffAnswer::User {
            user: auth.user(&name)?.ok_or(DomainError::UserNotFound(name))?,
        },
        Then::TokenCreated(secret, token) => StaffAnswer::TokenCreated { secret, token },
        Then::TokenRevoked(token) => StaffAnswer::TokenRevoked { token },
    })
}

/// Carries out a request in the running server: the change goes through the engine, as
/// `origin`.
pub async fn perform_online(
    auth: &Auth,
    store: &Arc<Store>,
    engine: &EngineHandle,
    request: StaffRequest,
    origin: Origin,
) -> Result<StaffAnswer, StaffError> {
    let prepared = {
        let (auth, store) = (auth.clone(), Arc::clone(store));
        tokio::task::spawn_blocking(move || prepare(&auth, &store, request))
            .await
            .map_err(|e| StaffError::Internal(e.to_string()))??
    };
    let (op, then) = match prepared {
        Prepared::Answer(answer) => return Ok(answer),
        Prepared::Change(op, then) => (op, then),
    };
    engine.execute(Command::Staff { op }, origin).await?;
    let auth = auth.clone();
    tokio::task::spawn_blocking(move || finish(&auth, then))
        .await
        .map_err(|e| StaffError::Internal(e.to_string()))?
}

/// Carries out a request on a database this process opened (server stopped), as `origin`.
/// Blocks.
pub fn perform_offline(
    auth: &Auth,
    offline: Offline<'_>,
    request: StaffRequest,
    origin: &Origin,
) -> Result<StaffAnswer, StaffError> {
    match prepare(auth, offline.store, request)? {
        Prepared::Answer(answer) => Ok(answer),
        Prepared::Change(op, then) => {
            execute_offline(
                offline.store,
                offline.clock,
                offline.calendar,
                offline.policy,
                &Command::Staff { op },
                origin,
            )?;
            finish(auth, then)
        }
    }
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
    use crate::domain::{EventKind, StaffChange};
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
        let Prepared::Answer(audit) = prepare(&auth, &store, StaffRequest::AuditVerify).unwrap()
        else {
            panic!("a read is answered at once")
        };
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
            StaffRequest::Backup,
            StaffRequest::Export {
                from: "2026-11-21".parse().unwrap(),
                to: "2026-11-21".parse().unwrap(),
                timezone: String::new(),
            },
            StaffRequest::NotifyTest {
                test: crate::notify::build::TestRequest {
                    channel: crate::domain::notification::Channel::Sms,
                    to: "+1 555".to_owned(),
                    language: None,
                },
            },
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
