//! Reply encoding straight into a connection's output buffer.
//!
//! Handlers describe a reply in RESP3 terms (map, set, double, null, push);
//! [`ReplyBuf`] writes the RESP2 downgrade when the connection speaks RESP2,
//! exactly as Redis does (maps become flat arrays, doubles bulk strings,
//! booleans integers, nulls `$-1`/`*-1`).

/// Protocol version negotiated by HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// A connection's pending output.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    pub buf: Vec<u8>,
    pub proto: Protocol,
}

impl ReplyBuf {
    pub fn new(proto: Protocol) -> Self {
        ReplyBuf {
            buf: Vec::with_capacity(16 * 1024),
            proto,
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `mark` (used by CLIENT REPLY OFF/SKIP).
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    #[inline]
    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `+text`. The text must not contain CR or LF.
    #[inline]
    pub fn simple(&mut self, text: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(text);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `-text`: `text` is the whole line after the dash, prefix included
    /// (`ERR …`, `WRONGTYPE …`). Newlines are replaced by spaces, as Redis does.
    pub fn error(&mut self, text: &[u8]) {
        self.buf.push(b'-');
        self.buf.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string (`$-1` / `_`).
    #[inline]
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs (a flat array of `2n` in RESP2).
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', 2 * n as i64),
            Protocol::Resp3 => self.header(b'%', n as i64),
        }
    }

    /// A set of `n` members (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n as i64),
            Protocol::Resp3 => self.header(b'~', n as i64),
        }
    }

    /// An out-of-band push of `n` items (an array in RESP2).
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n as i64),
            Protocol::Resp3 => self.header(b'>', n as i64),
        }
    }

    /// A double: RESP3 `,` or a RESP2 bulk string, formatted as Redis does.
    pub fn double(&mut self, v: f64) {
        let mut tmp = [0u8; 40];
        let s = format_double(v, &mut tmp);
        match self.proto {
            Protocol::Resp2 => self.bulk(s),
            Protocol::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(s);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean: RESP3 `#t`/`#f`, RESP2 `:1`/`:0`.
    pub fn bool(&mut self, v: bool) {
        match (self.proto, v) {
            (Protocol::Resp2, true) => self.buf.extend_from_slice(b":1\r\n"),
            (Protocol::Resp2, false) => self.buf.extend_from_slice(b":0\r\n"),
            (Protocol::Resp3, true) => self.buf.extend_from_slice(b"#t\r\n"),
            (Protocol::Resp3, false) => self.buf.extend_from_slice(b"#f\r\n"),
        }
    }

    /// A verbatim string (`=len\r\ntxt:…`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, data: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(data),
            Protocol::Resp3 => {
                self.header(b'=', data.len() as i64 + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(data);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A big number: RESP3 `(digits`, a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => {
                self.buf.push(b'(');
                self.buf.extend_from_slice(digits);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// An array of status lines (the HELP replies).
    pub fn status_lines(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for l in lines {
            self.simple(l.as_bytes());
        }
    }

    /// Raw, already encoded bytes.
    pub fn raw(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
}

/// Formats a double the way Redis 7 replies with it: `inf`/`-inf`/`nan`,
/// integers without a fraction when exactly representable, otherwise the
/// shortest string that round-trips.
pub fn format_double(v: f64, out: &mut [u8; 40]) -> &[u8] {
    let s: &[u8] = if v.is_nan() {
        b"nan"
    } else if v == f64::INFINITY {
        b"inf"
    } else if v == f64::NEG_INFINITY {
        b"-inf"
    } else if v == v.trunc() && v.abs() < 1e17 {
        let mut b = itoa::Buffer::new();
        let s = b.format(v as i64).as_bytes();
        let n = s.len();
        out[..n].copy_from_slice(s);
        // -0.0 prints as "-0" in Redis.
        if v == 0.0 && v.is_sign_negative() {
            out[..2].copy_from_slice(b"-0");
            return &out[..2];
        }
        return &out[..n];
    } else {
        let mut b = ryu::Buffer::new();
        let s = b.format_finite(v).as_bytes();
        let n = s.len().min(40);
        out[..n].copy_from_slice(&s[..n]);
        return fix_exponent(out, n);
    };
    let n = s.len();
    out[..n].copy_from_slice(s);
    &out[..n]
}

/// ryu writes `1e30` / `1.5e-7`; C's `%.17g` family writes `1e+30` /
/// `1.5e-07`. Rewrite the exponent in C's form.
fn fix_exponent(out: &mut [u8; 40], n: usize) -> &[u8] {
    let Some(e) = out[..n].iter().position(|&c| c == b'e') else {
        return &out[..n];
    };
    let mut tmp = [0u8; 40];
    let mut len = 0;
    tmp[..=e].copy_from_slice(&out[..=e]);
    len += e + 1;
    let (sign, digits_at) = if out[e + 1] == b'-' {
        (b'-', e + 2)
    } else {
        (b'+', e + 1)
    };
    tmp[len] = sign;
    len += 1;
    let digits = &out[digits_at..n];
    if digits.len() < 2 {
        tmp[len] = b'0';
        len += 1;
    }
    tmp[len..len + digits.len()].copy_from_slice(digits);
    len += digits.len();
    out[..len].copy_from_slice(&tmp[..len]);
    &out[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> String {
        let mut tmp = [0u8; 40];
        String::from_utf8(format_double(v, &mut tmp).to_vec()).unwrap()
    }

    #[test]
    fn doubles_like_redis() {
        assert_eq!(d(1.0), "1");
        assert_eq!(d(1.5), "1.5");
        assert_eq!(d(0.1), "0.1");
        assert_eq!(d(f64::INFINITY), "inf");
        assert_eq!(d(f64::NEG_INFINITY), "-inf");
        assert_eq!(d(1e30), "1e+30");
        assert_eq!(d(1.5e-7), "1.5e-07");
        assert_eq!(d(7e15), "7000000000000000");
    }

    #[test]
    fn resp2_downgrades() {
        let mut r = ReplyBuf::new(Protocol::Resp2);
        r.map(2);
        r.null();
        r.bool(true);
        r.double(2.5);
        assert_eq!(r.buf, b"*4\r\n$-1\r\n:1\r\n$3\r\n2.5\r\n");
        let mut r = ReplyBuf::new(Protocol::Resp3);
        r.map(2);
        r.null();
        r.bool(true);
        r.double(2.5);
        assert_eq!(r.buf, b"%2\r\n_\r\n#t\r\n,2.5\r\n");
    }
}
