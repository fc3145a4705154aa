//! Messages: every visible text of waitless, per language, from `assets/i18n/<code>.toml`.
//!
//! A message file has sections (`[kiosk]`, `[display]`, …) of `key = "text"` with `{name}`
//! placeholders. English (`en`) is the reference: every other file must have exactly its keys
//! and placeholders (checked at start and by a test), so a missing translation is caught before
//! a patient sees a blank. Adding a language is adding one file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// The reference language.
pub const REFERENCE: &str = "en";

/// One language's messages.
#[derive(Clone, Debug, Serialize)]
pub struct Catalog {
    /// Language code (`hi`).
    pub code: String,
    /// The language's own name (`हिन्दी`).
    pub name: String,
    /// espeak-ng voice.
    pub voice: String,
    /// `ltr` or `rtl`.
    pub dir: String,
    /// `section.key` → text.
    pub messages: BTreeMap<String, String>,
}

/// Every language.
#[derive(Clone, Debug)]
pub struct Catalogs {
    catalogs: BTreeMap<String, Catalog>,
}

/// A message file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum I18nError {
    /// Not valid TOML or not the expected shape.
    #[error("message file {file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Keys or placeholders differ from the reference.
    #[error("message file {file} does not match en.toml: {message}")]
    Mismatch {
        /// The file.
        file: String,
        /// What differs.
        message: String,
    },
    /// No reference language.
    #[error("there is no en.toml message file")]
    NoReference,
}

/// The `{names}` a message takes.
pub fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

impl Catalog {
    /// Parses one message file.
    pub fn parse(file: &str, text: &str) -> Result<Self, I18nError> {
        let invalid = |message: String| I18nError::Invalid {
            file: file.to_owned(),
            message,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        let mut messages = BTreeMap::new();
        let mut meta = BTreeMap::new();
        for (section, value) in &table {
            let toml::Value::Table(entries) = value else {
                return Err(invalid(format!("{section} is not a [section]")));
            };
            for (key, value) in entries {
                let toml::Value::String(text) = value else {
                    return Err(invalid(format!("{section}.{key} is not a string")));
                };
                if section == "meta" {
                    meta.insert(key.clone(), text.clone());
                } else {
                    messages.insert(format!("{section}.{key}"), text.clone());
                }
            }
        }
        let mut field = |name: &str| {
            meta.remove(name)
                .ok_or_else(|| invalid(format!("[meta] has no {name}")))
        };
        Ok(Self {
            code: field("code")?,
            name: field("name")?,
            voice: field("voice")?,
            dir: field("dir")?,
            messages,
        })
    }

    /// A message (`kiosk.welcome`), or the key itself when missing (never blank).
    pub fn text<'a>(&'a self, key: &'a str) -> &'a str {
        self.messages.get(key).map_or(key, String::as_str)
    }

    /// A message with its `{placeholders}` filled.
    pub fn format(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.text(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

impl Catalogs {
    /// Parses and checks the message files (`(file name, text)`).
    pub fn parse<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, I18nError> {
        let mut catalogs = BTreeMap::new();
        for (file, text) in files {
            let catalog = Catalog::parse(file, text)?;
            catalogs.insert(catalog.code.clone(), catalog);
        }
        let reference = catalogs.get(REFERENCE).ok_or(I18nError::NoReference)?;
        for catalog in catalogs.values() {
            let mismatch = |message: String| I18nError::Mismatch {
                file: format!("{}.toml", catalog.code),
                message,
            };
            for key in reference.messages.keys() {
                if !catalog.messages.contains_key(key) {
                    return Err(mismatch(format!("{key} is missing")));
                }
            }
            for (key, text) in &catalog.messages {
                let Some(reference_text) = reference.messages.get(key) else {
                    return Err(mismatch(format!("{key} is not in en.toml")));
                };
                if placeholders(text) != placeholders(reference_text) {
                    return Err(mismatch(format!(
                        "{key} must use the placeholders {:?}",
                        placeholders(reference_text)
                    )));
                }
            }
        }
        Ok(Self { catalogs })
    }

    /// A language, or English when unknown.
    pub fn get(&self, code: &str) -> &Catalog {
        self.catalogs
            .get(code)
            .or_else(|| self.catalogs.get(REFERENCE))
            .or_else(|| self.catalogs.values().next())
            .unwrap_or_else(|| unreachable_catalog())
    }

    /// Whether a language exists.
    pub fn has(&self, code: &str) -> bool {
        self.catalogs.contains_key(code)
    }

    /// Every language.
    pub fn all(&self) -> impl Iterator<Item = &Catalog> {
        self.catalogs.values()
    }
}

/// `parse` refuses a set without English, so `get` always finds one; this keeps it total.
fn unreachable_catalog() -> &'static Catalog {
    static EMPTY: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Catalog {
        code: REFERENCE.to_owned(),
        name: "English".to_owned(),
        voice: "en".to_owned(),
        dir: "ltr".to_owned(),
        messages: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &str = include_str!("../assets/i18n/en.toml");
    const HI: &str = include_str!("../assets/i18n/hi.toml");

    #[test]
    fn shipped_languages_are_complete() {
        let catalogs = Catalogs::parse([("en.toml", EN), ("hi.toml", HI)]).unwrap();
        assert_eq!(catalogs.get("hi").name, "हिन्दी");
        assert_eq!(catalogs.get("xx").code, "en");
        assert!(catalogs.get("en").messages.len() > 50);
    }

    #[test]
    fn a_missing_key_or_placeholder_is_refused() {
        let broken = HI.replace("welcome = ", "welcomed = ");
        let err = Catalogs::parse([("en.toml", EN), ("hi.toml", broken.as_str())]).unwrap_err();
        assert!(err.to_string().contains("kiosk.welcome"), "{err}");
        let broken = HI.replace("{room}", "{kamra}");
        let err = Catalogs::parse([("en.toml", EN), ("hi.toml", broken.as_str())]).unwrap_err();
        assert!(err.to_string().contains("placeholders"), "{err}");
    }

    /// The string literals that look like error codes (`room-not-found`, `forbidden`) in the
    /// part of `source` from `start` to the next `end`.
    fn codes_in<'a>(source: &'a str, start: &str, end: &str) -> Vec<&'a str> {
        let from = source
            .find(start)
            .unwrap_or_else(|| panic!("no {start:?} in the source"));
        let part = &source[from..];
        let part = &part[..part.find(end).unwrap_or(part.len())];
        part.split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| {
                !s.is_empty()
                    && !s.starts_with('-')
                    && !s.ends_with('-')
                    && s.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .collect()
    }

    #[test]
    fn every_error_code_of_the_server_has_a_text() {
        let sources = [
            (
                include_str!("web/error.rs"),
                "fn status_and_code",
                "fn body",
            ),
            (include_str!("domain/error.rs"), "fn code(", "\n    }\n}"),
            (include_str!("engine.rs"), "fn code(", "\n    }\n}"),
            (include_str!("auth/mod.rs"), "fn code(", "\n    }\n}"),
            (include_str!("staff.rs"), "fn code(", "\n    }\n}"),
            (include_str!("control.rs"), "fn code(", "\n    }\n}"),
            (include_str!("web/ws.rs"), "code: \"", ","),
            (
                include_str!("domain/appointments/mod.rs"),
                "fn code(",
                "\n    }\n}",
            ),
        ];
        let catalogs = Catalogs::parse([("en.toml", EN), ("hi.toml", HI)]).unwrap();
        let mut seen = 0;
        for (source, start, end) in sources {
            for code in codes_in(source, start, end) {
                seen += 1;
                for lang in ["en", "hi"] {
                    let key = format!("errors.{code}");
                    assert!(
                        catalogs.get(lang).messages.contains_key(&key),
                        "{lang}.toml has no [errors] {code} (the text a page shows for it)"
                    );
                }
            }
        }
        assert!(
            seen > 50,
            "only {seen} codes found: did the sources change shape?"
        );
        for key in ["errors.generic", "errors.offline", "errors.internal"] {
            assert!(catalogs.get("en").messages.contains_key(key), "{key}");
        }
        assert_eq!(
            catalogs.get("en").text("errors.forbidden"),
            "Your role cannot do that."
        );
    }

    #[test]
    fn format_fills_placeholders() {
        let catalogs = Catalogs::parse([("en.toml", EN)]).unwrap();
        let en = catalogs.get("en");
        assert_eq!(
            en.format("announce.call", &[("number", "A 42"), ("room", "Room 2")]),
            "Token A 42, please go to Room 2"
        );
        assert_eq!(en.text("no.such.key"), "no.such.key");
    }
}
