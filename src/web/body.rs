//! Request bodies, strictly: [`Json`] (a JSON object, required), [`OptionalJson`] (a JSON object
//! or nothing) and [`NoBody`] (for routes that take none).
//!
//! A body must be a JSON object (`[]` is not one, though serde would read a struct from it) and
//! say `Content-Type: application/json`; an oversized one answers the JSON `body-too-large`
//! error. Errors go through [`WebError`]; the size limit is the app's `PayloadConfig`/`JsonConfig`
//! (`http.max_body_bytes`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::WebError;
use super::state::AppState;

type Extract<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// A required JSON object body.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Extract<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move { Ok(Self(object(value.await?.into_inner())?)) })
    }
}

/// An optional JSON object body: an empty (or blank) body is `T::default()`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Extract<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = says_json(req);
        let body = bytes(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if is_blank(&body) {
                return Ok(Self(T::default()));
            }
            if !json {
                return Err(WebError::UnsupportedMediaType.into());
            }
            let value: Value =
                serde_json::from_slice(&body).map_err(|e| WebError::InvalidJson(e.to_string()))?;
            Ok(Self(object(value)?))
        })
    }
}

/// A route that takes no body: a body other than `{}`, or a content type other than JSON, is
/// refused.
#[derive(Debug)]
pub struct NoBody;

impl FromRequest for NoBody {
    type Error = actix_web::Error;
    type Future = Extract<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let typed = req.headers().contains_key(CONTENT_TYPE);
        let json = says_json(req);
        let body = bytes(req, payload);
        Box::pin(async move {
            if typed && !json {
                return Err(WebError::UnsupportedMediaType.into());
            }
            let body = body.await?;
            if is_blank(&body) {
                return Ok(Self);
            }
            if !json {
                return Err(WebError::UnsupportedMediaType.into());
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(fields)) if fields.is_empty() => Ok(Self),
                _ => Err(WebError::InvalidBody("this request takes no body".to_owned()).into()),
            }
        })
    }
}

/// The body's bytes up to the limit; over it, the JSON `body-too-large` error.
fn bytes(req: &HttpRequest, payload: &mut Payload) -> Extract<web::Bytes> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(0, |state| state.config.http.max_body_bytes);
    let body = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        body.await.map_err(|e| {
            match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => WebError::BodyTooLarge(limit),
                _ => WebError::InvalidBody(e.to_string()),
            }
            .into()
        })
    })
}

/// Whether the request says `Content-Type: application/json`.
fn says_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// The value as `T`, if it is a JSON object.
fn object<T: DeserializeOwned>(value: Value) -> Result<T, WebError> {
    if !value.is_object() {
        return Err(WebError::InvalidBody(
            "the body must be a JSON object ({...})".to_owned(),
        ));
    }
    serde_json::from_value(value).map_err(|e| WebError::InvalidBody(e.to_string()))
}

/// A patient's details as reception types them (a ticket's, a booking's).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PatientInput {
    /// Name.
    pub name: String,
    /// Phone number.
    pub phone: String,
    /// Email address (notifications by email).
    pub email: String,
    /// The language of the patient's notifications (`en`, `hi`); the clinic's when empty.
    pub language: String,
    /// The patient agrees to text messages and emails (default: yes, reception asked; `false`
    /// records the details for a call back only).
    #[schema(default = true)]
    pub messages: Option<bool>,
}
