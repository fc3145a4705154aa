//! Encoding of stored values: JSON, so a stored row can be read by a human with any redb tool
//! and a new optional field needs no migration.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Encodes `value` into `buf` (cleared first).
pub fn encode_into<T: Serialize>(
    buf: &mut Vec<u8>,
    value: &T,
    what: &str,
) -> Result<(), StoreError> {
    buf.clear();
    serde_json::to_writer(&mut *buf, value).map_err(|source| StoreError::Codec {
        what: what.to_owned(),
        source,
    })
}

/// Encodes `value`.
pub fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::new();
    encode_into(&mut buf, value, what)?;
    Ok(buf)
}

/// Decodes a value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Codec {
        what: what.to_owned(),
        source,
    })
}
