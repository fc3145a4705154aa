//! The one map from errors to HTTP: status, stable kebab-case code, message. Every JSON error
//! is `{"error": {"code": "room-not-found", "message": "..."}}`. Internal causes are logged,
//! never shown.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::DomainError;
use crate::engine::EngineError;
use crate::store::StoreError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The queue refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The engine could not run the command.
    #[error(transparent)]
    Engine(EngineError),
    /// A read from the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The body is not JSON.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The body is JSON but not what the route takes.
    #[error("the body is not valid: {0}")]
    InvalidBody(String),
    /// The body is not declared as JSON.
    #[error("send the body as JSON, with the header Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is too large.
    #[error("the body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// A path parameter is malformed.
    #[error("{0}")]
    InvalidPath(String),
    /// A language code the clinic has no messages for (`lang`).
    #[error("unknown language: use one of {0}")]
    UnknownLanguage(String),
    /// A query parameter is malformed.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// No such route.
    #[error("there is no {0} here: see /api/v1/openapi.json for the API")]
    NotFound(String),
    /// The route does not take this method.
    #[error("{0} is not allowed here")]
    MethodNotAllowed(String),
    /// Not a WebSocket handshake.
    #[error("expected a WebSocket upgrade: {0}")]
    WebSocket(String),
    /// The announcement cannot be spoken.
    #[error(transparent)]
    Speech(#[from] crate::notify::speech::SpeechError),
    /// The ticket cannot be printed now (it is finished).
    #[error("{0}")]
    NotPrintable(String),
    /// There is no printer configured.
    #[error("there is no printer: set [printer] uri in the configuration (docs/hardware.md)")]
    NoPrinter,
    /// The route needs a login (or an API token) and the request had none that is valid.
    #[error("log in first (or send Authorization: Bearer with an API token)")]
    LoginRequired,
    /// Logged in, but the role does not allow this.
    #[error("your role does not allow this")]
    Forbidden,
    /// The clinic requires paired screens and this kiosk is not one.
    #[error("this kiosk is not paired: an admin must approve it in /admin first")]
    ScreenNotPaired,
    /// A change sent with the session cookie, but not from waitless's own pages.
    #[error("refused: this request did not come from waitless's own pages")]
    CrossSite,
    /// The kiosk issued too many tickets this minute.
    #[error("too many tickets from this kiosk in the last minute: please ask at reception")]
    TooManyTickets,
    /// The public booking page took too many bookings from one address this minute.
    #[error("too many bookings from this device just now: please try again in a minute")]
    TooManyBookings,
    /// The status pages took too many feedbacks from one address this minute.
    #[error("too many answers from this device just now: please try again in a minute")]
    TooManyFeedbacks,
    /// A login, user or token operation failed.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// The booking page's phone code was not sent or not accepted.
    #[error(transparent)]
    PhoneCode(super::phone_code::PhoneCodeError),
    /// A test message was refused before sending (recipient, language, no transport).
    #[error(transparent)]
    NotifyTest(#[from] crate::notify::build::TestRefused),
    /// The transport could not send a test message: its reason.
    #[error("the message was not sent: {0}")]
    SendFailed(String),
    /// A bug or an unexpected failure: logged, not shown.
    #[error("internal error")]
    Internal(String),
}

/// The JSON error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable kebab-case code, e.g. `room-not-found`.
    pub code: &'static str,
    /// What went wrong, for humans.
    pub message: String,
}

impl From<actix_web::error::BlockingError> for WebError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<EngineError> for WebError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Domain(d) => Self::Domain(d),
            other => Self::Engine(other),
        }
    }
}

impl WebError {
    /// Status and code: THE table.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use DomainError as D;
        match self {
            Self::Domain(d) => {
                let status = match d {
                    D::InvalidId { .. }
                    | D::InvalidPrefix(_)
                    | D::InvalidIdempotencyKey
                    | D::MessageTooLong(_)
                    | D::MessageControlCharacters
                    | D::InvalidName { .. }
                    | D::InvalidSetting(_)
                    | D::InvalidCallReason(_)
                    | D::InvalidScore(_)
                    | D::InvalidComment(_)
                    | D::AppointmentNeedsCheckIn => StatusCode::BAD_REQUEST,
                    D::ServiceNotFound(_)
                    | D::RoomNotFound(_)
                    | D::TicketNotFound(_)
                    | D::UserNotFound(_)
                    | D::TokenNotFound(_)
                    | D::ScreenNotFound(_) => StatusCode::NOT_FOUND,
                    D::ServiceExists(_)
                    | D::RoomExists(_)
                    | D::PrefixInUse { .. }
                    | D::ServiceClosed(_)
                    | D::RoomClosed(_)
                    | D::RoomIdle(_)
                    | D::RoomOnBreak(_)
                    | D::NotThisRoomsTicket { .. }
                    | D::InvalidTransition { .. }
                    | D::SameService(..)
                    | D::NothingToUndo(_)
                    | D::UndoExpired { .. }
                    | D::UndoConflict(_)
                    | D::UserExists(_)
                    | D::FeedbackTooEarly(_)
                    | D::FeedbackGiven(_)
                    | D::FeedbackClosed(_)
                    | D::LastAdmin => StatusCode::CONFLICT,
                    D::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
                    D::NotAQueueCommand => StatusCode::INTERNAL_SERVER_ERROR,
                    D::Booking(b) => booking_status(b),
                };
                (status, d.code())
            }
            Self::Engine(EngineError::Stopped) => {
                (StatusCode::SERVICE_UNAVAILABLE, "shutting-down")
            }
            Self::Engine(_) | Self::Store(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable")
            }
            Self::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid-json"),
            Self::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid-body"),
            Self::BodyTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
            }
            Self::InvalidPath(_) => (StatusCode::BAD_REQUEST, "invalid-id"),
            Self::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid-query"),
            Self::UnknownLanguage(_) => (StatusCode::BAD_REQUEST, "unknown-language"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
            Self::WebSocket(_) => (StatusCode::BAD_REQUEST, "websocket-required"),
            Self::Speech(_) => (StatusCode::SERVICE_UNAVAILABLE, "speech-unavailable"),
            Self::NotPrintable(_) => (StatusCode::CONFLICT, "not-printable"),
            Self::NoPrinter => (StatusCode::CONFLICT, "no-printer"),
            Self::LoginRequired => (StatusCode::UNAUTHORIZED, "login-required"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::CrossSite => (StatusCode::FORBIDDEN, "cross-site-request"),
            Self::ScreenNotPaired => (StatusCode::FORBIDDEN, "screen-not-paired"),
            Self::TooManyTickets => (StatusCode::TOO_MANY_REQUESTS, "too-many-tickets"),
            Self::TooManyBookings => (StatusCode::TOO_MANY_REQUESTS, "too-many-bookings"),
            Self::TooManyFeedbacks => (StatusCode::TOO_MANY_REQUESTS, "too-many-feedbacks"),
            Self::PhoneCode(e) => e.status_and_code(),
            Self::Auth(e) => {
                use crate::auth::AuthError as A;
                let status = match e {
                    A::InvalidCredentials | A::Disabled => StatusCode::UNAUTHORIZED,
                    A::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                    A::PairingCodeUnknown => StatusCode::NOT_FOUND,
                    A::WeakPassword { .. }
                    | A::PasswordTooLong { .. }
                    | A::InvalidName(_)
                    | A::UnknownRole(_) => StatusCode::BAD_REQUEST,
                    A::Hash(_) | A::Random(_) | A::Store(_) => {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "internal");
                    }
                };
                (status, e.code())
            }
            Self::NotifyTest(e) => {
                use crate::notify::build::TestRefused as T;
                let status = match e {
                    T::BadRecipient(_) | T::UnknownLanguage(..) => StatusCode::BAD_REQUEST,
                    T::NoTransport(_) => StatusCode::CONFLICT,
                };
                (status, e.code())
            }
            Self::SendFailed(_) => (StatusCode::BAD_GATEWAY, "send-failed"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The body sent to the client.
    pub fn body(&self) -> ErrorBody {
        let (_, code) = self.status_and_code();
        let message = match self {
            Self::Engine(EngineError::Store(_)) | Self::Store(_) => {
                "the database is not available; the change was not made — try again".to_owned()
            }
            Self::Internal(_) => "internal error; the change was not made".to_owned(),
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail { code, message },
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!("request failed: {self:?}");
        }
        HttpResponse::build(status).json(self.body())
    }
}

/// Turns actix's JSON extractor errors into ours.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let web = match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => WebError::BodyTooLarge(limit),
        JsonPayloadError::Deserialize(e) if e.is_data() => WebError::InvalidBody(e.to_string()),
        JsonPayloadError::Deserialize(e) => WebError::InvalidJson(e.to_string()),
        JsonPayloadError::Serialize(e) => WebError::Internal(e.to_string()),
        JsonPayloadError::ContentType => WebError::UnsupportedMediaType,
        other => WebError::InvalidJson(other.to_string()),
    };
    web.into()
}

/// Turns actix's path extractor errors into ours.
pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    WebError::InvalidPath(format!("invalid id in the path: {err}")).into()
}

/// Turns actix's query extractor errors into ours.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    WebError::InvalidQuery(err.to_string()).into()
}

/// The HTTP status of a refused appointments command.
fn booking_status(error: &crate::domain::appointments::BookingError) -> StatusCode {
    use crate::domain::appointments::BookingError as B;
    match error {
        B::Plan(_) | B::InvalidCode => StatusCode::BAD_REQUEST,
        B::NoPlan { .. } | B::NotFound(_) | B::NoService(_) | B::NoMatchToday => {
            StatusCode::NOT_FOUND
        }
        B::NotADoctor(_)
        | B::NoSuchSlot
        | B::Past
        | B::TooSoon(_)
        | B::BeyondHorizon(_)
        | B::NotToday(_)
        | B::TooEarly(_) => StatusCode::UNPROCESSABLE_ENTITY,
        B::OverbookNeedsStaff => StatusCode::FORBIDDEN,
        B::PlanOverlaps { .. }
        | B::SlotTaken
        | B::PatientCap(_)
        | B::NotActive(_)
        | B::SameSlot
        | B::NotLateYet
        | B::CodeInUse => StatusCode::CONFLICT,
    }
}
