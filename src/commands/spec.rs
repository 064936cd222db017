//! What a command *is*: one [`CommandSpec`] row per command.
//!
//! The row is the single source of truth for arity, flags, ACL categories,
//! key positions and the handler. COMMAND INFO/DOCS/COUNT/LIST/GETKEYS,
//! ACL categories, key extraction and dispatch's gates all read it.

use super::{CmdResult, Ctx};

/// A command handler: `argv[0]` is the command name as sent.
pub type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> CmdResult;

/// The flags one invocation runs with, given the row's (see
/// [`CommandSpec::run_flags`]).
pub type RunFlags = fn(&Ctx<'_>, &[&[u8]], u32) -> u32;

/// Command flags (Redis's `CMD_*`), as a bitset.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const MOVABLE_KEYS: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 17;
    pub const NO_ASYNC_LOADING: u32 = 1 << 18;
    /// keyward: the handler touches no keyspace, or locks what it needs
    /// itself (cross-DB commands): dispatch releases the batch's DB lock first.
    pub const NO_DB_LOCK: u32 = 1 << 24;
    /// keyward: runs at once inside MULTI instead of being queued (MULTI,
    /// EXEC, DISCARD, WATCH, QUIT, RESET: Redis names these in processCommand).
    pub const TX_CONTROL: u32 = 1 << 25;
    /// keyward: allowed while a RESP2 client is subscribed ((P|S)SUBSCRIBE,
    /// (P|S)UNSUBSCRIBE, PING, QUIT, RESET).
    pub const PUBSUB_CONTEXT: u32 = 1 << 26;
    /// keyward: refused with MISCONF after a failed save or AOF write like
    /// a write, so health checks notice (PING, as in Redis's processCommand).
    pub const MISCONF: u32 = 1 << 27;
    /// keyward: runs the client's MULTI queue (EXEC), so CLIENT PAUSE WRITE
    /// holds it when a queued command writes or may replicate, as Redis
    /// does with the queue's accumulated flags.
    pub const RUNS_QUEUE: u32 = 1 << 28;
    /// keyward: updates keys' access time even for a CLIENT NO-TOUCH
    /// client (TOUCH, as Redis's `lookupKey` exempts it).
    pub const TOUCHES: u32 = 1 << 29;
    /// Redis's `asking` (RESTORE-ASKING): with cluster support disabled it
    /// changes nothing; COMMAND INFO shows it.
    pub const ASKING: u32 = 1 << 30;

    /// Names COMMAND INFO prints, in Redis's order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        // MAY_REPLICATE is hidden on purpose, as in Redis's COMMAND INFO.
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    ];
}

/// ACL categories, as a bitset.
pub mod cat {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    /// Names in Redis's `ACL CAT` order.
    pub const NAMES: &[(u64, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Redis's command groups (COMMAND DOCS `group`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    Bitmap,
    Hyperloglog,
    List,
    Set,
    SortedSet,
    Geo,
    Hash,
    Stream,
    Pubsub,
    Transactions,
    Scripting,
    Connection,
    Server,
    Cluster,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::Bitmap => "bitmap",
            Group::Hyperloglog => "hyperloglog",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Geo => "geo",
            Group::Hash => "hash",
            Group::Stream => "stream",
            Group::Pubsub => "pubsub",
            Group::Transactions => "transactions",
            Group::Scripting => "scripting",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Cluster => "cluster",
        }
    }

    fn category(self) -> u64 {
        match self {
            Group::Generic => cat::KEYSPACE,
            Group::String => cat::STRING,
            Group::Bitmap => cat::BITMAP,
            Group::Hyperloglog => cat::HYPERLOGLOG,
            Group::List => cat::LIST,
            Group::Set => cat::SET,
            Group::SortedSet => cat::SORTEDSET,
            Group::Geo => cat::GEO,
            Group::Hash => cat::HASH,
            Group::Stream => cat::STREAM,
            // Redis derives @pubsub from the pubsub flag (PUBSUB HELP has neither).
            Group::Pubsub => 0,
            Group::Transactions => cat::TRANSACTION,
            Group::Scripting => cat::SCRIPTING,
            Group::Connection => cat::CONNECTION,
            Group::Server => 0,
            Group::Cluster => 0,
        }
    }
}

/// Finds the key indexes of a movable-keys command. Like Redis's
/// `genericGetKeys` it never fails: malformed arguments give no keys, and
/// COMMAND GETKEYS turns that into its error (or an empty list for
/// `no_mandatory_keys` commands such as EVAL).
pub type KeyFinder = fn(&[&[u8]]) -> Vec<usize>;

/// The `numkeys` arguments after `argv[at]` (which holds numkeys); none
/// when numkeys is not a positive count that fits the arguments. The
/// count reads as C's `atoi` ("2x" is 2): where the key spec cannot parse
/// it, Redis falls back to its key function, which reads it so.
pub fn numkeys_keys(argv: &[&[u8]], at: usize) -> Vec<usize> {
    match argv.get(at).map(|a| super::keyspec::atoi(a)) {
        Some(n) if n >= 1 && n as u64 <= (argv.len() - at - 1) as u64 => {
            (at + 1..at + 1 + n as usize).collect()
        }
        _ => Vec::new(),
    }
}

/// `cmd numkeys key…` (LMPOP, SINTERCARD, ZUNION, ZMPOP …).
pub fn numkeys_at_1(argv: &[&[u8]]) -> Vec<usize> {
    numkeys_keys(argv, 1)
}

/// `cmd x numkeys key…` (EVAL, BLMPOP, BZMPOP …).
pub fn numkeys_at_2(argv: &[&[u8]]) -> Vec<usize> {
    numkeys_keys(argv, 2)
}

/// Where a command's keys are in its argv: what dispatch, tracking and
/// tenancy read, cheaply. How the command uses each key (COMMAND INFO,
/// GETKEYSANDFLAGS, ACL `%R`/`%W`) is Redis 7.2's key specs
/// ([`super::keyspec`]); a unit test there proves both find the same keys.
#[derive(Clone, Copy)]
pub enum Keys {
    None,
    /// Redis's legacy (first, last, step); `last` negative counts from the end.
    Range {
        first: i32,
        last: i32,
        step: i32,
    },
    /// Movable keys: a function returning key indexes (or an error text for
    /// COMMAND GETKEYS when the arguments are malformed).
    Find(KeyFinder),
}

/// Which arguments name databases, for the ACL database rule.
#[derive(Clone, Copy)]
pub enum Dbs {
    None,
    /// These argv indexes are DB indexes (SELECT 1, MOVE 2, SWAPDB 1 and 2).
    Args(&'static [usize]),
    /// An option names the DB (COPY … DB n): the index of its value.
    Find(fn(&[&[u8]]) -> Option<usize>),
    /// Touches every DB (FLUSHALL): needs `alldbs`.
    All,
}

/// Which arguments are Pub/Sub channels, for the ACL channel rules.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    None,
    /// argv[1] (PUBLISH, SPUBLISH).
    First,
    /// argv[1..] (SUBSCRIBE, SSUBSCRIBE).
    All,
    /// argv[1..], patterns that must equal an allowed pattern (PSUBSCRIBE).
    AllPatterns,
}

/// Which arguments are secrets: MONITOR and SLOWLOG show them as
/// `(redacted)`, as Redis 7.2's `redactClientCommandArgument` does.
#[derive(Clone, Copy)]
pub enum Redact {
    None,
    /// Every argument from this index on (AUTH's from 1, ACL SETUSER's from 2).
    From(usize),
    /// The indexes a function picks (HELLO … AUTH user pass, CONFIG SET of
    /// a sensitive parameter).
    Find(fn(&[&[u8]]) -> Vec<usize>),
}

/// What a DB-restricted user (`db=` without `alldbs`) may do with a
/// command, whatever its command rules allow: the tenant boundary. Checked
/// by the ACL gate after the command, key, channel and `db=` checks.
#[derive(Clone, Copy)]
pub enum Tenant {
    /// Acts within the selected DB and the DBs its `dbs` arguments name,
    /// which the `db=` check already polices.
    Db,
    /// Acts on the whole server (users, global settings, shutdown, other
    /// tenants' clients): refused with `-NOPERM` and an ACL LOG entry.
    Server,
    /// Shows or touches only the caller's world: the handler narrows what
    /// it lists or acts on to the user's DBs, its own user and the channels
    /// it may use (see `Ctx::restricted`).
    Own,
    /// Allowed only when the function accepts the arguments (CONFIG SET of a
    /// per-DB setting, ACL GETUSER of oneself); the handler then narrows as
    /// for `Own`.
    Check(fn(&Ctx<'_>, &[&[u8]]) -> bool),
}

/// One command (or subcommand) row.
pub struct CommandSpec {
    /// Lowercase name; a subcommand's own name (`id` for CLIENT ID).
    pub name: &'static str,
    /// Redis's arity convention: n = exactly n args, -n = at least n.
    pub arity: i32,
    pub flags: u32,
    /// Categories beyond the ones derived from flags and group.
    pub extra_categories: u64,
    /// Whether the group's category applies (SORT is in the generic group
    /// but Redis gives it @list/@set/@sortedset, not @keyspace).
    pub group_category: bool,
    pub group: Group,
    pub keys: Keys,
    /// What COMMAND INFO prints as first/last/step for a movable-keys
    /// command (Redis keeps a legacy triple, e.g. 1,1,1 for ZUNIONSTORE).
    pub legacy_keys: (i32, i32, i32),
    pub dbs: Dbs,
    pub channels: Channels,
    pub redact: Redact,
    /// `None`: derived from the flags (see [`CommandSpec::tenant`]).
    pub tenant: Option<Tenant>,
    /// `None` only for containers that need a subcommand; a container with
    /// a handler runs it when called bare (see [`CommandSpec::bare`]).
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    /// COMMAND DOCS `doc_flags` (`syscmd` for Redis's internal commands
    /// such as PFDEBUG, which clients and docs hide).
    pub doc_flags: &'static [&'static str],
    /// For a command whose invocation says what it does (EVAL of a script
    /// that declares `#!lua flags=…`, FCALL of a function with flags):
    /// the flags the gates read instead of `flags`, as Redis's
    /// `getCommandFlags`. COMMAND INFO shows `flags`.
    pub run_flags: Option<RunFlags>,
}

impl CommandSpec {
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        group: Group,
        handler: Handler,
    ) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            extra_categories: 0,
            group_category: true,
            group,
            keys: Keys::None,
            legacy_keys: (0, 0, 0),
            dbs: Dbs::None,
            channels: Channels::None,
            redact: Redact::None,
            tenant: None,
            handler: Some(handler),
            subcommands: &[],
            summary: "",
            since: "1.0.0",
            complexity: "O(1)",
            doc_flags: &[],
            run_flags: None,
        }
    }

    /// A container such as CLIENT or CONFIG.
    pub const fn container(name: &'static str, group: Group, subs: &'static [CommandSpec]) -> Self {
        CommandSpec {
            name,
            arity: -2,
            flags: 0,
            extra_categories: 0,
            group_category: true,
            group,
            keys: Keys::None,
            legacy_keys: (0, 0, 0),
            dbs: Dbs::None,
            channels: Channels::None,
            redact: Redact::None,
            tenant: None,
            handler: None,
            subcommands: subs,
            summary: "",
            since: "1.0.0",
            complexity: "Depends on subcommand.",
            doc_flags: &[],
            run_flags: None,
        }
    }

    /// Lets a container run `handler` when called without a subcommand
    /// (COMMAND), with its own arity and flags for that form.
    pub const fn bare(mut self, arity: i32, flags: u32, handler: Handler) -> Self {
        self.arity = arity;
        self.flags = flags;
        self.handler = Some(handler);
        self
    }

    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.keys = Keys::Range { first, last, step };
        self
    }

    pub const fn find_keys(mut self, f: KeyFinder) -> Self {
        self.keys = Keys::Find(f);
        self.flags |= flags::MOVABLE_KEYS;
        self
    }

    /// The legacy first/last/step COMMAND INFO shows for movable keys.
    pub const fn legacy_keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.legacy_keys = (first, last, step);
        self
    }

    /// Exactly these categories besides the flag-derived ones (no group one).
    pub const fn only_cats(mut self, c: u64) -> Self {
        self.extra_categories = c;
        self.group_category = false;
        self
    }

    /// Declares the argv indexes that are DB indexes.
    pub const fn dbs(mut self, idx: &'static [usize]) -> Self {
        self.dbs = Dbs::Args(idx);
        self
    }

    pub const fn find_db(mut self, f: fn(&[&[u8]]) -> Option<usize>) -> Self {
        self.dbs = Dbs::Find(f);
        self
    }

    /// The command touches every DB.
    pub const fn all_dbs(mut self) -> Self {
        self.dbs = Dbs::All;
        self
    }

    pub const fn channels(mut self, c: Channels) -> Self {
        self.channels = c;
        self
    }

    pub const fn redact(mut self, r: Redact) -> Self {
        self.redact = r;
        self
    }

    /// Overrides the tenant boundary derived from the flags.
    pub const fn tenant(mut self, t: Tenant) -> Self {
        self.tenant = Some(t);
        self
    }

    /// COMMAND DOCS `doc_flags`.
    pub const fn doc_flags(mut self, f: &'static [&'static str]) -> Self {
        self.doc_flags = f;
        self
    }

    pub const fn cats(mut self, c: u64) -> Self {
        self.extra_categories |= c;
        self
    }

    pub const fn doc(
        mut self,
        summary: &'static str,
        since: &'static str,
        complexity: &'static str,
    ) -> Self {
        self.summary = summary;
        self.since = since;
        self.complexity = complexity;
        self
    }

    /// See [`CommandSpec::run_flags`].
    pub const fn flags_from(mut self, f: RunFlags) -> Self {
        self.run_flags = Some(f);
        self
    }

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// The flags this invocation runs with: the row's, or what its
    /// `run_flags` makes of them. Read only by gates that are off on the
    /// hot path (persistence errors, CLIENT PAUSE, memory limits).
    pub fn flags_for(&self, ctx: &Ctx<'_>, argv: &[&[u8]]) -> u32 {
        match self.run_flags {
            Some(f) => f(ctx, argv, self.flags),
            None => self.flags,
        }
    }

    /// ACL categories: explicit ones, the group's, and those implied by flags.
    pub fn categories(&self) -> u64 {
        let group = if self.group_category {
            self.group.category()
        } else {
            0
        };
        let mut c = self.extra_categories | group;
        if self.has(flags::WRITE) {
            c |= cat::WRITE;
        }
        // Redis's setImplicitACLCategories: read-only scripting commands
        // (EVAL_RO, FCALL_RO) are not @read.
        if self.has(flags::READONLY) && c & cat::SCRIPTING == 0 {
            c |= cat::READ;
        }
        if self.has(flags::ADMIN) {
            c |= cat::ADMIN | cat::DANGEROUS;
        }
        if self.has(flags::PUBSUB) {
            c |= cat::PUBSUB;
        }
        if self.has(flags::BLOCKING) {
            c |= cat::BLOCKING;
        }
        if self.has(flags::FAST) {
            c |= cat::FAST;
        } else {
            c |= cat::SLOW;
        }
        c
    }

    /// The tenant boundary: the row's own, else `Server` for `admin`
    /// commands and `Db` for the rest. A new admin command is thus refused
    /// to DB-restricted users until its row says how it stays inside.
    pub fn tenant_scope(&self) -> Tenant {
        match self.tenant {
            Some(t) => t,
            None if self.has(flags::ADMIN) => Tenant::Server,
            None => Tenant::Db,
        }
    }

    /// The indexes of the secret arguments (see [`Redact`]).
    pub fn redacted(&self, argv: &[&[u8]]) -> Vec<usize> {
        match self.redact {
            Redact::None => Vec::new(),
            Redact::From(i) => (i..argv.len()).collect(),
            Redact::Find(f) => f(argv),
        }
    }

    /// Whether `argc` fits the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Indexes of the key arguments in `argv`.
    pub fn key_indexes(&self, argv: &[&[u8]]) -> Vec<usize> {
        match self.keys {
            Keys::None => Vec::new(),
            Keys::Range { first, last, step } => {
                let argc = argv.len() as i32;
                let last = if last < 0 { argc + last } else { last };
                let mut v = Vec::new();
                let mut i = first;
                while i <= last && i < argc {
                    v.push(i as usize);
                    i += step.max(1);
                }
                v
            }
            Keys::Find(f) => f(argv),
        }
    }
}
