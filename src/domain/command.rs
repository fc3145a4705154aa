//! Commands: what inputs ask of the queue. Every input (kiosk, staff, API, buttons) sends these
//! to the engine, which decides them one at a time against the current state.

use serde::{Deserialize, Serialize};

use super::{PriorityClass, RoomId, ServiceId, Source, TicketId};

/// A request to change the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Issue a ticket in a service.
    IssueTicket {
        /// The service.
        service: ServiceId,
        /// Its class.
        priority: PriorityClass,
        /// The same key within the idempotency window returns the same ticket.
        idempotency_key: Option<String>,
        /// The patient's details reception recorded (stored with the ticket, in the same
        /// transaction, outside the event log).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        patient: Option<crate::domain::PatientDetails>,
    },
    /// Take a waiting or called ticket out of the queue.
    CancelTicket {
        /// The ticket.
        ticket: TicketId,
    },
    /// Put a called, no-show or cancelled ticket back at the end of its queue.
    RequeueTicket {
        /// The ticket.
        ticket: TicketId,
    },
    /// Move a ticket to another service's queue, keeping its number.
    TransferTicket {
        /// The ticket.
        ticket: TicketId,
        /// The target service.
        service: ServiceId,
    },
    /// Finish the room's ticket and call the next one.
    RoomNext {
        /// The room.
        room: RoomId,
    },
    /// Call the room's ticket again.
    RoomRecall {
        /// The room.
        room: RoomId,
    },
    /// Finish the room's ticket (served).
    RoomDone {
        /// The room.
        room: RoomId,
    },
    /// Finish the room's ticket (did not come).
    RoomNoShow {
        /// The room.
        room: RoomId,
    },
    /// Mark the room's ticket as not come and call the next one (one event: a `room_next`
    /// whose finished ticket is `no_show`).
    RoomNoShowNext {
        /// The room.
        room: RoomId,
    },
    /// Call a given waiting ticket into the room out of order, saying why; finishes the room's
    /// ticket (done) like "next". Recorded as a `room_next` with reason `chosen`.
    RoomCall {
        /// The room.
        room: RoomId,
        /// The waiting ticket, of a service the room calls.
        ticket: TicketId,
        /// Why (1–200 characters, one line).
        reason: String,
    },
    /// Put an open room on break, or end its break.
    SetRoomPaused {
        /// The room.
        room: RoomId,
        /// On break?
        paused: bool,
    },
    /// Undo the room's last "next".
    RoomUndo {
        /// The room.
        room: RoomId,
    },
    /// Open or close a room.
    SetRoomOpen {
        /// The room.
        room: RoomId,
        /// Open?
        open: bool,
    },
    /// Open a service for new tickets, or close it (optionally saying when it opens again).
    SetServiceActive {
        /// The service.
        service: ServiceId,
        /// Open?
        active: bool,
        /// When closing: when it opens again.
        reopens_at: Option<crate::domain::Timestamp>,
    },
    /// Set the message the displays scroll (empty: none).
    SetClinicMessage {
        /// The message.
        message: String,
    },
    /// Add a service (open, with its own queue and prefix).
    AddService {
        /// Its id (lowercase letters, digits, dashes).
        service: ServiceId,
        /// Its name.
        name: String,
        /// Its token prefix, not used by another service.
        prefix: String,
        /// Keep waiting tickets across the day close.
        carry_over: bool,
        /// Names in other languages.
        names: std::collections::BTreeMap<String, String>,
        /// Its place in lists (`None`: after the others).
        #[serde(default)]
        order: Option<u32>,
        /// Its colour (`None`: the first one no other service has).
        #[serde(default)]
        tone: Option<u8>,
        /// Its kiosk picture (`None`: chosen from its name).
        #[serde(default)]
        icon: Option<String>,
        /// Whether the kiosk asks the priority question (`None`: yes).
        #[serde(default)]
        ask_priority: Option<bool>,
    },
    /// Rename a service, change its prefix, carry-over or translations.
    UpdateService {
        /// The service.
        service: ServiceId,
        /// What changes.
        change: crate::domain::ServiceChange,
    },
    /// Add a room (closed: staff open it when someone sits there).
    AddRoom {
        /// Its id.
        room: RoomId,
        /// Its name, shown and announced.
        name: String,
        /// Names in other languages.
        names: std::collections::BTreeMap<String, String>,
        /// The services whose tickets it calls.
        services: Vec<ServiceId>,
        /// Its place in lists (`None`: after the others).
        #[serde(default)]
        order: Option<u32>,
    },
    /// Rename a room or change the services it calls.
    UpdateRoom {
        /// The room.
        room: RoomId,
        /// What changes.
        change: crate::domain::RoomChange,
    },
    /// Change the clinic's name, kiosk settings or pairing rule.
    SetClinicSettings {
        /// What changes.
        change: crate::domain::ClinicChange,
    },
    /// Change staff accounts, API tokens or paired screens (decided by the
    /// [`crate::domain::Directory`], not the queue): the change and its `staff_changed` event
    /// are committed together.
    Staff {
        /// The change, prepared by the caller (hashes and secrets made).
        op: crate::domain::StaffOp,
    },
    /// Delete these tickets' patients' details and feedback comments (older than the retention
    /// period), recorded as
    /// one `personal_data_purged` event in the same transaction.
    PurgePatients {
        /// The tickets whose details go.
        tickets: Vec<TicketId>,
        /// The bookings whose details go.
        #[serde(default)]
        bookings: Vec<u64>,
        /// The tickets whose feedback comments go.
        #[serde(default)]
        feedback: Vec<TicketId>,
        /// Details recorded before this.
        older_than: crate::domain::Timestamp,
    },
    /// Change appointments: a doctor's plan, or a booking (decided by the
    /// [`crate::domain::appointments::Appointments`], not the queue): the change, its event and
    /// its rows are committed together, so a seat is claimed in the same step as its event.
    Appointment {
        /// The change.
        op: crate::domain::appointments::AppointmentOp,
        /// The patient's details of a new booking (stored beside it, outside the event log).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<crate::domain::PatientDetails>,
    },
    /// Text a one-time code to a patient's phone (the booking page asks for it before a
    /// booking): one `phone_code_sent` event, which keeps neither number nor code, and the
    /// outbox row that carries both, in the same transaction.
    SendPhoneCode {
        /// The number, the language and the code.
        code: PhoneCode,
    },
    /// A booked patient has come: the booking is checked in and its ticket issued, in one
    /// event (decided by the engine, which holds both the ledger and the queue).
    CheckIn {
        /// The booking.
        booking: u64,
        /// The booking's patient details, read by the caller: the ticket keeps them (for
        /// reception and the patient's messages), written in the same transaction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<crate::domain::PatientDetails>,
    },
    /// A patient's answer to "How was your visit?" for a served ticket, once a ticket, within
    /// [`crate::domain::feedback::FEEDBACK_WINDOW`] of the visit's end (a closed day's ticket
    /// too: the engine reads it from the archive):
    /// one `feedback_given` event (the score, service and room) and, with a comment, its row
    /// in the feedback comments' table (personal data, outside the event log), in the same
    /// transaction.
    GiveFeedback {
        /// The ticket (a transferred ticket's feedback goes to the ticket it became).
        ticket: TicketId,
        /// 1 (bad) to 5 (very good).
        score: i64,
        /// What the patient wrote (at most [`crate::domain::FEEDBACK_COMMENT_MAX`] characters,
        /// no control characters but line breaks; blank: none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Close the clinic day (the engine sends this when the day changes).
    CloseDay {
        /// The day that begins.
        new_day: jiff::civil::Date,
    },
}

/// Who and what sent a command: recorded with its event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The input kind.
    pub source: Source,
    /// Who: `user:anita`, `token:his-bridge`, a device (`gpio17`), or `anonymous`.
    pub actor: String,
    /// From where: the client's network address for HTTP requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Origin {
    /// An origin.
    pub fn new(source: Source, actor: impl Into<String>) -> Self {
        Self {
            source,
            actor: actor.into(),
            address: None,
        }
    }

    /// The same origin, from `address`.
    pub fn from_address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    /// waitless itself.
    pub fn system() -> Self {
        Self::new(Source::System, "waitless")
    }
}

/// A one-time code for a phone (personal data and a secret: `Debug` shows neither).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneCode {
    /// The phone number.
    pub phone: String,
    /// The language of the message (empty: the clinic's).
    pub language: String,
    /// The code.
    pub code: String,
}

impl std::fmt::Debug for PhoneCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneCode").finish_non_exhaustive()
    }
}
