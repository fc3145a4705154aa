//! Configuration of the machine: defaults → file → environment → command-line flags.
//!
//! `Config::default()` is the only place defaults live; `config.example.toml` documents every
//! key with its default and environment variable (a test keeps the two equal). What belongs to
//! the clinic (services, rooms, names) lives in the database, not here. Every key can be set as
//! `WAITLESS_<SECTION>__<KEY>` (`WAITLESS_QUEUE__DEBOUNCE_MS=1500`); the top-level `bind` and
//! `data` as `WAITLESS_BIND` and `WAITLESS_DATA`, like their flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::domain::{ClinicCalendar, Policy, Starvation};

/// Everything that can be configured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to serve on.
    pub bind: String,
    /// The data folder (the database lives there).
    pub data: PathBuf,
    /// The clinic's calendar.
    pub clinic: ClinicConfig,
    /// The queue's rules.
    pub queue: QueueConfig,
    /// The HTTP server.
    pub http: HttpConfig,
    /// The database.
    pub store: StoreConfig,
    /// The kiosk, displays and status pages.
    pub screens: ScreensConfig,
    /// Spoken announcements.
    pub voice: VoiceConfig,
    /// Logging.
    pub log: LogConfig,
}

/// The kiosk, displays and status pages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreensConfig {
    /// Languages offered on the kiosk, in this order (codes of `assets/i18n/*.toml`); the first
    /// is the default of every page.
    pub languages: Vec<String>,
    /// The kiosk goes back to its start this many seconds after showing a ticket.
    pub kiosk_reset_secs: u64,
    /// The kiosk asks whether the patient needs priority (elderly, disabled, pregnant).
    pub kiosk_priority: bool,
    /// Languages the displays announce calls in, one after the other.
    pub announce_languages: Vec<String>,
    /// Base URL of the patient status links in QR codes (e.g. `http://waitless.local`); empty:
    /// the address the kiosk itself uses.
    pub public_url: String,
}

/// Spoken announcements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceConfig {
    /// The espeak-ng program that renders announcements to sound; empty: no voice (chime only).
    pub espeak: String,
    /// Also play each announcement on this machine's own audio output (`aplay`).
    pub appliance_audio: bool,
}

/// The clinic's calendar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClinicConfig {
    /// IANA time zone (`Asia/Kolkata`); empty: the system's.
    pub timezone: String,
    /// Local time (`HH:MM`) at which a clinic day starts and numbers restart.
    pub day_starts_at: String,
}

/// The queue's rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// A second "next" from the same room within this many milliseconds is ignored.
    pub debounce_ms: u64,
    /// A room's last "next" can be undone for this many seconds.
    pub undo_window_secs: u64,
    /// Anti-starvation: a ticket is passed over by later, higher-class tickets at most this many
    /// times (0 turns anti-starvation off).
    pub starvation_max_passes: u32,
    /// Anti-starvation: passes count once a ticket has waited this many minutes.
    pub starvation_after_mins: u64,
    /// Service time assumed for a room with no history yet, minutes.
    pub default_service_mins: f64,
    /// Token numbers are zero-padded to this many digits (`A001`).
    pub number_digits: u8,
    /// The same Idempotency-Key within this many seconds returns the same ticket.
    pub idempotency_window_secs: u64,
}

/// The HTTP server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Worker threads; 0: one per CPU core.
    pub workers: usize,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// WebSocket ping interval, seconds; a client silent for three intervals is dropped.
    pub ws_heartbeat_secs: u64,
    /// Seconds to wait for open connections at shutdown.
    pub shutdown_timeout_secs: u64,
}

/// The database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Wait for the disk (fsync) before acknowledging a command. Only turn off for tests.
    pub fsync: bool,
    /// redb page cache, MiB.
    pub cache_mib: usize,
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace`, or a filter like `waitless=debug`
    /// (`RUST_LOG` overrides it).
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0:8080".to_owned(),
            data: PathBuf::from("./data"),
            clinic: ClinicConfig {
                timezone: String::new(),
                day_starts_at: "04:00".to_owned(),
            },
            queue: QueueConfig {
                debounce_ms: 2_000,
                undo_window_secs: 120,
                starvation_max_passes: 3,
                starvation_after_mins: 10,
                default_service_mins: 8.0,
                number_digits: 3,
                idempotency_window_secs: 600,
            },
            http: HttpConfig {
                workers: 0,
                max_body_bytes: 16 * 1024,
                ws_heartbeat_secs: 5,
                shutdown_timeout_secs: 5,
            },
            store: StoreConfig {
                fsync: true,
                cache_mib: 4,
            },
            screens: ScreensConfig {
                languages: vec!["en".to_owned(), "hi".to_owned()],
                kiosk_reset_secs: 20,
                kiosk_priority: true,
                announce_languages: vec!["en".to_owned(), "hi".to_owned()],
                public_url: String::new(),
            },
            voice: VoiceConfig {
                espeak: "espeak-ng".to_owned(),
                appliance_audio: false,
            },
            log: LogConfig {
                level: "info".to_owned(),
            },
        }
    }
}

/// Each section's default is its part of `Config::default()`, so defaults live in one place.
macro_rules! section_defaults {
    ($($section:ident: $ty:ty),*) => {$(
        impl Default for $ty {
            fn default() -> Self {
                Config::default().$section
            }
        }
    )*};
}

section_defaults!(
    clinic: ClinicConfig,
    queue: QueueConfig,
    http: HttpConfig,
    store: StoreConfig,
    screens: ScreensConfig,
    voice: VoiceConfig,
    log: LogConfig
);

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid (TOML syntax, unknown key, wrong type).
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// An environment variable is not valid.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("setting {key}: {message}")]
    Invalid {
        /// The key, `section.key`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Prefix of every environment variable.
pub const ENV_PREFIX: &str = "WAITLESS_";

/// Variables handled by the command line (clap), not by the `SECTION__KEY` overlay.
const FLAG_VARS: [&str; 3] = ["WAITLESS_CONFIG", "WAITLESS_BIND", "WAITLESS_DATA"];

impl Config {
    /// Loads defaults, then `file` (if any), then `WAITLESS_<SECTION>__<KEY>` variables from
    /// `env`, and validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Overlays `WAITLESS_<SECTION>__<KEY>` variables.
    fn apply_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !FLAG_VARS.contains(&name.as_str()))
            .collect();
        if vars.is_empty() {
            return Ok(());
        }
        vars.sort();
        let mut table = toml::Table::try_from(&*self).map_err(|e| ConfigError::Env {
            name: ENV_PREFIX.to_owned(),
            message: e.to_string(),
        })?;
        for (name, raw) in &vars {
            let env_error = |message: String| ConfigError::Env {
                name: name.clone(),
                message,
            };
            let rest = &name[ENV_PREFIX.len()..];
            let Some((section, key)) = rest.split_once("__") else {
                return Err(env_error(
                    "unknown setting: use WAITLESS_<SECTION>__<KEY>, e.g. WAITLESS_QUEUE__DEBOUNCE_MS"
                        .to_owned(),
                ));
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let Some(toml::Value::Table(section_table)) = table.get_mut(&section) else {
                return Err(env_error(format!("unknown section [{section}]")));
            };
            if !section_table.contains_key(&key) {
                return Err(env_error(format!("unknown key {key} in [{section}]")));
            }
            section_table.insert(key, env_value(raw));
        }
        *self = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Env {
                name: vars
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                message: e.message().to_owned(),
            })?;
        Ok(())
    }

    /// Checks ranges and formats.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if self.bind.parse::<SocketAddr>().is_err() {
            return invalid(
                "bind",
                &format!(
                    "{:?} is not an address and port, e.g. 0.0.0.0:8080",
                    self.bind
                ),
            );
        }
        if self.data.as_os_str().is_empty() {
            return invalid("data", "must name a folder");
        }
        self.calendar()?;
        let q = &self.queue;
        if !(1..=6).contains(&q.number_digits) {
            return invalid("queue.number_digits", "must be 1 to 6");
        }
        if !(q.default_service_mins.is_finite() && q.default_service_mins > 0.0) {
            return invalid("queue.default_service_mins", "must be a positive number");
        }
        if q.debounce_ms > 60_000 {
            return invalid("queue.debounce_ms", "must be at most 60000 (one minute)");
        }
        if q.undo_window_secs > 3_600 {
            return invalid("queue.undo_window_secs", "must be at most 3600 (one hour)");
        }
        if self.http.max_body_bytes < 1_024 {
            return invalid("http.max_body_bytes", "must be at least 1024");
        }
        if self.http.ws_heartbeat_secs == 0 {
            return invalid("http.ws_heartbeat_secs", "must be at least 1");
        }
        if self.store.cache_mib == 0 {
            return invalid("store.cache_mib", "must be at least 1");
        }
        if self.screens.languages.is_empty() {
            return invalid(
                "screens.languages",
                "name at least one language, e.g. [\"en\"]",
            );
        }
        if !(3..=600).contains(&self.screens.kiosk_reset_secs) {
            return invalid("screens.kiosk_reset_secs", "must be 3 to 600");
        }
        if !(self.screens.public_url.is_empty()
            || self.screens.public_url.starts_with("http://")
            || self.screens.public_url.starts_with("https://"))
        {
            return invalid(
                "screens.public_url",
                "must start with http:// or https:// (or be empty)",
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(
                "log.level",
                "use error, warn, info, debug, trace or a filter like waitless=debug",
            );
        }
        Ok(())
    }

    /// The clinic calendar (time zone and day start).
    pub fn calendar(&self) -> Result<ClinicCalendar, ConfigError> {
        let tz = if self.clinic.timezone.is_empty() {
            TimeZone::try_system().unwrap_or(TimeZone::UTC)
        } else {
            TimeZone::get(&self.clinic.timezone).map_err(|_| ConfigError::Invalid {
                key: "clinic.timezone",
                message: format!(
                    "unknown time zone {:?}: use an IANA name like Asia/Kolkata",
                    self.clinic.timezone
                ),
            })?
        };
        let start: Time = self
            .clinic
            .day_starts_at
            .parse()
            .map_err(|_| ConfigError::Invalid {
                key: "clinic.day_starts_at",
                message: format!(
                    "{:?} is not a time of day: use HH:MM, e.g. 04:00",
                    self.clinic.day_starts_at
                ),
            })?;
        Ok(ClinicCalendar::new(tz, start))
    }

    /// The queue's rules for the domain.
    pub fn policy(&self) -> Policy {
        let q = &self.queue;
        let secs = |s: u64| SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX));
        Policy {
            debounce: SignedDuration::from_millis(i64::try_from(q.debounce_ms).unwrap_or(0)),
            undo_window: secs(q.undo_window_secs),
            starvation: (q.starvation_max_passes > 0).then(|| Starvation {
                max_passes: q.starvation_max_passes,
                after: secs(q.starvation_after_mins.saturating_mul(60)),
            }),
            default_service_secs: q.default_service_mins * 60.0,
            number_digits: usize::from(q.number_digits),
            idempotency_window: secs(q.idempotency_window_secs),
        }
    }

    /// The database file inside the data folder.
    pub fn database_path(&self) -> PathBuf {
        self.data.join("waitless.redb")
    }
}

/// Reads an environment value as a TOML value (number, boolean, quoted string...), or as a plain
/// string when it is not one.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../config.example.toml");

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn example_file_equals_defaults_and_documents_every_key() {
        let example: Config = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(example, Config::default());
        let documented: toml::Table = EXAMPLE.parse().unwrap();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        for (key, value) in &defaults {
            match value {
                toml::Value::Table(section) => {
                    let doc = documented[key].as_table().unwrap();
                    for k in section.keys() {
                        assert!(doc.contains_key(k), "{key}.{k} is not in the example");
                        let var = format!("WAITLESS_{}__{}", key, k).to_ascii_uppercase();
                        assert!(EXAMPLE.contains(&var), "{var} is not in the example");
                    }
                }
                _ => {
                    assert!(documented.contains_key(key), "{key} is not in the example");
                    let var = format!("WAITLESS_{key}").to_ascii_uppercase();
                    assert!(EXAMPLE.contains(&var), "{var} is not in the example");
                }
            }
        }
    }

    #[test]
    fn bad_file_reports_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:80\"\n\n[queue]\ndebounce_ms = \"soon\"\n",
        )
        .unwrap();
        let err = Config::load(Some(&path), []).unwrap_err().to_string();
        assert!(err.contains("config.toml"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("debounce_ms"), "{err}");
    }

    #[test]
    fn unknown_key_in_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[queue]\ndebunce_ms = 10\n").unwrap();
        let err = Config::load(Some(&path), []).unwrap_err().to_string();
        assert!(err.contains("debunce_ms"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[queue]\ndebounce_ms = 10\nundo_window_secs = 30\n").unwrap();
        let config = Config::load(
            Some(&path),
            env(&[
                ("WAITLESS_QUEUE__DEBOUNCE_MS", "1500"),
                ("WAITLESS_CLINIC__TIMEZONE", "Asia/Kolkata"),
                ("WAITLESS_STORE__FSYNC", "false"),
                ("PATH", "/bin"),
                ("WAITLESS_BIND", "ignored-here"),
            ]),
        )
        .unwrap();
        assert_eq!(config.queue.debounce_ms, 1500);
        assert_eq!(config.queue.undo_window_secs, 30);
        assert_eq!(config.clinic.timezone, "Asia/Kolkata");
        assert!(!config.store.fsync);
    }

    #[test]
    fn bad_environment_names_the_variable() {
        for (vars, needle) in [
            (
                env(&[("WAITLESS_QUEUE__DEBOUNCE_MS", "soon")]),
                "WAITLESS_QUEUE__DEBOUNCE_MS",
            ),
            (env(&[("WAITLESS_QUEUE__NOPE", "1")]), "unknown key nope"),
            (env(&[("WAITLESS_NOPE__X", "1")]), "unknown section"),
            (env(&[("WAITLESS_LEVEL", "1")]), "WAITLESS_<SECTION>__<KEY>"),
        ] {
            let err = Config::load(None, vars).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for (vars, key) in [
            (
                env(&[("WAITLESS_CLINIC__TIMEZONE", "Mars/Olympus")]),
                "clinic.timezone",
            ),
            (
                env(&[("WAITLESS_CLINIC__DAY_STARTS_AT", "25:00")]),
                "clinic.day_starts_at",
            ),
            (
                env(&[("WAITLESS_QUEUE__NUMBER_DIGITS", "0")]),
                "queue.number_digits",
            ),
            (
                env(&[("WAITLESS_HTTP__MAX_BODY_BYTES", "10")]),
                "http.max_body_bytes",
            ),
        ] {
            let err = Config::load(None, vars).unwrap_err().to_string();
            assert!(err.contains(key), "{err} should mention {key}");
        }
        let config = Config {
            bind: "localhost".to_owned(),
            ..Config::default()
        };
        assert!(config.validate().unwrap_err().to_string().contains("bind"));
    }

    #[test]
    fn policy_follows_the_queue_settings() {
        let mut config = Config::default();
        config.queue.starvation_max_passes = 0;
        assert_eq!(config.policy().starvation, None);
        assert_eq!(config.policy().debounce, SignedDuration::from_secs(2));
    }
}
