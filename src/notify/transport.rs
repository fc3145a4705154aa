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

/// An SMS gateway over HTTP: a POST of a JSON body made from `notify.sms_http_body`, whose
/// `{to}` and `{text}` become JSON strings; with `notify.sms_http_auth` as the `Authorization`
/// header. A 2xx answer is sent; 408, 429 and 5xx (and no answer) are tried again; another 4xx is
/// a permanent failure.
pub struct HttpGateway {
    agent: ureq::Agent,
    url: String,
    body: String,
    auth: String,
}

impl std::fmt::Debug for HttpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGateway")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The gateway's body for `to` and `text`: the template with both as JSON strings.
pub fn gateway_body(template: &str, to: &str, text: &str) -> String {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    template
        .replace("{to}", &quote(to))
        .replace("{text}", &quote(text))
}

impl HttpGateway {
    /// A gateway for the `[notify]` settings (already validated).
    pub fn new(config: &NotifyConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            url: config.sms_http_url.clone(),
            body: config.sms_http_body.clone(),
            auth: config.sms_http_auth.clone(),
        }
    }
}

impl Transport for HttpGateway {
    fn describe(&self) -> String {
        // The URL without a query (a token may hide there).
        let shown = self.url.split('?').next().unwrap_or_default();
        format!("HTTP gateway {shown}")
    }

    fn send(&mut self, message: &Outgoing) -> Result<Sent, SendError> {
        let body = gateway_body(&self.body, &message.to, &message.body);
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        if !self.auth.is_empty() {
            request = request.header("Authorization", &self.auth);
        }
        let answer = request
            .send(body.as_bytes())
            .map_err(|e| SendError::Temporary(format!("gateway: {e}")))?;
        let status = answer.status().as_u16();
        match status {
            200..=299 => Ok(Sent::default()),
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
}
