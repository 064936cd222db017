//! DEBUG, behind `enable-debug-command` (default `no`, as Redis 7; `local`
//! allows loopback clients only; refused to DB-restricted users, like
//! every admin command). The subcommands tests and tools use: SLEEP,
//! OBJECT, SET-ACTIVE-EXPIRE, DIGEST, DIGEST-VALUE, PROTOCOL, LISTPACK,
//! QUICKLIST-PACKED-THRESHOLD, STRINGMATCH-LEN, CHANGE-REPL-ID, RELOAD.
//!
//! DIGEST is keyward's own (SHA-1 over each key's name, RDB-encoded value
//! and expiry, combined so that key order does not matter): two keyward
//! datasets with the same contents have the same digest, an empty one
//! forty zeros as in Redis, but the value differs from Redis's.

use std::sync::atomic::Ordering;

use crate::commands::Outcome;
use crate::keyspace::entry::{Entry, ValueRef};
use crate::persistence::rdb::write::encode_value;
use crate::persistence::rdb::RdbVersion;

use super::args::is;
use super::errors::{self, CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;

const G: Group = Group::Server;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "debug",
    -2,
    ADMIN | NOSCRIPT | LOADING | STALE | NO_DB_LOCK,
    G,
    debug,
)
.doc_flags(&["syscmd"])
.doc(
    "A container for debugging commands.",
    "1.0.0",
    "Depends on subcommand.",
)];

/// Redis 7's refusal while `enable-debug-command` does not allow the client.
pub const DEBUG_NOT_ALLOWED: Error = Error::lit(
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
);

fn allowed(ctx: &Ctx<'_>) -> bool {
    let cfg = ctx.srv.config.read();
    match cfg.accepted.get("enable-debug-command").map(String::as_str) {
        Some("yes") => true,
        Some("local") => ctx.client.info.addr.ip().is_loopback(),
        _ => false,
    }
}

fn debug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    if !allowed(ctx) {
        return Err(DEBUG_NOT_ALLOWED);
    }
    let sub = argv[1];
    let n = argv.len();
    if is(sub, "help") && n == 2 {
        help(ctx);
    } else if is(sub, "sleep") && n == 3 {
        let secs: f64 = std::str::from_utf8(argv[2])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .unwrap_or(0.0);
        // Blocks this worker, as Redis's DEBUG SLEEP blocks the server.
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
        ctx.out.ok();
    } else if is(sub, "set-active-expire") && n == 3 {
        let on = super::args::int(argv[2])? != 0;
        ctx.srv.active_expire.store(on, Ordering::Relaxed);
        ctx.out.ok();
    } else if is(sub, "object") && n == 3 {
        object(ctx, argv[2])?;
    } else if is(sub, "digest") && n == 2 {
        let d = digest(ctx);
        ctx.out.simple(hex(&d).as_bytes());
    } else if is(sub, "digest-value") && n >= 2 {
        let now = ctx.now;
        let db = ctx.srv.keyspace.lock(ctx.client.db);
        let digests: Vec<[u8; 20]> = argv[2..]
            .iter()
            .map(|k| {
                db.peek(k)
                    .filter(|e| live(e, now))
                    .map_or([0; 20], entry_digest)
            })
            .collect();
        drop(db);
        ctx.out.array(digests.len());
        for d in digests {
            ctx.out.simple(hex(&d).as_bytes());
        }
    } else if is(sub, "protocol") && n == 3 {
        protocol(ctx, argv[2])?;
    } else if is(sub, "listpack") && n == 3 {
        listpack(ctx, argv[2])?;
    } else if is(sub, "quicklist-packed-threshold") && n == 3 {
        match std::str::from_utf8(argv[2])
            .ok()
            .and_then(crate::config::parse_memory)
        {
            Some(sz) if sz > 1 && sz < 1 << 32 => ctx.out.ok(),
            _ => {
                return Err(Error::lit(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ))
            }
        }
    } else if is(sub, "stringmatch-len") && n == 2 {
        stringmatch_fuzz();
        ctx.out
            .simple(b"Apparently Redis did not crash: test passed");
    } else if is(sub, "change-repl-id") && n == 2 {
        // keyward has no replication: there is no replication id to change
        // beyond the one INFO derives, which stays (as a fresh master's).
        ctx.out.ok();
    } else if is(sub, "reload") {
        for a in &argv[2..] {
            if !is(a, "merge") && !is(a, "nosave") && !is(a, "noflush") {
                return Err(Error::from(format!(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options. ({})",
                    String::from_utf8_lossy(a)
                )));
            }
        }
        let nosave = argv[2..].iter().any(|a| is(a, "nosave"));
        crate::persistence::runtime::reload(ctx.srv, !nosave).map_err(Error::from)?;
        ctx.out.ok();
    } else {
        return Err(errors::subcommand_syntax(b"DEBUG", sub));
    }
    Ok(Outcome::Done)
}

fn live(e: &Entry, now: i64) -> bool {
    e.expire().is_none_or(|t| t > now)
}

fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 of the key, its RDB-encoded value and its expiry.
fn entry_digest(e: &Entry) -> [u8; 20] {
    let mut h = sha1_smol::Sha1::new();
    h.update(e.key());
    let mut v = Vec::new();
    let t = encode_value(e.value(), RdbVersion::V11, false, &mut v);
    h.update(&[t]);
    h.update(&v);
    if let Some(at) = e.expire() {
        h.update(&at.to_le_bytes());
    }
    h.digest().bytes()
}

/// Every DB: keys' digests XORed (order-free), mixed with the DB index;
/// forty zeros for an empty dataset, as Redis.
fn digest(ctx: &Ctx<'_>) -> [u8; 20] {
    let now = ctx.now;
    let mut out = [0u8; 20];
    for i in 0..ctx.srv.keyspace.len() {
        let db = ctx.srv.keyspace.lock(i);
        if db.is_empty() {
            continue;
        }
        let mut x = [0u8; 20];
        for e in db.iter(now) {
            for (a, b) in x.iter_mut().zip(entry_digest(e)) {
                *a ^= b;
            }
        }
        let mut h = sha1_smol::Sha1::new();
        h.update(&out);
        h.update(&(i as u64).to_le_bytes());
        h.update(&x);
        out = h.digest().bytes();
    }
    out
}

/// `Value at:<addr> refcount:1 encoding:<enc> serializedlength:<n>
/// lru:<clock> lru_seconds_idle:<s>`, Redis's line.
fn object(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), Error> {
    let now = ctx.now;
    let db = ctx.srv.keyspace.lock(ctx.client.db);
    let Some(e) = db.peek(key).filter(|e| live(e, now)) else {
        return Err(Error::lit("ERR no such key"));
    };
    let enc = match e.value() {
        ValueRef::Obj(o) => o.encoding(),
        _ => e.string_encoding(),
    };
    let mut v = Vec::new();
    encode_value(e.value(), RdbVersion::V11, true, &mut v);
    let clock = e.clock();
    let line = format!(
        "Value at:{:p} refcount:1 encoding:{enc} serializedlength:{} lru:{clock} lru_seconds_idle:{}",
        e.key().as_ptr(),
        v.len(),
        crate::keyspace::evict::lru_idle(clock, now) / 1000,
    );
    drop(db);
    ctx.out.simple(line.as_bytes());
    Ok(())
}

/// DEBUG PROTOCOL: one reply of each RESP3 type (RESP2 downgrades), as
/// Redis's test suite reads them.
fn protocol(ctx: &mut Ctx<'_>, name: &[u8]) -> Result<(), Error> {
    let out = &mut *ctx.out;
    if is(name, "string") {
        out.bulk(b"Hello World");
    } else if is(name, "integer") {
        out.int(12345);
    } else if is(name, "double") {
        // Redis's test value, not π.
        #[allow(clippy::approx_constant)]
        out.double(3.141);
    } else if is(name, "bignum") {
        out.big_number(b"1234567999999999999999999999999999999");
    } else if is(name, "null") {
        out.null();
    } else if is(name, "array") {
        out.array(3);
        for i in 0..3 {
            out.int(i);
        }
    } else if is(name, "set") {
        out.set(3);
        for i in 0..3 {
            out.int(i);
        }
    } else if is(name, "map") {
        out.map(3);
        for i in 0..3 {
            out.int(i);
            out.bool(i == 1);
        }
    } else if is(name, "attrib") {
        if out.is_resp3() {
            out.raw(b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n");
        }
        // What the attribute describes: the reply itself.
        out.bulk(b"Some real reply following the attribute");
    } else if is(name, "push") {
        if !out.is_resp3() {
            return Err(Error::lit("ERR RESP2 is not supported by this command"));
        }
        out.push(2);
        out.bulk(b"server-cpu-usage");
        out.int(42);
        // Then the real reply.
        out.bulk(b"Some real reply following the push reply");
    } else if is(name, "true") {
        out.bool(true);
    } else if is(name, "false") {
        out.bool(false);
    } else if is(name, "verbatim") {
        out.verbatim(b"This is a verbatim\nstring");
    } else {
        return Err(Error::lit(
            "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ));
    }
    Ok(())
}

/// DEBUG LISTPACK key: Redis prints the listpack on stdout; keyward logs
/// its element count and size.
fn listpack(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(), Error> {
    let now = ctx.now;
    let db = ctx.srv.keyspace.lock(ctx.client.db);
    let Some(e) = db.peek(key).filter(|e| live(e, now)) else {
        return Err(Error::lit("ERR no such key"));
    };
    let ValueRef::Obj(o) = e.value() else {
        return Err(Error::lit(
            "ERR The value stored at the specified key is not represented using an listpack",
        ));
    };
    if o.encoding() != "listpack" {
        return Err(Error::lit(
            "ERR The value stored at the specified key is not represented using an listpack",
        ));
    }
    tracing::info!(
        key = %String::from_utf8_lossy(key),
        bytes = e.mem_usage(),
        "DEBUG LISTPACK"
    );
    drop(db);
    ctx.out.simple(b"Listpack structure printed on stdout");
    Ok(())
}

/// Redis's `stringmatchlen_fuzz_test`: random patterns against random
/// strings must not crash the matcher.
fn stringmatch_fuzz() {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let alphabet = b"*?[]\\^-ab";
    for _ in 0..1000 {
        let p: Vec<u8> = (0..rng.gen_range(0..32))
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        let s: Vec<u8> = (0..rng.gen_range(0..32))
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        let _ = super::glob::glob_match(&p, &s, rng.gen());
    }
}

fn help(ctx: &mut Ctx<'_>) {
    ctx.out.status_lines(&[
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "LISTPACK <key>",
        "    Show low level info about the ziplist encoding of <key>.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Sets the threshold for elements to be inserted as plain vs packed nodes",
        "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
        "    * MERGE: conflicting keys will be loaded from RDB.",
        "    * NOFLUSH: the existing database will not be removed before load, but",
        "      conflicting keys will generate an exception and kill the server.",
        "    * NOSAVE: the database will be loaded from an existing RDB file.",
        "    Examples:",
        "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
        "      the database.",
        "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
        "      existing RDB file.",
        "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
        "      file to the database.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "STRINGMATCH-LEN",
        "    Run a fuzz tester against the stringmatchlen() function.",
        "HELP",
        "    Print this help.",
    ]);
}
