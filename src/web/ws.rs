//! The event stream: `GET /api/v1/events[?since=SEQ]` upgraded to a WebSocket.
//!
//! On connect the client gets a snapshot of the queue with its sequence number, or — when it
//! says which sequence it saw last (`since`) and the hub still has everything after it — just
//! the events it missed. Then every event, in order. A client that falls behind gets a fresh
//! snapshot. The loop pings every `ws_heartbeat_secs` and drops a client silent for three
//! intervals. Messages are documented in docs/api.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::BoxBody;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ErrorDetail, WebError};
use super::frame::{self, MAX_CLIENT_FRAME};
use super::state::AppState;
use super::view::{self, QueueView};
use crate::devices::DeviceStatus;
use crate::hub::{FeedItem, Published, SharedEvent, Start, Subscription};

/// Query of `GET /api/v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// The last sequence number the client saw.
    pub since: Option<u64>,
}

/// Sends one event: `{"type":"event","event":{...}}`, from the JSON the hub encoded once.
async fn send_event(session: &mut Session, event: &SharedEvent) -> bool {
    let text = format!("{{\"type\":\"event\",\"event\":{}}}", event.json());
    session.text(text).await.is_ok()
}

/// A message from the server (besides `{"type":"event","event":{...}}`, see [`send_event`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The whole queue; events with a higher `seq` follow.
    Snapshot {
        /// Sequence number of the last event included.
        seq: u64,
        /// The queue.
        queue: Box<QueueView>,
    },
    /// Every device's status; sent on connect.
    Devices {
        /// The devices.
        devices: Vec<DeviceStatus>,
    },
    /// A device's status changed.
    Device {
        /// Its new status.
        device: DeviceStatus,
    },
    /// Answer to a client's `{"type":"ping"}`.
    Pong,
    /// The client sent something the server does not understand; the connection stays open.
    Error {
        /// What was wrong.
        error: ErrorDetail,
    },
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Ping,
}

/// The answer to a client's text message: a pong, or what was not understood.
fn reply_to(text: &str) -> ServerMessage {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Ping) => ServerMessage::Pong,
        Err(e) => ServerMessage::Error {
            error: ErrorDetail {
                code: "bad-message",
                message: format!(
                    "not understood ({e}); the only client message is {{\"type\":\"ping\"}}"
                ),
            },
        },
    }
}

/// Upgrades to the event stream.
#[utoipa::path(get, path = "/api/v1/events", tag = "queue",
    params(EventsQuery),
    responses((status = 101, description = "WebSocket: snapshot or replay, then events; see docs/api.md"),
        (status = 400, body = super::error::ErrorBody)))]
pub async fn events_ws(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, WebError> {
    // A frame's declared length is checked at its header, before its payload is buffered; a
    // frame over the limit ends the connection.
    let (guarded, tripwire) = frame::guard(body.into_inner(), MAX_CLIENT_FRAME);
    let mut payload: actix_web::dev::Payload = actix_web::dev::Payload::Stream {
        payload: Box::pin(guarded),
    };
    let body = web::Payload::from_request(&req, &mut payload)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let (response, session, messages) =
        actix_ws::handle(&req, body).map_err(|e| WebError::WebSocket(e.to_string()))?;
    let response = response.map_body(|_, body| BoxBody::new(tripwire.sever(body)));
    let subscription = subscribe(&state, query.since);
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let _counted = state.metrics.client();
        let heartbeat = Duration::from_secs(state.config.http.ws_heartbeat_secs);
        // Messages split over several frames are joined, up to the same small limit.
        let messages = messages
            .max_frame_size(MAX_CLIENT_FRAME)
            .aggregate_continuations()
            .max_continuation_size(MAX_CLIENT_FRAME);
        run(state, session, messages, subscription, heartbeat).await;
    });
    Ok(response)
}

fn subscribe(state: &AppState, since: Option<u64>) -> Subscription<QueueView> {
    state
        .hub
        .subscribe(since, |published| snapshot(state, published))
}

fn snapshot(state: &AppState, published: &Published) -> QueueView {
    view::queue_view(published, state.hub.policy(), state.clock.now())
}

async fn send(session: &mut Session, message: &ServerMessage) -> bool {
    match serde_json::to_string(message) {
        Ok(text) => session.text(text).await.is_ok(),
        Err(e) => {
            tracing::error!("cannot encode a WebSocket message: {e}");
            false
        }
    }
}

/// Sends where the subscription starts. False when the client is gone.
async fn send_start(session: &mut Session, start: Start<QueueView>) -> bool {
    match start {
        Start::Snapshot(queue) => {
            send(
                session,
                &ServerMessage::Snapshot {
                    seq: queue.seq,
                    queue: Box::new(queue),
                },
            )
            .await
        }
        Start::Replay(events) => {
            for event in &events {
                if !send_event(session, event).await {
                    return false;
                }
            }
            true
        }
    }
}

async fn run(
    state: Arc<AppState>,
    mut session: Session,
    mut messages: AggregatedMessageStream,
    subscription: Subscription<QueueView>,
    heartbeat: Duration,
) {
    let Subscription { start, mut feed } = subscription;
    let mut devices = state.devices.subscribe();
    let mut closing = state.hub.closing();
    let mut ticker = tokio::time::interval(heartbeat);
    let mut last_heard = Instant::now();
    let mut close_reason: Option<CloseReason> = None;
    if !send_start(&mut session, start).await {
        return;
    }
    let all = ServerMessage::Devices {
        devices: state.devices.all(),
    };
    if !send(&mut session, &all).await {
        return;
    }
    loop {
        tokio::select! {
            item = feed.next(&state.hub, |published| snapshot(&state, published)) => match item {
                FeedItem::Event(event) => {
                    if !send_event(&mut session, &event).await {
                        return;
                    }
                }
                FeedItem::Snapshot(queue) => {
                    if !send_start(&mut session, Start::Snapshot(queue)).await {
                        return;
                    }
                }
                FeedItem::Closed => {
                    close_reason = Some(CloseCode::Away.into());
                    break;
                }
            },
            change = devices.recv() => {
                let message = match change {
                    Ok(device) => ServerMessage::Device { device },
                    // Missed some changes: send them all.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        ServerMessage::Devices { devices: state.devices.all() }
                    }
                    // The board lives as long as the server: gone means shutting down.
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                if !send(&mut session, &message).await {
                    return;
                }
            }
            message = messages.recv() => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        if !send(&mut session, &reply_to(&text)).await {
                            return;
                        }
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        let reply = ServerMessage::Error {
                            error: ErrorDetail {
                                code: "bad-message",
                                message: "binary messages are not understood; send JSON text".to_owned(),
                            },
                        };
                        if !send(&mut session, &reply).await {
                            return;
                        }
                    }
                    Some(Ok(AggregatedMessage::Close(_))) | None => break,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!("WebSocket protocol error: {e}");
                        close_reason = Some(CloseCode::Protocol.into());
                        break;
                    }
                }
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > heartbeat * 3 {
                    tracing::debug!("WebSocket client silent for too long: dropping it");
                    break;
                }
                if session.ping(b"").await.is_err() {
                    return;
                }
            }
            _ = closing.changed() => {
                close_reason = Some(CloseReason {
                    code: CloseCode::Restart,
                    description: Some("waitless is restarting".to_owned()),
                });
                break;
            }
        }
    }
    let _ = session.close(close_reason).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_ping_gets_a_pong_and_anything_else_an_error() {
        assert!(matches!(
            reply_to(r#"{"type":"ping"}"#),
            ServerMessage::Pong
        ));
        for text in [
            "",
            "[]",
            r#"{"type":"pong"}"#,
            r#"{"type":"Ping"}"#,
            "\u{0}",
        ] {
            assert!(
                matches!(reply_to(text), ServerMessage::Error { .. }),
                "{text:?}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any text (up to the frame limit) gets a pong or a bad-message error, never a panic.
        #[test]
        fn any_client_text_gets_an_answer(
            text in prop_oneof![
                any::<String>(),
                r#"\{"type": ?"[a-z]{0,8}"(, ?"[a-z]{1,5}": ?[0-9a-z"]{0,6})?\}"#,
            ],
        ) {
            match reply_to(&text) {
                ServerMessage::Pong => {
                    let value = serde_json::from_str::<serde_json::Value>(&text).ok();
                    prop_assert_eq!(value.map(|v| v["type"].clone()), Some("ping".into()));
                }
                ServerMessage::Error { error } => prop_assert_eq!(error.code, "bad-message"),
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
