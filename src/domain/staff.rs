//! The rows beside the queue that every change of goes through the engine: staff users, API
//! tokens, paired screens (the [`Directory`]) and patients' details; and the rules of changing
//! the directory ([`Directory::decide`]: who exists, names taken, the last admin).
//!
//! What it owns: the row types as stored ([`User`], [`TokenRecord`], [`ScreenRecord`],
//! [`PatientDetails`]), a change to the directory as data ([`StaffOp`]) and what a decided
//! change writes ([`StaffRows`]). What it does not: hashing passwords and making secrets (the
//! caller does that before it sends the op, in `auth`, off the writer's thread), sessions (hot
//! and unaudited: `auth` writes them directly), and storage (`store` writes [`StaffRows`] in
//! the same transaction as the `staff_changed` event that records them).
//!
//! Invariants: a [`StaffOp`] either fails with a [`DomainError`] and writes nothing, or gives
//! exactly one [`StaffChange`] (the audit record, never a secret) and the rows it writes; an
//! op never leaves the clinic without an enabled admin when it asks for that guard.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DomainError, RoomId, StaffChange, Timestamp};

/// What a member of staff does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: users, tokens, configuration, every room.
    Admin,
    /// The front desk: issues and manages tickets, may act for any room.
    Reception,
    /// Calls patients into their own rooms only.
    Doctor,
    /// Reads the reports and the patients' feedback; changes nothing, sees no patient's
    /// details.
    Manager,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Reception, Role::Doctor, Role::Manager];

    /// The role's name as in configuration and JSON: `admin`, `reception`, `doctor`,
    /// `manager`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reception => "reception",
            Role::Doctor => "doctor",
            Role::Manager => "manager",
        }
    }
}

/// A member of staff as stored. Its `Debug` (in `auth`) hides the password hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name: 1–64 of lowercase letters, digits, `-`, `.`, `_`.
    pub name: String,
    /// What the user may do.
    pub roles: BTreeSet<Role>,
    /// The rooms a doctor calls into.
    #[serde(default)]
    pub rooms: Vec<RoomId>,
    /// The argon2id PHC string (`$argon2id$v=19$...`).
    pub password_hash: String,
    /// A disabled user cannot log in and has no sessions.
    #[serde(default)]
    pub disabled: bool,
    /// When the user was added.
    pub created_at: Timestamp,
    /// When the password was last set: sessions older than this are not valid.
    pub password_changed_at: Timestamp,
}

impl User {
    /// An enabled admin.
    pub fn is_active_admin(&self) -> bool {
        !self.disabled && self.roles.contains(&Role::Admin)
    }
}

/// An API token as stored (its `Debug`, in `auth`, hides the hash).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id (shown in lists, used to revoke).
    pub id: String,
    /// What the token is for, e.g. `his-bridge` (same rules as a user name).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the secret, base64url.
    pub secret_hash: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was last accepted (written directly, not audited).
    #[serde(default)]
    pub last_used: Option<Timestamp>,
}

/// What a screen is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScreenKind {
    /// A check-in kiosk (issues tickets).
    Kiosk,
    /// A waiting-room display.
    Display,
}

impl ScreenKind {
    /// `kiosk` or `display`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kiosk => "kiosk",
            Self::Display => "display",
        }
    }
}

/// A paired screen as stored (its `Debug`, in `auth`, hides the hash).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenRecord {
    /// Public id (shown, used to unpair).
    pub id: String,
    /// The name the admin gave it (`lobby-tv`).
    pub name: String,
    /// What it is.
    pub kind: ScreenKind,
    /// SHA-256 of its secret, base64url.
    pub secret_hash: String,
    /// When it was paired.
    pub paired_at: Timestamp,
    /// Who approved it (`user:anita`).
    pub approved_by: String,
    /// The address it asked from.
    #[serde(default)]
    pub address: Option<String>,
    /// When it was last seen (written directly, not audited).
    #[serde(default)]
    pub last_seen: Option<Timestamp>,
}

/// A staff session as stored, under the SHA-256 of its id. Sessions are hot and unaudited:
/// `auth` writes them directly, not through the engine.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The user's login name.
    pub user: String,
    /// Login time.
    pub created_at: Timestamp,
    /// The last request seen (to `auth::LAST_SEEN_RESOLUTION`).
    pub last_seen: Timestamp,
    /// The CSRF token forms of this session carry.
    pub csrf: String,
    /// The address the login came from (for the audit, not checked).
    #[serde(default)]
    pub client: String,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user", &self.user)
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// What reception recorded about a ticket's patient: kept in its own table, never in the
/// hash-chained event log, and deleted after the retention period (`crate::retention`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PatientDetails {
    /// The patient's name.
    #[serde(default)]
    pub name: String,
    /// A phone number to call back.
    #[serde(default)]
    pub phone: String,
    /// An email address for notifications (empty: none).
    #[serde(default)]
    pub email: String,
    /// The language of the patient's notifications (empty: the clinic's).
    #[serde(default)]
    pub language: String,
    /// The patient agreed to text messages and emails at this number or address (recorded
    /// with them: reception asks, the booking page has a box to tick). No message goes
    /// without it.
    #[serde(default = "agreed")]
    pub messages: bool,
    /// When it was recorded (the retention period counts from here).
    #[schema(value_type = String)]
    pub recorded_at: Timestamp,
}

/// Details recorded before consent was a field were recorded by staff, who asked.
fn agreed() -> bool {
    true
}

/// A change to the directory, prepared by the caller (hashes and secrets already made).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StaffOp {
    /// Add a user (refused if the name is taken).
    AddUser {
        /// The new user.
        user: User,
    },
    /// Set a user's password hash; their sessions end.
    SetPassword {
        /// Login name.
        user: String,
        /// The new argon2id hash.
        password_hash: String,
    },
    /// Disable (their sessions end) or enable a user.
    SetDisabled {
        /// Login name.
        user: String,
        /// Disabled?
        disabled: bool,
        /// Refuse if it leaves no enabled admin.
        keep_an_admin: bool,
    },
    /// Replace a user's roles.
    SetRoles {
        /// Login name.
        user: String,
        /// The roles.
        roles: BTreeSet<Role>,
        /// Refuse if it leaves no enabled admin.
        keep_an_admin: bool,
    },
    /// Replace a doctor's rooms.
    SetRooms {
        /// Login name.
        user: String,
        /// The rooms.
        rooms: Vec<RoomId>,
    },
    /// Add an API token.
    CreateToken {
        /// The token.
        token: TokenRecord,
    },
    /// Revoke an API token by id.
    RevokeToken {
        /// Its id.
        id: String,
    },
    /// Pair a screen.
    PairScreen {
        /// The screen.
        screen: ScreenRecord,
    },
    /// Unpair a screen by id.
    UnpairScreen {
        /// Its id.
        id: String,
    },
}

impl std::fmt::Debug for StaffOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a hash in a log line: the name of the op and whom it concerns.
        let (op, whom) = match self {
            Self::AddUser { user } => ("add_user", user.name.as_str()),
            Self::SetPassword { user, .. } => ("set_password", user.as_str()),
            Self::SetDisabled { user, .. } => ("set_disabled", user.as_str()),
            Self::SetRoles { user, .. } => ("set_roles", user.as_str()),
            Self::SetRooms { user, .. } => ("set_rooms", user.as_str()),
            Self::CreateToken { token } => ("create_token", token.name.as_str()),
            Self::RevokeToken { id } => ("revoke_token", id.as_str()),
            Self::PairScreen { screen } => ("pair_screen", screen.name.as_str()),
            Self::UnpairScreen { id } => ("unpair_screen", id.as_str()),
        };
        write!(f, "StaffOp::{op}({whom})")
    }
}

/// The rows a decided [`StaffOp`] writes, in the transaction of its event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffRows {
    /// Users to write (insert or replace).
    pub users: Vec<User>,
    /// Users whose sessions end.
    pub sessions_ended: Vec<String>,
    /// Tokens to write (the stored `last_used` is kept if later).
    pub tokens: Vec<TokenRecord>,
    /// Token ids to delete.
    pub tokens_revoked: Vec<String>,
    /// Screens to write (the stored `last_seen` is kept if later).
    pub screens: Vec<ScreenRecord>,
    /// Screen ids to delete.
    pub screens_unpaired: Vec<String>,
}

impl StaffRows {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Staff users, API tokens and paired screens, as the engine holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    /// By name.
    pub users: BTreeMap<String, User>,
    /// By id.
    pub tokens: BTreeMap<String, TokenRecord>,
    /// By id.
    pub screens: BTreeMap<String, ScreenRecord>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("rooms", &self.rooms)
            .field("password_hash", &"<redacted>")
            .field("disabled", &self.disabled)
            .field("created_at", &self.created_at)
            .field("password_changed_at", &self.password_changed_at)
            .finish()
    }
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("last_used", &self.last_used)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ScreenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PatientDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data stays out of log lines.
        f.debug_struct("PatientDetails")
            .field("recorded_at", &self.recorded_at)
            .finish_non_exhaustive()
    }
}

fn role_names(roles: &BTreeSet<Role>) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

fn dedup(mut rooms: Vec<RoomId>) -> Vec<RoomId> {
    rooms.sort();
    rooms.dedup();
    rooms
}

impl Directory {
    fn user(&self, name: &str) -> Result<&User, DomainError> {
        self.users
            .get(name)
            .ok_or_else(|| DomainError::UserNotFound(name.to_owned()))
    }

    /// Whether `changed` (the user as it would be) leaves at least one enabled admin.
    fn keeps_an_admin(&self, changed: &User) -> bool {
        changed.is_active_admin()
            || self
                .users
                .values()
                .any(|u| u.name != changed.name && u.is_active_admin())
    }

    /// Decides `op` at `now`: what to record and what to write, or why not. Changes nothing.
    pub fn decide(
        &self,
        op: &StaffOp,
        now: Timestamp,
    ) -> Result<(StaffChange, StaffRows), DomainError> {
        let mut rows = StaffRows::default();
        let change = match op {
            StaffOp::AddUser { user } => {
                if self.users.contains_key(&user.name) {
                    return Err(DomainError::UserExists(user.name.clone()));
                }
                let user = User {
                    rooms: dedup(user.rooms.clone()),
                    ..user.clone()
                };
                let change = StaffChange::UserAdded {
                    user: user.name.clone(),
                    roles: role_names(&user.roles),
                    rooms: user.rooms.clone(),
                };
                rows.users.push(user);
                change
            }
            StaffOp::SetPassword {
                user,
                password_hash,
            } => {
                let mut changed = self.user(user)?.clone();
                changed.password_hash.clone_from(password_hash);
                changed.password_changed_at = now;
                rows.users.push(changed);
                rows.sessions_ended.push(user.clone());
                StaffChange::PasswordSet { user: user.clone() }
            }
            StaffOp::SetDisabled {
                user,
                disabled,
                keep_an_admin,
            } => {
                let mut changed = self.user(user)?.clone();
                changed.disabled = *disabled;
                if *keep_an_admin && !self.keeps_an_admin(&changed) {
                    return Err(DomainError::LastAdmin);
                }
                rows.users.push(changed);
                if *disabled {
                    rows.sessions_ended.push(user.clone());
                }
                StaffChange::UserDisabled {
                    user: user.clone(),
                    disabled: *disabled,
                }
            }
            StaffOp::SetRoles {
                user,
                roles,
                keep_an_admin,
            } => {
                let mut changed = self.user(user)?.clone();
                changed.roles.clone_from(roles);
                if *keep_an_admin && !self.keeps_an_admin(&changed) {
                    return Err(DomainError::LastAdmin);
                }
                rows.users.push(changed);
                StaffChange::RolesSet {
                    user: user.clone(),
                    roles: role_names(roles),
                }
            }
            StaffOp::SetRooms { user, rooms } => {
                let mut changed = self.user(user)?.clone();
                changed.rooms = dedup(rooms.clone());
                let change = StaffChange::RoomsSet {
                    user: user.clone(),
                    rooms: changed.rooms.clone(),
                };
                rows.users.push(changed);
                change
            }
            StaffOp::CreateToken { token } => {
                rows.tokens.push(token.clone());
                StaffChange::TokenCreated {
                    token: token.name.clone(),
                    role: token.role.as_str().to_owned(),
                }
            }
            StaffOp::RevokeToken { id } => {
                let token = self
                    .tokens
                    .get(id)
                    .ok_or_else(|| DomainError::TokenNotFound(id.chars().take(64).collect()))?;
                rows.tokens_revoked.push(id.clone());
                StaffChange::TokenRevoked {
                    token: token.name.clone(),
                }
            }
            StaffOp::PairScreen { screen } => {
                rows.screens.push(screen.clone());
                StaffChange::ScreenPaired {
                    screen: screen.name.clone(),
                    screen_kind: screen.kind.as_str().to_owned(),
                }
            }
            StaffOp::UnpairScreen { id } => {
                let screen = self
                    .screens
                    .get(id)
                    .ok_or_else(|| DomainError::ScreenNotFound(id.chars().take(64).collect()))?;
                rows.screens_unpaired.push(id.clone());
                StaffChange::ScreenRevoked {
                    screen: screen.name.clone(),
                }
            }
        };
        change.check()?;
        Ok((change, rows))
    }

    /// Applies decided rows.
    pub fn apply(&mut self, rows: &StaffRows) {
        for user in &rows.users {
            self.users.insert(user.name.clone(), user.clone());
        }
        for token in &rows.tokens {
            self.tokens.insert(token.id.clone(), token.clone());
        }
        for id in &rows.tokens_revoked {
            self.tokens.remove(id);
        }
        for screen in &rows.screens {
            self.screens.insert(screen.id.clone(), screen.clone());
        }
        for id in &rows.screens_unpaired {
            self.screens.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn user(name: &str, roles: &[Role]) -> User {
        User {
            name: name.to_owned(),
            roles: roles.iter().copied().collect(),
            rooms: Vec::new(),
            password_hash: "$argon2id$x".to_owned(),
            disabled: false,
            created_at: at(),
            password_changed_at: at(),
        }
    }

    fn with(users: &[User]) -> Directory {
        let mut dir = Directory::default();
        for u in users {
            let (_, rows) = dir
                .decide(&StaffOp::AddUser { user: u.clone() }, at())
                .unwrap();
            dir.apply(&rows);
        }
        dir
    }

    #[test]
    fn a_taken_name_is_refused_and_nothing_is_written() {
        let dir = with(&[user("anita", &[Role::Admin])]);
        let err = dir
            .decide(
                &StaffOp::AddUser {
                    user: user("anita", &[Role::Doctor]),
                },
                at(),
            )
            .unwrap_err();
        assert_eq!(err, DomainError::UserExists("anita".to_owned()));
    }

    #[test]
    fn the_last_admin_cannot_be_disabled_or_demoted_when_guarded() {
        let dir = with(&[
            user("anita", &[Role::Admin]),
            user("bob", &[Role::Reception]),
        ]);
        let disable = StaffOp::SetDisabled {
            user: "anita".to_owned(),
            disabled: true,
            keep_an_admin: true,
        };
        assert_eq!(dir.decide(&disable, at()), Err(DomainError::LastAdmin));
        let demote = StaffOp::SetRoles {
            user: "anita".to_owned(),
            roles: BTreeSet::from([Role::Reception]),
            keep_an_admin: true,
        };
        assert_eq!(dir.decide(&demote, at()), Err(DomainError::LastAdmin));
        // With a second admin it is allowed; unguarded (the operator's rescue) too.
        let two = with(&[user("anita", &[Role::Admin]), user("carl", &[Role::Admin])]);
        assert!(two.decide(&disable, at()).is_ok());
        let unguarded = StaffOp::SetDisabled {
            user: "anita".to_owned(),
            disabled: true,
            keep_an_admin: false,
        };
        assert!(dir.decide(&unguarded, at()).is_ok());
    }

    #[test]
    fn a_password_change_ends_sessions_and_moves_the_change_time() {
        let dir = with(&[user("anita", &[Role::Admin])]);
        let later = at()
            .checked_add(jiff::SignedDuration::from_secs(60))
            .unwrap();
        let (change, rows) = dir
            .decide(
                &StaffOp::SetPassword {
                    user: "anita".to_owned(),
                    password_hash: "$argon2id$y".to_owned(),
                },
                later,
            )
            .unwrap();
        assert_eq!(
            change,
            StaffChange::PasswordSet {
                user: "anita".to_owned()
            }
        );
        assert_eq!(rows.sessions_ended, ["anita"]);
        assert_eq!(rows.users[0].password_changed_at, later);
        assert_eq!(rows.users[0].password_hash, "$argon2id$y");
    }

    #[test]
    fn revoking_an_unknown_token_or_screen_is_refused() {
        let dir = Directory::default();
        assert_eq!(
            dir.decide(&StaffOp::RevokeToken { id: "x".into() }, at()),
            Err(DomainError::TokenNotFound("x".into()))
        );
        assert_eq!(
            dir.decide(&StaffOp::UnpairScreen { id: "y".into() }, at()),
            Err(DomainError::ScreenNotFound("y".into()))
        );
    }

    #[test]
    fn debug_of_an_op_shows_no_hash() {
        let op = StaffOp::SetPassword {
            user: "anita".to_owned(),
            password_hash: "$argon2id$secret".to_owned(),
        };
        assert!(!format!("{op:?}").contains("argon2id"));
        let op = StaffOp::AddUser {
            user: user("anita", &[Role::Admin]),
        };
        assert!(!format!("{op:?}").contains("argon2id"));
    }
}
