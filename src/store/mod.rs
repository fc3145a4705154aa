//! The store: the only code that names redb. It owns the tables, the schema version and the
//! encoding of values, and offers typed reads and one write: [`Store::commit`], which appends a
//! batch of events to the event log and writes the state rows they touched in ONE transaction.
//! So the audit trail and the state never disagree, and a power cut leaves all of a command or
//! none of it. It does not decide anything: the engine calls it after the domain has decided.
//!
//! Each event row also gets its link in the audit trail's hash chain ([`chain`]), in the same
//! transaction; [`Store::verify_chain`] checks it.
//!
//! Calls block on the disk: call them from the engine's thread or `spawn_blocking`.
//!
//! A failed write (a full disk) leaves redb refusing every later write ("previous I/O error")
//! until the file is opened again: the store notes the failure ([`Store::failure`], shown by
//! `/healthz`), and the engine calls [`Store::reopen`], which drops the database and opens the
//! file again under the store's lock, which every transaction holds while it runs. The file
//! still holds every committed transaction; redb recovers it on open.

mod appointments;
mod backing;
pub mod backup;
mod central;
pub mod chain;
pub mod codec;
mod directory;
mod error;
mod feedback;
mod outbox;
pub mod schema;
pub mod tables;
mod visits;
mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::Instant;

use jiff::civil::Date;
use redb::{Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

pub use backing::{Backing, DiskSwitch, FullDisk};
pub use backup::{BackupError, BackupReport};
pub use central::ShipRow;
pub use chain::{AuditCheck, ChainFault, ChainReport, audit_hash_at, audit_verify};
pub use error::StoreError;
use tables::{
    EVENT_HASHES, EVENTS, IDEMPOTENCY, META, META_QUEUE, ROOMS, SERVICES, TICKET_ARCHIVE, TICKETS,
};

use crate::domain::{
    Clinic, Directory, Event, EventKind, IdempotencyEntry, QueueState, Room, Service, Ticket,
    TicketId, Touched,
};

/// How the store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// fsync every commit (production) or not (tests, benchmarks of the rest).
    pub fsync: bool,
    /// Page cache, bytes.
    pub cache_bytes: usize,
}

/// The last write failed: why, and since when writes fail.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The error.
    pub reason: String,
    /// The first failure of this run of failures.
    pub since: Instant,
}

/// A read transaction, with the store's lock held so that a reopen waits for it.
struct Reading<'a> {
    txn: redb::ReadTransaction,
    _db: RwLockReadGuard<'a, Option<redb::Database>>,
}

impl std::ops::Deref for Reading<'_> {
    type Target = redb::ReadTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

/// A write transaction, with the store's lock held; its commit records the store's health.
struct Writing<'a> {
    txn: redb::WriteTransaction,
    store: &'a Store,
    _db: RwLockReadGuard<'a, Option<redb::Database>>,
}

impl std::ops::Deref for Writing<'_> {
    type Target = redb::WriteTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

impl std::ops::DerefMut for Writing<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.txn
    }
}

impl Writing<'_> {
    fn commit(self) -> Result<(), StoreError> {
        let Writing { txn, store, _db } = self;
        let result = txn.commit().map_err(StoreError::from);
        store.record(result.as_ref().err());
        result
    }

    fn abort(self) -> Result<(), StoreError> {
        self.txn.abort()?;
        Ok(())
    }
}

/// The queue's scalar state, one row in the meta table.
#[derive(Debug, Serialize, Deserialize)]
struct QueueMeta {
    seq: u64,
    day: Date,
    next_ticket_id: u64,
    counters: BTreeMap<String, u32>,
    clinic: Clinic,
}

/// What [`Store::load`] found.
#[derive(Debug)]
pub struct Loaded {
    /// The queue.
    pub state: QueueState,
    /// The last event's sequence number.
    pub seq: u64,
    /// Staff users, API tokens, paired screens.
    pub directory: Directory,
}

/// The database.
pub struct Store {
    /// `None` after a reopen failed: every call answers [`StoreError::Closed`] until the next.
    db: RwLock<Option<redb::Database>>,
    path: PathBuf,
    durability: Durability,
    cache_bytes: usize,
    backing: Backing,
    /// The last write failed (cleared by the next that succeeds).
    failure: Mutex<Option<Failure>>,
    /// What the last check of the audit trail found.
    audit: Mutex<AuditCheck>,
    /// The hash of the last committed event ([`chain::GENESIS`] for an empty log). Locked for
    /// the whole of a commit, so links are computed in commit order.
    head: Mutex<[u8; 32]>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens the existing file at `path` that was not closed cleanly (a power cut while
    /// waitless ran), which repairs it as waitless's own start does: for the offline commands
    /// (`backup`, `audit verify`), whose read-only open cannot repair.
    pub(crate) fn open_to_repair(path: &Path) -> Result<Self, StoreError> {
        tracing::info!("{} was not closed cleanly: repairing it", path.display());
        Self::open(
            path,
            &StoreOptions {
                fsync: true,
                cache_bytes: 1 << 20,
            },
        )
    }

    /// Opens (or creates) the database file at `path`, creating its folder, and checks its
    /// schema version.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        Self::open_on(path, options, Backing::default())
    }

    /// [`Self::open`] with the database's bytes on `backing` (tests: a failing disk).
    pub fn open_on(
        path: &Path,
        options: &StoreOptions,
        backing: Backing,
    ) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataFolder {
                path: dir.to_owned(),
                source,
            })?;
        }
        // redb makes a new database in an empty file: a failed restore or copy would silently
        // become the demo clinic.
        if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(StoreError::NotADatabase {
                path: path.to_owned(),
                reason: "the file is empty".to_owned(),
            });
        }
        let db = backing
            .create(
                redb::Database::builder().set_cache_size(options.cache_bytes),
                path,
            )
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_owned()),
                redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => {
                    StoreError::NotADatabase {
                        path: path.to_owned(),
                        reason,
                    }
                }
                redb::DatabaseError::Storage(redb::StorageError::Io(source))
                    if matches!(
                        source.kind(),
                        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    StoreError::NotADatabase {
                        path: path.to_owned(),
                        reason: source.to_string(),
                    }
                }
                redb::DatabaseError::Storage(redb::StorageError::Io(source))
                    if source.kind() == std::io::ErrorKind::PermissionDenied =>
                {
                    StoreError::DataFolder {
                        path: path.to_owned(),
                        source,
                    }
                }
                e => e.into(),
            })?;
        schema::check_and_migrate(&db, path)?;
        let (head, consistent) = chain::read_head(&db)?;
        if !consistent {
            tracing::warn!(
                "the audit trail's hash chain does not end with the event log in {} — run `waitless audit verify`",
                path.display()
            );
        }
        Ok(Self {
            db: RwLock::new(Some(db)),
            path: path.to_owned(),
            cache_bytes: options.cache_bytes,
            backing,
            failure: Mutex::new(None),
            audit: Mutex::new(AuditCheck::Checking),
            durability: if options.fsync {
                Durability::Immediate
            } else {
                Durability::None
            },
            head: Mutex::new(head),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the database with the store's lock held (a reopen waits for it).
    fn with_db<T>(
        &self,
        f: impl FnOnce(&redb::Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let slot = self.db.read().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(db) => f(db),
            None => Err(self.closed()),
        }
    }

    fn closed(&self) -> StoreError {
        let reason = self
            .failure()
            .map_or_else(|| "unknown".to_owned(), |f| f.reason);
        StoreError::Closed(reason)
    }

    fn read_txn(&self) -> Result<Reading<'_>, StoreError> {
        let slot = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let txn = match slot.as_ref() {
            Some(db) => db.begin_read()?,
            None => return Err(self.closed()),
        };
        Ok(Reading { txn, _db: slot })
    }

    fn write_txn(&self) -> Result<Writing<'_>, StoreError> {
        let slot = self.db.read().unwrap_or_else(PoisonError::into_inner);
        let txn = match slot.as_ref() {
            Some(db) => db.begin_write(),
            None => return Err(self.closed()),
        };
        match txn {
            Ok(txn) => Ok(Writing {
                txn,
                store: self,
                _db: slot,
            }),
            Err(e) => {
                let e = StoreError::from(e);
                self.record(Some(&e));
                Err(e)
            }
        }
    }

    /// Notes how a write ended: a failure starts (or continues) a run of failures, a success
    /// ends it.
    fn record(&self, error: Option<&StoreError>) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        match (error, failure.as_mut()) {
            (None, _) => *failure = None,
            // "A previous I/O error occurred" hides the cause the failure already names.
            (Some(StoreError::Redb(redb::Error::PreviousIo)), Some(_)) => {}
            (Some(e), Some(f)) => f.reason = e.to_string(),
            (Some(e), None) => {
                *failure = Some(Failure {
                    reason: e.to_string(),
                    since: Instant::now(),
                });
            }
        }
    }

    /// Why writes fail, since when (`None`: the last write succeeded).
    pub fn failure(&self) -> Option<Failure> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops the database and opens the file again: after a failed write redb refuses every
    /// later one until then. Waits for running transactions. The file holds every committed
    /// transaction (redb recovers it on open). If the open fails, the store stays closed
    /// (every call answers [`StoreError::Closed`]) until the next reopen.
    pub fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = slot.take() {
            // A failed write is latched: this close reports it again; the file is left for the
            // open below to recover.
            if let Err(e) = old.close() {
                tracing::debug!("closing the database before opening it again: {e}");
            }
        }
        let db = self
            .backing
            .create(
                redb::Database::builder().set_cache_size(self.cache_bytes),
                &self.path,
            )
            .map_err(StoreError::from)?;
        let (head, _) = chain::read_head(&db)?;
        *self.head.lock().unwrap_or_else(PoisonError::into_inner) = head;
        *slot = Some(db);
        Ok(())
    }

    /// A small write that tells whether the database can commit again (the engine tries it
    /// while writes fail and nothing else is written); records the result like any write.
    pub fn probe(&self) -> Result<(), StoreError> {
        let mut txn = self.write_txn()?;
        txn.set_durability(self.durability)?;
        txn.open_table(META)?
            .insert(tables::META_WRITE_CHECK, [0u8; 8].as_slice())?;
        txn.commit()
    }

    /// Loads the queue from the state tables (`None`: a new database, never seeded).
    pub fn load(&self) -> Result<Option<Loaded>, StoreError> {
        let txn = self.read_txn()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(queue) = meta.get(META_QUEUE)? else {
            return Ok(None);
        };
        let queue: QueueMeta = codec::decode(queue.value(), "meta.queue")?;
        let mut state = QueueState::new(queue.day);
        state.clinic = queue.clinic;
        state.counters = queue.counters;
        state.next_ticket_id = queue.next_ticket_id;
        for row in txn.open_table(SERVICES)?.iter()? {
            let (_, v) = row?;
            let s: Service = codec::decode(v.value(), "services")?;
            state.services.insert(s.id.clone(), s);
        }
        for row in txn.open_table(ROOMS)?.iter()? {
            let (_, v) = row?;
            let r: Room = codec::decode(v.value(), "rooms")?;
            state.rooms.insert(r.id.clone(), r);
        }
        for row in txn.open_table(TICKETS)?.iter()? {
            let (_, v) = row?;
            let t: Ticket = codec::decode(v.value(), "tickets")?;
            state.tickets.insert(t.id, t);
        }
        state.reindex();
        let mut idempotency = HashMap::new();
        for row in txn.open_table(IDEMPOTENCY)?.iter()? {
            let (k, v) = row?;
            let e: IdempotencyEntry = codec::decode(v.value(), "idempotency")?;
            idempotency.insert(k.value().to_owned(), e);
        }
        state.idempotency = idempotency;
        // Rows are migrated on open; this only covers a row restored from an older backup.
        state.settle_looks();
        drop(txn);
        Ok(Some(Loaded {
            state,
            seq: queue.seq,
            directory: self.load_directory()?,
        }))
    }

    /// Commits a batch of events in one write transaction: appends each event to the log and
    /// writes the rows they touched as they are in `state` (the state after all of them), and
    /// the rows they carry themselves (staff users, tokens, screens, patients' details).
    /// Each event is chained to the one before it in the audit trail ([`chain`]).
    /// Returns only once the transaction is durable (with fsync on).
    pub fn commit(
        &self,
        batch: &[(&Event, &Touched)],
        state: &QueueState,
    ) -> Result<(), StoreError> {
        let Some(last) = batch.last() else {
            return Ok(());
        };
        // The database's lock first, then the head's (as `reopen` takes them).
        let mut txn = self.write_txn()?;
        // Poisoning cannot leave a wrong head: it is only assigned after a commit.
        let mut head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = *head;
        txn.set_durability(self.durability)?;
        {
            let mut events = txn.open_table(EVENTS)?;
            let mut hashes = txn.open_table(EVENT_HASHES)?;
            let mut tickets = txn.open_table(TICKETS)?;
            let mut archive = txn.open_table(TICKET_ARCHIVE)?;
            let mut services = txn.open_table(SERVICES)?;
            let mut rooms = txn.open_table(ROOMS)?;
            let mut keys = txn.open_table(IDEMPOTENCY)?;
            let mut buf = Vec::with_capacity(1024);
            let mut packed = Vec::with_capacity(256);
            for (event, touched) in batch {
                // the chain is over the event's JSON; the log keeps it packed
                codec::encode_packed_into(&mut buf, &mut packed, event, "event")?;
                events.insert(event.seq, packed.as_slice())?;
                next = chain::link(&next, &buf);
                hashes.insert(event.seq, next)?;
                for t in &touched.archived {
                    codec::encode_packed_into(&mut buf, &mut packed, t, "ticket")?;
                    archive.insert(t.id.0, packed.as_slice())?;
                    tickets.remove(t.id.0)?;
                }
                if touched.day_closed {
                    keys.retain(|_, _| false)?;
                }
                for id in &touched.tickets {
                    match state.tickets.get(id) {
                        Some(t) => {
                            codec::encode_into(&mut buf, t, "ticket")?;
                            tickets.insert(id.0, buf.as_slice())?;
                        }
                        None => {
                            tickets.remove(id.0)?;
                        }
                    }
                }
                for id in &touched.rooms {
                    if let Some(r) = state.rooms.get(id) {
                        codec::encode_into(&mut buf, r, "room")?;
                        rooms.insert(id.as_str(), buf.as_slice())?;
                    }
                }
                for id in &touched.services {
                    if let Some(s) = state.services.get(id) {
                        codec::encode_into(&mut buf, s, "service")?;
                        services.insert(id.as_str(), buf.as_slice())?;
                    }
                }
                if let Some(key) = &touched.idempotency
                    && let Some(entry) = state.idempotency.get(key)
                {
                    codec::encode_into(&mut buf, entry, "idempotency")?;
                    keys.insert(key.as_str(), buf.as_slice())?;
                }
            }
            // The day's visits, folded in the commit that closes it.
            if let Some(close) = batch
                .iter()
                .rev()
                .find(|(e, _)| matches!(e.kind, EventKind::DayClosed { .. }))
            {
                drop((events, hashes, tickets, archive, services, rooms, keys));
                let written: Vec<&Event> = batch.iter().map(|(e, _)| *e).collect();
                let folded = visits::fold_closed_day(&txn, &written, close.0.seq)?;
                tracing::debug!(folded, "visits of the closed day folded");
            }
            visits::record_feedback(&txn, batch)?;
            for (_, touched) in batch {
                directory::write_staff_rows(&txn, &touched.staff)?;
                directory::write_patients(&txn, touched)?;
                appointments::write_rows(&txn, &touched.appointments)?;
                outbox::write_rows(&txn, touched)?;
                feedback::write_rows(&txn, touched)?;
            }
            let meta = QueueMeta {
                seq: last.0.seq,
                day: state.day,
                next_ticket_id: state.next_ticket_id,
                counters: state.counters.clone(),
                clinic: state.clinic.clone(),
            };
            codec::encode_into(&mut buf, &meta, "meta.queue")?;
            txn.open_table(META)?.insert(META_QUEUE, buf.as_slice())?;
        }
        match txn.commit() {
            Ok(()) => {
                *head = next;
                Ok(())
            }
            Err(e) => {
                // Whether anything reached the disk is unknown: take the head back from it
                // (a reopen reads it again from the file).
                drop(head);
                match self.with_db(chain::read_head) {
                    Ok((stored, _)) => {
                        *self.head.lock().unwrap_or_else(PoisonError::into_inner) = stored;
                    }
                    Err(read) => tracing::error!("cannot read the audit trail's head: {read}"),
                }
                Err(e)
            }
        }
    }

    /// Walks every event in order and checks the audit trail's hash chain: the first event
    /// that was edited, deleted, or whose hash was edited (see [`chain`]).
    pub fn verify_chain(&self) -> Result<ChainReport, StoreError> {
        self.with_db(chain::verify)
    }

    /// Verifies the audit trail's hash chain ([`Self::verify_chain`]) and keeps what it found
    /// for [`Self::audit_check`]. Walks every event: the server runs it in the background.
    pub fn check_audit_trail(&self) -> AuditCheck {
        let found = AuditCheck::of(self.verify_chain());
        *self.audit.lock().unwrap_or_else(PoisonError::into_inner) = found.clone();
        found
    }

    /// What the last [`Self::check_audit_trail`] found (`Checking` before it ends).
    pub fn audit_check(&self) -> AuditCheck {
        self.audit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A ticket from the live table or the archive.
    pub fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let txn = self.read_txn()?;
        for table in [TICKETS, TICKET_ARCHIVE] {
            match txn.open_table(table) {
                Ok(t) => {
                    if let Some(v) = t.get(id.0)? {
                        return Ok(Some(codec::decode(v.value(), "ticket")?));
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Up to `limit` events after `seq`, oldest first.
    pub fn events_after(&self, seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let txn = self.read_txn()?;
        let events = match txn.open_table(EVENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in events.range(seq.saturating_add(1)..)?.take(limit) {
            let (_, v) = row?;
            out.push(codec::decode(v.value(), "event")?);
        }
        Ok(out)
    }

    /// The last `limit` events, oldest first.
    pub fn recent_events(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let txn = self.read_txn()?;
        let events = match txn.open_table(EVENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::with_capacity(limit);
        for row in events.iter()?.rev().take(limit) {
            let (_, v) = row?;
            out.push(codec::decode(v.value(), "event")?);
        }
        out.reverse();
        Ok(out)
    }

    /// Number of events in the log.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        let txn = self.read_txn()?;
        match txn.open_table(EVENTS) {
            Ok(t) => Ok(t.len()?),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Closes the database, writing its clean-shutdown header (dropping does the same, but
    /// cannot report an error).
    pub fn close(self) -> Result<(), StoreError> {
        let slot = self.db.into_inner().unwrap_or_else(PoisonError::into_inner);
        if let Some(db) = slot {
            db.close()?;
        }
        Ok(())
    }

    /// The secret that signs patients' status links, made on first use and kept in the
    /// database (so printed links stay valid across restarts).
    pub fn link_secret(&self) -> Result<[u8; 32], StoreError> {
        let txn = self.write_txn()?;
        let secret = {
            let mut meta = txn.open_table(META)?;
            let stored = match meta.get(tables::META_LINK_SECRET)? {
                Some(v) => <[u8; 32]>::try_from(v.value()).ok(),
                None => None,
            };
            match stored {
                Some(secret) => secret,
                None => {
                    let mut secret = [0u8; 32];
                    getrandom::fill(&mut secret).map_err(|e| StoreError::Random(e.to_string()))?;
                    meta.insert(tables::META_LINK_SECRET, secret.as_slice())?;
                    secret
                }
            }
        };
        txn.commit()?;
        Ok(secret)
    }

    /// A cheap read that proves the database answers (`/healthz`).
    pub fn check(&self) -> Result<(), StoreError> {
        self.with_db(|db| schema::read_version(db).map(|_| ()))
    }

    /// Writes a schema version (tests use it to fake a file from a newer waitless).
    pub fn force_schema_version(&self, version: u64) -> Result<(), StoreError> {
        let txn = self.write_txn()?;
        schema::write_version(&txn, version)?;
        txn.commit()?;
        Ok(())
    }
}
