//! The store's one error type.

use std::path::PathBuf;

/// Why the database could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data folder cannot be created or opened.
    #[error(
        "cannot use data folder {path}: {source} — check that it exists and is writable by the user running waitless, or pass --data"
    )]
    DataFolder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another waitless holds the database.
    #[error(
        "database {0} is in use by another process — is waitless already running? Stop it, or pass another --data folder"
    )]
    InUse(PathBuf),
    /// The file was written by a newer waitless.
    #[error(
        "database {path} has schema version {found}, but this waitless understands only up to {supported} — upgrade waitless, or restore a backup made by this version"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
        /// Ours.
        supported: u64,
    },
    /// The file was not closed cleanly (a power cut while waitless ran) and this read-only
    /// use cannot repair it.
    #[error(
        "database {0} was not closed cleanly (a power cut?) — nothing was changed; start waitless once (it repairs the file), then try again"
    )]
    Unclean(PathBuf),
    /// There is no database file where one was expected.
    #[error(
        "no database at {0} — check the data folder (--data or WAITLESS_DATA; it holds waitless.redb)"
    )]
    NotFound(PathBuf),
    /// The file exists but is not a database (empty, cut short, or something else): never
    /// replaced by a fresh clinic.
    #[error(
        "{path} is not a waitless database ({reason}) — it may be a failed restore or copy. Restore the backup (docs/operations.md, Backups), or move it away to start a fresh clinic"
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file predates the audit trail and has not been migrated yet.
    #[error(
        "database {path} has schema version {found}, written before the audit trail — start waitless once on it (it adds the hash chain), then verify again"
    )]
    Unchained {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
    },
    /// A write failed and the database could not be opened again yet.
    #[error("the database is closed after a failed write and could not be opened again yet: {0}")]
    Closed(String),
    /// The system's random source failed.
    #[error("cannot make a secret: the system's random source failed: {0}")]
    Random(String),
    /// redb failed.
    #[error("database error: {0}")]
    Redb(#[from] redb::Error),
    /// A stored value could not be encoded or decoded.
    #[error("database value {what} is not valid: {source}")]
    Codec {
        /// Which value.
        what: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A compact (binary) stored value could not be encoded or decoded.
    #[error("database value {what} is not valid: {source}")]
    Compact {
        /// Which value.
        what: String,
        /// Why.
        source: postcard::Error,
    },
    /// A packed stored value (see [`super::codec`]) could not be packed or unpacked.
    #[error("database value {what} is not valid: {reason}")]
    Packed {
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// The stable code every database failure shows (the HTTP API, the admin socket, the
    /// screens): the change was not made, try again.
    pub fn code(&self) -> &'static str {
        "storage-unavailable"
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::Redb(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError,
    redb::SetDurabilityError
);
