//! All integration tests, in one binary (one link instead of one per file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod admin;
mod admin_ui;
mod api;
mod appointments;
mod backup;
mod binary;
mod booking_messages;
mod browser;
mod central;
mod control;
mod crash;
mod devices;
mod doors;
mod events;
mod feedback;
mod guards;
mod modem;
mod notifications;
mod notify;
mod outbox;
mod pairing;
mod persistence;
mod printer;
mod reports;
mod room_actions;
mod serial;
mod simulate;
mod storage;
mod strict;
mod tls;
