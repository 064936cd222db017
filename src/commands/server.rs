//! Server group.

use super::errors::CmdResult;
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;

const G: Group = Group::Server;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("dbsize", 1, READONLY | FAST, G, dbsize)
    .cats(super::spec::cat::KEYSPACE)
    .doc(
        "Returns the number of keys in the database.",
        "1.0.0",
        "O(1)",
    )];

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}
