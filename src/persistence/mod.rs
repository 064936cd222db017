//! Persistence: Redis's on-disk formats, so data moves in and out of
//! keyward with Redis's own tools (DESIGN.md, "Persistence").
//!
//! - [`aof`]: the multi-part append-only file (manifest, writer, loader).
//! - [`fs`]: the file-system trait all persistence I/O goes through, with a
//!   simulated disk for crash tests.

pub mod aof;
pub mod fs;
