//! The tracked seed corpora of the fuzz targets (`fuzz/corpus/<target>/`),
//! which each target's `replay_corpus` test runs under `cargo test`.

use std::path::PathBuf;

/// The files of `target`'s corpus, sorted by name: at least `min` of them
/// (a corpus that lost its seeds would pass any replay).
pub fn files(target: &str, min: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} is tracked: {e}", dir.display()))
        .map(|e| e.expect("readable corpus entry").path())
        .collect();
    paths.sort();
    assert!(paths.len() >= min, "only {} corpus files", paths.len());
    paths
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("readable corpus file");
            (p, data)
        })
        .collect()
}

/// Runs `check` on every file of `target`'s corpus (at least `min`),
/// naming the file whose check panics; returns what each check returned.
pub fn replay<T>(target: &str, min: usize, check: impl Fn(&[u8]) -> T) -> Vec<T> {
    files(target, min)
        .iter()
        .map(|(path, data)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(data)))
                .unwrap_or_else(|_| panic!("corpus file {} fails", path.display()))
        })
        .collect()
}
