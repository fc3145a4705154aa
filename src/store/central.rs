//! What the central shipper (`crate::central`) reads and writes here: the raw event rows with
//! their hash-chain links, and the sequence number the central database acknowledged.
//!
//! The acknowledgement is one row in [`META`] (`central_acked`: JSON `{site, seq}`), written
//! by the shipper only after the central transaction committed, with the store's durability.
//! It names the site it belongs to: a box given another site id ships from the start again.
//! No migration: a file without the row has acknowledged nothing.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::chain::GENESIS;
use super::tables::{EVENT_HASHES, EVENTS, META, META_CENTRAL_ACKED};
use super::{Store, StoreError, codec};

/// One event as stored, with its link in the audit trail's hash chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipRow {
    /// Its sequence number.
    pub seq: u64,
    /// The event's JSON exactly as stored (the bytes the chain hashes).
    pub body: Vec<u8>,
    /// The hash of the event before it ([`GENESIS`] for the first).
    pub prev_hash: [u8; 32],
    /// `SHA-256(prev_hash || body)`, as stored.
    pub hash: [u8; 32],
}

/// The row in [`META`].
#[derive(Debug, Serialize, Deserialize)]
struct Acked {
    site: String,
    seq: u64,
}

impl Store {
    /// The last seq the central database acknowledged for `site` (0: none).
    pub fn central_acked(&self, site: &str) -> Result<u64, StoreError> {
        let txn = self.read_txn()?;
        let meta = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        match meta.get(META_CENTRAL_ACKED)? {
            Some(v) => {
                let acked: Acked = codec::decode(v.value(), "meta.central_acked")?;
                Ok(if acked.site == site { acked.seq } else { 0 })
            }
            None => Ok(0),
        }
    }

    /// Records that the central database committed every event of `site` up to `seq`.
    pub fn set_central_acked(&self, site: &str, seq: u64) -> Result<(), StoreError> {
        let bytes = codec::encode(
            &Acked {
                site: site.to_owned(),
                seq,
            },
            "meta.central_acked",
        )?;
        let mut txn = self.write_txn()?;
        txn.set_durability(self.durability)?;
        txn.open_table(META)?
            .insert(META_CENTRAL_ACKED, bytes.as_slice())?;
        txn.commit()
    }

    /// Up to `limit` events after `seq`, oldest first, as their JSON (the bytes the chain links
    /// are over), with their chain links.
    pub fn ship_rows_after(&self, seq: u64, limit: usize) -> Result<Vec<ShipRow>, StoreError> {
        let txn = self.read_txn()?;
        let events = match txn.open_table(EVENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let hashes = txn.open_table(EVENT_HASHES)?;
        let mut prev = if seq == 0 {
            GENESIS
        } else {
            hashes.get(seq)?.map_or(GENESIS, |v| v.value())
        };
        let mut out = Vec::new();
        for row in events.range(seq.saturating_add(1)..)?.take(limit) {
            let (k, v) = row?;
            let seq = k.value();
            // A missing hash is a broken chain: ship it as it is, the central check says so.
            let hash = hashes.get(seq)?.map_or(GENESIS, |h| h.value());
            out.push(ShipRow {
                seq,
                body: super::codec::unpack(v.value(), "event")?.into_owned(),
                prev_hash: prev,
                hash,
            });
            prev = hash;
        }
        Ok(out)
    }

    /// The seq of the last event in the log (0: none).
    pub fn last_event_seq(&self) -> Result<u64, StoreError> {
        let txn = self.read_txn()?;
        match txn.open_table(EVENTS) {
            Ok(t) => Ok(t.last()?.map_or(0, |(k, _)| k.value())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::domain::{ClinicCalendar, EventKind, Origin, QueueState, Touched};
    use crate::store::{StoreOptions, chain};

    #[test]
    fn rows_carry_their_chain_links_and_the_acknowledgement_names_its_site() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.redb");
        let options = StoreOptions {
            fsync: false,
            cache_bytes: 1 << 20,
        };
        let store = Store::open(&path, &options).unwrap();
        let clock = crate::clock::ManualClock::new("2026-11-21T10:00:00Z".parse().unwrap());
        let calendar = ClinicCalendar::new(jiff::tz::TimeZone::UTC, jiff::civil::time(4, 0, 0, 0));
        let (books, _) = crate::engine::load_or_seed(&store, &clock, &calendar).unwrap();
        let state: QueueState = books.state;
        let first = store.last_event_seq().unwrap();
        for seq in first + 1..=first + 3 {
            let event = QueueState::event(
                seq,
                clock.now(),
                &Origin::system(),
                EventKind::ClinicMessageSet {
                    message: format!("message {seq}"),
                },
            );
            store
                .commit(&[(&event, &Touched::default())], &state)
                .unwrap();
        }
        let last = store.last_event_seq().unwrap();
        assert_eq!(last, first + 3);

        let rows = store.ship_rows_after(0, 1000).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (1..=last).collect::<Vec<_>>()
        );
        let mut prev = GENESIS;
        for row in &rows {
            assert_eq!(row.prev_hash, prev, "seq {}", row.seq);
            assert_eq!(chain::link(&prev, &row.body), row.hash, "seq {}", row.seq);
            prev = row.hash;
        }
        assert_eq!(store.verify_chain().unwrap().head, prev);
        // a batch from the middle starts from the stored hash before it
        let tail = store.ship_rows_after(last - 2, 1).unwrap();
        assert_eq!(tail, [rows[rows.len() - 2].clone()]);
        assert!(store.ship_rows_after(last, 10).unwrap().is_empty());

        assert_eq!(store.central_acked("pune-1").unwrap(), 0);
        store.set_central_acked("pune-1", last - 1).unwrap();
        store.close().unwrap();
        let store = Store::open(&path, &options).unwrap();
        assert_eq!(store.central_acked("pune-1").unwrap(), last - 1);
        // another site id starts from the beginning
        assert_eq!(store.central_acked("delhi-2").unwrap(), 0);
    }
}
