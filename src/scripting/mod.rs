//! Lua scripting (EVAL, EVALSHA, SCRIPT …): one sandboxed Lua 5.1 state per
//! server, the compiled-script cache keyed by SHA1, and the state of the
//! running script that BUSY and SCRIPT KILL read.
//!
//! The state lives behind a mutex: scripts run one at a time, as in Redis.
//! `redis.call` goes through dispatch with the script's client, so ACL and
//! every other gate apply inside scripts too.

mod call;
pub mod convert;
pub mod functions;
mod json;
pub mod libs;
pub mod msgpack;
pub mod shebang;
pub mod structlib;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use mlua::{ffi, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use parking_lot::Mutex;

use crate::commands::errors::Error;
use crate::commands::Ctx;

pub const BUSY: Error = Error::lit(
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
);
/// BUSY while a function (FCALL) runs: Redis names FUNCTION KILL instead.
pub const BUSY_FUNCTION: Error = Error::lit(
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
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
    engine: Mutex<Engines>,
    /// The function libraries' metadata and code (FUNCTION LIST, DUMP,
    /// STATS and the RDB writer read it without the Lua state's lock,
    /// which a running function holds).
    pub(crate) libraries: parking_lot::RwLock<functions::Libraries>,
    /// The running function's name and command (FUNCTION STATS); `None`
    /// while an EVAL runs or nothing does.
    running_function: Mutex<Option<(String, Vec<Vec<u8>>)>>,
    /// Deadline of the FUNCTION LOAD running now, in ms of
    /// [`functions::load_clock_ms`]; 0 when none (or no timeout).
    load_deadline: Arc<AtomicI64>,
    /// The load hook raised the timeout.
    load_timed_out: Arc<AtomicBool>,
    /// Start (ms) of the running script; 0 when none runs.
    started: AtomicI64,
    /// Client running the script (it is never BUSY for itself).
    runner: AtomicU64,
    /// The DB the running script was called in (SCRIPT KILL from a
    /// DB-restricted user reaches only its own DBs' scripts).
    runner_db: std::sync::atomic::AtomicUsize,
    /// The running script executed a write: SCRIPT KILL refuses.
    wrote: AtomicBool,
    /// The running script is a function (FCALL), not an EVAL.
    function_mode: AtomicBool,
    /// The running function has the `allow-oom` flag: the quota gate lets
    /// its writes through.
    allow_oom: AtomicBool,
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
    /// Woken when a script ends (clients waiting their turn).
    ended: tokio::sync::Notify,
    /// The flags of the cached scripts that have a `#!` line, by cache
    /// key: what admission reads for EVALSHA (Redis's
    /// `evalGetCommandFlags`) without the Lua state's lock, which a
    /// running script holds.
    declared: parking_lot::RwLock<HashMap<String, u8>>,
}

/// What a command of another client may do while a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// No script runs, or it is this client's own.
    Go,
    /// A script runs and has not reached busy-reply-threshold: the command
    /// waits, as in Redis, where nothing else runs meanwhile.
    Wait,
    /// Past the threshold: only `allow_busy` commands run, others get BUSY.
    Busy,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            engine: Mutex::new(Engines::default()),
            libraries: parking_lot::RwLock::new(functions::Libraries::default()),
            running_function: Mutex::new(None),
            load_deadline: Arc::new(AtomicI64::new(0)),
            load_timed_out: Arc::new(AtomicBool::new(false)),
            started: AtomicI64::new(0),
            runner: AtomicU64::new(0),
            runner_db: std::sync::atomic::AtomicUsize::new(0),
            wrote: AtomicBool::new(false),
            function_mode: AtomicBool::new(false),
            allow_oom: AtomicBool::new(false),
            kill: Arc::new(AtomicBool::new(false)),
            hook_ticks: Arc::new(AtomicU32::new(NO_HANDOFF)),
            busy_threshold_ms: AtomicI64::new(5000),
            per_db: AtomicBool::new(false),
            ended: tokio::sync::Notify::new(),
            declared: parking_lot::RwLock::new(HashMap::new()),
        }
    }
}

/// The Lua states: EVAL's (dropped by SCRIPT FLUSH) and the functions'
/// (FUNCTION FLUSH), with the callbacks of the loaded functions.
#[derive(Default)]
pub(crate) struct Engines {
    eval: Option<Engine>,
    func: Option<Engine>,
    /// (library scope, function name) → callback and flags.
    fns: HashMap<(usize, String), (Function, u8)>,
}

/// What the script engines hold ([`Scripting::memory`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct ScriptMemory {
    /// EVAL's Lua state.
    pub vm_eval: usize,
    /// The functions' Lua state.
    pub vm_functions: usize,
    /// Scripts in EVAL's cache, and what the cache itself takes.
    pub cached_scripts: usize,
    pub scripts_eval: usize,
    pub functions: usize,
    pub libraries: usize,
    /// The libraries' names and code as kept for FUNCTION DUMP/LIST.
    pub functions_bytes: usize,
}

/// The sandboxed Lua state and its cache.
struct Engine {
    lua: Lua,
    /// Compiled scripts by cache key, with the flags of their `#!` line
    /// (`None`: no shebang, Redis's compatibility mode).
    scripts: HashMap<String, (Function, Option<u8>)>,
    /// The protected global environment scripts run in.
    env: Table,
    /// `function(f) return xpcall(f, handler) end`.
    run: Function,
    /// `function(f, keys, args)`: as `run`, calling `f(keys, args)`.
    frun: Function,
    /// The functions' state only: their global table and loader.
    func: Option<functions::FuncParts>,
    /// The protocol redis.call replies are parsed in (redis.setresp).
    resp: Arc<AtomicU8>,
    /// What redis.call reads of the running EVAL (its address is an
    /// upvalue of redis.call and redis.pcall, so it is boxed and declared
    /// after `lua`, which is dropped first).
    slot: Box<std::cell::UnsafeCell<call::CallSlot>>,
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
    /// Whether `client`'s command may run now (one atomic load when no
    /// script runs).
    #[inline]
    pub fn turn(&self, client: u64, now_ms: i64) -> Turn {
        let started = self.started.load(Ordering::Acquire);
        if started == 0 || self.runner.load(Ordering::Relaxed) == client {
            Turn::Go
        } else if now_ms - started >= self.busy_threshold_ms.load(Ordering::Relaxed) {
            Turn::Busy
        } else {
            Turn::Wait
        }
    }

    /// Marks the running script ended and wakes the clients waiting for it.
    fn end_script(&self) {
        if self.function_mode.load(Ordering::Relaxed) {
            *self.running_function.lock() = None;
        }
        self.started.store(0, Ordering::Release);
        self.runner.store(0, Ordering::Relaxed);
        self.ended.notify_waiters();
    }

    /// The BUSY reply for the script running now.
    pub fn busy_error(&self) -> Error {
        if self.function_mode.load(Ordering::Relaxed) {
            BUSY_FUNCTION
        } else {
            BUSY
        }
    }

    /// Whether a script runs.
    #[inline]
    pub fn running(&self) -> bool {
        self.started.load(Ordering::Acquire) != 0
    }

    /// Waits, without holding a thread, until no script runs.
    pub async fn wait_idle(&self) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if !self.running() {
                return;
            }
            ended.await;
        }
    }

    /// Waits, without holding a thread, while another client's script runs
    /// and has not reached busy-reply-threshold.
    ///
    /// Connections come here when dispatch answered [`Turn::Wait`]: waiting
    /// inside dispatch, for the script's DB lock say, would stall the
    /// worker thread, and with it the clients that must get BUSY or send
    /// SCRIPT KILL.
    pub async fn wait_turn(&self, client: u64, clock: &crate::clock::Clock) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the check, so an end in between still wakes us.
            ended.as_mut().enable();
            let started = self.started.load(Ordering::Acquire);
            if self.turn(client, clock.now_ms()) != Turn::Wait {
                return;
            }
            let threshold = self.busy_threshold_ms.load(Ordering::Relaxed);
            let left = started
                .saturating_add(threshold)
                .saturating_sub(clock.now_ms())
                .clamp(1, 100) as u64;
            tokio::select! {
                _ = &mut ended => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(left)) => {}
            }
        }
    }

    /// Whether the running script has already written (SCRIPT KILL refuses
    /// it; the quota gate lets its further writes through).
    pub fn has_written(&self) -> bool {
        self.wrote.load(Ordering::Acquire)
    }

    /// Whether the running function may write past the memory limits
    /// (`allow-oom`).
    pub fn allows_oom(&self) -> bool {
        self.allow_oom.load(Ordering::Relaxed)
    }

    /// SCRIPT KILL.
    pub fn kill(&self) -> Result<(), Error> {
        self.kill_if(|_| true, false)
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL of a script running
    /// in a DB `allowed` accepts (a DB-restricted user's), checked against
    /// the script running now. Each kills only its own kind, as in Redis.
    pub fn kill_if(&self, allowed: impl Fn(usize) -> bool, function: bool) -> Result<(), Error> {
        if self.started.load(Ordering::Acquire) == 0 {
            return Err(NOTBUSY);
        }
        if !allowed(self.runner_db.load(Ordering::Relaxed)) {
            return Err(NOTBUSY);
        }
        if self.wrote.load(Ordering::Acquire) {
            return Err(UNKILLABLE);
        }
        match (self.function_mode.load(Ordering::Relaxed), function) {
            (true, false) => return Err(BUSY_FUNCTION),
            (false, true) => return Err(BUSY),
            _ => {}
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
        let engine = engine(&mut g.eval, self, false)?;
        let sha = sha1_hex(body);
        let key = self.cache_key(db, &sha);
        if !engine.scripts.contains_key(key.as_ref()) {
            self.compile(engine, body, &key)?;
        }
        Ok(sha)
    }

    /// Compiles `body` into `engine`'s cache under `key`, noting the flags
    /// its shebang declares; returns them.
    fn compile(&self, engine: &mut Engine, body: &[u8], key: &str) -> Result<Option<u8>, Error> {
        let flags = engine.compile(body, key)?;
        if let Some(f) = flags {
            self.declared.write().insert(key.to_string(), f);
        }
        Ok(flags)
    }

    /// The flags the cached script `sha` declared in its shebang, for a
    /// client in `db`; `None` for a script without one, or not cached.
    pub fn sha_flags(&self, db: usize, sha: &[u8]) -> Option<u8> {
        if sha.len() != 40 {
            return None;
        }
        let declared = self.declared.read();
        if declared.is_empty() {
            return None;
        }
        let mut low = [0u8; 40];
        for (d, s) in low.iter_mut().zip(sha) {
            *d = s.to_ascii_lowercase();
        }
        let sha = std::str::from_utf8(&low).ok()?;
        declared.get(self.cache_key(db, sha).as_ref()).copied()
    }

    /// SCRIPT EXISTS for one SHA1, from a client in `db`.
    pub fn exists(&self, db: usize, sha: &[u8]) -> bool {
        let g = self.engine.lock();
        let Some(e) = &g.eval else { return false };
        let Ok(s) = std::str::from_utf8(sha) else {
            return false;
        };
        let sha = s.to_ascii_lowercase();
        e.scripts.contains_key(self.cache_key(db, &sha).as_ref())
    }

    /// INFO memory's script figures. A script running now holds the
    /// engine: its Lua figures read 0 then rather than wait.
    pub fn memory(&self) -> ScriptMemory {
        let mut m = ScriptMemory::default();
        {
            let libs = self.libraries.read();
            for (_, lib) in libs.all() {
                m.libraries += 1;
                m.functions += lib.functions.len();
                m.functions_bytes += lib.name.len() + lib.code.len();
            }
        }
        if let Some(g) = self.engine.try_lock() {
            if let Some(e) = &g.eval {
                m.vm_eval = e.lua.used_memory();
                m.cached_scripts = e.scripts.len();
                // The cache's keys and slots; the compiled functions are in
                // the Lua state's figure.
                m.scripts_eval = e.scripts.keys().map(String::len).sum::<usize>()
                    + e.scripts.capacity() * std::mem::size_of::<(String, mlua::Function)>();
            }
            if let Some(e) = &g.func {
                m.vm_functions = e.lua.used_memory();
            }
        }
        m
    }

    /// SCRIPT FLUSH: a fresh Lua state, as Redis does.
    pub fn flush(&self) {
        let old = {
            let mut g = self.engine.lock();
            self.declared.write().clear();
            g.eval.take()
        };
        drop(old);
    }

    /// Whether each DB has its own script cache (`script-scope db`).
    pub fn is_per_db(&self) -> bool {
        self.per_db.load(Ordering::Relaxed)
    }

    /// The DB of the running script, `None` when none runs.
    pub fn running_db(&self) -> Option<usize> {
        (self.started.load(Ordering::Acquire) != 0).then(|| self.runner_db.load(Ordering::Relaxed))
    }

    /// SCRIPT FLUSH from a DB-restricted user under `script-scope db`:
    /// drops only those DBs' scripts; the Lua state, shared with other
    /// tenants, stays.
    pub fn flush_dbs(&self, dbs: &[usize]) {
        let mut g = self.engine.lock();
        let keep = |key: &String| {
            let db = key
                .split_once(':')
                .and_then(|(d, _)| d.parse::<usize>().ok());
            !db.is_some_and(|d| dbs.contains(&d))
        };
        if let Some(e) = &mut g.eval {
            e.scripts.retain(|key, _| keep(key));
        }
        self.declared.write().retain(|key, _| keep(key));
    }
}

fn engine<'a>(
    g: &'a mut Option<Engine>,
    sc: &Scripting,
    functions: bool,
) -> Result<&'a mut Engine, Error> {
    if g.is_none() {
        *g = Some(
            Engine::new(sc, functions)
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
-- Every tenant's scripts share this Lua state, so nothing a script can
-- reach may keep a change for the next script (Redis makes these tables
-- read-only in the VM; here the raw functions that bypass metatables are
-- wrapped): rawset refuses the protected tables, getfenv hands out the
-- read-only view instead of the real globals, setfenv cannot replace the
-- thread's globals, loadstring compiles into the read-only environment,
-- and the string metatable is shown with the read-only string library.
local protected = setmetatable({}, {__mode = 'k'})
for _, t in pairs(real) do
  if type(t) == 'table' then protected[t] = true end
end
protected[real] = true
protected[env] = true
protected[redis] = true
local rawrawset, rawgetfenv, rawsetfenv = rawset, getfenv, setfenv
local rawloadstring, rawgetmetatable = loadstring, getmetatable
real.rawset = function(t, k, v)
  if protected[t] then error('Attempt to modify a readonly table', 2) end
  return rawrawset(t, k, v)
end
real.getfenv = function(f)
  local e = rawgetfenv(f == nil and 2 or (type(f) == 'number' and f > 0 and f + 1) or f)
  if e == real then return env end
  return e
end
real.setfenv = function(f, t)
  if f == 0 or (type(f) == 'number' and rawgetfenv(f + 1) == real) or
     (type(f) == 'function' and rawgetfenv(f) == real) then
    error("'setfenv' cannot change the script environment", 2)
  end
  return rawsetfenv(type(f) == 'number' and f + 1 or f, t)
end
real.loadstring = function(...)
  local f, e = rawloadstring(...)
  if f then rawsetfenv(f, env) end
  return f, e
end
local string_mt = rawgetmetatable('')
local string_view = ro({__index = real.string})
protected[string_view] = true
real.getmetatable = function(o)
  local mt = rawgetmetatable(o)
  if mt == string_mt then return string_view end
  if protected[mt] then return false end
  return mt
end
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
local frun = function(f, keys, args)
  return rawxpcall(function() return f(keys, args) end, handler)
end
local function protect(t) protected[t] = true end
return env, run, frun, protect, conv, rawpcall
"#;

impl Engine {
    fn new(sc: &Scripting, functions: bool) -> mlua::Result<Engine> {
        let kill = sc.kill.clone();
        let ticks = sc.hook_ticks.clone();
        let deadline = sc.load_deadline.clone();
        let timed_out = sc.load_timed_out.clone();
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
        let slot = Box::new(std::cell::UnsafeCell::new(call::CallSlot::new(
            resp.clone(),
        )));
        call::install(&lua, &redis, slot.get())?;
        json::install(&lua, &globals.raw_get::<Table>("cjson")?, slot.get())?;
        #[allow(clippy::type_complexity)]
        let (env, run, frun, protect, conv, rawpcall): (
            Table,
            Function,
            Function,
            Function,
            Function,
            Function,
        ) = lua.load(PRELUDE).set_name("=keyward").call((
            k.clone(),
            globals.clone(),
            redis.clone(),
        ))?;
        let func = if functions {
            Some(functions::FuncParts::new(
                &lua, &k, &env, &redis, &protect, &conv, &rawpcall,
            )?)
        } else {
            None
        };
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if kill.load(Ordering::Acquire) {
                    return Err(mlua::Error::RuntimeError(KILLED.into()));
                }
                let until = deadline.load(Ordering::Relaxed);
                if until != 0 && functions::load_clock_ms() > until {
                    timed_out.store(true, Ordering::Relaxed);
                    return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
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
            run,
            frun,
            func,
            resp,
            slot,
        })
    }

    /// Compiles `body` and caches it under `key` ([`Scripting::cache_key`]),
    /// with the flags of its shebang, which it returns. The shebang line is
    /// left out of the code but not its newline, so line numbers stay.
    fn compile(&mut self, body: &[u8], key: &str) -> Result<Option<u8>, Error> {
        let (flags, start) = match shebang::eval_flags(body) {
            Ok(Some((flags, start))) => (Some(flags), start),
            Ok(None) => (None, 0),
            Err(e) => return Err(Error::from(format!("ERR {e}"))),
        };
        let f = self
            .lua
            .load(&body[start..])
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
        self.scripts.insert(key.to_string(), (f, flags));
        Ok(flags)
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
pub fn eval(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    by_sha: bool,
    readonly: bool,
) -> crate::commands::CmdResult {
    with_engines(ctx, |ctx, g, ticks| {
        eval_inner(ctx, g, argv, by_sha, readonly, ticks)
    })
}

/// Runs `body` with the Lua states' lock, the way scripts take it.
///
/// Most scripts take microseconds: run them inline, as handing the
/// worker to another thread for each one (block_in_place) costs more
/// than the script. The hook hands the worker off once a script turns
/// out long. If another script holds the Lua state, wait for it off the
/// worker once it proves long, so this thread does not stall its queued
/// clients.
pub(crate) fn with_engines<R>(
    ctx: &mut Ctx<'_>,
    body: impl FnOnce(&mut Ctx<'_>, &mut Engines, u32) -> R,
) -> R {
    let sc = &ctx.srv.scripting;
    let multi = matches!(
        tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
        Ok(tokio::runtime::RuntimeFlavor::MultiThread)
    );
    if !multi {
        let mut g = sc.engine.lock();
        return body(ctx, &mut g, NO_HANDOFF);
    }
    // Scripts from other workers usually finish within microseconds: wait
    // a little on the lock before paying for a worker handoff.
    let quick = sc
        .engine
        .try_lock()
        .or_else(|| sc.engine.try_lock_for(std::time::Duration::from_millis(2)));
    match quick {
        Some(mut g) => body(ctx, &mut g, 0),
        None => tokio::task::block_in_place(|| {
            let mut g = sc.engine.lock();
            body(ctx, &mut g, NO_HANDOFF)
        }),
    }
}

fn eval_inner(
    ctx: &mut Ctx<'_>,
    g: &mut Engines,
    argv: &[&[u8]],
    by_sha: bool,
    readonly: bool,
    ticks: u32,
) -> crate::commands::CmdResult {
    let nk = numkeys(argv)?;
    let srv = ctx.srv;
    let sc = &srv.scripting;
    let engine = engine(&mut g.eval, sc, false)?;
    let db = ctx.client.db;
    // The SHA1 in lowercase, on the stack: 40 hex digits.
    let mut low = [0u8; 40];
    if by_sha {
        if argv[1].len() != 40 {
            return Err(NOSCRIPT);
        }
        for (d, s) in low.iter_mut().zip(argv[1]) {
            *d = s.to_ascii_lowercase();
        }
    } else {
        low.copy_from_slice(sha1_hex(argv[1]).as_bytes());
    }
    let sha = std::str::from_utf8(&low).map_err(|_| NOSCRIPT)?;
    let key = sc.cache_key(db, sha);
    if !engine.scripts.contains_key(key.as_ref()) {
        if by_sha {
            return Err(NOSCRIPT);
        }
        sc.compile(engine, argv[1], &key)?;
    }
    // Borrowed, not cloned: a cloned Function is a registry reference made
    // and dropped per call.
    let engine = &*engine;
    let (f, declared) = &engine.scripts[key.as_ref()];
    let (keys, args) = argv[3..].split_at(nk);
    let Some(flags) = *declared else {
        return run_script(ctx, engine, f, keys, args, sha, readonly, ticks, false);
    };
    // A script with a shebang runs by its flags (Redis's
    // scriptPrepareForRun): memory and MISCONF were admission's, with the
    // flags it read (see `spec::CommandSpec::run_flags`).
    use functions::flag;
    if flags & flag::NO_WRITES == 0 && readonly {
        return Err(RO_WITH_WRITES);
    }
    sc.allow_oom
        .store(flags & flag::ALLOW_OOM != 0, Ordering::Relaxed);
    let no_writes = readonly || flags & flag::NO_WRITES != 0;
    let r = run_script(ctx, engine, f, keys, args, sha, no_writes, ticks, false);
    sc.allow_oom.store(false, Ordering::Relaxed);
    r
}

/// A script that may write, called with EVAL_RO / EVALSHA_RO / FCALL_RO.
pub const RO_WITH_WRITES: Error =
    Error::lit("ERR Can not execute a script with write flag using *_ro command.");

/// Runs a script's function `f` (an EVAL body, or a library function
/// called as `f(keys, args)` when `function`) with the running-script
/// state BUSY and KILL read; `label` names it in error replies (the SHA1
/// or the function name).
#[allow(clippy::too_many_arguments)]
fn run_script(
    ctx: &mut Ctx<'_>,
    engine: &Engine,
    f: &Function,
    keys: &[&[u8]],
    args: &[&[u8]],
    label: &str,
    readonly: bool,
    ticks: u32,
    function: bool,
) -> crate::commands::CmdResult {
    let srv = ctx.srv;
    let sc = &srv.scripting;
    let lua_err = |e: mlua::Error| Error::from(format!("ERR Error running script {label}: {e}"));
    engine.resp.store(2, Ordering::Relaxed);

    sc.kill.store(false, Ordering::Release);
    sc.hook_ticks.store(ticks, Ordering::Relaxed);
    sc.wrote.store(false, Ordering::Release);
    sc.function_mode.store(function, Ordering::Relaxed);
    sc.runner.store(ctx.client.id, Ordering::Relaxed);
    sc.runner_db.store(ctx.client.db, Ordering::Relaxed);
    sc.started
        .store(srv.clock.now_ms().max(1), Ordering::Release);
    let (was_script, was_exec) = (ctx.client.in_script, ctx.client.in_exec);
    ctx.client.in_script = true;
    // Blocked clients are served once the script ended, not between its calls.
    ctx.client.in_exec = true;

    // redis.call reaches this EVAL's Ctx through the slot, and only while
    // the script runs; the raw pointer is the one path to it until then.
    // EVAL's own duration spans its calls, as in Redis's commandstats.
    let eval_mark = ctx.mark;
    let slot = engine.slot.get();
    let ctx_ptr: *mut Ctx<'_> = ctx;
    // SAFETY: the slot belongs to the engine, whose lock is held.
    unsafe {
        (*slot).ctx = ctx_ptr.cast();
        (*slot).in_call = false;
        (*slot).in_json = false;
        (*slot).readonly = readonly;
    }
    let resp = &engine.resp;
    let mut result = Ok(crate::commands::Outcome::Done);
    let runner = if function { &engine.frun } else { &engine.run };
    // SAFETY: the closure works on the stack mlua prepared (the runner at
    // 1, f at 2) within a protected call, and leaves its results there.
    let ran = unsafe {
        engine.lua.exec_raw::<()>((runner, f), |l| {
            if function {
                push_strings(l, keys);
                push_strings(l, args);
                // frun(f, keys, args): xpcall catches every error.
                ffi::lua_call(l, 3, 2);
            } else {
                set_global_strings(l, c"KEYS", keys);
                set_global_strings(l, c"ARGV", args);
                // run(f): xpcall catches every error of the script, so this
                // returns normally with (ok, value) at 1 and 2.
                ffi::lua_call(l, 1, 2);
            }
            (*slot).ctx = std::ptr::null_mut();
            let ctx = &mut *ctx_ptr;
            ctx.mark = eval_mark;
            ctx.client.in_script = was_script;
            ctx.client.in_exec = was_exec;
            let killed = sc.kill.swap(false, Ordering::AcqRel);
            if ffi::lua_toboolean(l, 1) != 0 {
                let resp3 = resp.load(Ordering::Relaxed) == 3;
                convert::lua_to_reply(l, 2, ctx.out, resp3, 0);
            } else {
                result = Err(script_error(l, 2, label, killed));
            }
            // Ended once its reply is built: woken clients would otherwise
            // wait for this batch's DB lock meanwhile.
            sc.end_script();
            ffi::lua_settop(l, 0);
        })
    };
    // SAFETY: as above; cleared again in case the call failed before the
    // closure could.
    let panic = unsafe {
        (*slot).ctx = std::ptr::null_mut();
        (*slot).panic.take()
    };
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
    if let Err(e) = ran {
        ctx.mark = eval_mark;
        ctx.client.in_script = was_script;
        ctx.client.in_exec = was_exec;
        sc.kill.store(false, Ordering::Release);
        sc.end_script();
        return Err(lua_err(e));
    }
    result
}

/// Pushes a fresh array of `items`.
///
/// # Safety
/// `l` must be a valid state with room for two slots.
unsafe fn push_strings(l: *mut ffi::lua_State, items: &[&[u8]]) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        ffi::lua_createtable(l, items.len().min(1 << 20) as std::os::raw::c_int, 0);
        for (i, s) in items.iter().enumerate() {
            convert::push_bytes(l, s);
            ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
        }
    }
}

/// Sets the global `name` (raw) to a fresh array of `items`.
///
/// # Safety
/// `l` must be a valid state with room for three slots.
unsafe fn set_global_strings(l: *mut ffi::lua_State, name: &std::ffi::CStr, items: &[&[u8]]) {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        ffi::lua_pushstring(l, name.as_ptr());
        ffi::lua_createtable(l, items.len().min(1 << 20) as std::os::raw::c_int, 0);
        for (i, s) in items.iter().enumerate() {
            convert::push_bytes(l, s);
            ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
        }
        ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
    }
}

/// The final reply of a script that raised (the error value at `idx`):
/// `<msg> script: <sha>, on <source>:<line>.`
///
/// # Safety
/// `idx` must be a valid absolute index of `l`.
unsafe fn script_error(
    l: *mut ffi::lua_State,
    idx: std::os::raw::c_int,
    sha: &str,
    killed: bool,
) -> Error {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        if ffi::lua_type(l, idx) != ffi::LUA_TTABLE {
            return Error::from(format!("ERR Error running script {sha}"));
        }
        let mut msg = match convert::string_field(l, idx, c"err") {
            Some(s) => String::from_utf8_lossy(s).into_owned(),
            None => String::from("ERR unknown error"),
        };
        if killed {
            msg = KILLED.to_string();
        }
        let source = convert::string_field(l, idx, c"source");
        let line = convert::number_field(l, idx, c"line");
        if let (Some(src), Some(line)) = (source, line) {
            msg = format!(
                "{msg} script: {sha}, on {}:{}.",
                String::from_utf8_lossy(src),
                line as i64
            );
        }
        Error::from(convert::sanitize_error(&msg))
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
