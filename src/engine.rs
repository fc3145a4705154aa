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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::domain::{
    ClinicCalendar, Command, Decision, DomainError, Event, EventKind, Origin, Policy, QueueState,
    RoomId, TicketId, Touched, demo,
};
use crate::hub::Hub;
use crate::store::{Store, StoreError};

/// Most commands committed in one transaction.
const MAX_BATCH: usize = 512;
/// How often an idle engine checks the clinic day.
const TICK: Duration = Duration::from_secs(1);

/// What happened to a command.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// It was committed as this event.
    Applied(Arc<Event>),
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
#[derive(Debug)]
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
}

/// Loads the queue from the store, seeding the demo clinic into an empty database. Returns the
/// state, its sequence number and the recent events for the hub's replay buffer.
pub fn load_or_seed(
    store: &Store,
    clock: &dyn Clock,
    calendar: &ClinicCalendar,
) -> Result<(QueueState, u64, Vec<Event>), StartError> {
    if let Some(loaded) = store.load()? {
        let recent = store.recent_events(crate::hub::REPLAY_CAPACITY)?;
        return Ok((loaded.state, loaded.seq, recent));
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
    Ok((state, 1, vec![event]))
}

/// Executes one command on the database directly, without a running engine: for the command
/// line while the server is stopped (`waitless user add` records its event this way). The
/// database must not be open in a server (redb refuses a second writer anyway).
pub fn execute_offline(
    store: &Store,
    clock: &dyn Clock,
    calendar: &ClinicCalendar,
    policy: &Policy,
    command: &Command,
    origin: &Origin,
) -> Result<Outcome, EngineError> {
    let (mut state, seq, _) =
        load_or_seed(store, clock, calendar).map_err(|e| EngineError::Store(e.to_string()))?;
    let now = clock.now();
    match state.decide(command, origin, now, policy)? {
        Decision::Event(kind) => {
            let event = QueueState::event(seq + 1, now, origin, kind);
            let touched = state.apply(&event);
            store
                .commit(&[(&event, &touched)], &state)
                .map_err(|e| EngineError::Store(e.to_string()))?;
            Ok(Outcome::Applied(Arc::new(event)))
        }
        Decision::Debounced { room, serving } => Ok(Outcome::Debounced { room, serving }),
        Decision::Replayed { ticket } => Ok(Outcome::Replayed(ticket)),
        Decision::Unchanged => Ok(Outcome::Unchanged),
    }
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
    /// Starts the engine thread on `state` (as loaded by [`load_or_seed`]) after event `seq`.
    pub fn start(parts: EngineParts, state: QueueState, seq: u64) -> Result<Self, StartError> {
        let (sender, receiver) = mpsc::channel();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name("waitless-engine".to_owned())
            .spawn(move || {
                Writer {
                    parts,
                    state,
                    seq,
                    receiver,
                    stale: false,
                    stopping: flag,
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
    state: QueueState,
    seq: u64,
    receiver: mpsc::Receiver<Request>,
    /// The working state may hold uncommitted changes (a commit failed and the reload too).
    stale: bool,
    /// Set by [`Engine::stop`].
    stopping: Arc<AtomicBool>,
}

struct Pending {
    reply: Option<Reply>,
    result: Result<Outcome, EngineError>,
}

impl Writer {
    fn run(mut self) {
        loop {
            let mut batch = Vec::new();
            match self.receiver.recv_timeout(TICK) {
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
        if today > self.state.day {
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
        match self.parts.store.commit(&batch, &self.state) {
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
                self.parts
                    .hub
                    .publish(events.into_iter().map(|(e, _)| e).collect());
                for p in pending {
                    p.answer();
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
                self.reload();
            }
        }
    }

    /// Decides one command on the working state, applying its event (not yet committed).
    fn decide(
        &mut self,
        command: &Command,
        origin: &Origin,
        now: jiff::Timestamp,
        events: &mut Vec<(Event, Touched)>,
    ) -> Result<Outcome, EngineError> {
        match self
            .state
            .decide(command, origin, now, &self.parts.policy)?
        {
            Decision::Event(kind) => {
                self.seq += 1;
                let event = QueueState::event(self.seq, now, origin, kind);
                let touched = self.state.apply(&event);
                let outcome = Outcome::Applied(Arc::new(event.clone()));
                events.push((event, touched));
                Ok(outcome)
            }
            Decision::Debounced { room, serving } => Ok(Outcome::Debounced { room, serving }),
            Decision::Replayed { ticket } => Ok(Outcome::Replayed(ticket)),
            Decision::Unchanged => Ok(Outcome::Unchanged),
        }
    }

    /// After a failed commit: the database holds the truth; take it back.
    fn reload(&mut self) {
        match self.parts.store.load() {
            Ok(Some(loaded)) => {
                self.state = loaded.state;
                self.seq = loaded.seq;
                self.stale = false;
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
