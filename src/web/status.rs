//! The appliance's state for monitors and screens: health and the whole queue.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::state::AppState;
use super::view::{self, QueueView};

/// `GET /healthz` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database cannot be read or written.
    pub status: String,
    /// waitless version.
    pub version: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// `ok`, or `error` when the database cannot be read, or its last write failed (a full
    /// disk: writes resume by themselves once there is space).
    pub database: String,
    /// Why the database is in error, and since how many seconds its writes fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The audit trail's hash chain, checked in the background after start: `checking`,
    /// `intact`, `broken at event N` (the file was edited: see `/admin`), `unreadable`. A
    /// broken chain does not make the answer 503: the appliance still works, and a restart
    /// would not mend it.
    pub audit: String,
    /// The last nightly backup since start (`[backup]`): when, the file and its size, or why
    /// it failed (a USB stick not mounted). Absent when none ran yet or none is configured; a
    /// failed backup does not make the answer 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::backup::LastBackup>,
    /// Sequence number of the last event.
    pub seq: u64,
    /// The clinic day.
    pub day: String,
}

/// Health of the appliance.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let read = match web::block(move || store.check()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    let reason = read.or_else(|| {
        state.store.failure().map(|f| {
            format!(
                "writes fail since {} s: {}",
                f.since.elapsed().as_secs(),
                f.reason
            )
        })
    });
    let (seq, day) = {
        let p = state.hub.read();
        (p.seq, p.state.day.to_string())
    };
    let ok = reason.is_none();
    let body = Health {
        status: if ok { "ok" } else { "degraded" }.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: state.started.elapsed().as_secs(),
        database: if ok { "ok" } else { "error" }.to_owned(),
        reason,
        audit: state.store.audit_check().to_string(),
        backup: state.backup.last(),
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

/// The whole queue, with the sequence number of the last event it includes.
#[utoipa::path(get, path = "/api/v1/queue", tag = "queue",
    responses((status = 200, body = QueueView)))]
pub async fn queue_get(state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let view = view::queue_view(&state.hub.read(), state.hub.policy(), now);
    HttpResponse::Ok().json(view)
}
