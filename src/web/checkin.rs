//! Check-in: a booked patient who has come gets a ticket in the live queue. At the kiosk (no
//! login) by the booking code — typed, or scanned from the booking's QR code by a USB scanner
//! that types like a keyboard — or by the phone number and the first letter of the name; at
//! reception by the booking. Either way it is one engine command ([`Command::CheckIn`]): the
//! booking is marked checked in and its ticket issued in the same transaction and event.
//!
//! Where the ticket stands in the queue is the domain's rule (`domain::rules`): on time or
//! early, in the appointment class at the slot time; after the late limit, as a walk-in.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Actor, issuer};
use super::body::{Json, NoBody};
use super::error::{ErrorBody, WebError};
use super::state::AppState;
use super::view::{self, TicketView};
use crate::domain::appointments::{BookingError, BookingState, is_booking_code, normalize_code};
use crate::domain::{Command, DomainError, Source};

/// `POST /api/v1/check-in` body: the booking code, or the phone number and the name's first
/// letter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// The booking code as printed or sent (case, spaces and dashes do not matter).
    #[serde(default)]
    pub code: Option<String>,
    /// The phone number the booking was made with.
    #[serde(default)]
    pub phone: Option<String>,
    /// The first letter of the patient's name (with `phone`).
    #[serde(default)]
    pub initial: Option<String>,
    /// Print the ticket; by default a kiosk check-in prints, an API one does not.
    #[serde(default)]
    pub print: Option<bool>,
    /// The language to print it in.
    #[serde(default)]
    pub lang: Option<String>,
}

/// A check-in's answer: the ticket, and the booking it came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInView {
    /// The ticket issued.
    #[serde(flatten)]
    pub ticket: TicketView,
    /// The booking.
    pub booking: CheckedInBooking,
}

/// The booking of a check-in, as the kiosk shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckedInBooking {
    /// Its id.
    pub id: u64,
    /// Its code.
    pub code: String,
    /// The doctor.
    pub doctor: String,
    /// The slot's start in the clinic's zone (RFC 3339 with offset).
    pub local: String,
    /// Whether the patient came after the late limit and joins the queue as a walk-in.
    pub late: bool,
}

/// A booked patient checks in at the kiosk (or another system does it for them): the booking's
/// ticket is issued and, from the kiosk, printed. Rate-limited like the kiosk's tickets.
#[utoipa::path(post, path = "/api/v1/check-in", tag = "appointments",
    request_body = CheckInRequest,
    responses(
        (status = 201, body = CheckInView),
        (status = 400, body = ErrorBody, description = "neither a code nor a phone and initial"),
        (status = 404, body = ErrorBody, description = "no such booking today"),
        (status = 409, body = ErrorBody, description = "already checked in or cancelled"),
        (status = 422, body = ErrorBody, description = "another day, or too early"),
        (status = 429, body = ErrorBody)))]
pub async fn check_in(
    state: web::Data<AppState>,
    actor: Actor,
    req: HttpRequest,
    body: Json<CheckInRequest>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    view::check_language(&state, body.lang.as_deref())?;
    let source = if actor.works_queue() {
        Source::Reception
    } else {
        Source::Kiosk
    };
    // The rate limit first: guessing codes costs like taking tickets.
    let origin = issuer(&state, &req, &actor, source, None)?;
    let booking = find_booking(&state, &body).await?;
    let contact = contact_of(&state, booking).await?;
    let outcome = state
        .execute(Command::CheckIn { booking, contact }, origin)
        .await?;
    let mut ticket = view::ticket_of(&state, &outcome).await?;
    ticket.status_path = Some(state.links.path(ticket.ticket.id));
    if body.print.unwrap_or(source == Source::Kiosk) {
        let lang = view::print_language(&state, body.lang.as_deref())?;
        let printed = view::ticket_print(&state, &req, &ticket, &lang);
        ticket.print = Some(state.printer.print_ticket(&printed));
    }
    let view = checked_in(&state, booking, ticket)?;
    Ok(HttpResponse::Created().json(view))
}

/// Reception checks a booked patient in (the ticket is not printed: the patient is at the
/// desk, and reception reads the number out).
#[utoipa::path(post, path = "/api/v1/bookings/{id}/check-in", tag = "appointments",
    params(("id" = u64, Path, description = "booking id")),
    responses(
        (status = 201, body = CheckInView),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn booking_check_in(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<u64>,
    _body: NoBody,
) -> Result<HttpResponse, WebError> {
    let booking = id.into_inner();
    let contact = contact_of(&state, booking).await?;
    let outcome = state
        .execute(
            Command::CheckIn { booking, contact },
            actor.origin(Source::Reception),
        )
        .await?;
    let mut ticket = view::ticket_of(&state, &outcome).await?;
    ticket.status_path = Some(state.links.path(ticket.ticket.id));
    let view = checked_in(&state, booking, ticket)?;
    Ok(HttpResponse::Created().json(view))
}

/// The booking's patient details, for its ticket.
async fn contact_of(
    state: &AppState,
    booking: u64,
) -> Result<Option<crate::domain::PatientDetails>, WebError> {
    let store = std::sync::Arc::clone(&state.store);
    super::state::blocking(move || store.booking_contact(booking)).await
}

fn checked_in(state: &AppState, booking: u64, ticket: TicketView) -> Result<CheckInView, WebError> {
    let zone = super::appointments::clinic_zone(state);
    let published = state.hub.read();
    let held = published
        .appointments
        .ledger
        .get(booking)
        .ok_or(DomainError::Booking(BookingError::NotFound(booking)))?;
    Ok(CheckInView {
        booking: CheckedInBooking {
            id: held.id,
            code: held.code.clone(),
            doctor: held.doctor.clone(),
            local: super::appointments::local_time(held.start, &zone),
            late: ticket.ticket.priority != crate::domain::PriorityClass::Appointment,
        },
        ticket,
    })
}

/// The booking a kiosk check-in names: by code, or by phone and initial among today's open
/// bookings (the earliest if several match).
async fn find_booking(state: &AppState, body: &CheckInRequest) -> Result<u64, WebError> {
    let not_found = || WebError::Domain(DomainError::Booking(BookingError::NoMatchToday));
    if let Some(code) = &body.code {
        let code = normalize_code(code);
        if !is_booking_code(&code) {
            return Err(DomainError::Booking(BookingError::InvalidCode).into());
        }
        let published = state.hub.read();
        return published
            .appointments
            .ledger
            .by_code(&code)
            .map(|b| b.id)
            .ok_or_else(not_found);
    }
    let (Some(phone), Some(initial)) = (&body.phone, &body.initial) else {
        return Err(WebError::InvalidBody(
            "give the booking code, or the phone number and the first letter of the name"
                .to_owned(),
        ));
    };
    let all_digits = phone.chars().filter(char::is_ascii_digit).count();
    let digits = crate::domain::notification::phone_key(phone);
    let mut letters = initial.trim().chars();
    let (Some(letter), None) = (letters.next(), letters.next()) else {
        return Err(WebError::InvalidBody(
            "initial: the first letter of the name, one letter".to_owned(),
        ));
    };
    if !(6..=15).contains(&all_digits) || !letter.is_alphabetic() {
        return Err(WebError::InvalidBody(
            "phone: 6 to 15 digits; initial: one letter".to_owned(),
        ));
    }
    let key = state.links.keyed_hash(&digits);
    let today = state
        .clock
        .now()
        .to_zoned(super::appointments::clinic_zone(state))
        .date();
    let mut candidates: Vec<(jiff::Timestamp, u64)> = {
        let published = state.hub.read();
        published
            .appointments
            .ledger
            .all()
            .filter(|b| {
                b.date == today
                    && b.patient_key.as_deref() == Some(key.as_str())
                    && matches!(b.state, BookingState::Booked | BookingState::NoShow)
            })
            .map(|b| (b.start, b.id))
            .collect()
    };
    candidates.sort_unstable();
    let store = std::sync::Arc::clone(&state.store);
    let ids: Vec<u64> = candidates.iter().map(|(_, id)| *id).collect();
    let contacts = super::state::blocking(move || {
        ids.into_iter()
            .map(|id| store.booking_contact(id).map(|c| (id, c)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let wanted: String = letter.to_lowercase().collect();
    contacts
        .into_iter()
        .find(|(_, contact)| {
            contact.as_ref().is_some_and(|c| {
                c.name
                    .trim()
                    .chars()
                    .next()
                    .is_some_and(|first| first.to_lowercase().collect::<String>() == wanted)
            })
        })
        .map(|(id, _)| id)
        .ok_or_else(not_found)
}
