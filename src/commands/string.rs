//! String group.

use super::args::{self, is};
use super::errors::{self, CmdResult};
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;
use crate::keyspace::{Entry, NewValue, ValueRef};

const G: Group = Group::String;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, G, get).keys(1, 1, 1).doc("Returns the string value of a key.", "1.0.0", "O(1)"),
    CommandSpec::new("set", -3, WRITE | DENYOOM, G, set).keys(1, 1, 1).doc(
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "1.0.0",
        "O(1)",
    ),
];

/// Writes a string value as a bulk reply.
#[inline]
pub fn reply_value(ctx: &mut Ctx<'_>, v: ValueRef<'_>) -> CmdResult {
    match v {
        ValueRef::Str(s) => ctx.out.bulk(s),
        ValueRef::Int(i) => ctx.out.bulk_int(i),
        ValueRef::Obj(_) => return Err(errors::WRONGTYPE),
    }
    Ok(())
}

fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get_read(argv[1], now) {
        None => out.null(),
        // Copied out under the lock: the reply buffer is ours alone.
        Some(e) => match e.value() {
            ValueRef::Str(s) => out.bulk(s),
            ValueRef::Int(i) => out.bulk_int(i),
            ValueRef::Obj(_) => return Err(errors::WRONGTYPE),
        },
    }
    Ok(())
}

fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let (key, value) = (argv[1], argv[2]);
    let now = ctx.now;
    if argv.len() == 3 {
        // Plain SET: one probe of the table (insert replaces), no option parsing.
        let (db, out) = ctx.db_out();
        db.insert(Entry::new(
            key,
            NewValue::Str(value),
            None,
            crate::clock::lru_clock(now),
        ));
        out.ok();
        return Ok(());
    }
    let mut nx = false;
    let mut xx = false;
    let mut get = false;
    let mut keepttl = false;
    let mut expire: Option<i64> = None;
    let mut i = 3;
    while i < argv.len() {
        let a = argv[i];
        let next = argv.get(i + 1);
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && expire.is_none() {
            keepttl = true;
        } else if (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
            && !keepttl
            && expire.is_none()
            && next.is_some()
        {
            let n = args::int(next.copied().unwrap_or_default())?;
            let unit_s = is(a, "ex") || is(a, "exat");
            if n <= 0 || (unit_s && n > i64::MAX / 1000) {
                return Err(errors::invalid_expire("set"));
            }
            let ms = if unit_s { n * 1000 } else { n };
            let at = if is(a, "ex") || is(a, "px") {
                ms.checked_add(now)
            } else {
                Some(ms)
            };
            expire = Some(at.ok_or_else(|| errors::invalid_expire("set"))?);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let (db, out) = ctx.db_out();
    let old = db.get(key, now);
    let exists = old.is_some();
    let old_ttl = old.and_then(Entry::expire);
    if get {
        match old.map(|e| e.value()) {
            Some(ValueRef::Obj(_)) => return Err(errors::WRONGTYPE),
            Some(ValueRef::Str(s)) => out.bulk(s),
            Some(ValueRef::Int(n)) => out.bulk_int(n),
            None => out.null(),
        }
    }
    if (nx && exists) || (xx && !exists) {
        if !get {
            out.null();
        }
        return Ok(());
    }
    let ttl = if keepttl { old_ttl } else { expire };
    db.insert(Entry::new(
        key,
        NewValue::Str(value),
        ttl,
        crate::clock::lru_clock(now),
    ));
    if !get {
        out.ok();
    }
    Ok(())
}
