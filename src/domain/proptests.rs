//! Property tests of the state machine: random sequences of commands (issue, next, recall, done,
//! no-show, no-show and next, undo, cancel, requeue, transfer, open/close rooms, breaks, time
//! passing, day close) driven
//! through [`QueueState::decide`] and [`QueueState::apply`] as the engine drives them.
//!
//! [`Model`] runs the commands and keeps its own, independent books beside the state:
//! * the outcome it expects for every command (event, refusal and which, debounce, replay...);
//! * every number issued per clinic day;
//! * its own count of how often each waiting ticket was passed over, recomputed from the queue
//!   before each "next" (a waiting ticket of the room's services, of a lower tier — urgent, due
//!   appointment, walk-in — that counts as queued before the called ticket and as having waited
//!   at least `after`, a priority ticket counting its head start earlier), taken back when that
//!   "next" is undone, and started again when the ticket is requeued (a new place in the queue);
//! * what each room's last "next" changed, to check that an undo restores it exactly.
//!
//! After every step it checks the invariants listed in `state.rs` (see [`Model::check`]); at the
//! end of each case it replays the event log on a fresh state and compares.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::SignedDuration;
use jiff::civil::{Date, date};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm};

use super::demo::demo_clinic;
use super::index::QueueIndex;
use super::rules::pick_next;
use super::{
    CancelReason, Command, Decision, DomainError, Event, EventKind, Origin, Policy, PriorityClass,
    QueueState, RoomId, ServiceId, Source, Starvation, Ticket, TicketId, TicketState, Timestamp,
};

const ROOMS: [&str; 3] = ["room-1", "room-2", "lab"];
const SERVICES: [&str; 2] = ["general", "lab"];
const CLASSES: [PriorityClass; 3] = [
    PriorityClass::Urgent,
    PriorityClass::Priority,
    PriorityClass::Normal,
];

/// The shipped debounce and windows, with anti-starvation that random runs reach (2 passes,
/// counted after 150 s): as with the shipped 10 minutes, a ticket must wait longer than the undo
/// window before a pass counts.
fn policy() -> Policy {
    Policy {
        debounce: SignedDuration::from_secs(2),
        undo_window: SignedDuration::from_secs(120),
        starvation: Some(Starvation {
            max_passes: 2,
            after: SignedDuration::from_secs(150),
        }),
        default_service_secs: 480.0,
        number_digits: 3,
        idempotency_window: SignedDuration::from_secs(600),
        priority_head_start: crate::domain::PRIORITY_HEAD_START,
    }
}

/// Passes count after a ticket waited 30 s, well inside the undo window.
fn policy_short_wait() -> Policy {
    Policy {
        starvation: Some(Starvation {
            max_passes: 2,
            after: SignedDuration::from_secs(30),
        }),
        ..policy()
    }
}

/// Strict class order: nobody is ever passed over.
fn policy_strict() -> Policy {
    Policy {
        starvation: None,
        ..policy()
    }
}

fn room(i: usize) -> RoomId {
    RoomId::parse(ROOMS[i]).unwrap()
}

fn service(i: usize) -> ServiceId {
    ServiceId::parse(SERVICES[i]).unwrap()
}

/// One step of a random run.
#[derive(Clone, Debug)]
enum Op {
    Issue {
        service: usize,
        class: PriorityClass,
        key: Option<u8>,
    },
    /// A booked patient checks in: an appointment ticket queued at its slot, `slot` minutes
    /// from now (negative: the slot has begun).
    CheckIn {
        service: usize,
        slot: i64,
    },
    Next(usize),
    Recall(usize),
    Done(usize),
    NoShow(usize),
    NoShowNext(usize),
    Undo(usize),
    Cancel(Index),
    Requeue(Index),
    Transfer(Index, usize),
    SetOpen(usize, bool),
    SetPaused(usize, bool),
    Advance(SignedDuration),
    /// A patient's feedback on a ticket: a score (valid or not) and maybe a comment.
    Feedback(Index, i64, bool),
    /// Close the day: to the next day (after a night), or to today (nothing happens).
    CloseDay {
        tomorrow: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let r = || 0..ROOMS.len();
    let step = prop::sample::select(vec![
        SignedDuration::ZERO,
        SignedDuration::from_millis(300),
        SignedDuration::from_millis(1_999),
        SignedDuration::from_secs(2),
        SignedDuration::from_secs(5),
        SignedDuration::from_secs(31),
        SignedDuration::from_secs(61),
        SignedDuration::from_secs(120),
        SignedDuration::from_secs(121),
        SignedDuration::from_secs(151),
        SignedDuration::from_mins(5),
        SignedDuration::from_mins(11),
    ]);
    prop_oneof![
        6 => (
            0..SERVICES.len(),
            prop::sample::select(CLASSES.to_vec()),
            prop::option::weighted(0.2, 0..4u8),
        )
            .prop_map(|(service, class, key)| Op::Issue { service, class, key }),
        2 => (0..SERVICES.len(), -15i64..=30)
            .prop_map(|(service, slot)| Op::CheckIn { service, slot }),
        6 => r().prop_map(Op::Next),
        1 => r().prop_map(Op::Recall),
        2 => r().prop_map(Op::Done),
        1 => r().prop_map(Op::NoShow),
        1 => r().prop_map(Op::NoShowNext),
        2 => r().prop_map(Op::Undo),
        1 => any::<Index>().prop_map(Op::Cancel),
        1 => any::<Index>().prop_map(Op::Requeue),
        1 => (any::<Index>(), 0..SERVICES.len()).prop_map(|(t, s)| Op::Transfer(t, s)),
        1 => (r(), prop::bool::weighted(0.7)).prop_map(|(r, open)| Op::SetOpen(r, open)),
        1 => (r(), prop::bool::weighted(0.4)).prop_map(|(r, paused)| Op::SetPaused(r, paused)),
        6 => step.prop_map(Op::Advance),
        1 => prop::bool::weighted(0.8).prop_map(|tomorrow| Op::CloseDay { tomorrow }),
        2 => (any::<Index>(), -1i64..=7, any::<bool>())
            .prop_map(|(t, score, comment)| Op::Feedback(t, score, comment)),
    ]
}

/// What the model expects a command to do.
#[derive(Debug, PartialEq)]
enum Expect {
    Event,
    Unchanged,
    Debounced(Option<TicketId>),
    Replayed(TicketId),
    Refused(DomainError),
}

/// What a room's last "next" changed, as the model saw it.
#[derive(Clone, Debug)]
struct NextMemo {
    seq: u64,
    at: Timestamp,
    /// The tickets it changed, as they were before.
    before: Vec<Ticket>,
    /// The tickets it passed over, by the model's count.
    passed: BTreeSet<TicketId>,
}

struct Model {
    policy: Policy,
    state: QueueState,
    now: Timestamp,
    origin: Origin,
    events: Vec<Event>,
    /// Every ticket id ever seen, live or archived.
    ids: Vec<TicketId>,
    /// (clinic day, number) of every ticket issued.
    issued: BTreeSet<(Date, String)>,
    /// For each ticket, the "next" events (by seq) that passed it over in its current place in
    /// the queue and were not undone.
    passes: BTreeMap<TicketId, BTreeSet<u64>>,
    /// Each room's last "next" that can still be undone.
    last_next: BTreeMap<RoomId, NextMemo>,
    /// Idempotency keys of the day: ticket, when, and the service and class first asked for.
    keys: HashMap<String, (TicketId, Timestamp, ServiceId, PriorityClass)>,
    /// Tickets whose patients gave feedback.
    rated: BTreeSet<TicketId>,
}

impl Model {
    fn new(policy: Policy, carry_over: [bool; 2]) -> Self {
        let (clinic, mut services, rooms) = demo_clinic().unwrap();
        for (s, carry) in services.iter_mut().zip(carry_over) {
            s.carry_over = carry;
        }
        let mut state = QueueState::new(date(2026, 11, 21));
        state.set_head_start(policy.priority_head_start);
        let mut model = Self {
            policy,
            state,
            now: "2026-11-21T08:00:00Z".parse().unwrap(),
            origin: Origin::new(Source::Staff, "proptest"),
            events: Vec::new(),
            ids: Vec::new(),
            issued: BTreeSet::new(),
            passes: BTreeMap::new(),
            last_next: BTreeMap::new(),
            keys: HashMap::new(),
            rated: BTreeSet::new(),
        };
        let event = model.event(EventKind::ClinicSeeded {
            clinic,
            services,
            rooms,
        });
        model.state.apply(&event);
        model.events.push(event);
        model
    }

    fn event(&self, kind: EventKind) -> Event {
        let seq = u64::try_from(self.events.len()).unwrap() + 1;
        QueueState::event(seq, self.now, &self.origin, kind)
    }

    fn pick_ticket(&self, index: &Index) -> Option<TicketId> {
        (!self.ids.is_empty()).then(|| self.ids[index.index(self.ids.len())])
    }

    /// The command for `op`, or `None` when it only moves time or has no ticket to name.
    fn command(&mut self, op: &Op) -> Option<Command> {
        Some(match op {
            Op::Issue {
                service: s,
                class,
                key,
            } => Command::IssueTicket {
                service: service(*s),
                priority: *class,
                idempotency_key: key.map(|k| format!("key-{k}")),
                patient: None,
            },
            Op::Next(r) => Command::RoomNext { room: room(*r) },
            Op::Recall(r) => Command::RoomRecall { room: room(*r) },
            Op::Done(r) => Command::RoomDone { room: room(*r) },
            Op::NoShow(r) => Command::RoomNoShow { room: room(*r) },
            Op::NoShowNext(r) => Command::RoomNoShowNext { room: room(*r) },
            Op::SetPaused(r, paused) => Command::SetRoomPaused {
                room: room(*r),
                paused: *paused,
            },
            Op::Undo(r) => Command::RoomUndo { room: room(*r) },
            Op::Cancel(i) => Command::CancelTicket {
                ticket: self.pick_ticket(i)?,
            },
            Op::Requeue(i) => Command::RequeueTicket {
                ticket: self.pick_ticket(i)?,
            },
            Op::Transfer(i, s) => Command::TransferTicket {
                ticket: self.pick_ticket(i)?,
                service: service(*s),
            },
            Op::Feedback(i, score, comment) => Command::GiveFeedback {
                ticket: self.pick_ticket(i)?,
                score: *score,
                comment: comment.then(|| "Kind staff".to_owned()),
            },
            Op::SetOpen(r, open) => Command::SetRoomOpen {
                room: room(*r),
                open: *open,
            },
            Op::Advance(by) => {
                self.now = self.now.checked_add(*by).unwrap();
                return None;
            }
            // Run by `step` itself.
            Op::CheckIn { .. } => return None,
            Op::CloseDay { tomorrow } => {
                let new_day = if *tomorrow {
                    self.now = self
                        .now
                        .checked_add(SignedDuration::from_hours(10))
                        .unwrap();
                    self.state.day.tomorrow().unwrap()
                } else {
                    self.state.day
                };
                Command::CloseDay { new_day }
            }
        })
    }

    /// Runs one step and checks everything.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::CheckIn { service: s, slot } = op {
            // The engine decides check-ins (it holds the bookings); the queue's part is the
            // ticket it issues: the appointment class, queued at the slot time.
            let at = self
                .now
                .checked_add(SignedDuration::from_mins(*slot))
                .unwrap();
            let issued = self.state.new_ticket(
                &service(*s),
                PriorityClass::Appointment,
                at,
                &self.origin,
                self.now,
                &self.policy,
            );
            let Ok(ticket) = issued else {
                return self.check();
            };
            let before = self.state.clone();
            let event = self.event(EventKind::TicketIssued {
                ticket,
                idempotency_key: None,
                booking: Some(1),
                estimate_mins: None,
            });
            self.observe(&event)?;
            self.state.apply(&event);
            self.observed(&before, &event)?;
            self.events.push(event);
            return self.check();
        }
        let Some(command) = self.command(op) else {
            return self.check();
        };
        let expected = self.expect(&command);
        let before = self.state.clone();
        let decision = self
            .state
            .decide(&command, &self.origin, self.now, &self.policy);
        let got = match &decision {
            Ok(Decision::Event(_)) => Expect::Event,
            Ok(Decision::Unchanged) => Expect::Unchanged,
            Ok(Decision::Debounced { room, serving }) => {
                prop_assert_eq!(Some(room), command_room(&command));
                Expect::Debounced(*serving)
            }
            Ok(Decision::Replayed { ticket }) => Expect::Replayed(*ticket),
            Err(e) => Expect::Refused(e.clone()),
        };
        prop_assert_eq!(&got, &expected, "{:?} at {}", command, self.now);
        match decision {
            Ok(Decision::Event(kind)) => {
                let event = self.event(kind);
                self.observe(&event)?;
                self.state.apply(&event);
                self.observed(&before, &event)?;
                self.events.push(event);
            }
            _ => prop_assert_eq!(&self.state, &before, "{:?} changed the state", command),
        }
        self.check()
    }

    /// The outcome the queue's rules give `command` now.
    fn expect(&self, command: &Command) -> Expect {
        let s = &self.state;
        let not_found = |id: TicketId| Expect::Refused(DomainError::TicketNotFound(id));
        let invalid = |t: &Ticket, action| {
            Expect::Refused(DomainError::InvalidTransition {
                number: t.number.clone(),
                state: t.state,
                action,
            })
        };
        match command {
            Command::IssueTicket {
                idempotency_key,
                service,
                priority,
                ..
            } => match idempotency_key.as_ref().and_then(|k| self.keys.get(k)) {
                Some((ticket, at, first_service, first_priority))
                    if self.now.duration_since(*at) <= self.policy.idempotency_window
                        && s.tickets.contains_key(ticket) =>
                {
                    // the same key with another request changes nothing
                    if (first_service, first_priority) == (service, priority) {
                        Expect::Replayed(*ticket)
                    } else {
                        Expect::Refused(DomainError::IdempotencyKeyReused)
                    }
                }
                _ => Expect::Event,
            },
            Command::CancelTicket { ticket } => match s.tickets.get(ticket) {
                None => not_found(*ticket),
                Some(t) if matches!(t.state, TicketState::Waiting | TicketState::Called) => {
                    Expect::Event
                }
                Some(t) => invalid(t, "cancelled"),
            },
            Command::RequeueTicket { ticket } => match s.tickets.get(ticket) {
                None => not_found(*ticket),
                Some(t)
                    if matches!(
                        t.state,
                        TicketState::Called | TicketState::NoShow | TicketState::Cancelled
                    ) =>
                {
                    Expect::Event
                }
                Some(t) => invalid(t, "requeued"),
            },
            Command::TransferTicket { ticket, service } => match s.tickets.get(ticket) {
                None => not_found(*ticket),
                Some(t) if !matches!(t.state, TicketState::Waiting | TicketState::Called) => {
                    invalid(t, "transferred")
                }
                Some(t) if t.service == *service => {
                    Expect::Refused(DomainError::SameService(t.number.clone(), service.clone()))
                }
                Some(_) => Expect::Event,
            },
            Command::RoomNext { room } | Command::RoomNoShowNext { room } => {
                let r = &s.rooms[room];
                if !r.open {
                    return Expect::Refused(DomainError::RoomClosed(room.clone()));
                }
                if r.paused {
                    return Expect::Refused(DomainError::RoomOnBreak(room.clone()));
                }
                if let Some(memo) = self.last_next.get(room)
                    && self.now.duration_since(memo.at) < self.policy.debounce
                {
                    return Expect::Debounced(r.serving);
                }
                let no_show = matches!(command, Command::RoomNoShowNext { .. });
                if no_show && r.serving.is_none() {
                    return Expect::Refused(DomainError::RoomIdle(room.clone()));
                }
                if r.serving.is_none() && !s.tickets.values().any(|t| waits_for(t, r)) {
                    Expect::Unchanged
                } else {
                    Expect::Event
                }
            }
            Command::RoomRecall { room }
            | Command::RoomDone { room }
            | Command::RoomNoShow { room } => {
                if s.rooms[room].serving.is_some() {
                    Expect::Event
                } else {
                    Expect::Refused(DomainError::RoomIdle(room.clone()))
                }
            }
            Command::RoomUndo { room } => self.expect_undo(room),
            Command::SetRoomOpen { room, open } => {
                if s.rooms[room].open == *open {
                    Expect::Unchanged
                } else {
                    Expect::Event
                }
            }
            Command::SetRoomPaused { room, paused } => {
                let r = &s.rooms[room];
                if r.paused == *paused {
                    Expect::Unchanged
                } else if *paused && !r.open {
                    Expect::Refused(DomainError::RoomClosed(room.clone()))
                } else {
                    Expect::Event
                }
            }
            Command::GiveFeedback { ticket, score, .. } => {
                if !(1..=5).contains(score) {
                    return Expect::Refused(DomainError::InvalidScore(*score));
                }
                let Some(mut t) = s.tickets.get(ticket) else {
                    return not_found(*ticket);
                };
                while let Some(next) = t.transferred_to.and_then(|n| s.tickets.get(&n)) {
                    t = next;
                }
                if t.state != TicketState::Done {
                    Expect::Refused(DomainError::FeedbackTooEarly(t.number.clone()))
                } else if self.rated.contains(&t.id) {
                    Expect::Refused(DomainError::FeedbackGiven(t.number.clone()))
                } else {
                    Expect::Event
                }
            }
            // Not generated here: state_tests and the API tests cover them.
            Command::RoomCall { .. }
            | Command::SetServiceActive { .. }
            | Command::SetClinicMessage { .. }
            | Command::AddService { .. }
            | Command::UpdateService { .. }
            | Command::AddRoom { .. }
            | Command::UpdateRoom { .. }
            | Command::SetClinicSettings { .. }
            | Command::PurgePatients { .. }
            | Command::SendPhoneCode { .. } => Expect::Event,
            // Decided by the directory, not the queue.
            Command::Staff { .. } | Command::Appointment { .. } | Command::CheckIn { .. } => {
                Expect::Unchanged
            }
            Command::CloseDay { new_day } => {
                if *new_day > s.day {
                    Expect::Event
                } else {
                    Expect::Unchanged
                }
            }
        }
    }

    fn expect_undo(&self, room: &RoomId) -> Expect {
        let Some(memo) = self.last_next.get(room) else {
            return Expect::Refused(DomainError::NothingToUndo(room.clone()));
        };
        if self.now.duration_since(memo.at) > self.policy.undo_window {
            return Expect::Refused(DomainError::UndoExpired {
                room: room.clone(),
                window_secs: self.policy.undo_window.as_secs(),
            });
        }
        let serving = self.state.rooms[room].serving;
        // The called ticket must still be served here, and the finished one still done by that
        // "next" (and the room idle if that "next" called nobody).
        let untouched = memo.before.iter().all(|was| {
            let Some(now) = self.state.tickets.get(&was.id) else {
                return false;
            };
            if was.state == TicketState::Waiting {
                now.state == TicketState::Called && serving == Some(now.id)
            } else {
                // done by that "next", or not come by a "no-show and next"
                matches!(now.state, TicketState::Done | TicketState::NoShow)
                    && now.finished_at == Some(memo.at)
                    && !self.rated.contains(&now.id)
            }
        });
        let called_someone = memo.before.iter().any(|t| t.state == TicketState::Waiting);
        if untouched && (called_someone || serving.is_none()) {
            Expect::Event
        } else {
            Expect::Refused(DomainError::UndoConflict(room.clone()))
        }
    }

    /// Before `event` is applied: check it against the model and keep the books.
    fn observe(&mut self, event: &Event) -> Result<(), TestCaseError> {
        let s = &self.state;
        match &event.kind {
            EventKind::TicketIssued {
                ticket,
                idempotency_key,
                ..
            } => {
                prop_assert!(
                    self.issued.insert((s.day, ticket.number.clone())),
                    "{} issued twice on {}",
                    ticket.number,
                    s.day
                );
                prop_assert!(!self.ids.contains(&ticket.id), "id {} reused", ticket.id);
                let prefix = &s.services[&ticket.service].prefix;
                prop_assert_eq!(&ticket.number, &format!("{prefix}{:03}", ticket.ordinal));
                self.ids.push(ticket.id);
                if let Some(key) = idempotency_key {
                    self.keys.insert(
                        key.clone(),
                        (ticket.id, event.at, ticket.service.clone(), ticket.priority),
                    );
                }
            }
            EventKind::TicketTransferred { from, to } => {
                prop_assert!(!self.ids.contains(&to.id), "id {} reused", to.id);
                prop_assert_eq!(&from.number, &to.number);
                self.ids.push(to.id);
            }
            EventKind::TicketRequeued { ticket } => {
                // a new place in the queue: its passes start again
                self.passes.remove(&ticket.id);
            }
            EventKind::RoomNext {
                room,
                called,
                finished,
                passed_over,
                ..
            } => {
                let r = &s.rooms[room];
                prop_assert_eq!(finished.as_ref().map(|t| t.id), r.serving);
                let waiting: Vec<&Ticket> =
                    s.tickets.values().filter(|t| waits_for(t, r)).collect();
                let mut before: Vec<Ticket> =
                    finished.iter().map(|t| s.tickets[&t.id].clone()).collect();
                let passed = match called {
                    None => {
                        prop_assert!(waiting.is_empty(), "nobody called from {:?}", waiting);
                        BTreeSet::new()
                    }
                    Some(c) => {
                        let c = &s.tickets[&c.id];
                        prop_assert_eq!(Some(c.id), self.rule_pick(&waiting), "wrong pick");
                        before.push(c.clone());
                        self.passed_by(&waiting, c)
                    }
                };
                let reported: BTreeSet<TicketId> = passed_over.iter().copied().collect();
                prop_assert_eq!(&reported, &passed, "passed over");
                for id in &passed {
                    self.passes.entry(*id).or_default().insert(event.seq);
                }
                let memo = NextMemo {
                    seq: event.seq,
                    at: event.at,
                    before,
                    passed,
                };
                self.last_next.insert(room.clone(), memo);
            }
            EventKind::NextUndone {
                room, passed_over, ..
            } => {
                let memo = self.last_next.get(room);
                prop_assert!(memo.is_some(), "undo without a next");
                if let Some(memo) = memo {
                    // only passes still counted: a ticket requeued since started again
                    let still: BTreeSet<TicketId> = memo
                        .passed
                        .iter()
                        .filter(|id| self.passes.get(id).is_some_and(|p| p.contains(&memo.seq)))
                        .copied()
                        .collect();
                    let reported: BTreeSet<TicketId> = passed_over.iter().copied().collect();
                    prop_assert_eq!(&reported, &still, "passes taken back");
                    for seqs in self.passes.values_mut() {
                        seqs.remove(&memo.seq);
                    }
                }
            }
            EventKind::DayClosed { day, new_day, .. } => {
                prop_assert_eq!(*day, s.day);
                prop_assert!(new_day > day);
                self.last_next.clear();
                self.keys.clear();
            }
            EventKind::FeedbackGiven { ticket, score, .. } => {
                let t = &s.tickets[ticket];
                prop_assert_eq!(t.state, TicketState::Done);
                prop_assert!(!t.feedback_given, "feedback twice for {}", t.number);
                prop_assert!((1..=5).contains(score));
                self.rated.insert(*ticket);
            }
            _ => {}
        }
        Ok(())
    }

    /// After `event` was applied to `before`.
    fn observed(&mut self, before: &QueueState, event: &Event) -> Result<(), TestCaseError> {
        match &event.kind {
            EventKind::NextUndone { room, .. } => {
                if let Some(memo) = self.last_next.remove(room) {
                    for was in &memo.before {
                        // as it was, but with the pass count it has now (other undos and
                        // requeues may have changed it since; check_passes checks it)
                        let expected = Ticket {
                            passed_over: before.tickets[&was.id].passed_over,
                            ..was.clone()
                        };
                        prop_assert_eq!(
                            Some(&expected),
                            self.state.tickets.get(&was.id),
                            "undo restores the ticket as it was"
                        );
                    }
                }
            }
            EventKind::DayClosed { closed, .. } => {
                for t in before.tickets.values() {
                    let carried = before.services[&t.service].carry_over;
                    let live = self.state.tickets.get(&t.id);
                    if t.state.is_terminal() {
                        prop_assert!(live.is_none(), "finished {} not archived", t.number);
                    } else if carried {
                        prop_assert_eq!(Some(t), live, "carried over unchanged");
                    } else {
                        let c = closed.iter().find(|c| c.id == t.id);
                        let (state, reason) = match t.state {
                            TicketState::Waiting => {
                                (TicketState::Cancelled, Some(CancelReason::Unattended))
                            }
                            _ => (TicketState::Done, None),
                        };
                        prop_assert_eq!(
                            c.map(|c| (c.state, c.cancel_reason)),
                            Some((state, reason))
                        );
                        prop_assert!(live.is_none(), "closed {} not archived", t.number);
                    }
                }
                prop_assert!(self.state.counters.is_empty());
                let live = &self.state.tickets;
                self.passes.retain(|id, _| live.contains_key(id));
            }
            _ => {}
        }
        Ok(())
    }

    /// The next-ticket rule, written again: a ticket passed over `max_passes` times goes first
    /// (a walk-in before a booked patient, then by the time it counts as queued); otherwise urgent, then due appointments, then the
    /// walk-ins, each by the time it counts as queued (a priority ticket's head start earlier).
    fn rule_pick(&self, waiting: &[&Ticket]) -> Option<TicketId> {
        let starving = self.policy.starvation.and_then(|s| {
            waiting
                .iter()
                .filter(|t| t.passed_over >= s.max_passes)
                .max_by(|a, b| {
                    let walk_in = |t: &Ticket| !matches!(t.priority, PriorityClass::Appointment);
                    walk_in(a)
                        .cmp(&walk_in(b))
                        .then((self.counts_from(b), b.id).cmp(&(self.counts_from(a), a.id)))
                })
        });
        starving
            .or_else(|| {
                waiting
                    .iter()
                    .min_by_key(|t| (self.tier(t), self.counts_from(t), t.id))
            })
            .map(|t| t.id)
    }

    /// 0 urgent, 1 a due appointment, 2 a walk-in: a priority or normal ticket, or a booked
    /// patient before the slot (the interleave rule: it stands among the walk-ins at the slot
    /// time).
    fn tier(&self, t: &Ticket) -> u8 {
        match t.priority {
            PriorityClass::Urgent => 0,
            PriorityClass::Appointment if t.queued_at <= self.now => 1,
            _ => 2,
        }
    }

    /// The waiting tickets that calling `called` passes over: those of a lower tier that count
    /// as queued before it and as having waited `after` (a priority call passes nobody).
    fn passed_by(&self, waiting: &[&Ticket], called: &Ticket) -> BTreeSet<TicketId> {
        let Some(starvation) = self.policy.starvation else {
            return BTreeSet::new();
        };
        waiting
            .iter()
            .filter(|t| {
                let lower = self.tier(t) > self.tier(called);
                let came_first =
                    (self.counts_from(t), t.id) < (self.counts_from(called), called.id);
                let waited = self.now.duration_since(self.counts_from(t)) >= starvation.after;
                lower && came_first && waited
            })
            .map(|t| t.id)
            .collect()
    }

    /// The invariants, after every step.
    fn check(&self) -> Result<(), TestCaseError> {
        self.check_numbers()?;
        self.check_tickets()?;
        self.check_rooms()?;
        self.check_passes()?;
        self.check_placements()?;
        self.check_index()
    }

    /// Numbers are never issued twice in a clinic day. Live tickets that share a number are one
    /// transfer chain (root → … → tail, linked both ways), every link but the tail is
    /// `transferred`, so at most one ticket holding a number is still in the queue. (A carried
    /// over ticket is live on the new day, so a new ticket with its number would show here.)
    fn check_numbers(&self) -> Result<(), TestCaseError> {
        let s = &self.state;
        let mut by_number: BTreeMap<&str, Vec<&Ticket>> = BTreeMap::new();
        for t in s.tickets.values() {
            by_number.entry(&t.number).or_default().push(t);
            prop_assert!(
                t.number.ends_with(&format!("{:03}", t.ordinal)),
                "{} vs ordinal {}",
                t.number,
                t.ordinal
            );
            if t.day == s.day && t.transferred_from.is_none() {
                let prefix = t.number.trim_end_matches(|c: char| c.is_ascii_digit());
                let counter = s.counters.get(prefix).copied().unwrap_or(0);
                prop_assert!(
                    t.ordinal <= counter,
                    "{} above counter {}",
                    t.number,
                    counter
                );
            }
        }
        for (number, group) in by_number {
            let ids: BTreeSet<TicketId> = group.iter().map(|t| t.id).collect();
            let roots: Vec<&&Ticket> = group
                .iter()
                .filter(|t| t.transferred_from.is_none_or(|f| !ids.contains(&f)))
                .collect();
            prop_assert_eq!(roots.len(), 1, "{} held by {:?}", number, group);
            let mut link: &Ticket = roots[0];
            let mut chain = 1;
            while let Some(next) = link.transferred_to {
                prop_assert_eq!(link.state, TicketState::Transferred);
                let to = s.tickets.get(&next);
                prop_assert!(to.is_some(), "{} transferred to a ticket gone", number);
                let to = to.unwrap();
                prop_assert_eq!(to.transferred_from, Some(link.id));
                prop_assert_eq!(&to.number, &link.number);
                prop_assert_eq!(to.created_at, link.created_at);
                link = to;
                chain += 1;
            }
            prop_assert_ne!(link.state, TicketState::Transferred);
            prop_assert_eq!(chain, group.len(), "{} held by {:?}", number, group);
            let open = group.iter().filter(|t| !t.state.is_terminal()).count();
            prop_assert!(open <= 1);
        }
        Ok(())
    }

    /// Every ticket is in one state and the fields that depend on it agree.
    fn check_tickets(&self) -> Result<(), TestCaseError> {
        let s = &self.state;
        for (id, t) in &s.tickets {
            prop_assert_eq!(*id, t.id);
            prop_assert!(t.id.0 < s.next_ticket_id);
            prop_assert!(s.services.contains_key(&t.service));
            // A booked patient is queued at the slot time, before or after the check-in.
            if t.priority != PriorityClass::Appointment {
                prop_assert!(t.created_at <= t.queued_at && t.queued_at <= self.now);
            }
            let served_by: Vec<&RoomId> = s
                .rooms
                .values()
                .filter(|r| r.serving == Some(t.id))
                .map(|r| &r.id)
                .collect();
            let terminal = t.state.is_terminal();
            prop_assert_eq!(terminal, t.finished_at.is_some(), "{:?}", t);
            prop_assert_eq!(
                t.state == TicketState::Cancelled,
                t.cancel_reason.is_some(),
                "{:?}",
                t
            );
            prop_assert_eq!(
                t.state == TicketState::Transferred,
                t.transferred_to.is_some(),
                "{:?}",
                t
            );
            if let Some(finished) = t.finished_at {
                prop_assert!(finished <= self.now);
                if t.priority != PriorityClass::Appointment {
                    prop_assert!(t.queued_at <= finished);
                }
            }
            match t.state {
                TicketState::Waiting => {
                    prop_assert_eq!(&t.room, &None);
                    prop_assert!(served_by.is_empty());
                }
                TicketState::Called => {
                    prop_assert!(t.called_at.is_some());
                    prop_assert_eq!(served_by.len(), 1, "{:?}", t);
                    prop_assert_eq!(t.room.as_ref(), Some(served_by[0]));
                    prop_assert!(s.rooms[served_by[0]].serves(&t.service));
                }
                TicketState::Done | TicketState::NoShow => {
                    prop_assert!(t.room.is_some() && t.called_at.is_some(), "{:?}", t);
                    prop_assert!(served_by.is_empty());
                }
                TicketState::Cancelled => {
                    // unattended ones leave with the day
                    prop_assert_eq!(t.cancel_reason, Some(CancelReason::Requested));
                    prop_assert!(served_by.is_empty());
                }
                TicketState::Transferred => prop_assert!(served_by.is_empty()),
            }
        }
        Ok(())
    }

    /// A room serves at most one ticket, a called one of its own; no ticket is served by two
    /// rooms; the model and the state agree on which rooms have a "next" to undo.
    fn check_rooms(&self) -> Result<(), TestCaseError> {
        let s = &self.state;
        let mut served = BTreeSet::new();
        for r in s.rooms.values() {
            if let Some(id) = r.serving {
                prop_assert!(served.insert(id), "{} served by two rooms", id);
                let t = s.tickets.get(&id);
                prop_assert!(t.is_some(), "{} serves a ticket gone", r.id);
                let t = t.unwrap();
                prop_assert_eq!(t.state, TicketState::Called);
                prop_assert_eq!(t.room.as_ref(), Some(&r.id));
            }
            prop_assert_eq!(
                r.last_next.is_some(),
                self.last_next.contains_key(&r.id),
                "{}",
                &r.id
            );
            // a break is a state of an open room only
            prop_assert!(!r.paused || r.open, "{} closed but on break", &r.id);
        }
        Ok(())
    }

    /// No ticket is passed over more than `max_passes` times, by the model's own count and by
    /// the ticket's `passed_over`, and the two counts agree for every waiting ticket.
    fn check_passes(&self) -> Result<(), TestCaseError> {
        let max = self.policy.starvation.map_or(0, |s| s.max_passes);
        for t in self.state.tickets.values() {
            prop_assert!(
                t.passed_over <= max,
                "{} passed over {} times",
                t.number,
                t.passed_over
            );
            if t.state != TicketState::Waiting {
                continue;
            }
            let counted = self
                .passes
                .get(&t.id)
                .map_or(0, |p| u32::try_from(p.len()).unwrap());
            prop_assert!(counted <= max, "{} passed over {} times", t.number, counted);
            prop_assert_eq!(t.passed_over, counted, "{}'s pass count", &t.number);
        }
        Ok(())
    }

    /// `placements` and `placement` agree, for waiting tickets only.
    fn check_placements(&self) -> Result<(), TestCaseError> {
        let placements = self.state.placements(&self.policy);
        let waiting = self
            .state
            .tickets
            .values()
            .filter(|t| t.state == TicketState::Waiting);
        prop_assert_eq!(placements.len(), waiting.clone().count());
        for t in waiting {
            let p = self.state.placement(t, &self.policy);
            prop_assert_eq!(p.as_ref(), placements.get(&t.id));
            let open_room = self
                .state
                .rooms
                .values()
                .any(|r| r.open && r.serves(&t.service));
            prop_assert_eq!(p.and_then(|p| p.eta).is_some(), open_room);
        }
        Ok(())
    }

    /// The indexed state answers as a naive scan of every live ticket does: its index is the one
    /// built from scratch, each room's pick (ticket, reason, passed over) is `pick_next` over
    /// the room's waiting tickets, counts and positions are counted, and the next number skips
    /// exactly the ordinals held by carried-over tickets.
    fn check_index(&self) -> Result<(), TestCaseError> {
        let s = &self.state;
        prop_assert_eq!(
            s.index(),
            &QueueIndex::build(s.tickets.values(), s.day, s.head_start())
        );
        for room in s.rooms.values() {
            let naive: Vec<&Ticket> = s.tickets.values().filter(|t| waits_for(t, room)).collect();
            prop_assert_eq!(
                s.preview_next(&room.id, self.now, &self.policy),
                pick_next(
                    naive.iter().copied(),
                    self.now,
                    self.policy.starvation,
                    self.state.head_start(),
                ),
                "{}'s pick",
                &room.id
            );
            prop_assert_eq!(s.waiting_count(room), naive.len());
            let mut listed: Vec<TicketId> = s.waiting_for(room).map(|t| t.id).collect();
            listed.sort();
            prop_assert_eq!(listed, naive.iter().map(|t| t.id).collect::<Vec<_>>());
        }
        for t in s
            .tickets
            .values()
            .filter(|t| t.state == TicketState::Waiting)
        {
            let ahead = s
                .tickets
                .values()
                .filter(|o| {
                    o.state == TicketState::Waiting
                        && o.service == t.service
                        && o.order_key(self.policy.priority_head_start)
                            < t.order_key(self.policy.priority_head_start)
                })
                .count();
            let placed = s.placement(t, &self.policy).map(|p| p.position);
            prop_assert_eq!(placed, Some(ahead), "{}'s position", &t.number);
        }
        for service in s.services.values() {
            let prefix = service.prefix.as_str();
            let mut ordinal = s.counters.get(prefix).copied().unwrap_or(0) + 1;
            while s.tickets.values().any(|t| {
                t.day < s.day
                    && t.number.trim_end_matches(|c: char| c.is_ascii_digit()) == prefix
                    && t.ordinal == ordinal
            }) {
                ordinal += 1;
            }
            prop_assert_eq!(
                s.next_ordinal(prefix),
                ordinal,
                "next ordinal of {}",
                prefix
            );
        }
        Ok(())
    }

    /// The time a ticket counts as queued at in the call order: a priority ticket's head start
    /// (the policy's, written here as the clinic sets it) before its queue time.
    fn counts_from(&self, t: &Ticket) -> Timestamp {
        if t.priority == PriorityClass::Priority {
            t.queued_at - self.policy.priority_head_start
        } else {
            t.queued_at
        }
    }

    /// Replaying the log from the start gives the same state.
    fn check_replay(&self) -> Result<(), TestCaseError> {
        let mut replayed = QueueState::new(date(2026, 11, 21));
        replayed.set_head_start(self.policy.priority_head_start);
        for event in &self.events {
            replayed.apply(event);
        }
        prop_assert_eq!(&replayed, &self.state);
        Ok(())
    }
}

/// Whether `t` is waiting for a service of `room`.
fn waits_for(t: &Ticket, room: &super::Room) -> bool {
    t.state == TicketState::Waiting && room.serves(&t.service)
}

fn command_room(command: &Command) -> Option<&RoomId> {
    match command {
        Command::RoomNext { room }
        | Command::RoomRecall { room }
        | Command::RoomDone { room }
        | Command::RoomNoShow { room }
        | Command::RoomUndo { room }
        | Command::RoomNoShowNext { room }
        | Command::SetRoomOpen { room, .. } => Some(room),
        _ => None,
    }
}

fn run(policy: Policy, carry_over: [bool; 2], ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model = Model::new(policy, carry_over);
    for op in ops {
        model.step(op)?;
    }
    model.check_replay()
}

fn config() -> Config {
    Config {
        cases: 256,
        // no regression files in src/; a failure prints its minimal input
        failure_persistence: None,
        // ChaCha dominates the run time in debug builds
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Anti-starvation on, passes counted only after the undo window.
    #[test]
    fn random_commands_keep_the_queue_invariants(
        carry_over in any::<[bool; 2]>(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        run(policy(), carry_over, &ops)?;
    }

    /// Strict class order: nobody is passed over, the highest class goes first.
    #[test]
    fn random_commands_keep_the_queue_invariants_in_strict_class_order(
        carry_over in any::<[bool; 2]>(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        run(policy_strict(), carry_over, &ops)?;
    }

    /// Passes that count inside the undo window, so undos overlap requeues and other rooms'
    /// calls: the domain's count must be the model's, exactly.
    #[test]
    fn pass_counts_match_an_independent_count_when_undo_overlaps(
        carry_over in any::<[bool; 2]>(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        run(policy_short_wait(), carry_over, &ops)?;
    }

    /// The clinic's priority head start (none, 3 minutes, an hour): the call order, positions
    /// and passes follow it, and the index is what a rebuild with it gives.
    #[test]
    fn the_invariants_hold_with_any_priority_head_start(
        carry_over in any::<[bool; 2]>(),
        minutes in prop::sample::select(vec![0_i64, 3, 60]),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let policy = Policy {
            priority_head_start: SignedDuration::from_mins(minutes),
            ..policy_short_wait()
        };
        run(policy, carry_over, &ops)?;
    }

    /// The indexed state (waiting per service in call order, pass counts, calls, carried
    /// numbers) agrees with a naive recomputation over every live ticket after any sequence of
    /// commands, days and undos ([`Model::check_index`] runs after every step of every case
    /// above too; this one runs longer sequences with short waits so that passes, starving
    /// tickets and carried numbers all occur), and a replay builds the same index.
    #[test]
    fn indexed_state_agrees_with_a_naive_recomputation(
        carry_over in any::<[bool; 2]>(),
        ops in prop::collection::vec(op(), 100..400),
    ) {
        let mut model = Model::new(policy_short_wait(), carry_over);
        for op in &ops {
            model.step(op)?;
        }
        model.check_replay()?;
        let mut replayed = QueueState::new(date(2026, 11, 21));
        replayed.set_head_start(model.policy.priority_head_start);
        for event in &model.events {
            replayed.apply(event);
        }
        let mut loaded = replayed.clone();
        loaded.reindex();
        prop_assert_eq!(loaded.index(), model.state.index());
    }
}
