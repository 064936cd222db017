//! Upstream connections.
//!
//! A shared connection is a task that owns one socket: it writes requests
//! in the order they arrive and hands each reply frame to the client whose
//! request is oldest (FIFO). When the socket breaks (I/O error, EOF, op
//! timeout, a reply that is no RESP), every request written and not yet
//! answered gets an error frame, in order, and the next request reconnects;
//! requests not yet written go out on the new connection, so nothing is
//! sent twice. Every connect replays the handshake.
//!
//! A dedicated connection belongs to one client: a reader task relays every
//! frame to it, and a break is reported as [`Lost`] so the client is
//! disconnected rather than silently given a fresh connection.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::resp::frame_len;
use super::stream::UpStream;
use super::tenant::Tenant;
use super::Settings;
use crate::protocol::encode_command as encode;

/// The error frame for requests in flight on a connection that broke.
pub const LOST: &[u8] = b"-ERR upstream connection lost\r\n";

/// A dedicated connection broke: its client is told and disconnected.
#[derive(Debug)]
pub struct Lost;

/// What a client receives: reply frames, in its requests' order.
pub type ReplyTx = mpsc::UnboundedSender<Result<Bytes, Lost>>;
pub type ReplyRx = mpsc::UnboundedReceiver<Result<Bytes, Lost>>;

/// One client's pipelined requests (a batch) for a shared connection.
pub struct Request {
    /// RESP requests, back to back.
    pub bytes: Vec<u8>,
    /// How many reply frames they produce.
    pub frames: usize,
    pub to: ReplyTx,
}

/// A handle on one shared connection's task.
#[derive(Clone)]
pub struct PoolConn(mpsc::UnboundedSender<Request>);

impl PoolConn {
    /// Queues `req`; false if the task is gone (it never ends while a
    /// handle exists, so this is defensive).
    pub fn send(&self, req: Request) -> bool {
        self.0.send(req).is_ok()
    }
}

/// Starts a shared connection for `db` (RESP3 if `resp3`); it connects on
/// its first request.
pub fn spawn_shared(
    up: Arc<Settings>,
    db: usize,
    resp3: bool,
    tenant: Option<Arc<Tenant>>,
) -> PoolConn {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run_shared(up, db, resp3, tenant, rx));
    PoolConn(tx)
}

async fn run_shared(
    up: Arc<Settings>,
    db: usize,
    resp3: bool,
    tenant: Option<Arc<Tenant>>,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        let stream = match connect(&up, db, resp3, tenant.as_deref()).await {
            Ok(s) => s,
            Err(e) => {
                // Up to connect-timeout waited: the request errors (and
                // what queued meanwhile); the next one tries again.
                warn!(upstream = %up.target.addr, db, error = %e, "upstream unavailable");
                let text = format!("-ERR upstream unavailable: {e}\r\n");
                let frame = Bytes::from(text.into_bytes());
                fail(first, &frame);
                while let Ok(r) = rx.try_recv() {
                    fail(r, &frame);
                }
                continue;
            }
        };
        debug!(upstream = %up.target.addr, db, "shared upstream connection up");
        if serve(&up, stream, first, &mut rx).await {
            return;
        }
    }
}

fn fail(req: Request, frame: &Bytes) {
    for _ in 0..req.frames {
        let _ = req.to.send(Ok(frame.clone()));
    }
}

/// Serves requests on one socket until it breaks (false) or no handle is
/// left and nothing is owed (true).
async fn serve(
    up: &Settings,
    stream: UpStream,
    first: Request,
    rx: &mut mpsc::UnboundedReceiver<Request>,
) -> bool {
    match stream {
        // TCP's own split borrows, without tokio::io::split's lock.
        UpStream::Plain(mut s) => {
            let (r, w) = s.split();
            serve_io(up, r, w, first, rx).await
        }
        UpStream::Tls(s) => {
            let (r, w) = tokio::io::split(s);
            serve_io(up, r, w, first, rx).await
        }
    }
}

async fn serve_io<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    up: &Settings,
    mut r: R,
    mut w: W,
    first: Request,
    rx: &mut mpsc::UnboundedReceiver<Request>,
) -> bool {
    // (frames still owed, to whom)
    let mut inflight: VecDeque<(usize, ReplyTx)> = VecDeque::new();
    let mut wbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut closing = false;
    let take = |req: Request, wbuf: &mut Vec<u8>, inflight: &mut VecDeque<_>| {
        if wbuf.is_empty() {
            // The common case: this batch is the write.
            *wbuf = req.bytes;
        } else {
            wbuf.extend_from_slice(&req.bytes);
        }
        if req.frames > 0 {
            inflight.push_back((req.frames, req.to));
        }
    };
    take(first, &mut wbuf, &mut inflight);
    let cause = loop {
        while let Ok(req) = rx.try_recv() {
            take(req, &mut wbuf, &mut inflight);
        }
        if !wbuf.is_empty() {
            // Redis buffers its replies, so writing without reading
            // cannot deadlock.
            if let Err(e) = write_all(&mut w, &wbuf).await {
                break format!("write: {e}");
            }
            wbuf.clear();
            if wbuf.capacity() > 1024 * 1024 {
                wbuf = Vec::with_capacity(16 * 1024);
            }
        }
        if closing && inflight.is_empty() {
            return true;
        }
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(16 * 1024);
        }
        let timeout = up.op_timeout.filter(|_| !inflight.is_empty());
        tokio::select! {
            req = rx.recv(), if !closing => match req {
                Some(req) => take(req, &mut wbuf, &mut inflight),
                None => closing = true,
            },
            n = r.read_buf(&mut rbuf) => {
                match n {
                    Ok(0) => break "closed by upstream".to_string(),
                    Err(e) => break format!("read: {e}"),
                    Ok(_) => {}
                }
                if let Err(e) = hand_out(&mut rbuf, &mut inflight) {
                    break e;
                }
            }
            _ = tokio::time::sleep(timeout.unwrap_or_default()), if timeout.is_some() => {
                break "op timeout".to_string();
            }
        }
    };
    warn!(upstream = %up.target.addr, cause = %cause, owed = inflight.len(), "upstream connection lost");
    let frame = Bytes::from_static(LOST);
    for (n, to) in inflight {
        for _ in 0..n {
            let _ = to.send(Ok(frame.clone()));
        }
    }
    false
}

/// `write_all` and a flush: TLS holds written records until flushed.
pub async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, b: &[u8]) -> std::io::Result<()> {
    w.write_all(b).await?;
    w.flush().await
}

/// Gives every complete frame in `rbuf` to the oldest request.
fn hand_out(rbuf: &mut BytesMut, inflight: &mut VecDeque<(usize, ReplyTx)>) -> Result<(), String> {
    loop {
        let len = match frame_len(rbuf) {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(()),
            Err(_) => return Err("upstream sent a malformed reply".into()),
        };
        let frame = rbuf.split_to(len).freeze();
        // A push frame on a shared connection answers nobody.
        if frame[0] == b'>' {
            continue;
        }
        let Some(head) = inflight.front_mut() else {
            return Err("upstream sent a reply nobody asked for".into());
        };
        let _ = head.1.send(Ok(frame));
        head.0 -= 1;
        if head.0 == 0 {
            inflight.pop_front();
        }
    }
}

/// Writes `cmds` and reads one reply frame per command; an error reply is
/// an `Err` with its text (never the arguments: they may hold secrets).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    cmds: &[Vec<&[u8]>],
    what: &str,
) -> Result<Vec<Bytes>, String> {
    let mut req = Vec::new();
    for c in cmds {
        encode(&mut req, c);
    }
    write_all(s, &req)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    let mut buf = BytesMut::with_capacity(1024);
    let mut out = Vec::with_capacity(cmds.len());
    while out.len() < cmds.len() {
        match frame_len(&buf) {
            Ok(Some(n)) => {
                let f = buf.split_to(n).freeze();
                if f[0] == b'-' {
                    let line = String::from_utf8_lossy(&f[1..f.len() - 2]).into_owned();
                    return Err(format!("{what} refused: {line}"));
                }
                out.push(f);
                continue;
            }
            Ok(None) => {}
            Err(_) => return Err(format!("{what}: malformed reply")),
        }
        let n = s
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        if n == 0 {
            return Err(format!("{what}: closed by upstream"));
        }
    }
    Ok(out)
}

/// A new connection in `db`, handshake done: HELLO 3 for RESP3, AUTH with
/// the upstream credentials, SELECT, then for a `tenant` AUTH as its
/// upstream user (which cannot SELECT), provisioning it first if the
/// upstream does not know it. Errors never include credentials.
pub async fn connect(
    up: &Settings,
    db: usize,
    resp3: bool,
    tenant: Option<&Tenant>,
) -> Result<UpStream, String> {
    let t = &up.target;
    let attempt = async {
        let mut s = UpStream::connect(&t.addr, up.tls.as_ref()).await?;
        let user = t.user.as_deref().unwrap_or("default").as_bytes();
        let dbs = db.to_string();
        let mut cmds: Vec<Vec<&[u8]>> = Vec::new();
        match (&t.password, resp3) {
            (Some(p), true) => cmds.push(vec![b"HELLO", b"3", b"AUTH", user, p.as_bytes()]),
            (None, true) => cmds.push(vec![b"HELLO", b"3"]),
            (Some(p), false) => cmds.push(vec![b"AUTH", user, p.as_bytes()]),
            (None, false) => {}
        }
        if db != 0 {
            cmds.push(vec![b"SELECT", dbs.as_bytes()]);
        }
        if !cmds.is_empty() {
            exchange(&mut s, &cmds, "handshake").await?;
        }
        if let Some(tenant) = tenant {
            let auth: Vec<&[u8]> =
                vec![b"AUTH", tenant.user.as_bytes(), tenant.secret().as_bytes()];
            match exchange(&mut s, std::slice::from_ref(&auth), "tenant AUTH").await {
                Ok(_) => {}
                // Not (or no longer) known upstream: create it, once.
                Err(e) if e.contains("WRONGPASS") => {
                    provision(up, tenant).await?;
                    exchange(&mut s, std::slice::from_ref(&auth), "tenant AUTH").await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(s)
    };
    match tokio::time::timeout(up.connect_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("connect {}: timed out", t.addr)),
    }
}

/// Creates (or resets) `tenant`'s upstream user with the admin
/// credentials; Valkey ≥ 9.1 also gets its `db=` rule.
pub async fn provision(up: &Settings, tenant: &Tenant) -> Result<(), String> {
    let Some((admin, password)) = &up.admin else {
        return Err(format!(
            "upstream user {} is unknown and no admin credentials are configured",
            tenant.user
        ));
    };
    let mut s = UpStream::connect(&up.target.addr, up.tls.as_ref()).await?;
    let auth: Vec<&[u8]> = vec![b"AUTH", admin.as_bytes(), password.as_bytes()];
    let info: Vec<&[u8]> = vec![b"INFO", b"server"];
    let replies = exchange(&mut s, &[auth, info], "admin AUTH").await?;
    let text = String::from_utf8_lossy(&replies[1]);
    let args = tenant.setuser(super::tenant::valkey_has_db_rule(&text));
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    exchange(&mut s, &[argv], "ACL SETUSER")
        .await
        .map_err(|e| e.replace(tenant.secret(), "***"))?;
    debug!(user = %tenant.user, "upstream tenant user provisioned");
    Ok(())
}

/// A dedicated connection: the client writes through `writer`; a task
/// relays every frame to its reply channel. Dropping it closes the socket.
pub struct Dedicated {
    pub writer: tokio::io::WriteHalf<UpStream>,
    pub db: usize,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Dedicated {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Dedicated {
    pub async fn open(
        up: &Settings,
        db: usize,
        resp3: bool,
        tenant: Option<&Tenant>,
        to: ReplyTx,
    ) -> Result<Dedicated, String> {
        let s = connect(up, db, resp3, tenant).await?;
        let (mut r, writer) = tokio::io::split(s);
        let reader = tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(16 * 1024);
            loop {
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(16 * 1024);
                }
                match r.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                loop {
                    match frame_len(&buf) {
                        Ok(Some(n)) => {
                            if to.send(Ok(buf.split_to(n).freeze())).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            let _ = to.send(Err(Lost));
                            return;
                        }
                    }
                }
            }
            let _ = to.send(Err(Lost));
        });
        Ok(Dedicated { writer, db, reader })
    }
}
