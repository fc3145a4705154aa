//! Announcements to patients: the text of a call in each language and its sound.
//! Text messages and emails: the outbox senders ([`outbox`]) and their transports.

pub mod announce;
pub mod announcer;
pub mod build;
pub mod modem;
pub mod outbox;
pub mod speech;
pub mod transport;
pub mod webhook;
