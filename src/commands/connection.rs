//! Connection group: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO, CLIENT.

use crate::commands::Outcome;
use std::sync::atomic::Ordering;

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group, Redact, Tenant};
use super::{Ctx, REGISTRY};
use crate::protocol::Protocol;
use crate::server::client::{ClientInfo, Push, ReplyMode};
use crate::server::tracking::bits as track;

const G: Group = Group::Connection;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "ping",
        -1,
        FAST | NO_DB_LOCK | PUBSUB_CONTEXT | MISCONF,
        G,
        ping,
    )
    .doc("Returns the server's liveliness response.", "1.0.0", "O(1)"),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST | NO_DB_LOCK, G, echo).doc(
        "Returns the given string.",
        "1.0.0",
        "O(1)",
    ),
    CommandSpec::new(
        "quit",
        -1,
        NOSCRIPT
            | LOADING
            | STALE
            | ALLOW_BUSY
            | NO_AUTH
            | FAST
            | NO_DB_LOCK
            | TX_CONTROL
            | PUBSUB_CONTEXT,
        G,
        quit,
    )
    .doc("Closes the connection.", "1.0.0", "O(1)"),
    CommandSpec::new(
        "reset",
        1,
        NOSCRIPT
            | LOADING
            | STALE
            | NO_AUTH
            | ALLOW_BUSY
            | FAST
            | NO_DB_LOCK
            | TX_CONTROL
            | PUBSUB_CONTEXT,
        G,
        reset,
    )
    .doc("Resets the connection.", "6.2.0", "O(1)"),
    CommandSpec::new("select", 2, LOADING | STALE | FAST | NO_DB_LOCK, G, select)
        .dbs(&[1])
        .doc("Changes the selected database.", "1.0.0", "O(1)"),
    CommandSpec::new(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | NO_DB_LOCK,
        G,
        auth,
    )
    .redact(Redact::From(1))
    .doc(
        "Authenticates the connection.",
        "1.0.0",
        "O(N) where N is the number of passwords defined for the user",
    ),
    CommandSpec::new(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | NO_DB_LOCK,
        G,
        hello,
    )
    .redact(Redact::Find(hello_secrets))
    .doc("Handshakes with the Redis server.", "6.0.0", "O(1)"),
    CommandSpec::container("client", G, CLIENT_SUBS).doc(
        "A container for client connection commands.",
        "2.4.0",
        "Depends on subcommand.",
    ),
];

const CS: u32 = NOSCRIPT | LOADING | STALE | NO_DB_LOCK;

static CLIENT_SUBS: &[CommandSpec] = &[
    CommandSpec::new("id", 2, CS, G, client_id).doc(
        "Returns the unique client ID of the connection.",
        "5.0.0",
        "O(1)",
    ),
    CommandSpec::new("setname", 3, CS, G, client_setname).doc(
        "Sets the connection name.",
        "2.6.9",
        "O(1)",
    ),
    CommandSpec::new("getname", 2, CS, G, client_getname).doc(
        "Returns the name of the connection.",
        "2.6.9",
        "O(1)",
    ),
    CommandSpec::new("list", -2, ADMIN | CS, G, client_list)
        .tenant(Tenant::Own)
        .doc(
            "Lists open connections.",
            "2.4.0",
            "O(N) where N is the number of client connections",
        ),
    CommandSpec::new("info", 2, CS, G, client_info).doc(
        "Returns information about the connection.",
        "6.2.0",
        "O(1)",
    ),
    CommandSpec::new("kill", -3, ADMIN | CS, G, client_kill)
        .tenant(Tenant::Own)
        .doc(
            "Terminates open connections.",
            "2.4.0",
            "O(N) where N is the number of client connections",
        ),
    CommandSpec::new("setinfo", 4, CS, G, client_setinfo).doc(
        "Sets information specific to the client or connection.",
        "7.2.0",
        "O(1)",
    ),
    // Acts on the caller's own connection only.
    CommandSpec::new("no-evict", 3, ADMIN | CS, G, client_no_evict)
        .tenant(Tenant::Db)
        .doc(
            "Sets the client eviction mode of the connection.",
            "7.0.0",
            "O(1)",
        ),
    // Tenant::Server (admin's default): a pause stops every tenant.
    CommandSpec::new("pause", -3, ADMIN | CS, G, client_pause).doc(
        "Suspends commands processing.",
        "3.0.0",
        "O(1)",
    ),
    CommandSpec::new("unpause", 2, ADMIN | CS, G, client_unpause).doc(
        "Resumes processing commands from paused clients.",
        "6.2.0",
        "O(N) Where N is the number of paused clients",
    ),
    CommandSpec::new(
        "no-touch",
        3,
        NOSCRIPT | LOADING | STALE | NO_DB_LOCK,
        G,
        client_no_touch,
    )
    .doc(
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        "7.2.0",
        "O(1)",
    ),
    CommandSpec::new("reply", 3, CS, G, client_reply).doc(
        "Instructs the server whether to reply to commands.",
        "3.2.0",
        "O(1)",
    ),
    CommandSpec::new("unblock", -3, ADMIN | CS, G, client_unblock)
        .tenant(Tenant::Own)
        .doc(
            "Unblocks a client blocked by a blocking command from a different connection.",
            "5.0.0",
            "O(log N) where N is the number of client connections",
        ),
    CommandSpec::new("caching", 3, CS, G, client_caching).doc(
        "Instructs the server whether to track the keys in the next request.",
        "6.0.0",
        "O(1)",
    ),
    CommandSpec::new("getredir", 2, CS, G, client_getredir).doc(
        "Returns the client ID to which the connection's tracking notifications are redirected.",
        "6.0.0",
        "O(1)",
    ),
    CommandSpec::new("tracking", -3, CS, G, client_tracking).doc(
        "Controls server-assisted client-side caching for the connection.",
        "6.0.0",
        "O(1). Some options may introduce additional complexity.",
    ),
    CommandSpec::new("trackinginfo", 2, CS, G, client_trackinginfo).doc(
        "Returns information about server-assisted client-side caching for the connection.",
        "6.2.0",
        "O(1)",
    ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, client_help).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
    ),
];

fn ping(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if argv.len() <= 2 && ctx.client.subs.total() > 0 && !ctx.out.is_resp3() {
        // In RESP2 subscribed mode a reply must look like a message.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(argv.get(1).copied().unwrap_or(b""));
        return Ok(Outcome::Done);
    }
    match argv.len() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(argv[1]),
        _ => return Err(errors::wrong_arity("ping")),
    }
    Ok(Outcome::Done)
}

fn echo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(argv[1]);
    Ok(Outcome::Done)
}

fn quit(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.ok();
    Ok(Outcome::Close)
}

fn reset(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    // Back to the default user, in its first DB if it is pinned: refused
    // up front, with nothing reset, when that DB is at its max-clients.
    let db = ctx.srv.acl.default_user().first_db().unwrap_or(0);
    let counted = ctx.client.authenticated.then_some(ctx.client.db);
    let stays_counted = ctx.srv.acl.default_is_open().then_some(db);
    if !ctx.srv.tenancy.move_client(counted, stays_counted) {
        return Err(errors::DB_MAX_CLIENTS);
    }
    ctx.client.multi = None;
    super::pubsub::unsubscribe_all(ctx.srv, ctx.client);
    super::transactions::unwatch_all(ctx.srv, ctx.client);
    ctx.srv.tracking.disable(ctx.srv, &ctx.client.info);
    let c = &mut *ctx.client;
    c.caching = Default::default();
    c.reply_mode = ReplyMode::On;
    c.user = ctx.srv.acl.default_user();
    c.db = db;
    c.info.db.store(c.db, Ordering::Relaxed);
    c.authenticated = stays_counted.is_some();
    *c.info.user.lock() = c.user.name.clone();
    c.info.no_evict.store(false, Ordering::Relaxed);
    set_protocol(ctx, Protocol::Resp2);
    ctx.out.simple(b"RESET");
    Ok(Outcome::Done)
}

fn set_protocol(ctx: &mut Ctx<'_>, p: Protocol) {
    ctx.out.proto = p;
    ctx.client
        .info
        .resp
        .store(if p == Protocol::Resp3 { 3 } else { 2 }, Ordering::Relaxed);
}

fn select(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = args::int(argv[1])?;
    if id < 0 || id as usize >= ctx.srv.databases() {
        return Err(errors::DB_OUT_OF_RANGE);
    }
    let counted = ctx.client.authenticated.then_some(ctx.client.db);
    if !ctx.srv.tenancy.move_client(counted, Some(id as usize)) {
        return Err(errors::DB_MAX_CLIENTS);
    }
    ctx.client.db = id as usize;
    ctx.client.info.db.store(id as usize, Ordering::Relaxed);
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// Authenticates the client as `user`. A user whose rules restrict DBs
/// lands in their first allowed DB at once, so a client that never sends
/// SELECT still works in its own DB (Valkey would leave it in DB 0).
/// A wrong password is `WRONGPASS`, or [`Outcome::Refused`] when
/// `auth-fail-delay` holds its reply back.
fn login(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> CmdResult {
    match ctx.srv.acl.authenticate(user, password) {
        Some(u) => {
            let pinned = u.first_db().filter(|&d| d < ctx.srv.databases());
            let db = pinned.unwrap_or(ctx.client.db);
            let counted = ctx.client.authenticated.then_some(ctx.client.db);
            // Refused like a SELECT into a full DB; the client keeps its
            // previous identity.
            if !ctx.srv.tenancy.move_client(counted, Some(db)) {
                return Err(errors::DB_MAX_CLIENTS);
            }
            *ctx.client.info.user.lock() = u.name.clone();
            ctx.client.db = db;
            ctx.client.info.db.store(db, Ordering::Relaxed);
            ctx.client.user = u;
            ctx.client.authenticated = true;
            ctx.srv
                .acl
                .failures
                .lock()
                .succeeded(ctx.client.info.addr.ip(), user);
            Ok(Outcome::Done)
        }
        None => {
            let name = String::from_utf8_lossy(user).into_owned();
            let delay_ms = ctx.srv.config.read().auth_fail_delay;
            let known = ctx.srv.acl.get(user).is_some();
            let delay = ctx.srv.acl.failures.lock().failed(
                known.then_some(name.as_str()),
                user,
                ctx.client.info.addr.ip(),
                ctx.now,
                delay_ms,
            );
            if let Some(m) = &ctx.srv.metrics {
                m.auth_failures.fetch_add(1, Ordering::Relaxed);
                if delay.is_some() {
                    m.auth_delayed.fetch_add(1, Ordering::Relaxed);
                }
                if known {
                    m.users.auth_failed(&name);
                }
            }
            super::acl::log_denial(ctx, "auth", "AUTH".into(), name);
            match delay {
                Some(d) => Ok(Outcome::Refused(Box::new((errors::WRONGPASS, d)))),
                None => Err(errors::WRONGPASS),
            }
        }
    }
}

fn auth(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let outcome = match argv.len() {
        2 => {
            if ctx.srv.acl.default_user().nopass {
                return Err(errors::AUTH_NOT_CONFIGURED);
            }
            login(ctx, b"default", argv[1])?
        }
        3 => login(ctx, argv[1], argv[2])?,
        _ => return Err(errors::SYNTAX),
    };
    if outcome != Outcome::Done {
        return Ok(outcome);
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// HELLO's secrets: the user name and password after each AUTH option (as
/// Redis's helloCommand redacts them), found by the walk `hello` parses.
fn hello_secrets(argv: &[&[u8]]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(argv[i], "auth") && more >= 2 {
            found.extend([i + 1, i + 2]);
            i += 3;
        } else if is(argv[i], "setname") && more >= 1 {
            i += 2;
        } else {
            break;
        }
    }
    found
}

fn hello(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut ver = None;
    let mut i = 1;
    if argv.len() >= 2 {
        let v = args::parse_i64_or(
            argv[1],
            "ERR Protocol version is not an integer or out of range",
        )?;
        if !(2..=3).contains(&v) {
            return Err(errors::NOPROTO);
        }
        ver = Some(v);
        i = 2;
    }
    let mut auth_pair = None;
    let mut name = None;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(argv[i], "auth") && more >= 2 {
            auth_pair = Some((argv[i + 1], argv[i + 2]));
            i += 3;
        } else if is(argv[i], "setname") && more >= 1 {
            validate_name(argv[i + 1], "Client names")?;
            name = Some(argv[i + 1]);
            i += 2;
        } else {
            return Err(Error::from(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(argv[i])
            )));
        }
    }
    if let Some((u, p)) = auth_pair {
        let outcome = login(ctx, u, p)?;
        if outcome != Outcome::Done {
            return Ok(outcome);
        }
    }
    if !ctx.client.authenticated {
        return Err(Error::lit("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        *ctx.client.info.name.lock() = if n.is_empty() { None } else { Some(n.to_vec()) };
    }
    if let Some(v) = ver {
        set_protocol(
            ctx,
            if v == 3 {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            },
        );
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::server::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.is_resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(Outcome::Done)
}

/// Redis's `validateClientName`: printable ASCII without spaces.
fn validate_name(name: &[u8], what: &str) -> Result<(), Error> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Error::from(format!(
            "ERR {what} cannot contain spaces, newlines or special characters."
        )));
    }
    Ok(())
}

fn client_id(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(Outcome::Done)
}

fn client_setname(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    validate_name(argv[2], "Client names")?;
    *ctx.client.info.name.lock() = if argv[2].is_empty() {
        None
    } else {
        Some(argv[2].to_vec())
    };
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn client_getname(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    match ctx.client.info.name.lock().as_deref() {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    Ok(Outcome::Done)
}

/// One CLIENT LIST / CLIENT INFO line (without the trailing newline).
pub fn client_line(ctx: &Ctx<'_>, c: &ClientInfo) -> String {
    let now = ctx.now;
    let opt = |m: &parking_lot::Mutex<Option<Vec<u8>>>| {
        m.lock()
            .as_deref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let cmd = match c.last_cmd.load(Ordering::Relaxed) {
        u16::MAX => "NULL".to_string(),
        id => REGISTRY.get(id).fullname.clone(),
    };
    // In Redis's order (getClientInfoString).
    let mut fl = String::new();
    if c.monitor.load(Ordering::Relaxed) {
        fl.push('O');
    }
    if c.is_pubsub() {
        fl.push('P');
    }
    if c.blocked_db.load(Ordering::Relaxed) >= 0
        || c.awaiting.load(Ordering::Relaxed)
        || c.postponed.load(Ordering::Relaxed)
    {
        fl.push('b');
    }
    let tracking = c.tracking.load(Ordering::Relaxed);
    for (bit, f) in [
        (track::ON, 't'),
        (track::BROKEN_REDIR, 'R'),
        (track::BCAST, 'B'),
    ] {
        if tracking & bit != 0 {
            fl.push(f);
        }
    }
    if c.addr.is_unix() {
        fl.push('U');
    }
    if c.no_evict.load(Ordering::Relaxed) {
        fl.push('e');
    }
    if c.no_touch.load(Ordering::Relaxed) {
        fl.push('T');
    }
    let redir = if tracking & track::ON != 0 {
        c.redirect.load(Ordering::Relaxed) as i64
    } else {
        -1
    };
    if fl.is_empty() {
        fl.push('N');
    }
    let qbuf = c.qbuf.load(Ordering::Relaxed);
    // The read buffer as allocated now: 0 for an idle client, whose
    // buffers the cron freed (Redis shows its own resized buffer).
    let rbs = c.rbs.load(Ordering::Relaxed);
    // Output waiting for the peer (pushes, a stuck write's remainder).
    let omem = c.output.queued();
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        opt(&c.name),
        (now - c.created_ms).max(0) / 1000,
        (now - c.last_interaction_ms.load(Ordering::Relaxed)).max(0) / 1000,
        fl,
        c.db.load(Ordering::Relaxed),
        c.sub_counts[0].load(Ordering::Relaxed),
        c.sub_counts[1].load(Ordering::Relaxed),
        c.sub_counts[2].load(Ordering::Relaxed),
        qbuf,
        rbs.saturating_sub(qbuf as usize),
        rbs,
        omem,
        c.memory(),
        cmd,
        c.user.lock(),
        redir,
        c.resp.load(Ordering::Relaxed),
        opt(&c.lib_name),
        opt(&c.lib_ver),
    )
}

fn client_list(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < argv.len() {
        if is(argv[i], "type") && i + 1 < argv.len() {
            let t = argv[i + 1];
            if is(t, "normal")
                || is(t, "pubsub")
                || is(t, "master")
                || is(t, "replica")
                || is(t, "slave")
            {
                // Every keyward client is a normal one for now.
                if !is(t, "normal") {
                    ids = Some(Vec::new());
                }
            } else {
                return Err(Error::from(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(t)
                )));
            }
            i += 2;
        } else if is(argv[i], "id") && i + 1 < argv.len() {
            let mut v = Vec::new();
            for a in &argv[i + 1..] {
                match crate::protocol::parse::parse_i64(a) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return Err(Error::lit("ERR Invalid client ID")),
                }
            }
            ids = Some(v);
            i = argv.len();
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let mut text = String::new();
    for c in ctx.srv.clients.snapshot() {
        if ids.as_ref().is_some_and(|v| !v.contains(&c.id)) || !own_client(ctx, &c) {
            continue;
        }
        text.push_str(&client_line(ctx, &c));
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(Outcome::Done)
}

fn client_info(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let mut line = client_line(ctx, &ctx.client.info);
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
    Ok(Outcome::Done)
}

/// Whether the caller may see or act on client `c` (CLIENT LIST, KILL,
/// UNBLOCK): any client for an unrestricted user; for a DB-restricted one
/// only its own user's clients in its own DBs (the tenant boundary: other
/// tenants' names and addresses are none of its business, and BullMQ's
/// getWorkers, which parses CLIENT LIST, needs only its own).
fn own_client(ctx: &Ctx<'_>, c: &ClientInfo) -> bool {
    let me = &ctx.client.user;
    !me.is_restricted() || (*c.user.lock() == me.name && me.sees_db(c.db.load(Ordering::Relaxed)))
}

fn client_kill(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut clients = ctx.srv.clients.snapshot();
    clients.retain(|c| own_client(ctx, c));
    if argv.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = String::from_utf8_lossy(argv[2]);
        let target = clients.iter().find(|c| c.addr.to_string() == addr);
        return match target {
            // Itself: +OK, then closed after the batch's replies (Redis's
            // CLIENT_CLOSE_AFTER_REPLY), not killed before they go out.
            Some(c) if c.id == ctx.client.id => {
                ctx.out.ok();
                Ok(Outcome::Close)
            }
            Some(c) => {
                c.kill();
                ctx.out.ok();
                Ok(Outcome::Done)
            }
            None => Err(Error::lit("ERR No such client")),
        };
    }
    if argv.len() % 2 != 0 {
        return Err(errors::SYNTAX);
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut user = None;
    let mut skipme = true;
    let mut type_ok = true;
    for pair in argv[2..].chunks(2) {
        let (k, v) = (pair[0], pair[1]);
        if is(k, "id") {
            match crate::protocol::parse::parse_i64(v) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Err(Error::lit("ERR client-id should be greater than 0")),
            }
        } else if is(k, "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "user") {
            user = Some(String::from_utf8_lossy(v).into_owned());
        } else if is(k, "skipme") {
            skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(errors::SYNTAX);
            };
        } else if is(k, "type") {
            if is(v, "normal") {
            } else if is(v, "pubsub") || is(v, "master") || is(v, "replica") || is(v, "slave") {
                type_ok = false;
            } else {
                return Err(Error::from(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(v)
                )));
            }
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let mut killed = 0;
    let mut outcome = Outcome::Done;
    for c in clients {
        if !type_ok
            || id.is_some_and(|i| i != c.id)
            || addr.as_ref().is_some_and(|a| *a != c.addr.to_string())
            || laddr.as_ref().is_some_and(|a| *a != c.laddr.to_string())
            || user.as_ref().is_some_and(|u| *u != *c.user.lock())
            || (skipme && c.id == ctx.client.id)
        {
            continue;
        }
        if c.id == ctx.client.id {
            outcome = Outcome::Close;
        } else {
            c.kill();
        }
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(outcome)
}

fn client_setinfo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (slot, what) = if is(argv[2], "lib-name") {
        (&ctx.client.info.lib_name, "lib-name")
    } else if is(argv[2], "lib-ver") {
        (&ctx.client.info.lib_ver, "lib-ver")
    } else {
        return Err(Error::from(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(argv[2])
        )));
    };
    validate_name(argv[3], what)?;
    *slot.lock() = if argv[3].is_empty() {
        None
    } else {
        Some(argv[3].to_vec())
    };
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn client_no_evict(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let on = super::args::on_off(argv[2])?;
    ctx.client.info.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// CLIENT PAUSE timeout [WRITE|ALL]: Redis checks the mode, then the
/// timeout (milliseconds, `getTimeoutFromObjectOrReply`'s errors).
fn client_pause(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    use crate::server::pause::mode;
    if argv.len() > 4 {
        return Err(errors::subcommand_syntax(argv[0], argv[1]));
    }
    let m = match argv.get(3) {
        None => mode::ALL,
        Some(a) if is(a, "write") => mode::WRITE,
        Some(a) if is(a, "all") => mode::ALL,
        Some(_) => return Err(Error::lit("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let ms =
        crate::protocol::parse::parse_i64(argv[2]).ok_or(super::replication::TIMEOUT_NOT_INT)?;
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    if ms > i64::MAX - ctx.now {
        return Err(super::replication::TIMEOUT_OUT_OF_RANGE);
    }
    ctx.srv.pause.pause(m, ctx.now + ms, ctx.now);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn client_unpause(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.srv.pause.unpause();
    ctx.out.ok();
    Ok(Outcome::Done)
}

/// CLIENT NO-TOUCH ON|OFF: while on, the client's commands (TOUCH aside)
/// leave keys' LRU/LFU alone.
fn client_no_touch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let on = super::args::on_off(argv[2])?;
    ctx.client.no_touch = on;
    ctx.client.info.no_touch.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn client_reply(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if is(argv[2], "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if is(argv[2], "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(argv[2], "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    } else {
        return Err(errors::SYNTAX);
    }
    Ok(Outcome::Done)
}

fn client_unblock(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = args::int(argv[2])?;
    let error = match argv.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => {
            return Err(Error::lit(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    if argv.len() > 4 {
        return Err(errors::SYNTAX);
    }
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.srv.clients.get(id))
        .filter(|c| own_client(ctx, c));
    let db = target
        .as_ref()
        .map_or(-1, |c| c.blocked_db.load(Ordering::Relaxed));
    let mut unblocked = false;
    if let Some(c) = target
        .as_ref()
        .filter(|c| c.awaiting.swap(false, Ordering::AcqRel))
    {
        // In WAIT or WAITAOF: its connection writes the reply.
        unblocked = c.push_tx.send(Push::EndWait { error }).is_ok();
    } else if let (Some(c), Ok(db)) = (target, usize::try_from(db)) {
        if let Some(w) = ctx.srv.keyspace.lock(db).blocking.remove(c.id) {
            let reply = if error {
                let mut r = crate::protocol::ReplyBuf::new(w.proto);
                r.error(errors::UNBLOCKED.text().as_bytes());
                r.buf
            } else {
                w.timeout_reply
            };
            let _ = w.tx.send(Push::Unblocked(reply));
            unblocked = true;
        }
    }
    ctx.out.int(i64::from(unblocked));
    Ok(Outcome::Done)
}

fn client_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let lines: &[&str] = &[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, USER, SKIPME, TYPE.",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE, ID.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.status_lines(lines);
    Ok(Outcome::Done)
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p …] [OPTIN]
/// [OPTOUT] [NOLOOP], with Redis's checks in Redis's order (options are
/// parsed, and REDIRECT checked, for OFF too).
fn client_tracking(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut redirect = 0u64;
    let mut opts = 0u8;
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = argv[j];
        if is(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(Error::lit(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = args::int(argv[j])?;
            // A DB-restricted user may redirect only to its own clients:
            // another tenant's connection would hear its key names.
            let target = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.srv.clients.get(id))
                .filter(|c| own_client(ctx, c));
            match target {
                Some(c) => redirect = c.id,
                None => {
                    return Err(Error::lit(
                        "ERR The client ID you want redirect to does not exist",
                    ))
                }
            }
        } else if is(a, "bcast") {
            opts |= track::BCAST;
        } else if is(a, "optin") {
            opts |= track::OPTIN;
        } else if is(a, "optout") {
            opts |= track::OPTOUT;
        } else if is(a, "noloop") {
            opts |= track::NOLOOP;
        } else if is(a, "prefix") && more {
            j += 1;
            prefixes.push(argv[j].to_vec());
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let info = ctx.client.info.clone();
    if is(argv[2], "on") {
        let cur = info.tracking.load(Ordering::Relaxed);
        if opts & track::BCAST == 0 && !prefixes.is_empty() {
            return Err(Error::lit(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        if cur & track::ON != 0 && (cur & track::BCAST != 0) != (opts & track::BCAST != 0) {
            return Err(Error::lit("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if opts & track::BCAST != 0 && opts & (track::OPTIN | track::OPTOUT) != 0 {
            return Err(Error::lit(
                "ERR OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if opts & track::OPTIN != 0 && opts & track::OPTOUT != 0 {
            return Err(Error::lit(
                "ERR You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if (opts & track::OPTIN != 0 && cur & track::OPTOUT != 0)
            || (opts & track::OPTOUT != 0 && cur & track::OPTIN != 0)
        {
            return Err(Error::lit("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if opts & track::BCAST != 0 {
            if let Some(e) = ctx.srv.tracking.prefix_collision(info.id, &prefixes) {
                return Err(Error::from(e));
            }
        }
        let options = crate::server::tracking::Options {
            redirect,
            flags: opts,
            prefixes,
        };
        ctx.srv.tracking.enable(ctx.srv, &info, options);
    } else if is(argv[2], "off") {
        ctx.srv.tracking.disable(ctx.srv, &info);
        ctx.client.caching = Default::default();
    } else {
        return Err(errors::SYNTAX);
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn client_caching(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let f = ctx.client.info.tracking.load(Ordering::Relaxed);
    if f & track::ON == 0 {
        return Err(Error::lit("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    if is(argv[2], "yes") {
        if f & track::OPTIN == 0 {
            return Err(Error::lit(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(argv[2], "no") {
        if f & track::OPTOUT == 0 {
            return Err(Error::lit(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(errors::SYNTAX);
    }
    ctx.client.caching = crate::server::tracking::Caching::Fresh;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn client_getredir(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let info = &ctx.client.info;
    let r = if info.tracking.load(Ordering::Relaxed) & track::ON != 0 {
        info.redirect.load(Ordering::Relaxed) as i64
    } else {
        -1
    };
    ctx.out.int(r);
    Ok(Outcome::Done)
}

/// A map of `flags` (a set), `redirect` and `prefixes`, as Redis 7.2.
fn client_trackinginfo(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    use crate::server::tracking::Caching;
    let info = ctx.client.info.clone();
    let f = info.tracking.load(Ordering::Relaxed);
    let caching = ctx.client.caching != Caching::None;
    let mut names: Vec<&[u8]> = vec![if f & track::ON != 0 { b"on" } else { b"off" }];
    if f & track::BCAST != 0 {
        names.push(b"bcast");
    }
    if f & track::OPTIN != 0 {
        names.push(b"optin");
        if caching {
            names.push(b"caching-yes");
        }
    }
    if f & track::OPTOUT != 0 {
        names.push(b"optout");
        if caching {
            names.push(b"caching-no");
        }
    }
    if f & track::NOLOOP != 0 {
        names.push(b"noloop");
    }
    if f & track::BROKEN_REDIR != 0 {
        names.push(b"broken_redirect");
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(names.len());
    for n in names {
        ctx.out.bulk(n);
    }
    ctx.out.bulk(b"redirect");
    ctx.out.int(if f & track::ON != 0 {
        info.redirect.load(Ordering::Relaxed) as i64
    } else {
        -1
    });
    ctx.out.bulk(b"prefixes");
    let prefixes = ctx.srv.tracking.prefixes_of(info.id);
    ctx.out.array(prefixes.len());
    for p in &prefixes {
        ctx.out.bulk(p);
    }
    Ok(Outcome::Done)
}
