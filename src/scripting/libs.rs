//! The libraries Redis gives scripts, in Rust: the `redis` table's static
//! functions, `bit`, `cjson`, and Redis's `math.random`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use mlua::{Lua, Table, Value, Variadic};
use parking_lot::Mutex;

use super::{raise_err, raise_str};

/// `%.17g`, as Redis 7.0 formats a Lua number passed to redis.call.
pub fn fmt_g17(v: f64) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{v:.16e}");
    let (mant, exp) = e.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if !(-4..17).contains(&exp) {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let prec = (16 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.prec$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `%.14g` (Lua 5.1's number format, used by cjson).
pub(crate) fn fmt_g14(v: f64) -> String {
    if v.is_nan() || v.is_infinite() || v == 0.0 {
        return fmt_g17(v);
    }
    let e = format!("{v:.13e}");
    let (mant, exp) = e.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if !(-4..14).contains(&exp) {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let prec = (13 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.prec$}")).to_string()
}

/// Redis's `redisLrand48` state: a 48-bit LCG that starts from drand48's
/// default seed and, since Redis 7, is never reseeded per script (so it is
/// process-wide and survives SCRIPT FLUSH, as Redis's static state does).
static RAND48: Mutex<u64> = Mutex::new(0x1234_abcd_330e);

fn lrand48() -> i32 {
    let mut x = RAND48.lock();
    *x = (x.wrapping_mul(0x5_deec_e66d).wrapping_add(0xb)) & 0xffff_ffff_ffff;
    (*x >> 17) as i32
}

pub fn install(lua: &Lua, g: &Table, k: &Table) -> mlua::Result<()> {
    // math.random / math.randomseed as Redis replaces them.
    let math: Table = g.get("math")?;
    math.raw_set(
        "random",
        lua.create_function(|_, args: Variadic<f64>| {
            let f = (lrand48() % i32::MAX) as f64 / i32::MAX as f64;
            Ok(match args.len() {
                0 => f,
                1 => (f * args[0]).floor() + 1.0,
                _ => (f * (args[1] - args[0] + 1.0)).floor() + args[0],
            })
        })?,
    )?;
    math.raw_set(
        "randomseed",
        lua.create_function(|_, s: f64| {
            *RAND48.lock() = ((s as i32 as u32 as u64) << 16) | 0x330e;
            Ok(())
        })?,
    )?;
    g.raw_set("bit", bit(lua)?)?;
    g.raw_set("cjson", cjson(lua, k)?)?;
    g.raw_set("cmsgpack", super::msgpack::table(lua, k)?)?;
    g.raw_set("struct", super::structlib::table(lua, k)?)?;
    Ok(())
}

/// `lua_isnumber` + `lua_tonumber`: numbers and numeric strings.
fn lua_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => super::str_number(&s.as_bytes()),
        _ => None,
    }
}

const WRONG_ARGS: &[u8] = b"ERR wrong number or type of arguments";

/// Redis's `luaPushErrorBuff` on an error_reply text ('-' prepended when
/// missing): the word before the first space is the code, "ERR" when
/// there is no space, and
/// CR/LF are trimmed from both ends of the message.
pub fn error_text(s: &[u8]) -> Vec<u8> {
    let body = s.strip_prefix(b"-").unwrap_or(s);
    let (code, msg): (&[u8], &[u8]) = match body.iter().position(|&c| c == b' ') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (b"ERR", body),
    };
    let is_nl = |c: &u8| *c == b'\r' || *c == b'\n';
    let start = msg.iter().position(|c| !is_nl(c)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|c| !is_nl(c)).map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(code.len() + 1 + end - start);
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(&msg[start..end]);
    out
}

pub fn redis_table(lua: &Lua, k: &Table, resp: Arc<AtomicU8>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let kk = k.clone();
    t.raw_set(
        "setresp",
        lua.create_function(move |_, args: Variadic<Value>| {
            let [v] = args.as_slice() else {
                return Err(raise_err(&kk, "ERR redis.setresp() requires one argument."));
            };
            let n = lua_number(v).unwrap_or(0.0) as i32;
            if n != 2 && n != 3 {
                return Err(raise_err(&kk, "ERR RESP version must be 2 or 3."));
            }
            resp.store(n as u8, Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    let kk = k.clone();
    t.raw_set(
        "sha1hex",
        lua.create_function(move |_, args: Variadic<Value>| {
            let [v] = args.as_slice() else {
                return Err(raise_err(&kk, "ERR wrong number of arguments"));
            };
            // lua_tolstring: numbers as Lua prints them, other types as "".
            Ok(match v {
                Value::String(s) => super::sha1_hex(&s.as_bytes()),
                Value::Integer(n) => super::sha1_hex(fmt_g14(*n as f64).as_bytes()),
                Value::Number(n) => super::sha1_hex(fmt_g14(*n).as_bytes()),
                _ => super::sha1_hex(b""),
            })
        })?,
    )?;
    t.raw_set(
        "error_reply",
        lua.create_function(|lua, args: Variadic<Value>| {
            let s = match args.as_slice() {
                [Value::String(s)] => s.as_bytes().to_vec(),
                _ => return super::convert::err_table(lua, WRONG_ARGS),
            };
            super::convert::err_table(lua, &error_text(&s))
        })?,
    )?;
    t.raw_set(
        "status_reply",
        lua.create_function(|lua, args: Variadic<Value>| match args.as_slice() {
            [Value::String(s)] => {
                let t = lua.create_table()?;
                t.raw_set("ok", s)?;
                Ok(Value::Table(t))
            }
            _ => super::convert::err_table(lua, WRONG_ARGS),
        })?,
    )?;
    let kk = k.clone();
    t.raw_set(
        "log",
        lua.create_function(move |_, args: Variadic<Value>| {
            if args.len() < 2 {
                return Err(raise_err(
                    &kk,
                    "ERR redis.log() requires two arguments or more.",
                ));
            }
            let Some(level) = lua_number(&args[0]) else {
                return Err(raise_err(
                    &kk,
                    "ERR First argument must be a number (log level).",
                ));
            };
            if !(0.0..4.0).contains(&level.trunc()) {
                return Err(raise_err(&kk, "ERR Invalid debug level."));
            }
            let mut msg = String::new();
            for a in args.iter().skip(1) {
                if let Value::String(s) = a {
                    msg.push_str(&s.to_string_lossy());
                    msg.push(' ');
                }
            }
            tracing::info!(target: "lua", "{}", msg.trim_end());
            Ok(())
        })?,
    )?;
    t.raw_set("LOG_DEBUG", 0)?;
    t.raw_set("LOG_VERBOSE", 1)?;
    t.raw_set("LOG_NOTICE", 2)?;
    t.raw_set("LOG_WARNING", 3)?;
    t.raw_set("REDIS_VERSION", "7.2.4")?;
    t.raw_set("REDIS_VERSION_NUM", 0x07_02_04)?;
    Ok(t)
}

fn tobit(v: f64) -> i32 {
    // LuaBitOp's normalisation: modulo 2^32 into a signed 32-bit integer.
    let m = v.rem_euclid(4_294_967_296.0);
    m as u64 as u32 as i32
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|_, v: f64| Ok(tobit(v)))?)?;
    t.raw_set("bnot", lua.create_function(|_, v: f64| Ok(!tobit(v)))?)?;
    t.raw_set(
        "band",
        lua.create_function(|_, v: Variadic<f64>| Ok(v.iter().fold(-1i32, |a, &b| a & tobit(b))))?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|_, v: Variadic<f64>| Ok(v.iter().fold(0i32, |a, &b| a | tobit(b))))?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|_, v: Variadic<f64>| Ok(v.iter().fold(0i32, |a, &b| a ^ tobit(b))))?,
    )?;
    t.raw_set(
        "lshift",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok(((tobit(a) as u32) << (tobit(n) & 31)) as i32)
        })?,
    )?;
    t.raw_set(
        "rshift",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok(((tobit(a) as u32) >> (tobit(n) & 31)) as i32)
        })?,
    )?;
    t.raw_set(
        "arshift",
        lua.create_function(|_, (a, n): (f64, f64)| Ok(tobit(a) >> (tobit(n) & 31)))?,
    )?;
    t.raw_set(
        "rol",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok((tobit(a) as u32).rotate_left((tobit(n) & 31) as u32) as i32)
        })?,
    )?;
    t.raw_set(
        "ror",
        lua.create_function(|_, (a, n): (f64, f64)| {
            Ok((tobit(a) as u32).rotate_right((tobit(n) & 31) as u32) as i32)
        })?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, a: f64| Ok((tobit(a) as u32).swap_bytes() as i32))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (a, n): (f64, Option<f64>)| {
            let mut n = n.map_or(8, tobit);
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(1, 8) as usize;
            let x = tobit(a) as u32;
            let s = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

fn cjson(lua: &Lua, k: &Table) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    // cjson.null is a light userdata NULL in lua-cjson.
    let null = Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()));
    t.raw_set("null", null)?;
    let k1 = k.clone();
    let k2 = k.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let mut out = Vec::new();
            encode_json(&v, &mut out, 0).map_err(|m| raise_str(lua, &k1, &m))?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::LuaString| {
            let b = s.as_bytes();
            let mut p = JsonParser { b: &b, pos: 0, lua };
            let v = p.value(0).map_err(|m| raise_str(lua, &k2, &m))?;
            p.ws();
            if p.pos < b.len() {
                let m = format!(
                    "Expected the end but found invalid token at character {}",
                    p.pos + 1
                );
                return Err(raise_str(lua, &k2, &m));
            }
            Ok(v)
        })?,
    )?;
    Ok(t)
}

fn encode_json(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if depth > 1000 {
        return Err("Cannot serialise, excessive nesting (1001)".into());
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if n.is_nan() || n.is_infinite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(fmt_g14(*n).as_bytes())
        }
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            // lua-cjson: an array when every key is a positive integer and
            // the array is not excessively sparse.
            let mut max = 0usize;
            let mut count = 0usize;
            let mut is_array = true;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, _) = pair.map_err(|e| e.to_string())?;
                count += 1;
                match k {
                    Value::Number(n) if n >= 1.0 && n == n.floor() => max = max.max(n as usize),
                    Value::Integer(n) if n >= 1 => max = max.max(n as usize),
                    _ => is_array = false,
                }
            }
            if is_array && max > 0 && max > count * 2 && max > 10 {
                return Err("Cannot serialise table: excessively sparse array".into());
            }
            if is_array && count > 0 {
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    encode_json(&v, out, depth + 1)?;
                }
                out.push(b']');
            } else {
                out.push(b'{');
                let mut first = true;
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, v) = pair.map_err(|e| e.to_string())?;
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    match &k {
                        Value::String(s) => json_string(&s.as_bytes(), out),
                        Value::Integer(n) => json_string(n.to_string().as_bytes(), out),
                        Value::Number(n) => json_string(fmt_g14(*n).as_bytes(), out),
                        _ => {
                            return Err(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            )
                        }
                    }
                    out.push(b':');
                    encode_json(&v, out, depth + 1)?;
                }
                out.push(b'}');
            }
        }
        Value::Function(_) => return Err("Cannot serialise function: type not supported".into()),
        Value::UserData(_) | Value::LightUserData(_) => {
            return Err("Cannot serialise userdata: type not supported".into())
        }
        Value::Thread(_) => return Err("Cannot serialise thread: type not supported".into()),
        _ => return Err("Cannot serialise value: type not supported".into()),
    }
    Ok(())
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

struct JsonParser<'a> {
    b: &'a [u8],
    pos: usize,
    lua: &'a Lua,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn token_name(&self) -> String {
        match self.b.get(self.pos) {
            None => "T_END".into(),
            Some(b'{') => "T_OBJ_BEGIN".into(),
            Some(b'}') => "T_OBJ_END".into(),
            Some(b'[') => "T_ARR_BEGIN".into(),
            Some(b']') => "T_ARR_END".into(),
            Some(b',') => "T_COMMA".into(),
            Some(b':') => "T_COLON".into(),
            Some(b'"') => "T_STRING".into(),
            _ => "invalid token".into(),
        }
    }

    fn expected(&self, what: &str) -> String {
        format!(
            "Expected {what} but found {} at character {}",
            self.token_name(),
            self.pos + 1
        )
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > 1000 {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                depth,
                self.pos + 1
            ));
        }
        self.ws();
        let lua_err = |e: mlua::Error| e.to_string();
        match self.b.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let t = self.lua.create_table().map_err(lua_err)?;
                self.ws();
                if self.b.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.ws();
                    if self.b.get(self.pos) != Some(&b'"') {
                        return Err(self.expected("object key string"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.pos) != Some(&b':') {
                        return Err(self.expected("colon"));
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    t.raw_set(self.lua.create_string(&k).map_err(lua_err)?, v)
                        .map_err(lua_err)?;
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.expected("comma or object end")),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let t = self.lua.create_table().map_err(lua_err)?;
                self.ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(depth + 1)?;
                    t.raw_set(i, v).map_err(lua_err)?;
                    i += 1;
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.expected("comma or array end")),
                    }
                }
            }
            Some(b'"') => {
                let s = self.string()?;
                Ok(Value::String(self.lua.create_string(&s).map_err(lua_err)?))
            }
            Some(_) => {
                let rest = &self.b[self.pos..];
                for (lit, v) in [
                    (&b"true"[..], Value::Boolean(true)),
                    (b"false", Value::Boolean(false)),
                    (
                        b"null",
                        Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
                    ),
                ] {
                    if rest.starts_with(lit) {
                        self.pos += lit.len();
                        return Ok(v);
                    }
                }
                let end = rest
                    .iter()
                    .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(rest.len());
                let n = std::str::from_utf8(&rest[..end])
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok());
                match n {
                    Some(n) if end > 0 => {
                        self.pos += end;
                        Ok(Value::Number(n))
                    }
                    _ => Err(self.expected("value")),
                }
            }
            None => Err(self.expected("value")),
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(format!(
                    "Expected value but found unexpected end of string at character {}",
                    start + 1
                ));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.b.get(self.pos) else {
                        continue;
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self.b.get(self.pos..self.pos + 4).unwrap_or(b"");
                            let cp = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok());
                            let Some(cp) = cp else {
                                return Err(format!(
                                    "Expected value but found invalid unicode escape code at character {}",
                                    start + 1
                                ));
                            };
                            self.pos += 4;
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17() {
        assert_eq!(fmt_g17(7e15), "7000000000000000");
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(1.0 / 3.0), "0.33333333333333331");
        assert_eq!(fmt_g17(1e100), "1e+100");
        assert_eq!(fmt_g17(-0.0), "-0");
        assert_eq!(fmt_g14(std::f64::consts::PI), "3.1415926535898");
        assert_eq!(fmt_g14(1e20), "1e+20");
        assert_eq!(fmt_g14(0.1), "0.1");
    }
}
