//! Logging in and out, who is logged in, and the first admin made with the one-time setup
//! code.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Actor, client_ip, session_cookie};
use super::error::WebError;
use super::state::{AppState, blocking};
use crate::auth::{AuthError, Principal, PrincipalKind, Role};
use crate::domain::{Command, Origin, RoomId, Source, StaffOp};

/// `POST /api/v1/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// Who is logged in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// `user` or `token`.
    pub kind: &'static str,
    /// The user's or token's name.
    pub name: String,
    /// Roles: `admin`, `reception`, `doctor`.
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
    /// A doctor's rooms.
    #[schema(value_type = Vec<String>)]
    pub rooms: Vec<RoomId>,
}

impl From<&Principal> for MeResponse {
    fn from(p: &Principal) -> Self {
        let (kind, name) = match &p.kind {
            PrincipalKind::User { name } => ("user", name.clone()),
            PrincipalKind::Token { name, .. } => ("token", name.clone()),
        };
        Self {
            kind,
            name,
            roles: p.roles.iter().copied().collect(),
            rooms: p.rooms.clone(),
        }
    }
}

/// Logs in: sets the session cookie (a new session id every login).
#[utoipa::path(post, path = "/api/v1/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = MeResponse),
        (status = 401, body = super::error::ErrorBody, description = "wrong name or password"),
        (status = 429, body = super::error::ErrorBody, description = "too many failures: wait")))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, WebError> {
    if !super::auth::same_origin(&req) && req.headers().contains_key(header::ORIGIN) {
        return Err(WebError::CrossSite);
    }
    let body = body.into_inner();
    let auth = state.auth.clone();
    let client = client_ip(&req);
    let (token, principal) =
        web::block(move || auth.login(&body.name, &body.password, client)).await??;
    let secure = super::auth::scheme_of(&req) == "https" || state.config.tls.enabled;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(token.as_str().to_owned(), secure))
        .json(MeResponse::from(&principal)))
}

/// Logs out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/logout", tag = "auth",
    responses((status = 204, description = "logged out")))]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    if let Some(cookie) = req.cookie(super::auth::SESSION_COOKIE) {
        state.auth.logout(cookie.value())?;
    }
    let mut gone = session_cookie(String::new(), false);
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

/// Who is logged in (401 when nobody).
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = MeResponse), (status = 401, body = super::error::ErrorBody)))]
pub async fn me(actor: Actor) -> Result<HttpResponse, WebError> {
    let principal = actor.0.ok_or(WebError::LoginRequired)?;
    Ok(HttpResponse::Ok().json(MeResponse::from(&principal)))
}

/// `POST /api/v1/setup` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The code from the log.
    pub code: String,
    /// The admin's login name.
    pub name: String,
    /// The admin's password (at least 10 characters).
    pub password: String,
}

/// Creates the first admin with the one-time setup code and logs them in.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 200, body = MeResponse),
        (status = 403, body = super::error::ErrorBody, description = "wrong code, or an admin exists"),
        (status = 429, body = super::error::ErrorBody, description = "too many wrong codes: wait")))]
pub async fn setup_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SetupRequest>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let client = client_ip(&req);
    let now = state.clock.now();
    if let Some(retry_after_secs) = state.setup.throttled(client, now) {
        tracing::warn!(%client, retry_after_secs, "setup refused: throttled");
        return Err(AuthError::Throttled { retry_after_secs }.into());
    }
    let Some(code) = state.setup.take(&body.code) else {
        state.setup.failed(client, now);
        tracing::warn!(%client, "a wrong setup code was tried");
        return Err(WebError::Forbidden);
    };
    if let Err(e) = first_admin(&state, &req, &body).await {
        // Nothing was created: the operator may try again (a stronger password).
        state.setup.give_back(code);
        return Err(e);
    }
    tracing::info!(user = %body.name, "first admin created with the setup code");
    login(
        state,
        req,
        web::Json(LoginRequest {
            name: body.name,
            password: body.password,
        }),
    )
    .await
}

/// Creates the admin of a setup request, through the engine (with its audit record).
async fn first_admin(
    state: &AppState,
    req: &HttpRequest,
    body: &SetupRequest,
) -> Result<(), WebError> {
    let auth = state.auth.clone();
    let (name, password) = (body.name.clone(), body.password.clone());
    let user = blocking(move || {
        auth.prepare_user(&name, &password, BTreeSet::from([Role::Admin]), Vec::new())
    })
    .await?;
    let origin = Origin::new(Source::Staff, "setup")
        .from_address(req.peer_addr().map(|a| a.ip().to_string()));
    let command = Command::Staff {
        op: StaffOp::AddUser { user },
    };
    state.engine.execute(command, origin).await?;
    Ok(())
}
