//! Configuration: defaults, the TOML file, redis-server-style flags.
//!
//! Flags follow redis-server's grammar rather than a conventional CLI
//! parser's: `keyward [FILE] [--name value...]...`, where a flag takes every
//! word up to the next `--` (so `--save 900 1 300 10` and `--save ""` both
//! work) and flags we do not implement are logged and ignored, so that tools
//! which spawn `redis-server --port N --loglevel notice` can spawn keyward.

#[cfg(any(test, fuzzing))]
pub mod fuzz;
pub mod params;
pub mod redisconf;
pub mod rewrite;

use std::path::PathBuf;

use serde::Deserialize;
use thiserror::Error;

use crate::keyspace::evict::Policy;
use crate::tenancy::OpsMode;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("bad value for '{name}': {message}")]
    Value { name: String, message: String },
    /// A redis.conf error, already in Redis's words and layout (see
    /// [`redisconf::fatal`]): printed as it is.
    #[error("{0}")]
    Fatal(String),
}

/// Settings of a running server. CONFIG GET/SET read and write it through
/// the parameter table in [`params`].
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub requirepass: Option<String>,
    /// `requirepass-env` (ours): the environment variable `requirepass`
    /// was read from, so the secret never sits on a command line or in a
    /// file ("" = none). CONFIG REWRITE leaves `requirepass` out then.
    pub requirepass_env: String,
    pub databases: usize,
    /// Idle client timeout in seconds (0 = never).
    pub timeout: u64,
    pub maxclients: usize,
    pub protected_mode: bool,
    pub loglevel: String,
    pub dir: PathBuf,
    pub save: String,
    pub appendonly: bool,
    /// Whether this server reads and writes files in `dir` at all: the
    /// `keyward` binary does (as redis-server), an embedded server only
    /// when asked (`ServerBuilder::persistence`), so test suites that embed
    /// it leave no `dump.rdb` behind and load none.
    pub persistence: bool,
    /// `dbfilename`.
    pub dbfilename: String,
    /// `appendfilename`, `appenddirname`.
    pub appendfilename: String,
    pub appenddirname: String,
    /// `appendfsync`: always, everysec or no.
    pub appendfsync: String,
    pub aof_use_rdb_preamble: bool,
    pub aof_load_truncated: bool,
    pub aof_timestamp_enabled: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub no_appendfsync_on_rewrite: bool,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    /// `disable-thp`: the `keyward` binary turns transparent huge pages off
    /// for itself at startup, as redis-server does by default (for its
    /// fork). keyward forks nothing, so its default is no; a dataset load
    /// runs without them either way (see `persistence::runtime`). Fixed at
    /// startup.
    pub disable_thp: bool,
    pub stop_writes_on_bgsave_error: bool,
    /// `sanitize-dump-payload`: keyward always sanitises deeply (the
    /// strictest setting), whatever this says.
    pub sanitize_dump_payload: String,
    /// `rdb-version` (ours): 11 writes what Redis 7.2 writes, 10 what 7.0 loads.
    pub rdb_version: u16,
    /// `enable-protected-configs`: no (default), yes, local.
    pub enable_protected_configs: String,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    /// `tracking-table-max-keys`: the most keys CLIENT TRACKING remembers
    /// (0: no limit); past it, keys are dropped with an invalidation.
    pub tracking_table_max_keys: u64,
    pub hz: u32,
    /// `active-expire-effort` (1..10): how hard the active expiry cycle works.
    pub active_expire_effort: u32,
    /// `shutdown-on-sigterm`/`-sigint`: SHUTDOWN's flags for that signal
    /// (`default`, or `save`|`nosave`, `now`, `force` as
    /// [`crate::server::ShutdownFlags::parse`] reads them).
    pub shutdown_on_sigterm: String,
    pub shutdown_on_sigint: String,
    /// `client-output-buffer-limit` by class (normal, replica, pubsub).
    pub client_output_buffer_limit: [crate::server::obuf::Limit; 3],
    /// `maxmemory-clients`: bytes, or (negative) a percentage of maxmemory.
    pub maxmemory_clients: i64,
    /// `busy-reply-threshold` (alias `lua-time-limit`), ms: how long a
    /// script runs before other clients get BUSY and SCRIPT KILL works.
    pub busy_reply_threshold: u64,
    /// `auth-fail-delay`, ms (0 = off): repeated failed AUTHs from one
    /// address are answered this long after, doubling per failure (10 s at
    /// most; see `acl::failures`).
    pub auth_fail_delay: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u32,
    /// `lfu-log-factor`, `lfu-decay-time`: the LFU counter's growth and
    /// decay under the LFU policies (and OBJECT FREQ).
    pub lfu: crate::keyspace::evict::Lfu,
    pub tcp_keepalive: u64,
    pub daemonize: bool,
    /// `unixsocket`: a path to serve clients on as well ("" = none); with
    /// `port 0` only there, as redis-server.
    pub unixsocket: String,
    /// `unixsocketperm`: the socket file's mode (0 = as the umask leaves it).
    pub unixsocketperm: u32,
    /// `pidfile` ("" = none): written by the binary at start, removed at exit.
    pub pidfile: String,
    /// `logfile` ("" = standard output), opened by the binary at start.
    pub logfile: String,
    /// `log-format` (ours): `text` (default) or `json`, one object a line.
    pub log_format: String,
    /// `supervised`: no, systemd, upstart or auto (systemd when
    /// `NOTIFY_SOCKET` is set): the binary tells systemd when it is ready
    /// and when it stops.
    pub supervised: String,
    /// Small-encoding thresholds of the collection types.
    pub thresholds: crate::keyspace::value::Thresholds,
    /// `[proxy]`: the upstream of `keyward proxy` (see [`crate::proxy`]).
    pub proxy: crate::proxy::ProxyConfig,
    /// `rename-command FROM TO` directives in order (`TO` empty: the
    /// command is removed); see [`crate::commands::table::Renames`]. Only
    /// from the config file or flags, never CONFIG SET, as in Redis.
    pub rename_command: Vec<(String, String)>,
    /// hll-sparse-max-bytes: a sparse HyperLogLog (header included) that
    /// would grow past this is converted to dense.
    pub hll_sparse_max_bytes: u64,
    /// Runtime worker threads (redis-server's `io-threads`, default 1 as
    /// there); 0 = one per core.
    pub io_threads: usize,
    /// ACL LOAD / ACL SAVE file (`aclfile`); read at startup when set.
    pub aclfile: Option<String>,
    /// `[[user]]` tables, validated when the file was read.
    pub users: Vec<UserConfig>,
    /// `flushall-scope own`: a DB-restricted user's FLUSHALL flushes only
    /// its DBs; `deny` (false, the default) refuses it with NOPERM.
    pub flushall_own: bool,
    /// `pubsub-scope db`: channels per DB; `global` (false) is Redis's.
    pub pubsub_per_db: bool,
    /// `script-scope db`: a script cache per DB; `global` (false) is Redis's.
    pub script_per_db: bool,
    /// `notify-keyspace-events` as Redis's `NOTIFY_*` bits
    /// (`keyspace::notify::class`); 0, Redis's default, publishes nothing.
    pub notify_keyspace_events: u32,
    /// Prometheus exposition address (`--metrics-addr`); None = off.
    pub metrics_addr: Option<String>,
    /// Values of the parameters keyward takes but does not act on
    /// (`params::Class::Accepted`), by name; absent = Redis's default.
    pub accepted: std::collections::BTreeMap<&'static str, String>,
    /// `acllog-max-len`: entries ACL LOG keeps.
    pub acllog_max_len: usize,
    /// `acl-pubsub-default allchannels` (Redis's default: resetchannels).
    pub acl_pubsub_allchannels: bool,
    /// `[[db]]` tables: per-DB limits, at most one per index (DESIGN.md,
    /// "Tenancy model"). DBs without one have no limits of their own and
    /// run under `maxmemory-policy`.
    pub dbs: Vec<DbConfig>,
    /// The TOML file these settings were read from (the last one, if the
    /// command line named several), made absolute as Redis keeps it so a
    /// later `chdir` cannot redirect it: what CONFIG REWRITE writes and
    /// INFO's `config_file`. `None`: CONFIG REWRITE has nowhere to write.
    pub config_file: Option<PathBuf>,
    /// The format of `config_file`: what CONFIG REWRITE writes.
    pub config_format: redisconf::Format,
    /// The `tls-*` settings (`server::tls` builds rustls's from them).
    pub tls: TlsConfig,
}

/// `tls-auth-clients`: whether a client must present a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsAuthClients {
    No,
    /// Redis's default: a client without a certificate is refused.
    #[default]
    Yes,
    /// A certificate is verified if given, but not required.
    Optional,
}

impl TlsAuthClients {
    pub fn name(self) -> &'static str {
        match self {
            TlsAuthClients::No => "no",
            TlsAuthClients::Yes => "yes",
            TlsAuthClients::Optional => "optional",
        }
    }
}

/// Redis's `tls-*` settings for client connections, as written (empty =
/// unset). What they mean is in `server::tls`.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// `tls-port`: 0 = no TLS listener.
    pub port: u16,
    pub cert_file: String,
    pub key_file: String,
    /// `tls-key-file-pass`: a secret, never printed (see the `Debug` impl).
    pub key_file_pass: String,
    pub ca_cert_file: String,
    pub ca_cert_dir: String,
    pub auth_clients: TlsAuthClients,
    pub protocols: String,
    pub ciphers: String,
    pub ciphersuites: String,
    pub prefer_server_ciphers: bool,
    pub session_caching: bool,
    pub session_cache_size: u64,
    pub session_cache_timeout: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            port: 0,
            cert_file: String::new(),
            key_file: String::new(),
            key_file_pass: String::new(),
            ca_cert_file: String::new(),
            ca_cert_dir: String::new(),
            auth_clients: TlsAuthClients::Yes,
            protocols: String::new(),
            ciphers: String::new(),
            ciphersuites: String::new(),
            prefer_server_ciphers: false,
            session_caching: true,
            session_cache_size: 20480,
            session_cache_timeout: 300,
        }
    }
}

/// The key's passphrase stays out of every log line that prints a config.
impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("port", &self.port)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field(
                "key_file_pass",
                &if self.key_file_pass.is_empty() {
                    ""
                } else {
                    "(redacted)"
                },
            )
            .field("ca_cert_file", &self.ca_cert_file)
            .field("ca_cert_dir", &self.ca_cert_dir)
            .field("auth_clients", &self.auth_clients)
            .field("protocols", &self.protocols)
            .field("ciphers", &self.ciphers)
            .field("ciphersuites", &self.ciphersuites)
            .field("prefer_server_ciphers", &self.prefer_server_ciphers)
            .field("session_caching", &self.session_caching)
            .field("session_cache_size", &self.session_cache_size)
            .field("session_cache_timeout", &self.session_cache_timeout)
            .finish()
    }
}

/// One `[[db]]` table. 0 means "no limit" for every numeric field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbConfig {
    pub index: usize,
    pub name: String,
    /// This DB's own limit in bytes; 0 = only the global `maxmemory` applies.
    pub maxmemory: u64,
    /// `None` = the `[server] maxmemory-policy` default.
    pub maxmemory_policy: Option<Policy>,
    pub max_keys: u64,
    pub max_ops_per_sec: u64,
    pub max_ops_mode: OpsMode,
    pub max_clients: u64,
    /// `persist = false`: the DB (a cache) stays out of RDB files and the
    /// AOF entirely; a restart starts it empty.
    pub no_persist: bool,
    /// `appendfsync = "always"`: replies to writes in this DB wait for the
    /// fsync covering them, whatever the server's `appendfsync`.
    pub fsync_always: bool,
}

impl DbConfig {
    pub fn new(index: usize) -> DbConfig {
        DbConfig {
            index,
            ..DbConfig::default()
        }
    }

    /// Reads one `[[db]]` table (`n` = its 1-based position, for messages
    /// about a table whose index is missing or bad).
    fn from_table(t: &toml::Table, n: usize, databases: usize) -> Result<DbConfig, String> {
        let index = match t.get("index") {
            None => return Err(format!("[[db]] #{n}: index: required")),
            Some(toml::Value::Integer(i)) if *i >= 0 && (*i as u64) < databases as u64 => {
                *i as usize
            }
            Some(toml::Value::Integer(i)) => {
                return Err(format!(
                    "[[db]] #{n}: index: {i} is out of range (databases = {databases}, so 0..{})",
                    databases.saturating_sub(1)
                ))
            }
            Some(other) => {
                return Err(format!(
                    "[[db]] #{n}: index: expected an integer, got {other}"
                ))
            }
        };
        let mut db = DbConfig::new(index);
        for (k, v) in t {
            let err = |m: String| format!("[[db]] index {index}: {k}: {m}");
            match k.as_str() {
                "index" => {}
                "name" => match v {
                    toml::Value::String(s) => db.name = s.clone(),
                    other => return Err(err(format!("expected a string, got {other}"))),
                },
                "maxmemory" => {
                    db.maxmemory = match v {
                        toml::Value::Integer(i) if *i >= 0 => *i as u64,
                        toml::Value::String(s) => parse_memory(s).ok_or_else(|| {
                            err(format!("'{s}' is not a memory value (e.g. 512mb, 1gb)"))
                        })?,
                        other => {
                            return Err(err(format!(
                                "expected bytes or a memory value, got {other}"
                            )))
                        }
                    }
                }
                "maxmemory-policy" => {
                    let s = v
                        .as_str()
                        .ok_or_else(|| err(format!("expected a string, got {v}")))?;
                    let p = Policy::parse(s.as_bytes())
                        .ok_or_else(|| err(format!("unknown policy '{s}'")))?;
                    db.maxmemory_policy = Some(p);
                }
                "max-keys" => db.max_keys = count(v).map_err(err)?,
                "max-ops-per-sec" => db.max_ops_per_sec = count(v).map_err(err)?,
                "max-clients" => db.max_clients = count(v).map_err(err)?,
                "appendfsync" => match v.as_str() {
                    Some("always") => db.fsync_always = true,
                    Some("everysec") | Some("no") => db.fsync_always = false,
                    _ => {
                        return Err(err(format!(
                            "expected \"always\", \"everysec\" or \"no\", got {v}"
                        )))
                    }
                },
                "persist" => match v {
                    toml::Value::Boolean(b) => db.no_persist = !b,
                    other => return Err(err(format!("expected true or false, got {other}"))),
                },
                "max-ops-mode" => {
                    db.max_ops_mode = match v.as_str() {
                        Some(s) if s.eq_ignore_ascii_case("throttle") => OpsMode::Throttle,
                        Some(s) if s.eq_ignore_ascii_case("reject") => OpsMode::Reject,
                        _ => {
                            return Err(err(format!(
                                "expected \"throttle\" or \"reject\", got {v}"
                            )))
                        }
                    }
                }
                _ => return Err(err("unknown field".into())),
            }
        }
        Ok(db)
    }
}

/// A `[server]` value in redis.conf spelling: booleans become yes/no,
/// arrays are joined with spaces. `None` for what the file may not hold
/// (floats, dates, tables).
/// `rename-command = [["CONFIG", ""], ["FLUSHALL", "flushall-9f2c"]]`.
fn toml_renames(v: &toml::Value) -> Result<Vec<(String, String)>, String> {
    let bad = || "expected an array of [\"FROM\", \"TO\"] pairs (\"\" as TO removes)".to_string();
    let toml::Value::Array(pairs) = v else {
        return Err(bad());
    };
    pairs
        .iter()
        .map(|p| match p.as_array().map(Vec::as_slice) {
            Some([toml::Value::String(from), toml::Value::String(to)]) => {
                Ok((from.clone(), to.clone()))
            }
            _ => Err(bad()),
        })
        .collect()
}

fn server_value(v: &toml::Value) -> Option<String> {
    Some(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| match x {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => return None,
    })
}

/// A non-negative integer limit.
fn count(v: &toml::Value) -> Result<u64, String> {
    match v {
        toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        other => Err(format!("expected a non-negative integer, got {other}")),
    }
}

/// One `[[user]]` table: rules in ACL SETUSER syntax, the password from
/// an environment variable (never written in the file).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    #[serde(rename = "password-env")]
    pub password_env: Option<String>,
    #[serde(default)]
    pub rules: String,
    /// The rules as separate words, when they came that way (a redis.conf
    /// `user` line, whose quoted words may hold spaces); `rules` is unused then.
    #[serde(skip)]
    pub words: Option<Vec<Vec<u8>>>,
    /// Resolved from `password-env` when the file is read.
    #[serde(skip)]
    pub password: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into(), "::1".into()],
            port: 6379,
            requirepass: None,
            requirepass_env: String::new(),
            databases: 16,
            timeout: 0,
            busy_reply_threshold: 5000,
            auth_fail_delay: 0,
            maxclients: 10_000,
            protected_mode: true,
            loglevel: "notice".into(),
            dir: PathBuf::from("."),
            save: "3600 1 300 100 60 10000".into(),
            appendonly: false,
            persistence: false,
            dbfilename: "dump.rdb".into(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            appendfsync: "everysec".into(),
            aof_use_rdb_preamble: true,
            aof_load_truncated: true,
            aof_timestamp_enabled: false,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            no_appendfsync_on_rewrite: false,
            rdbcompression: true,
            rdbchecksum: true,
            disable_thp: false,
            stop_writes_on_bgsave_error: true,
            sanitize_dump_payload: "no".into(),
            rdb_version: 11,
            enable_protected_configs: "no".into(),
            proto_max_bulk_len: 512 * 1024 * 1024,
            hll_sparse_max_bytes: 3000,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            tracking_table_max_keys: 1_000_000,
            hz: 10,
            active_expire_effort: 1,
            shutdown_on_sigterm: "default".into(),
            shutdown_on_sigint: "default".into(),
            client_output_buffer_limit: crate::server::obuf::DEFAULTS,
            maxmemory_clients: 0,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            lfu: Default::default(),
            tcp_keepalive: 300,
            daemonize: false,
            unixsocket: String::new(),
            unixsocketperm: 0,
            pidfile: String::new(),
            logfile: String::new(),
            log_format: "text".into(),
            supervised: "no".into(),
            io_threads: 1,
            aclfile: None,
            users: Vec::new(),
            flushall_own: false,
            pubsub_per_db: false,
            script_per_db: false,
            notify_keyspace_events: 0,
            metrics_addr: None,
            accepted: Default::default(),
            acllog_max_len: crate::acl::log::MAX_LEN,
            acl_pubsub_allchannels: false,
            dbs: Vec::new(),
            config_file: None,
            config_format: Default::default(),
            thresholds: Default::default(),
            tls: TlsConfig::default(),
            proxy: Default::default(),
            rename_command: Vec::new(),
        }
    }
}

/// The TOML file's `[server]` table (keys as in redis.conf).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: toml::Table,
    #[serde(default)]
    user: Vec<UserConfig>,
    /// Read by hand (not derived) so every error names the table and field.
    #[serde(default)]
    db: Vec<toml::Table>,
    /// Proxy mode's settings (read only by `keyward proxy`).
    proxy: Option<crate::proxy::ProxyConfig>,
}

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct Cli {
    pub config: Config,
    /// Flags accepted but not implemented (logged at startup).
    pub ignored: Vec<String>,
    pub help: bool,
    pub version: bool,
}

impl Config {
    /// Applies one `name value` setting (redis.conf / flag / CONFIG SET
    /// spelling). Unknown names yield `Ok(false)`.
    pub fn apply(&mut self, name: &str, value: &str) -> Result<bool, ConfigError> {
        params::set(self, name, value)
    }

    /// Loads a configuration file over the current settings and remembers
    /// it as the file CONFIG REWRITE writes: TOML or redis.conf, as
    /// [`redisconf::detect`] tells.
    pub fn load_file(&mut self, path: &str, ignored: &mut Vec<String>) -> Result<(), ConfigError> {
        self.load_file_with(path, "", ignored)
    }

    /// [`Config::load_file`] with redis-server's `options` (flags as
    /// config lines, [`redisconf::options_from_args`]) appended to a
    /// redis.conf file; ignored for TOML.
    fn load_file_with(
        &mut self,
        path: &str,
        options: &str,
        ignored: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_string(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        if redisconf::detect(path, &text) == redisconf::Format::RedisConf {
            return redisconf::load(self, path, &bytes, options, ignored);
        }
        self.load_toml(&text, path, ignored)?;
        self.config_format = redisconf::Format::Toml;
        let path = std::path::Path::new(path);
        self.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.into()));
        Ok(())
    }

    /// Loads TOML text over the current settings; `path` names it in errors.
    pub fn load_toml(
        &mut self,
        text: &str,
        path: &str,
        ignored: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        for (k, v) in &file.server {
            if k == "rename-command" {
                let parse = |message: String| ConfigError::Parse {
                    path: path.to_string(),
                    message: format!("[server] rename-command: {message}"),
                };
                self.rename_command.extend(toml_renames(v).map_err(parse)?);
                crate::commands::table::Renames::build(&self.rename_command).map_err(
                    |(i, e)| {
                        let (from, to) = &self.rename_command[i];
                        parse(format!("'{from}' '{to}': {e}"))
                    },
                )?;
                continue;
            }
            let value = server_value(v).ok_or_else(|| ConfigError::Parse {
                path: path.to_string(),
                message: format!("[server] {k}: unsupported value {v}"),
            })?;
            let known = self.apply(k, &value).map_err(|e| ConfigError::Parse {
                path: path.to_string(),
                message: format!("[server] {k}: {e}"),
            })?;
            if !known {
                return Err(ConfigError::Parse {
                    path: path.to_string(),
                    message: format!("[server] {k}: unknown setting"),
                });
            }
        }
        for (i, u) in file.user.iter().enumerate() {
            let err = |field: &str, message: String| ConfigError::Parse {
                path: path.to_string(),
                message: format!("[[user]] #{} ({}) {field}: {message}", i + 1, u.name),
            };
            // As redis.conf `user` lines (and Redis's ACL load): ACL LIST
            // and CONFIG REWRITE write names unquoted.
            if u.name
                .bytes()
                .any(|b| b == 0 || b == 0x0b || b.is_ascii_whitespace())
            {
                return Err(err("name", "Spaces not allowed in ACL usernames".into()));
            }
            let mut u = u.clone();
            if let Some(var) = &u.password_env {
                let p = std::env::var(var).map_err(|_| {
                    err(
                        "password-env",
                        format!("environment variable {var} is not set"),
                    )
                })?;
                u.password = Some(p);
            }
            let words: Vec<&[u8]> = u
                .rules
                .split_ascii_whitespace()
                .map(str::as_bytes)
                .collect();
            let words = crate::acl::rules::merge_selectors(&words).map_err(|e| err("rules", e))?;
            let mut check = crate::acl::User::new(&u.name);
            for w in &words {
                check.apply(w, self.databases).map_err(|e| {
                    err(
                        "rules",
                        format!("'{}': {}", String::from_utf8_lossy(w), e.text()),
                    )
                })?;
            }
            if self.users.iter().any(|x| x.name == u.name) {
                return Err(err("name", "duplicate user".into()));
            }
            self.users.push(u);
        }
        for (n, t) in file.db.iter().enumerate() {
            let db = DbConfig::from_table(t, n + 1, self.databases).map_err(|message| {
                ConfigError::Parse {
                    path: path.to_string(),
                    message,
                }
            })?;
            if self.dbs.iter().any(|d| d.index == db.index) {
                return Err(ConfigError::Parse {
                    path: path.to_string(),
                    message: format!(
                        "[[db]] index {}: index: duplicate (another [[db]] table has it)",
                        db.index
                    ),
                });
            }
            self.dbs.push(db);
        }
        if let Some(p) = file.proxy {
            self.proxy = p;
        }
        let _ = ignored;
        Ok(())
    }

    /// The `[[db]]` settings of `index`, created empty if it had none.
    /// CONFIG SET of a per-DB limit edits this, then calls
    /// [`crate::tenancy::Tenancy::apply`].
    pub fn db_mut(&mut self, index: usize) -> &mut DbConfig {
        let pos = match self.dbs.iter().position(|d| d.index == index) {
            Some(p) => p,
            None => {
                self.dbs.push(DbConfig::new(index));
                self.dbs.len() - 1
            }
        };
        &mut self.dbs[pos]
    }

    /// Checks the `rename-command` directives (Redis's errors); proxy mode
    /// refuses them: its upstream answers to the original names.
    pub fn check_renames(&self) -> Result<(), ConfigError> {
        if self.rename_command.is_empty() {
            return Ok(());
        }
        let err = |message: String| ConfigError::Value {
            name: "rename-command".into(),
            message,
        };
        if self.proxy.upstream.is_some() {
            return Err(err(
                "keyward proxy cannot rename commands (the upstream answers to the original names)"
                    .into(),
            ));
        }
        crate::commands::table::Renames::build(&self.rename_command)
            .map(|_| ())
            .map_err(|(i, e)| {
                let (from, to) = &self.rename_command[i];
                err(format!("'{from}' '{to}': {e}"))
            })
    }

    /// Checks what only the whole configuration can tell: every `[[db]]`
    /// index below `databases` (a later `--databases` may have lowered it)
    /// and no index configured twice.
    pub fn check_dbs(&self) -> Result<(), ConfigError> {
        for (n, d) in self.dbs.iter().enumerate() {
            if d.index >= self.databases {
                return Err(ConfigError::Value {
                    name: "[[db]]".into(),
                    message: format!(
                        "[[db]] index {}: index: out of range (databases = {})",
                        d.index, self.databases
                    ),
                });
            }
            if self.dbs[..n].iter().any(|e| e.index == d.index) {
                return Err(ConfigError::Value {
                    name: "[[db]]".into(),
                    message: format!(
                        "[[db]] index {}: index: duplicate (another [[db]] table has it)",
                        d.index
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Parses `keyward [FILE] [--name value...]...`.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Cli, ConfigError> {
    let args: Vec<String> = args.into_iter().collect();
    let mut cli = Cli::default();
    // The binary is redis-server: it keeps its data in `dir`.
    cli.config.persistence = true;
    let mut i = 0;
    if let Some(first) = args.first() {
        match first.as_str() {
            "-h" | "--help" => cli.help = true,
            "-v" | "--version" => cli.version = true,
            f if !f.starts_with("--") => {
                // A redis.conf file takes the flags after it as its own
                // last lines, as redis-server does (so `save` adds up and a
                // refused value can be set back); TOML is read first and
                // the flags applied below.
                let is_redis = std::fs::read(f).is_ok_and(|b| {
                    redisconf::detect(f, &String::from_utf8_lossy(&b))
                        == redisconf::Format::RedisConf
                });
                if is_redis {
                    let options = redisconf::options_from_args(&args[1..]);
                    cli.config.load_file_with(f, &options, &mut cli.ignored)?;
                    cli.config.check_dbs()?;
                    return Ok(cli);
                }
                cli.config.load_file(f, &mut cli.ignored)?;
                i = 1;
            }
            _ => {}
        }
    }
    if cli.help || cli.version {
        return Ok(cli);
    }
    while i < args.len() {
        let flag = &args[i];
        let Some(name) = flag.strip_prefix("--") else {
            return Err(ConfigError::Value {
                name: flag.clone(),
                message: "expected --name".into(),
            });
        };
        i += 1;
        let mut values = Vec::new();
        while i < args.len() && !args[i].starts_with("--") {
            values.push(args[i].clone());
            i += 1;
        }
        match name {
            "help" => cli.help = true,
            "version" => cli.version = true,
            "config" => {
                let path = values.first().ok_or_else(|| ConfigError::Value {
                    name: "config".into(),
                    message: "needs a file".into(),
                })?;
                cli.config.load_file(path, &mut cli.ignored)?;
            }
            // redis.conf directives that are not parameters (CONFIG GET
            // does not list them) and that keyward cannot honour: ignoring
            // them would run a server without what they ask for.
            "rename-command" => match values.as_slice() {
                [from, to] => cli.config.rename_command.push((from.clone(), to.clone())),
                _ => {
                    return Err(ConfigError::Value {
                        name: name.to_string(),
                        message: "needs two arguments: FROM TO (\"\" as TO removes)".into(),
                    })
                }
            },
            "loadmodule" | "include" => {
                return Err(ConfigError::Value {
                    name: name.to_string(),
                    message: match name {
                        "loadmodule" => "keyward cannot load Redis modules",
                        _ => "keyward reads one TOML file, named first",
                    }
                    .into(),
                });
            }
            _ => {
                let value = values.join(" ");
                if !cli.config.apply(name, &value)? {
                    cli.ignored.push(format!("--{name} {value}"));
                }
            }
        }
    }
    cli.config.check_dbs()?;
    cli.config.check_renames()?;
    Ok(cli)
}

/// Parses Redis memory units: `100`, `1k`, `1kb`, `5mb`, `1gb` (k = 1000, kb = 1024).
pub fn parse_memory(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mul = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_names_with_spaces_are_refused() {
        let mut c = super::Config::default();
        let e = c
            .load_toml(
                "[[user]]\nname = \"alice x\"\nrules = \"on nopass\"\n",
                "t.toml",
                &mut Vec::new(),
            )
            .expect_err("a space in a user name");
        assert!(
            e.to_string()
                .contains("Spaces not allowed in ACL usernames"),
            "{e}"
        );
    }

    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn redis_style_flags() {
        let cli = parse_args(argv(&[
            "--port",
            "7000",
            "--save",
            "",
            "--loglevel",
            "notice",
            "--no-such",
            "x",
            "--databases",
            "4",
        ]))
        .unwrap();
        assert_eq!(cli.config.port, 7000);
        assert_eq!(cli.config.databases, 4);
        assert_eq!(cli.config.save, "");
        assert_eq!(cli.ignored, vec!["--no-such x".to_string()]);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(parse_args(argv(&["--port", "notaport"])).is_err());
        assert!(parse_args(argv(&["--loadmodule", "/x.so"])).is_err());
        assert!(parse_args(argv(&["--min-replicas-to-write", "1"])).is_err());
        assert!(parse_args(argv(&["--min-replicas-to-write", "0"])).is_ok());
        assert!(parse_args(argv(&["--databases", "0"])).is_err());
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("10k"), Some(10_000));
        assert_eq!(parse_memory("x"), None);
    }
}
