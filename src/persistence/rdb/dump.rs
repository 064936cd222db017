//! The DUMP payload: a value's type byte and encoding, the RDB version
//! (2 bytes, little-endian) and a CRC64 (8 bytes, little-endian) of
//! everything before it.

use super::crc::crc64;
use super::read::{decode_value, Decoded};
use super::write::encode_value;
use super::{RdbVersion, MAX_VERSION};
use crate::keyspace::value::Thresholds;
use crate::keyspace::ValueRef;

/// The version keyward's DUMP writes (Redis 7.2's).
pub const DUMP_VERSION: RdbVersion = RdbVersion::V11;

/// Why RESTORE refuses a payload; the variants map to Redis's two replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    #[error("Bad data format")]
    BadData,
}

/// DUMP's payload for `v`. Strings over 20 bytes are LZF-compressed when
/// that saves space, as Redis does with `rdbcompression yes`.
pub fn dump_payload(v: ValueRef<'_>) -> Vec<u8> {
    dump_payload_as(v, DUMP_VERSION)
}

/// A DUMP payload of another version: version 10 is what Redis 7.0's
/// RESTORE accepts (it refuses 11), for moving keys to an older server.
pub fn dump_payload_as(v: ValueRef<'_>, version: RdbVersion) -> Vec<u8> {
    let mut out = vec![0];
    out[0] = encode_value(v, version, true, &mut out);
    out.extend_from_slice(&version.number().to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a payload's trailer (Redis's `verifyDumpPayload`) and decodes
/// its value. As in Redis, the value is read from the payload with its
/// trailer still attached, and bytes after the value are not an error.
pub fn restore_payload(payload: &[u8], t: &Thresholds) -> Result<Decoded, DumpError> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(DumpError::VersionOrChecksum);
    };
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(version) > MAX_VERSION {
        return Err(DumpError::VersionOrChecksum);
    }
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8-byte CRC"));
    if crc64(&payload[..body_len + 2]) != crc {
        return Err(DumpError::VersionOrChecksum);
    }
    decode_value(payload[0], &payload[1..], t).map_err(|_| DumpError::BadData)
}
