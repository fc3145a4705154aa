//! The clinic: the displays' message, and everything the admin pages edit about the clinic
//! (its name, kiosk settings, pairing rule).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Actor;
use super::body;
use super::error::{ErrorBody, WebError};
use super::state::{AppState, blocking};
use super::view::{AdminRoom, KioskEffective, kiosk_effective};
use crate::domain::{Clinic, ClinicChange, Command, Service, Source};
use crate::store::AuditCheck;

/// `PUT /api/v1/clinic/message` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The message the displays scroll, at most 500 characters; empty removes it.
    pub message: String,
}

/// Sets the message the displays scroll (empty removes it).
#[utoipa::path(put, path = "/api/v1/clinic/message", tag = "clinic",
    request_body = MessageRequest,
    responses((status = 200, body = crate::domain::Clinic), (status = 400, body = ErrorBody)))]
pub async fn clinic_message_put(
    state: web::Data<AppState>,
    actor: Actor,
    body: body::Json<MessageRequest>,
) -> Result<HttpResponse, WebError> {
    let command = Command::SetClinicMessage {
        message: body.into_inner().message,
    };
    state.execute(command, actor.origin(Source::Api)).await?;
    let clinic = state.hub.read().state.clinic.clone();
    Ok(HttpResponse::Ok().json(clinic))
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
    /// What the check of the audit trail after start found.
    pub audit: AuditCheck,
    /// The last nightly backup since start (absent: none yet, or none configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::backup::LastBackup>,
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
        .rooms_in_order()
        .into_iter()
        .map(|r| AdminRoom::of(r, &users))
        .collect();
    Ok(HttpResponse::Ok().json(AdminClinic {
        clinic: queue.clinic.clone(),
        kiosk,
        kiosk_defaults,
        services: queue.services_in_order().into_iter().cloned().collect(),
        rooms,
        languages: state.config.screens.languages.clone(),
        audit: state.store.audit_check(),
        backup: state.backup.last(),
    }))
}

/// Changes the clinic's name, kiosk settings or whether screens must be paired.
#[utoipa::path(patch, path = "/api/v1/admin/clinic", tag = "admin", request_body = ClinicChange,
    responses((status = 200, body = Clinic), (status = 400, body = ErrorBody)))]
pub async fn admin_clinic_patch(
    state: web::Data<AppState>,
    actor: Actor,
    body: body::Json<ClinicChange>,
) -> Result<HttpResponse, WebError> {
    let change = body.into_inner();
    state
        .execute(
            Command::SetClinicSettings { change },
            actor.origin(Source::Staff),
        )
        .await?;
    Ok(HttpResponse::Ok().json(state.hub.read().state.clinic.clone()))
}
