//! How a notification leaves the box: one [`Transport`] trait, a fake that ships in the binary
//! (a laptop runs on it), and the real ones ([`SmtpMailer`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::config::NotifyConfig;

/// A message ready to go.
#[derive(Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The phone number or address (personal data: never logged).
    pub to: String,
    /// The subject (emails only).
    pub subject: String,
    /// The text.
    pub body: String,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing").finish_non_exhaustive()
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try later (the line, the server, the modem).
    #[error("{0}")]
    Temporary(String),
    /// Never going to work (a bad address).
    #[error("{0}")]
    Permanent(String),
}

/// What a transport says of a message it accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Its reference with the carrier, where a delivery report may name it later (a modem's
    /// `+CMGS: n` message reference); `None` when no report will come.
    pub reference: Option<String>,
}

/// What a transport heard back between sends (where it can: a modem hears delivery reports and
/// patients' replies; a gateway or SMTP relay hears nothing).
#[derive(Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A delivery report for a message sent earlier.
    Delivered {
        /// The reference [`Sent::reference`] gave.
        reference: String,
        /// Reached the phone (`false`: the network gave up).
        delivered: bool,
        /// The report's status in words, for the operator.
        detail: String,
    },
    /// A text a patient sent to the box's number.
    Reply {
        /// Their number (personal data: never logged).
        from: String,
        /// What they wrote.
        text: String,
    },
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Delivered {
                reference,
                delivered,
                ..
            } => f
                .debug_struct("Delivered")
                .field("reference", reference)
                .field("delivered", delivered)
                .finish_non_exhaustive(),
            Self::Reply { text, .. } => f
                .debug_struct("Reply")
                .field("chars", &text.chars().count())
                .finish_non_exhaustive(),
        }
    }
}

/// How a transport is doing, for `/api/v1/devices` and the operator's page.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TransportHealth {
    /// It can send now (as far as it knows).
    pub ok: bool,
    /// One line for the operator ("registered, signal 18/31", "no SIM", "no answer: reset").
    pub detail: String,
    /// Named readings (`signal`, `registration`, `sim`, `operator`, `errors`, `resets`, …).
    pub readings: Vec<(String, String)>,
}

/// Something that sends messages of one channel. Synchronous: each sender runs on its own
/// thread.
pub trait Transport: Send {
    /// What it is, for the operator ("smtp mail.example:587").
    fn describe(&self) -> String;
    /// Sends one message.
    fn send(&mut self, message: &Outgoing) -> Result<Sent, SendError>;
    /// Looks after the line between sends (called every `notify.poll_secs` on the sender's
    /// thread): reads what came in, checks the line, resets what hangs. What it heard.
    fn poll(&mut self) -> Vec<Incoming> {
        Vec::new()
    }
    /// How it is doing (`None`: nothing to tell beyond sends succeeding or failing).
    fn health(&self) -> Option<TransportHealth> {
        None
    }
}

/// Records messages instead of sending them (a laptop, the tests). A shared log of what it
/// "sent"; it can be told to fail.
#[derive(Clone, Debug, Default)]
pub struct FakeTransport {
    /// What was sent, in order.
    pub sent: Arc<Mutex<Vec<Outgoing>>>,
    /// While set, every send fails with this (temporary) error.
    pub failing: Arc<Mutex<Option<String>>>,
}

impl Transport for FakeTransport {
    fn describe(&self) -> String {
        "fake (messages are logged, not sent)".to_owned()
    }

    fn send(&mut self, message: &Outgoing) -> Result<Sent, SendError> {
        if let Some(why) = self
            .failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(SendError::Temporary(why));
        }
        tracing::info!(
            chars = message.body.chars().count(),
            "fake transport: a message"
        );
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(Sent::default())
    }
}

/// Email over SMTP (`lettre`, rustls): a relay with STARTTLS or TLS, or plain on the LAN.
pub struct SmtpMailer {
    mailer: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

impl SmtpMailer {
    /// A mailer for the `[notify]` settings (already validated).
    pub fn new(config: &NotifyConfig) -> Result<Self, String> {
        let host = config.smtp_host.as_str();
        let (builder, default_port) = match config.smtp_security.as_str() {
            "none" => (lettre::SmtpTransport::builder_dangerous(host), 25),
            "tls" => (
                lettre::SmtpTransport::relay(host).map_err(|e| e.to_string())?,
                465,
            ),
            _ => (
                lettre::SmtpTransport::starttls_relay(host).map_err(|e| e.to_string())?,
                587,
            ),
        };
        let port = if config.smtp_port == 0 {
            default_port
        } else {
            config.smtp_port
        };
        let mut builder = builder.port(port).timeout(Some(SMTP_TIMEOUT));
        if !config.smtp_user.is_empty() {
            builder =
                builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    config.smtp_user.clone(),
                    config.smtp_password.clone(),
                ));
        }
        let from = config
            .email_from
            .parse()
            .map_err(|e: lettre::address::AddressError| format!("notify.email_from: {e}"))?;
        Ok(Self {
            mailer: builder.build(),
            from,
            server: format!("{host}:{port} ({})", config.smtp_security),
        })
    }
}

impl Transport for SmtpMailer {
    fn describe(&self) -> String {
        format!("smtp {}", self.server)
    }

    fn send(&mut self, message: &Outgoing) -> Result<Sent, SendError> {
        use lettre::Transport as _;
        let to = message
            .to
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| SendError::Permanent(format!("not an email address: {e}")))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        match self.mailer.send(&email) {
            Ok(_) => Ok(Sent::default()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Temporary(e.to_string())),
        }
    }
}

/// An SMS gateway over HTTP: a POST of a body made from `notify.sms_http_body`, whose `{to}` and
/// `{text}` become JSON strings (`notify.sms_http_format = "json"`) or URL-encoded form values
/// (`"form"`); with `notify.sms_http_auth` (or Basic auth from `sms_http_user` and
/// `sms_http_password`) as the `Authorization` header. A preset (`notify.sms_http_preset`) fills
/// the path, body and format for a known gateway app ([`GatewaySettings::resolve`]). A 2xx
/// answer is sent (its JSON `id`, if any, is the reference); 408, 429 and 5xx (and no answer)
/// are tried again; another 4xx is a permanent failure.
pub struct HttpGateway {
    agent: ureq::Agent,
    settings: GatewaySettings,
}

impl std::fmt::Debug for HttpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGateway")
            .field("url", &self.settings.shown_url())
            .field("format", &self.settings.format)
            .finish_non_exhaustive()
    }
}

/// How a gateway's body is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayFormat {
    /// `application/json`: `{to}` and `{text}` become JSON strings.
    Json,
    /// `application/x-www-form-urlencoded`: `{to}` and `{text}` become URL-encoded values.
    Form,
}

/// The preset for the open-source "SMS Gateway for Android" app's local server
/// (`notify.sms_http_preset = "android-sms-gateway"`).
pub const PRESET_ANDROID_SMS_GATEWAY: &str = "android-sms-gateway";
/// The form body used when `sms_http_format = "form"` and the body is still the JSON default.
pub const DEFAULT_FORM_BODY: &str = "to={to}&text={text}";
/// The JSON body of the default configuration.
pub const DEFAULT_JSON_BODY: &str = r#"{"phoneNumbers": [{to}], "message": {text}}"#;
/// The body the Android app's local server takes on `POST /message`.
const ANDROID_BODY: &str = r#"{"textMessage": {"text": {text}}, "phoneNumbers": [{to}]}"#;

/// A gateway's settings with its preset applied: what is actually sent.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// Where the POST goes.
    pub url: String,
    /// The body template.
    pub body: String,
    /// How the body is written.
    pub format: GatewayFormat,
    /// The `Authorization` header (empty: none). A secret: never logged.
    pub auth: String,
}

impl std::fmt::Debug for GatewaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewaySettings")
            .field("url", &self.shown_url())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl GatewaySettings {
    /// The settings `[notify]` asks for, or the key that is wrong and why.
    pub fn resolve(config: &NotifyConfig) -> Result<Self, (&'static str, String)> {
        let format = match config.sms_http_format.as_str() {
            "json" => GatewayFormat::Json,
            "form" => GatewayFormat::Form,
            other => {
                return Err((
                    "notify.sms_http_format",
                    format!("{other:?} is not a body format: use \"json\" or \"form\""),
                ));
            }
        };
        let mut url = config.sms_http_url.clone();
        let mut body = config.sms_http_body.clone();
        let mut format = format;
        let mut user = config.sms_http_user.clone();
        match config.sms_http_preset.as_str() {
            "" => {}
            PRESET_ANDROID_SMS_GATEWAY => {
                // http://PHONE:8080 → http://PHONE:8080/message; a URL with a path is kept.
                let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
                if !after_scheme.trim_end_matches('/').contains('/') {
                    url = format!("{}/message", url.trim_end_matches('/'));
                }
                body = ANDROID_BODY.to_owned();
                format = GatewayFormat::Json;
                if user.is_empty() {
                    user = "sms".to_owned();
                }
                if config.sms_http_password.is_empty() && config.sms_http_auth.is_empty() {
                    return Err((
                        "notify.sms_http_password",
                        "the android-sms-gateway preset needs the password the app's Local \
                         Server tab shows (user \"sms\" unless sms_http_user says otherwise)"
                            .to_owned(),
                    ));
                }
            }
            other => {
                return Err((
                    "notify.sms_http_preset",
                    format!(
                        "{other:?} is not a preset: use \"\" (none) or \
                         \"{PRESET_ANDROID_SMS_GATEWAY}\""
                    ),
                ));
            }
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err((
                "notify.sms_http_url",
                "must be the gateway's http:// or https:// URL (notify.sms = \"http\"), e.g. \
                 http://192.168.1.50:8080/message"
                    .to_owned(),
            ));
        }
        if format == GatewayFormat::Form && body == DEFAULT_JSON_BODY {
            body = DEFAULT_FORM_BODY.to_owned();
        }
        if !body.contains("{to}") || !body.contains("{text}") {
            return Err((
                "notify.sms_http_body",
                "must hold {to} and {text} where the number and the text go".to_owned(),
            ));
        }
        if format == GatewayFormat::Json
            && serde_json::from_str::<serde_json::Value>(&gateway_body(&body, "+1", "x")).is_err()
        {
            return Err((
                "notify.sms_http_body",
                "must be JSON with {to} and {text} where the number and text go, e.g. \
                 {\"phoneNumbers\": [{to}], \"message\": {text}} (or set sms_http_format = \
                 \"form\")"
                    .to_owned(),
            ));
        }
        if !config.sms_http_password.is_empty() && user.is_empty() {
            return Err((
                "notify.sms_http_user",
                "set sms_http_user with sms_http_password (Basic auth)".to_owned(),
            ));
        }
        if !config.sms_http_password.is_empty() && !config.sms_http_auth.is_empty() {
            return Err((
                "notify.sms_http_auth",
                "set either sms_http_auth or sms_http_user + sms_http_password, not both"
                    .to_owned(),
            ));
        }
        let auth = if config.sms_http_password.is_empty() {
            config.sms_http_auth.clone()
        } else {
            use base64::Engine as _;
            let pair = format!("{user}:{}", config.sms_http_password);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        Ok(Self {
            url,
            body,
            format,
            auth,
        })
    }

    /// The URL without its query (a key may hide there), for the operator.
    pub fn shown_url(&self) -> &str {
        self.url.split('?').next().unwrap_or_default()
    }

    /// The body for `to` and `text`, and its content type.
    pub fn body_for(&self, to: &str, text: &str) -> (String, &'static str) {
        match self.format {
            GatewayFormat::Json => (gateway_body(&self.body, to, text), "application/json"),
            GatewayFormat::Form => (
                form_body(&self.body, to, text),
                "application/x-www-form-urlencoded",
            ),
        }
    }
}

/// The gateway's body for `to` and `text`: the template with both as JSON strings.
pub fn gateway_body(template: &str, to: &str, text: &str) -> String {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    template
        .replace("{to}", &quote(to))
        .replace("{text}", &quote(text))
}

/// The gateway's form body for `to` and `text`: the template with both URL-encoded
/// (`application/x-www-form-urlencoded`: a space is `+`, every other byte outside
/// `A-Z a-z 0-9 - . _ *` is `%XX` of its UTF-8).
pub fn form_body(template: &str, to: &str, text: &str) -> String {
    template
        .replace("{to}", &form_encode(to))
        .replace("{text}", &form_encode(text))
}

fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl HttpGateway {
    /// A gateway for the `[notify]` settings (already validated: a bad setting found here is
    /// logged and every send fails with it).
    pub fn new(config: &NotifyConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .http_status_as_error(false)
            .build()
            .into();
        let settings = GatewaySettings::resolve(config).unwrap_or_else(|(key, why)| {
            tracing::error!("{key}: {why}");
            GatewaySettings {
                url: String::new(),
                body: String::new(),
                format: GatewayFormat::Json,
                auth: String::new(),
            }
        });
        Self { agent, settings }
    }
}

/// The `id` of a gateway's JSON answer, if it has one (the Android app answers with the
/// message's id).
fn answer_id(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    match value.get("id")? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.chars().take(100).collect()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Transport for HttpGateway {
    fn describe(&self) -> String {
        format!("HTTP gateway {}", self.settings.shown_url())
    }

    fn send(&mut self, message: &Outgoing) -> Result<Sent, SendError> {
        if self.settings.url.is_empty() {
            return Err(SendError::Permanent(
                "the gateway's settings are not valid (notify.sms_http_*)".to_owned(),
            ));
        }
        let (body, content_type) = self.settings.body_for(&message.to, &message.body);
        let mut request = self
            .agent
            .post(&self.settings.url)
            .header("Content-Type", content_type);
        if !self.settings.auth.is_empty() {
            request = request.header("Authorization", &self.settings.auth);
        }
        let mut answer = request
            .send(body.as_bytes())
            .map_err(|e| SendError::Temporary(format!("gateway: {e}")))?;
        let status = answer.status().as_u16();
        match status {
            200..=299 => {
                let text = answer
                    .body_mut()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_string()
                    .unwrap_or_default();
                Ok(Sent {
                    reference: answer_id(&text),
                })
            }
            408 | 429 | 500..=599 => {
                Err(SendError::Temporary(format!("gateway answered {status}")))
            }
            _ => Err(SendError::Permanent(format!("gateway answered {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_body_quotes_the_number_and_text_as_json() {
        assert_eq!(
            gateway_body(
                r#"{"phoneNumbers": [{to}], "message": {text}}"#,
                "+91 98450",
                "टोकन \"A1\"\n"
            ),
            r#"{"phoneNumbers": ["+91 98450"], "message": "टोकन \"A1\"\n"}"#
        );
    }

    #[test]
    fn the_form_body_url_encodes_the_number_and_text() {
        assert_eq!(
            form_body(DEFAULT_FORM_BODY, "+91 98450", "A1 & B=2 टो"),
            "to=%2B91+98450&text=A1+%26+B%3D2+%E0%A4%9F%E0%A5%8B"
        );
    }

    fn gateway_config() -> NotifyConfig {
        let mut config = crate::config::Config::default().notify;
        config.sms = "http".to_owned();
        config.sms_http_url = "http://192.168.1.50:8080".to_owned();
        config
    }

    #[test]
    fn the_android_preset_fills_path_body_and_basic_auth() {
        let mut config = gateway_config();
        config.sms_http_preset = PRESET_ANDROID_SMS_GATEWAY.to_owned();
        config.sms_http_password = "secret".to_owned();
        let settings = GatewaySettings::resolve(&config).unwrap();
        assert_eq!(settings.url, "http://192.168.1.50:8080/message");
        assert_eq!(settings.format, GatewayFormat::Json);
        // "sms:secret"
        assert_eq!(settings.auth, "Basic c21zOnNlY3JldA==");
        let (body, kind) = settings.body_for("+91", "hi");
        assert_eq!(kind, "application/json");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"textMessage": {"text": "hi"}, "phoneNumbers": ["+91"]})
        );
        // A URL with a path keeps it.
        config.sms_http_url = "http://10.0.0.2:9000/api/message".to_owned();
        assert_eq!(
            GatewaySettings::resolve(&config).unwrap().url,
            "http://10.0.0.2:9000/api/message"
        );
        // Without a password: a clear error.
        config.sms_http_password = String::new();
        assert_eq!(
            GatewaySettings::resolve(&config).unwrap_err().0,
            "notify.sms_http_password"
        );
    }

    #[test]
    fn bad_gateway_settings_name_their_key() {
        type Change = fn(&mut NotifyConfig);
        let cases: [(&str, Change); 5] = [
            ("notify.sms_http_format", |c| {
                c.sms_http_format = "xml".to_owned()
            }),
            ("notify.sms_http_preset", |c| {
                c.sms_http_preset = "nokia".to_owned()
            }),
            ("notify.sms_http_url", |c| {
                c.sms_http_url = "ftp://x".to_owned()
            }),
            ("notify.sms_http_body", |c| {
                c.sms_http_body = "{text}".to_owned()
            }),
            ("notify.sms_http_auth", |c| {
                c.sms_http_user = "u".to_owned();
                c.sms_http_password = "p".to_owned();
                c.sms_http_auth = "Bearer x".to_owned();
            }),
        ];
        for (key, change) in cases {
            let mut config = gateway_config();
            change(&mut config);
            assert_eq!(GatewaySettings::resolve(&config).unwrap_err().0, key);
        }
        // Form format with the JSON default body: the form default.
        let mut config = gateway_config();
        config.sms_http_format = "form".to_owned();
        assert_eq!(
            GatewaySettings::resolve(&config).unwrap().body,
            DEFAULT_FORM_BODY
        );
    }
}
