//! One client of the proxy.
//!
//! Requests are parsed and admitted exactly as by the server's connection
//! loop (`dispatch_with`: auth, ACL with `db=`, tenant boundary, arity,
//! quotas), then [`Upstream`] decides per command: answered here (AUTH,
//! HELLO, SELECT, CLIENT …), forwarded as RESP to the client's upstream
//! connection, queued (MULTI) and sent as one block at EXEC, or the client
//! moves to a dedicated upstream connection (WATCH, blocking commands,
//! SUBSCRIBE). The batch's output is then written in request order: local
//! replies from the batch's buffer, upstream replies as the upstream's
//! bytes.
//!
//! A batch holds requests for one upstream connection: a command that
//! changes the client's DB or protocol ends it, and so does one that moves
//! the client to a dedicated connection (which also waits for the replies
//! still owed by the shared one), so replies never overtake each other and
//! a request never reaches a connection in another DB.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::debug;

use super::tenant::Tenant;
use super::upstream::{Dedicated, Lost, ReplyRx, ReplyTx, Request, LOST};
use super::{Proxy, Settings};
use crate::commands::errors::Error;
use crate::commands::spec::flags;
use crate::commands::table::Command;
use crate::commands::{CmdResult, Ctx, Outcome};
use crate::protocol::encode_command as encode;
use crate::protocol::parse::Span;
use crate::protocol::{Protocol, ReplyBuf};
use crate::server::client::{Client, ClientAddr, Push};
use crate::server::connection::{recycle, Stream};
use crate::server::dispatch::{dispatch_with, resolve, Executor, Local};
use crate::server::Shared;

const READ_CHUNK: usize = 16 * 1024;

/// Serves one accepted client (the proxy's counterpart of the server's
/// connection handler: same registration, same per-DB client quota).
pub async fn handle<S: Stream>(
    srv: Arc<Shared>,
    proxy: Arc<Proxy>,
    stream: S,
    peer: ClientAddr,
    laddr: ClientAddr,
) {
    let (mut client, mut push_rx) =
        match crate::server::connection::open_client(&srv, peer, laddr, stream.fd()) {
            Ok(c) => c,
            Err(Some(reply)) => return crate::server::connection::refuse(stream, reply).await,
            Err(None) => return,
        };
    let id = client.id;
    let mut conn = Conn::new(&proxy.upstream, stream);
    if let Err(e) = conn.run(&srv, &proxy, &mut client, &mut push_rx).await {
        debug!(client = id, error = %e, "proxy connection closed");
    }
    // A dedicated upstream connection is closed, not pooled: its client
    // may have left in the middle of a block or a transaction.
    conn.dedicated = None;
    if client.authenticated {
        srv.tenancy.move_client(Some(client.db), None);
    }
    srv.clients.remove(id);
}

/// Where an admitted command goes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// Answered by the proxy (keyward's own handler).
    Local,
    /// Sent to the client's upstream connection.
    Forward,
    /// Needs a dedicated upstream connection (forwarded once there).
    Dedicate,
    /// EXEC: the queued transaction goes up as one block.
    Exec,
    Refuse(Error),
}

/// The route of `cmd`. Names, not flags, for the few commands the proxy
/// itself owns: their effect is on the proxy's connection state.
fn route(cmd: &Command, argv: &[&[u8]], client: &Client, dedicated: bool, up: &Settings) -> Route {
    // With per-tenant upstream users a script cannot leave the DB: the
    // upstream refuses SELECT and the rest to the tenant's user.
    let scripts_ok = up.allow_pinned_scripts || up.per_tenant_users();
    let full = cmd.fullname.as_str();
    let top = full.split('|').next().unwrap_or(full);
    match top {
        "auth" | "hello" if dedicated => Route::Refuse(Error::lit(
            "ERR keyward proxy: AUTH and HELLO are not supported while the connection holds WATCH, a blocking command or subscriptions",
        )),
        "auth" | "hello" | "quit" | "reset" | "command" | "acl" | "multi" | "select" | "discard" => {
            Route::Local
        }
        "ping" | "echo" | "unwatch" | "unsubscribe" | "punsubscribe" | "sunsubscribe" => {
            if dedicated {
                Route::Forward
            } else {
                Route::Local
            }
        }
        "client" => match full {
            "client|id" | "client|setname" | "client|getname" | "client|setinfo" | "client|info"
            | "client|list" | "client|kill" | "client|help" => Route::Local,
            _ => Route::Refuse(Error::from(format!(
                "ERR keyward proxy does not support '{full}' yet"
            ))),
        },
        "exec" => Route::Exec,
        // WATCH inside MULTI: the local handler answers Redis's error.
        "watch" if client.multi.is_some() => Route::Local,
        "watch" | "subscribe" | "psubscribe" | "ssubscribe" | "wait" | "waitaof" => {
            Route::Dedicate
        }
        "monitor" | "sync" | "psync" | "replconf" => Route::Refuse(Error::from(format!(
            "ERR keyward proxy does not support '{top}'"
        ))),
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
            if client.user.is_restricted() && !scripts_ok =>
        {
            Route::Refuse(Error::lit(
                "NOPERM keyward proxy: scripts are refused for DB-restricted users (a script can SELECT another DB upstream); configure [proxy] admin-password-env for per-tenant upstream users, or set allow-pinned-scripts = true to accept that risk",
            ))
        }
        "xread" | "xreadgroup" => {
            if argv.iter().any(|a| a.eq_ignore_ascii_case(b"block")) {
                Route::Dedicate
            } else {
                Route::Forward
            }
        }
        _ if cmd.spec.has(flags::BLOCKING) => Route::Dedicate,
        _ => Route::Forward,
    }
}

/// COPY, which a tenant's upstream user may not run (ACL rules cannot
/// restrict its `DB` argument, and a script could use it to write another
/// DB): the proxy has checked that argument against `db=` at admission, so
/// a client's own COPY goes as the base credentials, in a batch of its own.
fn as_base(argv: &[&[u8]]) -> bool {
    argv.first()
        .is_some_and(|c| c.eq_ignore_ascii_case(b"copy"))
}

/// A place in the batch's output where an upstream reply goes.
struct Slot {
    /// Offset in the batch's local output.
    pos: usize,
    /// Frames to drop before the one relayed (MULTI's +OK and the
    /// +QUEUED of a transaction block).
    skip: usize,
    /// INFO for a DB-restricted user: keyspace lines of other DBs removed.
    filter_info: bool,
    /// INFO that asked for the tenancy section (keyward's, made here).
    tenancy: bool,
    /// The reply is read and dropped (the proxy's own UNWATCH).
    discard: bool,
}

#[derive(Default)]
struct Batch {
    fwd: Vec<u8>,
    slots: Vec<Slot>,
    /// (DB, RESP3) of the batch's forwarded requests.
    key: Option<(usize, bool)>,
    /// The upstream user they go as (`None`: the base credentials).
    tenant: Option<Arc<Tenant>>,
    /// A tenant's COPY: sent as the base credentials (see [`as_base`]).
    base: bool,
    dedicated: bool,
    /// A command asked for a dedicated connection.
    dedicate: bool,
    /// RESET: the dedicated connection is closed after this batch.
    undedicate: bool,
}

/// The proxy's executor: admission already passed.
struct Upstream<'p> {
    up: &'p Settings,
    proxy: &'p Proxy,
    st: RefCell<Batch>,
}

impl Upstream<'_> {
    /// The batch's upstream connection is the first forwarded request's:
    /// (DB, RESP version, upstream user). Anything that changes one of
    /// them ends the batch (see `Conn::run`).
    fn bind(&self, st: &mut Batch, ctx: &Ctx<'_>, argv: &[&[u8]]) {
        if st.key.is_none() {
            st.key = Some((ctx.client.db, ctx.out.is_resp3()));
            st.base = !st.dedicated && as_base(argv);
            st.tenant = match st.base {
                true => None,
                false => self.proxy.tenant_for(&ctx.client.user),
            };
        }
    }

    fn forward(&self, ctx: &Ctx<'_>, argv: &[&[u8]], skip: usize) {
        let mut st = self.st.borrow_mut();
        self.bind(&mut st, ctx, argv);
        encode(&mut st.fwd, argv);
        let pos = ctx.out.len();
        st.slots.push(Slot {
            pos,
            skip,
            filter_info: false,
            tenancy: false,
            discard: false,
        });
    }

    /// EXEC; an aborted one (EXECABORT) also drops the WATCH held on a
    /// dedicated connection, as Redis's EXEC does.
    fn exec(&self, ctx: &mut Ctx<'_>) -> CmdResult {
        let r = self.exec_queued(ctx);
        if let Err(e) = &r {
            if self.st.borrow().dedicated && e.text().starts_with("EXECABORT") {
                self.forward(ctx, &[b"UNWATCH"], 0);
                if let Some(s) = self.st.borrow_mut().slots.last_mut() {
                    s.discard = true;
                }
            }
        }
        r
    }

    fn exec_queued(&self, ctx: &mut Ctx<'_>) -> CmdResult {
        let Some(multi) = ctx.client.multi.take() else {
            return Err(Error::lit("ERR EXEC without MULTI"));
        };
        if multi.failed {
            return Err(Error::lit(
                "EXECABORT Transaction discarded because of previous errors.",
            ));
        }
        let dedicated = self.st.borrow().dedicated;
        let mut args: Vec<&[u8]> = Vec::new();
        let mut denyoom = false;
        for q in &multi.queue {
            args.clear();
            args.extend(q.iter().map(|a| &a[..]));
            let Ok(cmd) = resolve(&args) else { continue };
            denyoom |= cmd.spec.has(flags::DENYOOM);
            let ok = match route(cmd, &args, ctx.client, dedicated, self.up) {
                Route::Forward => true,
                Route::Local => matches!(cmd.fullname.as_str(), "ping" | "echo"),
                // Inside MULTI a blocking command does not block.
                Route::Dedicate => cmd.spec.has(flags::BLOCKING),
                _ => false,
            };
            if !ok {
                return Err(Error::from(format!(
                    "EXECABORT Transaction discarded because of: ERR keyward proxy does not support '{}' inside MULTI",
                    cmd.fullname
                )));
            }
        }
        // As Redis: a transaction that may add data is refused whole at
        // a limit, never half-applied.
        if denyoom {
            if let Err(oom) = self.proxy.quota(ctx.srv, ctx.client.db) {
                return Err(Error::from(format!(
                    "EXECABORT Transaction discarded because of: {}",
                    oom.text()
                )));
            }
        }
        let mut st = self.st.borrow_mut();
        self.bind(&mut st, ctx, &[b"EXEC"]);
        encode(&mut st.fwd, &[b"MULTI"]);
        for q in &multi.queue {
            args.clear();
            args.extend(q.iter().map(|a| &a[..]));
            encode(&mut st.fwd, &args);
        }
        encode(&mut st.fwd, &[b"EXEC"]);
        let pos = ctx.out.len();
        st.slots.push(Slot {
            pos,
            skip: multi.queue.len() + 1,
            filter_info: false,
            tenancy: false,
            discard: false,
        });
        Ok(Outcome::Done)
    }
}

impl Executor for Upstream<'_> {
    fn execute(&self, ctx: &mut Ctx<'_>, cmd: &'static Command, argv: &[&[u8]]) -> CmdResult {
        let dedicated = self.st.borrow().dedicated;
        match route(cmd, argv, ctx.client, dedicated, self.up) {
            Route::Local => {
                let mark = ctx.out.len();
                let r = Local.execute(ctx, cmd, argv);
                if dedicated && r.is_ok() {
                    // The dedicated connection follows the client's state:
                    // SELECT (its DB checked by admission) goes up too, and
                    // DISCARD drops the WATCH held upstream. Their replies
                    // are the upstream's.
                    match cmd.fullname.as_str() {
                        "select" => {
                            ctx.out.truncate(mark);
                            self.forward(ctx, argv, 0);
                        }
                        "discard" => {
                            ctx.out.truncate(mark);
                            self.forward(ctx, &[b"UNWATCH"], 0);
                        }
                        // RESET leaves subscriptions, WATCH and the DB
                        // behind: closing the connection drops them all.
                        "reset" => self.st.borrow_mut().undedicate = true,
                        _ => {}
                    }
                }
                r
            }
            Route::Forward => {
                if cmd.spec.has(flags::DENYOOM) {
                    self.proxy.quota(ctx.srv, ctx.client.db)?;
                }
                self.forward(ctx, argv, 0);
                if cmd.fullname == "info" {
                    // No section named: Redis's default, which has ours.
                    let tenancy = argv.len() == 1
                        || argv[1..].iter().any(|a| {
                            ["default", "all", "everything", "tenancy"]
                                .iter()
                                .any(|n| a.eq_ignore_ascii_case(n.as_bytes()))
                        });
                    if let Some(s) = self.st.borrow_mut().slots.last_mut() {
                        s.filter_info = ctx.client.user.is_restricted() || tenancy;
                        s.tenancy = tenancy;
                    }
                }
                Ok(Outcome::Done)
            }
            Route::Dedicate => {
                if cmd.spec.has(flags::DENYOOM) {
                    self.proxy.quota(ctx.srv, ctx.client.db)?;
                }
                self.forward(ctx, argv, 0);
                if !dedicated {
                    self.st.borrow_mut().dedicate = true;
                }
                Ok(Outcome::Done)
            }
            Route::Exec => self.exec(ctx),
            Route::Refuse(e) => Err(e),
        }
    }
}

/// What waiting for a reply frame ended with.
enum Wait {
    Frame(Bytes),
    /// The client went away or was killed.
    Gone,
}

struct Conn<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    reply_tx: ReplyTx,
    reply_rx: ReplyRx,
    dedicated: Option<Dedicated>,
    /// The dedicated connection broke: errors, then the client is closed.
    lost: bool,
}

impl<S: Stream> Conn<S> {
    fn new(_up: &Settings, stream: S) -> Conn<S> {
        let (reply_tx, reply_rx) = mpsc::unbounded_channel();
        Conn {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: Vec::with_capacity(READ_CHUNK),
            reply_tx,
            reply_rx,
            dedicated: None,
            lost: false,
        }
    }

    async fn run(
        &mut self,
        srv: &Arc<Shared>,
        proxy: &Proxy,
        client: &mut Client,
        push_rx: &mut mpsc::UnboundedReceiver<Push>,
    ) -> std::io::Result<()> {
        let mut out = ReplyBuf::new(Protocol::Resp2);
        let mut spans: Vec<Span> = Vec::with_capacity(64);
        let mut cmds: Vec<(usize, usize, usize)> = Vec::with_capacity(16);
        let mut argv_store: Vec<&'static [u8]> = Vec::with_capacity(16);
        let mut need = 1usize;
        let mut pending = false;
        let info = client.info.clone();
        let mut fwd_store: Vec<u8> = Vec::with_capacity(READ_CHUNK);
        let mut slots_store: Vec<Slot> = Vec::with_capacity(16);
        let tenant_users = proxy.upstream.per_tenant_users();
        loop {
            if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
                self.rbuf
                    .reserve(READ_CHUNK.max(need.saturating_sub(self.rbuf.len())));
            }
            // Like Redis, `timeout` spares Pub/Sub (and blocked) clients.
            let idle = match self.dedicated {
                None => srv.hot.idle_timeout_s.load(Ordering::Relaxed),
                Some(_) => 0,
            };
            if !pending {
                tokio::select! {
                    biased;
                    push = push_rx.recv() => match push {
                        Some(Push::Data(msg)) => {
                            self.stream.write_all(&msg).await?;
                            continue;
                        }
                        Some(Push::Kill) | None => return Ok(()),
                        Some(_) => continue,
                    },
                    // Pub/Sub messages from the dedicated connection.
                    frame = self.reply_rx.recv() => match frame {
                        Some(Ok(f)) => {
                            self.stream.write_all(&f).await?;
                            continue;
                        }
                        Some(Err(Lost)) | None => {
                            self.stream.write_all(LOST).await?;
                            return Ok(());
                        }
                    },
                    r = self.stream.read_buf(&mut self.rbuf) => {
                        let n = r?;
                        if n == 0 {
                            return Ok(());
                        }
                        srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    _ = tokio::time::sleep(Duration::from_secs(idle)), if idle > 0 => {
                        return Ok(());
                    }
                }
            }
            pending = false;
            let limit = srv.hot.query_buffer_limit.load(Ordering::Relaxed) as usize;
            if self.rbuf.len() > limit {
                return Ok(());
            }
            if self.rbuf.len() < need {
                continue;
            }
            let parsed = crate::server::connection::parse_batch(
                srv,
                client.authenticated,
                &mut self.rbuf,
                &mut spans,
                &mut cmds,
            );
            let mut pos = parsed.pos;
            let mut proto_err = parsed.error;
            need = parsed.need;
            if parsed.cut {
                pending = true;
            }
            let mut close = false;
            let mut delay = None;
            let exec = Upstream {
                up: &proxy.upstream,
                proxy,
                st: RefCell::new(Batch {
                    fwd: std::mem::take(&mut fwd_store),
                    slots: std::mem::take(&mut slots_store),
                    key: None,
                    tenant: None,
                    base: false,
                    dedicated: self.dedicated.is_some(),
                    dedicate: false,
                    undedicate: false,
                }),
            };
            if !cmds.is_empty() {
                if let Some(d) = srv.tenancy.throttle_delay(client.db) {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = info.kill_notify.notified() => return Ok(()),
                    }
                }
                let buf: &[u8] = &self.rbuf[..];
                let mut argv = recycle(std::mem::take(&mut argv_store));
                let batch_now;
                {
                    let mut ctx = Ctx::new(srv, client, &mut out);
                    batch_now = ctx.now;
                    let mut start = 0;
                    for &(a, b, end) in cmds.iter() {
                        argv.clear();
                        argv.extend(spans[a..b].iter().map(|&(s, e)| &buf[s..e]));
                        // Moving to a dedicated connection waits for the
                        // replies the shared one still owes: cut here.
                        if !exec.st.borrow().slots.is_empty() && !exec.st.borrow().dedicated {
                            if let Ok(cmd) = resolve(&argv) {
                                // So does a tenant's COPY, which goes as
                                // another upstream user, and what follows it.
                                let other_user = tenant_users
                                    && ctx.client.user.is_restricted()
                                    && ctx.client.multi.is_none()
                                    && as_base(&argv) != exec.st.borrow().base;
                                if other_user
                                    || route(cmd, &argv, ctx.client, false, &proxy.upstream)
                                        == Route::Dedicate
                                {
                                    pos = start;
                                    pending = true;
                                    need = 1;
                                    proto_err = None;
                                    break;
                                }
                            }
                        }
                        let before = (
                            ctx.client.db,
                            ctx.out.is_resp3(),
                            Arc::as_ptr(&ctx.client.user),
                        );
                        let outcome = dispatch_with(&mut ctx, &argv, &exec);
                        start = end;
                        match outcome {
                            Outcome::Close => {
                                close = true;
                                pos = end;
                                break;
                            }
                            Outcome::Delay(d) => delay = Some(d),
                            // Not run: another client's script has the
                            // turn, or CLIENT PAUSE. Neither happens here
                            // (scripts and CLIENT PAUSE go upstream or are
                            // refused); answered rather than left hanging.
                            Outcome::Wait | Outcome::Paused => ctx
                                .out
                                .error(b"ERR keyward proxy: the command could not run, retry"),
                            _ => {}
                        }
                        let changed = before
                            != (
                                ctx.client.db,
                                ctx.out.is_resp3(),
                                Arc::as_ptr(&ctx.client.user),
                            );
                        let st = exec.st.borrow();
                        if changed || st.dedicate || st.undedicate {
                            drop(st);
                            // The rest waits for this batch's replies.
                            pos = end;
                            pending = pos < buf.len();
                            need = 1;
                            proto_err = None;
                            break;
                        }
                    }
                }
                argv_store = recycle(argv);
                cmds.clear();
                spans.clear();
                info.last_interaction_ms.store(batch_now, Ordering::Relaxed);
                info.db.store(client.db, Ordering::Relaxed);
            }
            self.rbuf.advance(pos);
            need = need.saturating_sub(pos).max(1);
            if let Some(e) = &proto_err {
                out.error(format!("ERR {e}").as_bytes());
            }
            if let Some(d) = delay {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = info.kill_notify.notified() => return Ok(()),
                }
            }
            let mut st = exec.st.into_inner();
            let go_on = self
                .flush(srv, proxy, client, &mut st, &out.buf, push_rx)
                .await?;
            if st.undedicate {
                self.dedicated = None;
            }
            out.buf.clear();
            st.fwd.clear();
            st.slots.clear();
            fwd_store = st.fwd;
            slots_store = st.slots;
            if !go_on || self.lost || close || proto_err.is_some() {
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
            if !self.rbuf.is_empty() {
                pending = true;
            }
        }
    }

    /// Sends the batch's forwarded requests, then writes its output in
    /// request order. False when the client went away meanwhile.
    async fn flush(
        &mut self,
        srv: &Shared,
        proxy: &Proxy,
        client: &Client,
        st: &mut Batch,
        local: &[u8],
        push_rx: &mut mpsc::UnboundedReceiver<Push>,
    ) -> std::io::Result<bool> {
        // An error every slot gets instead of an upstream reply.
        let mut failed: Option<Bytes> = None;
        if !st.fwd.is_empty() {
            let (db, resp3) = st.key.unwrap_or((client.db, false));
            if st.dedicate && self.dedicated.is_none() {
                let tenant = st.tenant.as_deref();
                match Dedicated::open(&proxy.upstream, db, resp3, tenant, self.reply_tx.clone())
                    .await
                {
                    Ok(d) => self.dedicated = Some(d),
                    Err(e) => {
                        failed = Some(Bytes::from(
                            format!("-ERR upstream unavailable: {e}\r\n").into_bytes(),
                        ))
                    }
                }
            }
            if failed.is_none() {
                if let Some(d) = &mut self.dedicated {
                    if super::upstream::write_all(&mut d.writer, &st.fwd)
                        .await
                        .is_err()
                    {
                        self.lost = true;
                        failed = Some(Bytes::from_static(LOST));
                    }
                } else {
                    let frames = st.slots.iter().map(|s| s.skip + 1).sum();
                    let req = Request {
                        bytes: std::mem::take(&mut st.fwd),
                        frames,
                        to: self.reply_tx.clone(),
                    };
                    if !proxy
                        .shared_conn(db, st.tenant.as_ref(), resp3, client.id)
                        .send(req)
                    {
                        failed = Some(Bytes::from_static(LOST));
                    }
                }
            }
        }
        self.wbuf.clear();
        let mut last = 0;
        for slot in &st.slots {
            self.wbuf.extend_from_slice(&local[last..slot.pos]);
            last = slot.pos;
            for i in 0..=slot.skip {
                let frame = match &failed {
                    Some(f) => f.clone(),
                    None => match self.next_frame(srv, client, push_rx).await? {
                        Wait::Frame(f) => f,
                        Wait::Gone => return Ok(false),
                    },
                };
                if self.lost {
                    // Nothing more comes from a broken dedicated connection.
                    failed = Some(Bytes::from_static(LOST));
                }
                if i == slot.skip && !slot.discard {
                    if slot.filter_info {
                        let extra = slot
                            .tenancy
                            .then(|| proxy.tenancy_section(srv, &client.user));
                        filter_info(&frame, &client.user, extra.as_deref(), &mut self.wbuf);
                    } else {
                        self.wbuf.extend_from_slice(&frame);
                    }
                }
            }
            if self.wbuf.len() >= 64 * 1024 {
                self.write_out(srv, client).await?;
            }
        }
        self.wbuf.extend_from_slice(&local[last..]);
        self.write_out(srv, client).await?;
        Ok(true)
    }

    async fn write_out(&mut self, srv: &Shared, client: &Client) -> std::io::Result<()> {
        if self.wbuf.is_empty() || client.info.killed.load(Ordering::Acquire) {
            self.wbuf.clear();
            return Ok(());
        }
        self.stream.write_all(&self.wbuf).await?;
        srv.stats
            .net_output_bytes
            .fetch_add(self.wbuf.len() as u64, Ordering::Relaxed);
        self.wbuf.clear();
        if self.wbuf.capacity() > 1024 * 1024 {
            self.wbuf = Vec::with_capacity(READ_CHUNK);
        }
        Ok(())
    }

    /// The next reply frame for this client. Input that arrives meanwhile
    /// is kept for the next batch; a client that closes (say, during
    /// `BLPOP q 0`) ends the wait, and with it its dedicated connection.
    async fn next_frame(
        &mut self,
        srv: &Shared,
        client: &Client,
        push_rx: &mut mpsc::UnboundedReceiver<Push>,
    ) -> std::io::Result<Wait> {
        loop {
            if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                self.rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                f = self.reply_rx.recv() => return Ok(match f {
                    Some(Ok(f)) => Wait::Frame(f),
                    Some(Err(Lost)) | None => {
                        self.lost = true;
                        Wait::Frame(Bytes::from_static(LOST))
                    }
                }),
                push = push_rx.recv() => match push {
                    Some(Push::Kill) | None => return Ok(Wait::Gone),
                    _ => {}
                },
                r = self.stream.read_buf(&mut self.rbuf) => {
                    let limit = srv.hot.query_buffer_limit.load(Ordering::Relaxed) as usize;
                    if r? == 0 || self.rbuf.len() > limit {
                        debug!(client = client.id, "client left while waiting for the upstream");
                        return Ok(Wait::Gone);
                    }
                }
            }
        }
    }
}

/// Appends an INFO reply without the keyspace lines (`db<N>:…`) of DBs
/// `user` does not see, and with the `extra` section (keyward's tenancy)
/// at its end; anything but a bulk or verbatim string as it is.
fn filter_info(frame: &[u8], user: &crate::acl::User, extra: Option<&str>, out: &mut Vec<u8>) {
    let parsed = (|| {
        let kind = *frame.first()?;
        if kind != b'$' && kind != b'=' {
            return None;
        }
        let nl = frame.windows(2).position(|w| w == b"\r\n")?;
        let body = frame.get(nl + 2..frame.len().checked_sub(2)?)?;
        let (prefix, text) = if kind == b'=' {
            (body.get(..4)?, body.get(4..)?)
        } else {
            (&b""[..], body)
        };
        Some((kind, prefix, text))
    })();
    let Some((kind, prefix, text)) = parsed else {
        out.extend_from_slice(frame);
        return;
    };
    let mut kept: Vec<u8> = Vec::with_capacity(text.len());
    for line in text.split_inclusive(|&c| c == b'\n') {
        let hidden = line
            .strip_prefix(b"db")
            .and_then(|r| {
                let digits = r.iter().take_while(|c| c.is_ascii_digit()).count();
                (digits > 0 && r.get(digits) == Some(&b':'))
                    .then(|| {
                        std::str::from_utf8(&r[..digits])
                            .ok()?
                            .parse::<usize>()
                            .ok()
                    })
                    .flatten()
            })
            .is_some_and(|db| !user.sees_db(db));
        if !hidden {
            kept.extend_from_slice(line);
        }
    }
    if let Some(extra) = extra {
        if !kept.is_empty() {
            kept.extend_from_slice(b"\r\n");
        }
        kept.extend_from_slice(extra.as_bytes());
    }
    out.push(kind);
    out.extend_from_slice((prefix.len() + kept.len()).to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(prefix);
    out.extend_from_slice(&kept);
    out.extend_from_slice(b"\r\n");
}
