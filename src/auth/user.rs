//! Staff users and their roles: the stored [`User`] (with its password hash) and the
//! [`UserView`] every API and page shows (without it).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AuthError;
use crate::domain::{RoomId, Timestamp};

/// The longest user or token name.
pub const MAX_NAME_LEN: usize = 64;

pub use crate::domain::{Role, User};

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AuthError::UnknownRole(s.chars().take(40).collect()))
    }
}

impl User {
    /// The user as pages and the API show it.
    pub fn view(&self) -> UserView {
        UserView {
            name: self.name.clone(),
            roles: self.roles.clone(),
            rooms: self.rooms.clone(),
            disabled: self.disabled,
            created_at: self.created_at,
            password_changed_at: self.password_changed_at,
        }
    }
}

/// A member of staff as shown: a [`User`] without the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// Login name.
    pub name: String,
    /// What the user may do.
    pub roles: BTreeSet<Role>,
    /// The rooms a doctor calls into.
    pub rooms: Vec<RoomId>,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// When the user was added.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When the password was last set.
    #[schema(value_type = String)]
    pub password_changed_at: Timestamp,
}

/// Checks a user or token name: 1–64 of lowercase ASCII letters, digits, `-`, `.` and `_`,
/// starting with a letter or digit.
pub fn validate_name(name: &str) -> Result<(), AuthError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')
        })
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(AuthError::InvalidName(name.chars().take(70).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_slugs_and_refuse_the_rest() {
        for ok in [
            "a",
            "anita",
            "dr.rossi",
            "front_desk-2",
            "9",
            &"x".repeat(64),
        ] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Anita",
            "an ita",
            "-anita",
            ".hidden",
            "_x",
            "anità",
            "a/b",
            "a:b",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(validate_name(bad), Err(AuthError::InvalidName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn roles_parse_and_serialize_in_snake_case() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                format!("\"{}\"", role.as_str())
            );
        }
        let err = "nurse".parse::<Role>().unwrap_err();
        assert!(matches!(err, AuthError::UnknownRole(_)));
        assert!(
            err.to_string()
                .contains("admin, reception, doctor or manager")
        );
    }

    #[test]
    fn user_debug_and_view_hide_the_password_hash() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let user = User {
            name: "anita".to_owned(),
            roles: BTreeSet::from([Role::Admin]),
            rooms: Vec::new(),
            password_hash: "$argon2id$secret".to_owned(),
            disabled: false,
            created_at: at,
            password_changed_at: at,
        };
        assert!(!format!("{user:?}").contains("argon2id"));
        let json = serde_json::to_string(&user.view()).unwrap();
        assert!(!json.contains("argon2id") && !json.contains("password_hash"));
    }
}
