//! Lua scripting (EVAL, EVALSHA, SCRIPT …): one sandboxed Lua 5.1 state per
//! server, the compiled-script cache keyed by SHA1, and the state of the
//! running script that BUSY and SCRIPT KILL read.
//!
//! The state lives behind a mutex: scripts run one at a time, as in Redis.
//! `redis.call` goes through dispatch with the script's client, so ACL and
//! every other gate apply inside scripts too.

pub mod convert;
pub mod libs;
pub mod msgpack;
pub mod structlib;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};
use parking_lot::Mutex;

use crate::commands::errors::Error;
use crate::commands::spec::flags;
use crate::commands::Ctx;
use crate::protocol::{Protocol, ReplyBuf};

pub const BUSY: Error = Error::lit(
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
);
pub const NOSCRIPT: Error = Error::lit("NOSCRIPT No matching script. Please use EVAL.");
pub const NOTBUSY: Error = Error::lit("NOTBUSY No scripts in execution right now.");
pub const UNKILLABLE: Error = Error::lit("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// Lua instructions between two checks of the kill flag.
const HOOK_EVERY: u32 = 100_000;
/// Hook ticks before a script run inline hands its worker's queued tasks
/// to another thread (a few milliseconds of Lua).
const HANDOFF_AFTER: u32 = 4;
/// `hook_ticks` value that turns the handoff off (not on a worker thread,
/// or already running inside block_in_place).
const NO_HANDOFF: u32 = 1 << 30;

/// Server-wide scripting state, owned by [`crate::server::Shared`].
pub struct Scripting {
    engine: Mutex<Option<Engine>>,
    /// Start (ms) of the running script; 0 when none runs.
    started: AtomicI64,
    /// Client running the script (it is never BUSY for itself).
    runner: AtomicU64,
    /// The running script executed a write: SCRIPT KILL refuses.
    wrote: AtomicBool,
    /// SCRIPT KILL asked the running script to stop.
    kill: Arc<AtomicBool>,
    /// Kill-flag checks since the running script started (drives the
    /// worker handoff of scripts run inline).
    hook_ticks: Arc<AtomicU32>,
    /// busy-reply-threshold in ms.
    pub busy_threshold_ms: AtomicI64,
    /// `script-scope db`: each DB has its own script cache (see
    /// [`Scripting::cache_key`]). Fixed at startup.
    per_db: AtomicBool,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            engine: Mutex::new(None),
            started: AtomicI64::new(0),
            runner: AtomicU64::new(0),
            wrote: AtomicBool::new(false),
            kill: Arc::new(AtomicBool::new(false)),
            hook_ticks: Arc::new(AtomicU32::new(NO_HANDOFF)),
            busy_threshold_ms: AtomicI64::new(5000),
            per_db: AtomicBool::new(false),
        }
    }
}

/// The sandboxed Lua state and its cache.
struct Engine {
    lua: Lua,
    scripts: HashMap<String, Function>,
    /// The protected global environment scripts run in.
    env: Table,
    /// The real globals (KEYS and ARGV are set here).
    globals: Table,
    /// The writable table behind the read-only `redis`.
    redis: Table,
    /// Hidden slots shared with the error handler (pending error texts).
    k: Table,
    /// `function(f) return xpcall(f, handler) end`.
    run: Function,
    /// The protocol redis.call replies are parsed in (redis.setresp).
    resp: Arc<AtomicU8>,
    /// Buffers redis.call and redis.pcall reuse across calls and scripts.
    bufs: [CallBufs; 2],
}

/// Per-call scratch kept between calls so a command from a script
/// allocates nothing for its arguments or reply once warmed up.
struct CallBufs {
    /// The command's arguments, back to back.
    arena: Vec<u8>,
    /// End offset of each argument in `arena`.
    ends: Vec<usize>,
    /// The reply dispatch writes.
    reply: ReplyBuf,
}

impl CallBufs {
    fn new() -> Self {
        CallBufs {
            arena: Vec::new(),
            ends: Vec::new(),
            reply: ReplyBuf {
                buf: Vec::new(),
                proto: Protocol::Resp2,
            },
        }
    }
}

/// How a script's function is found.
pub enum Source<'a> {
    Body(&'a [u8]),
    Sha(&'a [u8]),
}

pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

impl Scripting {
    /// Whether `client` must get BUSY: another client's script has run past
    /// the threshold.
    #[inline]
    pub fn busy_for(&self, client: u64, now_ms: i64) -> bool {
        let started = self.started.load(Ordering::Acquire);
        started != 0
            && self.runner.load(Ordering::Relaxed) != client
            && now_ms - started >= self.busy_threshold_ms.load(Ordering::Relaxed)
    }

    /// Whether the running script has already written (SCRIPT KILL refuses
    /// it; the quota gate lets its further writes through).
    pub fn has_written(&self) -> bool {
        self.wrote.load(Ordering::Acquire)
    }

    /// SCRIPT KILL.
    pub fn kill(&self) -> Result<(), Error> {
        if self.started.load(Ordering::Acquire) == 0 {
            return Err(NOTBUSY);
        }
        if self.wrote.load(Ordering::Acquire) {
            return Err(UNKILLABLE);
        }
        self.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// Chooses per-DB script caches (`script-scope db`); set once at
    /// startup, before any script is cached.
    pub fn set_per_db(&self, per_db: bool) {
        self.per_db.store(per_db, Ordering::Relaxed);
    }

    /// The cache key of `sha` (lowercase) for a client in `db`: the SHA1
    /// itself, or with `script-scope db` the DB in front, so a script
    /// loaded in one DB is NOSCRIPT in another.
    fn cache_key<'a>(&self, db: usize, sha: &'a str) -> Cow<'a, str> {
        if self.per_db.load(Ordering::Relaxed) {
            Cow::Owned(format!("{db}:{sha}"))
        } else {
            Cow::Borrowed(sha)
        }
    }

    /// SCRIPT LOAD from a client in `db`: compiles and caches, returning
    /// the SHA1.
    pub fn load(&self, db: usize, body: &[u8]) -> Result<String, Error> {
        let mut g = self.engine.lock();
        let engine = engine(&mut g, self)?;
        let sha = sha1_hex(body);
        let key = self.cache_key(db, &sha);
        if !engine.scripts.contains_key(key.as_ref()) {
            engine.compile(body, &key)?;
        }
        Ok(sha)
    }

    /// SCRIPT EXISTS for one SHA1, from a client in `db`.
    pub fn exists(&self, db: usize, sha: &[u8]) -> bool {
        let g = self.engine.lock();
        let Some(e) = &*g else { return false };
        let Ok(s) = std::str::from_utf8(sha) else {
            return false;
        };
        let sha = s.to_ascii_lowercase();
        e.scripts.contains_key(self.cache_key(db, &sha).as_ref())
    }

    /// SCRIPT FLUSH: a fresh Lua state, as Redis does.
    pub fn flush(&self) {
        let old = self.engine.lock().take();
        drop(old);
    }
}

fn engine<'a>(g: &'a mut Option<Engine>, sc: &Scripting) -> Result<&'a mut Engine, Error> {
    if g.is_none() {
        *g = Some(
            Engine::new(sc.kill.clone(), sc.hook_ticks.clone())
                .map_err(|e| Error::from(format!("ERR Lua initialization failed: {e}")))?,
        );
    }
    Ok(g.as_mut().expect("engine was just created"))
}

/// Redis's sandbox and error handler, run once per Lua state with the
/// real globals and the hidden slot table.
const PRELUDE: &str = r#"
local K, real, redis = ...
local getinfo = debug.getinfo
local rawpcall, rawxpcall = pcall, xpcall
-- Errors raised from Rust arrive as userdata; the text waits in K.
local function conv(e)
  if type(e) == 'userdata' then
    if K.perr then e = {err = K.perr} elseif K.pstr then e = K.pstr end
    K.perr = nil
    K.pstr = nil
  end
  return e
end
-- Redis 7's pcall hands back an error table's `err` text, as older
-- versions did when errors were strings.
local function pfix(ok, ...)
  if ok then return ok, ... end
  local e = conv((...))
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then e = m end
  end
  return false, e
end
real.pcall = function(...) return pfix(rawpcall(...)) end
local function rfix(ok, ...)
  if ok then return ok, ... end
  return false, conv((...))
end
local rawresume = real.coroutine.resume
real.coroutine.resume = function(...) return rfix(rawresume(...)) end
local function same(...) return ... end
real.xpcall = function(f, h)
  return same(rawxpcall(f, function(e) return h(conv(e)) end))
end
local ro_err = function() error('Attempt to modify a readonly table', 2) end
local function ro(t)
  return setmetatable({}, {__index = t, __newindex = ro_err, __metatable = false})
end
local allow = {xpcall=1, tostring=1, getfenv=1, setmetatable=1, next=1, assert=1,
  tonumber=1, rawequal=1, collectgarbage=1, getmetatable=1, rawset=1, pcall=1,
  coroutine=1, type=1, select=1, unpack=1, gcinfo=1, pairs=1, loadstring=1,
  ipairs=1, error=1, rawget=1, setfenv=1, _VERSION=1, newproxy=1,
  string=1, math=1, table=1, cjson=1, bit=1, cmsgpack=1, struct=1}
local drop = {}
for k in pairs(real) do if not allow[k] then drop[#drop + 1] = k end end
for _, k in ipairs(drop) do real[k] = nil end
for _, k in ipairs({'string', 'math', 'table', 'cjson', 'bit', 'cmsgpack', 'struct', 'coroutine'}) do
  if real[k] then real[k] = ro(real[k]) end
end
real.redis = ro(redis)
local env = ro(real)
real._G = env
setmetatable(real, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end, __metatable = false})
local function handler(err)
  local lvl = 2
  local i = getinfo(lvl, 'nSl')
  if i and i.what == 'C' then lvl = lvl + 1; i = getinfo(lvl, 'nSl') end
  -- keyward: the sandbox's metamethods are Lua here (a VM patch in Redis).
  while i and i.source == '=keyward' do lvl = lvl + 1; i = getinfo(lvl, 'nSl') end
  if type(err) == 'userdata' then
    if K.perr then err = {err = K.perr} elseif K.pstr then err = K.pstr end
  end
  K.perr = nil
  K.pstr = nil
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end
local run = function(f) return rawxpcall(f, handler) end
return env, run
"#;

impl Engine {
    fn new(kill: Arc<AtomicBool>, ticks: Arc<AtomicU32>) -> mlua::Result<Engine> {
        // SAFETY: the debug library is only reachable by the prelude's
        // error handler (it captures `debug.getinfo`, then the sandbox
        // removes `debug` from the globals), as in Redis.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let globals = lua.globals();
        let k = lua.create_table()?;
        libs::install(&lua, &globals, &k)?;
        let resp = Arc::new(AtomicU8::new(2));
        let redis = libs::redis_table(&lua, &k, resp.clone())?;
        let (env, run): (Table, Function) = lua.load(PRELUDE).set_name("=keyward").call((
            k.clone(),
            globals.clone(),
            redis.clone(),
        ))?;
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if kill.load(Ordering::Acquire) {
                    return Err(mlua::Error::RuntimeError(KILLED.into()));
                }
                let n = ticks.fetch_add(1, Ordering::Relaxed);
                // A long script run inline gives its worker's core (with
                // the tasks queued on it, including the LIFO slot other
                // workers cannot steal) to a new thread, so clients that
                // must get BUSY or send SCRIPT KILL are served. The new
                // thread needs a moment to take the core, or block_in_place
                // takes it back: sleep briefly, and retry at growing
                // intervals in case it did.
                if (HANDOFF_AFTER..NO_HANDOFF).contains(&n) && n.is_power_of_two() {
                    tokio::task::block_in_place(|| {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    });
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Engine {
            lua,
            scripts: HashMap::new(),
            env,
            globals,
            redis,
            k,
            run,
            resp,
            bufs: [CallBufs::new(), CallBufs::new()],
        })
    }

    /// Compiles `body` and caches it under `key` ([`Scripting::cache_key`]).
    fn compile(&mut self, body: &[u8], key: &str) -> Result<Function, Error> {
        let f = self
            .lua
            .load(body)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                Error::from(format!("ERR Error compiling script (new function): {msg}"))
            })?;
        self.scripts.insert(key.to_string(), f.clone());
        Ok(f)
    }
}

/// Redis's NUMKEYS checks; returns the number of keys.
pub fn numkeys(argv: &[&[u8]]) -> Result<usize, Error> {
    let n = crate::commands::args::int(argv[2])?;
    if n > (argv.len() - 3) as i64 {
        return Err(crate::commands::errors::NUMKEYS_TOO_MANY);
    }
    if n < 0 {
        return Err(Error::lit("ERR Number of keys can't be negative"));
    }
    Ok(n as usize)
}

/// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO.
pub fn eval(ctx: &mut Ctx<'_>, argv: &[&[u8]], by_sha: bool, readonly: bool) -> Result<(), Error> {
    // Most scripts take microseconds: run them inline, as handing the
    // worker to another thread for each one (block_in_place) costs more
    // than the script. The hook hands the worker off once a script turns
    // out long. If another script holds the Lua state, wait for it off the
    // worker once it proves long, so this thread does not stall its queued
    // clients.
    let sc = &ctx.srv.scripting;
    let multi = matches!(
        tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
        Ok(tokio::runtime::RuntimeFlavor::MultiThread)
    );
    if !multi {
        let g = sc.engine.lock();
        return eval_inner(ctx, g, argv, by_sha, readonly, NO_HANDOFF);
    }
    // Scripts from other workers usually finish within microseconds: wait
    // a little on the lock before paying for a worker handoff.
    let quick = sc
        .engine
        .try_lock()
        .or_else(|| sc.engine.try_lock_for(std::time::Duration::from_millis(2)));
    match quick {
        Some(g) => eval_inner(ctx, g, argv, by_sha, readonly, 0),
        None => tokio::task::block_in_place(|| {
            let g = sc.engine.lock();
            eval_inner(ctx, g, argv, by_sha, readonly, NO_HANDOFF)
        }),
    }
}

fn eval_inner(
    ctx: &mut Ctx<'_>,
    mut g: parking_lot::MutexGuard<'_, Option<Engine>>,
    argv: &[&[u8]],
    by_sha: bool,
    readonly: bool,
    ticks: u32,
) -> Result<(), Error> {
    let nk = numkeys(argv)?;
    let srv = ctx.srv;
    let sc = &srv.scripting;
    let engine = engine(&mut g, sc)?;
    let db = ctx.client.db;
    let (f, sha) = if by_sha {
        // Case-insensitive lookup without allocating: SHA1s are 40 hex digits.
        let mut low = [0u8; 40];
        if argv[1].len() != 40 {
            return Err(NOSCRIPT);
        }
        for (d, s) in low.iter_mut().zip(argv[1]) {
            *d = s.to_ascii_lowercase();
        }
        let sha = std::str::from_utf8(&low).map_err(|_| NOSCRIPT)?;
        match engine.scripts.get(sc.cache_key(db, sha).as_ref()) {
            Some(f) => (f.clone(), sha.to_string()),
            None => return Err(NOSCRIPT),
        }
    } else {
        let sha = sha1_hex(argv[1]);
        let key = sc.cache_key(db, &sha);
        match engine.scripts.get(key.as_ref()) {
            Some(f) => (f.clone(), sha),
            None => (engine.compile(argv[1], &key)?, sha),
        }
    };
    let lua_err = |e: mlua::Error| Error::from(format!("ERR Error running script {sha}: {e}"));
    let keys = engine
        .lua
        .create_sequence_from(argv[3..3 + nk].iter().map(|a| LuaBytes(a)))
        .map_err(lua_err)?;
    let args = engine
        .lua
        .create_sequence_from(argv[3 + nk..].iter().map(|a| LuaBytes(a)))
        .map_err(lua_err)?;
    engine.globals.raw_set("KEYS", keys).map_err(lua_err)?;
    engine.globals.raw_set("ARGV", args).map_err(lua_err)?;
    engine.resp.store(2, Ordering::Relaxed);

    sc.kill.store(false, Ordering::Release);
    sc.hook_ticks.store(ticks, Ordering::Relaxed);
    sc.wrote.store(false, Ordering::Release);
    sc.runner.store(ctx.client.id, Ordering::Relaxed);
    sc.started
        .store(srv.clock.now_ms().max(1), Ordering::Release);
    let (was_script, was_exec) = (ctx.client.in_script, ctx.client.in_exec);
    ctx.client.in_script = true;
    // Blocked clients are served once the script ended, not between its calls.
    ctx.client.in_exec = true;

    let ctx_cell = std::cell::RefCell::new(&mut *ctx);
    let result = {
        let cc = &ctx_cell;
        let Engine {
            lua,
            redis,
            k,
            run,
            resp,
            bufs,
            ..
        } = &mut *engine;
        let [b1, b2] = bufs;
        let (lua, redis, k, run, resp) = (&*lua, &*redis, &*k, &*run, &*resp);
        lua.scope(|scope| {
            let call = scope.create_function_mut(move |lua, args: Variadic<Value>| {
                let mut c = cc.borrow_mut();
                redis_call(lua, &mut c, b1, k, resp, readonly, args, true)
            })?;
            let pcall = scope.create_function_mut(move |lua, args: Variadic<Value>| {
                let mut c = cc.borrow_mut();
                redis_call(lua, &mut c, b2, k, resp, readonly, args, false)
            })?;
            redis.raw_set("call", call)?;
            redis.raw_set("pcall", pcall)?;
            let r: (bool, Value) = run.call(f)?;
            redis.raw_set("call", Value::Nil)?;
            redis.raw_set("pcall", Value::Nil)?;
            Ok(r)
        })
    };

    ctx.client.in_script = was_script;
    ctx.client.in_exec = was_exec;
    let killed = sc.kill.swap(false, Ordering::AcqRel);
    sc.started.store(0, Ordering::Release);
    sc.runner.store(0, Ordering::Relaxed);

    let (ok, value) = result.map_err(lua_err)?;
    if ok {
        let resp3_script = engine.resp.load(Ordering::Relaxed) == 3;
        convert::lua_to_reply(ctx.out, &value, resp3_script, 0);
        return Ok(());
    }
    Err(script_error(&value, &sha, killed))
}

/// The final reply of a script that raised: `<msg> script: <sha>, on <source>:<line>.`
fn script_error(v: &Value, sha: &str, killed: bool) -> Error {
    let Value::Table(t) = v else {
        return Error::from(format!("ERR Error running script {sha}"));
    };
    let mut msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        _ => String::from("ERR unknown error"),
    };
    if killed {
        msg = KILLED.to_string();
    }
    let source = t
        .raw_get::<Option<mlua::LuaString>>("source")
        .ok()
        .flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    if let (Some(src), Some(line)) = (source, line) {
        msg = format!(
            "{msg} script: {sha}, on {}:{line}.",
            String::from_utf8_lossy(&src.as_bytes())
        );
    }
    Error::from(convert::sanitize_error(&msg))
}

/// A byte slice as a Lua string argument.
struct LuaBytes<'a>(&'a [u8]);

impl mlua::IntoLua for LuaBytes<'_> {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Value> {
        lua.create_string(self.0).map(Value::String)
    }
}

/// Raises a Redis error reply from Rust: the handler turns it into `{err=msg}`.
pub(crate) fn raise_err(k: &Table, msg: &str) -> mlua::Error {
    let _ = k.raw_set("perr", msg);
    let _ = k.raw_set("pstr", Value::Nil);
    mlua::Error::RuntimeError(msg.to_string())
}

/// Raises a Lua error message from Rust with no position (as the VM's
/// own errors raised inside a C function).
pub(crate) fn raise_plain(k: &Table, msg: &str) -> mlua::Error {
    let _ = k.raw_set("perr", Value::Nil);
    let _ = k.raw_set("pstr", msg);
    mlua::Error::RuntimeError(msg.to_string())
}

/// Raises a plain Lua error message from Rust, positioned at the caller
/// (as `luaL_error` does).
pub(crate) fn raise_str(lua: &Lua, k: &Table, msg: &str) -> mlua::Error {
    let pos = lua
        .inspect_stack(1, |d| {
            let line = d.current_line()?;
            let src = d.source().short_src?.into_owned();
            Some(format!("{src}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    let full = format!("{pos}{msg}");
    let _ = k.raw_set("perr", Value::Nil);
    let _ = k.raw_set("pstr", full.as_str());
    mlua::Error::RuntimeError(full)
}

#[allow(clippy::too_many_arguments)]
fn redis_call(
    lua: &Lua,
    ctx: &mut Ctx<'_>,
    bufs: &mut CallBufs,
    k: &Table,
    resp: &AtomicU8,
    readonly: bool,
    args: Variadic<Value>,
    raise: bool,
) -> mlua::Result<Value> {
    let fail = |msg: &str| -> mlua::Result<Value> {
        if raise {
            Err(raise_err(k, msg))
        } else {
            convert::err_table(lua, msg.as_bytes())
        }
    };
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    let CallBufs { arena, ends, reply } = bufs;
    arena.clear();
    ends.clear();
    for a in args.iter() {
        match a {
            Value::String(s) => arena.extend_from_slice(&s.as_bytes()),
            Value::Integer(n) => arena.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Value::Number(n) => arena.extend_from_slice(libs::fmt_g17(*n).as_bytes()),
            _ => return fail("ERR Lua redis lib command arguments must be strings or integers"),
        }
        ends.push(arena.len());
    }
    // Most commands have few arguments: slice them on the stack.
    let mut small: [&[u8]; 16] = [&[]; 16];
    let mut large = Vec::new();
    let argv: &[&[u8]] = if ends.len() <= small.len() {
        let mut start = 0;
        for (slot, &end) in small.iter_mut().zip(ends.iter()) {
            *slot = &arena[start..end];
            start = end;
        }
        &small[..ends.len()]
    } else {
        let mut start = 0;
        for &end in ends.iter() {
            large.push(&arena[start..end]);
            start = end;
        }
        &large
    };
    let cmd = match crate::server::dispatch::resolve(argv) {
        Ok(c) => c,
        Err(e) if e.text().starts_with("ERR wrong number") => {
            return fail("ERR Wrong number of args calling Redis command from script")
        }
        Err(_) => return fail("ERR Unknown Redis command called from script"),
    };
    if readonly && cmd.spec.has(flags::WRITE) {
        return fail("ERR Write commands are not allowed from read-only scripts.");
    }
    reply.buf.clear();
    reply.proto = if resp.load(Ordering::Relaxed) == 3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    std::mem::swap(ctx.out, reply);
    ctx.tick();
    crate::server::dispatch::dispatch(ctx, argv);
    std::mem::swap(ctx.out, reply);
    if cmd.spec.has(flags::WRITE) && reply.buf.first() != Some(&b'-') {
        // Set after the write ran, as Redis's SCRIPT_WRITE_DIRTY: the quota
        // gate refuses a script's denyoom commands only before its first
        // write, so a script is never half-applied by a memory limit.
        ctx.srv.scripting.wrote.store(true, Ordering::Release);
    }
    let (v, is_err) = convert::reply_to_lua(lua, &reply.buf)?;
    if is_err && raise {
        if let Value::Table(t) = &v {
            let msg: mlua::LuaString = t.raw_get("err")?;
            return Err(raise_err(k, &String::from_utf8_lossy(&msg.as_bytes())));
        }
    }
    Ok(v)
}

/// `luaL_argerror`: "bad argument #n to 'name' (msg)", named as the
/// caller called the running Rust function.
pub(crate) fn arg_error(lua: &Lua, k: &Table, narg: i32, msg: &str) -> mlua::Error {
    let (name, method) = lua
        .inspect_stack(0, |d| {
            let n = d.names();
            (
                n.name.map(|s| s.into_owned()),
                n.name_what == Some("method"),
            )
        })
        .unwrap_or((None, false));
    let name = name.unwrap_or_else(|| "?".into());
    let narg = if method { narg - 1 } else { narg };
    if method && narg == 0 {
        return raise_str(lua, k, &format!("calling '{name}' on bad self ({msg})"));
    }
    raise_str(lua, k, &format!("bad argument #{narg} to '{name}' ({msg})"))
}

/// Lua's type name of an argument, "no value" past the last one.
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(v) => match v {
            Value::Nil => "nil",
            Value::Boolean(_) => "boolean",
            Value::LightUserData(_) | Value::UserData(_) => "userdata",
            Value::Integer(_) | Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Table(_) => "table",
            Value::Function(_) => "function",
            Value::Thread(_) => "thread",
            _ => "userdata",
        },
    }
}

/// `luaL_checklstring`: strings, and numbers as Lua formats them.
pub(crate) fn check_bytes(lua: &Lua, k: &Table, args: &[Value], i: usize) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(libs::fmt_g14(*n as f64).into_bytes()),
        Some(Value::Number(n)) => Ok(libs::fmt_g14(*n).into_bytes()),
        v => Err(arg_error(
            lua,
            k,
            i as i32 + 1,
            &format!("string expected, got {}", type_name(v)),
        )),
    }
}

/// Lua 5.1's string-to-number coercion (`lua_tonumber` on a string).
pub(crate) fn str_number(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = u64::from_str_radix(h, 16).ok()? as f64;
        return Some(if neg { -v } else { v });
    }
    if body.is_empty() || body.starts_with(['i', 'I', 'n', 'N']) {
        return None;
    }
    t.parse().ok()
}

/// `luaL_optnumber` / `luaL_checknumber` (`def` None = required).
pub(crate) fn check_number(
    lua: &Lua,
    k: &Table,
    args: &[Value],
    i: usize,
    def: Option<f64>,
) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Integer(n)) => return Ok(*n as f64),
        Some(Value::Number(n)) => return Ok(*n),
        Some(Value::String(s)) => {
            if let Some(n) = str_number(&s.as_bytes()) {
                return Ok(n);
            }
        }
        None | Some(Value::Nil) if def.is_some() => return Ok(def.unwrap_or_default()),
        _ => {}
    }
    Err(arg_error(
        lua,
        k,
        i as i32 + 1,
        &format!("number expected, got {}", type_name(args.get(i))),
    ))
}

/// `lua_Number` to `lua_Integer` as x86-64 C casts it (out of range
/// gives i64::MIN).
pub(crate) fn c_int64(n: f64) -> i64 {
    // 2^63: the first double past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}
