//! The `#!` first line of a script (EVAL, SCRIPT LOAD) or a library
//! (FUNCTION LOAD): one splitter for both, as Redis splits both with
//! `sdssplitargs`, and the flags an EVAL script may declare there
//! (`#!lua flags=no-writes,allow-oom`, Redis's `evalExtractShebangFlags`).

use super::functions::flag;
use crate::commands::spec::flags as cmd;

/// The words of a `#!` line and where the code after it starts.
pub type Line = (Vec<Vec<u8>>, usize);

/// A first line that starts with `#!` but cannot be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// No newline after it (nothing but the shebang).
    NoNewline,
    /// Unbalanced quotes, or no words at all.
    Words,
}

/// The words of the `#!` line of `code` (the first is `#!<engine>`) and
/// where the code after it starts: at the line's newline, so the code keeps
/// its line numbers. `Ok(None)` when `code` does not start with `#!`.
pub fn split(code: &[u8]) -> Result<Option<Line>, Malformed> {
    if !code.starts_with(b"#!") {
        return Ok(None);
    }
    let end = code
        .iter()
        .position(|&c| c == b'\n')
        .ok_or(Malformed::NoNewline)?;
    match crate::protocol::parse::split_args(&code[..end]) {
        Some(words) if !words.is_empty() => Ok(Some((words, end))),
        _ => Err(Malformed::Words),
    }
}

/// The flags an EVAL script declares and where its code starts:
/// `Ok(None)` for a script without a shebang (Redis's compatibility mode:
/// the command's own flags apply, and writes are checked call by call).
/// The error is Redis's text without the `ERR ` prefix.
pub fn eval_flags(code: &[u8]) -> Result<Option<(u8, usize)>, String> {
    let (words, end) = match split(code) {
        Ok(None) => return Ok(None),
        Ok(Some(s)) => s,
        Err(Malformed::NoNewline) => return Err("Invalid script shebang".into()),
        Err(Malformed::Words) => return Err("Invalid engine in script shebang".into()),
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // Case-sensitive, as Redis's strcmp (FUNCTION's engine name is not).
    if words[0] != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            text(&words[0])
        ));
    }
    let mut bits = 0;
    for word in &words[1..] {
        let Some(list) = word.strip_prefix(b"flags=") else {
            return Err(format!("Unknown lua shebang option: {}", text(word)));
        };
        // `flags=` alone declares none; an empty name between commas is
        // an unknown flag, as Redis's sdssplitlen gives it.
        if list.is_empty() {
            continue;
        }
        for name in list.split(|&c| c == b',') {
            let (bit, _) = flag::NAMES
                .iter()
                .find(|(_, n)| n.as_bytes() == name)
                .ok_or_else(|| format!("Unexpected flag in script shebang: {}", text(name)))?;
            bits |= bit;
        }
    }
    Ok(Some((bits, end)))
}

/// The command flags a script that declared `script` flags runs with
/// (Redis's `scriptFlagsToCmdFlags`): a write, denyoom command unless it
/// says `no-writes` (which implies `allow-oom`) or `allow-oom`; never
/// may-replicate, since it says whether it writes.
pub fn command_flags(row: u32, script: u8) -> u32 {
    let mut f = row & !(cmd::STALE | cmd::DENYOOM | cmd::WRITE | cmd::MAY_REPLICATE);
    if script & (flag::ALLOW_OOM | flag::NO_WRITES) == 0 {
        f |= cmd::DENYOOM;
    }
    if script & flag::NO_WRITES == 0 {
        f |= cmd::WRITE;
    }
    if script & flag::ALLOW_STALE != 0 {
        f |= cmd::STALE;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_shebangs_as_redis_reads_them() {
        assert_eq!(eval_flags(b"return 1"), Ok(None));
        assert_eq!(eval_flags(b"#!lua\nreturn 1"), Ok(Some((0, 5))));
        assert_eq!(
            eval_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1"),
            Ok(Some((flag::NO_WRITES | flag::ALLOW_OOM, 31)))
        );
        assert_eq!(eval_flags(b"#!lua flags=\nx"), Ok(Some((0, 12))));
        assert_eq!(
            eval_flags(b"#!lua \"flags=no-writes\"\nx").map(|o| o.map(|f| f.0)),
            Ok(Some(flag::NO_WRITES))
        );
        let err = |s: &[u8]| eval_flags(s).expect_err("refused");
        assert_eq!(err(b"#!lua"), "Invalid script shebang");
        assert_eq!(
            err(b"#!lua \"x\nreturn 1"),
            "Invalid engine in script shebang"
        );
        assert_eq!(
            err(b"#!LUA\nx"),
            "Unexpected engine in script shebang: #!LUA"
        );
        assert_eq!(err(b"#! lua\nx"), "Unexpected engine in script shebang: #!");
        assert_eq!(
            err(b"#!lua flags=no-writes,,allow-oom\nx"),
            "Unexpected flag in script shebang: "
        );
        assert_eq!(
            err(b"#!lua flags=NO-WRITES\nx"),
            "Unexpected flag in script shebang: NO-WRITES"
        );
        assert_eq!(
            err(b"#!lua name=x\nx"),
            "Unknown lua shebang option: name=x"
        );
    }

    #[test]
    fn declared_flags_replace_the_rows_write_flags() {
        let row = cmd::NOSCRIPT | cmd::STALE | cmd::MAY_REPLICATE;
        assert_eq!(
            command_flags(row, 0),
            cmd::NOSCRIPT | cmd::WRITE | cmd::DENYOOM
        );
        assert_eq!(command_flags(row, flag::NO_WRITES), cmd::NOSCRIPT);
        assert_eq!(
            command_flags(row, flag::ALLOW_OOM),
            cmd::NOSCRIPT | cmd::WRITE
        );
        assert_eq!(
            command_flags(row, flag::NO_WRITES | flag::ALLOW_STALE),
            cmd::NOSCRIPT | cmd::STALE
        );
    }
}
