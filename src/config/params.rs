//! The parameter table: every setting CONFIG GET/SET, flags and the TOML
//! file know, with its parser and printer. One row per setting.

use super::{parse_memory, Config, ConfigError};

type Getter = fn(&Config) -> String;
type Setter = fn(&mut Config, &str) -> Result<(), String>;

pub struct Param {
    pub name: &'static str,
    pub get: Getter,
    pub set: Setter,
    /// CONFIG SET may change it while running.
    pub mutable: bool,
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
    },
    Param {
        name: "port",
        get: |c| c.port.to_string(),
        set: |c, v| Ok(c.port = num(v)?),
        mutable: false,
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
    },
    Param {
        name: "timeout",
        get: |c| c.timeout.to_string(),
        set: |c, v| Ok(c.timeout = num(v)?),
        mutable: true,
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
    },
    Param {
        name: "protected-mode",
        get: |c| yn(c.protected_mode),
        set: |c, v| Ok(c.protected_mode = yes_no(v)?),
        mutable: true,
    },
    Param {
        name: "loglevel",
        get: |c| c.loglevel.clone(),
        set: |c, v| {
            match v {
            "debug" | "verbose" | "notice" | "warning" | "nothing" => Ok(c.loglevel = v.to_string()),
            _ => Err("argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into()),
        }
        },
        mutable: true,
    },
    Param {
        name: "dir",
        get: |c| c.dir.display().to_string(),
        set: |c, v| Ok(c.dir = v.into()),
        mutable: true,
    },
    Param {
        name: "save",
        get: |c| c.save.clone(),
        set: |c, v| Ok(c.save = v.to_string()),
        mutable: true,
    },
    Param {
        name: "appendonly",
        get: |c| yn(c.appendonly),
        set: |c, v| Ok(c.appendonly = yes_no(v)?),
        mutable: true,
    },
    Param {
        name: "proto-max-bulk-len",
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| {
            let n = mem(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be a memory value bigger than 1mb".into());
            }
            c.proto_max_bulk_len = n as usize;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "client-query-buffer-limit",
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| {
            let n = mem(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be a memory value bigger than 1mb".into());
            }
            c.client_query_buffer_limit = n as usize;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "slowlog-log-slower-than",
        get: |c| c.slowlog_log_slower_than.to_string(),
        set: |c, v| Ok(c.slowlog_log_slower_than = num(v)?),
        mutable: true,
    },
    Param {
        name: "slowlog-max-len",
        get: |c| c.slowlog_max_len.to_string(),
        set: |c, v| Ok(c.slowlog_max_len = num(v)?),
        mutable: true,
    },
    Param {
        name: "hz",
        get: |c| c.hz.to_string(),
        set: |c, v| {
            let hz: u32 = num(v)?;
            c.hz = hz.clamp(1, 500);
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "maxmemory",
        get: |c| c.maxmemory.to_string(),
        set: |c, v| Ok(c.maxmemory = mem(v)?),
        mutable: true,
    },
    Param {
        name: "maxmemory-policy",
        get: |c| c.maxmemory_policy.clone(),
        set: |c, v| {
            let v = v.to_ascii_lowercase();
            if !POLICIES.contains(&v.as_str()) {
                return Err(format!(
                    "argument(s) must be one of the following: {}",
                    POLICIES.join(", ")
                ));
            }
            c.maxmemory_policy = v;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "maxmemory-samples",
        get: |c| c.maxmemory_samples.to_string(),
        set: |c, v| Ok(c.maxmemory_samples = num(v)?),
        mutable: true,
    },
    Param {
        name: "tcp-keepalive",
        get: |c| c.tcp_keepalive.to_string(),
        set: |c, v| Ok(c.tcp_keepalive = num(v)?),
        mutable: true,
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
    },
];

pub fn find_extra(name: &str) -> Option<&'static Param> {
    EXTRA.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Settings read only at startup.
static EXTRA: &[Param] = &[Param {
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
}];

pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Sets `name` from its textual value. `Ok(false)` for unknown names.
pub fn set(c: &mut Config, name: &str, value: &str) -> Result<bool, ConfigError> {
    match find(name).or_else(|| find_extra(name)) {
        None => Ok(false),
        Some(p) => (p.set)(c, value)
            .map(|()| true)
            .map_err(|message| ConfigError::Value {
                name: name.to_string(),
                message,
            }),
    }
}
