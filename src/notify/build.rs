//! The operator's test message: its text ([`test_message`]), the checks on what the operator
//! typed ([`TestRequest::check`]), and one channel's transport built straight from `[notify]`
//! ([`transport`]) for `waitless notify-test` while the server is stopped.
//!
//! What it owns: nothing that runs. The running senders ([`crate::notify::outbox::Senders`])
//! send the test message when the server runs; this module only makes the message and, for the
//! stopped server, the same transport the sender would use. A test message is not an outbox row:
//! nothing is recorded, and the recipient is never logged.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Clock;
use crate::config::NotifyConfig;
use crate::domain::notification::Channel;
use crate::i18n::Catalogs;
use crate::notify::transport::{Outgoing, SendError, Transport};

/// The longest phone number or address a test message takes, characters.
pub const MAX_TO_CHARS: usize = 254;

/// What the operator asks for: a test message by `channel` to `to` in `language`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `sms` or `email`.
    pub channel: Channel,
    /// The phone number (`+91 98450 12345`) or email address (personal data: never logged).
    pub to: String,
    /// The message's language (one of the message files; empty or absent: `notify.language`).
    #[serde(default)]
    pub language: Option<String>,
}

impl std::fmt::Debug for TestRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRequest")
            .field("channel", &self.channel)
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

/// Why a test request is refused before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TestRefused {
    /// `to` is empty, too long or not a number/address of the channel.
    #[error("{0}")]
    BadRecipient(String),
    /// No message file for the language.
    #[error("unknown language {0:?}: use one of {1}")]
    UnknownLanguage(String, String),
    /// The channel has no transport (`notify.sms` / `notify.email` is empty).
    #[error(
        "no {0} transport is configured: set notify.{0} in the configuration (docs/notifications.md)"
    )]
    NoTransport(&'static str),
}

impl TestRefused {
    /// A stable kebab-case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRecipient(_) => "invalid-recipient",
            Self::UnknownLanguage(..) => "unknown-language",
            Self::NoTransport(_) => "no-transport",
        }
    }
}

impl TestRequest {
    /// Checks the recipient and language; the language to use.
    pub fn check(
        &self,
        catalogs: &Catalogs,
        default_language: &str,
    ) -> Result<String, TestRefused> {
        let to = self.to.trim();
        if to.is_empty() {
            return Err(TestRefused::BadRecipient(format!(
                "\"to\" is empty: give the {} to send the test message to",
                what(self.channel)
            )));
        }
        if to.chars().count() > MAX_TO_CHARS || to.chars().any(char::is_control) {
            return Err(TestRefused::BadRecipient(format!(
                "\"to\" is not a {}: at most {MAX_TO_CHARS} characters, no control characters",
                what(self.channel)
            )));
        }
        match self.channel {
            Channel::Sms => {
                let digits = to.chars().filter(char::is_ascii_digit).count();
                if digits < 3
                    || !to
                        .chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'))
                {
                    return Err(TestRefused::BadRecipient(
                        "\"to\" is not a phone number: digits, spaces and a leading +, e.g. \
                         +91 98450 12345"
                            .to_owned(),
                    ));
                }
            }
            Channel::Email => {
                let Some((local, domain)) = to.rsplit_once('@') else {
                    return Err(TestRefused::BadRecipient(
                        "\"to\" is not an email address, e.g. patient@example.com".to_owned(),
                    ));
                };
                if local.is_empty() || domain.is_empty() || to.contains(char::is_whitespace) {
                    return Err(TestRefused::BadRecipient(
                        "\"to\" is not an email address, e.g. patient@example.com".to_owned(),
                    ));
                }
            }
        }
        let language = match self.language.as_deref() {
            None | Some("") => default_language.to_owned(),
            Some(code) => code.to_owned(),
        };
        if !catalogs.has(&language) {
            return Err(TestRefused::UnknownLanguage(
                language.chars().take(20).collect(),
                catalogs
                    .all()
                    .map(|c| c.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        Ok(language)
    }
}

fn what(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "phone number",
        Channel::Email => "email address",
    }
}

/// The test message to `to` in `language`, naming the clinic.
pub fn test_message(catalogs: &Catalogs, language: &str, clinic: &str, to: &str) -> Outgoing {
    let catalog = catalogs.get(language);
    let args = [("clinic", clinic)];
    Outgoing {
        to: to.trim().to_owned(),
        subject: catalog.format("notify.test_subject", &args),
        body: catalog.format("notify.test", &args),
    }
}

/// Why a test message was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TestFailed {
    /// Refused before sending.
    #[error(transparent)]
    Refused(#[from] TestRefused),
    /// The transport could not send it: its reason (the recipient masked).
    #[error("the message was not sent: {0}")]
    NotSent(String),
}

impl TestFailed {
    /// A stable kebab-case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(e) => e.code(),
            Self::NotSent(_) => "send-failed",
        }
    }
}

/// Checks `request` and sends the test message by the running `senders` (waits for the
/// transport's answer, up to 90 s: blocks). The reference and the transport that sent it.
pub fn send_test(
    senders: &crate::notify::outbox::Senders,
    catalogs: &Catalogs,
    default_language: &str,
    clinic: &str,
    request: &TestRequest,
) -> Result<(Option<String>, String), TestFailed> {
    let language = request.check(catalogs, default_language)?;
    let channel = request.channel;
    let Some((_, transport)) = senders
        .transports()
        .into_iter()
        .find(|(c, _)| *c == channel)
    else {
        return Err(TestRefused::NoTransport(channel.as_str()).into());
    };
    let message = test_message(catalogs, &language, clinic, &request.to);
    let to = message.to.clone();
    tracing::info!(channel = channel.as_str(), %language, "a test message was asked for");
    match senders.test(channel, message) {
        Ok(sent) => Ok((sent.reference, transport)),
        Err(SendError::Temporary(why) | SendError::Permanent(why)) => {
            Err(TestFailed::NotSent(hide(&why, &to)))
        }
    }
}

/// `why` without `to` in it (a server's answer may quote the address).
pub fn hide(why: &str, to: &str) -> String {
    if to.is_empty() {
        why.to_owned()
    } else {
        why.replace(to, &mask(to))
    }
}

/// The transport `[notify]` configures for `channel`, as the running sender would build it
/// (`None`: the channel is off). For `waitless notify-test` while the server is stopped.
pub fn transport(
    config: &NotifyConfig,
    channel: Channel,
    clock: &dyn Clock,
) -> Result<Option<Box<dyn Transport>>, String> {
    use crate::notify::modem::GsmModem;
    use crate::notify::transport::{FakeTransport, HttpGateway, SmtpMailer};
    let setting = match channel {
        Channel::Sms => config.sms.as_str(),
        Channel::Email => config.email.as_str(),
    };
    Ok(Some(match (channel, setting) {
        (_, "") => return Ok(None),
        (_, "fake") => Box::new(FakeTransport::default()),
        (Channel::Email, "smtp") => Box::new(SmtpMailer::new(config)?),
        (Channel::Sms, "http") => Box::new(HttpGateway::new(config)),
        (Channel::Sms, modem) if modem.starts_with("modem:") => {
            Box::new(GsmModem::new(&modem["modem:".len()..], clock))
        }
        (_, other) => {
            return Err(format!(
                "notify.{}: unknown transport {other:?}",
                channel.as_str()
            ));
        }
    }))
}

/// A recipient as the operator's page shows it: the last four digits of a number
/// (`+91 ••••• •2345`), the first letter and the domain of an address (`p•••@example.com`).
pub fn mask(to: &str) -> String {
    if let Some((local, domain)) = to.rsplit_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}•••@{domain}");
    }
    // A leading country code ("+91 ") stays; of the rest, only the last four digits.
    let (prefix, rest) = match to.split_once(' ') {
        Some((code, rest)) if code.starts_with('+') && code.len() <= 4 => (code, rest),
        _ => ("", to),
    };
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    let hidden = digits.saturating_sub(4);
    let mut seen = 0;
    let masked: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen <= hidden {
                    return '•';
                }
            }
            c
        })
        .collect();
    if prefix.is_empty() {
        masked
    } else {
        format!("{prefix} {masked}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogs() -> Catalogs {
        Catalogs::parse(
            crate::web::asset::message_files()
                .iter()
                .map(|(file, text)| (file.as_str(), text.as_str())),
        )
        .unwrap()
    }

    fn request(channel: Channel, to: &str, language: Option<&str>) -> TestRequest {
        TestRequest {
            channel,
            to: to.to_owned(),
            language: language.map(str::to_owned),
        }
    }

    #[test]
    fn recipients_and_languages_are_checked() {
        let c = catalogs();
        assert_eq!(
            request(Channel::Sms, "+91 98450 12345", None).check(&c, "en"),
            Ok("en".to_owned())
        );
        assert_eq!(
            request(Channel::Email, "p@example.com", Some("hi")).check(&c, "en"),
            Ok("hi".to_owned())
        );
        for (channel, to) in [
            (Channel::Sms, ""),
            (Channel::Sms, "   "),
            (Channel::Sms, "call me"),
            (Channel::Sms, "+91\n98450"),
            (Channel::Email, "nobody"),
            (Channel::Email, "@example.com"),
            (Channel::Email, "a b@example.com"),
        ] {
            assert_eq!(
                request(channel, to, None)
                    .check(&c, "en")
                    .unwrap_err()
                    .code(),
                "invalid-recipient",
                "{to:?}"
            );
        }
        assert_eq!(
            request(Channel::Sms, "+91 98450", Some("xx"))
                .check(&c, "en")
                .unwrap_err()
                .code(),
            "unknown-language"
        );
    }

    #[test]
    fn the_test_message_names_the_clinic_in_its_language() {
        let c = catalogs();
        let en = test_message(&c, "en", "Sunrise Clinic", " +91 1 ");
        assert_eq!(en.to, "+91 1");
        assert!(en.body.contains("Sunrise Clinic"), "{}", en.body);
        let hi = test_message(&c, "hi", "Sunrise Clinic", "+91 1");
        assert_ne!(hi.body, en.body);
        assert!(hi.body.contains("Sunrise Clinic"), "{}", hi.body);
    }

    #[test]
    fn recipients_are_masked() {
        assert_eq!(mask("+91 98450 12345"), "+91 ••••• •2345");
        assert_eq!(mask("+919845012345"), "+••••••••2345");
        assert_eq!(mask("patient@example.com"), "p•••@example.com");
        assert_eq!(mask("12"), "12");
    }
}
