//! Patients' own doors to appointments: the public booking page's API (`/book`, off unless
//! `appointments.public_booking`), and a booking's link (`/b/{token}`: where it stands, cancel
//! it, add it to a calendar), which every booking has however it was made.
//!
//! The public channel books like reception does — one engine command, the seat claimed with
//! its event — but with the plan's minimum notice, never beyond the seats, a phone number
//! required (the cap per patient counts it), and a limit of bookings per client address a
//! minute. Phone verification by a one-time code needs a text-message transport that can send
//! one on demand; until the notifications outbox does, the page books without it (see
//! docs/appointments.md).

use actix_web::{HttpRequest, HttpResponse, web};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::appointments::{
    BookRequest, SlotView, SlotsQuery, clinic_zone, local_time, make_booking, patient_of,
    slot_views,
};
use super::auth::{Actor, client_ip};
use super::body::{Json, NoBody, PatientInput};
use super::error::{ErrorBody, WebError};
use super::state::AppState;
use crate::domain::appointments::{
    AppointmentOp, Booking, BookingError, BookingOp, BookingState, Channel,
};
use crate::domain::{Command, DomainError, ServiceId, Source, Timestamp};

/// `GET /api/v1/public/slots` query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicSlotsQuery {
    /// The service.
    #[schema(value_type = String)]
    pub service: ServiceId,
    /// The first date (default: today in the clinic's calendar).
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<Date>,
    /// Days from `date` (1–14, default 1).
    pub days: Option<u16>,
}

/// `POST /api/v1/public/bookings` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicBookRequest {
    /// The doctor, as the slot gives it.
    pub doctor: String,
    /// The service.
    #[schema(value_type = String)]
    pub service: ServiceId,
    /// The slot's start, as the slot gives it.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// The patient's name.
    pub name: String,
    /// The patient's phone number (required: it counts for the cap per patient, and the
    /// kiosk's check-in by phone uses it).
    pub phone: String,
    /// The language of the patient's messages (`en`, `hi`).
    #[serde(default)]
    pub language: String,
    /// The patient agrees to text messages about the booking (confirmation, reminders).
    #[serde(default)]
    pub messages: bool,
    /// The code texted to the phone (`POST /api/v1/public/phone-code`), when the clinic asks
    /// for one (`appointments.verify_phone` with a text-message transport).
    #[serde(default)]
    pub code: String,
}

/// A booking as its patient sees it (on the booking page and its API): no other patient's
/// data, no staff's.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientBookingView {
    /// The code to check in with.
    pub code: String,
    /// The doctor.
    pub doctor: String,
    /// The service.
    #[schema(value_type = String)]
    pub service: ServiceId,
    /// The start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// The end.
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    /// The start in the clinic's zone (`2026-12-07T09:00:00+05:30`).
    pub local: String,
    /// `booked`, `checked_in`, `cancelled` or `no_show`.
    pub state: &'static str,
    /// Whether the patient may still cancel it here (booked, and the slot has not begun).
    pub cancellable: bool,
    /// The booking's page (`/b/{token}`).
    pub link: String,
}

fn patient_view(state: &AppState, booking: &Booking) -> PatientBookingView {
    let zone = clinic_zone(state);
    PatientBookingView {
        code: booking.code.clone(),
        doctor: booking.doctor.clone(),
        service: booking.service.clone(),
        start: booking.start,
        end: booking.end,
        local: local_time(booking.start, &zone),
        state: booking.state.as_str(),
        cancellable: booking.state == BookingState::Booked && state.clock.now() < booking.start,
        link: format!("/b/{}", state.links.booking_token(booking.id)),
    }
}

/// 404 unless the public booking page is on.
fn public_on(state: &AppState, path: &str) -> Result<(), WebError> {
    if state.config.appointments.public_booking {
        Ok(())
    } else {
        Err(WebError::NotFound(path.to_owned()))
    }
}

/// The free slots a patient may book on `/book` (the plan's minimum notice applies).
#[utoipa::path(get, path = "/api/v1/public/slots", tag = "appointments",
    params(("service" = String, Query), ("date" = Option<String>, Query),
        ("days" = Option<u16>, Query)),
    responses((status = 200, body = Vec<SlotView>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "public booking is off, or no such service")))]
pub async fn public_slots(
    state: web::Data<AppState>,
    query: web::Query<PublicSlotsQuery>,
) -> Result<HttpResponse, WebError> {
    public_on(&state, "/api/v1/public/slots")?;
    let query = query.into_inner();
    let slots = slot_views(
        &state,
        SlotsQuery {
            service: query.service,
            doctor: None,
            date: query.date,
            days: query.days,
            free: true,
        },
        Channel::Public,
    )?;
    Ok(HttpResponse::Ok().json(slots))
}

/// A patient books a slot on `/book`: `201` with the code and the booking's link.
#[utoipa::path(post, path = "/api/v1/public/bookings", tag = "appointments",
    request_body = PublicBookRequest,
    responses((status = 201, body = PatientBookingView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn public_book(
    state: web::Data<AppState>,
    actor: Actor,
    req: HttpRequest,
    body: Json<PublicBookRequest>,
) -> Result<HttpResponse, WebError> {
    public_on(&state, "/api/v1/public/bookings")?;
    let body = body.into_inner();
    check_phone(&body.phone)?;
    let contact = patient_of(
        &state,
        Some(&PatientInput {
            name: body.name,
            phone: body.phone.clone(),
            email: String::new(),
            language: body.language,
            messages: Some(body.messages),
        }),
    )?;
    if contact.as_ref().is_none_or(|c| c.name.trim().is_empty()) {
        return Err(WebError::InvalidBody("name: the patient's name".to_owned()));
    }
    let client = client_ip(&req);
    let limit = state.config.appointments.public_bookings_per_minute;
    if !state.booking_limit.allow(client, state.clock.now(), limit) {
        tracing::warn!(%client, "public booking rate limit: {limit} a minute");
        return Err(WebError::TooManyBookings);
    }
    super::phone_code::verify(&state, &body.phone, &body.code)?;
    let request = BookRequest {
        doctor: body.doctor,
        service: body.service,
        start: body.start,
        patient: None,
        overbook: false,
    };
    let id = make_booking(
        &state,
        &request,
        contact,
        Channel::Public,
        actor.origin(Source::Api),
    )
    .await?;
    let view = booking_by_token(&state, &state.links.booking_token(id))?;
    Ok(HttpResponse::Created().json(view))
}

/// A patient's own phone number on the public pages: 6 to 15 digits (what a phone code can reach
/// and the cap per patient counts).
pub(super) fn check_phone(phone: &str) -> Result<(), WebError> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if (6..=15).contains(&digits) {
        Ok(())
    } else {
        Err(WebError::InvalidBody(
            "phone: the patient's phone number, 6 to 15 digits".to_owned(),
        ))
    }
}

/// The booking a link's token is for.
fn booking_by_token(state: &AppState, token: &str) -> Result<PatientBookingView, WebError> {
    let not_found = || WebError::NotFound(format!("/b/{token}"));
    let id = state.links.verify_booking(token).ok_or_else(not_found)?;
    let published = state.hub.read();
    let booking = published
        .appointments
        .ledger
        .get(id)
        .ok_or_else(not_found)?;
    Ok(patient_view(state, booking))
}

/// A booking, by its link's token (the patient's booking page reads it).
#[utoipa::path(get, path = "/api/v1/public/bookings/{token}", tag = "appointments",
    params(("token" = String, Path)),
    responses((status = 200, body = PatientBookingView), (status = 404, body = ErrorBody)))]
pub async fn public_booking_get(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::Ok().json(booking_by_token(&state, &token)?))
}

/// The patient cancels their booking from its link (before the slot begins).
#[utoipa::path(post, path = "/api/v1/public/bookings/{token}/cancel", tag = "appointments",
    params(("token" = String, Path)),
    responses((status = 200, body = PatientBookingView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn public_booking_cancel(
    state: web::Data<AppState>,
    actor: Actor,
    token: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let view = booking_by_token(&state, &token)?;
    let id = state
        .links
        .verify_booking(&token)
        .ok_or_else(|| WebError::NotFound(format!("/b/{token}")))?;
    if !view.cancellable {
        return Err(DomainError::Booking(BookingError::NotActive(id)).into());
    }
    let command = Command::Appointment {
        op: AppointmentOp::Booking {
            op: BookingOp::Cancel { id },
        },
        contact: None,
    };
    state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(booking_by_token(&state, &token)?))
}

/// `POST /api/v1/public/bookings/{token}/reschedule` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicRescheduleRequest {
    /// The new slot's doctor, as the slot gives it.
    pub doctor: String,
    /// The new slot's start.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
}

/// The free slots a booking may move to, from its link (its service; the plan's notice
/// applies). Works whether or not `/book` is on: the link's holder has a booking already.
#[utoipa::path(get, path = "/api/v1/public/bookings/{token}/slots", tag = "appointments",
    params(("token" = String, Path), ("date" = Option<String>, Query),
        ("days" = Option<u16>, Query)),
    responses((status = 200, body = Vec<SlotView>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn public_booking_slots(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<MoveSlotsQuery>,
) -> Result<HttpResponse, WebError> {
    let view = booking_by_token(&state, &token)?;
    let query = query.into_inner();
    let slots = slot_views(
        &state,
        SlotsQuery {
            service: view.service,
            doctor: None,
            date: query.date,
            days: query.days,
            free: true,
        },
        Channel::Public,
    )?;
    Ok(HttpResponse::Ok().json(slots))
}

/// `GET /api/v1/public/bookings/{token}/slots` query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveSlotsQuery {
    /// The first date (default: today).
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<Date>,
    /// Days from `date` (1–14, default 1).
    pub days: Option<u16>,
}

/// The patient moves their booking from its link, in one step: the old time is kept if the new
/// one has just been taken (`409 slot-taken`).
#[utoipa::path(post, path = "/api/v1/public/bookings/{token}/reschedule", tag = "appointments",
    params(("token" = String, Path)), request_body = PublicRescheduleRequest,
    responses((status = 200, body = PatientBookingView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn public_booking_reschedule(
    state: web::Data<AppState>,
    actor: Actor,
    token: web::Path<String>,
    body: Json<PublicRescheduleRequest>,
) -> Result<HttpResponse, WebError> {
    let view = booking_by_token(&state, &token)?;
    let id = state
        .links
        .verify_booking(&token)
        .ok_or_else(|| WebError::NotFound(format!("/b/{token}")))?;
    if !view.cancellable {
        return Err(DomainError::Booking(BookingError::NotActive(id)).into());
    }
    let body = body.into_inner();
    let command = Command::Appointment {
        op: AppointmentOp::Booking {
            op: BookingOp::Reschedule {
                id,
                doctor: body.doctor,
                start: body.start,
                channel: Channel::Public,
                overbook: false,
            },
        },
        contact: None,
    };
    state.execute(command, actor.origin(Source::Api)).await?;
    Ok(HttpResponse::Ok().json(booking_by_token(&state, &token)?))
}

/// `/b/{token}/booking.ics`: the booking as a calendar entry (RFC 5545), to add it to a phone's
/// calendar.
pub async fn booking_ics(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    use icalendar::{Component, EventLike};
    let view = booking_by_token(&state, &token)?;
    let (clinic, service) = {
        let published = state.hub.read();
        let service = published
            .state
            .services
            .get(&view.service)
            .map_or_else(|| view.service.to_string(), |s| s.name.clone());
        (published.state.clinic.name.clone(), service)
    };
    let at = |t: Timestamp| {
        chrono::DateTime::from_timestamp(t.as_second(), 0)
            .ok_or_else(|| WebError::Internal(format!("a booking at {t} cannot be written")))
    };
    let event = icalendar::Event::new()
        .uid(&format!("booking-{}@waitless", view.code))
        .summary(&format!("{service} — {clinic}"))
        .description(&format!(
            "Booking code {} · {} · check in at the kiosk with this code",
            view.code, view.doctor
        ))
        .location(&clinic)
        .starts(at(view.start)?)
        .ends(at(view.end)?)
        .done();
    let calendar = icalendar::Calendar::new().push(event).done();
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"booking-{}.ics\"", view.code),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(calendar.to_string()))
}
