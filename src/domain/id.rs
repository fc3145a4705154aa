//! Identifiers: newtypes so a room id can never be passed where a service id is expected.
//!
//! Service and room ids are short slugs (`general`, `room-1`) chosen by the clinic, so that URLs
//! and logs stay readable; ticket ids are numbers handed out by the queue, never reused.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::DomainError;

/// A ticket's id: unique for the lifetime of a database, across days.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct TicketId(pub u64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Checks a slug: 1–32 characters, lowercase ASCII letters, digits and `-`, starting with a
/// letter or digit.
fn check_slug(kind: &'static str, value: &str) -> Result<(), DomainError> {
    let valid = !value.is_empty()
        && value.len() <= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if valid {
        Ok(())
    } else {
        Err(DomainError::InvalidId {
            kind,
            value: value.chars().take(40).collect(),
        })
    }
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, example = json!($kind))]
        pub struct $name(String);

        impl $name {
            /// Parses a slug, refusing anything that is not 1–32 of `[a-z0-9-]`.
            pub fn parse(value: &str) -> Result<Self, DomainError> {
                check_slug($label, value)?;
                Ok(Self(value.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, DomainError> {
                check_slug($label, &value)?;
                Ok(Self(value))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// A service's id, e.g. `general`.
    ServiceId,
    "general",
    "service id"
);
slug_id!(
    /// A room's id, e.g. `room-1`.
    RoomId,
    "room-1",
    "room id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lowercase_digits_and_dashes() {
        for ok in ["a", "room-1", "general", "x9", "9"] {
            assert!(RoomId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn slugs_refuse_everything_else() {
        let long = "a".repeat(33);
        for bad in ["", "-a", "Room", "a b", "a/b", "é", long.as_str()] {
            assert!(ServiceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn slug_ids_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<RoomId>("\"room-2\"").is_ok());
        assert!(serde_json::from_str::<RoomId>("\"../etc\"").is_err());
    }
}
