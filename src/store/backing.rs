//! Where the database's bytes live: the file ([`Backing::default`], production), or a
//! [`redb::StorageBackend`] a test puts over it. [`FullDisk`] is such a backend, shipped like the
//! device fakes: the file, whose writes fail with "no space left on device" while its
//! [`DiskSwitch`] says the disk is full, so a full disk is tested without root.

use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::StorageBackend;
use redb::backends::FileBackend;

/// Where the database's bytes live. Production uses the file itself ([`Backing::default`]);
/// a test can put its own [`redb::StorageBackend`] over the file, e.g. one that fails writes as
/// a full disk does ([`Backing::custom`]). Every (re)open makes a new backend.
#[derive(Clone, Default)]
pub struct Backing(Option<Arc<Opener>>);

type Opener = dyn Fn(&redb::Builder, std::fs::File) -> Result<redb::Database, redb::DatabaseError>
    + Send
    + Sync;

impl Backing {
    /// A backend made by `make` over the opened file.
    pub fn custom<B: redb::StorageBackend>(
        make: impl Fn(std::fs::File) -> std::io::Result<B> + Send + Sync + 'static,
    ) -> Self {
        Self(Some(Arc::new(move |builder, file| {
            let backend = make(file).map_err(|e| redb::DatabaseError::Storage(e.into()))?;
            builder.create_with_backend(backend)
        })))
    }

    pub(super) fn create(
        &self,
        builder: &redb::Builder,
        path: &Path,
    ) -> Result<redb::Database, redb::DatabaseError> {
        match &self.0 {
            None => builder.create(path),
            Some(open) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| redb::DatabaseError::Storage(e.into()))?;
                open(builder, file)
            }
        }
    }
}

impl std::fmt::Debug for Backing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Backing(custom)"
        } else {
            "Backing(file)"
        })
    }
}

/// Fills and frees the disk of the [`FullDisk`]s it made.
#[derive(Clone, Debug, Default)]
pub struct DiskSwitch(Arc<AtomicBool>);

impl DiskSwitch {
    /// From now on, every write fails with "no space left on device".
    pub fn fill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Space is back.
    pub fn free(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// A backing whose every open puts a [`FullDisk`] on this switch over the file.
    pub fn backing(&self) -> Backing {
        let full = Arc::clone(&self.0);
        Backing::custom(move |file| {
            Ok(FullDisk {
                file: FileBackend::new(file).map_err(io::Error::other)?,
                full: Arc::clone(&full),
            })
        })
    }
}

/// The file backend, whose writes, growth and syncs fail while the disk is full. Reads and the
/// file's locks pass through.
#[derive(Debug)]
pub struct FullDisk {
    file: FileBackend,
    full: Arc<AtomicBool>,
}

impl FullDisk {
    fn space(&self) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device (a full disk, simulated)",
            ))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for FullDisk {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        if len > self.file.len()? {
            self.space()?;
        }
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.space()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.space()?;
        self.file.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.file.close()
    }

    fn try_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.file.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::Config;
    use crate::domain::{
        ClinicCalendar, Command, Decision, Origin, PriorityClass, QueueState, ServiceId, Source,
    };
    use crate::store::{Store, StoreError, StoreOptions};

    /// Decides and commits one ticket on `state`; its number, or the commit's error.
    fn issue(store: &Store, state: &mut QueueState, seq: &mut u64) -> Result<String, StoreError> {
        let now: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        let origin = Origin::new(Source::Kiosk, "kiosk-1");
        let command = Command::IssueTicket {
            service: ServiceId::parse("general").unwrap(),
            priority: PriorityClass::Normal,
            idempotency_key: None,
            patient: None,
        };
        let mut next = state.clone();
        let Decision::Event(kind) = next
            .decide(&command, &origin, now, &Config::default().policy())
            .unwrap()
        else {
            panic!("no ticket decided");
        };
        let event = QueueState::event(*seq + 1, now, &origin, kind);
        let touched = next.apply(&event);
        store.commit(&[(&event, &touched)], &next)?;
        *state = next;
        *seq += 1;
        Ok(state
            .tickets
            .values()
            .map(|t| t.number.to_string())
            .max()
            .unwrap())
    }

    #[test]
    fn a_full_disk_fails_commits_until_a_reopen_after_space_returns_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waitless.redb");
        let disk = DiskSwitch::default();
        let options = StoreOptions {
            fsync: true,
            cache_bytes: 1 << 20,
        };
        let store = Store::open_on(&path, &options, disk.backing()).unwrap();
        let now = "2026-11-21T10:00:00Z".parse().unwrap();
        let calendar = ClinicCalendar::new(jiff::tz::TimeZone::UTC, jiff::civil::time(4, 0, 0, 0));
        let (books, _) =
            crate::engine::load_or_seed(&store, &ManualClock::new(now), &calendar).unwrap();
        let (mut state, mut seq) = (books.state, books.seq);
        assert_eq!(issue(&store, &mut state, &mut seq).unwrap(), "A001");
        assert!(store.failure().is_none());

        disk.fill();
        let committed = state.clone();
        let error = issue(&store, &mut state, &mut seq).unwrap_err();
        assert!(error.to_string().contains("No space left"), "{error}");
        let failure = store.failure().expect("the failure is noted");
        assert!(failure.reason.contains("No space left"), "{failure:?}");
        disk.free();
        // Without a reopen, redb refuses every write after the failure.
        assert!(store.probe().is_err(), "redb latches a failed write");
        let failure = store.failure().unwrap();
        assert!(
            failure.reason.contains("No space left"),
            "the cause, not redb's \"previous I/O error\": {failure:?}"
        );
        // A reopen while the disk is full fails (recovery writes): the store stays closed.
        disk.fill();
        assert!(store.reopen().is_err());
        let closed = issue(&store, &mut state, &mut seq).unwrap_err();
        assert!(matches!(closed, StoreError::Closed(_)), "{closed}");
        assert!(store.check().is_err());

        disk.free();
        store.reopen().unwrap();
        store.probe().unwrap();
        assert!(
            store.failure().is_none(),
            "a successful write ends the failure"
        );
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.seq, seq, "the failed batches left nothing behind");
        assert_eq!(loaded.state.tickets, committed.tickets);
        assert_eq!(issue(&store, &mut state, &mut seq).unwrap(), "A002");
        assert!(store.verify_chain().unwrap().is_ok());
        store.close().unwrap();

        let again = Store::open(&path, &options).unwrap();
        let loaded = again.load().unwrap().unwrap();
        assert_eq!(loaded.seq, seq);
        let mut numbers: Vec<String> = loaded
            .state
            .tickets
            .values()
            .map(|t| t.number.to_string())
            .collect();
        numbers.sort();
        assert_eq!(numbers, ["A001", "A002"]);
    }
}
