//! `redis.call` and `redis.pcall`: C functions on the raw Lua stack.
//!
//! They are created once per Lua state with a light-userdata upvalue that
//! points at the engine's [`CallSlot`]; EVAL fills the slot with its
//! context for the length of the script. Arguments are read straight off
//! the stack (strings are not copied: they stay on the stack for the whole
//! call) and the reply is pushed straight from the RESP dispatch wrote.
//! Going through mlua `Variadic<Value>` and per-EVAL scoped closures cost
//! about a quarter of a BullMQ-sized script's server CPU (perf with
//! `benches/evalsha.sh`); this path has no registry references at all.

use std::any::Any;
use std::os::raw::{c_int, c_void};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Table};

use super::convert;
use crate::commands::spec::flags;
use crate::commands::Ctx;
use crate::protocol::{Protocol, ReplyBuf};

/// What `redis.call` needs from the running EVAL, plus buffers kept
/// between calls so a command from a script allocates nothing for its
/// arguments or reply once warmed up.
pub(super) struct CallSlot {
    /// The running EVAL's `Ctx` (a `*mut Ctx<'_>`); null between scripts.
    pub ctx: *mut c_void,
    /// EVAL_RO / EVALSHA_RO: write commands are refused.
    pub readonly: bool,
    /// The protocol replies are parsed in (redis.setresp).
    pub resp: Arc<AtomicU8>,
    /// A panic caught inside a call, resumed once the script has ended
    /// (unwinding through Lua's C frames is not allowed).
    pub panic: Option<Box<dyn Any + Send>>,
    /// Number arguments formatted as Redis formats them.
    numbers: Vec<u8>,
    /// Each argument: (pointer, length), or (offset in `numbers`, length)
    /// when the flag is set.
    spans: Vec<(usize, usize, bool)>,
    /// The reply dispatch writes.
    reply: ReplyBuf,
    /// cjson's output and string scratch ([`super::json`]).
    pub json: Vec<u8>,
    /// A redis.call / a cjson function is running. Lua can run a `__gc`
    /// finalizer (newproxy) inside any allocation, and a finalizer calling
    /// either again would reuse buffers still being read: refused, as
    /// Redis refuses a nested redis.call. Reset at every EVAL.
    pub in_call: bool,
    pub in_json: bool,
}

// SAFETY: `ctx` is set only while `eval_inner` runs the script on this
// thread with the engine lock held, and is reset before the lock is
// released; the slot is otherwise plain owned data.
unsafe impl Send for CallSlot {}

impl CallSlot {
    pub fn new(resp: Arc<AtomicU8>) -> Self {
        CallSlot {
            ctx: std::ptr::null_mut(),
            readonly: false,
            resp,
            panic: None,
            numbers: Vec::new(),
            spans: Vec::new(),
            reply: ReplyBuf {
                buf: Vec::new(),
                proto: Protocol::Resp2,
            },
            json: Vec::new(),
            in_call: false,
            in_json: false,
        }
    }
}

/// Sets `redis.call` and `redis.pcall` in `redis`, bound to `slot`, which
/// must outlive the Lua state.
pub(super) fn install(lua: &Lua, redis: &Table, slot: *mut CallSlot) -> mlua::Result<()> {
    set_closures(
        lua,
        redis,
        slot,
        &[("call", lua_call), ("pcall", lua_pcall)],
    )
}

/// Sets C functions in `t` as closures whose one upvalue is `slot` (a
/// light userdata), which must outlive the Lua state.
pub(super) fn set_closures(
    lua: &Lua,
    t: &Table,
    slot: *mut CallSlot,
    fns: &[(&str, ffi::lua_CFunction)],
) -> mlua::Result<()> {
    for &(name, f) in fns {
        // SAFETY: pushes a light userdata and a C closure; nothing else.
        let func: Function = unsafe {
            lua.exec_raw((), |l| {
                ffi::lua_pushlightuserdata(l, slot as *mut c_void);
                ffi::lua_pushcclosure(l, f, 1);
            })?
        };
        t.raw_set(name, func)?;
    }
    Ok(())
}

unsafe extern "C-unwind" fn lua_call(l: *mut lua_State) -> c_int {
    // SAFETY: the caller upholds this function's contract.
    unsafe { call(l, true) }
}

unsafe extern "C-unwind" fn lua_pcall(l: *mut lua_State) -> c_int {
    // SAFETY: the caller upholds this function's contract.
    unsafe { call(l, false) }
}

/// How a call ended, before anything is pushed.
enum CallEnd {
    /// The reply is in the slot's buffer.
    Reply,
    /// Refused before dispatch.
    Fail(&'static str),
}

unsafe fn call(l: *mut lua_State, raise: bool) -> c_int {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        let slot = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *mut CallSlot;
        if (*slot).in_call {
            convert::push_err(
                l,
                b"luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?",
            );
            return 1;
        }
        (*slot).in_call = true;
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| run(l, &mut *slot))) {
            Ok(o) => o,
            Err(p) => {
                (*slot).panic = Some(p);
                CallEnd::Fail("ERR internal error in redis.call")
            }
        };
        // From here on only borrowed bytes are alive: pushing may raise a Lua
        // memory error, and lua_error longjmps out of this frame.
        let failed = match outcome {
            CallEnd::Fail(msg) => {
                convert::push_err(l, msg.as_bytes());
                true
            }
            CallEnd::Reply => {
                let buf = &(*slot).reply.buf;
                convert::push_reply(l, buf);
                buf.first() == Some(&b'-')
            }
        };
        (*slot).in_call = false;
        if raise && failed {
            // The error handler adds the script position to this `{err=…}`.
            ffi::lua_error(l);
        }
        1
    }
}

/// Redis formats a number argument with `%.17g`; integral values below
/// 1e17 print as the integer, which is the fast path.
fn push_number(out: &mut Vec<u8>, n: f64) {
    if n.fract() == 0.0 && n.abs() < 1e17 && !(n == 0.0 && n.is_sign_negative()) {
        out.extend_from_slice(itoa::Buffer::new().format(n as i64).as_bytes());
    } else {
        out.extend_from_slice(super::libs::fmt_g17(n).as_bytes());
    }
}

unsafe fn run(l: *mut lua_State, slot: &mut CallSlot) -> CallEnd {
    // SAFETY: the caller upholds this function's contract.
    unsafe {
        if slot.ctx.is_null() {
            return CallEnd::Fail("ERR redis.call is only available while a script runs");
        }
        let n = ffi::lua_gettop(l);
        if n == 0 {
            return CallEnd::Fail(
                "ERR Please specify at least one argument for this redis lib call",
            );
        }
        slot.numbers.clear();
        slot.spans.clear();
        for i in 1..=n {
            match ffi::lua_type(l, i) {
                ffi::LUA_TSTRING => {
                    let s = convert::string_at(l, i);
                    slot.spans.push((s.as_ptr() as usize, s.len(), false));
                }
                ffi::LUA_TNUMBER => {
                    let start = slot.numbers.len();
                    push_number(&mut slot.numbers, ffi::lua_tonumber(l, i));
                    slot.spans.push((start, slot.numbers.len() - start, true));
                }
                _ => {
                    return CallEnd::Fail(
                        "ERR Lua redis lib command arguments must be strings or integers",
                    )
                }
            }
        }
        // Most commands have few arguments: slice them on the stack.
        let numbers = &slot.numbers;
        let arg = |&(at, len, own): &(usize, usize, bool)| -> &[u8] {
            if own {
                &numbers[at..at + len]
            } else {
                // SAFETY: the string is an argument on the Lua stack, which
                // neither dispatch nor this function touches until the call
                // returns.
                std::slice::from_raw_parts(at as *const u8, len)
            }
        };
        let mut small: [&[u8]; 16] = [&[]; 16];
        let large: Vec<&[u8]>;
        let argv: &[&[u8]] = if slot.spans.len() <= small.len() {
            for (dst, span) in small.iter_mut().zip(&slot.spans) {
                *dst = arg(span);
            }
            &small[..slot.spans.len()]
        } else {
            large = slot.spans.iter().map(arg).collect();
            &large
        };
        // SAFETY: set by eval_inner for the length of the script, which is
        // the only code using its Ctx meanwhile.
        let ctx = &mut *(slot.ctx as *mut Ctx<'_>);
        let cmd = match crate::server::dispatch::resolve_for(ctx, argv) {
            Ok(c) => c,
            Err(e) if e.text().starts_with("ERR wrong number") => {
                return CallEnd::Fail("ERR Wrong number of args calling Redis command from script")
            }
            Err(_) => return CallEnd::Fail("ERR Unknown Redis command called from script"),
        };
        let write = cmd.spec.has(flags::WRITE);
        // May-replicate commands (PUBLISH, PFCOUNT) count as writes here,
        // as in Redis 7's scriptVerifyWriteCommandAllow.
        if slot.readonly && cmd.spec.has(flags::WRITE | flags::MAY_REPLICATE) {
            return CallEnd::Fail("ERR Write commands are not allowed from read-only scripts.");
        }
        let reply = &mut slot.reply;
        reply.buf.clear();
        reply.proto = if slot.resp.load(Ordering::Relaxed) == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        // The command's time is the script's start (`ctx.now` is not moved),
        // as Redis 7 keeps one time snapshot for a script and its calls.
        std::mem::swap(ctx.out, reply);
        // Inside a script nothing blocks or waits (in_exec, in_script),
        // and what closes a connection is `noscript`: Done it is.
        let _ = crate::server::dispatch::dispatch(ctx, argv);
        std::mem::swap(ctx.out, reply);
        if write && reply.buf.first() != Some(&b'-') {
            // Set after the write ran, as Redis's SCRIPT_WRITE_DIRTY: the quota
            // gate refuses a script's denyoom commands only before its first
            // write, so a script is never half-applied by a memory limit.
            ctx.srv.scripting.wrote.store(true, Ordering::Release);
        }
        CallEnd::Reply
    }
}
