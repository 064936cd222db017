//! The AOF manifest: which files make up the log, in Redis 7's format, so a
//! directory written by keyward loads in Redis and the other way round.
//!
//! One line per file, `file <name> seq <n> type <b|i|h>\n`: the base first,
//! then history files, then the incr files in sequence order. A name that
//! needs quoting is written as `sdscatrepr` does and read back with
//! `sdssplitargs` rules (the inline-command splitter we already have).

use crate::protocol::parse::{sds_repr, sds_trim, split_args};
use std::fmt::Write as _;
use std::path::Path;

use crate::persistence::fs::{write_atomic, Fs};

/// Redis's `MANIFEST_MAX_LINE`.
const MAX_LINE: usize = 1024;

/// What a file in the manifest is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// The snapshot of the last rewrite (RDB or RESP).
    Base,
    /// Commands since that snapshot.
    Incr,
    /// Superseded by a rewrite, waiting to be deleted.
    History,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::Incr => 'i',
            FileKind::History => 'h',
        }
    }
}

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofInfo {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// The parsed manifest. Base and incr sequence numbers are separate
/// counters, as in Redis.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofInfo>,
    pub history: Vec<AofInfo>,
    pub incrs: Vec<AofInfo>,
    pub curr_base_seq: u64,
    pub curr_incr_seq: u64,
}

/// A manifest Redis would refuse, with Redis's text for the problem.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("Found an empty AOF manifest")]
    Empty,
    #[error("{problem} (reading the manifest file, at line {line}: '{text}')")]
    Invalid {
        problem: &'static str,
        line: usize,
        text: String,
    },
}

impl Manifest {
    /// Parses a manifest as Redis's `aofLoadManifestFromFile` does.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut linenum = 0;
        let mut rest = bytes;
        while !rest.is_empty() {
            linenum += 1;
            // Redis reads with fgets into a 1025-byte buffer: a line that
            // has no '\n' within it (too long, or the last line unterminated)
            // is refused, except comments, which are skipped first.
            let nl = rest.iter().position(|&b| b == b'\n');
            let (line, next) = match nl {
                Some(i) if i < MAX_LINE => (&rest[..=i], &rest[i + 1..]),
                _ => {
                    let shown = &rest[..rest.len().min(MAX_LINE)];
                    if shown.first() == Some(&b'#') {
                        // A long comment is read in pieces by fgets; each
                        // piece is skipped only if it starts with '#'.
                        // Keep it simple: skip to the end of the line.
                        rest = nl.map_or(&[][..], |i| &rest[i + 1..]);
                        continue;
                    }
                    return Err(invalid(
                        "The AOF manifest file contains too long line",
                        linenum,
                        shown,
                    ));
                }
            };
            rest = next;
            if line[0] == b'#' {
                continue;
            }
            let trimmed = sds_trim(line);
            let bad = |problem| Err(invalid(problem, linenum, trimmed));
            if trimmed.is_empty() || trimmed[0] == b'*' {
                // '*' would make the splitter read a RESP array.
                return bad("Invalid AOF manifest file format");
            }
            let Some(args) = split_args(trimmed) else {
                return bad("Invalid AOF manifest file format");
            };
            // `argc < 6` rather than `!= 6`: Redis leaves room for new keys.
            if args.len() < 6 || args.len() % 2 != 0 {
                return bad("Invalid AOF manifest file format");
            }
            let (mut name, mut seq, mut kind) = (None, 0u64, 0u8);
            for pair in args.chunks(2) {
                let key = &pair[0];
                let val = &pair[1];
                if key.eq_ignore_ascii_case(b"file") {
                    if val.contains(&b'/') || val.contains(&b'\\') {
                        return bad("File can't be a path, just a filename");
                    }
                    name = Some(val.clone());
                } else if key.eq_ignore_ascii_case(b"seq") {
                    // Redis uses atoll: garbage reads as 0, which is refused
                    // just below.
                    seq = std::str::from_utf8(val)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(0);
                } else if key.eq_ignore_ascii_case(b"type") {
                    kind = val.first().copied().unwrap_or(0);
                }
            }
            let name = match name.map(String::from_utf8) {
                Some(Ok(n)) if !n.is_empty() => n,
                _ => return bad("Invalid AOF manifest file format"),
            };
            if seq == 0 || kind == 0 {
                return bad("Invalid AOF manifest file format");
            }
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return bad("Found duplicate base file information");
                    }
                    m.curr_base_seq = seq;
                    m.base = Some(AofInfo {
                        name,
                        seq,
                        kind: FileKind::Base,
                    });
                }
                b'h' => m.history.push(AofInfo {
                    name,
                    seq,
                    kind: FileKind::History,
                }),
                b'i' => {
                    if seq <= m.curr_incr_seq {
                        return bad("Found a non-monotonic sequence number");
                    }
                    m.curr_incr_seq = seq;
                    m.incrs.push(AofInfo {
                        name,
                        seq,
                        kind: FileKind::Incr,
                    });
                }
                _ => return bad("Unknown AOF file type"),
            }
        }
        if linenum == 0 {
            return Err(ManifestError::Empty);
        }
        Ok(m)
    }

    /// The manifest text, as Redis's `getAofManifestAsString`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        let lines = self.base.iter().chain(&self.history).chain(&self.incrs);
        for ai in lines {
            let name = if needs_repr(&ai.name) {
                sds_repr(ai.name.as_bytes())
            } else {
                ai.name.clone()
            };
            // Writing to a String cannot fail.
            let _ = writeln!(out, "file {name} seq {} type {}", ai.seq, ai.kind.letter());
        }
        out.into_bytes()
    }

    /// Writes the manifest crash-safely (temp file, fsync, rename, dir fsync).
    pub fn persist(&self, fs: &dyn Fs, path: &Path) -> std::io::Result<()> {
        write_atomic(fs, path, &self.to_bytes())
    }

    /// Adds a new incr file (next incr sequence) and returns its name.
    pub fn new_incr(&mut self, appendfilename: &str) -> String {
        self.curr_incr_seq += 1;
        let name = format!("{appendfilename}.{}.incr.aof", self.curr_incr_seq);
        self.incrs.push(AofInfo {
            name: name.clone(),
            seq: self.curr_incr_seq,
            kind: FileKind::Incr,
        });
        name
    }

    /// Installs a new base after a rewrite: the old base and every incr
    /// but the one being written (the last) become history, listed in
    /// Redis's order (incr files, then the old base).
    pub fn install_base(&mut self, appendfilename: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileKind::History;
            self.history.insert(0, old);
        }
        self.curr_base_seq += 1;
        let ext = if rdb { "rdb" } else { "aof" };
        let name = format!("{appendfilename}.{}.base.{ext}", self.curr_base_seq);
        self.base = Some(AofInfo {
            name: name.clone(),
            seq: self.curr_base_seq,
            kind: FileKind::Base,
        });
        let keep = self.incrs.pop();
        for mut ai in self.incrs.drain(..).rev() {
            ai.kind = FileKind::History;
            self.history.insert(0, ai);
        }
        self.incrs.extend(keep);
        name
    }
}

fn invalid(problem: &'static str, line: usize, text: &[u8]) -> ManifestError {
    ManifestError::Invalid {
        problem,
        line,
        text: String::from_utf8_lossy(text).into_owned(),
    }
}

/// C's `isprint` in the C locale.
fn is_print(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// `sdsneedsrepr`.
fn needs_repr(s: &str) -> bool {
    s.bytes().any(|b| {
        matches!(b, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 0x07 | 0x08)
            || !is_print(b)
            || b.is_ascii_whitespace()
            || b == 0x0b
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] = b"file appendonly.aof.2.base.rdb seq 2 type b\n\
file appendonly.aof.2.incr.aof seq 2 type i\n";

    #[test]
    fn parses_and_writes_redis_format() {
        let m = Manifest::parse(FIXTURE).expect("parse");
        assert_eq!(
            m.base.as_ref().map(|b| b.name.as_str()),
            Some("appendonly.aof.2.base.rdb")
        );
        assert_eq!(m.incrs.len(), 1);
        assert_eq!((m.curr_base_seq, m.curr_incr_seq), (2, 2));
        assert_eq!(m.to_bytes(), FIXTURE);
    }

    #[test]
    fn names_needing_quotes_round_trip() {
        let mut m = Manifest::default();
        for (i, name) in ["my aof.1.incr.aof", "q\"uo te\t.aof", "caf\u{e9}.aof"]
            .iter()
            .enumerate()
        {
            m.incrs.push(AofInfo {
                name: (*name).to_string(),
                seq: i as u64 + 1,
                kind: FileKind::Incr,
            });
        }
        m.curr_incr_seq = 3;
        let text = m.to_bytes();
        let s = String::from_utf8_lossy(&text);
        assert!(
            s.starts_with("file \"my aof.1.incr.aof\" seq 1 type i\n"),
            "{s}"
        );
        assert!(s.contains("\"q\\\"uo te\\t.aof\""), "{s}");
        assert!(s.contains("\"caf\\xc3\\xa9.aof\""), "{s}");
        assert_eq!(Manifest::parse(&text).expect("parse"), m);
    }

    #[test]
    fn refuses_what_redis_refuses() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "Found an empty AOF manifest"),
            (b"file a seq 1 type b", "too long line"),
            (b"file a seq 1\n", "Invalid AOF manifest file format"),
            (b"\n", "Invalid AOF manifest file format"),
            (b"file a/b seq 1 type b\n", "File can't be a path"),
            (b"file a seq x type b\n", "Invalid AOF manifest file format"),
            (
                b"file a seq 1 type b\nfile b seq 2 type b\n",
                "duplicate base",
            ),
            (
                b"file a seq 2 type i\nfile b seq 2 type i\n",
                "non-monotonic",
            ),
            (b"file a seq 1 type z\n", "Unknown AOF file type"),
            (
                b"file \"a seq 1 type b\n",
                "Invalid AOF manifest file format",
            ),
        ];
        for (text, want) in cases {
            let err = Manifest::parse(text).expect_err("must refuse").to_string();
            assert!(
                err.contains(want),
                "{:?}: {err}",
                String::from_utf8_lossy(text)
            );
        }
        // Comments and extra key/value pairs are fine.
        let ok = b"# hi\nfile a seq 1 type i future x\n";
        assert_eq!(Manifest::parse(ok).expect("parse").incrs.len(), 1);
    }

    #[test]
    fn rewrite_moves_old_files_to_history() {
        let mut m = Manifest::parse(FIXTURE).expect("parse");
        let incr = m.new_incr("appendonly.aof");
        assert_eq!(incr, "appendonly.aof.3.incr.aof");
        let base = m.install_base("appendonly.aof", false);
        assert_eq!(base, "appendonly.aof.3.base.aof");
        let text = String::from_utf8(m.to_bytes()).expect("utf8");
        assert_eq!(
            text,
            "file appendonly.aof.3.base.aof seq 3 type b\n\
file appendonly.aof.2.incr.aof seq 2 type h\n\
file appendonly.aof.2.base.rdb seq 2 type h\n\
file appendonly.aof.3.incr.aof seq 3 type i\n"
        );
    }
}
