//! The web side of logins: the guard every route passes (its [`Access`] from [`super::ROUTES`]),
//! sessions in an HttpOnly SameSite=Strict cookie, bearer API tokens, the CSRF check, and the
//! login, logout, setup and "who am I" handlers.
//!
//! A request is authenticated by `Authorization: Bearer wl_...` (scripts, other systems) or by
//! the session cookie (browsers). A cookie-authenticated request that changes something must
//! come from our own pages: its `Origin` (or, without one, its `Referer`) must be this server.
//! Bearer tokens are never sent by a browser on its own, so they need no such check.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::WebError;
use super::{Access, AppState};
use crate::auth::{AuthError, Need, Principal, PrincipalKind, Role};
use crate::domain::{Origin, RoomId, Source};

/// The session cookie.
pub const SESSION_COOKIE: &str = "waitless_session";

/// Who is asking, as the guard found out.
fn principal_of(state: &AppState, req: &HttpRequest) -> Option<(Principal, bool)> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
        return state.auth.verify_token(token).map(|p| (p, false));
    }
    let cookie = req.cookie(SESSION_COOKIE)?;
    state.auth.session(cookie.value()).map(|p| (p, true))
}

/// Whether a cookie-carrying request comes from our own pages: its `Origin` (or `Referer`) is
/// this server's address.
fn same_origin(req: &HttpRequest) -> bool {
    let info = req.connection_info();
    let ours = format!("{}://{}", info.scheme(), info.host());
    let from = req
        .headers()
        .get(header::ORIGIN)
        .or_else(|| req.headers().get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        Some(from) => from == ours || from.starts_with(&format!("{ours}/")),
        None => false,
    }
}

/// What a route's access needs of this request (a room route names its room in `{id}`).
fn need(access: Access, req: &HttpRequest) -> Result<Option<Need>, WebError> {
    Ok(match access {
        Access::Public | Access::Staff => None,
        Access::Reception => Some(Need::Reception),
        Access::Admin => Some(Need::Admin),
        Access::Room => {
            let raw = req.match_info().get("id").unwrap_or_default();
            Some(Need::Room(RoomId::parse(raw)?))
        }
    })
}

/// The guard of a route with `access`: lets the request through, or answers 401 (JSON) /
/// a redirect to the login page (pages), or 403.
pub async fn guard(
    access: Access,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if access == Access::Public {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(WebError::Internal("no app state".to_owned()).into());
    };
    let http = req.request().clone();
    let Some((principal, by_cookie)) = principal_of(&state, &http) else {
        if !http.path().starts_with("/api/") && http.method() == Method::GET {
            let to = format!("/login?next={}", urlencode(&path_and_query(&http)));
            return Ok(req.into_response(
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, to))
                    .finish(),
            ));
        }
        return Err(WebError::LoginRequired.into());
    };
    let unsafe_method = !matches!(*http.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if by_cookie && unsafe_method && !same_origin(&http) {
        tracing::warn!(
            path = http.path(),
            actor = principal.actor(),
            "refused a cross-site request"
        );
        return Err(WebError::CrossSite.into());
    }
    if let Some(need) = need(access, &http)?
        && !principal.can(need)
    {
        return Err(WebError::Forbidden.into());
    }
    req.extensions_mut().insert(principal);
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn path_and_query(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_owned(),
    }
}

/// Percent-encodes a path for a query parameter.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Who made a request, for the event log: a logged-in user (source `staff`), an API token
/// (source `api`), or nobody (`anonymous`, public routes); and from which address.
#[derive(Clone, Debug)]
pub struct Actor(pub Option<Principal>, pub Option<String>);

impl Actor {
    /// The origin of a command this request sends; `public` is the source when nobody is
    /// logged in (the kiosk, an API caller of a public route).
    pub fn origin(&self, public: Source) -> Origin {
        let origin = match &self.0 {
            Some(p) => match p.kind {
                PrincipalKind::User { .. } => Origin::new(
                    if public == Source::Api {
                        Source::Staff
                    } else {
                        public
                    },
                    p.actor(),
                ),
                PrincipalKind::Token { .. } => Origin::new(public, p.actor()),
            },
            None => Origin::new(public, "anonymous"),
        };
        origin.from_address(self.1.clone())
    }
}

impl FromRequest for Actor {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let found = req.extensions().get::<Principal>().cloned();
        // Public routes have no guard: look the caller up here (a logged-in receptionist
        // issuing a ticket is recorded as such).
        let found = found.or_else(|| {
            let state = req.app_data::<web::Data<AppState>>()?;
            principal_of(state, req).map(|(p, _)| p)
        });
        let address = req.peer_addr().map(|a| a.ip().to_string());
        std::future::ready(Ok(Self(found, address)))
    }
}

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

pub(super) fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
}

fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
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
    if !same_origin(&req) && req.headers().contains_key(header::ORIGIN) {
        return Err(WebError::CrossSite);
    }
    let body = body.into_inner();
    let auth = state.auth.clone();
    let client = client_ip(&req);
    let (token, principal) = web::block(move || auth.login(&body.name, &body.password, client))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))??;
    let secure = req.connection_info().scheme() == "https" || state.config.tls.enabled;
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
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
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

impl From<AuthError> for WebError {
    fn from(e: AuthError) -> Self {
        WebError::Auth(e)
    }
}
