//! The booking page's one-time phone codes: `POST /api/v1/public/phone-code` texts six digits
//! to the patient's phone (through the outbox, with a `phone_code_sent` event that keeps
//! neither), and `/api/v1/public/bookings` books only with them when
//! `appointments.verify_phone` is on and a text-message transport is set.
//!
//! The codes live in memory only (a restart voids them: the patient asks again), as a keyed
//! hash, by the phone's last 10 digits; each lasts [`LIFETIME`], allows [`TRIES`] wrong
//! answers, and a phone gets at most [`PER_HOUR`] codes an hour (each is a text message the
//! clinic pays for, and a way to pester someone).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::{HttpRequest, HttpResponse, web};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Actor, client_ip};
use super::body::Json;
use super::error::WebError;
use super::state::AppState;
use crate::domain::command::PhoneCode;
use crate::domain::notification::phone_key;
use crate::domain::{Command, Source};

/// How long a code is good for.
pub const LIFETIME: SignedDuration = SignedDuration::from_mins(10);
/// Wrong answers before a code is void.
pub const TRIES: u8 = 5;
/// Codes one phone may get in an hour.
pub const PER_HOUR: usize = 3;

/// Why a phone code was not sent or not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneCodeError {
    /// The booking needs the code texted to the phone.
    #[error("code: enter the code we texted to your phone (ask for one first)")]
    Required,
    /// The code does not match (or was used up).
    #[error("code: that is not the code we texted to this phone")]
    Wrong,
    /// The code is older than its lifetime, or was tried too often.
    #[error("code: that code has expired; ask for a new one")]
    Expired,
    /// The phone got its codes for this hour.
    #[error("too many codes for this phone just now: please try again in an hour")]
    TooMany,
    /// Nothing sends text messages here.
    #[error("this clinic does not send codes by text message; book without one")]
    Unavailable,
}

impl PhoneCodeError {
    /// The status and stable code.
    pub fn status_and_code(self) -> (actix_web::http::StatusCode, &'static str) {
        use actix_web::http::StatusCode as S;
        match self {
            Self::Required => (S::UNPROCESSABLE_ENTITY, "phone-code-required"),
            Self::Wrong => (S::UNPROCESSABLE_ENTITY, "phone-code-wrong"),
            Self::Expired => (S::UNPROCESSABLE_ENTITY, "phone-code-expired"),
            Self::TooMany => (S::TOO_MANY_REQUESTS, "too-many-codes"),
            Self::Unavailable => (S::CONFLICT, "phone-code-unavailable"),
        }
    }
}

#[derive(Debug)]
struct Issued {
    /// The keyed hash of the code.
    hash: String,
    /// When it was sent.
    at: Timestamp,
    /// Wrong answers so far.
    wrong: u8,
}

/// One phone's codes: the newest (until used up or void), and when each of the last hour's
/// went.
#[derive(Debug, Default)]
struct Phone {
    issued: Option<Issued>,
    sent: Vec<Timestamp>,
}

/// The codes handed out, by phone key.
#[derive(Debug, Default)]
pub struct PhoneCodes {
    codes: Mutex<HashMap<String, Phone>>,
}

impl PhoneCodes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Phone>> {
        self.codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes room for a new code for `key` at `now` (at most [`PER_HOUR`] an hour); forgets
    /// what is over an hour old everywhere.
    fn reserve(&self, key: &str, now: Timestamp) -> Result<(), PhoneCodeError> {
        let hour_ago = now - SignedDuration::from_hours(1);
        let mut codes = self.lock();
        codes.retain(|_, phone| {
            phone.sent.retain(|at| *at > hour_ago);
            !phone.sent.is_empty()
        });
        let phone = codes.entry(key.to_owned()).or_default();
        if phone.sent.len() >= PER_HOUR {
            return Err(PhoneCodeError::TooMany);
        }
        phone.sent.push(now);
        Ok(())
    }

    fn keep(&self, key: &str, hash: String, now: Timestamp) {
        let mut codes = self.lock();
        codes.entry(key.to_owned()).or_default().issued = Some(Issued {
            hash,
            at: now,
            wrong: 0,
        });
    }

    /// Checks `answer` (its keyed hash) for `key` at `now`; a right one is used up.
    pub fn check(
        &self,
        key: &str,
        answer_hash: &str,
        now: Timestamp,
    ) -> Result<(), PhoneCodeError> {
        let mut codes = self.lock();
        let Some(phone) = codes.get_mut(key) else {
            return Err(PhoneCodeError::Required);
        };
        let slot = &mut phone.issued;
        let Some(issued) = slot.as_mut() else {
            return Err(PhoneCodeError::Wrong);
        };
        if now - LIFETIME > issued.at || issued.wrong >= TRIES {
            *slot = None;
            return Err(PhoneCodeError::Expired);
        }
        if super::link::same(&issued.hash, answer_hash) {
            *slot = None;
            Ok(())
        } else {
            issued.wrong += 1;
            Err(PhoneCodeError::Wrong)
        }
    }
}

/// Whether `/book` asks for a phone code here.
pub fn required(state: &AppState) -> bool {
    state.config.appointments.verify_phone && !state.config.notify.sms.is_empty()
}

/// Checks the code a public booking carries for `phone` (nothing to check when codes are off).
pub fn verify(state: &AppState, phone: &str, code: &str) -> Result<(), WebError> {
    if !required(state) {
        return Ok(());
    }
    let code = code.trim();
    if code.is_empty() {
        return Err(WebError::PhoneCode(PhoneCodeError::Required));
    }
    let key = phone_key(phone);
    let hash = state.links.keyed_hash(&format!("phone-code:{key}:{code}"));
    state
        .phone_codes
        .check(&key, &hash, state.clock.now())
        .map_err(WebError::PhoneCode)
}

/// `POST /api/v1/public/phone-code` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCodeRequest {
    /// The patient's phone number.
    pub phone: String,
    /// The language of the message (`en`, `hi`; empty: the clinic's).
    #[serde(default)]
    pub language: String,
}

/// `POST /api/v1/public/phone-code` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneCodeSent {
    /// Seconds the code is good for.
    pub expires_in: u64,
    /// Digits in the code.
    pub digits: u8,
}

/// Texts a one-time code to the patient's phone for `/book` (202: it is in the outbox).
#[utoipa::path(post, path = "/api/v1/public/phone-code", tag = "appointments",
    request_body = PhoneCodeRequest,
    responses((status = 202, body = PhoneCodeSent), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody)))]
pub async fn phone_code_send(
    state: web::Data<AppState>,
    actor: Actor,
    req: HttpRequest,
    body: Json<PhoneCodeRequest>,
) -> Result<HttpResponse, WebError> {
    if !state.config.appointments.public_booking {
        return Err(WebError::NotFound("/api/v1/public/phone-code".to_owned()));
    }
    if !required(&state) {
        return Err(WebError::PhoneCode(PhoneCodeError::Unavailable));
    }
    let body = body.into_inner();
    super::self_booking::check_phone(&body.phone)?;
    // The characters a number may have, as for any patient's details.
    crate::retention::PatientDetails::new("", &body.phone, state.clock.now())
        .map_err(|e| WebError::InvalidBody(e.to_string()))?;
    let language = body.language.trim().to_owned();
    if !language.is_empty() && !state.config.screens.languages.contains(&language) {
        return Err(WebError::UnknownLanguage(language));
    }
    let now = state.clock.now();
    let client = client_ip(&req);
    let limit = state.config.appointments.public_bookings_per_minute;
    if !state.booking_limit.allow(client, now, limit) {
        tracing::warn!(%client, "public booking rate limit: {limit} a minute (a phone code)");
        return Err(WebError::TooManyBookings);
    }
    let key = phone_key(&body.phone);
    state
        .phone_codes
        .reserve(&key, now)
        .map_err(WebError::PhoneCode)?;
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).map_err(|e| WebError::Internal(e.to_string()))?;
    let code = format!("{:06}", u32::from_le_bytes(random) % 1_000_000);
    let hash = state.links.keyed_hash(&format!("phone-code:{key}:{code}"));
    state
        .engine
        .execute(
            Command::SendPhoneCode {
                code: PhoneCode {
                    phone: body.phone.trim().to_owned(),
                    language,
                    code,
                },
            },
            actor.origin(Source::Api),
        )
        .await?;
    state.phone_codes.keep(&key, hash, now);
    Ok(HttpResponse::Accepted().json(PhoneCodeSent {
        expires_in: LIFETIME.as_secs().unsigned_abs(),
        digits: 6,
    }))
}
