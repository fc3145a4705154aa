//! Tickets (tokens) and the words that describe them: state, priority class, source.
//!
//! A ticket is data; the rules that move it from state to state live in [`super::state`].

use jiff::SignedDuration;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RoomId, ServiceId, TicketId, Timestamp};

/// Where a ticket is in its life. See DESIGN.md, "Ticket life".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// In the queue, not yet called.
    Waiting,
    /// Called to a room and being served there.
    Called,
    /// Served.
    Done,
    /// Called but did not come.
    NoShow,
    /// Taken out of the queue (by staff, or as unattended at day close).
    Cancelled,
    /// Moved to another service; its continuation is `transferred_to`.
    Transferred,
}

impl TicketState {
    /// The snake_case word used in the API and in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Called => "called",
            Self::Done => "done",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
            Self::Transferred => "transferred",
        }
    }

    /// Whether the ticket's life is over (it can still be requeued, except when transferred).
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Waiting | Self::Called)
    }
}

/// The class a ticket is called in. Higher classes are called first, see [`super::rules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriorityClass {
    /// Called before everyone else.
    Urgent,
    /// A booked patient who checked in on time: called by slot time once the slot is due (see
    /// [`super::rules`]). Only a check-in gives this class.
    Appointment,
    /// Elderly, disabled, pregnant.
    Priority,
    /// Everyone else.
    #[default]
    Normal,
}

impl PriorityClass {
    /// 0 is called first.
    pub fn rank(self) -> u8 {
        match self {
            Self::Urgent => 0,
            Self::Appointment => 1,
            Self::Priority => 2,
            Self::Normal => 3,
        }
    }

    /// The snake_case word used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Urgent => "urgent",
            Self::Appointment => "appointment",
            Self::Priority => "priority",
            Self::Normal => "normal",
        }
    }
}

/// What a command came from: recorded with every event for the audit trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The check-in kiosk.
    Kiosk,
    /// Reception issuing for a phone caller or a walk-in.
    Reception,
    /// The JSON API (scripts, other systems).
    #[default]
    Api,
    /// A staff console button.
    Staff,
    /// A GPIO push button.
    Button,
    /// A serial pager or keypad receiver.
    Serial,
    /// A USB keypad or foot pedal.
    Keypad,
    /// waitless itself (day close, seeding).
    System,
    /// The operator's command line on the machine itself (`waitless user ...`, `waitless
    /// token ...`), directly or through the running server's admin socket.
    Cli,
}

impl Source {
    /// The snake_case word used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kiosk => "kiosk",
            Self::Reception => "reception",
            Self::Api => "api",
            Self::Staff => "staff",
            Self::Button => "button",
            Self::Serial => "serial",
            Self::Keypad => "keypad",
            Self::System => "system",
            Self::Cli => "cli",
        }
    }
}

/// Why a ticket was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Staff (or the patient through staff) cancelled it.
    Requested,
    /// Still waiting when the clinic day closed.
    Unattended,
}

/// A ticket: a patient's place in a service's queue for one clinic day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ticket {
    /// Unique id.
    pub id: TicketId,
    /// The number shown and printed, e.g. `A001`. Kept across a transfer.
    pub number: String,
    /// The per-prefix counter value behind `number` (1 for `A001`).
    pub ordinal: u32,
    /// The service whose queue it is in.
    pub service: ServiceId,
    /// Its class for the next-ticket rule.
    pub priority: PriorityClass,
    /// Its state.
    pub state: TicketState,
    /// The clinic day it was issued on.
    #[schema(value_type = String, format = Date)]
    pub day: Date,
    /// When it was issued (for a transferred ticket: when the first ticket was issued).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it joined its current queue (issue, transfer or requeue): FIFO order within a class.
    #[schema(value_type = String, format = DateTime)]
    pub queued_at: Timestamp,
    /// When it was last called.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub called_at: Option<Timestamp>,
    /// When it reached a terminal state.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// The room that called it.
    pub room: Option<RoomId>,
    /// How many times it was recalled.
    pub recall_count: u32,
    /// How many times a ticket of a higher class that came later was called before it (since
    /// it last joined the queue).
    pub passed_over: u32,
    /// How many times it was put back in the queue.
    #[serde(default)]
    pub requeue_count: u32,
    /// The ticket this one continues after a transfer.
    pub transferred_from: Option<TicketId>,
    /// The ticket that continues this one after a transfer.
    pub transferred_to: Option<TicketId>,
    /// Why it was cancelled.
    pub cancel_reason: Option<CancelReason>,
    /// What issued it.
    pub source: Source,
    /// Whether its patient answered "How was your visit?" (at most once a ticket).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub feedback_given: bool,
}

impl Ticket {
    /// The FIFO key within a class: queue time, then id (ids grow with time).
    pub fn queue_key(&self) -> (Timestamp, TicketId) {
        (self.queued_at, self.id)
    }

    /// A copy of the ticket ended in `state` at `now`.
    pub fn finished(&self, state: TicketState, now: Timestamp) -> Ticket {
        Ticket {
            state,
            finished_at: Some(now),
            ..self.clone()
        }
    }

    /// The full order key of the next-ticket rule without anti-starvation: the rank of its
    /// class, the time it counts as queued at, its id. A priority ticket is a walk-in with a
    /// head start: it ranks with normal tickets and counts as queued `head_start` earlier (the
    /// clinic's setting, [`super::rules::PRIORITY_HEAD_START`] by default), so it passes only
    /// the walk-ins who came at most that long before it.
    pub fn order_key(&self, head_start: SignedDuration) -> (u8, Timestamp, TicketId) {
        match self.priority {
            PriorityClass::Priority => (
                PriorityClass::Normal.rank(),
                self.queued_at
                    .checked_sub(head_start)
                    .unwrap_or(self.queued_at),
                self.id,
            ),
            class => (class.rank(), self.queued_at, self.id),
        }
    }

    /// The order among tickets passed over often enough to be called next (anti-starvation):
    /// the lowest rank first (walk-ins, then booked patients: calling one never passes over
    /// another starving ticket), then [`Self::order_key`]'s time (a priority walk-in with its
    /// head start) and id.
    pub fn starve_key(
        &self,
        head_start: SignedDuration,
    ) -> (std::cmp::Reverse<u8>, Timestamp, TicketId) {
        let (rank, at, id) = self.order_key(head_start);
        (std::cmp::Reverse(rank), at, id)
    }

    /// The order key at `now`: [`Self::order_key`], except that a booked patient whose slot
    /// (`queued_at`) has not come yet stands among the walk-ins at the slot time — an early
    /// arrival waits for its slot and passes nobody who came before it.
    pub fn order_key_at(
        &self,
        now: Timestamp,
        head_start: SignedDuration,
    ) -> (u8, Timestamp, TicketId) {
        effective_key(self.order_key(head_start), now)
    }
}

/// [`Ticket::order_key_at`] from the key alone (the index keeps keys).
pub fn effective_key(key: (u8, Timestamp, TicketId), now: Timestamp) -> (u8, Timestamp, TicketId) {
    if key.0 == PriorityClass::Appointment.rank() && key.1 > now {
        (PriorityClass::Normal.rank(), key.1, key.2)
    } else {
        key
    }
}
