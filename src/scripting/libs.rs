//! The libraries Redis gives scripts, in Rust: the `redis` table's static
//! functions, `bit`, `cjson`, and Redis's `math.random`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use mlua::{Lua, Table, Value, Variadic};
use parking_lot::Mutex;

use super::raise_err;

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
    g.raw_set("cjson", cjson(lua)?)?;
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

/// The cjson table: `null` here, `encode` and `decode` are C functions
/// set by [`super::json::install`].
fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    // cjson.null is a light userdata NULL in lua-cjson.
    let null = Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()));
    t.raw_set("null", null)?;
    Ok(t)
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
