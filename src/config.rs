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

use crate::devices::spec::{
    Binding, FrameKind, Framing, InputAction, KeyName, Level, PrinterUri, Pull, blank_is_none,
};
use crate::domain::{ClinicCalendar, Policy, RoomId, Starvation};

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
    /// HTTPS.
    pub tls: TlsConfig,
    /// The database.
    pub store: StoreConfig,
    /// The nightly backup.
    pub backup: BackupConfig,
    /// Appointments: arrivals and the public booking page.
    pub appointments: AppointmentsConfig,
    /// The kiosk, displays and status pages.
    pub screens: ScreensConfig,
    /// Spoken announcements.
    pub voice: VoiceConfig,
    /// The ticket printer.
    pub printer: PrinterConfig,
    /// GPIO push buttons and LEDs (Raspberry Pi).
    pub gpio: GpioConfig,
    /// Serial pager and keypad receivers.
    pub serial: SerialConfig,
    /// USB keypads and foot pedals.
    pub keys: KeysConfig,
    /// Text messages and emails to patients.
    pub notify: NotifyConfig,
    /// Shipping the event log to a central PostgreSQL (many sites, one view).
    pub central: CentralConfig,
    /// Logging.
    pub log: LogConfig,
    /// `/metrics` for Prometheus.
    pub metrics: MetricsConfig,
}

/// The ticket printer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrinterConfig {
    /// Where the printer is: `tcp://HOST:9100`, `serial:///dev/ttyUSB0?baud=19200`,
    /// `usb://VID:PID` (hex), `file:///dev/usb/lp0`, `fake` (records tickets, shows them at
    /// /printer) or `none`.
    pub uri: PrinterUri,
    /// Paper width in millimetres: 58 or 80.
    pub paper_mm: u16,
    /// A line printed at the bottom of every ticket (empty: none).
    pub footer: String,
    /// Print the QR code of the patient's status page.
    pub qr: bool,
    /// How often to ask the printer for its status (paper, cover, online), seconds.
    pub status_poll_secs: u64,
    /// After a failed print, try again this many seconds later.
    pub retry_secs: u64,
    /// Print jobs kept while the printer is down; the oldest is dropped beyond this.
    pub max_queued_jobs: usize,
}

/// GPIO push buttons and LEDs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpioConfig {
    /// A level change must hold this long to count (contact bounce), milliseconds.
    pub debounce_ms: u64,
    /// A press held at least this long is a long press, milliseconds.
    pub long_press_ms: u64,
    /// A second press within this many milliseconds is a double press (only for buttons that
    /// have a `double` action).
    pub double_press_ms: u64,
    /// A room's LED blinks this many seconds when the room calls a ticket.
    pub led_blink_secs: u64,
    /// The buttons.
    pub buttons: Vec<ButtonConfig>,
    /// One LED per room.
    pub leds: Vec<LedConfig>,
}

/// One GPIO push button.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonConfig {
    /// BCM pin number (GPIO17 is 17).
    pub pin: u8,
    /// The room it acts on.
    pub room: RoomId,
    /// Internal resistor: `up` (button to ground), `down` (button to 3.3 V) or `off`.
    #[serde(default = "ButtonConfig::default_pull")]
    pub pull: Pull,
    /// The level while pressed: `low` (with a pull-up) or `high`.
    #[serde(default = "ButtonConfig::default_active")]
    pub active: Level,
    /// Action of a short press.
    #[serde(default = "ButtonConfig::default_short")]
    pub short: InputAction,
    /// Action of a long press (empty: same as short).
    #[serde(default = "ButtonConfig::default_long", with = "blank_is_none")]
    pub long: Option<InputAction>,
    /// Action of a double press (empty: a second press is just another short press).
    #[serde(default, with = "blank_is_none")]
    pub double: Option<InputAction>,
}

impl ButtonConfig {
    fn default_pull() -> Pull {
        Pull::Up
    }
    fn default_active() -> Level {
        Level::Low
    }
    fn default_short() -> InputAction {
        InputAction::Next
    }
    fn default_long() -> Option<InputAction> {
        Some(InputAction::Recall)
    }
}

/// A room's call LED.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedConfig {
    /// BCM pin number.
    pub pin: u8,
    /// The room whose calls it shows.
    pub room: RoomId,
}

/// Serial pager and keypad receivers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SerialConfig {
    /// After the adapter disappears, try to open it again every this many seconds.
    pub reconnect_secs: u64,
    /// The receivers.
    pub receivers: Vec<ReceiverConfig>,
}

/// One serial receiver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// The port: `/dev/ttyUSB0`, `/dev/serial/by-id/...`.
    pub port: String,
    /// Bits per second.
    #[serde(default = "ReceiverConfig::default_baud")]
    pub baud: u32,
    /// Data bits, parity (N, E, O) and stop bits: `8N1`, `7E1`.
    #[serde(default = "ReceiverConfig::default_framing")]
    pub framing: Framing,
    /// How codes are delimited: `line` (ended by CR or LF) or `fixed:N` (N bytes each).
    #[serde(default = "ReceiverConfig::default_frame")]
    pub frame: FrameKind,
    /// What each code does: `"A1" = "room-1:next"`.
    #[serde(default)]
    pub codes: std::collections::BTreeMap<String, Binding>,
}

impl ReceiverConfig {
    /// A receiver on `port` at `baud` with the default framing and no codes (for
    /// `waitless devices learn --port`).
    pub fn new(port: String, baud: u32) -> Self {
        Self {
            port,
            baud,
            framing: Self::default_framing(),
            frame: Self::default_frame(),
            codes: Default::default(),
        }
    }
    fn default_baud() -> u32 {
        9600
    }
    fn default_framing() -> Framing {
        Framing::EIGHT_N_ONE
    }
    fn default_frame() -> FrameKind {
        FrameKind::Line
    }
}

/// USB keypads and foot pedals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Look for unplugged devices again every this many seconds.
    pub rescan_secs: u64,
    /// The devices.
    pub devices: Vec<KeypadConfig>,
}

/// One keypad or pedal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeypadConfig {
    /// The device: a path (`/dev/input/by-id/usb-...-event-kbd`) or its name as
    /// `waitless devices list` shows it.
    pub device: String,
    /// Take the device for waitless alone, so its keys do not also type into the desktop.
    #[serde(default = "KeypadConfig::default_grab")]
    pub grab: bool,
    /// What each key does: `KEY_SPACE = "room-1:next"`, `KEY_B = "room-1:recall"`.
    #[serde(default)]
    pub keys: std::collections::BTreeMap<KeyName, Binding>,
}

impl KeypadConfig {
    fn default_grab() -> bool {
        true
    }
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
    /// At most this many tickets a minute from one kiosk (address) without a login; 0: no
    /// limit.
    pub kiosk_tickets_per_minute: u32,
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
    /// Anti-starvation: a ticket is passed over by later urgent tickets and due appointments at
    /// most this many times (0 turns anti-starvation off). A priority ticket passes nobody: it
    /// counts as issued `priority_head_start_mins` earlier.
    pub starvation_max_passes: u32,
    /// Anti-starvation: passes count once a ticket has waited this many minutes.
    pub starvation_after_mins: u64,
    /// A priority ticket (elderly, disabled, pregnant) counts as issued this many minutes
    /// earlier: it goes before the walk-ins who came less than this before it (0: first come,
    /// first served for them too). At most 120.
    pub priority_head_start_mins: u64,
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

/// HTTPS (rustls). Checked by [`crate::tls::check`] (files) as well as [`Config::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve HTTPS instead of HTTP on `bind`.
    pub enabled: bool,
    /// Certificate chain (PEM), server certificate first; empty: a self-signed certificate in
    /// `<data>/tls/cert.pem`, made on the first start.
    pub cert: String,
    /// The certificate's private key (PEM); empty together with `cert`.
    pub key: String,
}

/// The database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Wait for the disk (fsync) before acknowledging a command. Only turn off for tests.
    pub fsync: bool,
    /// redb page cache, MiB.
    pub cache_mib: usize,
    /// Patients' names and phone numbers (when reception records them) are deleted this many
    /// days after they were recorded (checked at start and at every day close).
    pub patient_details_days: u32,
    /// When the database cannot be written for this many seconds (a full disk that does not
    /// heal), the engine stops feeding the systemd watchdog, so systemd restarts waitless;
    /// 0 = never.
    pub unwritable_restart_secs: u64,
}

/// The nightly backup to a second folder (a USB stick).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// The folder (absolute) the nightly backup writes `waitless-YYYY-MM-DD.redb` into; empty:
    /// no nightly backup.
    pub folder: String,
    /// Local time (`HH:MM`, the clinic's time zone) of the nightly backup.
    pub time: String,
    /// How many nightly backups (days) to keep in the folder; older ones are deleted.
    pub keep: u32,
}

/// Appointments (see docs/appointments.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppointmentsConfig {
    /// How many minutes before the slot a booked patient may check in (ordered by slot time).
    pub early_minutes: u32,
    /// How many minutes after the slot start a check-in still counts as on time; later the
    /// booking is a no-show, and a check-in gives a walk-in ticket.
    pub late_minutes: u32,
    /// Patients may book themselves on `/book` (off: the page and its API answer 404).
    pub public_booking: bool,
    /// Most bookings one client address may make on `/book` a minute.
    pub public_bookings_per_minute: u32,
    /// `/book` texts a one-time code to the patient's phone and books only with it (when a
    /// text-message transport is set, `notify.sms`; without one there is nothing to send it by).
    pub verify_phone: bool,
}

/// Text messages and emails to patients (see docs/notifications.md).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// How text messages go: `""` (none), `fake` (logged, not sent: a laptop),
    /// `modem:/dev/PORT` (a USB GSM modem) or `http` (an SMS gateway: the `sms_http_*` settings).
    pub sms: String,
    /// How emails go: `""` (none), `fake`, or `smtp` (the `smtp_*` settings).
    pub email: String,
    /// The language of a patient's messages when reception chose none.
    pub language: String,
    /// Tries before a message is given up as failed.
    pub max_attempts: u32,
    /// The pause after the first failed try, seconds; it doubles after each further one.
    pub retry_secs: u64,
    /// Most messages to one phone number or address in 24 hours (over it: failed, not sent).
    pub daily_cap: u32,
    /// Tell a waiting patient once when this many or fewer are ahead (0: never).
    pub near_ahead: u32,
    /// A first heads-up when this many or fewer are ahead (0: none; more than `near_ahead`).
    pub near_early: u32,
    /// Reminders of an appointment, minutes before its slot (e.g. `[1440, 120]`: a day and two
    /// hours before; empty: none).
    pub reminder_minutes: Vec<u32>,
    /// Hours when reminders are not sent, clinic time, `HH:MM-HH:MM` (across midnight when the
    /// first is later, e.g. `21:00-08:00`); empty: any hour. A reminder that would fall in them
    /// goes just before they begin.
    pub quiet_hours: String,
    /// How often each sender looks for due messages, seconds.
    pub poll_secs: u64,
    /// The SMTP server's host name.
    pub smtp_host: String,
    /// Its port (0: 25, 587 with `starttls`, 465 with `tls`).
    pub smtp_port: u16,
    /// `none` (plain, a relay on the LAN), `starttls` or `tls`.
    pub smtp_security: String,
    /// The login (empty: none).
    pub smtp_user: String,
    /// The password (never logged; prefer `WAITLESS_NOTIFY__SMTP_PASSWORD`).
    pub smtp_password: String,
    /// The sender, e.g. `Clinic <queue@clinic.example>`.
    pub email_from: String,
    /// The SMS gateway's URL (`notify.sms = "http"`), e.g. `http://192.168.1.50:8080/message`.
    pub sms_http_url: String,
    /// The body it is sent: `{to}` and `{text}` become JSON strings (`json`) or URL-encoded
    /// values (`form`).
    pub sms_http_body: String,
    /// Its `Authorization` header, e.g. `Bearer TOKEN` (never logged; empty: none).
    pub sms_http_auth: String,
    /// How the body is written: `json` (`application/json`) or `form`
    /// (`application/x-www-form-urlencoded`, body like `to={to}&text={text}`).
    pub sms_http_format: String,
    /// A known gateway's path, body and format: `""` (none) or `android-sms-gateway` (the
    /// "SMS Gateway for Android" app's local server, see docs/notifications.md).
    pub sms_http_preset: String,
    /// Basic auth user for the gateway (with `sms_http_password`; the preset's default: `sms`).
    pub sms_http_user: String,
    /// Basic auth password for the gateway (never logged; prefer
    /// `WAITLESS_NOTIFY__SMS_HTTP_PASSWORD`).
    pub sms_http_password: String,
    /// Where every committed event is POSTed as JSON (empty: no webhook).
    pub webhook_url: String,
    /// The key of the `X-Waitless-Signature` HMAC-SHA256 header (never logged; empty: unsigned).
    pub webhook_secret: String,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of log lines.
        f.debug_struct("NotifyConfig")
            .field("sms", &self.sms)
            .field("email", &self.email)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .finish_non_exhaustive()
    }
}

/// `/metrics`: the Prometheus text format for the operator's monitoring (docs/reports.md).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` (else it answers 404).
    pub enabled: bool,
    /// If set, a scrape must send `Authorization: Bearer <token>`; empty: no token asked.
    pub token: String,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("token", &if self.token.is_empty() { "" } else { "<set>" })
            .finish()
    }
}

/// Shipping the event log to a central PostgreSQL (see docs/multi-site.md). Off while `url`
/// is empty.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CentralConfig {
    /// The central database, `postgres://USER:PASSWORD@HOST:5432/DB?sslmode=require`; empty:
    /// off. Holds a password: never logged (prefer `WAITLESS_CENTRAL__URL`).
    pub url: String,
    /// This site's id in the central database (letters, digits, `-`, `_`, `.`; up to 64).
    pub site: String,
    /// Most events sent in one central transaction.
    pub batch: usize,
    /// The pause after the first failure, seconds; it doubles after each further one (with
    /// random jitter) up to `retry_max_secs`.
    pub retry_secs: u64,
    /// The longest pause between tries, seconds.
    pub retry_max_secs: u64,
    /// A CA certificate (PEM file) to trust besides the public roots (a private CA); empty:
    /// the public roots only.
    pub ca_file: String,
}

impl std::fmt::Debug for CentralConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL holds the password: only its redacted form.
        f.debug_struct("CentralConfig")
            .field("url", &crate::central::redact_url(&self.url))
            .field("site", &self.site)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
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
                priority_head_start_mins: 10,
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
            tls: TlsConfig {
                enabled: false,
                cert: String::new(),
                key: String::new(),
            },
            store: StoreConfig {
                fsync: true,
                cache_mib: 4,
                patient_details_days: 30,
                unwritable_restart_secs: 120,
            },
            backup: BackupConfig {
                folder: String::new(),
                time: "02:30".to_owned(),
                keep: 14,
            },
            appointments: AppointmentsConfig {
                early_minutes: 30,
                late_minutes: 15,
                public_booking: false,
                public_bookings_per_minute: 2,
                verify_phone: true,
            },
            screens: ScreensConfig {
                languages: vec!["en".to_owned(), "hi".to_owned()],
                kiosk_reset_secs: 20,
                kiosk_priority: true,
                kiosk_tickets_per_minute: 10,
                announce_languages: vec!["en".to_owned(), "hi".to_owned()],
                public_url: String::new(),
            },
            voice: VoiceConfig {
                espeak: "espeak-ng".to_owned(),
                appliance_audio: false,
            },
            printer: PrinterConfig {
                uri: PrinterUri::Fake,
                paper_mm: 80,
                footer: String::new(),
                qr: true,
                status_poll_secs: 5,
                retry_secs: 5,
                max_queued_jobs: 50,
            },
            gpio: GpioConfig {
                debounce_ms: 50,
                long_press_ms: 800,
                double_press_ms: 400,
                led_blink_secs: 5,
                buttons: Vec::new(),
                leds: Vec::new(),
            },
            serial: SerialConfig {
                reconnect_secs: 3,
                receivers: Vec::new(),
            },
            keys: KeysConfig {
                rescan_secs: 3,
                devices: Vec::new(),
            },
            notify: NotifyConfig {
                sms: String::new(),
                email: String::new(),
                language: "en".to_owned(),
                max_attempts: 5,
                retry_secs: 30,
                daily_cap: 10,
                near_ahead: 3,
                near_early: 10,
                reminder_minutes: vec![1440, 120],
                quiet_hours: "21:00-08:00".to_owned(),
                poll_secs: 5,
                smtp_host: String::new(),
                smtp_port: 0,
                smtp_security: "starttls".to_owned(),
                smtp_user: String::new(),
                smtp_password: String::new(),
                email_from: String::new(),
                sms_http_url: String::new(),
                sms_http_body: crate::notify::transport::DEFAULT_JSON_BODY.to_owned(),
                sms_http_auth: String::new(),
                sms_http_format: "json".to_owned(),
                sms_http_preset: String::new(),
                sms_http_user: String::new(),
                sms_http_password: String::new(),
                webhook_url: String::new(),
                webhook_secret: String::new(),
            },
            central: CentralConfig {
                url: String::new(),
                site: String::new(),
                batch: 500,
                retry_secs: 1,
                retry_max_secs: 300,
                ca_file: String::new(),
            },
            log: LogConfig {
                level: "info".to_owned(),
            },
            metrics: MetricsConfig {
                enabled: false,
                token: String::new(),
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
    tls: TlsConfig,
    store: StoreConfig,
    backup: BackupConfig,
    appointments: AppointmentsConfig,
    screens: ScreensConfig,
    voice: VoiceConfig,
    printer: PrinterConfig,
    gpio: GpioConfig,
    serial: SerialConfig,
    keys: KeysConfig,
    notify: NotifyConfig,
    central: CentralConfig,
    log: LogConfig,
    metrics: MetricsConfig
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
            section_table.insert(key.clone(), env_value(raw));
            // Read back after each variable, so a bad value names its own variable.
            *self = table.clone().try_into().map_err(|e: toml::de::Error| {
                env_error(format!("setting {section}.{key}: {}", e.message()))
            })?;
        }
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
        if q.priority_head_start_mins > 120 {
            return invalid(
                "queue.priority_head_start_mins",
                "must be at most 120 (two hours)",
            );
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
        if !(1..=3650).contains(&self.store.patient_details_days) {
            return invalid(
                "store.patient_details_days",
                "must be 1–3650 days (patients' names and phones are deleted after it)",
            );
        }
        self.backup_time()?;
        if !self.backup.folder.is_empty() && !Path::new(&self.backup.folder).is_absolute() {
            return invalid(
                "backup.folder",
                "must be an absolute path, e.g. /media/usb/waitless (or empty: no nightly backup)",
            );
        }
        if self.appointments.early_minutes > 240 {
            return invalid(
                "appointments.early_minutes",
                "must be 0 to 240 (minutes before the slot a check-in opens)",
            );
        }
        if self.appointments.late_minutes > 240 {
            return invalid(
                "appointments.late_minutes",
                "must be 0 to 240 (minutes after the slot start a check-in is on time)",
            );
        }
        if !(1..=3650).contains(&self.backup.keep) {
            return invalid("backup.keep", "must be 1 to 3650 (days of backups kept)");
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
        if self.tls.cert.is_empty() != self.tls.key.is_empty() {
            return invalid(
                "tls.cert",
                "set both tls.cert and tls.key (your own certificate), or neither (a self-signed \
                 one is made in the data folder)",
            );
        }
        self.validate_devices()?;
        self.validate_notify()?;
        self.validate_central()?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(
                "log.level",
                "use error, warn, info, debug, trace or a filter like waitless=debug",
            );
        }
        Ok(())
    }

    /// Checks `[central]` (nothing while it is off).
    fn validate_central(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let c = &self.central;
        if c.url.is_empty() {
            return Ok(());
        }
        if let Err(e) = crate::central::parse_url(&c.url) {
            // The error never repeats the URL: it may hold the password.
            return invalid("central.url", &e.to_string());
        }
        if c.site.is_empty()
            || c.site.len() > 64
            || !c
                .site
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
        {
            return invalid(
                "central.site",
                "name this site with 1 to 64 letters, digits, '-', '_' or '.', e.g. \"pune-1\" \
                 (needed with central.url)",
            );
        }
        if !(1..=5_000).contains(&c.batch) {
            return invalid("central.batch", "must be 1 to 5000 events");
        }
        if !(1..=3_600).contains(&c.retry_secs) {
            return invalid("central.retry_secs", "must be 1 to 3600");
        }
        if !(c.retry_secs..=86_400).contains(&c.retry_max_secs) {
            return invalid(
                "central.retry_max_secs",
                "must be at least central.retry_secs and at most 86400 (one day)",
            );
        }
        if !c.ca_file.is_empty() && !Path::new(&c.ca_file).is_absolute() {
            return invalid(
                "central.ca_file",
                "must be an absolute path to a PEM file (or empty: the public roots)",
            );
        }
        Ok(())
    }

    /// Checks `[notify]`.
    fn validate_notify(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let n = &self.notify;
        let modem = n.sms.strip_prefix("modem:");
        if !(matches!(n.sms.as_str(), "" | "fake" | "http")
            || modem.is_some_and(|p| p.starts_with('/')))
        {
            return invalid(
                "notify.sms",
                "must be \"\" (no text messages), \"fake\", \"modem:/dev/PORT\" (a GSM modem) \
                 or \"http\" (an SMS gateway)",
            );
        }
        if n.sms == "http" {
            crate::notify::transport::GatewaySettings::resolve(n)
                .map_err(|(key, message)| ConfigError::Invalid { key, message })?;
        }
        let web_url = |url: &str| url.starts_with("http://") || url.starts_with("https://");
        if !(n.webhook_url.is_empty() || web_url(&n.webhook_url)) {
            return invalid(
                "notify.webhook_url",
                "must be an http:// or https:// URL, e.g. https://hub.example/waitless (empty: \
                 no webhook)",
            );
        }
        if !matches!(n.email.as_str(), "" | "fake" | "smtp") {
            return invalid(
                "notify.email",
                "must be \"\" (no emails), \"fake\" or \"smtp\"",
            );
        }
        if !self.screens.languages.contains(&n.language) {
            return invalid(
                "notify.language",
                "must be one of screens.languages (the message files waitless has)",
            );
        }
        if !(1..=20).contains(&n.max_attempts) {
            return invalid("notify.max_attempts", "must be 1 to 20");
        }
        if !(1..=3_600).contains(&n.retry_secs) {
            return invalid("notify.retry_secs", "must be 1 to 3600");
        }
        if !(1..=1_000).contains(&n.daily_cap) {
            return invalid("notify.daily_cap", "must be 1 to 1000 messages a day");
        }
        if n.near_ahead > 50 {
            return invalid("notify.near_ahead", "must be 0 (off) to 50");
        }
        if n.near_early > 200 || (n.near_early != 0 && n.near_early <= n.near_ahead) {
            return invalid(
                "notify.near_early",
                "must be 0 (no heads-up) or more than notify.near_ahead, to 200",
            );
        }
        if n.reminder_minutes.len() > 4
            || n.reminder_minutes.iter().any(|m| !(5..=20_160).contains(m))
        {
            return invalid(
                "notify.reminder_minutes",
                "must be at most 4 reminders, each 5 to 20160 minutes (two weeks) before, \
                 e.g. [1440, 120]",
            );
        }
        if !n.quiet_hours.is_empty() && quiet_hours(&n.quiet_hours).is_none() {
            return invalid(
                "notify.quiet_hours",
                "must be HH:MM-HH:MM, e.g. 21:00-08:00, or \"\" for none",
            );
        }
        if !(1..=300).contains(&n.poll_secs) {
            return invalid("notify.poll_secs", "must be 1 to 300");
        }
        if !matches!(n.smtp_security.as_str(), "none" | "starttls" | "tls") {
            return invalid("notify.smtp_security", "must be none, starttls or tls");
        }
        if n.email == "smtp" {
            if n.smtp_host.is_empty() {
                return invalid(
                    "notify.smtp_host",
                    "name the SMTP server, e.g. smtp.example.com (notify.email = \"smtp\")",
                );
            }
            if n.email_from.parse::<lettre::message::Mailbox>().is_err() {
                return invalid(
                    "notify.email_from",
                    "must be an address, e.g. Clinic <queue@clinic.example>",
                );
            }
            if n.smtp_user.is_empty() != n.smtp_password.is_empty() {
                return invalid(
                    "notify.smtp_user",
                    "set both smtp_user and smtp_password, or neither",
                );
            }
        }
        Ok(())
    }

    /// Which notifications the engine queues.
    pub fn notify_rules(&self) -> crate::domain::notification::NotifyRules {
        use crate::domain::notification::{Channel, NotifyRules};
        let mut channels = Vec::new();
        if !self.notify.sms.is_empty() {
            channels.push(Channel::Sms);
        }
        if !self.notify.email.is_empty() {
            channels.push(Channel::Email);
        }
        NotifyRules {
            channels,
            language: self.notify.language.clone(),
            near_ahead: self.notify.near_ahead as usize,
            near_early: self.notify.near_early as usize,
            reminders: self.notify.reminder_minutes.clone(),
            quiet: quiet_hours(&self.notify.quiet_hours),
        }
    }

    /// Checks the device sections' ranges and pins (their strings were parsed when read).
    fn validate_devices(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| ConfigError::Invalid { key, message };
        let p = &self.printer;
        if !matches!(p.paper_mm, 58 | 80) {
            return Err(invalid("printer.paper_mm", "must be 58 or 80".to_owned()));
        }
        if p.status_poll_secs == 0 || p.retry_secs == 0 {
            return Err(invalid(
                "printer.status_poll_secs",
                "status_poll_secs and retry_secs must be at least 1".to_owned(),
            ));
        }
        if p.max_queued_jobs == 0 {
            return Err(invalid(
                "printer.max_queued_jobs",
                "must be at least 1".to_owned(),
            ));
        }
        let g = &self.gpio;
        if g.debounce_ms >= g.long_press_ms {
            return Err(invalid(
                "gpio.debounce_ms",
                "must be shorter than gpio.long_press_ms".to_owned(),
            ));
        }
        let mut pins = std::collections::BTreeSet::new();
        let buttons = g.buttons.iter().map(|b| ("gpio.buttons", b.pin));
        let leds = g.leds.iter().map(|l| ("gpio.leds", l.pin));
        for (key, pin) in buttons.chain(leds) {
            if pin > 27 || !pins.insert(pin) {
                return Err(invalid(
                    key,
                    format!("pin {pin} is not a free BCM pin 0 to 27"),
                ));
            }
        }
        for r in &self.serial.receivers {
            if r.port.is_empty() {
                return Err(invalid(
                    "serial.receivers",
                    "a receiver needs a port".to_owned(),
                ));
            }
            if r.baud == 0 {
                return Err(invalid(
                    "serial.receivers",
                    format!("{}: baud must be positive", r.port),
                ));
            }
        }
        if self.keys.devices.iter().any(|k| k.device.is_empty()) {
            return Err(invalid(
                "keys.devices",
                "a keypad needs a device".to_owned(),
            ));
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

    /// The local time of the nightly backup (`backup.time`).
    pub fn backup_time(&self) -> Result<Time, ConfigError> {
        let bad = || ConfigError::Invalid {
            key: "backup.time",
            message: format!(
                "{:?} is not a time of day: use HH:MM, e.g. 02:30",
                self.backup.time
            ),
        };
        // HH:MM exactly: "2:30 pm" or "02:30:00" are refused rather than guessed.
        let text = &self.backup.time;
        if text.len() != 5 || text.as_bytes().get(2) != Some(&b':') {
            return Err(bad());
        }
        text.parse().map_err(|_| bad())
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
            priority_head_start: secs(q.priority_head_start_mins.saturating_mul(60)),
        }
    }

    /// The database file inside the data folder.
    pub fn database_path(&self) -> PathBuf {
        self.data.join("waitless.redb")
    }
}

/// `HH:MM-HH:MM` as quiet hours (`None`: not that form, or both ends the same).
pub fn quiet_hours(text: &str) -> Option<crate::domain::notification::QuietHours> {
    let (start, end) = text.split_once('-')?;
    let time = |s: &str| -> Option<jiff::civil::Time> {
        let (h, m) = s.trim().split_once(':')?;
        jiff::civil::Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
    };
    let (start, end) = (time(start)?, time(end)?);
    (start != end).then_some(crate::domain::notification::QuietHours { start, end })
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

    const DEVICES: &str = r#"
[printer]
uri = "serial:///dev/ttyUSB1"

[[gpio.buttons]]
pin = 17
room = "room-1"
pull = "DOWN"
long = ""
double = "no_show"

[[gpio.leds]]
pin = 27
room = "room-1"

[[serial.receivers]]
port = "/dev/ttyUSB0"
framing = "7e1"
frame = "fixed:4"
codes = { A1 = "room-2:next" }

[[keys.devices]]
device = "pedal"
keys = { space = "room-1:recall", KEY_B = "room-2:undo" }
"#;

    #[test]
    fn device_settings_are_read_once_and_written_back_as_text() {
        let config: Config = toml::from_str(DEVICES).unwrap();
        config.validate().unwrap();
        let button = &config.gpio.buttons[0];
        assert_eq!((button.pull, button.active), (Pull::Down, Level::Low));
        assert_eq!(
            (button.short, button.long, button.double),
            (InputAction::Next, None, Some(InputAction::NoShow))
        );
        assert_eq!(config.serial.receivers[0].frame, FrameKind::Fixed(4));
        let effective = toml::to_string_pretty(&config).unwrap();
        for line in [
            "uri = \"serial:///dev/ttyUSB1?baud=19200\"",
            "double = \"no-show\"",
            "framing = \"7E1\"",
            "space = \"room-1:recall\"",
        ] {
            assert!(effective.contains(line), "{line} in {effective}");
        }
        assert_eq!(toml::from_str::<Config>(&effective).unwrap(), config);
    }

    #[test]
    fn bad_device_values_in_the_file_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        for (from, to, line, needle) in [
            ("serial:///dev/ttyUSB1", "lpt://1", "line 3", "printer URI"),
            ("\"room-1\"\npull", "\"Room 1\"\npull", "line 7", "room id"),
            ("DOWN", "sideways", "line 8", "must be up, down or off"),
            ("no_show", "jump", "line 10", "unknown action"),
            ("7e1", "8X1", "line 18", "parity must be N"),
            ("fixed:4", "fixed:0", "line 19", "1 to 64"),
            ("room-2:next", "room-2", "line 20", "room:action"),
            ("KEY_B", "KEY_NOPE", "line 24", "unknown key \"KEY_NOPE\""),
        ] {
            std::fs::write(&path, DEVICES.replacen(from, to, 1)).unwrap();
            let err = Config::load(Some(&path), []).unwrap_err().to_string();
            assert!(err.contains("config.toml"), "{err}");
            assert!(err.contains(line), "{to}: {err}");
            assert!(err.contains(needle), "{to}: {err}");
        }
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
                env(&[("WAITLESS_QUEUE__PRIORITY_HEAD_START_MINS", "600")]),
                "queue.priority_head_start_mins",
            ),
            (
                env(&[("WAITLESS_HTTP__MAX_BODY_BYTES", "10")]),
                "http.max_body_bytes",
            ),
            (env(&[("WAITLESS_BACKUP__TIME", "25:00")]), "backup.time"),
            (env(&[("WAITLESS_BACKUP__TIME", "2:30 pm")]), "backup.time"),
            (
                env(&[("WAITLESS_BACKUP__FOLDER", "media/usb")]),
                "backup.folder",
            ),
            (env(&[("WAITLESS_BACKUP__KEEP", "0")]), "backup.keep"),
            (env(&[("WAITLESS_NOTIFY__SMS", "pigeon")]), "notify.sms"),
            (
                env(&[("WAITLESS_NOTIFY__SMS", "modem:ttyUSB0")]),
                "notify.sms",
            ),
            (
                env(&[("WAITLESS_NOTIFY__EMAIL", "smtp")]),
                "notify.smtp_host",
            ),
            (
                env(&[
                    ("WAITLESS_NOTIFY__EMAIL", "smtp"),
                    ("WAITLESS_NOTIFY__SMTP_HOST", "mail"),
                    ("WAITLESS_NOTIFY__EMAIL_FROM", "not an address"),
                ]),
                "notify.email_from",
            ),
            (
                env(&[("WAITLESS_NOTIFY__LANGUAGE", "fr")]),
                "notify.language",
            ),
            (
                env(&[("WAITLESS_NOTIFY__MAX_ATTEMPTS", "0")]),
                "notify.max_attempts",
            ),
            (
                env(&[("WAITLESS_NOTIFY__DAILY_CAP", "0")]),
                "notify.daily_cap",
            ),
            (
                env(&[("WAITLESS_NOTIFY__SMTP_SECURITY", "ssl3")]),
                "notify.smtp_security",
            ),
            (
                env(&[("WAITLESS_NOTIFY__QUIET_HOURS", "25:00-08:00")]),
                "notify.quiet_hours",
            ),
            (
                env(&[("WAITLESS_NOTIFY__QUIET_HOURS", "late at night")]),
                "notify.quiet_hours",
            ),
            (
                env(&[("WAITLESS_NOTIFY__NEAR_EARLY", "2")]),
                "notify.near_early",
            ),
            (
                env(&[("WAITLESS_NOTIFY__REMINDER_MINUTES", "[1440, 1]")]),
                "notify.reminder_minutes",
            ),
            (
                env(&[("WAITLESS_NOTIFY__REMINDER_MINUTES", "soon")]),
                "notify.reminder_minutes",
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
    fn reminders_and_quiet_hours_are_read_from_the_environment() {
        let config = Config::load(
            None,
            env(&[
                ("WAITLESS_NOTIFY__REMINDER_MINUTES", "[60]"),
                ("WAITLESS_NOTIFY__QUIET_HOURS", "22:30-06:00"),
                ("WAITLESS_NOTIFY__NEAR_EARLY", "0"),
            ]),
        )
        .unwrap();
        let rules = config.notify_rules();
        assert_eq!(rules.reminders, [60]);
        assert_eq!(rules.near_early, 0);
        let quiet = rules.quiet.unwrap();
        assert_eq!(quiet.start, jiff::civil::time(22, 30, 0, 0));
        assert_eq!(quiet.end, jiff::civil::time(6, 0, 0, 0));
        let none = Config::load(None, env(&[("WAITLESS_NOTIFY__QUIET_HOURS", "")])).unwrap();
        assert_eq!(none.notify_rules().quiet, None);
    }

    #[test]
    fn notify_settings_come_from_the_environment_and_hide_the_password() {
        let config = Config::load(
            None,
            env(&[
                ("WAITLESS_NOTIFY__EMAIL", "smtp"),
                ("WAITLESS_NOTIFY__SMTP_HOST", "mail.example"),
                ("WAITLESS_NOTIFY__SMTP_USER", "queue"),
                ("WAITLESS_NOTIFY__SMTP_PASSWORD", "hunter2"),
                (
                    "WAITLESS_NOTIFY__EMAIL_FROM",
                    "Clinic <queue@clinic.example>",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(config.notify.smtp_password, "hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
        let rules = config.notify_rules();
        assert_eq!(
            rules.channels,
            vec![crate::domain::notification::Channel::Email]
        );
        assert_eq!(rules.language, "en");
        assert!(Config::default().notify_rules().channels.is_empty());
    }

    #[test]
    fn central_settings_come_from_the_environment_are_checked_and_hide_the_password() {
        let url = "postgres://site:hunter2@db.example:5432/clinics?sslmode=require";
        let config = Config::load(
            None,
            env(&[
                ("WAITLESS_CENTRAL__URL", url),
                ("WAITLESS_CENTRAL__SITE", "pune-1"),
            ]),
        )
        .unwrap();
        assert_eq!(config.central.url, url);
        assert!(!format!("{config:?}").contains("hunter2"));
        for (vars, key) in [
            (vec![("WAITLESS_CENTRAL__URL", url)], "central.site"),
            (
                vec![
                    ("WAITLESS_CENTRAL__URL", url),
                    ("WAITLESS_CENTRAL__SITE", "pune 1"),
                ],
                "central.site",
            ),
            (
                vec![
                    ("WAITLESS_CENTRAL__URL", "mysql://site:hunter2@db/clinics"),
                    ("WAITLESS_CENTRAL__SITE", "pune-1"),
                ],
                "central.url",
            ),
            (
                vec![
                    ("WAITLESS_CENTRAL__URL", url),
                    ("WAITLESS_CENTRAL__SITE", "pune-1"),
                    ("WAITLESS_CENTRAL__BATCH", "0"),
                ],
                "central.batch",
            ),
            (
                vec![
                    ("WAITLESS_CENTRAL__URL", url),
                    ("WAITLESS_CENTRAL__SITE", "pune-1"),
                    ("WAITLESS_CENTRAL__RETRY_SECS", "10"),
                    ("WAITLESS_CENTRAL__RETRY_MAX_SECS", "5"),
                ],
                "central.retry_max_secs",
            ),
        ] {
            match Config::load(None, env(&vars)) {
                Err(ConfigError::Invalid { key: k, message }) => {
                    assert_eq!(k, key, "{message}");
                    assert!(!message.contains("hunter2"), "{message}");
                }
                other => panic!("{vars:?}: {other:?}"),
            }
        }
        // off: nothing else is needed
        assert!(Config::load(None, env(&[("WAITLESS_CENTRAL__SITE", "")])).is_ok());
    }

    #[test]
    fn policy_follows_the_queue_settings() {
        let mut config = Config::default();
        config.queue.starvation_max_passes = 0;
        assert_eq!(config.policy().starvation, None);
        assert_eq!(config.policy().debounce, SignedDuration::from_secs(2));
    }
}
