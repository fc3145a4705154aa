//! The notifications outbox over HTTP (admin only): `GET /api/v1/notifications` lists the rows
//! with their states and the running transports; `POST /api/v1/notifications/{key}/resend`
//! queues a row again (sent or failed) for an immediate try.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::WebError;
use super::state::AppState;
use crate::domain::notification::{Channel, Notification, NotificationKind, NotificationState};

/// A running sender.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransportView {
    /// Its channel.
    pub channel: Channel,
    /// What sends it.
    pub transport: String,
}

/// One outbox row as the admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// The dedupe key (`seq.kind.channel`): the id for a resend.
    pub key: String,
    /// The row.
    #[serde(flatten)]
    pub row: Notification,
}

/// A message text in one language, with its length as a modem sends it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// The language.
    pub language: String,
    /// The message.
    pub kind: NotificationKind,
    /// Its text, placeholders unfilled.
    pub text: String,
    /// Text messages it takes (GSM-7: 160; any Hindi character: UCS-2, 70, parts of 67).
    pub segments: usize,
}

/// `GET /api/v1/notifications` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsPage {
    /// The channels with a sender.
    pub transports: Vec<TransportView>,
    /// Each message text in each language.
    pub templates: Vec<TemplateView>,
    /// Every row, newest event first.
    pub notifications: Vec<NotificationView>,
}

/// The outbox: transports and rows.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    responses((status = 200, body = NotificationsPage)))]
pub async fn notifications_list(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let store = state.store.clone();
    let mut rows = web::block(move || store.notifications()).await??;
    rows.reverse();
    Ok(HttpResponse::Ok().json(NotificationsPage {
        transports: state
            .senders
            .transports()
            .into_iter()
            .map(|(channel, transport)| TransportView { channel, transport })
            .collect(),
        templates: state
            .catalogs
            .all()
            .flat_map(|catalog| {
                NotificationKind::ALL.into_iter().map(|kind| {
                    let text = catalog
                        .text(&format!("notify.{}", kind.as_str()))
                        .to_owned();
                    TemplateView {
                        language: catalog.code.clone(),
                        kind,
                        segments: crate::notify::modem::segments(&text),
                        text,
                    }
                })
            })
            .collect(),
        notifications: rows
            .into_iter()
            .map(|row| NotificationView {
                key: row.key(),
                row,
            })
            .collect(),
    }))
}

/// Queues a row again for an immediate try (its attempts start over).
#[utoipa::path(post, path = "/api/v1/notifications/{key}/resend", tag = "notifications",
    params(("key" = String, Path, description = "The row's key, e.g. 00000000000000000012.called.sms")),
    responses((status = 200, body = NotificationView),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn notification_resend(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let key = key.into_inner();
    let store = state.store.clone();
    let now = state.clock.now();
    let lookup = key.clone();
    let row = web::block(
        move || -> Result<Option<Notification>, crate::store::StoreError> {
            let Some(mut row) = store.notification_get(&lookup)? else {
                return Ok(None);
            };
            if row.state != NotificationState::Queued {
                row.state = NotificationState::Queued;
                row.attempts = 0;
                row.next_try = now;
                row.last_error = None;
                store.notification_update(&row)?;
            }
            Ok(Some(row))
        },
    )
    .await??;
    let Some(row) = row else {
        return Err(WebError::NotFound(format!(
            "/api/v1/notifications/{key}/resend"
        )));
    };
    state.senders.wake();
    Ok(HttpResponse::Ok().json(NotificationView {
        key: row.key(),
        row,
    }))
}
