//! Conversions between RESP replies and Lua values, as Redis 7 does them:
//! what `redis.call` returns to the script, and what the script's return
//! value becomes on the wire.
//!
//! Both directions work on the Lua stack through the C API rather than
//! through mlua `Value`s: every `Value` holds a registry reference that is
//! created and dropped, which cost about a quarter of the server CPU of a
//! BullMQ-sized script (perf, `benches/evalsha.sh`).
//!
//! Safety rule for the `unsafe` functions here: Lua may raise (longjmp) on
//! memory errors while pushing, so they keep no value with a destructor
//! alive across a Lua API call that allocates.

use std::os::raw::{c_char, c_int};

use mlua::ffi::{self, lua_State};
use mlua::{Lua, Value};

use crate::protocol::ReplyBuf;

/// Nesting depth past which a script's return value is cut (Redis checks
/// the Lua stack; this keeps a self-referencing table from recursing forever).
const MAX_DEPTH: usize = 64;

/// `{err=msg}` as an mlua value (for the library functions built on mlua).
pub fn err_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok(Value::Table(t))
}

/// Redis replaces CR and LF in error replies with spaces.
pub fn sanitize_error(msg: &str) -> String {
    msg.replace(['\r', '\n'], " ")
}

pub(crate) unsafe fn push_bytes(l: *mut lua_State, s: &[u8]) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        ffi::lua_pushlstring(l, s.as_ptr() as *const c_char, s.len());
    }
}

/// The bytes of the string at `idx` (which must be a string: numbers would
/// be converted in place).
pub(crate) unsafe fn string_at<'a>(l: *mut lua_State, idx: c_int) -> &'a [u8] {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        let mut len = 0;
        let p = ffi::lua_tolstring(l, idx, &mut len);
        std::slice::from_raw_parts(p as *const u8, len)
    }
}

/// Pushes a one-field table `{name = <bytes>}`.
unsafe fn push_tagged(l: *mut lua_State, name: &std::ffi::CStr, s: &[u8]) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        push_bytes(l, s);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// Pushes `{err=msg}`.
pub(crate) unsafe fn push_err(l: *mut lua_State, msg: &[u8]) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        push_tagged(l, c"err", msg);
    }
}

/// Pushes the one complete reply in `buf` (written by dispatch) as
/// Redis 7 converts replies for `redis.call`.
pub(crate) unsafe fn push_reply(l: *mut lua_State, buf: &[u8]) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        let mut pos = 0;
        push_value(l, buf, &mut pos);
    }
}

/// The header line at `pos` (after its type byte); moves `pos` past it.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let start = (*pos + 1).min(buf.len());
    let end = buf[start..]
        .iter()
        .position(|&c| c == b'\r')
        .map_or(buf.len(), |i| start + i);
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

/// A RESP length or integer (our own replies: always well-formed).
fn num(s: &[u8]) -> i64 {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return 0;
        }
        n = n.wrapping_mul(10).wrapping_add((c - b'0') as i64);
    }
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

unsafe fn push_value(l: *mut lua_State, buf: &[u8], pos: &mut usize) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        let Some(&tag) = buf.get(*pos) else {
            ffi::lua_pushnil(l);
            return;
        };
        // Each nesting level holds at most three slots of its own.
        ffi::lua_checkstack(l, 4);
        let ln = line(buf, pos);
        match tag {
            b'+' => push_tagged(l, c"ok", ln),
            b'-' => push_err(l, ln),
            b':' => ffi::lua_pushnumber(l, num(ln) as f64),
            b'$' | b'=' => {
                let n = num(ln);
                if n < 0 {
                    return ffi::lua_pushboolean(l, 0);
                }
                let end = (*pos + n as usize).min(buf.len());
                let data = &buf[*pos..end];
                *pos = (end + 2).min(buf.len());
                if tag == b'$' {
                    return push_bytes(l, data);
                }
                let (fmt, s) = if data.len() >= 4 {
                    (&data[..3], &data[4..])
                } else {
                    (&b""[..], data)
                };
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, fmt);
                ffi::lua_setfield(l, -2, c"format".as_ptr());
                push_bytes(l, s);
                ffi::lua_setfield(l, -2, c"string".as_ptr());
                ffi::lua_setfield(l, -2, c"verbatim_string".as_ptr());
            }
            b'*' | b'>' => {
                let n = num(ln);
                if n < 0 {
                    return ffi::lua_pushboolean(l, 0);
                }
                ffi::lua_createtable(l, n.min(1 << 20) as c_int, 0);
                for i in 1..=n {
                    push_value(l, buf, pos);
                    ffi::lua_rawseti(l, -2, i as ffi::lua_Integer);
                }
            }
            b'%' | b'~' => {
                let n = num(ln);
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, n.min(1 << 20) as c_int);
                for _ in 0..n {
                    push_value(l, buf, pos);
                    if tag == b'%' {
                        push_value(l, buf, pos);
                    } else {
                        ffi::lua_pushboolean(l, 1);
                    }
                    if ffi::lua_isnil(l, -2) != 0 {
                        ffi::lua_pop(l, 2);
                    } else {
                        ffi::lua_rawset(l, -3);
                    }
                }
                let field = if tag == b'%' { c"map" } else { c"set" };
                ffi::lua_setfield(l, -2, field.as_ptr());
            }
            b'|' => {
                // Attributes are skipped: the value follows them.
                for _ in 0..2 * num(ln) {
                    push_value(l, buf, pos);
                    ffi::lua_pop(l, 1);
                }
                push_value(l, buf, pos);
            }
            b'#' => ffi::lua_pushboolean(l, (ln == b"t") as c_int),
            b',' => {
                let v = std::str::from_utf8(ln)
                    .ok()
                    .and_then(|s| match s {
                        "inf" => Some(f64::INFINITY),
                        "-inf" => Some(f64::NEG_INFINITY),
                        s => s.parse().ok(),
                    })
                    .unwrap_or(f64::NAN);
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushnumber(l, v);
                ffi::lua_setfield(l, -2, c"double".as_ptr());
            }
            b'(' => push_tagged(l, c"big_number", ln),
            _ => ffi::lua_pushnil(l),
        }
    }
}

/// Pushes `t[name]` (raw) and returns its type.
unsafe fn raw_field(l: *mut lua_State, t: c_int, name: &std::ffi::CStr) -> c_int {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        ffi::lua_pushstring(l, name.as_ptr());
        ffi::lua_rawget(l, t)
    }
}

/// Writes the value at stack index `idx` (absolute) as a script's return
/// value. `resp3` is the script's redis.setresp (Redis answers `true` as
/// `:1` unless the script chose RESP3).
pub(crate) unsafe fn lua_to_reply(
    l: *mut lua_State,
    idx: c_int,
    out: &mut ReplyBuf,
    resp3: bool,
    depth: usize,
) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TSTRING => out.bulk(string_at(l, idx)),
            ffi::LUA_TBOOLEAN => {
                let b = ffi::lua_toboolean(l, idx) != 0;
                if resp3 {
                    out.bool(b);
                } else if b {
                    out.int(1);
                } else {
                    out.null();
                }
            }
            // Redis's (long long) cast as x86-64 does it: NaN and out-of-range
            // values become i64::MIN.
            ffi::LUA_TNUMBER => out.int(super::c_int64(ffi::lua_tonumber(l, idx))),
            ffi::LUA_TTABLE if depth < MAX_DEPTH && ffi::lua_checkstack(l, 4) != 0 => {
                table_to_reply(l, idx, out, resp3, depth)
            }
            _ => out.null(),
        }
    }
}

unsafe fn table_to_reply(
    l: *mut lua_State,
    t: c_int,
    out: &mut ReplyBuf,
    resp3: bool,
    depth: usize,
) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        let top = ffi::lua_gettop(l);
        if raw_field(l, t, c"err") == ffi::LUA_TSTRING {
            let msg = String::from_utf8_lossy(string_at(l, -1)).into_owned();
            out.error(sanitize_error(&msg).as_bytes());
            return ffi::lua_settop(l, top);
        }
        ffi::lua_settop(l, top);
        if raw_field(l, t, c"ok") == ffi::LUA_TSTRING {
            let msg = String::from_utf8_lossy(string_at(l, -1)).replace(['\r', '\n'], " ");
            out.simple(msg.as_bytes());
            return ffi::lua_settop(l, top);
        }
        ffi::lua_settop(l, top);
        if raw_field(l, t, c"double") == ffi::LUA_TNUMBER {
            out.double(ffi::lua_tonumber(l, -1));
            return ffi::lua_settop(l, top);
        }
        ffi::lua_settop(l, top);
        if raw_field(l, t, c"big_number") == ffi::LUA_TSTRING {
            out.big_number(string_at(l, -1));
            return ffi::lua_settop(l, top);
        }
        ffi::lua_settop(l, top);
        for (name, is_map) in [(c"map", true), (c"set", false)] {
            if raw_field(l, t, name) == ffi::LUA_TTABLE {
                let m = top + 1;
                let mut n = 0;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, m) != 0 {
                    n += 1;
                    ffi::lua_pop(l, 1);
                }
                if is_map {
                    out.map(n);
                } else {
                    out.set(n);
                }
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, m) != 0 {
                    // Key at top-1, value at top: converting them never turns a
                    // number key into a string, so lua_next stays valid.
                    let v = ffi::lua_gettop(l);
                    lua_to_reply(l, v - 1, out, resp3, depth + 1);
                    if is_map {
                        lua_to_reply(l, v, out, resp3, depth + 1);
                    }
                    ffi::lua_pop(l, 1);
                }
                return ffi::lua_settop(l, top);
            }
            ffi::lua_settop(l, top);
        }
        if raw_field(l, t, c"verbatim_string") == ffi::LUA_TTABLE
            && raw_field(l, top + 1, c"string") == ffi::LUA_TSTRING
        {
            out.verbatim(string_at(l, -1));
            return ffi::lua_settop(l, top);
        }
        ffi::lua_settop(l, top);
        // An array: up to the first nil.
        let mut n = 0;
        while ffi::lua_rawgeti(l, t, n as ffi::lua_Integer + 1) != ffi::LUA_TNIL {
            n += 1;
            ffi::lua_pop(l, 1);
        }
        ffi::lua_pop(l, 1);
        out.array(n);
        for i in 1..=n {
            ffi::lua_rawgeti(l, t, i as ffi::lua_Integer);
            lua_to_reply(l, top + 1, out, resp3, depth + 1);
            ffi::lua_pop(l, 1);
        }
    }
}

/// Reads `t[name]` as a table field: Some(bytes) for a string.
pub(crate) unsafe fn string_field<'a>(
    l: *mut lua_State,
    t: c_int,
    name: &std::ffi::CStr,
) -> Option<&'a [u8]> {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        // The string stays referenced by the table, so the slice outlives the pop.
        let s = (raw_field(l, t, name) == ffi::LUA_TSTRING).then(|| string_at(l, -1));
        ffi::lua_pop(l, 1);
        s
    }
}

/// Reads `t[name]` as a number field.
pub(crate) unsafe fn number_field(
    l: *mut lua_State,
    t: c_int,
    name: &std::ffi::CStr,
) -> Option<f64> {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        let n = (raw_field(l, t, name) == ffi::LUA_TNUMBER).then(|| ffi::lua_tonumber(l, -1));
        ffi::lua_pop(l, 1);
        n
    }
}
