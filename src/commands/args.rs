//! Argument parsing shared by handlers: numbers with Redis's rules and
//! error texts, case-insensitive option matching.

use super::errors::{self, Error};
use crate::protocol::parse::parse_i64;

/// ASCII case-insensitive comparison with an option name.
#[inline]
pub fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// `ON` or `OFF` (any case), else Redis's syntax error (CLIENT NO-EVICT,
/// CLIENT NO-TOUCH).
pub fn on_off(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(super::errors::SYNTAX)
    }
}

/// An integer argument (`ERR value is not an integer or out of range`).
#[inline]
pub fn int(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(errors::NOT_INTEGER)
}

/// An integer argument with a command-specific error text.
pub fn parse_i64_or(arg: &[u8], msg: &'static str) -> Result<i64, Error> {
    parse_i64(arg).ok_or(Error::lit(msg))
}

/// A non-negative integer argument that must fit `usize`.
pub fn count(arg: &[u8]) -> Result<usize, Error> {
    match parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(errors::NOT_INTEGER),
    }
}

/// Parses a float the way Redis's `string2ld`/`strtold` accept it: decimal
/// or exponent forms, `inf`/`-inf`/`+inf` (any case), no spaces, no NaN.
pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg.len() > 5000 {
        return None;
    }
    let s = std::str::from_utf8(arg).ok()?;
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    // Compared in place: lowercasing a copy cost an allocation for every
    // float argument (two per GEOADD member).
    let body = s.trim_start_matches(['+', '-']);
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body.eq_ignore_ascii_case("nan") {
        return None;
    }
    // Rust accepts forms strtod does not ("1_0" is rejected by both; Rust
    // also rejects hex floats, which Redis accepts rarely enough to ignore).
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// A float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, Error> {
    parse_f64(arg).ok_or(errors::NOT_FLOAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"abc"), None);
    }
}
