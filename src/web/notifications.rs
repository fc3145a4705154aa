//! The notifications outbox over HTTP (admin only): `GET /api/v1/notifications` lists the rows
//! with their states and the running transports with their health;
//! `POST /api/v1/notifications/{key}/resend` queues a row again (sent or failed) for an
//! immediate try; `POST /api/v1/notifications/test` sends the operator's test message through a
//! running transport now (nothing recorded, the recipient never logged). Each transport is also
//! a `notifications` entry of `GET /api/v1/devices` ([`transport_devices`]).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::body;
use super::error::WebError;
use super::state::AppState;
use crate::devices::{DeviceKind, DeviceStatus, Health};
use crate::domain::notification::{Channel, Notification, NotificationKind, NotificationState};
use crate::notify::build::{TestFailed, TestRequest, mask, send_test};
use crate::notify::transport::TransportHealth;

/// Typical values of the placeholders, to count a message's segments as it will be sent (an
/// unfilled `{room}` would count its braces, which GSM-7 has only in its extension table).
const SAMPLE: [(&str, &str); 9] = [
    ("number", "A001"),
    ("room", "Room 2"),
    ("service", "General"),
    ("ahead", "3"),
    ("code", "K7TQ3M"),
    ("when", "2026-12-07 10:30"),
    ("doctor", "dr-rao"),
    ("clinic", "Sunrise Clinic"),
    ("lead", "120"),
];

/// A running sender.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransportView {
    /// Its channel.
    pub channel: Channel,
    /// What sends it.
    pub transport: String,
    /// How it is doing (`null`: it tells nothing beyond its sends succeeding or failing).
    pub health: Option<TransportHealth>,
}

/// One outbox row as the admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// The dedupe key (`seq.kind.channel`): the id for a resend.
    pub key: String,
    /// The recipient masked for the screen: `+91 ••••• •2345`, `p•••@example.com`.
    pub to_masked: String,
    /// The row.
    #[serde(flatten)]
    pub row: Notification,
}

impl NotificationView {
    fn of(row: Notification) -> Self {
        Self {
            key: row.key(),
            to_masked: mask(&row.to),
            row,
        }
    }
}

/// `POST /api/v1/notifications/test` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestSent {
    /// Always `true` (a failure is an error answer).
    pub sent: bool,
    /// The carrier's or gateway's reference, when it gave one.
    pub reference: Option<String>,
    /// The channel it went by.
    pub channel: Channel,
    /// What sent it.
    pub transport: String,
}

/// Each running transport as a `notifications` entry of `GET /api/v1/devices`
/// (`notify-sms`, `notify-email`): health `ok` or `error` from its report, `unknown` when it
/// tells nothing.
pub fn transport_devices(senders: &crate::notify::outbox::Senders) -> Vec<DeviceStatus> {
    senders
        .health()
        .into_iter()
        .map(|(channel, transport, health)| {
            let (state, condition, detail) = match &health {
                Some(h) if h.ok => (Health::Ok, "ok", h.detail.clone()),
                Some(h) => (Health::Error, "error", h.detail.clone()),
                None => (
                    Health::Unknown,
                    "status-unknown",
                    "no status to report".to_owned(),
                ),
            };
            let mut device = DeviceStatus::new(
                format!("notify-{}", channel.as_str()),
                DeviceKind::Notifications,
                format!("{} notifications: {transport}", channel.as_str()),
                state,
                condition,
                detail,
            );
            device.notifications = health.map(Box::new);
            device
        })
        .collect()
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
    /// How the webhook is doing (`null`: no `notify.webhook_url`).
    pub webhook: Option<crate::notify::webhook::WebhookStatus>,
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
            .health()
            .into_iter()
            .map(|(channel, transport, health)| TransportView {
                channel,
                transport,
                health,
            })
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
                        segments: crate::notify::modem::segments(
                            &catalog.format(&format!("notify.{}", kind.as_str()), &SAMPLE),
                        ),
                        text,
                    }
                })
            })
            .collect(),
        notifications: rows.into_iter().map(NotificationView::of).collect(),
        webhook: state
            .webhook
            .as_ref()
            .map(crate::notify::webhook::WebhookState::get),
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
    Ok(HttpResponse::Ok().json(NotificationView::of(row)))
}

/// Sends the operator's test message by a running transport now and waits for its answer
/// (up to 90 s). Nothing is recorded; the recipient is never logged.
#[utoipa::path(post, path = "/api/v1/notifications/test", tag = "notifications",
    request_body = TestRequest,
    responses((status = 200, body = TestSent),
        (status = 400, body = super::error::ErrorBody,
            description = "bad channel, empty or malformed recipient, unknown language"),
        (status = 409, body = super::error::ErrorBody,
            description = "no transport is configured for the channel (no-transport)"),
        (status = 502, body = super::error::ErrorBody,
            description = "the transport could not send it (send-failed, with its reason)")))]
pub async fn notification_test(
    state: web::Data<AppState>,
    body: body::Json<TestRequest>,
) -> Result<HttpResponse, WebError> {
    let request = body.into_inner();
    let clinic = state.hub.read().state.clinic.name.clone();
    let channel = request.channel;
    let senders = std::sync::Arc::clone(&state.senders);
    let catalogs = std::sync::Arc::clone(&state.catalogs);
    let config = std::sync::Arc::clone(&state.config);
    let sent = web::block(move || {
        send_test(
            &senders,
            &catalogs,
            &config.notify.language,
            &clinic,
            &request,
        )
    })
    .await?;
    match sent {
        Ok((reference, transport)) => Ok(HttpResponse::Ok().json(TestSent {
            sent: true,
            reference,
            channel,
            transport,
        })),
        Err(TestFailed::Refused(refused)) => Err(refused.into()),
        Err(TestFailed::NotSent(why)) => Err(WebError::SendFailed(why)),
    }
}
