//! Storage of patients' personal details (table [`PATIENTS`]), apart from the event log so
//! that they can be deleted; the retention rule lives in [`crate::retention`].

use redb::ReadableDatabase;

use super::tables::PATIENTS;
use super::{Store, StoreError, codec};
use crate::domain::{TicketId, Timestamp};
use crate::retention::PatientDetails;

impl Store {
    /// Records a ticket's patient details (replacing any).
    pub fn patient_put(
        &self,
        ticket: TicketId,
        details: &PatientDetails,
    ) -> Result<(), StoreError> {
        let txn = self.begin_auth_write()?;
        txn.open_table(PATIENTS)?
            .insert(ticket.0, codec::encode(details, "patient")?.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// A ticket's patient details, if recorded and not purged.
    pub fn patient_get(&self, ticket: TicketId) -> Result<Option<PatientDetails>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(PATIENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(ticket.0)? {
            Some(v) => Ok(Some(codec::decode(v.value(), "patient")?)),
            None => Ok(None),
        }
    }

    /// Deletes every patient's details recorded before `older_than`; how many.
    pub fn patients_purge(&self, older_than: Timestamp) -> Result<u64, StoreError> {
        let txn = self.begin_auth_write()?;
        let mut purged = 0;
        {
            let mut table = txn.open_table(PATIENTS)?;
            table.retain(|_, bytes| {
                // A row that cannot be read is personal data of unknown age: delete it too.
                let old = codec::decode::<PatientDetails>(bytes, "patient")
                    .map_or(true, |d| d.recorded_at < older_than);
                if old {
                    purged += 1;
                }
                !old
            })?;
        }
        txn.commit()?;
        Ok(purged)
    }
}
