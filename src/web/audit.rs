//! The audit trail over HTTP: `GET /api/v1/audit` lists the event log — who, what, when, from
//! which input — with filters, as JSON or CSV (admin only). The log itself is the database's
//! event table; `waitless audit verify` checks its hash chain.

use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::WebError;
use super::state::AppState;
use crate::domain::Event;

/// Most events one answer lists.
const MAX_LIMIT: usize = 5_000;
/// Events read from the database at a time while filtering.
const CHUNK: usize = 2_000;

/// Filters of `GET /api/v1/audit`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events after this sequence number (paging: pass the answer's `next`).
    pub since: Option<u64>,
    /// At most this many events (default 500, at most 5,000).
    pub limit: Option<usize>,
    /// Only events at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Only events before this time (RFC 3339).
    pub to: Option<String>,
    /// Only this actor (`user:anita`, `token:his-bridge`, `gpio17`, `anonymous`).
    pub actor: Option<String>,
    /// Only this input (`kiosk`, `staff`, `api`, `button`, `serial`, `keypad`, `system`, `cli`).
    pub source: Option<String>,
    /// Only this kind of event (`room_next`, `ticket_cancelled`, ...).
    pub kind: Option<String>,
    /// Only events about this room.
    pub room: Option<String>,
    /// Only events about this ticket: its number (`A042`) or id.
    pub ticket: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// `GET /api/v1/audit` answer (JSON).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The events that match, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    /// Pass as `since` for the next page; null when the log has no more.
    pub next: Option<u64>,
}

fn time(raw: Option<&str>, name: &str) -> Result<Option<Timestamp>, WebError> {
    raw.map(|r| {
        r.parse::<Timestamp>().map_err(|_| {
            WebError::InvalidQuery(format!(
                "{name}={r:?} is not a time like 2026-11-21T10:00:00Z"
            ))
        })
    })
    .transpose()
}

/// Whether `value` (an event as JSON) mentions a ticket with this number or id anywhere.
fn mentions_ticket(value: &Value, ticket: &str) -> bool {
    match value {
        Value::Object(map) => {
            let here = map.get("number").and_then(Value::as_str) == Some(ticket)
                || (map.contains_key("number")
                    && map
                        .get("id")
                        .and_then(Value::as_u64)
                        .is_some_and(|id| id.to_string() == ticket));
            here || map.values().any(|v| mentions_ticket(v, ticket))
        }
        Value::Array(items) => items.iter().any(|v| mentions_ticket(v, ticket)),
        _ => false,
    }
}

/// Whether `value` is about `room`: its `room` field or a ticket's.
fn mentions_room(value: &Value, room: &str) -> bool {
    match value {
        Value::Object(map) => {
            map.get("room").and_then(Value::as_str) == Some(room)
                || map.values().any(|v| mentions_room(v, room))
        }
        Value::Array(items) => items.iter().any(|v| mentions_room(v, room)),
        _ => false,
    }
}

/// The numbers of every ticket an event mentions, for the CSV.
fn ticket_numbers(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(n) = map.get("number").and_then(Value::as_str)
                && !out.iter().any(|o| o == n)
            {
                out.push(n.to_owned());
            }
            map.values().for_each(|v| ticket_numbers(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| ticket_numbers(v, out)),
        _ => {}
    }
}

/// The event log, filtered; JSON or CSV.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage, description = "JSON, or text/csv with format=csv"),
        (status = 400, body = super::error::ErrorBody)))]
pub async fn audit_get(
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    let q = query.into_inner();
    let from = time(q.from.as_deref(), "from")?;
    let to = time(q.to.as_deref(), "to")?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(WebError::InvalidQuery(format!(
                "format={other:?}: use json or csv"
            )));
        }
    };
    let limit = q.limit.unwrap_or(500).clamp(1, MAX_LIMIT);
    let store = state.store.clone();
    let (matched, next) = web::block(move || -> Result<_, WebError> {
        let mut matched: Vec<(Event, Value)> = Vec::new();
        let mut after = q.since.unwrap_or(0);
        loop {
            let chunk = store.events_after(after, CHUNK)?;
            let Some(last) = chunk.last().map(|e| e.seq) else {
                return Ok((matched, None));
            };
            for event in chunk {
                let seq = event.seq;
                if from.is_some_and(|f| event.at < f) || to.is_some_and(|t| event.at >= t) {
                    continue;
                }
                if q.actor.as_deref().is_some_and(|a| event.actor != a) {
                    continue;
                }
                let value =
                    serde_json::to_value(&event).map_err(|e| WebError::Internal(e.to_string()))?;
                if q.source.as_deref().is_some_and(|s| value["source"] != s)
                    || q.kind.as_deref().is_some_and(|k| value["kind"] != k)
                    || q.room.as_deref().is_some_and(|r| !mentions_room(&value, r))
                    || q.ticket
                        .as_deref()
                        .is_some_and(|t| !mentions_ticket(&value, t))
                {
                    continue;
                }
                matched.push((event, value));
                if matched.len() == limit {
                    return Ok((matched, Some(seq)));
                }
            }
            after = last;
        }
    })
    .await??;
    if csv {
        let mut out = csv::Writer::from_writer(Vec::new());
        let header = ["seq", "at", "source", "actor", "kind", "room", "tickets"];
        out.write_record(header)
            .map_err(|e| WebError::Internal(e.to_string()))?;
        for (event, value) in &matched {
            let mut numbers = Vec::new();
            ticket_numbers(value, &mut numbers);
            let room = value["room"].as_str().unwrap_or_default().to_owned();
            out.write_record([
                event.seq.to_string(),
                event.at.to_string(),
                value["source"].as_str().unwrap_or_default().to_owned(),
                event.actor.clone(),
                value["kind"].as_str().unwrap_or_default().to_owned(),
                room,
                numbers.join(" "),
            ])
            .map_err(|e| WebError::Internal(e.to_string()))?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| WebError::Internal(e.to_string()))?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"waitless-audit.csv\"",
            ))
            .body(bytes));
    }
    Ok(HttpResponse::Ok().json(AuditPage {
        events: matched.into_iter().map(|(_, v)| v).collect(),
        next,
    }))
}
