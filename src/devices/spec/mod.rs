//! The value types of the device settings, parsed once when the configuration is read: the
//! printer's [`PrinterUri`], a press's [`Binding`] (`room:action`) and its [`InputAction`], a
//! receiver's [`Framing`] (`8N1`) and [`FrameKind`] (`line`, `fixed:N`), key names
//! ([`KeyName`]), and a button's [`Pull`] and active [`Level`].
//!
//! Each one reads from its text form and writes back to it (`try_from`/`into = "String"`), so a
//! bad value is refused by the TOML reader with the file and line, or the environment variable,
//! and `waitless check-config` prints the effective settings as text again. The device code gets
//! them already parsed and never parses a setting itself.
//!
//! A leaf: it imports no other part of `devices` and nothing of `config` (`config` imports it).
//! Its errors are a [`SpecError`] (the message), which `devices` turns into
//! `DeviceError::Config`.

mod framing;
mod key;
mod printer_uri;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::{Command, RoomId};

pub use framing::{FrameKind, Framing, MAX_CODE_LEN};
pub use key::{KeyName, key_code, key_name};
pub use printer_uri::PrinterUri;

/// Why a setting's text is not a valid value; the message says what a good one looks like.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

/// Implements `TryFrom<String>` (through `FromStr`) and `From<T> for String` (through
/// `Display`), for `#[serde(try_from = "String", into = "String")]`.
macro_rules! text_value {
    ($($ty:ty),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = SpecError;
            fn try_from(text: String) -> Result<Self, SpecError> {
                text.parse()
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.to_string()
            }
        }
    )*};
}
pub(crate) use text_value;

text_value!(InputAction, Binding, Pull, Level);

/// An optional value written as text, where the empty string is `None` (a button's `long` and
/// `double`). For `#[serde(with = "blank_is_none")]`.
pub mod blank_is_none {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Writes `None` as `""`.
    pub fn serialize<T: Display, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_str(""),
        }
    }

    /// Reads `""` (or only spaces) as `None`.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr<Err: Display>,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(deserializer)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(D::Error::custom)
    }
}

/// What a physical input can do to a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum InputAction {
    /// Finish the current ticket and call the next.
    Next,
    /// Call the current ticket again.
    Recall,
    /// Finish the current ticket.
    Done,
    /// The current ticket did not come.
    NoShow,
    /// The current ticket did not come: call the next (one press).
    NoShowNext,
    /// Undo the last "next".
    Undo,
}

impl InputAction {
    /// Every action, for error messages.
    pub const ALL: [Self; 6] = [
        Self::Next,
        Self::Recall,
        Self::Done,
        Self::NoShow,
        Self::NoShowNext,
        Self::Undo,
    ];

    /// Its name in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Recall => "recall",
            Self::Done => "done",
            Self::NoShow => "no-show",
            Self::NoShowNext => "no-show-next",
            Self::Undo => "undo",
        }
    }
}

impl fmt::Display for InputAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InputAction {
    type Err = SpecError;

    /// Any case, `_` for `-`, spaces around ignored: `no_show` is `no-show`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                SpecError(format!(
                    "unknown action {s:?}: use one of {}",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
    }
}

/// What a press does: an action in a room, written `room:action` in the configuration
/// (`room-1:next`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Binding {
    /// The room.
    pub room: RoomId,
    /// The action.
    pub action: InputAction,
}

impl Binding {
    /// The command this press sends.
    pub fn command(&self) -> Command {
        let room = self.room.clone();
        match self.action {
            InputAction::Next => Command::RoomNext { room },
            InputAction::Recall => Command::RoomRecall { room },
            InputAction::Done => Command::RoomDone { room },
            InputAction::NoShow => Command::RoomNoShow { room },
            InputAction::NoShowNext => Command::RoomNoShowNext { room },
            InputAction::Undo => Command::RoomUndo { room },
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.room, self.action)
    }
}

impl FromStr for Binding {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((room, action)) = s.split_once(':') else {
            return Err(SpecError(format!(
                "{s:?} is not room:action, e.g. room-1:next"
            )));
        };
        let room = RoomId::parse(room.trim()).map_err(|e| SpecError(format!("{s:?}: {e}")))?;
        Ok(Self {
            room,
            action: action.parse()?,
        })
    }
}

/// A button's internal resistor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Pull {
    /// Pull-up: the button connects the pin to ground.
    Up,
    /// Pull-down: the button connects the pin to 3.3 V.
    Down,
    /// None (an external resistor).
    Off,
}

/// The level of a button's pin while it is pressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Level {
    /// Low (with a pull-up).
    Low,
    /// High.
    High,
}

/// Parses one of `names` (any case, spaces around ignored) into the value beside it.
fn one_of<T: Copy>(what: &str, text: &str, names: &[(&str, T)]) -> Result<T, SpecError> {
    let wanted = text.trim().to_ascii_lowercase();
    names
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
            let (last, rest) = names.split_last().unwrap_or((&"", &[]));
            SpecError(format!(
                "{what} {text:?} must be {} or {last}",
                rest.join(", ")
            ))
        })
}

/// `FromStr` and `Display` for a small enum, from its table of names.
macro_rules! named_values {
    ($($ty:ty: $what:literal, $names:expr;)*) => {$(
        impl FromStr for $ty {
            type Err = SpecError;
            fn from_str(s: &str) -> Result<Self, SpecError> {
                one_of($what, s, &$names)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let name = $names.iter().find(|(_, v)| v == self).map_or("", |(n, _)| n);
                f.write_str(name)
            }
        }
    )*};
}

named_values! {
    Pull: "pull", [("up", Pull::Up), ("down", Pull::Down), ("off", Pull::Off)];
    Level: "active", [("low", Level::Low), ("high", Level::High)];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_parse_room_and_action() {
        let b: Binding = "room-1:next".parse().unwrap();
        assert_eq!(b.room.as_str(), "room-1");
        assert_eq!(b.action, InputAction::Next);
        assert_eq!(b.to_string(), "room-1:next");
        let b: Binding = "room-2:no_show".parse().unwrap();
        assert_eq!(b.action, InputAction::NoShow);
        let b: Binding = "room-2:No_Show_Next".parse().unwrap();
        assert_eq!(b.action, InputAction::NoShowNext);
        assert_eq!(
            b.command(),
            Command::RoomNoShowNext {
                room: RoomId::parse("room-2").unwrap()
            }
        );
        for (bad, needle) in [
            ("room-1", "room:action"),
            ("room-1:jump", "unknown action"),
            (":next", "room id"),
            ("Room 1:next", "room id"),
        ] {
            let e = bad.parse::<Binding>().unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn pull_and_level_read_any_case_and_write_back() {
        assert_eq!(" DOWN ".parse::<Pull>().unwrap(), Pull::Down);
        assert_eq!(Pull::Off.to_string(), "off");
        assert_eq!("High".parse::<Level>().unwrap(), Level::High);
        assert_eq!(Level::Low.to_string(), "low");
        let e = "sideways".parse::<Pull>().unwrap_err().to_string();
        assert!(e.contains("must be up, down or off"), "{e}");
        let e = "1".parse::<Level>().unwrap_err().to_string();
        assert!(e.contains("must be low or high"), "{e}");
    }

    #[test]
    fn settings_read_from_toml_and_write_back_as_text() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Button {
            pull: Pull,
            active: Level,
            short: InputAction,
            #[serde(with = "blank_is_none")]
            double: Option<InputAction>,
            target: Binding,
        }
        let text = "pull = \"up\"\nactive = \"low\"\nshort = \"no_show\"\ndouble = \"\"\n\
                    target = \"room-1:recall\"\n";
        let button: Button = toml::from_str(text).unwrap();
        assert_eq!(button.short, InputAction::NoShow);
        assert_eq!(button.double, None);
        let back = toml::to_string(&button).unwrap();
        assert!(back.contains("short = \"no-show\""), "{back}");
        assert!(back.contains("double = \"\""), "{back}");
        assert_eq!(toml::from_str::<Button>(&back).unwrap(), button);
        let e = toml::from_str::<Button>(&text.replace("recall", "jump"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 5") && e.contains("unknown action"), "{e}");
    }
}
