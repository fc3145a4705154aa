//! Patients' feedback over HTTP: the status page's "How was your visit?"
//! (`POST /api/v1/status/{token}/feedback`, public: whoever holds the ticket's status link).
//! The admin's list of comments is a report (`GET /api/v1/feedback`, in `reports.rs`).
//!
//! The rules (served tickets, once a ticket, within 7 days of the visit — a closed day's
//! ticket too —, score 1–5, comment length) are the queue's ([`crate::domain::feedback`]),
//! decided by the engine; this module checks the link and limits answers per client address.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Actor, client_ip};
use super::error::{ErrorBody, WebError};
use super::state::AppState;
use crate::domain::{Command, Source};

/// Answers a minute from one client address (a phone on the clinic's Wi-Fi answers once; a
/// script does not get to flood the comments' table).
pub const FEEDBACK_PER_MINUTE: u32 = 5;

/// Body of `POST /api/v1/status/{token}/feedback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// 1 (bad) to 5 (very good).
    pub score: i64,
    /// What the patient wants to say (optional; at most 500 characters).
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/v1/status/{token}/feedback` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackAnswer {
    /// The score recorded.
    pub score: i64,
    /// Whether a comment was kept.
    pub comment: bool,
}

/// A patient's answer to "How was your visit?" for the ticket of a status link: once a ticket,
/// after it was served (done), within 7 days of the visit's end (the clinic day may have
/// closed).
#[utoipa::path(post, path = "/api/v1/status/{token}/feedback", tag = "tickets",
    params(("token" = String, Path, description = "the token of the status link /t/{token}")),
    request_body = FeedbackRequest,
    responses((status = 201, body = FeedbackAnswer),
        (status = 400, body = ErrorBody, description = "`invalid-score`, `invalid-comment`, `invalid-json`"),
        (status = 404, body = ErrorBody, description = "no such link or ticket"),
        (status = 409, body = ErrorBody, description = "`feedback-too-early` (not served), `feedback-given` (answered before), `feedback-closed` (the visit ended more than 7 days ago)"),
        (status = 429, body = ErrorBody, description = "`too-many-feedbacks` from this address this minute")))]
pub async fn feedback_give(
    state: web::Data<AppState>,
    req: HttpRequest,
    actor: Actor,
    token: web::Path<String>,
    body: web::Json<FeedbackRequest>,
) -> Result<HttpResponse, WebError> {
    let client = client_ip(&req);
    if !state
        .feedback_limit
        .allow(client, state.clock.now(), FEEDBACK_PER_MINUTE)
    {
        tracing::warn!(%client, "feedback rate limit: {FEEDBACK_PER_MINUTE} a minute");
        return Err(WebError::TooManyFeedbacks);
    }
    let ticket = state
        .links
        .verify(&token)
        .ok_or_else(|| WebError::NotFound("status link".to_owned()))?;
    let body = body.into_inner();
    let command = Command::GiveFeedback {
        ticket,
        score: body.score,
        comment: body.comment.clone(),
    };
    // The address of a patient's phone stays out of the event log (it cannot be deleted).
    let origin = actor.origin(Source::Api).from_address(None);
    state.execute(command, origin).await?;
    let comment = body.comment.is_some_and(|c| !c.trim().is_empty());
    Ok(HttpResponse::Created().json(FeedbackAnswer {
        score: body.score,
        comment,
    }))
}
