//! The notifications outbox: rows written with the event that causes them (in the commit's
//! transaction, only if their dedupe key is new), then read and updated by the senders
//! (`crate::notify::outbox`) with small direct transactions of their own.

use redb::ReadableTable;

use super::tables::{NOTIFICATIONS, PATIENTS};
use super::{Store, StoreError, codec};
use crate::domain::notification::{Channel, Notification, NotificationState};
use crate::domain::{PatientDetails, TicketId, Timestamp, Touched};

/// Writes an event's new outbox rows, and deletes the rows of tickets whose patients' details
/// are purged (in the commit's transaction).
pub(super) fn write_rows(txn: &redb::WriteTransaction, touched: &Touched) -> Result<(), StoreError> {
    if touched.notifications.is_empty() && touched.patients_purged.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(NOTIFICATIONS)?;
    for row in &touched.notifications {
        let key = row.key();
        if table.get(key.as_str())?.is_none() {
            table.insert(key.as_str(), codec::encode(row, "notification")?.as_slice())?;
        }
    }
    if !touched.patients_purged.is_empty() {
        table.retain(|_, v| {
            codec::decode::<Notification>(v, "notification")
                .map_or(true, |n| !touched.patients_purged.contains(&n.ticket))
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
