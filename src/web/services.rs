//! Services: the list the kiosk shows, opening and closing for new tickets, and the admin's
//! service set-up.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Actor;
use super::body::{self, NoBody, OptionalJson};
use super::error::{ErrorBody, WebError};
use super::state::AppState;
use crate::domain::{Command, Service, ServiceChange, ServiceId, Source};

/// The services.
#[utoipa::path(get, path = "/api/v1/services", tag = "clinic",
    responses((status = 200, body = Vec<Service>)))]
pub async fn services_list(state: web::Data<AppState>) -> HttpResponse {
    let services: Vec<Service> = state
        .hub
        .read()
        .state
        .services_in_order()
        .into_iter()
        .cloned()
        .collect();
    HttpResponse::Ok().json(services)
}

/// `POST /api/v1/services/{id}/close` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceCloseRequest {
    /// When it opens again (RFC 3339); the kiosk shows it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reopens_at: Option<crate::domain::Timestamp>,
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
    state.execute(command, actor.origin(Source::Api)).await?;
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
    _body: NoBody,
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
    body: OptionalJson<ServiceCloseRequest>,
) -> Result<HttpResponse, WebError> {
    let request = body.0;
    service_set_active(&state, &actor, &id, false, request.reopens_at).await
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
    /// Its place in lists, 0–9999 (default: after the others).
    #[serde(default)]
    pub order: Option<u32>,
    /// Its colour on the screens, 0–5 (default: one no other service has).
    #[serde(default)]
    pub tone: Option<u8>,
    /// Its kiosk picture: `stethoscope`, `lab`, `pill`, `tooth`, `eye`, `child`, `syringe`,
    /// `scan`, `heart`, `card` or `desk` (default: chosen from its name).
    #[serde(default)]
    pub icon: Option<String>,
    /// Whether the kiosk asks the priority question (default: yes).
    #[serde(default)]
    pub ask_priority: Option<bool>,
}

/// Adds a service (open at once; give it to a room so that it gets called).
#[utoipa::path(post, path = "/api/v1/admin/services", tag = "admin", request_body = NewService,
    responses((status = 201, body = Service), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the id or prefix is taken")))]
pub async fn service_add(
    state: web::Data<AppState>,
    actor: Actor,
    body: body::Json<NewService>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let id = ServiceId::parse(&body.id)?;
    let command = Command::AddService {
        service: id.clone(),
        name: body.name,
        prefix: body.prefix,
        carry_over: body.carry_over,
        names: body.names,
        order: body.order,
        tone: body.tone,
        icon: body.icon,
        ask_priority: body.ask_priority,
    };
    state.execute(command, actor.origin(Source::Staff)).await?;
    let service = state.hub.read().state.service(&id)?.clone();
    Ok(HttpResponse::Created().json(service))
}

/// Renames a service, changes its prefix, carry-over, translated names, order, colour, kiosk
/// picture or priority question.
#[utoipa::path(patch, path = "/api/v1/admin/services/{id}", tag = "admin",
    params(("id" = String, Path, description = "service id")), request_body = ServiceChange,
    responses((status = 200, body = Service), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn service_patch(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<String>,
    body: body::Json<ServiceChange>,
) -> Result<HttpResponse, WebError> {
    let id = ServiceId::parse(&id)?;
    let command = Command::UpdateService {
        service: id.clone(),
        change: body.into_inner(),
    };
    state.execute(command, actor.origin(Source::Staff)).await?;
    let service = state.hub.read().state.service(&id)?.clone();
    Ok(HttpResponse::Ok().json(service))
}
