//! The appliance's state for monitors and screens: health, `/metrics` and the whole queue.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::WebError;
use super::state::AppState;
use super::view::{self, QueueView, WaitingAsk, WaitingPage};
use crate::domain::{RoomId, ServiceId, TicketId};

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

/// The queue (rooms, recent calls, per-service counts), with the sequence number of the last
/// event it includes. The waiting tickets are paged by [`queue_waiting`].
#[utoipa::path(get, path = "/api/v1/queue", tag = "queue",
    responses((status = 200, body = QueueView)))]
pub async fn queue_get(state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let view = view::queue_view(&state.hub.read(), state.hub.policy(), now);
    HttpResponse::Ok().json(view)
}

/// Most tickets one page of `GET /api/v1/queue/waiting` lists.
pub const WAITING_PAGE_MAX: usize = 1000;
/// Tickets a page lists when `limit` is absent.
pub const WAITING_PAGE_DEFAULT: usize = 100;

/// Query of `GET /api/v1/queue/waiting`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WaitingQuery {
    /// Only this service's tickets, in its call order.
    #[param(value_type = Option<String>)]
    pub service: Option<ServiceId>,
    /// Only the tickets this room could call, in the order it calls them.
    #[param(value_type = Option<String>)]
    pub room: Option<RoomId>,
    /// Tickets per page, 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// The `next` of the previous page: the id of its last ticket.
    pub after: Option<u64>,
}

/// The waiting tickets, a page at a time: every service's (service by service, each in call
/// order), one service's, or the ones a room could call (merged in its call order), each with
/// its position and estimated wait.
#[utoipa::path(get, path = "/api/v1/queue/waiting", tag = "queue",
    params(WaitingQuery),
    responses((status = 200, body = WaitingPage),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "unknown service, room or `after` ticket")))]
pub async fn queue_waiting(
    state: web::Data<AppState>,
    query: web::Query<WaitingQuery>,
) -> Result<HttpResponse, WebError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(WAITING_PAGE_DEFAULT);
    if !(1..=WAITING_PAGE_MAX).contains(&limit) {
        return Err(WebError::InvalidQuery(format!(
            "limit must be 1 to {WAITING_PAGE_MAX}"
        )));
    }
    let ask = WaitingAsk {
        service: query.service,
        room: query.room,
        after: query.after.map(TicketId),
        limit,
    };
    let page = view::waiting_page(&state.hub.read(), state.hub.policy(), &ask)?;
    Ok(HttpResponse::Ok().json(page))
}

/// `GET /metrics`: the Prometheus text format (`[metrics] enabled`; with `[metrics] token`, only
/// for `Authorization: Bearer <token>`). 404 when off, 401 for a missing or wrong token.
pub async fn metrics_get(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, WebError> {
    let settings = &state.config.metrics;
    if !settings.enabled {
        return Err(WebError::NotFound("/metrics".to_owned()));
    }
    if !settings.token.is_empty() {
        use sha2::{Digest, Sha256};
        let sent = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared as digests: the time taken does not tell how much of the token matched.
        if Sha256::digest(sent.as_bytes()) != Sha256::digest(settings.token.as_bytes()) {
            return Err(WebError::LoginRequired);
        }
    }
    let database = state.config.database_path();
    let store = state.store.clone();
    let mut scrape = web::block(move || -> Result<_, WebError> {
        let word = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let mut counts: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for row in store.notifications()? {
            let key = (
                word(serde_json::to_value(row.channel).unwrap_or_default()),
                word(serde_json::to_value(row.state).unwrap_or_default()),
            );
            *counts.entry(key).or_default() += 1;
        }
        Ok(crate::metrics::Scrape {
            devices: Vec::new(),
            store_bytes: std::fs::metadata(database).map_or(0, |m| m.len()),
            notifications: counts.into_iter().map(|((c, s), n)| (c, s, n)).collect(),
        })
    })
    .await??;
    scrape.devices = state.devices.all();
    let text = {
        let published = state.hub.read();
        state
            .metrics
            .render(&published.state, published.seq, &scrape)
            .map_err(|e| WebError::Internal(e.to_string()))?
    };
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}
