//! Redis 7 functions: libraries loaded with FUNCTION LOAD (`#!lua
//! name=<lib>`), their functions registered with
//! `redis.register_function`, and FCALL / FCALL_RO.
//!
//! Libraries live in their own Lua state (FUNCTION FLUSH empties it, SCRIPT
//! FLUSH does not), under the same lock as EVAL's, so functions and scripts
//! run one at a time and share the BUSY / KILL machinery. The metadata
//! (names, flags, code) sits apart in [`Libraries`], which FUNCTION LIST,
//! STATS, DUMP and the RDB writer read while a function runs.
//!
//! Scopes: one (0) under `script-scope global`; with `script-scope db` each
//! DB has its own libraries, keyed by its index.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use mlua::{Function, Lua, Table, Value, Variadic};
use parking_lot::Mutex;

use super::{engine, raise_err, run_script, with_engines, Engines, Scripting, NO_HANDOFF};
use crate::commands::errors::Error;
use crate::commands::Ctx;

/// Function flags (Redis's `SCRIPT_FLAG_*` a library may declare).
pub mod flag {
    pub const NO_WRITES: u8 = 1;
    pub const ALLOW_OOM: u8 = 2;
    pub const ALLOW_STALE: u8 = 4;
    pub const NO_CLUSTER: u8 = 8;
    pub const ALLOW_CROSS_SLOT_KEYS: u8 = 16;

    /// Names in Redis's order (FUNCTION LIST prints them so).
    pub const NAMES: &[(u8, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT_KEYS, "allow-cross-slot-keys"),
    ];
}

/// FUNCTION LOAD's time limit for running a library's top level.
const LOAD_TIMEOUT_MS: i64 = 500;

/// One registered function, as FUNCTION LIST shows it.
#[derive(Clone, Debug)]
pub struct FunctionMeta {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: u8,
}

/// A loaded library: its name, its code as loaded, its functions by name.
#[derive(Clone, Debug)]
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionMeta>,
}

/// Every scope's libraries, by name.
#[derive(Default)]
pub struct Libraries {
    scopes: BTreeMap<usize, BTreeMap<String, Library>>,
}

impl Libraries {
    /// The libraries of `scope`, by name.
    pub fn scope(&self, scope: usize) -> impl Iterator<Item = &Library> {
        self.scopes.get(&scope).into_iter().flat_map(|m| m.values())
    }

    fn get(&self, scope: usize, name: &str) -> Option<&Library> {
        self.scopes.get(&scope)?.get(name)
    }

    /// The function `name` of `scope`.
    pub fn function(&self, scope: usize, name: &[u8]) -> Option<&FunctionMeta> {
        self.scope(scope)
            .flat_map(|l| l.functions.iter())
            .find(|f| f.name.as_bytes() == name)
    }

    /// Every library with its scope, scopes in order.
    pub fn all(&self) -> impl Iterator<Item = (usize, &Library)> {
        self.scopes
            .iter()
            .flat_map(|(s, m)| m.values().map(move |l| (*s, l)))
    }

    /// Whether no scope has a library.
    pub fn is_empty(&self) -> bool {
        self.scopes.values().all(|m| m.is_empty())
    }
}

/// A monotonic millisecond clock for the load timeout (never 0).
pub(crate) fn load_clock_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as i64
        + 1
}

/// A function registered while its library loads.
struct Reg {
    name: String,
    description: Option<Vec<u8>>,
    flags: u8,
    callback: Function,
}

/// The functions' Lua state only: the global table library code runs in
/// (whose lookups go to the load-time API while a library loads, to the
/// sandbox's globals afterwards) and what `redis.register_function`
/// collects.
pub(crate) struct FuncParts {
    genv: Table,
    load_run: Function,
    pending: Arc<Mutex<Option<Vec<Reg>>>>,
}

/// The library environment. While a library's top level runs, its globals
/// are Redis's load-time API only: `redis` with `register_function`, `log`,
/// the log levels and the version (anything else is "nonexistent global
/// variable", so `redis.call` cannot run at load time); afterwards the
/// functions see the sandbox's globals. Every table is read-only.
const FUNC_PRELUDE: &str = r#"
local env, redis, register, protect, conv, rawpcall = ...
local ro_err = function() error('Attempt to modify a readonly table', 2) end
local fields = {
  register_function = register, log = redis.log,
  LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
  LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
local api_redis = setmetatable({}, {__index = function(_, k)
  local v = fields[k]
  if v ~= nil then return v end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end, __newindex = ro_err, __metatable = false})
local api = setmetatable({}, {__index = function(_, k)
  if k == 'redis' then return api_redis end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end, __newindex = ro_err, __metatable = false})
local mt = {__index = env, __newindex = ro_err, __metatable = false}
local genv = setmetatable({}, mt)
protect(api); protect(api_redis); protect(genv); protect(fields); protect(mt)
-- Runs a library's top level with the load-time API: nil, or the error
-- text (a string error as 'ERR <msg>', an error table's `err`).
local function load_run(f)
  mt.__index = api
  local ok, e = rawpcall(f)
  mt.__index = env
  if ok then return nil end
  e = conv(e)
  if type(e) == 'table' then return tostring(e.err) end
  return 'ERR ' .. tostring(e)
end
return genv, load_run
"#;

impl FuncParts {
    pub(crate) fn new(
        lua: &Lua,
        k: &Table,
        env: &Table,
        redis: &Table,
        protect: &Function,
        conv: &Function,
        rawpcall: &Function,
    ) -> mlua::Result<FuncParts> {
        let pending: Arc<Mutex<Option<Vec<Reg>>>> = Arc::new(Mutex::new(None));
        let p = pending.clone();
        let kk = k.clone();
        let register = lua.create_function(move |_, args: Variadic<Value>| {
            let mut guard = p.lock();
            let Some(list) = guard.as_mut() else {
                return Err(raise_err(
                    &kk,
                    "ERR redis.register_function can only be called on FUNCTION LOAD command",
                ));
            };
            let reg = read_register_args(&args).map_err(|m| raise_err(&kk, &format!("ERR {m}")))?;
            if !valid_name(reg.name.as_bytes()) {
                return Err(raise_err(&kk, "ERR Function names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
            }
            if list.iter().any(|r| r.name == reg.name) {
                return Err(raise_err(
                    &kk,
                    "ERR Function already exists in the library",
                ));
            }
            list.push(reg);
            Ok(())
        })?;
        let (genv, load_run): (Table, Function) =
            lua.load(FUNC_PRELUDE).set_name("=keyward").call((
                env.clone(),
                redis.clone(),
                register,
                protect.clone(),
                conv.clone(),
                rawpcall.clone(),
            ))?;
        Ok(FuncParts {
            genv,
            load_run,
            pending,
        })
    }
}

/// `lua_isstring` + `lua_tostring`: strings, and numbers as Lua prints them.
fn lua_string(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(super::libs::fmt_g14(*n as f64).into_bytes()),
        Value::Number(n) => Some(super::libs::fmt_g14(*n).into_bytes()),
        _ => None,
    }
}

/// `redis.register_function(name, fn)` or `({function_name=, callback=,
/// flags=, description=})`, with Redis's error texts.
fn read_register_args(args: &[Value]) -> Result<Reg, &'static str> {
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    match args {
        [name, f] => {
            let name = lua_string(name)
                .ok_or("first argument to redis.register_function must be a string")?;
            let Value::Function(f) = f else {
                return Err("second argument to redis.register_function must be a function");
            };
            Ok(Reg {
                name: text(name),
                description: None,
                flags: 0,
                callback: f.clone(),
            })
        }
        [named] => {
            let Value::Table(t) = named else {
                return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut description, mut flags, mut callback) = (None, None, 0u8, None);
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, v) =
                    pair.map_err(|_| "unknown argument given to redis.register_function")?;
                let k = lua_string(&k)
                    .ok_or("named argument key given to redis.register_function is not a string")?;
                if k.eq_ignore_ascii_case(b"function_name") {
                    name = Some(lua_string(&v).ok_or(
                        "function_name argument given to redis.register_function must be a string",
                    )?);
                } else if k.eq_ignore_ascii_case(b"description") {
                    description = Some(lua_string(&v).ok_or(
                        "description argument given to redis.register_function must be a string",
                    )?);
                } else if k.eq_ignore_ascii_case(b"callback") {
                    let Value::Function(f) = v else {
                        return Err(
                            "callback argument given to redis.register_function must be a function",
                        );
                    };
                    callback = Some(f);
                } else if k.eq_ignore_ascii_case(b"flags") {
                    let Value::Table(ft) = v else {
                        return Err("flags argument to redis.register_function must be a table representing function flags");
                    };
                    flags = read_flags(&ft).ok_or("unknown flag given")?;
                } else {
                    return Err("unknown argument given to redis.register_function");
                }
            }
            let name = name.ok_or("redis.register_function must get a function name argument")?;
            let callback =
                callback.ok_or("redis.register_function must get a callback argument")?;
            Ok(Reg {
                name: text(name),
                description,
                flags,
                callback,
            })
        }
        _ => Err("wrong number of arguments to redis.register_function"),
    }
}

/// The flags table: `t[1]`, `t[2]` … up to the first nil, each a known
/// flag name (case-insensitive, as Redis compares them).
fn read_flags(t: &Table) -> Option<u8> {
    let mut bits = 0;
    for i in 1.. {
        let v: Value = t.get(i).ok()?;
        if v.is_nil() {
            break;
        }
        let s = lua_string(&v)?;
        let (bit, _) = flag::NAMES
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(&s))?;
        bits |= bit;
    }
    Some(bits)
}

/// Library and function names: letters, digits and underscores, at least one.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The shebang line: the engine name, the library name, and where the
/// code after it starts (at its newline, so line numbers stay).
fn parse_meta(code: &[u8]) -> Result<(String, String, usize), String> {
    let (words, end) = match super::shebang::split(code) {
        Ok(Some(s)) => s,
        Ok(None) => return Err("Missing library metadata".into()),
        Err(_) => return Err("Invalid library metadata".into()),
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let engine = text(&words[0][2..]);
    let mut name = None;
    for part in &words[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(text(&part[5..]));
            continue;
        }
        return Err(format!("Invalid metadata value given: {}", text(part)));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok((engine, name, end))
}

impl Scripting {
    /// The library scope of a client in `db`.
    pub fn function_scope(&self, db: usize) -> usize {
        if self.is_per_db() {
            db
        } else {
            0
        }
    }

    /// FUNCTION LOAD into `scope`: the library's name, or Redis's error
    /// text (without the `ERR ` prefix). `timeout`: the 500 ms limit on
    /// the library's top level (not for replays and files, as in Redis).
    pub fn function_load(
        &self,
        scope: usize,
        code: &[u8],
        replace: bool,
        timeout: bool,
    ) -> Result<String, String> {
        let mut g = self.engine.lock();
        self.load_locked(&mut g, scope, code, replace, timeout)
    }

    fn load_locked(
        &self,
        g: &mut Engines,
        scope: usize,
        code: &[u8],
        replace: bool,
        timeout: bool,
    ) -> Result<String, String> {
        let (engine_name, name, body) = parse_meta(code)?;
        if !valid_name(name.as_bytes()) {
            return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
        }
        if !engine_name.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine_name}' not found"));
        }
        if !replace && self.libraries.read().get(scope, &name).is_some() {
            return Err(format!("Library '{name}' already exists"));
        }
        let regs = self.run_library(g, &code[body..], timeout)?;
        let mut libs = self.libraries.write();
        for r in &regs {
            let owner = libs
                .scope(scope)
                .find(|l| l.functions.iter().any(|f| f.name == r.name));
            if owner.is_some_and(|l| l.name != name) {
                return Err(format!("Function {} already exists", r.name));
            }
        }
        let map = libs.scopes.entry(scope).or_default();
        if let Some(old) = map.remove(&name) {
            for f in old.functions {
                g.fns.remove(&(scope, f.name));
            }
        }
        let mut functions = Vec::with_capacity(regs.len());
        for r in regs {
            g.fns.insert((scope, r.name.clone()), (r.callback, r.flags));
            functions.push(FunctionMeta {
                name: r.name,
                description: r.description,
                flags: r.flags,
            });
        }
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        map.insert(
            name.clone(),
            Library {
                name: name.clone(),
                code: code.to_vec(),
                functions,
            },
        );
        Ok(name)
    }

    /// Compiles and runs a library's top level with the load-time API;
    /// returns the functions it registered.
    fn run_library(&self, g: &mut Engines, body: &[u8], timeout: bool) -> Result<Vec<Reg>, String> {
        let engine = engine(&mut g.func, self, true).map_err(|e| e.text().to_string())?;
        let parts = engine
            .func
            .as_ref()
            .expect("the functions' engine has its parts");
        let chunk = engine
            .lua
            .load(body)
            .set_name("@user_function")
            .set_environment(parts.genv.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("Error compiling function: {msg}")
            })?;
        *parts.pending.lock() = Some(Vec::new());
        self.kill.store(false, Ordering::Release);
        self.hook_ticks.store(NO_HANDOFF, Ordering::Relaxed);
        self.load_timed_out.store(false, Ordering::Relaxed);
        if timeout {
            self.load_deadline
                .store(load_clock_ms() + LOAD_TIMEOUT_MS, Ordering::Relaxed);
        }
        let ran: mlua::Result<Option<String>> = parts.load_run.call(chunk);
        self.load_deadline.store(0, Ordering::Relaxed);
        let regs = parts.pending.lock().take().unwrap_or_default();
        let failed = match ran {
            Ok(None) => None,
            Ok(Some(e)) => Some(e),
            Err(e) => Some(format!("ERR {e}")),
        };
        if let Some(mut e) = failed {
            if self.load_timed_out.swap(false, Ordering::Relaxed) {
                e = "ERR FUNCTION LOAD timeout".into();
            }
            return Err(format!("Error registering functions: {e}"));
        }
        if regs.is_empty() {
            return Err("No functions registered".into());
        }
        Ok(regs)
    }

    /// FUNCTION DELETE.
    pub fn function_delete(&self, scope: usize, name: &[u8]) -> Result<(), Error> {
        let mut g = self.engine.lock();
        let mut libs = self.libraries.write();
        let name = String::from_utf8_lossy(name);
        let old = libs
            .scopes
            .get_mut(&scope)
            .and_then(|m| m.remove(name.as_ref()))
            .ok_or(Error::lit("ERR Library not found"))?;
        for f in old.functions {
            g.fns.remove(&(scope, f.name));
        }
        Ok(())
    }

    /// FUNCTION FLUSH of `scopes` (`None`: every scope, with a fresh Lua
    /// state, as Redis makes one).
    pub fn function_flush(&self, scopes: Option<&[usize]>) {
        let mut g = self.engine.lock();
        let mut libs = self.libraries.write();
        match scopes {
            None => {
                libs.scopes.clear();
                g.fns.clear();
                g.func = None;
            }
            Some(s) => {
                libs.scopes.retain(|k, _| !s.contains(k));
                g.fns.retain(|(k, _), _| !s.contains(k));
            }
        }
    }

    /// FUNCTION RESTORE into `scope`: every library of the payload, or
    /// none (Redis's FLUSH, APPEND and REPLACE policies).
    pub fn function_restore(
        &self,
        scope: usize,
        codes: Vec<Vec<u8>>,
        policy: RestorePolicy,
    ) -> Result<(), String> {
        // Loaded into a scratch scope first, so a bad payload leaves the
        // current libraries alone.
        const SCRATCH: usize = usize::MAX;
        let mut g = self.engine.lock();
        let cleanup = |g: &mut Engines, libs: &mut Libraries| {
            libs.scopes.remove(&SCRATCH);
            g.fns.retain(|(k, _), _| *k != SCRATCH);
        };
        for code in &codes {
            if let Err(e) = self.load_locked(&mut g, SCRATCH, code, false, false) {
                cleanup(&mut g, &mut self.libraries.write());
                return Err(e);
            }
        }
        let mut libs = self.libraries.write();
        let new = libs.scopes.remove(&SCRATCH).unwrap_or_default();
        g.fns.retain(|(k, _), _| *k != SCRATCH);
        let current = libs.scopes.entry(scope).or_default();
        if policy != RestorePolicy::Flush {
            for lib in new.values() {
                if current.contains_key(&lib.name) && policy == RestorePolicy::Append {
                    return Err(format!("Library {} already exists", lib.name));
                }
            }
            for lib in new.values() {
                for f in &lib.functions {
                    let clash = current
                        .values()
                        .filter(|l| !(policy == RestorePolicy::Replace && l.name == lib.name))
                        .any(|l| l.functions.iter().any(|g| g.name == f.name));
                    if clash {
                        return Err(format!("Function {} already exists", f.name));
                    }
                }
            }
        }
        // Applied: the libraries are compiled again in the real scope (their
        // callbacks were registered under the scratch one).
        drop(libs);
        if policy == RestorePolicy::Flush {
            let old: Vec<String> = self
                .libraries
                .read()
                .scope(scope)
                .map(|l| l.name.clone())
                .collect();
            for name in old {
                let _ = self.delete_locked(&mut g, scope, &name);
            }
        }
        for lib in new.values() {
            self.load_locked(&mut g, scope, &lib.code, true, false)?;
        }
        Ok(())
    }

    fn delete_locked(&self, g: &mut Engines, scope: usize, name: &str) -> Option<()> {
        let mut libs = self.libraries.write();
        let old = libs.scopes.get_mut(&scope)?.remove(name)?;
        for f in old.functions {
            g.fns.remove(&(scope, f.name));
        }
        Some(())
    }

    /// FUNCTION STATS' `running_script`: the running function's name,
    /// command and DB.
    pub fn running_function(&self) -> Option<(String, Vec<Vec<u8>>, usize)> {
        if !self.running() {
            return None;
        }
        let g = self.running_function.lock();
        g.as_ref()
            .map(|(n, a)| (n.clone(), a.clone(), self.runner_db.load(Ordering::Relaxed)))
    }

    /// When the running script started (ms), 0 if none runs.
    pub fn started_ms(&self) -> i64 {
        self.started.load(Ordering::Acquire)
    }

    /// Libraries (each with its scope) for an RDB file or AOF base.
    pub fn library_codes(&self) -> Vec<(usize, Vec<u8>)> {
        self.libraries
            .read()
            .all()
            .map(|(s, l)| (s, l.code.clone()))
            .collect()
    }
}

/// FUNCTION RESTORE's policy for libraries that already exist.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

/// FCALL / FCALL_RO.
pub fn fcall(ctx: &mut Ctx<'_>, argv: &[&[u8]], readonly: bool) -> crate::commands::CmdResult {
    let sc = &ctx.srv.scripting;
    let scope = sc.function_scope(ctx.client.db);
    let flags = sc
        .libraries
        .read()
        .function(scope, argv[1])
        .map(|f| f.flags)
        .ok_or(Error::lit("ERR Function not found"))?;
    let writes = flags & flag::NO_WRITES == 0;
    // What Redis's processCommand decides from the function's flags (a
    // function without no-writes is a write command, without allow-oom a
    // denyoom one): memory first, then a failed save or AOF write.
    if !ctx.client.replaying {
        if writes && flags & flag::ALLOW_OOM == 0 {
            crate::tenancy::gate::script_memory(ctx)?;
        }
        if writes {
            if let Some(e) = crate::server::dispatch::write_refusal(ctx) {
                return Err(e);
            }
        }
    }
    let Some(n) = crate::protocol::parse::parse_i64(argv[2]) else {
        return Err(Error::lit("ERR Bad number of keys provided"));
    };
    if n > (argv.len() - 3) as i64 {
        return Err(crate::commands::errors::NUMKEYS_TOO_MANY);
    }
    if n < 0 {
        return Err(Error::lit("ERR Number of keys can't be negative"));
    }
    if writes && readonly {
        return Err(super::RO_WITH_WRITES);
    }
    // The DB lock a memory check took goes before the Lua state's lock
    // (see EV in commands/scripting.rs).
    ctx.release_db();
    let name = String::from_utf8_lossy(argv[1]).into_owned();
    let (keys, args) = argv[3..].split_at(n as usize);
    with_engines(ctx, |ctx, g, ticks| {
        let Some((f, flags)) = g.fns.get(&(scope, name.clone())) else {
            return Err(Error::lit("ERR Function not found"));
        };
        let Some(engine) = g.func.as_ref() else {
            return Err(Error::lit("ERR Function not found"));
        };
        let sc = &ctx.srv.scripting;
        *sc.running_function.lock() =
            Some((name.clone(), argv.iter().map(|a| a.to_vec()).collect()));
        sc.allow_oom
            .store(flags & flag::ALLOW_OOM != 0, Ordering::Relaxed);
        let no_writes = flags & flag::NO_WRITES != 0;
        let r = run_script(ctx, engine, f, keys, args, &name, no_writes, ticks, true);
        sc.allow_oom.store(false, Ordering::Relaxed);
        r
    })
}

/// FUNCTION DUMP's payload: a FUNCTION2 record per library, the RDB
/// version and a CRC64, as Redis's DUMP footer.
pub fn dump_payload(codes: &[Vec<u8>]) -> Vec<u8> {
    use crate::persistence::rdb::{dump::DUMP_VERSION, opcodes};
    let mut out = Vec::new();
    for code in codes {
        out.push(opcodes::FUNCTION2);
        crate::persistence::rdb::write::put_string(&mut out, code, true);
    }
    out.extend_from_slice(&DUMP_VERSION.number().to_le_bytes());
    let crc = crate::persistence::rdb::crc::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library codes of a FUNCTION RESTORE payload, or Redis's error.
pub fn parse_payload(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use crate::persistence::rdb::{opcodes, MAX_VERSION};
    let bad = || "DUMP payload version or checksum are wrong".to_string();
    let body_len = payload.len().checked_sub(10).ok_or_else(bad)?;
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(version) > MAX_VERSION {
        return Err(bad());
    }
    let crc = u64::from_le_bytes(footer[2..].try_into().expect("8-byte CRC"));
    if crate::persistence::rdb::crc::crc64(&payload[..body_len + 2]) != crc {
        return Err(bad());
    }
    let mut codes = Vec::new();
    let mut at = 0;
    while at < body_len {
        let ty = payload[at];
        at += 1;
        if ty == opcodes::FUNCTION_PRE_GA {
            return Err("Pre-GA function format not supported".into());
        }
        if ty != opcodes::FUNCTION2 {
            return Err("given type is not a function".into());
        }
        let (code, used) = crate::persistence::rdb::read::read_string(&payload[at..])
            .map_err(|_| "Failed loading library payload".to_string())?;
        at += used;
        codes.push(code);
    }
    Ok(codes)
}

/// Loads libraries read from an RDB file or AOF base (each with the DB it
/// was written under, `None` for Redis's place before the DBs).
pub fn load_from_file(sc: &Scripting, libs: &[(Option<usize>, Vec<u8>)]) -> Result<(), String> {
    for (db, code) in libs {
        let scope = sc.function_scope(db.unwrap_or(0));
        sc.function_load(scope, code, false, false)
            .map_err(|e| format!("Failed loading library: {e}"))?;
    }
    Ok(())
}
