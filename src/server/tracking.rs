//! Client-side caching: CLIENT TRACKING's table and its invalidations, as
//! Redis 7.2's `tracking.c` does them, with one difference that tenancy
//! needs: the table is keyed by (DB, key), not by key name alone, so a
//! write to `foo` in DB 3 never invalidates (or names) the `foo` a client
//! read in DB 0.
//!
//! Reads: after a read-only command of a tracking client, dispatch calls
//! [`after_command`], which remembers the command's keys (from the command
//! table) in the client's DB. Writes: the same call invalidates the keys of
//! every effect the command left (the after-execution hook's effects, so
//! expiry and eviction DELs, served pops, MOVE's target DB and FLUSHDB are
//! seen whether or not an AOF listens: while a client tracks, the hook
//! runs, see [`Tracking::sync_hook`]); cron does the same for active
//! expiry. Nothing here runs while no client tracks.
//!
//! BCAST clients get the keys their prefixes match, one message per prefix
//! after each command (Redis batches per event-loop iteration), and only
//! for DBs their user may access; a flush sends a null to the tracking
//! clients whose user may access the flushed DB.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};
use parking_lot::Mutex;

use super::client::ClientInfo;
use super::Shared;
use crate::commands::spec::{cat, flags, CommandSpec, Dbs, Group, Keys};
use crate::commands::Ctx;
use crate::server::effects::Argv;

/// Tracking flags kept in [`ClientInfo::tracking`] (CLIENT LIST shows
/// them, other clients' writes read them).
pub mod bits {
    pub const ON: u8 = 1;
    pub const BCAST: u8 = 1 << 1;
    pub const OPTIN: u8 = 1 << 2;
    pub const OPTOUT: u8 = 1 << 3;
    pub const NOLOOP: u8 = 1 << 4;
    /// The redirect client went away (Redis's CLIENT_TRACKING_BROKEN_REDIR).
    pub const BROKEN_REDIR: u8 = 1 << 5;
}

/// CLIENT CACHING as the connection keeps it: given for the next command
/// (or transaction), and whether the CLIENT CACHING that gave it is the
/// command that just ran (so its own end does not clear it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Caching {
    #[default]
    None,
    Fresh,
    Given,
}

/// The Pub/Sub channel a RESP2 redirect target hears invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// Keys modified since the last broadcast, for one prefix: each with the
/// DBs it changed in and the client that changed it last (NOLOOP).
#[derive(Default)]
struct Bcast {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Vec<u8>, (Vec<usize>, Option<u64>)>,
}

#[derive(Default)]
struct Table {
    /// Per DB: key → ids of the clients that may have it cached.
    keys: Vec<HashMap<Vec<u8>, HashSet<u64>>>,
    total_keys: usize,
    /// Entries across all keys (`tracking_total_items`).
    items: usize,
    /// Clients with tracking on.
    clients: HashMap<u64, Arc<ClientInfo>>,
    /// Each BCAST client's prefixes, in order.
    prefixes_of: HashMap<u64, BTreeSet<Vec<u8>>>,
    prefixes: BTreeMap<Vec<u8>, Bcast>,
    /// Passes of the table-size limit that could not get under it (Redis's
    /// `timeout_counter`: the effort grows with it).
    over_limit_passes: usize,
}

/// The tracking state of one server.
#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on: the hook and [`after_command`] run only
    /// while it is not zero.
    clients: AtomicUsize,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicU64,
    table: Mutex<Table>,
}

/// CLIENT TRACKING ON's options.
pub struct Options {
    pub redirect: u64,
    pub flags: u8,
    pub prefixes: Vec<Vec<u8>>,
}

/// Redis's `stringCheckPrefix`: one is a prefix of the other.
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Tracking {
    #[inline]
    pub fn is_on(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    pub fn set_max_keys(&self, n: u64) {
        self.max_keys.store(n, Ordering::Relaxed);
    }

    /// INFO: (tracking_clients, tracking_total_keys, tracking_total_items,
    /// tracking_total_prefixes).
    pub fn stats(&self) -> (usize, usize, usize, usize) {
        let t = self.table.lock();
        (
            self.clients.load(Ordering::Relaxed),
            t.total_keys,
            t.items,
            t.prefixes.len(),
        )
    }

    /// A BCAST client's prefixes, sorted (CLIENT TRACKINGINFO).
    pub fn prefixes_of(&self, id: u64) -> Vec<Vec<u8>> {
        self.table
            .lock()
            .prefixes_of
            .get(&id)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Redis's `checkPrefixCollisionsOrReply`: the error text for a prefix
    /// that overlaps one the client has or another one given.
    pub fn prefix_collision(&self, id: u64, given: &[Vec<u8>]) -> Option<String> {
        let t = self.table.lock();
        let existing = t.prefixes_of.get(&id);
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for (i, p) in given.iter().enumerate() {
            if let Some(e) = existing.and_then(|ex| ex.iter().find(|e| overlaps(e, p))) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    s(p),
                    s(e)
                ));
            }
            if let Some(q) = given[i + 1..].iter().find(|q| overlaps(p, q)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    s(p),
                    s(q)
                ));
            }
        }
        None
    }

    /// CLIENT TRACKING ON (again: options replace the old ones, prefixes
    /// add up, as in Redis's `enableTracking`).
    pub fn enable(&self, srv: &Shared, info: &Arc<ClientInfo>, opts: Options) {
        let first = {
            let mut t = self.table.lock();
            let was = info.tracking.load(Ordering::Relaxed) & bits::ON != 0;
            if !was {
                t.clients.insert(info.id, info.clone());
                self.clients.fetch_add(1, Ordering::Relaxed);
            }
            info.redirect.store(opts.redirect, Ordering::Relaxed);
            let mut f = bits::ON | (opts.flags & (bits::OPTIN | bits::OPTOUT | bits::NOLOOP));
            if opts.flags & bits::BCAST != 0 {
                f |= bits::BCAST;
                let mut prefixes = opts.prefixes;
                if prefixes.is_empty() {
                    prefixes.push(Vec::new());
                }
                for p in prefixes {
                    if t.prefixes_of.entry(info.id).or_default().insert(p.clone()) {
                        t.prefixes.entry(p).or_default().clients.insert(info.id);
                    }
                }
            }
            info.tracking.store(f, Ordering::Relaxed);
            !was && self.clients.load(Ordering::Relaxed) == 1
        };
        if first {
            self.sync_hook(srv);
        }
    }

    /// CLIENT TRACKING OFF, RESET, disconnect. The client's keys stay in
    /// the table until they are invalidated, as in Redis (lazy cleanup).
    pub fn disable(&self, srv: &Shared, info: &ClientInfo) {
        if info.tracking.load(Ordering::Relaxed) & bits::ON == 0 {
            return;
        }
        let last = {
            let mut t = self.table.lock();
            if let Some(ps) = t.prefixes_of.remove(&info.id) {
                for p in ps {
                    if let Some(b) = t.prefixes.get_mut(&p) {
                        b.clients.remove(&info.id);
                        if b.clients.is_empty() {
                            t.prefixes.remove(&p);
                        }
                    }
                }
            }
            t.clients.remove(&info.id);
            info.tracking.store(0, Ordering::Relaxed);
            info.redirect.store(0, Ordering::Relaxed);
            self.clients.fetch_sub(1, Ordering::Relaxed) == 1
        };
        if last {
            self.sync_hook(srv);
        }
    }

    /// Turns the after-execution hook on while a client tracks (every DB
    /// logs what it does on its own: expiry and eviction DELs) and back
    /// off when none does and no AOF listens. Under every DB lock, like
    /// the AOF's start, and reading the count there, so that concurrent
    /// enables and disables settle on the state of the last one.
    pub fn sync_hook(&self, srv: &Shared) {
        let mut all = srv.keyspace.lock_all();
        let on = self.is_on();
        srv.propagation.set_tracking(on);
        for db in all.iter_mut() {
            if on {
                let seq = srv.keyspace.effect_seq.clone();
                db.effects
                    .get_or_insert_with(|| crate::keyspace::db::EffectLog::new(seq));
            } else if !srv.propagation.is_on() {
                db.effects = None;
            }
        }
        if !on {
            let mut t = self.table.lock();
            // Nobody left to tell: what the table holds names only clients
            // that are gone or stopped tracking.
            let dbs = t.keys.len();
            t.keys = (0..dbs).map(|_| HashMap::new()).collect();
            t.total_keys = 0;
            t.items = 0;
        }
    }

    /// Remembers that client `id` may cache `keys` of `db`.
    fn remember<'k>(&self, id: u64, db: usize, keys: impl Iterator<Item = &'k [u8]>) {
        let mut t = self.table.lock();
        let t = &mut *t;
        if t.keys.len() <= db {
            t.keys.resize_with(db + 1, HashMap::new);
        }
        for k in keys {
            let ids = match t.keys[db].get_mut(k) {
                Some(ids) => ids,
                None => {
                    t.total_keys += 1;
                    t.keys[db].entry(k.to_vec()).or_default()
                }
            };
            if ids.insert(id) {
                t.items += 1;
            }
        }
    }

    /// Redis's `trackingLimitUsedSlots`, run before each command while a
    /// client tracks: over `tracking-table-max-keys`, keys are dropped
    /// (with an invalidation to the clients that had them, as if they had
    /// changed) until the table fits, with an effort that grows while it
    /// does not.
    /// The running client's own invalidations go in `own` (written before
    /// its reply: the command has not run yet, as in Redis).
    pub fn limit(&self, srv: &Shared, writer: u64, own: &mut Vec<u8>) {
        let max = self.max_keys.load(Ordering::Relaxed) as usize;
        if max == 0 {
            return;
        }
        let mut t = self.table.lock();
        if t.total_keys <= max {
            t.over_limit_passes = 0;
            return;
        }
        let mut effort = 100 * (t.over_limit_passes + 1);
        let mut out = Outbox {
            writer: Some(writer),
            own: Vec::new(),
        };
        while effort > 0 {
            effort -= 1;
            let Some((db, key)) = t
                .keys
                .iter()
                .enumerate()
                .find_map(|(i, m)| m.keys().next().map(|k| (i, k.clone())))
            else {
                break;
            };
            // Not a write: NOLOOP does not hide it (Redis passes no client).
            invalidate_key(srv, &mut t, db, &key, None, false, &mut out);
            if t.total_keys <= max {
                t.over_limit_passes = 0;
                own.extend_from_slice(&out.own);
                return;
            }
        }
        t.over_limit_passes += 1;
        own.extend_from_slice(&out.own);
    }

    /// Invalidates what `effects` changed: run by a command's hook (with
    /// the client that ran it, for NOLOOP and for its own invalidations,
    /// which go in `own` to follow its reply) and by cron (`writer` None).
    pub fn invalidate(
        &self,
        srv: &Shared,
        effects: &[(usize, &Argv)],
        writer: Option<u64>,
        own: &mut Vec<u8>,
    ) {
        let mut t = self.table.lock();
        let mut out = Outbox {
            writer,
            own: std::mem::take(own),
        };
        for &(db, argv) in effects {
            let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            // Effects carry the names clients sent or keyward's own.
            let cmd = crate::server::dispatch::resolve_in(srv.renames.as_deref(), &args, true);
            let Ok(cmd) = cmd else {
                continue;
            };
            let spec = cmd.spec;
            if changes_whole_dbs(spec) {
                let dbs: Vec<usize> = match spec.dbs {
                    Dbs::All => (0..srv.keyspace.len()).collect(),
                    _ => named_dbs(spec, &args, db),
                };
                flush(srv, &mut t, &dbs, &mut out);
                continue;
            }
            let dbs = named_dbs(spec, &args, db);
            // Keys whose key spec is RO were only read (a store command's
            // sources, SORT's BY/GET patterns): not invalidated.
            let written = cmd.keys_with_flags(&args).into_iter().filter(|k| {
                use crate::commands::keyspec::flags::{OW, RM, RW};
                k.flags & (RW | OW | RM) != 0
            });
            for crate::commands::keyspec::KeyRef { pos: i, .. } in written {
                let Some(key) = args.get(i) else { continue };
                for &d in &dbs {
                    invalidate_key(srv, &mut t, d, key, writer, true, &mut out);
                }
            }
        }
        *own = out.own;
    }

    /// Sends each BCAST client the keys its prefixes matched since the
    /// last call (Redis's `trackingBroadcastInvalidationMessages`).
    pub fn broadcast(&self, srv: &Shared, writer: Option<u64>, own: &mut Vec<u8>) {
        let mut t = self.table.lock();
        if t.prefixes.values().all(|b| b.keys.is_empty()) {
            return;
        }
        let mut out = Outbox {
            writer,
            own: std::mem::take(own),
        };
        let t = &mut *t;
        for b in t.prefixes.values_mut() {
            if b.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut b.keys);
            for id in &b.clients {
                let Some(info) = t.clients.get(id) else {
                    continue;
                };
                let noloop = info.tracking.load(Ordering::Relaxed) & bits::NOLOOP != 0;
                let sees = Visibility::of(srv, info);
                let chosen: Vec<&[u8]> = keys
                    .iter()
                    .filter(|(_, (dbs, last))| {
                        !(noloop && *last == Some(*id)) && dbs.iter().any(|&d| sees.db(d))
                    })
                    .map(|(k, _)| k.as_slice())
                    .collect();
                if chosen.is_empty() {
                    continue;
                }
                let mut payload = Vec::new();
                keys_array(&mut payload, &chosen);
                send(srv, info, &Payload::Proto(&payload), &mut out);
            }
        }
        *own = out.own;
    }

    /// Whether any BCAST prefix has keys waiting.
    fn bcast_pending(&self) -> bool {
        self.table
            .lock()
            .prefixes
            .values()
            .any(|b| !b.keys.is_empty())
    }
}

/// A keyspace write that names no keys changes its DBs wholesale (FLUSHDB,
/// FLUSHALL, SWAPDB): its clients get Redis's null invalidation.
fn changes_whole_dbs(spec: &CommandSpec) -> bool {
    spec.has(flags::WRITE)
        && matches!(spec.keys, Keys::None)
        && spec.categories() & cat::KEYSPACE != 0
}

/// The DB an effect ran in plus the ones its arguments name (MOVE's and
/// COPY … DB's target, SWAPDB's two).
fn named_dbs(spec: &CommandSpec, args: &[&[u8]], db: usize) -> Vec<usize> {
    let mut dbs = vec![db];
    let mut add = |i: usize| {
        if let Some(n) = args
            .get(i)
            .and_then(|a| crate::protocol::parse::parse_i64(a))
            .and_then(|n| usize::try_from(n).ok())
        {
            if !dbs.contains(&n) {
                dbs.push(n);
            }
        }
    };
    match spec.dbs {
        Dbs::Args(idx) => idx.iter().for_each(|&i| add(i)),
        Dbs::Find(f) => {
            if let Some(i) = f(args) {
                add(i);
            }
        }
        Dbs::None | Dbs::All => {}
    }
    dbs
}

/// Where one invalidation pass writes: the running client's own
/// invalidations wait for its reply.
#[derive(Default)]
struct Outbox {
    writer: Option<u64>,
    own: Vec<u8>,
}

/// What an invalidation carries.
enum Payload<'a> {
    /// One key.
    Key(&'a [u8]),
    /// RESP already encoded: a keys array or a null.
    Proto(&'a [u8]),
    /// Everything (a flush): the receiver's protocol's null.
    Null,
}

/// Which DBs a client's invalidations may come from: its user's, and its
/// redirect target's user's (the tenant boundary).
struct Visibility(Option<Arc<crate::acl::User>>, Option<Arc<crate::acl::User>>);

impl Visibility {
    fn of(srv: &Shared, info: &ClientInfo) -> Visibility {
        let user = |i: &ClientInfo| {
            let name = i.user.lock().clone();
            srv.acl.get(name.as_bytes()).filter(|u| u.is_restricted())
        };
        let redirect = info.redirect.load(Ordering::Relaxed);
        let target = (redirect != 0)
            .then(|| srv.clients.get(redirect))
            .flatten()
            .and_then(|t| user(&t));
        Visibility(user(info), target)
    }

    fn db(&self, db: usize) -> bool {
        self.0.as_ref().is_none_or(|u| u.sees_db(db))
            && self.1.as_ref().is_none_or(|u| u.sees_db(db))
    }
}

/// Redis's `trackingInvalidateKey` for (db, key): tells every client that
/// may cache it, forgets it, and (`bcast`) queues it for the BCAST
/// prefixes it matches.
fn invalidate_key(
    srv: &Shared,
    t: &mut Table,
    db: usize,
    key: &[u8],
    writer: Option<u64>,
    bcast: bool,
    out: &mut Outbox,
) {
    if bcast && !t.prefixes.is_empty() {
        for (p, b) in t.prefixes.iter_mut() {
            if key.starts_with(p) {
                let e = b.keys.entry(key.to_vec()).or_default();
                if !e.0.contains(&db) {
                    e.0.push(db);
                }
                e.1 = writer;
            }
        }
    }
    let Some(ids) = t.keys.get_mut(db).and_then(|m| m.remove(key)) else {
        return;
    };
    t.total_keys -= 1;
    t.items -= ids.len();
    let mut ids: Vec<u64> = ids.into_iter().collect();
    ids.sort_unstable();
    for id in ids {
        let Some(info) = t.clients.get(&id) else {
            continue;
        };
        let f = info.tracking.load(Ordering::Relaxed);
        if f & bits::BCAST != 0 || (f & bits::NOLOOP != 0 && writer == Some(id)) {
            continue;
        }
        if !Visibility::of(srv, info).db(db) {
            continue;
        }
        send(srv, info, &Payload::Key(key), out);
    }
}

/// A flush of `dbs`: a null to every tracking client that may see one of
/// them, and their keys forgotten.
fn flush(srv: &Shared, t: &mut Table, dbs: &[usize], out: &mut Outbox) {
    let mut ids: Vec<u64> = t.clients.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let info = t.clients[&id].clone();
        let sees = Visibility::of(srv, &info);
        if dbs.iter().any(|&d| sees.db(d)) {
            send(srv, &info, &Payload::Null, out);
        }
    }
    for &d in dbs {
        if let Some(m) = t.keys.get_mut(d) {
            t.total_keys -= m.len();
            t.items -= m.values().map(HashSet::len).sum::<usize>();
            *m = HashMap::new();
        }
    }
}

fn keys_array(buf: &mut Vec<u8>, keys: &[&[u8]]) {
    let mut r = crate::protocol::ReplyBuf::new(crate::protocol::Protocol::Resp2);
    r.buf = std::mem::take(buf);
    r.array(keys.len());
    for k in keys {
        r.bulk(k);
    }
    *buf = r.buf;
}

fn resp3(info: &ClientInfo) -> bool {
    info.resp.load(Ordering::Relaxed) == 3
}

/// Redis's `sendTrackingMessage`: to the client, or to its redirect
/// target (as a `__redis__:invalidate` message to a RESP2 one in Pub/Sub
/// mode); a redirect target that is gone marks the redirect broken and
/// tells a RESP3 client so.
fn send(srv: &Shared, info: &Arc<ClientInfo>, payload: &Payload<'_>, out: &mut Outbox) {
    let redirect = info.redirect.load(Ordering::Relaxed);
    let now = srv.clock.now_ms();
    let mut msg = Vec::new();
    let target = if redirect != 0 {
        match srv.clients.get(redirect) {
            Some(t) => t,
            None => {
                info.tracking
                    .fetch_or(bits::BROKEN_REDIR, Ordering::Relaxed);
                if resp3(info) {
                    let mut r = crate::protocol::ReplyBuf::new(crate::protocol::Protocol::Resp3);
                    r.push(2);
                    r.bulk(b"tracking-redir-broken");
                    r.int(redirect as i64);
                    deliver(info, r.buf, now, out);
                }
                return;
            }
        }
    } else {
        info.clone()
    };
    if resp3(&target) {
        msg.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirect != 0
        && target
            .sub_counts
            .iter()
            .any(|n| n.load(Ordering::Relaxed) > 0)
    {
        msg.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        // RESP2 without a redirect to a subscriber: no way to tell it.
        return;
    }
    match payload {
        Payload::Key(k) => keys_array(&mut msg, &[k]),
        Payload::Proto(p) => msg.extend_from_slice(p),
        Payload::Null if resp3(&target) => msg.extend_from_slice(b"_\r\n"),
        Payload::Null => msg.extend_from_slice(b"$-1\r\n"),
    }
    deliver(&target, msg, now, out);
}

/// The running client's own messages wait for its reply; others' go down
/// their push channel, under the Pub/Sub output-buffer limit.
fn deliver(target: &ClientInfo, msg: Vec<u8>, now: i64, out: &mut Outbox) {
    if out.writer == Some(target.id) {
        out.own.extend_from_slice(&msg);
    } else {
        super::pubsub::deliver_to(target, msg, now);
    }
}

/// Tracking's part of the after-execution hook, run while any client
/// tracks, after the command's effects were collected: invalidates what
/// the effects past `ctx.client.track_seen` changed, remembers the keys a
/// read of a tracking client fetched, and once the top-level command is
/// done sends the BCAST batch and the client's own invalidations (after
/// its reply, as Redis 7.2 does).
pub fn after_command(ctx: &mut Ctx<'_>, spec: &CommandSpec, argv: &[&[u8]], db: usize, ok: bool) {
    let srv = ctx.srv;
    let tracking = &srv.tracking;
    let id = ctx.client.id;
    let from = ctx.client.track_seen.min(ctx.client.effects.len());
    if from < ctx.client.effects.len() {
        let effects: Vec<(usize, &Argv)> = ctx.client.effects[from..]
            .iter()
            .map(|(_, d, a)| (*d, a))
            .collect();
        tracking.invalidate(srv, &effects, Some(id), &mut ctx.client.track_pushes);
        ctx.client.track_seen = ctx.client.effects.len();
    }
    let f = ctx.client.info.tracking.load(Ordering::Relaxed);
    if f & bits::ON != 0
        && f & bits::BCAST == 0
        && spec.has(flags::READONLY)
        && !spec.has(flags::PUBSUB)
        // EVAL_RO and FCALL_RO: the keys their commands read count.
        && spec.group != Group::Scripting
    {
        let given = ctx.client.caching != Caching::None;
        let skip = (f & bits::OPTIN != 0 && !given) || (f & bits::OPTOUT != 0 && given);
        if !skip {
            let idx = spec.key_indexes(argv);
            tracking.remember(id, db, idx.iter().filter_map(|&i| argv.get(i).copied()));
        }
    }
    if ctx.client.in_exec || ctx.client.in_script {
        return;
    }
    if tracking.bcast_pending() {
        tracking.broadcast(srv, Some(id), &mut ctx.client.track_pushes);
    }
    // CLIENT CACHING applies to the next command, or to the whole
    // transaction it precedes.
    ctx.client.caching = match ctx.client.caching {
        Caching::Fresh => Caching::Given,
        _ if ctx.client.multi.is_some() => ctx.client.caching,
        _ => Caching::None,
    };
    if !ctx.client.track_pushes.is_empty() {
        let pushes = std::mem::take(&mut ctx.client.track_pushes);
        if ok {
            ctx.out.buf.extend_from_slice(&pushes);
        } else {
            // Dispatch writes the error after this: the pushes follow it.
            super::pubsub::deliver_to(&ctx.client.info, pushes, ctx.now);
        }
    }
}

/// Cron's part: active expiry's DELs in `db`, and the BCAST batch.
pub fn after_cron(srv: &Shared, db: usize, effects: &[(usize, Argv)]) {
    let mut none = Vec::new();
    let list: Vec<(usize, &Argv)> = effects.iter().map(|(d, a)| (*d, a)).collect();
    debug_assert!(effects.iter().all(|(d, _)| *d == db));
    srv.tracking.invalidate(srv, &list, None, &mut none);
    if srv.tracking.bcast_pending() {
        srv.tracking.broadcast(srv, None, &mut none);
    }
}
