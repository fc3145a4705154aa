//! "How was your visit?": once per served ticket of today, score 1–5, a short printable comment.

use super::*;

fn feedback(ticket: TicketId, score: i64, comment: Option<&str>) -> Command {
    Command::GiveFeedback {
        ticket,
        score,
        comment: comment.map(str::to_owned),
    }
}

/// A desk with one ticket served (done) in room 1, and one still waiting.
fn served() -> (Desk, TicketId, TicketId) {
    let mut desk = Desk::new();
    let a = desk.issue("general", Normal);
    let b = desk.issue("general", Normal);
    assert_eq!(desk.next("room-1"), Some(a));
    desk.advance(120);
    desk.event(&Command::RoomDone {
        room: room("room-1"),
    });
    (desk, a, b)
}

#[test]
fn a_served_ticket_takes_one_feedback_with_its_service_and_room() {
    let (mut desk, a, _) = served();
    let kind = desk.event(&feedback(a, 4, Some("Kind doctor")));
    assert_eq!(
        kind,
        EventKind::FeedbackGiven {
            ticket: a,
            score: 4,
            service: service("general"),
            room: Some(room("room-1")),
        }
    );
    assert!(desk.t(a).feedback_given);
    let number = desk.number(a).to_owned();
    assert_eq!(
        desk.refuse(&feedback(a, 5, None)),
        DomainError::FeedbackGiven(number)
    );
}

#[test]
fn feedback_waits_for_the_visit_to_end() {
    let (mut desk, a, b) = served();
    let waiting = desk.number(b).to_owned();
    assert_eq!(
        desk.refuse(&feedback(b, 3, None)),
        DomainError::FeedbackTooEarly(waiting.clone())
    );
    desk.advance(5);
    assert_eq!(desk.next("room-1"), Some(b));
    assert_eq!(
        desk.refuse(&feedback(b, 3, None)),
        DomainError::FeedbackTooEarly(waiting),
        "called is not served yet"
    );
    assert_eq!(
        desk.refuse(&feedback(TicketId(99), 3, None)),
        DomainError::TicketNotFound(TicketId(99))
    );
    // The served one still can.
    desk.event(&feedback(a, 1, None));
}

#[test]
fn bad_scores_and_comments_are_refused_before_anything_else() {
    let (mut desk, a, _) = served();
    for score in [0, 6, -1, i64::MAX] {
        assert_eq!(
            desk.refuse(&feedback(a, score, None)),
            DomainError::InvalidScore(score)
        );
    }
    let long = "x".repeat(crate::domain::FEEDBACK_COMMENT_MAX + 1);
    for comment in [long.as_str(), "bell\u{7}"] {
        assert!(matches!(
            desk.refuse(&feedback(a, 5, Some(comment))),
            DomainError::InvalidComment(_)
        ));
    }
    assert!(!desk.t(a).feedback_given);
    desk.event(&feedback(a, 5, Some(" \n ")));
}

#[test]
fn a_transferred_patient_rates_the_visit_where_it_ended() {
    let mut desk = Desk::new();
    let a = desk.issue("general", Normal);
    let moved = match desk.event(&Command::TransferTicket {
        ticket: a,
        service: service("lab"),
    }) {
        EventKind::TicketTransferred { to, .. } => to.id,
        other => panic!("{other:?}"),
    };
    assert_eq!(desk.next("lab"), Some(moved));
    desk.advance(60);
    desk.event(&Command::RoomDone { room: room("lab") });
    let kind = desk.event(&feedback(a, 5, None));
    assert!(matches!(
        kind,
        EventKind::FeedbackGiven { ticket, ref service, .. } if ticket == moved && *service == crate::domain::ServiceId::parse("lab").unwrap()
    ));
}

#[test]
fn an_undo_does_not_take_back_a_rated_visit() {
    let mut desk = Desk::new();
    let a = desk.issue("general", Normal);
    let b = desk.issue("general", Normal);
    assert_eq!(desk.next("room-1"), Some(a));
    desk.advance(30);
    assert_eq!(desk.next("room-1"), Some(b));
    desk.event(&feedback(a, 2, None));
    assert_eq!(
        desk.refuse(&undo("room-1")),
        DomainError::UndoConflict(room("room-1"))
    );
}

/// The queue forgets a closed day's tickets: the engine answers for them from the archive
/// (`engine::archived_ticket`, with the same rule, `feedback::decide`).
#[test]
fn a_closed_days_ticket_is_not_the_queues_to_rate() {
    let (mut desk, a, _) = served();
    desk.close_day(DAY.tomorrow().unwrap());
    assert_eq!(
        desk.refuse(&feedback(a, 5, None)),
        DomainError::TicketNotFound(a)
    );
}
