//! The queue's rules: tickets, rooms, services, the state machine, numbering, the next-ticket
//! rule and wait estimates.
//!
//! Pure: no I/O, no clock (time is passed in), no async, no storage or web types. Everything
//! else in waitless is an adapter around this module. The engine feeds it commands through
//! [`QueueState::decide`] and commits the [`Event`]s it returns; [`QueueState::apply`] changes
//! the state by a committed event.

pub mod appointments;
pub mod clinic;
pub mod command;
pub mod demo;
pub mod error;
pub mod estimate;
pub mod event;
pub mod feedback;
pub mod id;
pub mod index;
pub mod notification;
pub mod numbering;
#[cfg(test)]
mod proptests;
pub mod report;
pub mod rules;
pub mod setup;
pub mod staff;
pub mod state;
#[cfg(test)]
mod state_tests;
pub mod ticket;

pub use clinic::{Clinic, NextRecord, Room, Service, ServiceTimes, check_prefix};
pub use command::{Command, Origin};
pub use error::DomainError;
pub use estimate::Eta;
pub use event::{Event, EventKind};
pub use feedback::{FEEDBACK_COMMENT_MAX, FeedbackComment};
pub use id::{RoomId, ServiceId, TicketId};
pub use numbering::ClinicCalendar;
pub use rules::{PRIORITY_HEAD_START, Pick, PickReason, Starvation};
pub use setup::{ClinicChange, KioskSettings, RoomChange, ServiceChange, StaffChange};
pub use staff::{
    Directory, PatientDetails, Role, ScreenKind, ScreenRecord, SessionRecord, StaffOp, StaffRows,
    TokenRecord, User,
};
pub use state::{Decision, IdempotencyEntry, Placement, Policy, QueueState, Touched};
pub use ticket::{CancelReason, PriorityClass, Source, Ticket, TicketState};

/// An instant. The one timestamp type of waitless.
pub type Timestamp = jiff::Timestamp;
