//! Appointments: doctors' plans (admin), free slots, and bookings made, moved and cancelled by
//! reception or an API token. Every change is one engine command: the seat is claimed in the
//! same transaction as its event, so two requests for the last seat cannot both win.

use actix_web::{HttpResponse, web};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Actor;
use super::body::{Json, NoBody, PatientInput};
use super::error::{ErrorBody, WebError};
use super::state::AppState;
use crate::auth::{Need, PrincipalKind};
use crate::domain::appointments::{
    AppointmentOp, Booking, BookingError, BookingOp, BookingState, Channel, Plan, booking_code,
};
use crate::domain::{Command, DomainError, PatientDetails, ServiceId, Source, Timestamp};
use crate::engine::{Changed, Outcome};

/// Most days one slots request covers.
const MAX_DAYS: u16 = 14;
/// Tries to draw a booking code that is not in use.
const CODE_TRIES: usize = 8;

/// A doctor's plans, for staff.
#[utoipa::path(get, path = "/api/v1/plans", tag = "appointments",
    responses((status = 200, body = Vec<Object>)))]
pub async fn plans_list(state: web::Data<AppState>) -> HttpResponse {
    let plans: Vec<Plan> = state.hub.read().appointments.plans.all().cloned().collect();
    HttpResponse::Ok().json(plans)
}

/// Adds or replaces a doctor's plan for a service (the doctor must be a staff user with the
/// doctor role; one doctor cannot have two plans at the same hours).
#[utoipa::path(put, path = "/api/v1/admin/plans", tag = "appointments",
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn plan_put(
    state: web::Data<AppState>,
    actor: Actor,
    body: Json<Plan>,
) -> Result<HttpResponse, WebError> {
    let plan = body.into_inner();
    let (doctor, service) = (plan.doctor.clone(), plan.service.clone());
    let command = Command::Appointment {
        op: AppointmentOp::SetPlan {
            plan: Box::new(plan),
        },
        contact: None,
    };
    state.execute(command, actor.origin(Source::Api)).await?;
    let published = state.hub.read();
    let plan = published
        .appointments
        .plans
        .get(&doctor, &service)
        .cloned()
        .ok_or_else(|| WebError::Internal("the plan set is not there".into()))?;
    Ok(HttpResponse::Ok().json(plan))
}

/// Removes a plan. Its bookings stay (cancel them first if they must go).
#[utoipa::path(delete, path = "/api/v1/admin/plans/{doctor}/{service}", tag = "appointments",
    params(("doctor" = String, Path), ("service" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn plan_delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let (doctor, service) = path.into_inner();
    let service = ServiceId::parse(&service)?;
    let command = Command::Appointment {
        op: AppointmentOp::RemovePlan { doctor, service },
        contact: None,
    };
    state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/slots` query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// The service.
    pub service: ServiceId,
    /// One doctor (default: every doctor with a plan for the service).
    pub doctor: Option<String>,
    /// The first date (clinic's calendar; default: today).
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<Date>,
    /// How many days from `date` (1–14, default 1).
    pub days: Option<u16>,
    /// Only slots with a free seat.
    #[serde(default)]
    pub free: bool,
}

/// A slot as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    /// The doctor.
    pub doctor: String,
    /// When the patient is due.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// When the slot ends.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// The start in the clinic's time zone (`2026-12-07T09:00:00+05:30`).
    pub local: String,
    /// Seats in the slot.
    pub seats: u16,
    /// Seats still free.
    pub free: u16,
}

/// The slots of a service (or one doctor) that can still be booked, with their free seats, in
/// time order. Reception books from these; `free=true` leaves out the full ones.
#[utoipa::path(get, path = "/api/v1/slots", tag = "appointments",
    params(("service" = String, Query), ("doctor" = Option<String>, Query),
        ("date" = Option<String>, Query), ("days" = Option<u16>, Query),
        ("free" = Option<bool>, Query)),
    responses((status = 200, body = Vec<SlotView>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn slots_get(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<SlotsQuery>,
) -> Result<HttpResponse, WebError> {
    let slots = slot_views(&state, query.into_inner(), channel_of(&actor))?;
    Ok(HttpResponse::Ok().json(slots))
}

/// The bookable slots a [`SlotsQuery`] asks for, as `channel` may book them, in time order.
pub(super) fn slot_views(
    state: &AppState,
    query: SlotsQuery,
    channel: Channel,
) -> Result<Vec<SlotView>, WebError> {
    let days = query.days.unwrap_or(1);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(WebError::InvalidQuery(format!("days: 1 to {MAX_DAYS}")));
    }
    let zone = clinic_zone(state);
    let now = state.clock.now();
    let first = query
        .date
        .unwrap_or_else(|| now.to_zoned(zone.clone()).date());
    let published = state.hub.read();
    if !published.state.services.contains_key(&query.service) {
        return Err(DomainError::ServiceNotFound(query.service).into());
    }
    let appointments = &published.appointments;
    let plans: Vec<&Plan> = appointments
        .plans
        .all()
        .filter(|p| p.service == query.service)
        .filter(|p| query.doctor.as_ref().is_none_or(|d| &p.doctor == d))
        .collect();
    if let Some(doctor) = &query.doctor
        && plans.is_empty()
    {
        return Err(DomainError::Booking(BookingError::NoPlan {
            doctor: doctor.clone(),
            service: query.service,
        })
        .into());
    }
    let mut slots = Vec::new();
    for offset in 0..days {
        let Ok(date) = first.checked_add(jiff::Span::new().days(offset)) else {
            break;
        };
        for plan in &plans {
            for free in appointments.ledger.slots(plan, date, &zone, now, channel) {
                if query.free && free.free() == 0 {
                    continue;
                }
                slots.push(SlotView {
                    doctor: plan.doctor.clone(),
                    start: free.slot.start,
                    end: free.slot.end,
                    local: local_time(free.slot.start, &zone),
                    seats: free.slot.seats,
                    free: free.free(),
                });
            }
        }
    }
    slots.sort_by(|a, b| (a.start, &a.doctor).cmp(&(b.start, &b.doctor)));
    Ok(slots)
}

/// `POST /api/v1/bookings` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookRequest {
    /// The doctor (login name).
    pub doctor: String,
    /// The service.
    pub service: ServiceId,
    /// The slot's start, as `GET /api/v1/slots` gives it (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// The patient's name and phone (kept outside the event log, deleted after
    /// `store.patient_details_days`; the phone also counts for the cap per day).
    pub patient: Option<PatientInput>,
    /// Book beyond the slot's seats or the patient's cap (staff only; in the audit trail).
    #[serde(default)]
    pub overbook: bool,
}

/// `POST /api/v1/bookings/{id}/reschedule` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    /// The new slot's doctor (default: the same).
    pub doctor: Option<String>,
    /// The new slot's start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// Beyond the new slot's seats (staff only).
    #[serde(default)]
    pub overbook: bool,
}

/// A booking as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingView {
    /// Id.
    pub id: u64,
    /// The code printed and read out over the phone.
    pub code: String,
    /// The doctor.
    pub doctor: String,
    /// The service.
    #[schema(value_type = String)]
    pub service: ServiceId,
    /// When the patient is due.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// When the slot ends.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// The start in the clinic's time zone.
    pub local: String,
    /// `booked`, `checked_in`, `cancelled` or `no_show`.
    pub state: &'static str,
    /// Booked beyond the seats or the cap.
    pub overbooked: bool,
    /// The room the doctor sits in that day, if the plan says.
    #[schema(value_type = Option<String>)]
    pub room: Option<crate::domain::RoomId>,
    /// The patient's details (reception, and the booking's doctor; absent once deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientDetails>,
    /// The ticket of a checked-in booking, as it stands in today's queue (absent once the day
    /// it was issued on is closed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<BookingTicket>,
}

/// A checked-in booking's ticket: where the patient is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingTicket {
    /// Its id.
    pub id: u64,
    /// Its number.
    pub number: String,
    /// `waiting`, `called`, `done`, `no_show`, `cancelled` or `transferred`.
    pub state: &'static str,
    /// The room that called it.
    #[schema(value_type = Option<String>)]
    pub room: Option<crate::domain::RoomId>,
    /// When it was called.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub called_at: Option<Timestamp>,
}

impl BookingTicket {
    fn of(ticket: &crate::domain::Ticket) -> Self {
        Self {
            id: ticket.id.0,
            number: ticket.number.clone(),
            state: ticket.state.as_str(),
            room: ticket.room.clone(),
            called_at: ticket.called_at,
        }
    }
}

impl BookingView {
    fn of(booking: &Booking, zone: &jiff::tz::TimeZone, plan: Option<&Plan>) -> Self {
        Self {
            id: booking.id,
            code: booking.code.clone(),
            doctor: booking.doctor.clone(),
            service: booking.service.clone(),
            start: booking.start,
            end: booking.end,
            local: local_time(booking.start, zone),
            state: booking.state.as_str(),
            overbooked: booking.overbooked,
            room: plan.and_then(|p| p.room_on(booking.date).cloned()),
            patient: None,
            ticket: None,
        }
    }
}

/// Books a slot: `201` with the booking and its code; `409 slot-taken` when its last seat has
/// just gone (nothing is booked), `409 patient-cap-reached`, `422` for a time that is not a
/// bookable slot.
#[utoipa::path(post, path = "/api/v1/bookings", tag = "appointments",
    request_body = BookRequest,
    responses((status = 201, body = BookingView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 400, body = ErrorBody)))]
pub async fn booking_create(
    state: web::Data<AppState>,
    actor: Actor,
    body: Json<BookRequest>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    let contact = patient_of(&state, body.patient.as_ref())?;
    let id = make_booking(
        &state,
        &body,
        contact.clone(),
        channel_of(&actor),
        actor.origin(Source::Api),
    )
    .await?;
    let mut view = view_of(&state, id)?;
    view.patient = contact;
    Ok(HttpResponse::Created().json(view))
}

/// A booking's patient details, checked.
pub(super) fn patient_of(
    state: &AppState,
    patient: Option<&PatientInput>,
) -> Result<Option<PatientDetails>, WebError> {
    let now = state.clock.now();
    Ok(match patient {
        Some(p) => {
            let mut details = PatientDetails::new(&p.name, &p.phone, now)
                .map_err(|e| WebError::InvalidBody(e.to_string()))?;
            details
                .set_contact(&p.email, &p.language, |code| {
                    state.config.screens.languages.iter().any(|l| l == code)
                })
                .map_err(|e| WebError::InvalidBody(e.to_string()))?;
            details.messages = p.messages.unwrap_or(true);
            Some(details)
        }
        None => None,
    })
}

/// Books `body`'s slot for `contact` as `channel` (a fresh code, drawn again if in use): the
/// booking's id.
pub(super) async fn make_booking(
    state: &AppState,
    body: &BookRequest,
    contact: Option<PatientDetails>,
    channel: Channel,
    origin: crate::domain::Origin,
) -> Result<u64, WebError> {
    let patient_key = contact
        .as_ref()
        .map(|c| c.phone.as_str())
        .filter(|phone| !phone.is_empty())
        .map(|phone| {
            state
                .links
                .keyed_hash(&crate::domain::notification::phone_key(phone))
        });
    let mut last = None;
    for _ in 0..CODE_TRIES {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| WebError::Internal(e.to_string()))?;
        let command = Command::Appointment {
            op: AppointmentOp::Booking {
                op: BookingOp::Book {
                    doctor: body.doctor.clone(),
                    service: body.service.clone(),
                    start: body.start,
                    code: booking_code(random),
                    patient_key: patient_key.clone(),
                    channel,
                    overbook: body.overbook,
                },
            },
            contact: contact.clone(),
        };
        match state.execute(command, origin.clone()).await {
            Ok(outcome) => return booking_of(&outcome),
            Err(WebError::Domain(DomainError::Booking(BookingError::CodeInUse))) => {
                last = Some(BookingError::CodeInUse);
            }
            Err(e) => return Err(e),
        }
    }
    Err(WebError::Internal(format!(
        "no free booking code after {CODE_TRIES} tries: {last:?}"
    )))
}

/// `GET /api/v1/bookings` query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingsQuery {
    /// The date (clinic's calendar; default: today).
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<Date>,
    /// One doctor.
    pub doctor: Option<String>,
}

/// The bookings of a day (every state), in time order; reception also gets the patients'
/// details.
#[utoipa::path(get, path = "/api/v1/bookings", tag = "appointments",
    params(("date" = Option<String>, Query), ("doctor" = Option<String>, Query)),
    responses((status = 200, body = Vec<BookingView>), (status = 400, body = ErrorBody)))]
pub async fn bookings_list(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<BookingsQuery>,
) -> Result<HttpResponse, WebError> {
    let zone = clinic_zone(&state);
    let date = query
        .date
        .unwrap_or_else(|| state.clock.now().to_zoned(zone.clone()).date());
    let mut views: Vec<BookingView> = {
        let published = state.hub.read();
        let appointments = &published.appointments;
        appointments
            .ledger
            .all()
            .filter(|b| b.date == date)
            .filter(|b| query.doctor.as_ref().is_none_or(|d| &b.doctor == d))
            .map(|b| {
                let mut view =
                    BookingView::of(b, &zone, appointments.plans.get(&b.doctor, &b.service));
                if let BookingState::CheckedIn { ticket, .. } = b.state {
                    view.ticket = published.state.tickets.get(&ticket).map(BookingTicket::of);
                }
                view
            })
            .collect()
    };
    views.sort_by_key(|v| (v.start, v.id));
    // Reception sees every patient's name and phone; a doctor those of their own bookings.
    let me = match actor.0.as_ref().map(|p| &p.kind) {
        Some(PrincipalKind::User { name }) => Some(name.clone()),
        _ => None,
    };
    let reception = is_reception(&actor);
    let shown: Vec<bool> = views
        .iter()
        .map(|v| reception || me.as_deref() == Some(v.doctor.as_str()))
        .collect();
    if shown.iter().any(|s| *s) {
        let store = std::sync::Arc::clone(&state.store);
        let ids: Vec<u64> = views
            .iter()
            .zip(&shown)
            .filter(|(_, s)| **s)
            .map(|(v, _)| v.id)
            .collect();
        let contacts = super::state::blocking(move || {
            ids.into_iter()
                .map(|id| store.booking_contact(id))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let patients = views.iter_mut().zip(&shown).filter(|(_, s)| **s);
        for ((view, _), contact) in patients.zip(contacts) {
            view.patient = contact;
        }
    }
    Ok(HttpResponse::Ok().json(views))
}

/// One booking.
#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "appointments",
    params(("id" = u64, Path)),
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody)))]
pub async fn booking_get(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let mut view = view_of(&state, id)?;
    if is_reception(&actor) {
        let store = std::sync::Arc::clone(&state.store);
        view.patient = super::state::blocking(move || store.booking_contact(id)).await?;
    }
    Ok(HttpResponse::Ok().json(view))
}

/// Cancels a booking: its seat is free again at once.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", tag = "appointments",
    params(("id" = u64, Path)),
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn booking_cancel(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let command = Command::Appointment {
        op: AppointmentOp::Booking {
            op: BookingOp::Cancel { id },
        },
        contact: None,
    };
    state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(view_of(&state, id)?))
}

/// Moves a booking to another slot in one step: when the new slot is taken (`409 slot-taken`)
/// the booking keeps its old one.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/reschedule", tag = "appointments",
    params(("id" = u64, Path)), request_body = RescheduleRequest,
    responses((status = 200, body = BookingView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn booking_reschedule(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
    body: Json<RescheduleRequest>,
) -> Result<HttpResponse, WebError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let doctor = match body.doctor {
        Some(doctor) => doctor,
        None => state
            .hub
            .read()
            .appointments
            .ledger
            .get(id)
            .map(|b| b.doctor.clone())
            .ok_or(DomainError::Booking(BookingError::NotFound(id)))?,
    };
    let command = Command::Appointment {
        op: AppointmentOp::Booking {
            op: BookingOp::Reschedule {
                id,
                doctor,
                start: body.start,
                channel: channel_of(&actor),
                overbook: body.overbook,
            },
        },
        contact: None,
    };
    state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(view_of(&state, id)?))
}

/// Staff in the console book as `staff` (no notice, may overbook); API tokens as `api`.
fn channel_of(actor: &Actor) -> Channel {
    match actor.0.as_ref().map(|p| &p.kind) {
        Some(PrincipalKind::User { .. }) => Channel::Staff,
        Some(PrincipalKind::Token { .. }) => Channel::Api,
        None => Channel::Public,
    }
}

fn is_reception(actor: &Actor) -> bool {
    actor.0.as_ref().is_some_and(|p| p.can(Need::Reception))
}

fn booking_of(outcome: &Outcome) -> Result<u64, WebError> {
    match outcome {
        Outcome::Applied(applied) => match &applied.changed {
            Changed::Booking(id) => Ok(*id),
            other => Err(WebError::Internal(format!("a booking answered {other:?}"))),
        },
        other => Err(WebError::Internal(format!("a booking answered {other:?}"))),
    }
}

/// `at` in the clinic's zone as the API gives it: `2026-12-07T09:00:00+05:30`.
pub(super) fn local_time(at: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The clinic's time zone (as the engine's calendar has it).
pub(super) fn clinic_zone(state: &AppState) -> jiff::tz::TimeZone {
    state
        .config
        .calendar()
        .map(|c| c.time_zone().clone())
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

fn view_of(state: &AppState, id: u64) -> Result<BookingView, WebError> {
    let zone = clinic_zone(state);
    let published = state.hub.read();
    let appointments = &published.appointments;
    let booking = appointments
        .ledger
        .get(id)
        .ok_or(DomainError::Booking(BookingError::NotFound(id)))?;
    Ok(BookingView::of(
        booking,
        &zone,
        appointments.plans.get(&booking.doctor, &booking.service),
    ))
}
