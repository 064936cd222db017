//! `struct`, as Redis's lua_struct.c (Roberto's struct 0.2 with Redis's
//! bounds checks) on x86-64: native little endian, short 2, int 4, long
//! and size_t 8, max alignment 8.
//!
//! Format: `>` `<` endianness, `![n]` alignment, `b B h H l L T i[n] I[n]`
//! integers, `f d` floats, `c[n]` fixed strings (`c0`: whole string when
//! packing, previous number as length when unpacking), `s` zero-terminated
//! string, `x` padding, ' ' ignored.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::{arg_error, check_bytes, check_number, raise_str};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

pub fn table(lua: &Lua, k: &Table) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let kk = k.clone();
    t.raw_set(
        "pack",
        lua.create_function(move |lua, args: Variadic<Value>| pack(lua, &kk, &args))?,
    )?;
    let kk = k.clone();
    t.raw_set(
        "unpack",
        lua.create_function(move |lua, args: Variadic<Value>| unpack(lua, &kk, &args))?,
    )?;
    let kk = k.clone();
    t.raw_set(
        "size",
        lua.create_function(move |lua, args: Variadic<Value>| size(lua, &kk, &args))?,
    )?;
    Ok(t)
}

struct Header {
    little: bool,
    align: usize,
}

/// The format up to its first NUL (C string semantics).
fn format(lua: &Lua, k: &Table, args: &[Value]) -> mlua::Result<Vec<u8>> {
    let mut f = check_bytes(lua, k, args, 0)?;
    if let Some(i) = f.iter().position(|&c| c == 0) {
        f.truncate(i);
    }
    Ok(f)
}

fn getnum(lua: &Lua, k: &Table, fmt: &[u8], i: &mut usize, df: usize) -> mlua::Result<usize> {
    if !fmt.get(*i).is_some_and(u8::is_ascii_digit) {
        return Ok(df);
    }
    let mut a: i32 = 0;
    while let Some(&c) = fmt.get(*i).filter(|c| c.is_ascii_digit()) {
        let d = (c - b'0') as i32;
        if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
            return Err(raise_str(lua, k, "integral size overflow"));
        }
        a = a * 10 + d;
        *i += 1;
    }
    Ok(a as usize)
}

fn optsize(lua: &Lua, k: &Table, opt: u8, fmt: &[u8], i: &mut usize) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => getnum(lua, k, fmt, i, 1)?,
        b'i' | b'I' => {
            let sz = getnum(lua, k, fmt, i, 4)?;
            if sz > MAXINTSIZE {
                let m = format!("integral size {sz} is larger than limit of {MAXINTSIZE}");
                return Err(raise_str(lua, k, &m));
            }
            sz
        }
        _ => 0,
    })
}

fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn controloptions(
    lua: &Lua,
    k: &Table,
    opt: u8,
    fmt: &[u8],
    i: &mut usize,
    h: &mut Header,
) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = getnum(lua, k, fmt, i, MAXALIGN)?;
            if !a.is_power_of_two() {
                return Err(raise_str(
                    lua,
                    k,
                    &format!("alignment {a} is not a power of 2"),
                ));
            }
            h.align = a;
        }
        _ => {
            let m = format!("invalid format option '{}'", opt as char);
            return Err(arg_error(lua, k, 1, &m));
        }
    }
    Ok(())
}

fn is_int_opt(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// b_pack pushes a nil after its arguments, so the first missing one is
/// "nil" rather than "no value".
fn pack_arg(args: &[Value], i: usize) -> Option<&Value> {
    if i == args.len() {
        Some(&Value::Nil)
    } else {
        args.get(i)
    }
}

fn pack_number(lua: &Lua, k: &Table, args: &[Value], i: usize) -> mlua::Result<f64> {
    match pack_arg(args, i) {
        Some(Value::Nil) if i == args.len() => {
            Err(arg_error(lua, k, i as i32 + 1, "number expected, got nil"))
        }
        _ => check_number(lua, k, args, i, None),
    }
}

fn pack(lua: &Lua, k: &Table, args: &[Value]) -> mlua::Result<mlua::LuaString> {
    let fmt = format(lua, k, args)?;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut out = Vec::new();
    let mut arg = 1usize;
    let mut total = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(lua, k, opt, &fmt, &mut i)?;
        let toalign = gettoalign(total, &h, opt, size);
        total += toalign;
        out.resize(out.len() + toalign, 0);
        match opt {
            o if is_int_opt(o) => {
                let n = pack_number(lua, k, args, arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    super::c_int64(n) as u64
                } else {
                    n as u64
                };
                let mut buf = [0u8; MAXINTSIZE];
                for b in buf.iter_mut().take(size) {
                    *b = value as u8;
                    value >>= 8;
                }
                if !h.little {
                    buf[..size].reverse();
                }
                out.extend_from_slice(&buf[..size]);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = pack_number(lua, k, args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = pack_number(lua, k, args, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = match pack_arg(args, arg) {
                    Some(Value::Nil) if arg == args.len() => {
                        return Err(arg_error(
                            lua,
                            k,
                            arg as i32 + 1,
                            "string expected, got nil",
                        ))
                    }
                    _ => check_bytes(lua, k, args, arg)?,
                };
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // luaL_argcheck names the already advanced index.
                    return Err(arg_error(lua, k, arg as i32 + 1, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => controloptions(lua, k, opt, &fmt, &mut i, &mut h)?,
        }
        total += size;
    }
    lua.create_string(&out)
}

fn getinteger(b: &[u8], little: bool, signed: bool) -> f64 {
    let size = b.len();
    let mut l: u64 = 0;
    let mut push = |c: u8| l = (l << 8) | c as u64;
    if little {
        b.iter().rev().for_each(|&c| push(c));
    } else {
        b.iter().for_each(|&c| push(c));
    }
    if !signed {
        return l as f64;
    }
    // x86 masks the shift count, as the C code's shift does there.
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, k: &Table, args: &[Value]) -> mlua::Result<MultiValue> {
    let fmt = format(lua, k, args)?;
    let data = check_bytes(lua, k, args, 1)?;
    let ld = data.len();
    let pos = super::c_int64(check_number(lua, k, args, 2, Some(1.0))?);
    if pos <= 0 {
        return Err(arg_error(lua, k, 3, "offset must be 1 or greater"));
    }
    let mut pos = (pos - 1) as usize;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let short = |lua: &Lua| arg_error(lua, k, 2, "data string too short");
    let mut out = MultiValue::new();
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(lua, k, opt, &fmt, &mut i)?;
        pos = pos.saturating_add(gettoalign(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(short(lua));
        }
        match opt {
            o if is_int_opt(o) => {
                let v = getinteger(&data[pos..pos + size], h.little, o.is_ascii_lowercase());
                out.push_back(Value::Number(v));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("size checked above");
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push_back(Value::Number(f as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("size checked above");
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push_back(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.back() {
                        Some(Value::Integer(n)) => Some(*n as f64),
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::String(s)) => super::str_number(&s.as_bytes()),
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(raise_str(lua, k, "format 'c0' needs a previous size"));
                    };
                    out.pop_back();
                    size = n as usize;
                    if size > ld || pos > ld - size {
                        return Err(short(lua));
                    }
                }
                out.push_back(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(raise_str(lua, k, "unfinished string in data"));
                };
                out.push_back(Value::String(lua.create_string(&data[pos..pos + e])?));
                size = e + 1;
            }
            _ => controloptions(lua, k, opt, &fmt, &mut i, &mut h)?,
        }
        pos += size;
    }
    out.push_back(Value::Integer(pos as i64 + 1));
    Ok(out)
}

fn size(lua: &Lua, k: &Table, args: &[Value]) -> mlua::Result<i64> {
    let fmt = format(lua, k, args)?;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut pos = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let size = optsize(lua, k, opt, &fmt, &mut i)?;
        pos += gettoalign(pos, &h, opt, size);
        if opt == b's' {
            return Err(arg_error(lua, k, 1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(arg_error(lua, k, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(lua, k, opt, &fmt, &mut i, &mut h)?;
        }
        pos += size;
    }
    Ok(pos as i64)
}
