//! LZF, the compression of RDB strings (`lzf_c.c` / `lzf_d.c`'s format).
//!
//! The `lzf` crate is deprecated, and the format is small: a control byte
//! below 32 starts a run of `ctrl + 1` literal bytes; any other is a back
//! reference of `(ctrl >> 5) + 2` bytes (7 means "add the next byte") at
//! distance `((ctrl & 31) << 8 | next) + 1`.

/// Longest literal run one control byte describes.
const MAX_LIT: usize = 32;
/// Farthest a back reference reaches.
const MAX_OFF: usize = 1 << 13;
/// Longest back reference.
const MAX_REF: usize = (1 << 8) + (1 << 3);
const HLOG: u32 = 14;

/// Decompresses `input` into exactly `out_len` bytes; `None` when the data
/// is malformed or does not decompress to that length.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < MAX_LIT {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(ip)?);
                ip += 1;
            }
            let off = ((ctrl & 0x1f) << 8) + usize::from(*input.get(ip)?) + 1;
            ip += 1;
            len += 2;
            if off > out.len() || out.len() + len > out_len {
                return None;
            }
            // Byte by byte: the source may overlap what is being written
            // (a run of one repeated byte is a reference at distance 1).
            let from = out.len() - off;
            for i in 0..len {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

/// Compresses `input`; `None` when that would not save at least 4 bytes
/// (Redis then stores the string as is).
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    let limit = input.len().checked_sub(4)?;
    let mut out = Vec::with_capacity(limit);
    let mut htab = vec![usize::MAX; 1 << HLOG];
    let hash = |p: &[u8]| -> usize {
        let v = u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]);
        (v.wrapping_mul(2_654_435_761) >> (32 - HLOG)) as usize
    };
    let (mut ip, mut lit) = (0, 0);
    while ip + 2 < input.len() {
        let h = hash(&input[ip..]);
        let r = htab[h];
        htab[h] = ip;
        if r != usize::MAX && ip - r <= MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
            let max = (input.len() - ip).min(MAX_REF);
            let mut l = 3;
            while l < max && input[r + l] == input[ip + l] {
                l += 1;
            }
            push_literals(&mut out, &input[lit..ip]);
            let off = ip - r - 1;
            let code = l - 2;
            if code < 7 {
                out.push(((off >> 8) | (code << 5)) as u8);
            } else {
                out.push(((off >> 8) | (7 << 5)) as u8);
                out.push((code - 7) as u8);
            }
            out.push((off & 0xff) as u8);
            ip += l;
            lit = ip;
        } else {
            ip += 1;
        }
        if out.len() >= limit {
            return None;
        }
    }
    push_literals(&mut out, &input[lit..]);
    (out.len() < limit).then_some(out)
}

fn push_literals(out: &mut Vec<u8>, mut lit: &[u8]) {
    while !lit.is_empty() {
        let n = lit.len().min(MAX_LIT);
        out.push((n - 1) as u8);
        out.extend_from_slice(&lit[..n]);
        lit = &lit[n..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let cases: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"0123456789abcdef".repeat(300),
            (0..5000u32).map(|i| (i * 7 % 13) as u8).collect(),
        ];
        for c in cases {
            let z = compress(&c).expect("repetitive input compresses");
            assert!(z.len() < c.len());
            assert_eq!(decompress(&z, c.len()).as_deref(), Some(&c[..]));
        }
    }

    #[test]
    fn incompressible_is_refused() {
        let noise: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(compress(&noise).is_none());
    }

    #[test]
    fn malformed_input_is_refused() {
        // Reference before any output; literal run past the end; wrong length.
        assert!(decompress(&[0x20, 0x00], 3).is_none());
        assert!(decompress(&[0x05, b'a'], 6).is_none());
        assert!(decompress(&[0x00, b'a'], 2).is_none());
    }
}
