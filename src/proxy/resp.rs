//! Where one reply frame ends, RESP2 or RESP3: replies are relayed as the
//! upstream's bytes, and only their boundaries are needed to match them to
//! requests.

/// The upstream sent something that is no RESP frame.
#[derive(Debug, PartialEq, Eq)]
pub struct BadFrame;

/// The length of the frame at the start of `b`: `Ok(None)` while it is
/// incomplete. Iterative (a count of frames still owed), so a deeply nested
/// reply cannot overflow the stack.
pub fn frame_len(b: &[u8]) -> Result<Option<usize>, BadFrame> {
    let mut pos = 0usize;
    let mut owed = 1usize;
    while owed > 0 {
        owed -= 1;
        let Some(&kind) = b.get(pos) else {
            return Ok(None);
        };
        let Some(nl) = memchr(&b[pos + 1..]) else {
            return Ok(None);
        };
        let line = &b[pos + 1..pos + 1 + nl];
        pos += nl + 3;
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => {}
            b'$' | b'!' | b'=' => {
                let n = number(line)?;
                if n >= 0 {
                    pos += n as usize + 2;
                    if pos > b.len() {
                        return Ok(None);
                    }
                }
            }
            b'*' | b'~' | b'>' => {
                let n = number(line)?;
                if n > 0 {
                    owed += n as usize;
                }
            }
            b'%' | b'|' => {
                let n = number(line)?;
                if n > 0 {
                    owed += 2 * n as usize;
                }
                // An attribute map comes before the reply it annotates.
                if kind == b'|' {
                    owed += 1;
                }
            }
            _ => return Err(BadFrame),
        }
    }
    Ok(Some(pos))
}

/// The offset of the `\r` of the first `\r\n` in `b`.
fn memchr(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < b.len() {
        match b[i..].iter().position(|&c| c == b'\r') {
            Some(p) if i + p + 1 < b.len() => {
                if b[i + p + 1] == b'\n' {
                    return Some(i + p);
                }
                i += p + 1;
            }
            _ => return None,
        }
    }
    None
}

fn number(line: &[u8]) -> Result<i64, BadFrame> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BadFrame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(frame_len(b"+OK\r\n"), Ok(Some(5)));
        assert_eq!(frame_len(b"+OK\r"), Ok(None));
        assert_eq!(frame_len(b"$3\r\nabc\r\n+x"), Ok(Some(9)));
        assert_eq!(frame_len(b"$3\r\nabc\r"), Ok(None));
        assert_eq!(frame_len(b"$-1\r\n"), Ok(Some(5)));
        assert_eq!(frame_len(b"*2\r\n:1\r\n$1\r\na\r\n"), Ok(Some(15)));
        assert_eq!(frame_len(b"*2\r\n:1\r\n"), Ok(None));
        assert_eq!(frame_len(b"*-1\r\n"), Ok(Some(5)));
        assert_eq!(frame_len(b"%1\r\n+a\r\n*0\r\n"), Ok(Some(12)));
        assert_eq!(frame_len(b"|1\r\n+a\r\n+b\r\n:1\r\n"), Ok(Some(16)));
        assert_eq!(frame_len(b">2\r\n+a\r\n_\r\n"), Ok(Some(11)));
        assert_eq!(frame_len(b"$2\r\n\r\n\r\n"), Ok(Some(8)));
        assert_eq!(frame_len(b"?x\r\n"), Err(BadFrame));
        assert_eq!(frame_len(b"$x\r\n"), Err(BadFrame));
    }
}
