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
pub const SCHEMA_VERSION: u64 = 3;

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
