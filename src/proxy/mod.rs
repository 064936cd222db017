//! Proxy mode (`keyward proxy --upstream redis://…`): the same admission
//! (auth, ACL with `db=`, arity, quotas) in front of an unmodified Redis or
//! Valkey, with the keyspace remote.
//!
//! - [`upstream`]: upstream connections. Shared ones are pipelined and
//!   pooled by (DB, upstream user, RESP version); every (re)connect
//!   replays the handshake (HELLO 3, AUTH, SELECT, the tenant's AUTH), so
//!   no client ever runs in another's DB.
//!   Dedicated ones serve one stateful client (WATCH, blocking commands,
//!   Pub/Sub) and are closed, never pooled, when it leaves.
//! - [`connection`]: a client of the proxy, the executor that decides per
//!   admitted command whether it is answered here, forwarded, or moves the
//!   client to a dedicated connection.
//! - [`resp`]: the length of one RESP2/RESP3 reply frame, to match replies.
//! - [`tenant`]: per-tenant upstream ACL users (`keyward-<name>`), so a
//!   DB-restricted user's scripts cannot leave its DB either.
//! - [`quota`]: `max-keys`/`maxmemory` from polled upstream figures, and
//!   INFO's tenancy section.
//! - [`stream`]: an upstream socket, plain or TLS (`rediss://`).

pub mod connection;
pub mod quota;
pub mod resp;
pub mod stream;
pub mod tenant;
pub mod upstream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;
use tracing::warn;

use crate::acl::User;
use tenant::Tenant;

/// The `[proxy]` table (also `--upstream` on the command line).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProxyConfig {
    /// `redis://[user:pass@]host:port`, or `rediss://…` for TLS; `None` =
    /// not a proxy.
    pub upstream: Option<String>,
    /// An environment variable holding the upstream credentials, as
    /// `password` or `user:password` (so they are never written in a file);
    /// it overrides credentials in the URL.
    pub auth_env: Option<String>,
    /// Shared connections per (DB, RESP version); default 2.
    pub pool_size: Option<usize>,
    /// Connect (and handshake) timeout in milliseconds; default 2000.
    pub connect_timeout_ms: Option<u64>,
    /// How long a shared connection may owe replies without sending a byte
    /// before it is declared broken, in milliseconds; default 10000, 0 = no
    /// limit. Dedicated connections (blocking commands) have none.
    pub op_timeout_ms: Option<u64>,
    /// Lets DB-restricted users run EVAL/EVALSHA/FCALL although a script
    /// can `redis.call('select', …)` past the proxy's checks (only matters
    /// without admin credentials: with them, tenants' upstream users
    /// cannot SELECT).
    #[serde(default)]
    pub allow_pinned_scripts: bool,
    /// How often `max-keys`/`maxmemory` figures are polled from the
    /// upstream, in milliseconds; default 250 (see [`quota`]).
    pub quota_poll_ms: Option<u64>,
    /// `rediss://`: the CAs that verify the upstream's certificate (a PEM
    /// file and/or a directory of them; one is required).
    pub tls_ca_cert_file: Option<String>,
    pub tls_ca_cert_dir: Option<String>,
    /// `rediss://`: a client certificate and its key (unencrypted PEM),
    /// for an upstream with `tls-auth-clients yes` (Redis's default).
    pub tls_cert_file: Option<String>,
    pub tls_key_file: Option<String>,
    /// The upstream user that provisions tenants' users (`ACL SETUSER`);
    /// default `default`. Used only with `admin-password-env`.
    pub admin_user: Option<String>,
    /// An environment variable holding `admin-user`'s password: with it,
    /// every DB-restricted user talks upstream as its own ACL user
    /// `keyward-<name>` (see [`tenant`]).
    pub admin_password_env: Option<String>,
}

/// The URL may carry a password: never printed.
impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let upstream = self
            .upstream
            .as_deref()
            .map(|u| Upstream::parse(u).map_or_else(|_| "(invalid)".to_string(), |u| u.shown()));
        f.debug_struct("ProxyConfig")
            .field("upstream", &upstream)
            .field("auth_env", &self.auth_env)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("op_timeout_ms", &self.op_timeout_ms)
            .field("allow_pinned_scripts", &self.allow_pinned_scripts)
            .field("quota_poll_ms", &self.quota_poll_ms)
            .field("tls_ca_cert_file", &self.tls_ca_cert_file)
            .field("tls_ca_cert_dir", &self.tls_ca_cert_dir)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("admin_user", &self.admin_user)
            .field("admin_password_env", &self.admin_password_env)
            .finish()
    }
}

/// Where and as whom the proxy connects.
#[derive(Clone)]
pub struct Upstream {
    /// `host:port`, as `TcpStream::connect` takes it.
    pub addr: String,
    /// The host alone (without brackets): the name a TLS upstream's
    /// certificate must carry.
    pub host: String,
    /// `rediss://`.
    pub tls: bool,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Upstream {
    /// Parses `redis[s]://[user:pass@]host[:port][/]`.
    pub fn parse(url: &str) -> Result<Upstream, String> {
        let (tls, rest) = match url.strip_prefix("rediss://") {
            Some(rest) => (true, rest),
            None => (
                false,
                url.strip_prefix("redis://").ok_or_else(|| {
                    "upstream must be a redis://host:port or rediss://host:port URL".to_string()
                })?,
            ),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(
                "upstream URL takes no DB path: each client's DB is selected per pool".into(),
            );
        }
        let (userinfo, host) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if host.is_empty() {
            return Err("upstream URL has no host".into());
        }
        let addr = if host.starts_with('[') {
            if host.contains("]:") {
                host.to_string()
            } else {
                format!("{host}:6379")
            }
        } else if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:6379")
        };
        let bare = match host.strip_prefix('[') {
            Some(h) => h.split(']').next().unwrap_or(h),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (
                    (!user.is_empty()).then(|| percent_decode(user)),
                    Some(percent_decode(pass)),
                ),
                None => (Some(percent_decode(u)), None),
            },
        };
        Ok(Upstream {
            addr,
            host: bare.to_string(),
            tls,
            user,
            password,
        })
    }

    /// The URL without its password, for logs.
    pub fn shown(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        match (&self.user, &self.password) {
            (_, Some(_)) => format!(
                "{scheme}://{}:***@{}",
                self.user.as_deref().unwrap_or(""),
                self.addr
            ),
            (Some(u), None) => format!("{scheme}://{u}@{}", self.addr),
            _ => format!("{scheme}://{}", self.addr),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The proxy's shared state: upstream settings, tenants' upstream users
/// and the shared pools.
pub struct Proxy {
    pub upstream: Arc<Settings>,
    pools: Mutex<HashMap<PoolKey, Arc<[upstream::PoolConn]>>>,
    /// keyward user name → its upstream user (admin credentials only).
    tenants: Mutex<HashMap<String, Arc<Tenant>>>,
    /// Each DB's upstream figures for the quota gate (set by [`Proxy::start`]).
    pub remote: std::sync::OnceLock<Arc<[quota::RemoteDb]>>,
    quota_poll: Duration,
}

/// A shared pool's key: (DB, upstream user's [`Tenant::id`] (`None` = the
/// base credentials), RESP3?).
type PoolKey = (usize, Option<u64>, bool);

/// What every upstream connection needs to (re)connect.
pub struct Settings {
    pub target: Upstream,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    /// `None` = no limit.
    pub op_timeout: Option<Duration>,
    pub allow_pinned_scripts: bool,
    /// (user, password) allowed to `ACL SETUSER` upstream.
    pub admin: Option<(String, String)>,
    /// `rediss://`.
    pub tls: Option<stream::TlsUpstream>,
}

impl Settings {
    /// Whether DB-restricted users get their own upstream users.
    pub fn per_tenant_users(&self) -> bool {
        self.admin.is_some()
    }
}

impl Proxy {
    /// Checks the `[proxy]` settings; the upstream need not be up yet.
    pub fn new(cfg: &ProxyConfig) -> Result<Proxy, String> {
        let url = cfg
            .upstream
            .as_deref()
            .ok_or_else(|| "proxy mode needs an upstream URL".to_string())?;
        let mut target = Upstream::parse(url)?;
        if let Some(var) = &cfg.auth_env {
            let v = std::env::var(var)
                .map_err(|_| format!("[proxy] auth-env: environment variable {var} is not set"))?;
            match v.split_once(':') {
                Some((u, p)) => {
                    target.user = Some(u.to_string());
                    target.password = Some(p.to_string());
                }
                None => target.password = Some(v),
            }
        }
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let tls = if target.tls {
            let config = crate::tls::client_config(
                &opt(&cfg.tls_ca_cert_file),
                &opt(&cfg.tls_ca_cert_dir),
                &opt(&cfg.tls_cert_file),
                &opt(&cfg.tls_key_file),
            )
            .map_err(|e| format!("[proxy] {e}"))?;
            let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                .map_err(|e| format!("upstream host {}: {e}", target.host))?;
            Some(stream::TlsUpstream { config, name })
        } else {
            let set = [
                &cfg.tls_ca_cert_file,
                &cfg.tls_ca_cert_dir,
                &cfg.tls_cert_file,
                &cfg.tls_key_file,
            ];
            if set.iter().any(|o| o.is_some()) {
                return Err(
                    "[proxy] tls-* settings need a rediss:// upstream (the upstream URL is redis://)"
                        .into(),
                );
            }
            None
        };
        let pool_size = cfg.pool_size.unwrap_or(2);
        if pool_size == 0 {
            return Err("[proxy] pool-size must be at least 1".into());
        }
        let op = cfg.op_timeout_ms.unwrap_or(10_000);
        let admin = match &cfg.admin_password_env {
            Some(var) => {
                let pw = std::env::var(var).map_err(|_| {
                    format!("[proxy] admin-password-env: environment variable {var} is not set")
                })?;
                let user = cfg.admin_user.clone().unwrap_or_else(|| "default".into());
                Some((user, pw))
            }
            None if cfg.admin_user.is_some() => {
                return Err(
                    "[proxy] admin-user needs admin-password-env (the password is never read from the file)"
                        .into(),
                )
            }
            None => None,
        };
        Ok(Proxy {
            upstream: Arc::new(Settings {
                target,
                pool_size,
                connect_timeout: Duration::from_millis(cfg.connect_timeout_ms.unwrap_or(2000)),
                op_timeout: (op > 0).then(|| Duration::from_millis(op)),
                allow_pinned_scripts: cfg.allow_pinned_scripts,
                admin,
                tls,
            }),
            pools: Mutex::new(HashMap::new()),
            tenants: Mutex::new(HashMap::new()),
            remote: std::sync::OnceLock::new(),
            quota_poll: Duration::from_millis(cfg.quota_poll_ms.unwrap_or(250).max(10)),
        })
    }

    /// The upstream user `user` talks as: its own when it is DB-restricted
    /// and admin credentials are configured, else the base credentials
    /// (`None`). Made on first need, with a password random per start.
    pub fn tenant_for(&self, user: &User) -> Option<Arc<Tenant>> {
        if !self.upstream.per_tenant_users() {
            return None;
        }
        let dbs = user.visible_dbs()?;
        let mut tenants = self.tenants.lock();
        let t = tenants
            .entry(user.name.clone())
            .or_insert_with(|| Tenant::new(&user.name, dbs.to_vec()));
        // ACL SETUSER at the proxy may have changed the user's DBs: a new
        // identity, provisioned again with the new `db=` rule.
        if t.dbs != dbs {
            *t = Tenant::new(&user.name, dbs.to_vec());
        }
        Some(t.clone())
    }

    /// Work at startup, in the background (the upstream may not be up):
    /// starts the quota poller and provisions the upstream users of the
    /// DB-restricted users that exist.
    pub fn start(self: &Arc<Self>, srv: &Arc<crate::server::Shared>) {
        let databases = srv.config.read().databases;
        let remote: Arc<[quota::RemoteDb]> =
            (0..databases).map(|_| quota::RemoteDb::default()).collect();
        if self.remote.set(remote.clone()).is_ok() {
            tokio::spawn(quota::poll(
                self.upstream.clone(),
                Arc::downgrade(srv),
                remote,
                self.quota_poll,
            ));
        }
        if !self.upstream.per_tenant_users() {
            return;
        }
        let tenants: Vec<Arc<Tenant>> = srv
            .acl
            .users()
            .iter()
            .filter_map(|u| self.tenant_for(u))
            .collect();
        let up = self.upstream.clone();
        tokio::spawn(async move {
            for t in tenants {
                if let Err(e) = upstream::provision(&up, &t).await {
                    warn!(user = %t.user, error = %e, "could not provision the upstream user (retried on first use)");
                }
            }
        });
    }

    /// The quota gate for a command that may add data to `db`.
    pub fn quota(
        &self,
        srv: &crate::server::Shared,
        db: usize,
    ) -> Result<(), crate::commands::errors::Error> {
        match self.remote.get() {
            Some(r) => quota::check(&srv.tenancy, r, db),
            None => Ok(()),
        }
    }

    /// INFO's `# Tenancy` section as the standalone server writes it, from
    /// the upstream's polled figures (keys, estimated memory) and the
    /// proxy's own counters; only the DBs `user` sees.
    pub fn tenancy_section(&self, srv: &crate::server::Shared, user: &User) -> String {
        let remote = self.remote.get().map(|r| &r[..]).unwrap_or(&[]);
        quota::tenancy_section(srv, remote, user)
    }

    /// The shared connection a client uses for (`db`, RESP3?): one of the
    /// pool's, the same for every request of that client, so its replies
    /// come back in order. Connections start on first use.
    pub fn shared_conn(
        &self,
        db: usize,
        tenant: Option<&Arc<Tenant>>,
        resp3: bool,
        client: u64,
    ) -> upstream::PoolConn {
        let mut pools = self.pools.lock();
        let key = (db, tenant.map(|t| t.id), resp3);
        let pool = pools.entry(key).or_insert_with(|| {
            (0..self.upstream.pool_size)
                .map(|_| upstream::spawn_shared(self.upstream.clone(), db, resp3, tenant.cloned()))
                .collect()
        });
        pool[(client % pool.len() as u64) as usize].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::Upstream;

    #[test]
    fn upstream_urls() {
        let u = Upstream::parse("redis://127.0.0.1:7000").unwrap();
        assert_eq!(u.addr, "127.0.0.1:7000");
        assert!(u.user.is_none() && u.password.is_none());
        let u = Upstream::parse("redis://admin:s%40cret@db.internal/").unwrap();
        assert_eq!(u.addr, "db.internal:6379");
        assert_eq!(u.user.as_deref(), Some("admin"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(u.shown(), "redis://admin:***@db.internal:6379");
        let u = Upstream::parse("redis://:pw@h:1").unwrap();
        assert!(u.user.is_none());
        assert_eq!(u.password.as_deref(), Some("pw"));
        let u = Upstream::parse("rediss://u:p@cache.example:6380").unwrap();
        assert!(u.tls);
        assert_eq!(u.host, "cache.example");
        assert_eq!(u.shown(), "rediss://u:***@cache.example:6380");
        let u = Upstream::parse("rediss://[::1]:7000").unwrap();
        assert_eq!((u.addr.as_str(), u.host.as_str()), ("[::1]:7000", "::1"));
        assert_eq!(Upstream::parse("redis://h").unwrap().host, "h");
        assert!(Upstream::parse("http://h").is_err());
        assert!(Upstream::parse("redis://h:1/2").is_err());
    }
}
