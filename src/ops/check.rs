//! `keyward --check-config FILE [--flag value …]`: reads a configuration
//! (TOML or redis.conf, plus flags, exactly as a start would), checks what a
//! start would refuse, and prints the effective tenancy table — databases
//! with their limits and policies, users with their databases and rules.
//! Passwords are never printed (not even their hashes): only how many a
//! user has.

use std::fmt::Write as _;

use crate::config::Config;

/// Exit status 0 when the configuration would start, 1 otherwise.
pub fn main(args: &[String]) -> u8 {
    if args.first().is_none_or(|a| a.starts_with("--")) {
        eprintln!("Usage: keyward --check-config FILE [--name value ...]");
        return 1;
    }
    let config = match crate::config::parse_args(args.iter().cloned()) {
        Ok(cli) => cli.config,
        Err(e @ crate::config::ConfigError::Fatal(_)) => {
            eprintln!("{e}");
            return 1;
        }
        Err(e) => {
            eprintln!("keyward: {e}");
            return 1;
        }
    };
    match check(&config) {
        Ok(()) => {
            print!("{}", report(&config));
            println!("configuration OK");
            0
        }
        Err(e) => {
            eprintln!("keyward: {e}");
            1
        }
    }
}

/// What a start refuses beyond reading the file and flags.
pub fn check(c: &Config) -> Result<(), String> {
    crate::server::validate(c).map_err(|e| e.to_string())?;
    for host in &c.bind {
        host.parse::<std::net::IpAddr>()
            .map_err(|_| format!("invalid bind address '{host}'"))?;
    }
    if !c.unixsocket.is_empty() && cfg!(not(unix)) {
        return Err("unixsocket needs a unix system".into());
    }
    Ok(())
}

/// Bytes as the config spells them (`512mb`), or `-` for 0 = no limit.
fn mem(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "gb"), (1 << 20, "mb"), (1 << 10, "kb")];
    if n == 0 {
        return "-".into();
    }
    for (size, unit) in UNITS {
        if n % size == 0 {
            return format!("{}{unit}", n / size);
        }
    }
    n.to_string()
}

fn limit(n: u64) -> String {
    if n == 0 {
        "-".into()
    } else {
        n.to_string()
    }
}

/// Left-aligned columns, two spaces apart.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The effective settings that decide who may do what, as text.
pub fn report(c: &Config) -> String {
    let mut out = String::new();
    let yn = |b: bool| if b { "yes" } else { "no" };
    match &c.config_file {
        Some(p) => {
            let format = match c.config_format {
                crate::config::redisconf::Format::Toml => "TOML",
                crate::config::redisconf::Format::RedisConf => "redis.conf",
            };
            let _ = writeln!(out, "config file: {} ({format})", p.display());
        }
        None => out.push_str("config file: none\n"),
    }
    let tcp = if !c.unixsocket.is_empty() && c.port == 0 {
        "none".to_string()
    } else {
        format!("{} port {}", c.bind.join(" "), c.port)
    };
    let _ = writeln!(out, "listen: tcp {tcp}");
    if !c.unixsocket.is_empty() {
        let _ = writeln!(
            out,
            "listen: unixsocket {} (perm {:o})",
            c.unixsocket, c.unixsocketperm
        );
    }
    let _ = writeln!(
        out,
        "auth: requirepass {}, protected-mode {}, aclfile {}",
        if c.requirepass.is_some() {
            "set"
        } else {
            "not set"
        },
        yn(c.protected_mode),
        c.aclfile.as_deref().unwrap_or("none"),
    );
    let _ = writeln!(
        out,
        "memory: maxmemory {} (all databases), default policy {}",
        mem(c.maxmemory),
        c.maxmemory_policy
    );
    let _ = writeln!(
        out,
        "persistence: dir {}, dbfilename {}, save \"{}\", appendonly {}, appendfsync {}",
        c.dir.display(),
        c.dbfilename,
        c.save,
        yn(c.appendonly),
        c.appendfsync
    );
    let word = |b: bool, w: [&'static str; 2]| w[usize::from(b)];
    let _ = writeln!(
        out,
        "scopes: flushall-scope {}, pubsub-scope {}, script-scope {}",
        word(c.flushall_own, ["deny", "own"]),
        word(c.pubsub_per_db, ["global", "db"]),
        word(c.script_per_db, ["global", "db"]),
    );
    let _ = writeln!(out, "\ndatabases: {}", c.databases);
    let mut rows = vec![[
        "DB",
        "NAME",
        "MAXMEMORY",
        "POLICY",
        "MAX-KEYS",
        "MAX-OPS/S",
        "OPS-MODE",
        "MAX-CLIENTS",
        "PERSIST",
        "APPENDFSYNC",
    ]
    .map(String::from)
    .to_vec()];
    let mut dbs = c.dbs.clone();
    dbs.sort_by_key(|d| d.index);
    for d in &dbs {
        rows.push(vec![
            d.index.to_string(),
            if d.name.is_empty() {
                "-".into()
            } else {
                d.name.clone()
            },
            mem(d.maxmemory),
            d.maxmemory_policy
                .map_or_else(|| c.maxmemory_policy.clone(), |p| p.name().to_string()),
            limit(d.max_keys),
            limit(d.max_ops_per_sec),
            if d.max_ops_per_sec == 0 {
                "-".into()
            } else {
                format!("{:?}", d.max_ops_mode).to_lowercase()
            },
            limit(d.max_clients),
            yn(!d.no_persist).into(),
            if d.fsync_always { "always" } else { "server's" }.into(),
        ]);
    }
    table(&mut out, &rows);
    let others = c.databases - dbs.len().min(c.databases);
    if others > 0 {
        let _ = writeln!(
            out,
            "({others} other database(s): no limits of their own, policy {})",
            c.maxmemory_policy
        );
    }
    let acl = crate::acl::Acl::from_config(c);
    let mut rows = vec![["USER", "STATE", "PASSWORDS", "DBS", "RULES"]
        .map(String::from)
        .to_vec()];
    for u in acl.users() {
        let passwords = u.password_hashes().count();
        // The rules without the password hashes and the flags shown apart.
        let text = u.rules_text();
        let rules = text
            .split_whitespace()
            .filter(|w| !w.starts_with('#') && !matches!(*w, "on" | "off" | "nopass"))
            .collect::<Vec<_>>()
            .join(" ");
        rows.push(vec![
            u.name.clone(),
            if u.enabled { "on" } else { "off" }.into(),
            if u.nopass {
                "nopass".into()
            } else {
                passwords.to_string()
            },
            match u.visible_dbs() {
                None => "all".into(),
                Some(v) => v.iter().map(usize::to_string).collect::<Vec<_>>().join(","),
            },
            rules,
        ]);
    }
    out.push('\n');
    table(&mut out, &rows);
    out
}
