//! `waitless notify-test`: one test message, to check `[notify]` before patients depend on it.
//!
//! While the server runs it holds the transports (a modem's port, say): the command asks it over
//! the admin socket (`notify_test`), and its sender sends the message between the outbox's. With
//! the server stopped, the command builds the channel's transport from the configuration
//! ([`crate::notify::build::transport`]) and sends the message itself. Either way it prints
//! "sent" (and the reference, if any) or the reason, and exits 1 on failure, 2 on bad usage. The
//! recipient is never printed back or logged.

use std::process::ExitCode;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::control::{self, ClientError, ControlReply};
use crate::domain::notification::Channel;
use crate::i18n::Catalogs;
use crate::notify::build::{self, TestRequest};
use crate::notify::transport::SendError;
use crate::staff::{StaffAnswer, StaffRequest};

/// `waitless notify-test --to ... [--channel sms|email] [--language hi]`
pub fn notify_test(config: &Config, to: &str, channel: &str, language: Option<String>) -> ExitCode {
    let channel = match channel {
        "sms" => Channel::Sms,
        "email" => Channel::Email,
        other => {
            eprintln!("waitless: --channel {other:?}: use sms or email");
            return ExitCode::from(2);
        }
    };
    let test = TestRequest {
        channel,
        to: to.to_owned(),
        language,
    };
    let socket = control::socket_path(&config.data);
    match control::ask(&socket, &StaffRequest::NotifyTest { test: test.clone() }) {
        Ok(ControlReply::Ok {
            answer:
                StaffAnswer::NotifySent {
                    reference,
                    transport,
                },
        }) => sent(reference, &transport, "the running server"),
        Ok(ControlReply::Ok { answer }) => {
            eprintln!("waitless: unexpected answer: {answer:?}");
            ExitCode::FAILURE
        }
        Ok(ControlReply::Error { code, message }) => {
            eprintln!("waitless: not sent: {message}");
            if matches!(code.as_str(), "invalid-recipient" | "unknown-language") {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
        Err(ClientError::NotRunning(_)) => offline(config, &test),
        Err(e) => {
            eprintln!("waitless: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sent(reference: Option<String>, transport: &str, by: &str) -> ExitCode {
    match reference {
        Some(reference) => println!("sent (reference {reference}) by {transport}, via {by}"),
        None => println!("sent by {transport}, via {by}"),
    }
    ExitCode::SUCCESS
}

/// The server is stopped: build the transport and send the message here.
fn offline(config: &Config, test: &TestRequest) -> ExitCode {
    let catalogs = match Catalogs::parse(
        crate::web::asset::message_files()
            .iter()
            .map(|(file, text)| (file.as_str(), text.as_str())),
    ) {
        Ok(catalogs) => catalogs,
        Err(e) => {
            eprintln!("waitless: the message files are not valid: {e}");
            return ExitCode::FAILURE;
        }
    };
    let language = match test.check(&catalogs, &config.notify.language) {
        Ok(language) => language,
        Err(e) => {
            eprintln!("waitless: not sent: {e}");
            return ExitCode::from(2);
        }
    };
    let mut transport = match build::transport(&config.notify, test.channel, &SystemClock) {
        Ok(Some(transport)) => transport,
        Ok(None) => {
            eprintln!(
                "waitless: not sent: {}",
                build::TestRefused::NoTransport(test.channel.as_str())
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("waitless: not sent: {e}");
            return ExitCode::FAILURE;
        }
    };
    let message = build::test_message(&catalogs, &language, &clinic_name(config), &test.to);
    let describe = transport.describe();
    match transport.send(&message) {
        Ok(accepted) => sent(
            accepted.reference,
            &describe,
            "this command (the server is stopped)",
        ),
        Err(SendError::Temporary(why) | SendError::Permanent(why)) => {
            eprintln!(
                "waitless: not sent by {describe}: {}",
                build::hide(&why, &message.to)
            );
            ExitCode::FAILURE
        }
    }
}

/// The clinic's name from the database, if there is one (never created here).
fn clinic_name(config: &Config) -> String {
    let path = config.database_path();
    if !path.exists() {
        return "the clinic".to_owned();
    }
    let options = crate::store::StoreOptions {
        fsync: false,
        cache_bytes: 1 << 20,
    };
    match crate::store::Store::open(&path, &options).and_then(|store| {
        let name = store.load()?.map(|loaded| loaded.state.clinic.name);
        let _ = store.close();
        Ok(name)
    }) {
        Ok(Some(name)) => name,
        _ => "the clinic".to_owned(),
    }
}
