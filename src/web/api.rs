//! The JSON API under `/api/v1`: handlers turn requests into commands for the engine and
//! committed state into views. Documented by the `#[utoipa::path]` attributes (served at
//! `/api/v1/openapi.json`) and in docs/api.md.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::Actor;
use super::error::{ErrorBody, WebError};
use super::view::{self, QueueView, RoomView, TicketView};
use crate::domain::{
    Command, EventKind, Origin, PickReason, PriorityClass, RoomId, Service, ServiceId, Source,
    TicketId,
};
use crate::engine::Outcome;

/// `GET /healthz` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    pub status: String,
    /// waitless version.
    pub version: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// `ok` or the database error.
    pub database: String,
    /// Sequence number of the last event.
    pub seq: u64,
    /// The clinic day.
    pub day: String,
}

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

/// A patient's details as reception types them.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PatientInput {
    /// Name.
    pub name: String,
    /// Phone number.
    pub phone: String,
}

/// `POST /api/v1/tickets/{id}/transfer` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The target service's id.
    pub service: ServiceId,
}

/// `POST /api/v1/rooms/{id}/next` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextResponse {
    /// The room.
    pub room: RoomId,
    /// The ticket called (null: nobody waits).
    pub called: Option<TicketView>,
    /// The ticket finished (null: the room was serving nobody).
    pub finished: Option<TicketView>,
    /// Why `called` was picked.
    pub reason: Option<PickReason>,
    /// True when this press came within the debounce window of the last one and was ignored;
    /// `called` is then what the room is serving.
    pub debounced: bool,
}

/// Answer of recall, done and no-show.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomTicketResponse {
    /// The room.
    pub room: RoomId,
    /// The ticket, in its new state.
    pub ticket: TicketView,
}

/// `POST /api/v1/rooms/{id}/undo` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UndoResponse {
    /// The room.
    pub room: RoomId,
    /// The tickets as they are again.
    pub restored: Vec<TicketView>,
}

/// `POST /api/v1/tickets/{id}/transfer` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    /// The old ticket, now `transferred`.
    pub from: TicketView,
    /// The new waiting ticket (same number).
    pub to: TicketView,
}

fn room_id(raw: &str) -> Result<RoomId, WebError> {
    Ok(RoomId::parse(raw)?)
}

/// Runs a command and returns the committed event (or what happened instead).
async fn execute(state: &AppState, command: Command, origin: Origin) -> Result<Outcome, WebError> {
    Ok(state.engine.execute(command, origin).await?)
}

/// Views of the given tickets as they are now, placed in the queue.
fn views(state: &AppState, ids: &[TicketId]) -> Vec<TicketView> {
    let published = state.hub.read();
    ids.iter()
        .filter_map(|id| published.state.tickets.get(id))
        .map(|t| TicketView::placed(t, &published.state, state.hub.policy()))
        .collect()
}

pub(super) fn view_of(state: &AppState, id: TicketId) -> Result<TicketView, WebError> {
    views(state, &[id]).pop().ok_or(WebError::Domain(
        crate::domain::DomainError::TicketNotFound(id),
    ))
}

/// Health of the appliance.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let database = match web::block(move || store.check()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    let (seq, day) = {
        let p = state.hub.read();
        (p.seq, p.state.day.to_string())
    };
    let ok = database == "ok";
    let body = Health {
        status: if ok { "ok" } else { "degraded" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: state.started.elapsed().as_secs(),
        database,
        seq,
        day,
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status).json(body)
}

/// The services.
#[utoipa::path(get, path = "/api/v1/services", tag = "clinic",
    responses((status = 200, body = Vec<Service>)))]
pub async fn services_list(state: web::Data<AppState>) -> HttpResponse {
    let services: Vec<Service> = state.hub.read().state.services.values().cloned().collect();
    HttpResponse::Ok().json(services)
}

/// The rooms, with whom they serve and whom they would call next.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "clinic",
    responses((status = 200, body = Vec<RoomView>)))]
pub async fn rooms_list(state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let published = state.hub.read();
    let rooms: Vec<RoomView> = published
        .state
        .rooms
        .values()
        .map(|r| view::room_view(&published.state, r, state.hub.policy(), now))
        .collect();
    HttpResponse::Ok().json(rooms)
}

/// The whole queue, with the sequence number of the last event it includes.
#[utoipa::path(get, path = "/api/v1/queue", tag = "queue",
    responses((status = 200, body = QueueView)))]
pub async fn queue_get(state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let view = view::queue_view(&state.hub.read(), state.hub.policy(), now);
    HttpResponse::Ok().json(view)
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
    let key = match req.headers().get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| crate::domain::DomainError::InvalidIdempotencyKey)?
                .to_owned(),
        ),
        None => None,
    };
    let body = body.into_inner();
    let patient = match &body.patient {
        None => None,
        Some(input) => {
            if !actor
                .0
                .as_ref()
                .is_some_and(|p| p.can(crate::auth::Need::Reception))
            {
                return Err(match actor.0 {
                    None => WebError::LoginRequired,
                    Some(_) => WebError::Forbidden,
                });
            }
            Some(
                crate::retention::PatientDetails::new(&input.name, &input.phone, state.clock.now())
                    .map_err(|e| WebError::InvalidBody(e.to_string()))?,
            )
        }
    };
    let source = match body.source {
        IssueSource::Kiosk => Source::Kiosk,
        IssueSource::Reception => Source::Reception,
        IssueSource::Api => Source::Api,
    };
    // An anonymous kiosk: a paired screen when the clinic requires it, named as it, and held
    // to the kiosk rate limit.
    let mut origin = actor.origin(source);
    if source == Source::Kiosk && actor.0.is_none() {
        let screen = super::pair::screen_of(&state, &req);
        if super::pair::required(&state)
            && !screen
                .as_ref()
                .is_some_and(|s| s.kind == crate::auth::screen::ScreenKind::Kiosk)
        {
            return Err(WebError::ScreenNotPaired);
        }
        if let Some(screen) = screen {
            origin.actor = format!("screen:{}", screen.name);
        }
        let client = req
            .peer_addr()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        let limit = super::admin::kiosk_effective(&state).tickets_per_minute;
        // A repeat of the same Idempotency-Key is not a new ticket: not counted.
        let repeat = key
            .as_ref()
            .is_some_and(|k| state.hub.read().state.idempotency.contains_key(k));
        if !repeat && !state.issue_limit.allow(client, state.clock.now(), limit) {
            tracing::warn!(%client, "kiosk rate limit: {limit} tickets a minute");
            return Err(WebError::TooManyTickets);
        }
    }
    let command = Command::IssueTicket {
        service: body.service.clone(),
        priority: body.priority,
        idempotency_key: key,
        patient,
    };
    let (view, replayed) = match execute(&state, command, origin).await? {
        Outcome::Applied(event) => match &event.kind {
            // Placed in the queue as it is now; as issued if the day closed in between.
            EventKind::TicketIssued { ticket, .. } => (
                view_of(&state, ticket.id)
                    .unwrap_or_else(|_| TicketView::new(ticket.clone(), None)),
                false,
            ),
            _ => return Err(WebError::Internal("issue made another event".to_owned())),
        },
        Outcome::Replayed(id) => (find_ticket(&state, id).await?, true),
        other => return Err(WebError::Internal(format!("issue gave {other:?}"))),
    };
    let mut view = view;
    view.status_path = Some(state.links.path(view.ticket.id));
    // A repeat of the same request (a double tap) does not print a second ticket.
    if body.print.unwrap_or(source == Source::Kiosk) && !replayed {
        let lang = super::print::print_language(&state, body.lang.as_deref());
        let ticket = super::print::ticket_print(&state, &req, &view, &lang);
        view.print = Some(state.printer.print_ticket(&ticket));
    }
    let mut response = HttpResponse::Created();
    if replayed {
        response.insert_header(("Idempotency-Replayed", "true"));
    }
    Ok(response.json(view))
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
    let details = web::block(move || store.patient_get(id))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    match details {
        Some(details) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(details)),
        None => Err(WebError::NotFound(format!("/api/v1/tickets/{id}/patient"))),
    }
}

/// A ticket from today's queue (placed) or from the archive.
async fn find_ticket(state: &AppState, id: TicketId) -> Result<TicketView, WebError> {
    if let Ok(view) = view_of(state, id) {
        return Ok(view);
    }
    let store = state.store.clone();
    let archived = web::block(move || store.ticket(id))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    match archived {
        Some(t) => Ok(TicketView::new(t, None)),
        None => Err(crate::domain::DomainError::TicketNotFound(id).into()),
    }
}

/// A ticket: today's with its position and estimate, or one from a closed day.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = u64, Path, description = "ticket id")),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody)))]
pub async fn ticket_get(
    state: web::Data<AppState>,
    id: web::Path<u64>,
) -> Result<HttpResponse, WebError> {
    let mut view = find_ticket(&state, TicketId(id.into_inner())).await?;
    view.status_path = Some(state.links.path(view.ticket.id));
    Ok(HttpResponse::Ok().json(view))
}

async fn ticket_command(
    state: &AppState,
    actor: &Actor,
    command: Command,
) -> Result<HttpResponse, WebError> {
    match execute(state, command, actor.origin(Source::Api)).await? {
        Outcome::Applied(event) => match &event.kind {
            EventKind::TicketCancelled { ticket } | EventKind::TicketRequeued { ticket } => {
                Ok(HttpResponse::Ok().json(view_of(state, ticket.id)?))
            }
            EventKind::TicketTransferred { from, to } => {
                let mut v = views(state, &[from.id, to.id]);
                let to = v.pop();
                let from = v.pop();
                match (from, to) {
                    (Some(from), Some(to)) => {
                        Ok(HttpResponse::Ok().json(TransferResponse { from, to }))
                    }
                    _ => Err(WebError::Internal(
                        "transferred tickets vanished".to_owned(),
                    )),
                }
            }
            other => Err(WebError::Internal(format!(
                "unexpected event {}",
                other.name()
            ))),
        },
        other => Err(WebError::Internal(format!("unexpected outcome {other:?}"))),
    }
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
    ticket_command(&state, &actor, Command::TransferTicket { ticket, service }).await
}

/// "Next": finishes the room's ticket (done) and calls the next one. A second press within the
/// debounce window changes nothing and says so (`debounced: true`).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/next", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = NextResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "room closed")))]
pub async fn room_next(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let room = room_id(&id)?;
    let outcome = execute(
        &state,
        Command::RoomNext { room: room.clone() },
        actor.origin(Source::Api),
    )
    .await?;
    let response = match outcome {
        Outcome::Applied(event) => match &event.kind {
            EventKind::RoomNext {
                called,
                finished,
                reason,
                ..
            } => {
                let ids: Vec<TicketId> =
                    called.iter().chain(finished.iter()).map(|t| t.id).collect();
                let mut v = views(&state, &ids).into_iter();
                NextResponse {
                    room,
                    called: called.as_ref().and_then(|_| v.next()),
                    finished: finished.as_ref().and_then(|_| v.next()),
                    reason: reason.clone(),
                    debounced: false,
                }
            }
            other => {
                return Err(WebError::Internal(format!(
                    "unexpected event {}",
                    other.name()
                )));
            }
        },
        Outcome::Debounced { serving, .. } => NextResponse {
            room,
            called: serving.and_then(|id| views(&state, &[id]).pop()),
            finished: None,
            reason: None,
            debounced: true,
        },
        Outcome::Unchanged => NextResponse {
            room,
            called: None,
            finished: None,
            reason: None,
            debounced: false,
        },
        Outcome::Replayed(_) => return Err(WebError::Internal("next replayed".to_owned())),
    };
    Ok(HttpResponse::Ok().json(response))
}

async fn room_ticket_command(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    make: fn(RoomId) -> Command,
) -> Result<HttpResponse, WebError> {
    let room = room_id(raw)?;
    match execute(state, make(room.clone()), actor.origin(Source::Api)).await? {
        Outcome::Applied(event) => match &event.kind {
            EventKind::TicketRecalled { ticket, .. }
            | EventKind::TicketDone { ticket, .. }
            | EventKind::TicketNoShow { ticket, .. } => {
                Ok(HttpResponse::Ok().json(RoomTicketResponse {
                    room,
                    ticket: TicketView::new(ticket.clone(), None),
                }))
            }
            other => Err(WebError::Internal(format!(
                "unexpected event {}",
                other.name()
            ))),
        },
        other => Err(WebError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

/// Calls the room's ticket again (recall count + 1; the displays announce it again).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/recall", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomTicketResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "room serves nobody")))]
pub async fn room_recall(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    room_ticket_command(&state, &actor, &id, |room| Command::RoomRecall { room }).await
}

/// Finishes the room's ticket as served, without calling the next.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/done", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomTicketResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "room serves nobody")))]
pub async fn room_done(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    room_ticket_command(&state, &actor, &id, |room| Command::RoomDone { room }).await
}

/// Finishes the room's ticket as not come.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/no-show", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomTicketResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "room serves nobody")))]
pub async fn room_no_show(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    room_ticket_command(&state, &actor, &id, |room| Command::RoomNoShow { room }).await
}

/// Undoes the room's last "next" within the undo window: the called ticket waits again in its
/// old place, the finished one is served again.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/undo", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = UndoResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "nothing to undo, too late, or changed since")))]
pub async fn room_undo(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let room = room_id(&id)?;
    match execute(
        &state,
        Command::RoomUndo { room: room.clone() },
        actor.origin(Source::Api),
    )
    .await?
    {
        Outcome::Applied(event) => match &event.kind {
            EventKind::NextUndone { restored, .. } => {
                let ids: Vec<TicketId> = restored.iter().map(|t| t.id).collect();
                Ok(HttpResponse::Ok().json(UndoResponse {
                    room,
                    restored: views(&state, &ids),
                }))
            }
            other => Err(WebError::Internal(format!(
                "unexpected event {}",
                other.name()
            ))),
        },
        other => Err(WebError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

async fn room_set_open(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    open: bool,
) -> Result<HttpResponse, WebError> {
    let room = room_id(raw)?;
    execute(
        state,
        Command::SetRoomOpen {
            room: room.clone(),
            open,
        },
        actor.origin(Source::Api),
    )
    .await?;
    let now = state.clock.now();
    let published = state.hub.read();
    let r = published.state.room(&room)?;
    Ok(HttpResponse::Ok().json(view::room_view(
        &published.state,
        r,
        state.hub.policy(),
        now,
    )))
}

/// Opens a room: it calls tickets and counts for wait estimates.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/open", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomView), (status = 404, body = ErrorBody)))]
pub async fn room_open(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    room_set_open(&state, &actor, &id, true).await
}

/// Closes a room: it calls no more tickets (it may still finish the one it serves).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/close", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomView), (status = 404, body = ErrorBody)))]
pub async fn room_close(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    room_set_open(&state, &actor, &id, false).await
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn openapi_json() -> HttpResponse {
    use utoipa::OpenApi;
    HttpResponse::Ok().json(super::openapi::ApiDoc::openapi())
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
    let lang = query.lang.as_deref().unwrap_or_default();
    let unknown = || WebError::NotFound("status link".to_owned());
    let mut id = state.links.verify(&token).ok_or_else(unknown)?;
    let published = state.hub.read();
    let live = &published.state;
    // A transferred ticket continues as another: show where the patient is now.
    for _ in 0..16 {
        match live.tickets.get(&id).and_then(|t| t.transferred_to) {
            Some(next) => id = next,
            None => break,
        }
    }
    let Some(ticket) = live.tickets.get(&id) else {
        return Err(unknown());
    };
    let placement = live.placement(ticket, state.hub.policy());
    let eta = placement.and_then(|p| p.eta);
    let view = view::StatusView {
        number: ticket.number.clone(),
        service_name: live
            .services
            .get(&ticket.service)
            .map(|s| s.name_in(lang).to_owned())
            .unwrap_or_default(),
        state: ticket.state,
        position: placement.map(|p| p.position),
        eta_minutes: eta.map(|e| e.minutes),
        eta_range_minutes: eta.map(|e| [e.low, e.high]),
        room_name: ticket
            .room
            .as_ref()
            .filter(|_| ticket.state == crate::domain::TicketState::Called)
            .and_then(|r| live.rooms.get(r))
            .map(|r| r.name_in(lang).to_owned()),
        called_at: ticket.called_at,
        recall_count: ticket.recall_count,
    };
    Ok(HttpResponse::Ok().json(view))
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
    let catalog = match &query.lang {
        Some(lang) if state.catalogs.has(lang) => state.catalogs.get(lang),
        Some(lang) => {
            return Err(WebError::InvalidQuery(format!("no language {lang:?}")));
        }
        None => state.catalogs.get(
            state
                .config
                .screens
                .languages
                .first()
                .map_or("en", String::as_str),
        ),
    };
    let text = {
        let published = state.hub.read();
        let live = &published.state;
        let ticket = live.ticket(id)?;
        let room = ticket
            .room
            .as_ref()
            .and_then(|r| live.rooms.get(r))
            .ok_or_else(|| crate::domain::DomainError::InvalidTransition {
                number: ticket.number.clone(),
                state: ticket.state,
                action: "announced",
            })?;
        crate::notify::announce::announcement(
            catalog,
            query.recall,
            &ticket.number,
            room.name_in(&catalog.code),
        )
    };
    let speech = state.speech.clone();
    let voice = catalog.voice.clone();
    let wav = web::block(move || speech.render(&voice, &text))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header(("Cache-Control", "no-store"))
        .body(wav.to_vec()))
}

/// `POST /api/v1/services/{id}/close` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceCloseRequest {
    /// When it opens again (RFC 3339); the kiosk shows it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reopens_at: Option<crate::domain::Timestamp>,
}

/// `PUT /api/v1/clinic/message` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The message the displays scroll, at most 500 characters; empty removes it.
    pub message: String,
}

fn service_id(raw: &str) -> Result<ServiceId, WebError> {
    Ok(ServiceId::parse(raw)?)
}

async fn service_set_active(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    active: bool,
    reopens_at: Option<crate::domain::Timestamp>,
) -> Result<HttpResponse, WebError> {
    let service = service_id(raw)?;
    let command = Command::SetServiceActive {
        service: service.clone(),
        active,
        reopens_at,
    };
    execute(state, command, actor.origin(Source::Api)).await?;
    let published = state.hub.read();
    Ok(HttpResponse::Ok().json(published.state.service(&service)?))
}

/// Opens a service: the kiosk and reception issue its tickets again.
#[utoipa::path(post, path = "/api/v1/services/{id}/open", tag = "clinic",
    params(("id" = String, Path, description = "service id")),
    responses((status = 200, body = Service), (status = 404, body = ErrorBody)))]
pub async fn service_open(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    service_set_active(&state, &actor, &id, true, None).await
}

/// Closes a service for new tickets (its waiting tickets stay and are still called). An
/// optional body `{"reopens_at": "2026-11-22T09:00:00+05:30"}` tells the kiosk when it opens.
#[utoipa::path(post, path = "/api/v1/services/{id}/close", tag = "clinic",
    params(("id" = String, Path, description = "service id")),
    request_body(content = Option<ServiceCloseRequest>),
    responses((status = 200, body = Service), (status = 404, body = ErrorBody),
        (status = 400, body = ErrorBody)))]
pub async fn service_close(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let request: ServiceCloseRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ServiceCloseRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            if e.is_data() {
                WebError::InvalidBody(e.to_string())
            } else {
                WebError::InvalidJson(e.to_string())
            }
        })?
    };
    service_set_active(&state, &actor, &id, false, request.reopens_at).await
}

/// Sets the message the displays scroll (empty removes it).
#[utoipa::path(put, path = "/api/v1/clinic/message", tag = "clinic",
    request_body = MessageRequest,
    responses((status = 200, body = crate::domain::Clinic), (status = 400, body = ErrorBody)))]
pub async fn clinic_message_put(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<MessageRequest>,
) -> Result<HttpResponse, WebError> {
    let command = Command::SetClinicMessage {
        message: body.into_inner().message,
    };
    execute(&state, command, actor.origin(Source::Api)).await?;
    let clinic = state.hub.read().state.clinic.clone();
    Ok(HttpResponse::Ok().json(clinic))
}
