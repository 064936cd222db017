//! Persistence: Redis's on-disk formats, so data moves in and out of
//! keyward with Redis's own tools (DESIGN.md, "Persistence").
//!
//! - [`rdb`]: the RDB file format (reader for versions 1–11, writer for
//!   10 and 11) and the value codec DUMP/RESTORE share with it.
//!
//! The AOF and the forkless snapshot engine will build on [`rdb`]'s value
//! codec; they are not here yet.

pub mod rdb;
