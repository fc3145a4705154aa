//! The redb tables. Values are JSON (serde), so adding a field with a serde default needs no
//! migration; a change that does bumps [`super::schema::SCHEMA_VERSION`]. The one exception is
//! the visits' rows ([`VISITS`], [`VISIT_DAYS`]): compact postcard, because a report reads a
//! year of them at once; they are derived from the event log and can be folded again from it.
//! The event log ([`EVENTS`]) and the archive ([`TICKET_ARCHIVE`]) keep their JSON packed
//! (zstd with a dictionary, see [`super::codec`]).

use redb::TableDefinition;

/// `schema_version` (JSON number) and `queue` (the [`super::QueueMeta`]: day, counters, ...).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The append-only event log: seq → [`crate::domain::Event`] (packed JSON).
pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// Live tickets (today's and carried over): id → [`crate::domain::Ticket`].
pub const TICKETS: TableDefinition<u64, &[u8]> = TableDefinition::new("tickets");
/// Tickets of closed days: id → [`crate::domain::Ticket`] (packed JSON).
pub const TICKET_ARCHIVE: TableDefinition<u64, &[u8]> = TableDefinition::new("ticket_archive");
/// Services: id → [`crate::domain::Service`].
pub const SERVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("services");
/// Rooms: id → [`crate::domain::Room`].
pub const ROOMS: TableDefinition<&str, &[u8]> = TableDefinition::new("rooms");
/// Today's idempotency keys: key → [`crate::domain::IdempotencyEntry`].
pub const IDEMPOTENCY: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency");
/// Staff users: name → [`crate::domain::User`] (holds the argon2id PHC string).
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// Staff sessions: SHA-256 of the session id (base64url) → [`crate::domain::SessionRecord`]. The
/// id itself is never stored.
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// API tokens: token id → [`crate::domain::TokenRecord`] (holds the SHA-256 of the secret).
pub const API_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
/// Patients' personal details (name, phone) by ticket id, kept out of the hash-chained event
/// log so they can be deleted after the retention period: JSON `PatientDetails`.
pub const PATIENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("patients");
/// Patients' feedback comments by ticket id (free text: personal data, outside the event log,
/// deleted by the retention rule): JSON [`crate::domain::FeedbackComment`].
pub const FEEDBACK_COMMENTS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("feedback_comments");
/// Paired screens (kiosks, displays), by id: JSON `ScreenRecord`.
pub const SCREENS: TableDefinition<&str, &[u8]> = TableDefinition::new("screens");

/// Key of the schema version in [`META`].
pub const META_SCHEMA_VERSION: &str = "schema_version";
/// Key of the secret that signs patients' status links in [`META`] (32 raw bytes).
pub const META_LINK_SECRET: &str = "link_secret";
/// Key of the queue's scalar state in [`META`].
pub const META_QUEUE: &str = "queue";
/// Key of the seq the central database acknowledged in [`META`] (see [`super::central`]).
pub const META_CENTRAL_ACKED: &str = "central_acked";
/// What the store writes to see whether the database can commit again after a failed write.
pub const META_WRITE_CHECK: &str = "write_check";
/// The audit trail's hash chain: seq → SHA-256(previous hash || the event's bytes in
/// [`EVENTS`]), written with the event (see [`super::chain`]). Since schema version 2.
pub const EVENT_HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("event_hashes");
/// Doctors' plans: `doctor/service` → [`crate::domain::appointments::Plan`].
pub const PLANS: TableDefinition<&str, &[u8]> = TableDefinition::new("plans");
/// Bookings: id → [`crate::domain::appointments::Booking`] (as it stands now; its history is
/// in the event log).
pub const BOOKINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("bookings");
/// Patients' details of bookings (name, phone) by booking id, outside the event log like
/// [`PATIENTS`]: JSON `PatientDetails`.
pub const BOOKING_CONTACTS: TableDefinition<u64, &[u8]> = TableDefinition::new("booking_contacts");
/// The notifications outbox: dedupe key `seq.kind.channel` → [`crate::domain::notification::Notification`]
/// (holds the recipient: personal data, deleted with the ticket's patient's details).
pub const NOTIFICATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("notifications");
/// Phone numbers that replied STOP: [`crate::domain::notification::phone_key`] → when (RFC 3339
/// text). No message goes to them until they reply START.
pub const OPT_OUTS: TableDefinition<&str, &str> = TableDefinition::new("opt_outs");
/// Visits of closed days (see [`super::visits`]): the visit's first ticket id → its compact row
/// (postcard, not JSON: a year holds a million of them and a report reads them all).
pub const VISITS: TableDefinition<u64, &[u8]> = TableDefinition::new("visits");
/// One row per folded clinic day: its first ticket id → its last ticket id and issue times
/// (postcard).
pub const VISIT_DAYS: TableDefinition<u64, &[u8]> = TableDefinition::new("visit_days");
/// A ticket a transfer made → its visit's first ticket id.
pub const VISIT_ALIASES: TableDefinition<u64, u64> = TableDefinition::new("visit_aliases");
/// Key of the last event folded into [`VISITS`] in [`META`].
pub const META_VISITS_THROUGH: &str = "visits_through";
/// Key of the visits folded while still open (carried-over tickets) in [`META`]: JSON pairs
/// (the ticket it is now, the visit's first ticket), taken up again by the next fold.
pub const META_VISITS_OPEN: &str = "visits_open";
