//! What the webhook (`crate::notify::webhook`) keeps here: the last event its receiver
//! acknowledged.
//!
//! One row in [`META`] under [`META_WEBHOOK_ACKED`] (JSON `{target, seq}`), written only after
//! the receiver answered 2xx, with the store's durability. `target` is the SHA-256 of the
//! webhook's URL (the URL may hold a token: it is not stored): a box given another URL starts
//! that receiver afresh. No migration: a file without the row has acknowledged nothing.

use serde::{Deserialize, Serialize};

use super::tables::META;
use super::{Store, StoreError, codec};

/// Key of the webhook's acknowledged seq in [`META`].
pub const META_WEBHOOK_ACKED: &str = "webhook_acked";

/// The row in [`META`].
#[derive(Debug, Serialize, Deserialize)]
struct Acked {
    target: String,
    seq: u64,
}

impl Store {
    /// The last seq the webhook receiver `target` acknowledged (`None`: it never acknowledged
    /// one, or the row is another receiver's).
    pub fn webhook_acked(&self, target: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.read_txn()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match meta.get(META_WEBHOOK_ACKED)? {
            Some(v) => {
                let acked: Acked = codec::decode(v.value(), "meta.webhook_acked")?;
                Ok((acked.target == target).then_some(acked.seq))
            }
            None => Ok(None),
        }
    }

    /// Records that the webhook receiver `target` acknowledged every event up to `seq`.
    pub fn set_webhook_acked(&self, target: &str, seq: u64) -> Result<(), StoreError> {
        let bytes = codec::encode(
            &Acked {
                target: target.to_owned(),
                seq,
            },
            "meta.webhook_acked",
        )?;
        let mut txn = self.write_txn()?;
        txn.set_durability(self.durability)?;
        txn.open_table(META)?
            .insert(META_WEBHOOK_ACKED, bytes.as_slice())?;
        txn.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[test]
    fn the_cursor_belongs_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("w.redb"),
            &StoreOptions {
                fsync: false,
                cache_bytes: 1 << 20,
            },
        )
        .unwrap();
        assert_eq!(store.webhook_acked("a").unwrap(), None);
        store.set_webhook_acked("a", 7).unwrap();
        assert_eq!(store.webhook_acked("a").unwrap(), Some(7));
        assert_eq!(store.webhook_acked("b").unwrap(), None);
    }
}
