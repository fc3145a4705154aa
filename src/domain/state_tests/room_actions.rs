//! A room's newer actions: "no-show and next" (one event), a call out of order with a reason,
//! and a break that is not a closing.

use super::*;
use crate::domain::PickReason;

fn no_show_next(r: &str) -> Command {
    Command::RoomNoShowNext { room: room(r) }
}

fn call(r: &str, ticket: TicketId, reason: &str) -> Command {
    Command::RoomCall {
        room: room(r),
        ticket,
        reason: reason.to_owned(),
    }
}

fn pause(r: &str, paused: bool) -> Command {
    Command::SetRoomPaused {
        room: room(r),
        paused,
    }
}

#[test]
fn no_show_and_next_marks_the_ticket_not_come_and_calls_the_next_in_one_event() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let a2 = desk.issue("general", Normal);
    desk.next("room-1");
    desk.advance(60);
    let events = desk.events.len();
    let kind = desk.event(&no_show_next("room-1"));
    assert_eq!(desk.events.len(), events + 1, "one event");
    let EventKind::RoomNext {
        called, finished, ..
    } = kind
    else {
        panic!("not a next: {kind:?}")
    };
    assert_eq!(
        finished.map(|t| (t.id, t.state)),
        Some((a1, TicketState::NoShow))
    );
    assert_eq!(called.map(|t| t.id), Some(a2));
    assert_eq!(desk.t(a1).state, TicketState::NoShow);
    assert_eq!(desk.serving("room-1"), Some(a2));
    // a patient who did not come is no service time
    assert_eq!(desk.state.rooms[&room("room-1")].stats.samples, 0);
}

#[test]
fn no_show_and_next_is_undone_like_a_next() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let a2 = desk.issue("general", Normal);
    desk.next("room-1");
    desk.advance(60);
    desk.event(&no_show_next("room-1"));
    desk.advance(5);
    desk.event(&undo("room-1"));
    assert_eq!(desk.t(a1).state, TicketState::Called);
    assert_eq!(desk.t(a2).state, TicketState::Waiting);
    assert_eq!(desk.serving("room-1"), Some(a1));
}

#[test]
fn no_show_and_next_is_refused_in_an_idle_room_and_debounced_like_next() {
    let mut desk = Desk::new();
    desk.issue("general", Normal);
    assert_eq!(
        desk.refuse(&no_show_next("room-1")),
        DomainError::RoomIdle(room("room-1"))
    );
    desk.issue("general", Normal);
    desk.next("room-1");
    // pressed again at once: ignored, like a double "next"
    assert!(matches!(
        desk.run(&no_show_next("room-1")),
        Decision::Debounced { .. }
    ));
    // nobody else waiting: the ticket is marked and the room serves nobody
    desk.advance(10);
    desk.event(&no_show_next("room-1"));
    desk.advance(10);
    desk.event(&no_show_next("room-1"));
    assert_eq!(desk.serving("room-1"), None);
}

#[test]
fn a_call_out_of_order_calls_that_ticket_with_the_reason_in_the_event() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let a2 = desk.issue("general", Normal);
    let a3 = desk.issue("general", Normal);
    desk.next("room-1");
    desk.advance(30);
    let kind = desk.event(&call("room-1", a3, "  wheelchair, came back from X-ray "));
    let EventKind::RoomNext {
        called,
        finished,
        reason,
        passed_over,
        ..
    } = kind
    else {
        panic!("not a next: {kind:?}")
    };
    assert_eq!(called.map(|t| t.id), Some(a3));
    assert_eq!(
        finished.map(|t| (t.id, t.state)),
        Some((a1, TicketState::Done))
    );
    assert_eq!(
        reason,
        Some(PickReason::Chosen {
            class: Normal,
            note: "wheelchair, came back from X-ray".into()
        })
    );
    assert!(passed_over.is_empty());
    assert_eq!(desk.serving("room-1"), Some(a3));
    assert_eq!(desk.t(a2).state, TicketState::Waiting);
    // deliberate: a call right after a "next" is not debounced
    let a4 = desk.issue("general", Normal);
    desk.event(&call("room-1", a4, "doctor asked"));
    assert_eq!(desk.serving("room-1"), Some(a4));
}

#[test]
fn a_call_out_of_order_is_refused_without_a_reason_for_a_ticket_not_waiting_or_not_served_here() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let l1 = desk.issue("lab", Normal);
    for bad in ["", "   ", "two\nlines", &"x".repeat(201)] {
        assert_eq!(
            desk.refuse(&call("room-1", a1, bad)).code(),
            "invalid-call-reason",
            "{bad:?}"
        );
    }
    assert!(desk.try_run(&call("room-1", a1, &"é".repeat(200))).is_ok());
    // a1 is called now: not waiting
    assert_eq!(
        desk.refuse(&call("room-2", a1, "again")).code(),
        "invalid-transition"
    );
    assert_eq!(
        desk.refuse(&call("room-1", l1, "lab ticket")),
        DomainError::NotThisRoomsTicket {
            number: desk.number(l1).to_owned(),
            room: room("room-1"),
            service: service("lab"),
        }
    );
    assert_eq!(
        desk.refuse(&call("room-1", TicketId(999), "gone")),
        DomainError::TicketNotFound(TicketId(999))
    );
    assert_eq!(
        desk.refuse(&call("nowhere", l1, "x")),
        DomainError::RoomNotFound(room("nowhere"))
    );
}

#[test]
fn a_room_on_break_keeps_its_tickets_and_calls_nobody_until_it_resumes() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let a2 = desk.issue("general", Normal);
    desk.next("room-1");
    assert_eq!(
        desk.event(&pause("room-1", true)),
        EventKind::RoomPaused {
            room: room("room-1")
        }
    );
    assert!(desk.state.rooms[&room("room-1")].paused);
    assert!(
        desk.state.rooms[&room("room-1")].open,
        "a break is not a closing"
    );
    assert_eq!(desk.run(&pause("room-1", true)), Decision::Unchanged);
    desk.advance(30);
    for refused in [
        next("room-1"),
        no_show_next("room-1"),
        call("room-1", a2, "urgent"),
    ] {
        assert_eq!(
            desk.refuse(&refused),
            DomainError::RoomOnBreak(room("room-1"))
        );
    }
    // the ticket it serves can still be finished; the others keep waiting
    desk.event(&Command::RoomDone {
        room: room("room-1"),
    });
    assert_eq!(desk.t(a1).state, TicketState::Done);
    assert_eq!(desk.t(a2).state, TicketState::Waiting);
    // another room still calls
    assert_eq!(desk.next("room-2"), Some(a2));
    desk.event(&pause("room-1", false));
    assert!(!desk.state.rooms[&room("room-1")].paused);
    let a3 = desk.issue("general", Normal);
    assert_eq!(desk.next("room-1"), Some(a3));
}

#[test]
fn a_closed_room_cannot_go_on_break_and_closing_or_opening_ends_a_break() {
    let mut desk = Desk::new();
    desk.event(&pause("room-1", true));
    desk.event(&Command::SetRoomOpen {
        room: room("room-1"),
        open: false,
    });
    assert!(!desk.state.rooms[&room("room-1")].paused);
    assert_eq!(
        desk.refuse(&pause("room-1", true)),
        DomainError::RoomClosed(room("room-1"))
    );
    assert_eq!(
        desk.refuse(&pause("nowhere", true)),
        DomainError::RoomNotFound(room("nowhere"))
    );
}

#[test]
fn replaying_the_new_room_actions_gives_the_same_state() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    desk.issue("general", Urgent);
    desk.issue("general", Priority);
    desk.next("room-1");
    desk.advance(20);
    desk.event(&no_show_next("room-1"));
    desk.event(&pause("room-2", true));
    desk.advance(20);
    desk.event(&pause("room-2", false));
    desk.event(&call("room-2", a1, "asked by the doctor"));
    desk.event(&pause("room-1", true));
    let mut replayed = QueueState::new(DAY);
    for event in &desk.events {
        replayed.apply(event);
    }
    assert_eq!(replayed, desk.state);
    // and an event survives its JSON (the store keeps events as JSON)
    for event in &desk.events {
        let json = serde_json::to_string(event).unwrap();
        assert_eq!(&serde_json::from_str::<Event>(&json).unwrap(), event);
    }
}

#[test]
fn a_room_on_break_counts_for_the_wait_as_returning_not_as_free() {
    let mut desk = Desk::new();
    let a1 = desk.issue("general", Normal);
    let eta = |desk: &Desk| {
        desk.state
            .placement(desk.t(a1), &desk.policy)
            .and_then(|p| p.eta)
            .unwrap()
    };
    // first in line with a free room: "soon"
    assert_eq!((eta(&desk).low, eta(&desk).high), (0, 0));
    // both general rooms on break: still served by them (they return), but not at once
    desk.event(&pause("room-1", true));
    desk.event(&pause("room-2", true));
    assert!(eta(&desk).high > 0, "{:?}", eta(&desk));
    // a closed room does not count at all: the wait is unknown
    desk.event(&Command::SetRoomOpen {
        room: room("room-1"),
        open: false,
    });
    desk.event(&Command::SetRoomOpen {
        room: room("room-2"),
        open: false,
    });
    assert_eq!(
        desk.state.placement(desk.t(a1), &desk.policy).unwrap().eta,
        None
    );
}
