//! Crash safety of the writer + loader (mostly under `always`): seeded
//! runs, each cutting power at one random file-system operation (a write,
//! an fdatasync, a rename, a directory sync…), possibly in the middle of a
//! rewrite, and some with one operation failing as a full or broken disk
//! does. After every crash the loader must succeed (with
//! `aof-load-truncated yes`), every append reported synced before the cut
//! must be there, and what loads must be the state after some prefix of
//! the accepted appends. Plus the Redis 6 upgrade and group commit.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{
    load, Aof, AofConfig, AofError, AofLoadError, FsyncPolicy, LoadItem, LoadOptions, LoadStats,
};
use crate::persistence::fs::{Fs, FsFile, SimFs};

/// A [`SimFs`] that takes a crash snapshot just before its `crash_at`-th
/// mutating operation, and can make fdatasync slow.
#[derive(Clone)]
struct CrashFs {
    inner: SimFs,
    state: Arc<CrashState>,
}

struct CrashState {
    ops: AtomicU64,
    crash_at: u64,
    /// This operation fails (an injected I/O error) instead of running.
    fail_at: AtomicU64,
    tear_seed: u64,
    snapshot: Mutex<Option<SimFs>>,
    sync_delay: Duration,
}

impl CrashFs {
    fn new(crash_at: u64, tear_seed: u64, sync_delay: Duration) -> CrashFs {
        CrashFs {
            inner: SimFs::new(),
            state: Arc::new(CrashState {
                ops: AtomicU64::new(0),
                crash_at,
                fail_at: AtomicU64::new(u64::MAX),
                tear_seed,
                snapshot: Mutex::new(None),
                sync_delay,
            }),
        }
    }

    /// Counts one mutating operation; the power goes out before it runs,
    /// or it fails if it is the one chosen to.
    fn op(&self) -> io::Result<()> {
        let n = self.state.ops.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.state.crash_at {
            self.cut();
        }
        if n == self.state.fail_at.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected failure"));
        }
        Ok(())
    }

    fn cut(&self) {
        let mut snap = self.state.snapshot.lock();
        if snap.is_none() {
            let mut rng = SmallRng::seed_from_u64(self.state.tear_seed);
            *snap = Some(self.inner.crash(|n| rng.gen_range(0..=n)));
        }
    }

    fn ops(&self) -> u64 {
        self.state.ops.load(Ordering::SeqCst)
    }

    /// After a run: the disk as the power cut left it (cut now if the run
    /// ended first), how many appends were reported synced before the
    /// cut, and how many operations the run made. `reports` holds (ops
    /// counter when observed, appends reported synced); a report observed
    /// at counter c came after every operation numbered <= c.
    fn outcome(&self, reports: &[(u64, usize)]) -> (SimFs, usize, u64) {
        let total = self.ops();
        let reached = total >= self.state.crash_at;
        if !reached {
            self.cut();
        }
        let snap = self.state.snapshot.lock().take().expect("snapshot");
        let durable = reports
            .iter()
            .filter(|(c, _)| *c < self.state.crash_at || !reached)
            .map(|&(_, n)| n)
            .max()
            .unwrap_or(0);
        (snap, durable, total)
    }
}

struct CrashFile {
    fs: CrashFs,
    inner: Box<dyn FsFile>,
}

impl Write for CrashFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fs.op()?;
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FsFile for CrashFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.fs.op()?;
        if !self.fs.state.sync_delay.is_zero() {
            std::thread::sleep(self.fs.state.sync_delay);
        }
        self.inner.sync_data()
    }
}

impl Fs for CrashFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        self.op()?;
        let inner = self.inner.create(path)?;
        Ok(Box::new(CrashFile {
            fs: self.clone(),
            inner,
        }))
    }
    fn append(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        self.op()?;
        let inner = self.inner.append(path)?;
        Ok(Box::new(CrashFile {
            fs: self.clone(),
            inner,
        }))
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.op()?;
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.op()?;
        self.inner.remove(path)
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.op()?;
        self.inner.truncate(path, len)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.op()?;
        self.inner.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        self.inner.len(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }
}

/// The dataset: (db, key) → value.
type State = BTreeMap<(usize, String), String>;

/// One append: a SET, or two SETs in MULTI/EXEC, in one DB.
#[derive(Clone, Debug)]
struct Append {
    db: usize,
    sets: Vec<(String, String)>,
}

impl Append {
    fn apply(&self, st: &mut State) {
        for (k, v) in &self.sets {
            st.insert((self.db, k.clone()), v.clone());
        }
    }

    fn cmds(&self) -> Vec<Vec<&[u8]>> {
        let mut out = Vec::new();
        let multi = self.sets.len() > 1;
        if multi {
            out.push(vec![&b"MULTI"[..]]);
        }
        for (k, v) in &self.sets {
            out.push(vec![&b"SET"[..], k.as_bytes(), v.as_bytes()]);
        }
        if multi {
            out.push(vec![&b"EXEC"[..]]);
        }
        out
    }
}

/// A RESP base for `st`, as a rewrite without the RDB codec writes it.
fn resp_base(st: &State) -> Vec<u8> {
    let mut out = Vec::new();
    let mut db = None;
    let cmd = |out: &mut Vec<u8>, argv: &[&[u8]]| {
        out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for a in argv {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    };
    for ((d, k), v) in st {
        if db != Some(*d) {
            cmd(&mut out, &[b"SELECT", d.to_string().as_bytes()]);
            db = Some(*d);
        }
        cmd(&mut out, &[b"SET", k.as_bytes(), v.as_bytes()]);
    }
    out
}

fn cfg(policy: FsyncPolicy) -> AofConfig {
    let mut c = AofConfig::new("/d");
    c.fsync = policy;
    c.use_rdb_preamble = false;
    c.sync_thread = false;
    c
}

/// Loads the AOF of `/d` with Redis's default names and
/// `aof-load-truncated yes`.
pub(super) fn load_d(
    fs: &dyn Fs,
    replay: &mut dyn FnMut(LoadItem) -> Result<(), String>,
) -> Result<LoadStats, AofLoadError> {
    let opts = LoadOptions {
        load_truncated: true,
        rdb_len: None,
    };
    load(
        "/d".as_ref(),
        "appendonly.aof",
        "appendonlydir",
        fs,
        opts,
        replay,
    )
}

/// Loads `fs` and replays it into a state. Panics if loading fails.
fn load_state(fs: &dyn Fs, seed: u64) -> State {
    let mut st = State::new();
    let mut db = 0usize;
    load_d(fs, &mut |item| {
        let LoadItem::Command { argv } = item else {
            return Err("unexpected RDB".into());
        };
        let s = |i: usize| String::from_utf8_lossy(&argv[i]).into_owned();
        match argv[0].as_slice() {
            b"SELECT" => db = s(1).parse().map_err(|_| "bad db")?,
            b"SET" => {
                st.insert((db, s(1)), s(2));
            }
            b"MULTI" | b"EXEC" => {}
            other => return Err(format!("unknown {}", String::from_utf8_lossy(other))),
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("seed {seed}: load failed after crash: {e}"));
    st
}

/// `loaded` must be the state after the first n `appends`, n >= `durable`.
fn assert_prefix(appends: &[Append], durable: usize, loaded: &State, ctx: &str) {
    let mut prefix = State::new();
    let mut ok = durable == 0 && loaded.is_empty();
    for (n, a) in appends.iter().enumerate() {
        if ok {
            break;
        }
        a.apply(&mut prefix);
        ok = n + 1 >= durable && prefix == *loaded;
    }
    assert!(
        ok,
        "{ctx}: loaded state is not a prefix with >= {durable} appends: {loaded:?}"
    );
}

/// One seeded run, with the power cut just before file-system operation
/// number `crash_at` (or after the end). Returns how many operations the
/// run made. With the sync thread off a seed's run is deterministic, so a
/// first run counts the operations and a second one crashes among them.
fn run_seed(seed: u64, crash_at: u64) -> u64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let n_appends = rng.gen_range(1..40usize);
    let fs = CrashFs::new(crash_at, seed ^ 0x5eed, Duration::ZERO);
    // Mostly `always`; the others write through at append time, which
    // puts torn unsynced bytes on disk at more crash points. The property
    // is the same for all: what was reported synced survives.
    let policy = match rng.gen_range(0..4) {
        0 => FsyncPolicy::EverySec,
        1 => FsyncPolicy::No,
        _ => FsyncPolicy::Always,
    };
    // Some runs also have one operation fail (a full or broken disk).
    if rng.gen_bool(0.3) {
        fs.state.fail_at.store(
            rng.gen_range(1..n_appends as u64 * 2 + 20),
            Ordering::SeqCst,
        );
    }
    let rewrite = if rng.gen_bool(0.6) {
        let begin = rng.gen_range(0..n_appends);
        let end = rng.gen_range(begin..=n_appends);
        Some((begin, end, rng.gen_bool(0.15)))
    } else {
        None
    };
    let ctx = format!("seed {seed}, crash at op {crash_at}, {policy:?}, rewrite {rewrite:?}");
    let mut appends = Vec::new();
    let mut offsets = Vec::new();
    let mut state = State::new();
    // (ops counter when observed, number of appends reported synced).
    let mut reports: Vec<(u64, usize)> = vec![(0, 0)];
    // A server that cannot open its AOF does not start: nothing appended.
    let mut aof = Aof::open(Arc::new(fs.clone()), cfg(policy)).ok();
    let mut base = None;
    for i in 0..=n_appends {
        let Some(w) = aof.as_mut() else { break };
        let h = w.handle();
        if let Some((b, e, abort)) = rewrite {
            if i == b && base.is_none() {
                // The snapshot for the base is taken at the switch.
                let bytes = resp_base(&state);
                match w.begin_rewrite() {
                    Ok(mut f) => {
                        let split = rng.gen_range(0..=bytes.len());
                        match f.write_all(&bytes[..split]) {
                            Ok(()) => base = Some((f, bytes[split..].to_vec())),
                            Err(_) => w.abort_rewrite(Some(f)),
                        }
                    }
                    // `always`: the process exits.
                    Err(AofError::Fatal(_)) => break,
                    Err(_) => {}
                }
            }
            if i == e {
                if let Some((mut f, rest)) = base.take() {
                    if abort || f.write_all(&rest).is_err() {
                        w.abort_rewrite(Some(f));
                    } else {
                        // A failed step leaves the AOF as it was.
                        let _ = w.finish_rewrite(f);
                    }
                }
            }
        }
        if i == n_appends {
            break;
        }
        let db = rng.gen_range(0..3);
        let n_sets = if rng.gen_bool(0.2) { 2 } else { 1 };
        let sets = (0..n_sets)
            .map(|j| (format!("k{}", rng.gen_range(0..6)), format!("{i}.{j}")))
            .collect();
        let a = Append { db, sets };
        let off = match w.append(a.db, &a.cmds()) {
            Ok(off) => off,
            Err(AofError::Fatal(_)) => break,
            // MISCONF: refused, so never executed.
            Err(_) => continue,
        };
        a.apply(&mut state);
        appends.push(a);
        offsets.push(off);
        if rng.gen_bool(0.7) {
            let upto = offsets[rng.gen_range(0..offsets.len())..]
                .first()
                .copied()
                .unwrap_or(off);
            match h.flush_and_sync_up_to(upto) {
                Ok(_) => {
                    let synced = h.synced_offset();
                    let n = offsets.iter().take_while(|&&o| o <= synced).count();
                    reports.push((fs.ops(), n));
                }
                Err(AofError::Fatal(_)) => break,
                Err(_) => {}
            }
        }
    }
    let (snap, durable, total_ops) = fs.outcome(&reports);
    drop(aof);
    let loaded = load_state(&snap, seed);
    assert_prefix(&appends, durable, &loaded, &ctx);

    // The recovered directory takes new appends and loads them after
    // what survived (a reverted MULTI or torn tail must not swallow them).
    let mut again = Aof::open(Arc::new(snap.clone()), cfg(FsyncPolicy::Always)).expect("reopen");
    let extra = Append {
        db: 2,
        sets: vec![("after".into(), "crash".into())],
    };
    let off = again.append(extra.db, &extra.cmds()).expect("append");
    again.handle().flush_and_sync_up_to(off).expect("sync");
    drop(again);
    let mut want = loaded;
    extra.apply(&mut want);
    assert_eq!(load_state(&snap.crash(|_| 0), seed), want, "{ctx}: reopen");
    total_ops
}

#[test]
fn crash_at_every_kind_of_point_keeps_synced_appends() {
    const SEEDS: u64 = 1000;
    let mut points = 0;
    for seed in 0..SEEDS {
        // First the whole run, with the power cut after its end.
        let ops = run_seed(seed, u64::MAX);
        // Then the same run cut at a random one of its operations.
        let mut pick = SmallRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9));
        run_seed(seed, pick.gen_range(1..=ops));
        points += ops;
    }
    // The runs are big enough to exercise rewrites and many syncs.
    assert!(points > SEEDS * 20, "{points} operations in all");
}

/// A write or fsync failure under `everysec`, the refusals that follow, the
/// rewrite that ends them, and a power cut anywhere in it.
fn run_failure_seed(seed: u64, crash_at: u64) -> u64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let fs = CrashFs::new(crash_at, seed ^ 0xfa11, Duration::ZERO);
    let mut aof = Aof::open(Arc::new(fs.clone()), cfg(FsyncPolicy::EverySec)).expect("open");
    let h = aof.handle();
    let mut appends: Vec<Append> = Vec::new();
    let mut state = State::new();
    let mut reports: Vec<(u64, usize)> = vec![(0, 0)];
    let fail_at = rng.gen_range(0..10);
    let n_appends = rng.gen_range(fail_at + 1..25);
    let mut failed = false;
    for i in 0..n_appends {
        if i == fail_at {
            if rng.gen_bool(0.5) {
                fs.inner.fail_syncs(true);
            } else {
                fs.inner.fail_writes(true);
            }
        }
        let a = Append {
            db: rng.gen_range(0..2),
            sets: vec![(format!("k{}", rng.gen_range(0..4)), i.to_string())],
        };
        match aof.append(a.db, &a.cmds()) {
            Ok(off) => {
                // Accepted means executed, whether or not its write made it.
                a.apply(&mut state);
                appends.push(a);
                if h.flush_and_sync_up_to(off).is_ok() {
                    let synced = h.synced_offset();
                    assert!(synced >= off);
                    reports.push((fs.ops(), appends.len()));
                } else {
                    failed = true;
                }
            }
            Err(e) => {
                assert!(failed, "seed {seed}: refused before any failure: {e}");
                assert!(e.to_string().starts_with("MISCONF"), "{e}");
            }
        }
        if i == fail_at {
            fs.inner.fail_syncs(false);
            fs.inner.fail_writes(false);
        }
    }
    assert!(failed, "seed {seed}: the injected failure did not surface");
    // The rewrite ends the refusals.
    let mut base = aof.begin_rewrite().expect("begin");
    base.write_all(&resp_base(&state)).expect("base");
    aof.finish_rewrite(base).expect("finish");
    h.check_writable().expect("writable after the rewrite");
    let a = Append {
        db: 1,
        sets: vec![("last".into(), "one".into())],
    };
    let off = aof.append(a.db, &a.cmds()).expect("append");
    a.apply(&mut state);
    appends.push(a);
    h.flush_and_sync_up_to(off).expect("sync");
    reports.push((fs.ops(), appends.len()));
    let (snap, durable, total_ops) = fs.outcome(&reports);
    drop(aof);
    let loaded = load_state(&snap, seed);
    if total_ops < crash_at {
        assert_eq!(loaded, state, "seed {seed}: all of it after a clean run");
    }
    // Lost writes of the failed file come back through the base, so what
    // loads is still a prefix of what was accepted.
    assert_prefix(
        &appends,
        durable,
        &loaded,
        &format!("failure seed {seed}, crash at op {crash_at}"),
    );
    total_ops
}

#[test]
fn write_errors_then_rewrite_then_crash() {
    for seed in 0..300 {
        let ops = run_failure_seed(seed, u64::MAX);
        let mut pick = SmallRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9));
        run_failure_seed(seed, pick.gen_range(1..=ops));
    }
}

#[test]
fn redis6_upgrade_survives_a_crash_at_every_step() {
    let body = b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    let want = State::from([((1, "k".to_string()), "v".to_string())]);
    let setup = |crash_at| {
        let fs = CrashFs::new(crash_at, 7, Duration::ZERO);
        crate::persistence::fs::write_atomic(&fs.inner, "/d/appendonly.aof".as_ref(), body)
            .expect("legacy file");
        fs
    };
    // Count the upgrade's operations, then cut power before each one.
    let fs = setup(u64::MAX);
    assert_eq!(load_state(&fs, 0), want);
    let steps = fs.ops();
    assert!(steps >= 6, "{steps} operations");
    for crash_at in 1..=steps {
        let fs = setup(crash_at);
        assert_eq!(load_state(&fs, crash_at), want);
        let snap = fs.state.snapshot.lock().take().expect("snapshot");
        // The restarted server finds old layout, new layout, or a half
        // done upgrade, and loads the same data from each.
        assert_eq!(load_state(&snap, crash_at), want, "crash at {crash_at}");
        assert_eq!(load_state(&snap.crash(|_| 0), crash_at), want);
    }
}

#[test]
fn group_commit_shares_fsyncs() {
    let fs = CrashFs::new(u64::MAX, 0, Duration::from_millis(2));
    let mut c = cfg(FsyncPolicy::Always);
    c.sync_thread = true;
    let aof = Arc::new(Mutex::new(
        Aof::open(Arc::new(fs.clone()), c).expect("open"),
    ));
    let before = fs.inner.syncs();
    const THREADS: usize = 8;
    const EACH: usize = 40;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let aof = Arc::clone(&aof);
            std::thread::spawn(move || {
                // Each thread plays a connection: it awaits the sync
                // thread as the server's tasks do.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let h = aof.lock().handle();
                for i in 0..EACH {
                    let (k, v) = (format!("t{t}"), i.to_string());
                    let off = aof
                        .lock()
                        .append(t % 4, &[vec![b"SET", k.as_bytes(), v.as_bytes()]])
                        .expect("append");
                    rt.block_on(h.wait_synced(off)).expect("durable");
                    assert!(h.synced_offset() >= off);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let syncs = fs.inner.syncs() - before;
    let appends = (THREADS * EACH) as u64;
    assert!(
        syncs < appends / 2,
        "{syncs} fsyncs for {appends} appends: no group commit"
    );
    let st = load_state(&fs.inner.crash(|_| 0), 0);
    for t in 0..THREADS {
        assert_eq!(
            st.get(&(t % 4, format!("t{t}"))),
            Some(&(EACH - 1).to_string())
        );
    }
}
