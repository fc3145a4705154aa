//! The schema version and migrations.
//!
//! Opening a database reads `schema_version` from the meta table: a new file gets the current
//! version; an older one is migrated step by step inside one write transaction; a newer one is
//! refused with a message that says what to do.

use std::path::Path;

use redb::ReadableDatabase;

use super::tables::{META, META_SCHEMA_VERSION};
use super::{StoreError, chain, codec};

/// The schema this waitless writes.
pub const SCHEMA_VERSION: u64 = 4;

/// The first version whose events carry the audit trail's hash chain.
pub const FIRST_CHAINED_VERSION: u64 = 2;

/// Checks the file's version, migrating older files; writes the version into a new file.
pub fn check_and_migrate(db: &redb::Database, path: &Path) -> Result<(), StoreError> {
    let found = read_version(db)?;
    match found {
        Some(v) if v > SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_owned(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        Some(v) if v == SCHEMA_VERSION => Ok(()),
        Some(v) => {
            let txn = db.begin_write()?;
            for from in v..SCHEMA_VERSION {
                migrate(&txn, from)?;
            }
            write_version(&txn, SCHEMA_VERSION)?;
            txn.commit()?;
            tracing::info!(from = v, to = SCHEMA_VERSION, "database migrated");
            Ok(())
        }
        None => {
            let txn = db.begin_write()?;
            write_version(&txn, SCHEMA_VERSION)?;
            txn.commit()?;
            Ok(())
        }
    }
}

/// Reads the stored schema version (`None`: a new file).
pub fn read_version(db: &impl ReadableDatabase) -> Result<Option<u64>, StoreError> {
    let txn = db.begin_read()?;
    let table = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match table.get(META_SCHEMA_VERSION)? {
        Some(v) => Ok(Some(codec::decode(v.value(), "schema_version")?)),
        None => Ok(None),
    }
}

/// Writes the schema version (also used by tests to fake a newer file).
pub fn write_version(txn: &redb::WriteTransaction, version: u64) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META)?;
    meta.insert(
        META_SCHEMA_VERSION,
        codec::encode(&version, "schema_version")?.as_slice(),
    )?;
    Ok(())
}

/// One migration step, from `from` to `from + 1`, inside the open's write transaction.
///
/// * 1 → 2: the audit trail. Computes the hash chain ([`chain::rebuild`]) over the events
///   already in the log, in seq order.
/// * 2 → 3: services' and rooms' `order` and services' `tone`: each row without them gets its
///   old place (its position in id order) and colour ([`crate::domain::clinic::settle_looks`]),
///   written once so that later additions never move it.
/// * 3 → 4: events and archived tickets are written packed ([`codec`]). Nothing to rewrite:
///   the rows already there stay plain JSON, which every reader still takes; the version says
///   that a waitless from before packing cannot read this file.
fn migrate(txn: &redb::WriteTransaction, from: u64) -> Result<(), StoreError> {
    match from {
        1 => {
            let events = chain::rebuild(txn)?;
            tracing::info!(
                events,
                "audit trail: hash chain computed for the existing events"
            );
        }
        2 => {
            if settle_looks(txn)? {
                tracing::info!("services and rooms: their order and colours stored");
            }
        }
        3 => tracing::info!("events and archived tickets are packed from now on"),
        _ => tracing::debug!(from, "no migration step for this version"),
    }
    Ok(())
}

/// Stores the order and tone of services and rooms that have none (2 → 3).
fn settle_looks(txn: &redb::WriteTransaction) -> Result<bool, StoreError> {
    use redb::ReadableTable;
    use std::collections::BTreeMap;

    use crate::domain::{Room, Service};

    use super::tables::{ROOMS, SERVICES};
    let mut services = BTreeMap::new();
    let mut rooms = BTreeMap::new();
    {
        let table = txn.open_table(SERVICES)?;
        for row in table.iter()? {
            let (_, v) = row?;
            let s: Service = codec::decode(v.value(), "services")?;
            services.insert(s.id.clone(), s);
        }
        let table = txn.open_table(ROOMS)?;
        for row in table.iter()? {
            let (_, v) = row?;
            let r: Room = codec::decode(v.value(), "rooms")?;
            rooms.insert(r.id.clone(), r);
        }
    }
    if !crate::domain::clinic::settle_looks(&mut services, &mut rooms) {
        return Ok(false);
    }
    let mut table = txn.open_table(SERVICES)?;
    for (id, s) in &services {
        table.insert(id.as_str(), codec::encode(s, "service")?.as_slice())?;
    }
    let mut table = txn.open_table(ROOMS)?;
    for (id, r) in &rooms {
        table.insert(id.as_str(), codec::encode(r, "room")?.as_slice())?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use redb::ReadableTable;

    use super::super::tables::{ROOMS, SERVICES};
    use super::super::{Store, StoreOptions};
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::ClinicCalendar;

    /// Rewrites every row of `table` without the fields `drop`.
    fn strip(
        txn: &redb::WriteTransaction,
        table: redb::TableDefinition<&str, &[u8]>,
        drop: &[&str],
    ) {
        let mut t = txn.open_table(table).unwrap();
        let rows: Vec<(String, Vec<u8>)> = t
            .iter()
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value().to_owned(), v.value().to_vec())
            })
            .collect();
        for (key, value) in rows {
            let mut json: serde_json::Value = serde_json::from_slice(&value).unwrap();
            for field in drop {
                json.as_object_mut().unwrap().remove(*field);
            }
            t.insert(key.as_str(), serde_json::to_vec(&json).unwrap().as_slice())
                .unwrap();
        }
    }

    #[test]
    fn a_version_2_database_gets_the_old_order_and_colours_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waitless.redb");
        let options = StoreOptions {
            fsync: false,
            cache_bytes: 1 << 20,
        };
        let store = Store::open(&path, &options).unwrap();
        let now = "2026-11-21T08:00:00Z".parse().unwrap();
        let calendar = ClinicCalendar::new(jiff::tz::TimeZone::UTC, jiff::civil::time(4, 0, 0, 0));
        crate::engine::load_or_seed(&store, &ManualClock::new(now), &calendar).unwrap();
        store.close().unwrap();
        // as waitless 2 wrote it: no order, tone, icon or question
        {
            let db = redb::Database::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            strip(&txn, SERVICES, &["order", "tone", "icon", "ask_priority"]);
            strip(&txn, ROOMS, &["order"]);
            write_version(&txn, 2).unwrap();
            txn.commit().unwrap();
        }
        let store = Store::open(&path, &options).unwrap();
        let state = store.load().unwrap().unwrap().state;
        let services: Vec<_> = state
            .services_in_order()
            .iter()
            .map(|s| (s.id.as_str().to_owned(), s.order, s.tone, s.ask_priority))
            .collect();
        assert_eq!(
            services,
            [
                ("general".to_owned(), Some(0), Some(0), true),
                ("lab".to_owned(), Some(1), Some(1), true),
            ]
        );
        let rooms: Vec<_> = state
            .rooms_in_order()
            .iter()
            .map(|r| (r.id.as_str().to_owned(), r.order))
            .collect();
        assert_eq!(
            rooms,
            [
                ("lab".to_owned(), Some(0)),
                ("room-1".to_owned(), Some(1)),
                ("room-2".to_owned(), Some(2)),
            ]
        );
        store.close().unwrap();
        // stored in the rows, not only worked out on load
        let db = redb::Database::open(&path).unwrap();
        assert_eq!(read_version(&db).unwrap(), Some(SCHEMA_VERSION));
        let txn = db.begin_read().unwrap();
        let rooms = txn.open_table(ROOMS).unwrap();
        let lab: serde_json::Value =
            serde_json::from_slice(rooms.get("lab").unwrap().unwrap().value()).unwrap();
        assert_eq!(lab["order"], 0);
    }
}
