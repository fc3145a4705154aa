//! Pairing kiosks and displays: a screen asks and shows a code, an admin approves it, the
//! screen gets its cookie; the admin's list of paired screens and unpairing.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Actor, PAIRING_COOKIE, SCREEN_COOKIE, SCREEN_COOKIE_DAYS, required};
use super::error::{ErrorBody, WebError};
use super::state::{AppState, blocking};
use crate::auth::AuthError;
use crate::auth::screen::{PendingView, Poll, ScreenKind, ScreenView};
use crate::domain::{Command, Source, StaffOp};

fn cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    max_age: CookieDuration,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

fn secure(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// `POST /api/v1/pair` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairRequest {
    /// What this screen is.
    pub kind: ScreenKind,
}

/// Where a pairing stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PairState {
    /// Waiting for an admin: show this code.
    Waiting {
        /// The code.
        code: String,
    },
    /// Approved: the screen cookie is set; reload.
    Paired {
        /// The name the admin gave the screen.
        name: String,
    },
}

/// A screen asks to be paired: the answer has the code to show, and a cookie to poll with.
#[utoipa::path(post, path = "/api/v1/pair", tag = "screens", request_body = PairRequest,
    responses((status = 200, body = PairState)))]
pub async fn pair_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PairRequest>,
) -> Result<HttpResponse, WebError> {
    let kind = body.into_inner().kind;
    let address = req.peer_addr().map(|a| a.ip().to_string());
    let screens = state.screens.clone();
    let (poll, code) = blocking(move || screens.request(kind, address)).await?;
    let ttl = CookieDuration::seconds(crate::auth::screen::PENDING_TTL.as_secs());
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookie(
            PAIRING_COOKIE,
            poll,
            "/api/v1/pair",
            ttl,
            secure(&req),
        ))
        .json(PairState::Waiting { code }))
}

/// A waiting screen asks whether it was approved; once it is, the answer sets its cookie.
#[utoipa::path(get, path = "/api/v1/pair", tag = "screens",
    responses((status = 200, body = PairState),
        (status = 404, body = ErrorBody, description = "no such request: ask again")))]
pub async fn pair_poll(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    let poll = req
        .cookie(PAIRING_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let screens = state.screens.clone();
    let answer = web::block(move || screens.poll(&poll)).await?;
    match answer {
        Poll::Waiting(code) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(PairState::Waiting { code })),
        Poll::Paired(secret, view) => {
            let mut done = cookie(
                PAIRING_COOKIE,
                String::new(),
                "/api/v1/pair",
                CookieDuration::ZERO,
                secure(&req),
            );
            done.make_removal();
            Ok(HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .cookie(cookie(
                    SCREEN_COOKIE,
                    secret,
                    "/",
                    CookieDuration::days(SCREEN_COOKIE_DAYS),
                    secure(&req),
                ))
                .cookie(done)
                .json(PairState::Paired { name: view.name }))
        }
        Poll::Unknown => Err(AuthError::PairingCodeUnknown.into()),
    }
}

/// `GET /api/v1/admin/screens` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreensView {
    /// Whether the clinic requires paired screens.
    pub required: bool,
    /// Screens waiting for approval, oldest first.
    pub pending: Vec<PendingView>,
    /// Paired screens.
    pub paired: Vec<ScreenView>,
}

/// Screens waiting for approval and paired screens.
#[utoipa::path(get, path = "/api/v1/admin/screens", tag = "screens",
    responses((status = 200, body = ScreensView)))]
pub async fn screens_list(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let screens = state.screens.clone();
    let paired = blocking(move || screens.screens()).await?;
    Ok(HttpResponse::Ok().json(ScreensView {
        required: required(&state),
        pending: state.screens.waiting(),
        paired,
    }))
}

/// `POST /api/v1/admin/screens` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The code the screen shows (spaces, dashes and case do not matter).
    pub code: String,
    /// A name for it: lowercase letters, digits, `-` (`front-kiosk`, `lobby-tv`).
    pub name: String,
}

/// Approves the screen showing `code`; it finds out on its next poll (within seconds).
#[utoipa::path(post, path = "/api/v1/admin/screens", tag = "screens", request_body = Approval,
    responses((status = 201, body = ScreenView),
        (status = 404, body = ErrorBody, description = "no screen waits with that code")))]
pub async fn screen_approve(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<Approval>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let origin = actor.origin(Source::Staff);
    let screens = state.screens.clone();
    let by = origin.actor.clone();
    let code = body.code.clone();
    let (screen, secret) =
        blocking(move || screens.prepare_approval(&body.code, &body.name, &by)).await?;
    let op = StaffOp::PairScreen {
        screen: screen.clone(),
    };
    state.engine.execute(Command::Staff { op }, origin).await?;
    state.screens.approved(&code, secret, &screen);
    Ok(HttpResponse::Created().json(screen.view()))
}

/// Unpairs a screen: a kiosk cannot issue tickets any more at once, and both kinds show a
/// pairing code on their next load.
#[utoipa::path(delete, path = "/api/v1/admin/screens/{id}", tag = "screens",
    params(("id" = String, Path, description = "screen id")),
    responses((status = 204, description = "unpaired"), (status = 404, body = ErrorBody)))]
pub async fn screen_revoke(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let op = StaffOp::UnpairScreen {
        id: id.into_inner(),
    };
    state
        .engine
        .execute(Command::Staff { op }, actor.origin(Source::Staff))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
