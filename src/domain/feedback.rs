//! Patients' feedback: the rules of "How was your visit?" (a score of 1–5 and an optional
//! comment, once per served ticket) and the stored comment row.
//!
//! The score, the service and the room go into the `feedback_given` event (nothing personal);
//! the comment is free text a patient wrote, so it is personal data: it lives in the feedback
//! comments' table only (see `store::tables::FEEDBACK_COMMENTS`), written in the event's
//! transaction and deleted by the retention rule with the patients' details. Whether a ticket
//! already has feedback is [`super::Ticket::feedback_given`], set when the event is applied.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DomainError, RoomId, ServiceId, TicketId, Timestamp};

/// Longest comment, in characters.
pub const FEEDBACK_COMMENT_MAX: usize = 500;

/// The lowest score.
pub const SCORE_MIN: i64 = 1;
/// The highest score.
pub const SCORE_MAX: i64 = 5;

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
