//! Staff users and API tokens (the admin pages), and a user's own password. Each change is a
//! [`StaffOp`] the engine commits with its audit record; hashes and secrets are made here,
//! off the engine's thread.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Actor;
use super::body;
use super::error::{ErrorBody, WebError};
use super::state::{AppState, blocking};
use crate::auth::{Role, TokenView, UserView};
use crate::domain::{Command, DomainError, RoomId, Source, StaffOp};

/// Makes a staff change as `actor`: the engine commits it with its audit record.
async fn change(state: &AppState, actor: &Actor, op: StaffOp) -> Result<(), WebError> {
    state
        .execute(Command::Staff { op }, actor.origin(Source::Staff))
        .await?;
    Ok(())
}

/// A user as they are now.
async fn user_view(state: &AppState, name: String) -> Result<UserView, WebError> {
    let auth = state.auth.clone();
    blocking(move || auth.user(&name))
        .await?
        .ok_or_else(|| WebError::Internal("the user disappeared".to_owned()))
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
    body: body::Json<NewUser>,
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
    body: body::Json<UserPatch>,
) -> Result<HttpResponse, WebError> {
    let name = name.into_inner();
    let mut patch = body.into_inner();
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
    let password_hash = match patch.password.take() {
        Some(password) => {
            let auth = state.auth.clone();
            Some(blocking(move || auth.hash_password(&password)).await?)
        }
        None => None,
    };
    for op in patch_ops(&user, patch, password_hash) {
        change(&state, &actor, op).await?;
    }
    Ok(HttpResponse::Ok().json(user_view(&state, name).await?))
}

/// The changes a patch makes to `user`, each its own command (and audit record). Demotion and
/// disabling come first: the engine refuses one that would leave no enabled admin, and then
/// nothing else has changed.
fn patch_ops(user: &UserView, patch: UserPatch, password_hash: Option<String>) -> Vec<StaffOp> {
    let name = || user.name.clone();
    let mut ops = Vec::new();
    if let Some(roles) = patch.roles.filter(|r| *r != user.roles) {
        ops.push(StaffOp::SetRoles {
            user: name(),
            roles,
            keep_an_admin: true,
        });
    }
    if let Some(disabled) = patch.disabled.filter(|d| *d != user.disabled) {
        ops.push(StaffOp::SetDisabled {
            user: name(),
            disabled,
            keep_an_admin: true,
        });
    }
    if let Some(rooms) = patch.rooms.filter(|r| *r != user.rooms) {
        ops.push(StaffOp::SetRooms {
            user: name(),
            rooms,
        });
    }
    if let Some(password_hash) = password_hash {
        ops.push(StaffOp::SetPassword {
            user: name(),
            password_hash,
        });
    }
    ops
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
    body: body::Json<NewToken>,
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
    body: body::Json<PasswordChange>,
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
