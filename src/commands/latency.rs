//! LATENCY: the latency monitor's events (LATEST, HISTORY, RESET, GRAPH,
//! DOCTOR) and the per-command histograms of `latency-tracking`
//! (HISTOGRAM); the state lives in `server::latency`. Every subcommand
//! but HELP is `admin`, so a DB-restricted user is refused them: the
//! events and histograms are the whole server's.

use crate::commands::Outcome;
use crate::server::latency;

use super::errors::{CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::{Ctx, REGISTRY};

const G: Group = Group::Server;
const LAT: u32 = ADMIN | NOSCRIPT | LOADING | STALE | NO_DB_LOCK;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("latency", G, SUBS).doc(
    "A container for latency diagnostics commands.",
    "2.8.13",
    "Depends on subcommand.",
)];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, LAT, G, doctor).doc(
        "Returns a human-readable latency analysis report.",
        "2.8.13",
        "O(1)",
    ),
    CommandSpec::new("graph", 3, LAT, G, graph).doc(
        "Returns a latency graph for an event.",
        "2.8.13",
        "O(1)",
    ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, help).doc(
        "Returns helpful text about the different subcommands.",
        "2.8.13",
        "O(1)",
    ),
    CommandSpec::new("histogram", -2, LAT, G, histogram).doc(
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        "7.0.0",
        "O(N) where N is the number of commands with latency information being retrieved.",
    ),
    CommandSpec::new("history", 3, LAT, G, history).doc(
        "Returns timestamp-latency samples for an event.",
        "2.8.13",
        "O(1)",
    ),
    CommandSpec::new("latest", 2, LAT, G, latest).doc(
        "Returns the latest latency samples for all events.",
        "2.8.13",
        "O(1)",
    ),
    CommandSpec::new("reset", -2, LAT, G, reset).doc(
        "Resets the latency data for one or more events.",
        "2.8.13",
        "O(1)",
    ),
];

/// `[event, time, latest ms, max ms]` per event.
fn latest(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let events = ctx.srv.latency.events();
    ctx.out.array(events.len());
    for (name, s) in events {
        let (t, ms) = s.samples.back().copied().unwrap_or((0, 0));
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(t);
        ctx.out.int(ms as i64);
        ctx.out.int(s.max as i64);
    }
    Ok(Outcome::Done)
}

/// `[time, ms]` per sample; an unknown event has none.
fn history(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let s = ctx.srv.latency.series(argv[2]).unwrap_or_default();
    ctx.out.array(s.samples.len());
    for (t, ms) in s.samples {
        ctx.out.array(2);
        ctx.out.int(t);
        ctx.out.int(ms as i64);
    }
    Ok(Outcome::Done)
}

fn reset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let n = ctx.srv.latency.reset(&argv[2..]);
    ctx.out.int(n as i64);
    Ok(Outcome::Done)
}

fn graph(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    let Some(s) = ctx
        .srv
        .latency
        .series(argv[2])
        .filter(|s| !s.samples.is_empty())
    else {
        return Err(Error::from(format!(
            "ERR No samples available for event '{name}'"
        )));
    };
    let text = latency::graph(&name, &s, ctx.now / 1000);
    ctx.out.verbatim(text.as_bytes());
    Ok(Outcome::Done)
}

/// `{command: {calls, histogram_usec: {bound: cumulative count}}}` for the
/// named commands (all with calls when none is named); unknown names and
/// commands never run are left out, as in Redis.
fn histogram(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut rows = Vec::new();
    let mut add = |id: u16, name: &str| {
        let counts = ctx.srv.stats.histogram(id);
        let calls: u64 = counts.iter().sum();
        if calls > 0 && !rows.iter().any(|(n, _, _): &(String, _, _)| n == name) {
            rows.push((name.to_string(), calls, latency::cdf(&counts)));
        }
    };
    if argv.len() == 2 {
        for c in &REGISTRY.commands {
            add(c.id, &c.fullname);
        }
    } else {
        for a in &argv[2..] {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            let found = REGISTRY.commands.iter().find(|c| c.fullname == name);
            if let Some(c) = found {
                add(c.id, &c.fullname);
            }
        }
    }
    let out = &mut *ctx.out;
    out.map(rows.len());
    for (name, calls, cdf) in rows {
        out.bulk(name.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(calls as i64);
        out.bulk(b"histogram_usec");
        out.map(cdf.len());
        for (bound, n) in cdf {
            out.int(bound as i64);
            out.int(n as i64);
        }
    }
    Ok(Outcome::Done)
}

/// Redis's latency doctor, from the monitor's events.
fn doctor(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let events = ctx.srv.latency.events();
    let threshold_ms = ctx.srv.hot.latency.threshold_us() / 1000;
    let text = if events.is_empty() && threshold_ms == 0 {
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string()
    } else if events.is_empty() {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string()
    } else {
        report(ctx, &events, threshold_ms)
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(Outcome::Done)
}

fn report(
    ctx: &Ctx<'_>,
    events: &std::collections::BTreeMap<&'static str, latency::Series>,
    threshold_ms: u64,
) -> String {
    let mut s = "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n".to_string();
    let now_s = ctx.now / 1000;
    let (mut slowlog_enabled, mut slowlog_tuning, mut commands, mut scheduler) =
        (false, false, false, false);
    for (i, (name, series)) in events.iter().enumerate() {
        let n = series.samples.len().max(1) as u64;
        let sum: u64 = series.samples.iter().map(|x| x.1).sum();
        let avg = sum / n;
        let mad = series
            .samples
            .iter()
            .map(|x| x.1.abs_diff(avg))
            .sum::<u64>()
            / n;
        let first = series.samples.front().map_or(now_s, |x| x.0);
        let period = (now_s - first).max(1) as f64;
        s.push_str(&format!(
            "{}. {name}: {} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            series.samples.len(),
            period / n as f64,
            series.max
        ));
        match *name {
            "command" => {
                let slow = ctx
                    .srv
                    .hot
                    .slowlog_threshold
                    .load(std::sync::atomic::Ordering::Relaxed);
                let max_len = ctx.srv.config.read().slowlog_max_len;
                if slow < 0 || max_len == 0 {
                    slowlog_enabled = true;
                } else if slow as u64 / 1000 > threshold_ms {
                    slowlog_tuning = true;
                }
                commands = true;
            }
            "fast-command" => scheduler = true,
            _ => {}
        }
    }
    if !(slowlog_enabled || slowlog_tuning || commands || scheduler) {
        s.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return s;
    }
    s.push_str("\nI have a few advices for you:\n\n");
    if slowlog_enabled {
        s.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n", threshold_ms * 1000));
    }
    if slowlog_tuning {
        s.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n", threshold_ms * 1000));
    }
    if commands {
        s.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        s.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if scheduler {
        s.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    s
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.status_lines(&[
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(Outcome::Done)
}
