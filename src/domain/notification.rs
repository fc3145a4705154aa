//! Notifications to patients, as rows of the outbox: which events cause one, to whom, with
//! which text (a message key and its parameters, rendered in the patient's language when sent).
//!
//! What it owns: the outbox row ([`Notification`]), its dedupe key (event, kind, channel), and
//! the rule that turns a committed event into rows ([`notifications_for`]). The engine adds the
//! rows to [`super::Touched`] and the store writes them in the event's own transaction, so a
//! crash either keeps both or neither. What it does not: sending (the workers in
//! `crate::notify::outbox`), retries, caps.
//!
//! Recipients are personal data: they live in the outbox rows and the patients' details, never
//! in events; `Debug` leaves them out.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{EventKind, PatientDetails, QueueState, Ticket, TicketId, Timestamp};

/// How a notification travels.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A text message (GSM modem or gateway).
    Sms,
    /// An email.
    Email,
}

impl Channel {
    /// Both, in order.
    pub const ALL: [Self; 2] = [Self::Sms, Self::Email];

    /// Its name in keys and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

/// Where a notification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// Waiting to be sent (first try, or a retry at `next_try`).
    Queued,
    /// Handed to the transport.
    Sent,
    /// Given up: attempts used up, over the recipient's daily cap, or the number replied STOP.
    Failed,
    /// Not to be sent any more: what it was about changed first (a reminder of a booking that
    /// was moved, cancelled or checked in).
    Withdrawn,
}

/// What a delivery report said of a sent message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// It reached the phone.
    Delivered,
    /// The network gave up on it.
    NotDelivered,
}

/// A reply that asks for no more messages ("STOP", "UNSUBSCRIBE", "बंद"): any case, any spaces.
pub fn is_stop(text: &str) -> bool {
    let word = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    matches!(
        word.as_str(),
        "stop" | "stopall" | "unsubscribe" | "cancel" | "end" | "quit" | "बंद" | "रोकें"
    )
}

/// A reply that asks for messages again after a STOP ("START", "UNSTOP", "शुरू").
pub fn is_start(text: &str) -> bool {
    let word = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    matches!(word.as_str(), "start" | "unstop" | "yes" | "शुरू")
}

/// The key a phone number is known by — for opt-outs, the daily cap, the cap per patient and
/// the kiosk's check-in by phone (its last 10 digits: `+91 98450 12345`, `098450 12345`
/// and `9845012345` are one number).
pub fn phone_key(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(10)..].iter().collect()
}

/// What a notification says: the message key under `notify.` in `assets/i18n/*.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A ticket was issued to the patient.
    Issued,
    /// The patient's ticket was called to a room.
    Called,
    /// The patient's ticket was called again.
    Recalled,
    /// The patient's ticket was moved to another service (a new number).
    Transferred,
    /// Few people are ahead of the patient now (at most twice a ticket: a heads-up at
    /// `near_early`, then at `near_ahead`).
    Near,
    /// An appointment was booked.
    Booked,
    /// An appointment was moved to another time.
    Rescheduled,
    /// An appointment was cancelled.
    Cancelled,
    /// An appointment is coming (`lead` minutes before it; quiet hours respected).
    Reminder,
    /// The booking page's one-time code for the patient's phone.
    Code,
}

impl NotificationKind {
    /// Every kind, in order.
    pub const ALL: [Self; 10] = [
        Self::Issued,
        Self::Near,
        Self::Called,
        Self::Recalled,
        Self::Transferred,
        Self::Booked,
        Self::Rescheduled,
        Self::Cancelled,
        Self::Reminder,
        Self::Code,
    ];

    /// Its name in keys and message files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Called => "called",
            Self::Recalled => "recalled",
            Self::Transferred => "transferred",
            Self::Near => "near",
            Self::Booked => "booked",
            Self::Rescheduled => "rescheduled",
            Self::Cancelled => "cancelled",
            Self::Reminder => "reminder",
            Self::Code => "code",
        }
    }

    /// The message key of its email subject.
    pub fn subject_key(self) -> &'static str {
        match self {
            Self::Booked | Self::Rescheduled | Self::Cancelled | Self::Reminder => {
                "notify.subject_booking"
            }
            Self::Code => "notify.subject_code",
            _ => "notify.subject",
        }
    }

    /// Whether it waits for the end of quiet hours (a reminder may; a call never does).
    pub fn keeps_quiet_hours(self) -> bool {
        self == Self::Reminder
    }
}

/// Hours of the night when reminders are not sent (clinic time): from `start` to `end`, across
/// midnight when `start > end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuietHours {
    /// When they begin.
    pub start: jiff::civil::Time,
    /// When they end.
    pub end: jiff::civil::Time,
}

impl QuietHours {
    /// Whether `at` falls in them.
    pub fn contains(&self, at: Timestamp, zone: &jiff::tz::TimeZone) -> bool {
        let t = at.to_zoned(zone.clone()).time();
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// `at`, or the end of the quiet hours it falls in.
    pub fn after(&self, at: Timestamp, zone: &jiff::tz::TimeZone) -> Timestamp {
        if !self.contains(at, zone) {
            return at;
        }
        let zoned = at.to_zoned(zone.clone());
        let mut date = zoned.date();
        if self.start > self.end && zoned.time() >= self.start {
            date = date.tomorrow().unwrap_or(date);
        }
        date.to_datetime(self.end)
            .to_zoned(zone.clone())
            .map_or(at, |z| z.timestamp())
    }

    /// `at`, or the start of the quiet hours it falls in (a moment before).
    pub fn before(&self, at: Timestamp, zone: &jiff::tz::TimeZone) -> Timestamp {
        if !self.contains(at, zone) {
            return at;
        }
        let zoned = at.to_zoned(zone.clone());
        let mut date = zoned.date();
        if self.start > self.end && zoned.time() < self.end {
            date = date.yesterday().unwrap_or(date);
        }
        date.to_datetime(self.start)
            .to_zoned(zone.clone())
            .map_or(at, |z| z.timestamp() - jiff::SignedDuration::from_mins(1))
    }
}

/// One outbox row.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// The event that caused it.
    pub seq: u64,
    /// What it says.
    pub kind: NotificationKind,
    /// How it travels.
    pub channel: Channel,
    /// The ticket it is about (its patient's details are the source of `to`), if any.
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub ticket: Option<TicketId>,
    /// The booking it is about, if any.
    #[serde(default)]
    pub booking: Option<u64>,
    /// The phone number or email address (personal data).
    pub to: String,
    /// The language to write it in.
    pub language: String,
    /// The message's parameters (`number`, `room`, `service`).
    pub params: Vec<(String, String)>,
    /// When the event happened.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Where it stands.
    pub state: NotificationState,
    /// Tries so far.
    pub attempts: u32,
    /// When to try next (queued rows).
    #[schema(value_type = String)]
    pub next_try: Timestamp,
    /// When it was sent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub sent_at: Option<Timestamp>,
    /// Why the last try failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The carrier's reference of the sent message (a modem's), for its delivery report.
    #[serde(default)]
    pub reference: Option<String>,
    /// What the delivery report said, if one came.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// When the delivery report came.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub delivered_at: Option<Timestamp>,
}

impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The recipient stays out of log lines.
        f.debug_struct("Notification")
            .field("key", &self.key())
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Notification {
    /// The dedupe key `seq.kind.channel` (event, kind, channel; zero-padded so keys sort by
    /// event); for `near` also the ticket (one event may bring several tickets near) and
    /// `.early` for the heads-up; for a reminder its lead in minutes (one booking has several).
    pub fn key(&self) -> String {
        let base = format!(
            "{:020}.{}.{}",
            self.seq,
            self.kind.as_str(),
            self.channel.as_str()
        );
        let param = |name: &str| {
            self.params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        match self.kind {
            NotificationKind::Near => {
                let ticket = self.ticket.map_or(0, |t| t.0);
                if param("level") == Some("early") {
                    format!("{base}.{ticket}.early")
                } else {
                    format!("{base}.{ticket}")
                }
            }
            NotificationKind::Reminder => format!("{base}.{}", param("lead").unwrap_or("0")),
            _ => base,
        }
    }
}

/// Which notifications the clinic sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyRules {
    /// Channels with a transport configured.
    pub channels: Vec<Channel>,
    /// The language of a patient's messages when reception recorded none.
    pub language: String,
    /// Tell a waiting patient once when this many or fewer are ahead (0: never).
    pub near_ahead: usize,
    /// A first heads-up when this many or fewer are ahead (0: none; above `near_ahead`).
    pub near_early: usize,
    /// Reminders before an appointment, minutes before its slot (e.g. 1440 and 120).
    pub reminders: Vec<u32>,
    /// When reminders wait (none: any hour).
    pub quiet: Option<QuietHours>,
}

/// What a row is about: a ticket, a booking, or neither (a one-time code).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// The ticket.
    pub ticket: Option<TicketId>,
    /// The booking.
    pub booking: Option<u64>,
}

/// The rows an event causes, for the patients' details known by ticket (`contact`). `state` is
/// the queue after the event (for room names).
pub fn notifications_for(
    rules: &NotifyRules,
    state: &QueueState,
    seq: u64,
    at: Timestamp,
    kind: &EventKind,
    contact: impl Fn(TicketId) -> Option<PatientDetails>,
) -> Vec<Notification> {
    if rules.channels.is_empty() {
        return Vec::new();
    }
    let (ticket, what): (&Ticket, NotificationKind) = match kind {
        EventKind::TicketIssued { ticket, .. } => (ticket, NotificationKind::Issued),
        EventKind::RoomNext {
            called: Some(ticket),
            ..
        } => (ticket, NotificationKind::Called),
        EventKind::TicketRecalled { ticket, .. } => (ticket, NotificationKind::Recalled),
        EventKind::TicketTransferred { to, .. } => (to, NotificationKind::Transferred),
        _ => return Vec::new(),
    };
    let Some(details) = contact(ticket.id) else {
        return Vec::new();
    };
    let language = language_of(rules, &details);
    let mut params = vec![("number".to_owned(), ticket.number.clone())];
    if what == NotificationKind::Transferred {
        let Some(service) = state.services.get(&ticket.service) else {
            return Vec::new();
        };
        params.push(("service".to_owned(), service.name_in(&language).to_owned()));
    } else if what != NotificationKind::Issued {
        let room = ticket.room.as_ref().and_then(|r| state.rooms.get(r));
        let Some(room) = room else {
            return Vec::new();
        };
        params.push(("room".to_owned(), room.name_in(&language).to_owned()));
    }
    let subject = Subject {
        ticket: Some(ticket.id),
        booking: None,
    };
    rows(
        rules, &details, seq, at, what, subject, &language, &params, at,
    )
}

/// The rows a booking's change causes for its patient (`details`): a confirmation when booked,
/// moved or cancelled, and each reminder of `rules.reminders` still ahead (at the lead time
/// before the slot, moved before the quiet hours it would fall in). A check-in or no-show
/// causes none. `booking` is the booking after the change; `zone` the clinic's.
#[allow(clippy::too_many_arguments)]
pub fn booking_notifications(
    rules: &NotifyRules,
    seq: u64,
    at: Timestamp,
    change: &crate::domain::appointments::BookingChange,
    booking: &crate::domain::appointments::Booking,
    service_name: impl Fn(&str) -> String,
    details: &PatientDetails,
    zone: &jiff::tz::TimeZone,
) -> Vec<Notification> {
    use crate::domain::appointments::BookingChange;
    if rules.channels.is_empty() || !details.messages {
        return Vec::new();
    }
    let what = match change {
        BookingChange::Booked { .. } => NotificationKind::Booked,
        BookingChange::Rescheduled { .. } => NotificationKind::Rescheduled,
        BookingChange::Cancelled { .. } => NotificationKind::Cancelled,
        BookingChange::CheckedIn { .. } | BookingChange::NoShow { .. } => return Vec::new(),
    };
    let language = language_of(rules, details);
    let params = vec![
        ("code".to_owned(), booking.code.clone()),
        ("when".to_owned(), when(booking.start, zone)),
        ("doctor".to_owned(), booking.doctor.clone()),
        ("service".to_owned(), service_name(&language)),
    ];
    let subject = Subject {
        ticket: None,
        booking: Some(booking.id),
    };
    let mut out = rows(
        rules, details, seq, at, what, subject, &language, &params, at,
    );
    if what == NotificationKind::Cancelled {
        return out;
    }
    for &lead in &rules.reminders {
        let mut due = booking.start - jiff::SignedDuration::from_mins(i64::from(lead));
        if let Some(quiet) = &rules.quiet {
            due = quiet.before(due, zone);
        }
        if due <= at {
            continue;
        }
        let mut params = params.clone();
        params.push(("lead".to_owned(), lead.to_string()));
        out.extend(rows(
            rules,
            details,
            seq,
            at,
            NotificationKind::Reminder,
            subject,
            &language,
            &params,
            due,
        ));
    }
    out
}

/// A slot's time as messages give it: `2026-12-07 10:30` in the clinic's zone.
pub fn when(at: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// The row of the booking page's one-time `code` for `phone` (by text message only).
pub fn code_notification(
    rules: &NotifyRules,
    seq: u64,
    at: Timestamp,
    phone: &str,
    language: &str,
    code: &str,
) -> Option<Notification> {
    if !rules.channels.contains(&Channel::Sms) {
        return None;
    }
    let details = PatientDetails {
        name: String::new(),
        phone: phone.to_owned(),
        email: String::new(),
        language: language.to_owned(),
        messages: true,
        recorded_at: at,
    };
    let sms_only = NotifyRules {
        channels: vec![Channel::Sms],
        ..rules.clone()
    };
    let language = language_of(rules, &details);
    rows(
        &sms_only,
        &details,
        seq,
        at,
        NotificationKind::Code,
        Subject::default(),
        &language,
        &[("code".to_owned(), code.to_owned())],
        at,
    )
    .pop()
}

fn language_of(rules: &NotifyRules, details: &PatientDetails) -> String {
    if details.language.is_empty() {
        rules.language.clone()
    } else {
        details.language.clone()
    }
}

/// One row per channel the patient has an address for (none if they did not agree to
/// messages), first tried at `due`.
#[allow(clippy::too_many_arguments)]
fn rows(
    rules: &NotifyRules,
    details: &PatientDetails,
    seq: u64,
    at: Timestamp,
    what: NotificationKind,
    subject: Subject,
    language: &str,
    params: &[(String, String)],
    due: Timestamp,
) -> Vec<Notification> {
    if !details.messages {
        return Vec::new();
    }
    rules
        .channels
        .iter()
        .filter_map(|&channel| {
            let to = match channel {
                Channel::Sms => &details.phone,
                Channel::Email => &details.email,
            };
            (!to.is_empty()).then(|| Notification {
                seq,
                kind: what,
                channel,
                ticket: subject.ticket,
                booking: subject.booking,
                to: to.clone(),
                language: language.to_owned(),
                params: params.to_vec(),
                created_at: at,
                state: NotificationState::Queued,
                attempts: 0,
                next_try: due,
                sent_at: None,
                last_error: None,
                reference: None,
                delivery: None,
                delivered_at: None,
            })
        })
        .collect()
}

/// How far a ticket's patient has been told they are near: the heads-up (`near_early`), then
/// the last one (`near_ahead`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Told {
    /// The heads-up.
    Early,
    /// The last "near" message.
    Near,
}

/// The `near` rows after an event: each waiting ticket with details (`contacts`) that has
/// `rules.near_ahead` (or, for a first heads-up, `rules.near_early`) or fewer ahead in its
/// service's queue and was not told that before (`told`). At most two a ticket; a ticket that
/// jumps straight within `near_ahead` gets only the last one. O(contacts × log n).
pub fn near_notifications<'a>(
    rules: &NotifyRules,
    state: &QueueState,
    seq: u64,
    at: Timestamp,
    contacts: impl Iterator<Item = (&'a TicketId, &'a PatientDetails)>,
    told: &std::collections::BTreeMap<TicketId, Told>,
) -> Vec<(Told, Notification)> {
    if rules.channels.is_empty() || (rules.near_ahead == 0 && rules.near_early == 0) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (id, details) in contacts {
        let before = told.get(id).copied();
        if before == Some(Told::Near) {
            continue;
        }
        let Some(ticket) = state.tickets.get(id) else {
            continue;
        };
        if ticket.state != super::TicketState::Waiting {
            continue;
        }
        let ahead = state
            .index()
            .service(&ticket.service)
            .map_or(0, |q| q.rank(&ticket.order_key(state.head_start())));
        let level = if rules.near_ahead > 0 && ahead <= rules.near_ahead {
            Told::Near
        } else if rules.near_early > rules.near_ahead
            && ahead <= rules.near_early
            && before.is_none()
        {
            Told::Early
        } else {
            continue;
        };
        let mut params = vec![
            ("number".to_owned(), ticket.number.clone()),
            ("ahead".to_owned(), ahead.to_string()),
        ];
        if level == Told::Early {
            params.push(("level".to_owned(), "early".to_owned()));
        }
        let language = language_of(rules, details);
        let subject = Subject {
            ticket: Some(*id),
            booking: None,
        };
        out.extend(
            rows(
                rules,
                details,
                seq,
                at,
                NotificationKind::Near,
                subject,
                &language,
                &params,
                at,
            )
            .into_iter()
            .map(|n| (level, n)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn quiet_hours_across_midnight_move_a_reminder_before_them() {
        let zone = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
        let quiet = QuietHours {
            start: jiff::civil::time(21, 0, 0, 0),
            end: jiff::civil::time(8, 0, 0, 0),
        };
        // 06:30 IST (01:00 UTC) is quiet: before it is 20:59 IST the evening before.
        let early = at("2026-12-07T01:00:00Z");
        assert!(quiet.contains(early, &zone));
        assert_eq!(quiet.before(early, &zone), at("2026-12-06T15:29:00Z"));
        assert_eq!(quiet.after(early, &zone), at("2026-12-07T02:30:00Z"));
        // 22:00 IST is quiet too: after it is 08:00 the next morning.
        let late = at("2026-12-06T16:30:00Z");
        assert!(quiet.contains(late, &zone));
        assert_eq!(quiet.after(late, &zone), at("2026-12-07T02:30:00Z"));
        assert_eq!(quiet.before(late, &zone), at("2026-12-06T15:29:00Z"));
        // 12:00 IST is not.
        let noon = at("2026-12-07T06:30:00Z");
        assert!(!quiet.contains(noon, &zone));
        assert_eq!(quiet.before(noon, &zone), noon);
        // Hours within one day (13:00–14:00, a lunch break).
        let lunch = QuietHours {
            start: jiff::civil::time(13, 0, 0, 0),
            end: jiff::civil::time(14, 0, 0, 0),
        };
        let in_lunch = at("2026-12-07T08:00:00Z"); // 13:30 IST
        assert!(lunch.contains(in_lunch, &zone));
        assert_eq!(lunch.after(in_lunch, &zone), at("2026-12-07T08:30:00Z"));
    }

    #[test]
    fn stop_and_start_words() {
        for stop in ["STOP", " stop ", "Stop.", "UNSUBSCRIBE", "बंद", "रोकें"] {
            assert!(is_stop(stop), "{stop}");
        }
        for other in ["stop it please", "ok", "", "START"] {
            assert!(!is_stop(other), "{other}");
        }
        assert!(is_start("start"));
        assert!(is_start("शुरू"));
        assert!(!is_start("stop"));
        assert_eq!(phone_key("+91 98450-12345"), "9845012345");
        assert_eq!(phone_key("098450 12345"), "9845012345");
    }
}
