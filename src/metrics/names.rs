//! Every series keyward exports, with its Prometheus type and help text.
//! Dashboards and alerts depend on these names: change them here only, and
//! treat a rename as a breaking change.

/// How Prometheus should read a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported series: name, type, help.
#[derive(Clone, Copy, Debug)]
pub struct Series {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

const fn series(name: &'static str, kind: Kind, help: &'static str) -> Series {
    Series { name, kind, help }
}

/// Label naming a DB by index (always present on per-DB series).
pub const LABEL_DB: &str = "db";
/// Label carrying a DB's `[[db]] name`, present only when it has one.
pub const LABEL_NAME: &str = "name";
/// Label naming an ACL user.
pub const LABEL_USER: &str = "user";
/// Label naming a command (`get`, `client|list`).
pub const LABEL_CMD: &str = "cmd";

// Per DB, read under the DB's lock at scrape time.
pub const DB_KEYS: Series = series("keyward_db_keys", Kind::Gauge, "Keys in the DB.");
pub const DB_EXPIRES: Series = series(
    "keyward_db_expires",
    Kind::Gauge,
    "Keys in the DB that have a TTL.",
);
pub const DB_USED_MEMORY: Series = series(
    "keyward_db_used_memory_bytes",
    Kind::Gauge,
    "Bytes owned by the DB's entries and table.",
);
pub const DB_MAXMEMORY: Series = series(
    "keyward_db_maxmemory_bytes",
    Kind::Gauge,
    "The DB's own memory limit in bytes (0 = only the global limit applies).",
);
pub const DB_HITS: Series = series(
    "keyward_db_keyspace_hits_total",
    Kind::Counter,
    "Key lookups by read commands that found the key.",
);
pub const DB_MISSES: Series = series(
    "keyward_db_keyspace_misses_total",
    Kind::Counter,
    "Key lookups by read commands that did not find the key.",
);
pub const DB_EVICTED: Series = series(
    "keyward_db_evicted_keys_total",
    Kind::Counter,
    "Keys evicted to stay under a memory limit.",
);
pub const DB_EXPIRED: Series = series(
    "keyward_db_expired_keys_total",
    Kind::Counter,
    "Keys removed because their TTL passed.",
);
// Per DB, from the tenancy atomics.
pub const DB_OOM_REJECTED: Series = series(
    "keyward_db_oom_rejections_total",
    Kind::Counter,
    "Writes refused with -OOM because of a memory limit.",
);
pub const DB_THROTTLED: Series = series(
    "keyward_db_throttled_commands_total",
    Kind::Counter,
    "Commands delayed or refused by the DB's max-ops-per-sec.",
);
pub const DB_CLIENTS: Series = series(
    "keyward_db_clients",
    Kind::Gauge,
    "Connected clients whose selected DB this is.",
);

// Per ACL user; the counters outlive ACL SETUSER/DELUSER.
pub const USER_CONNECTIONS: Series = series(
    "keyward_user_connections",
    Kind::Gauge,
    "Open connections authenticated as the user.",
);
pub const USER_COMMANDS: Series = series(
    "keyward_user_commands_total",
    Kind::Counter,
    "Commands the user's connections ran (refused ones excluded).",
);
pub const USER_ACL_DENIALS: Series = series(
    "keyward_user_acl_denials_total",
    Kind::Counter,
    "Commands refused by ACL rules and failed AUTH attempts, by user.",
);

pub const USER_AUTH_FAILURES: Series = series(
    "keyward_user_auth_failures_total",
    Kind::Counter,
    "Failed AUTH attempts naming the user (existing users only).",
);

// Server-wide.
pub const AUTH_FAILURES: Series = series(
    "keyward_auth_failures_total",
    Kind::Counter,
    "Failed AUTH attempts, whatever user they named.",
);
pub const AUTH_DELAYED: Series = series(
    "keyward_auth_delayed_total",
    Kind::Counter,
    "Failed AUTH replies held back by auth-fail-delay.",
);

// Per command.
pub const COMMAND_DURATION: Series = series(
    "keyward_command_duration_seconds",
    Kind::Histogram,
    "Time spent running commands, by command (excludes refused commands and network I/O).",
);

/// Every series, for the name checks.
pub const ALL: &[Series] = &[
    DB_KEYS,
    DB_EXPIRES,
    DB_USED_MEMORY,
    DB_MAXMEMORY,
    DB_HITS,
    DB_MISSES,
    DB_EVICTED,
    DB_EXPIRED,
    DB_OOM_REJECTED,
    DB_THROTTLED,
    DB_CLIENTS,
    USER_CONNECTIONS,
    USER_COMMANDS,
    USER_ACL_DENIALS,
    USER_AUTH_FAILURES,
    AUTH_FAILURES,
    AUTH_DELAYED,
    COMMAND_DURATION,
];

/// Labels used by the series above.
pub const LABELS: &[&str] = &[LABEL_DB, LABEL_NAME, LABEL_USER, LABEL_CMD];

/// Prometheus's metric name grammar: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Prometheus's label name grammar: `[a-zA-Z_][a-zA-Z0-9_]*`, `__` reserved.
pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_prometheus_names() {
        for s in ALL {
            assert!(valid_metric_name(s.name), "{}", s.name);
            assert!(s.name.starts_with("keyward_"), "{}", s.name);
            assert!(!s.help.is_empty() && !s.help.contains('\n'), "{}", s.name);
            // Prometheus naming conventions: counters end in _total, and
            // nothing else does.
            assert_eq!(
                s.kind == Kind::Counter,
                s.name.ends_with("_total"),
                "{}",
                s.name
            );
        }
        for l in LABELS {
            assert!(valid_label_name(l), "{l}");
            assert_ne!(*l, "le", "reserved for histogram buckets");
        }
    }

    #[test]
    fn names_are_unique_including_histogram_suffixes() {
        let mut seen = std::collections::HashSet::new();
        for s in ALL {
            let mut emitted = vec![s.name.to_string()];
            if s.kind == Kind::Histogram {
                for suffix in ["_bucket", "_sum", "_count"] {
                    emitted.push(format!("{}{suffix}", s.name));
                }
            }
            for n in emitted {
                assert!(seen.insert(n.clone()), "duplicate series {n}");
            }
        }
    }

    #[test]
    fn name_grammar() {
        assert!(valid_metric_name("a:b_c1"));
        assert!(!valid_metric_name("1abc"));
        assert!(!valid_metric_name("a-b"));
        assert!(!valid_metric_name(""));
        assert!(valid_label_name("db"));
        assert!(!valid_label_name("__name"));
        assert!(!valid_label_name("a:b"));
    }
}
