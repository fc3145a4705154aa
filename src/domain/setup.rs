//! The clinic's set-up, changed live by an admin: services and rooms added and edited, the
//! clinic's name and kiosk settings, and the record of staff changes (users, tokens, screens)
//! that live outside the queue but belong in its audit trail.
//!
//! Every change here is a command like any other: decided on the state, committed as an event,
//! replayed by [`super::QueueState::apply`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DomainError, RoomId, ServiceId};

/// Longest name of a service, room or clinic, in characters.
pub const NAME_MAX: usize = 60;
/// Most tickets a minute a kiosk may be allowed.
pub const TICKETS_PER_MINUTE_MAX: u32 = 600;

/// Kiosk settings an admin sets in `/admin`. Each `None` falls back to the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KioskSettings {
    /// Ask whether the patient needs priority (`screens.kiosk_priority`).
    pub priority: Option<bool>,
    /// Back to the start this many seconds after showing a ticket (`screens.kiosk_reset_secs`).
    pub reset_secs: Option<u32>,
    /// Tickets a minute from one kiosk without a login; 0: no limit
    /// (`screens.kiosk_tickets_per_minute`).
    pub tickets_per_minute: Option<u32>,
}

impl KioskSettings {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), DomainError> {
        if let Some(secs) = self.reset_secs
            && !(3..=600).contains(&secs)
        {
            return Err(DomainError::InvalidSetting(
                "kiosk reset_secs must be 3–600 seconds".to_owned(),
            ));
        }
        if let Some(n) = self.tickets_per_minute
            && n > TICKETS_PER_MINUTE_MAX
        {
            return Err(DomainError::InvalidSetting(format!(
                "kiosk tickets_per_minute must be 0–{TICKETS_PER_MINUTE_MAX}"
            )));
        }
        Ok(())
    }
}

/// What an admin changes about a service (`None`: unchanged). Opening and closing is
/// [`super::Command::SetServiceActive`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceChange {
    /// New name.
    pub name: Option<String>,
    /// New token prefix (numbers already issued keep theirs).
    pub prefix: Option<String>,
    /// Keep waiting tickets across the day close.
    pub carry_over: Option<bool>,
    /// Names in other languages; replaces them all (an empty name removes a language).
    pub names: Option<BTreeMap<String, String>>,
    /// Its place in lists, 0–9999 (lowest first).
    pub order: Option<u32>,
    /// Its colour on the screens, 0–5.
    pub tone: Option<u8>,
    /// Its picture on the kiosk (one of [`super::clinic::SERVICE_ICONS`]); `""`: chosen from
    /// its name.
    pub icon: Option<String>,
    /// Whether the kiosk asks the priority question for it.
    pub ask_priority: Option<bool>,
}

/// What an admin changes about a room (`None`: unchanged). Opening and closing is
/// [`super::Command::SetRoomOpen`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RoomChange {
    /// New name (shown and announced).
    pub name: Option<String>,
    /// Names in other languages; replaces them all.
    pub names: Option<BTreeMap<String, String>>,
    /// The services whose tickets it calls; replaces the list.
    pub services: Option<Vec<ServiceId>>,
    /// Its place in lists, 0–9999 (lowest first).
    pub order: Option<u32>,
}

/// What an admin changes about the clinic (`None`: unchanged).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClinicChange {
    /// New name (displays, tickets).
    pub name: Option<String>,
    /// Kiosk settings; replaces them all.
    pub kiosk: Option<KioskSettings>,
    /// Kiosks and displays must be paired by an admin before they work.
    pub pairing_required: Option<bool>,
}

/// A change to staff accounts, API tokens or paired screens. These live beside the queue (in
/// their own tables), but each change is recorded as an event so the audit trail shows who did
/// it. Never carries a password or a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum StaffChange {
    /// A user was created.
    UserAdded {
        /// User name.
        user: String,
        /// Roles.
        roles: Vec<String>,
        /// Rooms (doctors).
        rooms: Vec<RoomId>,
    },
    /// A user's password was set (by the user, or reset by an admin: the event's actor says).
    PasswordSet {
        /// User name.
        user: String,
    },
    /// A user was disabled (their sessions end) or enabled again.
    UserDisabled {
        /// User name.
        user: String,
        /// Disabled now?
        disabled: bool,
    },
    /// A user's roles changed.
    RolesSet {
        /// User name.
        user: String,
        /// The new roles.
        roles: Vec<String>,
    },
    /// A doctor's rooms changed.
    RoomsSet {
        /// User name.
        user: String,
        /// The new rooms.
        rooms: Vec<RoomId>,
    },
    /// An API token was created.
    TokenCreated {
        /// Token name.
        token: String,
        /// Its role.
        role: String,
    },
    /// An API token was revoked.
    TokenRevoked {
        /// Token name.
        token: String,
    },
    /// A screen (kiosk, display) was paired.
    ScreenPaired {
        /// The name the admin gave it.
        screen: String,
        /// `kiosk` or `display`.
        screen_kind: String,
    },
    /// A paired screen was unpaired.
    ScreenRevoked {
        /// Its name.
        screen: String,
    },
}

impl StaffChange {
    /// Checks the names it carries are sane (they come from our own code, but end up in the
    /// audit trail forever).
    pub fn check(&self) -> Result<(), DomainError> {
        let names: Vec<&str> = match self {
            Self::UserAdded { user, roles, .. } | Self::RolesSet { user, roles } => {
                std::iter::once(user.as_str())
                    .chain(roles.iter().map(String::as_str))
                    .collect()
            }
            Self::PasswordSet { user }
            | Self::UserDisabled { user, .. }
            | Self::RoomsSet { user, .. } => vec![user],
            Self::TokenCreated { token, role } => vec![token, role],
            Self::TokenRevoked { token } => vec![token],
            Self::ScreenPaired {
                screen,
                screen_kind,
            } => vec![screen, screen_kind],
            Self::ScreenRevoked { screen } => vec![screen],
        };
        for name in names {
            if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
                return Err(DomainError::InvalidName {
                    what: "staff change",
                    reason: "names must be 1–64 characters without control characters",
                });
            }
        }
        Ok(())
    }
}

/// A name as given by an admin: trimmed, 1–[`NAME_MAX`] characters, no control characters.
pub fn clean_name(what: &'static str, name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::InvalidName {
            what,
            reason: "it is empty",
        });
    }
    if name.chars().count() > NAME_MAX {
        return Err(DomainError::InvalidName {
            what,
            reason: "it is longer than 60 characters",
        });
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::InvalidName {
            what,
            reason: "it contains control characters",
        });
    }
    Ok(name.to_owned())
}

/// Names by language: codes of 2–8 lowercase letters or dashes; empty names dropped.
pub fn clean_names(
    what: &'static str,
    names: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DomainError> {
    if names.len() > 16 {
        return Err(DomainError::InvalidName {
            what,
            reason: "at most 16 languages",
        });
    }
    let mut clean = BTreeMap::new();
    for (lang, name) in names {
        if !(2..=8).contains(&lang.len())
            || !lang.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        {
            return Err(DomainError::InvalidName {
                what,
                reason: "language codes are 2–8 lowercase letters (\"hi\", \"pt-br\")",
            });
        }
        if name.trim().is_empty() {
            continue;
        }
        clean.insert(lang.clone(), clean_name(what, name)?);
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("room", "  Room 4 ").unwrap(), "Room 4");
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(61)] {
            assert!(clean_name("room", bad).is_err(), "{bad:?}");
        }
        assert!(clean_name("room", &"म".repeat(60)).is_ok());
    }

    #[test]
    fn language_names_drop_empty_and_refuse_bad_codes() {
        let names = BTreeMap::from([
            ("hi".to_owned(), " कमरा 4 ".to_owned()),
            ("ta".to_owned(), " ".to_owned()),
        ]);
        let clean = clean_names("room", &names).unwrap();
        assert_eq!(
            clean,
            BTreeMap::from([("hi".to_owned(), "कमरा 4".to_owned())])
        );
        for code in ["H", "hindi-language", "h1", ""] {
            let names = BTreeMap::from([(code.to_owned(), "x".to_owned())]);
            assert!(clean_names("room", &names).is_err(), "{code:?}");
        }
    }

    #[test]
    fn kiosk_settings_are_range_checked() {
        assert!(KioskSettings::default().check().is_ok());
        let ok = KioskSettings {
            priority: Some(false),
            reset_secs: Some(30),
            tickets_per_minute: Some(0),
        };
        assert!(ok.check().is_ok());
        for bad in [
            KioskSettings {
                reset_secs: Some(1),
                ..KioskSettings::default()
            },
            KioskSettings {
                tickets_per_minute: Some(601),
                ..KioskSettings::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn staff_changes_refuse_control_characters_and_long_names() {
        let ok = StaffChange::PasswordSet {
            user: "anita".to_owned(),
        };
        assert!(ok.check().is_ok());
        let bad = StaffChange::TokenRevoked {
            token: "a\nb".to_owned(),
        };
        assert!(bad.check().is_err());
        let long = StaffChange::UserDisabled {
            user: "x".repeat(65),
            disabled: true,
        };
        assert!(long.check().is_err());
    }

    #[test]
    fn staff_changes_serialize_with_a_what_tag() {
        let json = serde_json::to_value(StaffChange::TokenCreated {
            token: "his-bridge".to_owned(),
            role: "reception".to_owned(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"what": "token_created", "token": "his-bridge", "role": "reception"})
        );
    }
}
