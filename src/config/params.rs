//! The parameter table: every setting CONFIG GET/SET, flags and the TOML
//! file know, with its parser and printer. One row per setting.

use super::{parse_memory, Config, ConfigError, DbConfig};
use crate::keyspace::evict::Policy;
use crate::tenancy::DbTenant;

type Getter = fn(&Config) -> String;
type Setter = fn(&mut Config, &str) -> Result<(), String>;

pub struct Param {
    pub name: &'static str,
    /// The global value (the file, flags, and CONFIG GET of a row without `db`).
    pub get: Getter,
    /// Sets the global value: the `[server]` table and flags always do.
    pub set: Setter,
    /// CONFIG SET may change it while running.
    pub mutable: bool,
    /// A secret (Redis's `SENSITIVE_CONFIG`): CONFIG SET's value is
    /// redacted in MONITOR and SLOWLOG, and a DB-restricted user's CONFIG
    /// GET does not list it.
    pub sensitive: bool,
    /// Read when the AOF opens: CONFIG SET refuses a change while it runs
    /// (reporting a value the writer does not use could weaken durability).
    pub aof_open: bool,
    /// Names a file the server writes (Redis 7's `PROTECTED_CONFIG`):
    /// CONFIG SET refuses it unless `enable-protected-configs` is `yes`
    /// (or `local`, for a loopback client), so a client with +config
    /// cannot point SAVE at `authorized_keys`.
    pub protected: bool,
    /// Set on the settings each DB may hold its own value of: a client's
    /// CONFIG GET/SET then act on its selected DB (DESIGN.md, "Tenancy model").
    pub db: Option<&'static DbParam>,
}

/// The per-DB side of a [`Param`].
pub struct DbParam {
    /// The DB's effective value (its own, else the global one).
    pub get: fn(&DbTenant, &Config) -> String,
    /// Parses `value` into the DB's `[[db]]` settings; the caller then
    /// re-applies the tenancy state from the configuration.
    pub set: fn(&mut DbConfig, &str) -> Result<(), String>,
    /// A DB-restricted user may set it on its own DB (its eviction
    /// policy); a limit the operator set (maxmemory) it may not lift.
    pub tenant_may_set: bool,
}

/// What CONFIG GET/SET act on: the server, or one DB's own settings.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    Server,
    Db { index: usize, tenant: &'a DbTenant },
}

impl Param {
    /// The value a client in `scope` sees.
    pub fn value(&self, config: &Config, scope: Scope<'_>) -> String {
        match (self.db, scope) {
            (Some(d), Scope::Db { tenant, .. }) => (d.get)(tenant, config),
            _ => (self.get)(config),
        }
    }

    /// Sets the value for `scope` in `config` (the DB's `[[db]]` table for a
    /// per-DB row). Whether tenancy must be re-applied: true for per-DB rows.
    pub fn assign(
        &self,
        config: &mut Config,
        scope: Scope<'_>,
        value: &str,
    ) -> Result<bool, String> {
        match (self.db, scope) {
            (Some(d), Scope::Db { index, .. }) => {
                (d.set)(config.db_mut(index), value)?;
                Ok(true)
            }
            _ => (self.set)(config, value).map(|()| false),
        }
    }
}

static DB_MAXMEMORY: DbParam = DbParam {
    get: |t, c| t.effective_maxmemory(c.maxmemory).to_string(),
    set: |d, v| {
        d.maxmemory = mem(v)?;
        Ok(())
    },
    tenant_may_set: false,
};

static DB_POLICY: DbParam = DbParam {
    get: |t, _| t.policy().name().to_string(),
    set: |d, v| {
        d.maxmemory_policy = Some(policy(v)?);
        Ok(())
    },
    tenant_may_set: true,
};

fn policy(v: &str) -> Result<Policy, String> {
    Policy::parse(v.as_bytes()).ok_or_else(|| {
        format!(
            "argument(s) must be one of the following: {}",
            POLICIES.join(", ")
        )
    })
}

/// One of a fixed set of words (the `*-scope` settings).
/// A two-word setting kept as a bool: `[off, on]`.
fn either(v: &str, words: [&str; 2]) -> Result<bool, String> {
    Ok(one_of(v, &words)? == words[1])
}

/// The word of a two-word setting.
fn word(on: bool, words: [&str; 2]) -> String {
    words[usize::from(on)].to_string()
}

const FLUSHALL_SCOPES: [&str; 2] = ["deny", "own"];
const SCOPES: [&str; 2] = ["global", "db"];

fn one_of(v: &str, words: &[&str]) -> Result<String, String> {
    let v = v.to_ascii_lowercase();
    if words.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(format!(
            "argument(s) must be one of the following: {}",
            words.join(", ")
        ))
    }
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn yn(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

/// An integer within Redis's bounds for the setting, with Redis's error text.
fn int_in<T: TryFrom<i64>>(v: &str, min: i64, max: i64) -> Result<T, String> {
    let n: i64 = num(v)?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    T::try_from(n).map_err(|_| format!("argument must be between {min} and {max} inclusive"))
}

const INT_MAX: i64 = i32::MAX as i64;

/// Redis's `save` grammar: pairs of "seconds changes", or empty.
fn save_ok(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() % 2 != 0 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
        return Err("Invalid save parameters".into());
    }
    Ok(())
}

/// A Redis setting keyward reports but does not implement: reads give
/// Redis's default; a SET to that same value is accepted, others refused.
macro_rules! fixed {
    ($name:literal, $value:literal, $mutable:literal) => {
        Param {
            name: $name,
            get: |_| $value.to_string(),
            set: |_, v| {
                if v.eq_ignore_ascii_case($value) {
                    Ok(())
                } else {
                    Err(concat!("keyward only supports '", $value, "' here").into())
                }
            },
            mutable: $mutable,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
        }
    };
}

/// `busy-reply-threshold` and its old name `lua-time-limit`: one setting.
macro_rules! busy_threshold {
    ($name:literal) => {
        Param {
            name: $name,
            get: |c| c.busy_reply_threshold.to_string(),
            set: |c, v| {
                c.busy_reply_threshold = int_in(v, 0, i64::MAX)?;
                Ok(())
            },
            mutable: true,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
        }
    };
}

/// A yes/no setting kept as a bool field.
macro_rules! yes_no_param {
    ($name:literal, $field:ident) => {
        yes_no_param!($name, $field, true)
    };
    ($name:literal, $field:ident, $mutable:literal) => {
        Param {
            name: $name,
            get: |c| yn(c.$field),
            set: |c, v| {
                c.$field = yes_no(v)?;
                Ok(())
            },
            mutable: $mutable,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
        }
    };
}

fn protected_ok(v: &str) -> Result<String, String> {
    one_of(v, &["no", "yes", "local"])
}

/// A string setting, checked by `$ok` before it is kept.
macro_rules! string_param {
    ($name:literal, $field:ident, $mutable:literal, $ok:expr) => {
        Param {
            name: $name,
            get: |c| c.$field.clone(),
            set: |c, v| {
                c.$field = $ok(v)?;
                Ok(())
            },
            mutable: $mutable,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
        }
    };
}

/// A file name inside `dir`: no path separators (Redis's check).
fn file_name_ok(v: &str) -> Result<String, String> {
    if v.is_empty() || v.contains('/') || v == "." || v == ".." {
        return Err("dbfilename can't be a path, just a filename".into());
    }
    Ok(v.to_string())
}

fn fsync_ok(v: &str) -> Result<String, String> {
    one_of(v, &["always", "everysec", "no"])
}

fn sanitize_ok(v: &str) -> Result<String, String> {
    one_of(v, &["no", "yes", "clients"])
}

/// A small-encoding threshold (entries or bytes), `Config::thresholds`.
macro_rules! threshold {
    ($name:literal, $field:ident) => {
        Param {
            name: $name,
            get: |c| c.thresholds.$field.to_string(),
            set: |c, v| {
                c.thresholds.$field = num(v)?;
                Ok(())
            },
            mutable: true,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
        }
    };
}

fn mem(v: &str) -> Result<u64, String> {
    parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())
}

const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

pub static PARAMS: &[Param] = &[
    Param {
        name: "bind",
        get: |c| c.bind.join(" "),
        set: |c, v| {
            c.bind = v
                .split_whitespace()
                .map(|s| s.trim_start_matches('-').to_string())
                .collect();
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "port",
        get: |c| c.port.to_string(),
        set: |c, v| {
            c.port = num(v)?;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "requirepass",
        get: |c| c.requirepass.clone().unwrap_or_default(),
        set: |c, v| {
            c.requirepass = if v.is_empty() {
                None
            } else {
                Some(v.to_string())
            };
            Ok(())
        },
        mutable: true,
        sensitive: true,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "aclfile",
        get: |c| c.aclfile.clone().unwrap_or_default(),
        set: |c, v| {
            if v.is_empty() {
                c.aclfile = None;
                return Ok(());
            }
            // A bad file stops startup (Redis refuses to start too).
            let text = std::fs::read_to_string(v).map_err(|e| format!("cannot read {v}: {e}"))?;
            crate::acl::parse_aclfile(&text, c.databases).map_err(|e| format!("{v}:{e}"))?;
            c.aclfile = Some(v.to_string());
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "databases",
        get: |c| c.databases.to_string(),
        set: |c, v| {
            let n: usize = num(v)?;
            if n == 0 || n > 1 << 20 {
                return Err("argument must be between 1 and 1048576 inclusive".into());
            }
            c.databases = n;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "timeout",
        get: |c| c.timeout.to_string(),
        set: |c, v| {
            c.timeout = int_in(v, 0, INT_MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "maxclients",
        get: |c| c.maxclients.to_string(),
        set: |c, v| {
            let n: usize = num(v)?;
            if n == 0 {
                return Err("argument must be between 1 and 4294967295 inclusive".into());
            }
            c.maxclients = n;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "protected-mode",
        get: |c| yn(c.protected_mode),
        set: |c, v| {
            c.protected_mode = yes_no(v)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "loglevel",
        get: |c| c.loglevel.clone(),
        set: |c, v| {
            match v {
            "debug" | "verbose" | "notice" | "warning" | "nothing" => {
                c.loglevel = v.to_string();
                Ok(())
            }
            _ => Err("argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into()),
        }
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "dir",
        get: |c| c.dir.display().to_string(),
        set: |c, v| {
            c.dir = v.into();
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: true,
        db: None,
    },
    Param {
        name: "save",
        get: |c| c.save.clone(),
        set: |c, v| {
            save_ok(v)?;
            c.save = v.to_string();
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "appendonly",
        get: |c| yn(c.appendonly),
        set: |c, v| {
            c.appendonly = yes_no(v)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "proto-max-bulk-len",
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| {
            let n = mem(v)?;
            if n < 1024 * 1024 || n > i64::MAX as u64 {
                return Err(
                    "argument must be between 1048576 and 9223372036854775807 inclusive".into(),
                );
            }
            c.proto_max_bulk_len = n as usize;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "client-query-buffer-limit",
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| {
            let n = mem(v)?;
            if n < 1024 * 1024 || n > i64::MAX as u64 {
                return Err(
                    "argument must be between 1048576 and 9223372036854775807 inclusive".into(),
                );
            }
            c.client_query_buffer_limit = n as usize;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "slowlog-log-slower-than",
        get: |c| c.slowlog_log_slower_than.to_string(),
        set: |c, v| {
            c.slowlog_log_slower_than = int_in(v, -1, i64::MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "slowlog-max-len",
        get: |c| c.slowlog_max_len.to_string(),
        set: |c, v| {
            c.slowlog_max_len = int_in(v, 0, i64::MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "hz",
        get: |c| c.hz.to_string(),
        set: |c, v| {
            let hz: u32 = int_in(v, 0, INT_MAX)?;
            // Redis clamps rather than refuses.
            c.hz = hz.clamp(1, 500);
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "maxmemory",
        get: |c| c.maxmemory.to_string(),
        set: |c, v| {
            c.maxmemory = mem(v)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: Some(&DB_MAXMEMORY),
    },
    Param {
        name: "maxmemory-policy",
        get: |c| c.maxmemory_policy.clone(),
        set: |c, v| {
            c.maxmemory_policy = policy(v)?.name().to_string();
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: Some(&DB_POLICY),
    },
    // Global: every DB's eviction samples alike.
    Param {
        name: "maxmemory-samples",
        get: |c| c.maxmemory_samples.to_string(),
        set: |c, v| {
            c.maxmemory_samples = int_in(v, 1, INT_MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    // What a DB-restricted user's FLUSHALL does: `deny` or `own` (its DBs).
    Param {
        name: "flushall-scope",
        get: |c| word(c.flushall_own, FLUSHALL_SCOPES),
        set: |c, v| {
            c.flushall_own = either(v, FLUSHALL_SCOPES)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    // Namespaces are fixed for the server's life: switching them would
    // strand existing subscriptions and cached scripts in the old one.
    Param {
        name: "pubsub-scope",
        get: |c| word(c.pubsub_per_db, SCOPES),
        set: |c, v| {
            c.pubsub_per_db = either(v, SCOPES)?;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "script-scope",
        get: |c| word(c.script_per_db, SCOPES),
        set: |c, v| {
            c.script_per_db = either(v, SCOPES)?;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "tcp-keepalive",
        get: |c| c.tcp_keepalive.to_string(),
        set: |c, v| {
            c.tcp_keepalive = int_in(v, 0, INT_MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "daemonize",
        get: |c| yn(c.daemonize),
        set: |c, v| {
            if yes_no(v)? {
                return Err(
                    "daemonize is not supported: run keyward under a process supervisor".into(),
                );
            }
            c.daemonize = false;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    // Read by clients and tools; see `fixed!`.
    fixed!("maxmemory-clients", "0", true),
    fixed!("maxmemory-eviction-tenacity", "10", true),
    Param {
        protected: true,
        ..string_param!("dbfilename", dbfilename, true, file_name_ok)
    },
    string_param!("appendfilename", appendfilename, false, file_name_ok),
    string_param!("appenddirname", appenddirname, false, file_name_ok),
    Param {
        aof_open: true,
        protected: false,
        ..string_param!("appendfsync", appendfsync, true, fsync_ok)
    },
    string_param!(
        "sanitize-dump-payload",
        sanitize_dump_payload,
        true,
        sanitize_ok
    ),
    Param {
        aof_open: true,
        protected: false,
        ..yes_no_param!("aof-use-rdb-preamble", aof_use_rdb_preamble)
    },
    yes_no_param!("aof-load-truncated", aof_load_truncated),
    Param {
        aof_open: true,
        protected: false,
        ..yes_no_param!("aof-timestamp-enabled", aof_timestamp_enabled)
    },
    Param {
        aof_open: true,
        protected: false,
        ..yes_no_param!("no-appendfsync-on-rewrite", no_appendfsync_on_rewrite)
    },
    string_param!(
        "enable-protected-configs",
        enable_protected_configs,
        false,
        protected_ok
    ),
    yes_no_param!("rdbcompression", rdbcompression),
    yes_no_param!("rdbchecksum", rdbchecksum),
    yes_no_param!("disable-thp", disable_thp, false),
    yes_no_param!("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error),
    Param {
        name: "auto-aof-rewrite-percentage",
        get: |c| c.auto_aof_rewrite_percentage.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_percentage = int_in(v, 0, i64::from(i32::MAX))?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "auto-aof-rewrite-min-size",
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_min_size = mem(v)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "rdb-version",
        get: |c| c.rdb_version.to_string(),
        set: |c, v| {
            c.rdb_version = match v {
                "10" => 10,
                "11" => 11,
                _ => return Err("argument must be 10 or 11".into()),
            };
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    // Replication's: keyward has no replicas, so no sync files to delete.
    fixed!("rdb-del-sync-files", "no", true),
    fixed!("notify-keyspace-events", "", true),
    fixed!("cluster-enabled", "no", false),
    fixed!("replica-read-only", "yes", true),
    fixed!("lazyfree-lazy-user-flush", "no", true),
    Param {
        name: "auth-fail-delay",
        get: |c| c.auth_fail_delay.to_string(),
        set: |c, v| {
            c.auth_fail_delay = int_in(v, 0, 60_000)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    busy_threshold!("busy-reply-threshold"),
    busy_threshold!("lua-time-limit"),
    threshold!("hash-max-listpack-entries", hash_max_listpack_entries),
    threshold!("hash-max-listpack-value", hash_max_listpack_value),
    threshold!("set-max-intset-entries", set_max_intset_entries),
    threshold!("set-max-listpack-entries", set_max_listpack_entries),
    threshold!("set-max-listpack-value", set_max_listpack_value),
    threshold!("zset-max-listpack-entries", zset_max_listpack_entries),
    threshold!("zset-max-listpack-value", zset_max_listpack_value),
    Param {
        name: "list-max-listpack-size",
        get: |c| c.thresholds.list_max_listpack_size.to_string(),
        set: |c, v| {
            let n: i64 = num(v)?;
            if !(-5..=i64::from(i32::MAX)).contains(&n) || n == 0 {
                return Err(
                    "argument must be between -5 and 2147483647 inclusive, and not 0".into(),
                );
            }
            c.thresholds.list_max_listpack_size = n;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    Param {
        name: "io-threads",
        get: |c| c.io_threads.to_string(),
        set: |c, v| {
            let n: usize = num(v)?;
            if n > 128 {
                return Err("argument must be between 0 and 128 inclusive".into());
            }
            c.io_threads = n;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
    // Metrics: where Prometheus scrapes `/metrics`; empty = off. Bound at
    // startup only (a listener appearing at runtime would surprise firewalls).
    Param {
        name: "metrics-addr",
        get: |c| c.metrics_addr.clone().unwrap_or_default(),
        set: |c, v| {
            let v = v.trim();
            if v.is_empty() {
                c.metrics_addr = None;
                return Ok(());
            }
            match v.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    c.metrics_addr = Some(v.to_string());
                    Ok(())
                }
                _ => Err("argument must be HOST:PORT".into()),
            }
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
    },
];

pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Sets `name` from its textual value. `Ok(false)` for unknown names.
pub fn set(c: &mut Config, name: &str, value: &str) -> Result<bool, ConfigError> {
    match find(name) {
        None => Ok(false),
        Some(p) => (p.set)(c, value)
            .map(|()| true)
            .map_err(|message| ConfigError::Value {
                name: name.to_string(),
                message,
            }),
    }
}
