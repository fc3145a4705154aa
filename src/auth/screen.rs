//! Paired screens: kiosks and displays an admin has approved, for clinics that turn on
//! "screens must be paired" (so a phone on the guest Wi-Fi cannot act as a kiosk).
//!
//! The flow: an unpaired screen asks to pair ([`Screens::request`]) and shows the short code it
//! gets; an admin approves that code in `/admin` ([`Screens::approve`]) and names the screen; the
//! screen's next poll ([`Screens::poll`]) hands it its long-lived secret (a cookie) once.
//! Pending requests live in memory only (they expire after [`PENDING_TTL`]); paired screens are
//! stored with the SHA-256 of their secret, never the secret.

use std::sync::{Arc, Mutex, MutexGuard};

use jiff::SignedDuration;
use serde::Serialize;
use utoipa::ToSchema;

use super::session::{random_secret, same, secret_hash};
use super::{AuthError, LAST_SEEN_RESOLUTION, validate_name};
use crate::clock::Clock;
use crate::domain::Timestamp;
use crate::store::Store;

/// A pairing code is good for this long.
pub const PENDING_TTL: SignedDuration = SignedDuration::from_mins(15);
/// At most this many pairing requests wait at once (the oldest give way).
pub const MAX_PENDING: usize = 20;
/// At most this many from one address (its oldest gives way).
pub const MAX_PENDING_PER_ADDRESS: usize = 2;
/// Letters of a code: no 0/O, 1/I/L, 2/Z, 5/S, 8/B to misread on a TV across the room.
const CODE_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";
/// Characters in a code.
const CODE_LEN: usize = 6;

pub use crate::domain::{ScreenKind, ScreenRecord};

/// A paired screen, as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScreenView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// What it is.
    pub kind: ScreenKind,
    /// When it was paired.
    #[schema(value_type = String)]
    pub paired_at: Timestamp,
    /// Who approved it.
    pub approved_by: String,
    /// The address it asked from.
    pub address: Option<String>,
    /// When it was last seen.
    #[schema(value_type = Option<String>)]
    pub last_seen: Option<Timestamp>,
}

impl ScreenRecord {
    /// As shown.
    pub fn view(&self) -> ScreenView {
        ScreenView {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind,
            paired_at: self.paired_at,
            approved_by: self.approved_by.clone(),
            address: self.address.clone(),
            last_seen: self.last_seen,
        }
    }
}

/// A screen waiting for an admin, as shown in `/admin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct PendingView {
    /// The code the screen shows.
    pub code: String,
    /// What it says it is.
    pub kind: ScreenKind,
    /// Where it asked from.
    pub address: Option<String>,
    /// When it asked.
    #[schema(value_type = String)]
    pub requested_at: Timestamp,
}

/// What a waiting screen learns when it asks again.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// Not approved yet: still show this code.
    Waiting(String),
    /// Approved: its secret (hand it over now; it is never available again) and itself.
    Paired(String, ScreenView),
    /// No such request (expired, or pushed out by newer ones): ask again.
    Unknown,
}

#[derive(Debug)]
struct Pending {
    code: String,
    kind: ScreenKind,
    address: Option<String>,
    requested_at: Timestamp,
    /// SHA-256 of the secret the screen polls with.
    poll_hash: String,
    /// Once approved: the screen's secret and view, until the screen picks them up.
    approved: Option<(String, ScreenView)>,
}

/// Paired screens and pairing requests. Cheap to clone; every method blocks on the database
/// (call it from `spawn_blocking` in async code).
#[derive(Clone, Debug)]
pub struct Screens {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    pending: Arc<Mutex<Vec<Pending>>>,
}

impl Screens {
    /// The screens of `store`.
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            pending: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Vec<Pending>> {
        // A list of requests holds no invariant a panic elsewhere could break half-way.
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        pending.retain(|p| now.duration_since(p.requested_at) < PENDING_TTL);
        pending
    }

    /// A screen asks to be paired: returns the secret it polls with and the code it shows.
    pub fn request(
        &self,
        kind: ScreenKind,
        address: Option<String>,
    ) -> Result<(String, String), AuthError> {
        let poll = random_secret(24)?;
        let mut pending = self.pending();
        let mut code = new_code()?;
        while pending.iter().any(|p| p.code == code) {
            code = new_code()?;
        }
        let from_here = pending.iter().filter(|p| p.address == address).count();
        if from_here >= MAX_PENDING_PER_ADDRESS
            && let Some(oldest) = pending.iter().position(|p| p.address == address)
        {
            pending.remove(oldest);
        }
        if pending.len() >= MAX_PENDING {
            pending.remove(0);
        }
        tracing::info!(%code, kind = kind.as_str(), address = ?address, "a screen asks to be paired");
        pending.push(Pending {
            code: code.clone(),
            kind,
            address,
            requested_at: self.clock.now(),
            poll_hash: secret_hash(&poll),
            approved: None,
        });
        Ok((poll, code))
    }

    /// A waiting screen asks whether it has been approved.
    pub fn poll(&self, poll: &str) -> Poll {
        let hash = secret_hash(poll);
        let mut pending = self.pending();
        let Some(index) = pending.iter().position(|p| same(&p.poll_hash, &hash)) else {
            return Poll::Unknown;
        };
        if pending[index].approved.is_none() {
            return Poll::Waiting(pending[index].code.clone());
        }
        match pending.remove(index).approved {
            Some((secret, view)) => Poll::Paired(secret, view),
            None => Poll::Unknown,
        }
    }

    /// The screens waiting for an admin, oldest first.
    pub fn waiting(&self) -> Vec<PendingView> {
        self.pending()
            .iter()
            .filter(|p| p.approved.is_none())
            .map(|p| PendingView {
                code: p.code.clone(),
                kind: p.kind,
                address: p.address.clone(),
                requested_at: p.requested_at,
            })
            .collect()
    }

    /// Prepares the approval of the screen showing `code`, named `name`, by `by` (`user:anita`):
    /// the record to store (through the engine: [`crate::domain::StaffOp::PairScreen`]) and the
    /// screen's secret. Nothing changes until [`Self::approved`] is called after the commit.
    pub fn prepare_approval(
        &self,
        code: &str,
        name: &str,
        by: &str,
    ) -> Result<(ScreenRecord, String), AuthError> {
        validate_name(name)?;
        let wanted = normal_code(code);
        let secret = format!("ws_{}", random_secret(32)?);
        let pending = self.pending();
        let Some(request) = pending
            .iter()
            .find(|p| p.approved.is_none() && p.code == wanted)
        else {
            return Err(AuthError::PairingCodeUnknown);
        };
        let record = ScreenRecord {
            id: random_secret(9)?,
            name: name.to_owned(),
            kind: request.kind,
            secret_hash: secret_hash(&secret),
            paired_at: self.clock.now(),
            approved_by: by.to_owned(),
            address: request.address.clone(),
            last_seen: None,
        };
        Ok((record, secret))
    }

    /// After the paired screen's record is committed: its next poll gets `secret`. `false` if
    /// the request has expired meanwhile (the screen asks again and gets a new code).
    pub fn approved(&self, code: &str, secret: String, record: &ScreenRecord) -> bool {
        let wanted = normal_code(code);
        let mut pending = self.pending();
        let Some(request) = pending
            .iter_mut()
            .find(|p| p.approved.is_none() && p.code == wanted)
        else {
            return false;
        };
        request.approved = Some((secret, record.view()));
        tracing::info!(
            screen = %record.name,
            kind = record.kind.as_str(),
            by = %record.approved_by,
            "screen paired"
        );
        true
    }

    /// Every paired screen.
    pub fn screens(&self) -> Result<Vec<ScreenView>, AuthError> {
        Ok(self
            .store
            .screens()?
            .iter()
            .map(ScreenRecord::view)
            .collect())
    }

    /// A paired screen by id.
    pub fn screen(&self, id: &str) -> Result<Option<ScreenView>, AuthError> {
        Ok(self.store.screen_get(id)?.map(|r| r.view()))
    }

    /// The paired screen whose secret this is, if any; records that it was seen.
    pub fn verify(&self, secret: &str) -> Option<ScreenView> {
        if !secret.starts_with("ws_") {
            return None;
        }
        let hash = secret_hash(secret);
        let found = match self.store.screens() {
            Ok(screens) => screens.into_iter().find(|s| same(&s.secret_hash, &hash)),
            Err(e) => {
                tracing::error!("cannot read the paired screens: {e}");
                None
            }
        }?;
        let now = self.clock.now();
        if found
            .last_seen
            .is_none_or(|at| now.duration_since(at) >= LAST_SEEN_RESOLUTION)
        {
            match self.store.screen_touch(&found.id, now) {
                Ok(true) => {}
                Ok(false) => return None, // unpaired meanwhile
                Err(e) => tracing::warn!("cannot record that a screen was seen: {e}"),
            }
        }
        Some(found.view())
    }
}

/// A code as typed (any case, spaces, dashes) in the form screens show it.
fn normal_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn new_code() -> Result<String, AuthError> {
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    // 256 is not a multiple of the alphabet's length: the bias is small and harmless for a code
    // that lives 15 minutes and needs an admin's approval.
    Ok(bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{Command, DomainError, Origin, Source, StaffOp};
    use crate::engine::EngineError;
    use crate::store::StoreOptions;

    /// Commits a pairing change as the engine does, and answers as the admin API does.
    impl Screens {
        fn run(&self, op: StaffOp) -> Result<(), EngineError> {
            let config = crate::config::Config::default();
            crate::engine::execute_offline(
                &self.store,
                self.clock.as_ref(),
                &config.calendar().unwrap(),
                &config.policy(),
                &Command::Staff { op },
                &Origin::new(Source::Staff, "user:admin"),
            )
            .map(|_| ())
        }

        fn approve(&self, code: &str, name: &str, by: &str) -> Result<ScreenView, AuthError> {
            let (screen, secret) = self.prepare_approval(code, name, by)?;
            self.run(StaffOp::PairScreen {
                screen: screen.clone(),
            })
            .unwrap();
            assert!(self.approved(code, secret, &screen));
            Ok(screen.view())
        }

        fn revoke(&self, id: &str) -> Result<(), EngineError> {
            self.run(StaffOp::UnpairScreen { id: id.to_owned() })
        }
    }

    fn screens() -> (Screens, ManualClock, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("w.redb"),
            &StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        let clock = ManualClock::new("2026-11-22T09:00:00Z".parse().unwrap());
        (
            Screens::new(Arc::new(store), Arc::new(clock.clone())),
            clock,
            dir,
        )
    }

    #[test]
    fn a_screen_gets_its_secret_once_after_approval_and_loses_it_when_unpaired() {
        let (screens, _clock, _dir) = screens();
        let (poll, code) = screens
            .request(ScreenKind::Kiosk, Some("10.0.0.9".into()))
            .unwrap();
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(screens.poll(&poll), Poll::Waiting(code.clone()));
        assert_eq!(screens.waiting().len(), 1);
        let lower = format!("{}-{}", &code[..3], &code[3..]).to_lowercase();
        let view = screens
            .approve(&lower, "front-kiosk", "user:admin")
            .unwrap();
        assert_eq!(view.kind, ScreenKind::Kiosk);
        assert!(screens.waiting().is_empty());
        let Poll::Paired(secret, paired) = screens.poll(&poll) else {
            panic!("not paired");
        };
        assert_eq!(paired, view);
        assert_eq!(screens.poll(&poll), Poll::Unknown, "handed over once");
        assert_eq!(screens.verify(&secret).unwrap().name, "front-kiosk");
        assert!(screens.verify("ws_not-it").is_none());
        assert!(
            screens.verify(&poll).is_none(),
            "the poll secret is not a screen's"
        );
        screens.revoke(&view.id).unwrap();
        assert!(screens.verify(&secret).is_none());
        assert!(matches!(
            screens.revoke(&view.id),
            Err(EngineError::Domain(DomainError::ScreenNotFound(_)))
        ));
    }

    #[test]
    fn codes_expire_and_unknown_codes_pair_nothing() {
        let (screens, clock, _dir) = screens();
        let (poll, code) = screens.request(ScreenKind::Display, None).unwrap();
        assert!(matches!(
            screens.approve("AAAAAA", "tv", "user:admin"),
            Err(AuthError::PairingCodeUnknown)
        ));
        assert!(matches!(
            screens.approve(&code, "Not A Name!", "user:admin"),
            Err(AuthError::InvalidName(_))
        ));
        clock.advance(PENDING_TTL);
        assert_eq!(screens.poll(&poll), Poll::Unknown);
        assert!(matches!(
            screens.approve(&code, "tv", "user:admin"),
            Err(AuthError::PairingCodeUnknown)
        ));
        assert!(screens.screens().unwrap().is_empty());
    }

    #[test]
    fn one_address_cannot_flood_the_list() {
        let (screens, _clock, _dir) = screens();
        for _ in 0..10 {
            screens
                .request(ScreenKind::Kiosk, Some("10.0.0.66".into()))
                .unwrap();
        }
        assert_eq!(screens.waiting().len(), MAX_PENDING_PER_ADDRESS);
        for i in 0..40 {
            screens
                .request(ScreenKind::Kiosk, Some(format!("10.0.1.{i}")))
                .unwrap();
        }
        assert_eq!(screens.waiting().len(), MAX_PENDING);
    }

    #[test]
    fn codes_use_only_unambiguous_letters() {
        for _ in 0..50 {
            let code = new_code().unwrap();
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        }
    }
}
