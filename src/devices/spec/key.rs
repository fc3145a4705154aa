//! Key names of keypads and pedals, as evdev names them (`KEY_SPACE`, `BTN_LEFT`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{SpecError, text_value};

/// Examples of key names, for error messages.
const KEY_NAME_EXAMPLES: &str = "KEY_SPACE, KEY_B, KEY_KP1, KEY_ENTER, KEY_PAGEDOWN or BTN_LEFT";

/// The Linux key code of a key name, as evdev names them: `KEY_SPACE`, `KEY_B`, `KEY_KP1`,
/// `BTN_LEFT` (see `/usr/include/linux/input-event-codes.h`, or press the key with
/// `evtest`). Case does not matter, and the `KEY_` prefix may be left out: `space`, `b`,
/// `kp1` are `KEY_SPACE`, `KEY_B`, `KEY_KP1`. Buttons keep their prefix (`BTN_LEFT`).
pub fn key_code(name: &str) -> Result<u16, SpecError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("KEY_") || upper.starts_with("BTN_") {
        upper
    } else {
        format!("KEY_{upper}")
    };
    full.parse::<::evdev::KeyCode>()
        .map(|k| k.code())
        .map_err(|_| {
            SpecError(format!(
                "unknown key {name:?}: use an evdev key name such as {KEY_NAME_EXAMPLES} \
                 (`evtest` shows the names of a device's keys)"
            ))
        })
}

/// The evdev name of a key code (`KEY_SPACE`), or `KEY_<code>` for a code evdev has no name
/// for.
pub fn key_name(code: u16) -> String {
    let name = format!("{:?}", ::evdev::KeyCode::new(code));
    if name.starts_with("KEY_") || name.starts_with("BTN_") {
        name
    } else {
        format!("KEY_{code}")
    }
}

/// A key of a keypad, as written in the configuration (`space`, `KEY_B`), with its code.
/// Ordered and shown as written, so two spellings of one key stay two entries.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyName {
    written: String,
    code: u16,
}

impl KeyName {
    /// The Linux key code.
    pub fn code(&self) -> u16 {
        self.code
    }
}

impl FromStr for KeyName {
    type Err = SpecError;
    fn from_str(name: &str) -> Result<Self, SpecError> {
        Ok(Self {
            code: key_code(name)?,
            written: name.to_owned(),
        })
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

text_value!(KeyName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_evdev_names_in_any_case_with_or_without_key_prefix() {
        for (name, code) in [
            ("KEY_SPACE", 57),
            ("key_space", 57),
            ("space", 57),
            ("KEY_B", 48),
            ("b", 48),
            (" KEY_KP1 ", 79),
            ("kp1", 79),
            ("KEY_ENTER", 28),
            ("BTN_LEFT", 0x110),
            ("btn_left", 0x110),
            ("KEY_PAGEDOWN", 109),
        ] {
            assert_eq!(key_code(name).unwrap(), code, "{name}");
            let key: KeyName = name.parse().unwrap();
            assert_eq!((key.code(), key.to_string().as_str()), (code, name));
        }
        assert_eq!(key_name(57), "KEY_SPACE");
        assert_eq!(key_name(0x110), "BTN_LEFT");
    }

    #[test]
    fn unknown_key_names_are_refused_with_examples() {
        for bad in ["KEY_FOOBAR", "", "BTN_SPACE", "a b", "57"] {
            let e = bad.parse::<KeyName>().unwrap_err().to_string();
            assert!(
                e.contains("KEY_SPACE") && e.contains("BTN_LEFT"),
                "{bad}: {e}"
            );
        }
    }
}
