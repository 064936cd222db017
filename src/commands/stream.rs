//! Stream group: XADD/XRANGE/XREAD and friends, consumer groups (XGROUP,
//! XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM), XINFO and XSETID.
//!
//! Argument parsing follows Redis's `t_stream.c` step by step (which check
//! comes first decides which error a malformed command gets).
//!
//! BLOCK: XREAD/XREADGROUP answer at once when data is there, and with the
//! timeout reply (null array) otherwise. [`xread_for_client`] and
//! [`xreadgroup_for_client`] are the serve functions a blocking layer can
//! call once a key is signalled (XADD calls `Db::signal_ready`).

use super::args::{self, is};
use super::errors::{self, CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;
use crate::commands::Outcome;
use crate::keyspace::blocking::BlockedOp;
use crate::keyspace::notify::class;
use crate::keyspace::types::stream::{EntryRef, StreamId, StreamValue, ENTRIES_READ_INVALID};
use crate::keyspace::value::Object;
use crate::keyspace::Db;
use crate::protocol::parse::parse_i64;
use crate::protocol::ReplyBuf;

const G: Group = Group::Stream;

// --- errors (Redis's texts) ---
const INVALID_ID: Error = Error::lit("ERR Invalid stream ID specified as stream command argument");
const XADD_ID_SMALLER: Error =
    Error::lit("ERR The ID specified in XADD is equal or smaller than the target stream top item");
const XADD_ID_ZERO: Error = Error::lit("ERR The ID specified in XADD must be greater than 0-0");
const XADD_EXHAUSTED: Error =
    Error::lit("ERR The stream has exhausted the last possible ID, unable to add more items");
const MAXLEN_NEGATIVE: Error = Error::lit("ERR The MAXLEN argument must be >= 0.");
const LIMIT_RANGE: Error = Error::lit("ERR The LIMIT argument must be >= 0.");
const LIMIT_NEEDS_APPROX: Error =
    Error::lit("ERR syntax error, LIMIT cannot be used without the special ~ option");
const LIMIT_NEEDS_STRATEGY: Error =
    Error::lit("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
const XTRIM_NEEDS_STRATEGY: Error =
    Error::lit("ERR syntax error, XTRIM must be called with a trimming strategy");
const BAD_START: Error = Error::lit("ERR invalid start ID for the interval");
const BAD_END: Error = Error::lit("ERR invalid end ID for the interval");
const BUSYGROUP: Error = Error::lit("BUSYGROUP Consumer Group name already exists");
const XGROUP_NEEDS_KEY: Error = Error::lit("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
const ENTRIESREAD_RANGE: Error = Error::lit("ERR value for ENTRIESREAD must be positive or -1");
const XSETID_SMALLER: Error =
    Error::lit("ERR The ID specified in XSETID is smaller than the target stream top item");
const XSETID_ENTRIES: Error = Error::lit(
    "ERR The entries_added specified in XSETID is smaller than the target stream length",
);
const XSETID_MAXDEL_ARG: Error =
    Error::lit("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
const ENTRIES_ADDED_NEG: Error = Error::lit("ERR entries_added must be positive");
const GROUP_ONLY_XREADGROUP: Error =
    Error::lit("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
const NOACK_ONLY_XREADGROUP: Error =
    Error::lit("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
const MISSING_GROUP: Error = Error::lit("ERR Missing GROUP option for XREADGROUP");
const DOLLAR_IN_GROUP: Error = Error::lit("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
const GT_OUTSIDE_GROUP: Error = Error::lit("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
const TIMEOUT_NOT_INT: Error = Error::lit("ERR timeout is not an integer or out of range");
const XSETID_BELOW_MAXDEL: Error =
    Error::lit("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id");
const AUTOCLAIM_COUNT: Error = Error::lit("ERR COUNT must be > 0");

fn nogroup_read(key: &[u8], group: &[u8]) -> Error {
    Error::from(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn nogroup_key(key: &[u8], group: &[u8]) -> Error {
    Error::from(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn nogroup_for_key(group: &[u8], key: &[u8]) -> Error {
    Error::from(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn unbalanced(cmd: &str, symbol: char) -> Error {
    Error::from(format!("ERR Unbalanced '{cmd}' list of streams: for each stream key an ID or '{symbol}' must be specified."))
}

const STREAM_LEN_DOC: &str = "O(1)";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, G, xadd)
        .keys(1, 1, 1)
        .doc("Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."),
    CommandSpec::new("xlen", 2, READONLY | FAST, G, xlen)
        .keys(1, 1, 1)
        .doc("Return the number of messages in a stream.", "5.0.0", STREAM_LEN_DOC),
    CommandSpec::new("xrange", -4, READONLY, G, xrange)
        .keys(1, 1, 1)
        .doc("Returns the messages from a stream within a range of IDs.", "5.0.0", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    CommandSpec::new("xrevrange", -4, READONLY, G, xrevrange)
        .keys(1, 1, 1)
        .doc("Returns the messages from a stream within a range of IDs in reverse order.", "5.0.0", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    CommandSpec::new("xdel", -3, WRITE | FAST, G, xdel)
        .keys(1, 1, 1)
        .doc("Returns the number of messages after removing them from a stream.", "5.0.0", "O(1) for each single item to delete in the stream, regardless of the stream size."),
    CommandSpec::new("xtrim", -4, WRITE, G, xtrim)
        .keys(1, 1, 1)
        .doc("Deletes messages from the beginning of a stream.", "5.0.0", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation."),
    CommandSpec::new("xread", -4, READONLY | BLOCKING, G, xread)
        .find_keys(xread_keys)
        .doc("Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", "5.0.0", "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data."),
    CommandSpec::new("xreadgroup", -7, WRITE | BLOCKING, G, xreadgroup)
        .find_keys(xreadgroup_keys)
        .doc("Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", "5.0.0", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data."),
    CommandSpec::new("xack", -4, WRITE | FAST, G, xack)
        .keys(1, 1, 1)
        .doc("Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", "5.0.0", "O(1) for each message ID processed."),
    CommandSpec::new("xpending", -3, READONLY, G, xpending)
        .keys(1, 1, 1)
        .doc("Returns the information and entries from a stream consumer group's pending entries list.", "5.0.0", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."),
    CommandSpec::new("xclaim", -6, WRITE | FAST, G, xclaim)
        .keys(1, 1, 1)
        .doc("Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", "5.0.0", "O(log N) with N being the number of messages in the PEL of the consumer group."),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, G, xautoclaim)
        .keys(1, 1, 1)
        .doc("Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", "6.2.0", "O(1) if COUNT is small."),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, G, xsetid)
        .keys(1, 1, 1)
        .doc("An internal command for replicating stream values.", "5.0.0", "O(1)"),
    CommandSpec::container("xgroup", G, XGROUP_SUBS)
        .doc("A container for consumer groups commands.", "5.0.0", "Depends on subcommand."),
    CommandSpec::container("xinfo", G, XINFO_SUBS)
        .doc("A container for stream introspection commands.", "5.0.0", "Depends on subcommand."),
];

static XGROUP_SUBS: &[CommandSpec] = &[
    CommandSpec::new("create", -5, WRITE | DENYOOM, G, xgroup)
        .keys(2, 2, 1)
        .doc("Creates a consumer group.", "5.0.0", "O(1)"),
    CommandSpec::new("createconsumer", 5, WRITE | DENYOOM, G, xgroup)
        .keys(2, 2, 1)
        .doc("Creates a consumer in a consumer group.", "6.2.0", "O(1)"),
    CommandSpec::new("delconsumer", 5, WRITE, G, xgroup)
        .keys(2, 2, 1)
        .doc("Deletes a consumer from a consumer group.", "5.0.0", "O(1)"),
    CommandSpec::new("destroy", 4, WRITE, G, xgroup)
        .keys(2, 2, 1)
        .doc(
            "Destroys a consumer group.",
            "5.0.0",
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        ),
    CommandSpec::new("setid", -5, WRITE, G, xgroup)
        .keys(2, 2, 1)
        .doc(
            "Sets the last-delivered ID of a consumer group.",
            "5.0.0",
            "O(1)",
        ),
    CommandSpec::new("help", 2, LOADING | STALE, G, xgroup).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
    ),
];

static XINFO_SUBS: &[CommandSpec] = &[
    CommandSpec::new("consumers", 4, READONLY, G, xinfo)
        .keys(2, 2, 1)
        .doc(
            "Returns a list of the consumers in a consumer group.",
            "5.0.0",
            "O(1)",
        ),
    CommandSpec::new("groups", 3, READONLY, G, xinfo)
        .keys(2, 2, 1)
        .doc(
            "Returns a list of the consumer groups of a stream.",
            "5.0.0",
            "O(1)",
        ),
    CommandSpec::new("stream", -3, READONLY, G, xinfo)
        .keys(2, 2, 1)
        .doc("Returns information about a stream.", "5.0.0", "O(1)"),
    CommandSpec::new("help", 2, LOADING | STALE, G, xinfo).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
    ),
];

// --- key finders (XREAD/XREADGROUP keys follow STREAMS) ---

fn streams_keys(argv: &[&[u8]], from: usize) -> Vec<usize> {
    let Some(pos) = argv
        .iter()
        .skip(from)
        .position(|a| is(a, "streams"))
        .map(|p| p + from)
    else {
        return Vec::new();
    };
    let rest = argv.len() - pos - 1;
    // Redis's key spec (keyword STREAMS, limit 2): the first half of what
    // follows, rounded down, even when the id count does not match.
    (pos + 1..pos + 1 + rest / 2).collect()
}

fn xread_keys(argv: &[&[u8]]) -> Vec<usize> {
    streams_keys(argv, 1)
}

fn xreadgroup_keys(argv: &[&[u8]]) -> Vec<usize> {
    streams_keys(argv, 4)
}

// --- id parsing ---

/// Redis's `string2ull`: decimal digits (strtoull also takes leading
/// spaces and a `+`), no negatives.
fn parse_u64(s: &[u8]) -> Option<u64> {
    let mut s = s;
    while let [c, rest @ ..] = s {
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            s = rest;
        } else {
            break;
        }
    }
    if let [b'+', rest @ ..] = s {
        s = rest;
    }
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// A parsed id; `seq_given` false for XADD's `<ms>-*`.
struct ParsedId {
    id: StreamId,
    seq_given: bool,
}

/// Redis's `streamGenericParseIDOrReply`.
fn parse_id_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_star_seq: bool,
) -> Result<ParsedId, Error> {
    if arg.len() > 127 {
        return Err(INVALID_ID);
    }
    // Redis copies into a C string: an embedded NUL ends it.
    let arg = match arg.iter().position(|&c| c == 0) {
        Some(p) => &arg[..p],
        None => arg,
    };
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(INVALID_ID);
        }
        let id = if arg == b"-" {
            StreamId::ZERO
        } else {
            StreamId::MAX
        };
        return Ok(ParsedId {
            id,
            seq_given: true,
        });
    }
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        Some(p) => (&arg[..p], Some(&arg[p + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64(ms).ok_or(INVALID_ID)?;
    match seq {
        Some(b"*") if allow_star_seq => Ok(ParsedId {
            id: StreamId::new(ms, 0),
            seq_given: false,
        }),
        Some(s) => Ok(ParsedId {
            id: StreamId::new(ms, parse_u64(s).ok_or(INVALID_ID)?),
            seq_given: true,
        }),
        None => Ok(ParsedId {
            id: StreamId::new(ms, missing_seq),
            seq_given: true,
        }),
    }
}

fn parse_strict_id(arg: &[u8]) -> Result<StreamId, Error> {
    parse_id_generic(arg, 0, true, false).map(|p| p.id)
}

/// An interval bound: `(` makes it exclusive (then `-`/`+` are invalid).
fn parse_interval(arg: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, Error> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_generic(&arg[1..], missing_seq, true, false)?.id;
        if start {
            id.incr().ok_or(BAD_START)
        } else {
            id.decr().ok_or(BAD_END)
        }
    } else {
        Ok(parse_id_generic(arg, missing_seq, false, false)?.id)
    }
}

// --- reply helpers ---

/// A buffer for a reply part whose length prefix is known only after it
/// is built (empty: allocates only if something is written).
fn side_buf(out: &ReplyBuf) -> ReplyBuf {
    ReplyBuf {
        buf: Vec::new(),
        proto: out.proto,
    }
}

/// What a consumer-group read or claim did, as Redis 7 propagates it:
/// XGROUP CREATECONSUMER for a new consumer, one `XCLAIM … 0 id TIME t
/// RETRYCOUNT n FORCE JUSTID` per delivery (its delivery time and count
/// are the clock's, not replayable), XACK for pending entries of deleted
/// entries, and XGROUP SETID … ENTRIESREAD for the group's position.
/// Built only while effects are logged (`on`).
struct GroupLog<'a> {
    on: bool,
    key: &'a [u8],
    group: &'a [u8],
    cmds: Vec<crate::server::effects::Argv>,
    /// A consumer was created (its keyspace event fires after the write,
    /// logged or not).
    created: bool,
}

impl<'a> GroupLog<'a> {
    fn new(on: bool, key: &'a [u8], group: &'a [u8]) -> Self {
        GroupLog {
            on,
            key,
            group,
            cmds: Vec::new(),
            created: false,
        }
    }

    /// Redis's `streamCreateConsumer` event, once the closure that created
    /// the consumer has released the DB.
    fn notify(&self, db: &mut Db) {
        if self.created {
            db.notify(class::STREAM, "xgroup-createconsumer", self.key);
        }
    }

    fn consumer_created(&mut self, consumer: &[u8]) {
        self.created = true;
        if self.on {
            self.cmds.push(crate::argv!(
                b"XGROUP",
                b"CREATECONSUMER",
                self.key,
                self.group,
                consumer
            ));
        }
    }

    fn delivered(&mut self, g: &crate::keyspace::types::stream::ConsumerGroup, id: StreamId) {
        let Some(n) = g.pel().get(&id).filter(|_| self.on) else {
            return;
        };
        let mut b = [0u8; 48];
        self.cmds.push(crate::argv!(
            b"XCLAIM",
            self.key,
            self.group,
            n.consumer(),
            b"0",
            id.format(&mut b),
            b"TIME",
            n.delivery_time,
            b"RETRYCOUNT",
            n.delivery_count,
            b"FORCE",
            b"JUSTID"
        ));
    }

    fn acked(&mut self, id: StreamId) {
        if self.on {
            let mut b = [0u8; 48];
            self.cmds.push(crate::argv!(
                b"XACK",
                self.key,
                self.group,
                id.format(&mut b)
            ));
        }
    }

    fn position(&mut self, g: &crate::keyspace::types::stream::ConsumerGroup) {
        if self.on {
            let mut b = [0u8; 48];
            self.cmds.push(crate::argv!(
                b"XGROUP",
                b"SETID",
                self.key,
                self.group,
                g.last_id.format(&mut b),
                b"ENTRIESREAD",
                g.entries_read
            ));
        }
    }
}

fn reply_id(out: &mut ReplyBuf, id: StreamId) {
    let mut b = [0u8; 48];
    out.bulk(id.format(&mut b));
}

fn reply_fields(out: &mut ReplyBuf, lp: EntryRef<'_>) {
    out.array(lp.len());
    for f in lp.iter() {
        out.bulk(f);
    }
}

fn reply_entry(out: &mut ReplyBuf, id: StreamId, lp: EntryRef<'_>) {
    out.array(2);
    reply_id(out, id);
    reply_fields(out, lp);
}

fn as_stream(o: Option<&Object>) -> Result<Option<&StreamValue>, Error> {
    match o {
        None => Ok(None),
        Some(Object::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// Runs `f` on the stream at `key` (created empty when `create`).
fn with_stream<R>(
    db: &mut Db,
    key: &[u8],
    now: i64,
    create: bool,
    f: impl FnOnce(&mut StreamValue) -> Result<R, Error>,
) -> Result<Option<R>, Error> {
    let make = || Object::Stream(Box::default());
    let r = db.with_object(
        key,
        now,
        create.then_some(&make as &dyn Fn() -> Object),
        |o| match o {
            Object::Stream(s) => f(s),
            _ => Err(errors::WRONGTYPE),
        },
    )?;
    r.transpose()
}

fn with_existing_stream<R>(
    db: &mut Db,
    key: &[u8],
    now: i64,
    f: impl FnOnce(&mut StreamValue) -> Result<R, Error>,
) -> Result<Option<R>, Error> {
    // Check the type first without touching the key's LRU/watchers twice.
    as_stream(db.object_for_write(key, now)?)?;
    with_stream(db, key, now, false, f)
}

// --- XADD / XTRIM ---

#[derive(Default)]
struct TrimArgs {
    maxlen: Option<usize>,
    minid: Option<StreamId>,
    approx: bool,
    limit: usize,
    limit_given: bool,
}

impl TrimArgs {
    fn any(&self) -> bool {
        self.maxlen.is_some() || self.minid.is_some()
    }
}

/// Redis's `streamParseAddOrTrimArgsOrReply`: returns the trim options,
/// the parsed XADD id (if given) and the index where parsing stopped.
fn parse_add_or_trim(
    argv: &[&[u8]],
    xadd: bool,
    node_max_entries: u64,
) -> Result<(TrimArgs, Option<ParsedId>, bool, usize), Error> {
    let mut t = TrimArgs::default();
    let mut id = None;
    let mut nomkstream = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if is(opt, "maxlen") && more > 0 {
            t.approx = false;
            let next = argv[i + 1];
            if more >= 2 && next == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let n = args::int(argv[i + 1])?;
            if n < 0 {
                return Err(MAXLEN_NEGATIVE);
            }
            i += 1;
            t.maxlen = Some(n as usize);
            t.minid = None;
        } else if is(opt, "minid") && more > 0 {
            t.approx = false;
            let next = argv[i + 1];
            if more >= 2 && next == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            t.minid = Some(parse_strict_id(argv[i + 1])?);
            i += 1;
            t.maxlen = None;
        } else if is(opt, "limit") && more > 0 {
            let n = args::int(argv[i + 1])?;
            if !(0..=1_000_000).contains(&n) {
                return Err(LIMIT_RANGE);
            }
            t.limit = n as usize;
            t.limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            id = Some(parse_id_generic(opt, 0, true, true)?);
            break;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if t.limit_given {
        if !t.any() {
            return Err(LIMIT_NEEDS_STRATEGY);
        }
        if !t.approx {
            return Err(LIMIT_NEEDS_APPROX);
        }
    } else if t.approx {
        // Redis bounds the work of `~` to about 100 nodes.
        // (100 * stream-node-max-entries, 10000 when that is 0, at most 1e6).
        t.limit = match node_max_entries {
            0 => 10_000,
            n => n.saturating_mul(100).min(1_000_000) as usize,
        };
    } else {
        t.limit = 0;
    }
    if !xadd && !t.any() {
        return Err(XTRIM_NEEDS_STRATEGY);
    }
    Ok((t, id, nomkstream, i))
}

fn apply_trim(s: &mut StreamValue, t: &TrimArgs) -> usize {
    s.trim(t.maxlen, t.minid, t.approx, t.limit)
}

fn xadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let t = ctx.srv.hot.thresholds();
    let (trim, id, nomkstream, field_pos) =
        parse_add_or_trim(argv, true, t.stream_node.max_entries)?;
    // `*` leaves field_pos on itself; an explicit id too.
    let fields = &argv[(field_pos + 1).min(argv.len())..];
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(errors::wrong_arity("xadd"));
    }
    if let Some(p) = &id {
        if p.seq_given && p.id.is_zero() {
            return Err(XADD_ID_ZERO);
        }
    }
    let key = argv[1];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let r = with_stream(db, key, now, !nomkstream, |s| {
        if s.last_id == StreamId::MAX {
            return Err(XADD_EXHAUSTED);
        }
        let new_id = match &id {
            None => s.next_id(now.max(0) as u64, None),
            Some(p) if !p.seq_given => s.next_id(0, Some(p.id.ms)),
            Some(p) => (p.id > s.last_id).then_some(p.id),
        }
        .ok_or(XADD_ID_SMALLER)?;
        s.append(new_id, fields, t.stream_node);
        let trimmed = if trim.any() { apply_trim(s, &trim) } else { 0 };
        Ok((new_id, trimmed, s.len()))
    })?;
    match r {
        None => out.null(),
        Some((new_id, trimmed, _)) => {
            reply_id(out, new_id);
            db.signal_ready(key);
            db.notify(class::STREAM, "xadd", key);
            if trimmed > 0 {
                db.notify(class::STREAM, "xtrim", key);
            }
        }
    }
    // `*` and approximate trimming depend on the clock and the node
    // layout: log the id chosen and an exact trim to the length reached.
    if let (Some((new_id, trimmed, len)), true) = (r, ctx.propagating()) {
        let mut b = [0u8; 48];
        let mut add = crate::argv!(b"XADD", key, new_id.format(&mut b));
        add.extend(fields.iter().map(|f| f.to_vec()));
        let mut effects = vec![add];
        if trimmed > 0 {
            effects.push(crate::argv!(b"XTRIM", key, b"MAXLEN", b"=", len));
        }
        ctx.propagate_as(effects);
    }
    Ok(Outcome::Done)
}

fn xtrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let node_max_entries = ctx.srv.hot.thresholds().stream_node.max_entries;
    let (trim, _, _, _) = parse_add_or_trim(argv, false, node_max_entries)?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = with_existing_stream(db, argv[1], now, |s| Ok((apply_trim(s, &trim), s.len())))?;
    if n.is_some_and(|(n, _)| n > 0) {
        db.notify(class::STREAM, "xtrim", argv[1]);
    }
    out.int(n.map_or(0, |(n, _)| n) as i64);
    // An approximate trim is logged as the exact one it amounted to.
    if ctx.propagating() {
        let effect = n
            .filter(|&(removed, _)| removed > 0)
            .map(|(_, len)| crate::argv!(b"XTRIM", argv[1], b"MAXLEN", b"=", len));
        ctx.propagate_as(effect.into_iter().collect());
    }
    Ok(Outcome::Done)
}

fn xlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let n = as_stream(db.object(argv[1], now)?)?.map_or(0, |s| s.len());
    out.int(n as i64);
    Ok(Outcome::Done)
}

fn xdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    if as_stream(db.object_for_write(argv[1], now)?)?.is_none() {
        out.int(0);
        return Ok(Outcome::Done);
    }
    let ids = argv[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let n = with_stream(db, argv[1], now, false, |s| {
        Ok(ids.iter().filter(|&&id| s.delete(id)).count())
    })?;
    if n.unwrap_or(0) > 0 {
        db.notify(class::STREAM, "xdel", argv[1]);
    }
    out.int(n.unwrap_or(0) as i64);
    Ok(Outcome::Done)
}

// --- XRANGE / XREVRANGE ---

fn range_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (argv[3], argv[2])
    } else {
        (argv[2], argv[3])
    };
    let start = parse_interval(start_arg, 0, true)?;
    let end = parse_interval(end_arg, u64::MAX, false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if is(argv[j], "count") && j + 1 < argv.len() {
            count = args::int(argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(s) = as_stream(db.object(argv[1], now)?)? else {
        out.array(0);
        return Ok(Outcome::Done);
    };
    if count == 0 {
        out.null_array();
        return Ok(Outcome::Done);
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    // The count is known after the walk: entries go to a side buffer.
    let mut body = side_buf(out);
    let mut n = 0;
    if start <= end {
        if rev {
            for (id, e) in s.range_rev(start, end).take(limit) {
                reply_entry(&mut body, id, e);
                n += 1;
            }
        } else {
            for (id, e) in s.range(start, end).take(limit) {
                reply_entry(&mut body, id, e);
                n += 1;
            }
        }
    }
    out.array(n);
    out.raw(&body.buf);
    Ok(Outcome::Done)
}

fn xrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    range_generic(ctx, argv, true)
}

// --- XREAD / XREADGROUP ---

/// What XREAD/XREADGROUP parsed.
pub struct ReadArgs<'a> {
    pub count: usize,
    /// Milliseconds, `None` without BLOCK.
    pub block: Option<i64>,
    pub group: Option<(&'a [u8], &'a [u8])>,
    pub noack: bool,
    pub keys: &'a [&'a [u8]],
    pub ids: &'a [&'a [u8]],
}

fn parse_read<'a>(argv: &'a [&'a [u8]], group_cmd: bool) -> Result<ReadArgs<'a>, Error> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        group: None,
        noack: false,
        keys: &[],
        ids: &[],
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let o = argv[i];
        if is(o, "block") && more > 0 {
            i += 1;
            let t = parse_i64(argv[i]).ok_or(TIMEOUT_NOT_INT)?;
            if t < 0 {
                return Err(errors::TIMEOUT_NEGATIVE);
            }
            r.block = Some(t);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = args::int(argv[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            let n = argv.len() - i - 1;
            if n % 2 != 0 {
                return Err(if group_cmd {
                    unbalanced("xreadgroup", '>')
                } else {
                    unbalanced("xread", '$')
                });
            }
            streams_at = Some(i + 1);
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(GROUP_ONLY_XREADGROUP);
            }
            r.group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !group_cmd {
                return Err(NOACK_ONLY_XREADGROUP);
            }
            r.noack = true;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(errors::SYNTAX);
    };
    if group_cmd && r.group.is_none() {
        return Err(MISSING_GROUP);
    }
    let n = (argv.len() - at) / 2;
    r.keys = &argv[at..at + n];
    r.ids = &argv[at + n..];
    Ok(r)
}

/// A resolved start position per stream.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// Entries greater than this id.
    After(StreamId),
    /// XREADGROUP `>`: new entries for the group.
    New,
}

fn xread(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = parse_read(argv, false)?;
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let mut from = Vec::with_capacity(a.keys.len());
    for (key, id) in a.keys.iter().zip(a.ids) {
        let s = as_stream(db.object(key, now)?)?;
        if *id == b"$" {
            from.push(s.map_or(StreamId::ZERO, |s| s.last_id));
        } else if *id == b">" {
            return Err(GT_OUTSIDE_GROUP);
        } else {
            from.push(parse_strict_id(id)?);
        }
    }
    if xread_for_client(db, out, a.keys, &from, a.count, now) {
        return Ok(Outcome::Done);
    }
    let op = BlockedOp::XRead {
        keys: owned(a.keys),
        from,
        count: a.count,
    };
    Ok(block_or_nil(ctx, a.keys, a.block, op))
}

fn owned(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.to_vec()).collect()
}

/// Nothing to read: park the client when BLOCK was given and blocking is
/// possible here (not in MULTI or a script), else answer the null array.
fn block_or_nil(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    block_ms: Option<i64>,
    op: BlockedOp,
) -> Outcome {
    let mut nil = ReplyBuf {
        buf: Vec::new(),
        proto: ctx.out.proto,
    };
    nil.null_array();
    match block_ms {
        Some(ms) if ctx.client.may_block() => {
            let wait = (ms > 0).then(|| std::time::Duration::from_millis(ms as u64));
            super::blocking::register(ctx, keys, op, serve_blocked, wait, nil.buf)
        }
        _ => {
            ctx.out.raw(&nil.buf);
            Outcome::Done
        }
    }
}

/// The waiter's serve function: runs under the DB lock after a write made
/// one of its streams ready.
fn serve_blocked(
    db: &mut Db,
    op: &BlockedOp,
    proto: crate::protocol::Protocol,
    _key: &[u8],
    now: i64,
) -> Option<Vec<u8>> {
    match op {
        BlockedOp::XRead { keys, from, count } => {
            let k: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            serve_xread(db, proto, &k, from, *count, now)
        }
        BlockedOp::XReadGroup {
            keys,
            group,
            consumer,
            count,
            noack,
        } => {
            let k: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let mut out = ReplyBuf {
                buf: Vec::new(),
                proto,
            };
            // As Redis 7.2, which runs the command again when a key it
            // waits on is deleted, changes type or loses the group: the
            // client gets the error the command would answer now.
            for key in &k {
                let gone = match db.object(key, now) {
                    Err(_) => Some(errors::WRONGTYPE),
                    Ok(o) => match as_stream(o) {
                        Err(e) => Some(e),
                        Ok(s) if s.and_then(|s| s.group(group)).is_none() => {
                            Some(nogroup_read(key, group))
                        }
                        Ok(_) => None,
                    },
                };
                if let Some(e) = gone {
                    out.error(e.text().as_bytes());
                    return Some(out.buf);
                }
            }
            xreadgroup_for_client(db, &mut out, &k, group, consumer, *count, *noack, now)
                .then_some(out.buf)
        }
        _ => None,
    }
}

/// [`xread_for_client`] for a blocking layer's serve function: the reply
/// encoded in `proto`, or `None` while no stream has entries after `from`.
/// A blocked XREAD must resolve `$` to each stream's last id when it
/// blocks (as [`xread`] does) and keep those ids in its waiter.
pub fn serve_xread(
    db: &mut Db,
    proto: crate::protocol::Protocol,
    keys: &[&[u8]],
    from: &[StreamId],
    count: usize,
    now: i64,
) -> Option<Vec<u8>> {
    let mut out = ReplyBuf {
        buf: Vec::new(),
        proto,
    };
    xread_for_client(db, &mut out, keys, from, count, now).then_some(out.buf)
}

/// Serves XREAD for `keys` with entries after `from` (one per key).
/// Writes the reply and returns true when some stream had data; writes
/// nothing and returns false otherwise (the caller blocks or times out).
pub fn xread_for_client(
    db: &mut Db,
    out: &mut ReplyBuf,
    keys: &[&[u8]],
    from: &[StreamId],
    count: usize,
    now: i64,
) -> bool {
    let mut ready: Vec<usize> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if let Ok(Some(s)) = as_stream(db.object(key, now).ok().flatten()) {
            if s.last_entry_id().is_some_and(|m| m > from[i]) {
                ready.push(i);
            }
        }
    }
    if ready.is_empty() {
        return false;
    }
    if out.is_resp3() {
        out.map(ready.len());
    } else {
        out.array(ready.len());
    }
    for i in ready {
        if !out.is_resp3() {
            out.array(2);
        }
        out.bulk(keys[i]);
        let Ok(Some(s)) = as_stream(db.object(keys[i], now).ok().flatten()) else {
            out.array(0);
            continue;
        };
        let start = from[i].incr().unwrap_or(StreamId::MAX);
        let limit = if count == 0 { usize::MAX } else { count };
        let mut body = side_buf(out);
        let mut n = 0;
        for (id, e) in s.range(start, StreamId::MAX).take(limit) {
            reply_entry(&mut body, id, e);
            n += 1;
        }
        out.array(n);
        out.raw(&body.buf);
    }
    true
}

fn xreadgroup(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let a = parse_read(argv, true)?;
    let (group, consumer) = a.group.expect("parse_read requires GROUP for XREADGROUP");
    // What a read did goes to the DB's effects (see `xreadgroup_serve`),
    // whether it was served now or later.
    if ctx.propagating() {
        ctx.propagate_as(Vec::new());
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let mut from = Vec::with_capacity(a.keys.len());
    for (key, id) in a.keys.iter().zip(a.ids) {
        let s = as_stream(db.object(key, now)?)?;
        if s.and_then(|s| s.group(group)).is_none() {
            return Err(nogroup_read(key, group));
        }
        if *id == b"$" {
            return Err(DOLLAR_IN_GROUP);
        } else if *id == b">" {
            from.push(ReadFrom::New);
        } else {
            from.push(ReadFrom::After(parse_strict_id(id)?));
        }
    }
    if xreadgroup_serve(
        db, out, a.keys, &from, group, consumer, a.count, a.noack, now,
    ) {
        return Ok(Outcome::Done);
    }
    let op = BlockedOp::XReadGroup {
        keys: owned(a.keys),
        group: group.to_vec(),
        consumer: consumer.to_vec(),
        count: a.count,
        noack: a.noack,
    };
    Ok(block_or_nil(ctx, a.keys, a.block, op))
}

/// Serves XREADGROUP `>` for `keys` (the blocking layer's entry: only
/// new entries can wake a blocked group reader). As [`xread_for_client`].
#[allow(clippy::too_many_arguments)]
pub fn xreadgroup_for_client(
    db: &mut Db,
    out: &mut ReplyBuf,
    keys: &[&[u8]],
    group: &[u8],
    consumer: &[u8],
    count: usize,
    noack: bool,
    now: i64,
) -> bool {
    let from = vec![ReadFrom::New; keys.len()];
    xreadgroup_serve(db, out, keys, &from, group, consumer, count, noack, now)
}

#[allow(clippy::too_many_arguments)]
fn xreadgroup_serve(
    db: &mut Db,
    out: &mut ReplyBuf,
    keys: &[&[u8]],
    from: &[ReadFrom],
    group: &[u8],
    consumer: &[u8],
    count: usize,
    noack: bool,
    now: i64,
) -> bool {
    let limit = if count == 0 { usize::MAX } else { count };
    // The reply's length is only known after walking every key: write the
    // per-key parts into a side buffer, then the header.
    let mut body = side_buf(out);
    let mut served = 0;
    let logging = db.effects.is_some();
    for (i, key) in keys.iter().enumerate() {
        let mut log = GroupLog::new(logging, key, group);
        let r = with_stream(db, key, now, false, |s| {
            let Some((view, mut g)) = s.split_group(group) else {
                return Ok(false);
            };
            if g.ensure_consumer(consumer, now) {
                log.consumer_created(consumer);
            }
            if let Some(c) = g.consumer_mut(consumer) {
                c.seen_time = now;
            }
            let sync = match from[i] {
                ReadFrom::After(_) => true,
                ReadFrom::New => view
                    .entries
                    .last_id()
                    .is_some_and(|m| m > g.group().last_id),
            };
            if !sync {
                return Ok(false);
            }
            if !body.is_resp3() {
                body.array(2);
            }
            body.bulk(key);
            match from[i] {
                ReadFrom::After(after) => {
                    // History: this consumer's pending entries after `after`.
                    let start = after.incr().unwrap_or(StreamId::MAX);
                    let ids: Vec<StreamId> = g
                        .group()
                        .consumer(consumer)
                        .map(|c| g.group().consumer_pel(c, start).take(limit).collect())
                        .unwrap_or_default();
                    body.array(ids.len());
                    for id in ids {
                        match view.entries.get(id) {
                            Some(lp) => {
                                reply_entry(&mut body, id, lp);
                                if let Some(n) = g.pel_mut(id) {
                                    n.delivery_time = now;
                                    n.delivery_count += 1;
                                }
                                log.delivered(g.group(), id);
                            }
                            None => {
                                body.array(2);
                                reply_id(&mut body, id);
                                body.null_array();
                            }
                        }
                    }
                }
                ReadFrom::New => {
                    let start = g.group().last_id.incr().unwrap_or(StreamId::MAX);
                    let ids: Vec<StreamId> = view
                        .entries
                        .iter_from(start)
                        .take(limit)
                        .map(|(id, _)| id)
                        .collect();
                    body.array(ids.len());
                    let advanced = !ids.is_empty();
                    for id in ids {
                        view.advance(&mut g, id);
                        if let Some(lp) = view.entries.get(id) {
                            reply_entry(&mut body, id, lp);
                        }
                        if !noack {
                            g.deliver(id, consumer, now, |_| 1);
                            log.delivered(g.group(), id);
                        }
                    }
                    if advanced {
                        log.position(g.group());
                    }
                    if let Some(c) = g.consumer_mut(consumer) {
                        c.active_time = now;
                    }
                }
            }
            Ok(true)
        });
        if let Ok(Some(true)) = r {
            served += 1;
        }
        log.notify(db);
        for cmd in log.cmds {
            db.propagate(|| cmd);
        }
    }
    if served == 0 {
        return false;
    }
    if out.is_resp3() {
        out.map(served);
    } else {
        out.array(served);
    }
    out.raw(&body.buf);
    true
}

// --- XACK / XPENDING / XCLAIM / XAUTOCLAIM ---

fn xack(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let has_group = as_stream(db.object_for_write(argv[1], now)?)?
        .and_then(|s| s.group(argv[2]))
        .is_some();
    if !has_group {
        out.int(0);
        return Ok(Outcome::Done);
    }
    // All ids parse before any is acknowledged (all or nothing).
    let ids = argv[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let n = with_stream(db, argv[1], now, false, |s| {
        Ok(s.with_group(argv[2], |g| ids.iter().filter(|&&id| g.ack(id)).count()))
    })?
    .flatten()
    .unwrap_or(0);
    out.int(n as i64);
    Ok(Outcome::Done)
}

fn xpending(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let argc = argv.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(errors::SYNTAX);
    }
    let mut minidle = 0;
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        if is(argv[3], "idle") {
            minidle = args::int(argv[4])?;
            if argc < 8 {
                return Err(errors::SYNTAX);
            }
            at += 2;
        }
        let count = args::int(argv[at + 2])?.max(0);
        let start = parse_interval(argv[at], 0, true)?;
        let end = parse_interval(argv[at + 1], u64::MAX, false)?;
        let consumer = argv.get(at + 3).copied();
        range = Some((start, end, count as usize, consumer));
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let s = as_stream(db.object(argv[1], now)?)?;
    let Some(g) = s.and_then(|s| s.group(argv[2])) else {
        return Err(nogroup_key(argv[1], argv[2]));
    };
    let Some((start, end, count, consumer)) = range else {
        out.array(4);
        out.int(g.pel().len() as i64);
        match (g.pel().first_key_value(), g.pel().last_key_value()) {
            (Some((&first, _)), Some((&last, _))) => {
                reply_id(out, first);
                reply_id(out, last);
                let busy: Vec<_> = g
                    .consumers()
                    .iter()
                    .filter(|(_, c)| c.pending() != 0)
                    .collect();
                out.array(busy.len());
                for (name, c) in busy {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pending() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(Outcome::Done);
    };
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumer(name) {
            None => {
                out.array(0);
                return Ok(Outcome::Done);
            }
            Some(c) if start <= end => g
                .consumer_pel(c, start)
                .take_while(|&id| id <= end)
                .collect(),
            Some(_) => Vec::new(),
        },
        None if start <= end => g
            .pel()
            .range_from(&start)
            .take_while(|(&id, _)| id <= end)
            .map(|(id, _)| *id)
            .collect(),
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() >= count {
            break;
        }
        let Some(n) = g.pel().get(&id) else { continue };
        if minidle != 0 && now - n.delivery_time < minidle {
            continue;
        }
        rows.push((id, n));
    }
    out.array(rows.len());
    for (id, n) in rows {
        out.array(4);
        reply_id(out, id);
        out.bulk(n.consumer());
        out.int((now - n.delivery_time).max(0));
        out.int(n.delivery_count as i64);
    }
    Ok(Outcome::Done)
}

fn xclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (key, group, consumer) = (argv[1], argv[2], argv[3]);
    let (db, out) = ctx.db_out();
    let s = as_stream(db.object_for_write(key, now)?)?;
    if s.and_then(|s| s.group(group)).is_none() {
        return Err(nogroup_key(key, group));
    }
    let minidle =
        args::parse_i64_or(argv[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let mut last_id = StreamId::ZERO;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let v = args::parse_i64_or(argv[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            delivery = Some(now.saturating_sub(v));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(args::parse_i64_or(
                argv[j],
                "ERR Invalid TIME option argument for XCLAIM",
            )?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = Some(args::parse_i64_or(
                argv[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(argv[j])?;
        } else {
            return Err(Error::from(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let mut body = side_buf(out);
    let mut n = 0;
    let mut log = GroupLog::new(db.effects.is_some(), key, group);
    with_stream(db, key, now, false, |s| {
        let (view, mut g) = s.split_group(group).expect("group checked above");
        if last_id > g.group().last_id {
            let er = g.group().entries_read;
            g.set_last_id(last_id, Some(er));
            log.position(g.group());
        }
        let mut have_consumer = false;
        for &id in &ids {
            let pending = g.group().pel().get(&id).map(|n| n.delivery_time);
            let Some(lp) = view.entries.get(id) else {
                if pending.is_some() {
                    g.ack(id);
                    log.acked(id);
                }
                continue;
            };
            if pending.is_none() && !force {
                continue;
            }
            if let Some(t) = pending {
                if minidle != 0 && now - t < minidle {
                    continue;
                }
            }
            if !have_consumer {
                if g.ensure_consumer(consumer, now) {
                    log.consumer_created(consumer);
                }
                if let Some(c) = g.consumer_mut(consumer) {
                    c.seen_time = now;
                }
                have_consumer = true;
            }
            g.deliver(id, consumer, delivery, |old| match (retry, old) {
                (Some(r), _) if r >= 0 => r as u64,
                // FORCE creates the entry with one delivery, then counts this one.
                (_, None) if justid => 1,
                (_, None) => 2,
                (_, Some(c)) if justid => c,
                (_, Some(c)) => c + 1,
            });
            log.delivered(g.group(), id);
            if let Some(c) = g.consumer_mut(consumer) {
                c.active_time = now;
            }
            if justid {
                reply_id(&mut body, id);
            } else {
                reply_entry(&mut body, id, lp);
            }
            n += 1;
        }
        Ok(())
    })?;
    out.array(n);
    out.raw(&body.buf);
    log.notify(db);
    if ctx.propagating() {
        ctx.propagate_as(log.cmds);
    }
    Ok(Outcome::Done)
}

fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (key, group, consumer) = (argv[1], argv[2], argv[3]);
    let minidle =
        args::parse_i64_or(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = parse_interval(argv[5], 0, true)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if is(argv[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(argv[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => return Err(AUTOCLAIM_COUNT),
            };
            j += 1;
        } else if is(argv[j], "justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    // Redis parses everything before looking the key up.
    let (db, out) = ctx.db_out();
    let s = as_stream(db.object_for_write(key, now)?)?;
    if s.and_then(|s| s.group(group)).is_none() {
        return Err(nogroup_key(key, group));
    }
    let mut body = side_buf(out);
    let mut claimed = 0;
    let mut deleted = Vec::new();
    let mut cursor = StreamId::ZERO;
    let mut log = GroupLog::new(db.effects.is_some(), key, group);
    with_stream(db, key, now, false, |s| {
        let (view, mut g) = s.split_group(group).expect("group checked above");
        let mut attempts = count.saturating_mul(10);
        let mut left = count;
        let mut cur = Some(start);
        let mut have_consumer = false;
        while attempts > 0 && left > 0 {
            attempts -= 1;
            let Some(from) = cur else { break };
            let Some((&id, nack)) = g.group().pel().range_from(&from).next() else {
                cur = None;
                break;
            };
            let t = nack.delivery_time;
            cur = id.incr();
            let Some(lp) = view.entries.get(id) else {
                g.ack(id);
                log.acked(id);
                deleted.push(id);
                left -= 1;
                continue;
            };
            if minidle != 0 && now - t < minidle {
                continue;
            }
            if !have_consumer {
                if g.ensure_consumer(consumer, now) {
                    log.consumer_created(consumer);
                }
                if let Some(c) = g.consumer_mut(consumer) {
                    c.seen_time = now;
                }
                have_consumer = true;
            }
            g.deliver(id, consumer, now, |old| {
                let c = old.unwrap_or(1);
                if justid {
                    c
                } else {
                    c + 1
                }
            });
            log.delivered(g.group(), id);
            if let Some(c) = g.consumer_mut(consumer) {
                c.active_time = now;
            }
            if justid {
                reply_id(&mut body, id);
            } else {
                reply_entry(&mut body, id, lp);
            }
            claimed += 1;
            left -= 1;
        }
        if let Some(from) = cur {
            if let Some((&id, _)) = g.group().pel().range_from(&from).next() {
                cursor = id;
            }
        }
        Ok(())
    })?;
    out.array(3);
    reply_id(out, cursor);
    out.array(claimed);
    out.raw(&body.buf);
    out.array(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
    log.notify(db);
    if ctx.propagating() {
        ctx.propagate_as(log.cmds);
    }
    Ok(Outcome::Done)
}

// --- XSETID ---

fn xsetid(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let id = parse_strict_id(argv[2])?;
    let mut entries_added: Option<u64> = None;
    let mut max_del = StreamId::ZERO;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if is(argv[i], "entriesadded") && more > 0 {
            let n = args::int(argv[i + 1])?;
            if n < 0 {
                return Err(ENTRIES_ADDED_NEG);
            }
            entries_added = Some(n as u64);
        } else if is(argv[i], "maxdeletedid") && more > 0 {
            max_del = parse_strict_id(argv[i + 1])?;
            if id < max_del {
                return Err(XSETID_MAXDEL_ARG);
            }
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    if as_stream(db.object_for_write(argv[1], now)?)?.is_none() {
        return Err(errors::NO_SUCH_KEY);
    }
    with_stream(db, argv[1], now, false, |s| {
        if let Some(top) = s.last_entry_id() {
            if id < top {
                return Err(XSETID_SMALLER);
            }
            if entries_added.is_some_and(|n| (s.len() as u64) > n) {
                return Err(XSETID_ENTRIES);
            }
        }
        if id < s.max_deleted {
            return Err(XSETID_BELOW_MAXDEL);
        }
        s.set_last_id(id);
        if let Some(n) = entries_added {
            s.entries_added = n;
        }
        if !max_del.is_zero() {
            s.max_deleted = max_del;
        }
        Ok(())
    })?;
    db.notify(class::STREAM, "xsetid", argv[1]);
    out.ok();
    Ok(Outcome::Done)
}

// --- XGROUP ---

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn xgroup(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    let syntax = || errors::subcommand_syntax(b"xgroup", sub);
    if is(sub, "help") {
        if argv.len() != 2 {
            return Err(syntax());
        }
        ctx.out.status_lines(XGROUP_HELP);
        return Ok(Outcome::Done);
    }
    let create = is(sub, "create");
    let setid = is(sub, "setid");
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    if create || setid {
        let mut i = 5;
        while i < argv.len() {
            if create && is(argv[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if is(argv[i], "entriesread") && i + 1 < argv.len() {
                entries_read = args::int(argv[i + 1])?;
                if entries_read < 0 && entries_read != ENTRIES_READ_INVALID {
                    return Err(ENTRIESREAD_RANGE);
                }
                i += 2;
            } else {
                return Err(syntax());
            }
        }
    }
    let (key, group) = (argv[2], argv[3]);
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let s = as_stream(db.object_for_write(key, now)?)?;
    let exists = s.is_some();
    let has_group = s.and_then(|s| s.group(group)).is_some();
    let last_id = s.map_or(StreamId::ZERO, |s| s.last_id);
    if !mkstream {
        if !exists {
            return Err(XGROUP_NEEDS_KEY);
        }
        if !has_group && (setid || is(sub, "createconsumer") || is(sub, "delconsumer")) {
            return Err(nogroup_for_key(group, key));
        }
    }
    let argc = argv.len();
    if create && (5..=8).contains(&argc) {
        let id = if argv[4] == b"$" {
            last_id
        } else {
            parse_strict_id(argv[4])?
        };
        let ok = with_stream(db, key, now, true, |s| {
            Ok(s.create_group(group, id, entries_read))
        })?;
        if ok != Some(true) {
            return Err(BUSYGROUP);
        }
        db.notify(class::STREAM, "xgroup-create", key);
        out.ok();
    } else if setid && (argc == 5 || argc == 7) {
        let id = if argv[4] == b"$" {
            last_id
        } else {
            parse_id_generic(argv[4], 0, false, false)?.id
        };
        with_stream(db, key, now, false, |s| {
            Ok(s.with_group(group, |g| g.set_last_id(id, Some(entries_read))))
        })?;
        db.notify(class::STREAM, "xgroup-setid", key);
        out.ok();
    } else if is(sub, "destroy") && argc == 4 {
        let n = with_stream(db, key, now, false, |s| Ok(s.destroy_group(group)))?;
        if n == Some(true) {
            db.notify(class::STREAM, "xgroup-destroy", key);
        }
        // A client blocked in XREADGROUP on this group gets -NOGROUP.
        db.signal_ready(key);
        out.int(i64::from(n == Some(true)));
    } else if is(sub, "createconsumer") && argc == 5 {
        let n = with_stream(db, key, now, false, |s| {
            Ok(s.with_group(group, |g| g.ensure_consumer(argv[4], now)))
        })?
        .flatten();
        if n == Some(true) {
            db.notify(class::STREAM, "xgroup-createconsumer", key);
        }
        out.int(i64::from(n == Some(true)));
    } else if is(sub, "delconsumer") && argc == 5 {
        let n = with_stream(db, key, now, false, |s| {
            Ok(s.with_group(group, |g| g.delete_consumer(argv[4])))
        })?
        .flatten()
        .flatten();
        if n.is_some() {
            db.notify(class::STREAM, "xgroup-delconsumer", key);
        }
        out.int(n.unwrap_or(0) as i64);
    } else {
        return Err(syntax());
    }
    Ok(Outcome::Done)
}

// --- XINFO ---

fn xinfo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = argv[1];
    let syntax = || errors::subcommand_syntax(b"xinfo", sub);
    if is(sub, "help") {
        if argv.len() != 2 {
            return Err(syntax());
        }
        ctx.out.status_lines(XINFO_HELP);
        return Ok(Outcome::Done);
    }
    if argv.len() < 3 {
        return Err(syntax());
    }
    let key = argv[2];
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let Some(s) = as_stream(db.object(key, now)?)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    if is(sub, "consumers") && argv.len() == 4 {
        let Some(g) = s.group(argv[3]) else {
            return Err(nogroup_for_key(argv[3], key));
        };
        out.array(g.consumers().len());
        for (name, c) in g.consumers().iter() {
            out.map(4);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pending() as i64);
            out.bulk(b"idle");
            out.int((now - c.seen_time).max(0));
            out.bulk(b"inactive");
            out.int(if c.active_time == -1 {
                -1
            } else {
                (now - c.active_time).max(0)
            });
        }
    } else if is(sub, "groups") && argv.len() == 3 {
        out.array(s.groups().len());
        for (name, g) in s.groups() {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers().len() as i64);
            out.bulk(b"pending");
            out.int(g.pel().len() as i64);
            out.bulk(b"last-delivered-id");
            reply_id(out, g.last_id);
            out.bulk(b"entries-read");
            reply_entries_read(out, g.entries_read);
            out.bulk(b"lag");
            match s.lag(g) {
                Some(l) => out.int(l),
                None => out.null(),
            }
        }
    } else if is(sub, "stream") {
        xinfo_stream(out, s, sub, &argv[3..])?;
    } else {
        return Err(syntax());
    }
    Ok(Outcome::Done)
}

fn reply_entries_read(out: &mut ReplyBuf, n: i64) {
    if n == ENTRIES_READ_INVALID {
        out.null();
    } else {
        out.int(n);
    }
}

fn xinfo_stream(
    out: &mut ReplyBuf,
    s: &StreamValue,
    sub: &[u8],
    rest: &[&[u8]],
) -> Result<(), Error> {
    let mut full = false;
    let mut count: usize = 10;
    if !rest.is_empty() {
        full = true;
        match rest.len() {
            1 if is(rest[0], "full") => {}
            3 if is(rest[0], "full") && is(rest[1], "count") => {
                count = args::int(rest[2])?.max(0) as usize
            }
            _ => return Err(errors::subcommand_syntax(b"xinfo", sub)),
        }
    }
    let limit = if count == 0 { usize::MAX } else { count };
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    // Redis reports its radix tree's shape: the keys are its macro nodes
    // (as ours); the node count is what Redis's rax of those keys has.
    out.bulk(b"radix-tree-keys");
    out.int(s.entries().node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.entries().radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id().unwrap_or(StreamId::ZERO));
    if !full {
        out.bulk(b"groups");
        out.int(s.groups().len() as i64);
        out.bulk(b"first-entry");
        match s.range(StreamId::ZERO, StreamId::MAX).next() {
            Some((id, lp)) => reply_entry(out, id, lp),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.range_rev(StreamId::ZERO, StreamId::MAX).next() {
            Some((id, lp)) => reply_entry(out, id, lp),
            None => out.null(),
        }
        return Ok(());
    }
    out.bulk(b"entries");
    let n = s.len().min(limit);
    out.array(n);
    for (id, lp) in s.range(StreamId::ZERO, StreamId::MAX).take(n) {
        reply_entry(out, id, lp);
    }
    out.bulk(b"groups");
    out.array(s.groups().len());
    for (name, g) in s.groups() {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g.entries_read);
        out.bulk(b"lag");
        match s.lag(g) {
            Some(l) => out.int(l),
            None => out.null(),
        }
        out.bulk(b"pel-count");
        out.int(g.pel().len() as i64);
        out.bulk(b"pending");
        let n = g.pel().len().min(limit);
        out.array(n);
        for (id, nack) in g.pel().iter().take(n) {
            out.array(4);
            reply_id(out, *id);
            out.bulk(nack.consumer());
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers().len());
        for (cname, c) in g.consumers().iter() {
            out.map(5);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"active-time");
            out.int(c.active_time);
            out.bulk(b"pel-count");
            out.int(c.pending() as i64);
            out.bulk(b"pending");
            let n = c.pending().min(limit);
            out.array(n);
            for id in g.consumer_pel(c, StreamId::ZERO).take(n) {
                let (t, cnt) = g
                    .pel()
                    .get(&id)
                    .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                out.array(3);
                reply_id(out, id);
                out.int(t);
                out.int(cnt as i64);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_xread_for_the_blocking_layer() {
        let mut db = Db::new();
        let key: &[u8] = b"s";
        let proto = crate::protocol::Protocol::Resp2;
        assert_eq!(
            serve_xread(&mut db, proto, &[key], &[StreamId::ZERO], 0, 0),
            None
        );
        with_stream(&mut db, key, 0, true, |s| {
            s.append(StreamId::new(5, 0), &[b"f", b"v"], Default::default());
            Ok(())
        })
        .expect("a new stream");
        let r = serve_xread(&mut db, proto, &[key], &[StreamId::ZERO], 0, 0);
        assert_eq!(
            r.as_deref(),
            Some(
                &b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"[..]
            )
        );
        assert_eq!(
            serve_xread(&mut db, proto, &[key], &[StreamId::new(5, 0)], 0, 0),
            None
        );
    }

    #[test]
    fn id_parsing() {
        assert_eq!(parse_strict_id(b"5").unwrap(), StreamId::new(5, 0));
        assert_eq!(parse_strict_id(b"5-3").unwrap(), StreamId::new(5, 3));
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_strict_id(b"5-x").is_err());
        assert!(parse_strict_id(b"-5").is_err());
        assert_eq!(
            parse_interval(b"+", u64::MAX, false).unwrap(),
            StreamId::MAX
        );
        assert_eq!(
            parse_interval(b"(5-0", 0, true).unwrap(),
            StreamId::new(5, 1)
        );
        assert!(parse_interval(b"(-", 0, true).is_err());
        let p = parse_id_generic(b"7-*", 0, true, true).unwrap();
        assert!(!p.seq_given);
        assert_eq!(parse_u64(b"18446744073709551616"), None);
    }
}
