//! `supervised`: systemd's readiness protocol (sd_notify(3)) written by
//! hand — one datagram per message to the socket named by `NOTIFY_SOCKET`
//! (a path, or `@name` for an abstract socket) — and upstart's SIGSTOP,
//! at the points and with the messages redis-server uses.

use tracing::{info, warn};

/// How the binary tells its supervisor about its state.
pub enum Supervisor {
    None,
    #[cfg(unix)]
    Systemd {
        socket: std::os::unix::net::UnixDatagram,
        target: String,
    },
}

impl Supervisor {
    /// Redis's `redisIsSupervised`: `auto` picks upstart when
    /// `UPSTART_JOB` is set, else systemd when `NOTIFY_SOCKET` is. Sends
    /// systemd the loading status at once; upstart is told by stopping the
    /// process (`expect stop`), as Redis does, before the dataset loads.
    pub fn start(mode: &str) -> Supervisor {
        let mode = match mode {
            "auto" if std::env::var_os("UPSTART_JOB").is_some() => "upstart",
            "auto" if std::env::var_os("NOTIFY_SOCKET").is_some() => "systemd",
            m => m,
        };
        match mode {
            "systemd" => Supervisor::systemd(),
            "upstart" => {
                upstart();
                Supervisor::None
            }
            _ => Supervisor::None,
        }
    }

    #[cfg(unix)]
    fn systemd() -> Supervisor {
        let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
            warn!("systemd supervision requested or auto-detected, but NOTIFY_SOCKET not found!");
            return Supervisor::None;
        };
        let target = target.to_string_lossy().into_owned();
        let socket = match std::os::unix::net::UnixDatagram::unbound() {
            Ok(s) => s,
            Err(e) => {
                warn!("Can't create a socket to notify systemd: {e}");
                return Supervisor::None;
            }
        };
        info!("Supervised by systemd. Please make sure you set appropriate values for TimeoutStartSec and TimeoutStopSec in your service unit.");
        let s = Supervisor::Systemd { socket, target };
        s.send("STATUS=Redis is loading...\n");
        s
    }

    #[cfg(not(unix))]
    fn systemd() -> Supervisor {
        warn!("systemd supervision needs a unix system");
        Supervisor::None
    }

    /// The dataset is loaded and clients are served.
    pub fn ready(&self) {
        self.send("STATUS=Ready to accept connections\n");
        self.send("READY=1\n");
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        self.send("STOPPING=1\n");
    }

    fn send(&self, msg: &str) {
        #[cfg(unix)]
        if let Supervisor::Systemd { socket, target } = self {
            if let Err(e) = send_to(socket, target, msg.as_bytes()) {
                warn!("Can't send notification to systemd: {e}");
            }
        }
        #[cfg(not(unix))]
        let _ = msg;
    }
}

#[cfg(unix)]
fn send_to(
    socket: &std::os::unix::net::UnixDatagram,
    target: &str,
    msg: &[u8],
) -> std::io::Result<usize> {
    if let Some(name) = target.strip_prefix('@') {
        // An abstract socket: the name without the '@', no file behind it.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            return socket.send_to_addr(msg, &addr);
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "abstract sockets are Linux's",
            ));
        }
    }
    socket.send_to(msg, target)
}

fn upstart() {
    if std::env::var_os("UPSTART_JOB").is_none() {
        warn!("upstart supervision requested, but UPSTART_JOB not found!");
        return;
    }
    info!("supervised by upstart, will stop to signal readiness.");
    #[cfg(unix)]
    {
        // SAFETY: raise() with a signal number touches no memory of ours;
        // upstart continues the process (SIGCONT) once it saw the stop.
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }
    std::env::remove_var("UPSTART_JOB");
}
