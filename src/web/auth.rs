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

use super::error::WebError;
use super::state::AppState;
use crate::auth::screen::{ScreenKind, ScreenView};
use crate::auth::{Need, Principal, PrincipalKind};
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
/// this server as the browser addressed it (the `Host` header, with `https` when we serve
/// TLS) or the configured `screens.public_url`. `X-Forwarded-Host`, `Forwarded` and
/// `X-Forwarded-Proto` count for nothing: waitless has no trusted proxies, and anyone can send
/// them.
pub fn same_origin(req: &HttpRequest) -> bool {
    let from = req
        .headers()
        .get(header::ORIGIN)
        .or_else(|| req.headers().get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(from) = from else {
        return false;
    };
    let public = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| url_origin(&state.config.screens.public_url));
    let host = host_of(req).map(|host| format!("{}://{host}", scheme_of(req)));
    [host, public]
        .into_iter()
        .flatten()
        .any(|ours| from == ours || from.starts_with(&format!("{ours}/")))
}

/// The scheme this request came in on, from the connection itself (never a forwarding header).
pub fn scheme_of(req: &HttpRequest) -> &'static str {
    if req.app_config().secure() {
        "https"
    } else {
        "http"
    }
}

/// The `scheme://host[:port]` of an absolute URL (`None` for an empty or relative one).
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// The host the client addressed: the `Host` header (HTTP/1.1) or the URI's authority (HTTP/2).
fn host_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
}

/// What a route's access needs of this request (a room route names its room in `{id}`).
fn need(access: Access, req: &HttpRequest) -> Result<Option<Need>, WebError> {
    Ok(match access {
        Access::Public | Access::Account => None,
        Access::Staff => Some(Need::Staff),
        Access::Reception => Some(Need::Reception),
        Access::Reports => Some(Need::Reports),
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
    /// Whether the caller is staff who work the queue (not nobody, not a manager alone): only
    /// they issue as staff, skip the kiosk's limits and see a ticket's status link.
    pub fn works_queue(&self) -> bool {
        self.0.as_ref().is_some_and(|p| p.can(Need::Staff))
    }

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

pub fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip())
}

pub fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

/// Who may call a route: [`guard`] enforces it on every route of [`super::ROUTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: kiosk, displays, patients' phones, health checks.
    Public,
    /// Anyone logged in, a manager too: their own account (a new password).
    Account,
    /// Staff who work the queue (reception, doctors, admin): the staff console, bookings, a
    /// patient's details. Not a manager alone.
    Staff,
    /// Reception (and admin): issue, cancel, transfer, requeue, open/close rooms.
    Reception,
    /// The doctor of the room (and reception, admin): next, recall, done, no-show, no-show and
    /// next, a call out of order, a break, undo.
    Room,
    /// Managers (and admin): the reports and the patients' feedback, read only.
    Reports,
    /// Admin only: clinic settings.
    Admin,
}

/// The paired screen's cookie.
pub const SCREEN_COOKIE: &str = "waitless_screen";

/// A waiting screen's cookie (only sent to `/api/v1/pair`).
pub const PAIRING_COOKIE: &str = "waitless_pairing";

/// A paired screen's cookie lasts this long (browsers cap it at 400 days).
pub const SCREEN_COOKIE_DAYS: i64 = 400;

/// Whether the clinic requires paired screens now.
pub fn required(state: &AppState) -> bool {
    state.hub.read().state.clinic.pairing_required
}

/// The paired screen this request comes from, if any.
pub fn screen_of(state: &AppState, req: &HttpRequest) -> Option<ScreenView> {
    let cookie = req.cookie(SCREEN_COOKIE)?;
    state.screens.verify(cookie.value())
}

/// Whether a `kind` page may show itself to this request: pairing is off, or it comes from a
/// paired screen of that kind, or from logged-in staff.
pub fn may_show(state: &AppState, req: &HttpRequest, actor: &Actor, kind: ScreenKind) -> bool {
    !required(state) || actor.works_queue() || screen_of(state, req).is_some_and(|s| s.kind == kind)
}

/// Who issues a ticket, as the audit trail records it. A logged-in caller (or API token) is
/// itself, with the `source` it asks for. A caller without a login is the kiosk whatever
/// `source` it asks for (source `kiosk`, actor `anonymous`, or `screen:NAME` for a paired
/// screen): it must be a paired kiosk when the clinic requires pairing, and is held to the
/// per-address kiosk rate limit (a repeat of an Idempotency-Key already used is not a new
/// ticket and is not counted).
pub fn issuer(
    state: &AppState,
    req: &HttpRequest,
    actor: &Actor,
    source: Source,
    key: Option<&str>,
) -> Result<Origin, WebError> {
    if actor.works_queue() {
        return Ok(actor.origin(source));
    }
    let mut origin = actor.origin(Source::Kiosk);
    let screen = screen_of(state, req);
    if required(state) && !screen.as_ref().is_some_and(|s| s.kind == ScreenKind::Kiosk) {
        return Err(WebError::ScreenNotPaired);
    }
    if let Some(screen) = screen {
        origin.actor = format!("screen:{}", screen.name);
    }
    let client = client_ip(req);
    let limit = super::view::kiosk_effective(state).tickets_per_minute;
    let repeat = key.is_some_and(|k| state.hub.read().state.idempotency.contains_key(k));
    if !repeat && !state.issue_limit.allow(client, state.clock.now(), limit) {
        tracing::warn!(%client, "kiosk rate limit: {limit} tickets a minute");
        return Err(WebError::TooManyTickets);
    }
    Ok(origin)
}
