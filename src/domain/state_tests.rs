//! State machine tests: every command goes through [`QueueState::decide`] and, when it makes an
//! event, [`QueueState::apply`], exactly as the engine runs them. Time is passed in.
//!
//! [`Desk`] is the small harness: it holds a state seeded with the demo clinic, the policy, a
//! manual "now" and the event log, and checks that a refused command changes nothing.

use jiff::SignedDuration;
use jiff::civil::{Date, date};

use super::demo::demo_clinic;
use super::{
    CancelReason, Command, Decision, DomainError, Event, EventKind, Origin, Policy, PriorityClass,
    QueueState, Room, RoomId, Service, ServiceId, Source, Starvation, Ticket, TicketId,
    TicketState, Timestamp,
};

use super::state::{IdempotencyEntry, request_hash};
use PriorityClass::{Normal, Priority, Urgent};

const DAY: Date = date(2026, 11, 21);

fn policy() -> Policy {
    Policy {
        debounce: SignedDuration::from_secs(2),
        undo_window: SignedDuration::from_secs(120),
        starvation: Some(Starvation {
            max_passes: 3,
            after: SignedDuration::from_mins(10),
        }),
        default_service_secs: 480.0,
        number_digits: 3,
        idempotency_window: SignedDuration::from_secs(600),
        priority_head_start: crate::domain::PRIORITY_HEAD_START,
    }
}

fn room(id: &str) -> RoomId {
    RoomId::parse(id).unwrap()
}

fn service(id: &str) -> ServiceId {
    ServiceId::parse(id).unwrap()
}

fn issue(s: &str, priority: PriorityClass) -> Command {
    Command::IssueTicket {
        service: service(s),
        priority,
        idempotency_key: None,
        patient: None,
    }
}

fn next(r: &str) -> Command {
    Command::RoomNext { room: room(r) }
}

fn undo(r: &str) -> Command {
    Command::RoomUndo { room: room(r) }
}

/// A queue as the engine drives it.
struct Desk {
    state: QueueState,
    policy: Policy,
    now: Timestamp,
    origin: Origin,
    events: Vec<Event>,
}

impl Desk {
    /// The demo clinic on [`DAY`], at 08:00 UTC.
    fn new() -> Self {
        Self::with(|_, _| {})
    }

    /// The demo clinic, edited before it is seeded.
    fn with(edit: impl FnOnce(&mut Vec<Service>, &mut Vec<Room>)) -> Self {
        let (clinic, mut services, mut rooms) = demo_clinic().unwrap();
        edit(&mut services, &mut rooms);
        let mut desk = Self {
            state: QueueState::new(DAY),
            policy: policy(),
            now: "2026-11-21T08:00:00Z".parse().unwrap(),
            origin: Origin::new(Source::Staff, "test"),
            events: Vec::new(),
        };
        desk.commit(EventKind::ClinicSeeded {
            clinic,
            services,
            rooms,
        });
        desk
    }

    fn commit(&mut self, kind: EventKind) {
        let seq = u64::try_from(self.events.len()).unwrap() + 1;
        let event = QueueState::event(seq, self.now, &self.origin, kind);
        self.state.apply(&event);
        self.events.push(event);
    }

    fn last_event(&self) -> &EventKind {
        &self.events.last().unwrap().kind
    }

    /// Decides `command` now and applies its event, if any.
    fn try_run(&mut self, command: &Command) -> Result<Decision, DomainError> {
        let before = self.state.clone();
        let decision = self
            .state
            .decide(command, &self.origin, self.now, &self.policy);
        match &decision {
            Ok(Decision::Event(kind)) => self.commit(kind.clone()),
            _ => assert_eq!(self.state, before, "{command:?} changed the state"),
        }
        decision
    }

    /// Runs a command that must be accepted.
    fn run(&mut self, command: &Command) -> Decision {
        self.try_run(command)
            .unwrap_or_else(|e| panic!("{command:?} refused: {e}"))
    }

    /// Runs a command that must make an event.
    fn event(&mut self, command: &Command) -> EventKind {
        match self.run(command) {
            Decision::Event(kind) => kind,
            other => panic!("{command:?} made no event: {other:?}"),
        }
    }

    /// Runs a command that must be refused, and checks it changed nothing.
    fn refuse(&mut self, command: &Command) -> DomainError {
        let before = self.state.clone();
        let events = self.events.len();
        let error = match self.try_run(command) {
            Err(e) => e,
            Ok(d) => panic!("{command:?} accepted: {d:?}"),
        };
        assert_eq!(self.state, before);
        assert_eq!(self.events.len(), events);
        error
    }

    /// Issues a ticket and returns its id.
    fn issue(&mut self, s: &str, priority: PriorityClass) -> TicketId {
        match self.event(&issue(s, priority)) {
            EventKind::TicketIssued { ticket, .. } => ticket.id,
            other => panic!("issue made {other:?}"),
        }
    }

    /// Presses "next" and returns the ticket called.
    fn next(&mut self, r: &str) -> Option<TicketId> {
        match self.event(&next(r)) {
            EventKind::RoomNext { called, .. } => called.map(|t| t.id),
            other => panic!("next made {other:?}"),
        }
    }

    fn advance(&mut self, secs: i64) {
        self.advance_by(SignedDuration::from_secs(secs));
    }

    fn advance_by(&mut self, by: SignedDuration) {
        self.now = self.now.checked_add(by).unwrap();
    }

    fn t(&self, id: TicketId) -> &Ticket {
        self.state.ticket(id).unwrap()
    }

    fn number(&self, id: TicketId) -> &str {
        &self.t(id).number
    }

    fn serving(&self, r: &str) -> Option<TicketId> {
        self.state.rooms[&room(r)].serving
    }

    fn close_day(&mut self, new_day: Date) -> EventKind {
        self.event(&Command::CloseDay { new_day })
    }
}

// ---- issue -------------------------------------------------------------------------------

#[test]
fn issue_numbers_tickets_per_prefix() {
    let mut desk = Desk::new();
    let cases = [
        ("general", "A001"),
        ("lab", "L001"),
        ("general", "A002"),
        ("general", "A003"),
        ("lab", "L002"),
    ];
    for (s, expected) in cases {
        desk.advance(5);
        let id = desk.issue(s, Normal);
        let t = desk.t(id);
        assert_eq!(t.number, expected);
        assert_eq!(t.service, service(s));
        assert_eq!(t.state, TicketState::Waiting);
        assert_eq!(t.day, DAY);
        assert_eq!((t.created_at, t.queued_at), (desk.now, desk.now));
        assert_eq!(t.source, Source::Staff);
        assert_eq!((t.room.clone(), t.finished_at), (None, None));
    }
    assert_eq!(desk.state.counters["A"], 3);
    assert_eq!(desk.state.counters["L"], 2);
}

#[test]
fn issue_ids_are_unique_and_grow() {
    let mut desk = Desk::new();
    let ids: Vec<TicketId> = (0..5).map(|_| desk.issue("general", Normal)).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn issue_in_an_inactive_or_unknown_service_is_refused() {
    let cases: [(&str, DomainError); 2] = [
        ("general", DomainError::ServiceClosed(service("general"))),
        ("xray", DomainError::ServiceNotFound(service("xray"))),
    ];
    for (s, expected) in cases {
        let mut desk = Desk::with(|services, _| services[0].active = false);
        assert_eq!(desk.refuse(&issue(s, Normal)), expected);
        // the refusal used no number
        let id = desk.issue("lab", Normal);
        assert_eq!(desk.number(id), "L001");
    }
}

// ---- next --------------------------------------------------------------------------------

#[test]
fn next_finishes_the_served_ticket_as_done_and_calls_the_next() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let a2 = desk.issue("general", Normal);
    desk.advance(10);
    assert_eq!(desk.next("room-1"), Some(a1));
    let called_at = desk.now;
    assert_eq!(desk.t(a1).state, TicketState::Called);
    assert_eq!(desk.t(a1).room, Some(room("room-1")));
    assert_eq!(desk.t(a1).called_at, Some(called_at));
    assert_eq!(desk.serving("room-1"), Some(a1));

    desk.advance(300);
    assert_eq!(desk.next("room-1"), Some(a2));
    let EventKind::RoomNext { finished, .. } = desk.last_event() else {
        panic!("not a next")
    };
    assert_eq!(finished.as_ref().map(|t| t.id), Some(a1));
    let done = desk.t(a1);
    assert_eq!(done.state, TicketState::Done);
    assert_eq!(done.finished_at, Some(desk.now));
    assert_eq!(desk.t(a2).state, TicketState::Called);
    assert_eq!(desk.serving("room-1"), Some(a2));
    // finishing a ticket records its service time
    let stats = desk.state.rooms[&room("room-1")].stats;
    assert_eq!((stats.samples, stats.mean_secs), (1, 300.0));
}

#[test]
fn next_calls_by_class_then_first_come_across_the_rooms_services() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.advance(1);
    let l1 = desk.issue("lab", Normal);
    desk.advance(1);
    let a2 = desk.issue("general", Priority);
    desk.advance(1);
    let l2 = desk.issue("lab", Urgent);
    // room-2 serves both services: urgent, then the walk-ins by arrival, the priority ticket
    // counting as 10 minutes earlier
    let mut order = Vec::new();
    for _ in 0..4 {
        desk.advance(5);
        order.push(desk.next("room-2").unwrap());
    }
    assert_eq!(order, vec![l2, a2, a1, l1]);
}

#[test]
fn a_priority_ticket_goes_before_the_walk_ins_of_its_last_ten_minutes_only() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.advance(5 * 60);
    let l1 = desk.issue("lab", Normal);
    desk.advance(6 * 60);
    // 11 minutes after a1, 6 after l1: it counts as issued 10 minutes earlier, between them
    let a2 = desk.issue("general", Priority);
    let placements = desk.state.placements(&desk.policy);
    assert_eq!(placements[&a2].position, 1);
    // room-2 serves both services, whose walk-ins it takes by arrival
    let mut order = Vec::new();
    for _ in 0..3 {
        desk.advance(5);
        order.push(desk.next("room-2").unwrap());
    }
    assert_eq!(order, vec![a1, a2, l1]);
}

#[test]
fn the_head_start_is_the_clinics_setting_and_reorders_those_waiting() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.advance(4 * 60);
    let a2 = desk.issue("general", Priority);
    desk.advance(60);
    // 10 minutes (the default): the priority ticket goes first (nobody ahead of it)
    assert_eq!(desk.state.placements(&desk.policy)[&a2].position, 0);
    // 3 minutes: it came 4 minutes after a1, so it waits its turn
    desk.state.set_head_start(SignedDuration::from_mins(3));
    let placements = desk.state.placements(&desk.policy);
    assert_eq!((placements[&a1].position, placements[&a2].position), (0, 1));
    let preview = desk
        .state
        .preview_next(&room("room-1"), desk.now, &desk.policy);
    assert_eq!(preview.map(|p| p.ticket), Some(a1));
    // and the index stays what a rebuild with the setting gives
    let rebuilt = crate::domain::index::QueueIndex::build(
        desk.state.tickets.values(),
        desk.state.day,
        SignedDuration::from_mins(3),
    );
    assert_eq!(desk.state.index(), &rebuilt);
    assert_eq!(desk.next("room-1"), Some(a1));
    desk.advance(5);
    assert_eq!(desk.next("room-1"), Some(a2));
}

#[test]
fn next_with_nobody_waiting_and_nobody_served_is_unchanged() {
    let mut desk = Desk::new();
    assert_eq!(desk.run(&next("room-1")), Decision::Unchanged);
    // serving someone with an empty queue: the ticket is finished, nobody is called
    let a1 = desk.issue("general", Normal);
    desk.next("room-1");
    desk.advance(60);
    assert_eq!(desk.next("room-1"), None);
    assert_eq!(desk.t(a1).state, TicketState::Done);
    assert_eq!(desk.serving("room-1"), None);
    desk.advance(60);
    assert_eq!(desk.run(&next("room-1")), Decision::Unchanged);
    // a lab ticket is not for room-1
    desk.issue("lab", Normal);
    assert_eq!(desk.run(&next("room-1")), Decision::Unchanged);
}

#[test]
fn room_commands_are_refused_in_closed_idle_or_unknown_rooms() {
    let cases: [(Command, DomainError); 8] = [
        (next("lab"), DomainError::RoomClosed(room("lab"))),
        (next("xray"), DomainError::RoomNotFound(room("xray"))),
        (
            Command::RoomRecall {
                room: room("room-1"),
            },
            DomainError::RoomIdle(room("room-1")),
        ),
        (
            Command::RoomDone {
                room: room("room-1"),
            },
            DomainError::RoomIdle(room("room-1")),
        ),
        (
            Command::RoomNoShow {
                room: room("room-1"),
            },
            DomainError::RoomIdle(room("room-1")),
        ),
        (undo("room-1"), DomainError::NothingToUndo(room("room-1"))),
        (undo("xray"), DomainError::RoomNotFound(room("xray"))),
        (
            Command::SetRoomOpen {
                room: room("xray"),
                open: true,
            },
            DomainError::RoomNotFound(room("xray")),
        ),
    ];
    for (command, expected) in cases {
        let mut desk = Desk::new();
        desk.issue("general", Normal);
        desk.issue("lab", Normal);
        desk.event(&Command::SetRoomOpen {
            room: room("lab"),
            open: false,
        });
        assert_eq!(desk.refuse(&command), expected, "{command:?}");
    }
}

#[test]
fn opening_and_closing_rooms() {
    let mut desk = Desk::new();
    let close = Command::SetRoomOpen {
        room: room("room-1"),
        open: false,
    };
    let open = Command::SetRoomOpen {
        room: room("room-1"),
        open: true,
    };
    assert_eq!(desk.run(&open), Decision::Unchanged);
    assert!(matches!(desk.event(&close), EventKind::RoomClosed { .. }));
    assert!(!desk.state.rooms[&room("room-1")].open);
    assert_eq!(desk.run(&close), Decision::Unchanged);
    assert!(matches!(desk.event(&open), EventKind::RoomOpened { .. }));
    assert!(desk.state.rooms[&room("room-1")].open);
}

// ---- debounce ----------------------------------------------------------------------------

#[test]
fn second_next_within_the_debounce_window_is_ignored() {
    // (time after the first "next", debounced?)
    let cases = [
        (SignedDuration::ZERO, true),
        (SignedDuration::from_millis(500), true),
        (SignedDuration::from_millis(1_999), true),
        (SignedDuration::from_secs(2), false),
        (SignedDuration::from_secs(30), false),
    ];
    for (after, debounced) in cases {
        let mut desk = Desk::new();
        let a1 = desk.issue("general", Normal);
        let a2 = desk.issue("general", Normal);
        desk.next("room-1");
        desk.advance_by(after);
        if debounced {
            let before = desk.state.clone();
            assert_eq!(
                desk.run(&next("room-1")),
                Decision::Debounced {
                    room: room("room-1"),
                    serving: Some(a1),
                },
                "{after}"
            );
            assert_eq!(desk.state, before);
            assert_eq!(desk.t(a2).state, TicketState::Waiting);
        } else {
            assert_eq!(desk.next("room-1"), Some(a2), "{after}");
            assert_eq!(desk.t(a1).state, TicketState::Done);
        }
    }
}

#[test]
fn debounce_is_per_room() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let a2 = desk.issue("general", Normal);
    assert_eq!(desk.next("room-1"), Some(a1));
    assert_eq!(desk.next("room-2"), Some(a2));
}

// ---- recall, done, no-show ---------------------------------------------------------------

#[test]
fn recall_calls_the_same_ticket_again_and_counts() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.next("room-1");
    for expected in 1..=3 {
        desk.advance(20);
        let kind = desk.event(&Command::RoomRecall {
            room: room("room-1"),
        });
        assert!(matches!(kind, EventKind::TicketRecalled { .. }));
        assert_eq!(desk.t(a1).recall_count, expected);
        assert_eq!(desk.t(a1).state, TicketState::Called);
        assert_eq!(desk.serving("room-1"), Some(a1));
    }
}

#[test]
fn done_and_no_show_finish_the_ticket_and_free_the_room() {
    // (command, resulting state, service time samples)
    let cases = [
        (
            Command::RoomDone {
                room: room("room-1"),
            },
            TicketState::Done,
            1,
        ),
        (
            Command::RoomNoShow {
                room: room("room-1"),
            },
            TicketState::NoShow,
            0,
        ),
    ];
    for (command, state, samples) in cases {
        let mut desk = Desk::new();
        let a1 = desk.issue("general", Normal);
        let a2 = desk.issue("general", Normal);
        desk.next("room-1");
        desk.advance(240);
        desk.event(&command);
        let t = desk.t(a1);
        assert_eq!(t.state, state);
        assert_eq!(t.finished_at, Some(desk.now));
        assert_eq!(t.room, Some(room("room-1")));
        assert_eq!(desk.serving("room-1"), None);
        assert_eq!(desk.state.rooms[&room("room-1")].stats.samples, samples);
        assert_eq!(desk.t(a2).state, TicketState::Waiting);
        assert_eq!(desk.refuse(&command), DomainError::RoomIdle(room("room-1")));
        // the next "next" calls without finishing anyone
        desk.advance(5);
        assert_eq!(desk.next("room-1"), Some(a2));
        assert_eq!(desk.t(a1).state, state);
    }
}

// ---- cancel ------------------------------------------------------------------------------

/// A ticket of room-1 brought to `state` (waiting, called, done, no_show or cancelled).
fn ticket_in(desk: &mut Desk, state: TicketState) -> TicketId {
    let id = desk.issue("general", Normal);
    if state == TicketState::Waiting {
        return id;
    }
    assert_eq!(desk.next("room-1"), Some(id));
    desk.advance(60);
    let finish = match state {
        TicketState::Called => return id,
        TicketState::Done => Command::RoomDone {
            room: room("room-1"),
        },
        TicketState::NoShow => Command::RoomNoShow {
            room: room("room-1"),
        },
        TicketState::Cancelled => Command::CancelTicket { ticket: id },
        TicketState::Transferred => Command::TransferTicket {
            ticket: id,
            service: service("lab"),
        },
        TicketState::Waiting => unreachable!(),
    };
    desk.event(&finish);
    assert_eq!(desk.t(id).state, state);
    id
}

#[test]
fn cancel_takes_waiting_and_called_tickets_out() {
    for from in [TicketState::Waiting, TicketState::Called] {
        let mut desk = Desk::new();
        let id = ticket_in(&mut desk, from);
        desk.advance(30);
        let kind = desk.event(&Command::CancelTicket { ticket: id });
        assert!(matches!(kind, EventKind::TicketCancelled { .. }));
        let t = desk.t(id);
        assert_eq!(t.state, TicketState::Cancelled);
        assert_eq!(t.cancel_reason, Some(CancelReason::Requested));
        assert_eq!(t.finished_at, Some(desk.now));
        assert_eq!(desk.serving("room-1"), None, "{from}");
    }
}

#[test]
fn cancel_refuses_finished_tickets() {
    let finished = [
        TicketState::Done,
        TicketState::NoShow,
        TicketState::Cancelled,
        TicketState::Transferred,
    ];
    for from in finished {
        let mut desk = Desk::new();
        let id = ticket_in(&mut desk, from);
        assert_eq!(
            desk.refuse(&Command::CancelTicket { ticket: id }),
            DomainError::InvalidTransition {
                number: "A001".to_owned(),
                state: from,
                action: "cancelled",
            }
        );
    }
    let mut desk = Desk::new();
    assert_eq!(
        desk.refuse(&Command::CancelTicket {
            ticket: TicketId(99)
        }),
        DomainError::TicketNotFound(TicketId(99))
    );
}

// ---- requeue -----------------------------------------------------------------------------

#[test]
fn requeue_puts_called_no_show_and_cancelled_tickets_at_the_back() {
    for from in [
        TicketState::Called,
        TicketState::NoShow,
        TicketState::Cancelled,
    ] {
        let mut desk = Desk::new();
        let id = ticket_in(&mut desk, from);
        let other = desk.issue("general", Normal);
        desk.advance(60);
        let kind = desk.event(&Command::RequeueTicket { ticket: id });
        assert!(matches!(kind, EventKind::TicketRequeued { .. }));
        let t = desk.t(id);
        assert_eq!(t.state, TicketState::Waiting, "{from}");
        assert_eq!(t.queued_at, desk.now);
        assert_eq!(
            (t.room.clone(), t.finished_at, t.cancel_reason),
            (None, None, None)
        );
        assert_eq!(desk.serving("room-1"), None);
        // it is behind the ticket issued after it was first called
        let placements = desk.state.placements(&desk.policy);
        assert_eq!(placements[&other].position, 0);
        assert_eq!(placements[&id].position, 1);
        desk.advance(5);
        assert_eq!(desk.next("room-1"), Some(other));
        desk.advance(5);
        assert_eq!(desk.next("room-1"), Some(id));
    }
}

#[test]
fn requeue_refuses_waiting_done_and_transferred_tickets() {
    for from in [
        TicketState::Waiting,
        TicketState::Done,
        TicketState::Transferred,
    ] {
        let mut desk = Desk::new();
        let id = ticket_in(&mut desk, from);
        assert_eq!(
            desk.refuse(&Command::RequeueTicket { ticket: id }),
            DomainError::InvalidTransition {
                number: "A001".to_owned(),
                state: from,
                action: "requeued",
            }
        );
    }
}

// ---- transfer ----------------------------------------------------------------------------

#[test]
fn transfer_keeps_the_number_and_queues_a_new_ticket_in_the_target_service() {
    for from in [TicketState::Waiting, TicketState::Called] {
        let mut desk = Desk::new();
        let id = ticket_in(&mut desk, from);
        desk.advance(45);
        let kind = desk.event(&Command::TransferTicket {
            ticket: id,
            service: service("lab"),
        });
        let EventKind::TicketTransferred { to, .. } = kind else {
            panic!("{kind:?}")
        };
        let old = desk.t(id).clone();
        let new = desk.t(to.id).clone();
        assert_eq!(old.state, TicketState::Transferred);
        assert_eq!(old.transferred_to, Some(new.id));
        assert_eq!(old.finished_at, Some(desk.now));
        assert_ne!(new.id, old.id);
        assert_eq!(new.number, "A001");
        assert_eq!(new.ordinal, 1);
        assert_eq!(new.service, service("lab"));
        assert_eq!(new.state, TicketState::Waiting);
        assert_eq!(new.transferred_from, Some(old.id));
        assert_eq!(new.queued_at, desk.now);
        assert_eq!(new.created_at, old.created_at);
        assert_eq!((new.room, new.finished_at), (None, None));
        assert_eq!(desk.serving("room-1"), None, "{from}");
        // the lab calls it; the number is not issued again in either service
        desk.advance(5);
        assert_eq!(desk.next("lab"), Some(new.id));
        let a2 = desk.issue("general", Normal);
        assert_eq!(desk.number(a2), "A002");
    }
}

#[test]
fn transfer_is_refused_to_the_same_or_an_unknown_service_and_from_finished_tickets() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let cases = [
        (
            "general",
            DomainError::SameService("A001".to_owned(), service("general")),
        ),
        ("xray", DomainError::ServiceNotFound(service("xray"))),
    ];
    for (target, expected) in cases {
        let transfer = Command::TransferTicket {
            ticket: a1,
            service: service(target),
        };
        assert_eq!(desk.refuse(&transfer), expected);
    }
    let mut desk = Desk::new();
    let done = ticket_in(&mut desk, TicketState::Done);
    assert_eq!(
        desk.refuse(&Command::TransferTicket {
            ticket: done,
            service: service("lab"),
        }),
        DomainError::InvalidTransition {
            number: "A001".to_owned(),
            state: TicketState::Done,
            action: "transferred",
        }
    );
}

// ---- undo --------------------------------------------------------------------------------

#[test]
fn undo_puts_the_called_ticket_back_in_its_place_and_the_finished_one_back_in_the_room() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.advance(10);
    let a2 = desk.issue("general", Normal);
    desk.advance(10);
    let a3 = desk.issue("general", Normal);
    desk.advance(10);
    desk.next("room-1");
    let a1_called = desk.t(a1).clone();
    let a2_waiting = desk.t(a2).clone();
    let stats = desk.state.rooms[&room("room-1")].stats;
    desk.advance(300);
    assert_eq!(desk.next("room-1"), Some(a2));
    desk.advance(30);
    let kind = desk.event(&undo("room-1"));
    assert!(matches!(kind, EventKind::NextUndone { .. }));
    assert_eq!(desk.t(a1), &a1_called);
    assert_eq!(desk.t(a2), &a2_waiting);
    assert_eq!(desk.serving("room-1"), Some(a1));
    let r = &desk.state.rooms[&room("room-1")];
    assert_eq!(r.stats, stats);
    assert_eq!(r.last_next, None);
    let placements = desk.state.placements(&desk.policy);
    assert_eq!(placements[&a2].position, 0);
    assert_eq!(placements[&a3].position, 1);
    // pressing again does what the bounce should have done, without a debounce
    assert_eq!(desk.next("room-1"), Some(a2));
    assert_eq!(desk.t(a1).state, TicketState::Done);
}

#[test]
fn undo_of_the_first_call_leaves_the_room_idle() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let waiting = desk.t(a1).clone();
    desk.next("room-1");
    desk.event(&undo("room-1"));
    assert_eq!(desk.t(a1), &waiting);
    assert_eq!(desk.serving("room-1"), None);
}

#[test]
fn undo_of_a_next_that_called_nobody_puts_the_finished_ticket_back() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.next("room-1");
    let called = desk.t(a1).clone();
    desk.advance(60);
    assert_eq!(desk.next("room-1"), None);
    desk.event(&undo("room-1"));
    assert_eq!(desk.t(a1), &called);
    assert_eq!(desk.serving("room-1"), Some(a1));
}

#[test]
fn undo_takes_the_pass_over_counts_back() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.advance(11 * 60);
    let a2 = desk.issue("general", Urgent);
    assert_eq!(desk.next("room-1"), Some(a2));
    let EventKind::RoomNext { passed_over, .. } = desk.last_event() else {
        panic!("not a next")
    };
    assert_eq!(passed_over, &vec![a1]);
    assert_eq!(desk.t(a1).passed_over, 1);
    desk.event(&undo("room-1"));
    assert_eq!(desk.t(a1).passed_over, 0);
    assert_eq!(desk.t(a2).state, TicketState::Waiting);
}

#[test]
fn undo_is_refused_after_the_undo_window() {
    // (seconds after the "next", accepted?)
    let cases = [
        (0, true),
        (119, true),
        (120, true),
        (121, false),
        (3_600, false),
    ];
    for (secs, accepted) in cases {
        let mut desk = Desk::new();
        desk.issue("general", Normal);
        desk.next("room-1");
        desk.advance(secs);
        if accepted {
            desk.event(&undo("room-1"));
        } else {
            assert_eq!(
                desk.refuse(&undo("room-1")),
                DomainError::UndoExpired {
                    room: room("room-1"),
                    window_secs: 120,
                },
                "{secs}"
            );
        }
    }
}

#[test]
fn undo_is_refused_once_the_called_ticket_changed() {
    type Change = fn(TicketId) -> Command;
    let cases: [(&str, Change); 5] = [
        ("done", |_| Command::RoomDone {
            room: room("room-1"),
        }),
        ("no show", |_| Command::RoomNoShow {
            room: room("room-1"),
        }),
        ("cancel", |t| Command::CancelTicket { ticket: t }),
        ("requeue", |t| Command::RequeueTicket { ticket: t }),
        ("transfer", |t| Command::TransferTicket {
            ticket: t,
            service: service("lab"),
        }),
    ];
    for (name, change) in cases {
        let mut desk = Desk::new();
        let a1 = desk.issue("general", Normal);
        desk.issue("general", Normal);
        desk.next("room-1");
        desk.advance(10);
        desk.event(&change(a1));
        assert_eq!(
            desk.refuse(&undo("room-1")),
            DomainError::UndoConflict(room("room-1")),
            "{name}"
        );
    }
}

#[test]
fn undo_needs_a_next_to_undo() {
    let mut desk = Desk::new();
    desk.issue("general", Normal);
    assert_eq!(
        desk.refuse(&undo("room-1")),
        DomainError::NothingToUndo(room("room-1"))
    );
    desk.next("room-1");
    desk.event(&undo("room-1"));
    // an undo is not undone twice
    assert_eq!(
        desk.refuse(&undo("room-1")),
        DomainError::NothingToUndo(room("room-1"))
    );
    // a closed day leaves nothing to undo
    desk.advance(5);
    desk.next("room-1");
    desk.close_day(DAY.tomorrow().unwrap());
    assert_eq!(
        desk.refuse(&undo("room-1")),
        DomainError::NothingToUndo(room("room-1"))
    );
}

#[test]
fn undo_of_a_pass_is_taken_back_even_when_the_passed_ticket_was_called_meanwhile() {
    // room-1 calls an urgent ticket past a normal one (one pass); room-2 then calls the normal
    // one; both rooms undo, the later press first... then the earlier: the normal ticket is
    // waiting again, and it was never really passed over.
    for room_1_first in [true, false] {
        let mut desk = Desk::new();
        let n = desk.issue("general", Normal);
        desk.advance(11 * 60);
        let p = desk.issue("general", Urgent);
        assert_eq!(desk.next("room-1"), Some(p));
        assert_eq!(desk.t(n).passed_over, 1);
        assert_eq!(desk.next("room-2"), Some(n));
        desk.advance(10);
        if room_1_first {
            desk.event(&undo("room-1"));
            desk.event(&undo("room-2"));
        } else {
            desk.event(&undo("room-2"));
            desk.event(&undo("room-1"));
        }
        assert_eq!(desk.t(n).state, TicketState::Waiting);
        assert_eq!(desk.t(p).state, TicketState::Waiting);
        assert_eq!(
            desk.t(n).passed_over,
            0,
            "room-1 undone first: {room_1_first}"
        );
    }
}

#[test]
fn undo_does_not_take_back_passes_from_before_a_requeue() {
    // Passes count after 30 s here, well inside the undo window. n is passed over by room-1's
    // call of p1; room-2 calls n, and n is requeued (its count starts again); p2 then passes n
    // over once more; undoing room-1's call must leave that second pass counted.
    let mut desk = Desk::new();
    desk.policy.starvation = Some(Starvation {
        max_passes: 3,
        after: SignedDuration::from_secs(30),
    });
    let n = desk.issue("general", Normal);
    desk.advance(31);
    let p1 = desk.issue("general", Urgent);
    assert_eq!(desk.next("room-1"), Some(p1));
    assert_eq!(desk.t(n).passed_over, 1);
    assert_eq!(desk.next("room-2"), Some(n));
    desk.event(&Command::RequeueTicket { ticket: n });
    assert_eq!(desk.t(n).passed_over, 0);
    desk.advance(31);
    let p2 = desk.issue("general", Urgent);
    assert_eq!(desk.next("room-2"), Some(p2));
    assert_eq!(desk.t(n).passed_over, 1);
    let EventKind::NextUndone { passed_over, .. } = desk.event(&undo("room-1")) else {
        panic!("not an undo")
    };
    assert!(passed_over.is_empty(), "{passed_over:?}");
    assert_eq!(desk.t(n).passed_over, 1);
    assert_eq!(desk.t(p1).state, TicketState::Waiting);
}

// ---- idempotency -------------------------------------------------------------------------

fn issue_with_key(key: &str) -> Command {
    Command::IssueTicket {
        service: service("general"),
        priority: Normal,
        idempotency_key: Some(key.to_owned()),
        patient: None,
    }
}

#[test]
fn the_same_idempotency_key_within_the_window_returns_the_same_ticket() {
    // (seconds after the first request, replayed?)
    let cases = [(0, true), (599, true), (600, true), (601, false)];
    for (secs, replayed) in cases {
        let mut desk = Desk::new();
        let first = match desk.event(&issue_with_key("kiosk-1-0001")) {
            EventKind::TicketIssued { ticket, .. } => ticket.id,
            other => panic!("{other:?}"),
        };
        desk.advance(secs);
        let before = desk.state.clone();
        let decision = desk.run(&issue_with_key("kiosk-1-0001"));
        if replayed {
            assert_eq!(decision, Decision::Replayed { ticket: first }, "{secs}");
            assert_eq!(desk.state, before);
        } else {
            let Decision::Event(EventKind::TicketIssued { ticket, .. }) = decision else {
                panic!("{decision:?}")
            };
            assert_ne!(ticket.id, first);
            assert_eq!(ticket.number, "A002");
            // the key now names the new ticket
            desk.advance(1);
            assert_eq!(
                desk.run(&issue_with_key("kiosk-1-0001")),
                Decision::Replayed { ticket: ticket.id }
            );
        }
    }
}

#[test]
fn an_idempotency_key_sent_again_with_another_request_is_refused_and_changes_nothing() {
    let mut desk = Desk::new();
    let first = match desk.event(&issue_with_key("k")) {
        EventKind::TicketIssued { ticket, .. } => ticket.id,
        other => panic!("{other:?}"),
    };
    let before = desk.state.clone();
    let other_service = Command::IssueTicket {
        service: service("lab"),
        priority: Normal,
        idempotency_key: Some("k".to_owned()),
        patient: None,
    };
    let other_class = Command::IssueTicket {
        service: service("general"),
        priority: Urgent,
        idempotency_key: Some("k".to_owned()),
        patient: None,
    };
    for command in [other_service, other_class] {
        assert_eq!(desk.refuse(&command), DomainError::IdempotencyKeyReused);
        assert_eq!(desk.state, before);
    }
    // the same request still replays
    assert_eq!(
        desk.run(&issue_with_key("k")),
        Decision::Replayed { ticket: first }
    );
}

#[test]
fn an_idempotency_entry_stored_without_its_request_hash_still_loads_and_replays() {
    let stored = r#"{"ticket":7,"at":"2026-11-21T08:00:00Z"}"#;
    let entry: IdempotencyEntry = serde_json::from_str(stored).unwrap();
    assert_eq!(entry.request, None);
    assert!(entry.matches(&request_hash(&service("lab"), Normal, Source::Kiosk)));
    let bound = IdempotencyEntry {
        request: Some(request_hash(&service("general"), Normal, Source::Kiosk)),
        ..entry
    };
    assert!(bound.matches(&request_hash(&service("general"), Normal, Source::Kiosk)));
    assert!(!bound.matches(&request_hash(&service("general"), Normal, Source::Api)));
}

#[test]
fn different_idempotency_keys_issue_different_tickets() {
    let mut desk = Desk::new();
    desk.event(&issue_with_key("a"));
    desk.event(&issue_with_key("b"));
    assert_eq!(desk.state.tickets.len(), 2);
}

#[test]
fn invalid_idempotency_keys_are_refused() {
    let long = "k".repeat(129);
    for key in ["", "with space", "tab\t", "é", long.as_str()] {
        let mut desk = Desk::new();
        assert_eq!(
            desk.refuse(&issue_with_key(key)),
            DomainError::InvalidIdempotencyKey,
            "{key:?}"
        );
    }
    let mut desk = Desk::new();
    desk.event(&issue_with_key(&"k".repeat(128)));
}

#[test]
fn idempotency_keys_do_not_outlive_the_day() {
    let mut desk = Desk::new();
    desk.event(&issue_with_key("k"));
    desk.advance(60);
    desk.close_day(DAY.tomorrow().unwrap());
    let decision = desk.run(&issue_with_key("k"));
    assert!(
        matches!(decision, Decision::Event(EventKind::TicketIssued { .. })),
        "{decision:?}"
    );
}

// ---- day close ---------------------------------------------------------------------------

#[test]
fn day_close_restarts_numbers_and_closes_unattended_tickets() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let a2 = desk.issue("general", Normal);
    let l1 = desk.issue("lab", Normal);
    let a3 = desk.issue("general", Normal);
    desk.next("room-1"); // a1 called
    desk.advance(5);
    desk.next("room-2"); // a2 called
    desk.event(&Command::RoomDone {
        room: room("room-2"),
    });
    desk.advance(8 * 3_600);
    let tomorrow = DAY.tomorrow().unwrap();
    let EventKind::DayClosed {
        day,
        new_day,
        closed,
    } = desk.close_day(tomorrow)
    else {
        panic!("not a day close")
    };
    assert_eq!((day, new_day), (DAY, tomorrow));
    let closed_as: Vec<(TicketId, TicketState, Option<CancelReason>)> = closed
        .iter()
        .map(|t| (t.id, t.state, t.cancel_reason))
        .collect();
    assert_eq!(
        closed_as,
        vec![
            (a1, TicketState::Done, None),
            (l1, TicketState::Cancelled, Some(CancelReason::Unattended)),
            (a3, TicketState::Cancelled, Some(CancelReason::Unattended)),
        ]
    );
    assert!(closed.iter().all(|t| t.finished_at == Some(desk.now)));
    // every ticket left the live set, a2 (done earlier) too
    assert!(desk.state.tickets.is_empty());
    assert!(desk.state.counters.is_empty());
    assert!(desk.state.rooms.values().all(|r| r.serving.is_none()));
    assert!(desk.state.rooms.values().all(|r| r.last_next.is_none()));
    assert_eq!(desk.state.day, tomorrow);
    assert_eq!(desk.state.ticket(a2), Err(DomainError::TicketNotFound(a2)));
    let id = desk.issue("general", Normal);
    assert_eq!((desk.number(id), desk.t(id).day), ("A001", tomorrow));
    assert!(id > a3, "ticket ids are never reused");
}

#[test]
fn day_close_for_today_or_the_past_is_unchanged() {
    let mut desk = Desk::new();
    desk.issue("general", Normal);
    for day in [DAY, DAY.yesterday().unwrap()] {
        assert_eq!(
            desk.run(&Command::CloseDay { new_day: day }),
            Decision::Unchanged
        );
    }
}

#[test]
fn day_close_carries_over_the_tickets_of_a_carry_over_service() {
    let mut desk = Desk::with(|services, _| services[1].carry_over = true);
    let l1 = desk.issue("lab", Normal);
    let l2 = desk.issue("lab", Normal);
    let l3 = desk.issue("lab", Normal);
    let a1 = desk.issue("general", Normal);
    desk.next("lab"); // l1
    desk.advance(60);
    desk.next("lab"); // l1 done, l2 called
    desk.advance(8 * 3_600);
    let tomorrow = DAY.tomorrow().unwrap();
    let EventKind::DayClosed { closed, .. } = desk.close_day(tomorrow) else {
        panic!("not a day close")
    };
    assert_eq!(
        closed.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![a1],
        "only the general ticket is closed"
    );
    let live: Vec<TicketId> = desk.state.tickets.keys().copied().collect();
    assert_eq!(live, vec![l2, l3], "l1 (done) left, l2 and l3 stay");
    assert_eq!(desk.state.ticket(l1), Err(DomainError::TicketNotFound(l1)));
    assert_eq!(desk.t(l2).state, TicketState::Called);
    assert_eq!(desk.serving("lab"), Some(l2));
    assert_eq!(desk.t(l3).state, TicketState::Waiting);
    assert_eq!(desk.t(l3).day, DAY);
    // the new day's numbers skip L002 and L003, still held
    let numbers: Vec<String> = (0..3)
        .map(|_| {
            let id = desk.issue("lab", Normal);
            desk.number(id).to_owned()
        })
        .collect();
    assert_eq!(numbers, ["L001", "L004", "L005"]);
    assert_eq!(desk.state.counters["L"], 5);
    // the carried tickets are served on the new day
    desk.advance(60);
    assert_eq!(desk.next("lab"), Some(l3));
    assert_eq!(desk.t(l2).state, TicketState::Done);
}

#[test]
fn carried_numbers_stay_held_for_as_many_days_as_the_ticket_waits() {
    let mut desk = Desk::with(|services, _| services[1].carry_over = true);
    let l1 = desk.issue("lab", Normal);
    let mut day = DAY;
    for _ in 0..3 {
        day = day.tomorrow().unwrap();
        desk.advance(24 * 3_600);
        desk.close_day(day);
        let id = desk.issue("lab", Normal);
        assert_eq!(desk.number(id), "L002", "{day}");
        desk.event(&Command::CancelTicket { ticket: id });
    }
    assert_eq!(desk.t(l1).state, TicketState::Waiting);
}

#[test]
fn a_carried_ticket_transferred_on_the_new_day_keeps_its_number_held() {
    let mut desk = Desk::with(|services, _| services[1].carry_over = true);
    let l1 = desk.issue("lab", Normal);
    desk.advance(8 * 3_600);
    desk.close_day(DAY.tomorrow().unwrap());
    desk.event(&Command::TransferTicket {
        ticket: l1,
        service: service("general"),
    });
    let id = desk.issue("lab", Normal);
    assert_eq!(desk.number(id), "L002");
}

// ---- wait estimates ----------------------------------------------------------------------

#[test]
fn placements_count_the_people_ahead_by_class_then_arrival() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.advance(1);
    let a2 = desk.issue("general", Normal);
    desk.advance(1);
    let l1 = desk.issue("lab", Normal);
    desk.advance(1);
    let a3 = desk.issue("general", Priority);
    desk.advance(1);
    let a4 = desk.issue("general", Urgent);
    let placements = desk.state.placements(&desk.policy);
    // (ticket, people ahead)
    let expected = [(a4, 0), (a3, 1), (a1, 2), (a2, 3), (l1, 0)];
    assert_eq!(placements.len(), expected.len());
    for (id, position) in expected {
        assert_eq!(placements[&id].position, position, "{}", desk.number(id));
        assert_eq!(
            desk.state.placement(desk.t(id), &desk.policy),
            Some(placements[&id])
        );
    }
    // a called ticket has no place in the queue
    desk.next("room-1");
    assert_eq!(desk.state.placement(desk.t(a4), &desk.policy), None);
    assert!(!desk.state.placements(&desk.policy).contains_key(&a4));
    assert_eq!(desk.state.placements(&desk.policy)[&a3].position, 0);
}

#[test]
fn urgent_tickets_issued_lately_lengthen_a_normal_tickets_wait() {
    // The same queue (four normal tickets, both rooms busy), after two normal or two urgent
    // arrivals: urgent ones keep coming at that rate and will pass the normal tickets.
    let last_wait = |first: PriorityClass| {
        let mut desk = Desk::new();
        for _ in 0..2 {
            desk.issue("general", first);
        }
        desk.next("room-1");
        desk.next("room-2");
        let ids: Vec<TicketId> = (0..4).map(|_| desk.issue("general", Normal)).collect();
        let last = desk.t(ids[3]).clone();
        let placed = desk.state.placement(&last, &desk.policy).unwrap();
        assert_eq!(placed.position, 3);
        placed.eta.unwrap()
    };
    let calm = last_wait(Normal);
    let busy = last_wait(Urgent);
    assert!(busy.minutes > calm.minutes, "{calm:?} {busy:?}");
    assert!(busy.high > calm.high, "{calm:?} {busy:?}");
}

#[test]
fn wait_estimates_grow_with_the_people_ahead_and_are_unknown_without_an_open_room() {
    let mut desk = Desk::new();
    let ids: Vec<TicketId> = (0..6).map(|_| desk.issue("general", Normal)).collect();
    let l1 = desk.issue("lab", Normal);
    let placements = desk.state.placements(&desk.policy);
    let first = placements[&ids[0]].eta.unwrap();
    assert_eq!(first.minutes, 0, "a free room calls the first at once");
    let minutes: Vec<u32> = ids
        .iter()
        .map(|id| placements[id].eta.unwrap().minutes)
        .collect();
    assert!(minutes.windows(2).all(|w| w[0] <= w[1]), "{minutes:?}");
    // 5 ahead, two rooms of 8 minutes each, but room 2 also calls the lab (1 waiting against
    // 6 general): it gives general 7/8 of its rate, 5 ÷ (1/8 + 7/64) per minute ≈ 21 minutes
    assert_eq!(minutes[5], 21);
    let eta = placements[&ids[5]].eta.unwrap();
    assert!(eta.low <= eta.minutes && eta.minutes <= eta.high, "{eta:?}");

    for r in ["room-1", "room-2"] {
        desk.event(&Command::SetRoomOpen {
            room: room(r),
            open: false,
        });
    }
    let placements = desk.state.placements(&desk.policy);
    for id in &ids {
        assert_eq!(placements[id].eta, None);
        assert_eq!(
            placements[id].position,
            ids.iter().position(|i| i == id).unwrap()
        );
    }
    assert!(placements[&l1].eta.is_some(), "the lab counter is open");
}

#[test]
fn a_room_not_opened_yet_today_counts_as_a_late_start_until_an_hour_has_passed() {
    // the demo clinic with a third general room, closed
    let with_room_3 = || {
        Desk::with(|_, rooms| {
            let mut third = rooms[0].clone();
            third.id = room("room-3");
            third.name = "Room 3".to_owned();
            third.order = Some(9);
            third.open = false;
            rooms.push(third);
        })
    };
    let last_eta = |desk: &mut Desk| {
        let id = desk.issue("general", Normal);
        let t = desk.t(id).clone();
        desk.state.placement(&t, &desk.policy).unwrap().eta.unwrap()
    };
    let (mut plain, mut late) = (Desk::new(), with_room_3());
    for desk in [&mut plain, &mut late] {
        for _ in 0..8 {
            desk.issue("general", Normal);
        }
    }
    // expected 20 minutes after the first ticket: shorter than without it, and the range
    // still holds the wait if it does not come
    let (without, with) = (last_eta(&mut plain), last_eta(&mut late));
    assert!(with.minutes < without.minutes, "{with:?} {without:?}");
    assert!(with.high >= without.minutes, "{with:?} {without:?}");
    // an hour after the first ticket it is taken as absent today
    for desk in [&mut plain, &mut late] {
        desk.advance(3_600);
    }
    assert_eq!(last_eta(&mut late), last_eta(&mut plain));
}

#[test]
fn a_room_closed_after_working_today_is_not_expected_back() {
    let mut closed = Desk::with(|_, rooms| {
        let mut third = rooms[0].clone();
        third.id = room("room-3");
        third.order = Some(9);
        rooms.push(third);
    });
    let x = closed.issue("general", Normal);
    assert_eq!(closed.next("room-3"), Some(x));
    closed.event(&Command::RoomDone {
        room: room("room-3"),
    });
    closed.event(&Command::SetRoomOpen {
        room: room("room-3"),
        open: false,
    });
    let mut plain = Desk::new();
    let y = plain.issue("general", Normal);
    plain.event(&Command::CancelTicket { ticket: y });
    let etas = |desk: &mut Desk| {
        let ids: Vec<TicketId> = (0..6).map(|_| desk.issue("general", Normal)).collect();
        let placements = desk.state.placements(&desk.policy);
        ids.iter().map(|id| placements[id].eta).collect::<Vec<_>>()
    };
    let expected = etas(&mut plain);
    assert!(expected[5].is_some_and(|e| e.minutes > 0), "{expected:?}");
    assert_eq!(etas(&mut closed), expected);
}

// ---- replay ------------------------------------------------------------------------------

#[test]
fn replaying_the_event_log_gives_the_same_state() {
    let mut desk = Desk::with(|services, _| services[1].carry_over = true);
    let script: Vec<(i64, Command)> = vec![
        (0, issue("general", Normal)),
        (5, issue("general", Priority)),
        (5, issue("lab", Normal)),
        (0, issue_with_key("k-1")),
        (1, issue_with_key("k-1")),
        (30, next("room-1")),
        (1, next("room-1")),
        (30, next("room-2")),
        (
            10,
            Command::RoomRecall {
                room: room("room-2"),
            },
        ),
        (600, next("room-1")),
        (20, undo("room-1")),
        (5, next("lab")),
        (60, Command::RoomNoShow { room: room("lab") }),
        (
            10,
            Command::RequeueTicket {
                ticket: TicketId(3),
            },
        ),
        (
            10,
            Command::TransferTicket {
                ticket: TicketId(4),
                service: service("lab"),
            },
        ),
        (
            5,
            Command::CancelTicket {
                ticket: TicketId(1),
            },
        ),
        (700, issue("general", Normal)),
        (5, next("room-2")),
        (
            5,
            Command::SetRoomOpen {
                room: room("room-1"),
                open: false,
            },
        ),
        (
            300,
            Command::RoomDone {
                room: room("room-2"),
            },
        ),
        (
            8 * 3_600,
            Command::CloseDay {
                new_day: DAY.tomorrow().unwrap(),
            },
        ),
        (60, issue("lab", Urgent)),
        (60, issue("general", Normal)),
        (5, next("room-2")),
        (5, next("lab")),
    ];
    for (secs, command) in &script {
        desk.advance(*secs);
        let _ = desk.try_run(command);
    }
    assert!(desk.events.len() > 20, "{} events", desk.events.len());
    let mut replayed = QueueState::new(DAY);
    for event in &desk.events {
        replayed.apply(event);
    }
    assert_eq!(replayed, desk.state);
}

// ---- services open/close, the displays' message ---------------------------------------------

fn set_service(s: &str, active: bool, reopens_at: Option<Timestamp>) -> Command {
    Command::SetServiceActive {
        service: service(s),
        active,
        reopens_at,
    }
}

#[test]
fn a_closed_service_refuses_tickets_keeps_its_queue_and_says_when_it_reopens() {
    let mut desk = Desk::new();
    let waiting = desk.issue("lab", Normal);
    let reopens: Timestamp = "2026-11-22T03:30:00Z".parse().unwrap();
    desk.event(&set_service("lab", false, Some(reopens)));
    let lab = &desk.state.services[&service("lab")];
    assert!(!lab.active);
    assert_eq!(lab.reopens_at, Some(reopens));
    assert_eq!(
        desk.refuse(&issue("lab", Normal)),
        DomainError::ServiceClosed(service("lab"))
    );
    // its waiting ticket is still called
    assert_eq!(desk.next("lab"), Some(waiting));
    // closing again the same way changes nothing; opening clears the reopening time
    assert_eq!(
        desk.run(&set_service("lab", false, Some(reopens))),
        Decision::Unchanged
    );
    desk.event(&set_service("lab", true, Some(reopens)));
    let lab = &desk.state.services[&service("lab")];
    assert!(lab.active);
    assert_eq!(lab.reopens_at, None);
    desk.issue("lab", Normal);
    assert_eq!(
        desk.refuse(&set_service("nope", false, None)),
        DomainError::ServiceNotFound(service("nope"))
    );
}

#[test]
fn the_displays_message_is_trimmed_bounded_and_replayable() {
    let mut desk = Desk::new();
    let set = |m: &str| Command::SetClinicMessage {
        message: m.to_owned(),
    };
    desk.event(&set("  Dr. Rao is in from 11:00  "));
    assert_eq!(desk.state.clinic.message, "Dr. Rao is in from 11:00");
    assert_eq!(
        desk.run(&set("Dr. Rao is in from 11:00")),
        Decision::Unchanged
    );
    let too_long = "म".repeat(crate::domain::state::MESSAGE_MAX + 1);
    assert_eq!(
        desk.refuse(&set(&too_long)),
        DomainError::MessageTooLong(crate::domain::state::MESSAGE_MAX)
    );
    desk.event(&set(""));
    assert_eq!(desk.state.clinic.message, "");
    // the log replays to the same state
    let mut replayed = QueueState::new(DAY);
    for event in &desk.events {
        replayed.apply(event);
    }
    assert_eq!(replayed, desk.state);
}

#[test]
fn a_displays_message_with_control_characters_is_refused() {
    let mut desk = Desk::new();
    let before = desk.state.clone();
    for message in [
        "a\u{0}b",
        "\u{1b}[2Jcut",
        "line\nbreak",
        "tab\there",
        "x\u{7f}",
        "\u{9b}1m",
    ] {
        let command = Command::SetClinicMessage {
            message: message.to_owned(),
        };
        assert_eq!(
            desk.refuse(&command),
            DomainError::MessageControlCharacters,
            "{message:?}"
        );
        assert_eq!(desk.state, before);
    }
}

mod message_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever the text, a message is stored only without control characters, and a
        /// refused one changes nothing.
        #[test]
        fn no_stored_message_has_a_control_character(message in any::<String>()) {
            let mut desk = Desk::new();
            let before = desk.state.clone();
            let command = Command::SetClinicMessage { message };
            match desk.try_run(&command) {
                Ok(_) => prop_assert!(!desk.state.clinic.message.chars().any(char::is_control)),
                Err(_) => prop_assert_eq!(&desk.state, &before),
            }
        }
    }
}

// ---- admin: services, rooms, clinic settings, staff changes ---------------------------------

fn add_service(id: &str, name: &str, prefix: &str) -> Command {
    Command::AddService {
        service: service(id),
        name: name.to_owned(),
        prefix: prefix.to_owned(),
        carry_over: false,
        names: std::collections::BTreeMap::new(),
        order: None,
        tone: None,
        icon: None,
        ask_priority: None,
    }
}

/// The log replays to the desk's state.
fn assert_replays(desk: &Desk) {
    let mut replayed = QueueState::new(DAY);
    for event in &desk.events {
        replayed.apply(event);
    }
    assert_eq!(replayed, desk.state);
}

#[test]
fn an_added_service_issues_tickets_with_its_own_prefix_at_once() {
    let mut desk = Desk::new();
    desk.event(&add_service("dental", "  Dental ", "D"));
    let s = &desk.state.services[&service("dental")];
    assert_eq!((s.name.as_str(), s.active), ("Dental", true));
    let t = desk.issue("dental", Normal);
    assert_eq!(desk.number(t), "D001");
    assert_eq!(
        desk.refuse(&add_service("dental", "Dental", "E")),
        DomainError::ServiceExists(service("dental"))
    );
    assert_eq!(
        desk.refuse(&add_service("eye", "Eye", "A")),
        DomainError::PrefixInUse {
            prefix: "A".to_owned(),
            service: service("general")
        }
    );
    assert!(matches!(
        desk.refuse(&add_service("eye", "Eye", "e1")),
        DomainError::InvalidPrefix(_)
    ));
    assert!(matches!(
        desk.refuse(&add_service("eye", " ", "E")),
        DomainError::InvalidName { .. }
    ));
    assert_replays(&desk);
}

#[test]
fn a_service_renamed_or_reprefixed_keeps_its_issued_numbers() {
    let mut desk = Desk::new();
    let first = desk.issue("general", Normal);
    let change = |c: super::ServiceChange| Command::UpdateService {
        service: service("general"),
        change: c,
    };
    desk.event(&change(super::ServiceChange {
        name: Some("OPD".to_owned()),
        prefix: Some("G".to_owned()),
        carry_over: Some(true),
        names: Some([("hi".to_owned(), "ओपीडी".to_owned())].into()),
        ..Default::default()
    }));
    let s = &desk.state.services[&service("general")];
    assert_eq!((s.name.as_str(), s.prefix.as_str()), ("OPD", "G"));
    assert!(s.carry_over && s.active);
    assert_eq!(s.name_in("hi"), "ओपीडी");
    assert_eq!(desk.number(first), "A001");
    let second = desk.issue("general", Normal);
    assert_eq!(desk.number(second), "G001");
    // the same again changes nothing; a taken prefix and unknown service are refused
    assert_eq!(
        desk.run(&change(super::ServiceChange {
            name: Some("OPD".to_owned()),
            ..Default::default()
        })),
        Decision::Unchanged
    );
    assert!(matches!(
        desk.refuse(&change(super::ServiceChange {
            prefix: Some("L".to_owned()),
            ..Default::default()
        })),
        DomainError::PrefixInUse { .. }
    ));
    assert_eq!(
        desk.refuse(&Command::UpdateService {
            service: service("nope"),
            change: super::ServiceChange::default(),
        }),
        DomainError::ServiceNotFound(service("nope"))
    );
    assert_replays(&desk);
}

#[test]
fn an_added_room_starts_closed_and_calls_its_services_once_opened() {
    let mut desk = Desk::new();
    let t = desk.issue("lab", Normal);
    desk.event(&Command::AddRoom {
        room: room("room-4"),
        name: "Room 4".to_owned(),
        names: std::collections::BTreeMap::new(),
        services: vec![service("lab"), service("lab")],
        order: None,
    });
    assert_eq!(
        desk.state.rooms[&room("room-4")].services,
        vec![service("lab")]
    );
    assert_eq!(
        desk.refuse(&next("room-4")),
        DomainError::RoomClosed(room("room-4"))
    );
    desk.event(&Command::SetRoomOpen {
        room: room("room-4"),
        open: true,
    });
    assert_eq!(desk.next("room-4"), Some(t));
    assert_eq!(
        desk.refuse(&Command::AddRoom {
            room: room("room-5"),
            name: "Room 5".to_owned(),
            names: std::collections::BTreeMap::new(),
            services: vec![service("nope")],
            order: None,
        }),
        DomainError::ServiceNotFound(service("nope"))
    );
    assert!(matches!(
        desk.refuse(&Command::AddRoom {
            room: room("room-4"),
            name: "Again".to_owned(),
            names: std::collections::BTreeMap::new(),
            services: vec![],
            order: None,
        }),
        DomainError::RoomExists(_)
    ));
    assert_replays(&desk);
}

#[test]
fn a_room_update_changes_what_it_calls_and_keeps_who_it_serves() {
    let mut desk = Desk::new();
    let a = desk.issue("general", Normal);
    let l = desk.issue("lab", Normal);
    assert_eq!(desk.next("room-1"), Some(a));
    desk.event(&Command::UpdateRoom {
        room: room("room-1"),
        change: super::RoomChange {
            name: Some("Cabin 1".to_owned()),
            names: None,
            services: Some(vec![service("lab")]),
            order: None,
        },
    });
    let r = &desk.state.rooms[&room("room-1")];
    assert_eq!(r.name, "Cabin 1");
    assert_eq!(r.serving, Some(a));
    assert_eq!(r.name_in("hi"), "कमरा 1");
    desk.advance(60);
    assert_eq!(desk.next("room-1"), Some(l));
    assert_eq!(
        desk.run(&Command::UpdateRoom {
            room: room("room-1"),
            change: super::RoomChange::default(),
        }),
        Decision::Unchanged
    );
    assert_replays(&desk);
}

#[test]
fn services_and_rooms_keep_their_order_colour_and_icon_as_others_are_added() {
    let mut desk = Desk::new();
    // the demo: general 0, lab 1; a new service goes after them with a colour nobody has
    desk.event(&add_service("billing", "Billing", "B"));
    let billing = &desk.state.services[&service("billing")];
    assert_eq!((billing.order, billing.tone), (Some(2), Some(2)));
    assert!(billing.ask_priority && billing.icon.is_none());
    // one added with an id that sorts first changes nobody else's colour
    let mut first = add_service("aaa", "Ambulance", "M");
    if let Command::AddService {
        order,
        icon,
        ask_priority,
        ..
    } = &mut first
    {
        *order = Some(0);
        *icon = Some("heart".to_owned());
        *ask_priority = Some(false);
    }
    desk.event(&first);
    let tones: Vec<_> = desk
        .state
        .services_in_order()
        .iter()
        .map(|s| (s.id.as_str().to_owned(), s.tone))
        .collect();
    assert_eq!(
        tones,
        [
            ("aaa".to_owned(), Some(3)),
            ("general".to_owned(), Some(0)),
            ("lab".to_owned(), Some(1)),
            ("billing".to_owned(), Some(2)),
        ]
    );
    let aaa = &desk.state.services[&service("aaa")];
    assert_eq!(
        (aaa.icon.as_deref(), aaa.ask_priority),
        (Some("heart"), false)
    );
    // a change of order, tone, icon, question
    let change = |c: super::ServiceChange| Command::UpdateService {
        service: service("lab"),
        change: c,
    };
    desk.event(&change(super::ServiceChange {
        order: Some(9),
        tone: Some(5),
        icon: Some("lab".to_owned()),
        ask_priority: Some(false),
        ..Default::default()
    }));
    let lab = &desk.state.services[&service("lab")];
    assert_eq!(
        (lab.order, lab.tone, lab.icon.as_deref(), lab.ask_priority),
        (Some(9), Some(5), Some("lab"), false)
    );
    // "" gives the automatic icon back
    desk.event(&change(super::ServiceChange {
        icon: Some(String::new()),
        ..Default::default()
    }));
    assert_eq!(desk.state.services[&service("lab")].icon, None);
    for bad in [
        super::ServiceChange {
            tone: Some(6),
            ..Default::default()
        },
        super::ServiceChange {
            order: Some(10_000),
            ..Default::default()
        },
        super::ServiceChange {
            icon: Some("unicorn".to_owned()),
            ..Default::default()
        },
    ] {
        assert!(matches!(
            desk.refuse(&change(bad)),
            DomainError::InvalidSetting(_)
        ));
    }
    // rooms: a new one goes last; its order can change
    desk.event(&Command::AddRoom {
        room: room("a-room"),
        name: "A room".to_owned(),
        names: std::collections::BTreeMap::new(),
        services: vec![],
        order: None,
    });
    assert_eq!(desk.state.rooms[&room("a-room")].order, Some(3));
    desk.event(&Command::UpdateRoom {
        room: room("lab"),
        change: super::RoomChange {
            order: Some(0),
            ..Default::default()
        },
    });
    let rooms: Vec<_> = desk
        .state
        .rooms_in_order()
        .iter()
        .map(|r| r.id.as_str().to_owned())
        .collect();
    assert_eq!(rooms, ["lab", "room-1", "room-2", "a-room"]);
    assert_replays(&desk);
}

#[test]
fn old_events_without_order_or_tone_replay_to_the_old_id_order_and_colours() {
    // events as waitless wrote them before services and rooms had an order, a tone, an icon
    // and a priority question
    let service_json = |id: &str, prefix: &str| {
        serde_json::json!({"id": id, "name": id, "prefix": prefix, "active": true,
            "carry_over": false, "names": {}})
    };
    let room_json = |id: &str| {
        serde_json::json!({"id": id, "name": id, "names": {}, "services": [], "open": true,
            "serving": null, "last_next": null,
            "stats": {"samples": 0, "mean_secs": 0.0, "dev_secs": 0.0}})
    };
    let kinds = [
        serde_json::json!({"kind": "clinic_seeded", "clinic": {"name": "Old"},
            "services": [service_json("lab", "L"), service_json("general", "A")],
            "rooms": [room_json("room-2"), room_json("lab")]}),
        serde_json::json!({"kind": "service_added", "service": service_json("dental", "D")}),
        serde_json::json!({"kind": "room_added", "room": room_json("room-1")}),
        serde_json::json!({"kind": "room_updated", "room": "lab", "name": "Lab counter",
            "names": {}, "services": []}),
    ];
    let mut state = QueueState::new(DAY);
    for (seq, kind) in (1..).zip(kinds) {
        let kind: EventKind = serde_json::from_value(kind).unwrap();
        let at: Timestamp = "2026-11-21T08:00:00Z".parse().unwrap();
        let event = QueueState::event(seq, at, &Origin::system(), kind);
        state.apply(&event);
    }
    assert!(
        state
            .services
            .values()
            .all(|s| s.order.is_none() && s.tone.is_none())
    );
    assert!(state.settle_looks());
    let services: Vec<_> = state
        .services_in_order()
        .iter()
        .map(|s| (s.id.as_str().to_owned(), s.order, s.tone, s.ask_priority))
        .collect();
    assert_eq!(
        services,
        [
            ("dental".to_owned(), Some(0), Some(0), true),
            ("general".to_owned(), Some(1), Some(1), true),
            ("lab".to_owned(), Some(2), Some(2), true),
        ]
    );
    let rooms: Vec<_> = state
        .rooms_in_order()
        .iter()
        .map(|r| (r.id.as_str().to_owned(), r.order))
        .collect();
    assert_eq!(
        rooms,
        [
            ("lab".to_owned(), Some(0)),
            ("room-1".to_owned(), Some(1)),
            ("room-2".to_owned(), Some(2)),
        ]
    );
    // settled once, nothing more to do
    assert!(!state.settle_looks());
}

#[test]
fn clinic_settings_change_name_kiosk_and_pairing() {
    let mut desk = Desk::new();
    let kiosk = super::KioskSettings {
        priority: Some(false),
        reset_secs: Some(20),
        tickets_per_minute: Some(4),
    };
    desk.event(&Command::SetClinicSettings {
        change: super::ClinicChange {
            name: Some("Asha Clinic".to_owned()),
            kiosk: Some(kiosk.clone()),
            pairing_required: Some(true),
        },
    });
    assert_eq!(desk.state.clinic.name, "Asha Clinic");
    assert_eq!(desk.state.clinic.kiosk, kiosk);
    assert!(desk.state.clinic.pairing_required);
    assert!(matches!(
        desk.refuse(&Command::SetClinicSettings {
            change: super::ClinicChange {
                kiosk: Some(super::KioskSettings {
                    reset_secs: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }),
        DomainError::InvalidSetting(_)
    ));
    assert_eq!(
        desk.run(&Command::SetClinicSettings {
            change: super::ClinicChange::default()
        }),
        Decision::Unchanged
    );
    assert_replays(&desk);
}

#[test]
fn staff_changes_are_not_the_queues_to_decide() {
    let mut desk = Desk::new();
    let op = super::StaffOp::RevokeToken { id: "x".to_owned() };
    assert_eq!(
        desk.refuse(&Command::Staff { op }),
        DomainError::NotAQueueCommand
    );
}

#[test]
fn a_purge_of_no_details_changes_nothing_and_of_some_is_an_event() {
    let mut desk = Desk::new();
    let older_than = desk.now;
    let none = Command::PurgePatients {
        tickets: Vec::new(),
        bookings: Vec::new(),
        feedback: Vec::new(),
        older_than,
    };
    assert_eq!(desk.run(&none), Decision::Unchanged);
    let before = desk.state.clone();
    let some = Command::PurgePatients {
        tickets: vec![TicketId(7)],
        bookings: vec![9],
        feedback: vec![TicketId(3)],
        older_than,
    };
    let kind = desk.event(&some);
    assert_eq!(
        kind,
        EventKind::PersonalDataPurged {
            records: 3,
            older_than
        }
    );
    assert_eq!(desk.state, before);
}

// No-show and next, a call out of order, a room on break: in their own file.
mod room_actions;

// "How was your visit?": in its own file.
mod feedback;
