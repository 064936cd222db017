//! Conversions between RESP replies and Lua values, as Redis 7 does them:
//! what `redis.call` returns to the script, and what the script's return
//! value becomes on the wire.

use mlua::{Lua, Table, Value};

use crate::protocol::ReplyBuf;

/// Nesting depth past which a script's return value is cut (Redis checks
/// the Lua stack; this keeps a self-referencing table from recursing forever).
const MAX_DEPTH: usize = 64;

/// `{err=msg}`.
pub fn err_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok(Value::Table(t))
}

/// Redis replaces CR and LF in error replies with spaces.
pub fn sanitize_error(msg: &str) -> String {
    msg.replace(['\r', '\n'], " ")
}

/// Parses one complete reply (written by dispatch) into a Lua value; the
/// flag says whether it was an error reply.
pub fn reply_to_lua(lua: &Lua, buf: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut pos = 0;
    let is_err = buf.first() == Some(&b'-');
    let v = parse(lua, buf, &mut pos)?;
    Ok((v, is_err))
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let start = *pos + 1;
    let end = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(buf.len(), |i| start + i);
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

fn num(s: &[u8]) -> i64 {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn parse(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let Some(&tag) = buf.get(*pos) else {
        return Ok(Value::Nil);
    };
    let l = line(buf, pos);
    Ok(match tag {
        b'+' => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(l)?)?;
            Value::Table(t)
        }
        b'-' => err_table(lua, l)?,
        b':' => Value::Number(num(l) as f64),
        b'$' | b'=' => {
            let n = num(l);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let data = &buf[*pos..*pos + n as usize];
            *pos += n as usize + 2;
            if tag == b'=' {
                let t = lua.create_table()?;
                let inner = lua.create_table()?;
                let (fmt, s) = if data.len() >= 4 {
                    (&data[..3], &data[4..])
                } else {
                    (&b""[..], data)
                };
                inner.raw_set("format", lua.create_string(fmt)?)?;
                inner.raw_set("string", lua.create_string(s)?)?;
                t.raw_set("verbatim_string", inner)?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(data)?)
            }
        }
        b'*' | b'>' => {
            let n = num(l);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                let v = parse(lua, buf, pos)?;
                t.raw_set(i, v)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = num(l);
            let m = lua.create_table()?;
            for _ in 0..n {
                let k = parse(lua, buf, pos)?;
                let v = parse(lua, buf, pos)?;
                m.raw_set(k, v)?;
            }
            let t = lua.create_table()?;
            t.raw_set("map", m)?;
            Value::Table(t)
        }
        b'~' => {
            let n = num(l);
            let s = lua.create_table()?;
            for _ in 0..n {
                let k = parse(lua, buf, pos)?;
                s.raw_set(k, true)?;
            }
            let t = lua.create_table()?;
            t.raw_set("set", s)?;
            Value::Table(t)
        }
        b'|' => {
            // Attributes are skipped: the value follows them.
            let n = num(l);
            for _ in 0..2 * n {
                parse(lua, buf, pos)?;
            }
            parse(lua, buf, pos)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(l == b"t"),
        b',' => {
            let v = std::str::from_utf8(l)
                .ok()
                .and_then(|s| match s {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    s => s.parse().ok(),
                })
                .unwrap_or(f64::NAN);
            let t = lua.create_table()?;
            t.raw_set("double", v)?;
            Value::Table(t)
        }
        b'(' => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(l)?)?;
            Value::Table(t)
        }
        _ => Value::Nil,
    })
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

/// Writes a script's return value. `resp3` is the script's redis.setresp
/// (Redis answers `true` as `:1` unless the script chose RESP3).
pub fn lua_to_reply(out: &mut ReplyBuf, v: &Value, resp3: bool, depth: usize) {
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3 {
                out.bool(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(truncate(*n)),
        Value::Table(t) if depth < MAX_DEPTH => table_to_reply(out, t, resp3, depth),
        _ => out.null(),
    }
}

fn truncate(n: f64) -> i64 {
    // Redis's (long long) cast as x86-64 does it: NaN and out-of-range
    // values become i64::MIN.
    super::c_int64(n)
}

fn table_to_reply(out: &mut ReplyBuf, t: &Table, resp3: bool, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        let msg = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        out.error(sanitize_error(&msg).as_bytes());
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        let msg = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        out.simple(msg.as_bytes());
        return;
    }
    match field(t, "double") {
        Value::Number(d) => return out.double(d),
        Value::Integer(d) => return out.double(d as f64),
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        return out.big_number(&s.as_bytes());
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(out, k, resp3, depth + 1);
            lua_to_reply(out, v, resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for k in &keys {
            lua_to_reply(out, k, resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(vs) = field(t, "verbatim_string") {
        if let Value::String(s) = field(&vs, "string") {
            out.verbatim(&s.as_bytes());
            return;
        }
    }
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
        i += 1;
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(out, v, resp3, depth + 1);
    }
}
