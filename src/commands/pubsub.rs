//! Pub/Sub group: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.
//!
//! Confirmations are pushes (RESP3 `>`; arrays in RESP2). Channels are
//! global (Redis's behaviour) or, with `pubsub-scope db`, per DB: a client's
//! subscription sets hold registry keys (`PubSub::key`) and every reply
//! shows plain names. Messages travel through each subscriber's push
//! channel, see `server::pubsub`.

use crate::commands::Outcome;
use std::sync::atomic::Ordering;

use super::errors::CmdResult;
use super::spec::{flags::*, Channels, CommandSpec, Group, Tenant};
use super::Ctx;
use crate::server::client::Client;
use crate::server::pubsub::{Kind, Subscriber};
use crate::server::Shared;

const G: Group = Group::Pubsub;
const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | NO_DB_LOCK | PUBSUB_CONTEXT;
const PS: u32 = PUBSUB | LOADING | STALE | NO_DB_LOCK;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, SUB, G, subscribe)
        .channels(Channels::All)
        .doc("Listens for messages published to channels.", "2.0.0", "O(N) where N is the number of channels to subscribe to."),
    CommandSpec::new("unsubscribe", -1, SUB, G, unsubscribe).doc(
        "Stops listening to messages posted to channels.",
        "2.0.0",
        "O(N) where N is the number of channels to unsubscribe.",
    ),
    CommandSpec::new("psubscribe", -2, SUB, G, psubscribe).channels(Channels::AllPatterns).doc(
        "Listens for messages published to channels that match one or more patterns.",
        "2.0.0",
        "O(N) where N is the number of patterns to subscribe to.",
    ),
    CommandSpec::new("punsubscribe", -1, SUB, G, punsubscribe).doc(
        "Stops listening to messages published to channels that match one or more patterns.",
        "2.0.0",
        "O(N) where N is the number of patterns to unsubscribe.",
    ),
    CommandSpec::new("ssubscribe", -2, SUB, G, ssubscribe).keys(1, -1, 1).channels(Channels::All).doc(
        "Listens for messages published to shard channels.",
        "7.0.0",
        "O(N) where N is the number of shard channels to subscribe to.",
    ),
    CommandSpec::new("sunsubscribe", -1, SUB, G, sunsubscribe).keys(1, -1, 1).doc(
        "Stops listening to messages posted to shard channels.",
        "7.0.0",
        "O(N) where N is the number of shard channels to unsubscribe.",
    ),
    CommandSpec::new("publish", 3, PS | FAST | MAY_REPLICATE, G, publish).channels(Channels::First).doc(
        "Posts a message to a channel.",
        "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
    ),
    CommandSpec::new("spublish", 3, PS | FAST | MAY_REPLICATE, G, spublish).keys(1, 1, 1).channels(Channels::First).doc(
        "Post a message to a shard channel",
        "7.0.0",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
    ),
    CommandSpec::container("pubsub", G, PUBSUB_SUBS).doc(
        "A container for Pub/Sub commands.",
        "2.8.0",
        "Depends on subcommand.",
    ),
];

static PUBSUB_SUBS: &[CommandSpec] = &[
    CommandSpec::new("channels", -2, PS, G, pubsub_channels).tenant(Tenant::Own).doc(
        "Returns the active channels.",
        "2.8.0",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
    ),
    CommandSpec::new("numsub", -2, PS, G, pubsub_numsub).tenant(Tenant::Own).doc(
        "Returns a count of subscribers to channels.",
        "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
    ),
    CommandSpec::new("numpat", 2, PS, G, pubsub_numpat).tenant(Tenant::Own).doc("Returns a count of unique pattern subscriptions.", "2.8.0", "O(1)"),
    CommandSpec::new("shardchannels", -2, PS, G, pubsub_shardchannels).tenant(Tenant::Own).doc(
        "Returns the active shard channels.",
        "7.0.0",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
    ),
    CommandSpec::new("shardnumsub", -2, PS, G, pubsub_shardnumsub).tenant(Tenant::Own).doc(
        "Returns the count of subscribers of shard channels.",
        "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
    ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, pubsub_help)
        .doc("Returns helpful text about the different subcommands.", "6.2.0", "O(1)"),
];

fn set_of(c: &mut Client, kind: Kind) -> &mut hashbrown::HashSet<Vec<u8>> {
    match kind {
        Kind::Channel => &mut c.subs.channels,
        Kind::Pattern => &mut c.subs.patterns,
        Kind::Shard => &mut c.subs.shard,
    }
}

/// The count a confirmation carries: shard subscriptions count apart.
fn count(c: &Client, kind: Kind) -> i64 {
    match kind {
        Kind::Shard => c.subs.shard.len() as i64,
        _ => (c.subs.channels.len() + c.subs.patterns.len()) as i64,
    }
}

fn publish_counts(c: &Client) {
    let i = &c.info.sub_counts;
    i[0].store(c.subs.channels.len(), Ordering::Relaxed);
    i[1].store(c.subs.patterns.len(), Ordering::Relaxed);
    i[2].store(c.subs.shard.len(), Ordering::Relaxed);
}

fn verbs(kind: Kind) -> (&'static [u8], &'static [u8]) {
    match kind {
        Kind::Channel => (b"subscribe", b"unsubscribe"),
        Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

fn do_subscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]], kind: Kind) -> CmdResult {
    let ps = &ctx.srv.pubsub;
    for name in &argv[1..] {
        let key = ps.key(ctx.client.db, name);
        if set_of(ctx.client, kind).insert(key.to_vec()) {
            let sub = Subscriber {
                info: ctx.client.info.clone(),
                tx: ctx.client.push_tx.clone(),
            };
            ps.subscribe(kind, &key, sub);
        }
        ctx.out.push(3);
        ctx.out.bulk(verbs(kind).0);
        ctx.out.bulk(name);
        ctx.out.int(count(ctx.client, kind));
    }
    publish_counts(ctx.client);
    Ok(Outcome::Done)
}

/// Named channels are the current DB's; with no names, every subscription
/// of the kind goes, whichever DB it was made in.
fn do_unsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]], kind: Kind) -> CmdResult {
    let ps = &ctx.srv.pubsub;
    let keys: Vec<Vec<u8>> = if argv.len() > 1 {
        argv[1..]
            .iter()
            .map(|a| ps.key(ctx.client.db, a).into_owned())
            .collect()
    } else {
        set_of(ctx.client, kind).iter().cloned().collect()
    };
    if keys.is_empty() {
        ctx.out.push(3);
        ctx.out.bulk(verbs(kind).1);
        ctx.out.null();
        ctx.out.int(count(ctx.client, kind));
    }
    for key in &keys {
        if set_of(ctx.client, kind).remove(key) {
            ps.unsubscribe(kind, key, ctx.client.id);
        }
        ctx.out.push(3);
        ctx.out.bulk(verbs(kind).1);
        ctx.out.bulk(ps.name(key));
        ctx.out.int(count(ctx.client, kind));
    }
    publish_counts(ctx.client);
    Ok(Outcome::Done)
}

/// Drops every subscription (RESET, disconnect).
pub fn unsubscribe_all(srv: &Shared, client: &mut Client) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in set_of(client, kind).drain().collect::<Vec<_>>() {
            srv.pubsub.unsubscribe(kind, &name, client.id);
        }
    }
    publish_counts(client);
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Channel)
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Pattern)
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    do_subscribe(ctx, argv, Kind::Shard)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    do_unsubscribe(ctx, argv, Kind::Shard)
}

fn publish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = ctx
        .srv
        .pubsub
        .publish(false, ctx.client.db, argv[1], argv[2], ctx.now);
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

fn spublish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = ctx
        .srv
        .pubsub
        .publish(true, ctx.client.db, argv[1], argv[2], ctx.now);
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

fn names(ctx: &mut Ctx<'_>, argv: &[&[u8]], kind: Kind) -> CmdResult {
    if argv.len() > 3 {
        return Err(super::errors::subcommand_syntax(argv[0], argv[1]));
    }
    let mut list = ctx
        .srv
        .pubsub
        .names(kind, ctx.client.db, argv.get(2).copied());
    // A DB-restricted user lists only channels its rules let it use.
    let user = &ctx.client.user;
    if user.is_restricted() {
        list.retain(|c| user.may_use_channel(c));
    }
    ctx.out.array(list.len());
    for c in &list {
        ctx.out.bulk(c);
    }
    Ok(Outcome::Done)
}

fn pubsub_channels(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    names(ctx, argv, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    names(ctx, argv, Kind::Shard)
}

fn numsub(ctx: &mut Ctx<'_>, argv: &[&[u8]], kind: Kind) -> CmdResult {
    // A flat array in RESP3 too, as Redis sends it: node-redis 6 reads the
    // reply as [name, count, ...] and got an empty object from a map.
    ctx.out.array((argv.len() - 2) * 2);
    let user = &ctx.client.user;
    for c in &argv[2..] {
        ctx.out.bulk(c);
        let n = if user.is_restricted() && !user.may_use_channel(c) {
            0
        } else {
            ctx.srv.pubsub.count(kind, ctx.client.db, c)
        };
        ctx.out.int(n as i64);
    }
    Ok(Outcome::Done)
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    numsub(ctx, argv, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    numsub(ctx, argv, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out
        .int(ctx.srv.pubsub.pattern_count_in(ctx.client.db) as i64);
    Ok(Outcome::Done)
}

fn pubsub_help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let lines: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.status_lines(lines);
    Ok(Outcome::Done)
}
