//! Rooms: the doctor's buttons (next, recall, done, no-show, no-show and next, a call out of
//! order, undo), a break, opening and closing, and the admin's room set-up with its doctors.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Actor;
use super::body::{self, NoBody};
use super::error::{ErrorBody, WebError};
use super::state::{AppState, blocking};
use super::view::{self, AdminRoom, NextResponse, RoomTicketResponse, RoomView, UndoResponse};
use crate::auth::UserView;
use crate::domain::{
    Command, DomainError, RoomChange, RoomId, ServiceId, Source, StaffOp, TicketId,
};

/// The rooms, with whom they serve and whom they would call next.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "clinic",
    responses((status = 200, body = Vec<RoomView>)))]
pub async fn rooms_list(state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let published = state.hub.read();
    let rooms: Vec<RoomView> = published
        .state
        .rooms_in_order()
        .into_iter()
        .map(|r| view::room_view(&published.state, r, state.hub.policy(), now))
        .collect();
    HttpResponse::Ok().json(rooms)
}

fn room_id(raw: &str) -> Result<RoomId, WebError> {
    Ok(RoomId::parse(raw)?)
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
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let room = room_id(&id)?;
    let command = Command::RoomNext { room: room.clone() };
    let outcome = state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(view::next_of(&state, room, &outcome)))
}

async fn room_ticket_command(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    make: fn(RoomId) -> Command,
) -> Result<HttpResponse, WebError> {
    let room = room_id(raw)?;
    let outcome = state
        .execute(make(room.clone()), actor.origin(Source::Api))
        .await?;
    let ticket = view::ticket_of(state, &outcome).await?;
    Ok(HttpResponse::Ok().json(RoomTicketResponse { room, ticket }))
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
    _body: NoBody,
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
    _body: NoBody,
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
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    room_ticket_command(&state, &actor, &id, |room| Command::RoomNoShow { room }).await
}

/// "No-show and next": marks the room's ticket as not come and calls the next one, in one
/// event (`room_next` whose `finished` ticket is `no_show`); undone like a "next". A second
/// press within the debounce window changes nothing (`debounced: true`).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/no-show-next", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = NextResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "room closed, on break, or serving nobody")))]
pub async fn room_no_show_next(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let room = room_id(&id)?;
    let command = Command::RoomNoShowNext { room: room.clone() };
    let outcome = state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(view::next_of(&state, room, &outcome)))
}

/// A call of a given waiting ticket, out of order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// The waiting ticket's id (of a service the room calls).
    #[schema(value_type = u64)]
    pub ticket: TicketId,
    /// Why it is called out of order: 1–200 characters, one line. Kept in the audit trail; the
    /// public event stream leaves it out.
    pub reason: String,
}

/// Calls a given waiting ticket into the room, out of order, saying why; finishes the room's
/// ticket (done) like "next". The event is a `room_next` with reason `{"rule": "chosen",
/// "note": ...}`.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/call", tag = "rooms",
    params(("id" = String, Path, description = "room id")), request_body = CallRequest,
    responses((status = 200, body = NextResponse),
        (status = 400, body = ErrorBody, description = "no reason, or a reason too long"),
        (status = 404, body = ErrorBody, description = "no such room or ticket"),
        (status = 409, body = ErrorBody,
            description = "room closed or on break, ticket not waiting or of another service")))]
pub async fn room_call(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: body::Json<CallRequest>,
) -> Result<HttpResponse, WebError> {
    let room = room_id(&id)?;
    let body = body.into_inner();
    let command = Command::RoomCall {
        room: room.clone(),
        ticket: body.ticket,
        reason: body.reason,
    };
    let outcome = state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(view::next_of(&state, room, &outcome)))
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
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let room = room_id(&id)?;
    let command = Command::RoomUndo { room: room.clone() };
    let outcome = state.execute(command, actor.origin(Source::Api)).await?;
    let restored = view::tickets_of(&state, &outcome).await?;
    Ok(HttpResponse::Ok().json(UndoResponse { room, restored }))
}

/// Sends a command about one room (open, close, pause, resume) and answers the room as it is
/// then.
async fn room_setting(
    state: &AppState,
    actor: &Actor,
    raw: &str,
    command: impl FnOnce(RoomId) -> Command,
) -> Result<HttpResponse, WebError> {
    let room = room_id(raw)?;
    state
        .execute(command(room.clone()), actor.origin(Source::Api))
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
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    room_setting(&state, &actor, &id, |room| Command::SetRoomOpen {
        room,
        open: true,
    })
    .await
}

/// Closes a room: it calls no more tickets (it may still finish the one it serves).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/close", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomView), (status = 404, body = ErrorBody)))]
pub async fn room_close(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    room_setting(&state, &actor, &id, |room| Command::SetRoomOpen {
        room,
        open: false,
    })
    .await
}

/// Puts an open room on break: its tickets keep waiting (other rooms of the service call
/// them), it calls nobody until it resumes ("next" and calls answer `409 room-on-break`), and
/// the displays show "On break". The ticket it serves can still be finished.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/pause", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "room closed")))]
pub async fn room_pause(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    room_setting(&state, &actor, &id, |room| Command::SetRoomPaused {
        room,
        paused: true,
    })
    .await
}

/// Ends a room's break: it calls again.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/resume", tag = "rooms",
    params(("id" = String, Path, description = "room id")),
    responses((status = 200, body = RoomView), (status = 404, body = ErrorBody)))]
pub async fn room_resume(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    room_setting(&state, &actor, &id, |room| Command::SetRoomPaused {
        room,
        paused: false,
    })
    .await
}

/// A new room.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    /// Id: 1–32 lowercase letters, digits and dashes (`room-4`).
    pub id: String,
    /// Name shown and announced.
    pub name: String,
    /// Names in other languages.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// The services whose tickets it calls.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub services: Vec<ServiceId>,
    /// Its place in lists, 0–9999 (default: after the others).
    #[serde(default)]
    pub order: Option<u32>,
}

/// Adds a room (closed: it is opened from the staff console when someone sits there).
#[utoipa::path(post, path = "/api/v1/admin/rooms", tag = "admin", request_body = NewRoom,
    responses((status = 201, body = AdminRoom), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn room_add(
    state: web::Data<AppState>,
    actor: Actor,
    body: body::Json<NewRoom>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let id = RoomId::parse(&body.id)?;
    let command = Command::AddRoom {
        room: id.clone(),
        name: body.name,
        names: body.names,
        services: body.services,
        order: body.order,
    };
    state.execute(command, actor.origin(Source::Staff)).await?;
    let room = view::admin_room_now(&state, &id).await?;
    Ok(HttpResponse::Created().json(room))
}

/// A room change, with the doctors assigned to it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RoomPatch {
    /// Name, translations and services (`None`: unchanged).
    #[serde(flatten)]
    pub room: RoomChange,
    /// The doctors (user names) who call into it; replaces the list. Each gets the room added
    /// to their rooms; doctors left out lose it.
    pub doctors: Option<Vec<String>>,
}

/// Renames a room, changes the services it calls or the doctors assigned to it.
#[utoipa::path(patch, path = "/api/v1/admin/rooms/{id}", tag = "admin",
    params(("id" = String, Path, description = "room id")), request_body = RoomPatch,
    responses((status = 200, body = AdminRoom), (status = 404, body = ErrorBody)))]
pub async fn room_patch(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: body::Json<RoomPatch>,
) -> Result<HttpResponse, WebError> {
    let id = RoomId::parse(&id)?;
    let patch = body.into_inner();
    state.hub.read().state.room(&id)?;
    let auth = state.auth.clone();
    let users = blocking(move || auth.users()).await?;
    // Every doctor is checked before anything changes.
    let doctor_ops = match &patch.doctors {
        Some(doctors) => doctor_ops(&users, doctors, &id)?,
        None => Vec::new(),
    };
    let update = Command::UpdateRoom {
        room: id.clone(),
        change: patch.room,
    };
    state.execute(update, actor.origin(Source::Staff)).await?;
    for op in doctor_ops {
        let command = Command::Staff { op };
        state.execute(command, actor.origin(Source::Staff)).await?;
    }
    Ok(HttpResponse::Ok().json(view::admin_room_now(&state, &id).await?))
}

/// The rooms changes that make `doctors` (and only them) the doctors of `room`.
fn doctor_ops(
    users: &[UserView],
    doctors: &[String],
    room: &RoomId,
) -> Result<Vec<StaffOp>, DomainError> {
    if let Some(unknown) = doctors
        .iter()
        .find(|d| !users.iter().any(|u| &u.name == *d))
    {
        return Err(DomainError::UserNotFound(unknown.clone()));
    }
    Ok(users
        .iter()
        .filter(|u| doctors.contains(&u.name) != u.rooms.contains(room))
        .map(|u| {
            let mut rooms = u.rooms.clone();
            if doctors.contains(&u.name) {
                rooms.push(room.clone());
            } else {
                rooms.retain(|r| r != room);
            }
            StaffOp::SetRooms {
                user: u.name.clone(),
                rooms,
            }
        })
        .collect())
}
