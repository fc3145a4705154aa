//! The admin API behind the `/admin` pages: services and rooms, the clinic's name and kiosk
//! settings, staff users and API tokens, and a user's own password.
//!
//! Queue set-up changes are commands (events through the engine, like any other). Users and
//! tokens live in the auth tables; each change to them is made there and then recorded as a
//! [`StaffChange`] event, so the audit trail shows who changed whom. No answer ever contains a
//! password or a token secret, except the one answer that creates a token.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::Actor;
use super::error::{ErrorBody, WebError};
use crate::auth::{AuthError, Role, TokenView, UserView};
use crate::domain::{
    Clinic, ClinicChange, Command, DomainError, RoomChange, RoomId, Service, ServiceChange,
    ServiceId, Source, StaffOp,
};

/// Kiosk settings as the kiosk uses them: the admin's, else the configuration file's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct KioskEffective {
    /// Ask whether the patient needs priority.
    pub priority: bool,
    /// Back to the start after showing a ticket, seconds.
    pub reset_secs: u64,
    /// Tickets a minute from one kiosk without a login; 0: no limit.
    pub tickets_per_minute: u32,
}

/// The kiosk settings in force now.
pub fn kiosk_effective(state: &AppState) -> KioskEffective {
    let set = state.hub.read().state.clinic.kiosk.clone();
    let file = &state.config.screens;
    KioskEffective {
        priority: set.priority.unwrap_or(file.kiosk_priority),
        reset_secs: set.reset_secs.map_or(file.kiosk_reset_secs, u64::from),
        tickets_per_minute: set
            .tickets_per_minute
            .unwrap_or(file.kiosk_tickets_per_minute),
    }
}

/// A room as the admin page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRoom {
    /// Id.
    #[schema(value_type = String)]
    pub id: RoomId,
    /// Name.
    pub name: String,
    /// Names in other languages.
    pub names: BTreeMap<String, String>,
    /// The services it calls.
    #[schema(value_type = Vec<String>)]
    pub services: Vec<ServiceId>,
    /// Whether it is open.
    pub open: bool,
    /// The doctors assigned to it (user names).
    pub doctors: Vec<String>,
}

/// `GET /api/v1/admin/clinic` answer: everything the admin pages edit.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminClinic {
    /// The clinic's settings as stored.
    pub clinic: Clinic,
    /// The kiosk settings in force (stored, else the configuration file's).
    pub kiosk: KioskEffective,
    /// The configuration file's kiosk settings (what "use the default" gives).
    pub kiosk_defaults: KioskEffective,
    /// Every service.
    pub services: Vec<Service>,
    /// Every room, with its doctors.
    pub rooms: Vec<AdminRoom>,
    /// The languages screens offer (codes), for translated names.
    pub languages: Vec<String>,
}

/// Runs a blocking auth call off the async workers.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, WebError> {
    Ok(web::block(work)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??)
}

/// Makes a staff change as `actor`: the engine commits it with its audit record.
async fn change(state: &AppState, actor: &Actor, op: StaffOp) -> Result<(), WebError> {
    execute(state, actor, Command::Staff { op }).await
}

/// A user as they are now.
async fn user_view(state: &AppState, name: String) -> Result<UserView, WebError> {
    let auth = state.auth.clone();
    blocking(move || auth.user(&name))
        .await?
        .ok_or_else(|| WebError::Internal("the user disappeared".to_owned()))
}

async fn execute(state: &AppState, actor: &Actor, command: Command) -> Result<(), WebError> {
    state
        .engine
        .execute(command, actor.origin(Source::Staff))
        .await?;
    Ok(())
}

/// Everything the admin pages edit.
#[utoipa::path(get, path = "/api/v1/admin/clinic", tag = "admin",
    responses((status = 200, body = AdminClinic), (status = 403, body = ErrorBody)))]
pub async fn admin_clinic(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let auth = state.auth.clone();
    let users = blocking(move || auth.users()).await?;
    let file = &state.config.screens;
    let kiosk_defaults = KioskEffective {
        priority: file.kiosk_priority,
        reset_secs: file.kiosk_reset_secs,
        tickets_per_minute: file.kiosk_tickets_per_minute,
    };
    let kiosk = kiosk_effective(&state);
    let published = state.hub.read();
    let queue = &published.state;
    let rooms = queue
        .rooms
        .values()
        .map(|r| AdminRoom {
            id: r.id.clone(),
            name: r.name.clone(),
            names: r.names.clone(),
            services: r.services.clone(),
            open: r.open,
            doctors: users
                .iter()
                .filter(|u| !u.disabled && u.rooms.contains(&r.id))
                .map(|u| u.name.clone())
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AdminClinic {
        clinic: queue.clinic.clone(),
        kiosk,
        kiosk_defaults,
        services: queue.services.values().cloned().collect(),
        rooms,
        languages: state.config.screens.languages.clone(),
    }))
}

/// Changes the clinic's name, kiosk settings or whether screens must be paired.
#[utoipa::path(patch, path = "/api/v1/admin/clinic", tag = "admin", request_body = ClinicChange,
    responses((status = 200, body = Clinic), (status = 400, body = ErrorBody)))]
pub async fn admin_clinic_patch(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<ClinicChange>,
) -> Result<HttpResponse, WebError> {
    let change = body.into_inner();
    execute(&state, &actor, Command::SetClinicSettings { change }).await?;
    Ok(HttpResponse::Ok().json(state.hub.read().state.clinic.clone()))
}

/// A new service.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewService {
    /// Id: 1–32 lowercase letters, digits and dashes (`dental`).
    pub id: String,
    /// Name shown on the kiosk.
    pub name: String,
    /// Token prefix, 1–3 uppercase letters, not used by another service.
    pub prefix: String,
    /// Keep waiting tickets across the day close.
    #[serde(default)]
    pub carry_over: bool,
    /// Names in other languages.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
}

/// Adds a service (open at once; give it to a room so that it gets called).
#[utoipa::path(post, path = "/api/v1/admin/services", tag = "admin", request_body = NewService,
    responses((status = 201, body = Service), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the id or prefix is taken")))]
pub async fn service_add(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<NewService>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let id = ServiceId::parse(&body.id)?;
    let command = Command::AddService {
        service: id.clone(),
        name: body.name,
        prefix: body.prefix,
        carry_over: body.carry_over,
        names: body.names,
    };
    execute(&state, &actor, command).await?;
    let service = state.hub.read().state.service(&id)?.clone();
    Ok(HttpResponse::Created().json(service))
}

/// Renames a service, changes its prefix, carry-over or translated names.
#[utoipa::path(patch, path = "/api/v1/admin/services/{id}", tag = "admin",
    params(("id" = String, Path, description = "service id")), request_body = ServiceChange,
    responses((status = 200, body = Service), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn service_patch(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: web::Json<ServiceChange>,
) -> Result<HttpResponse, WebError> {
    let id = ServiceId::parse(&id)?;
    let command = Command::UpdateService {
        service: id.clone(),
        change: body.into_inner(),
    };
    execute(&state, &actor, command).await?;
    let service = state.hub.read().state.service(&id)?.clone();
    Ok(HttpResponse::Ok().json(service))
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
}

/// Adds a room (closed: it is opened from the staff console when someone sits there).
#[utoipa::path(post, path = "/api/v1/admin/rooms", tag = "admin", request_body = NewRoom,
    responses((status = 201, body = AdminRoom), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn room_add(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<NewRoom>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let id = RoomId::parse(&body.id)?;
    let command = Command::AddRoom {
        room: id.clone(),
        name: body.name,
        names: body.names,
        services: body.services,
    };
    execute(&state, &actor, command).await?;
    let room = admin_room(&state, &id, Vec::new())?;
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
    body: web::Json<RoomPatch>,
) -> Result<HttpResponse, WebError> {
    let id = RoomId::parse(&id)?;
    let patch = body.into_inner();
    state.hub.read().state.room(&id)?;
    let users = {
        let auth = state.auth.clone();
        blocking(move || auth.users()).await?
    };
    // Check every doctor before changing anything.
    if let Some(doctors) = &patch.doctors {
        for name in doctors {
            if !users.iter().any(|u| &u.name == name) {
                return Err(DomainError::UserNotFound(name.clone()).into());
            }
        }
    }
    execute(
        &state,
        &actor,
        Command::UpdateRoom {
            room: id.clone(),
            change: patch.room,
        },
    )
    .await?;
    if let Some(doctors) = &patch.doctors {
        for user in &users {
            let wanted = doctors.contains(&user.name);
            let has = user.rooms.contains(&id);
            if wanted == has {
                continue;
            }
            let mut rooms = user.rooms.clone();
            if wanted {
                rooms.push(id.clone());
            } else {
                rooms.retain(|r| r != &id);
            }
            set_rooms(&state, &actor, &user.name, rooms).await?;
        }
    }
    let doctors = {
        let auth = state.auth.clone();
        blocking(move || auth.users()).await?
    }
    .into_iter()
    .filter(|u| !u.disabled && u.rooms.contains(&id))
    .map(|u| u.name)
    .collect();
    Ok(HttpResponse::Ok().json(admin_room(&state, &id, doctors)?))
}

fn admin_room(state: &AppState, id: &RoomId, doctors: Vec<String>) -> Result<AdminRoom, WebError> {
    let published = state.hub.read();
    let r = published.state.room(id)?;
    Ok(AdminRoom {
        id: r.id.clone(),
        name: r.name.clone(),
        names: r.names.clone(),
        services: r.services.clone(),
        open: r.open,
        doctors,
    })
}

async fn set_rooms(
    state: &AppState,
    actor: &Actor,
    name: &str,
    rooms: Vec<RoomId>,
) -> Result<UserView, WebError> {
    let user = name.to_owned();
    change(state, actor, StaffOp::SetRooms { user, rooms }).await?;
    user_view(state, name.to_owned()).await
}

/// Every staff user (never their password hashes).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses((status = 200, body = Vec<UserView>)))]
pub async fn users_list(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let auth = state.auth.clone();
    Ok(HttpResponse::Ok().json(blocking(move || auth.users()).await?))
}

/// A new staff user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: lowercase letters, digits, `-`, `.`, `_`.
    pub name: String,
    /// First password (at least 10 characters); the user can change it.
    pub password: String,
    /// Roles.
    pub roles: BTreeSet<Role>,
    /// Rooms (for doctors).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub rooms: Vec<RoomId>,
}

/// Adds a staff user.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn user_add(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    check_rooms(&state, &body.rooms)?;
    let name = body.name.clone();
    let auth = state.auth.clone();
    let user =
        blocking(move || auth.prepare_user(&body.name, &body.password, body.roles, body.rooms))
            .await?;
    change(&state, &actor, StaffOp::AddUser { user }).await?;
    Ok(HttpResponse::Created().json(user_view(&state, name).await?))
}

/// A change to a user (`None`: unchanged).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserPatch {
    /// New roles.
    pub roles: Option<BTreeSet<Role>>,
    /// New rooms (doctors).
    #[schema(value_type = Option<Vec<String>>)]
    pub rooms: Option<Vec<RoomId>>,
    /// Disable (ends the user's sessions) or enable.
    pub disabled: Option<bool>,
    /// A new password (a reset: the user's sessions end).
    pub password: Option<String>,
}

/// Changes a user's roles or rooms, disables or enables them, or resets their password. The
/// last enabled admin cannot be disabled or lose the admin role.
#[utoipa::path(patch, path = "/api/v1/admin/users/{name}", tag = "admin",
    params(("name" = String, Path, description = "user name")), request_body = UserPatch,
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "it would leave no admin")))]
pub async fn user_patch(
    state: web::Data<AppState>,
    actor: Actor,
    name: web::Path<String>,
    body: web::Json<UserPatch>,
) -> Result<HttpResponse, WebError> {
    let name = name.into_inner();
    let patch = body.into_inner();
    let user = {
        let auth = state.auth.clone();
        let wanted = name.clone();
        blocking(move || auth.user(&wanted))
            .await?
            .ok_or_else(|| DomainError::UserNotFound(name.clone()))?
    };
    if let Some(rooms) = &patch.rooms {
        check_rooms(&state, rooms)?;
    }
    // Each change is its own command (and audit record); the engine refuses one that would
    // leave no enabled admin. Demotion and disabling come first, so a refused one changes
    // nothing else.
    let mut ops = Vec::new();
    if let Some(roles) = patch.roles
        && roles != user.roles
    {
        ops.push(StaffOp::SetRoles {
            user: name.clone(),
            roles,
            keep_an_admin: true,
        });
    }
    if let Some(disabled) = patch.disabled
        && disabled != user.disabled
    {
        ops.push(StaffOp::SetDisabled {
            user: name.clone(),
            disabled,
            keep_an_admin: true,
        });
    }
    if let Some(rooms) = patch.rooms
        && rooms != user.rooms
    {
        ops.push(StaffOp::SetRooms {
            user: name.clone(),
            rooms,
        });
    }
    if let Some(password) = patch.password {
        let auth = state.auth.clone();
        let password_hash = blocking(move || auth.hash_password(&password)).await?;
        ops.push(StaffOp::SetPassword {
            user: name.clone(),
            password_hash,
        });
    }
    for op in ops {
        change(&state, &actor, op).await?;
    }
    Ok(HttpResponse::Ok().json(user_view(&state, name).await?))
}

fn check_rooms(state: &AppState, rooms: &[RoomId]) -> Result<(), WebError> {
    let published = state.hub.read();
    for room in rooms {
        published.state.room(room)?;
    }
    Ok(())
}

/// Every API token (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/tokens", tag = "admin",
    responses((status = 200, body = Vec<TokenView>)))]
pub async fn tokens_list(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let auth = state.auth.clone();
    Ok(HttpResponse::Ok().json(blocking(move || auth.tokens()).await?))
}

/// A new API token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for (`his-bridge`).
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// `POST /api/v1/admin/tokens` answer: the secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The bearer token (`Authorization: Bearer wl_...`). It is not stored: copy it now.
    pub secret: String,
    /// The token.
    pub token: TokenView,
}

/// Makes an API token; the answer holds its secret, which is never shown again.
#[utoipa::path(post, path = "/api/v1/admin/tokens", tag = "admin", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody)))]
pub async fn token_create(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let auth = state.auth.clone();
    let (secret, token) = blocking(move || auth.prepare_token(&body.name, body.role)).await?;
    let view = token.view();
    change(&state, &actor, StaffOp::CreateToken { token }).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedToken {
            secret,
            token: view,
        }))
}

/// Revokes an API token: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/admin/tokens/{id}", tag = "admin",
    params(("id" = String, Path, description = "token id")),
    responses((status = 204, description = "revoked"), (status = 404, body = ErrorBody)))]
pub async fn token_revoke(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    change(&state, &actor, StaffOp::RevokeToken { id }).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A user's own password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current: String,
    /// The new one (at least 10 characters).
    pub new: String,
}

/// Changes the logged-in user's own password (their other sessions end; this one too: log in
/// again).
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204, description = "changed"),
        (status = 401, body = ErrorBody, description = "the current password is wrong")))]
pub async fn my_password(
    state: web::Data<AppState>,
    actor: Actor,
    req: actix_web::HttpRequest,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, WebError> {
    let principal = actor.0.clone().ok_or(WebError::LoginRequired)?;
    let Some(name) = principal.user_name().map(str::to_owned) else {
        return Err(WebError::Forbidden);
    };
    let body = body.into_inner();
    let client = super::auth::client_ip(&req);
    let auth = state.auth.clone();
    let user = name.clone();
    let password_hash = blocking(move || {
        auth.check_password(&user, &body.current, client)?;
        auth.hash_password(&body.new)
    })
    .await?;
    let op = StaffOp::SetPassword {
        user: name,
        password_hash,
    };
    change(&state, &actor, op).await?;
    Ok(HttpResponse::NoContent().finish())
}
