//! What every handler reaches: [`AppState`], and running a command through the engine.

use std::sync::Arc;
use std::time::Instant;

use super::error::WebError;
use super::{limit, link, setup, template};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Command, Origin};
use crate::engine::{EngineHandle, Outcome};
use crate::hub::Hub;
use crate::i18n::Catalogs;
use crate::notify::speech::Speech;
use crate::store::Store;

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState {
    /// Commands go here.
    pub engine: EngineHandle,
    /// The committed state and its events.
    pub hub: Arc<Hub>,
    /// Reads of what is not in memory (archived tickets).
    pub store: Arc<Store>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The configuration.
    pub config: Arc<Config>,
    /// When the server started.
    pub started: Instant,
    /// The page templates.
    pub pages: template::Pages,
    /// Every language's messages.
    pub catalogs: Arc<Catalogs>,
    /// Patients' status links.
    pub links: link::StatusLinks,
    /// Spoken announcements.
    pub speech: Arc<Speech>,
    /// Every device's status.
    pub devices: Arc<crate::devices::DeviceBoard>,
    /// The ticket printer.
    pub printer: crate::devices::printer::PrinterHandle,
    /// Staff users, sessions and API tokens.
    pub auth: crate::auth::Auth,
    /// The first-run setup code (while there is no admin).
    pub setup: setup::SetupCode,
    /// The kiosk's rate limit.
    pub issue_limit: limit::IssueLimiter,
    /// Bookings per client address a minute on the public booking page.
    pub booking_limit: limit::IssueLimiter,
    /// Feedback answers per client address a minute on the status pages.
    pub feedback_limit: limit::IssueLimiter,
    /// The booking page's one-time phone codes.
    pub phone_codes: super::phone_code::PhoneCodes,
    /// Paired screens and pairing requests.
    pub screens: crate::auth::screen::Screens,
    /// What the nightly backup did last (`/healthz`).
    pub backup: Arc<crate::backup::BackupStatus>,
    /// The notification senders (woken by a resend).
    pub senders: Arc<crate::notify::outbox::Senders>,
    /// `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How the webhook is doing (`None`: no `notify.webhook_url`).
    pub webhook: Option<crate::notify::webhook::WebhookState>,
}

impl AppState {
    /// Runs a command through the engine: committed (or refused) when this returns.
    pub async fn execute(&self, command: Command, origin: Origin) -> Result<Outcome, WebError> {
        Ok(self.engine.execute(command, origin).await?)
    }
}

/// Runs blocking work (the disk, argon2) off the async workers.
pub async fn blocking<T: Send + 'static, E: Into<WebError> + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, WebError> {
    actix_web::web::block(work).await?.map_err(Into::into)
}
