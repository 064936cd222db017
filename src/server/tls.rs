//! The TLS listener (`tls-port`): accept, handshake, then the same
//! connection loop as plain TCP (monomorphized for `TlsStream<TcpStream>`).
//!
//! Owns the rustls configuration in use: new handshakes take the current
//! one, so `CONFIG SET tls-cert-file …` (any row that
//! `params::reconfigures_tls`) reaches every later connection without a
//! restart, and connections already open keep theirs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::connection::{admit, Stream};
use super::Shared;
use crate::config::Config;

/// The TLS configuration new handshakes use; `None` while TLS is off.
#[derive(Default)]
pub struct Tls {
    current: RwLock<Option<Arc<rustls::ServerConfig>>>,
}

impl Tls {
    /// Builds the configuration `config` describes, reading its files, or
    /// says why not. `Ok(None)` when TLS is off (`tls-port 0`), as Redis
    /// skips configuring it then.
    pub fn prepare(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
        if config.tls.port == 0 {
            return Ok(None);
        }
        crate::tls::server_config(&config.tls).map(Some)
    }

    /// Makes `next` the configuration of every later handshake.
    pub fn install(&self, next: Option<Arc<rustls::ServerConfig>>) {
        *self.current.write() = next;
    }

    fn acceptor(&self) -> Option<TlsAcceptor> {
        self.current.read().clone().map(TlsAcceptor::from)
    }
}

impl Stream for TlsStream<TcpStream> {
    /// Never: the bytes must go through rustls's record layer, which
    /// needs `&mut`; the caller's `write_all` (and flush) does it.
    #[inline]
    fn try_write(&self, _buf: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }

    fn fd(&self) -> i32 {
        self.get_ref().0.fd()
    }
}

/// The handshake, then protected mode, `maxclients` and the connection
/// loop as for any client (a refusal is sent over TLS, as Redis does).
/// A peer that speaks no TLS (a plaintext client on this port) fails the
/// handshake at its first bytes and is disconnected. A handshake that
/// never finishes is bounded by `timeout`, as an idle Redis client is.
pub(super) async fn handshake(
    srv: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    proxy: Option<Arc<crate::proxy::Proxy>>,
) {
    let Some(acceptor) = srv.tls.acceptor() else {
        return;
    };
    let laddr = stream.local_addr().unwrap_or(peer);
    let idle = srv.config.read().timeout;
    let mut shutdown = srv.shutdown_rx();
    let accepted = async {
        if idle > 0 {
            tokio::time::timeout(Duration::from_secs(idle), acceptor.accept(stream))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
        } else {
            acceptor.accept(stream).await
        }
    };
    let tls = tokio::select! {
        r = accepted => match r {
            Ok(tls) => tls,
            Err(e) => {
                // Redis logs failed handshakes at verbose level.
                debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
        },
        _ = Shared::shutdown_requested(&mut shutdown) => return,
    };
    admit(&srv, tls, peer.into(), laddr.into(), &proxy);
}
