//! Backups of the database, made while it serves, and their restore.
//!
//! A backup is a fresh redb file holding a copy of every table, read in ONE read transaction:
//! a consistent snapshot (redb's readers see the last commit and never block the writer, so the
//! engine keeps committing while the copy runs; its pages are kept until the read ends). The
//! copy is written next to the target as `.NAME.partial`, committed durably, its audit trail's
//! hash chain verified ([`super::chain::verify`]), and only then renamed over the target
//! (atomic on one file system), so a target is always either the previous file or a whole,
//! verified backup. Copying rewrites every page, so a backup is also compacted.
//!
//! A restore ([`restore`]) copies a backup into the data folder, verifies the copy, keeps the
//! current database as `waitless.redb.before-restore-<stamp>` and renames the copy into place;
//! it refuses a file that is missing, empty, not a waitless database, from a newer waitless or
//! whose chain is broken, and changes nothing then. The server must be stopped: the database's
//! lock tells ([`BackupError::Running`]).
//!
//! What it does not own: when backups are made (`crate::backup`, the nightly task), the
//! command line (`crate::cli::operator`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use redb::{
    Durability, MultimapTableHandle, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableHandle,
};
use serde::{Deserialize, Serialize};

use super::chain::{self, ChainReport};
use super::tables::{
    API_TOKENS, BOOKING_CONTACTS, BOOKINGS, EVENT_HASHES, EVENTS, FEEDBACK_COMMENTS, IDEMPOTENCY,
    META, NOTIFICATIONS, OPT_OUTS, PATIENTS, PLANS, ROOMS, SCREENS, SERVICES, SESSIONS,
    TICKET_ARCHIVE, TICKETS, USERS,
};
use super::{Store, StoreError, codec, schema};
use crate::domain::Ticket;
use jiff::civil::Date;

/// Rows written per (non-durable) transaction of the copy; the last one is durable.
const CHUNK: usize = 16 * 1024;

/// The name of every table a backup copies (a test checks it against `tables.rs`; a table it
/// does not know makes the backup fail rather than be incomplete).
pub const COPIED_TABLES: [&str; 22] = [
    "meta",
    "events",
    "event_hashes",
    "tickets",
    "ticket_archive",
    "services",
    "rooms",
    "idempotency",
    "users",
    "sessions",
    "api_tokens",
    "patients",
    "screens",
    "plans",
    "bookings",
    "booking_contacts",
    "notifications",
    "opt_outs",
    "feedback_comments",
    "visits",
    "visit_days",
    "visit_aliases",
];

/// What a backup made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    /// The backup file.
    pub file: PathBuf,
    /// Its size, bytes.
    pub bytes: u64,
    /// Events in it (its audit trail verified).
    pub events: u64,
    /// The seq of its last event.
    pub last_seq: u64,
    /// The hash of its last event (hex): the head `waitless audit verify` prints.
    pub head: String,
    /// Tickets in it (today's and the archive's).
    pub tickets: u64,
    /// How long it took, milliseconds.
    pub millis: u64,
}

impl std::fmt::Display for BackupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "backup written to {} ({}, {} tickets, {} events, last seq {}, head {}) in {} ms; \
             its audit trail verifies",
            self.file.display(),
            human_bytes(self.bytes),
            self.tickets,
            self.events,
            self.last_seq,
            self.head,
            self.millis
        )
    }
}

/// `12.3 MB`.
pub fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a size shown to one decimal
    let b = bytes as f64;
    if bytes < 1_000 {
        format!("{bytes} bytes")
    } else if bytes < 1_000_000 {
        format!("{:.1} kB", b / 1e3)
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

/// Why a backup or a restore failed. Nothing was changed: the target (or the data folder)
/// holds what it held before.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target's folder is missing or not writable (a USB stick not mounted).
    #[error(
        "cannot write the backup {path}: {source} — check that the folder exists (is the USB \
         stick mounted?) and is writable by the user running waitless"
    )]
    Target {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The copy would fill the file system the database is on (and stop the queue's writes).
    #[error(
        "not enough free space in {folder} for the backup: it needs about {need} and {free} is \
         free — the database needs that space to take tickets. Free some space, or stop \
         waitless and run the backup then (it is written straight to its file)"
    )]
    NoRoom {
        /// The folder.
        folder: PathBuf,
        /// The room needed (the database's size and a margin).
        need: String,
        /// What is free.
        free: String,
    },
    /// The target is the live database itself.
    #[error("{0} is the database itself: write the backup to another file")]
    SameFile(PathBuf),
    /// The file to restore does not exist.
    #[error("no backup at {0} — check the path")]
    Missing(PathBuf),
    /// The file was not closed cleanly (a copy taken while waitless wrote it, a power cut):
    /// redb must repair it, which a read-only open does not do.
    #[error(
        "{0} was not closed cleanly (copied while waitless was writing it?) — nothing was \
         changed; pick another backup"
    )]
    Unclean(PathBuf),
    /// The file to restore is not a waitless database.
    #[error(
        "{path} is not a waitless database ({reason}) — nothing was changed; pick another backup"
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The backup's audit trail does not verify.
    #[error(
        "{path}: {report} — the file was changed after the backup was made; nothing was \
         changed; pick another backup"
    )]
    Broken {
        /// The file.
        path: PathBuf,
        /// What the verification found.
        report: ChainReport,
    },
    /// The database's own audit trail is broken, so a copy would not restore.
    #[error(
        "the database's {report}: a copy would not restore — run `waitless audit verify` \
         (docs/operations.md, Audit trail)"
    )]
    SourceBroken {
        /// What the verification of the copy found.
        report: ChainReport,
    },
    /// A restore while waitless runs on the data folder.
    #[error(
        "waitless is running on {0} — stop it first (sudo systemctl stop waitless), then restore \
         again; nothing was changed"
    )]
    Running(PathBuf),
    /// The database has a table the backup does not know (a bug: `COPIED_TABLES`).
    #[error("the database has a table {0:?} that the backup does not know how to copy")]
    UnknownTable(String),
    /// The request itself is wrong (a date range, a time zone).
    #[error("{0}")]
    Invalid(String),
    /// Reading the database, or writing the copy, failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation in the data folder failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl BackupError {
    /// A stable kebab-case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Target { .. } | Self::SameFile(_) | Self::Io { .. } | Self::NoRoom { .. } => {
                "backup-target"
            }
            Self::Missing(_) | Self::NotADatabase { .. } | Self::Unclean(_) => {
                "backup-not-a-database"
            }
            Self::Broken { .. } | Self::SourceBroken { .. } => "backup-chain-broken",
            Self::Running(_) => "server-running",
            Self::UnknownTable(_) => "internal",
            Self::Invalid(_) => "bad-request",
            Self::Store(e) => e.code(),
        }
    }
}

fn redb_err(e: impl Into<redb::Error>) -> BackupError {
    BackupError::Store(StoreError::Redb(e.into()))
}

impl Store {
    /// Writes a consistent, verified copy of the database to `target` while the server runs
    /// (see the module's doc). Blocks for as long as the copy takes; writers do not wait.
    pub fn backup_to(&self, target: &Path) -> Result<BackupReport, BackupError> {
        if same_file(self.path(), target) {
            return Err(BackupError::SameFile(target.to_owned()));
        }
        check_room(self.path(), target)?;
        let txn = self.read_txn()?;
        write_copy(&txn, target)
    }
}

/// Free room the queue keeps on its file system beyond a backup's copy, bytes.
const ROOM_MARGIN: u64 = 64 * 1024 * 1024;

/// Refuses a copy into the database's own file system when it could fill it: a full disk
/// stops every commit. Another file system (a USB stick) is the copy's own business.
fn check_room(database: &Path, target: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::MetadataExt as _;
    let folder = match target.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_owned(),
        None => PathBuf::from("."),
    };
    let (Ok(db), Ok(dir)) = (std::fs::metadata(database), std::fs::metadata(&folder)) else {
        return Ok(()); // the copy itself reports a missing folder
    };
    if db.dev() != dir.dev() {
        return Ok(());
    }
    let Ok(stat) = nix::sys::statvfs::statvfs(&folder) else {
        return Ok(());
    };
    #[allow(clippy::useless_conversion)] // the types differ between targets
    let free = u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size()));
    let need = db.len().saturating_add(ROOM_MARGIN);
    if free < need {
        return Err(BackupError::NoRoom {
            folder,
            need: human_bytes(need),
            free: human_bytes(free),
        });
    }
    Ok(())
}

/// [`Store::backup_to`] of the database file at `database`, opened read-only (the server is
/// stopped). Fails with [`StoreError::InUse`] while waitless runs on it.
pub fn backup_file(database: &Path, target: &Path) -> Result<BackupReport, BackupError> {
    if !database.is_file() {
        return Err(StoreError::NotFound(database.to_owned()).into());
    }
    if same_file(database, target) {
        return Err(BackupError::SameFile(target.to_owned()));
    }
    read_live(database, |txn| write_copy(txn, target))
}

/// Runs `f` in a read transaction of the database file at `database` (the server stopped):
/// read-only, or — when waitless stopped without closing it (a power cut) — opened and
/// repaired as waitless's own start would.
fn read_live<T>(
    database: &Path,
    f: impl FnOnce(&redb::ReadTransaction) -> Result<T, BackupError>,
) -> Result<T, BackupError> {
    match open_read_only(database) {
        Ok(db) => f(&db.begin_read().map_err(redb_err)?),
        Err(BackupError::Unclean(_)) => {
            let store = Store::open_to_repair(database)?;
            let txn = store.read_txn()?;
            let result = f(&txn);
            drop(txn);
            store.close()?;
            result
        }
        Err(e) => Err(e),
    }
}

impl Store {
    /// The tickets of clinic days `from..=to` (today's and the archive's), by day and issue
    /// time. Reads every ticket: for exports, not for the hot paths.
    pub fn tickets_of_days(&self, from: Date, to: Date) -> Result<Vec<Ticket>, StoreError> {
        let txn = self.read_txn()?;
        tickets_in(&txn, from, to)
    }
}

/// [`Store::tickets_of_days`] of the database file at `database`, opened read-only (the server
/// is stopped).
pub fn tickets_of_days_in_file(
    database: &Path,
    from: Date,
    to: Date,
) -> Result<Vec<Ticket>, BackupError> {
    if !database.is_file() {
        return Err(StoreError::NotFound(database.to_owned()).into());
    }
    read_live(database, |txn| Ok(tickets_in(txn, from, to)?))
}

fn tickets_in(
    txn: &redb::ReadTransaction,
    from: Date,
    to: Date,
) -> Result<Vec<Ticket>, StoreError> {
    let mut out = Vec::new();
    for table in [TICKET_ARCHIVE, TICKETS] {
        let table = match txn.open_table(table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        for row in table.iter()? {
            let (_, v) = row?;
            let t: Ticket = codec::decode(v.value(), "ticket")?;
            if (from..=to).contains(&t.day) {
                out.push(t);
            }
        }
    }
    out.sort_by_key(|t| (t.day, t.created_at, t.id.0));
    Ok(out)
}

/// Whether `a` and `b` name the same file (`b` may not exist yet).
pub fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| -> Option<PathBuf> {
        let name = p.file_name()?;
        let dir = match p.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d.canonicalize().ok()?,
            None => std::env::current_dir().ok()?,
        };
        Some(dir.join(name))
    };
    matches!((canon(a), canon(b)), (Some(a), Some(b)) if a == b)
}

/// Opens an existing file read-only as a waitless database: refuses what is not one.
fn open_read_only(path: &Path) -> Result<redb::ReadOnlyDatabase, BackupError> {
    let not_db = |reason: String| BackupError::NotADatabase {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BackupError::Missing(path.to_owned()),
        _ => BackupError::Io {
            what: "cannot read",
            path: path.to_owned(),
            source: e,
        },
    })?;
    if !meta.is_file() {
        return Err(not_db("it is not a file".to_owned()));
    }
    if meta.len() == 0 {
        return Err(not_db("the file is empty".to_owned()));
    }
    let db = redb::Database::builder()
        .open_read_only(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                BackupError::Store(StoreError::InUse(path.to_owned()))
            }
            redb::DatabaseError::RepairAborted => BackupError::Unclean(path.to_owned()),
            redb::DatabaseError::Storage(redb::StorageError::Io(e))
                if e.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                BackupError::Io {
                    what: "cannot read",
                    path: path.to_owned(),
                    source: e,
                }
            }
            e => not_db(e.to_string()),
        })?;
    match schema::read_version(&db) {
        Ok(Some(v)) if v > schema::SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_owned(),
            found: v,
            supported: schema::SCHEMA_VERSION,
        }
        .into()),
        Ok(Some(v)) if v < schema::FIRST_CHAINED_VERSION => Err(StoreError::Unchained {
            path: path.to_owned(),
            found: v,
        }
        .into()),
        Ok(Some(_)) => Ok(db),
        Ok(None) => Err(not_db("it has no waitless schema version".to_owned())),
        Err(e) => Err(not_db(e.to_string())),
    }
}

/// The hidden file a copy is written to before it is renamed to `target`.
fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "backup".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.partial"))
}

/// Copies every table of `txn` into a new file, verifies it, renames it to `target`.
fn write_copy(txn: &redb::ReadTransaction, target: &Path) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    for table in txn.list_tables().map_err(redb_err)? {
        if !COPIED_TABLES.contains(&table.name()) {
            return Err(BackupError::UnknownTable(table.name().to_owned()));
        }
    }
    if let Some(table) = txn.list_multimap_tables().map_err(redb_err)?.next() {
        return Err(BackupError::UnknownTable(table.name().to_owned()));
    }
    let target_err = |source| BackupError::Target {
        path: target.to_owned(),
        source,
    };
    if target.is_dir() {
        return Err(target_err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a folder: name a file, e.g. waitless-backup.redb",
        )));
    }
    let partial = partial_path(target);
    match std::fs::remove_file(&partial) {
        Ok(()) => tracing::info!("removed an unfinished backup {}", partial.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(target_err(e)),
    }
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(target_err)?;
    let result = fill(txn, file).and_then(|(tickets, report)| {
        std::fs::rename(&partial, target).map_err(target_err)?;
        sync_folder(target);
        let bytes = std::fs::metadata(target).map_err(target_err)?.len();
        Ok(BackupReport {
            file: target.to_owned(),
            bytes,
            events: report.events,
            last_seq: report.last_seq,
            head: report.head_hex(),
            tickets,
            millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Writes the tables into the new database in `file`, verifies its chain, closes it.
fn fill(txn: &redb::ReadTransaction, file: File) -> Result<(u64, ChainReport), BackupError> {
    let backend = redb::backends::FileBackend::new(file).map_err(redb_err)?;
    let copy = redb::Database::builder()
        .create_with_backend(backend)
        .map_err(redb_err)?;
    copy_table(txn, &copy, META)?;
    copy_table(txn, &copy, EVENTS)?;
    copy_table(txn, &copy, EVENT_HASHES)?;
    let tickets = copy_table(txn, &copy, TICKETS)? + copy_table(txn, &copy, TICKET_ARCHIVE)?;
    copy_table(txn, &copy, SERVICES)?;
    copy_table(txn, &copy, ROOMS)?;
    copy_table(txn, &copy, IDEMPOTENCY)?;
    copy_table(txn, &copy, USERS)?;
    copy_table(txn, &copy, SESSIONS)?;
    copy_table(txn, &copy, API_TOKENS)?;
    copy_table(txn, &copy, PATIENTS)?;
    copy_table(txn, &copy, SCREENS)?;
    copy_table(txn, &copy, PLANS)?;
    copy_table(txn, &copy, BOOKINGS)?;
    copy_table(txn, &copy, BOOKING_CONTACTS)?;
    copy_table(txn, &copy, NOTIFICATIONS)?;
    copy_table(txn, &copy, OPT_OUTS)?;
    copy_table(txn, &copy, FEEDBACK_COMMENTS)?;
    copy_table(txn, &copy, super::tables::VISITS)?;
    copy_table(txn, &copy, super::tables::VISIT_DAYS)?;
    copy_table(txn, &copy, super::tables::VISIT_ALIASES)?;
    // One durable commit makes every chunk before it durable.
    let mut last = copy.begin_write().map_err(redb_err)?;
    last.set_durability(Durability::Immediate)
        .map_err(redb_err)?;
    last.commit().map_err(redb_err)?;
    let report = chain::verify(&copy)?;
    if !report.is_ok() {
        return Err(BackupError::SourceBroken { report });
    }
    copy.close().map_err(redb_err)?;
    Ok((tickets, report))
}

/// Copies one table (if the source has it) in chunks; how many rows.
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    copy: &redb::Database,
    table: TableDefinition<K, V>,
) -> Result<u64, BackupError> {
    let source = match txn.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(redb_err(e)),
    };
    let total = source.len().map_err(redb_err)?;
    let mut rows = source.iter().map_err(redb_err)?;
    let mut copied = 0u64;
    loop {
        let mut write = copy.begin_write().map_err(redb_err)?;
        write.set_durability(Durability::None).map_err(redb_err)?;
        let mut n = 0;
        {
            let mut out = write.open_table(table).map_err(redb_err)?;
            for row in rows.by_ref().take(CHUNK) {
                let (k, v) = row.map_err(redb_err)?;
                out.insert(k.value(), v.value()).map_err(redb_err)?;
                n += 1;
            }
        }
        write.commit().map_err(redb_err)?;
        copied += n;
        if n < CHUNK as u64 {
            break;
        }
    }
    debug_assert_eq!(copied, total);
    Ok(copied)
}

/// Makes a rename in `file`'s folder durable (best effort: not every file system can).
fn sync_folder(file: &Path) {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
        && let Err(e) = dir.sync_all()
    {
        tracing::debug!("cannot sync the folder {}: {e}", file.display());
    }
}

/// Checks a file to restore: a waitless database this version can open, its audit trail
/// intact. Opens it read-only; changes nothing.
pub fn check_backup(file: &Path) -> Result<ChainReport, BackupError> {
    let db = open_read_only(file)?;
    let report = chain::verify(&db).map_err(|e| BackupError::NotADatabase {
        path: file.to_owned(),
        reason: e.to_string(),
    })?;
    if report.is_ok() {
        Ok(report)
    } else {
        Err(BackupError::Broken {
            path: file.to_owned(),
            report,
        })
    }
}

/// What [`restore`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The backup's audit trail, verified.
    pub report: ChainReport,
    /// Where the database that was there before is kept (`None`: there was none).
    pub kept: Option<PathBuf>,
}

/// Puts the backup `backup` in place of the database `database` (the server stopped): checks
/// the backup ([`check_backup`]), copies it next to the database, verifies the copy, keeps the
/// current database as `<database>.before-restore-<stamp>`, renames the copy into place. The
/// new file gets the owner and mode of the one it replaces (a restore run as root leaves a
/// file the waitless user can open). On any failure nothing in the data folder changes.
pub fn restore(backup: &Path, database: &Path, stamp: &str) -> Result<Restored, BackupError> {
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { what, path, source }
    };
    // The server holds the database's lock while it runs.
    if database.is_file() {
        match redb::Database::builder().open_read_only(database) {
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(BackupError::Running(
                    database.parent().unwrap_or(database).to_owned(),
                ));
            }
            Ok(db) => drop(db),
            // A broken current database is what a restore is for.
            Err(_) => {}
        }
    }
    if same_file(backup, database) {
        return Err(BackupError::SameFile(backup.to_owned()));
    }
    check_backup(backup)?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("cannot create the data folder", dir))?;
    }
    let incoming = partial_path(database);
    let _ = std::fs::remove_file(&incoming);
    let result = (|| {
        std::fs::copy(backup, &incoming).map_err(io("cannot copy the backup to", &incoming))?;
        File::open(&incoming)
            .and_then(|f| f.sync_all())
            .map_err(io("cannot write", &incoming))?;
        // What was copied is what is checked.
        let report = check_backup(&incoming).map_err(|e| match e {
            BackupError::Broken { report, .. } => BackupError::Broken {
                path: backup.to_owned(),
                report,
            },
            e => e,
        })?;
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        // The owner of the database it replaces, or of the data folder (a fresh folder made
        // by the service); only root can give a file away, anyone else keeps their own.
        let (owner, mode) = match std::fs::metadata(database) {
            Ok(meta) => ((meta.uid(), meta.gid()), meta.mode() & 0o7777),
            Err(_) => {
                let dir = database.parent().filter(|d| !d.as_os_str().is_empty());
                let dir = std::fs::metadata(dir.unwrap_or(Path::new(".")))
                    .map_err(io("cannot read the data folder of", database))?;
                ((dir.uid(), dir.gid()), 0o600)
            }
        };
        let _ = std::os::unix::fs::chown(&incoming, Some(owner.0), Some(owner.1));
        std::fs::set_permissions(&incoming, std::fs::Permissions::from_mode(mode))
            .map_err(io("cannot set the mode of", &incoming))?;
        let kept = if database.exists() {
            let name = database.file_name().map_or_else(
                || "waitless.redb".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            let kept = database.with_file_name(format!("{name}.before-restore-{stamp}"));
            std::fs::rename(database, &kept).map_err(io("cannot move the database to", &kept))?;
            Some(kept)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&incoming, database) {
            if let Some(kept) = &kept {
                let _ = std::fs::rename(kept, database);
            }
            return Err(io("cannot put the backup in place at", database)(e));
        }
        sync_folder(database);
        Ok(Restored { report, kept })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&incoming);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    fn options() -> StoreOptions {
        StoreOptions {
            fsync: false,
            cache_bytes: 1 << 20,
        }
    }

    #[test]
    fn every_table_in_tables_rs_is_copied() {
        let source = include_str!("tables.rs");
        let mut names: Vec<&str> = source
            .split("TableDefinition::new(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        names.sort_unstable();
        let mut copied = COPIED_TABLES.to_vec();
        copied.sort_unstable();
        assert_eq!(
            names, copied,
            "add the new table to COPIED_TABLES and fill()"
        );
    }

    #[test]
    fn backup_of_a_seeded_database_verifies_and_opens() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("waitless.redb"), &options()).unwrap();
        let clock = crate::clock::ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        let calendar = crate::config::Config::default().calendar().unwrap();
        crate::engine::load_or_seed(&store, &clock, &calendar).unwrap();
        let target = dir.path().join("copy.redb");
        let report = store.backup_to(&target).unwrap();
        assert!(report.events > 0);
        assert_eq!(
            report.head,
            store.verify_chain().unwrap().head_hex(),
            "{report}"
        );
        assert!(!partial_path(&target).exists());
        assert_eq!(check_backup(&target).unwrap().events, report.events);
        let copy = Store::open(&target, &options()).unwrap();
        assert!(copy.load().unwrap().is_some());
        // The live database itself is refused.
        assert!(matches!(
            store.backup_to(&dir.path().join("./waitless.redb")),
            Err(BackupError::SameFile(_))
        ));
        // A missing folder is named.
        let err = store
            .backup_to(&dir.path().join("no/such/folder/b.redb"))
            .unwrap_err();
        assert!(matches!(err, BackupError::Target { .. }), "{err}");
        assert!(err.to_string().contains("USB stick"), "{err}");
    }

    #[test]
    fn restore_refuses_what_is_not_a_database_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("waitless.redb");
        std::fs::write(&database, b"current").unwrap();
        let empty = dir.path().join("empty.redb");
        std::fs::write(&empty, b"").unwrap();
        let text = dir.path().join("text.redb");
        std::fs::write(&text, vec![b'x'; 8192]).unwrap();
        for (file, expected) in [
            (dir.path().join("missing.redb"), "no backup at"),
            (empty, "the file is empty"),
            (text, "is not a waitless database"),
        ] {
            let err = restore(&file, &database, "x").unwrap_err();
            assert!(err.to_string().contains(expected), "{file:?}: {err}");
        }
        assert_eq!(std::fs::read(&database).unwrap(), b"current");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }
}
