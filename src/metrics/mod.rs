//! Prometheus metrics: series names ([`names`]), the per-user counters, the
//! scrape-time refresh from server state, and the `/metrics` responder
//! ([`http`]).
//!
//! The hot path touches only atomics that exist anyway (per-command stats,
//! tenancy counters, DbStats) plus, when metrics are on, the latency
//! histogram in [`crate::server::stats`] and the client's [`UserMeter`].
//! Everything else — reading DB stats under each DB's lock, copying
//! counters into the recorder, formatting — happens when Prometheus
//! scrapes. The recorder is owned by the server (never installed
//! globally), so several servers can run in one process.

pub mod http;
pub mod names;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hashbrown::HashMap;
use metrics::{Counter, Gauge, Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::formatting::{
    sanitize_label_value, write_help_line, write_metric_line, write_type_line,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use metrics_util::MetricKindMask;
use parking_lot::Mutex;

use crate::acl::User;
use crate::server::stats::{self, latency_bound_secs, LATENCY_BUCKETS, SHARDS};
use crate::server::Shared;
use names::{Kind, Series};

/// How long a series nobody refreshes (a renamed DB's old `name`) is kept.
const SERIES_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

static METADATA: Metadata<'static> = Metadata::new("keyward", Level::INFO, Some(module_path!()));

/// A server's metrics state (present only when `metrics-addr` is set).
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pub users: Arc<UserRegistry>,
    /// Held for a whole scrape: concurrent scrapes would double-count the
    /// deltas below.
    scrape: Mutex<ScrapeState>,
    /// Failed AUTHs and those held back by `auth-fail-delay` (never reset,
    /// unlike INFO's `# Auth` figures).
    pub auth_failures: AtomicU64,
    pub auth_delayed: AtomicU64,
}

/// What the previous scrape saw of each DB's resettable counters.
#[derive(Default)]
struct ScrapeState {
    dbs: Vec<DbLast>,
}

#[derive(Default)]
struct DbLast {
    /// The DB's name at that scrape: a rename starts new series.
    name: String,
    counters: [u64; DB_COUNTERS.len()],
}

/// Per-DB counters, in the order [`Metrics::refresh_dbs`] reads them.
const DB_COUNTERS: [Series; 6] = [
    names::DB_HITS,
    names::DB_MISSES,
    names::DB_EVICTED,
    names::DB_EXPIRED,
    names::DB_OOM_REJECTED,
    names::DB_THROTTLED,
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        // Every live series is touched by each scrape's refresh, so only
        // the series of a renamed DB go idle: drop those after a while.
        let recorder = PrometheusBuilder::new()
            .idle_timeout(MetricKindMask::ALL, Some(SERIES_IDLE_TIMEOUT))
            .build_recorder();
        for s in names::ALL {
            let name = KeyName::from_const_str(s.name);
            let help = SharedString::const_str(s.help);
            match s.kind {
                Kind::Counter => recorder.describe_counter(name, None, help),
                Kind::Gauge => recorder.describe_gauge(name, None, help),
                // Rendered by `render_latency` from the stats atomics.
                Kind::Histogram => {}
            }
        }
        Metrics {
            handle: recorder.handle(),
            recorder,
            users: Arc::new(UserRegistry::default()),
            scrape: Mutex::new(ScrapeState::default()),
            auth_failures: AtomicU64::new(0),
            auth_delayed: AtomicU64::new(0),
        }
    }

    fn counter(&self, s: &Series, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(s.name, labels), &METADATA)
    }

    fn gauge(&self, s: &Series, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(s.name, labels), &METADATA)
    }

    /// The exposition text: refreshes every series from `srv`, then renders.
    pub fn render(&self, srv: &Shared) -> String {
        let mut state = self.scrape.lock();
        self.refresh_dbs(srv, &mut state);
        self.refresh_users(srv);
        let mut families = sorted_families(&self.handle.render());
        let mut latency = String::new();
        render_latency(srv, &mut latency);
        if !latency.is_empty() {
            families.push(latency);
        }
        // HELP/TYPE lines come first, so this orders families by name.
        families.sort_unstable();
        families.concat()
    }

    fn refresh_dbs(&self, srv: &Shared, state: &mut ScrapeState) {
        let n = srv.databases();
        state.dbs.resize_with(n, DbLast::default);
        for (i, last) in state.dbs.iter_mut().enumerate() {
            let t = srv.tenancy.db(i);
            let name = t.name.lock().clone();
            // One short lock per DB; everything else is atomics. A DB held
            // (by a long script) keeps its last figures for this scrape.
            let (keys, expires, mem, st) = match srv.keyspace.try_lock(i) {
                Some(db) => (db.len(), db.volatile(), db.used_memory(), db.stats),
                None => continue,
            };
            let labels = || {
                let mut l = vec![Label::new(names::LABEL_DB, i.to_string())];
                if !name.is_empty() {
                    l.push(Label::new(names::LABEL_NAME, name.clone()));
                }
                l
            };
            self.gauge(&names::DB_KEYS, labels()).set(keys as f64);
            self.gauge(&names::DB_EXPIRES, labels()).set(expires as f64);
            self.gauge(&names::DB_USED_MEMORY, labels()).set(mem as f64);
            let maxmemory = t.maxmemory.load(Ordering::Relaxed);
            self.gauge(&names::DB_MAXMEMORY, labels())
                .set(maxmemory as f64);
            let clients = t.clients.load(Ordering::Relaxed);
            self.gauge(&names::DB_CLIENTS, labels()).set(clients as f64);
            let now = [
                st.hits,
                st.misses,
                st.evicted,
                st.expired,
                t.oom_rejected.load(Ordering::Relaxed),
                t.throttled.load(Ordering::Relaxed),
            ];
            if last.name != name {
                *last = DbLast {
                    name: name.clone(),
                    ..Default::default()
                };
            }
            for ((s, cur), prev) in DB_COUNTERS.iter().zip(now).zip(&mut last.counters) {
                self.counter(s, labels())
                    .increment(counter_delta(*prev, cur));
                *prev = cur;
            }
        }
    }

    fn refresh_users(&self, srv: &Shared) {
        // Every ACL user shows up, even before its first connection.
        for u in srv.acl.users() {
            self.users.counters(&u.name);
        }
        for (name, c) in self.users.snapshot() {
            let labels = || vec![Label::new(names::LABEL_USER, name.clone())];
            let conns = c.connections.load(Ordering::Relaxed).max(0);
            self.gauge(&names::USER_CONNECTIONS, labels())
                .set(conns as f64);
            self.counter(&names::USER_COMMANDS, labels())
                .absolute(c.commands());
            self.counter(&names::USER_ACL_DENIALS, labels())
                .absolute(c.denials.load(Ordering::Relaxed));
            self.counter(&names::USER_AUTH_FAILURES, labels())
                .absolute(c.auth_failures.load(Ordering::Relaxed));
        }
        self.counter(&names::AUTH_FAILURES, Vec::new())
            .absolute(self.auth_failures.load(Ordering::Relaxed));
        self.counter(&names::AUTH_DELAYED, Vec::new())
            .absolute(self.auth_delayed.load(Ordering::Relaxed));
    }
}

/// The exporter renders families and series in hash order; sorted, two
/// scrapes can be compared by eye and a DB's series sit together. Returns
/// one string per family, each ending with a blank line.
fn sorted_families(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            let (comments, mut samples): (Vec<&str>, Vec<&str>) =
                f.lines().partition(|l| l.starts_with('#'));
            samples.sort_unstable();
            let mut family = String::with_capacity(f.len() + 2);
            for l in comments.iter().chain(&samples) {
                family.push_str(l);
                family.push('\n');
            }
            family.push('\n');
            family
        })
        .collect()
}

/// How much a counter grew since the previous scrape. DbStats go back to
/// zero on CONFIG RESETSTAT; a smaller value means it was reset and all of
/// it is new, which keeps the exported counter monotonic.
fn counter_delta(prev: u64, cur: u64) -> u64 {
    if cur >= prev {
        cur - prev
    } else {
        cur
    }
}

/// Appends the command latency histogram, one `cmd` label per command that
/// ran at least once.
fn render_latency(srv: &Shared, out: &mut String) {
    let s = &names::COMMAND_DURATION;
    let mut header = false;
    let reg = &*crate::commands::REGISTRY;
    for id in 0..srv.stats.commands().min(reg.len()) {
        let cmd = reg.get(id as crate::commands::table::CommandId);
        let Some(t) = srv.stats.latency_totals(cmd.id) else {
            return;
        };
        let count = t.count();
        if count == 0 {
            continue;
        }
        if !header {
            write_help_line(out, s.name, s.help);
            write_type_line(out, s.name, "histogram");
            header = true;
        }
        let labels = [format!(
            "{}=\"{}\"",
            names::LABEL_CMD,
            sanitize_label_value(&cmd.fullname)
        )];
        let mut cumulative = 0;
        for (k, n) in t.slots[..LATENCY_BUCKETS].iter().enumerate() {
            cumulative += n;
            let le = latency_bound_secs(k);
            write_metric_line(
                out,
                s.name,
                Some("bucket"),
                &labels,
                Some(("le", le)),
                cumulative,
                None,
            );
        }
        write_metric_line(
            out,
            s.name,
            Some("bucket"),
            &labels,
            Some(("le", "+Inf")),
            count,
            None,
        );
        let sum = t.sum_us as f64 / 1e6;
        write_metric_line::<&str, f64>(out, s.name, Some("sum"), &labels, None, sum, None);
        write_metric_line::<&str, u64>(out, s.name, Some("count"), &labels, None, count, None);
    }
    if header {
        out.push('\n');
    }
}

/// Counters of one ACL user name. They live as long as the server, so ACL
/// SETUSER (which replaces the `User`) and DELUSER do not reset them.
#[derive(Default)]
pub struct UserCounters {
    /// Signed: a meter may decrement after a concurrent increment elsewhere.
    pub connections: AtomicI64,
    /// Sharded like the command stats, so connections of one user on
    /// different threads do not contend on one cache line.
    commands: [Padded; SHARDS],
    pub denials: AtomicU64,
    pub auth_failures: AtomicU64,
}

#[derive(Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

impl UserCounters {
    pub fn commands(&self) -> u64 {
        self.commands
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .sum()
    }
}

/// User name → counters.
#[derive(Default)]
pub struct UserRegistry {
    users: Mutex<HashMap<String, Arc<UserCounters>>>,
}

impl UserRegistry {
    /// The counters of `name`, created on first use.
    pub fn counters(&self, name: &str) -> Arc<UserCounters> {
        let mut users = self.users.lock();
        if let Some(c) = users.get(name) {
            return c.clone();
        }
        let c = Arc::new(UserCounters::default());
        users.insert(name.to_string(), c.clone());
        c
    }

    pub fn snapshot(&self) -> Vec<(String, Arc<UserCounters>)> {
        let mut v: Vec<_> = self
            .users
            .lock()
            .iter()
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// A connection's meter, starting as `user`.
    pub fn meter(self: &Arc<Self>, user: &Arc<User>) -> UserMeter {
        let counters = self.counters(&user.name);
        counters.connections.fetch_add(1, Ordering::Relaxed);
        UserMeter {
            registry: self.clone(),
            user: user.clone(),
            counters,
        }
    }

    /// Counts a failed AUTH naming the existing user `name`.
    pub fn auth_failed(&self, name: &str) {
        self.counters(name)
            .auth_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an ACL denial (or failed AUTH) against `name`.
    pub fn denied(&self, name: &str) {
        self.counters(name).denials.fetch_add(1, Ordering::Relaxed);
    }
}

/// One connection's share of its user's counters. It follows the client's
/// `user` lazily: AUTH, HELLO AUTH and RESET replace `Client::user`, and
/// the next [`UserMeter::command`] (the AUTH itself) notices the new
/// pointer and moves the connection over — so the commands that change
/// users need no metrics code.
pub struct UserMeter {
    registry: Arc<UserRegistry>,
    /// The user this meter counts for (compared by pointer).
    user: Arc<User>,
    counters: Arc<UserCounters>,
}

impl UserMeter {
    #[inline]
    pub fn command(&mut self, user: &Arc<User>) {
        if !Arc::ptr_eq(&self.user, user) {
            self.switch(user);
        }
        self.counters.commands[stats::shard()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    #[cold]
    fn switch(&mut self, user: &Arc<User>) {
        // ACL SETUSER gives the same name a new `User`: same counters.
        if self.user.name != user.name {
            let next = self.registry.counters(&user.name);
            next.connections.fetch_add(1, Ordering::Relaxed);
            self.counters.connections.fetch_sub(1, Ordering::Relaxed);
            self.counters = next;
        }
        self.user = user.clone();
    }
}

impl Drop for UserMeter {
    fn drop(&mut self) {
        self.counters.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_follows_user_and_survives_replacement() {
        let reg = Arc::new(UserRegistry::default());
        let default = Arc::new(User::new("default"));
        let mut m = reg.meter(&default);
        m.command(&default);
        let worker = Arc::new(User::new("worker"));
        m.command(&worker);
        m.command(&worker);
        // SETUSER replaces the User: counters carry on.
        let worker2 = Arc::new(User::new("worker"));
        m.command(&worker2);
        let d = reg.counters("default");
        let w = reg.counters("worker");
        assert_eq!(d.commands(), 1);
        assert_eq!(w.commands(), 3);
        assert_eq!(d.connections.load(Ordering::Relaxed), 0);
        assert_eq!(w.connections.load(Ordering::Relaxed), 1);
        drop(m);
        assert_eq!(w.connections.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn families_and_series_sorted() {
        let text = "# HELP b x\n# TYPE b gauge\nb{db=\"2\"} 1\nb{db=\"0\"} 2\n\n# HELP a y\n# TYPE a counter\na 3\n\n";
        let mut families = sorted_families(text);
        families.sort_unstable();
        assert_eq!(
            families.concat(),
            "# HELP a y\n# TYPE a counter\na 3\n\n# HELP b x\n# TYPE b gauge\nb{db=\"0\"} 2\nb{db=\"2\"} 1\n\n"
        );
    }

    #[test]
    fn counter_delta_handles_resets() {
        assert_eq!(counter_delta(5, 8), 3);
        assert_eq!(counter_delta(5, 2), 2);
        assert_eq!(counter_delta(0, 0), 0);
    }
}
