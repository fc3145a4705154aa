//! Patients' feedback: the rules of "How was your visit?" (a score of 1–5 and an optional
//! comment, once per served ticket, within [`FEEDBACK_WINDOW`] of the visit's end) and the
//! stored comment row.
//!
//! The same rule ([`decide`]) holds for a ticket of today (in the queue) and for one of a closed
//! day (in the archive, read by the engine): a patient served at 17:55 may answer the next
//! morning. For a closed day's ticket the engine writes the archived ticket again with
//! [`super::Ticket::feedback_given`] set, and the store updates the visit already folded for
//! the reports, in the event's transaction.
//!
//! The score, the service and the room go into the `feedback_given` event (nothing personal);
//! the comment is free text a patient wrote, so it is personal data: it lives in the feedback
//! comments' table only (see `store::tables::FEEDBACK_COMMENTS`), written in the event's
//! transaction and deleted by the retention rule with the patients' details. Whether a ticket
//! already has feedback is [`super::Ticket::feedback_given`], set when the event is applied.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DomainError, EventKind, RoomId, ServiceId, Ticket, TicketId, TicketState, Timestamp};

/// Longest comment, in characters.
pub const FEEDBACK_COMMENT_MAX: usize = 500;

/// The lowest score.
pub const SCORE_MIN: i64 = 1;
/// The highest score.
pub const SCORE_MAX: i64 = 5;

/// How long after the end of a visit its patient may still answer: 7 days (168 hours). A fixed
/// rule: long enough for a patient who opens the status link at home days later, short enough
/// that the answer is still about that visit.
pub const FEEDBACK_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// Whether `ticket`'s patient may answer at `now`: it was served (`done`), it has no answer
/// yet, and its visit ended at most [`FEEDBACK_WINDOW`] ago. (`ticket` is where the patient
/// ended up: after a transfer, the ticket it became.)
pub fn check_open(ticket: &Ticket, now: Timestamp) -> Result<(), DomainError> {
    if ticket.state != TicketState::Done {
        return Err(DomainError::FeedbackTooEarly(ticket.number.clone()));
    }
    if ticket.feedback_given {
        return Err(DomainError::FeedbackGiven(ticket.number.clone()));
    }
    if !in_window(ticket, now) {
        return Err(DomainError::FeedbackClosed(ticket.number.clone()));
    }
    Ok(())
}

/// Whether `ticket` ended (or, still open, was issued) at most [`FEEDBACK_WINDOW`] before
/// `now`.
pub fn in_window(ticket: &Ticket, now: Timestamp) -> bool {
    let ended = ticket.finished_at.unwrap_or(ticket.created_at);
    ended
        .checked_add(FEEDBACK_WINDOW)
        .map_or(true, |end| now <= end)
}

/// A score and a comment, checked (see [`check_score`] and [`clean_comment`]): the score.
pub fn check_answer(score: i64, comment: Option<&str>) -> Result<u8, DomainError> {
    let score = check_score(score)?;
    clean_comment(comment)?;
    Ok(score)
}

/// The `feedback_given` event of a checked `score` for `ticket` at `now` ([`check_open`]).
pub fn decide(ticket: &Ticket, score: u8, now: Timestamp) -> Result<EventKind, DomainError> {
    check_open(ticket, now)?;
    Ok(EventKind::FeedbackGiven {
        ticket: ticket.id,
        score,
        service: ticket.service.clone(),
        room: ticket.room.clone(),
    })
}

/// A score, checked: 1 to 5.
pub fn check_score(score: i64) -> Result<u8, DomainError> {
    if (SCORE_MIN..=SCORE_MAX).contains(&score) {
        u8::try_from(score).map_err(|_| DomainError::InvalidScore(score))
    } else {
        Err(DomainError::InvalidScore(score))
    }
}

/// A comment, checked and trimmed: `None` when absent or blank; at most
/// [`FEEDBACK_COMMENT_MAX`] characters; no control characters except line breaks (`\r\n`
/// becomes `\n`) and tabs.
pub fn clean_comment(comment: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(text) = comment
        .map(|c| c.trim().replace("\r\n", "\n"))
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let length = text.chars().count();
    if length > FEEDBACK_COMMENT_MAX {
        return Err(DomainError::InvalidComment(format!(
            "at most {FEEDBACK_COMMENT_MAX} characters, not {length}"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(DomainError::InvalidComment(
            "it holds control characters".to_owned(),
        ));
    }
    Ok(Some(text))
}

/// A patient's comment as stored (personal data: deleted by the retention rule), with what the
/// `feedback_given` event said, so the admin's list needs no replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeedbackComment {
    /// The ticket.
    pub ticket: TicketId,
    /// Its number (`A001`).
    pub number: String,
    /// 1 to 5.
    pub score: u8,
    /// The service it was served in.
    pub service: ServiceId,
    /// The room that served it.
    pub room: Option<RoomId>,
    /// What the patient wrote.
    pub comment: String,
    /// When (the retention rule counts from this).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_one_to_five() {
        for ok in 1..=5 {
            assert_eq!(check_score(ok).unwrap(), u8::try_from(ok).unwrap());
        }
        for bad in [i64::MIN, -1, 0, 6, 255, 256, i64::MAX] {
            assert_eq!(check_score(bad), Err(DomainError::InvalidScore(bad)));
        }
    }

    fn served(finished: &str) -> Ticket {
        let at: Timestamp = finished.parse().unwrap();
        Ticket {
            id: TicketId(7),
            number: "A007".to_owned(),
            ordinal: 7,
            service: ServiceId::parse("general").unwrap(),
            priority: crate::domain::PriorityClass::Normal,
            state: TicketState::Done,
            day: at.to_zoned(jiff::tz::TimeZone::UTC).date(),
            created_at: at,
            queued_at: at,
            called_at: Some(at),
            finished_at: Some(at),
            room: Some(RoomId::parse("room-1").unwrap()),
            recall_count: 0,
            passed_over: 0,
            requeue_count: 0,
            transferred_from: None,
            transferred_to: None,
            cancel_reason: None,
            source: crate::domain::Source::Kiosk,
            feedback_given: false,
        }
    }

    #[test]
    fn an_answer_is_open_for_seven_days_after_the_visit() {
        let ticket = served("2026-11-21T17:55:00Z");
        let given = Ticket {
            feedback_given: true,
            ..ticket.clone()
        };
        let cancelled = Ticket {
            state: TicketState::Cancelled,
            ..ticket.clone()
        };
        let no_show = Ticket {
            state: TicketState::NoShow,
            ..ticket.clone()
        };
        let called = Ticket {
            state: TicketState::Called,
            finished_at: None,
            ..ticket.clone()
        };
        let number = || "A007".to_owned();
        for (t, now, expected) in [
            (&ticket, "2026-11-21T17:56:00Z", Ok(())),
            (&ticket, "2026-11-22T09:00:00Z", Ok(())),
            (&ticket, "2026-11-28T17:55:00Z", Ok(())),
            (
                &ticket,
                "2026-11-28T17:55:00.001Z",
                Err(DomainError::FeedbackClosed(number())),
            ),
            (
                &ticket,
                "2027-01-01T00:00:00Z",
                Err(DomainError::FeedbackClosed(number())),
            ),
            (
                &given,
                "2026-11-22T09:00:00Z",
                Err(DomainError::FeedbackGiven(number())),
            ),
            (
                &cancelled,
                "2026-11-22T09:00:00Z",
                Err(DomainError::FeedbackTooEarly(number())),
            ),
            (
                &no_show,
                "2026-11-22T09:00:00Z",
                Err(DomainError::FeedbackTooEarly(number())),
            ),
            (
                &called,
                "2026-11-21T18:00:00Z",
                Err(DomainError::FeedbackTooEarly(number())),
            ),
        ] {
            let now: Timestamp = now.parse().unwrap();
            assert_eq!(check_open(t, now), expected, "{:?} at {now}", t.state);
            match expected {
                Ok(()) => assert_eq!(
                    decide(t, 4, now).unwrap(),
                    EventKind::FeedbackGiven {
                        ticket: TicketId(7),
                        score: 4,
                        service: t.service.clone(),
                        room: t.room.clone(),
                    }
                ),
                Err(e) => assert_eq!(decide(t, 4, now), Err(e)),
            }
        }
    }

    #[test]
    fn comments_are_trimmed_short_and_printable() {
        assert_eq!(clean_comment(None).unwrap(), None);
        assert_eq!(clean_comment(Some("  \n ")).unwrap(), None);
        assert_eq!(
            clean_comment(Some(" बहुत अच्छा\r\nthanks ")).unwrap(),
            Some("बहुत अच्छा\nthanks".to_owned())
        );
        let longest = "अ".repeat(FEEDBACK_COMMENT_MAX);
        assert_eq!(
            clean_comment(Some(&longest)).unwrap(),
            Some(longest.clone())
        );
        let too_long = format!("{longest}x");
        assert!(matches!(
            clean_comment(Some(&too_long)),
            Err(DomainError::InvalidComment(_))
        ));
        for bad in ["a\u{0}b", "bell\u{7}", "esc\u{1b}[2J", "del\u{7f}"] {
            assert!(
                matches!(
                    clean_comment(Some(bad)),
                    Err(DomainError::InvalidComment(_))
                ),
                "{bad:?}"
            );
        }
    }
}
