//! DUMP and RESTORE: a value as a Redis DUMP payload (RDB value encoding,
//! version, CRC64) and back, through the codec of `persistence::rdb`.
//!
//! RESTORE checks in Redis's order (`restoreCommand`): options, then the
//! key's existence, the TTL, the payload's version and checksum, then the
//! value itself, decoded with deep sanitisation whatever
//! `sanitize-dump-payload` says, since a payload is untrusted input.

use super::args::{self, is};
use super::errors::{self, CmdResult};
use super::spec::{cat, flags::*, CommandSpec, Group, Redact, Tenant};
use super::Ctx;
use crate::commands::Outcome;
use crate::keyspace::notify::class;
use crate::persistence::rdb::{self, DumpError};

const G: Group = Group::Generic;

pub static COMMANDS: &[CommandSpec] = &[
    // Its target is outside the tenant's databases: refused to pinned users.
    CommandSpec::new("migrate", -6, WRITE, G, migrate)
        .find_keys(migrate_keys)
        .legacy_keys(3, 3, 1)
        .cats(cat::DANGEROUS)
        .redact(Redact::Find(migrate_secrets))
        .tenant(Tenant::Server)
        .doc(
            "Atomically transfers a key from one Redis instance to another.",
            "2.6.0",
            "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
        ),
    CommandSpec::new("dump", 2, READONLY, G, dump)
        .keys(1, 1, 1)
        .doc(
            "Returns a serialized representation of the value stored at a key.",
            "2.6.0",
            "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        ),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, G, restore)
        .keys(1, 1, 1)
        .cats(cat::DANGEROUS)
        .doc(
            "Creates a key from the serialized representation of a value.",
            "2.6.0",
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        ),
    CommandSpec::new("restore-asking", -4, WRITE | DENYOOM | ASKING, Group::Server, restore)
        .keys(1, 1, 1)
        .cats(cat::KEYSPACE | cat::DANGEROUS)
        .doc(
            "An internal command for migrating keys in a cluster",
            "3.0.0",
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        ),
];

/// MIGRATE's keys, as its key specs find them: argv[3], or the arguments
/// after `KEYS` (Redis's migrateGetKeys, which also takes `""` for a key).
fn migrate_keys(argv: &[&[u8]]) -> Vec<usize> {
    super::keyspec::migrate_positions(argv)
}

/// MIGRATE's secrets: the password after AUTH, user and password after AUTH2.
fn migrate_secrets(argv: &[&[u8]]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 6;
    while i < argv.len() {
        if is(argv[i], "keys") {
            break;
        } else if is(argv[i], "auth") {
            out.push(i + 1);
            i += 2;
        } else if is(argv[i], "auth2") {
            out.extend([i + 1, i + 2]);
            i += 3;
        } else {
            i += 1;
        }
    }
    out.retain(|&j| j < argv.len());
    out
}

const IOERR_CONNECT: &str = "IOERR error or timeout connecting to the client";
const IOERR_WRITE: &str = "IOERR error or timeout writing to target instance";
const IOERR_READ: &str = "IOERR error or timeout reading to target instance";

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS k…]:
/// DUMP here, RESTORE there, DEL here (unless COPY). Like Redis it blocks
/// its worker for the transfer (at most `timeout` ms per step); the
/// batch's DB lock is released meanwhile, so a target that is this very
/// server answers, or times out, as Redis's does.
fn migrate(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    use std::io::{Read, Write};
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    let port = args::int(argv[2])?;
    let dbid = args::int(argv[4])?;
    let timeout = args::int(argv[5])?;
    let (mut copy, mut replace) = (false, false);
    let mut auth: Vec<&[u8]> = Vec::new();
    let mut i = 6;
    let mut with_keys = false;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "copy") {
            copy = true;
        } else if is(a, "replace") {
            replace = true;
        } else if is(a, "auth") && i + 1 < argv.len() {
            auth = vec![argv[i + 1]];
            i += 1;
        } else if is(a, "auth2") && i + 2 < argv.len() {
            auth = vec![argv[i + 1], argv[i + 2]];
            i += 2;
        } else if is(a, "keys") {
            if !argv[3].is_empty() {
                return Err(crate::commands::Error::lit("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"));
            }
            with_keys = true;
            break;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let keys: Vec<&[u8]> = if with_keys {
        argv[i + 1..].to_vec()
    } else {
        vec![argv[3]]
    };
    let timeout =
        std::time::Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    // What to send: each existing key's payload and remaining TTL.
    let now = ctx.now;
    let mut found: Vec<(&[u8], Vec<u8>, i64)> = Vec::new();
    {
        let db = ctx.db();
        for k in &keys {
            if let Some(e) = db.get_read(k, now) {
                let ttl = e.expire().map_or(0, |t| (t - now).max(1));
                found.push((k, rdb::dump_payload(e.value()), ttl));
            }
        }
    }
    if found.is_empty() {
        ctx.out.simple(b"NOKEY");
        return Ok(Outcome::Done);
    }
    ctx.release_db();
    let mut req = Vec::new();
    let mut cmd = |args: &[&[u8]]| crate::protocol::encode_command(&mut req, args);
    let mut expected = 0;
    if !auth.is_empty() {
        let mut a: Vec<&[u8]> = vec![b"AUTH"];
        a.extend(&auth);
        cmd(&a);
        expected += 1;
    }
    let db_arg = dbid.to_string();
    cmd(&[b"SELECT", db_arg.as_bytes()]);
    expected += 1;
    let ttls: Vec<String> = found.iter().map(|f| f.2.to_string()).collect();
    for (f, ttl) in found.iter().zip(&ttls) {
        let mut a: Vec<&[u8]> = vec![b"RESTORE", f.0, ttl.as_bytes(), &f.1];
        if replace {
            a.push(b"REPLACE");
        }
        cmd(&a);
    }
    let expected_replies = expected + found.len();
    let transfer = || -> Result<Vec<Vec<u8>>, crate::commands::Error> {
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port as u16))
            .ok()
            .and_then(|mut a| a.next());
        let Some(addr) = addr.filter(|_| (1..=65535).contains(&port)) else {
            return Err(crate::commands::Error::lit(IOERR_CONNECT));
        };
        let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)
            .map_err(|_| crate::commands::Error::lit(IOERR_CONNECT))?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        stream
            .write_all(&req)
            .map_err(|_| crate::commands::Error::lit(IOERR_WRITE))?;
        // Every reply here is one line (+OK or -error).
        let mut replies: Vec<Vec<u8>> = Vec::new();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while replies.len() < expected_replies {
            match buf.windows(2).position(|w| w == b"\r\n") {
                Some(p) => {
                    replies.push(buf[..p].to_vec());
                    buf.drain(..p + 2);
                }
                None => match stream.read(&mut chunk) {
                    Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => return Err(crate::commands::Error::lit(IOERR_READ)),
                },
            }
        }
        Ok(replies)
    };
    // The transfer blocks for up to `timeout` per step; on a multi-thread
    // runtime (the binary's) the worker's other tasks move to another
    // thread meanwhile, so a target that is this server can answer.
    let on_multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let replies = if on_multi_thread {
        tokio::task::block_in_place(transfer)?
    } else {
        transfer()?
    };
    let target_error = |r: &[u8]| {
        crate::commands::Error::from(format!(
            "ERR Target instance replied with error: {}",
            String::from_utf8_lossy(&r[1..])
        ))
    };
    if let Some(r) = replies[..expected]
        .iter()
        .find(|r| r.first() == Some(&b'-'))
    {
        return Err(target_error(r));
    }
    let mut moved: Vec<Vec<u8>> = Vec::new();
    let mut first_error = None;
    for (f, r) in found.iter().zip(&replies[expected..]) {
        if r.first() == Some(&b'-') {
            first_error.get_or_insert_with(|| target_error(r));
        } else if !copy {
            moved.push(f.0.to_vec());
        }
    }
    if !moved.is_empty() {
        let db = ctx.db();
        for k in &moved {
            db.remove(k);
            db.notify(class::GENERIC, "del", k);
        }
    }
    // Logged as what happened here: the keys that left.
    if ctx.propagating() {
        let effect = (!moved.is_empty()).then(|| {
            let mut del = vec![b"DEL".to_vec()];
            del.extend(moved);
            del
        });
        ctx.propagate_as(effect.into_iter().collect());
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn dump(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read(argv[1], now) {
        None => out.null(),
        Some(e) => out.bulk(&rdb::dump_payload(e.value())),
    }
    Ok(Outcome::Done)
}

fn restore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, payload) = (argv[1], argv[3]);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if is(argv[i], "replace") {
            replace = true;
        } else if is(argv[i], "absttl") {
            absttl = true;
        } else if is(argv[i], "idletime") && more && freq.is_none() {
            let v = args::int(argv[i + 1])?;
            idle = Some(u64::try_from(v).map_err(|_| errors::INVALID_IDLETIME)?);
            i += 1;
        } else if is(argv[i], "freq") && more && idle.is_none() {
            let v = args::int(argv[i + 1])?;
            freq = Some(u8::try_from(v).map_err(|_| errors::INVALID_FREQ)?);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let now = ctx.now;
    let t = ctx.srv.hot.thresholds();
    let db = ctx.db();
    if !replace && db.exists(key, now) {
        return Err(errors::BUSYKEY);
    }
    let mut ttl = args::int(argv[2])?;
    if ttl < 0 {
        return Err(errors::INVALID_TTL);
    }
    let value = rdb::restore_payload(payload, &t).map_err(|e| match e {
        DumpError::VersionOrChecksum => errors::DUMP_PAYLOAD,
        DumpError::BadData => errors::BAD_DATA_FORMAT,
    })?;
    let replaced = replace && db.remove(key).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    // A log replay keeps a time already past (Redis's checkAlreadyExpired).
    if ttl != 0 && ttl <= now && !db.loading {
        // Already expired: the key is (or stays) gone, as in Redis.
        if replaced {
            db.notify(class::GENERIC, "del", key);
        }
        ctx.out.ok();
        if ctx.propagating() {
            let del = replaced.then(|| crate::argv!(b"DEL", key));
            ctx.propagate_as(del.into_iter().collect());
        }
        return Ok(Outcome::Done);
    }
    let clock = rdb::eviction_clock(db.policy(), idle, freq, now);
    rdb::insert_with_clock(
        db,
        value.into_entry(key, (ttl != 0).then_some(ttl), clock),
        clock,
    );
    db.notify(class::GENERIC, "restore", key);
    ctx.out.ok();
    // A relative TTL is logged as the absolute time it gave.
    if ttl != 0 && !absttl && ctx.propagating() {
        let mut cmd = crate::argv!(b"RESTORE", key, ttl, payload);
        cmd.extend(argv[4..].iter().map(|a| a.to_vec()));
        cmd.push(b"ABSTTL".to_vec());
        ctx.propagate_as(vec![cmd]);
    }
    Ok(Outcome::Done)
}
