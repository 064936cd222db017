//! DUMP and RESTORE: a value as a Redis DUMP payload (RDB value encoding,
//! version, CRC64) and back, through the codec of `persistence::rdb`.
//!
//! RESTORE checks in Redis's order (`restoreCommand`): options, then the
//! key's existence, the TTL, the payload's version and checksum, then the
//! value itself, decoded with deep sanitisation whatever
//! `sanitize-dump-payload` says, since a payload is untrusted input.

use super::args::{self, is};
use super::errors::{self, CmdResult};
use super::spec::{cat, flags::*, CommandSpec, Group};
use super::Ctx;
use crate::persistence::rdb::{self, DumpError};

const G: Group = Group::Generic;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, READONLY, G, dump)
        .keys(1, 1, 1)
        .doc(
            "Returns a serialized representation of the value stored at a key.",
            "2.6.0",
            "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        ),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, G, restore)
        .keys(1, 1, 1)
        .key_flags(&["OW", "update"])
        .cats(cat::DANGEROUS)
        .doc(
            "Creates a key from the serialized representation of a value.",
            "2.6.0",
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        ),
];

fn dump(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read(argv[1], now) {
        None => out.null(),
        Some(e) => out.bulk(&rdb::dump_payload(e.value())),
    }
    Ok(())
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
        ctx.out.ok();
        if ctx.propagating() {
            let del = replaced.then(|| crate::argv!(b"DEL", key));
            ctx.propagate_as(del.into_iter().collect());
        }
        return Ok(());
    }
    let clock = rdb::eviction_clock(db.policy(), idle, freq, now);
    rdb::insert_with_clock(
        db,
        value.into_entry(key, (ttl != 0).then_some(ttl), clock),
        clock,
    );
    ctx.out.ok();
    // A relative TTL is logged as the absolute time it gave.
    if ttl != 0 && !absttl && ctx.propagating() {
        let mut cmd = crate::argv!(b"RESTORE", key, ttl, payload);
        cmd.extend(argv[4..].iter().map(|a| a.to_vec()));
        cmd.push(b"ABSTTL".to_vec());
        ctx.propagate_as(vec![cmd]);
    }
    Ok(())
}
