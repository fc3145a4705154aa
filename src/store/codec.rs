//! Encoding of stored values: JSON, so a new optional field needs no migration.
//!
//! The two tables that grow with every ticket, the event log
//! ([`super::tables::EVENTS`]) and the closed days' tickets
//! ([`super::tables::TICKET_ARCHIVE`]), keep their JSON *packed*: a zstd frame made with a
//! dictionary trained on waitless's own events ([`DICTIONARY`]), about an eighth of the JSON.
//! A packed value starts with zstd's magic number, which JSON never does, so [`decode`] reads
//! both, and rows written before packing (plain JSON) need no migration. [`unpack`] gives a
//! packed value's JSON back byte for byte: the audit trail's hash chain is over the JSON (see
//! [`super::chain`]), whichever way it is stored. To read a packed row by hand:
//! `zstd -d -D src/store/records.dict`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use super::StoreError;

/// The dictionary packed values are made with (trained by `examples/history.rs
/// --train-dictionary`, see docs/performance.md). Its id is in every frame; a new dictionary
/// must keep this one for the rows already written.
pub const DICTIONARY: &[u8] = include_bytes!("records.dict");

/// zstd's level for packing: 3 (its default) packs a ticket's events in a few microseconds;
/// higher levels gain a tenth in size for several times the time on every commit.
const LEVEL: i32 = 3;

/// The first four bytes of every zstd frame (little-endian 0xFD2FB528).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// A packed value may not claim to be larger than this when unpacked (a damaged or hostile
/// file must not make the server allocate gigabytes). The largest real value is a busy day's
/// `day_closed` event, which lists every ticket it closed: about 560 bytes a ticket, so
/// 256 MiB holds a day of 450,000 tickets.
const MAX_UNPACKED: u64 = 256 << 20;

fn encoder_dictionary() -> &'static EncoderDictionary<'static> {
    static DICT: OnceLock<EncoderDictionary<'static>> = OnceLock::new();
    DICT.get_or_init(|| EncoderDictionary::copy(DICTIONARY, LEVEL))
}

fn decoder_dictionary() -> &'static DecoderDictionary<'static> {
    static DICT: OnceLock<DecoderDictionary<'static>> = OnceLock::new();
    DICT.get_or_init(|| DecoderDictionary::copy(DICTIONARY))
}

fn dictionary_id() -> Option<std::num::NonZeroU32> {
    static ID: OnceLock<Option<std::num::NonZeroU32>> = OnceLock::new();
    *ID.get_or_init(|| zstd::zstd_safe::get_dict_id_from_dict(DICTIONARY))
}

thread_local! {
    static PACKER: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static UNPACKER: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

fn packing_failed(what: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Packed {
        what: what.to_owned(),
        reason: reason.to_string(),
    }
}

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

/// Packs the JSON `json` into `out` (cleared first): a zstd frame with [`DICTIONARY`]'s id and
/// the JSON's length.
pub fn pack_into(out: &mut Vec<u8>, json: &[u8], what: &str) -> Result<(), StoreError> {
    PACKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let packer = match &mut *slot {
            Some(p) => p,
            None => slot.insert(
                Compressor::with_prepared_dictionary(encoder_dictionary())
                    .map_err(|e| packing_failed(what, e))?,
            ),
        };
        out.clear();
        out.reserve(zstd::zstd_safe::compress_bound(json.len()));
        packer
            .compress_to_buffer(json, out)
            .map_err(|e| packing_failed(what, e))?;
        Ok(())
    })
}

/// Whether a stored value is packed (else it is plain JSON).
pub fn is_packed(bytes: &[u8]) -> bool {
    bytes.starts_with(&ZSTD_MAGIC)
}

/// A stored value's JSON: itself when plain, unpacked when packed.
pub fn unpack<'a>(bytes: &'a [u8], what: &str) -> Result<Cow<'a, [u8]>, StoreError> {
    if !is_packed(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let frame_dict = zstd::zstd_safe::get_dict_id_from_frame(bytes);
    if frame_dict != dictionary_id() {
        return Err(packing_failed(
            what,
            format!(
                "packed with dictionary {} that this waitless does not have",
                frame_dict.map_or(0, |id| id.get())
            ),
        ));
    }
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(n)) if n <= MAX_UNPACKED => n as usize,
        Ok(Some(n)) => return Err(packing_failed(what, format!("claims {n} bytes unpacked"))),
        Ok(None) | Err(_) => return Err(packing_failed(what, "a damaged frame header")),
    };
    UNPACKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let unpacker = match &mut *slot {
            Some(u) => u,
            None => slot.insert(
                Decompressor::with_prepared_dictionary(decoder_dictionary())
                    .map_err(|e| packing_failed(what, e))?,
            ),
        };
        let json = unpacker
            .decompress(bytes, size)
            .map_err(|e| packing_failed(what, e))?;
        if json.len() != size {
            return Err(packing_failed(what, "shorter than its header says"));
        }
        Ok(Cow::Owned(json))
    })
}

/// Encodes `value` as JSON into `json` and packs it into `packed` (both cleared first).
pub fn encode_packed_into<T: Serialize>(
    json: &mut Vec<u8>,
    packed: &mut Vec<u8>,
    value: &T,
    what: &str,
) -> Result<(), StoreError> {
    encode_into(json, value, what)?;
    pack_into(packed, json, what)
}

/// Decodes a stored value, plain JSON or packed.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    let json = unpack(bytes, what)?;
    serde_json::from_slice(&json).map_err(|source| StoreError::Codec {
        what: what.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_json_unpacks_to_the_same_bytes_and_plain_json_still_reads() {
        let json = br#"{"seq":7,"kind":"ticket_issued","ticket":{"number":"A007"}}"#;
        let mut packed = Vec::new();
        pack_into(&mut packed, json, "event").unwrap();
        assert!(is_packed(&packed) && !is_packed(json));
        assert_eq!(&*unpack(&packed, "event").unwrap(), json);
        assert!(matches!(unpack(json, "event").unwrap(), Cow::Borrowed(_)));
        let value: serde_json::Value = decode(&packed, "event").unwrap();
        assert_eq!(value["ticket"]["number"], "A007");
    }

    #[test]
    fn damaged_packed_values_are_clear_errors_not_panics() {
        let mut packed = Vec::new();
        pack_into(
            &mut packed,
            br#"{"seq":1,"kind":"room_opened","room":"r"}"#,
            "event",
        )
        .unwrap();
        let mut cases: Vec<Vec<u8>> =
            vec![ZSTD_MAGIC.to_vec(), packed[..packed.len() - 2].to_vec()];
        for i in 4..packed.len() {
            let mut flipped = packed.clone();
            flipped[i] ^= 0x55;
            cases.push(flipped);
        }
        // A frame made with another dictionary (or none).
        cases.push(zstd::bulk::compress(b"{\"seq\":1}", 3).unwrap());
        for case in cases {
            if let Err(e) = decode::<serde_json::Value>(&case, "event") {
                assert!(e.to_string().contains("database value event"), "{e}");
            }
        }
        let other = zstd::bulk::compress(b"{\"seq\":1}", 3).unwrap();
        let err = unpack(&other, "event").unwrap_err().to_string();
        assert!(err.contains("dictionary 0"), "{err}");
    }
}
