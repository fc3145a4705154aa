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

/// The key a phone number is known by (its last 10 digits: `+91 98450 12345`, `098450 12345`
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
    /// Few people are ahead of the patient now (once a ticket).
    Near,
}

impl NotificationKind {
    /// Every kind, in order.
    pub const ALL: [Self; 4] = [
        Self::Issued,
        Self::Called,
        Self::Recalled,
        Self::Transferred,
    ];

    /// Its name in keys and message files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Called => "called",
            Self::Recalled => "recalled",
            Self::Transferred => "transferred",
            Self::Near => "near",
        }
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
    /// The ticket it is about (its patient's details are the source of `to`).
    #[schema(value_type = u64)]
    pub ticket: TicketId,
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
    /// event), and the ticket for `near` (one event may bring several tickets near).
    pub fn key(&self) -> String {
        let base = format!(
            "{:020}.{}.{}",
            self.seq,
            self.kind.as_str(),
            self.channel.as_str()
        );
        if self.kind == NotificationKind::Near {
            format!("{base}.{}", self.ticket.0)
        } else {
            base
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
    rows(
        rules, &details, seq, at, what, ticket.id, &language, &params,
    )
}

fn language_of(rules: &NotifyRules, details: &PatientDetails) -> String {
    if details.language.is_empty() {
        rules.language.clone()
    } else {
        details.language.clone()
    }
}

/// One row per channel the patient has an address for.
#[allow(clippy::too_many_arguments)]
fn rows(
    rules: &NotifyRules,
    details: &PatientDetails,
    seq: u64,
    at: Timestamp,
    what: NotificationKind,
    ticket: TicketId,
    language: &str,
    params: &[(String, String)],
) -> Vec<Notification> {
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
                ticket,
                to: to.clone(),
                language: language.to_owned(),
                params: params.to_vec(),
                created_at: at,
                state: NotificationState::Queued,
                attempts: 0,
                next_try: at,
                sent_at: None,
                last_error: None,
                reference: None,
                delivery: None,
                delivered_at: None,
            })
        })
        .collect()
}

/// The `near` rows after an event: each waiting ticket with details (`contacts`) that has
/// `rules.near_ahead` or fewer ahead in its service's queue and was not told before (`told`).
pub fn near_notifications<'a>(
    rules: &NotifyRules,
    state: &QueueState,
    seq: u64,
    at: Timestamp,
    contacts: impl Iterator<Item = (&'a TicketId, &'a PatientDetails)>,
    told: &std::collections::BTreeSet<TicketId>,
) -> Vec<Notification> {
    if rules.channels.is_empty() || rules.near_ahead == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (id, details) in contacts {
        if told.contains(id) {
            continue;
        }
        let Some(ticket) = state.tickets.get(id) else {
            continue;
        };
        if ticket.state != super::TicketState::Waiting {
            continue;
        }
        let ahead = state
            .tickets
            .values()
            .filter(|t| {
                t.state == super::TicketState::Waiting
                    && t.service == ticket.service
                    && t.order_key() < ticket.order_key()
            })
            .count();
        if ahead > rules.near_ahead {
            continue;
        }
        let params = vec![
            ("number".to_owned(), ticket.number.clone()),
            ("ahead".to_owned(), ahead.to_string()),
        ];
        let language = language_of(rules, details);
        out.extend(rows(
            rules,
            details,
            seq,
            at,
            NotificationKind::Near,
            *id,
            &language,
            &params,
        ));
    }
    out
}
