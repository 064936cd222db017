//! The file system persistence writes through: one small trait, so that
//! tests can swap the real disk for [`SimFs`], which keeps only what was
//! synced and drops or tears the rest at a simulated crash.
//!
//! The discipline every writer follows (as Redis does): write a temp file,
//! `sync_data` it, `rename` it over the target, then `sync_dir` the folder
//! so the rename itself survives a crash.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// An open file being written.
pub trait FsFile: Write + Send {
    /// `fdatasync`: every byte written so far survives a crash.
    fn sync_data(&mut self) -> io::Result<()>;
}

pub trait Fs: Send + Sync {
    /// Creates (or truncates) a file for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// [`Fs::create`] with the permission bits of `like` when it exists, so
    /// that replacing a file the operator locked down (a config file with
    /// `requirepass`, an aclfile) does not open it up to other users.
    fn create_like(&self, path: &Path, like: &Path) -> io::Result<Box<dyn FsFile>> {
        let _ = like;
        self.create(path)
    }
    /// Opens a file for appending, creating it if missing.
    fn append(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// A file opened for reading from the start, so a big file (an RDB
    /// load) streams instead of being held whole in memory.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn io::Read + Send>> {
        Ok(Box::new(io::Cursor::new(self.read(path)?)))
    }
    /// Atomically replaces `to` with `from` (durable after `sync_dir`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Truncates a file to `len` bytes and syncs it (AOF tail repair).
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Makes renames, creations and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    fn exists(&self, path: &Path) -> bool;
    /// The size of a file in bytes.
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// File names (not paths) in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// Writes `bytes` to `path` crash-safely: temp file, fsync, rename, fsync
/// of the directory. A crash at any point leaves either the old file or
/// the new one, never a torn one. The new file keeps the old one's
/// permissions.
pub fn write_atomic(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    let mut f = fs.create_like(&tmp, path)?;
    f.write_all(bytes)?;
    f.sync_data()?;
    drop(f);
    fs.rename(&tmp, path)?;
    fs.sync_dir(parent(path))
}

/// `temp-<pid>-<name>` beside `path`, as Redis names its temp files.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    parent(path).join(format!("temp-{}-{name}", std::process::id()))
}

/// The folder holding `path` (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The real disk.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

struct RealFile(std::fs::File);

impl Write for RealFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl FsFile for RealFile {
    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Fs for RealFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        Ok(Box::new(RealFile(std::fs::File::create(path)?)))
    }

    fn create_like(&self, path: &Path, like: &Path) -> io::Result<Box<dyn FsFile>> {
        let Ok(meta) = std::fs::metadata(like) else {
            return self.create(path);
        };
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        // Owner-only until the old file's bits are copied: no one else can
        // open it in between and read what is written next.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let f = o.open(path)?;
        f.set_permissions(meta.permissions())?;
        Ok(Box::new(RealFile(f)))
    }

    fn append(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn io::Read + Send>> {
        Ok(Box::new(std::fs::File::open(path)?))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_data()
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir)? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}

/// A simulated disk for crash tests. Each file keeps the bytes that were
/// synced apart from those written since; each directory keeps the set of
/// names as of its last `sync_dir` apart from the live one. [`SimFs::crash`]
/// keeps the synced state plus, per file, a random prefix of the unsynced
/// tail (a torn write), and forgets unsynced directory changes. Injected
/// failures make the next write or sync fail, as a full or broken disk does.
#[derive(Clone, Default)]
pub struct SimFs {
    state: Arc<Mutex<SimState>>,
}

#[derive(Default)]
struct SimState {
    /// Inode number → content.
    inodes: BTreeMap<u64, SimInode>,
    next_inode: u64,
    /// Live names: path → inode.
    names: BTreeMap<PathBuf, u64>,
    /// Names as of each directory's last sync.
    durable_names: BTreeMap<PathBuf, u64>,
    /// Directories whose name changes are not synced yet.
    dirty_dirs: std::collections::BTreeSet<PathBuf>,
    fail_writes: bool,
    /// Writes into files fail; creating files still works (a full disk).
    fail_data: bool,
    fail_syncs: bool,
    syncs: u64,
}

#[derive(Default, Clone)]
struct SimInode {
    synced: Vec<u8>,
    pending: Vec<u8>,
}

impl SimInode {
    fn content(&self) -> Vec<u8> {
        let mut v = self.synced.clone();
        v.extend_from_slice(&self.pending);
        v
    }
}

struct SimFile {
    fs: SimFs,
    inode: u64,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

impl Write for SimFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut st = self.fs.state.lock();
        if st.fail_writes || st.fail_data {
            return Err(injected("write"));
        }
        let node = st.inodes.entry(self.inode).or_default();
        node.pending.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FsFile for SimFile {
    fn sync_data(&mut self) -> io::Result<()> {
        let mut st = self.fs.state.lock();
        if st.fail_syncs {
            return Err(injected("fsync"));
        }
        st.syncs += 1;
        let node = st.inodes.entry(self.inode).or_default();
        let pending = std::mem::take(&mut node.pending);
        node.synced.extend_from_slice(&pending);
        Ok(())
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

impl SimFs {
    pub fn new() -> SimFs {
        SimFs::default()
    }

    fn open_inode(&self, path: &Path, truncate: bool) -> io::Result<u64> {
        let mut st = self.state.lock();
        if st.fail_writes {
            return Err(injected("create"));
        }
        if let Some(&ino) = st.names.get(path) {
            if truncate {
                // A truncation is a metadata change: it is durable at once
                // here, which is the pessimistic case for the writer.
                let node = st.inodes.entry(ino).or_default();
                node.synced.clear();
                node.pending.clear();
            }
            return Ok(ino);
        }
        st.next_inode += 1;
        let ino = st.next_inode;
        st.inodes.insert(ino, SimInode::default());
        st.names.insert(path.to_path_buf(), ino);
        st.dirty_dirs.insert(parent(path).to_path_buf());
        Ok(ino)
    }

    /// Makes every later write (or sync) fail until cleared.
    pub fn fail_writes(&self, on: bool) {
        self.state.lock().fail_writes = on;
    }

    /// Makes writes into files fail until cleared, while files can still
    /// be created and renamed (a full disk, where [`SimFs::fail_writes`]
    /// fails every change).
    pub fn fail_data_writes(&self, on: bool) {
        self.state.lock().fail_data = on;
    }

    pub fn fail_syncs(&self, on: bool) {
        self.state.lock().fail_syncs = on;
    }

    /// How many `sync_data` calls succeeded.
    pub fn syncs(&self) -> u64 {
        self.state.lock().syncs
    }

    /// A power cut: what a restarted process would find. `tear` picks, for
    /// each file with unsynced bytes, how many of them survive (0..=len).
    pub fn crash(&self, mut tear: impl FnMut(usize) -> usize) -> SimFs {
        let st = self.state.lock();
        let mut out = SimState {
            next_inode: st.next_inode,
            ..SimState::default()
        };
        // Names: synced directories keep their live names; unsynced ones
        // fall back to their durable names.
        let mut names = BTreeMap::new();
        for (p, &ino) in &st.names {
            if !st.dirty_dirs.contains(parent(p)) {
                names.insert(p.clone(), ino);
            }
        }
        for (p, &ino) in &st.durable_names {
            if st.dirty_dirs.contains(parent(p)) {
                names.insert(p.clone(), ino);
            }
        }
        for &ino in names.values() {
            let node = st.inodes.get(&ino).cloned().unwrap_or_default();
            let keep = tear(node.pending.len()).min(node.pending.len());
            let mut synced = node.synced;
            synced.extend_from_slice(&node.pending[..keep]);
            out.inodes.insert(
                ino,
                SimInode {
                    synced,
                    pending: Vec::new(),
                },
            );
        }
        out.durable_names = names.clone();
        out.names = names;
        SimFs {
            state: Arc::new(Mutex::new(out)),
        }
    }
}

impl Fs for SimFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let inode = self.open_inode(path, true)?;
        Ok(Box::new(SimFile {
            fs: self.clone(),
            inode,
        }))
    }

    fn append(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let inode = self.open_inode(path, false)?;
        Ok(Box::new(SimFile {
            fs: self.clone(),
            inode,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let st = self.state.lock();
        let ino = st.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(st
            .inodes
            .get(ino)
            .map(SimInode::content)
            .unwrap_or_default())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = st.names.remove(from).ok_or_else(|| not_found(from))?;
        st.names.insert(to.to_path_buf(), ino);
        st.dirty_dirs.insert(parent(from).to_path_buf());
        st.dirty_dirs.insert(parent(to).to_path_buf());
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.names.remove(path).ok_or_else(|| not_found(path))?;
        st.dirty_dirs.insert(parent(path).to_path_buf());
        Ok(())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = *st.names.get(path).ok_or_else(|| not_found(path))?;
        let node = st.inodes.entry(ino).or_default();
        let mut all = node.content();
        all.truncate(len as usize);
        node.synced = all;
        node.pending.clear();
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        if st.fail_syncs {
            return Err(injected("directory fsync"));
        }
        let dir = dir.to_path_buf();
        st.dirty_dirs.remove(&dir);
        let live: Vec<(PathBuf, u64)> = st
            .names
            .iter()
            .filter(|(p, _)| parent(p) == dir)
            .map(|(p, &i)| (p.clone(), i))
            .collect();
        st.durable_names.retain(|p, _| parent(p) != dir);
        st.durable_names.extend(live);
        Ok(())
    }

    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let st = self.state.lock();
        st.names.contains_key(path) || st.names.keys().any(|p| p.starts_with(path))
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        let st = self.state.lock();
        let ino = st.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(st
            .inodes
            .get(ino)
            .map_or(0, |n| (n.synced.len() + n.pending.len()) as u64))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let st = self.state.lock();
        Ok(st
            .names
            .keys()
            .filter(|p| parent(p) == dir)
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn unsynced_bytes_and_names_are_lost_at_a_crash() {
        let fs = SimFs::new();
        let mut f = fs.create(&p("d/a")).expect("create");
        f.write_all(b"hello").expect("write");
        // The file's name was never made durable.
        assert!(!fs.crash(|n| n).exists(&p("d/a")));
        fs.sync_dir(&p("d")).expect("sync dir");
        f.sync_data().expect("sync");
        f.write_all(b" world").expect("write");
        assert_eq!(fs.crash(|_| 0).read(&p("d/a")).expect("read"), b"hello");
        assert_eq!(fs.crash(|_| 3).read(&p("d/a")).expect("read"), b"hello wo");
        assert_eq!(fs.read(&p("d/a")).expect("read"), b"hello world");
    }

    #[test]
    fn write_atomic_leaves_old_or_new() {
        let fs = SimFs::new();
        write_atomic(&fs, &p("d/x"), b"one").expect("first");
        assert_eq!(fs.crash(|n| n / 2).read(&p("d/x")).expect("read"), b"one");
        // A rename not yet synced in its folder is lost: the old file stays.
        let tmp = temp_path(&p("d/x"));
        let mut f = fs.create(&tmp).expect("create");
        f.write_all(b"two").expect("write");
        f.sync_data().expect("sync");
        fs.rename(&tmp, &p("d/x")).expect("rename");
        assert_eq!(fs.crash(|n| n).read(&p("d/x")).expect("read"), b"one");
        fs.sync_dir(&p("d")).expect("sync dir");
        assert_eq!(fs.crash(|_| 0).read(&p("d/x")).expect("read"), b"two");
    }

    #[test]
    fn injected_failures() {
        let fs = SimFs::new();
        let mut f = fs.create(&p("a")).expect("create");
        fs.fail_syncs(true);
        f.write_all(b"x").expect("write still works");
        assert!(f.sync_data().is_err());
        fs.fail_writes(true);
        assert!(f.write_all(b"y").is_err());
        assert!(write_atomic(&fs, &p("b"), b"z").is_err());
    }

    #[test]
    fn real_fs_round_trip() {
        let dir = std::env::temp_dir().join(format!("keyward-fs-{}", std::process::id()));
        let fs = RealFs;
        fs.create_dir_all(&dir).expect("mkdir");
        let file = dir.join("f");
        write_atomic(&fs, &file, b"abc").expect("write");
        assert_eq!(fs.read(&file).expect("read"), b"abc");
        assert_eq!(fs.len(&file).expect("len"), 3);
        let mut a = fs.append(&file).expect("append");
        a.write_all(b"def").expect("write");
        a.sync_data().expect("sync");
        fs.truncate(&file, 4).expect("truncate");
        assert_eq!(fs.read(&file).expect("read"), b"abcd");
        assert_eq!(fs.list(&dir).expect("list"), vec!["f".to_string()]);
        fs.remove(&file).expect("remove");
        assert!(!fs.exists(&file));
        let _ = std::fs::remove_dir(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_keeps_the_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("keyward-fs-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("secret.toml");
        let mode = |f: &Path| std::fs::metadata(f).expect("stat").permissions().mode() & 0o777;
        write_atomic(&RealFs, &file, b"requirepass = \"a\"").expect("write");
        for m in [0o600, 0o640] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(m)).expect("chmod");
            write_atomic(&RealFs, &file, b"requirepass = \"b\"").expect("rewrite");
            assert_eq!(mode(&file), m);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
