//! Accepting clients and running one connection.
//!
//! The loop per connection: one `read` into a `BytesMut`; parse every
//! complete command into argument spans (no copies); run the whole batch
//! with the selected DB locked once; one `write` of all replies. In steady
//! state nothing is allocated per command: the span, command and argv
//! vectors are reused across batches.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::client::{Client, ClientAddr, ClientInfo, Push, ReplyMode};
use super::dispatch::dispatch;
use super::Shared;
use crate::commands::outcome::{Awaited, Blocked};
use crate::commands::{Ctx, Outcome};
use crate::protocol::parse::Span;
use crate::protocol::{parse_request, Limits, Parsed, Protocol, ReplyBuf};

const READ_CHUNK: usize = 16 * 1024;
/// A read buffer or reply buffer that grew past this for one big request
/// or reply is freed once it is empty (the next batch allocates a fresh
/// one), so a burst does not stay with the connection. Smaller grown
/// buffers stay while the client is busy (a client pipelining 100 KB
/// batches would otherwise regrow them every batch) and are freed by the
/// cron's `Push::Shrink` once it idles.
const SHRINK_ABOVE: usize = 1024 * 1024;
/// What a reply buffer starts with when a batch finds it freed.
const REPLY_CHUNK: usize = 1024;

/// Redis 7's protected-mode refusal, byte for byte (clients and scanners
/// match on it; the "Setup a an" typo is Redis's own).
const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// A listening socket: TCP, or the unix socket (`unixsocket`).
pub enum Listener {
    Tcp(TcpListener),
    /// `tls-port`: each accepted client is handed to the TLS handshake
    /// first (`server::tls::handshake`).
    Tls(TcpListener),
    #[cfg(unix)]
    Unix {
        listener: tokio::net::UnixListener,
        /// The socket's path as configured: both ends of its clients.
        path: Arc<str>,
    },
}

/// A connection's byte stream. The connection code is generic over it, so
/// the TCP path is compiled on its own (no dynamic dispatch per read or
/// write) and a unix socket or TLS client runs exactly the same loop.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// A write that never waits (the common case of a batch's replies).
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize>;
    /// The descriptor CLIENT LIST shows (-1 where there is none).
    fn fd(&self) -> i32;
    /// Resolves when a read would find bytes, so an idle connection holds
    /// no read buffer while it waits. Streams that may hold decoded input
    /// of their own (TLS) answer at once and read into a buffer as before.
    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
        std::future::ready(Ok(()))
    }
}

impl Stream for TcpStream {
    #[inline]
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        TcpStream::try_write(self, buf)
    }

    fn fd(&self) -> i32 {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            self.as_raw_fd()
        }
        #[cfg(not(unix))]
        {
            -1
        }
    }

    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            readable_peek(
                self.as_raw_fd(),
                move || TcpStream::readable(self),
                move |f| self.try_io(tokio::io::Interest::READABLE, f),
            )
        }
        #[cfg(not(unix))]
        {
            std::future::ready(Ok(()))
        }
    }
}

#[cfg(unix)]
impl Stream for tokio::net::UnixStream {
    #[inline]
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        tokio::net::UnixStream::try_write(self, buf)
    }

    fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.as_raw_fd()
    }

    fn readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
        use std::os::fd::AsRawFd;
        readable_peek(
            self.as_raw_fd(),
            move || tokio::net::UnixStream::readable(self),
            move |f| self.try_io(tokio::io::Interest::READABLE, f),
        )
    }
}

/// Resolves once a read on `fd` would return bytes, end of file or an
/// error. tokio's readiness alone is not enough: a freshly accepted socket
/// reads as ready before any byte came (measured: every silent connection
/// took a 16 KB read buffer), so one byte is peeked; a `WouldBlock`
/// clears the readiness (`try_io`) and the wait starts again.
#[cfg(unix)]
async fn readable_peek<'a, R, W, T>(fd: i32, wait: W, try_io: T) -> std::io::Result<()>
where
    R: std::future::Future<Output = std::io::Result<()>> + Send + 'a,
    W: Fn() -> R + Send + 'a,
    T: Fn(&mut dyn FnMut() -> std::io::Result<()>) -> std::io::Result<()> + Send + 'a,
{
    let mut peek = || -> std::io::Result<()> {
        let mut b = 0u8;
        // SAFETY: `b` is a valid one-byte buffer for the call; MSG_PEEK
        // leaves the byte in the socket for the read that follows.
        let n = unsafe {
            libc::recv(
                fd,
                (&mut b as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    loop {
        wait().await?;
        match try_io(&mut peek) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            // Bytes, end of file or an error: the read reports which.
            _ => return Ok(()),
        }
    }
}

/// Accepts clients; with `proxy`, they are served by the proxy's
/// connection loop (same protected mode and maxclients checks).
pub async fn accept_loop(
    srv: Arc<Shared>,
    listener: Listener,
    proxy: Option<Arc<crate::proxy::Proxy>>,
) {
    let mut shutdown = srv.shutdown_rx();
    loop {
        let accepted = tokio::select! {
            r = accept(&listener) => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = Shared::shutdown_requested(&mut shutdown) => return,
        };
        match accepted {
            Accepted::Tcp(stream, peer) => {
                let _ = stream.set_nodelay(true);
                let laddr = stream.local_addr().unwrap_or(peer);
                admit(&srv, stream, peer.into(), laddr.into(), &proxy);
            }
            Accepted::Tls(stream, peer) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(super::tls::handshake(
                    srv.clone(),
                    stream,
                    peer,
                    proxy.clone(),
                ));
            }
            #[cfg(unix)]
            Accepted::Unix(stream, path) => {
                // Redis shows the socket's path for both ends.
                let addr = ClientAddr::Unix(path);
                admit(&srv, stream, addr.clone(), addr, &proxy);
            }
        }
    }
}

enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Tls(TcpStream, SocketAddr),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream, Arc<str>),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, a)| Accepted::Tcp(s, a)),
        Listener::Tls(l) => l.accept().await.map(|(s, a)| Accepted::Tls(s, a)),
        #[cfg(unix)]
        Listener::Unix { listener, path } => listener
            .accept()
            .await
            .map(|(s, _)| Accepted::Unix(s, path.clone())),
    }
}

/// What [`parse_batch`] found in the read buffer.
pub(crate) struct ParsedBatch {
    /// Bytes the complete commands (and empty lines) took.
    pub pos: usize,
    /// Bytes the buffer must hold before parsing again is worth it.
    pub need: usize,
    /// A protocol error after the commands before it.
    pub error: Option<crate::protocol::parse::ProtocolError>,
    /// Stopped after one command: a client that is not authenticated gets
    /// one command per batch, so AUTH's outcome decides the limits for
    /// what follows it. The rest stays in the buffer.
    pub cut: bool,
}

/// Parses every complete command in `buf` into `spans` (offsets into
/// `buf`) and `cmds` (first span, end span, end offset per command): one
/// batch, for the server's connection loop and the proxy's alike.
#[inline]
pub(crate) fn parse_batch(
    srv: &Shared,
    authenticated: bool,
    buf: &mut [u8],
    spans: &mut Vec<Span>,
    cmds: &mut Vec<(usize, usize, usize)>,
) -> ParsedBatch {
    let limits = Limits {
        max_bulk_len: srv.hot.proto_max_bulk_len.load(Ordering::Relaxed) as usize,
        max_multibulk_len: i32::MAX as usize,
        authenticated,
    };
    let mut out = ParsedBatch {
        pos: 0,
        need: 1,
        error: None,
        cut: false,
    };
    loop {
        let first = spans.len();
        let pos = out.pos;
        match parse_request(&mut buf[pos..], &limits, spans) {
            Ok(Parsed::Command { end }) => {
                for s in &mut spans[first..] {
                    s.0 += pos;
                    s.1 += pos;
                }
                out.pos += end;
                cmds.push((first, spans.len(), out.pos));
            }
            Ok(Parsed::Empty { end }) => out.pos += end,
            Ok(Parsed::Incomplete { need }) => {
                out.need = pos + need;
                return out;
            }
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        }
        if !authenticated && !cmds.is_empty() {
            out.cut = true;
            return out;
        }
    }
}

/// Protected mode and `maxclients` for a new connection, then its task.
pub(super) fn admit<S: Stream>(
    srv: &Arc<Shared>,
    stream: S,
    addr: ClientAddr,
    laddr: ClientAddr,
    proxy: &Option<Arc<crate::proxy::Proxy>>,
) {
    srv.stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let (maxclients, protected, has_pass) = {
        let c = srv.config.read();
        (c.maxclients, c.protected_mode, c.requirepass.is_some())
    };
    if refused_by_protected_mode(&addr, protected, has_pass) {
        tokio::spawn(refuse(stream, DENIED));
        return;
    }
    if srv.clients.len() >= maxclients {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let mut r = ReplyBuf::new(Protocol::Resp2);
        r.error(crate::commands::errors::MAX_CLIENTS.text().as_bytes());
        tokio::spawn(refuse(stream, r.buf));
        return;
    }
    match proxy {
        Some(p) => tokio::spawn(crate::proxy::connection::handle(
            srv.clone(),
            p.clone(),
            stream,
            addr,
            laddr,
        )),
        None => tokio::spawn(handle(srv.clone(), stream, addr, laddr)),
    };
}

/// Redis's protected mode: without a password, only local clients
/// (loopback, or the unix socket).
fn refused_by_protected_mode(peer: &ClientAddr, protected: bool, has_pass: bool) -> bool {
    protected && !has_pass && !peer.is_local()
}

pub(crate) async fn refuse<S: Stream>(mut stream: S, msg: impl AsRef<[u8]>) {
    let _ = stream.write_all(msg.as_ref()).await;
    let _ = stream.shutdown().await;
}

/// Registers an accepted client: a new id, a place in the client list and,
/// when it is authenticated from the start (no password), in DB 0's client
/// count. `Err(Some(reply))`: refused with that reply (the DB's
/// `max-clients`); `Err(None)`: the server is shutting down. The server's
/// connection loop and the proxy's both start here.
pub(crate) fn open_client(
    srv: &Arc<Shared>,
    peer: ClientAddr,
    laddr: ClientAddr,
    fd: i32,
) -> Result<(Client, mpsc::UnboundedReceiver<Push>), Option<Vec<u8>>> {
    let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
    let (client, push_rx) = Client::new(srv, id, peer, laddr, fd);
    srv.clients.add(client.info.clone());
    if srv.shutting_down.load(Ordering::Acquire) {
        // Registered after the shutdown sweep: close right away.
        srv.clients.remove(id);
        return Err(None);
    }
    if client.authenticated && !srv.tenancy.move_client(None, Some(client.db)) {
        srv.clients.remove(id);
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let mut r = ReplyBuf::new(Protocol::Resp2);
        r.error(crate::commands::errors::DB_MAX_CLIENTS.text().as_bytes());
        return Err(Some(r.buf));
    }
    Ok((client, push_rx))
}

async fn handle<S: Stream>(srv: Arc<Shared>, stream: S, peer: ClientAddr, laddr: ClientAddr) {
    let (mut client, mut push_rx) = match open_client(&srv, peer, laddr, stream.fd()) {
        Ok(c) => c,
        Err(Some(reply)) => return refuse(stream, reply).await,
        Err(None) => return,
    };
    let id = client.id;
    match run(&srv, &mut client, stream, &mut push_rx).await {
        Ok(()) => {}
        Err(e) => debug!(client = id, error = %e, "connection closed"),
    }
    if !client.watched.is_empty() {
        // unwatch_all locks the watched keys' DBs.
        srv.scripting.wait_idle().await;
    }
    close_client(&srv, &mut client);
}

/// Undoes [`open_client`] and everything the client set up on the way:
/// its watched keys, subscriptions, tracking, its place in its DB's client
/// count and in the client list. The connection loop calls it once no
/// script runs (unwatching locks DBs); the `dispatch_sequence` fuzz target
/// calls it for its clients' QUITs and disconnects.
pub(crate) fn close_client(srv: &Shared, client: &mut Client) {
    crate::commands::transactions::unwatch_all(srv, client);
    crate::commands::pubsub::unsubscribe_all(srv, client);
    srv.tracking.disable(srv, &client.info);
    if client.authenticated {
        srv.tenancy.move_client(Some(client.db), None);
    }
    srv.clients.remove(client.id);
}

/// Reuses a vector's allocation for borrows of another lifetime.
pub(crate) fn recycle<'b>(mut v: Vec<&'_ [u8]>) -> Vec<&'b [u8]> {
    v.clear();
    // In-place collect: same element layout, so the allocation is kept.
    v.into_iter().map(|_| -> &'b [u8] { &[] }).collect()
}

async fn run<S: Stream>(
    srv: &Arc<Shared>,
    client: &mut Client,
    mut stream: S,
    push_rx: &mut mpsc::UnboundedReceiver<Push>,
) -> std::io::Result<()> {
    // Every buffer starts empty and is allocated by the first request that
    // needs it: an idle connection (a pool's spare) holds none of them,
    // and the cron's `Push::Shrink` frees them again after idling.
    let mut rbuf = BytesMut::new();
    let mut out = ReplyBuf {
        buf: Vec::new(),
        proto: Protocol::Resp2,
    };
    let mut spans: Vec<Span> = Vec::new();
    // Per command: its span range and the buffer offset where it ends.
    let mut cmds: Vec<(usize, usize, usize)> = Vec::new();
    let mut argv_store: Vec<&'static [u8]> = Vec::new();
    // The buffers' bytes as last published in `info.buffers`.
    let mut published = 0usize;
    let mut need = 1usize;
    // Complete commands are still buffered (a pre-auth batch stops after one).
    let mut pending = false;
    // What the last batch's commands asked for (their `Outcome`s).
    let mut close = false;
    let mut delay = None;
    let mut blocked: Option<Blocked> = None;
    let mut awaited: Option<Awaited> = None;
    let mut script_wait = false;
    let mut pause_wait = false;
    let info = client.info.clone();
    loop {
        let idle = srv.hot.idle_timeout_s.load(Ordering::Relaxed);
        let idle_applies = idle > 0 && !info.monitor.load(Ordering::Relaxed);
        if !pending {
            tokio::select! {
                biased;
                push = push_rx.recv() => match push {
                    Some(Push::Data(msg)) => {
                        if !relay(&mut stream, &msg, &info).await? {
                            return Ok(());
                        }
                        continue;
                    }
                    Some(Push::Unblocked(msg)) => {
                        // Served just as a timeout removed us: already answered.
                        debug!(client = client.id, bytes = msg.len(), "late unblock dropped");
                        continue;
                    }
                    // CLIENT UNBLOCK as a WAIT ended by itself: answered.
                    Some(Push::EndWait { .. }) => continue,
                    Some(Push::Shrink) => {
                        release_idle(&mut rbuf, &mut out, &mut spans, &mut cmds, &mut argv_store);
                        publish_buffers(&info, &rbuf, &out, &mut published);
                        continue;
                    }
                    Some(Push::Kill) | None => return Ok(()),
                },
                r = read_in(&mut stream, &mut rbuf, need) => {
                    let n = r?;
                    if n == 0 {
                        return Ok(());
                    }
                    srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    // What a partial request holds shows meanwhile (CLIENT
                    // LIST's qbuf and tot-mem, maxmemory-clients).
                    info.qbuf
                        .store(rbuf.len().min(u32::MAX as usize) as u32, Ordering::Relaxed);
                    publish_buffers(&info, &rbuf, &out, &mut published);
                }
                _ = tokio::time::sleep(Duration::from_secs(idle)), if idle_applies => {
                    debug!(client = client.id, "closing idle client");
                    return Ok(());
                }
            }
        }
        pending = false;
        let limit = srv.hot.query_buffer_limit.load(Ordering::Relaxed) as usize;
        if rbuf.len() > limit {
            srv.stats
                .query_buffer_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            warn!(client = client.id, addr = %client.info.addr, "closing client that reached max query buffer length");
            return Ok(());
        }
        if rbuf.len() < need {
            continue;
        }
        let parsed = parse_batch(srv, client.authenticated, &mut rbuf, &mut spans, &mut cmds);
        let mut pos = parsed.pos;
        let mut proto_err = parsed.error;
        need = parsed.need;
        if parsed.cut {
            pending = true;
        }
        if !cmds.is_empty() {
            if out.buf.capacity() == 0 {
                out.buf.reserve(REPLY_CHUNK);
            }
            // max-ops-per-sec, throttle mode: sleep off the DB's debt before
            // the batch, holding no lock (one load for an unlimited DB).
            if let Some(d) = srv.tenancy.throttle_delay(client.db) {
                if info.killed.load(Ordering::Acquire) {
                    return Ok(());
                }
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = info.kill_notify.notified() => return Ok(()),
                }
            }
            let buf: &[u8] = &rbuf[..];
            let mut argv = recycle(std::mem::take(&mut argv_store));
            let batch_now;
            {
                let mut ctx = Ctx::new(srv, client, &mut out);
                ctx.obuf_check_at = srv.obuf.check_at();
                batch_now = ctx.now;
                let mut start = 0;
                for &(a, b, end) in cmds.iter() {
                    argv.clear();
                    argv.extend(spans[a..b].iter().map(|&(s, e)| &buf[s..e]));
                    let mark = ctx.out.len();
                    let outcome = dispatch(&mut ctx, &argv);
                    if outcome == Outcome::Wait || outcome == Outcome::Paused {
                        // Not run: it runs again once the script (or the
                        // pause) lets it.
                        script_wait = outcome == Outcome::Wait;
                        pause_wait = outcome == Outcome::Paused;
                        pos = start;
                        pending = true;
                        need = 1;
                        break;
                    }
                    start = end;
                    match ctx.client.reply_mode {
                        ReplyMode::On => {}
                        ReplyMode::Off => ctx.out.truncate(mark),
                        ReplyMode::Skip => ctx.client.reply_mode = ReplyMode::SkipNext,
                        ReplyMode::SkipNext => {
                            ctx.out.truncate(mark);
                            ctx.client.reply_mode = ReplyMode::On;
                        }
                    }
                    match outcome {
                        Outcome::Done => continue,
                        Outcome::Close => {
                            close = true;
                            break;
                        }
                        // A held-back failed AUTH: what follows it waits
                        // too, so a pipeline of guesses gains nothing.
                        Outcome::Delay(d) => delay = Some(d),
                        // The rest of the pipeline waits until it unblocks.
                        Outcome::Block(b) => blocked = Some(*b),
                        Outcome::Await(a) => awaited = Some(*a),
                        Outcome::Wait | Outcome::Paused | Outcome::Refused(..) => {
                            unreachable!("dispatch answers these itself")
                        }
                    }
                    pos = end;
                    pending = pos < buf.len();
                    need = 1;
                    break;
                }
            }
            argv_store = recycle(argv);
            cmds.clear();
            spans.clear();
            info.last_interaction_ms.store(batch_now, Ordering::Relaxed);
            info.db.store(client.db, Ordering::Relaxed);
        }
        rbuf.advance(pos);
        if pos > 0 && rbuf.is_empty() {
            // `advance` leaves the consumed bytes in front of the buffer
            // and out of `capacity()`: take them back (no allocation), so
            // the capacity is the allocation the shrink and `rbs` judge.
            let _ = rbuf.try_reclaim(rbuf.capacity() + 1);
        }
        need = need.saturating_sub(pos).max(1);
        if script_wait || pause_wait {
            // The batch was cut before the bad input: the re-parse after
            // the wait finds it again, after the commands before it ran.
            proto_err = None;
        }
        if let Some(e) = &proto_err {
            out.error(format!("ERR {e}").as_bytes());
        }
        // appendfsync always: nothing goes out before the fsync covering
        // what this batch wrote or read ("acknowledged or observed").
        let ticket = srv
            .persist
            .reply_ticket(std::mem::take(&mut client.sync_ticket), false);
        if ticket > 0 && !out.is_empty() && !srv.persist.wait_durable(ticket).await {
            // The AOF failed: these replies would promise what was lost.
            return Ok(());
        }
        if let Some(d) = delay.take() {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = info.kill_notify.notified() => return Ok(()),
            }
        }
        if !out.is_empty() {
            if !write_batch(&mut stream, &out.buf, &info).await? {
                return Ok(());
            }
            srv.stats
                .net_output_bytes
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            if info.output.soft_since_s.load(Ordering::Relaxed) != 0 {
                srv.obuf.written(&info);
            }
            out.buf.clear();
            if out.buf.capacity() > SHRINK_ABOVE {
                out.buf = Vec::new();
            }
        }
        if let Some(b) = blocked.take() {
            // Boxed (and WAIT's below): inline, the waits' state made every
            // connection's task bigger, idle ones included (1784 -> 1408
            // bytes, debug build); a blocking call already pays a timer and
            // a waiter entry, one allocation more is little beside them.
            if !Box::pin(wait_unblocked(
                srv,
                client,
                b,
                &mut stream,
                &mut rbuf,
                push_rx,
            ))
            .await?
            {
                return Ok(());
            }
        }
        if let Some(a) = awaited.take() {
            if !Box::pin(wait_awaited(
                srv,
                client,
                a,
                &mut stream,
                &mut rbuf,
                push_rx,
            ))
            .await?
            {
                return Ok(());
            }
        }
        if proto_err.is_some() || close {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        if script_wait {
            script_wait = false;
            let turn = srv.scripting.wait_turn(client.id, &srv.clock);
            if !wait_watching(srv, &mut stream, &mut rbuf, turn).await {
                return Ok(());
            }
        }
        if pause_wait {
            pause_wait = false;
            // Counted as blocked (INFO blocked_clients, flag `b`), as
            // Redis's postponed clients are; CLIENT UNBLOCK cannot end it.
            info.postponed.store(true, Ordering::Relaxed);
            let pause = srv.pause.wait(&srv.clock, &info.kill_notify);
            let stayed = wait_watching(srv, &mut stream, &mut rbuf, pause).await;
            info.postponed.store(false, Ordering::Relaxed);
            if !stayed || info.killed.load(Ordering::Acquire) {
                return Ok(());
            }
        }
        if rbuf.is_empty() && rbuf.capacity() > SHRINK_ABOVE {
            rbuf = BytesMut::new();
        }
        info.qbuf
            .store(rbuf.len().min(u32::MAX as usize) as u32, Ordering::Relaxed);
        publish_buffers(&info, &rbuf, &out, &mut published);
    }
}

/// Reads into `rbuf`; a connection that holds no read buffer (idle, or
/// freed by `Push::Shrink`) waits until the socket is readable before it
/// allocates one. Cancel-safe, as the `select!` it runs in needs.
async fn read_in<S: Stream>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    need: usize,
) -> std::io::Result<usize> {
    if rbuf.capacity() == 0 {
        stream.readable().await?;
    }
    if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
        rbuf.reserve(READ_CHUNK.max(need.saturating_sub(rbuf.len())));
    }
    stream.read_buf(rbuf).await
}

/// `Push::Shrink` (the cron, for a client idle a while): frees the
/// buffers the last requests left, keeping unparsed input.
fn release_idle(
    rbuf: &mut BytesMut,
    out: &mut ReplyBuf,
    spans: &mut Vec<Span>,
    cmds: &mut Vec<(usize, usize, usize)>,
    argv: &mut Vec<&'static [u8]>,
) {
    if rbuf.is_empty() {
        *rbuf = BytesMut::new();
    }
    if out.buf.is_empty() {
        out.buf = Vec::new();
    }
    *spans = Vec::new();
    *cmds = Vec::new();
    *argv = Vec::new();
}

/// Publishes the bytes the connection's buffers hold (CLIENT LIST's
/// `rbs`/`tot-mem`, INFO's `used_memory_clients`), when they changed.
#[inline]
fn publish_buffers(info: &ClientInfo, rbuf: &BytesMut, out: &ReplyBuf, published: &mut usize) {
    let rbs = rbuf.capacity();
    let now = rbs + out.buf.capacity();
    if now != *published {
        *published = now;
        info.buffers.store(now, Ordering::Relaxed);
        info.rbs.store(rbs, Ordering::Relaxed);
    }
}

/// Writes `buf`, giving up if the client is killed meanwhile (a peer that
/// stopped reading would otherwise hold the task forever). False = killed.
/// While the write waits for the peer, what is left is kept in `pending`
/// if given (a batch's replies: see [`write_batch`]).
async fn write_unless_killed<S: Stream>(
    stream: &mut S,
    buf: &[u8],
    info: &ClientInfo,
    pending: Option<&std::sync::atomic::AtomicUsize>,
) -> std::io::Result<bool> {
    if info.killed.load(Ordering::Acquire) {
        return Ok(false);
    }
    // Common case: the socket takes the whole batch at once, no future.
    let mut buf = buf;
    match stream.try_write(buf) {
        Ok(n) if n == buf.len() => return Ok(true),
        Ok(n) => buf = &buf[n..],
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    if let Some(p) = pending {
        p.store(buf.len(), Ordering::Relaxed);
    }
    let r = tokio::select! {
        // The flush is TLS's: a write may leave records in its buffer.
        r = async { stream.write_all(buf).await?; stream.flush().await } => r.map(|()| true),
        _ = info.kill_notify.notified() => Ok(false),
    };
    if let Some(p) = pending {
        p.store(0, Ordering::Relaxed);
    }
    r
}

/// Writes a batch's replies; while the peer is not reading, what is left
/// counts as the client's queued output (`client-output-buffer-limit`,
/// CLIENT LIST's omem), so pushes meanwhile see it.
async fn write_batch<S: Stream>(
    stream: &mut S,
    buf: &[u8],
    info: &ClientInfo,
) -> std::io::Result<bool> {
    write_unless_killed(stream, buf, info, Some(&info.output.pending_write)).await
}

/// Writes a pushed message (MONITOR line, Pub/Sub message) and takes it
/// off the client's output-buffer count. False = killed meanwhile.
async fn relay<S: Stream>(stream: &mut S, msg: &[u8], info: &ClientInfo) -> std::io::Result<bool> {
    if !write_unless_killed(stream, msg, info, None).await? {
        return Ok(false);
    }
    info.output.pushed.fetch_sub(msg.len(), Ordering::Relaxed);
    Ok(true)
}

/// Waits for `until` (a script's turn, the end of a CLIENT PAUSE) while
/// reading the socket, as a blocked client does: input that arrives is
/// kept for afterwards, not run. False when the peer closed (or passed the
/// query buffer limit) first: a client that leaves while held must not
/// stay listed and counted as blocked until the pause ends.
async fn wait_watching<S: Stream>(
    srv: &Shared,
    stream: &mut S,
    rbuf: &mut BytesMut,
    until: impl std::future::Future<Output = ()>,
) -> bool {
    tokio::pin!(until);
    loop {
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            () = &mut until => return true,
            r = stream.read_buf(rbuf) => match r {
                Ok(n) if kept_while_waiting(srv, n, rbuf) => {}
                _ => return false,
            },
        }
    }
}

/// Input read while the client waits (blocked, WAIT): kept for after it,
/// not run, as in Redis. False when the peer closed or the buffered input
/// passed the query buffer limit.
fn kept_while_waiting(srv: &Shared, read: usize, rbuf: &BytesMut) -> bool {
    read > 0 && rbuf.len() <= srv.hot.query_buffer_limit.load(Ordering::Relaxed) as usize
}

/// Waits until the blocking command of `client` is served, times out, or
/// the client goes away. Returns false when the connection must close.
/// Input that arrives meanwhile is buffered, not run (as in Redis).
async fn wait_unblocked<S: Stream>(
    srv: &Arc<Shared>,
    client: &mut Client,
    b: Blocked,
    stream: &mut S,
    rbuf: &mut BytesMut,
    push_rx: &mut mpsc::UnboundedReceiver<Push>,
) -> std::io::Result<bool> {
    let forget = |srv: &Shared| srv.keyspace.lock(b.db).blocking.remove(client.id).is_some();
    let result = async {
        let sleep = tokio::time::sleep(b.timeout.unwrap_or(Duration::ZERO));
        tokio::pin!(sleep);
        let mut timer = b.timeout.is_some();
        loop {
            if rbuf.capacity() - rbuf.len() < 1024 {
                rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                push = push_rx.recv() => match push {
                    Some(Push::Unblocked(reply)) => {
                        // The pop that served us is logged by now: under
                        // appendfsync always (the server's or the DB's) it
                        // is fsynced before we say so.
                        let ticket = srv.persist.served_ticket(b.db);
                        if ticket > 0 && !srv.persist.wait_durable(ticket).await {
                            return Ok(false);
                        }
                        stream.write_all(&reply).await?;
                        stream.flush().await?;
                        return Ok(true);
                    }
                    Some(Push::Data(msg)) => {
                        if !relay(stream, &msg, &client.info).await? {
                            return Ok(false);
                        }
                    }
                    Some(Push::EndWait { .. } | Push::Shrink) => {}
                    Some(Push::Kill) | None => return Ok(false),
                },
                _ = &mut sleep, if timer => {
                    // A script holding the DB finishes first (nothing runs
                    // beside one in Redis); waiting on its lock here would
                    // stall the worker thread.
                    srv.scripting.wait_idle().await;
                    if forget(srv) {
                        stream.write_all(&b.timeout_reply).await?;
                        stream.flush().await?;
                        return Ok(true);
                    }
                    // Served concurrently: the reply is already queued.
                    timer = false;
                }
                r = stream.read_buf(rbuf) => {
                    if !kept_while_waiting(srv, r?, rbuf) {
                        return Ok(false);
                    }
                }
            }
        }
    }
    .await;
    client.info.blocked_db.store(-1, Ordering::Relaxed);
    match result {
        Ok(true) => Ok(true),
        other => {
            srv.scripting.wait_idle().await;
            forget(srv);
            other
        }
    }
}

/// Serves a WAIT or WAITAOF ([`Outcome::Await`]): writes its reply when
/// what it waits for happens or its timeout runs out. Input that arrives
/// meanwhile is buffered, not run (as for a blocked client). Returns false
/// when the connection must close.
async fn wait_awaited<S: Stream>(
    srv: &Arc<Shared>,
    client: &mut Client,
    a: Awaited,
    stream: &mut S,
    rbuf: &mut BytesMut,
    push_rx: &mut mpsc::UnboundedReceiver<Push>,
) -> std::io::Result<bool> {
    use crate::commands::replication::{awaited_reply, End};
    let (offset, numlocal, until_timeout, timeout) = match a {
        Awaited::Replicas { timeout } => (None, false, true, timeout),
        Awaited::Aof {
            offset,
            numlocal,
            until_timeout,
            timeout,
        } => (offset, numlocal, until_timeout, timeout),
    };
    let covered = |srv: &Shared| offset.is_some_and(|o| srv.persist.fsynced(o));
    let sleep = tokio::time::sleep(timeout.unwrap_or(Duration::ZERO));
    tokio::pin!(sleep);
    // CONFIG SET appendonly no ends a WAITAOF 1 with an error: looked at
    // every 100 ms (the AOF going away wakes nothing).
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    client.info.awaiting.store(true, Ordering::Release);
    let reply = loop {
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            () = srv.persist.until_fsynced(offset.unwrap_or(0)), if offset.is_some() && !until_timeout => {
                // The AOF's last fsync as it is turned off is no answer:
                // Redis ends the wait with its error then.
                if numlocal && !srv.persist.aof_on() {
                    break awaited_reply(&a, End::NoAof);
                }
                break awaited_reply(&a, End::Answered { covered: true });
            }
            _ = &mut sleep, if timeout.is_some() => {
                break awaited_reply(&a, End::Answered { covered: covered(srv) });
            }
            _ = tick.tick(), if numlocal => {
                if !srv.persist.aof_on() {
                    break awaited_reply(&a, End::NoAof);
                }
            }
            push = push_rx.recv() => match push {
                Some(Push::Data(msg)) => {
                    if !relay(stream, &msg, &client.info).await? {
                        return Ok(false);
                    }
                }
                Some(Push::Unblocked(_) | Push::Shrink) => {}
                Some(Push::EndWait { error: true }) => {
                    break awaited_reply(&a, End::Unblocked);
                }
                Some(Push::EndWait { error: false }) => {
                    break awaited_reply(&a, End::Answered { covered: covered(srv) });
                }
                Some(Push::Kill) | None => return Ok(false),
            },
            r = stream.read_buf(rbuf) => {
                if !kept_while_waiting(srv, r?, rbuf) {
                    return Ok(false);
                }
            }
        }
    };
    client.info.awaiting.store(false, Ordering::Release);
    stream.write_all(&reply).await?;
    stream.flush().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::ClientAddr;

    fn refused(ip: std::net::IpAddr, protected: bool, has_pass: bool) -> bool {
        let addr = ClientAddr::Tcp(std::net::SocketAddr::new(ip, 1234));
        super::refused_by_protected_mode(&addr, protected, has_pass)
    }

    #[test]
    fn protected_mode_admits_only_loopback_without_a_password() {
        let lan = "10.1.2.3".parse().unwrap();
        let v6 = "2001:db8::1".parse().unwrap();
        assert!(refused(lan, true, false));
        assert!(refused(v6, true, false));
        assert!(!refused("127.0.0.1".parse().unwrap(), true, false));
        assert!(!refused("::1".parse().unwrap(), true, false));
        assert!(!refused("::ffff:127.0.0.1".parse().unwrap(), true, false));
        assert!(!refused(lan, true, true), "a password lifts it");
        assert!(!refused(lan, false, false), "protected-mode no lifts it");
        let unix = ClientAddr::Unix("/tmp/k.sock".into());
        assert!(
            !super::refused_by_protected_mode(&unix, true, false),
            "a unix socket client is local"
        );
    }
}
