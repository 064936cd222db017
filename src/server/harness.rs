//! Runs commands through dispatch in-process, without sockets: for the
//! criterion benches (dispatch cost, per-type hot operations) and for
//! tests that want a reply's exact bytes without a network round trip.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::client::{Client, Push};
use super::dispatch::dispatch;
use super::Shared;
use crate::commands::Ctx;
use crate::config::Config;
use crate::protocol::{Protocol, ReplyBuf};

/// One server's state and one client of it.
pub struct Harness {
    pub shared: Arc<Shared>,
    pub client: Client,
    out: ReplyBuf,
    _push_rx: mpsc::UnboundedReceiver<Push>,
}

impl Harness {
    pub fn new(config: Config) -> Harness {
        let shared = Shared::new(config, None);
        shared.config_changed();
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let (client, push_rx) = Client::new(&shared, 1, addr.into(), addr.into(), -1);
        Harness {
            shared,
            client,
            out: ReplyBuf::new(Protocol::Resp2),
            _push_rx: push_rx,
        }
    }

    /// Runs one command; returns its reply bytes.
    pub fn call(&mut self, argv: &[&[u8]]) -> &[u8] {
        self.out.buf.clear();
        let mut ctx = Ctx::new(&self.shared, &mut self.client, &mut self.out);
        let _ = dispatch(&mut ctx, argv);
        drop(ctx);
        &self.out.buf
    }

    /// Runs a pipelined batch under one DB lock, as a connection does.
    pub fn batch(&mut self, cmds: &[Vec<&[u8]>]) -> &[u8] {
        self.out.buf.clear();
        let mut ctx = Ctx::new(&self.shared, &mut self.client, &mut self.out);
        for argv in cmds {
            let _ = dispatch(&mut ctx, argv);
        }
        drop(ctx);
        &self.out.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_commands_through_dispatch() {
        let mut h = Harness::new(Config::default());
        assert_eq!(h.call(&[b"SET", b"k", b"v"]), b"+OK\r\n");
        assert_eq!(h.call(&[b"GET", b"k"]), b"$1\r\nv\r\n");
        let batch = vec![vec![&b"PING"[..]], vec![&b"GET"[..], &b"k"[..]]];
        assert_eq!(h.batch(&batch), b"+PONG\r\n$1\r\nv\r\n");
    }
}
