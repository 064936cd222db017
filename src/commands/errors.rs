//! The reply-error catalogue: Redis's exact texts, prefix included.
//!
//! Handlers return [`Error`]; dispatch writes it as `-<text>\r\n`. Texts with
//! arguments are built by the functions at the bottom, never inline in a
//! handler, so a wording lives in one place.

use std::borrow::Cow;

/// A reply error: the whole line after the `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, str>);

impl Error {
    pub const fn lit(s: &'static str) -> Error {
        Error(Cow::Borrowed(s))
    }
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl From<String> for Error {
    fn from(s: String) -> Error {
        Error(Cow::Owned(s))
    }
}

/// A handler's result: what it asks of its connection, or the error
/// dispatch writes in place of its reply.
pub type CmdResult = Result<super::Outcome, Error>;

impl From<crate::keyspace::db::WrongType> for Error {
    fn from(_: crate::keyspace::db::WrongType) -> Error {
        WRONGTYPE
    }
}

pub const SYNTAX: Error = Error::lit("ERR syntax error");
pub const NOT_INTEGER: Error = Error::lit("ERR value is not an integer or out of range");
pub const NOT_FLOAT: Error = Error::lit("ERR value is not a valid float");
pub const WRONGTYPE: Error =
    Error::lit("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const NO_SUCH_KEY: Error = Error::lit("ERR no such key");
pub const OVERFLOW: Error = Error::lit("ERR increment or decrement would overflow");
pub const INCR_NAN_INF: Error = Error::lit("ERR increment would produce NaN or Infinity");
pub const DB_OUT_OF_RANGE: Error = Error::lit("ERR DB index is out of range");
pub const SAME_OBJECT: Error = Error::lit("ERR source and destination objects are the same");
pub const NOAUTH: Error = Error::lit("NOAUTH Authentication required.");
pub const WRONGPASS: Error =
    Error::lit("WRONGPASS invalid username-password pair or user is disabled.");
pub const AUTH_NOT_CONFIGURED: Error = Error::lit(
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
);
pub const STRING_TOO_LONG: Error =
    Error::lit("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
pub const OFFSET_OUT_OF_RANGE: Error = Error::lit("ERR offset is out of range");
pub const MAX_CLIENTS: Error = Error::lit("ERR max number of clients reached");
pub const UNBLOCKED: Error = Error::lit("UNBLOCKED client unblocked via CLIENT UNBLOCK");
pub const TIMEOUT_NEGATIVE: Error = Error::lit("ERR timeout is negative");
pub const NOPROTO: Error = Error::lit("NOPROTO unsupported protocol version");
pub const EXPIRE_OPTIONS_NX_XX_GT_LT: Error =
    Error::lit("ERR NX and XX, GT or LT options at the same time are not compatible");
pub const EXPIRE_OPTIONS_GT_LT: Error =
    Error::lit("ERR GT and LT options at the same time are not compatible");
pub const CURSOR: Error = Error::lit("ERR invalid cursor");
pub const HLL_WRONGTYPE: Error =
    Error::lit("WRONGTYPE Key is not a valid HyperLogLog string value.");
pub const HLL_CORRUPT: Error = Error::lit("INVALIDOBJ Corrupted HLL object detected");
pub const HLL_NO_KEY: Error = Error::lit("ERR The specified key does not exist");
pub const HLL_NOT_SPARSE: Error = Error::lit("ERR HLL encoding is not sparse");

pub fn pfdebug_unknown(sub: &[u8]) -> Error {
    Error::from(format!(
        "ERR Unknown PFDEBUG subcommand '{}'",
        String::from_utf8_lossy(sub)
    ))
}

/// Redis's rejection of an unknown command, quoting up to 128 bytes of args.
pub fn unknown_command(argv: &[&[u8]]) -> Error {
    let name = String::from_utf8_lossy(&argv[0][..argv[0].len().min(128)]).into_owned();
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(&String::from_utf8_lossy(&a[..a.len().min(room)]));
        args.push_str("' ");
    }
    Error::from(format!(
        "ERR unknown command '{name}', with args beginning with: {args}"
    ))
}

pub const NOT_FROM_SCRIPT: Error = Error::lit("ERR This Redis command is not allowed from script");
pub const NOT_IN_MULTI: Error = Error::lit("ERR Command not allowed inside a transaction");

/// A RESP2 client in subscribed mode ran a command outside PUBSUB_CONTEXT.
pub fn not_in_subscribed_context(fullname: &str) -> Error {
    Error::from(format!(
        "ERR Can't execute '{fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}

/// The tenant boundary refused a command to a DB-restricted user.
pub fn outside_tenant(user: &str, fullname: &str) -> Error {
    Error::from(format!(
        "NOPERM User {user} is restricted to its databases and '{fullname}' acts outside them"
    ))
}

pub fn unknown_subcommand(container: &[u8], sub: &[u8]) -> Error {
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    let c = String::from_utf8_lossy(container).to_uppercase();
    Error::from(format!("ERR unknown subcommand '{sub}'. Try {c} HELP."))
}

/// For commands that parse their own subcommands (OBJECT, CONFIG …).
pub fn subcommand_syntax(container: &[u8], sub: &[u8]) -> Error {
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    let c = String::from_utf8_lossy(container).to_uppercase();
    Error::from(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {c} HELP."
    ))
}

pub fn wrong_arity(fullname: &str) -> Error {
    Error::from(format!(
        "ERR wrong number of arguments for '{fullname}' command"
    ))
}

pub fn invalid_expire(cmd: &str) -> Error {
    Error::from(format!("ERR invalid expire time in '{cmd}' command"))
}

// --- string group ---
pub const DECR_OVERFLOW: Error = Error::lit("ERR decrement would overflow");
pub const LCS_NOT_STRING: Error = Error::lit("ERR The specified keys must contain string values");
pub const LCS_IDX_AND_LEN: Error =
    Error::lit("ERR If you want both the length and indexes, please just use IDX.");
pub const LCS_TOO_LONG: Error = Error::lit("ERR String too long for LCS");
pub const LCS_NO_MEMORY: Error =
    Error::lit("ERR Insufficient memory, failed allocating transient memory for LCS");
// --- bitmap group ---
pub const BIT_OFFSET: Error = Error::lit("ERR bit offset is not an integer or out of range");
pub const BIT_VALUE: Error = Error::lit("ERR bit is not an integer or out of range");
pub const BITPOS_BIT: Error = Error::lit("ERR The bit argument must be 1 or 0.");
pub const BITOP_NOT_ONE_KEY: Error =
    Error::lit("ERR BITOP NOT must be called with a single source key.");
pub const BITFIELD_TYPE: Error = Error::lit(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);
pub const BITFIELD_OVERFLOW: Error = Error::lit("ERR Invalid OVERFLOW type specified");
pub const BITFIELD_RO_GET_ONLY: Error =
    Error::lit("ERR BITFIELD_RO only supports the GET subcommand");
// Generic (keyspace) group.
pub const INT_OUT_OF_RANGE: Error =
    Error::lit("ERR value is out of range, value must between -2147483648 and 2147483647");
pub const INVALID_FIRST_DB: Error = Error::lit("ERR invalid first DB index");
pub const INVALID_SECOND_DB: Error = Error::lit("ERR invalid second DB index");
pub const LFU_NOT_SELECTED: Error = Error::lit("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
pub const LFU_SELECTED: Error = Error::lit("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");

pub fn unsupported_option(opt: &[u8]) -> Error {
    Error::from(format!(
        "ERR Unsupported option {}",
        String::from_utf8_lossy(opt)
    ))
}

// --- server group (COMMAND, CONFIG, SLOWLOG, SHUTDOWN) ---

pub const INVALID_COMMAND_SPECIFIED: Error = Error::lit("ERR Invalid command specified");
pub const INVALID_NUMBER_OF_ARGUMENTS: Error =
    Error::lit("ERR Invalid number of arguments specified for command");
pub const COMMAND_HAS_NO_KEYS: Error = Error::lit("ERR The command has no key arguments");
pub const INVALID_ARGUMENTS_FOR_COMMAND: Error =
    Error::lit("ERR Invalid arguments specified for command");
pub const SLOWLOG_COUNT: Error = Error::lit("ERR count should be greater than or equal to -1");
pub const NO_CONFIG_FILE: Error = Error::lit("ERR The server is running without a config file");
pub const NO_SHUTDOWN_IN_PROGRESS: Error = Error::lit("ERR No shutdown in progress.");

pub fn config_set_unknown(name: &[u8]) -> Error {
    Error::from(format!(
        "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
        String::from_utf8_lossy(name)
    ))
}

pub fn config_set_failed(name: &[u8], why: &str) -> Error {
    Error::from(format!(
        "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
        String::from_utf8_lossy(name)
    ))
}
// --- set group (SPOP, SRANDMEMBER, SINTERCARD) ---
pub const MUST_BE_POSITIVE: Error = Error::lit("ERR value is out of range, must be positive");
/// SRANDMEMBER / ZRANDMEMBER / HRANDFIELD count out of range.
pub const RANDOM_COUNT_RANGE: Error = Error::lit(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
pub const NUMKEYS_POSITIVE: Error = Error::lit("ERR numkeys should be greater than 0");
pub const NUMKEYS_TOO_MANY: Error =
    Error::lit("ERR Number of keys can't be greater than number of args");
pub const LIMIT_NEGATIVE: Error = Error::lit("ERR LIMIT can't be negative");
// --- sorted_set group ---

pub const MINMAX_NOT_FLOAT: Error = Error::lit("ERR min or max is not a float");
pub const MINMAX_NOT_LEX: Error = Error::lit("ERR min or max not valid string range item");
pub const SCORE_NAN: Error = Error::lit("ERR resulting score is not a number (NaN)");
pub const ZADD_XX_NX: Error =
    Error::lit("ERR XX and NX options at the same time are not compatible");
pub const ZADD_GT_LT_NX: Error =
    Error::lit("ERR GT, LT, and/or NX options at the same time are not compatible");
pub const ZADD_INCR_PAIRS: Error =
    Error::lit("ERR INCR option supports a single increment-element pair");
pub const ZRANGE_LIMIT_BY_RANK: Error = Error::lit(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
);
pub const ZRANGE_BYLEX_WITHSCORES: Error =
    Error::lit("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
pub const COUNT_POSITIVE: Error = Error::lit("ERR count should be greater than 0");
pub const WEIGHT_NOT_FLOAT: Error = Error::lit("ERR weight value is not a float");
pub const VALUE_OUT_OF_RANGE: Error = Error::lit("ERR value is out of range");

/// ZUNION & co. with `numkeys` below 1 (`cmd` is the lowercase name).
pub fn at_least_one_key(cmd: &str) -> Error {
    Error::from(format!(
        "ERR at least 1 input key is needed for '{cmd}' command"
    ))
}

// --- tenancy (per-DB quotas; see README "Per-database limits") ---
/// Redis's own text: a denyoom command while over `maxmemory` (the DB's
/// own limit or the global one) with nothing left to evict.
pub const OOM: Error = Error::lit("OOM command not allowed when used memory > 'maxmemory'.");
/// A command that may add a key to a DB at its `max-keys`, nothing evictable.
pub const DB_MAX_KEYS: Error =
    Error::lit("OOM command not allowed when the database is at its max-keys limit");
/// `max-ops-per-sec` in reject mode.
pub const DB_OPS_EXCEEDED: Error =
    Error::lit("ERR max-ops-per-sec exceeded for this database, retry later");
/// SELECT, AUTH/HELLO pinning, RESET or a connection into a DB at its `max-clients`.
pub const DB_MAX_CLIENTS: Error = Error::lit("ERR max number of clients reached for this database");

// --- scopes (what a tenant sees; see README "What a tenant sees") ---
/// A DB-restricted user's FLUSHALL under `flushall-scope deny`: the text
/// dispatch's database denial uses.
pub const NOPERM_DATABASE: Error = Error::lit("NOPERM No permissions to access database");

// DUMP / RESTORE
pub const BUSYKEY: Error = Error::lit("BUSYKEY Target key name already exists.");
pub const DUMP_PAYLOAD: Error = Error::lit("ERR DUMP payload version or checksum are wrong");
pub const BAD_DATA_FORMAT: Error = Error::lit("ERR Bad data format");
pub const INVALID_TTL: Error = Error::lit("ERR Invalid TTL value, must be >= 0");
pub const INVALID_IDLETIME: Error = Error::lit("ERR Invalid IDLETIME value, must be >= 0");
pub const INVALID_FREQ: Error = Error::lit("ERR Invalid FREQ value, must be >= 0 and <= 255");

// --- geo group ---
pub const GEO_MEMBER: Error = Error::lit("ERR could not decode requested zset member");
pub const GEO_UNIT: Error = Error::lit("ERR unsupported unit provided. please use M, KM, FT, MI");
pub const GEO_RADIUS_NOT_NUMERIC: Error = Error::lit("ERR need numeric radius");
pub const GEO_RADIUS_NEGATIVE: Error = Error::lit("ERR radius cannot be negative");
pub const GEO_WIDTH_NOT_NUMERIC: Error = Error::lit("ERR need numeric width");
pub const GEO_HEIGHT_NOT_NUMERIC: Error = Error::lit("ERR need numeric height");
pub const GEO_BOX_NEGATIVE: Error = Error::lit("ERR height or width cannot be negative");
pub const GEO_COUNT: Error = Error::lit("ERR COUNT must be > 0");
pub const GEO_ANY_WITHOUT_COUNT: Error = Error::lit("ERR the ANY argument requires COUNT argument");

/// A coordinate pair outside the indexable area (C's `%f` for both).
pub fn geo_invalid_pair(lon: f64, lat: f64) -> Error {
    Error::from(format!(
        "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
    ))
}

/// STORE/STOREDIST or GEOSEARCHSTORE together with WITH* options.
pub fn geo_store_with_options(searchstore: bool) -> Error {
    let what = if searchstore {
        "GEOSEARCHSTORE"
    } else {
        "STORE option in GEORADIUS"
    };
    Error::from(format!(
        "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    ))
}

/// GEOSEARCH without FROMMEMBER/FROMLONLAT (`cmd` as the client typed it).
pub fn geo_need_from(cmd: &[u8]) -> Error {
    Error::from(format!(
        "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
        String::from_utf8_lossy(cmd)
    ))
}

/// GEOSEARCH without BYRADIUS/BYBOX (`cmd` as the client typed it).
pub fn geo_need_by(cmd: &[u8]) -> Error {
    Error::from(format!(
        "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
        String::from_utf8_lossy(cmd)
    ))
}
