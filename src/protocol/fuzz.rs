//! Fuzz bodies. The cargo-fuzz crate in `fuzz/` only forwards to these, so
//! that plain `cargo test` replays the tracked corpus
//! (`fuzz/corpus/resp_decode/`) through the very same checks.
//!
//! [`decode_agrees`] checks the request parser against itself and against
//! `redis-protocol`:
//! - parsing a buffer in one go and parsing it as it arrives in pieces, the
//!   way the connection loop does (re-parse from the first unconsumed byte
//!   once at least `need` bytes are buffered), yield the same commands and
//!   the same final state. The one allowed difference is Redis's own: a
//!   header or inline line that has no terminator *yet* but already exceeds
//!   64 KiB is refused ("too big …") even if the terminator would come later;
//! - a multibulk command we accept, when well formed (`\r\n` everywhere),
//!   decodes to the same arguments and length with `redis-protocol`; and a
//!   canonically encoded array of bulk strings that `redis-protocol`
//!   accepts, we accept too.

use redis_protocol::resp2::decode::decode as oracle_decode;
use redis_protocol::resp2::types::OwnedFrame;

use super::parse::{parse_request, Limits, Parsed, Span};

type Command = Vec<Vec<u8>>;

#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Input ran out; this many bytes were still buffered.
    Incomplete {
        buffered: usize,
    },
    Error(String),
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    commands: Vec<Command>,
    end: End,
}

/// The fuzz target's body; panics on any disagreement.
#[doc(hidden)]
pub fn decode_agrees(data: &[u8]) {
    for authenticated in [true, false] {
        let limits = Limits {
            authenticated,
            ..Limits::default()
        };
        let whole = parse_whole(data, &limits);
        let mut schedules = vec![Schedule::hashed(data)];
        if data.len() <= 1024 {
            schedules.push(Schedule::bytewise());
        }
        for schedule in schedules {
            let label = schedule.label();
            let pieces = parse_chunked(data, &limits, schedule);
            compare(&whole, &pieces, label, authenticated);
        }
    }
}

fn compare(whole: &Outcome, pieces: &Outcome, schedule: &str, authenticated: bool) {
    let early_too_big =
        matches!(&pieces.end, End::Error(e) if e.starts_with("Protocol error: too big"));
    if early_too_big && pieces != whole {
        assert!(
            whole.commands.starts_with(&pieces.commands),
            "{schedule} (auth {authenticated}): commands before a 'too big' error \
             are not a prefix of the one-go parse\nwhole: {whole:?}\npieces: {pieces:?}"
        );
        return;
    }
    assert_eq!(
        whole, pieces,
        "{schedule} (auth {authenticated}): one-go and incremental parses differ"
    );
}

/// Checks what every `parse_request` call promises, whatever the input.
fn check_result(
    r: &Result<Parsed, super::ProtocolError>,
    avail: usize,
    spans: &[Span],
    base: usize,
) {
    match r {
        Ok(Parsed::Command { end }) => {
            assert!(*end > 0 && *end <= avail, "end {end} outside 1..={avail}");
            assert!(spans.len() > base, "a command has at least one argument");
            for &(s, e) in &spans[base..] {
                assert!(s <= e && e <= *end, "span {s}..{e} outside the command");
            }
        }
        Ok(Parsed::Empty { end }) => {
            assert!(*end > 0 && *end <= avail, "end {end} outside 1..={avail}");
            assert_eq!(spans.len(), base, "spans pushed for an empty request");
        }
        Ok(Parsed::Incomplete { need }) => {
            assert!(
                *need > avail,
                "incomplete with need {need} <= {avail} buffered"
            );
            assert_eq!(
                spans.len(),
                base,
                "spans left behind by an incomplete parse"
            );
        }
        Err(_) => assert_eq!(spans.len(), base, "spans left behind by an error"),
    }
}

fn parse_whole(data: &[u8], limits: &Limits) -> Outcome {
    let mut buf = data.to_vec();
    // A sentinel, so that "spans left as they were" is checked against a
    // non-empty vector.
    let mut spans: Vec<Span> = vec![(0, 0)];
    let mut commands = Vec::new();
    let mut pos = 0;
    loop {
        spans.truncate(1);
        let r = parse_request(&mut buf[pos..], limits, &mut spans);
        check_result(&r, buf.len() - pos, &spans, 1);
        let args: Option<Command> = match &r {
            Ok(Parsed::Command { .. }) => Some(
                spans[1..]
                    .iter()
                    .map(|&(s, e)| buf[pos + s..pos + e].to_vec())
                    .collect(),
            ),
            _ => None,
        };
        if data[pos..].first() == Some(&b'*') {
            check_oracle(&data[pos..], &r, args.as_deref(), limits);
        }
        match r {
            Ok(Parsed::Command { end }) => {
                commands.extend(args);
                pos += end;
            }
            Ok(Parsed::Empty { end }) => pos += end,
            Ok(Parsed::Incomplete { .. }) => {
                return Outcome {
                    commands,
                    end: End::Incomplete {
                        buffered: buf.len() - pos,
                    },
                }
            }
            Err(e) => {
                return Outcome {
                    commands,
                    end: End::Error(e.0),
                }
            }
        }
    }
}

/// Read sizes for the incremental parse.
enum Schedule {
    /// xorshift64 seeded from the input: small, medium and large reads.
    Hashed { state: u64, min: usize },
    /// One byte per read: every cut point.
    Bytewise,
}

impl Schedule {
    fn hashed(data: &[u8]) -> Schedule {
        // FNV-1a: any change to the input changes the cut points.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Schedule::Hashed {
            state: h | 1,
            // Bounds the re-parsing to ~256 reads, as a real 16 KiB read does.
            min: data.len() / 256,
        }
    }

    fn bytewise() -> Schedule {
        Schedule::Bytewise
    }

    fn label(&self) -> &'static str {
        match self {
            Schedule::Hashed { .. } => "hashed read sizes",
            Schedule::Bytewise => "one byte per read",
        }
    }

    fn next(&mut self) -> usize {
        match self {
            Schedule::Bytewise => 1,
            Schedule::Hashed { state, min } => {
                let mut x = *state;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *state = x;
                let r = (x >> 8) as usize;
                let size = match x % 4 {
                    0 => 1 + r % 4,
                    1 => 1 + r % 32,
                    2 => 1 + r % 512,
                    _ => 1 + r % 16384,
                };
                size.max(*min)
            }
        }
    }
}

/// Mirrors `server::connection::run`: append a read, skip parsing while
/// fewer than `need` bytes are buffered, parse every complete command from
/// the start of the buffer, then drop the consumed prefix. Arguments are
/// read only after the whole batch was parsed, as the connection does.
fn parse_chunked(data: &[u8], limits: &Limits, mut schedule: Schedule) -> Outcome {
    let mut rbuf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut need = 1usize;
    let mut pending = false;
    let mut spans: Vec<Span> = Vec::new();
    let mut batch: Vec<(usize, usize)> = Vec::new();
    let mut commands = Vec::new();
    while fed < data.len() || pending {
        if !pending {
            let n = schedule.next().min(data.len() - fed);
            rbuf.extend_from_slice(&data[fed..fed + n]);
            fed += n;
        }
        pending = false;
        if rbuf.len() < need {
            continue;
        }
        let mut pos = 0;
        let mut error = None;
        need = 1;
        loop {
            let first = spans.len();
            let r = parse_request(&mut rbuf[pos..], limits, &mut spans);
            check_result(&r, rbuf.len() - pos, &spans, first);
            match r {
                Ok(Parsed::Command { end }) => {
                    for s in &mut spans[first..] {
                        s.0 += pos;
                        s.1 += pos;
                    }
                    batch.push((first, spans.len()));
                    pos += end;
                }
                Ok(Parsed::Empty { end }) => pos += end,
                Ok(Parsed::Incomplete { need: n }) => {
                    need = pos + n;
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
            if !limits.authenticated && !batch.is_empty() {
                pending = true;
                break;
            }
        }
        for &(a, b) in &batch {
            commands.push(
                spans[a..b]
                    .iter()
                    .map(|&(s, e)| rbuf[s..e].to_vec())
                    .collect(),
            );
        }
        batch.clear();
        spans.clear();
        rbuf.drain(..pos);
        need = need.saturating_sub(pos).max(1);
        if let Some(e) = error {
            return Outcome {
                commands,
                end: End::Error(e.0),
            };
        }
    }
    Outcome {
        commands,
        end: End::Incomplete {
            buffered: rbuf.len(),
        },
    }
}

/// Splits a `*`/`$` header at `at`: the digits and the offset after its
/// line, when the line ends in `\r\n` (what `redis-protocol` requires).
fn header(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let cr = at + 1 + buf.get(at + 1..)?.iter().position(|&b| b == b'\r')?;
    (buf.get(cr + 1) == Some(&b'\n')).then(|| (&buf[at + 1..cr], cr + 2))
}

/// Whether the command we parsed from `buf[..end]` uses `\r\n` after every
/// header and payload (we, like Redis, skip those two bytes unchecked).
fn well_formed(buf: &[u8], args: &[Vec<u8>]) -> bool {
    let Some((_, mut pos)) = header(buf, 0) else {
        return false;
    };
    for a in args {
        let Some((_, after)) = header(buf, pos) else {
            return false;
        };
        pos = after + a.len();
        if buf.get(pos..pos + 2) != Some(b"\r\n") {
            return false;
        }
        pos += 2;
    }
    true
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// `buf` starts with `*`; `ours` is what we made of it.
fn check_oracle(
    buf: &[u8],
    ours: &Result<Parsed, super::ProtocolError>,
    args: Option<&[Vec<u8>]>,
    limits: &Limits,
) {
    // Forward: a well-formed command we accept decodes the same way.
    if let (Ok(Parsed::Command { end }), Some(args)) = (ours, args) {
        if well_formed(&buf[..*end], args) {
            let expected = OwnedFrame::Array(
                args.iter()
                    .map(|a| OwnedFrame::BulkString(a.clone()))
                    .collect(),
            );
            match oracle_decode(&buf[..*end]) {
                Ok(Some((frame, used))) => {
                    assert_eq!(frame, expected, "redis-protocol decodes other arguments");
                    assert_eq!(used, *end, "redis-protocol consumes another length");
                }
                other => panic!("redis-protocol rejects a command we accept: {other:?}"),
            }
        }
    }
    if let Ok(Parsed::Empty { end }) = ours {
        match header(buf, 0) {
            Some((b"0", after)) if after == *end => assert!(matches!(
                oracle_decode(&buf[..*end]),
                Ok(Some((OwnedFrame::Array(ref v), n))) if v.is_empty() && n == *end
            )),
            Some((b"-1", after)) if after == *end => assert!(matches!(
                oracle_decode(&buf[..*end]),
                Ok(Some((OwnedFrame::Null, n))) if n == *end
            )),
            _ => {}
        }
    }
    // Backward: a canonical array of bulk strings that redis-protocol
    // accepts, we accept. The decoder recurses once per nested array: keep
    // its stack bounded on adversarial input.
    if buf.iter().filter(|&&b| b == b'*').count() > 256 {
        return;
    }
    let Ok(Some((OwnedFrame::Array(items), used))) = oracle_decode(buf) else {
        return;
    };
    let mut theirs: Vec<&[u8]> = Vec::with_capacity(items.len());
    for item in &items {
        match item {
            OwnedFrame::BulkString(b) => theirs.push(b),
            _ => return,
        }
    }
    if encode(&theirs) != buf[..used] {
        return;
    }
    let within_limits = theirs.iter().all(|a| a.len() <= limits.max_bulk_len)
        && (limits.authenticated
            || (theirs.len() <= 10 && theirs.iter().all(|a| a.len() <= 16384)));
    if !within_limits {
        return;
    }
    if theirs.is_empty() {
        assert_eq!(
            ours,
            &Ok(Parsed::Empty { end: used }),
            "*0 is an empty request"
        );
        return;
    }
    assert_eq!(
        ours,
        &Ok(Parsed::Command { end: used }),
        "we reject a canonical command redis-protocol accepts"
    );
    let args = args.unwrap_or_default();
    assert!(
        args.iter().map(Vec::as_slice).eq(theirs.iter().copied()),
        "arguments differ from redis-protocol's"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_corpus() {
        crate::fuzz_corpus::replay("resp_decode", 30, decode_agrees);
    }

    /// The corpus is only as good as what it covers: the seeds must reach
    /// each outcome the parser has.
    #[test]
    fn corpus_covers_every_outcome() {
        let mut seen = std::collections::BTreeSet::new();
        for (_, data) in crate::fuzz_corpus::files("resp_decode", 30) {
            for authenticated in [true, false] {
                let limits = Limits {
                    authenticated,
                    ..Limits::default()
                };
                let out = parse_whole(&data, &limits);
                if !out.commands.is_empty() {
                    seen.insert("command".to_string());
                }
                match out.end {
                    End::Incomplete { buffered: 0 } => seen.insert("complete".to_string()),
                    End::Incomplete { .. } => seen.insert("incomplete".to_string()),
                    End::Error(e) => seen.insert(e),
                };
            }
        }
        for want in [
            "command",
            "complete",
            "incomplete",
            "Protocol error: invalid multibulk length",
            "Protocol error: invalid bulk length",
            "Protocol error: unbalanced quotes in request",
            "Protocol error: unauthenticated multibulk length",
            "Protocol error: unauthenticated bulk length",
        ] {
            assert!(
                seen.contains(want),
                "no corpus file reaches {want:?}: {seen:?}"
            );
        }
        assert!(
            seen.iter()
                .any(|e| e.starts_with("Protocol error: expected '$'")),
            "{seen:?}"
        );
    }

    /// Lines past 64 KiB: too large for tracked seeds (they would also
    /// raise libFuzzer's default input size), so they are built here.
    #[test]
    fn too_big_lines_agree() {
        use crate::protocol::parse::INLINE_MAX;
        let long = vec![b'1'; INLINE_MAX + 100];
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for prefix in [&b"*"[..], b"*1\r\n$", b"PING\r\nGET "] {
            let mut unterminated = prefix.to_vec();
            unterminated.extend_from_slice(&long);
            cases.push(unterminated.clone());
            // Terminated after 64 KiB: the outcome depends on read sizes,
            // exactly as in Redis.
            unterminated.extend_from_slice(b"\r\n");
            cases.push(unterminated);
        }
        for c in &cases {
            decode_agrees(c);
        }
        let errors: Vec<String> = cases
            .iter()
            .step_by(2)
            .map(|c| match parse_whole(c, &Limits::default()).end {
                End::Error(e) => e,
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            errors,
            [
                "Protocol error: too big mbulk count string",
                "Protocol error: too big bulk count string",
                "Protocol error: too big inline request",
            ]
        );
    }

    /// Pseudo-random pipelines mixing valid, inline and broken requests,
    /// so the checks run on more than the seeds without cargo-fuzz.
    #[test]
    fn generated_pipelines_agree() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let pieces: &[&[u8]] = &[
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            b"*3\r\n$3\r\nSET\r\n$3\r\na\r\nb\r\n$0\r\n\r\n",
            b"*0\r\n",
            b"*-1\r\n",
            b"PING\r\n",
            b"SET \"a\\x41 b\" 'c\\'d'\n",
            b"\r\n",
            b"   \n",
            b"*1\r\n$4\r\nPING\rX",
            b"*2\r\n$1\r\nx\r\n:1\r\n",
            b"*1\r\n$-1\r\n",
            b"*01\r\n",
            b"ECHO \"unterminated\r\n",
            b"*12\r\n",
            b"*1\r\n$20000\r\n",
        ];
        for _ in 0..300 {
            let mut data = Vec::new();
            for _ in 0..1 + rnd(8) {
                data.extend_from_slice(pieces[rnd(pieces.len() as u64) as usize]);
            }
            if rnd(4) == 0 {
                let cut = rnd(data.len() as u64) as usize;
                data.truncate(cut);
            }
            decode_agrees(&data);
        }
    }
}
