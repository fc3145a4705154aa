//! Plans and bookings: written with their `appointment_changed` event in the engine's commit,
//! read back at start. Patients' details of bookings live in their own table, outside the event
//! log, like a ticket's.

use redb::ReadableTable;

use super::tables::{BOOKING_CONTACTS, BOOKINGS, PLANS};
use super::{Store, StoreError, codec};
use crate::domain::PatientDetails;
use crate::domain::appointments::{AppointmentRows, Appointments, Booking, Ledger, Plan, Plans};

/// A plan's key: `doctor/service` (a login name has no `/`).
fn plan_key(doctor: &str, service: &str) -> String {
    format!("{doctor}/{service}")
}

/// Writes an event's plans, bookings and patients' details (in the commit's transaction).
pub(super) fn write_rows(
    txn: &redb::WriteTransaction,
    rows: &AppointmentRows,
) -> Result<(), StoreError> {
    if rows == &AppointmentRows::default() {
        return Ok(());
    }
    let mut plans = txn.open_table(PLANS)?;
    for plan in &rows.plans {
        let key = plan_key(&plan.doctor, plan.service.as_str());
        plans.insert(key.as_str(), codec::encode(plan, "plan")?.as_slice())?;
    }
    for (doctor, service) in &rows.plans_removed {
        plans.remove(plan_key(doctor, service.as_str()).as_str())?;
    }
    let mut bookings = txn.open_table(BOOKINGS)?;
    for booking in &rows.bookings {
        bookings.insert(booking.id, codec::encode(booking, "booking")?.as_slice())?;
    }
    let mut contacts = txn.open_table(BOOKING_CONTACTS)?;
    for (id, details) in &rows.contacts {
        contacts.insert(*id, codec::encode(details, "booking contact")?.as_slice())?;
    }
    for id in &rows.contacts_purged {
        contacts.remove(*id)?;
    }
    Ok(())
}

impl Store {
    /// The plans and the ledger, as stored.
    pub fn load_appointments(&self) -> Result<Appointments, StoreError> {
        let txn = self.read_txn()?;
        let mut plans = Plans::default();
        match txn.open_table(PLANS) {
            Ok(table) => {
                for row in table.iter()? {
                    let (_, v) = row?;
                    plans.set(codec::decode::<Plan>(v.value(), "plan")?);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut bookings = Vec::new();
        match txn.open_table(BOOKINGS) {
            Ok(table) => {
                for row in table.iter()? {
                    let (_, v) = row?;
                    bookings.push(codec::decode::<Booking>(v.value(), "booking")?);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Appointments {
            plans,
            ledger: Ledger::restore(bookings),
        })
    }

    /// The bookings whose patients' details were recorded before `older_than` (and those whose
    /// row cannot be read: personal data of unknown age goes too).
    pub fn booking_contacts_older_than(
        &self,
        older_than: crate::domain::Timestamp,
    ) -> Result<Vec<u64>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(BOOKING_CONTACTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            let old = codec::decode::<PatientDetails>(v.value(), "booking contact")
                .map_or(true, |d| d.recorded_at < older_than);
            if old {
                out.push(k.value());
            }
        }
        Ok(out)
    }

    /// Every booking's patient details (the engine's contacts for its messages, at start).
    pub fn booking_contacts_all(&self) -> Result<Vec<(u64, PatientDetails)>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(BOOKING_CONTACTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((k.value(), codec::decode(v.value(), "booking contact")?));
        }
        Ok(out)
    }

    /// A booking's patient details, if recorded.
    pub fn booking_contact(&self, booking: u64) -> Result<Option<PatientDetails>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(BOOKING_CONTACTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(booking)? {
            Some(v) => Ok(Some(codec::decode(v.value(), "booking contact")?)),
            None => Ok(None),
        }
    }
}
