//! What the public event stream shows of an event: [`PublicEvent`].
//!
//! Kiosks, displays and patients' phones read `/api/v1/events` on a LAN shared with guests. The
//! audit trail keeps everything; the stream leaves out the client address, names staff only as
//! `staff` (user, token, command-line and screen names stay private), carries a
//! `staff_changed` event without its details, a `ticket_issued` without the request's
//! Idempotency-Key (sending the key again answers with the ticket and its status link), and a
//! `room_next` that called a ticket out of order with an empty `note` (staff's reason may
//! speak of the patient). A `feedback_given` event shows only its kind: a score next to a
//! ticket number that the waiting room's screens showed would tell others what one patient
//! thought of the visit.
//!
//! The view is a typed struct, so its JSON has a fixed field order: `seq`, `at`, `source`,
//! `actor`, `kind`, then the fields of the kind in the order `EventKind` declares them (see
//! docs/api.md).

use serde::Serialize;

use crate::domain::{Event, EventKind, PickReason, Source, Ticket, Timestamp};

/// An event as the public stream shows it.
#[derive(Debug, Serialize)]
pub struct PublicEvent<'a> {
    /// Position in the event log.
    pub seq: u64,
    /// When it happened.
    pub at: Timestamp,
    /// What input it came from.
    pub source: Source,
    /// Who, with people's names replaced by `staff`.
    pub actor: &'a str,
    /// `kind` and, unless withheld, the fields of the kind.
    #[serde(flatten)]
    pub kind: PublicKind<'a>,
}

/// The part of a public event that says what happened.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PublicKind<'a> {
    /// Everything the event says (`kind` and its fields).
    Shown(&'a EventKind),
    /// A ticket issued, without the request's Idempotency-Key (whoever holds the key gets the
    /// ticket, with its status link, by sending the key again).
    Issued {
        /// `ticket_issued`.
        kind: &'static str,
        /// The new ticket.
        ticket: &'a Ticket,
    },
    /// A call out of order without staff's note of why (the audit trail keeps it).
    Redacted(Box<EventKind>),
    /// Only the kind's name: its details are private.
    Withheld {
        /// The kind's snake_case name.
        kind: &'static str,
    },
    /// A day closed: the days and how many tickets it closed, not every ticket (on a
    /// hospital's day that would be megabytes sent to every screen; the audit trail has them).
    DayClosed {
        /// `day_closed`.
        kind: &'static str,
        /// The day that ended.
        day: jiff::civil::Date,
        /// The day that began.
        new_day: jiff::civil::Date,
        /// How many tickets it closed (cancelled as unattended, or done).
        closed: usize,
    },
}

impl<'a> PublicEvent<'a> {
    /// The public view of `event`.
    pub fn of(event: &'a Event) -> Self {
        let actor = if names_a_person(&event.actor) {
            "staff"
        } else {
            event.actor.as_str()
        };
        let kind = match &event.kind {
            EventKind::StaffChanged { .. }
            | EventKind::AppointmentChanged { .. }
            | EventKind::FeedbackGiven { .. } => PublicKind::Withheld {
                kind: event.kind.name(),
            },
            EventKind::TicketIssued { ticket, .. } => PublicKind::Issued {
                kind: event.kind.name(),
                ticket,
            },
            EventKind::DayClosed {
                day,
                new_day,
                closed,
            } => PublicKind::DayClosed {
                kind: event.kind.name(),
                day: *day,
                new_day: *new_day,
                closed: closed.len(),
            },
            EventKind::RoomNext {
                room,
                called,
                finished,
                reason: Some(PickReason::Chosen { class, .. }),
                passed_over,
            } => PublicKind::Redacted(Box::new(EventKind::RoomNext {
                room: room.clone(),
                called: called.clone(),
                finished: finished.clone(),
                reason: Some(PickReason::Chosen {
                    class: *class,
                    note: String::new(),
                }),
                passed_over: passed_over.clone(),
            })),
            kind => PublicKind::Shown(kind),
        };
        Self {
            seq: event.seq,
            at: event.at,
            source: event.source,
            actor,
            kind,
        }
    }
}

/// Staff users, API tokens, the command line and paired screens have names worth keeping
/// private; devices (`serial-pager:A1`, `gpio17`), `anonymous` and `waitless` do not.
fn names_a_person(actor: &str) -> bool {
    ["user:", "token:", "cli:", "screen:"]
        .iter()
        .any(|p| actor.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Origin, QueueState, RoomId, Source, StaffChange};

    /// Event `seq` of `kind` by `origin`, at a fixed time.
    fn event(seq: u64, origin: &Origin, kind: EventKind) -> Event {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        QueueState::event(seq, at, origin, kind)
    }

    fn room_opened(room: &str) -> EventKind {
        EventKind::RoomOpened {
            room: RoomId::parse(room).unwrap(),
        }
    }

    fn public_json(event: &Event) -> String {
        serde_json::to_string(&PublicEvent::of(event)).unwrap()
    }

    #[test]
    fn fields_come_in_a_fixed_order_with_the_kind_before_its_fields() {
        let origin = Origin::new(Source::Staff, "user:anita").from_address(Some("10.0.0.7".into()));
        assert_eq!(
            public_json(&event(7, &origin, room_opened("room-1"))),
            r#"{"seq":7,"at":"2027-01-15T08:00:00Z","source":"staff","actor":"staff","kind":"room_opened","room":"room-1"}"#
        );
    }

    #[test]
    fn an_event_with_nothing_private_is_shown_exactly_as_recorded() {
        let pager = Origin::new(Source::Serial, "serial-pager:A1");
        let opened = event(9, &pager, room_opened("lab"));
        assert_eq!(
            public_json(&opened),
            serde_json::to_string(&opened).unwrap()
        );
    }

    #[test]
    fn a_staff_change_shows_only_its_kind() {
        let change = StaffChange::TokenCreated {
            token: "his-bridge".into(),
            role: "reception".into(),
        };
        let cli = Origin::new(Source::Cli, "cli:root");
        assert_eq!(
            public_json(&event(8, &cli, EventKind::StaffChanged { change })),
            r#"{"seq":8,"at":"2027-01-15T08:00:00Z","source":"cli","actor":"staff","kind":"staff_changed"}"#
        );
    }

    #[test]
    fn an_out_of_order_call_shows_without_staff_note() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let kind = EventKind::RoomNext {
            room: RoomId::parse("room-1").unwrap(),
            called: None,
            finished: None,
            reason: Some(PickReason::Chosen {
                class: crate::domain::PriorityClass::Normal,
                note: "fainted in the hall".into(),
            }),
            passed_over: Vec::new(),
        };
        let origin = Origin::new(Source::Staff, "user:anita");
        let event = QueueState::event(5, at, &origin, kind);
        let json = public_json(&event);
        assert!(!json.contains("fainted"), "{json}");
        assert!(json.contains(r#""kind":"room_next""#), "{json}");
        assert!(json.contains(r#""rule":"chosen""#), "{json}");
        assert!(serde_json::to_string(&event).unwrap().contains("fainted"));
    }
}
