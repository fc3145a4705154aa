//! Tickets: issue (the kiosk, reception, other systems), look up, cancel, requeue, transfer,
//! the spoken announcement of a call, a patient's status link and the details reception
//! recorded.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Actor, issuer};
use super::body::{NoBody, PatientInput};
use super::error::{ErrorBody, WebError};
use super::state::AppState;
use super::view::{self, TicketView, TransferResponse, find_ticket};
use crate::auth::Need;
use crate::domain::{Command, DomainError, PriorityClass, ServiceId, Source, TicketId};
use crate::engine::Outcome;
use crate::retention::PatientDetails;

/// Who issues a ticket (recorded in the audit trail).
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssueSource {
    /// The kiosk.
    Kiosk,
    /// Reception.
    Reception,
    /// Another system.
    #[default]
    Api,
}

/// `POST /api/v1/tickets` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueTicketRequest {
    /// The service's id.
    pub service: ServiceId,
    /// The class; `normal` when absent.
    #[serde(default)]
    pub priority: PriorityClass,
    /// What issues it; `api` when absent.
    #[serde(default)]
    pub source: IssueSource,
    /// Print the ticket; by default only tickets issued by the kiosk are printed.
    #[serde(default)]
    pub print: Option<bool>,
    /// The language to print it in (`en`, `hi`); the first kiosk language when absent.
    #[serde(default)]
    pub lang: Option<String>,
    /// The patient's name and phone (reception, e.g. a phone booking): staff see them, they
    /// are never on a screen or in the event log, and are deleted after
    /// `store.patient_details_days`. Needs a reception login or token.
    #[serde(default)]
    pub patient: Option<PatientInput>,
}

/// `POST /api/v1/tickets/{id}/transfer` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The target service's id.
    pub service: ServiceId,
}

/// Issues a ticket. With an `Idempotency-Key` header, a repeat of the same key within the
/// idempotency window returns the ticket issued the first time (header `Idempotency-Replayed:
/// true`) instead of a new one.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets",
    request_body = IssueTicketRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–128 visible ASCII characters")),
    responses(
        (status = 201, body = TicketView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "service closed")))]
pub async fn ticket_create(
    state: web::Data<AppState>,
    actor: Actor,
    req: HttpRequest,
    body: web::Json<IssueTicketRequest>,
) -> Result<HttpResponse, WebError> {
    let key = idempotency_key(&req)?;
    let body = body.into_inner();
    view::check_language(&state, body.lang.as_deref())?;
    let patient = patient_details(&state, &actor, body.patient.as_ref())?;
    let source = body.source.into();
    let origin = issuer(&state, &req, &actor, source, key.as_deref())?;
    let command = Command::IssueTicket {
        service: body.service,
        priority: body.priority,
        idempotency_key: key,
        patient,
    };
    let outcome = state.execute(command, origin).await?;
    // A repeat of the same request (a double tap) is answered, not printed again.
    let replayed = matches!(outcome, Outcome::Replayed(_));
    let mut view = view::ticket_of(&state, &outcome).await?;
    view.status_path = Some(state.links.path(view.ticket.id));
    if body.print.unwrap_or(source == Source::Kiosk) && !replayed {
        let lang = view::print_language(&state, body.lang.as_deref())?;
        let ticket = view::ticket_print(&state, &req, &view, &lang);
        view.print = Some(state.printer.print_ticket(&ticket));
    }
    let mut response = HttpResponse::Created();
    if replayed {
        response.insert_header(("Idempotency-Replayed", "true"));
    }
    Ok(response.json(view))
}

/// The request's `Idempotency-Key`, if any.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, WebError> {
    match req.headers().get("idempotency-key") {
        Some(v) => Ok(Some(
            v.to_str()
                .map_err(|_| DomainError::InvalidIdempotencyKey)?
                .to_owned(),
        )),
        None => Ok(None),
    }
}

/// The patient's details a ticket request carries, checked: only reception may record them.
fn patient_details(
    state: &AppState,
    actor: &Actor,
    input: Option<&PatientInput>,
) -> Result<Option<PatientDetails>, WebError> {
    let Some(input) = input else {
        return Ok(None);
    };
    match &actor.0 {
        None => return Err(WebError::LoginRequired),
        Some(p) if !p.can(Need::Reception) => return Err(WebError::Forbidden),
        Some(_) => {}
    }
    let mut details = PatientDetails::new(&input.name, &input.phone, state.clock.now())
        .map_err(|e| WebError::InvalidBody(e.to_string()))?;
    details
        .set_contact(&input.email, &input.language, |code| {
            state.config.screens.languages.iter().any(|l| l == code)
        })
        .map_err(|e| WebError::InvalidBody(e.to_string()))?;
    details.messages = input.messages.unwrap_or(true);
    Ok(Some(details))
}

impl From<IssueSource> for Source {
    fn from(source: IssueSource) -> Self {
        match source {
            IssueSource::Kiosk => Source::Kiosk,
            IssueSource::Reception => Source::Reception,
            IssueSource::Api => Source::Api,
        }
    }
}

/// The patient details reception recorded with a ticket (404 when none, or deleted after the
/// retention period).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/patient", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = crate::retention::PatientDetails),
        (status = 404, body = ErrorBody)))]
pub async fn ticket_patient(
    state: web::Data<AppState>,
    id: web::Path<u64>,
) -> Result<HttpResponse, WebError> {
    let id = TicketId(id.into_inner());
    let store = std::sync::Arc::clone(&state.store);
    let details = web::block(move || store.patient_get(id)).await??;
    match details {
        Some(details) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(details)),
        None => Err(WebError::NotFound(format!("/api/v1/tickets/{id}/patient"))),
    }
}

/// A ticket: today's with its position and estimate, or one from a closed day. Staff (a login
/// or an API token) also get its `status_path`; anyone else gets what the waiting-room screen
/// shows, without the status link (whose code only the issuer and staff know).
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody)))]
pub async fn ticket_get(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
) -> Result<HttpResponse, WebError> {
    let mut view = find_ticket(&state, TicketId(id.into_inner())).await?;
    if actor.works_queue() {
        view.status_path = Some(state.links.path(view.ticket.id));
    }
    Ok(HttpResponse::Ok().json(view))
}

async fn ticket_command(
    state: &AppState,
    actor: &Actor,
    command: Command,
) -> Result<HttpResponse, WebError> {
    let outcome = state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(view::ticket_of(state, &outcome).await?))
}

/// Cancels a waiting or called ticket.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/cancel", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "not waiting or called")))]
pub async fn ticket_cancel(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let ticket = TicketId(id.into_inner());
    ticket_command(&state, &actor, Command::CancelTicket { ticket }).await
}

/// Puts a called, no-show or cancelled ticket back at the end of its queue (same number).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/requeue", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn ticket_requeue(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let ticket = TicketId(id.into_inner());
    ticket_command(&state, &actor, Command::RequeueTicket { ticket }).await
}

/// Moves a waiting or called ticket to another service's queue, keeping its number.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/transfer", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    request_body = TransferRequest,
    responses((status = 200, body = TransferResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn ticket_transfer(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
    body: web::Json<TransferRequest>,
) -> Result<HttpResponse, WebError> {
    let ticket = TicketId(id.into_inner());
    let service = body.into_inner().service;
    let command = Command::TransferTicket { ticket, service };
    let outcome = state.execute(command, actor.origin(Source::Api)).await?;
    let (from, to) = view::transfer_of(&state, &outcome).await?;
    Ok(HttpResponse::Ok().json(TransferResponse { from, to }))
}

/// A patient's ticket by the token of its status link, following transfers: only what the
/// status page shows.
#[utoipa::path(get, path = "/api/v1/status/{token}", tag = "tickets",
    params(("token" = String, Path, description = "the token of the status link /t/{token}"),
        ("lang" = Option<String>, Query, description = "language of the service and room names")),
    responses((status = 200, body = view::StatusView), (status = 404, body = ErrorBody)))]
pub async fn status_get(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<LangQuery>,
) -> Result<HttpResponse, WebError> {
    view::check_language(&state, query.lang.as_deref())?;
    let lang = query.lang.as_deref().unwrap_or_default();
    let id = state
        .links
        .verify(&token)
        .ok_or_else(|| WebError::NotFound("status link".to_owned()))?;
    view::status_view(&state, id, lang)
        .await?
        .map(|view| HttpResponse::Ok().json(view))
        .ok_or_else(|| WebError::NotFound("status link".to_owned()))
}

/// `?lang=`.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    /// Language code.
    pub lang: Option<String>,
}

/// `?lang=` and `?recall=` of an announcement.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementQuery {
    /// Language code; the first configured language when absent.
    pub lang: Option<String>,
    /// The words of a recall ("again").
    #[serde(default)]
    pub recall: bool,
}

/// The spoken announcement of a ticket's call, as WAV (espeak-ng), in one language:
/// "Token A 42, please go to Room 2". `503 speech-unavailable` without espeak-ng.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/announcement", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id"), AnnouncementQuery),
    responses((status = 200, content_type = "audio/wav", description = "the announcement"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not called"),
        (status = 503, body = ErrorBody)))]
pub async fn ticket_announcement(
    state: web::Data<AppState>,
    id: web::Path<u64>,
    query: web::Query<AnnouncementQuery>,
) -> Result<HttpResponse, WebError> {
    let id = TicketId(id.into_inner());
    let (text, voice) = view::announcement_of(&state, id, query.lang.as_deref(), query.recall)?;
    let speech = state.speech.clone();
    let wav = web::block(move || speech.render(&voice, &text)).await??;
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header(("Cache-Control", "no-store"))
        .body(wav.to_vec()))
}
