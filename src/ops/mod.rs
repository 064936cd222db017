//! What the `keyward` binary does as a process, beside serving: the pid
//! file, telling a supervisor (systemd) when it is ready and when it stops,
//! where and how it logs, and two one-shot modes: `--ping` (a health check)
//! and `--check-config` (validate a file, print its tenancy table).
//! Nothing here is used by an embedded server.

pub mod check;
pub mod log;
pub mod notify;
pub mod ping;

/// `pidfile`: this process's id, written at start as Redis's
/// `createPidFile` (a failure is logged, not fatal), removed on drop.
pub struct PidFile(Option<std::path::PathBuf>);

impl PidFile {
    pub fn create(path: &str) -> PidFile {
        if path.is_empty() {
            return PidFile(None);
        }
        match std::fs::write(path, format!("{}\n", std::process::id())) {
            Ok(()) => PidFile(Some(path.into())),
            Err(e) => {
                tracing::warn!("Failed to write PID file: {e}");
                PidFile(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            tracing::info!("Removing the pid file.");
            let _ = std::fs::remove_file(p);
        }
    }
}
