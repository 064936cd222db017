//! The parameter table: every setting CONFIG GET/SET, flags and the TOML
//! file know, with its parser and printer. One row per name: every Redis 7.2
//! parameter (and its old names) plus keyward's own, each in one [`Class`].

use super::{parse_memory, Config, ConfigError, DbConfig, TlsAuthClients};
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
    /// What keyward does with the value.
    pub class: Class,
    /// This row is the old name of the row named here (Redis's aliases:
    /// `slaveof`, `hash-max-ziplist-value` …): one setting, two names.
    /// CONFIG REWRITE updates whichever the file has and adds only the name.
    pub alias_of: Option<&'static str>,
}

/// How honestly keyward can take a Redis parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// keyward implements it.
    Honoured,
    /// Validated as Redis does, kept, reported and rewritten, and otherwise
    /// ignored: only where ignoring it can neither lose data nor weaken a
    /// limit or security. Says why.
    Accepted(&'static str),
    /// keyward cannot do what it asks and accepting would be a lie that
    /// loses data or weakens a limit: CONFIG GET reports Redis's default,
    /// and setting anything else (CONFIG SET, flags, the file) fails with
    /// this reason.
    Refused(&'static str),
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

/// An [`Class::Accepted`] row: `$check` validates a value as Redis does and
/// returns it as CONFIG GET prints it; it is kept in `Config::accepted`.
macro_rules! accepted {
    ($name:literal, $default:literal, $mutable:literal, $check:expr, $why:expr) => {
        Param {
            name: $name,
            get: |c| {
                c.accepted
                    .get($name)
                    .cloned()
                    .unwrap_or_else(|| $default.to_string())
            },
            set: |c, v| {
                let v = $check(v)?;
                c.accepted.insert($name, v);
                Ok(())
            },
            mutable: $mutable,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
            class: Class::Accepted($why),
            alias_of: None,
        }
    };
}

/// A [`Class::Honoured`] row kept like an [`accepted!`] one (in
/// `Config::accepted`), for settings only a command reads (DEBUG, LATENCY).
macro_rules! kept {
    ($name:literal, $default:literal, $mutable:literal, $check:expr) => {
        Param {
            class: Class::Honoured,
            ..accepted!($name, $default, $mutable, $check, "")
        }
    };
}

/// A [`Class::Refused`] row: reads give Redis's default; a value that
/// `$check` finds valid and equal to it is taken (so a file or test suite
/// that spells out the default works), anything else fails with `$why`.
macro_rules! refused {
    ($name:literal, $default:literal, $mutable:literal, $check:expr, $why:expr) => {
        Param {
            name: $name,
            get: |_| $default.to_string(),
            set: |_, v| {
                if $check(v)? == $default {
                    Ok(())
                } else {
                    Err($why.to_string())
                }
            },
            mutable: $mutable,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
            class: Class::Refused($why),
            alias_of: None,
        }
    };
}

/// `$old`, Redis's old name of the row `$row` (named `$name`).
macro_rules! alias {
    ($old:literal, $name:literal, $row:expr) => {
        Param {
            name: $old,
            alias_of: Some($name),
            ..$row
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
            class: Class::Honoured,
            alias_of: None,
        }
    };
}

/// `lfu-log-factor`, `lfu-decay-time`: `Config::lfu`, 0..INT_MAX as Redis.
macro_rules! lfu_param {
    ($name:literal, $field:ident) => {
        Param {
            name: $name,
            get: |c| c.lfu.$field.to_string(),
            set: |c, v| {
                c.lfu.$field = int_in(v, 0, INT_MAX)?;
                Ok(())
            },
            mutable: true,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
            class: Class::Honoured,
            alias_of: None,
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
            class: Class::Honoured,
            alias_of: None,
        }
    };
}

/// A `tls-*` setting in `Config::tls`: `$get` prints the field, `$parse`
/// checks and converts the value.
macro_rules! tls_param {
    ($name:literal, $field:ident, $get:expr, $parse:expr) => {
        Param {
            name: $name,
            get: |c| ($get)(&c.tls.$field),
            set: |c, v| {
                c.tls.$field = ($parse)(v)?;
                Ok(())
            },
            mutable: true,
            sensitive: false,
            aof_open: false,
            protected: false,
            db: None,
            class: Class::Honoured,
            alias_of: None,
        }
    };
}

/// Whether CONFIG SET of `p` rebuilds the TLS configuration (reloading
/// its files even when the value is unchanged, as Redis's
/// `VOLATILE_CONFIG` rows do: the way to pick up a renewed certificate).
pub fn reconfigures_tls(p: &Param) -> bool {
    p.name.starts_with("tls-") && p.class == Class::Honoured && p.name != "tls-port"
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
            class: Class::Honoured,
            alias_of: None,
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
            class: Class::Honoured,
            alias_of: None,
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

// Why an Accepted row is harmless to ignore.
const TUNING: &str = "tunes Redis's event loop, allocator or background work, which keyward does not share: ignoring it changes no data and no limit";
const LAZYFREE: &str =
    "whether Redis frees memory inline or in a background thread: the same memory is freed either way";
const ENCODING: &str =
    "how Redis packs this type in memory: keyward's layout is its own and replies are the same";
const PROCESS: &str = "process housekeeping (logs, titles, CPU affinity, OOM score) that keyward leaves to its supervisor: no data or limit depends on it";
const NO_COMMAND: &str =
    "enables a command keyward does not have (MODULE LOAD): there is nothing to enable";
const INCREMENTAL_FSYNC: &str =
    "paces fsyncs while Redis writes a file: keyward fsyncs every file before it uses it either way";
const REPLICATION_KNOB: &str =
    "keyward has no replication: only replicas and a master's links to them read it";

// Why a Refused row only takes Redis's default (the text of the error).
const NO_REPLICATION: &str = "keyward has no replication";
const NO_REPLICAS: &str =
    "keyward has no replicas to count: accepting it would take the writes it exists to refuse";
const NO_CLUSTER: &str = "keyward has no cluster mode";
const NO_TLS_CLIENT: &str =
    "keyward opens no TLS connections of its own (no replication, no cluster): only those read it";
const NO_DH: &str =
    "keyward's TLS (rustls) does no finite-field Diffie-Hellman: key exchange is ECDHE only";
const DAEMONIZE: &str = "daemonize is not supported: run keyward under a process supervisor";
const LLONG_MAX: i64 = i64::MAX;

// Rows with an old name: one const, listed under both names.
const REPL_PING_REPLICA_PERIOD: Param = accepted!(
    "repl-ping-replica-period",
    "10",
    true,
    |v| int_v(v, 1, INT_MAX),
    REPLICATION_KNOB
);
const REPLICA_ANNOUNCE_IP: Param =
    accepted!("replica-announce-ip", "", true, text_v, REPLICATION_KNOB);
const REPLICA_ANNOUNCE_PORT: Param =
    accepted!("replica-announce-port", "0", true, port_v, REPLICATION_KNOB);
const REPLICA_IGNORE_MAXMEMORY: Param = accepted!(
    "replica-ignore-maxmemory",
    "yes",
    true,
    bool_v,
    REPLICATION_KNOB
);
const REPLICA_LAZY_FLUSH: Param =
    accepted!("replica-lazy-flush", "no", true, bool_v, REPLICATION_KNOB);
const REPLICA_PRIORITY: Param = accepted!(
    "replica-priority",
    "100",
    true,
    |v| int_v(v, 0, INT_MAX),
    REPLICATION_KNOB
);
const REPLICA_READ_ONLY: Param =
    accepted!("replica-read-only", "yes", true, bool_v, REPLICATION_KNOB);
const REPLICA_SERVE_STALE_DATA: Param = accepted!(
    "replica-serve-stale-data",
    "yes",
    true,
    bool_v,
    REPLICATION_KNOB
);
const REPLICAOF: Param = refused!("replicaof", "", false, replicaof_v, NO_REPLICATION);
const MIN_REPLICAS_TO_WRITE: Param = refused!(
    "min-replicas-to-write",
    "0",
    true,
    |v| int_v(v, 0, INT_MAX),
    NO_REPLICAS
);
const MIN_REPLICAS_MAX_LAG: Param = refused!(
    "min-replicas-max-lag",
    "10",
    true,
    |v| int_v(v, 0, INT_MAX),
    NO_REPLICAS
);
const CLUSTER_REPLICA_NO_FAILOVER: Param = refused!(
    "cluster-replica-no-failover",
    "no",
    true,
    bool_v,
    NO_CLUSTER
);
const CLUSTER_REPLICA_VALIDITY_FACTOR: Param = refused!(
    "cluster-replica-validity-factor",
    "10",
    true,
    |v| int_v(v, 0, INT_MAX),
    NO_CLUSTER
);

// Value checks of the Accepted and Refused rows: each returns the value as
// CONFIG GET prints it, or Redis's complaint.

fn bool_v(v: &str) -> Result<String, String> {
    yes_no(v).map(yn)
}

fn int_v(v: &str, min: i64, max: i64) -> Result<String, String> {
    int_in::<i64>(v, min, max).map(|n| n.to_string())
}

fn port_v(v: &str) -> Result<String, String> {
    int_v(v, 0, 65535)
}

fn mem_v(v: &str, min: u64, max: u64) -> Result<String, String> {
    let n = mem(v)?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n.to_string())
}

fn text_v(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

/// An octal mode (`unixsocketperm`), 0..=0777 as Redis.
fn octal(v: &str) -> Result<u32, String> {
    match u32::from_str_radix(v.trim(), 8) {
        Ok(n) if n <= 0o777 => Ok(n),
        Ok(_) => Err("argument must be between 0 and 511 inclusive".into()),
        Err(_) => Err("argument couldn't be parsed into an integer".into()),
    }
}

/// `proc-title-template`: Redis's placeholders only, `{title}` among them.
fn title_v(v: &str) -> Result<String, String> {
    const KNOWN: &[&str] = &[
        "title",
        "listen-addr",
        "server-mode",
        "port",
        "tls-port",
        "unixsocket",
        "config-file",
    ];
    let mut rest = v;
    let mut title = false;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("template format is invalid or missing {title}".into());
        };
        let name = &after[..close];
        if !KNOWN.contains(&name) {
            return Err("template format is invalid or missing {title}".into());
        }
        title |= name == "title";
        rest = &after[close + 1..];
    }
    if !title || rest.contains('}') {
        return Err("template format is invalid or missing {title}".into());
    }
    Ok(v.to_string())
}

/// `oom-score-adj-values`: three scores for master, replica, background child.
fn oom_v(v: &str) -> Result<String, String> {
    let scores: Vec<&str> = v.split_whitespace().collect();
    if scores.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let scores = scores
        .iter()
        .map(|s| int_in::<i64>(s, -2000, 2000))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "Invalid oom-score-adj-values, elements must be between -2000 and 2000.")?;
    Ok(scores
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" "))
}

/// `latency-tracking-info-percentiles`: percentiles from 0 to 100.
fn percentiles_v(v: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for p in v.split_whitespace() {
        match p.parse::<f64>() {
            Ok(f) if (0.0..=100.0).contains(&f) => out.push(f.to_string()),
            Ok(_) => {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .into(),
                )
            }
            Err(_) => return Err("Invalid latency-tracking-info-percentiles parameters".into()),
        }
    }
    Ok(out.join(" "))
}

/// `replicaof`: `host port`, or `no one` (not a replica, the default).
fn replicaof_v(v: &str) -> Result<String, String> {
    match v.split_whitespace().collect::<Vec<_>>()[..] {
        [] => Ok(String::new()),
        [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => {
            Ok(String::new())
        }
        [host, port] => {
            int_in::<u16>(port, 0, 65535).map_err(|_| "Invalid master port".to_string())?;
            Ok(format!("{host} {port}"))
        }
        _ => Err("wrong number of arguments".into()),
    }
}

/// `notify-keyspace-events`: Redis's event class letters, printed back as
/// Redis prints them (`KEA` → `AKE`).
const NOTIFY_KEYSPACE_EVENTS: Param = Param {
    name: "notify-keyspace-events",
    get: |c| crate::keyspace::notify::format_classes(c.notify_keyspace_events),
    set: |c, v| {
        c.notify_keyspace_events = crate::keyspace::notify::parse_classes(v)
            .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
        Ok(())
    },
    mutable: true,
    sensitive: false,
    aof_open: false,
    protected: false,
    db: None,
    class: Class::Honoured,
    alias_of: None,
};

/// `maxmemory-clients`: bytes, or a percentage of maxmemory kept negative
/// as Redis keeps it (`50%` is -50).
fn client_memory(v: &str) -> Result<i64, String> {
    let bad = || "argument must be a memory or percent value".to_string();
    match v.trim().strip_suffix('%') {
        Some(p) => {
            let p: i64 = p.parse().map_err(|_| bad())?;
            if p < 0 {
                return Err(bad());
            }
            if p > 100 {
                return Err("percentage argument must be less or equal to 100".into());
            }
            Ok(-p)
        }
        None => mem(v)
            .ok()
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(bad),
    }
}

/// `client-output-buffer-limit`: `class hard soft seconds` groups, each
/// setting its class (the others keep theirs), printed whole as Redis does.
/// The replica class keeps Redis's default: keyward has no replicas.
fn output_limits(
    current: [crate::server::obuf::Limit; 3],
    v: &str,
) -> Result<[crate::server::obuf::Limit; 3], String> {
    use crate::server::obuf::{Limit, DEFAULTS, REPLICA};
    let mut limits = current;
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for w in words.chunks(4) {
        let class = match w[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(w[1]).ok_or_else(bad)?;
        let soft = parse_memory(w[2]).ok_or_else(bad)?;
        let soft_seconds: u64 = w[3].parse().map_err(|_| bad())?;
        limits[class] = Limit {
            hard,
            soft,
            soft_seconds,
        };
    }
    if limits[REPLICA] != DEFAULTS[REPLICA] {
        return Err(
            "keyward has no replicas: the replica class keeps Redis's default (256mb 64mb 60)"
                .into(),
        );
    }
    Ok(limits)
}

fn format_output_limits(limits: &[crate::server::obuf::Limit; 3]) -> String {
    ["normal", "slave", "pubsub"]
        .iter()
        .zip(limits)
        .map(|(c, l)| format!("{c} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `shutdown-on-sigint`/`-sigterm`: `default`, or save|nosave, now, force.
fn shutdown_v(v: &str) -> Result<String, String> {
    let words: Vec<String> = v.split_whitespace().map(str::to_ascii_lowercase).collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    let valid = words
        .iter()
        .all(|w| ["default", "save", "nosave", "now", "force"].contains(&w.as_str()));
    // Redis's multi-word enum: each word ORs its flag in (`default` is 0).
    if words.is_empty() || !valid {
        return Err(
            "argument(s) must be one of the following: default, save, nosave, now, force".into(),
        );
    }
    if has("save") && has("nosave") {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let out: Vec<&str> = ["save", "nosave", "now", "force"]
        .into_iter()
        .filter(|w| has(w))
        .collect();
    Ok(if out.is_empty() {
        "default".into()
    } else {
        out.join(" ")
    })
}

const LIST_MAX_LISTPACK_SIZE: Param = Param {
    name: "list-max-listpack-size",
    get: |c| c.thresholds.list_max_listpack_size.to_string(),
    set: |c, v| {
        let n: i64 = num(v)?;
        if !(-5..=i64::from(i32::MAX)).contains(&n) || n == 0 {
            return Err("argument must be between -5 and 2147483647 inclusive, and not 0".into());
        }
        c.thresholds.list_max_listpack_size = n;
        Ok(())
    },
    mutable: true,
    sensitive: false,
    aof_open: false,
    protected: false,
    db: None,
    class: Class::Honoured,
    alias_of: None,
};

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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
    },
    Param {
        name: "requirepass-env",
        get: |c| c.requirepass_env.clone(),
        set: |c, v| {
            let v = v.trim();
            if !v.is_empty() {
                let pass = std::env::var(v)
                    .map_err(|_| format!("environment variable {v} is not set"))?;
                c.requirepass = (!pass.is_empty()).then_some(pass);
            }
            c.requirepass_env = v.to_string();
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
            crate::acl::parse_aclfile(&text, c.databases, c.acl_pubsub_allchannels).map_err(|e| format!("{v}:{e}"))?;
            c.aclfile = Some(v.to_string());
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
    },
    // Namespaces are fixed for the server's life: switching them would
    // strand existing subscriptions and cached scripts in the old one.
    NOTIFY_KEYSPACE_EVENTS,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Accepted(
            "keyward does not probe idle connections yet: a dead peer holds its slot until timeout or a failed write, as with tcp-keepalive 0",
        ),
        alias_of: None,
    },
    Param {
        name: "daemonize",
        get: |c| yn(c.daemonize),
        set: |c, v| {
            if yes_no(v)? {
                return Err(DAEMONIZE.into());
            }
            c.daemonize = false;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Refused(DAEMONIZE),
        alias_of: None,
    },
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
    },
    Param {
        name: "acllog-max-len",
        get: |c| c.acllog_max_len.to_string(),
        set: |c, v| {
            c.acllog_max_len = int_in(v, 0, LLONG_MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
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
        class: Class::Honoured,
        alias_of: None,
    },
    lfu_param!("lfu-log-factor", log_factor),
    lfu_param!("lfu-decay-time", decay_time),
    busy_threshold!("busy-reply-threshold"),
    alias!(
        "lua-time-limit",
        "busy-reply-threshold",
        busy_threshold!("busy-reply-threshold")
    ),
    Param {
        name: "active-expire-effort",
        get: |c| c.active_expire_effort.to_string(),
        set: |c, v| {
            c.active_expire_effort = int_in(v, 1, 10)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    Param {
        name: "stream-node-max-bytes",
        get: |c| c.thresholds.stream_node.max_bytes.to_string(),
        set: |c, v| {
            c.thresholds.stream_node.max_bytes = mem_v(v, 0, LLONG_MAX as u64)?
                .parse()
                .map_err(|_| "argument must be a memory value".to_string())?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    Param {
        name: "stream-node-max-entries",
        get: |c| c.thresholds.stream_node.max_entries.to_string(),
        set: |c, v| {
            c.thresholds.stream_node.max_entries = int_in(v, 0, LLONG_MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    threshold!("hash-max-listpack-entries", hash_max_listpack_entries),
    threshold!("hash-max-listpack-value", hash_max_listpack_value),
    threshold!("set-max-intset-entries", set_max_intset_entries),
    threshold!("set-max-listpack-entries", set_max_listpack_entries),
    threshold!("set-max-listpack-value", set_max_listpack_value),
    threshold!("zset-max-listpack-entries", zset_max_listpack_entries),
    threshold!("zset-max-listpack-value", zset_max_listpack_value),
    LIST_MAX_LISTPACK_SIZE,
    alias!(
        "hash-max-ziplist-entries",
        "hash-max-listpack-entries",
        threshold!("hash-max-listpack-entries", hash_max_listpack_entries)
    ),
    alias!(
        "hash-max-ziplist-value",
        "hash-max-listpack-value",
        threshold!("hash-max-listpack-value", hash_max_listpack_value)
    ),
    alias!(
        "zset-max-ziplist-entries",
        "zset-max-listpack-entries",
        threshold!("zset-max-listpack-entries", zset_max_listpack_entries)
    ),
    alias!(
        "zset-max-ziplist-value",
        "zset-max-listpack-value",
        threshold!("zset-max-listpack-value", zset_max_listpack_value)
    ),
    alias!(
        "list-max-ziplist-size",
        "list-max-listpack-size",
        LIST_MAX_LISTPACK_SIZE
    ),
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
        class: Class::Honoured,
        alias_of: None,
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
        class: Class::Honoured,
        alias_of: None,
    },
    string_param!("unixsocket", unixsocket, false, text_v),
    Param {
        name: "unixsocketperm",
        get: |c| format!("{:o}", c.unixsocketperm),
        set: |c, v| {
            c.unixsocketperm = octal(v)?;
            Ok(())
        },
        mutable: false,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    string_param!("pidfile", pidfile, false, text_v),
    string_param!("logfile", logfile, false, text_v),
    string_param!("supervised", supervised, false, |v| one_of(
        v,
        &["upstart", "systemd", "auto", "no"]
    )),
    string_param!("log-format", log_format, false, |v| one_of(
        v,
        &["text", "json"]
    )),
    // ---- Accepted: kept and reported, no effect on keyward (see `Class`).
    accepted!("activerehashing", "yes", true, bool_v, TUNING),
    accepted!("dynamic-hz", "yes", true, bool_v, TUNING),
    accepted!("jemalloc-bg-thread", "yes", true, bool_v, TUNING),
    accepted!("activedefrag", "no", true, bool_v, TUNING),
    accepted!(
        "active-defrag-cycle-min",
        "1",
        true,
        |v| int_v(v, 1, 99),
        TUNING
    ),
    accepted!(
        "active-defrag-cycle-max",
        "25",
        true,
        |v| int_v(v, 1, 99),
        TUNING
    ),
    accepted!(
        "active-defrag-ignore-bytes",
        "104857600",
        true,
        |v| mem_v(v, 1, LLONG_MAX as u64),
        TUNING
    ),
    accepted!(
        "active-defrag-max-scan-fields",
        "1000",
        true,
        |v| int_v(v, 1, LLONG_MAX),
        TUNING
    ),
    accepted!(
        "active-defrag-threshold-lower",
        "10",
        true,
        |v| int_v(v, 0, 1000),
        TUNING
    ),
    accepted!(
        "active-defrag-threshold-upper",
        "100",
        true,
        |v| int_v(v, 0, 1000),
        TUNING
    ),
    // keyward evicts until the limit holds on every write: there is no
    // per-command effort to bound.
    accepted!(
        "maxmemory-eviction-tenacity",
        "10",
        true,
        |v| int_v(v, 0, 100),
        TUNING
    ),
    accepted!("io-threads-do-reads", "no", false, bool_v, TUNING),
    accepted!(
        "tcp-backlog",
        "511",
        false,
        |v| int_v(v, 0, INT_MAX),
        TUNING
    ),
    accepted!("lazyfree-lazy-eviction", "no", true, bool_v, LAZYFREE),
    accepted!("lazyfree-lazy-expire", "no", true, bool_v, LAZYFREE),
    accepted!("lazyfree-lazy-server-del", "no", true, bool_v, LAZYFREE),
    accepted!("lazyfree-lazy-user-del", "no", true, bool_v, LAZYFREE),
    accepted!("lazyfree-lazy-user-flush", "no", true, bool_v, LAZYFREE),
    accepted!(
        "list-compress-depth",
        "0",
        true,
        |v| int_v(v, 0, INT_MAX),
        ENCODING
    ),
    Param {
        name: "hll-sparse-max-bytes",
        get: |c| c.hll_sparse_max_bytes.to_string(),
        set: |c, v| {
            c.hll_sparse_max_bytes = mem_v(v, 0, LLONG_MAX as u64)?
                .parse()
                .map_err(|_| "argument must be a memory value".to_string())?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    accepted!("always-show-logo", "no", false, bool_v, PROCESS),
    accepted!("set-proc-title", "yes", false, bool_v, PROCESS),
    accepted!(
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        true,
        title_v,
        PROCESS
    ),
    accepted!("syslog-enabled", "no", false, bool_v, PROCESS),
    accepted!("syslog-ident", "redis", false, text_v, PROCESS),
    accepted!(
        "syslog-facility",
        "local0",
        false,
        |v| one_of(
            v,
            &[
                "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
                "local7"
            ]
        ),
        PROCESS
    ),
    accepted!("crash-log-enabled", "yes", true, bool_v, PROCESS),
    accepted!("crash-memcheck-enabled", "yes", true, bool_v, PROCESS),
    accepted!(
        "oom-score-adj",
        "no",
        true,
        |v| one_of(v, &["no", "yes", "relative", "absolute"]),
        PROCESS
    ),
    accepted!("oom-score-adj-values", "0 200 800", true, oom_v, PROCESS),
    accepted!("server_cpulist", "", false, text_v, PROCESS),
    accepted!("bio_cpulist", "", false, text_v, PROCESS),
    accepted!("aof_rewrite_cpulist", "", false, text_v, PROCESS),
    accepted!("bgsave_cpulist", "", false, text_v, PROCESS),
    accepted!("ignore-warnings", "", true, text_v, PROCESS),
    accepted!(
        "socket-mark-id",
        "0",
        false,
        |v| int_v(v, 0, i64::from(u32::MAX)),
        PROCESS
    ),
    kept!("enable-debug-command", "no", false, protected_ok),
    accepted!(
        "enable-module-command",
        "no",
        false,
        protected_ok,
        NO_COMMAND
    ),
    kept!("latency-monitor-threshold", "0", true, |v| int_v(
        v, 0, LLONG_MAX
    )),
    kept!("latency-tracking", "yes", true, bool_v),
    kept!(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        true,
        percentiles_v
    ),
    Param {
        name: "tracking-table-max-keys",
        get: |c| c.tracking_table_max_keys.to_string(),
        set: |c, v| {
            c.tracking_table_max_keys = int_in(v, 0, LLONG_MAX)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    accepted!(
        "rdb-save-incremental-fsync",
        "yes",
        true,
        bool_v,
        INCREMENTAL_FSYNC
    ),
    accepted!(
        "aof-rewrite-incremental-fsync",
        "yes",
        true,
        bool_v,
        INCREMENTAL_FSYNC
    ),
    accepted!(
        "repl-backlog-size",
        "1048576",
        true,
        |v| mem_v(v, 1, LLONG_MAX as u64),
        REPLICATION_KNOB
    ),
    accepted!(
        "repl-backlog-ttl",
        "3600",
        true,
        |v| int_v(v, 0, LLONG_MAX),
        REPLICATION_KNOB
    ),
    accepted!(
        "repl-disable-tcp-nodelay",
        "no",
        true,
        bool_v,
        REPLICATION_KNOB
    ),
    accepted!(
        "repl-diskless-load",
        "disabled",
        true,
        |v| one_of(v, &["disabled", "on-empty-db", "swapdb"]),
        REPLICATION_KNOB
    ),
    accepted!("repl-diskless-sync", "yes", true, bool_v, REPLICATION_KNOB),
    accepted!(
        "repl-diskless-sync-delay",
        "5",
        true,
        |v| int_v(v, 0, INT_MAX),
        REPLICATION_KNOB
    ),
    accepted!(
        "repl-diskless-sync-max-replicas",
        "0",
        true,
        |v| int_v(v, 0, INT_MAX),
        REPLICATION_KNOB
    ),
    REPL_PING_REPLICA_PERIOD,
    alias!(
        "repl-ping-slave-period",
        "repl-ping-replica-period",
        REPL_PING_REPLICA_PERIOD
    ),
    accepted!(
        "repl-timeout",
        "60",
        true,
        |v| int_v(v, 1, INT_MAX),
        REPLICATION_KNOB
    ),
    REPLICA_ANNOUNCE_IP,
    alias!(
        "slave-announce-ip",
        "replica-announce-ip",
        REPLICA_ANNOUNCE_IP
    ),
    REPLICA_ANNOUNCE_PORT,
    alias!(
        "slave-announce-port",
        "replica-announce-port",
        REPLICA_ANNOUNCE_PORT
    ),
    accepted!("replica-announced", "yes", true, bool_v, REPLICATION_KNOB),
    accepted!(
        "replica-ignore-disk-write-errors",
        "no",
        true,
        bool_v,
        REPLICATION_KNOB
    ),
    REPLICA_IGNORE_MAXMEMORY,
    alias!(
        "slave-ignore-maxmemory",
        "replica-ignore-maxmemory",
        REPLICA_IGNORE_MAXMEMORY
    ),
    REPLICA_LAZY_FLUSH,
    alias!("slave-lazy-flush", "replica-lazy-flush", REPLICA_LAZY_FLUSH),
    REPLICA_PRIORITY,
    alias!("slave-priority", "replica-priority", REPLICA_PRIORITY),
    REPLICA_READ_ONLY,
    alias!("slave-read-only", "replica-read-only", REPLICA_READ_ONLY),
    REPLICA_SERVE_STALE_DATA,
    alias!(
        "slave-serve-stale-data",
        "replica-serve-stale-data",
        REPLICA_SERVE_STALE_DATA
    ),
    accepted!("rdb-del-sync-files", "no", true, bool_v, REPLICATION_KNOB),
    accepted!(
        "shutdown-timeout",
        "10",
        true,
        |v| int_v(v, 0, INT_MAX),
        "how long SHUTDOWN waits for replicas to catch up: keyward has none"
    ),
    accepted!(
        "bind-source-addr",
        "",
        true,
        text_v,
        "the source address of Redis's replication and cluster links: keyward opens neither"
    ),
    // ---- TLS for clients (`crate::tls`): CONFIG SET of any row but
    // tls-port rebuilds the TLS configuration (`reconfigures_tls`).
    Param {
        mutable: false,
        ..tls_param!("tls-port", port, |v: &u16| v.to_string(), |v| int_in::<u16>(v, 0, 65535))
    },
    tls_param!("tls-cert-file", cert_file, String::clone, text_v),
    tls_param!("tls-key-file", key_file, String::clone, text_v),
    Param {
        sensitive: true,
        ..tls_param!("tls-key-file-pass", key_file_pass, String::clone, text_v)
    },
    tls_param!("tls-ca-cert-file", ca_cert_file, String::clone, text_v),
    tls_param!("tls-ca-cert-dir", ca_cert_dir, String::clone, text_v),
    tls_param!(
        "tls-auth-clients",
        auth_clients,
        |v: &TlsAuthClients| v.name().to_string(),
        |v: &str| match v.to_ascii_lowercase().as_str() {
            "no" => Ok(TlsAuthClients::No),
            "yes" => Ok(TlsAuthClients::Yes),
            "optional" => Ok(TlsAuthClients::Optional),
            _ => Err("argument(s) must be one of the following: no, yes, optional".to_string()),
        }
    ),
    tls_param!("tls-protocols", protocols, String::clone, |v: &str| {
        crate::tls::protocols(v).map(|_| v.to_string())
    }),
    tls_param!("tls-ciphers", ciphers, String::clone, |v: &str| {
        crate::tls::ciphers(v).map(|_| v.to_string())
    }),
    tls_param!("tls-ciphersuites", ciphersuites, String::clone, |v: &str| {
        crate::tls::ciphersuites(v).map(|_| v.to_string())
    }),
    tls_param!(
        "tls-prefer-server-ciphers",
        prefer_server_ciphers,
        |v: &bool| yn(*v),
        yes_no
    ),
    tls_param!("tls-session-caching", session_caching, |v: &bool| yn(*v), yes_no),
    tls_param!(
        "tls-session-cache-size",
        session_cache_size,
        u64::to_string,
        |v| int_in::<u64>(v, 0, INT_MAX)
    ),
    tls_param!(
        "tls-session-cache-timeout",
        session_cache_timeout,
        u64::to_string,
        |v| int_in::<u64>(v, 0, INT_MAX)
    ),
    // ---- Refused: only Redis's default is taken (see `Class`).
    REPLICAOF,
    alias!("slaveof", "replicaof", REPLICAOF),
    Param {
        sensitive: true,
        ..refused!("masterauth", "", true, text_v, NO_REPLICATION)
    },
    Param {
        sensitive: true,
        ..refused!("masteruser", "", true, text_v, NO_REPLICATION)
    },
    MIN_REPLICAS_TO_WRITE,
    alias!(
        "min-slaves-to-write",
        "min-replicas-to-write",
        MIN_REPLICAS_TO_WRITE
    ),
    MIN_REPLICAS_MAX_LAG,
    alias!(
        "min-slaves-max-lag",
        "min-replicas-max-lag",
        MIN_REPLICAS_MAX_LAG
    ),
    refused!("cluster-enabled", "no", false, bool_v, NO_CLUSTER),
    refused!(
        "cluster-config-file",
        "nodes.conf",
        false,
        text_v,
        NO_CLUSTER
    ),
    refused!("cluster-port", "0", false, port_v, NO_CLUSTER),
    refused!(
        "cluster-node-timeout",
        "15000",
        true,
        |v| int_v(v, 0, LLONG_MAX),
        NO_CLUSTER
    ),
    refused!("cluster-announce-ip", "", true, text_v, NO_CLUSTER),
    refused!("cluster-announce-hostname", "", true, text_v, NO_CLUSTER),
    refused!(
        "cluster-announce-human-nodename",
        "",
        true,
        text_v,
        NO_CLUSTER
    ),
    refused!("cluster-announce-port", "0", true, port_v, NO_CLUSTER),
    refused!("cluster-announce-bus-port", "0", true, port_v, NO_CLUSTER),
    refused!("cluster-announce-tls-port", "0", true, port_v, NO_CLUSTER),
    refused!(
        "cluster-allow-pubsubshard-when-down",
        "yes",
        true,
        bool_v,
        NO_CLUSTER
    ),
    refused!(
        "cluster-allow-reads-when-down",
        "no",
        true,
        bool_v,
        NO_CLUSTER
    ),
    refused!(
        "cluster-allow-replica-migration",
        "yes",
        true,
        bool_v,
        NO_CLUSTER
    ),
    refused!(
        "cluster-require-full-coverage",
        "yes",
        true,
        bool_v,
        NO_CLUSTER
    ),
    refused!(
        "cluster-link-sendbuf-limit",
        "0",
        true,
        |v| mem_v(v, 0, u64::MAX),
        NO_CLUSTER
    ),
    refused!(
        "cluster-migration-barrier",
        "1",
        true,
        |v| int_v(v, 0, INT_MAX),
        NO_CLUSTER
    ),
    refused!(
        "cluster-preferred-endpoint-type",
        "ip",
        true,
        |v| one_of(v, &["ip", "hostname", "unknown-endpoint"]),
        NO_CLUSTER
    ),
    CLUSTER_REPLICA_NO_FAILOVER,
    alias!(
        "cluster-slave-no-failover",
        "cluster-replica-no-failover",
        CLUSTER_REPLICA_NO_FAILOVER
    ),
    CLUSTER_REPLICA_VALIDITY_FACTOR,
    alias!(
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor",
        CLUSTER_REPLICA_VALIDITY_FACTOR
    ),
    refused!("tls-client-cert-file", "", true, text_v, NO_TLS_CLIENT),
    refused!("tls-client-key-file", "", true, text_v, NO_TLS_CLIENT),
    Param {
        sensitive: true,
        ..refused!("tls-client-key-file-pass", "", true, text_v, NO_TLS_CLIENT)
    },
    refused!("tls-dh-params-file", "", true, text_v, NO_DH),
    refused!("tls-cluster", "no", true, bool_v, NO_CLUSTER),
    refused!("tls-replication", "no", true, bool_v, NO_REPLICATION),
    Param {
        name: "maxmemory-clients",
        get: |c| match c.maxmemory_clients {
            p if p < 0 => format!("{}%", -p),
            n => n.to_string(),
        },
        set: |c, v| {
            c.maxmemory_clients = client_memory(v)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    Param {
        name: "client-output-buffer-limit",
        get: |c| format_output_limits(&c.client_output_buffer_limit),
        set: |c, v| {
            c.client_output_buffer_limit = output_limits(c.client_output_buffer_limit, v)?;
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    Param {
        name: "acl-pubsub-default",
        get: |c| {
            if c.acl_pubsub_allchannels {
                "allchannels"
            } else {
                "resetchannels"
            }
            .to_string()
        },
        set: |c, v| {
            c.acl_pubsub_allchannels = one_of(v, &["allchannels", "resetchannels"])? == "allchannels";
            Ok(())
        },
        mutable: true,
        sensitive: false,
        aof_open: false,
        protected: false,
        db: None,
        class: Class::Honoured,
        alias_of: None,
    },
    string_param!("shutdown-on-sigint", shutdown_on_sigint, true, shutdown_v),
    string_param!("shutdown-on-sigterm", shutdown_on_sigterm, true, shutdown_v),
    refused!(
        "propagation-error-behavior",
        "ignore",
        true,
        |v| one_of(v, &["ignore", "panic", "panic-on-replicas"]),
        "keyward's AOF loading has its own rules for a command that fails (aof-load-truncated)"
    ),
    refused!(
        "aof-disable-auto-gc",
        "no",
        true,
        bool_v,
        "keyward deletes AOF history after a rewrite: keeping it is not implemented"
    ),
    refused!(
        "locale-collate",
        "",
        true,
        text_v,
        "keyward compares strings bytewise (the C locale)"
    ),
];

pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The row an alias row is the old name of (itself for a name).
pub fn canonical(p: &'static Param) -> &'static Param {
    p.alias_of.and_then(find).unwrap_or(p)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_aliases_share_their_setting() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert!(
                PARAMS[..i]
                    .iter()
                    .all(|q| !q.name.eq_ignore_ascii_case(p.name)),
                "{} twice",
                p.name
            );
            let Some(name) = p.alias_of else { continue };
            let q = find(name).expect("an alias names a row");
            assert!(q.alias_of.is_none(), "{}: an alias of an alias", p.name);
            assert_eq!(p.class, q.class, "{}", p.name);
            // Set through the old name, read through the name.
            let mut c = Config::default();
            let other = if (q.get)(&c) == "1" { "2" } else { "1" };
            let value = if (p.set)(&mut c, other).is_ok() {
                other
            } else {
                "yes"
            };
            if (p.set)(&mut c, value).is_ok() {
                assert_eq!((q.get)(&c), (p.get)(&c), "{}", p.name);
            }
        }
    }

    /// Every row takes back the value it reports, unchanged: a file or
    /// test suite that spells out the defaults loads, refused rows too.
    #[test]
    fn every_row_takes_its_own_value() {
        let defaults = Config::default();
        for p in PARAMS {
            if p.name == "aclfile" {
                continue; // names a file it reads
            }
            let mut c = Config::default();
            let v = (p.get)(&defaults);
            (p.set)(&mut c, &v).unwrap_or_else(|e| panic!("{} {v:?}: {e}", p.name));
            assert_eq!((p.get)(&c), v, "{}", p.name);
        }
    }

    #[test]
    fn refused_rows_name_why() {
        let mut c = Config::default();
        let e = set(&mut c, "replicaof", "127.0.0.1 6380").expect_err("refused");
        assert_eq!(
            e.to_string(),
            "bad value for 'replicaof': keyward has no replication"
        );
        assert!(set(&mut c, "slaveof", "no one").expect("valid"));
        assert!(set(&mut c, "client-output-buffer-limit", "normal 0 0 0").expect("valid"));
        assert!(set(&mut c, "client-output-buffer-limit", "pubsub 1mb 1mb 1").expect("valid"));
        assert!(set(&mut c, "client-output-buffer-limit", "replica 1mb 1mb 1").is_err());
        assert!(set(&mut c, "tls-replication", "yes").is_err());
        assert!(set(&mut c, "tls-port", "6380").expect("honoured"));
        assert!(
            set(&mut c, "tls-protocols", "TLSv1.1").is_err(),
            "rustls lacks it"
        );
        assert!(set(&mut c, "tls-ciphers", "DEFAULT:!MEDIUM").expect("valid"));
        assert!(set(&mut c, "tls-auth-clients", "optional").expect("valid"));
    }

    #[test]
    fn accepted_rows_validate_as_redis() {
        let mut c = Config::default();
        assert!(set(&mut c, "hz", "20").expect("valid"));
        assert!(set(&mut c, "activedefrag", "maybe").is_err());
        assert!(set(&mut c, "active-defrag-cycle-max", "100").is_err());
        assert!(set(&mut c, "repl-backlog-size", "2mb").expect("valid"));
        assert_eq!((find("repl-backlog-size").expect("row").get)(&c), "2097152");
        assert!(set(&mut c, "slave-priority", "7").expect("valid"));
        assert_eq!((find("replica-priority").expect("row").get)(&c), "7");
    }

    /// Redis 7.2's additions over 7.0 (the differential test's oracle).
    #[test]
    fn redis_7_2_names_are_known() {
        for name in [
            "locale-collate",
            "set-max-listpack-entries",
            "set-max-listpack-value",
            "cluster-announce-human-nodename",
        ] {
            assert!(find(name).is_some(), "{name}");
        }
    }
}
