//! Events: what happened. Each accepted command becomes one event, appended to the event log
//! and published to every screen. Events carry the full new state of the tickets they touch, so
//! a client never has to re-implement the queue's rules, and [`super::QueueState::apply`] can
//! replay them deterministically.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    Clinic, PickReason, Room, RoomId, Service, ServiceId, Source, Ticket, TicketId, Timestamp,
};

/// An event with its place in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Position in the event log, from 1, without gaps.
    pub seq: u64,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// What input it came from.
    pub source: Source,
    /// Who.
    pub actor: String,
    /// From where: the client's address, for commands that came over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub address: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Tagged by `kind` in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The clinic was set up (the demo clinic on an empty database).
    ClinicSeeded {
        /// Clinic settings.
        clinic: Clinic,
        /// Its services.
        services: Vec<Service>,
        /// Its rooms.
        rooms: Vec<Room>,
    },
    /// A ticket was issued.
    TicketIssued {
        /// The new ticket.
        ticket: Ticket,
        /// The request's Idempotency-Key, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
        /// The booking checked in with this ticket (its change is in the same event).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        booking: Option<u64>,
        /// The wait estimate (minutes) the patient was shown for this ticket, if there was one
        /// (none when no open room serves its service). Reports measure the estimates by it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimate_mins: Option<u32>,
    },
    /// A room pressed "next": it finished its ticket (if any) and called the next (if any).
    RoomNext {
        /// The room.
        room: RoomId,
        /// The ticket called, now `called`.
        called: Option<Ticket>,
        /// The ticket finished, now `done`.
        finished: Option<Ticket>,
        /// Why `called` was picked.
        reason: Option<PickReason>,
        /// Tickets passed over by this call.
        passed_over: Vec<TicketId>,
    },
    /// A room called its ticket again.
    TicketRecalled {
        /// The room.
        room: RoomId,
        /// The ticket.
        ticket: Ticket,
    },
    /// A room finished its ticket.
    TicketDone {
        /// The room.
        room: RoomId,
        /// The ticket.
        ticket: Ticket,
    },
    /// A room marked its ticket as not come.
    TicketNoShow {
        /// The room.
        room: RoomId,
        /// The ticket.
        ticket: Ticket,
    },
    /// A ticket was cancelled.
    TicketCancelled {
        /// The ticket.
        ticket: Ticket,
    },
    /// A ticket was put back in its queue.
    TicketRequeued {
        /// The ticket.
        ticket: Ticket,
    },
    /// A ticket moved to another service, keeping its number.
    TicketTransferred {
        /// The old ticket, now `transferred`.
        from: Ticket,
        /// The new waiting ticket.
        to: Ticket,
    },
    /// A room's last "next" was undone.
    NextUndone {
        /// The room.
        room: RoomId,
        /// The tickets as they were before that "next".
        restored: Vec<Ticket>,
        /// Tickets whose pass-over count is taken back.
        passed_over: Vec<TicketId>,
    },
    /// A room opened.
    RoomOpened {
        /// The room.
        room: RoomId,
    },
    /// A room closed.
    RoomClosed {
        /// The room.
        room: RoomId,
    },
    /// A room went on break: it calls nobody, its tickets keep waiting.
    RoomPaused {
        /// The room.
        room: RoomId,
    },
    /// A room's break ended: it calls again.
    RoomResumed {
        /// The room.
        room: RoomId,
    },
    /// A service opened for new tickets.
    ServiceOpened {
        /// The service.
        service: ServiceId,
    },
    /// A service closed for new tickets (its waiting tickets stay).
    ServiceClosed {
        /// The service.
        service: ServiceId,
        /// When it opens again, if said.
        #[schema(value_type = Option<String>, format = DateTime)]
        reopens_at: Option<Timestamp>,
    },
    /// The displays' message changed.
    ClinicMessageSet {
        /// The message (empty: none).
        message: String,
    },
    /// A service was added.
    ServiceAdded {
        /// The service.
        service: Service,
    },
    /// A service's name, prefix, carry-over or translations changed.
    ServiceUpdated {
        /// The service as it is now.
        service: Service,
    },
    /// A room was added.
    RoomAdded {
        /// The room.
        room: Room,
    },
    /// A room's name, translations or services changed.
    RoomUpdated {
        /// The room.
        room: RoomId,
        /// Its name.
        name: String,
        /// Its names in other languages.
        names: std::collections::BTreeMap<String, String>,
        /// The services it calls.
        services: Vec<ServiceId>,
        /// Its place in lists (`None` in events written before it existed: unchanged).
        #[serde(default)]
        order: Option<u32>,
    },
    /// The clinic's name, kiosk settings or pairing rule changed.
    ClinicSettingsSet {
        /// The clinic settings as they are now.
        clinic: Clinic,
    },
    /// A staff account, API token or paired screen changed (the queue did not).
    StaffChanged {
        /// What changed.
        change: crate::domain::StaffChange,
    },
    /// Patients' personal details older than the retention period were deleted.
    PersonalDataPurged {
        /// How many tickets' details.
        records: u64,
        /// Recorded before this.
        #[schema(value_type = String, format = DateTime)]
        older_than: Timestamp,
    },
    /// A one-time code was texted to a patient's phone for the booking page (the number and
    /// the code are in the outbox row only).
    PhoneCodeSent {},
    /// An appointments change: a plan set or removed, a booking made, moved, cancelled,
    /// checked in or missed. Withheld from the public stream.
    AppointmentChanged {
        /// What changed.
        #[schema(value_type = Object)]
        change: crate::domain::appointments::AppointmentChange,
    },
    /// A patient answered "How was your visit?" for a served ticket (the comment, if any, is
    /// in the feedback comments' table only: it is personal data).
    FeedbackGiven {
        /// The ticket.
        ticket: TicketId,
        /// 1 (bad) to 5 (very good).
        score: u8,
        /// The service it was served in.
        service: ServiceId,
        /// The room that served it.
        room: Option<RoomId>,
    },
    /// A clinic day ended: numbers restart, unattended tickets are closed.
    DayClosed {
        /// The day that ended.
        #[schema(value_type = String, format = Date)]
        day: Date,
        /// The day that began.
        #[schema(value_type = String, format = Date)]
        new_day: Date,
        /// Tickets closed by it (waiting: cancelled as unattended; called: done).
        closed: Vec<Ticket>,
    },
}

impl EventKind {
    /// The snake_case name, as in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ClinicSeeded { .. } => "clinic_seeded",
            Self::TicketIssued { .. } => "ticket_issued",
            Self::RoomNext { .. } => "room_next",
            Self::TicketRecalled { .. } => "ticket_recalled",
            Self::TicketDone { .. } => "ticket_done",
            Self::TicketNoShow { .. } => "ticket_no_show",
            Self::TicketCancelled { .. } => "ticket_cancelled",
            Self::TicketRequeued { .. } => "ticket_requeued",
            Self::TicketTransferred { .. } => "ticket_transferred",
            Self::NextUndone { .. } => "next_undone",
            Self::RoomOpened { .. } => "room_opened",
            Self::RoomClosed { .. } => "room_closed",
            Self::RoomPaused { .. } => "room_paused",
            Self::RoomResumed { .. } => "room_resumed",
            Self::ServiceOpened { .. } => "service_opened",
            Self::ServiceClosed { .. } => "service_closed",
            Self::ClinicMessageSet { .. } => "clinic_message_set",
            Self::ServiceAdded { .. } => "service_added",
            Self::ServiceUpdated { .. } => "service_updated",
            Self::RoomAdded { .. } => "room_added",
            Self::RoomUpdated { .. } => "room_updated",
            Self::ClinicSettingsSet { .. } => "clinic_settings_set",
            Self::StaffChanged { .. } => "staff_changed",
            Self::AppointmentChanged { .. } => "appointment_changed",
            Self::PersonalDataPurged { .. } => "personal_data_purged",
            Self::PhoneCodeSent {} => "phone_code_sent",
            Self::FeedbackGiven { .. } => "feedback_given",
            Self::DayClosed { .. } => "day_closed",
        }
    }
}
