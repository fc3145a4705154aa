//! The audit trail's hash chain: tamper evidence for the event log.
//!
//! Every row of [`EVENTS`] (seq → the event's JSON, packed: see [`super::codec`]) has a row
//! with the same seq in [`EVENT_HASHES`] (seq → 32 bytes), written in the same transaction:
//!
//! ```text
//! hash(seq) = SHA-256(hash(seq - 1) || the JSON of event seq, as written (unpacked))
//! hash(0)   = 32 zero bytes (GENESIS)
//! ```
//!
//! The hashes live in their own table, so the event JSON the API and the WebSocket send is
//! unchanged, and the JSON written is the canonical bytes (no re-encoding: what is hashed is
//! what unpacking the stored row gives back, byte for byte, and what the central database
//! receives). [`verify`] walks the log in order and reports the first event
//! that breaks the chain: an edited event, an edited hash, a deleted event (a gap, a hash
//! left without its event, or a tail cut off before the queue's last seq), a missing hash.
//!
//! What it does not do: anyone who can write the file can rewrite every hash after an edit.
//! The defence is to keep the head ([`ChainReport::head`], printed by `waitless audit verify`)
//! somewhere else now and then (a log, a printout): a later head that does not extend it means
//! history was rewritten. The chain covers the event log only, not the state tables (they are
//! derived from the events).
//!
//! Invariants: the store's in-memory head equals the hash of the last row of [`EVENT_HASHES`]
//! ([`GENESIS`] when empty); [`super::Store::commit`] is the only writer after open, and schema
//! migration 1 → 2 ([`rebuild`]) chains the events of files written before the audit trail.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::tables::{EVENT_HASHES, EVENTS, META, META_QUEUE};
use super::{QueueMeta, StoreError, codec, schema};

/// The hash the first event chains from.
pub const GENESIS: [u8; 32] = [0; 32];

/// The next link: `SHA-256(prev || event_bytes)`.
pub fn link(prev: &[u8; 32], event_bytes: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(prev);
    hash.update(event_bytes);
    hash.finalize().into()
}

/// Whether the stored event `bytes` (plain or packed JSON) links `prev` to `hash`.
fn chains(prev: &[u8; 32], bytes: &[u8], hash: [u8; 32]) -> bool {
    codec::unpack(bytes, "event").is_ok_and(|json| link(prev, &json) == hash)
}

/// Why the chain breaks at [`ChainReport::first_bad`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainFault {
    /// The event is not in the log, but later ones are (it was deleted).
    MissingEvent,
    /// The event's bytes no longer match its hash, while the next event still chains from
    /// that hash: the event was edited.
    EventChanged,
    /// The event's stored hash does not match, and the next event does not chain from it
    /// either: the hash was edited.
    HashChanged,
    /// The last event or its hash was edited (with no next event, the two cannot be told apart).
    EventOrHashChanged,
    /// The event has no stored hash (the hash row, or the whole hash table, was deleted).
    MissingHash,
    /// A hash is stored for this seq but the event is not in the log (it was deleted).
    OrphanHash,
    /// The log ends before the queue's last seq: events at its end were deleted.
    Truncated,
}

impl ChainFault {
    /// What it means, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Self::MissingEvent => "the event is missing from the log (deleted)",
            Self::EventChanged => "the event was changed after it was written",
            Self::HashChanged => "the event's stored hash was changed",
            Self::EventOrHashChanged => "the last event or its stored hash was changed",
            Self::MissingHash => "the event has no stored hash (hash deleted)",
            Self::OrphanHash => "a hash is stored for an event that is not in the log (deleted)",
            Self::Truncated => "the log ends before the queue's last event (events deleted)",
        }
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Events in the log (all of them, also those after a fault).
    pub events: u64,
    /// The seq of the first event that breaks the chain; `None`: the chain is intact.
    pub first_bad: Option<u64>,
    /// Why it breaks there.
    pub reason: Option<ChainFault>,
    /// The seq of the last event (0: an empty log).
    pub last_seq: u64,
    /// The stored hash of the last event ([`GENESIS`] for an empty log): keep it elsewhere to
    /// detect a later rewrite of the whole chain.
    #[serde(serialize_with = "serialize_hex")]
    pub head: [u8; 32],
}

impl ChainReport {
    /// Whether the chain is intact.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }

    /// [`Self::head`] in lowercase hex.
    pub fn head_hex(&self) -> String {
        hex(&self.head)
    }
}

impl std::fmt::Display for ChainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.first_bad, self.reason) {
            (None, _) => write!(
                f,
                "audit trail intact: {} events, last seq {}, head {}",
                self.events,
                self.last_seq,
                self.head_hex()
            ),
            (Some(seq), reason) => write!(
                f,
                "audit trail BROKEN at event {seq}: {} ({} events, last seq {})",
                reason.map_or("unknown", ChainFault::describe),
                self.events,
                self.last_seq
            ),
        }
    }
}

/// What the check of the audit trail after start found: what `/healthz` and `/admin` show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum AuditCheck {
    /// The check runs (it started with the server, in the background).
    Checking,
    /// The chain is intact.
    Intact {
        /// Events checked.
        events: u64,
    },
    /// An event breaks the chain: the file was changed behind waitless's back.
    Broken {
        /// The first event that breaks it.
        at: u64,
        /// Why, for a person.
        reason: String,
    },
    /// The log could not be read.
    Unreadable {
        /// The error.
        error: String,
    },
}

impl AuditCheck {
    /// What a verification gave.
    pub fn of(report: Result<ChainReport, StoreError>) -> Self {
        match report {
            Ok(r) => match r.first_bad {
                None => Self::Intact { events: r.events },
                Some(at) => Self::Broken {
                    at,
                    reason: r.reason.map_or("unknown", ChainFault::describe).to_owned(),
                },
            },
            Err(e) => Self::Unreadable {
                error: e.to_string(),
            },
        }
    }
}

impl std::fmt::Display for AuditCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Checking => f.write_str("checking"),
            Self::Intact { .. } => f.write_str("intact"),
            Self::Broken { at, .. } => write!(f, "broken at event {at}"),
            Self::Unreadable { .. } => f.write_str("unreadable"),
        }
    }
}

/// Records the first fault only.
fn fail(report: &mut ChainReport, seq: u64, reason: ChainFault) {
    if report.first_bad.is_none() {
        report.first_bad = Some(seq);
        report.reason = Some(reason);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn serialize_hex<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// The hash of the last stored event ([`GENESIS`] for an empty log), and whether the hash
/// table ends at the same seq as the log (`false` means the chain needs a look).
pub fn read_head(db: &impl ReadableDatabase) -> Result<([u8; 32], bool), StoreError> {
    let txn = db.begin_read()?;
    let last_event = match txn.open_table(EVENTS) {
        Ok(t) => t.last()?.map(|(k, _)| k.value()),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let last_hash = match txn.open_table(EVENT_HASHES) {
        Ok(t) => t.last()?.map(|(k, v)| (k.value(), v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let consistent = last_event == last_hash.map(|(k, _)| k);
    Ok((last_hash.map_or(GENESIS, |(_, h)| h), consistent))
}

/// Walks every event in order and checks the chain (one read transaction: a consistent
/// snapshot, even while the engine commits).
pub fn verify(db: &impl ReadableDatabase) -> Result<ChainReport, StoreError> {
    let txn = db.begin_read()?;
    let events = match txn.open_table(EVENTS) {
        Ok(t) => Some(t),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let hashes = match txn.open_table(EVENT_HASHES) {
        Ok(t) => Some(t),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let stored_hash = |seq: u64| -> Result<Option<[u8; 32]>, StoreError> {
        match &hashes {
            Some(t) => Ok(t.get(seq)?.map(|v| v.value())),
            None => Ok(None),
        }
    };
    let mut report = ChainReport {
        events: 0,
        first_bad: None,
        reason: None,
        last_seq: 0,
        head: GENESIS,
    };
    let mut prev = GENESIS;
    if let Some(events) = &events {
        let mut rows = events.iter()?.peekable();
        while let Some(row) = rows.next() {
            let (seq, bytes) = row?;
            let seq = seq.value();
            report.events += 1;
            report.last_seq = seq;
            if report.first_bad.is_some() {
                continue;
            }
            // Seqs run from 1 without gaps, so the n-th row holds seq n.
            let expected = report.events;
            if seq != expected {
                fail(&mut report, expected, ChainFault::MissingEvent);
                continue;
            }
            let Some(stored) = stored_hash(seq)? else {
                fail(&mut report, seq, ChainFault::MissingHash);
                continue;
            };
            // an event that cannot be unpacked any more was changed like any other
            if chains(&prev, bytes.value(), stored) {
                prev = stored;
                continue;
            }
            // Tell an edited event from an edited hash: does the next event chain from the
            // stored hash?
            let reason = match rows.peek() {
                Some(Ok((next_seq, next_bytes))) => {
                    let next_stored = stored_hash(next_seq.value())?;
                    if next_stored.is_some_and(|h| chains(&stored, next_bytes.value(), h)) {
                        ChainFault::EventChanged
                    } else {
                        ChainFault::HashChanged
                    }
                }
                Some(Err(_)) | None => ChainFault::EventOrHashChanged,
            };
            fail(&mut report, seq, reason);
        }
    }
    if let Some(hashes) = &hashes {
        if let Some((seq, head)) = hashes.last()?.map(|(k, v)| (k.value(), v.value()))
            && seq == report.last_seq
        {
            report.head = head;
        }
        // A hash beyond the log's end (or at seq 0) belongs to a deleted event.
        if let Some(row) = hashes.range(report.last_seq.saturating_add(1)..)?.next() {
            fail(&mut report, row?.0.value(), ChainFault::OrphanHash);
        }
        if let Some(row) = hashes.range(..1)?.next() {
            fail(&mut report, row?.0.value(), ChainFault::OrphanHash);
        }
    }
    // The queue's meta row (written with every commit) knows the last seq.
    let queue_seq = match txn.open_table(META) {
        Ok(meta) => match meta.get(META_QUEUE)? {
            Some(v) => codec::decode::<QueueMeta>(v.value(), "meta.queue")?.seq,
            None => 0,
        },
        Err(redb::TableError::TableDoesNotExist(_)) => 0,
        Err(e) => return Err(e.into()),
    };
    if queue_seq > report.last_seq {
        let missing = report.last_seq.saturating_add(1);
        fail(&mut report, missing, ChainFault::Truncated);
    }
    Ok(report)
}

/// Migration 1 → 2: chains the events of a file written before the audit trail, in seq
/// order (it vouches for them as they are now). Replaces any hashes already there.
pub fn rebuild(txn: &redb::WriteTransaction) -> Result<u64, StoreError> {
    let events = txn.open_table(EVENTS)?;
    let mut hashes = txn.open_table(EVENT_HASHES)?;
    hashes.retain(|_, _| false)?;
    let mut prev = GENESIS;
    let mut count = 0;
    for row in events.iter()? {
        let (seq, bytes) = row?;
        prev = link(&prev, &codec::unpack(bytes.value(), "event")?);
        hashes.insert(seq.value(), prev)?;
        count += 1;
    }
    Ok(count)
}

/// Verifies the chain of the database file at `path` without changing it (opened read-only):
/// what `waitless audit verify` runs. A file that was not closed cleanly (a power cut while
/// waitless ran) is first repaired, as waitless's own start would. Fails with
/// [`StoreError::InUse`] while waitless runs on that file, with [`StoreError::NotFound`] when
/// there is no file, and with [`StoreError::Unchained`] for a file from before the audit trail
/// (not yet migrated).
pub fn audit_verify(path: &Path) -> Result<ChainReport, StoreError> {
    match open_chained(path) {
        Err(StoreError::Unclean(_)) => {
            super::Store::open_to_repair(path)?.close()?;
            verify(&open_chained(path)?)
        }
        db => verify(&db?),
    }
}

/// The stored hash of event `seq` in the file at `path` (read-only, like [`audit_verify`]):
/// compare it with a head noted earlier (`waitless audit verify --at SEQ`). `None`: no hash
/// for that seq.
pub fn audit_hash_at(path: &Path, seq: u64) -> Result<Option<[u8; 32]>, StoreError> {
    let db = open_chained(path)?;
    let txn = db.begin_read()?;
    match txn.open_table(EVENT_HASHES) {
        Ok(t) => Ok(t.get(seq)?.map(|v| v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Opens an existing file read-only and checks that its schema has the chain.
fn open_chained(path: &Path) -> Result<redb::ReadOnlyDatabase, StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotFound(path.to_owned()));
    }
    let db = redb::Database::builder()
        .open_read_only(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_owned()),
            redb::DatabaseError::RepairAborted => StoreError::Unclean(path.to_owned()),
            e => e.into(),
        })?;
    match schema::read_version(&db)? {
        Some(v) if v > schema::SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_owned(),
            found: v,
            supported: schema::SCHEMA_VERSION,
        }),
        Some(v) if v < schema::FIRST_CHAINED_VERSION => Err(StoreError::Unchained {
            path: path.to_owned(),
            found: v,
        }),
        _ => Ok(db),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use jiff::{SignedDuration, Timestamp};
    use redb::{ReadableDatabase, ReadableTable};

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::Config;
    use crate::domain::{
        ClinicCalendar, Command, Decision, Event, Origin, PriorityClass, QueueState, RoomId,
        ServiceId, Source, Touched,
    };
    use crate::store::{Store, StoreOptions};

    fn options() -> StoreOptions {
        StoreOptions {
            fsync: false,
            cache_bytes: 1024 * 1024,
        }
    }

    /// Builds a database the way the engine does (seed, then decide/apply/commit in batches)
    /// and returns the number of events.
    fn build(path: &Path, tickets: usize) -> u64 {
        let store = Store::open(path, &options()).unwrap();
        let mut now: Timestamp = "2026-11-21T08:00:00Z".parse().unwrap();
        let calendar = ClinicCalendar::new(jiff::tz::TimeZone::UTC, jiff::civil::time(4, 0, 0, 0));
        let (books, _) =
            crate::engine::load_or_seed(&store, &ManualClock::new(now), &calendar).unwrap();
        let (mut state, mut seq) = (books.state, books.seq);
        let policy = Config::default().policy();
        let origin = Origin::new(Source::Kiosk, "kiosk-1");
        let mut batch: Vec<(Event, Touched)> = Vec::new();
        for i in 0..tickets {
            now += SignedDuration::from_secs(5);
            let mut commands = vec![Command::IssueTicket {
                service: ServiceId::parse("general").unwrap(),
                priority: PriorityClass::Normal,
                idempotency_key: Some(format!("k-{seq}-{i}")),
                patient: None,
            }];
            if i % 2 == 1 {
                commands.push(Command::RoomNext {
                    room: RoomId::parse("room-1").unwrap(),
                });
            }
            for command in &commands {
                if let Decision::Event(kind) = state.decide(command, &origin, now, &policy).unwrap()
                {
                    seq += 1;
                    let event = QueueState::event(seq, now, &origin, kind);
                    let touched = state.apply(&event);
                    batch.push((event, touched));
                }
            }
            if batch.len() >= 7 {
                let refs: Vec<(&Event, &Touched)> = batch.iter().map(|(e, t)| (e, t)).collect();
                store.commit(&refs, &state).unwrap();
                batch.clear();
            }
        }
        let refs: Vec<(&Event, &Touched)> = batch.iter().map(|(e, t)| (e, t)).collect();
        store.commit(&refs, &state).unwrap();
        store.close().unwrap();
        seq
    }

    fn fresh(tickets: usize) -> (tempfile::TempDir, PathBuf, u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waitless.redb");
        let events = build(&path, tickets);
        (dir, path, events)
    }

    /// Opens the file behind the store's back and lets `f` tamper with it.
    fn tamper(path: &Path, f: impl FnOnce(&redb::WriteTransaction)) {
        let db = redb::Database::open(path).unwrap();
        let txn = db.begin_write().unwrap();
        f(&txn);
        txn.commit().unwrap();
    }

    fn verify_file(path: &Path) -> ChainReport {
        let store = Store::open(path, &options()).unwrap();
        store.verify_chain().unwrap()
    }

    #[test]
    fn intact_chain_verifies_and_reports_its_head() {
        let (_dir, path, events) = fresh(30);
        assert!(events > 40);
        let store = Store::open(&path, &options()).unwrap();
        let report = store.verify_chain().unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.events, events);
        assert_eq!(report.last_seq, events);
        assert_eq!(report.head, store.with_db(read_head).unwrap().0);
        assert_ne!(report.head, GENESIS);
        assert!(report.to_string().starts_with("audit trail intact"));
    }

    #[test]
    fn empty_database_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("w.redb"), &options()).unwrap();
        let report = store.verify_chain().unwrap();
        assert!(report.is_ok());
        assert_eq!((report.events, report.head), (0, GENESIS));
    }

    #[test]
    fn first_link_chains_from_zero_over_the_events_json() {
        let (_dir, path, _) = fresh(1);
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let bytes = txn
            .open_table(EVENTS)
            .unwrap()
            .get(1)
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        assert!(codec::is_packed(&bytes), "the log keeps events packed");
        let bytes = codec::unpack(&bytes, "event").unwrap().into_owned();
        assert!(bytes.starts_with(b"{\"seq\":1,"));
        let stored = txn
            .open_table(EVENT_HASHES)
            .unwrap()
            .get(1)
            .unwrap()
            .unwrap()
            .value();
        let expected: [u8; 32] = Sha256::digest([GENESIS.as_slice(), &bytes].concat()).into();
        assert_eq!(stored, expected);
    }

    #[test]
    fn edited_ticket_number_is_reported_at_its_event() {
        let (_dir, path, _) = fresh(20);
        tamper(&path, |txn| {
            let mut events = txn.open_table(EVENTS).unwrap();
            let json = codec::unpack(events.get(10).unwrap().unwrap().value(), "event")
                .unwrap()
                .into_owned();
            let text = String::from_utf8(json).unwrap();
            let edited = text.replacen("\"number\":\"", "\"number\":\"X", 1);
            assert_ne!(text, edited, "event 10 has a ticket number");
            events.insert(10, edited.as_bytes()).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(10));
        assert_eq!(report.reason, Some(ChainFault::EventChanged));
        assert!(
            report.to_string().contains("BROKEN at event 10"),
            "{report}"
        );
    }

    #[test]
    fn a_damaged_packed_event_is_reported_at_its_event() {
        let (_dir, path, _) = fresh(20);
        tamper(&path, |txn| {
            let mut events = txn.open_table(EVENTS).unwrap();
            let mut packed = events.get(10).unwrap().unwrap().value().to_vec();
            let middle = packed.len() / 2;
            packed[middle] ^= 0xFF;
            events.insert(10, packed.as_slice()).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(10));
        assert_eq!(report.reason, Some(ChainFault::EventChanged));
    }

    #[test]
    fn edited_last_event_is_reported() {
        let (_dir, path, events) = fresh(5);
        tamper(&path, |txn| {
            let mut table = txn.open_table(EVENTS).unwrap();
            let mut json = table.get(events).unwrap().unwrap().value().to_vec();
            json.push(b' ');
            table.insert(events, json.as_slice()).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(events));
        assert_eq!(report.reason, Some(ChainFault::EventOrHashChanged));
    }

    #[test]
    fn deleted_event_is_reported_as_a_gap() {
        let (_dir, path, events) = fresh(20);
        tamper(&path, |txn| {
            txn.open_table(EVENTS).unwrap().remove(7).unwrap();
            txn.open_table(EVENT_HASHES).unwrap().remove(7).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(7));
        assert_eq!(report.reason, Some(ChainFault::MissingEvent));
        assert_eq!(report.events, events - 1);
    }

    #[test]
    fn deleted_first_event_is_reported() {
        let (_dir, path, _) = fresh(3);
        tamper(&path, |txn| {
            txn.open_table(EVENTS).unwrap().remove(1).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(1));
        assert_eq!(report.reason, Some(ChainFault::MissingEvent));
    }

    #[test]
    fn deleted_tail_is_reported() {
        let (_dir, path, events) = fresh(6);
        // The last event and its hash: nothing after it to show a gap.
        tamper(&path, |txn| {
            txn.open_table(EVENTS).unwrap().remove(events).unwrap();
            txn.open_table(EVENT_HASHES)
                .unwrap()
                .remove(events)
                .unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(events));
        assert_eq!(report.reason, Some(ChainFault::Truncated));
        // Only the event: its hash is left behind.
        let (_dir, path, events) = fresh(6);
        tamper(&path, |txn| {
            txn.open_table(EVENTS).unwrap().remove(events).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(events));
        assert_eq!(report.reason, Some(ChainFault::OrphanHash));
    }

    #[test]
    fn edited_hash_is_reported_at_its_event() {
        let (_dir, path, _) = fresh(20);
        tamper(&path, |txn| {
            let mut hashes = txn.open_table(EVENT_HASHES).unwrap();
            let mut h = hashes.get(12).unwrap().unwrap().value();
            h[0] ^= 1;
            hashes.insert(12, h).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(12));
        assert_eq!(report.reason, Some(ChainFault::HashChanged));
    }

    #[test]
    fn deleted_hash_table_is_reported_from_the_first_event() {
        let (_dir, path, _) = fresh(3);
        tamper(&path, |txn| {
            txn.delete_table(EVENT_HASHES).unwrap();
        });
        let report = verify_file(&path);
        assert_eq!(report.first_bad, Some(1));
        assert_eq!(report.reason, Some(ChainFault::MissingHash));
    }

    #[test]
    fn version_1_database_is_chained_on_open_and_keeps_chaining() {
        let (_dir, path, events) = fresh(15);
        let original = {
            let store = Store::open(&path, &options()).unwrap();
            store.verify_chain().unwrap().head
        };
        // What waitless 1 left: no hash table, schema version 1.
        tamper(&path, |txn| {
            txn.delete_table(EVENT_HASHES).unwrap();
            schema::write_version(txn, 1).unwrap();
        });
        assert!(matches!(
            audit_verify(&path),
            Err(StoreError::Unchained { found: 1, .. })
        ));
        let store = Store::open(&path, &options()).unwrap();
        assert_eq!(
            store.with_db(schema::read_version).unwrap(),
            Some(schema::SCHEMA_VERSION)
        );
        let report = store.verify_chain().unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!((report.events, report.head), (events, original));
        store.close().unwrap();
        // New events chain on from the migrated head.
        let more = build(&path, 4);
        assert!(more > events);
        let report = verify_file(&path);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.events, more);
    }

    #[test]
    fn audit_verify_reads_the_file_without_opening_it_for_writing() {
        let (dir, path, events) = fresh(4);
        let report = audit_verify(&path).unwrap();
        assert!(report.is_ok());
        assert_eq!(report.events, events);
        assert!(matches!(
            audit_verify(&dir.path().join("nope.redb")),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(audit_hash_at(&path, events).unwrap(), Some(report.head));
        assert_eq!(audit_hash_at(&path, events + 1).unwrap(), None);
        let _running = Store::open(&path, &options()).unwrap();
        assert!(matches!(audit_verify(&path), Err(StoreError::InUse(_))));
    }

    #[test]
    fn report_serializes_with_kebab_case_reason_and_hex_head() {
        let report = ChainReport {
            events: 3,
            first_bad: Some(2),
            reason: Some(ChainFault::EventChanged),
            last_seq: 3,
            head: [0xab; 32],
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["reason"], "event-changed");
        assert_eq!(json["head"], "ab".repeat(32));
    }
}
