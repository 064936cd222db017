//! Redis's glob matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`,
//! `\x` escapes, optional case folding. Used by KEYS, SCAN MATCH, CONFIG
//! GET and (later) PSUBSCRIBE and ACL key patterns.

/// Whether `s` matches `pattern`.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Redis bounds recursion; an iterative matcher with one backtrack
    // point per `*` is linear-ish and cannot overflow the stack.
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(pattern, p, s[i], nocase) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], s[i]) {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, s[i]) {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Matches `c` against the class starting at `pattern[p] == '['`; returns
/// (matched, index after the class). An unterminated class runs to the end,
/// as in Redis.
fn class(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let fold = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
    let c = fold(c);
    let mut j = p + 1;
    let not = pattern.get(j) == Some(&b'^');
    if not {
        j += 1;
    }
    let mut matched = false;
    loop {
        if j >= pattern.len() {
            break;
        }
        match pattern[j] {
            b']' => {
                j += 1;
                break;
            }
            b'\\' if j + 1 < pattern.len() => {
                if fold(pattern[j + 1]) == c {
                    matched = true;
                }
                j += 2;
            }
            a if j + 2 < pattern.len() && pattern[j + 1] == b'-' && pattern[j + 2] != b']' => {
                let (mut lo, mut hi) = (fold(a), fold(pattern[j + 2]));
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                if (lo..=hi).contains(&c) {
                    matched = true;
                }
                j += 3;
            }
            a => {
                if fold(a) == c {
                    matched = true;
                }
                j += 1;
            }
        }
    }
    Some((matched != not, j))
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn redis_glob_cases() {
        assert!(m(b"*", b"anything", false));
        assert!(m(b"h?llo", b"hello", false));
        assert!(m(b"h*llo", b"heeeello", false));
        assert!(m(b"h[ae]llo", b"hallo", false));
        assert!(!m(b"h[ae]llo", b"hillo", false));
        assert!(m(b"h[^e]llo", b"hallo", false));
        assert!(!m(b"h[^e]llo", b"hello", false));
        assert!(m(b"h[a-b]llo", b"hbllo", false));
        assert!(m(b"h\\*llo", b"h*llo", false));
        assert!(!m(b"h\\*llo", b"hello", false));
        assert!(m(b"HELLO", b"hello", true));
        assert!(!m(b"a*b", b"acbd", false));
        assert!(m(b"*a*b*c*", b"xaybzc", false));
        assert!(m(b"", b"", false));
        assert!(!m(b"", b"a", false));
        assert!(m(b"maxmemory*", b"maxmemory-policy", false));
    }
}
