//! Key specs: where a command's keys are and how it uses each one, as
//! Redis 7.2 declares them (`key_specs` in its `src/commands/*.json`).
//!
//! The specs themselves are data in [`keyspecs`](super::keyspecs),
//! generated from the 7.2 oracle's COMMAND INFO by `tools/keyspecs.py`.
//! This module reads them the way Redis does: [`keys_with_flags`] is
//! `getKeysFromCommandWithSpecs` (specs first, the command's own key
//! function when a spec is incomplete, invalid for these arguments or has
//! variable flags), which feeds COMMAND GETKEYS(ANDFLAGS) and the ACL key
//! check: ACCESS needs `%R`, INSERT/DELETE/UPDATE need `%W`.

use super::keyspecs::KEY_SPECS;
use crate::protocol::parse::parse_i64;

/// Key-spec flags (Redis's `CMD_KEY_*`).
pub mod flags {
    pub const RO: u16 = 1 << 0;
    pub const RW: u16 = 1 << 1;
    pub const OW: u16 = 1 << 2;
    pub const RM: u16 = 1 << 3;
    pub const ACCESS: u16 = 1 << 4;
    pub const UPDATE: u16 = 1 << 5;
    pub const INSERT: u16 = 1 << 6;
    pub const DELETE: u16 = 1 << 7;
    pub const NOT_KEY: u16 = 1 << 8;
    pub const INCOMPLETE: u16 = 1 << 9;
    pub const VARIABLE_FLAGS: u16 = 1 << 10;

    /// Names as COMMAND INFO and GETKEYSANDFLAGS print them, in Redis's
    /// order (`addReplyFlagsForKeyArgs`).
    pub const NAMES: &[(u16, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Where the search for a spec's keys starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// At this argv index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the
    /// end, backwards).
    Keyword(&'static str, i32),
    /// Only the command's key function knows (SORT's STORE).
    Unknown,
}

/// How many keys follow the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Find {
    /// `(lastkey, keystep, limit)`: lastkey relative to the start, or
    /// negative from the end; `limit` divides what remains (XREAD).
    Range(i32, i32, i32),
    /// `(keynumidx, firstkey, keystep)`: a count argument then the keys.
    Keynum(i32, i32, i32),
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub flags: u16,
    pub begin: Begin,
    pub find: Find,
    /// COMMAND INFO's `notes` (empty: none).
    pub notes: &'static str,
}

impl KeySpec {
    pub const fn new(flags: u16, begin: Begin, find: Find) -> KeySpec {
        KeySpec {
            flags,
            begin,
            find,
            notes: "",
        }
    }

    pub const fn notes(mut self, notes: &'static str) -> KeySpec {
        self.notes = notes;
        self
    }
}

/// One key argument and how the command uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    pub flags: u16,
}

/// A command's own key function (Redis's `getkeys_proc`): for commands
/// whose specs cannot say everything (SORT … STORE, MIGRATE … KEYS) or
/// whose flags depend on the arguments (SET … GET, BITFIELD).
pub type GetKeys = fn(&[&[u8]]) -> Vec<KeyRef>;

/// The specs of `fullname` (`get`, `object|encoding`); empty for a
/// command without keys.
pub fn specs_for(fullname: &str) -> &'static [KeySpec] {
    match KEY_SPECS.binary_search_by(|(n, _)| (*n).cmp(fullname)) {
        Ok(i) => KEY_SPECS[i].1,
        Err(_) => &[],
    }
}

/// The key function of `fullname`, as Redis's command table names it
/// (`get_keys_function` in the command's JSON).
pub fn getkeys_for(fullname: &str) -> Option<GetKeys> {
    GETKEYS
        .iter()
        .find(|(n, _)| *n == fullname)
        .map(|&(_, f)| f)
}

static GETKEYS: &[(&str, GetKeys)] = &[
    ("zunionstore", zunion_inter_diff_store),
    ("zinterstore", zunion_inter_diff_store),
    ("zdiffstore", zunion_inter_diff_store),
    ("zunion", numkeys_at_1),
    ("zinter", numkeys_at_1),
    ("zdiff", numkeys_at_1),
    ("zintercard", numkeys_at_1),
    ("sintercard", numkeys_at_1),
    ("lmpop", numkeys_at_1),
    ("zmpop", numkeys_at_1),
    ("blmpop", numkeys_at_2),
    ("bzmpop", numkeys_at_2),
    ("eval", numkeys_at_2),
    ("evalsha", numkeys_at_2),
    ("eval_ro", numkeys_at_2),
    ("evalsha_ro", numkeys_at_2),
    ("fcall", numkeys_at_2),
    ("fcall_ro", numkeys_at_2),
    ("sort", sort),
    ("sort_ro", sort_ro),
    ("migrate", migrate),
    ("georadius", georadius),
    ("georadiusbymember", georadius),
    ("xread", xread),
    ("xreadgroup", xread),
    ("set", set),
    ("bitfield", bitfield),
];

/// The key positions a key function finds: the row finder of a command
/// whose keys only its key function describes well (SORT, SORT_RO,
/// MIGRATE), called directly rather than looked up by name per dispatch.
pub fn positions(getkeys: GetKeys, argv: &[&[u8]]) -> Vec<usize> {
    getkeys(argv).iter().map(|k| k.pos).collect()
}

/// The key positions of `argv` as MIGRATE's specs find them, its key
/// function only where they do not fit (Redis's order). A lookup by
/// name per call: MIGRATE is no hot command.
pub fn migrate_positions(argv: &[&[u8]]) -> Vec<usize> {
    acl_keys(specs_for("migrate"), Some(migrate), argv)
        .iter()
        .map(|k| k.pos)
        .collect()
}

/// Whether the command has keys at all (Redis's `doesCommandHaveKeys`).
pub fn has_keys(specs: &[KeySpec], getkeys: Option<GetKeys>) -> bool {
    getkeys.is_some() || specs.iter().any(|s| s.flags & flags::NOT_KEY == 0)
}

/// Redis's `getKeysFromCommandWithSpecs`: the keys of `argv` (which fits
/// the command's arity) with their flags. Never fails: arguments the
/// command will refuse give what Redis gives, often no keys.
pub fn keys_with_flags(specs: &[KeySpec], getkeys: Option<GetKeys>, argv: &[&[u8]]) -> Vec<KeyRef> {
    find_keys(specs, getkeys, argv, false)
}

/// The keys the ACL checks: [`keys_with_flags`], except that where Redis
/// finds none because a spec does not fit and the command has no key
/// function (`PFMERGE dest` with no source), the specs that do fit still
/// count (Redis's `GET_KEYSPEC_RETURN_PARTIAL`). Redis 7.2 lets any user
/// run `PFMERGE dest` whatever its key patterns; keyward checks `dest`.
pub fn acl_keys(specs: &[KeySpec], getkeys: Option<GetKeys>, argv: &[&[u8]]) -> Vec<KeyRef> {
    find_keys(specs, getkeys, argv, true)
}

fn find_keys(
    specs: &[KeySpec],
    getkeys: Option<GetKeys>,
    argv: &[&[u8]],
    partial: bool,
) -> Vec<KeyRef> {
    let mut has_keyspec = false;
    let mut varflags = false;
    for s in specs {
        has_keyspec |= s.flags & flags::NOT_KEY == 0;
        varflags |= s.flags & flags::VARIABLE_FLAGS != 0;
    }
    if has_keyspec && !varflags {
        let mut out = Vec::new();
        if from_specs(specs, argv, &mut out, false) {
            return out;
        }
        if partial && getkeys.is_none() {
            from_specs(specs, argv, &mut out, true);
            return out;
        }
    }
    match getkeys {
        Some(f) => f(argv),
        None => Vec::new(),
    }
}

/// What one spec finds in `argv`.
enum Span {
    /// Keys at `first..=last` by `step`.
    Keys(i64, i64, i64),
    /// Its keyword is absent: no keys, and that is fine.
    Skip,
    /// Unknown, or does not fit the arguments (Redis's `invalid_spec`).
    Invalid,
}

/// Redis's search for one spec's keys (`getKeysUsingKeySpecs`' loop body).
fn span(spec: &KeySpec, argv: &[&[u8]]) -> Span {
    let argc = argv.len() as i64;
    let mut first: i64 = match spec.begin {
        Begin::Index(i) => i as i64,
        Begin::Keyword(word, startfrom) => {
            let startfrom = startfrom as i64;
            let start = if startfrom > 0 {
                startfrom
            } else {
                argc + startfrom
            };
            // As Redis: the search never looks at the last argument
            // (forwards) or at argv[1] (backwards).
            let end = if startfrom > 0 { argc - 1 } else { 1 };
            let mut found = 0;
            let mut i = start;
            while i != end {
                if i >= argc || i < 1 {
                    break;
                }
                if argv[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
                    found = i + 1;
                    break;
                }
                i = if start <= end { i + 1 } else { i - 1 };
            }
            if found == 0 {
                return Span::Skip;
            }
            found
        }
        Begin::Unknown => return Span::Invalid,
    };
    let (last, step) = match spec.find {
        Find::Range(lastkey, step, limit) => {
            let lastkey = lastkey as i64;
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit as i64 + lastkey)
            };
            (last, step as i64)
        }
        Find::Keynum(idx, firstkey, step) => {
            let at = first + idx as i64;
            if at >= argc {
                return Span::Invalid;
            }
            let n = match parse_i64(argv[at as usize]) {
                Some(n) if n >= 0 => n,
                _ => return Span::Invalid,
            };
            first += firstkey as i64;
            (first + n - 1, step as i64)
        }
        Find::Unknown => return Span::Invalid,
    };
    if last >= argc || last < first || first >= argc {
        return Span::Invalid;
    }
    Span::Keys(first, last, step.max(1))
}

/// Redis's `getKeysUsingKeySpecs`: false (and no keys) when a spec is
/// unknown, incomplete or does not fit the arguments; with `partial`
/// (`GET_KEYSPEC_RETURN_PARTIAL`) such specs are skipped instead.
fn from_specs(specs: &[KeySpec], argv: &[&[u8]], out: &mut Vec<KeyRef>, partial: bool) -> bool {
    let ok = for_each_spec_key(specs, argv, partial, |k| {
        out.push(k);
        Ok::<(), ()>(())
    });
    if ok.is_err() {
        out.clear();
    }
    ok.is_ok()
}

/// Calls `f` for each key the specs find, in order; `Err(None)` when a
/// spec is invalid or incomplete (unless `partial`), `Err(Some(e))` when
/// `f` fails.
fn for_each_spec_key<E>(
    specs: &[KeySpec],
    argv: &[&[u8]],
    partial: bool,
    mut f: impl FnMut(KeyRef) -> Result<(), E>,
) -> Result<(), Option<E>> {
    for spec in specs {
        if spec.flags & flags::NOT_KEY != 0 {
            continue;
        }
        match span(spec, argv) {
            Span::Skip => {}
            Span::Invalid if partial => {}
            Span::Invalid => return Err(None),
            Span::Keys(first, last, step) => {
                let mut i = first;
                while i <= last {
                    f(KeyRef {
                        pos: i as usize,
                        flags: spec.flags,
                    })
                    .map_err(Some)?;
                    i += step;
                }
                if spec.flags & flags::INCOMPLETE != 0 && !partial {
                    return Err(None);
                }
            }
        }
    }
    Ok(())
}

/// The ACL's walk over [`acl_keys`] without collecting them, for a command
/// without a key function (most): there the keys are exactly what the
/// specs find with `partial`, in order. `None` when the command has a key
/// function (collect [`acl_keys`] instead).
pub fn try_each_acl_key<E>(
    specs: &[KeySpec],
    getkeys: Option<GetKeys>,
    argv: &[&[u8]],
    f: impl FnMut(KeyRef) -> Result<(), E>,
) -> Option<Result<(), E>> {
    if getkeys.is_some() {
        return None;
    }
    Some(match for_each_spec_key(specs, argv, true, f) {
        Ok(()) => Ok(()),
        Err(Some(e)) => Err(e),
        // `partial` skips invalid specs instead of failing.
        Err(None) => Ok(()),
    })
}

/// C's `atoi`: leading blanks, a sign, digits; 0 when there are none.
pub(crate) fn atoi(a: &[u8]) -> i64 {
    let mut i = 0;
    while i < a.len() && matches!(a[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match a.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while let Some(d) = a.get(i).filter(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add((d - b'0') as i64);
        i += 1;
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Redis's `genericGetKeys`: `[dest] numkeys key…`, the destination last;
/// flags are left out (the specs of these commands are complete, so this
/// only runs for arguments the command refuses).
fn generic(store: usize, count: usize, first: usize, argv: &[&[u8]]) -> Vec<KeyRef> {
    let Some(c) = argv.get(count) else {
        return Vec::new();
    };
    let num = atoi(c);
    if num < 1 || num > argv.len().saturating_sub(first) as i64 {
        return Vec::new();
    }
    let mut out: Vec<KeyRef> = (0..num as usize)
        .map(|i| KeyRef {
            pos: first + i,
            flags: 0,
        })
        .collect();
    if store != 0 {
        out.push(KeyRef {
            pos: store,
            flags: 0,
        });
    }
    out
}

fn zunion_inter_diff_store(argv: &[&[u8]]) -> Vec<KeyRef> {
    generic(1, 2, 3, argv)
}

fn numkeys_at_1(argv: &[&[u8]]) -> Vec<KeyRef> {
    generic(0, 1, 2, argv)
}

fn numkeys_at_2(argv: &[&[u8]]) -> Vec<KeyRef> {
    generic(0, 2, 3, argv)
}

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

pub(crate) fn sort_ro(_argv: &[&[u8]]) -> Vec<KeyRef> {
    vec![KeyRef {
        pos: 1,
        flags: flags::RO | flags::ACCESS,
    }]
}

/// SORT: the sorted key, and the last STORE's destination (LIMIT, GET and
/// BY skip their arguments; BY/GET patterns are not keys here).
pub(crate) fn sort(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut out = sort_ro(argv);
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(pos) = store {
        out.push(KeyRef {
            pos,
            flags: flags::OW | flags::UPDATE,
        });
    }
    out
}

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
/// [AUTH2 user pw] [KEYS key…].
fn migrate(argv: &[&[u8]]) -> Vec<KeyRef> {
    let (mut first, mut num) = (3, 1);
    if argv.len() > 6 {
        let mut i = 6;
        while i < argv.len() {
            let a = argv[i];
            if is(a, "keys") {
                if !argv[3].is_empty() {
                    // A syntax error MIGRATE reports: no keys.
                    num = 0;
                } else {
                    first = i + 1;
                    num = argv.len() - first;
                }
                break;
            }
            if is(a, "auth") {
                i += 1;
            } else if is(a, "auth2") {
                i += 2;
            }
            i += 1;
        }
    }
    (first..first + num)
        .map(|pos| KeyRef {
            pos,
            flags: flags::RW | flags::ACCESS | flags::DELETE,
        })
        .collect()
}

/// GEORADIUS(BYMEMBER): the source, and the last STORE/STOREDIST key.
fn georadius(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut out = vec![KeyRef { pos: 1, flags: 0 }];
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        if (is(argv[i], "store") || is(argv[i], "storedist")) && i + 1 < argv.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    if let Some(pos) = stored {
        out.push(KeyRef { pos, flags: 0 });
    }
    out
}

/// XREAD/XREADGROUP: the first half of what follows STREAMS.
fn xread(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut streams = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i];
        if is(a, "block") || is(a, "count") {
            i += 1;
        } else if is(a, "group") {
            i += 2;
        } else if is(a, "noack") {
        } else if is(a, "streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(at) = streams else {
        return Vec::new();
    };
    let num = argv.len() - at - 1;
    if num == 0 || num % 2 != 0 {
        return Vec::new();
    }
    (at + 1..at + 1 + num / 2)
        .map(|pos| KeyRef { pos, flags: 0 })
        .collect()
}

/// SET: overwrite only, unless GET makes it read the old value too.
fn set(argv: &[&[u8]]) -> Vec<KeyRef> {
    let get = argv.iter().skip(3).any(|a| is(a, "get"));
    let flags = if get {
        flags::RW | flags::ACCESS | flags::UPDATE
    } else {
        flags::OW | flags::UPDATE
    };
    vec![KeyRef { pos: 1, flags }]
}

/// BITFIELD: read-only when every operation is a GET.
fn bitfield(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut readonly = true;
    let mut i = 2;
    while i < argv.len() {
        let rem = argv.len() - i - 1;
        let a = argv[i];
        if is(a, "get") && rem >= 2 {
            i += 2;
        } else if (is(a, "set") || is(a, "incrby")) && rem >= 3 {
            readonly = false;
            break;
        } else if is(a, "overflow") && rem >= 1 {
            i += 1;
        } else {
            // A syntax error: safer to assume a write.
            readonly = false;
            break;
        }
        i += 1;
    }
    let flags = if readonly {
        flags::RO | flags::ACCESS
    } else {
        flags::RW | flags::ACCESS | flags::UPDATE
    };
    vec![KeyRef { pos: 1, flags }]
}

/// The ACL permissions a key needs (`ACLSelectorCheckKey`): read for
/// ACCESS, write for INSERT/DELETE/UPDATE, both or neither.
pub fn needs(key_flags: u16) -> (bool, bool) {
    (
        key_flags & flags::ACCESS != 0,
        key_flags & (flags::INSERT | flags::DELETE | flags::UPDATE) != 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<&[u8]> {
        line.split(' ').map(str::as_bytes).collect()
    }

    fn keys(name: &str, line: &str) -> Vec<(usize, u16)> {
        let a = argv(line);
        keys_with_flags(specs_for(name), getkeys_for(name), &a)
            .into_iter()
            .map(|k| (k.pos, k.flags))
            .collect()
    }

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        for w in KEY_SPECS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
    }

    #[test]
    fn set_get_reads_the_key() {
        use flags::*;
        assert_eq!(keys("set", "set k v"), [(1, OW | UPDATE)]);
        assert_eq!(
            keys("set", "set k v EX 10 get"),
            [(1, RW | ACCESS | UPDATE)]
        );
    }

    #[test]
    fn bitfield_get_only_is_read_only() {
        use flags::*;
        assert_eq!(keys("bitfield", "bitfield k GET u8 0"), [(1, RO | ACCESS)]);
        assert_eq!(
            keys("bitfield", "bitfield k GET u8 0 SET u8 0 1"),
            [(1, RW | ACCESS | UPDATE)]
        );
    }

    #[test]
    fn sort_store_falls_back_to_the_key_function() {
        use flags::*;
        assert_eq!(
            keys("sort", "sort s BY w* LIMIT 0 1 STORE d"),
            [(1, RO | ACCESS), (8, OW | UPDATE)]
        );
        assert_eq!(keys("sort", "sort s"), [(1, RO | ACCESS)]);
    }

    #[test]
    fn invalid_numkeys_falls_back_as_redis() {
        // numkeys 0 is an invalid spec; genericGetKeys then gives none.
        assert_eq!(keys("eval", "eval s 0"), []);
        // "2x" does not parse for the spec, but atoi reads 2, flagless.
        assert_eq!(keys("eval", "eval s 2x a b"), [(3, 0), (4, 0)]);
    }

    #[test]
    fn keyword_search_skips_the_last_argument() {
        use flags::*;
        // GEORADIUS … STORE (no key after it): the store spec is invalid,
        // georadiusGetKeys finds only the source, without flags.
        assert_eq!(
            keys("georadius", "georadius s 0 0 1 km STORE"),
            [(1, RO | ACCESS)]
        );
        // Found before the last argument, the keyword spec gives the key.
        assert_eq!(
            keys("georadius", "georadius s 0 0 1 km STOREDIST x"),
            [(1, RO | ACCESS), (7, OW | UPDATE)]
        );
        assert_eq!(
            keys("georadius", "georadius s 0 0 1 km STORE d"),
            [(1, RO | ACCESS), (7, OW | UPDATE)]
        );
    }

    #[test]
    fn atoi_reads_like_c() {
        assert_eq!(atoi(b" 12x"), 12);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"x"), 0);
    }

    /// One source of truth for keys: dispatch, tracking and tenancy read
    /// the rows' positions (`CommandSpec::key_indexes`, cheap on the hot
    /// path); ACL and COMMAND GETKEYS read the key specs. They must find
    /// the same keys for every command over generated argv, options and
    /// malformed counts included.
    #[test]
    fn row_key_positions_equal_the_key_specs() {
        use crate::commands::REGISTRY;
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        const WORDS: &[&str] = &[
            "k",
            "a",
            "",
            "0",
            "1",
            "2",
            "3",
            "-1",
            "2x",
            "store",
            "STOREDIST",
            "streams",
            "KEYS",
            "get",
            "by",
            "limit",
            "GROUP",
            "count",
            "block",
            "noack",
            "set",
            "incrby",
            "overflow",
            "auth",
            "auth2",
            "copy",
            "replace",
            "db",
            "weights",
        ];
        let mut rng = SmallRng::seed_from_u64(7);
        let mut checked = 0;
        let (mut seen, mut diffs) = (Vec::new(), Vec::new());
        for c in REGISTRY.commands.iter().filter(|c| !c.is_container()) {
            let words: Vec<&[u8]> = c.fullname.split('|').map(str::as_bytes).collect();
            let arity = c.spec.arity.unsigned_abs() as usize;
            for _ in 0..400 {
                let len = if c.spec.arity < 0 {
                    arity.max(words.len()) + rng.gen_range(0..8)
                } else {
                    arity
                };
                let mut argv = words.clone();
                while argv.len() < len {
                    argv.push(WORDS[rng.gen_range(0..WORDS.len())].as_bytes());
                }
                // The ACL's allocation-free walk sees what acl_keys collects.
                let mut walked = Vec::new();
                c.try_each_acl_key(&argv, |k| {
                    walked.push(k);
                    Ok::<(), ()>(())
                })
                .expect("the walk does not fail");
                assert_eq!(walked, c.acl_keys(&argv), "{}", c.fullname);
                let mut rows = c.spec.key_indexes(&argv);
                let mut specs: Vec<usize> = acl_keys(c.key_specs, c.getkeys, &argv)
                    .iter()
                    .map(|k| k.pos)
                    .collect();
                // Shard channels are keys for slots only (NOT_KEY): the
                // rows list them, as Redis's legacy range does.
                let not_keys: Vec<KeySpec> = c
                    .key_specs
                    .iter()
                    .filter(|s| s.flags & flags::NOT_KEY != 0)
                    .map(|s| KeySpec::new(0, s.begin, s.find))
                    .collect();
                let mut out = Vec::new();
                from_specs(&not_keys, &argv, &mut out, false);
                specs.extend(out.iter().map(|k| k.pos));
                rows.sort_unstable();
                specs.sort_unstable();
                // GEORADIUS … STORE a STORE b: the specs see the first
                // destination, the handler (and row) the last; the ACL
                // checks both (`Command::acl_keys`).
                let same = if c.fullname.starts_with("georadius") {
                    let acl = c.acl_keys(&argv);
                    rows.iter().all(|p| acl.iter().any(|k| k.pos == *p))
                } else {
                    rows == specs
                };
                if !same && !seen.contains(&c.fullname) {
                    seen.push(c.fullname.clone());
                    diffs.push(format!(
                        "{}: rows {rows:?}, specs {specs:?} in {:?}",
                        c.fullname,
                        argv.iter()
                            .map(|a| String::from_utf8_lossy(a))
                            .collect::<Vec<_>>()
                    ));
                }
                checked += 1;
            }
        }
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
        assert!(checked > 50_000);
    }
}
