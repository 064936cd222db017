//! Per-tenant upstream users: why Lua cannot leave a tenant's DB.
//!
//! The proxy checks every command a client sends, but a script runs
//! upstream and can `redis.call('select', 0)` (or MOVE, SWAPDB, FLUSHALL …)
//! past those checks. So with upstream admin credentials configured, each
//! DB-restricted keyward user talks to the upstream as its own ACL user,
//! `keyward-<name>`, which keyward creates (`ACL SETUSER`) with a random
//! password per start and without any command that reaches another DB or
//! the server as a whole. Its connections are opened as the base
//! credentials, `SELECT` their DB, then `AUTH` as the tenant: from then on
//! the connection cannot change DB, whatever a script calls.
//!
//! Users are provisioned at startup (best effort: the upstream may be down)
//! and again whenever the tenant's `AUTH` is refused (the upstream
//! restarted and forgot them, or a user was added with ACL SETUSER at the
//! proxy). Passwords are never logged nor put in an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::RngCore;

/// Commands a tenant's upstream user may not run, after `+@all -@admin`
/// (`@admin` already takes ACL, CONFIG, DEBUG, SHUTDOWN, MONITOR, SAVE,
/// REPLICAOF, FAILOVER, CLIENT KILL/LIST …). Each reaches past one DB:
/// - SELECT, SWAPDB, MOVE, COPY (its `DB` argument; ACL rules cannot
///   restrict an argument, so COPY goes whole), MIGRATE (to the same
///   server, another DB), FLUSHALL;
/// - the script cache and function libraries are server-wide: flushing,
///   loading, deleting, restoring or killing them touches other tenants
///   (a library another tenant calls would run the loader's code);
/// - CLIENT (every subcommand the proxy serves is answered by the proxy;
///   the rest acts on other connections), PUBSUB introspection is kept.
pub const DENIED: &[&str] = &[
    "-select",
    "-swapdb",
    "-move",
    "-copy",
    "-migrate",
    "-flushall",
    "-script|flush",
    "-script|kill",
    "-function|flush",
    "-function|load",
    "-function|delete",
    "-function|restore",
    "-function|kill",
    "-client",
];

/// One DB-restricted keyward user's upstream identity.
pub struct Tenant {
    /// Unique per [`Tenant::new`]: pools are keyed by it, so a tenant
    /// remade with new DBs (and password) never shares a pool with the old.
    pub id: u64,
    /// `keyward-<keyward user name>`.
    pub user: String,
    secret: String,
    /// The DBs the keyward user may reach (for Valkey's `db=` rule).
    pub dbs: Vec<usize>,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant").field("user", &self.user).finish()
    }
}

impl Tenant {
    /// A tenant with a fresh random password (256 bits, hex).
    pub fn new(name: &str, dbs: Vec<usize>) -> Arc<Tenant> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let secret = raw.iter().map(|b| format!("{b:02x}")).collect();
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Arc::new(Tenant {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            user: format!("keyward-{name}"),
            secret,
            dbs,
        })
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The `ACL SETUSER` arguments that (re)create this user on an upstream
    /// of `version`; `valkey_db_rule` adds Valkey ≥ 9.1's own `db=` rule on
    /// top of the denials (which stay: they also cover FLUSHALL, MIGRATE and
    /// the server-wide script state).
    pub fn setuser(&self, valkey_db_rule: bool) -> Vec<String> {
        let mut args = vec![
            "ACL".to_string(),
            "SETUSER".to_string(),
            self.user.clone(),
            "reset".to_string(),
            "on".to_string(),
            format!(">{}", self.secret),
            "~*".to_string(),
            "&*".to_string(),
            "+@all".to_string(),
            "-@admin".to_string(),
        ];
        args.extend(DENIED.iter().map(|s| s.to_string()));
        if valkey_db_rule {
            let dbs: Vec<String> = self.dbs.iter().map(|d| d.to_string()).collect();
            args.push("resetdbs".into());
            if !dbs.is_empty() {
                args.push(format!("db={}", dbs.join(",")));
            }
        }
        args
    }
}

/// Whether the `INFO server` text is from Valkey 9.1 or later (which has
/// ACL `db=` rules).
pub fn valkey_has_db_rule(info: &str) -> bool {
    let Some(v) = info
        .lines()
        .find_map(|l| l.strip_prefix("valkey_version:"))
        .map(str::trim)
    else {
        return false;
    };
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (9, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setuser_denies_every_db_crossing_command() {
        let t = Tenant::new("alice", vec![2, 3]);
        assert_eq!(t.user, "keyward-alice");
        assert_eq!(t.secret().len(), 64);
        assert_ne!(t.secret(), Tenant::new("alice", vec![2]).secret());
        let args = t.setuser(false);
        assert_eq!(
            &args[..5],
            ["ACL", "SETUSER", "keyward-alice", "reset", "on"]
        );
        for c in [
            "-select",
            "-swapdb",
            "-move",
            "-copy",
            "-flushall",
            "-@admin",
        ] {
            assert!(args.iter().any(|a| a == c), "{c}");
        }
        assert!(!args.iter().any(|a| a.starts_with("db=")));
        let args = t.setuser(true);
        assert_eq!(args.last().map(String::as_str), Some("db=2,3"));
        // The password never shows in Debug.
        assert!(!format!("{t:?}").contains(t.secret()));
    }

    #[test]
    fn valkey_versions() {
        assert!(!valkey_has_db_rule("redis_version:7.0.15\r\n"));
        assert!(!valkey_has_db_rule(
            "redis_version:7.2.4\r\nvalkey_version:8.1.8\r\n"
        ));
        assert!(valkey_has_db_rule("valkey_version:9.1.0\r\n"));
        assert!(valkey_has_db_rule("valkey_version:10.0.0\r\n"));
        assert!(!valkey_has_db_rule("valkey_version:9.0.3\r\n"));
    }
}
