//! Patients' personal details and their retention: the name and phone number reception may
//! record with a ticket (for a phone booking), and the comments patients write with their
//! feedback, kept in their own table — never in the
//! hash-chained event log, whose entries cannot be changed — and deleted
//! `store.patient_details_days` after they were recorded. Each deletion is recorded as a
//! `personal_data_purged` event (how many, older than when), so the audit trail shows it.
//!
//! The purge runs at start and after every clinic day close.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{Command, EventKind, Origin, Timestamp};
use crate::engine::EngineHandle;
use crate::hub::Hub;
use crate::store::Store;
use jiff::SignedDuration;

/// Longest name, in characters.
pub const NAME_MAX: usize = 80;
/// Longest phone number, in characters.
pub const PHONE_MAX: usize = 32;
/// Longest email address, in bytes.
pub const EMAIL_MAX: usize = 254;

pub use crate::domain::PatientDetails;

/// Why details were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DetailsError {
    /// The name is too long or has control characters.
    #[error("the patient's name must be at most 80 characters, without control characters")]
    Name,
    /// The phone number is not one.
    #[error("the phone number may have at most 32 digits, spaces and + - ( )")]
    Phone,
    /// Neither given.
    #[error("give the patient's name, phone number, or both")]
    Empty,
    /// The email address is not one.
    #[error("the email address must look like name@example.org (at most 254 characters)")]
    Email,
    /// The language is not one of the clinic's.
    #[error("the patient's language must be one of the clinic's languages (screens.languages)")]
    Language,
}

impl PatientDetails {
    /// Checked, trimmed details recorded at `at`.
    pub fn new(name: &str, phone: &str, at: Timestamp) -> Result<Self, DetailsError> {
        let name = name.trim();
        let phone = phone.trim();
        if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
            return Err(DetailsError::Name);
        }
        if phone.chars().count() > PHONE_MAX
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()".contains(c))
        {
            return Err(DetailsError::Phone);
        }
        if name.is_empty() && phone.is_empty() {
            return Err(DetailsError::Empty);
        }
        Ok(Self {
            name: name.to_owned(),
            phone: phone.to_owned(),
            email: String::new(),
            language: String::new(),
            messages: true,
            recorded_at: at,
        })
    }
}

impl PatientDetails {
    /// Adds a checked email address and message language (each may be empty).
    pub fn set_contact(
        &mut self,
        email: &str,
        language: &str,
        known_language: impl Fn(&str) -> bool,
    ) -> Result<(), DetailsError> {
        let email = email.trim();
        if !email.is_empty() {
            let plausible = email.len() <= EMAIL_MAX
                && email.split_once('@').is_some_and(|(user, host)| {
                    !user.is_empty() && host.contains('.') && !host.contains('@')
                })
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c));
            if !plausible {
                return Err(DetailsError::Email);
            }
        }
        let language = language.trim();
        if !language.is_empty() && !known_language(language) {
            return Err(DetailsError::Language);
        }
        email.clone_into(&mut self.email);
        language.clone_into(&mut self.language);
        Ok(())
    }
}

/// Deletes the details older than `days`, through the engine: the deletion and its
/// `personal_data_purged` event are one transaction. How many were deleted.
pub async fn purge_once(
    store: &Arc<Store>,
    engine: &EngineHandle,
    clock: &dyn Clock,
    days: u32,
) -> Result<u64, String> {
    let older_than = clock
        .now()
        .checked_sub(SignedDuration::from_hours(24 * i64::from(days)))
        .map_err(|e| e.to_string())?;
    let store = Arc::clone(store);
    let (tickets, bookings, feedback) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::store::StoreError>((
            store.patients_older_than(older_than)?,
            store.booking_contacts_older_than(older_than)?,
            store.feedback_older_than(older_than)?,
        ))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let records = (tickets.len() + bookings.len() + feedback.len()) as u64;
    if records > 0 {
        engine
            .execute(
                Command::PurgePatients {
                    tickets,
                    bookings,
                    feedback,
                    older_than,
                },
                Origin::system(),
            )
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(records, %older_than, "deleted patients' details past the retention period");
    }
    Ok(records)
}

/// Purges at start and after every day close, until the hub closes.
pub async fn run(
    store: Arc<Store>,
    engine: EngineHandle,
    hub: Arc<Hub>,
    clock: Arc<dyn Clock>,
    days: u32,
) {
    let mut events = hub.tail();
    if let Err(e) = purge_once(&store, &engine, clock.as_ref(), days).await {
        tracing::error!("cannot delete old patients' details: {e}");
    }
    while let Some(event) = events.next().await {
        if let EventKind::DayClosed { .. } = event.kind
            && let Err(e) = purge_once(&store, &engine, clock.as_ref(), days).await
        {
            tracing::error!("cannot delete old patients' details: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TicketId;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn details_are_trimmed_and_checked() {
        let now = at("2026-11-22T09:00:00Z");
        let d = PatientDetails::new(" Asha Rao ", " +91 98450-12345 ", now).unwrap();
        assert_eq!(
            (d.name.as_str(), d.phone.as_str()),
            ("Asha Rao", "+91 98450-12345")
        );
        assert!(PatientDetails::new("", "98450", now).is_ok());
        assert_eq!(PatientDetails::new("", " ", now), Err(DetailsError::Empty));
        assert_eq!(
            PatientDetails::new("a\u{1b}[2J", "", now),
            Err(DetailsError::Name)
        );
        assert_eq!(
            PatientDetails::new(&"x".repeat(81), "", now),
            Err(DetailsError::Name)
        );
        assert_eq!(
            PatientDetails::new("A", "call me", now),
            Err(DetailsError::Phone)
        );
        assert_eq!(
            PatientDetails::new("A", &"1".repeat(33), now),
            Err(DetailsError::Phone)
        );
    }

    #[test]
    fn the_purge_deletes_only_details_older_than_the_cut() {
        use crate::domain::{ClinicCalendar, PriorityClass, ServiceId, Source};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("w.redb"),
            &crate::store::StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        let clock = crate::clock::ManualClock::new(at("2026-11-21T09:00:00Z"));
        let calendar = ClinicCalendar::new(jiff::tz::TimeZone::UTC, jiff::civil::time(4, 0, 0, 0));
        let policy = crate::config::Config::default().policy();
        let origin = Origin::new(Source::Reception, "user:desk");
        let run = |command: Command| {
            crate::engine::execute_offline(&store, &clock, &calendar, &policy, &command, &origin)
                .unwrap()
        };
        assert!(
            store
                .patients_older_than(at("2026-11-22T00:00:00Z"))
                .unwrap()
                .is_empty()
        );
        let old = PatientDetails::new("Old", "", at("2026-10-01T09:00:00Z")).unwrap();
        let new = PatientDetails::new("New", "", at("2026-11-21T09:00:00Z")).unwrap();
        for patient in [old, new.clone()] {
            run(Command::IssueTicket {
                service: ServiceId::parse("general").unwrap(),
                priority: PriorityClass::Normal,
                idempotency_key: None,
                patient: Some(patient),
            });
        }
        let cut = at("2026-11-01T00:00:00Z");
        let doomed = store.patients_older_than(cut).unwrap();
        assert_eq!(doomed, [TicketId(1)]);
        run(Command::PurgePatients {
            tickets: doomed,
            bookings: Vec::new(),
            feedback: Vec::new(),
            older_than: cut,
        });
        assert_eq!(store.patient_get(TicketId(1)).unwrap(), None);
        assert_eq!(store.patient_get(TicketId(2)).unwrap(), Some(new));
        let last = store.recent_events(1).unwrap().remove(0);
        assert!(matches!(
            last.kind,
            EventKind::PersonalDataPurged { records: 1, .. }
        ));
    }
}
