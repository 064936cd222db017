//! Generic (keyspace) group.

use super::errors::CmdResult;
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;

const G: Group = Group::Generic;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, G, del)
        .keys(1, -1, 1)
        .doc("Deletes one or more keys.", "1.0.0", "O(N)"),
    CommandSpec::new("exists", -2, READONLY | FAST, G, exists)
        .keys(1, -1, 1)
        .doc(
            "Determines whether one or more keys exist.",
            "1.0.0",
            "O(N)",
        ),
];

fn del(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let mut n = 0;
    for k in &argv[1..] {
        if db.exists(k, now) && db.remove(k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let n = argv[1..].iter().filter(|k| db.exists(k, now)).count();
    ctx.out.int(n as i64);
    Ok(())
}
