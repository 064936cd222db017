//! Replays the AOF at startup: the manifest's base, then its incr files,
//! as a stream of [`LoadItem`]s for the caller to apply.
//!
//! Redis's rules: a short read at the end of the *last* file is a torn
//! write from a crash; with `aof-load-truncated yes` the file is cut back
//! to the last whole command and loading goes on. A MULTI whose EXEC never
//! made it is dropped the same way (cut back to before the MULTI), so a
//! transaction is replayed whole or not at all. Anything else (garbage,
//! a short read in an earlier file, a missing file) refuses to load.

use std::io;
use std::path::Path;

use super::manifest::{AofInfo, FileKind, Manifest, ManifestError};
use super::AofPaths;
use crate::persistence::fs::{write_atomic, Fs};
use crate::protocol::parse::{parse_request, Limits, Parsed};

/// One thing to apply, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadItem {
    /// An RDB stream (a `.base.rdb`, or the `REDIS` preamble of a RESP
    /// base) for the RDB loader.
    RdbBase(Vec<u8>),
    /// One command, `SELECT`, `MULTI` and `EXEC` included.
    Command { argv: Vec<Vec<u8>> },
}

/// The RDB codec's measure of an RDB stream at the start of a buffer.
pub type RdbLen = fn(&[u8]) -> Result<usize, String>;

/// Loader settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// The RDB codec's "how long is the RDB stream at the start of these
    /// bytes": needed only for a file that has RESP commands after an RDB
    /// preamble (Redis 6's `appendonly.aof`). Without it a file starting
    /// with `REDIS` is taken to be RDB to the end, which is what Redis 7
    /// writes in a `.base.rdb`.
    pub rdb_len: Option<RdbLen>,
}

/// What was loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// The manifest in force after loading (after a Redis 6 upgrade).
    pub manifest: Option<Manifest>,
    pub commands: u64,
    /// A file cut back at a torn tail: its name and new length.
    pub truncated: Option<(String, u64)>,
    /// A MULTI without EXEC was dropped at the end.
    pub reverted_multi: bool,
    /// The old single-file AOF was moved into the AOF directory.
    pub upgraded: bool,
    pub base_size: u64,
    pub total_size: u64,
}

/// Why the AOF cannot be loaded. Texts follow Redis's log lines.
#[derive(Debug, thiserror::Error)]
pub enum AofLoadError {
    #[error("Fatal AOF manifest error: {0}")]
    Manifest(#[from] ManifestError),
    #[error("Fatal error: can't read the append log file {file}: {source}")]
    Io { file: String, source: io::Error },
    #[error("The append log file {0} doesn't exist")]
    Missing(String),
    #[error("Bad file format reading the append only file {file} (offset {offset}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")]
    BadFormat { file: String, offset: u64 },
    #[error("Unexpected end of file reading the append only file {file}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")]
    UnexpectedEof { file: String },
    #[error("Fatal error: the truncated file {file} is not the last file")]
    TruncatedNotLast { file: String },
    #[error("Error reading the RDB base file {file}, AOF loading aborted: {msg}")]
    Rdb { file: String, msg: String },
    #[error("{msg} reading the append only file {file}")]
    Replay { file: String, msg: String },
}

fn io_err(file: &Path) -> impl FnOnce(io::Error) -> AofLoadError + '_ {
    move |source| AofLoadError::Io {
        file: file.display().to_string(),
        source,
    }
}

/// Reads the manifest, if the directory and the file exist.
pub fn read_manifest(fs: &dyn Fs, paths: &AofPaths) -> Result<Option<Manifest>, AofLoadError> {
    let path = paths.manifest();
    if !fs.exists(&path) {
        return Ok(None);
    }
    let bytes = fs.read(&path).map_err(io_err(&path))?;
    Ok(Some(Manifest::parse(&bytes)?))
}

/// Moves a Redis 6 `appendonly.aof` into the AOF directory as the base, as
/// Redis 7's `aofUpgradePrepare`: manifest first, then the rename, so a
/// crash in between is retried at the next start (the manifest then names
/// a base that is still outside the directory). The file keeps its name,
/// as in Redis, so either server can read the result.
pub fn upgrade_if_needed(
    fs: &dyn Fs,
    paths: &AofPaths,
    manifest: Option<Manifest>,
) -> Result<(Option<Manifest>, bool), AofLoadError> {
    let legacy = paths.legacy();
    if !fs.exists(&legacy) || fs.len(&legacy).is_err() {
        return Ok((manifest, false));
    }
    let needed = match &manifest {
        None => true,
        Some(m) => {
            (m.base.is_none() && m.incrs.is_empty())
                || (m.incrs.is_empty()
                    && m.base.as_ref().is_some_and(|b| b.name == paths.filename)
                    && !fs.exists(&paths.file(&paths.filename)))
        }
    };
    if !needed {
        return Ok((manifest, false));
    }
    fs.create_dir_all(&paths.aof_dir)
        .map_err(io_err(&paths.aof_dir))?;
    let mut m = manifest.unwrap_or_default();
    m.base = Some(AofInfo {
        name: paths.filename.clone(),
        seq: 1,
        kind: FileKind::Base,
    });
    m.curr_base_seq = 1;
    let mpath = paths.manifest();
    write_atomic(fs, &mpath, &m.to_bytes()).map_err(io_err(&mpath))?;
    let target = paths.file(&paths.filename);
    fs.rename(&legacy, &target).map_err(io_err(&legacy))?;
    fs.sync_dir(&paths.aof_dir)
        .map_err(io_err(&paths.aof_dir))?;
    fs.sync_dir(&paths.dir).map_err(io_err(&paths.dir))?;
    Ok((Some(m), true))
}

/// Loads the AOF of `dir`: upgrade if needed, then replay every base and
/// incr file in order through `replay`. No directory and no manifest means
/// nothing to load (a fresh server).
pub fn load(
    dir: &Path,
    appendfilename: &str,
    appenddirname: &str,
    fs: &dyn Fs,
    opts: LoadOptions,
    replay: &mut dyn FnMut(LoadItem) -> Result<(), String>,
) -> Result<LoadStats, AofLoadError> {
    let paths = AofPaths::new(dir, appendfilename, appenddirname);
    let manifest = read_manifest(fs, &paths)?;
    let (manifest, upgraded) = upgrade_if_needed(fs, &paths, manifest)?;
    let mut stats = LoadStats {
        upgraded,
        ..LoadStats::default()
    };
    let Some(m) = manifest else {
        return Ok(stats);
    };
    let files: Vec<&AofInfo> = m.base.iter().chain(&m.incrs).collect();
    // Every listed file must exist before anything is replayed, as Redis
    // checks sizes first.
    for ai in &files {
        let path = paths.file(&ai.name);
        if !fs.exists(&path) {
            return Err(AofLoadError::Missing(ai.name.clone()));
        }
        let len = fs.len(&path).map_err(io_err(&path))?;
        stats.total_size += len;
        if ai.kind == FileKind::Base {
            stats.base_size = len;
        }
    }
    for (i, ai) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        load_file(fs, &paths, ai, last, opts, replay, &mut stats)?;
    }
    stats.manifest = Some(m);
    Ok(stats)
}

/// How a file ended.
enum End {
    Clean,
    /// A short read; the offset of the last whole command.
    Torn,
}

fn load_file(
    fs: &dyn Fs,
    paths: &AofPaths,
    ai: &AofInfo,
    last: bool,
    opts: LoadOptions,
    replay: &mut dyn FnMut(LoadItem) -> Result<(), String>,
    stats: &mut LoadStats,
) -> Result<(), AofLoadError> {
    let path = paths.file(&ai.name);
    let mut data = fs.read(&path).map_err(io_err(&path))?;
    let file = ai.name.clone();
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        let n = match opts.rdb_len {
            Some(f) => f(&data).map_err(|msg| AofLoadError::Rdb {
                file: file.clone(),
                msg,
            })?,
            None => data.len(),
        }
        .min(data.len());
        replay(LoadItem::RdbBase(data[..n].to_vec())).map_err(|msg| AofLoadError::Rdb {
            file: file.clone(),
            msg,
        })?;
        pos = n;
    }
    // AOF files carry no size limits: they were checked when written.
    let limits = Limits {
        max_bulk_len: usize::MAX,
        max_multibulk_len: i64::MAX as usize,
        authenticated: true,
    };
    let mut valid_up_to = pos;
    // An open MULTI: where the file stood before it, and its commands,
    // held back until EXEC so an unfinished one is never applied.
    let mut multi: Option<(usize, Vec<Vec<Vec<u8>>>)> = None;
    let mut spans = Vec::new();
    let bad = |offset: usize| AofLoadError::BadFormat {
        file: file.clone(),
        offset: offset as u64,
    };
    let end = loop {
        if pos == data.len() {
            break End::Clean;
        }
        match data[pos] {
            b'#' => match data[pos..].iter().position(|&b| b == b'\n') {
                Some(i) => pos += i + 1,
                None => break End::Torn,
            },
            b'*' => {
                spans.clear();
                let parsed = parse_request(&mut data[pos..], &limits, &mut spans);
                let end = match parsed {
                    Ok(Parsed::Command { end }) => end,
                    Ok(Parsed::Incomplete { .. }) => break End::Torn,
                    Ok(Parsed::Empty { .. }) | Err(_) => return Err(bad(pos)),
                };
                let chunk = &data[pos..pos + end];
                // The parser skips the two bytes after each argument as
                // Redis does; here they must be CRLF, so garbage is caught
                // where it starts instead of being read as a command.
                if spans.iter().any(|&(_, e)| &chunk[e..e + 2] != b"\r\n") {
                    return Err(bad(pos));
                }
                let argv: Vec<Vec<u8>> = spans.iter().map(|&(s, e)| chunk[s..e].to_vec()).collect();
                let name = argv.first().map(Vec::as_slice).unwrap_or_default();
                let before = pos;
                pos += end;
                valid_up_to = pos;
                stats.commands += 1;
                if let Some((_, queued)) = &mut multi {
                    let exec = name.eq_ignore_ascii_case(b"exec");
                    queued.push(argv);
                    if exec {
                        let (_, queued) = multi.take().unwrap_or_default();
                        for argv in queued {
                            replay(LoadItem::Command { argv }).map_err(|msg| {
                                AofLoadError::Replay {
                                    file: file.clone(),
                                    msg,
                                }
                            })?;
                        }
                    }
                } else if name.eq_ignore_ascii_case(b"multi") {
                    multi = Some((before, vec![argv]));
                } else {
                    replay(LoadItem::Command { argv }).map_err(|msg| AofLoadError::Replay {
                        file: file.clone(),
                        msg,
                    })?;
                }
            }
            _ => return Err(bad(pos)),
        }
    };
    // A MULTI still open at the end is treated as a short read (Redis:
    // "Revert incomplete MULTI/EXEC transaction"): cut before the MULTI,
    // so that later appends never land inside the dangling transaction.
    let cut = match (&end, &multi) {
        (_, Some((before_multi, queued))) => {
            stats.commands -= queued.len() as u64;
            stats.reverted_multi = true;
            *before_multi
        }
        (End::Torn, None) => valid_up_to,
        (End::Clean, None) => return Ok(()),
    };
    if !opts.load_truncated {
        return Err(AofLoadError::UnexpectedEof { file });
    }
    if !last {
        return Err(AofLoadError::TruncatedNotLast { file });
    }
    fs.truncate(&path, cut as u64).map_err(io_err(&path))?;
    // The sizes were taken before the cut.
    stats.total_size -= (data.len() - cut) as u64;
    stats.truncated = Some((file, cut as u64));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::{RealFs, SimFs};
    use std::io::Write;
    use std::path::PathBuf;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/rdb/aof");

    /// Copies a fixture AOF directory into a simulated disk (the fixtures
    /// are read-only, and loading may truncate).
    fn sim_copy(name: &str) -> (SimFs, PathBuf) {
        let fs = SimFs::new();
        let dir = PathBuf::from("/data");
        let aof_dir = dir.join("appendonlydir");
        let src = Path::new(FIXTURES).join(name);
        for e in std::fs::read_dir(&src).expect("fixture dir") {
            let e = e.expect("entry");
            let bytes = std::fs::read(e.path()).expect("read fixture");
            let mut f = fs.create(&aof_dir.join(e.file_name())).expect("create");
            f.write_all(&bytes).expect("write");
            f.sync_data().expect("sync");
        }
        fs.sync_dir(&aof_dir).expect("sync dir");
        (fs, dir)
    }

    fn load_all(
        fs: &dyn Fs,
        dir: &Path,
        truncated: bool,
    ) -> Result<(Vec<LoadItem>, LoadStats), AofLoadError> {
        let mut items = Vec::new();
        let opts = LoadOptions {
            load_truncated: truncated,
            rdb_len: None,
        };
        let stats = load(
            dir,
            "appendonly.aof",
            "appendonlydir",
            fs,
            opts,
            &mut |item| {
                if let LoadItem::RdbBase(b) = &item {
                    // Stand-in for the RDB loader: the magic is all we check.
                    if !b.starts_with(b"REDIS0011") {
                        return Err("bad RDB magic".into());
                    }
                }
                items.push(item);
                Ok(())
            },
        )?;
        Ok((items, stats))
    }

    fn cmds(items: &[LoadItem]) -> Vec<String> {
        items
            .iter()
            .filter_map(|i| match i {
                LoadItem::Command { argv } => Some(
                    argv.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                LoadItem::RdbBase(_) => None,
            })
            .collect()
    }

    #[test]
    fn preamble_fixture_loads_rdb_base_then_commands() {
        let (fs, dir) = sim_copy("redis-7.2.6-aof-preamble");
        let (items, stats) = load_all(&fs, &dir, false).expect("load");
        assert!(matches!(&items[0], LoadItem::RdbBase(b) if b.len() == 168));
        let c = cmds(&items);
        assert_eq!(c[0], "SELECT 0");
        assert_eq!(c[1], "SET incr:str after rewrite");
        assert_eq!(c[4], "SET incr:ttl x PXAT 1895845984511");
        assert!(c.iter().any(|s| s == "SREM incr:set m1"));
        let multi = c.iter().position(|s| s == "MULTI").expect("multi");
        assert_eq!(
            &c[multi + 1..multi + 4],
            ["RPUSH tx:list 1", "HSET tx:hash a 1", "EXEC"]
        );
        assert!(c
            .last()
            .expect("last")
            .starts_with("XCLAIM incr:stream g c1 0 5-1"));
        assert_eq!(stats.truncated, None);
        assert_eq!(stats.base_size, 168);
        assert_eq!(stats.total_size, 168 + 808);
    }

    #[test]
    fn resp_base_with_timestamps() {
        let (fs, dir) = sim_copy("redis-7.2.6-aof-resp-base-timestamps");
        let (items, _) = load_all(&fs, &dir, false).expect("load");
        assert!(items.iter().all(|i| matches!(i, LoadItem::Command { .. })));
        let c = cmds(&items);
        assert_eq!(
            &c[..4],
            [
                "SELECT 0",
                "RPUSH base:list a b",
                "SET base:str in base",
                "SELECT 1"
            ]
        );
        assert_eq!(c[4], "HMSET base:hash f v");
        assert!(c.iter().all(|s| !s.starts_with('#')));
        assert!(c.iter().any(|s| s == "SET incr:str after rewrite"));
    }

    #[test]
    fn truncated_tail_is_cut_at_644() {
        let (fs, dir) = sim_copy("redis-7.2.6-aof-truncated-tail");
        assert!(matches!(
            load_all(&fs, &dir, false),
            Err(AofLoadError::UnexpectedEof { .. })
        ));
        let (items, stats) = load_all(&fs, &dir, true).expect("load");
        assert_eq!(
            stats.truncated,
            Some(("appendonly.aof.2.incr.aof".into(), 644))
        );
        let incr = dir.join("appendonlydir/appendonly.aof.2.incr.aof");
        assert_eq!(fs.len(&incr).expect("len"), 644);
        let c = cmds(&items);
        assert!(c
            .last()
            .expect("last")
            .starts_with("XGROUP CREATE incr:stream g 0"));
        // Loading again finds a clean file.
        let (again, stats) = load_all(&fs, &dir, false).expect("reload");
        assert_eq!(again, items);
        assert_eq!(stats.truncated, None);
    }

    #[test]
    fn unfinished_multi_is_dropped() {
        let (fs, dir) = sim_copy("redis-7.2.6-aof-unfinished-multi");
        let (items, stats) = load_all(&fs, &dir, true).expect("load");
        let c = cmds(&items);
        assert!(!c.iter().any(|s| s.contains("never:set")));
        assert_eq!(c.iter().filter(|s| *s == "MULTI").count(), 1);
        assert!(stats.reverted_multi);
        assert_eq!(
            stats.truncated,
            Some(("appendonly.aof.2.incr.aof".into(), 808))
        );
    }

    #[test]
    fn corrupt_middle_is_refused() {
        let (fs, dir) = sim_copy("redis-7.2.6-aof-corrupt-middle");
        let err = load_all(&fs, &dir, true).expect_err("must refuse");
        assert!(
            err.to_string().starts_with(
                "Bad file format reading the append only file appendonly.aof.2.incr.aof"
            ),
            "{err}"
        );
    }

    #[test]
    fn nothing_to_load_and_missing_files() {
        let fs = SimFs::new();
        let (items, stats) = load_all(&fs, Path::new("/d"), true).expect("empty");
        assert!(items.is_empty());
        assert_eq!(stats.manifest, None);
        let paths = AofPaths::new(Path::new("/d"), "appendonly.aof", "appendonlydir");
        write_atomic(
            &fs,
            &paths.manifest(),
            b"file appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .expect("manifest");
        assert!(matches!(
            load_all(&fs, Path::new("/d"), true),
            Err(AofLoadError::Missing(_))
        ));
        // An empty incr file is fine.
        write_atomic(&fs, &paths.file("appendonly.aof.1.incr.aof"), b"").expect("incr");
        assert!(load_all(&fs, Path::new("/d"), true)
            .expect("load")
            .0
            .is_empty());
    }

    #[test]
    fn torn_earlier_file_is_refused() {
        let fs = SimFs::new();
        let paths = AofPaths::new(Path::new("/d"), "appendonly.aof", "appendonlydir");
        write_atomic(
            &fs,
            &paths.manifest(),
            b"file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
        )
        .expect("manifest");
        write_atomic(
            &fs,
            &paths.file("appendonly.aof.1.incr.aof"),
            b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI",
        )
        .expect("f1");
        write_atomic(
            &fs,
            &paths.file("appendonly.aof.2.incr.aof"),
            b"*1\r\n$4\r\nPING\r\n",
        )
        .expect("f2");
        let err = load_all(&fs, Path::new("/d"), true).expect_err("refuse");
        assert!(
            matches!(err, AofLoadError::TruncatedNotLast { .. }),
            "{err}"
        );
        // Nothing was cut in the earlier file.
        assert_eq!(
            fs.len(&paths.file("appendonly.aof.1.incr.aof"))
                .expect("len"),
            24
        );
    }

    #[test]
    fn redis6_single_file_is_upgraded_on_real_disk() {
        let dir = std::env::temp_dir().join(format!("keyward-aof-upgrade-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let body = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        std::fs::write(dir.join("appendonly.aof"), body).expect("write");
        let (items, stats) = load_all(&RealFs, &dir, false).expect("load");
        assert!(stats.upgraded);
        assert_eq!(cmds(&items), ["SELECT 0", "SET k v"]);
        assert!(!dir.join("appendonly.aof").exists());
        let manifest =
            std::fs::read(dir.join("appendonlydir/appendonly.aof.manifest")).expect("manifest");
        assert_eq!(manifest, b"file appendonly.aof seq 1 type b\n");
        // A second start loads the same without upgrading again.
        let (again, stats) = load_all(&RealFs, &dir, false).expect("reload");
        assert!(!stats.upgraded);
        assert_eq!(again, items);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn upgrade_interrupted_by_a_crash_is_redone() {
        let fs = SimFs::new();
        let dir = Path::new("/d");
        write_atomic(&fs, &dir.join("appendonly.aof"), b"*1\r\n$4\r\nPING\r\n").expect("legacy");
        let paths = AofPaths::new(dir, "appendonly.aof", "appendonlydir");
        // The manifest made it, the rename did not.
        write_atomic(
            &fs,
            &paths.manifest(),
            b"file appendonly.aof seq 1 type b\n",
        )
        .expect("manifest");
        let (items, stats) = load_all(&fs, dir, false).expect("load");
        assert!(stats.upgraded);
        assert_eq!(cmds(&items), ["PING"]);
        let after = fs.crash(|_| 0);
        let (items, _) = load_all(&after, dir, false).expect("load after crash");
        assert_eq!(cmds(&items), ["PING"]);
    }

    #[test]
    fn preamble_with_tail_uses_the_rdb_codec_length() {
        let fs = SimFs::new();
        let dir = Path::new("/d");
        let mut body = b"REDIS0009-fake-rdb".to_vec();
        body.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        write_atomic(&fs, &dir.join("appendonly.aof"), &body).expect("legacy");
        let mut items = Vec::new();
        let opts = LoadOptions {
            load_truncated: false,
            rdb_len: Some(|b| {
                Ok(b.windows(4)
                    .position(|w| w == b"-rdb")
                    .map_or(b.len(), |i| i + 4))
            }),
        };
        load(
            dir,
            "appendonly.aof",
            "appendonlydir",
            &fs,
            opts,
            &mut |i| {
                items.push(i);
                Ok(())
            },
        )
        .expect("load");
        assert_eq!(items[0], LoadItem::RdbBase(b"REDIS0009-fake-rdb".to_vec()));
        assert_eq!(cmds(&items), ["PING"]);
    }
}
