//! The domain's one error type: every way a command can be refused.

use super::{RoomId, ServiceId, TicketId, TicketState};

/// Why a command was refused. Nothing changes when a command fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// A malformed id.
    #[error("invalid {kind} {value:?}: use 1–32 lowercase letters, digits and dashes")]
    InvalidId {
        /// What kind of id.
        kind: &'static str,
        /// What was given (cut short).
        value: String,
    },
    /// A malformed token prefix.
    #[error("invalid token prefix {0:?}: use 1–3 uppercase letters")]
    InvalidPrefix(String),
    /// A malformed idempotency key.
    #[error("invalid Idempotency-Key: use 1–128 visible ASCII characters")]
    InvalidIdempotencyKey,
    /// An Idempotency-Key sent again with a different request.
    #[error(
        "this Idempotency-Key was already used for a different request (service, class or \
         source): use a new key for a new ticket"
    )]
    IdempotencyKeyReused,
    /// A display message with control characters (they would reach the printer).
    #[error(
        "the message may not contain control characters (line breaks, tabs, escape codes): \
         write it as one line of plain text"
    )]
    MessageControlCharacters,
    /// A display message over the limit.
    #[error("the message is too long: at most {0} characters")]
    MessageTooLong(usize),
    /// A name an admin gave is not usable.
    #[error("invalid {what} name: {reason}")]
    InvalidName {
        /// What was named.
        what: &'static str,
        /// Why not.
        reason: &'static str,
    },
    /// A setting out of range.
    #[error("{0}")]
    InvalidSetting(String),
    /// A service with that id exists.
    #[error("there is already a service \"{0}\"")]
    ServiceExists(ServiceId),
    /// A room with that id exists.
    #[error("there is already a room \"{0}\"")]
    RoomExists(RoomId),
    /// Another service has that prefix.
    #[error("prefix {prefix} is already used by service \"{service}\": each service needs its own")]
    PrefixInUse {
        /// The prefix.
        prefix: String,
        /// The service that has it.
        service: ServiceId,
    },
    /// Unknown service.
    #[error("there is no service \"{0}\"")]
    ServiceNotFound(ServiceId),
    /// Unknown room.
    #[error("there is no room \"{0}\"")]
    RoomNotFound(RoomId),
    /// Unknown ticket (or one from a closed day).
    #[error("there is no ticket {0} in today's queue")]
    TicketNotFound(TicketId),
    /// The service issues no tickets now.
    #[error("service \"{0}\" is closed: it issues no tickets now")]
    ServiceClosed(ServiceId),
    /// The room calls no tickets now.
    #[error("room \"{0}\" is closed: open it before calling tickets")]
    RoomClosed(RoomId),
    /// The room is on break: it calls no tickets until it resumes.
    #[error("room \"{0}\" is on break: resume it before calling tickets")]
    RoomOnBreak(RoomId),
    /// A call out of order without a usable reason.
    #[error("say why this ticket is called out of order: {0}")]
    InvalidCallReason(&'static str),
    /// A call of a ticket the room does not serve.
    #[error("room \"{room}\" does not call tickets of service \"{service}\" ({number})")]
    NotThisRoomsTicket {
        /// The ticket's number.
        number: String,
        /// The room.
        room: RoomId,
        /// The ticket's service.
        service: ServiceId,
    },
    /// Recall/done/no-show in a room that serves nobody.
    #[error("room \"{0}\" is not serving anyone")]
    RoomIdle(RoomId),
    /// The ticket's state does not allow the action.
    #[error("ticket {number} is {state}: it cannot be {action}")]
    InvalidTransition {
        /// The ticket's number.
        number: String,
        /// Its state.
        state: TicketState,
        /// What was asked ("cancelled", "requeued", "transferred").
        action: &'static str,
    },
    /// Transfer to the service the ticket is already in.
    #[error("ticket {0} is already in service \"{1}\"")]
    SameService(String, ServiceId),
    /// Undo without a "next" to undo.
    #[error("room \"{0}\" has no \"next\" to undo")]
    NothingToUndo(RoomId),
    /// Undo after the window.
    #[error("room \"{room}\": its last \"next\" is older than the undo window ({window_secs} s)")]
    UndoExpired {
        /// The room.
        room: RoomId,
        /// The window.
        window_secs: i64,
    },
    /// Undo after the tickets involved changed again.
    #[error("room \"{0}\": its last \"next\" cannot be undone, its tickets have changed since")]
    UndoConflict(RoomId),
    /// A user of that name exists.
    #[error("user {0} already exists")]
    UserExists(String),
    /// No user of that name.
    #[error("no user named {0}")]
    UserNotFound(String),
    /// No API token with that id.
    #[error("no API token with id {0}")]
    TokenNotFound(String),
    /// No paired screen with that id.
    #[error("no paired screen with id {0}")]
    ScreenNotFound(String),
    /// A staff change was sent to the queue's rules instead of the directory's (a bug).
    #[error("internal error: a staff change reached the queue's rules")]
    NotAQueueCommand,
    /// An appointments command refused.
    #[error(transparent)]
    Booking(#[from] crate::domain::appointments::BookingError),
    /// The appointment class comes only with a booking's check-in.
    #[error(
        "tickets in the appointment class come from a booking's check-in: issue a normal, \
         priority or urgent ticket, or check the booking in"
    )]
    AppointmentNeedsCheckIn,
    /// The change would leave no enabled admin.
    #[error("that would leave no enabled admin: make another user admin first")]
    LastAdmin,
    /// A feedback score outside 1–5.
    #[error("the score must be 1 to 5, not {0}")]
    InvalidScore(i64),
    /// A feedback comment that is too long or holds control characters.
    #[error("invalid comment: {0}")]
    InvalidComment(String),
    /// Feedback for a ticket that was not served (yet).
    #[error("ticket {0} was not served: feedback comes after the visit")]
    FeedbackTooEarly(String),
    /// A second feedback for the same ticket.
    #[error("feedback for ticket {0} was already given")]
    FeedbackGiven(String),
    /// Feedback after the window (see [`crate::domain::feedback::FEEDBACK_WINDOW`]).
    #[error("the visit of ticket {0} ended more than 7 days ago: feedback is closed")]
    FeedbackClosed(String),
}

impl DomainError {
    /// A stable kebab-case code, e.g. `room-not-found`: the same in the HTTP API, the admin
    /// socket and the screens' message files (`[errors]` in `assets/i18n/*.toml`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidId { .. } => "invalid-id",
            Self::InvalidPrefix(_) => "invalid-prefix",
            Self::InvalidIdempotencyKey => "invalid-idempotency-key",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::MessageTooLong(_) => "message-too-long",
            Self::MessageControlCharacters => "message-control-characters",
            Self::InvalidName { .. } => "invalid-name",
            Self::InvalidSetting(_) => "invalid-setting",
            Self::ServiceExists(_) => "service-exists",
            Self::RoomExists(_) => "room-exists",
            Self::PrefixInUse { .. } => "prefix-in-use",
            Self::ServiceNotFound(_) => "service-not-found",
            Self::RoomNotFound(_) => "room-not-found",
            Self::TicketNotFound(_) => "ticket-not-found",
            Self::ServiceClosed(_) => "service-closed",
            Self::RoomClosed(_) => "room-closed",
            Self::RoomIdle(_) => "room-idle",
            Self::RoomOnBreak(_) => "room-on-break",
            Self::InvalidCallReason(_) => "invalid-call-reason",
            Self::NotThisRoomsTicket { .. } => "not-this-rooms-ticket",
            Self::InvalidTransition { .. } => "invalid-transition",
            Self::SameService(..) => "same-service",
            Self::NothingToUndo(_) => "nothing-to-undo",
            Self::UndoExpired { .. } => "undo-expired",
            Self::UndoConflict(_) => "undo-conflict",
            Self::UserExists(_) => "user-exists",
            Self::UserNotFound(_) => "user-not-found",
            Self::TokenNotFound(_) => "token-not-found",
            Self::ScreenNotFound(_) => "screen-not-found",
            Self::NotAQueueCommand => "internal",
            Self::Booking(e) => e.code(),
            Self::LastAdmin => "last-admin",
            Self::AppointmentNeedsCheckIn => "appointment-needs-check-in",
            Self::InvalidScore(_) => "invalid-score",
            Self::InvalidComment(_) => "invalid-comment",
            Self::FeedbackTooEarly(_) => "feedback-too-early",
            Self::FeedbackGiven(_) => "feedback-given",
            Self::FeedbackClosed(_) => "feedback-closed",
        }
    }
}

impl std::fmt::Display for TicketState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
