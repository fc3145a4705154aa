//! First run: while there is no admin, waitless prints a one-time setup code in its log at
//! start; `/setup` takes that code with a name and password, creates the first admin, logs
//! them in, and the code is gone. (`waitless user add NAME --role admin` is the other way.)

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::AppState;
use super::auth::MeResponse;
use super::error::WebError;
use crate::auth::{Auth, Role};
use crate::domain::{Command, Origin, Source, StaffOp};

/// The one-time code, while there is no admin. Cloneable; shared by every worker.
#[derive(Clone, Debug, Default)]
pub struct SetupCode {
    code: Arc<Mutex<Option<String>>>,
}

impl SetupCode {
    /// A fresh code when the database has no admin; none otherwise.
    pub fn for_start(auth: &Auth) -> anyhow::Result<Self> {
        if auth.has_admin()? {
            return Ok(Self::default());
        }
        let mut bytes = [0u8; 5];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("cannot make a setup code: {e}"))?;
        // 8 characters a person can type: digits and letters without look-alikes.
        const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        let mut bits: u64 = bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b));
        let mut code = String::with_capacity(9);
        for i in 0..8 {
            if i == 4 {
                code.push('-');
            }
            code.push(char::from(
                ALPHABET[usize::try_from(bits & 31).unwrap_or(0)],
            ));
            bits >>= 5;
        }
        Ok(Self {
            code: Arc::new(Mutex::new(Some(code))),
        })
    }

    /// The code, while it is valid.
    pub fn code(&self) -> Option<String> {
        self.code
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `given` is the code (case and dashes do not matter); compared by hash.
    fn matches(&self, given: &str) -> bool {
        let normal = |s: &str| {
            Sha256::digest(
                s.chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_uppercase())
                    .collect::<String>()
                    .as_bytes(),
            )
        };
        self.code()
            .is_some_and(|code| normal(&code) == normal(given))
    }

    fn spend(&self) {
        *self.code.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// `POST /api/v1/setup` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The code from the log.
    pub code: String,
    /// The admin's login name.
    pub name: String,
    /// The admin's password (at least 10 characters).
    pub password: String,
}

/// Creates the first admin with the one-time setup code and logs them in.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 200, body = MeResponse),
        (status = 403, body = super::error::ErrorBody, description = "wrong code, or an admin exists")))]
pub async fn setup_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SetupRequest>,
) -> Result<HttpResponse, WebError> {
    let body = body.into_inner();
    if !state.setup.matches(&body.code) {
        tracing::warn!("a wrong setup code was tried");
        return Err(WebError::Forbidden);
    }
    let auth = state.auth.clone();
    let (name, password) = (body.name.clone(), body.password.clone());
    let user = super::admin::blocking(move || {
        auth.prepare_user(&name, &password, BTreeSet::from([Role::Admin]), Vec::new())
    })
    .await?;
    let origin = Origin::new(Source::Staff, "setup")
        .from_address(req.peer_addr().map(|a| a.ip().to_string()));
    state
        .engine
        .execute(
            Command::Staff {
                op: StaffOp::AddUser { user },
            },
            origin,
        )
        .await?;
    state.setup.spend();
    tracing::info!(user = %body.name, "first admin created with the setup code");
    super::auth::login(
        state,
        req,
        web::Json(super::auth::LoginRequest {
            name: body.name,
            password: body.password,
        }),
    )
    .await
}
