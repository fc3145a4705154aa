//! What the API and the WebSocket send: typed views of the committed state, with the derived
//! facts a screen needs (positions, wait estimates, who is next and why).

use jiff::civil::Date;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::feedback::{check_open, in_window};
use crate::domain::{
    Clinic, PickReason, Placement, Policy, QueueState, Room, RoomId, Service, ServiceId, Ticket,
    TicketId, TicketState, Timestamp,
};
use std::collections::BTreeMap;

use actix_web::{HttpRequest, web};

use super::error::WebError;
use super::state::AppState;
use crate::devices::printer::TicketPrint;
use crate::engine::{Applied, Changed, Outcome};
use crate::hub::Published;

/// How many recent calls a snapshot lists.
const RECENT_CALLS: usize = 10;

/// A ticket with where it stands.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// People ahead of it in its service's queue (waiting tickets only).
    pub position: Option<usize>,
    /// Estimated wait, minutes (waiting tickets with an open room only).
    pub eta_minutes: Option<u32>,
    /// Range of the estimate, minutes: `[low, high]`.
    pub eta_range_minutes: Option<[u32; 2]>,
    /// The patient's status page (`/t/...`), on answers that issue or show one ticket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_path: Option<String>,
    /// On the answer that issued it: what became of its print job (`queued`; `unconfirmed`:
    /// sent to a printer that gives no status; `delayed`: the printer is not ready and prints
    /// it when it is back; `no_printer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub print: Option<crate::devices::printer::PrintOutcome>,
}

impl TicketView {
    /// A view of `ticket` placed as `placement` says.
    pub fn new(ticket: Ticket, placement: Option<Placement>) -> Self {
        let eta = placement.and_then(|p| p.eta);
        Self {
            position: placement.map(|p| p.position),
            eta_minutes: eta.map(|e| e.minutes),
            eta_range_minutes: eta.map(|e| [e.low, e.high]),
            status_path: None,
            print: None,
            ticket,
        }
    }

    /// A view of `ticket`, placed in `state`.
    pub fn placed(ticket: &Ticket, state: &QueueState, policy: &Policy) -> Self {
        Self::new(ticket.clone(), state.placement(ticket, policy))
    }
}

/// What a patient's status page shows: one ticket, nothing else (no other patients' numbers,
/// no names).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatusView {
    /// The number.
    pub number: String,
    /// Its service's name.
    pub service_name: String,
    /// Its state (after a transfer: the state of the ticket it became).
    pub state: TicketState,
    /// People ahead (waiting only).
    pub position: Option<usize>,
    /// Estimated wait, minutes.
    pub eta_minutes: Option<u32>,
    /// Range of the estimate.
    pub eta_range_minutes: Option<[u32; 2]>,
    /// The room that called it (called only).
    pub room_name: Option<String>,
    /// When it was called.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub called_at: Option<Timestamp>,
    /// How many times it was recalled.
    pub recall_count: u32,
    /// Whether the patient answered "How was your visit?" (asked once the ticket is `done`).
    pub feedback_given: bool,
    /// Whether the patient may answer now: `done`, not answered, and the visit ended at most
    /// 7 days ago (also for a ticket of a closed day).
    pub feedback_open: bool,
}

/// Who a room would call next, and why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NextUp {
    /// The ticket.
    pub ticket: TicketId,
    /// Its number.
    pub number: String,
    /// Why it is next.
    pub reason: PickReason,
}

/// A room as screens see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RoomView {
    /// Id.
    pub id: RoomId,
    /// Name.
    pub name: String,
    /// Name in other languages.
    pub names: std::collections::BTreeMap<String, String>,
    /// Services it calls.
    pub services: Vec<ServiceId>,
    /// Its place in lists (rooms come in this order).
    pub order: Option<u32>,
    /// Whether it is calling.
    pub open: bool,
    /// On break: open, but calling nobody until it resumes (displays show "On break").
    pub paused: bool,
    /// The ticket it serves.
    pub serving: Option<TicketView>,
    /// Who "next" would call now.
    pub next_up: Option<NextUp>,
    /// Waiting tickets it could call.
    pub waiting: usize,
    /// Its average service time, minutes (the configured default until it has history).
    pub service_minutes: f64,
    /// Until when its last "next" can be undone.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub undo_until: Option<Timestamp>,
}

/// A recent call, for the displays' "last calls" list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CallView {
    /// The ticket.
    pub ticket: TicketId,
    /// Its number.
    pub number: String,
    /// The room that called it.
    pub room: RoomId,
    /// That room's name.
    pub room_name: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub called_at: Timestamp,
    /// Its state now.
    pub state: TicketState,
}

/// How many wait for a service, and how long the last of them is expected to wait.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ServiceCount {
    /// The service.
    #[schema(value_type = String)]
    pub service: ServiceId,
    /// Waiting tickets.
    pub waiting: usize,
    /// Estimated wait of the last in line, minutes (null: nobody waits, or no open room).
    pub eta_minutes: Option<u32>,
    /// Range of that estimate, minutes: `[low, high]`.
    pub eta_range_minutes: Option<[u32; 2]>,
}

/// The queue at one sequence number: what a screen needs to draw itself — rooms, recent calls
/// and per-service counts, not the waiting tickets (`GET /api/v1/queue/waiting` pages those).
/// Its size does not grow with the queue.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct QueueView {
    /// The sequence number of the last event included.
    pub seq: u64,
    /// The clinic day.
    #[schema(value_type = String, format = Date)]
    pub day: Date,
    /// Clinic settings.
    pub clinic: Clinic,
    /// Services, in list order.
    pub services: Vec<Service>,
    /// Rooms, in list order.
    pub rooms: Vec<RoomView>,
    /// Per service (in the order of `services`): how many wait, the last one's wait.
    pub counts: Vec<ServiceCount>,
    /// The most recent calls, newest first.
    pub recent_calls: Vec<CallView>,
}

/// A page of waiting tickets (`GET /api/v1/queue/waiting`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WaitingPage {
    /// The sequence number of the last event included.
    pub seq: u64,
    /// How many tickets wait in all for the services asked (every page).
    pub total: usize,
    /// The tickets of this page, in call order.
    pub tickets: Vec<TicketView>,
    /// Pass this as `after` for the next page (null: this is the last).
    #[schema(value_type = Option<u64>)]
    pub next: Option<TicketId>,
}

/// Which waiting tickets a page lists.
#[derive(Clone, Debug, Default)]
pub struct WaitingAsk {
    /// One service's, in its call order.
    pub service: Option<ServiceId>,
    /// Those a room could call, in the order it calls them.
    pub room: Option<RoomId>,
    /// After this ticket (the `next` of the previous page).
    pub after: Option<TicketId>,
    /// At most this many.
    pub limit: usize,
}

/// A page of the waiting tickets: of every service (service by service, each in call order),
/// of one service, or of one room (merged in the order the room calls them).
pub fn waiting_page(
    published: &Published,
    policy: &Policy,
    ask: &WaitingAsk,
) -> Result<WaitingPage, crate::domain::DomainError> {
    let state = &published.state;
    let (services, merged): (Vec<ServiceId>, bool) = match (&ask.room, &ask.service) {
        (Some(room), _) => (state.room(room)?.services.clone(), true),
        (None, Some(service)) => (vec![state.service(service)?.id.clone()], false),
        (None, None) => (state.services.keys().cloned().collect(), false),
    };
    let after = match ask.after {
        Some(id) => Some(state.ticket(id)?),
        None => None,
    };
    let (tickets, more) = state.waiting_page(&services, merged, after, ask.limit);
    let mut counted: Vec<&ServiceId> = services.iter().collect();
    counted.sort();
    counted.dedup();
    Ok(WaitingPage {
        seq: published.seq,
        total: counted
            .into_iter()
            .map(|s| state.index().waiting_count(s))
            .sum(),
        next: if more {
            tickets.last().map(|t| t.id)
        } else {
            None
        },
        tickets: tickets
            .into_iter()
            .map(|t| TicketView::placed(t, state, policy))
            .collect(),
    })
}

/// A room's view.
pub fn room_view(state: &QueueState, room: &Room, policy: &Policy, now: Timestamp) -> RoomView {
    let serving = room
        .serving
        .and_then(|id| state.tickets.get(&id))
        .map(|t| TicketView::new(t.clone(), None));
    let next_up = state.preview_next(&room.id, now, policy).and_then(|pick| {
        state.tickets.get(&pick.ticket).map(|t| NextUp {
            ticket: t.id,
            number: t.number.clone(),
            reason: pick.reason,
        })
    });
    let service_secs = if room.stats.samples == 0 {
        policy.default_service_secs
    } else {
        room.stats.mean_secs
    };
    RoomView {
        id: room.id.clone(),
        name: room.name.clone(),
        names: room.names.clone(),
        services: room.services.clone(),
        order: room.order,
        open: room.open,
        paused: room.paused,
        serving,
        next_up,
        waiting: state.waiting_count(room),
        service_minutes: (service_secs / 6.0).round() / 10.0,
        undo_until: room
            .last_next
            .as_ref()
            .and_then(|l| l.at.checked_add(policy.undo_window).ok())
            .filter(|until| *until > now),
    }
}

/// The snapshot of the queue: O(rooms + services + recent calls), whatever the queue holds.
pub fn queue_view(published: &Published, policy: &Policy, now: Timestamp) -> QueueView {
    let state = &published.state;
    let recent_calls = state
        .recent_calls()
        .take(RECENT_CALLS)
        .filter_map(|t| {
            let room = t.room.as_ref()?;
            Some(CallView {
                ticket: t.id,
                number: t.number.clone(),
                room: room.clone(),
                room_name: state
                    .rooms
                    .get(room)
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                called_at: t.called_at?,
                state: t.state,
            })
        })
        .collect();
    let counts = state
        .services
        .keys()
        .map(|service| {
            let waiting = state.index().waiting_count(service);
            let eta = waiting
                .checked_sub(1)
                .and_then(|last| state.placed_at(service, last, policy).eta);
            ServiceCount {
                service: service.clone(),
                waiting,
                eta_minutes: eta.map(|e| e.minutes),
                eta_range_minutes: eta.map(|e| [e.low, e.high]),
            }
        })
        .collect();
    QueueView {
        seq: published.seq,
        day: state.day,
        clinic: state.clinic.clone(),
        services: state.services_in_order().into_iter().cloned().collect(),
        rooms: state
            .rooms_in_order()
            .into_iter()
            .map(|r| room_view(state, r, policy, now))
            .collect(),
        counts,
        recent_calls,
    }
}

/// `POST /api/v1/rooms/{id}/next` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextResponse {
    /// The room.
    pub room: RoomId,
    /// The ticket called (null: nobody waits).
    pub called: Option<TicketView>,
    /// The ticket finished (null: the room was serving nobody).
    pub finished: Option<TicketView>,
    /// Why `called` was picked.
    pub reason: Option<PickReason>,
    /// True when this press came within the debounce window of the last one and was ignored;
    /// `called` is then what the room is serving.
    pub debounced: bool,
}

/// Answer of recall, done and no-show.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomTicketResponse {
    /// The room.
    pub room: RoomId,
    /// The ticket, in its new state.
    pub ticket: TicketView,
}

/// `POST /api/v1/rooms/{id}/undo` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UndoResponse {
    /// The room.
    pub room: RoomId,
    /// The tickets as they are again.
    pub restored: Vec<TicketView>,
}

/// `POST /api/v1/tickets/{id}/transfer` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    /// The old ticket, now `transferred`.
    pub from: TicketView,
    /// The new waiting ticket (same number).
    pub to: TicketView,
}

/// Views of the given tickets as they are now, placed in the queue.
pub fn views(state: &AppState, ids: &[TicketId]) -> Vec<TicketView> {
    let published = state.hub.read();
    ids.iter()
        .filter_map(|id| published.state.tickets.get(id))
        .map(|t| TicketView::placed(t, &published.state, state.hub.policy()))
        .collect()
}

pub fn view_of(state: &AppState, id: TicketId) -> Result<TicketView, WebError> {
    views(state, &[id]).pop().ok_or(WebError::Domain(
        crate::domain::DomainError::TicketNotFound(id),
    ))
}

/// A ticket from today's queue (placed) or from the archive.
pub async fn find_ticket(state: &AppState, id: TicketId) -> Result<TicketView, WebError> {
    if let Ok(view) = view_of(state, id) {
        return Ok(view);
    }
    let store = state.store.clone();
    let archived = web::block(move || store.ticket(id)).await??;
    match archived {
        Some(t) => Ok(TicketView::new(t, None)),
        None => Err(crate::domain::DomainError::TicketNotFound(id).into()),
    }
}

/// Kiosk settings as the kiosk uses them: the admin's, else the configuration file's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct KioskEffective {
    /// Ask whether the patient needs priority.
    pub priority: bool,
    /// Back to the start after showing a ticket, seconds.
    pub reset_secs: u64,
    /// Tickets a minute from one kiosk without a login; 0: no limit.
    pub tickets_per_minute: u32,
}

/// The kiosk settings in force now.
pub fn kiosk_effective(state: &AppState) -> KioskEffective {
    let set = state.hub.read().state.clinic.kiosk.clone();
    let file = &state.config.screens;
    KioskEffective {
        priority: set.priority.unwrap_or(file.kiosk_priority),
        reset_secs: set.reset_secs.map_or(file.kiosk_reset_secs, u64::from),
        tickets_per_minute: set
            .tickets_per_minute
            .unwrap_or(file.kiosk_tickets_per_minute),
    }
}

/// A room as the admin page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRoom {
    /// Id.
    #[schema(value_type = String)]
    pub id: RoomId,
    /// Name.
    pub name: String,
    /// Names in other languages.
    pub names: BTreeMap<String, String>,
    /// The services it calls.
    #[schema(value_type = Vec<String>)]
    pub services: Vec<ServiceId>,
    /// Its place in lists.
    pub order: Option<u32>,
    /// Whether it is open.
    pub open: bool,
    /// The doctors assigned to it (user names).
    pub doctors: Vec<String>,
}

impl AdminRoom {
    /// `room` as the admin pages show it, with its doctors: the enabled `users` assigned to it.
    pub fn of(room: &Room, users: &[crate::auth::UserView]) -> Self {
        Self {
            id: room.id.clone(),
            name: room.name.clone(),
            names: room.names.clone(),
            services: room.services.clone(),
            order: room.order,
            open: room.open,
            doctors: users
                .iter()
                .filter(|u| !u.disabled && u.rooms.contains(&room.id))
                .map(|u| u.name.clone())
                .collect(),
        }
    }
}

/// The ticket as the printer prints it: every line in `lang` (English when unknown).
pub fn ticket_print(
    state: &AppState,
    req: &HttpRequest,
    view: &TicketView,
    lang: &str,
) -> TicketPrint {
    let catalog = state.catalogs.get(lang);
    let published = state.hub.read();
    let ticket = &view.ticket;
    let clinic = published.state.clinic.name.clone();
    let service = published.state.services.get(&ticket.service).map_or_else(
        || ticket.service.to_string(),
        |s| s.name_in(&catalog.code).to_owned(),
    );
    drop(published);
    let zone = state
        .config
        .calendar()
        .map(|c| c.time_zone().clone())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let issued = ticket
        .created_at
        .to_zoned(zone)
        .strftime("%d/%m/%Y %H:%M")
        .to_string();
    let ahead = match view.position {
        Some(0) => catalog.text("kiosk.ahead_none").to_owned(),
        Some(1) => catalog.text("kiosk.ahead_one").to_owned(),
        Some(n) => catalog.format("kiosk.ahead_many", &[("n", &n.to_string())]),
        None => String::new(),
    };
    let wait = view.eta_range_minutes.map(|[low, high]| {
        let amount = if high == 0 {
            catalog.text("kiosk.wait_soon").to_owned()
        } else if low == high {
            catalog.format("common.minutes", &[("n", &high.to_string())])
        } else {
            catalog.format(
                "common.minutes_range",
                &[("low", &low.to_string()), ("high", &high.to_string())],
            )
        };
        format!("{}: {amount}", catalog.text("kiosk.estimated_wait"))
    });
    let status_url = state
        .config
        .printer
        .qr
        .then(|| public_url(state, req, &state.links.path(ticket.id)));
    TicketPrint {
        lang: catalog.code.clone(),
        clinic,
        number: ticket.number.clone(),
        service,
        issued,
        ahead,
        wait,
        scan_hint: status_url
            .as_ref()
            .map(|_| catalog.text("kiosk.scan_to_follow").to_owned()),
        status_url,
        footer: state.config.printer.footer.clone(),
    }
}

/// The language a ticket is printed in: the one asked for if the clinic has it, else the
/// first kiosk language.
pub fn print_language(state: &AppState, asked: Option<&str>) -> Result<String, WebError> {
    check_language(state, asked)?;
    Ok(match asked {
        Some(code) => code.to_owned(),
        None => state
            .config
            .screens
            .languages
            .first()
            .cloned()
            .unwrap_or_else(|| "en".to_owned()),
    })
}

/// Refuses a `lang` the clinic has no messages for (and so any control character or overlong
/// text), naming the codes it has.
pub fn check_language(state: &AppState, asked: Option<&str>) -> Result<(), WebError> {
    match asked {
        Some(code) if !state.catalogs.has(code) => Err(WebError::UnknownLanguage(
            state
                .catalogs
                .all()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )),
        _ => Ok(()),
    }
}

/// The absolute URL of a path as patients' phones reach it.
pub fn public_url(state: &AppState, req: &HttpRequest, path: &str) -> String {
    let base = &state.config.screens.public_url;
    if base.is_empty() {
        let info = req.connection_info();
        format!("{}://{}{path}", info.scheme(), info.host())
    } else {
        format!("{}{path}", base.trim_end_matches('/'))
    }
}

/// The tickets a command acted on ([`Outcome::tickets`]), each as it is now: placed in
/// today's queue, or from the archive if the day closed in between.
pub async fn tickets_of(state: &AppState, outcome: &Outcome) -> Result<Vec<TicketView>, WebError> {
    let mut out = Vec::new();
    for id in outcome.tickets() {
        out.push(find_ticket(state, id).await?);
    }
    Ok(out)
}

/// The one ticket a command acted on (issue, cancel, requeue, recall, done, no-show).
pub async fn ticket_of(state: &AppState, outcome: &Outcome) -> Result<TicketView, WebError> {
    let id =
        outcome.tickets().first().copied().ok_or_else(|| {
            WebError::Internal(format!("the command changed no ticket: {outcome:?}"))
        })?;
    find_ticket(state, id).await
}

/// A transfer's old and new ticket.
pub async fn transfer_of(
    state: &AppState,
    outcome: &Outcome,
) -> Result<(TicketView, TicketView), WebError> {
    let mut views = tickets_of(state, outcome).await?.into_iter();
    match (views.next(), views.next()) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(WebError::Internal(format!(
            "the transfer changed no two tickets: {outcome:?}"
        ))),
    }
}

/// The answer to a room's "next": whom it called and finished, or, for a press within the
/// debounce window, whom it is serving.
pub fn next_of(state: &AppState, room: RoomId, outcome: &Outcome) -> NextResponse {
    let (called, finished, reason) = match outcome {
        Outcome::Applied(Applied {
            changed:
                Changed::Next {
                    called,
                    finished,
                    reason,
                },
            ..
        }) => (*called, *finished, reason.clone()),
        Outcome::Debounced { serving, .. } => (*serving, None, None),
        _ => (None, None, None),
    };
    let one = |id: Option<TicketId>| id.and_then(|id| views(state, &[id]).pop());
    NextResponse {
        room,
        called: one(called),
        finished: one(finished),
        reason,
        debounced: matches!(outcome, Outcome::Debounced { .. }),
    }
}

/// What a patient's status page shows of ticket `id` (following transfers: where the patient
/// is now), names in `lang`: from today's queue, else from the archive for
/// [`crate::domain::feedback::FEEDBACK_WINDOW`] after the visit ended (its patient may still
/// answer "How was your visit?"); `None` for an unknown ticket, or one of a closed day that
/// ended longer ago.
pub async fn status_view(
    state: &AppState,
    id: TicketId,
    lang: &str,
) -> Result<Option<StatusView>, WebError> {
    if let Some(view) = status_of(state, id, lang) {
        return Ok(Some(view));
    }
    let store = state.store.clone();
    let found =
        super::state::blocking(move || crate::engine::archived_ticket(&store, |_| false, &[], id))
            .await?;
    let Some(ticket) = found else {
        return Ok(None);
    };
    // Transfers that led back into the queue (a carried-over ticket): where the patient is.
    if let Some(view) = status_of(state, ticket.id, lang) {
        return Ok(Some(view));
    }
    let now = state.clock.now();
    if !in_window(&ticket, now) {
        return Ok(None);
    }
    let service_name = state
        .hub
        .read()
        .state
        .services
        .get(&ticket.service)
        .map(|s| s.name_in(lang).to_owned())
        .unwrap_or_default();
    Ok(Some(StatusView {
        number: ticket.number.clone(),
        service_name,
        state: ticket.state,
        position: None,
        eta_minutes: None,
        eta_range_minutes: None,
        room_name: None,
        called_at: ticket.called_at,
        recall_count: ticket.recall_count,
        feedback_given: ticket.feedback_given,
        feedback_open: check_open(&ticket, now).is_ok(),
    }))
}

/// What a patient's status page shows of ticket `id` (following transfers: where the patient
/// is now), names in `lang`; `None` if it is not in today's queue.
pub fn status_of(state: &AppState, id: TicketId, lang: &str) -> Option<StatusView> {
    let published = state.hub.read();
    let live = &published.state;
    let mut id = id;
    for _ in 0..16 {
        match live.tickets.get(&id).and_then(|t| t.transferred_to) {
            Some(next) => id = next,
            None => break,
        }
    }
    let ticket = live.tickets.get(&id)?;
    let placement = live.placement(ticket, state.hub.policy());
    let eta = placement.and_then(|p| p.eta);
    Some(StatusView {
        number: ticket.number.clone(),
        service_name: live
            .services
            .get(&ticket.service)
            .map(|s| s.name_in(lang).to_owned())
            .unwrap_or_default(),
        state: ticket.state,
        position: placement.map(|p| p.position),
        eta_minutes: eta.map(|e| e.minutes),
        eta_range_minutes: eta.map(|e| [e.low, e.high]),
        room_name: ticket
            .room
            .as_ref()
            .filter(|_| ticket.state == TicketState::Called)
            .and_then(|r| live.rooms.get(r))
            .map(|r| r.name_in(lang).to_owned()),
        called_at: ticket.called_at,
        recall_count: ticket.recall_count,
        feedback_given: ticket.feedback_given,
        feedback_open: check_open(ticket, state.clock.now()).is_ok(),
    })
}

/// The words of ticket `id`'s call in `lang` (the first screen language when `None`) and the
/// voice to speak them: "Token A 42, please go to Room 2".
pub fn announcement_of(
    state: &AppState,
    id: TicketId,
    lang: Option<&str>,
    recall: bool,
) -> Result<(String, String), WebError> {
    check_language(state, lang)?;
    let catalog = match lang {
        Some(lang) => state.catalogs.get(lang),
        None => state.catalogs.get(
            state
                .config
                .screens
                .languages
                .first()
                .map_or("en", String::as_str),
        ),
    };
    let published = state.hub.read();
    let live = &published.state;
    let ticket = live.ticket(id)?;
    let room = ticket
        .room
        .as_ref()
        .and_then(|r| live.rooms.get(r))
        .ok_or_else(|| crate::domain::DomainError::InvalidTransition {
            number: ticket.number.clone(),
            state: ticket.state,
            action: "announced",
        })?;
    let text = crate::notify::announce::announcement(
        catalog,
        recall,
        &ticket.number,
        room.name_in(&catalog.code),
    );
    Ok((text, catalog.voice.clone()))
}

/// A room as the admin pages show it, with its doctors as they are now.
pub async fn admin_room_now(state: &AppState, id: &RoomId) -> Result<AdminRoom, WebError> {
    let auth = state.auth.clone();
    let users = super::state::blocking(move || auth.users()).await?;
    let published = state.hub.read();
    Ok(AdminRoom::of(published.state.room(id)?, &users))
}
