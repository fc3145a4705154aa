//! The engine: the single writer. Every input sends [`Command`]s to it over one channel; it
//! decides them in order against its working state (the domain), commits the resulting events
//! to the store, and only then acknowledges them and publishes them to the hub.
//!
//! Group commit: commands that arrive while a commit is running are decided one after another
//! and committed together in the next transaction, so a burst costs one fsync, not one per
//! command. A command is acknowledged only after the transaction holding its event is durable.
//! If a commit fails, every command of the batch gets an error and the working state is
//! reloaded from the database, which still holds the state before the batch.
//!
//! The engine also closes the clinic day: before each batch, and on a timer when idle, it
//! checks whether the clinic day has changed and, if so, commits a `day_closed` event first.
//!
//! Under systemd with `WatchdogSec=` (the packaged unit), the engine's own loop sends the
//! `WATCHDOG=1` keep-alive, at half the timeout systemd gives in `WATCHDOG_USEC`, idle or
//! busy: an engine stuck in a command or a commit stops pinging and systemd restarts
//! waitless. Without `NOTIFY_SOCKET` (a laptop, the tests) the pings are no-ops.
//!
//! A failed write (a full disk) leaves redb refusing every later write until the file is
//! opened again: the engine reopens the store at once after a failed commit, and while writes
//! keep failing it tries again (a reopen, then a small test write) with a growing pause of one
//! to five seconds ([`Reopen`]), so issuing resumes within seconds of space returning. When
//! writes have failed for longer than `store.unwritable_restart_secs`, it stops feeding the
//! watchdog: systemd restarts waitless.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::domain::PatientDetails;
use crate::domain::appointments::{AppointmentChange, Appointments, Arrival, BookingChange};
use crate::domain::notification::{
    NotificationKind, NotifyRules, Told, booking_notifications, near_notifications,
    notifications_for,
};
use crate::domain::{
    ClinicCalendar, Command, Decision, Directory, DomainError, Event, EventKind, Origin,
    PickReason, Policy, QueueState, Role, RoomId, Ticket, TicketId, Touched, demo,
};
use crate::hub::Hub;
use crate::store::{Store, StoreError};

/// Most commands committed in one transaction.
const MAX_BATCH: usize = 512;
/// How often an idle engine checks the clinic day.
const TICK: Duration = Duration::from_secs(1);
/// The first pause between attempts to reopen a store that cannot write, and the longest.
const REOPEN_FIRST: Duration = Duration::from_secs(1);
const REOPEN_MOST: Duration = Duration::from_secs(5);

/// What happened to a command.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// It was committed.
    Applied(Applied),
    /// A second "next" within the debounce window: ignored.
    Debounced {
        /// The room.
        room: RoomId,
        /// What it is serving.
        serving: Option<TicketId>,
    },
    /// The Idempotency-Key was seen: this ticket was issued for it before.
    Replayed(TicketId),
    /// Nothing to do.
    Unchanged,
}

/// A committed command: its event and what it changed.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The event, as committed and published.
    pub event: Arc<Event>,
    /// What it changed, typed for the caller.
    pub changed: Changed,
}

/// What a committed command changed, typed so that a caller answers without reading the
/// event (one place maps every event kind to it: [`Changed::of`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Changed {
    /// One ticket: issued, cancelled, requeued, recalled, done or marked as not come.
    Ticket(TicketId),
    /// A transfer: the old ticket, now `transferred`, and the new waiting one.
    Transfer {
        /// The old ticket.
        from: TicketId,
        /// The new ticket.
        to: TicketId,
    },
    /// A room's "next".
    Next {
        /// The ticket called (none: nobody waits).
        called: Option<TicketId>,
        /// The ticket finished (none: the room served nobody).
        finished: Option<TicketId>,
        /// Why `called` was picked.
        reason: Option<PickReason>,
    },
    /// An undone "next": the tickets as they are again.
    Restored(Vec<TicketId>),
    /// The clinic's set-up, staff, the displays' message, personal data, the day: the state
    /// says what is now.
    /// A booking (its id).
    Booking(u64),
    Setup,
}

impl Changed {
    /// What an event changed.
    pub fn of(kind: &EventKind) -> Self {
        match kind {
            EventKind::TicketIssued { ticket, .. }
            | EventKind::TicketRecalled { ticket, .. }
            | EventKind::TicketDone { ticket, .. }
            | EventKind::TicketNoShow { ticket, .. }
            | EventKind::TicketCancelled { ticket }
            | EventKind::TicketRequeued { ticket } => Self::Ticket(ticket.id),
            EventKind::TicketTransferred { from, to } => Self::Transfer {
                from: from.id,
                to: to.id,
            },
            EventKind::RoomNext {
                called,
                finished,
                reason,
                ..
            } => Self::Next {
                called: called.as_ref().map(|t| t.id),
                finished: finished.as_ref().map(|t| t.id),
                reason: reason.clone(),
            },
            EventKind::NextUndone { restored, .. } => {
                Self::Restored(restored.iter().map(|t| t.id).collect())
            }
            EventKind::AppointmentChanged {
                change: AppointmentChange::Booking { change },
            } => Self::Booking(change.booking_id()),
            EventKind::ClinicSeeded { .. }
            | EventKind::RoomOpened { .. }
            | EventKind::RoomClosed { .. }
            | EventKind::RoomPaused { .. }
            | EventKind::RoomResumed { .. }
            | EventKind::ServiceOpened { .. }
            | EventKind::ServiceClosed { .. }
            | EventKind::ClinicMessageSet { .. }
            | EventKind::ServiceAdded { .. }
            | EventKind::ServiceUpdated { .. }
            | EventKind::RoomAdded { .. }
            | EventKind::RoomUpdated { .. }
            | EventKind::ClinicSettingsSet { .. }
            | EventKind::StaffChanged { .. }
            | EventKind::AppointmentChanged { .. }
            | EventKind::PersonalDataPurged { .. }
            | EventKind::PhoneCodeSent {}
            | EventKind::DayClosed { .. } => Self::Setup,
            EventKind::FeedbackGiven { ticket, .. } => Self::Ticket(*ticket),
        }
    }
}

impl Outcome {
    /// The tickets the command acted on, in order: the ticket it issued (or issued before,
    /// for a replayed Idempotency-Key), cancelled, requeued, recalled, finished; a transfer's
    /// old and new ticket; an undo's restored tickets; the ticket a "next" called, then the one
    /// it finished (a debounced press: the one the room serves).
    pub fn tickets(&self) -> Vec<TicketId> {
        match self {
            Self::Applied(applied) => match &applied.changed {
                Changed::Ticket(id) => vec![*id],
                Changed::Transfer { from, to } => vec![*from, *to],
                Changed::Next {
                    called, finished, ..
                } => called.iter().chain(finished).copied().collect(),
                Changed::Restored(ids) => ids.clone(),
                Changed::Booking(_) | Changed::Setup => Vec::new(),
            },
            Self::Debounced { serving, .. } => serving.iter().copied().collect(),
            Self::Replayed(id) => vec![*id],
            Self::Unchanged => Vec::new(),
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The domain refused it. Nothing changed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The database failed. Nothing changed.
    #[error("the database could not save the change: {0}")]
    Store(String),
    /// The engine has stopped (shutting down).
    #[error("waitless is shutting down")]
    Stopped,
}

impl EngineError {
    /// A stable kebab-case code (see [`DomainError::code`]).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Domain(e) => e.code(),
            Self::Store(_) => "storage-unavailable",
            Self::Stopped => "shutting-down",
        }
    }
}

type Reply = oneshot::Sender<Result<Outcome, EngineError>>;

struct Request {
    command: Command,
    origin: Origin,
    reply: Reply,
}

/// A cloneable handle to send commands to the engine.
#[derive(Clone, Debug)]
pub struct EngineHandle {
    sender: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("command", &self.command)
            .finish()
    }
}

impl EngineHandle {
    /// Sends a command and waits until it is committed (or refused).
    pub async fn execute(&self, command: Command, origin: Origin) -> Result<Outcome, EngineError> {
        self.send(command, origin)?
            .await
            .map_err(|_| EngineError::Stopped)?
    }

    /// Like [`Self::execute`], for plain threads (device workers). Must not be called from an
    /// async task.
    pub fn execute_blocking(
        &self,
        command: Command,
        origin: Origin,
    ) -> Result<Outcome, EngineError> {
        self.send(command, origin)?
            .blocking_recv()
            .map_err(|_| EngineError::Stopped)?
    }

    /// Queues a command; the answer comes on the returned channel.
    fn send(
        &self,
        command: Command,
        origin: Origin,
    ) -> Result<oneshot::Receiver<Result<Outcome, EngineError>>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request {
                command,
                origin,
                reply,
            })
            .map_err(|_| EngineError::Stopped)?;
        Ok(answer)
    }
}

/// The running engine: its handle and its thread.
#[derive(Debug)]
pub struct Engine {
    handle: EngineHandle,
    thread: JoinHandle<()>,
    stopping: Arc<AtomicBool>,
}

/// What the engine needs.
pub struct EngineParts {
    /// The database.
    pub store: Arc<Store>,
    /// The hub to publish to.
    pub hub: Arc<Hub>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The clinic calendar.
    pub calendar: ClinicCalendar,
    /// The queue's rules.
    pub policy: Policy,
    /// Stop feeding the systemd watchdog once writes have failed this long (`None`: never).
    pub unwritable_restart: Option<Duration>,
    /// Told how long each durable commit took and how many events it held (the operator's
    /// commit-latency metric); `None`: nobody asks.
    pub on_commit: Option<CommitObserver>,
}

impl std::fmt::Debug for EngineParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineParts")
            .field("calendar", &self.calendar)
            .field("policy", &self.policy)
            .field("unwritable_restart", &self.unwritable_restart)
            .finish_non_exhaustive()
    }
}

/// Hears each commit's duration and its number of events.
pub type CommitObserver = Arc<dyn Fn(Duration, usize) + Send + Sync>;

/// What the engine decides on: the queue, the staff directory, and the last event's sequence
/// number. Every command is decided here, on the engine's thread (or on a stopped server's
/// database by [`execute_offline`]), and gives at most one event and the rows it writes.
#[derive(Debug)]
pub struct Books {
    /// The queue.
    pub state: QueueState,
    /// Staff users, API tokens, paired screens.
    pub directory: Directory,
    /// The last event's sequence number.
    pub seq: u64,
    /// Doctors' plans and the bookings.
    pub appointments: Appointments,
    /// The clinic's time zone (plans are wall-clock times there).
    pub zone: jiff::tz::TimeZone,
    /// How early and late a booked patient may arrive.
    pub arrival: Arrival,
    /// Which notifications to queue (none unless the server sets them from `[notify]`).
    pub notify: NotifyRules,
    /// Patients' details by ticket, to address notifications (personal data: in memory and in
    /// the patients' table only; purged with it).
    pub contacts: BTreeMap<TicketId, PatientDetails>,
    /// Tickets whose patients were told they are near, and how far (at most twice a ticket).
    pub told_near: BTreeMap<TicketId, Told>,
    /// Patients' details by booking, to address its confirmations and reminders (personal
    /// data, like `contacts`).
    pub booking_contacts: BTreeMap<u64, PatientDetails>,
}

impl Books {
    /// A check-in: the booking's change decided by the ledger (today, not too early, still
    /// open) and its ticket by the queue (the booking's service, placed by
    /// [`Arrival::placement`]), as one `ticket_issued` event that names the booking.
    fn decide_check_in(
        &self,
        booking: u64,
        origin: &Origin,
        now: jiff::Timestamp,
        policy: &Policy,
    ) -> Result<EventKind, DomainError> {
        let ticket_id = TicketId(self.state.next_ticket_id);
        self.appointments.ledger.decide(
            &self.appointments.plans,
            &self.zone,
            now,
            self.arrival,
            crate::domain::appointments::BookingOp::CheckIn {
                id: booking,
                ticket: ticket_id,
            },
        )?;
        let held = self
            .appointments
            .ledger
            .get(booking)
            .ok_or(crate::domain::appointments::BookingError::NotFound(booking))?;
        let (class, queued_at) = self.arrival.placement(held.start, now);
        let ticket = self
            .state
            .new_ticket(&held.service, class, queued_at, origin, now, policy)?;
        Ok(EventKind::TicketIssued {
            ticket,
            idempotency_key: None,
            booking: Some(booking),
            estimate_mins: None,
        })
    }

    /// Decides `command` and applies its event to the books (not yet committed): the outcome,
    /// and the event with the rows to write, if there is one.
    ///
    /// `closed` is the ticket of a closed day a `give_feedback` names, when it is not in the
    /// queue (read by the caller from the archive: [`closed_ticket`]).
    fn decide(
        &mut self,
        command: &Command,
        origin: &Origin,
        now: jiff::Timestamp,
        policy: &Policy,
        closed: Option<&Ticket>,
    ) -> Result<(Outcome, Option<(Event, Touched)>), DomainError> {
        let (decision, staff) = match command {
            Command::GiveFeedback {
                ticket,
                score,
                comment,
            } if !self.state.tickets.contains_key(ticket) => {
                let score = crate::domain::feedback::check_answer(*score, comment.as_deref())?;
                let t = closed.ok_or(DomainError::TicketNotFound(*ticket))?;
                (
                    Decision::Event(crate::domain::feedback::decide(t, score, now)?),
                    Default::default(),
                )
            }
            Command::Staff { op } => {
                let (change, rows) = self.directory.decide(op, now)?;
                (Decision::Event(EventKind::StaffChanged { change }), rows)
            }
            Command::Appointment { op, .. } => {
                let change = self.appointments.decide(
                    op,
                    now,
                    &self.zone,
                    self.arrival,
                    |name| {
                        self.directory
                            .users
                            .get(name)
                            .is_some_and(|u| !u.disabled && u.roles.contains(&Role::Doctor))
                    },
                    |service| self.state.services.contains_key(service),
                )?;
                (
                    Decision::Event(EventKind::AppointmentChanged { change }),
                    Default::default(),
                )
            }
            Command::CheckIn { booking, .. } => (
                Decision::Event(self.decide_check_in(*booking, origin, now, policy)?),
                Default::default(),
            ),
            _ => (
                self.state.decide(command, origin, now, policy)?,
                Default::default(),
            ),
        };
        let kind = match decision {
            Decision::Event(kind) => kind,
            Decision::Debounced { room, serving } => {
                return Ok((Outcome::Debounced { room, serving }, None));
            }
            Decision::Replayed { ticket } => return Ok((Outcome::Replayed(ticket), None)),
            Decision::Unchanged => return Ok((Outcome::Unchanged, None)),
        };
        self.seq += 1;
        let mut event = QueueState::event(self.seq, now, origin, kind);
        let mut touched = self.state.apply(&event);
        if let EventKind::TicketIssued {
            ticket,
            estimate_mins,
            ..
        } = &mut event.kind
        {
            // What the patient is shown, kept with the ticket for the reports.
            *estimate_mins = self
                .state
                .placement(ticket, policy)
                .and_then(|p| p.eta)
                .map(|eta| eta.minutes);
        }
        touched.appointments = self.appointments.apply_event(&event);
        self.directory.apply(&staff);
        touched.staff = staff;
        match (command, &event.kind) {
            (
                Command::IssueTicket {
                    patient: Some(details),
                    ..
                },
                EventKind::TicketIssued { ticket, .. },
            ) => {
                touched.patients.push((ticket.id, details.clone()));
                self.contacts.insert(ticket.id, details.clone());
            }
            (
                Command::CheckIn {
                    contact: Some(details),
                    ..
                },
                EventKind::TicketIssued { ticket, .. },
            ) => {
                touched.patients.push((ticket.id, details.clone()));
                self.contacts.insert(ticket.id, details.clone());
            }
            (_, EventKind::TicketTransferred { from, to }) => {
                // The patient's details follow the ticket to its new number (same recorded_at:
                // the retention rule deletes both together).
                if let Some(details) = self.contacts.get(&from.id).cloned() {
                    touched.patients.push((to.id, details.clone()));
                    self.contacts.insert(to.id, details);
                }
            }
            (
                Command::PurgePatients {
                    tickets,
                    bookings,
                    feedback,
                    older_than,
                },
                _,
            ) => {
                touched.patients_purged.clone_from(tickets);
                touched.feedback_purged.clone_from(feedback);
                touched.appointments.contacts_purged.clone_from(bookings);
                touched.codes_purged_before = Some(*older_than);
                for ticket in tickets {
                    self.contacts.remove(ticket);
                    self.told_near.remove(ticket);
                }
                for booking in bookings {
                    self.booking_contacts.remove(booking);
                }
            }
            (Command::Appointment { contact, .. }, EventKind::AppointmentChanged { change }) => {
                if let (
                    Some(details),
                    AppointmentChange::Booking {
                        change: BookingChange::Booked { booking },
                    },
                ) = (contact, change)
                {
                    touched
                        .appointments
                        .contacts
                        .push((booking.id, details.clone()));
                    self.booking_contacts.insert(booking.id, details.clone());
                }
            }
            (
                Command::GiveFeedback { comment, .. },
                EventKind::FeedbackGiven {
                    ticket,
                    score,
                    service,
                    room,
                },
            ) => {
                // A closed day's ticket: the archive keeps that it was answered.
                let archived =
                    closed.filter(|t| t.id == *ticket && !self.state.tickets.contains_key(ticket));
                if let Some(t) = archived {
                    touched.archived.push(Ticket {
                        feedback_given: true,
                        ..t.clone()
                    });
                }
                // Checked by the decision: a comment that fails here is dropped, not stored.
                if let Ok(Some(comment)) =
                    crate::domain::feedback::clean_comment(comment.as_deref())
                {
                    touched.feedback_comment = Some(crate::domain::FeedbackComment {
                        ticket: *ticket,
                        number: self
                            .state
                            .tickets
                            .get(ticket)
                            .or(archived)
                            .map(|t| t.number.clone())
                            .unwrap_or_default(),
                        score: *score,
                        service: service.clone(),
                        room: room.clone(),
                        comment,
                        at: event.at,
                    });
                }
            }
            (Command::SendPhoneCode { code }, _) => {
                touched
                    .notifications
                    .extend(crate::domain::notification::code_notification(
                        &self.notify,
                        event.seq,
                        event.at,
                        &code.phone,
                        &code.language,
                        &code.code,
                    ));
            }
            _ => {}
        }
        self.booking_messages(&event, &mut touched);
        touched.notifications.extend(notifications_for(
            &self.notify,
            &self.state,
            event.seq,
            event.at,
            &event.kind,
            |ticket| self.contacts.get(&ticket).cloned(),
        ));
        let near = near_notifications(
            &self.notify,
            &self.state,
            event.seq,
            event.at,
            self.contacts.iter(),
            &self.told_near,
        );
        // A ticket issued (or moved) already near: its own message says enough.
        let fresh = match &event.kind {
            EventKind::TicketIssued { ticket, .. } => Some(ticket.id),
            EventKind::TicketTransferred { to, .. } => Some(to.id),
            _ => None,
        };
        for (level, row) in near {
            if let Some(ticket) = row.ticket {
                let told = self.told_near.entry(ticket).or_insert(level);
                *told = (*told).max(level);
            }
            if row.ticket != fresh {
                touched.notifications.push(row);
            }
        }
        let applied = Applied {
            changed: Changed::of(&event.kind),
            event: Arc::new(event.clone()),
        };
        Ok((Outcome::Applied(applied), Some((event, touched))))
    }
}

impl Books {
    /// The books as the store holds them (`loaded` the queue and directory; the rest read here).
    fn restore(
        store: &Store,
        loaded: crate::store::Loaded,
        zone: jiff::tz::TimeZone,
        arrival: Arrival,
        notify: NotifyRules,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            state: loaded.state,
            directory: loaded.directory,
            seq: loaded.seq,
            appointments: store.load_appointments()?,
            zone,
            arrival,
            notify,
            contacts: store.patients_all()?.into_iter().collect(),
            told_near: told_near(store)?,
            booking_contacts: store.booking_contacts_all()?.into_iter().collect(),
        })
    }

    /// A booking's confirmation and reminders for its patient, and the withdrawal of the
    /// reminders it no longer needs (moved, cancelled, checked in, missed), into `touched`.
    fn booking_messages(&self, event: &Event, touched: &mut Touched) {
        let (id, change) = match &event.kind {
            EventKind::AppointmentChanged {
                change: AppointmentChange::Booking { change },
            } => (change.booking_id(), Some(change)),
            EventKind::TicketIssued {
                booking: Some(id), ..
            } => (*id, None),
            _ => return,
        };
        if !matches!(change, Some(BookingChange::Booked { .. })) {
            touched.reminders_withdrawn.push(id);
        }
        let (Some(change), Some(booking), Some(details)) = (
            change,
            self.appointments.ledger.get(id),
            self.booking_contacts.get(&id),
        ) else {
            return;
        };
        let service = self.state.services.get(&booking.service);
        touched.notifications.extend(booking_notifications(
            &self.notify,
            event.seq,
            event.at,
            change,
            booking,
            |language| {
                service.map_or_else(
                    || booking.service.to_string(),
                    |s| s.name_in(language).to_owned(),
                )
            },
            details,
            &self.zone,
        ));
    }
}

/// Loads the books from the store, seeding the demo clinic into an empty database. Returns them
/// and the recent events for the hub's replay buffer.
pub fn load_or_seed(
    store: &Store,
    clock: &dyn Clock,
    calendar: &ClinicCalendar,
) -> Result<(Books, Vec<Event>), StartError> {
    if let Some(loaded) = store.load()? {
        let recent = store.recent_events(crate::hub::REPLAY_CAPACITY)?;
        let books = Books::restore(
            store,
            loaded,
            calendar.time_zone().clone(),
            Arrival::default(),
            NotifyRules::default(),
        )?;
        return Ok((books, recent));
    }
    let now = clock.now();
    let mut state = QueueState::new(calendar.day_of(now));
    let (clinic, services, rooms) = demo::demo_clinic()?;
    let event = QueueState::event(
        1,
        now,
        &Origin::system(),
        EventKind::ClinicSeeded {
            clinic,
            services,
            rooms,
        },
    );
    let touched = state.apply(&event);
    store.commit(&[(&event, &touched)], &state)?;
    tracing::info!("new database: seeded the demo clinic (2 services, 3 rooms)");
    let books = Books {
        state,
        directory: Directory::default(),
        seq: 1,
        appointments: Appointments::default(),
        zone: calendar.time_zone().clone(),
        arrival: Arrival::default(),
        notify: NotifyRules::default(),
        contacts: BTreeMap::new(),
        told_near: BTreeMap::new(),
        booking_contacts: BTreeMap::new(),
    };
    Ok((books, vec![event]))
}

/// The tickets the outbox holds a `near` message for, and how far they were told.
fn told_near(store: &Store) -> Result<BTreeMap<TicketId, Told>, StoreError> {
    let mut told = BTreeMap::new();
    for n in store.notifications()? {
        let Some(ticket) = n.ticket.filter(|_| n.kind == NotificationKind::Near) else {
            continue;
        };
        let level = if n.key().ends_with(".early") {
            Told::Early
        } else {
            Told::Near
        };
        let entry = told.entry(ticket).or_insert(level);
        *entry = (*entry).max(level);
    }
    Ok(told)
}

/// The ticket of a closed day a `give_feedback` command names (not in the queue `live`),
/// following transfers to where the patient ended up ([`archived_ticket`]). `None` for any
/// other command.
fn closed_ticket(
    store: &Store,
    live: &QueueState,
    batch: &[(Event, Touched)],
    command: &Command,
) -> Result<Option<Ticket>, StoreError> {
    match command {
        Command::GiveFeedback { ticket, .. } => {
            archived_ticket(store, |id| live.tickets.contains_key(&id), batch, *ticket)
        }
        _ => Ok(None),
    }
}

/// Ticket `ticket` of a closed day, following transfers to the ticket it became: as `batch`
/// (events decided, not yet committed) left it — a day it closed, an answer it took — else
/// from the archive. `None` for a ticket in the queue (`live`), an unknown ticket, or transfers
/// that lead back into the queue. Reads the database: the engine's thread or a blocking task.
pub fn archived_ticket(
    store: &Store,
    live: impl Fn(TicketId) -> bool,
    batch: &[(Event, Touched)],
    ticket: TicketId,
) -> Result<Option<Ticket>, StoreError> {
    let read = |id: TicketId| -> Result<Option<Ticket>, StoreError> {
        if live(id) {
            return Ok(None);
        }
        let pending = batch
            .iter()
            .rev()
            .find_map(|(_, touched)| touched.archived.iter().rev().find(|t| t.id == id));
        match pending {
            Some(t) => Ok(Some(t.clone())),
            None => store.ticket(id),
        }
    };
    let Some(mut t) = read(ticket)? else {
        return Ok(None);
    };
    for _ in 0..16 {
        let Some(next) = t.transferred_to else {
            break;
        };
        match read(next)? {
            Some(next) => t = next,
            None => return Ok(None),
        }
    }
    Ok(Some(t))
}

/// Executes one command on the database directly, without a running engine: for the command
/// line while the server is stopped (`waitless user add` this way commits the user and its
/// event together). The database must not be open in a server (redb refuses a second writer).
pub fn execute_offline(
    store: &Store,
    clock: &dyn Clock,
    calendar: &ClinicCalendar,
    policy: &Policy,
    command: &Command,
    origin: &Origin,
) -> Result<Outcome, EngineError> {
    let (mut books, _) =
        load_or_seed(store, clock, calendar).map_err(|e| EngineError::Store(e.to_string()))?;
    books.state.set_head_start(policy.priority_head_start);
    let closed = closed_ticket(store, &books.state, &[], command)
        .map_err(|e| EngineError::Store(e.to_string()))?;
    let (outcome, written) = books.decide(command, origin, clock.now(), policy, closed.as_ref())?;
    if let Some((event, touched)) = written {
        store
            .commit(&[(&event, &touched)], &books.state)
            .map_err(|e| EngineError::Store(e.to_string()))?;
    }
    Ok(outcome)
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The seed data is invalid (a bug).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The thread could not start.
    #[error("cannot start the engine thread: {0}")]
    Thread(#[from] std::io::Error),
}

impl Engine {
    /// Starts the engine thread on `books` (as loaded by [`load_or_seed`]).
    pub fn start(parts: EngineParts, mut books: Books) -> Result<Self, StartError> {
        books.state.set_head_start(parts.policy.priority_head_start);
        let (sender, receiver) = mpsc::channel();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let watchdog = Watchdog::new(sd_notify::watchdog_enabled(), parts.unwritable_restart);
        if let Some(interval) = watchdog.interval {
            tracing::info!(
                "systemd watchdog on: the engine pings every {} ms",
                interval.as_millis()
            );
        }
        let thread = std::thread::Builder::new()
            .name("waitless-engine".to_owned())
            .spawn(move || {
                Writer {
                    parts,
                    books,
                    receiver,
                    stale: false,
                    stopping: flag,
                    watchdog,
                    reopen: Reopen::default(),
                    no_shows_checked: None,
                }
                .run();
            })?;
        Ok(Self {
            handle: EngineHandle { sender },
            thread,
            stopping,
        })
    }

    /// A handle for inputs.
    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Stops taking commands, finishes those already sent, and waits for the thread (which
    /// closes its end of the database).
    pub fn stop(self) {
        // Handles still held elsewhere (a lingering connection task) must not keep the engine
        // alive: after the flag, it stops as soon as its channel is empty.
        self.stopping.store(true, Ordering::SeqCst);
        drop(self.handle);
        if self.thread.join().is_err() {
            tracing::error!("the engine thread panicked");
        }
    }
}

struct Writer {
    parts: EngineParts,
    books: Books,
    receiver: mpsc::Receiver<Request>,
    /// The working state may hold uncommitted changes (a commit failed and the reload too).
    stale: bool,
    /// Set by [`Engine::stop`].
    stopping: Arc<AtomicBool>,
    /// When to send systemd the next keep-alive.
    watchdog: Watchdog,
    /// When to try the store again while it cannot write.
    reopen: Reopen,
    /// When bookings past their late window were last marked no-shows.
    no_shows_checked: Option<jiff::Timestamp>,
}

/// How often the engine marks bookings past their late window as no-shows.
const NO_SHOW_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// When the engine tries again to reopen a store that cannot write: at once after the first
/// failure, then after a pause that doubles from [`REOPEN_FIRST`] up to [`REOPEN_MOST`] (a
/// reopen recovers the file, which costs more on a large one). Time is a parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Reopen {
    /// The last attempt and the pause after it; `None`: writes work.
    last: Option<(Instant, Duration)>,
}

impl Reopen {
    /// Whether an attempt is due at `now`; if so, records it.
    fn due(&mut self, now: Instant) -> bool {
        let pause = match self.last {
            None => REOPEN_FIRST,
            Some((at, pause)) if now.saturating_duration_since(at) >= pause => {
                (pause * 2).min(REOPEN_MOST)
            }
            Some(_) => return false,
        };
        self.last = Some((now, pause));
        true
    }

    /// Writes work again.
    fn healed(&mut self) {
        self.last = None;
    }
}

/// The systemd watchdog as the engine loop keeps it: pings at half the timeout systemd set
/// (`WATCHDOG_USEC`), and bounds how long the loop may block waiting for a command so that an
/// idle engine still pings on time. Time is a parameter: the tests pass their own instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watchdog {
    /// Time between pings; `None` when systemd asked for no watchdog.
    interval: Option<Duration>,
    /// When the last ping was sent; `None` before the first.
    last: Option<Instant>,
    /// No pings once writes have failed this long (`None`: ping anyway).
    unwritable: Option<Duration>,
    /// The pings stopped for failing writes (logged once).
    starved: bool,
}

impl Watchdog {
    /// A watchdog for systemd's timeout (`None` or zero: off).
    fn new(timeout: Option<Duration>, unwritable: Option<Duration>) -> Self {
        Self {
            interval: timeout.filter(|t| !t.is_zero()).map(|t| t / 2),
            last: None,
            unwritable,
            starved: false,
        }
    }

    /// Whether writes have failed (since `failing`) for too long to keep systemd content.
    fn starving(&mut self, now: Instant, failing: Option<Instant>) -> bool {
        let starving = matches!(
            (self.unwritable, failing),
            (Some(limit), Some(since)) if now.saturating_duration_since(since) >= limit
        );
        if starving && !self.starved && self.interval.is_some() {
            tracing::error!(
                "the database has not been writable for {} s: no more systemd watchdog \
                 keep-alives, systemd will restart waitless",
                self.unwritable.unwrap_or_default().as_secs()
            );
        }
        self.starved = starving;
        starving
    }

    /// Whether a ping is due at `now`; if so, records it as sent.
    fn ping_due(&mut self, now: Instant) -> bool {
        let Some(interval) = self.interval else {
            return false;
        };
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= interval);
        if due {
            self.last = Some(now);
        }
        due
    }

    /// How long the loop may wait for a command at `now`: `tick`, or less if a ping falls due
    /// sooner.
    fn wait(&self, now: Instant, tick: Duration) -> Duration {
        if self.starved {
            // No ping is coming: an overdue one must not make the loop spin.
            return tick;
        }
        match (self.interval, self.last) {
            (None, _) => tick,
            (Some(_), None) => Duration::ZERO,
            (Some(interval), Some(last)) => {
                let next = last + interval;
                tick.min(next.saturating_duration_since(now))
            }
        }
    }

    /// Sends the keep-alive if it is due (a no-op without `NOTIFY_SOCKET`), unless writes have
    /// failed since `failing` for too long.
    fn keep_alive(&mut self, now: Instant, failing: Option<Instant>) {
        if !self.starving(now, failing)
            && self.ping_due(now)
            && let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Watchdog])
        {
            tracing::warn!("cannot send the systemd watchdog keep-alive: {e}");
        }
    }
}

struct Pending {
    reply: Option<Reply>,
    result: Result<Outcome, EngineError>,
}

impl Writer {
    fn run(mut self) {
        loop {
            let mut batch = Vec::new();
            let failing = self.parts.store.failure().map(|f| f.since);
            self.watchdog.keep_alive(Instant::now(), failing);
            match self
                .receiver
                .recv_timeout(self.watchdog.wait(Instant::now(), TICK))
            {
                Ok(request) => batch.push(request),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            while batch.len() < MAX_BATCH {
                match self.receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            // Idle: nothing else would show that the disk can take writes again.
            self.heal(batch.is_empty());
            self.process(batch);
        }
        tracing::debug!("engine stopped");
    }

    fn process(&mut self, batch: Vec<Request>) {
        if self.stale {
            self.reload();
            if self.stale {
                for request in batch {
                    let _ = request.reply.send(Err(EngineError::Store(
                        "the database cannot be read".to_owned(),
                    )));
                }
                return;
            }
        }
        let now = self.parts.clock.now();
        let mut events: Vec<(Event, Touched)> = Vec::new();
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len() + 1);

        let today = self.parts.calendar.day_of(now);
        if today > self.books.state.day {
            let command = Command::CloseDay { new_day: today };
            let result = self.decide(&command, &Origin::system(), now, &mut events);
            if let Err(e) = &result {
                tracing::error!("cannot close the clinic day: {e}");
            }
            pending.push(Pending {
                reply: None,
                result,
            });
        }
        if self
            .no_shows_checked
            .is_none_or(|at| now.duration_since(at) >= NO_SHOW_EVERY)
        {
            self.no_shows_checked = Some(now);
            for id in self
                .books
                .appointments
                .ledger
                .overdue(now, self.books.arrival)
            {
                let command = Command::Appointment {
                    op: crate::domain::appointments::AppointmentOp::Booking {
                        op: crate::domain::appointments::BookingOp::NoShow { id },
                    },
                    contact: None,
                };
                let result = self.decide(&command, &Origin::system(), now, &mut events);
                if let Err(e) = &result {
                    tracing::warn!(booking = id, "cannot mark the booking a no-show: {e}");
                }
                pending.push(Pending {
                    reply: None,
                    result,
                });
            }
        }
        for request in batch {
            let result = self.decide(&request.command, &request.origin, now, &mut events);
            pending.push(Pending {
                reply: Some(request.reply),
                result,
            });
        }
        if events.is_empty() {
            for p in pending {
                p.answer();
            }
            return;
        }

        let batch: Vec<(&Event, &Touched)> = events.iter().map(|(e, t)| (e, t)).collect();
        let began = std::time::Instant::now();
        let committed = self.parts.store.commit(&batch, &self.books.state);
        if let (Ok(()), Some(observe)) = (&committed, &self.parts.on_commit) {
            observe(began.elapsed(), batch.len());
        }
        match committed {
            Ok(()) => {
                for (event, _) in &events {
                    if let EventKind::DayClosed {
                        day,
                        new_day,
                        closed,
                    } = &event.kind
                    {
                        tracing::info!(%day, %new_day, closed = closed.len(), "clinic day closed");
                    }
                }
                let day_closed = events
                    .iter()
                    .any(|(e, _)| matches!(e.kind, EventKind::DayClosed { .. }));
                self.reopen.healed();
                self.parts
                    .hub
                    .publish(events.into_iter().map(|(e, _)| e).collect());
                for p in pending {
                    p.answer();
                }
                if day_closed {
                    // the closed day's tickets are freed: give their pages back
                    crate::memory::give_back();
                }
            }
            Err(e) => {
                tracing::error!("commit failed, {} command(s) refused: {e}", batch.len());
                let message = e.to_string();
                for p in pending {
                    let result = match p.result {
                        Ok(_) => Err(EngineError::Store(message.clone())),
                        Err(e) => Err(e),
                    };
                    Pending { result, ..p }.answer();
                }
                self.heal(false);
                self.reload();
            }
        }
    }

    /// Decides one command on the working books, applying its event (not yet committed).
    fn decide(
        &mut self,
        command: &Command,
        origin: &Origin,
        now: jiff::Timestamp,
        events: &mut Vec<(Event, Touched)>,
    ) -> Result<Outcome, EngineError> {
        let closed = closed_ticket(&self.parts.store, &self.books.state, events, command)
            .map_err(|e| EngineError::Store(e.to_string()))?;
        let (outcome, written) =
            self.books
                .decide(command, origin, now, &self.parts.policy, closed.as_ref())?;
        events.extend(written);
        Ok(outcome)
    }

    /// While writes fail: reopens the store when an attempt is due (redb refuses every write
    /// after a failed one until then) and, with `probe`, tries a small write to learn whether
    /// the disk takes writes again.
    fn heal(&mut self, probe: bool) {
        let Some(failure) = self.parts.store.failure() else {
            self.reopen.healed();
            return;
        };
        if !self.reopen.due(Instant::now()) {
            return;
        }
        match self.parts.store.reopen() {
            Ok(()) => {
                tracing::info!("database opened again after a failed write");
                self.stale = true;
            }
            Err(e) => {
                tracing::warn!("cannot open the database again yet: {e}");
                return;
            }
        }
        if probe {
            match self.parts.store.probe() {
                Ok(()) => {
                    self.reopen.healed();
                    tracing::info!(
                        "the database takes writes again, {} s after they began to fail",
                        failure.since.elapsed().as_secs()
                    );
                }
                Err(e) => tracing::debug!("the database still cannot write: {e}"),
            }
        }
        if self.stale {
            self.reload();
        }
    }

    /// After a failed commit: the database holds the truth; take it back.
    fn reload(&mut self) {
        let store = &self.parts.store;
        let loaded = store.load().map(|loaded| {
            loaded.map(|l| {
                Books::restore(
                    store,
                    l,
                    self.books.zone.clone(),
                    self.books.arrival,
                    self.books.notify.clone(),
                )
            })
        });
        match loaded {
            Ok(Some(Ok(books))) => {
                self.books = books;
                self.stale = false;
            }
            Ok(Some(Err(e))) => {
                self.stale = true;
                tracing::error!("reload after a failed commit failed: {e}");
            }
            Ok(None) => {
                self.stale = true;
                tracing::error!("reload after a failed commit found an empty database");
            }
            Err(e) => {
                self.stale = true;
                tracing::error!("reload after a failed commit failed: {e}");
            }
        }
    }
}

impl Pending {
    fn answer(self) {
        if let Some(reply) = self.reply {
            // The requester may have gone (client disconnected): the command still happened.
            let _ = reply.send(self.result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK_1S: Duration = Duration::from_secs(1);

    #[test]
    fn watchdog_off_never_pings_and_waits_a_full_tick() {
        for timeout in [None, Some(Duration::ZERO)] {
            let mut watchdog = Watchdog::new(timeout, None);
            let now = Instant::now();
            assert!(!watchdog.ping_due(now));
            assert_eq!(watchdog.wait(now, TICK_1S), TICK_1S);
        }
    }

    #[test]
    fn watchdog_pings_at_half_the_timeout() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(Some(Duration::from_secs(30)), None);
        assert_eq!(watchdog.interval, Some(Duration::from_secs(15)));
        assert_eq!(
            watchdog.wait(start, TICK_1S),
            Duration::ZERO,
            "first ping at once"
        );
        assert!(watchdog.ping_due(start));
        assert!(!watchdog.ping_due(start + Duration::from_secs(14)));
        assert!(watchdog.ping_due(start + Duration::from_secs(15)));
        assert!(!watchdog.ping_due(start + Duration::from_secs(16)));
        assert!(watchdog.ping_due(start + Duration::from_secs(31)));
    }

    #[test]
    fn idle_engine_waits_no_longer_than_the_next_ping() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(Some(Duration::from_millis(400)), None);
        assert!(watchdog.ping_due(start));
        // A short watchdog: the wait is bounded by the ping, not the 1 s tick.
        assert_eq!(watchdog.wait(start, TICK_1S), Duration::from_millis(200));
        assert_eq!(
            watchdog.wait(start + Duration::from_millis(150), TICK_1S),
            Duration::from_millis(50)
        );
        assert_eq!(
            watchdog.wait(start + Duration::from_millis(250), TICK_1S),
            Duration::ZERO,
            "overdue: do not block"
        );
        // A long watchdog: the tick (closing the clinic day) bounds the wait.
        let mut long = Watchdog::new(Some(Duration::from_secs(60)), None);
        assert!(long.ping_due(start));
        assert_eq!(long.wait(start, TICK_1S), TICK_1S);
    }

    #[test]
    fn watchdog_starves_only_after_writes_fail_for_the_configured_time() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(
            Some(Duration::from_secs(30)),
            Some(Duration::from_secs(120)),
        );
        assert!(!watchdog.starving(start, None));
        assert!(!watchdog.starving(start + Duration::from_secs(119), Some(start)));
        assert!(watchdog.starving(start + Duration::from_secs(120), Some(start)));
        assert_eq!(
            watchdog.wait(start + Duration::from_secs(120), TICK_1S),
            TICK_1S,
            "a starving engine does not spin on the overdue ping"
        );
        assert!(
            !watchdog.starving(start + Duration::from_secs(121), None),
            "writes work again: pings resume"
        );
        let mut never = Watchdog::new(Some(Duration::from_secs(30)), None);
        assert!(!never.starving(start + Duration::from_secs(10_000), Some(start)));
    }

    #[test]
    fn reopen_is_tried_at_once_then_with_a_pause_growing_to_five_seconds() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut reopen = Reopen::default();
        assert!(reopen.due(at(0)), "at once after the first failure");
        assert!(!reopen.due(at(999)));
        assert!(reopen.due(at(1_000)));
        assert!(!reopen.due(at(2_999)));
        assert!(reopen.due(at(3_000)));
        assert!(reopen.due(at(7_000)));
        assert!(!reopen.due(at(11_999)), "at most five seconds apart");
        assert!(reopen.due(at(12_000)));
        reopen.healed();
        assert!(reopen.due(at(12_001)), "a new failure: at once again");
    }
}
