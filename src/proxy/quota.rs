//! Per-DB `max-keys` and `maxmemory` in proxy mode, from the upstream's
//! figures: the keyspace is remote, so the quota gate of dispatch (which
//! reads the local, empty one) cannot see it.
//!
//! A poller task asks the upstream, on its own connection with the base
//! credentials, for `INFO keyspace` every `quota-poll-ms` (default 250 ms),
//! and, about once a second for each DB with a memory limit, samples
//! `MEMORY USAGE` of up to [`SAMPLES`] `RANDOMKEY`s: the DB's memory is
//! estimated as their mean × its key count. Both are approximations
//! (documented in the README): a DB can overshoot by the writes of one
//! poll interval, and the memory figure is only as good as its sample.
//! The key counts also feed INFO's tenancy section.
//!
//! The proxy executor refuses a `denyoom` command (and an EXEC holding
//! one) with `-OOM` while the DB is at its `max-keys` or over its memory
//! limit; it cannot evict, so only `noeviction` is accepted for a DB with
//! a limit ([`check_config`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tracing::{debug, warn};

use super::resp::frame_len;
use super::stream::UpStream;
use super::upstream::{connect, write_all};
use super::Settings;
use crate::commands::errors::{self, Error};
use crate::config::Config;
use crate::keyspace::evict::Policy;
use crate::protocol::encode_command as encode;
use crate::server::Shared;
use crate::tenancy::Tenancy;

/// Keys sampled per DB for the memory estimate.
pub const SAMPLES: usize = 16;

/// One upstream DB as last polled.
#[derive(Default)]
pub struct RemoteDb {
    pub keys: AtomicU64,
    pub expires: AtomicU64,
    /// Estimated bytes (sampled `MEMORY USAGE` mean × keys).
    pub memory: AtomicU64,
}

/// What the proxy cannot do: evict upstream. A DB with a memory or key
/// limit must use `noeviction` (writes get `-OOM`), or the limit would be
/// silently weaker than configured.
pub fn check_config(config: &Config) -> Result<(), String> {
    let global = Policy::parse(config.maxmemory_policy.as_bytes()).unwrap_or_default();
    for d in &config.dbs {
        let policy = d.maxmemory_policy.unwrap_or(global);
        let limited = d.maxmemory > 0 || d.max_keys > 0 || config.maxmemory > 0;
        if limited && policy != Policy::NoEviction {
            return Err(format!(
                "[[db]] {}: maxmemory-policy {} needs eviction, which proxy mode cannot do upstream; use noeviction (writes get -OOM at the limit) or the upstream's own maxmemory-policy",
                d.index,
                policy.name()
            ));
        }
    }
    if config.maxmemory > 0 && global != Policy::NoEviction {
        return Err(format!(
            "maxmemory-policy {} needs eviction, which proxy mode cannot do upstream; use noeviction",
            global.name()
        ));
    }
    Ok(())
}

/// The gate: `-OOM` for a command that may add data to DB `db` while it is
/// at a limit, as far as the last poll knows.
pub fn check(tenancy: &Tenancy, remote: &[RemoteDb], db: usize) -> Result<(), Error> {
    // `remote` has one entry per DB, as the tenancy has.
    let Some(r) = remote.get(db) else {
        return Ok(());
    };
    let t = tenancy.db(db);
    let max_keys = t.max_keys.load(Ordering::Relaxed);
    if max_keys > 0 && r.keys.load(Ordering::Relaxed) >= max_keys {
        t.oom_rejected.fetch_add(1, Ordering::Relaxed);
        return Err(errors::DB_MAX_KEYS);
    }
    let global = tenancy.global_maxmemory.load(Ordering::Relaxed);
    let own = t.effective_maxmemory(global);
    let used = r.memory.load(Ordering::Relaxed);
    let over_global = global > 0 && {
        let total: u64 = remote
            .iter()
            .map(|d| d.memory.load(Ordering::Relaxed))
            .sum();
        total >= global
    };
    if (own > 0 && used >= own) || over_global {
        t.oom_rejected.fetch_add(1, Ordering::Relaxed);
        return Err(errors::OOM);
    }
    Ok(())
}

/// The DBs with a memory limit (the ones sampled).
fn memory_limited(tenancy: &Tenancy, n: usize) -> Vec<usize> {
    let global = tenancy.global_maxmemory.load(Ordering::Relaxed);
    (0..n)
        .filter(|&i| tenancy.db(i).effective_maxmemory(global) > 0)
        .collect()
}

/// The poller: runs for the proxy's lifetime.
pub async fn poll(up: Arc<Settings>, srv: Weak<Shared>, remote: Arc<[RemoteDb]>, every: Duration) {
    let mut conn: Option<UpStream> = None;
    let mut tick: u64 = 0;
    let sample_every = (1000 / every.as_millis().max(1) as u64).max(1);
    loop {
        tokio::time::sleep(every).await;
        let Some(srv) = srv.upgrade() else {
            return; // the server is gone
        };
        if srv.shutting_down.load(Ordering::Acquire) {
            return;
        }
        let mem = memory_limited(&srv.tenancy, remote.len());
        drop(srv);
        tick += 1;
        let sample = tick % sample_every == 1 || sample_every == 1;
        let s = match conn.as_mut() {
            Some(s) => s,
            None => match connect(&up, 0, false, None).await {
                Ok(s) => conn.insert(s),
                Err(e) => {
                    debug!(error = %e, "quota poll: upstream unavailable");
                    continue;
                }
            },
        };
        let r = tokio::time::timeout(
            up.connect_timeout.max(Duration::from_secs(1)),
            poll_once(s, &remote, if sample { &mem } else { &[] }),
        )
        .await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(error = %e, "quota poll failed");
                conn = None;
            }
            Err(_) => {
                warn!("quota poll timed out");
                conn = None;
            }
        }
    }
}

async fn poll_once(s: &mut UpStream, remote: &[RemoteDb], sample: &[usize]) -> Result<(), String> {
    let info = call(s, &[vec![b"INFO".to_vec(), b"keyspace".to_vec()]]).await?;
    let text = bulk_text(&info[0]);
    let mut seen = vec![false; remote.len()];
    for line in text.lines() {
        let Some((db, keys, expires)) = keyspace_line(line) else {
            continue;
        };
        if let Some(r) = remote.get(db) {
            r.keys.store(keys, Ordering::Relaxed);
            r.expires.store(expires, Ordering::Relaxed);
            seen[db] = true;
        }
    }
    for (i, r) in remote.iter().enumerate() {
        if !seen[i] {
            r.keys.store(0, Ordering::Relaxed);
            r.expires.store(0, Ordering::Relaxed);
            r.memory.store(0, Ordering::Relaxed);
        }
    }
    for &db in sample {
        let Some(r) = remote.get(db) else { continue };
        let keys = r.keys.load(Ordering::Relaxed);
        if keys == 0 {
            continue;
        }
        let mut cmds = vec![vec![b"SELECT".to_vec(), db.to_string().into_bytes()]];
        cmds.extend((0..SAMPLES.min(keys as usize)).map(|_| vec![b"RANDOMKEY".to_vec()]));
        let names = call(s, &cmds).await?;
        let mut usage: Vec<Vec<Vec<u8>>> = Vec::new();
        for f in &names[1..] {
            if let Some(k) = bulk(f) {
                usage.push(vec![
                    b"MEMORY".to_vec(),
                    b"USAGE".to_vec(),
                    k.to_vec(),
                    b"SAMPLES".to_vec(),
                    b"5".to_vec(),
                ]);
            }
        }
        if usage.is_empty() {
            continue;
        }
        let sizes = call(s, &usage).await?;
        let got: Vec<u64> = sizes.iter().filter_map(|f| integer(f)).collect();
        if got.is_empty() {
            continue;
        }
        let mean = got.iter().sum::<u64>() / got.len() as u64;
        r.memory.store(mean.saturating_mul(keys), Ordering::Relaxed);
    }
    Ok(())
}

/// INFO's `# Tenancy` section (see `commands/server.rs` for the
/// standalone one, whose fields these are): keys and expires as last
/// polled, `used_memory` the estimate (0 for DBs without a memory limit,
/// which are not sampled), `evicted_keys` always 0 (the proxy never evicts).
pub fn tenancy_section(srv: &Shared, remote: &[RemoteDb], user: &crate::acl::User) -> String {
    use std::fmt::Write;
    let global = srv.tenancy.global_maxmemory.load(Ordering::Relaxed);
    let mut s = String::from("# Tenancy\r\n");
    for (i, r) in remote.iter().enumerate() {
        if !user.sees_db(i) {
            continue;
        }
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let fields =
            srv.tenancy
                .db(i)
                .info_fields(ld(&r.keys), ld(&r.expires), ld(&r.memory), 0, global);
        if let Some(f) = fields {
            let _ = write!(s, "db{i}:{f}\r\n");
        }
    }
    s
}

/// `db3:keys=10,expires=2,avg_ttl=0` → (3, 10, 2).
pub fn keyspace_line(line: &str) -> Option<(usize, u64, u64)> {
    let rest = line.trim_end().strip_prefix("db")?;
    let (db, fields) = rest.split_once(':')?;
    let db = db.parse().ok()?;
    let mut keys = None;
    let mut expires = 0;
    for kv in fields.split(',') {
        match kv.split_once('=') {
            Some(("keys", v)) => keys = v.parse().ok(),
            Some(("expires", v)) => expires = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    Some((db, keys?, expires))
}

/// Sends `cmds` pipelined and reads one frame each; an error frame is an
/// `Err` unless the command may legitimately fail (a key deleted between
/// RANDOMKEY and MEMORY USAGE answers nil, not an error).
async fn call(s: &mut UpStream, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Bytes>, String> {
    let mut req = Vec::new();
    for c in cmds {
        let argv: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
        encode(&mut req, &argv);
    }
    write_all(s, &req).await.map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::with_capacity(cmds.len());
    while out.len() < cmds.len() {
        match frame_len(&buf) {
            Ok(Some(n)) => {
                let f = buf.split_to(n).freeze();
                if f[0] == b'-' {
                    return Err(String::from_utf8_lossy(&f[1..f.len() - 2]).into_owned());
                }
                out.push(f);
                continue;
            }
            Ok(None) => {}
            Err(_) => return Err("malformed reply".into()),
        }
        if s.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("closed by upstream".into());
        }
    }
    Ok(out)
}

fn bulk(f: &[u8]) -> Option<&[u8]> {
    if f.first() != Some(&b'$') {
        return None;
    }
    let nl = f.windows(2).position(|w| w == b"\r\n")?;
    f.get(nl + 2..f.len().checked_sub(2)?)
}

fn bulk_text(f: &[u8]) -> String {
    bulk(f)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn integer(f: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(f.strip_prefix(b":")?).ok()?;
    s.trim_end().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyspace_lines() {
        assert_eq!(
            keyspace_line("db3:keys=10,expires=2,avg_ttl=0\r"),
            Some((3, 10, 2))
        );
        assert_eq!(
            keyspace_line("db12:keys=1,expires=0,avg_ttl=0,subexpiry=0"),
            Some((12, 1, 0))
        );
        assert_eq!(keyspace_line("# Keyspace"), None);
        assert_eq!(keyspace_line("dbx:keys=1"), None);
    }

    #[test]
    fn frames() {
        assert_eq!(bulk(b"$3\r\nabc\r\n"), Some(&b"abc"[..]));
        assert_eq!(bulk(b"$-1\r\n"), None);
        assert_eq!(integer(b":42\r\n"), Some(42));
        assert_eq!(integer(b"$-1\r\n"), None);
    }
}
