//! The notifications outbox: rows written with the event that causes them (in the commit's
//! transaction, only if their dedupe key is new), then read and updated by the senders
//! (`crate::notify::outbox`) with small direct transactions of their own.

use redb::ReadableTable;

use super::tables::{NOTIFICATIONS, OPT_OUTS, PATIENTS};
use super::{Store, StoreError, codec};
use crate::domain::notification::{Channel, Notification, NotificationKind, NotificationState};
use crate::domain::{PatientDetails, TicketId, Timestamp, Touched};

/// Writes an event's new outbox rows, and deletes the rows of tickets whose patients' details
/// are purged (in the commit's transaction).
pub(super) fn write_rows(
    txn: &redb::WriteTransaction,
    touched: &Touched,
) -> Result<(), StoreError> {
    let purging = !touched.patients_purged.is_empty()
        || !touched.appointments.contacts_purged.is_empty()
        || touched.codes_purged_before.is_some();
    if touched.notifications.is_empty() && touched.reminders_withdrawn.is_empty() && !purging {
        return Ok(());
    }
    let mut table = txn.open_table(NOTIFICATIONS)?;
    if !touched.reminders_withdrawn.is_empty() {
        let mut withdrawn = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let n: Notification = codec::decode(v.value(), "notification")?;
            if n.kind == NotificationKind::Reminder
                && n.state == NotificationState::Queued
                && n.booking
                    .is_some_and(|b| touched.reminders_withdrawn.contains(&b))
            {
                withdrawn.push((k.value().to_owned(), n));
            }
        }
        for (key, mut n) in withdrawn {
            n.state = NotificationState::Withdrawn;
            table.insert(key.as_str(), codec::encode(&n, "notification")?.as_slice())?;
        }
    }
    for row in &touched.notifications {
        let key = row.key();
        if table.get(key.as_str())?.is_none() {
            table.insert(key.as_str(), codec::encode(row, "notification")?.as_slice())?;
        }
    }
    if purging {
        let bookings = &touched.appointments.contacts_purged;
        table.retain(|_, v| {
            codec::decode::<Notification>(v, "notification").map_or(true, |n| {
                let gone = match (n.ticket, n.booking) {
                    (Some(t), _) => touched.patients_purged.contains(&t),
                    (None, Some(b)) => bookings.contains(&b),
                    (None, None) => touched
                        .codes_purged_before
                        .is_some_and(|before| n.created_at < before),
                };
                !gone
            })
        })?;
    }
    Ok(())
}

impl Store {
    /// Every outbox row, oldest event first.
    pub fn notifications(&self) -> Result<Vec<Notification>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(NOTIFICATIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(codec::decode(v.value(), "notification")?);
        }
        Ok(out)
    }

    /// The queued rows of `channel` due at `now`, oldest event first.
    pub fn notifications_due(
        &self,
        channel: Channel,
        now: Timestamp,
    ) -> Result<Vec<Notification>, StoreError> {
        Ok(self
            .notifications()?
            .into_iter()
            .filter(|n| {
                n.channel == channel && n.state == NotificationState::Queued && n.next_try <= now
            })
            .collect())
    }

    /// Replaces a row that still exists (a purge in between wins); `false` if it is gone.
    pub fn notification_update(&self, row: &Notification) -> Result<bool, StoreError> {
        let bytes = codec::encode(row, "notification")?;
        let key = row.key();
        let mut txn = self.write_txn()?;
        txn.set_durability(self.durability)?;
        let found = {
            let mut table = txn.open_table(NOTIFICATIONS)?;
            let found = table.get(key.as_str())?.is_some();
            if found {
                table.insert(key.as_str(), bytes.as_slice())?;
            }
            found
        };
        txn.commit()?;
        Ok(found)
    }

    /// One row by its dedupe key.
    pub fn notification_get(&self, key: &str) -> Result<Option<Notification>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(NOTIFICATIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(key)? {
            Some(v) => Ok(Some(codec::decode(v.value(), "notification")?)),
            None => Ok(None),
        }
    }

    /// Records that `phone` replied STOP (a direct write, like a row's status: the number is
    /// personal data and stays out of the event log).
    pub fn opt_out(&self, phone: &str, at: Timestamp) -> Result<(), StoreError> {
        let key = crate::domain::notification::phone_key(phone);
        if key.is_empty() {
            return Ok(());
        }
        let mut txn = self.write_txn()?;
        txn.set_durability(self.durability)?;
        txn.open_table(OPT_OUTS)?
            .insert(key.as_str(), at.to_string().as_str())?;
        txn.commit()?;
        Ok(())
    }

    /// Forgets `phone`'s STOP (it replied START).
    pub fn opt_in(&self, phone: &str) -> Result<(), StoreError> {
        let key = crate::domain::notification::phone_key(phone);
        let mut txn = self.write_txn()?;
        txn.set_durability(self.durability)?;
        txn.open_table(OPT_OUTS)?.remove(key.as_str())?;
        txn.commit()?;
        Ok(())
    }

    /// Whether `phone` replied STOP (and not START since).
    pub fn opted_out(&self, phone: &str) -> Result<bool, StoreError> {
        let key = crate::domain::notification::phone_key(phone);
        if key.is_empty() {
            return Ok(false);
        }
        let txn = self.read_txn()?;
        match txn.open_table(OPT_OUTS) {
            Ok(t) => Ok(t.get(key.as_str())?.is_some()),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every ticket's patients' details (the engine's notification contacts at start).
    pub fn patients_all(&self) -> Result<Vec<(TicketId, PatientDetails)>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(PATIENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((TicketId(k.value()), codec::decode(v.value(), "patient")?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::domain::notification::{Notification, NotificationKind};
    use crate::domain::{ClinicCalendar, EventKind, Origin, QueueState};

    fn row(seq: u64, ticket: u64) -> Notification {
        let at: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        Notification {
            seq,
            kind: NotificationKind::Called,
            channel: Channel::Sms,
            ticket: Some(TicketId(ticket)),
            booking: None,
            to: format!("+91 98450 1234{ticket}"),
            language: "hi".to_owned(),
            params: vec![("number".to_owned(), "A001".to_owned())],
            created_at: at,
            state: NotificationState::Queued,
            attempts: 0,
            next_try: at,
            sent_at: None,
            last_error: None,
            reference: None,
            delivery: None,
            delivered_at: None,
        }
    }

    #[test]
    fn rows_are_written_once_per_key_and_deleted_with_their_patients_details() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("w.redb"),
            &crate::store::StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        let clock = crate::clock::ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        let calendar = ClinicCalendar::new(jiff::tz::TimeZone::UTC, jiff::civil::time(4, 0, 0, 0));
        let (books, _) = crate::engine::load_or_seed(&store, &clock, &calendar).unwrap();
        let state: QueueState = books.state;
        let commit = |seq: u64, touched: Touched| {
            let event = QueueState::event(
                seq,
                clock.now(),
                &Origin::system(),
                EventKind::ClinicMessageSet {
                    message: String::new(),
                },
            );
            store.commit(&[(&event, &touched)], &state).unwrap();
        };
        commit(
            2,
            Touched {
                notifications: vec![row(2, 1), row(5, 2)],
                ..Touched::default()
            },
        );
        // Sent, then the same key again (a retried commit): the sent row stays as it is.
        let mut sent = row(2, 1);
        sent.state = NotificationState::Sent;
        assert!(store.notification_update(&sent).unwrap());
        commit(
            3,
            Touched {
                notifications: vec![row(2, 1)],
                ..Touched::default()
            },
        );
        assert_eq!(store.notification_get(&sent.key()).unwrap(), Some(sent));
        assert_eq!(store.notifications().unwrap().len(), 2);
        // Ticket 1's details are purged: its row (and its number) goes with them.
        commit(
            4,
            Touched {
                patients_purged: vec![TicketId(1)],
                ..Touched::default()
            },
        );
        let left = store.notifications().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].ticket, Some(TicketId(2)));
        // An update of a purged row does not bring it back.
        assert!(!store.notification_update(&row(2, 1)).unwrap());
        assert_eq!(store.notifications().unwrap().len(), 1);
    }
}
