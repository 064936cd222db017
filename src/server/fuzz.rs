//! The body of the `dispatch_sequence` fuzz target (see `fuzz/`), here so
//! that plain `cargo test` replays the tracked corpus
//! (`fuzz/corpus/dispatch_sequence/`) and a seeded random campaign.
//!
//! [`dispatch_sequence`] reads its input as a program: each step is a
//! command built from the command table (any row, its arity — sometimes a
//! wrong one — and arguments drawn from small pools: six keys, DBs 0–3,
//! numbers around the edges, the option words commands take, canned Lua
//! scripts), or MULTI/EXEC, SELECT, the clock moving forward, a client
//! disconnecting (its state released as a connection's is) and a new one
//! taking its place. The steps run through [`dispatch`] on one in-process
//! server, with no sockets. A blocking command that would wait is treated
//! as timed out at once. Afterwards the invariants are checked:
//!
//! - nothing panicked;
//! - per DB: the incremental memory accounting equals a recount from the
//!   entries and is not an underflowed figure; the volatile-key count
//!   equals the entries with a TTL; the key count equals the table's
//!   entries;
//! - every key a full SCAN returns has a PTTL of -1 or ≥ 0;
//! - with the clock moved far ahead and the expired keys reclaimed, DBSIZE
//!   equals the number of distinct keys a full SCAN returns, in each DB;
//! - no client is left blocked on a key once its clients are gone.
//!
//! Commands that reach outside the process or stop it (SHUTDOWN, DEBUG,
//! SAVE/BGSAVE/BGREWRITEAOF, MIGRATE, replication, MONITOR, CONFIG SET,
//! ACL changes, CLIENT PAUSE/KILL, WAIT, FUNCTION LOAD/RESTORE …) are left
//! out; so is `PFSELFTEST` (seconds of CPU for nothing).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::client::{Client, Push};
use super::connection::{close_client, open_client};
use super::dispatch::dispatch;
use super::Shared;
use crate::commands::outcome::Outcome;
use crate::commands::table::REGISTRY;
use crate::commands::Ctx;
use crate::config::Config;
use crate::protocol::{Protocol, ReplyBuf};

/// Steps per input at most: longer inputs add nothing a new input would not.
const MAX_STEPS: usize = 256;
/// DBs the sequences use (SELECT, MOVE, COPY … DB, SWAPDB draw from these).
const DBS: usize = 4;

const KEYS: &[&[u8]] = &[b"k0", b"k1", b"k2", b"{t}a", b"{t}b", b"k\xffbin"];
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"1",
    b"2",
    b"3",
    b"5",
    b"10",
    b"100",
    b"1000",
    b"-1",
    b"-2",
    b"-100",
    b"1.5",
    b"-0.5",
    b"+inf",
    b"-inf",
    b"nan",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"4294967296",
    b"abc",
    b"",
    b"0x10",
    b"1e3",
];
const WORDS: &[&[u8]] = &[
    b"EX",
    b"PX",
    b"EXAT",
    b"PXAT",
    b"PERSIST",
    b"KEEPTTL",
    b"NX",
    b"XX",
    b"GT",
    b"LT",
    b"CH",
    b"INCR",
    b"GET",
    b"WITHSCORES",
    b"WITHSCORE",
    b"LIMIT",
    b"COUNT",
    b"MATCH",
    b"TYPE",
    b"STORE",
    b"BY",
    b"ASC",
    b"DESC",
    b"ALPHA",
    b"LEFT",
    b"RIGHT",
    b"BEFORE",
    b"AFTER",
    b"REV",
    b"BYSCORE",
    b"BYLEX",
    b"MAXLEN",
    b"MINID",
    b"~",
    b"=",
    b"*",
    b"$",
    b"-",
    b"+",
    b"[a",
    b"(1",
    b"0-1",
    b"1-1",
    b"STREAMS",
    b"GROUP",
    b"g",
    b"c",
    b"MKSTREAM",
    b"ID",
    b"BLOCK",
    b"NOACK",
    b"JUSTID",
    b"FORCE",
    b"IDLE",
    b"RETRYCOUNT",
    b"DB",
    b"REPLACE",
    b"ABSTTL",
    b"IDLETIME",
    b"FREQ",
    b"AGGREGATE",
    b"SUM",
    b"MIN",
    b"MAX",
    b"WEIGHTS",
    b"LEN",
    b"IDX",
    b"MINMATCHLEN",
    b"WITHMATCHLEN",
    b"FIELDS",
    b"RANK",
    b"MAXLEN",
    b"ASYNC",
    b"SYNC",
    b"string",
    b"list",
    b"hash",
    b"zset",
    b"set",
    b"stream",
    b"u8",
    b"i16",
    b"#1",
    b"OVERFLOW",
    b"SAT",
    b"WRAP",
    b"FAIL",
    b"AND",
    b"OR",
    b"XOR",
    b"NOT",
    b"BIT",
    b"BYTE",
    b"WITHVALUES",
    b"ENCODING",
    b"REFCOUNT",
    b"k*",
    b"?[0-9]",
];
const VALUES: &[&[u8]] = &[
    b"v",
    b"",
    b"hello world",
    b"12345",
    b"-7",
    b"3.14",
    b"\x00\xff\x01",
    b"f1",
    b"f2",
    b"m1",
    b"m2",
    b"0123456789012345678901234567890123456789012345678901234567890123456789",
];
/// Lua for EVAL/EVALSHA/SCRIPT LOAD: small, terminating, touching the
/// keyspace in the ways scripts do (writes, SELECT, expiries, errors).
const SCRIPTS: &[&str] = &[
    "return redis.call('SET', KEYS[1], ARGV[1])",
    "return redis.call('GET', KEYS[1])",
    "redis.call('DEL', KEYS[1]) return redis.call('INCR', KEYS[1])",
    "return redis.pcall('LPUSH', KEYS[1], ARGV[1])",
    "return redis.call('EXPIRE', KEYS[1], ARGV[1])",
    "return {redis.call('ZADD', KEYS[1], 1, ARGV[1]), redis.call('SADD', KEYS[1] .. 's', ARGV[1])}",
    "error('fuzz')",
    "redis.call('SELECT', ARGV[1]) return redis.call('SET', KEYS[1], 'x')",
    "return redis.call('FLUSHDB')",
    "return redis.call('SWAPDB', 0, 1)",
    "return redis.call('MOVE', KEYS[1], ARGV[1])",
    "return redis.call('HSET', KEYS[1], 'f', ARGV[1], 'g', 'h')",
    "return redis.call('XADD', KEYS[1], '*', 'f', ARGV[1])",
    "redis.call('SET', KEYS[1], 'v', 'PX', 1) return redis.call('PTTL', KEYS[1])",
];
const LIBRARY: &str = "#!lua name=fz\n\
    redis.register_function('fset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)\n\
    redis.register_function{function_name='fget', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}\n";

/// Rows (by full name) a sequence never runs; containers listed whole
/// unless a subcommand is named.
const EXCLUDED: &[&str] = &[
    "shutdown",
    "debug",
    "monitor",
    "sync",
    "psync",
    "replicaof",
    "slaveof",
    "replconf",
    "failover",
    "save",
    "bgsave",
    "bgrewriteaof",
    "migrate",
    "wait",
    "waitaof",
    "pfselftest",
    "config|set",
    "config|rewrite",
    "acl|setuser",
    "acl|deluser",
    "acl|save",
    "acl|load",
    "acl|genpass",
    "client|pause",
    "client|kill",
    "client|no-evict",
    "function|load",
    "function|restore",
    "function|delete",
    "function|flush",
    "script|kill",
    "function|kill",
    "module",
    "cluster",
    "latency|doctor",
    "memory|doctor",
    "lolwut",
];

fn excluded(fullname: &str) -> bool {
    EXCLUDED
        .iter()
        .any(|x| *x == fullname || fullname.split('|').next() == Some(x))
}

/// A command row a sequence draws from.
struct Row {
    /// `GET`, or `CLIENT`, `ID` for a subcommand.
    prefix: Vec<&'static str>,
    arity: i32,
    /// The row's (first, last, step) key positions, when it has them:
    /// those arguments come from the key pool.
    keys: Option<(i32, i32, i32)>,
}

impl Row {
    fn is_key(&self, pos: usize, argc: usize) -> bool {
        let Some((first, last, step)) = self.keys else {
            return false;
        };
        let last = if last < 0 { argc as i32 + last } else { last };
        let pos = pos as i32;
        first > 0 && pos >= first && pos <= last && (pos - first) % step.max(1) == 0
    }
}

fn commands() -> Vec<Row> {
    let mut out = Vec::new();
    for c in REGISTRY.commands.iter() {
        if c.is_container() || excluded(&c.fullname) {
            continue;
        }
        let prefix = match c.parent {
            Some(p) => vec![REGISTRY.get(p).spec.name, c.spec.name],
            None => vec![c.spec.name],
        };
        let keys = match c.spec.keys {
            crate::commands::spec::Keys::Range { first, last, step } => Some((first, last, step)),
            _ => None,
        };
        out.push(Row {
            prefix,
            arity: c.spec.arity,
            keys,
        });
    }
    out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    out
}

/// The input as a stream of choices; zeros once it runs out.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        if n <= 256 {
            self.byte() as usize % n
        } else {
            (usize::from(self.byte()) << 8 | usize::from(self.byte())) % n
        }
    }

    fn pick<T: Copy>(&mut self, pool: &[T]) -> T {
        pool[self.below(pool.len())]
    }
}

/// `KEYWARD_FUZZ_TRACE=1`: print each command, its reply and outcome (to
/// read what a crashing input did).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("KEYWARD_FUZZ_TRACE").is_some())
}

/// One client of the fuzzed server.
struct Conn {
    client: Client,
    pushes: mpsc::UnboundedReceiver<Push>,
}

struct Fuzz {
    srv: Arc<Shared>,
    conns: Vec<Conn>,
    next_port: u16,
    out: ReplyBuf,
    shas: Vec<Vec<u8>>,
}

impl Fuzz {
    fn new() -> Fuzz {
        // The embedded default: `persistence` off, so FLUSHALL, SAVE points
        // and the like read and write no file.
        let config = Config::default();
        debug_assert!(!config.persistence);
        let srv = Shared::new(config, None);
        srv.config_changed();
        let mut f = Fuzz {
            srv,
            conns: Vec::new(),
            next_port: 1,
            out: ReplyBuf::new(Protocol::Resp2),
            shas: Vec::new(),
        };
        f.connect();
        f.connect();
        f.run(0, &[b"FUNCTION", b"LOAD", LIBRARY.as_bytes()]);
        for s in SCRIPTS {
            let reply = f.run(0, &[b"SCRIPT", b"LOAD", s.as_bytes()]).to_vec();
            // `$40\r\n<sha>\r\n`
            f.shas.push(reply.get(5..45).unwrap_or_default().to_vec());
        }
        f
    }

    fn connect(&mut self) {
        let addr: SocketAddr = ([127, 0, 0, 1], self.next_port).into();
        self.next_port = self.next_port.wrapping_add(1);
        let (client, pushes) = open_client(&self.srv, addr.into(), addr.into(), -1)
            .unwrap_or_else(|_| panic!("a client opens (no limits configured)"));
        self.conns.push(Conn { client, pushes });
    }

    fn disconnect(&mut self, i: usize) {
        let mut c = self.conns.swap_remove(i);
        close_client(&self.srv, &mut c.client);
    }

    /// Runs one command as client `i`; returns its reply bytes.
    fn run(&mut self, i: usize, argv: &[&[u8]]) -> &[u8] {
        self.out.buf.clear();
        let conn = &mut self.conns[i];
        let outcome = {
            let mut ctx = Ctx::new(&self.srv, &mut conn.client, &mut self.out);
            dispatch(&mut ctx, argv)
        };
        while conn.pushes.try_recv().is_ok() {}
        if trace() {
            let args: Vec<String> = argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into())
                .collect();
            let reply = String::from_utf8_lossy(&self.out.buf[..self.out.buf.len().min(120)]);
            eprintln!("[{}] {args:?} -> {reply:?} {outcome:?}", conn.client.id);
        }
        match outcome {
            // It would wait: it times out at once, as a connection's
            // timer would end it.
            Outcome::Block(b) => {
                self.srv.keyspace.lock(b.db).blocking.remove(conn.client.id);
                conn.client.info.blocked_db.store(-1, Ordering::Relaxed);
            }
            Outcome::Close => {
                self.disconnect(i);
                self.connect();
            }
            _ => {}
        }
        &self.out.buf
    }

    fn step(&mut self, input: &mut Input<'_>, table: &[Row]) {
        let who = input.below(self.conns.len());
        match input.byte() % 16 {
            0 => {
                self.run(who, &[b"MULTI"]);
            }
            1 => {
                self.run(who, &[b"EXEC"]);
            }
            2 => {
                let db = [b"0", b"1", b"2", b"3"][input.below(DBS)];
                self.run(who, &[b"SELECT", db]);
            }
            3 => {
                // Time passes: keys expire (lazily, or by the next step's
                // reads), blocked waits would time out.
                let ms = [1, 10, 1000, 100_000][input.below(4)];
                self.srv.clock.advance_ms(ms);
            }
            4 => {
                // A client goes away mid-whatever; another arrives.
                self.disconnect(who);
                self.connect();
            }
            5 => {
                let t = input.below(SCRIPTS.len());
                let sha = self.shas[t].clone();
                let eval = input.byte() % 2 == 0;
                let mut argv: Vec<&[u8]> = if eval {
                    vec![b"EVAL", SCRIPTS[t].as_bytes()]
                } else {
                    vec![b"EVALSHA", &sha]
                };
                argv.extend([&b"1"[..], input.pick(KEYS)]);
                argv.push(if input.byte() % 2 == 0 {
                    input.pick(NUMBERS)
                } else {
                    input.pick(VALUES)
                });
                self.run(who, &argv);
            }
            6 => {
                let f: &[u8] = if input.byte() % 2 == 0 {
                    b"fset"
                } else {
                    b"fget"
                };
                let argv: [&[u8]; 5] = [b"FCALL", f, b"1", input.pick(KEYS), input.pick(VALUES)];
                self.run(who, &argv);
            }
            _ => {
                let row = &table[input.below(table.len())];
                let fixed = row.prefix.len();
                let mut n = if row.arity >= 0 {
                    row.arity as usize
                } else {
                    row.arity.unsigned_abs() as usize + input.below(5)
                };
                if input.byte() % 16 == 0 {
                    n = input.below(8);
                }
                let n = n.max(fixed);
                let mut argv: Vec<&[u8]> = row.prefix.iter().map(|p| p.as_bytes()).collect();
                for pos in fixed..n {
                    if row.is_key(pos, n) {
                        argv.push(input.pick(KEYS));
                        continue;
                    }
                    let arg: &[u8] = match input.byte() % 10 {
                        0 | 1 => input.pick(KEYS),
                        2..=4 => input.pick(NUMBERS),
                        5 | 6 => input.pick(WORDS),
                        7 | 8 => input.pick(VALUES),
                        _ => [b"0", b"1", b"2", b"3"][input.below(DBS)],
                    };
                    argv.push(arg);
                }
                self.run(who, &argv);
            }
        }
    }

    /// The invariants of the module docs.
    fn check(&mut self) {
        // Every client leaves: nothing may stay blocked on a key.
        while !self.conns.is_empty() {
            self.disconnect(0);
        }
        for i in 0..self.srv.keyspace.len() {
            let db = self.srv.keyspace.lock(i);
            let entries = db.iter(i64::MIN).count();
            assert_eq!(db.len(), entries, "DB {i}: key count vs table entries");
            let volatile = db.iter(i64::MIN).filter(|e| e.expire().is_some()).count();
            assert_eq!(db.volatile(), volatile, "DB {i}: volatile count");
            let mem = db.entry_memory();
            assert!(
                mem < 1 << 40,
                "DB {i}: memory accounting underflowed: {mem}"
            );
            assert_eq!(
                mem,
                db.recount_memory(),
                "DB {i}: incremental memory vs recount"
            );
            assert!(
                db.used_memory() >= mem,
                "DB {i}: used_memory below entries'"
            );
            assert!(
                db.blocking.is_empty(),
                "DB {i}: a waiter outlived its client"
            );
            assert_eq!(
                db.blocking.watched_key_count(),
                0,
                "DB {i}: a blocking key without waiters"
            );
        }
        self.connect();
        for i in 0..DBS {
            let db = i.to_string();
            self.run(0, &[b"SELECT", db.as_bytes()]);
            for key in self.scan_all() {
                let r = self.run(0, &[b"PTTL", &key]).to_vec();
                let ttl: i64 = std::str::from_utf8(&r[1..r.len() - 2])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("PTTL reply {r:?}"));
                // -2: it expired between the SCAN and here.
                assert!(ttl >= -2, "DB {i}: key {key:?} has PTTL {ttl}");
            }
        }
        // Far ahead: every TTL a sequence can set has passed (the largest
        // numbers in the pool are refused as expiries or lie beyond this).
        self.srv.clock.advance_ms(1000 * 365 * 24 * 3600 * 1000);
        let now = self.srv.clock.now_ms();
        for i in 0..self.srv.keyspace.len() {
            let mut db = self.srv.keyspace.lock(i);
            let expired: Vec<Vec<u8>> = db
                .iter(i64::MIN)
                .filter(|e| matches!(e.expire(), Some(t) if t <= now))
                .map(|e| e.key().to_vec())
                .collect();
            for k in expired {
                assert!(
                    !db.exists(&k, now),
                    "DB {i}: expired key {k:?} still exists"
                );
            }
        }
        for i in 0..DBS {
            let db = i.to_string();
            self.run(0, &[b"SELECT", db.as_bytes()]);
            let scanned = self.scan_all().len();
            let r = self.run(0, &[b"DBSIZE"]).to_vec();
            assert_eq!(
                r,
                format!(":{scanned}\r\n").into_bytes(),
                "DB {i}: DBSIZE vs a full SCAN ({scanned} keys)"
            );
        }
        while !self.conns.is_empty() {
            self.disconnect(0);
        }
        assert_eq!(self.srv.clients.len(), 0, "every client left the list");
    }

    /// Distinct keys of a full SCAN of the selected DB, as client 0.
    fn scan_all(&mut self) -> Vec<Vec<u8>> {
        let mut keys = std::collections::BTreeSet::new();
        let mut cursor = b"0".to_vec();
        loop {
            let r = self.run(0, &[b"SCAN", &cursor, b"COUNT", b"7"]).to_vec();
            let (next, found) = parse_scan(&r).unwrap_or_else(|| panic!("SCAN reply {r:?}"));
            keys.extend(found);
            if next == b"0" {
                return keys.into_iter().collect();
            }
            cursor = next;
        }
    }
}

/// `*2 $n cursor *m $l key…` (RESP2).
fn parse_scan(r: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    fn line(r: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
        let end = r[*pos..].windows(2).position(|w| w == b"\r\n")? + *pos;
        let l = r[*pos..end].to_vec();
        *pos = end + 2;
        Some(l)
    }
    fn bulk(r: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
        let head = line(r, pos)?;
        let n: usize = std::str::from_utf8(head.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        let v = r.get(*pos..*pos + n)?.to_vec();
        *pos += n + 2;
        Some(v)
    }
    let mut pos = 0;
    if line(r, &mut pos)? != b"*2" {
        return None;
    }
    let cursor = bulk(r, &mut pos)?;
    let head = line(r, &mut pos)?;
    let m: usize = std::str::from_utf8(head.strip_prefix(b"*")?)
        .ok()?
        .parse()
        .ok()?;
    let keys = (0..m).map(|_| bulk(r, &mut pos)).collect::<Option<_>>()?;
    Some((cursor, keys))
}

/// The fuzz target's body: `data` as a command sequence on a fresh server,
/// then the invariants. Panics on a violation.
pub fn dispatch_sequence(data: &[u8]) {
    let table = commands();
    let mut f = Fuzz::new();
    let mut input = Input { data, pos: 0 };
    let mut steps = 0;
    while !input.done() && steps < MAX_STEPS {
        f.step(&mut input, &table);
        steps += 1;
    }
    f.check();
}

#[cfg(test)]
mod tests {
    use super::dispatch_sequence;

    #[test]
    fn replay_corpus() {
        crate::fuzz_corpus::replay("dispatch_sequence", 10, dispatch_sequence);
    }

    /// Random sequences from a fixed seed on every `cargo test`.
    #[test]
    fn random_sequences_keep_the_invariants() {
        campaign(0x5eed, 40);
    }

    /// The long campaign (the cargo-fuzz target's stand-in where nightly
    /// and cargo-fuzz are missing): `KEYWARD_FUZZ_ITERS=200000 cargo test
    /// --release --lib random_sequence_campaign -- --ignored`.
    #[test]
    #[ignore]
    fn random_sequence_campaign() {
        let iters = std::env::var("KEYWARD_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let seed = std::env::var("KEYWARD_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        campaign(seed, iters);
    }

    fn campaign(seed: u64, iters: usize) {
        let mut state = seed;
        let mut next = move || {
            // splitmix64
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for i in 0..iters {
            let len = (next() % 600) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let r = std::panic::catch_unwind(|| super::dispatch_sequence(&data));
            if r.is_err() {
                let path = std::env::temp_dir().join(format!("dispatch-sequence-crash-{seed}-{i}"));
                let _ = std::fs::write(&path, &data);
                panic!(
                    "input {i} of seed {seed} fails; saved to {}",
                    path.display()
                );
            }
        }
    }
}
