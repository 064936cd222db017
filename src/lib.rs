//! keyward: a Redis-compatible server whose numbered databases are isolated
//! tenants.
//!
//! Layout (see docs/architecture.md):
//! - [`protocol`]: RESP2/RESP3 decode and encode; imports nothing else here.
//! - [`commands`]: the command table (one row per command: arity, flags,
//!   ACL categories, keys, handler) and the handlers, one module per group.
//! - [`server`]: listeners, connections, dispatch (the only entry point),
//!   client registry, stats, shutdown.
//! - [`keyspace`]: the databases, entries, tables, expiry, memory accounting.
//! - [`acl`]: users and authentication. [`config`]: settings. [`clock`]: time.
//! - [`ops`]: the binary as a process (pid file, systemd, logs, `--ping`,
//!   `--check-config`).
//! - [`tls`]: the `tls-*` settings as a rustls configuration.
//! - [`alloc`]: the counting global allocator and mimalloc's figures.
//!
//! Embedding:
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = keyward::Server::builder().port(0).start().await?;
//! println!("serving on {}", server.addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

// Links mimalloc's C library into every build of the crate (MEMORY PURGE
// calls `mi_collect`), not only into the binary that makes it the global
// allocator.
extern crate mimalloc as _;

pub mod acl;
pub mod alloc;
pub mod clock;
pub mod commands;
pub mod config;
#[cfg(test)]
mod fuzz_corpus;
pub mod keyspace;
pub mod metrics;
pub mod ops;
pub mod persistence;
pub mod protocol;
pub mod proxy;
pub mod scripting;
pub mod server;
pub mod tenancy;
pub mod tls;

pub use config::Config;
pub use server::{Server, ServerBuilder, ServerHandle, StartError};
