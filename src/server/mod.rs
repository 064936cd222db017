//! The server: shared state, listeners, connections, dispatch, shutdown.
//!
//! [`Server::builder`] is the one way to start keyward, for the binary and
//! for embedding; the returned [`ServerHandle`] knows the bound addresses
//! and shuts the server down gracefully.

pub mod client;
pub mod connection;
pub mod dispatch;
pub mod effects;
#[cfg(any(test, fuzzing))]
pub mod fuzz;
#[doc(hidden)]
pub mod harness;
pub mod latency;
pub mod notify;
pub mod obuf;
pub mod pause;
pub mod pubsub;
pub mod stats;
pub mod tls;
pub mod tracking;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::acl::Acl;
use crate::clock::Clock;
use crate::config::Config;
use crate::keyspace::expire::{ExpireCycle, ExpireEffort};
use crate::keyspace::value::Thresholds;
use crate::keyspace::Keyspace;
use client::ClientRegistry;
use stats::{SlowLog, Stats};

/// The Redis version we report (clients gate features on it).
pub const REDIS_VERSION: &str = "7.2.4";
/// Our own version (INFO `keyward_version`).
pub const KEYWARD_VERSION: &str = env!("CARGO_PKG_VERSION");

/// State shared by every connection of one server.
pub struct Shared {
    pub keyspace: Keyspace,
    pub config: RwLock<Config>,
    pub clock: Clock,
    pub clients: ClientRegistry,
    pub acl: Acl,
    pub pubsub: pubsub::PubSub,
    pub scripting: crate::scripting::Scripting,
    pub stats: Stats,
    /// Prometheus recorder and per-user counters; `None` = metrics off.
    pub metrics: Option<crate::metrics::Metrics>,
    /// Per-DB limits and counters.
    pub tenancy: crate::tenancy::Tenancy,
    pub slowlog: Mutex<SlowLog>,
    pub started: Instant,
    pub run_id: String,
    pub next_client_id: AtomicU64,
    /// Settings read on every command or batch, kept outside the config
    /// lock so the hot path takes no shared lock (see [`Shared::config_changed`]).
    pub hot: HotConfig,
    /// `client-output-buffer-limit` and its disconnection count; each
    /// client holds a reference for the pushes it receives.
    pub obuf: Arc<obuf::OutputLimits>,
    /// Set by SHUTDOWN or the handle; every task watches it.
    shutdown_tx: watch::Sender<bool>,
    pub shutting_down: AtomicBool,
    /// Bound addresses (INFO, CLIENT LIST laddr).
    pub addrs: Mutex<Vec<SocketAddr>>,
    /// Where write effects go (the AOF); see [`effects`].
    pub propagation: effects::Propagation,
    /// Client-side caching: the tracking table (see [`tracking`]).
    pub tracking: tracking::Tracking,
    /// The TLS configuration new handshakes use (see [`tls`]).
    pub tls: tls::Tls,
    /// Files, the save schedule, the LOADING/MISCONF gates.
    pub persist: crate::persistence::runtime::Persistence,
    /// This state's own `Arc`, for work that outlives a command (a
    /// background save, the AOF sink).
    pub me: std::sync::Weak<Shared>,
    /// CLIENT PAUSE (see [`pause`]).
    pub pause: pause::Pause,
    /// DEBUG SET-ACTIVE-EXPIRE: whether cron runs the active expiry cycle.
    pub active_expire: AtomicBool,
    /// The highest `used_memory` seen (the allocator's count, or the
    /// accounting without it; sampled by cron, INFO and MEMORY STATS).
    pub memory_peak: AtomicU64,
    /// The allocator's count as this server was created, before loading
    /// (INFO's `used_memory_startup`; 0 without the counting allocator).
    pub memory_startup: u64,
    /// The latency monitor's events (LATENCY LATEST, HISTORY …).
    pub latency: latency::Monitor,
    /// `rename-command`: the names commands answer to, when any was
    /// renamed or removed (fixed at startup; `None` costs dispatch one
    /// branch).
    pub renames: Option<Box<crate::commands::table::Renames>>,
}

impl Shared {
    fn new(config: Config, fs: Option<Arc<dyn crate::persistence::fs::Fs>>) -> Arc<Shared> {
        let (shutdown_tx, _) = watch::channel(false);
        let run_id: String = {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            (0..40)
                .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
                .collect()
        };
        let keyspace = Keyspace::new(config.databases);
        let pause = pause::Pause::new(keyspace.expiry_hold.clone());
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            pause,
            active_expire: AtomicBool::new(true),
            memory_peak: AtomicU64::new(0),
            memory_startup: crate::alloc::allocated().unwrap_or(0),
            latency: Default::default(),
            // Checked by ServerBuilder::start (Config::check_renames).
            renames: crate::commands::table::Renames::build(&config.rename_command)
                .ok()
                .flatten()
                .map(Box::new),
            keyspace,
            acl: Acl::from_config(&config),
            clock: Clock::default(),
            clients: ClientRegistry::default(),
            pubsub: Default::default(),
            scripting: Default::default(),
            stats: Stats::new(
                crate::commands::REGISTRY.len(),
                config.metrics_addr.is_some(),
            ),
            metrics: config
                .metrics_addr
                .as_ref()
                .map(|_| crate::metrics::Metrics::new()),
            tenancy: crate::tenancy::Tenancy::new(config.databases),
            slowlog: Mutex::new(SlowLog::default()),
            started: Instant::now(),
            run_id,
            next_client_id: AtomicU64::new(1),
            hot: HotConfig::default(),
            obuf: Arc::new({
                let l = obuf::OutputLimits::default();
                l.load(&config);
                l
            }),
            shutdown_tx,
            shutting_down: AtomicBool::new(false),
            addrs: Mutex::new(Vec::new()),
            propagation: Default::default(),
            tracking: Default::default(),
            tls: Default::default(),
            persist: fs
                .map(crate::persistence::runtime::Persistence::new)
                .unwrap_or_default(),
            config: RwLock::new(config),
        });
        // Namespaces are chosen once (the scope settings are immutable).
        {
            let c = shared.config.read();
            shared.pubsub.set_per_db(c.pubsub_per_db);
            shared.scripting.set_per_db(c.script_per_db);
            shared.tracking.set_max_keys(c.tracking_table_max_keys);
        }
        // `[[db]]` limits and the global maxmemory into the per-DB atomics.
        shared
            .tenancy
            .apply(&shared.config.read(), &shared.keyspace);
        shared
    }

    /// Starts propagating write effects to `sink`: with every DB locked, so
    /// that no write falls between the DBs starting to log their own
    /// effects and the hook seeing them. Returns false if another sink was
    /// installed before (one per server).
    pub fn start_propagation(&self, sink: Arc<dyn effects::EffectSink>) -> bool {
        let mut all = self.keyspace.lock_all();
        self.start_propagation_locked(&mut all, sink)
    }

    /// [`Shared::start_propagation`] for a caller that holds every DB lock
    /// already (the AOF writes its first base under the same locks).
    pub fn start_propagation_locked(
        &self,
        all: &mut [parking_lot::MutexGuard<'_, crate::keyspace::Db>],
        sink: Arc<dyn effects::EffectSink>,
    ) -> bool {
        for db in all.iter_mut() {
            let seq = self.keyspace.effect_seq.clone();
            db.effects
                .get_or_insert_with(|| crate::keyspace::db::EffectLog::new(seq));
        }
        self.propagation.install(sink)
    }

    /// Starts a graceful shutdown (SHUTDOWN, signals, the handle).
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        self.shutdown_tx.send_replace(true);
        self.clients.kill_all();
    }

    /// Propagates a CONFIG SET to the values kept outside the config lock.
    pub fn config_changed(&self) {
        let c = self.config.read();
        self.hot.load(&c);
        self.obuf.load(&c);
        self.scripting
            .busy_threshold_ms
            .store(c.busy_reply_threshold as i64, Ordering::Relaxed);
        self.acl.set_requirepass(c.requirepass.as_deref());
        self.acl.log.lock().max_len = c.acllog_max_len;
        self.acl.set_pubsub_default(c.acl_pubsub_allchannels);
        self.tenancy.apply_global(&c);
        self.keyspace.set_lfu(c.lfu);
        self.tracking.set_max_keys(c.tracking_table_max_keys);
        self.keyspace
            .set_notify(crate::keyspace::notify::effective(c.notify_keyspace_events));
    }

    pub fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Resolves once shutdown was requested.
    pub async fn shutdown_requested(rx: &mut watch::Receiver<bool>) {
        let _ = rx.wait_for(|&s| s).await.map(|_| ());
    }

    /// Records `event` in the latency monitor when it took at least
    /// `latency-monitor-threshold` (Redis's `latencyAddSampleIfNeeded`).
    pub fn latency_event(&self, event: &'static str, took: Duration) {
        let threshold = self.hot.latency.load() & !latency::TRACKING;
        let us = took.as_micros() as u64;
        if us >= threshold {
            self.latency
                .add(event, us / 1000, self.clock.now_ms() / 1000);
        }
    }

    pub fn databases(&self) -> usize {
        self.keyspace.len()
    }
}

/// A snapshot walks the keyspace owned through the server's state.
impl AsRef<Keyspace> for Arc<Shared> {
    fn as_ref(&self) -> &Keyspace {
        &self.keyspace
    }
}

/// SHUTDOWN's flags as `shutdown-on-sigterm`/`-sigint` give them: `save`
/// (`Some(true)`), `nosave` (`Some(false)`) or neither (by the save
/// points); `now` (do not wait for lagging replicas: keyward has none, so it
/// changes nothing); `force` (errors saving or syncing the AOF do not stop
/// the shutdown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: Option<bool>,
    pub now: bool,
    pub force: bool,
}

impl ShutdownFlags {
    /// Reads a (validated) `shutdown-on-sig*` value.
    pub fn parse(v: &str) -> ShutdownFlags {
        let mut f = ShutdownFlags::default();
        for w in v.split_whitespace() {
            match w.to_ascii_lowercase().as_str() {
                "save" => f.save = Some(true),
                "nosave" => f.save = Some(false),
                "now" => f.now = true,
                "force" => f.force = true,
                _ => {}
            }
        }
        f
    }
}

/// Copies of hot settings; see [`Shared::hot`].
#[derive(Default)]
pub struct HotConfig {
    pub slowlog_threshold: AtomicI64,
    pub idle_timeout_s: AtomicU64,
    pub proto_max_bulk_len: AtomicU64,
    pub query_buffer_limit: AtomicU64,
    /// hll-sparse-max-bytes, read by every sparse HyperLogLog write.
    pub hll_sparse_max_bytes: AtomicU64,
    /// `flushall-scope own`: commands that touch every DB (FLUSHALL) act
    /// on a DB-restricted user's own DBs instead of being refused.
    pub all_dbs_own: AtomicBool,
    /// Encoding thresholds, read by every collection write.
    thresholds: [AtomicI64; 10],
    /// `latency-tracking` and `latency-monitor-threshold`, one word.
    pub latency: latency::HotLatency,
}

impl HotConfig {
    fn load(&self, c: &Config) {
        self.slowlog_threshold
            .store(c.slowlog_log_slower_than, Ordering::Relaxed);
        self.idle_timeout_s.store(c.timeout, Ordering::Relaxed);
        let kept = |name: &str, default: &str| {
            c.accepted
                .get(name)
                .cloned()
                .unwrap_or_else(|| default.to_string())
        };
        self.latency.set(
            kept("latency-tracking", "yes") == "yes",
            kept("latency-monitor-threshold", "0").parse().unwrap_or(0),
        );
        self.all_dbs_own.store(c.flushall_own, Ordering::Relaxed);
        self.proto_max_bulk_len
            .store(c.proto_max_bulk_len as u64, Ordering::Relaxed);
        self.query_buffer_limit
            .store(c.client_query_buffer_limit as u64, Ordering::Relaxed);
        self.hll_sparse_max_bytes
            .store(c.hll_sparse_max_bytes, Ordering::Relaxed);
        let t = &c.thresholds;
        let v = [
            t.hash_max_listpack_entries as i64,
            t.hash_max_listpack_value as i64,
            t.set_max_intset_entries as i64,
            t.set_max_listpack_entries as i64,
            t.set_max_listpack_value as i64,
            t.zset_max_listpack_entries as i64,
            t.zset_max_listpack_value as i64,
            t.list_max_listpack_size,
            t.stream_node.max_entries as i64,
            t.stream_node.max_bytes as i64,
        ];
        for (a, v) in self.thresholds.iter().zip(v) {
            a.store(v, Ordering::Relaxed);
        }
    }

    /// The current encoding thresholds (ten relaxed loads, no lock).
    pub fn thresholds(&self) -> Thresholds {
        let v = |i: usize| self.thresholds[i].load(Ordering::Relaxed);
        Thresholds {
            hash_max_listpack_entries: v(0) as usize,
            hash_max_listpack_value: v(1) as usize,
            set_max_intset_entries: v(2) as usize,
            set_max_listpack_entries: v(3) as usize,
            set_max_listpack_value: v(4) as usize,
            zset_max_listpack_entries: v(5) as usize,
            zset_max_listpack_value: v(6) as usize,
            list_max_listpack_size: v(7),
            stream_node: crate::keyspace::types::stream::NodeLimits {
                max_entries: v(8) as u64,
                max_bytes: v(9) as u64,
            },
        }
    }
}

/// Entry point for starting a server.
pub struct Server;

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: Config::default(),
            fs: None,
        }
    }
}

/// Configures a server before it starts.
pub struct ServerBuilder {
    config: Config,
    fs: Option<Arc<dyn crate::persistence::fs::Fs>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid bind address '{0}'")]
    BadAddress(String),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The `tls-*` settings could not be applied (Redis's log line).
    #[error("Failed to configure TLS: {0}")]
    Tls(String),
    /// The data in `dir` could not be loaded (the server did not start).
    #[error("{0}")]
    Load(String),
    /// Proxy mode's settings are unusable (`[proxy]`, `--upstream`).
    #[error("proxy: {0}")]
    Proxy(String),
    /// The `aclfile` cannot be read or has an invalid line: Redis refuses
    /// to start rather than run with the users it could read.
    #[error("Aborting startup because of ACL errors: aclfile {path}: {error}")]
    Acl { path: String, error: String },
}

/// What a start refuses before it binds anything, from the configuration
/// and the files it names (`keyward --check-config` runs the same): the
/// DB tables, the aclfile, `rename-command`, the AOF's needs and the TLS
/// files (read now: a bad certificate stops startup, as in Redis). Gives
/// the TLS server configuration it built.
pub fn validate(config: &Config) -> Result<Option<Arc<rustls::ServerConfig>>, StartError> {
    config.check_dbs()?;
    if let Some(path) = &config.aclfile {
        std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                crate::acl::parse_aclfile(&t, config.databases, config.acl_pubsub_allchannels)
            })
            .map_err(|error| StartError::Acl {
                path: path.clone(),
                error,
            })?;
    }
    config.check_renames()?;
    if config.appendonly && !config.persistence {
        return Err(StartError::Load(
            "appendonly yes needs persistence (Config::persistence / ServerBuilder::persistence)"
                .into(),
        ));
    }
    tls::Tls::prepare(config).map_err(StartError::Tls)
}

impl ServerBuilder {
    /// Keeps data in `dir` as redis-server does (load at start, SAVE, the
    /// save schedule, the AOF); off by default when embedded.
    pub fn persistence(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.config.persistence = true;
        self.config.dir = dir.into();
        self
    }

    /// The file system persistence writes through (tests pass a simulated
    /// one to cut power at any point; see `persistence::fs::SimFs`).
    pub fn fs(mut self, fs: Arc<dyn crate::persistence::fs::Fs>) -> Self {
        self.fs = Some(fs);
        self
    }

    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Port to listen on; 0 picks a free one (see [`ServerHandle::addr`]).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    pub fn bind(mut self, addrs: &[&str]) -> Self {
        self.config.bind = addrs.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn requirepass(mut self, pass: &str) -> Self {
        self.config.requirepass = Some(pass.to_string());
        self
    }

    pub fn databases(mut self, n: usize) -> Self {
        self.config.databases = n;
        self
    }

    /// Proxy mode: admission here, the keyspace at `url`
    /// (`redis://[user:pass@]host:port`; see [`crate::proxy`]).
    pub fn upstream(mut self, url: &str) -> Self {
        self.config.proxy.upstream = Some(url.to_string());
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<ServerHandle, StartError> {
        let config = self.config;
        let tls_config = validate(&config)?;
        let proxy = match &config.proxy.upstream {
            Some(_) if config.persistence => {
                return Err(StartError::Proxy(
                    "proxy mode keeps no data: persistence must be off".into(),
                ))
            }
            Some(_) => {
                crate::proxy::quota::check_config(&config).map_err(StartError::Proxy)?;
                Some(Arc::new(
                    crate::proxy::Proxy::new(&config.proxy).map_err(StartError::Proxy)?,
                ))
            }
            None => None,
        };
        if let Some(p) = &proxy {
            info!(upstream = %p.upstream.target.shown(), "proxy mode");
        }
        let mut listeners = Vec::new();
        let mut port = config.port;
        // With a unix socket or a TLS port, `port 0` means no plain TCP at
        // all, as in Redis; without them it picks a free port (embedding,
        // tests).
        let unixsocket = (!config.unixsocket.is_empty()).then(|| config.unixsocket.clone());
        let tcp_hosts: &[String] = if (unixsocket.is_some() || tls_config.is_some()) && port == 0 {
            &[]
        } else {
            &config.bind
        };
        for (i, host) in tcp_hosts.iter().enumerate() {
            let ip: std::net::IpAddr = host
                .parse()
                .map_err(|_| StartError::BadAddress(host.clone()))?;
            let addr = SocketAddr::new(ip, port);
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    if port == 0 {
                        // Every further address shares the port the first got.
                        port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                    }
                    listeners.push(l);
                }
                // Like redis-server's default `bind * -::*`: an address the
                // host does not have (no IPv6) is skipped after the first.
                Err(e) if i > 0 => {
                    warn!(%addr, error = %e, "could not bind; skipping this address")
                }
                Err(source) => {
                    return Err(StartError::Bind {
                        addr: addr.to_string(),
                        source,
                    })
                }
            }
        }
        let unix_listener = match &unixsocket {
            Some(path) => Some(bind_unix(path, config.unixsocketperm)?),
            None => None,
        };
        let tls_listeners = match tls_config {
            Some(_) => bind_all(&config.bind, config.tls.port).await?,
            None => Vec::new(),
        };
        let exposed = listeners
            .iter()
            .chain(&tls_listeners)
            .filter_map(|l| l.local_addr().ok())
            .any(|a| !a.ip().is_loopback());
        if exposed && config.requirepass.is_none() && config.protected_mode {
            warn!("listening on a non-loopback address without a password: protected mode refuses non-loopback clients (set requirepass, or protected-mode no)");
        }
        let metrics_listener = match &config.metrics_addr {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .map_err(|source| StartError::Bind {
                        addr: a.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let shared = Shared::new(config, self.fs);
        if let Some(p) = &proxy {
            p.start(&shared);
        }
        shared.tls.install(tls_config);
        shared.config_changed();
        // Clients that connect while the dataset loads get -LOADING.
        let persistent = shared.config.read().persistence;
        if persistent {
            shared.persist.gate.fetch_or(
                crate::persistence::runtime::gate::LOADING,
                Ordering::Relaxed,
            );
        }
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        *shared.addrs.lock() = addrs.clone();
        let mut tasks = JoinSet::new();
        for l in listeners {
            tasks.spawn(connection::accept_loop(
                shared.clone(),
                connection::Listener::Tcp(l),
                proxy.clone(),
            ));
        }
        if let Some(l) = unix_listener {
            tasks.spawn(connection::accept_loop(shared.clone(), l, proxy.clone()));
        }
        let tls_addrs: Vec<SocketAddr> = tls_listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        for l in tls_listeners {
            tasks.spawn(connection::accept_loop(
                shared.clone(),
                connection::Listener::Tls(l),
                proxy.clone(),
            ));
        }
        tasks.spawn(cron(shared.clone()));
        if let Some(l) = metrics_listener {
            tasks.spawn(crate::metrics::http::serve(shared.clone(), l));
            info!(addr = ?metrics_addr, "serving Prometheus metrics on /metrics");
        }
        let mut handle = ServerHandle {
            unixsocket: unixsocket.map(std::path::PathBuf::from),
            tls_addrs: tls_addrs.clone(),
            addrs: addrs.clone(),
            metrics_addr,
            shared: shared.clone(),
            tasks,
        };
        if persistent {
            let s = shared.clone();
            let loaded =
                tokio::task::spawn_blocking(move || crate::persistence::runtime::load_and_open(&s))
                    .await
                    .unwrap_or_else(|e| Err(format!("loading panicked: {e}")));
            if let Err(e) = loaded {
                tracing::error!("{e}");
                shared.request_shutdown();
                handle.drain().await;
                return Err(StartError::Load(e));
            }
            shared.persist.gate.fetch_and(
                !crate::persistence::runtime::gate::LOADING,
                Ordering::Relaxed,
            );
        }
        match &handle.unixsocket {
            Some(p) => {
                info!(addrs = ?addrs, unixsocket = %p.display(), "keyward ready to accept connections")
            }
            None => info!(addrs = ?addrs, "keyward ready to accept connections"),
        }
        if !tls_addrs.is_empty() {
            info!(addrs = ?tls_addrs, "accepting TLS connections");
        }
        Ok(handle)
    }
}

/// Listens on `path` (`unixsocket`): a file already there is removed first
/// and `perm` (when not 0) applied, as redis-server does.
#[cfg(unix)]
fn bind_unix(path: &str, perm: u32) -> Result<connection::Listener, StartError> {
    use std::os::unix::fs::PermissionsExt;
    // Redis unlinks whatever is there ("don't care if this fails"): a
    // socket left by a server that was killed would refuse the bind.
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path).map_err(|source| StartError::Bind {
        addr: path.to_string(),
        source,
    })?;
    if perm != 0 {
        if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm)) {
            warn!(path, error = %e, "unixsocketperm: chmod failed");
        }
    }
    Ok(connection::Listener::Unix {
        listener,
        path: path.into(),
    })
}

#[cfg(not(unix))]
fn bind_unix(path: &str, _perm: u32) -> Result<connection::Listener, StartError> {
    Err(StartError::Bind {
        addr: path.to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "unix sockets need a unix system",
        ),
    })
}

/// Binds `port` on every address of `bind` (the TLS port); an address
/// after the first that the host lacks is skipped, as for the plain port.
async fn bind_all(bind: &[String], port: u16) -> Result<Vec<TcpListener>, StartError> {
    let mut out = Vec::new();
    for (i, host) in bind.iter().enumerate() {
        let ip: std::net::IpAddr = host
            .parse()
            .map_err(|_| StartError::BadAddress(host.clone()))?;
        let addr = SocketAddr::new(ip, port);
        match TcpListener::bind(addr).await {
            Ok(l) => out.push(l),
            Err(e) if i > 0 => warn!(%addr, error = %e, "could not bind; skipping this address"),
            Err(source) => {
                return Err(StartError::Bind {
                    addr: addr.to_string(),
                    source,
                })
            }
        }
    }
    Ok(out)
}

/// A running server.
pub struct ServerHandle {
    /// The unix socket's path, removed when the server stops.
    unixsocket: Option<std::path::PathBuf>,
    /// Where TLS clients connect (`tls-port`), if anywhere.
    tls_addrs: Vec<SocketAddr>,
    addrs: Vec<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

impl ServerHandle {
    /// The first bound TCP address, the first TLS one when `port 0` leaves
    /// no plain one. Panics for a server that listens only on a unix socket
    /// (`port 0` with `unixsocket`); see [`Self::addrs`].
    pub fn addr(&self) -> SocketAddr {
        *self
            .addrs
            .first()
            .or(self.tls_addrs.first())
            .expect("addr() of a server without TCP listeners (unixsocket with port 0)")
    }

    /// The TLS addresses (`tls-port`); empty when TLS is off.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// The unix socket's path (`unixsocket`), if it serves one.
    pub fn unixsocket(&self) -> Option<&std::path::Path> {
        self.unixsocket.as_deref()
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Where `/metrics` is served (`None` when metrics are off).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The shared state (tests inspect the keyspace through it).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Moves the server's clock forward, to expire keys in tests.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance_ms(by.as_millis() as i64);
    }

    /// Resolves when the server stopped by itself (SHUTDOWN).
    pub async fn stopped(&mut self) {
        let mut rx = self.shared.shutdown_rx();
        Shared::shutdown_requested(&mut rx).await;
        self.drain().await;
    }

    /// Shuts down as redis-server does on SIGTERM/SIGINT with `flags`
    /// (`shutdown-on-sigterm`/`-sigint`): syncs the AOF and saves (by the
    /// save points, or as `save`/`nosave` say) while still running, so that
    /// a failure without `force` leaves the server running, as Redis's
    /// cancelled shutdown does (`Err`, logged); then closes every connection
    /// and, if a write landed after that save, saves once more.
    pub async fn try_shutdown(&mut self, flags: ShutdownFlags) -> Result<(), String> {
        let s = self.shared.clone();
        let first = tokio::task::spawn_blocking(move || {
            crate::persistence::runtime::before_shutdown(&s, flags.save, flags.force)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        if let Err(e) = first {
            warn!("Errors trying to shut down the server. Check the logs for more information.");
            return Err(e);
        }
        self.shared.request_shutdown();
        self.drain().await;
        let s = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || {
            // Only what changed since the save above is at stake.
            let again = flags.save != Some(false)
                && crate::persistence::runtime::changes_since_save(&s) > 0;
            let mode = if again { flags.save } else { Some(false) };
            if let Err(e) = crate::persistence::runtime::before_shutdown(&s, mode, true) {
                tracing::error!("{e}");
            }
        })
        .await;
        Ok(())
    }

    /// Stops accepting, closes every connection, waits for the tasks; with
    /// persistence on, syncs the AOF and saves when save points exist (as
    /// redis-server on SIGTERM), after the connections are closed.
    pub async fn shutdown(mut self) {
        self.shared.request_shutdown();
        self.drain().await;
        let s = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = crate::persistence::runtime::before_shutdown(&s, None, true) {
                tracing::error!("{e}");
            }
        })
        .await;
    }

    async fn drain(&mut self) {
        while self.tasks.join_next().await.is_some() {}
        // The accept loops have ended: nothing listens on the socket now.
        if let Some(path) = self.unixsocket.take() {
            info!("Removing the unix socket file.");
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "Error removing the unix socket file")
                }
            }
        }
        // Connection tasks end on the shutdown signal; give them a moment.
        for _ in 0..200 {
            if self.shared.clients.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// How long a client idles before the cron frees its buffers (Redis's
/// clientsCron resizes an idle client's query buffer after 2 s too).
const IDLE_SHRINK_MS: i64 = 2000;

/// Once a second: clients idle for [`IDLE_SHRINK_MS`] that still hold
/// buffers are told to free them, and when the allocator holds much more
/// than is allocated, the workers collect their heaps (so a burst's
/// memory goes back to the OS within a second or two of ending).
fn memory_cron(shared: &Shared, now_ms: i64) {
    for c in shared.clients.snapshot() {
        // A blocked or waiting client's task is not in its read loop: it
        // would ignore the message.
        if c.buffers.load(Ordering::Relaxed) > 0
            && now_ms - c.last_interaction_ms.load(Ordering::Relaxed) >= IDLE_SHRINK_MS
            && c.blocked_db.load(Ordering::Relaxed) < 0
            && !c.awaiting.load(Ordering::Relaxed)
        {
            let _ = c.push_tx.send(client::Push::Shrink);
        }
    }
    if let Some(allocated) = crate::alloc::allocated() {
        if crate::alloc::worth_collecting(allocated, crate::alloc::committed()) {
            crate::alloc::request_collect();
        }
    }
}

/// Background work, `hz` times a second: active expiry, publishing each
/// DB's used memory.
async fn cron(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown_rx();
    let mut last_save_check = Instant::now();
    let mut last_memory_check = Instant::now();
    // The DB the next tick's expiry starts with: one the last tick's time
    // limit stopped before, as Redis's `current_db`.
    let mut expire_next_db = 0usize;
    loop {
        let (hz, effort) = {
            let c = shared.config.read();
            (c.hz.max(1), c.active_expire_effort)
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1000 / u64::from(hz))) => {}
            _ = Shared::shutdown_requested(&mut shutdown) => return,
        }
        // Nothing runs beside a script, cron included (as in Redis); and a
        // DB a script holds must not stall this worker.
        if shared.scripting.running() {
            continue;
        }
        if last_save_check.elapsed() >= Duration::from_secs(1) {
            last_save_check = Instant::now();
            let s = shared.clone();
            // A save holds every DB for its length: off the worker thread.
            let _ = tokio::task::spawn_blocking(move || {
                crate::persistence::runtime::background_cron(&s);
                crate::persistence::runtime::cron(&s)
            })
            .await;
        }
        // maxmemory-clients: the biggest clients go first (CLIENT NO-EVICT
        // exempts a client).
        obuf::evict_clients(&shared);
        let now = shared.clock.now_ms();
        if last_memory_check.elapsed() >= Duration::from_secs(1) {
            last_memory_check = Instant::now();
            memory_cron(&shared, now);
        }
        // A pause that ran out ends here even when no command notices.
        shared.pause.end_if_due(now);
        let expire = shared.active_expire.load(Ordering::Relaxed);
        shared.memory_peak.fetch_max(
            crate::alloc::allocated().unwrap_or_else(|| shared.tenancy.total_used()),
            Ordering::Relaxed,
        );
        let dbs = shared.keyspace.len();
        let mut cycle = ExpireCycle::timed(ExpireEffort::new(effort), hz);
        // DEBUG SET-ACTIVE-EXPIRE 0: each DB's clock is refreshed only.
        cycle.timed_out = !expire;
        let start = expire_next_db % dbs;
        for k in 0..dbs {
            let i = (start + k) % dbs;
            // Short lock per DB: the tick's time limit bounds the expiry.
            let Some(mut db) = shared.keyspace.try_lock(i) else {
                continue;
            };
            if !cycle.timed_out {
                expire_next_db = i + 1;
            }
            let started = Instant::now();
            db.active_expire(now, &mut cycle);
            shared.latency_event("expire-cycle", started.elapsed());
            // Expiry and other DBs' cross-DB writes change usage too: the
            // global limit's sum is never more than one tick stale.
            shared.tenancy.recount(i, &db);
            // What the DB did on its own since (active expiry, and what no
            // command's hook collected) goes to the log under its lock, so
            // it keeps its place among the DB's writes.
            let logged = db.take_effects();
            if !logged.is_empty() {
                let effects: Vec<_> = logged.into_iter().map(|(_, c)| (i, c)).collect();
                if shared.tracking.is_on() {
                    tracking::after_cron(&shared, i, &effects);
                }
                shared.propagation.emit(effects, false);
            }
            // Active expiry's events, and what no command published.
            if !db.notes.pending.is_empty() {
                let notes = db.notes.take();
                notify::publish(&shared, i, &notes);
            }
        }
    }
}
