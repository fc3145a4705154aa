//! Who is acting ([`Principal`]: a logged-in user or an API token) and what an action needs
//! ([`Need`]). The one authorisation rule is [`Principal::can`].

use std::collections::BTreeSet;

use serde::Serialize;

use super::Role;
use crate::domain::RoomId;

/// Whether a principal is a person or a machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A member of staff, logged in.
    User {
        /// Login name.
        name: String,
    },
    /// An API token.
    Token {
        /// The token's public id.
        id: String,
        /// The token's name (what it is for, e.g. `his-bridge`).
        name: String,
    },
}

/// An authenticated caller.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Person or token.
    #[serde(flatten)]
    pub kind: PrincipalKind,
    /// What it may do.
    pub roles: BTreeSet<Role>,
    /// A doctor's rooms.
    pub rooms: Vec<RoomId>,
    /// The session's CSRF token, to check on every form post (`None` for API tokens, which
    /// are not sent by browsers on their own).
    #[serde(skip)]
    pub csrf: Option<String>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("kind", &self.kind)
            .field("roles", &self.roles)
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}

/// What an action requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Working the queue (reception, a doctor): the staff console, the printer's jobs,
    /// bookings, a patient's details. A manager alone does not.
    Staff,
    /// Front-desk work: issue, move and cancel tickets.
    Reception,
    /// Acting for a room: call next, recall, finish.
    Room(RoomId),
    /// Reading the reports and the patients' feedback.
    Reports,
    /// Users, tokens, configuration.
    Admin,
}

impl Principal {
    /// Whether this principal may do what `need` requires: an admin may do everything;
    /// reception may do reception work and act for any room; a doctor may act only for its own
    /// rooms; a manager may read the reports and nothing else.
    pub fn can(&self, need: Need) -> bool {
        if self.roles.contains(&Role::Admin) {
            return true;
        }
        match need {
            Need::Admin => false,
            Need::Staff => {
                self.roles.contains(&Role::Reception) || self.roles.contains(&Role::Doctor)
            }
            Need::Reports => self.roles.contains(&Role::Manager),
            Need::Reception => self.roles.contains(&Role::Reception),
            Need::Room(room) => {
                self.roles.contains(&Role::Reception)
                    || (self.roles.contains(&Role::Doctor) && self.rooms.contains(&room))
            }
        }
    }

    /// Who acted, for the event log: `user:anita`, `token:his-bridge`.
    pub fn actor(&self) -> String {
        match &self.kind {
            PrincipalKind::User { name } => format!("user:{name}"),
            PrincipalKind::Token { name, .. } => format!("token:{name}"),
        }
    }

    /// The user's login name (`None` for a token).
    pub fn user_name(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::User { name } => Some(name),
            PrincipalKind::Token { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role], rooms: &[&str]) -> Principal {
        Principal {
            kind: PrincipalKind::User {
                name: "anita".into(),
            },
            roles: roles.iter().copied().collect(),
            rooms: rooms.iter().map(|r| RoomId::parse(r).unwrap()).collect(),
            csrf: None,
        }
    }

    fn room(r: &str) -> Need {
        Need::Room(RoomId::parse(r).unwrap())
    }

    #[test]
    fn can_matrix() {
        let admin = user(&[Role::Admin], &[]);
        let reception = user(&[Role::Reception], &[]);
        let doctor = user(&[Role::Doctor], &["room-1"]);
        let both = user(&[Role::Doctor, Role::Reception], &["room-1"]);
        let nobody = user(&[], &["room-1"]);
        let manager = user(&[Role::Manager], &[]);
        let doctor_manager = user(&[Role::Doctor, Role::Manager], &["room-1"]);
        let cases = [
            // who, Staff, Reception, Room(room-1), Room(room-2), Reports, Admin
            (&admin, [true, true, true, true, true, true]),
            (&reception, [true, true, true, true, false, false]),
            (&doctor, [true, false, true, false, false, false]),
            (&both, [true, true, true, true, false, false]),
            (&nobody, [false, false, false, false, false, false]),
            (&manager, [false, false, false, false, true, false]),
            (&doctor_manager, [true, false, true, false, true, false]),
        ];
        for (who, expected) in cases {
            let got = [
                who.can(Need::Staff),
                who.can(Need::Reception),
                who.can(room("room-1")),
                who.can(room("room-2")),
                who.can(Need::Reports),
                who.can(Need::Admin),
            ];
            assert_eq!(got, expected, "{who:?}");
        }
    }

    #[test]
    fn actor_names_user_or_token() {
        assert_eq!(user(&[], &[]).actor(), "user:anita");
        let token = Principal {
            kind: PrincipalKind::Token {
                id: "k3y".into(),
                name: "his-bridge".into(),
            },
            roles: BTreeSet::from([Role::Reception]),
            rooms: Vec::new(),
            csrf: None,
        };
        assert_eq!(token.actor(), "token:his-bridge");
        assert_eq!(token.user_name(), None);
    }

    #[test]
    fn principal_serializes_flat_without_its_csrf_token() {
        let mut who = user(&[Role::Doctor], &["room-1"]);
        who.csrf = Some("s3cret".into());
        assert_eq!(
            serde_json::to_value(&who).unwrap(),
            serde_json::json!({
                "kind": "user", "name": "anita", "roles": ["doctor"], "rooms": ["room-1"]
            })
        );
        assert!(!format!("{who:?}").contains("s3cret"));
    }
}
