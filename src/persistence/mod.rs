//! Persistence: Redis's on-disk formats, so data moves in and out of
//! keyward with Redis's own tools (DESIGN.md, "Persistence").
//!
//! - [`aof`]: the multi-part append-only file (manifest, writer, loader).
//! - [`fs`]: the file-system trait all persistence I/O goes through, with a
//!   simulated disk for crash tests.
//! - [`rdb`]: the RDB file format (reader for versions 1–11, writer for
//!   10 and 11) and the value codec DUMP/RESTORE share with it.
//! - [`runtime`]: what a running server does with them (load at startup,
//!   SAVE and the save schedule, the AOF as the effect sink, shutdown).

pub mod aof;
pub mod fs;
pub mod rdb;
pub mod runtime;
