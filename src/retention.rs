//! Patients' personal details and their retention: the name and phone number reception may
//! record with a ticket (for a phone booking), kept in their own table — never in the
//! hash-chained event log, whose entries cannot be changed — and deleted
//! `store.patient_details_days` after they were recorded. Each deletion is recorded as a
//! `personal_data_purged` event (how many, older than when), so the audit trail shows it.
//!
//! The purge runs at start and after every clinic day close.

use std::sync::Arc;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::Clock;
use crate::domain::{Command, EventKind, Origin, Timestamp};
use crate::engine::EngineHandle;
use crate::hub::Hub;
use crate::store::Store;

/// Longest name, in characters.
pub const NAME_MAX: usize = 80;
/// Longest phone number, in characters.
pub const PHONE_MAX: usize = 32;

/// What reception recorded about a ticket's patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PatientDetails {
    /// The patient's name.
    #[serde(default)]
    pub name: String,
    /// A phone number to call back.
    #[serde(default)]
    pub phone: String,
    /// When it was recorded (the retention period counts from here).
    #[schema(value_type = String)]
    pub recorded_at: Timestamp,
}

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
            recorded_at: at,
        })
    }
}

/// Deletes the details older than `days` and records the purge through the engine.
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
    let records = tokio::task::spawn_blocking(move || store.patients_purge(older_than))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if records > 0 {
        engine
            .execute(
                Command::RecordPurge {
                    records,
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
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("w.redb"),
            &crate::store::StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        assert_eq!(store.patients_purge(at("2026-11-22T00:00:00Z")).unwrap(), 0);
        let old = PatientDetails::new("Old", "", at("2026-10-01T09:00:00Z")).unwrap();
        let new = PatientDetails::new("New", "", at("2026-11-21T09:00:00Z")).unwrap();
        store.patient_put(TicketId(1), &old).unwrap();
        store.patient_put(TicketId(2), &new).unwrap();
        assert_eq!(store.patients_purge(at("2026-11-01T00:00:00Z")).unwrap(), 1);
        assert_eq!(store.patient_get(TicketId(1)).unwrap(), None);
        assert_eq!(store.patient_get(TicketId(2)).unwrap(), Some(new));
    }
}
