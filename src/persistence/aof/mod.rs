//! The append-only file, as Redis 7's multi-part AOF: a directory
//! (`appenddirname`, default `appendonlydir`) holding
//!
//! - `<appendfilename>.manifest` ([`manifest`]): which files make up the log;
//! - one base, `<appendfilename>.<seq>.base.rdb` (an RDB stream) or
//!   `.base.aof` (RESP commands, maybe after a `REDIS` preamble): the
//!   dataset at the last rewrite;
//! - incr files `<appendfilename>.<seq>.incr.aof`: the commands since, as
//!   RESP arrays, with `SELECT` whenever the DB changes and optional
//!   `#TS:<unix>` annotation lines.
//!
//! [`writer::Aof`] owns the incr file being written. Every append returns
//! an *offset* (bytes appended since open, across files). The fsync policy
//! decides when a reply may go out:
//!
//! - `always`: the reply waits until [`writer::AofHandle::wait_synced`]
//!   says the offset is covered by an fdatasync. A dedicated thread does
//!   the write + fdatasync for everything appended meanwhile (group
//!   commit). This is the "acknowledged or observed" contract: nobody sees
//!   a write that a crash could still lose. A failed write or fsync is
//!   fatal ([`writer::AofError::Fatal`]): the process must exit, as Redis
//!   does, because replies already built cannot be taken back.
//! - `everysec`: the append writes through to the file before returning
//!   (unless a slow fsync has it postponed, at most 2 s, as Redis); the
//!   thread fdatasyncs about once a second.
//! - `no`: written through, never fsynced by us.
//!
//! Under `everysec` and `no` a failed write or fsync is sticky: appends are
//! refused with `MISCONF` until a rewrite has installed a fresh base and
//! the failed file is no longer the one being written. An fsync that failed
//! is never retried on the same file (after a failed fsync the kernel may
//! have dropped the dirty pages; a later "successful" fsync proves nothing).
//! That is stricter than Redis, which lifts MISCONF after the next write
//! or background fsync that succeeds.
//!
//! A rewrite ([`writer::Aof::begin_rewrite`]) switches appends to a new
//! incr file at once and hands out a temp file for the new base; finishing
//! it renames the base into place and writes the new manifest in one atomic
//! step, after which the old files are history and are deleted. The base
//! must be the dataset exactly as of `begin_rewrite`: the caller takes its
//! snapshot under the same lock that orders appends.
//!
//! Turned on at runtime (`CONFIG SET appendonly yes`), the AOF first
//! *waits* for its base ([`writer::Aof::open_waiting`], Redis's
//! `AOF_WAIT_REWRITE`): appends go to a temp incr file no manifest names,
//! the base is written from a background snapshot, and only once it is in
//! are the temp incr renamed and the manifest written. Until then nothing
//! counts as synced, so a reply under `always` waits for that commit.
//!
//! [`loader::load`] replays base and incr files in order, upgrading a Redis
//! 6 single `appendonly.aof` first. All I/O goes through
//! [`crate::persistence::fs::Fs`] so the crash tests can cut power anywhere.

pub mod loader;
pub mod manifest;
pub mod writer;

#[cfg(test)]
mod crash_tests;

pub use loader::{load, AofLoadError, LoadItem, LoadOptions, LoadStats};
pub use manifest::{AofInfo, FileKind, Manifest, ManifestError};
pub use writer::{Aof, AofConfig, AofError, AofHandle, AofStats, FsyncPolicy};

use std::path::{Path, PathBuf};

/// Where the files live, from `dir`, `appendfilename` and `appenddirname`.
#[derive(Clone, Debug)]
pub struct AofPaths {
    /// The server's `dir`: where a Redis 6 `appendonly.aof` sits.
    pub dir: PathBuf,
    pub filename: String,
    /// `dir/appenddirname`.
    pub aof_dir: PathBuf,
}

impl AofPaths {
    pub fn new(dir: &Path, appendfilename: &str, appenddirname: &str) -> AofPaths {
        AofPaths {
            dir: dir.to_path_buf(),
            filename: appendfilename.to_string(),
            aof_dir: dir.join(appenddirname),
        }
    }

    pub fn manifest(&self) -> PathBuf {
        self.aof_dir.join(format!("{}.manifest", self.filename))
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.aof_dir.join(name)
    }

    /// A Redis 6 single-file AOF.
    pub fn legacy(&self) -> PathBuf {
        self.dir.join(&self.filename)
    }

    /// Where appends go while the AOF waits for its first base (Redis's
    /// `AOF_WAIT_REWRITE`): named by no manifest, renamed into a real incr
    /// file once the base is in (Redis's `temp-<appendfilename>.incr`).
    pub fn temp_incr(&self) -> PathBuf {
        self.aof_dir.join(format!("temp-{}.incr", self.filename))
    }

    /// Where a rewrite writes the new base before it is renamed into place
    /// (Redis's `temp-rewriteaof-bg-<pid>.aof`).
    pub fn temp_base(&self) -> PathBuf {
        self.aof_dir
            .join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()))
    }
}
