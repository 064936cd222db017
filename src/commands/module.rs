//! MODULE: keyward has no module API. LIST answers what Redis answers with
//! nothing loaded (an empty array), HELP Redis's text; LOAD, LOADEX and
//! UNLOAD answer an error naming what is missing, never a fake `+OK`
//! (`--loadmodule` is refused at startup the same way).

use crate::commands::Outcome;

use super::errors::{CmdResult, Error};
use super::spec::{flags::*, CommandSpec, Group};
use super::Ctx;

const G: Group = Group::Server;
const MOD: u32 = ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_DB_LOCK;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("module", G, SUBS).doc(
    "A container for module commands.",
    "4.0.0",
    "Depends on subcommand.",
)];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, help).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
    ),
    CommandSpec::new("list", 2, ADMIN | NOSCRIPT | NO_DB_LOCK, G, list).doc(
        "Returns all loaded modules.",
        "4.0.0",
        "O(N) where N is the number of loaded modules.",
    ),
    CommandSpec::new("load", -3, MOD, G, unsupported).doc("Loads a module.", "4.0.0", "O(1)"),
    CommandSpec::new("loadex", -3, MOD, G, unsupported).doc(
        "Loads a module using extended parameters.",
        "7.0.0",
        "O(1)",
    ),
    CommandSpec::new("unload", 3, MOD, G, unsupported).doc("Unloads a module.", "4.0.0", "O(1)"),
];

fn list(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.array(0);
    Ok(Outcome::Done)
}

fn unsupported(_ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let sub = String::from_utf8_lossy(argv[1]).to_uppercase();
    Err(Error::from(format!(
        "ERR MODULE {sub} is not supported: keyward has no module API"
    )))
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.status_lines(&[
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(Outcome::Done)
}
