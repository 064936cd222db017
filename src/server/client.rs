//! Client state: [`Client`] is owned by its connection task; [`ClientInfo`]
//! is the part other clients may read or act on (CLIENT LIST/KILL, INFO).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::acl::User;

/// Where a client is, as CLIENT LIST, MONITOR and SLOWLOG show it: a TCP
/// peer (`127.0.0.1:5000`, `[::1]:5000`) or the server's unix socket,
/// which Redis shows as `<unixsocket path>:0` for both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAddr {
    Tcp(SocketAddr),
    Unix(Arc<str>),
}

impl ClientAddr {
    /// Loopback or the unix socket: what protected mode and
    /// `enable-protected-configs local` admit (Redis's `connIsLocal`).
    pub fn is_local(&self) -> bool {
        match self {
            ClientAddr::Tcp(a) => match a.ip() {
                IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
                v4 => v4.is_loopback(),
            },
            ClientAddr::Unix(_) => true,
        }
    }

    /// The peer's IP, by which failed AUTHs are counted; a unix socket
    /// client counts as 127.0.0.1 (it is local).
    pub fn ip(&self) -> IpAddr {
        match self {
            ClientAddr::Tcp(a) => a.ip(),
            ClientAddr::Unix(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    pub fn is_unix(&self) -> bool {
        matches!(self, ClientAddr::Unix(_))
    }
}

impl From<SocketAddr> for ClientAddr {
    fn from(a: SocketAddr) -> Self {
        ClientAddr::Tcp(a)
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // SocketAddr prints IPv6 in brackets, as Redis's anetFormatAddr.
            ClientAddr::Tcp(a) => a.fmt(f),
            ClientAddr::Unix(path) => write!(f, "{path}:0"),
        }
    }
}

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set by SKIP while its own reply is being suppressed.
    SkipNext,
}

/// What other tasks send a connection.
#[derive(Debug)]
pub enum Push {
    /// Bytes to write as they are (MONITOR lines, later Pub/Sub messages).
    Data(Vec<u8>),
    /// CLIENT KILL or server shutdown: close after the current batch.
    Kill,
    /// The reply that ends a blocking command (served, timed out by
    /// CLIENT UNBLOCK, …), already encoded in the client's protocol.
    Unblocked(Vec<u8>),
    /// CLIENT UNBLOCK of a client in WAIT or WAITAOF: end the wait now,
    /// with its timeout reply or (`error`) the UNBLOCKED error.
    EndWait { error: bool },
    /// The cron, for a client idle a while: free the buffers its last
    /// requests left (Redis's clientsCron resizes them the same way).
    Shrink,
}

/// Per-connection state, owned by the connection task.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub authenticated: bool,
    pub user: Arc<User>,
    pub info: Arc<ClientInfo>,
    pub reply_mode: ReplyMode,
    /// This client's own push channel.
    pub push_tx: mpsc::UnboundedSender<Push>,
    /// Inside MULTI: the queued commands.
    pub multi: Option<Multi>,
    /// WATCHed (db, key) pairs, and the flag writers set when one changes.
    pub watched: Vec<(usize, Vec<u8>)>,
    pub watch_dirty: Arc<AtomicBool>,
    /// EXEC is running the queue (blocking commands answer at once).
    pub in_exec: bool,
    /// Pub/Sub subscriptions.
    pub subs: Subscriptions,
    /// A Lua script is running commands through redis.call.
    pub in_script: bool,
    /// This connection's per-user metrics; `None` when metrics are off,
    /// which is the one branch the hot path pays for them.
    pub meter: Option<crate::metrics::UserMeter>,
    /// Effects of the commands run inside the current EXEC or script, for
    /// the top-level command to log as one unit (see `server::effects`).
    /// Each with its sequence number (see `keyspace::db::EffectLog`), by
    /// which they are put in order before they are logged.
    pub effects: Vec<(u64, usize, crate::server::effects::Argv)>,
    /// Whether `effects` holds a command's own effect (a write), not only
    /// what the DBs did on their own (expiry DELs): only then does a
    /// refused append cost the batch its replies.
    pub effects_own: bool,
    /// The AOF offset just past this client's last logged write (Redis's
    /// `c->woff`): what WAITAOF waits to see fsynced.
    pub woff: u64,
    /// The effect sink's ticket (an AOF offset) this batch's replies wait
    /// for: under `appendfsync always`, its fsync.
    pub sync_ticket: u64,
    /// Replays a log (see [`Client::internal`]).
    pub replaying: bool,
    /// Ops already charged to a DB's `max-ops-per-sec` bucket and not yet
    /// used: (DB index, count). See `tenancy::gate`.
    pub ops_credit: (usize, u32),
    /// CLIENT CACHING YES/NO for the next command (see `server::tracking`).
    pub caching: crate::server::tracking::Caching,
    /// How many of `effects` tracking has invalidated already (a script's
    /// or EXEC's commands each invalidate their own as they run).
    pub track_seen: usize,
    /// Invalidations of this client's own tracked keys by the running
    /// command: written after its reply, as in Redis 7.2.
    pub track_pushes: Vec<u8>,
    /// CLIENT NO-TOUCH ON (mirrored in [`ClientInfo::no_touch`] for CLIENT
    /// LIST): dispatch marks the DB so lookups leave LRU/LFU alone.
    pub no_touch: bool,
}

/// A client's channels, patterns and shard channels.
#[derive(Debug, Default)]
pub struct Subscriptions {
    pub channels: hashbrown::HashSet<Vec<u8>>,
    pub patterns: hashbrown::HashSet<Vec<u8>>,
    pub shard: hashbrown::HashSet<Vec<u8>>,
}

impl Subscriptions {
    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }
}

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    pub queue: Vec<Vec<Vec<u8>>>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub failed: bool,
}

impl Client {
    /// A fresh client in DB 0, RESP2, authenticated if the default user
    /// needs no password; returns it with its push channel's receiver.
    pub fn new(
        srv: &crate::server::Shared,
        id: u64,
        addr: ClientAddr,
        laddr: ClientAddr,
        fd: i32,
    ) -> (Client, mpsc::UnboundedReceiver<Push>) {
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let now = srv.clock.now_ms();
        let info = Arc::new(ClientInfo::new(
            id,
            (addr, laddr, fd),
            now,
            push_tx.clone(),
            srv.obuf.clone(),
        ));
        let user = srv.acl.default_user();
        let client = Client {
            id,
            db: 0,
            authenticated: srv.acl.default_is_open(),
            meter: srv.metrics.as_ref().map(|m| m.users.meter(&user)),
            ops_credit: (0, 0),
            caching: Default::default(),
            track_seen: 0,
            track_pushes: Vec::new(),
            no_touch: false,
            replaying: false,
            effects: Vec::new(),
            effects_own: false,
            woff: 0,
            sync_ticket: 0,
            user,
            info,
            reply_mode: ReplyMode::On,
            push_tx,
            multi: None,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            in_exec: false,
            subs: Default::default(),
            in_script: false,
        };
        (client, push_rx)
    }

    /// A client that is no connection: it replays the AOF at startup as a
    /// user allowed everything, and the quota gate lets it through (a log
    /// is replayed whatever today's limits say).
    pub fn internal(srv: &crate::server::Shared) -> Client {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let (mut c, _rx) = Client::new(srv, 0, any.into(), any.into(), -1);
        c.user = Arc::new(User::internal());
        c.authenticated = true;
        c.replaying = true;
        c.meter = None;
        c
    }

    /// Whether a blocking command may block now (not inside MULTI/EXEC or
    /// a script, where Redis answers as if the timeout had expired).
    pub fn may_block(&self) -> bool {
        self.multi.is_none() && !self.in_exec && !self.in_script
    }
}

/// The fixed part of a client's memory: its two structures.
pub const CLIENT_STRUCTS: usize = std::mem::size_of::<Client>() + std::mem::size_of::<ClientInfo>();

/// The shared face of a client.
pub struct ClientInfo {
    pub id: u64,
    pub addr: ClientAddr,
    pub laddr: ClientAddr,
    pub fd: i32,
    pub created_ms: i64,
    pub last_interaction_ms: AtomicI64,
    pub db: AtomicUsize,
    /// Id of the last command run; `u16::MAX` before the first.
    pub last_cmd: AtomicU16,
    pub resp: AtomicU8,
    pub monitor: AtomicBool,
    pub no_evict: AtomicBool,
    pub qbuf: AtomicU32,
    /// Bytes the connection's read and reply buffers hold (0 while idle).
    pub buffers: AtomicUsize,
    /// The read buffer's size (CLIENT LIST's `rbs`).
    pub rbs: AtomicUsize,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub user: Mutex<String>,
    pub killed: AtomicBool,
    pub kill_notify: tokio::sync::Notify,
    /// Output queued outside the running batch (see `server::obuf`).
    pub output: crate::server::obuf::OutputBuffer,
    /// The server's `client-output-buffer-limit`s, for pushes to check.
    pub obuf_limits: Arc<crate::server::obuf::OutputLimits>,
    /// Subscription counts (CLIENT LIST sub/psub/ssub).
    pub sub_counts: [AtomicUsize; 3],
    /// DB the client is blocked in, or -1 (CLIENT UNBLOCK, CLIENT LIST).
    pub blocked_db: std::sync::atomic::AtomicI64,
    /// In WAIT or WAITAOF (an `Outcome::Await`): CLIENT UNBLOCK ends it.
    pub awaiting: AtomicBool,
    /// CLIENT TRACKING state (`server::tracking::bits`), for CLIENT LIST
    /// and for the writers that invalidate this client's keys.
    pub tracking: AtomicU8,
    /// CLIENT TRACKING … REDIRECT id (0: none).
    pub redirect: AtomicU64,
    /// Held by CLIENT PAUSE (counted as blocked, as Redis's postponed clients).
    pub postponed: AtomicBool,
    /// CLIENT NO-TOUCH ON: its commands leave LRU/LFU alone (flag `T`).
    pub no_touch: AtomicBool,
    /// The connection's only wake-up source besides its socket: one
    /// channel for kills and pushes keeps the read loop to two futures.
    pub push_tx: mpsc::UnboundedSender<Push>,
}

impl ClientInfo {
    pub fn new(
        id: u64,
        (addr, laddr, fd): (ClientAddr, ClientAddr, i32),
        now: i64,
        push_tx: mpsc::UnboundedSender<Push>,
        obuf_limits: Arc<crate::server::obuf::OutputLimits>,
    ) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created_ms: now,
            last_interaction_ms: AtomicI64::new(now),
            db: AtomicUsize::new(0),
            last_cmd: AtomicU16::new(u16::MAX),
            resp: AtomicU8::new(2),
            monitor: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            qbuf: AtomicU32::new(0),
            buffers: AtomicUsize::new(0),
            rbs: AtomicUsize::new(0),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            user: Mutex::new("default".into()),
            killed: AtomicBool::new(false),
            kill_notify: tokio::sync::Notify::new(),
            blocked_db: AtomicI64::new(-1),
            awaiting: AtomicBool::new(false),
            postponed: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            output: Default::default(),
            obuf_limits,
            sub_counts: Default::default(),
            tracking: AtomicU8::new(0),
            redirect: AtomicU64::new(0),
            push_tx,
        }
    }

    /// A client with no connection and default limits (unit tests).
    #[cfg(test)]
    pub fn detached(id: u64) -> ClientInfo {
        let any = ClientAddr::Tcp(([127, 0, 0, 1], 0).into());
        let limits = crate::server::obuf::OutputLimits::default();
        limits.load(&crate::config::Config::default());
        ClientInfo::new(
            id,
            (any.clone(), any, -1),
            0,
            mpsc::unbounded_channel().0,
            Arc::new(limits),
        )
    }

    /// Memory this client holds as CLIENT LIST's `tot-mem` counts it: its
    /// read and reply buffers as allocated now (none while it idles; the
    /// read buffer holds the unparsed input), output waiting for the peer,
    /// and its client structures. What `maxmemory-clients` adds up and
    /// INFO's `used_memory_clients`.
    pub fn memory(&self) -> usize {
        CLIENT_STRUCTS + self.buffers.load(Ordering::Relaxed) + self.output.queued()
    }

    /// Subscribed to a channel, pattern or shard channel: the pubsub
    /// class of the output buffer limits.
    pub fn is_pubsub(&self) -> bool {
        self.sub_counts
            .iter()
            .any(|c| c.load(Ordering::Relaxed) > 0)
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        // Interrupts a write stuck on a peer that stopped reading…
        self.kill_notify.notify_one();
        // …and wakes a connection waiting for input.
        let _ = self.push_tx.send(Push::Kill);
    }
}

/// Where a MONITOR line comes from.
pub struct MonitorSource<'a> {
    pub db: usize,
    /// The command's time: the output buffer limits' soft-limit clock.
    pub now_ms: i64,
    pub user: &'a str,
    /// A no-auth command (AUTH, HELLO): it may name and log in users.
    pub login: bool,
}

/// Every connected client, by id.
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<HashMap<u64, Arc<ClientInfo>>>,
    monitors: AtomicUsize,
}

impl ClientRegistry {
    pub fn add(&self, c: Arc<ClientInfo>) {
        self.clients.lock().insert(c.id, c);
    }

    pub fn remove(&self, id: u64) {
        if let Some(c) = self.clients.lock().remove(&id) {
            if c.monitor.load(Ordering::Relaxed) {
                self.monitors.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot, sorted by id (CLIENT LIST order).
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        let mut v: Vec<_> = self.clients.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Asks every connection to close (shutdown).
    pub fn kill_all(&self) {
        for c in self.clients.lock().values() {
            c.kill();
        }
    }

    /// Marks a client as a monitor.
    pub fn add_monitor(&self, c: &ClientInfo) {
        if !c.monitor.swap(true, Ordering::Relaxed) {
            self.monitors.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    pub fn has_monitors(&self) -> bool {
        self.monitors.load(Ordering::Relaxed) > 0
    }

    /// Sends a line to every monitor allowed to see it: a monitor whose
    /// user is DB-restricted gets only commands run in its DBs, and only
    /// its own user's logins (the tenant boundary). The user is looked up
    /// per line, so an ACL change applies to a running MONITOR at once.
    pub fn feed_monitors(&self, line: &[u8], src: &MonitorSource<'_>, acl: &crate::acl::Acl) {
        for c in self.clients.lock().values() {
            if !c.monitor.load(Ordering::Relaxed) {
                continue;
            }
            let name = c.user.lock().clone();
            let Some(user) = acl.get(name.as_bytes()) else {
                continue;
            };
            if user.is_restricted()
                && (!user.sees_db(src.db) || (src.login && src.user != user.name))
            {
                continue;
            }
            crate::server::obuf::push(&c.obuf_limits, c, line.to_vec(), src.now_ms);
        }
    }
}
