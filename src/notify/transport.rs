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

/// Something that sends messages of one channel. Synchronous: each sender runs on its own
/// thread.
pub trait Transport: Send {
    /// What it is, for the operator ("smtp mail.example:587").
    fn describe(&self) -> String;
    /// Sends one message.
    fn send(&mut self, message: &Outgoing) -> Result<(), SendError>;
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

    fn send(&mut self, message: &Outgoing) -> Result<(), SendError> {
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
        Ok(())
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

    fn send(&mut self, message: &Outgoing) -> Result<(), SendError> {
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
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Temporary(e.to_string())),
        }
    }
}
