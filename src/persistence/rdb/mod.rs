//! The RDB format: Redis's snapshot file, and the value codec that DUMP,
//! RESTORE and the AOF base share with it.
//!
//! - [`read`]: [`load`] streams a file (versions 1–11, every type and
//!   encoding Redis 6.2, 7.0 and 7.2 write) into a sink, [`load_into`]
//!   straight into the databases; [`decode_value`] decodes one value.
//! - [`write`]: [`RdbWriter`] streams a file as Redis 7.2 (version 11) or
//!   7.0 (version 10) writes it; [`encode_value`] encodes one value.
//! - [`encodings`]: the packed blobs inside values (listpack, ziplist,
//!   intset, zipmap), validated as Redis's deep sanitisation does.
//! - [`dump`]: the DUMP payload (value, version, CRC64).
//!
//! Nothing read from a file is trusted: every length is checked against the
//! bytes actually there before anything is allocated for it, every blob is
//! validated before it is used, and every failure is a typed [`RdbError`].

pub mod crc;
pub mod dump;
pub mod encodings;
#[cfg(any(test, fuzzing))]
pub mod fuzz;
pub mod lzf;
pub mod read;
pub mod write;

pub use dump::{dump_payload, dump_payload_as, restore_payload, DumpError};
pub use read::{
    decode_value, eviction_clock, insert_with_clock, load, load_into, Decoded, LoadOptions,
    LoadReport, LoadedKey,
};
pub use write::{encode_value, AuxFields, RdbWriter};

/// The versions this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdbVersion {
    /// Redis 7.0: no set listpacks, streams without consumer active time.
    V10,
    /// Redis 7.2.
    V11,
}

impl RdbVersion {
    pub fn number(self) -> u16 {
        match self {
            RdbVersion::V10 => 10,
            RdbVersion::V11 => 11,
        }
    }
}

/// The newest version the reader understands (Redis 7.2's).
pub const MAX_VERSION: u32 = 11;

/// Object type bytes (`RDB_TYPE_*` in rdb.h).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Opcodes (`RDB_OPCODE_*`): type bytes that are not values.
pub mod opcodes {
    pub const FUNCTION2: u8 = 0xF5;
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;
}

/// Why a file or payload was refused. A load either succeeds whole or
/// fails with one of these; it never panics and never half-loads silently.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    #[error("I/O error reading RDB: {0}")]
    Io(std::io::Error),
    #[error("unexpected end of RDB data (truncated at byte {0})")]
    Truncated(u64),
    #[error("wrong signature: not an RDB file")]
    BadMagic,
    #[error("Valkey RDB files (VALKEY magic) are not supported")]
    Valkey,
    #[error("can't handle RDB format version {0}")]
    Version(u32),
    #[error("wrong RDB checksum: expected {expected:#018x}, got {actual:#018x}")]
    Checksum { expected: u64, actual: u64 },
    #[error("SELECTDB {index} is out of range (databases = {databases})")]
    DbOutOfRange { index: u64, databases: usize },
    #[error("duplicate key {} in DB {db}", String::from_utf8_lossy(.key))]
    DuplicateKey { db: usize, key: Vec<u8> },
    #[error("unknown RDB type or opcode {0}")]
    UnknownType(u8),
    #[error("module data in RDB (type or opcode {0}) is not supported")]
    Module(u8),
    #[error("pre-GA function format is not supported")]
    FunctionPreGa,
    #[error("corrupt RDB: {0}")]
    Corrupt(&'static str),
}

impl RdbError {
    /// Maps a reader error, turning end-of-file into [`RdbError::Truncated`].
    pub(crate) fn io(e: std::io::Error, pos: u64) -> RdbError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            RdbError::Truncated(pos)
        } else {
            RdbError::Io(e)
        }
    }
}
