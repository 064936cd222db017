//! `cmsgpack`, byte for byte as Redis's lua_cmsgpack.c (0.4.0) on Lua 5.1:
//! integral numbers as the smallest integer type, other numbers as float32
//! when exact else float64, strings always as str types, tables as arrays
//! when their keys are exactly 1..n, nesting cut to nil at depth 16.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::{arg_error, c_int64, check_bytes, check_number, raise_str};

/// Tables nested deeper than this are encoded as nil (survives cycles).
const MAX_NESTING: usize = 16;
/// Lua 5.1's LUAI_MAXCSTACK: the C function's stack slots.
const MAX_CSTACK: usize = 8000;
const TOO_MANY: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

pub fn table(lua: &Lua, k: &Table) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let kk = k.clone();
    t.raw_set(
        "pack",
        lua.create_function(move |lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(arg_error(lua, &kk, 0, "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                encode(a, &mut out, 0);
            }
            lua.create_string(&out)
        })?,
    )?;
    let kk = k.clone();
    t.raw_set(
        "unpack",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let s = check_bytes(lua, &kk, &args, 0)?;
            unpack_full(lua, &kk, &s, 0, 0)
        })?,
    )?;
    let kk = k.clone();
    t.raw_set(
        "unpack_one",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let off = c_int64(check_number(lua, &kk, &args, 1, Some(0.0))?);
            let s = check_bytes(lua, &kk, &args, 0)?;
            unpack_full(lua, &kk, &s, 1, off)
        })?,
    )?;
    let kk = k.clone();
    t.raw_set(
        "unpack_limit",
        lua.create_function(move |lua, args: Variadic<Value>| {
            let limit = c_int64(check_number(lua, &kk, &args, 1, None)?);
            let off = c_int64(check_number(lua, &kk, &args, 2, Some(0.0))?);
            let s = check_bytes(lua, &kk, &args, 0)?;
            unpack_full(lua, &kk, &s, limit, off)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

/// Whether the number is exactly an int64 (C's `(int64_t)x == x`, where
/// out-of-range casts give INT64_MIN).
fn int64_equivalent(n: f64) -> Option<i64> {
    if n.is_infinite() {
        return None;
    }
    let i = c_int64(n);
    (i as f64 == n).then_some(i)
}

pub fn encode(v: &Value, out: &mut Vec<u8>, level: usize) {
    match v {
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(*i, out),
        Value::Number(n) => match int64_equivalent(*n) {
            Some(i) => encode_int(i, out),
            None => encode_double(*n, out),
        },
        Value::Table(t) if level < MAX_NESTING => encode_table(t, out, level),
        _ => out.push(0xc0),
    }
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_double(d: f64, out: &mut Vec<u8>) {
    let f = d as f32;
    if f as f64 == d {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

/// lua_cmsgpack's `table_is_an_array`: every key a number that is a
/// positive C int, and the largest equals the count.
fn is_array(t: &Table) -> bool {
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    for pair in t.pairs::<Value, Value>() {
        let Ok((key, _)) = pair else { return false };
        let n = match key {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return false,
        };
        // (int)n == n with x86's INT_MIN for out-of-range casts.
        if n <= 0.0 || n >= 2_147_483_648.0 || n.trunc() != n {
            return false;
        }
        max = max.max(n as i64);
        count += 1;
    }
    max == count
}

fn encode_table(t: &Table, out: &mut Vec<u8>, level: usize) {
    if is_array(t) {
        let len = t.raw_len();
        encode_header(len, 0x90, 0xdc, out);
        for j in 1..=len {
            let v: Value = t.raw_get(j).unwrap_or(Value::Nil);
            encode(&v, out, level + 1);
        }
    } else {
        // Count, then encode, as the C code does: holding every pair at
        // once would exhaust mlua's reference slots on big tables.
        let len = t.pairs::<Value, Value>().count();
        encode_header(len, 0x80, 0xde, out);
        for (key, v) in t.pairs::<Value, Value>().flatten() {
            encode(&key, out, level + 1);
            encode(&v, out, level + 1);
        }
    }
}

/// Array or map header: fix form up to 15, then 16- or 32-bit.
fn encode_header(n: usize, fix: u8, wide: u8, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

enum DecodeErr {
    Eof,
    BadFmt,
    Overflow(&'static str),
    Plain(&'static str),
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeErr {
    fn from(e: mlua::Error) -> Self {
        DecodeErr::Lua(e)
    }
}

fn unpack_full(
    lua: &Lua,
    k: &Table,
    s: &[u8],
    limit: i64,
    offset: i64,
) -> mlua::Result<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(raise_str(
            lua,
            k,
            &format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32,
                s.len() as i32
            ),
        ));
    }
    if offset as u64 > s.len() as u64 {
        return Err(raise_str(
            lua,
            k,
            &format!(
                "Start offset {} greater than input length {}.",
                offset as i32,
                s.len() as i32
            ),
        ));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut cur = Cursor {
        b: s,
        pos: offset as usize,
        lua,
    };
    let mut out = MultiValue::new();
    let mut cnt = 0i64;
    while cur.pos < s.len() && cnt < limit {
        // The string argument plus the values decoded so far.
        match cur.decode(1 + out.len()) {
            Ok(v) => out.push_back(v),
            Err(DecodeErr::Eof) => return Err(raise_str(lua, k, "Missing bytes in input.")),
            Err(DecodeErr::BadFmt) => return Err(raise_str(lua, k, "Bad data format in input.")),
            Err(DecodeErr::Overflow(m)) => return Err(raise_str(lua, k, m)),
            Err(DecodeErr::Plain(m)) => return Err(super::raise_plain(k, m)),
            Err(DecodeErr::Lua(e)) => return Err(e),
        }
        cnt += 1;
    }
    if !decode_all {
        let next = if cur.pos >= s.len() {
            -1
        } else {
            cur.pos as i64
        };
        out.push_front(Value::Integer(next));
    }
    Ok(out)
}

enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

/// A container being filled: `done` elements (or pairs) so far, and a
/// map's key waiting for its value.
struct Frame {
    t: Table,
    len: usize,
    done: usize,
    map: bool,
    key: Option<Value>,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    lua: &'a Lua,
}

impl Cursor<'_> {
    fn need(&self, n: usize) -> Result<&[u8], DecodeErr> {
        self.b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(DecodeErr::Eof)
    }

    fn be(&self, n: usize) -> Result<u64, DecodeErr> {
        let b = self.need(1 + n)?;
        Ok(b[1..].iter().fold(0u64, |a, &x| (a << 8) | x as u64))
    }

    /// The `n`-byte big-endian value after the tag byte, consuming both.
    fn take(&mut self, n: usize) -> Result<u64, DecodeErr> {
        let v = self.be(n)?;
        self.pos += 1 + n;
        Ok(v)
    }

    fn string(&mut self, hdr: usize, len: usize) -> Result<Value, DecodeErr> {
        let b = self.need(hdr.saturating_add(len))?;
        let s = self.lua.create_string(&b[hdr..])?;
        self.pos += hdr + len;
        Ok(Value::String(s))
    }

    /// One value, iteratively (a hostile input may nest thousands deep).
    /// `stack` mirrors the C function's Lua stack use (`top - base`) as
    /// lua_cmsgpack's recursion grows it, so deep nesting fails where
    /// Redis's luaL_checkstack does.
    fn decode(&mut self, mut stack: usize) -> Result<Value, DecodeErr> {
        let mut frames: Vec<Frame> = Vec::new();
        loop {
            let mut v = match self.item(stack)? {
                Item::Value(v) => v,
                Item::Array(len) => {
                    // The new table takes a slot; each element's index another.
                    if stack + 2 > MAX_CSTACK {
                        return Err(DecodeErr::Overflow(
                            "stack overflow (in function mp_decode_to_lua_array)",
                        ));
                    }
                    let t = self.lua.create_table_with_capacity(len.min(1024), 0)?;
                    if len == 0 {
                        Value::Table(t)
                    } else {
                        frames.push(Frame {
                            t,
                            len,
                            done: 0,
                            map: false,
                            key: None,
                        });
                        stack += 2;
                        continue;
                    }
                }
                Item::Map(len) => {
                    let t = self.lua.create_table()?;
                    if len == 0 {
                        Value::Table(t)
                    } else {
                        frames.push(Frame {
                            t,
                            len,
                            done: 0,
                            map: true,
                            key: None,
                        });
                        stack += 1;
                        continue;
                    }
                }
            };
            // Hand the value to the enclosing containers, closing each one
            // that it completes.
            loop {
                let Some(f) = frames.last_mut() else {
                    return Ok(v);
                };
                if f.map {
                    match f.key.take() {
                        None => {
                            f.key = Some(v);
                            stack += 1;
                            break;
                        }
                        Some(key) => {
                            // lua_settable's own errors, raised without a position.
                            match key {
                                Value::Nil => return Err(DecodeErr::Plain("table index is nil")),
                                Value::Number(n) if n.is_nan() => {
                                    return Err(DecodeErr::Plain("table index is NaN"))
                                }
                                _ => {}
                            }
                            f.t.raw_set(key, v)?;
                            stack -= 1;
                        }
                    }
                } else {
                    f.t.raw_set(f.done + 1, v)?;
                }
                f.done += 1;
                if f.done < f.len {
                    break;
                }
                let f = frames.pop().expect("frames.last_mut() was Some");
                stack -= if f.map { 1 } else { 2 };
                v = Value::Table(f.t);
            }
        }
    }

    fn item(&mut self, stack: usize) -> Result<Item, DecodeErr> {
        let tag = *self.need(1)?.first().ok_or(DecodeErr::Eof)?;
        if stack + 1 > MAX_CSTACK {
            return Err(DecodeErr::Overflow(TOO_MANY));
        }
        let v = match tag {
            0xcc => Value::Integer(self.take(1)? as i64),
            0xd0 => Value::Integer(self.take(1)? as u8 as i8 as i64),
            0xcd => Value::Integer(self.take(2)? as i64),
            0xd1 => Value::Integer(self.take(2)? as u16 as i16 as i64),
            0xce => Value::Integer(self.take(4)? as i64),
            0xd2 => Value::Integer(self.take(4)? as u32 as i32 as i64),
            // lua_pushunsigned is lua_pushinteger on 64-bit builds; Lua 5.1
            // keeps both 64-bit widths as numbers.
            0xcf | 0xd3 => Value::Number(self.take(8)? as i64 as f64),
            0xc0 => {
                self.pos += 1;
                Value::Nil
            }
            0xc3 | 0xc2 => {
                self.pos += 1;
                Value::Boolean(tag == 0xc3)
            }
            0xca => Value::Number(f32::from_bits(self.take(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.take(8)?)),
            0xd9 => {
                let l = self.be(1)? as usize;
                self.string(2, l)?
            }
            0xda => {
                let l = self.be(2)? as usize;
                self.string(3, l)?
            }
            0xdb => {
                let l = self.be(4)? as usize;
                self.string(5, l)?
            }
            0xdc => return Ok(Item::Array(self.take(2)? as usize)),
            0xdd => return Ok(Item::Array(self.take(4)? as usize)),
            0xde => return Ok(Item::Map(self.take(2)? as usize)),
            0xdf => return Ok(Item::Map(self.take(4)? as usize)),
            t if t & 0x80 == 0 => {
                self.pos += 1;
                Value::Integer(t as i64)
            }
            t if t & 0xe0 == 0xe0 => {
                self.pos += 1;
                Value::Integer(t as i8 as i64)
            }
            t if t & 0xe0 == 0xa0 => self.string(1, (t & 0x1f) as usize)?,
            t if t & 0xf0 == 0x90 => {
                self.pos += 1;
                return Ok(Item::Array((t & 0xf) as usize));
            }
            t if t & 0xf0 == 0x80 => {
                self.pos += 1;
                return Ok(Item::Map((t & 0xf) as usize));
            }
            _ => return Err(DecodeErr::BadFmt),
        };
        Ok(Item::Value(v))
    }
}
