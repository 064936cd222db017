//! `cjson.encode` and `cjson.decode` as lua-cjson (Redis's build of it)
//! does them, as C functions on the raw Lua stack.
//!
//! BullMQ's scripts decode and encode job options on most calls. Through
//! mlua, every table entry was a `Value` with a registry reference made and
//! dropped; on the stack there are none (`benches/evalsha.sh`).
//!
//! Lua raises errors with longjmp, which skips destructors: between Lua
//! API calls these functions keep nothing that owns memory. The output and
//! string scratch live in the engine's [`CallSlot`], reached through the
//! closure's upvalue; an error text is copied into Lua and dropped before
//! anything else that may raise.

use std::os::raw::{c_char, c_int};

use mlua::ffi::{self, lua_State};
use mlua::{Lua, Table};

use super::call::CallSlot;
use super::convert::{push_bytes, string_at};
use super::libs::fmt_g14;

/// lua-cjson's default nesting limit for both directions.
const MAX_DEPTH: usize = 1000;

/// Sets `encode` and `decode` in the cjson table `t`, bound to `slot`,
/// which must outlive the Lua state.
pub(super) fn install(lua: &Lua, t: &Table, slot: *mut CallSlot) -> mlua::Result<()> {
    super::call::set_closures(lua, t, slot, &[("encode", encode), ("decode", decode)])
}

/// The scratch buffers of the state's C functions.
///
/// # Safety
/// Only inside a C closure made by [`install`].
unsafe fn scratch<'a>(l: *mut lua_State) -> &'a mut CallSlot {
    // SAFETY: the upvalue is the slot pointer install() bound.
    unsafe { &mut *(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *mut CallSlot) }
}

/// Raises `msg` positioned at the caller, as luaL_error does. The text is
/// copied into Lua before the String is dropped.
///
/// # Safety
/// `l` must be running a C function.
unsafe fn raise(l: *mut lua_State, msg: String) -> c_int {
    // SAFETY: the caller's contract; `msg` is dropped before the longjmp.
    unsafe {
        push_bytes(l, msg.as_bytes());
        drop(msg);
        ffi::luaL_where(l, 1);
        ffi::lua_insert(l, -2);
        ffi::lua_concat(l, 2);
        ffi::lua_error(l)
    }
}

unsafe extern "C-unwind" fn encode(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a closure made by install().
    unsafe {
        if ffi::lua_gettop(l) != 1 {
            return ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
        }
        let slot = scratch(l);
        if slot.in_json {
            return raise(l, "cjson: recursive call".into());
        }
        slot.in_json = true;
        slot.json.clear();
        let r = encode_value(l, 1, &mut slot.json, 0);
        if r.is_ok() {
            push_bytes(l, &slot.json);
        }
        slot.in_json = false;
        if let Err(msg) = r {
            return raise(l, msg);
        }
        1
    }
}

/// Appends the JSON text of the value at `idx` (absolute) to `out`.
///
/// # Safety
/// `idx` must be a valid absolute index of `l`.
unsafe fn encode_value(
    l: *mut lua_State,
    idx: c_int,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    // SAFETY: the caller's contract; table walks use raw access only.
    unsafe {
        match ffi::lua_type(l, idx) {
            ffi::LUA_TNIL => out.extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, idx).is_null() => {
                out.extend_from_slice(b"null")
            }
            ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(l, idx) != 0 {
                b"true"
            } else {
                b"false"
            }),
            ffi::LUA_TNUMBER => number(ffi::lua_tonumber(l, idx), out)?,
            ffi::LUA_TSTRING => json_string(string_at(l, idx), out),
            ffi::LUA_TTABLE => {
                if depth >= MAX_DEPTH || ffi::lua_checkstack(l, 3) == 0 {
                    return Err(format!(
                        "Cannot serialise, excessive nesting ({})",
                        depth + 1
                    ));
                }
                encode_table(l, idx, out, depth)?
            }
            ffi::LUA_TFUNCTION => {
                return Err("Cannot serialise function: type not supported".into())
            }
            ffi::LUA_TTHREAD => return Err("Cannot serialise thread: type not supported".into()),
            ffi::LUA_TUSERDATA | ffi::LUA_TLIGHTUSERDATA => {
                return Err("Cannot serialise userdata: type not supported".into())
            }
            _ => return Err("Cannot serialise value: type not supported".into()),
        }
        Ok(())
    }
}

/// `%.14g`, with integers below 1e14 (which print the same) fast.
fn number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if n.is_nan() || n.is_infinite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    if n.fract() == 0.0 && n.abs() < 1e14 && !(n == 0.0 && n.is_sign_negative()) {
        out.extend_from_slice(itoa::Buffer::new().format(n as i64).as_bytes());
    } else {
        out.extend_from_slice(fmt_g14(n).as_bytes());
    }
    Ok(())
}

/// # Safety
/// `t` must be the absolute index of a table, with three free slots.
unsafe fn encode_table(
    l: *mut lua_State,
    t: c_int,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    // SAFETY: the caller's contract; lua_next never meets a converted key
    // (numbers are read with lua_tonumber, never lua_tolstring).
    unsafe {
        // lua-cjson: an array when every key is a positive integer and the
        // array is not excessively sparse.
        let mut max = 0usize;
        let mut count = 0usize;
        let mut is_array = true;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, t) != 0 {
            count += 1;
            let k = if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
                ffi::lua_tonumber(l, -2)
            } else {
                0.0
            };
            if k >= 1.0 && k == k.floor() {
                max = max.max(k as usize);
            } else {
                is_array = false;
            }
            ffi::lua_pop(l, 1);
        }
        if is_array && max > 0 && max > count * 2 && max > 10 {
            return Err("Cannot serialise table: excessively sparse array".into());
        }
        let top = ffi::lua_gettop(l);
        if is_array && count > 0 {
            out.push(b'[');
            for i in 1..=max {
                if i > 1 {
                    out.push(b',');
                }
                ffi::lua_rawgeti(l, t, i as ffi::lua_Integer);
                let r = encode_value(l, top + 1, out, depth + 1);
                ffi::lua_settop(l, top);
                r?;
            }
            out.push(b']');
            return Ok(());
        }
        out.push(b'{');
        let mut first = true;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, t) != 0 {
            if !first {
                out.push(b',');
            }
            first = false;
            match ffi::lua_type(l, top + 1) {
                ffi::LUA_TSTRING => json_string(string_at(l, top + 1), out),
                ffi::LUA_TNUMBER => {
                    let mut key = Vec::new();
                    let r = number(ffi::lua_tonumber(l, top + 1), &mut key);
                    if r.is_ok() {
                        json_string(&key, out);
                    }
                    drop(key);
                    if let Err(e) = r {
                        ffi::lua_settop(l, top);
                        return Err(e);
                    }
                }
                other => {
                    let name = std::ffi::CStr::from_ptr(ffi::lua_typename(l, other));
                    let msg = format!(
                        "Cannot serialise {}: table key must be a number or string",
                        name.to_string_lossy()
                    );
                    ffi::lua_settop(l, top);
                    return Err(msg);
                }
            }
            out.push(b':');
            if let Err(e) = encode_value(l, top + 2, out, depth + 1) {
                ffi::lua_settop(l, top);
                return Err(e);
            }
            ffi::lua_pop(l, 1);
        }
        out.push(b'}');
        Ok(())
    }
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
            c if c < 0x20 || c == 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

unsafe extern "C-unwind" fn decode(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a closure made by install(). The parser's
    // frames own nothing: its input is the Lua string at index 1 (kept on
    // the stack) and its scratch is the slot's.
    unsafe {
        if ffi::lua_gettop(l) != 1 {
            return ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
        }
        let mut len = 0;
        let p = ffi::luaL_checklstring(l, 1, &mut len);
        let b = std::slice::from_raw_parts(p as *const u8, len);
        let slot = scratch(l);
        if slot.in_json {
            return raise(l, "cjson: recursive call".into());
        }
        slot.in_json = true;
        let mut p = Parser {
            b,
            pos: 0,
            l,
            scratch: &mut slot.json,
        };
        let r = p.value(0).and_then(|()| {
            p.ws();
            if p.pos < b.len() {
                Err(Fail::Trailing(p.pos))
            } else {
                Ok(())
            }
        });
        slot.in_json = false;
        match r {
            Ok(()) => 1,
            Err(f) => raise(l, f.message(b)),
        }
    }
}

/// A decode error, formatted only once the parser's frames are gone.
enum Fail {
    /// Expected `what` at this position.
    Expected(&'static str, usize),
    Depth(usize, usize),
    /// The input ended inside a string (at this position).
    UnendedString(usize),
    /// What is wrong with the escape starting at this position.
    BadEscape(&'static str, usize),
    Trailing(usize),
}

impl Fail {
    fn message(&self, b: &[u8]) -> String {
        match *self {
            Fail::Expected(what, pos) => format!(
                "Expected {what} but found {} at character {}",
                token_name(b, pos),
                pos + 1
            ),
            Fail::Depth(depth, pos) => format!(
                "Found too many nested data structures ({depth}) at character {}",
                pos + 1
            ),
            Fail::UnendedString(pos) => format!(
                "Expected value but found unexpected end of string at character {}",
                pos + 1
            ),
            Fail::BadEscape(what, pos) => {
                format!("Expected value but found {what} at character {}", pos + 1)
            }
            Fail::Trailing(pos) => format!(
                "Expected the end but found invalid token at character {}",
                pos + 1
            ),
        }
    }
}

fn token_name(b: &[u8], pos: usize) -> &'static str {
    match b.get(pos) {
        None => "T_END",
        Some(b'{') => "T_OBJ_BEGIN",
        Some(b'}') => "T_OBJ_END",
        Some(b'[') => "T_ARR_BEGIN",
        Some(b']') => "T_ARR_END",
        Some(b',') => "T_COMMA",
        Some(b':') => "T_COLON",
        Some(b'"') => "T_STRING",
        Some(b'-' | b'0'..=b'9') => match number_at(b, pos) {
            Some(_) => "T_NUMBER",
            None => "invalid number",
        },
        Some(_) if b[pos..].starts_with(b"true") || b[pos..].starts_with(b"false") => "T_BOOLEAN",
        Some(_) if b[pos..].starts_with(b"null") => "T_NULL",
        Some(_) if invalid_number_start(&b[pos..]) => match number_at(b, pos) {
            Some(_) => "T_NUMBER",
            None => "invalid number",
        },
        _ => "invalid token",
    }
}

unsafe extern "C" {
    /// The C library's strtod, which lua-cjson reads numbers with (in the
    /// "C" locale: Rust programs never call setlocale).
    fn strtod(s: *const c_char, end: *mut *mut c_char) -> f64;
}

/// lua-cjson's number token at `pos`, read by strtod as Redis's build
/// reads it (decode_invalid_numbers on: hex, inf, nan and a leading `+`
/// pass): the value and the length strtod took, or None for "invalid
/// number".
///
/// `b` must be the bytes of a Lua string, which Lua always follows with a
/// NUL: strtod stops there at the latest.
fn number_at(b: &[u8], pos: usize) -> Option<(f64, usize)> {
    let start = b[pos..].as_ptr() as *const c_char;
    let mut end: *mut c_char = std::ptr::null_mut();
    // SAFETY: NUL-terminated input (above); strtod writes `end` only.
    let n = unsafe { strtod(start, &mut end) };
    let len = (end as usize).saturating_sub(start as usize);
    (len > 0).then_some((n, len.min(b.len() - pos)))
}

/// lua-cjson's `json_is_invalid_number` for a token that is not a digit,
/// `-` or a literal: the cases strtod is still tried on.
fn invalid_number_start(rest: &[u8]) -> bool {
    let low = |n: usize| rest.get(..n).map(|h| h.to_ascii_lowercase());
    rest.first() == Some(&b'+')
        || low(3).as_deref() == Some(b"inf")
        || low(3).as_deref() == Some(b"nan")
}

/// Four hex digits.
fn hex4(b: &[u8]) -> Option<u32> {
    let h = b.get(..4)?;
    h.iter()
        .try_fold(0u32, |acc, &c| Some(acc << 4 | (c as char).to_digit(16)?))
}

/// A `\uXXXX` escape at the start of `b` (with its low surrogate when it is
/// a high one), as lua-cjson reads it: the character and the bytes used.
fn unicode_escape(b: &[u8]) -> Option<(char, usize)> {
    let cp = hex4(&b[2..])?;
    if cp & 0xF800 != 0xD800 {
        return Some((char::from_u32(cp)?, 6));
    }
    // A surrogate: it must be a high one, followed by a low one.
    if cp & 0x400 != 0 || b.get(6..8) != Some(&b"\\u"[..]) {
        return None;
    }
    let low = hex4(&b[8..])?;
    if low & 0xFC00 != 0xDC00 {
        return None;
    }
    let full = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
    Some((char::from_u32(full)?, 12))
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    l: *mut lua_State,
    scratch: &'a mut Vec<u8>,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// Parses one value and pushes it.
    fn value(&mut self, depth: usize) -> Result<(), Fail> {
        let l = self.l;
        self.ws();
        let open = self.peek();
        if matches!(open, Some(b'{' | b'[')) {
            // SAFETY: `l` is the running state; two slots per level.
            if depth >= MAX_DEPTH || unsafe { ffi::lua_checkstack(l, 3) } == 0 {
                return Err(Fail::Depth(depth + 1, self.pos));
            }
        }
        match open {
            Some(b'{') => {
                self.pos += 1;
                // SAFETY: as above.
                unsafe { ffi::lua_createtable(l, 0, 0) };
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(Fail::Expected("object key string", self.pos));
                    }
                    self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(Fail::Expected("colon", self.pos));
                    }
                    self.pos += 1;
                    self.value(depth + 1)?;
                    // SAFETY: table, key, value on top.
                    unsafe { ffi::lua_rawset(l, -3) };
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(Fail::Expected("comma or object end", self.pos)),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                // SAFETY: as above.
                unsafe { ffi::lua_createtable(l, 0, 0) };
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                let mut i: ffi::lua_Integer = 1;
                loop {
                    self.value(depth + 1)?;
                    // SAFETY: table, value on top.
                    unsafe { ffi::lua_rawseti(l, -2, i) };
                    i += 1;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(Fail::Expected("comma or array end", self.pos)),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(c) => {
                let rest = &self.b[self.pos..];
                if !matches!(c, b'-' | b'0'..=b'9') {
                    for (lit, kind) in [(&b"true"[..], 1), (b"false", 0), (b"null", 2)] {
                        if rest.starts_with(lit) {
                            self.pos += lit.len();
                            // SAFETY: pushing one value on the running state.
                            unsafe {
                                match kind {
                                    2 => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
                                    b => ffi::lua_pushboolean(l, b),
                                }
                            }
                            return Ok(());
                        }
                    }
                    if !invalid_number_start(rest) {
                        return Err(Fail::Expected("value", self.pos));
                    }
                }
                let Some((n, len)) = number_at(self.b, self.pos) else {
                    return Err(Fail::Expected("value", self.pos));
                };
                self.pos += len;
                // SAFETY: pushing one value on the running state.
                unsafe { ffi::lua_pushnumber(l, n) };
                Ok(())
            }
            None => Err(Fail::Expected("value", self.pos)),
        }
    }

    /// Parses the string at `pos` (on its opening quote) and pushes it.
    fn string(&mut self) -> Result<(), Fail> {
        self.pos += 1;
        // Fast path: no escapes, pushed straight from the input.
        let body = &self.b[self.pos..];
        if let Some(end) = body.iter().position(|&c| c == b'"' || c == b'\\') {
            if body[end] == b'"' {
                self.pos += end + 1;
                // SAFETY: pushing one value on the running state.
                unsafe { push_bytes(self.l, &body[..end]) };
                return Ok(());
            }
        }
        let out = &mut *self.scratch;
        out.clear();
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(Fail::UnendedString(self.pos));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let esc = self.pos;
                    let unescaped = match self.b.get(esc + 1) {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 8,
                        Some(b'f') => 12,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            let (cp, len) = unicode_escape(&self.b[esc..])
                                .ok_or(Fail::BadEscape("invalid unicode escape code", esc))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(cp.encode_utf8(&mut buf).as_bytes());
                            self.pos += len;
                            continue;
                        }
                        _ => return Err(Fail::BadEscape("invalid escape code", esc)),
                    };
                    out.push(unescaped);
                    self.pos += 2;
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        // SAFETY: pushing one value on the running state.
        unsafe { push_bytes(self.l, out) };
        Ok(())
    }
}
