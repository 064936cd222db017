//! ACL group: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS,
//! LOG, DRYRUN, LOAD, SAVE, HELP. The rules themselves live in `crate::acl`.

use crate::commands::Outcome;
use rand::RngCore;

use super::args::{self, is};
use super::errors::{CmdResult, Error};
use super::spec::{cat, flags::*, CommandSpec, Group, Redact, Tenant};
use super::{Ctx, REGISTRY};
use crate::acl::{self, rules, Denied, Selector, User};

const G: Group = Group::Server;
const A: u32 = ADMIN | NOSCRIPT | LOADING | STALE | NO_DB_LOCK;
const P: u32 = NOSCRIPT | LOADING | STALE | NO_DB_LOCK;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("acl", G, ACL_SUBS).doc(
    "A container for Access List Control commands.",
    "6.0.0",
    "Depends on subcommand.",
)];

static ACL_SUBS: &[CommandSpec] = &[
    CommandSpec::new("cat", -2, P, G, cat_).doc(
        "Lists the ACL categories, or the commands inside a category.",
        "6.0.0",
        "O(1) since the categories and commands are a fixed set.",
    ),
    CommandSpec::new("deluser", -3, A, G, deluser).doc(
        "Deletes ACL users, and terminates their connections.",
        "6.0.0",
        "O(1) amortized time considering the typical user.",
    ),
    CommandSpec::new("dryrun", -4, A, G, dryrun)
        .tenant(Tenant::Check(names_self))
        .doc(
            "Simulates the execution of a command by a user, without executing the command.",
            "7.0.0",
            "O(1).",
        ),
    CommandSpec::new("genpass", -2, P, G, genpass).doc(
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
        "6.0.0",
        "O(N)",
    ),
    CommandSpec::new("getuser", 3, A, G, getuser)
        .tenant(Tenant::Check(names_self))
        .doc(
            "Lists the ACL rules of a user.",
            "6.0.0",
            "O(N). Where N is the number of password, command and pattern rules that the user has.",
        ),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, help).doc(
        "Returns helpful text about the different subcommands.",
        "6.0.0",
        "O(1)",
    ),
    CommandSpec::new("list", 2, A, G, list)
        .tenant(Tenant::Own)
        .doc(
            "Dumps the effective rules in ACL file format.",
            "6.0.0",
            "O(N). Where N is the number of configured users.",
        ),
    CommandSpec::new("load", 2, A, G, load).doc(
        "Reloads the rules from the configured ACL file.",
        "6.0.0",
        "O(N). Where N is the number of configured users.",
    ),
    CommandSpec::new("log", -2, A, G, log)
        .tenant(Tenant::Check(not_reset))
        .doc(
            "Lists recent security events generated due to ACL rules.",
            "6.0.0",
            "O(N) with N being the number of entries shown.",
        ),
    CommandSpec::new("save", 2, A, G, save).doc(
        "Saves the effective ACL rules in the configured ACL file.",
        "6.0.0",
        "O(N). Where N is the number of configured users.",
    ),
    CommandSpec::new("setuser", -3, A, G, setuser)
        .redact(Redact::From(2))
        .doc(
            "Creates and modifies an ACL user and its rules.",
            "6.0.0",
            "O(N). Where N is the number of rules provided.",
        ),
    CommandSpec::new("users", 2, A, G, users)
        .tenant(Tenant::Own)
        .doc(
            "Lists all ACL users.",
            "6.0.0",
            "O(N). Where N is the number of configured users.",
        ),
    CommandSpec::new("whoami", 2, P, G, whoami).doc(
        "Returns the authenticated username of the current connection.",
        "6.0.0",
        "O(1)",
    ),
];

/// ACL GETUSER / DRYRUN: a DB-restricted user may ask about itself only.
fn names_self(ctx: &Ctx<'_>, argv: &[&[u8]]) -> bool {
    argv.get(2)
        .is_some_and(|n| *n == ctx.client.user.name.as_bytes())
}

/// ACL LOG: a DB-restricted user may read (its own entries) but not reset.
fn not_reset(_ctx: &Ctx<'_>, argv: &[&[u8]]) -> bool {
    !argv.get(2).is_some_and(|a| is(a, "reset"))
}

/// Users a caller may list: all, or only itself for a DB-restricted user.
fn listed_users(ctx: &Ctx<'_>) -> Vec<std::sync::Arc<User>> {
    let mut users = ctx.srv.acl.users();
    let me = &ctx.client.user;
    if me.is_restricted() {
        users.retain(|u| u.name == me.name);
    }
    users
}

const NO_ACLFILE: Error = Error::lit("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");

fn setuser(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let name = String::from_utf8_lossy(argv[2]).into_owned();
    let words = rules::merge_selectors(&argv[3..]).map_err(Error::from)?;
    ctx.srv
        .acl
        .set_user(&name, &words, ctx.srv.databases())
        .map_err(|(i, e)| {
            Error::from(format!(
                "ERR Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(&words[i]),
                e.text()
            ))
        })?;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn selector_fields(ctx: &mut Ctx<'_>, s: &Selector) {
    let out = &mut *ctx.out;
    out.bulk(b"commands");
    out.bulk(s.commands_text().as_bytes());
    out.bulk(b"keys");
    out.bulk(s.keys_text().as_bytes());
    out.bulk(b"channels");
    out.bulk(s.channels_text().as_bytes());
}

fn getuser(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let Some(u) = ctx.srv.acl.get(argv[2]) else {
        ctx.out.null();
        return Ok(Outcome::Done);
    };
    // Redis 7's fields, then ours: `databases` (Valkey 9.1's rule).
    ctx.out.map(7);
    ctx.out.bulk(b"flags");
    let flags = u.flags();
    ctx.out.array(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"passwords");
    let hashes: Vec<String> = u.password_hashes().collect();
    ctx.out.array(hashes.len());
    for h in &hashes {
        ctx.out.bulk(h.as_bytes());
    }
    selector_fields(ctx, &u.root);
    ctx.out.bulk(b"selectors");
    ctx.out.array(u.selectors.len());
    for s in &u.selectors {
        ctx.out.map(4);
        selector_fields(ctx, s);
        ctx.out.bulk(b"databases");
        ctx.out.bulk(s.dbs_text().as_bytes());
    }
    ctx.out.bulk(b"databases");
    ctx.out.bulk(u.root.dbs_text().as_bytes());
    Ok(Outcome::Done)
}

fn deluser(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut names = Vec::new();
    for a in &argv[2..] {
        if *a == b"default" {
            return Err(Error::lit("ERR The 'default' user cannot be removed"));
        }
        names.push(String::from_utf8_lossy(a).into_owned());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let n = ctx.srv.acl.delete(&refs);
    // Redis disconnects the deleted users' clients.
    let mut outcome = Outcome::Done;
    for c in ctx.srv.clients.snapshot() {
        let user = c.user.lock().clone();
        if names.contains(&user) {
            if c.id == ctx.client.id {
                outcome = Outcome::Close;
            } else {
                c.kill();
            }
        }
    }
    ctx.out.int(n as i64);
    Ok(outcome)
}

fn list(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let users = listed_users(ctx);
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(u.describe().as_bytes());
    }
    Ok(Outcome::Done)
}

fn users(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let users = listed_users(ctx);
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(u.name.as_bytes());
    }
    Ok(Outcome::Done)
}

fn whoami(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(ctx.client.user.name.as_bytes());
    Ok(Outcome::Done)
}

fn cat_(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    match argv.get(2) {
        None => {
            ctx.out.array(cat::NAMES.len());
            for (_, n) in cat::NAMES {
                ctx.out.bulk(n.as_bytes());
            }
        }
        Some(name) if argv.len() == 3 => {
            let c = rules::category(name).filter(|&c| c != !0).ok_or_else(|| {
                Error::from(format!(
                    "ERR Unknown category '{}'",
                    String::from_utf8_lossy(name)
                ))
            })?;
            let names: Vec<&str> = REGISTRY
                .commands
                .iter()
                .filter(|cmd| cmd.spec.handler.is_some() && cmd.spec.categories() & c != 0)
                .map(|cmd| cmd.fullname.as_str())
                .collect();
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(n.as_bytes());
            }
        }
        Some(_) => return Err(super::errors::subcommand_syntax(argv[0], argv[1])),
    }
    Ok(Outcome::Done)
}

fn genpass(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let bits = match argv.get(2) {
        None => 256,
        Some(a) if argv.len() == 3 => {
            let b = args::int(a)?;
            if !(1..=4096).contains(&b) {
                return Err(Error::lit("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"));
            }
            b as usize
        }
        Some(_) => return Err(super::errors::subcommand_syntax(argv[0], argv[1])),
    };
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in &bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s.truncate(chars);
    ctx.out.bulk(s.as_bytes());
    Ok(Outcome::Done)
}

fn log(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let mut count = usize::MAX;
    match argv.len() {
        2 => count = 10,
        3 if is(argv[2], "reset") => {
            ctx.srv.acl.log.lock().reset();
            ctx.out.ok();
            return Ok(Outcome::Done);
        }
        3 => {
            let n = args::int(argv[2])?;
            if n >= 0 {
                count = n as usize;
            }
        }
        _ => return Err(super::errors::subcommand_syntax(argv[0], argv[1])),
    }
    let now = ctx.now;
    let log = ctx.srv.acl.log.lock();
    // A DB-restricted user reads only the entries about itself.
    let me = &ctx.client.user;
    let shown: Vec<_> = log
        .entries
        .iter()
        .filter(|e| !me.is_restricted() || e.username == me.name)
        .take(count)
        .collect();
    ctx.out.array(shown.len());
    for e in shown {
        let out = &mut *ctx.out;
        out.map(10);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.as_bytes());
        out.bulk(b"object");
        out.bulk(e.object.as_bytes());
        out.bulk(b"username");
        out.bulk(e.username.as_bytes());
        out.bulk(b"age-seconds");
        out.double((now - e.created_ms) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
        out.bulk(b"entry-id");
        out.int(e.entry_id as i64);
        out.bulk(b"timestamp-created");
        out.int(e.created_ms);
        out.bulk(b"timestamp-last-updated");
        out.int(e.updated_ms);
    }
    Ok(Outcome::Done)
}

/// Redis 7.2's verbose denial text (DRYRUN); `arg` is the refused argument.
pub fn denial_text(user: &User, denied: Denied, fullname: &str, arg: Option<&[u8]>) -> String {
    let obj = arg.map(String::from_utf8_lossy).unwrap_or_default();
    match denied {
        Denied::Command => format!(
            "User {} has no permissions to run the '{fullname}' command",
            user.name
        ),
        Denied::Key => format!("No permissions to access the '{obj}' key"),
        Denied::Channel => format!("No permissions to access the '{obj}' channel"),
        // Valkey 9.1's verbose text: the DB asked for, or the command.
        Denied::Database => format!(
            "User {} has no permissions to access database {}",
            user.name,
            if arg.is_some() {
                obj.as_ref()
            } else {
                fullname
            }
        ),
    }
}

fn dryrun(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> CmdResult {
    let Some(u) = ctx.srv.acl.get(argv[2]) else {
        return Err(Error::from(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(argv[2])
        )));
    };
    let cmd_argv = &argv[3..];
    let cmd = crate::server::dispatch::resolve_for(ctx, cmd_argv).map_err(|e| {
        if crate::server::dispatch::lookup_name(ctx, cmd_argv[0]).is_none() {
            Error::from(format!(
                "ERR Command '{}' not found",
                String::from_utf8_lossy(cmd_argv[0])
            ))
        } else {
            e
        }
    })?;
    let all_dbs_own = ctx
        .srv
        .hot
        .all_dbs_own
        .load(std::sync::atomic::Ordering::Relaxed);
    match u.check(cmd, cmd_argv, ctx.client.db, all_dbs_own) {
        Ok(()) => ctx.out.ok(),
        Err((d, i)) => {
            let text = denial_text(
                &u,
                d,
                &cmd.fullname,
                i.and_then(|i| cmd_argv.get(i).copied()),
            );
            ctx.out.bulk(text.as_bytes());
        }
    }
    Ok(Outcome::Done)
}

fn aclfile(ctx: &Ctx<'_>) -> Result<String, Error> {
    ctx.srv.config.read().aclfile.clone().ok_or(NO_ACLFILE)
}

fn load(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let path = aclfile(ctx)?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::from(format!(
            "ERR Error loading ACLs, opening file '{path}': {e}"
        ))
    })?;
    let users = acl::parse_aclfile(&text, ctx.srv.databases(), ctx.srv.acl.pubsub_default_all())
        .map_err(|e| Error::from(format!("ERR /{path}:{e}")))?;
    ctx.srv.acl.replace_all(users);
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn save(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let path = aclfile(ctx)?;
    let mut text = String::new();
    for u in ctx.srv.acl.users() {
        text.push_str(&u.describe());
        text.push('\n');
    }
    // Temp + fsync + rename + directory fsync, as every persistence write:
    // a crash leaves the old file or the new one, never half of one.
    crate::persistence::fs::write_atomic(
        ctx.srv.persist.fs.as_ref(),
        std::path::Path::new(&path),
        text.as_bytes(),
    )
    .map_err(|e| {
        tracing::warn!(error = %e, "ACL SAVE failed");
        Error::lit("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    ctx.out.ok();
    Ok(Outcome::Done)
}

fn help(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    let lines: &[&str] = &[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.status_lines(lines);
    Ok(Outcome::Done)
}

/// Records a denial (or failed AUTH) in ACL LOG, with the context Redis uses.
pub fn log_denial(ctx: &Ctx<'_>, reason: &'static str, object: String, username: String) {
    let context = if ctx.client.in_script {
        "lua"
    } else if ctx.client.multi.is_some() || ctx.client.in_exec {
        "multi"
    } else {
        "toplevel"
    };
    if let Some(m) = &ctx.srv.metrics {
        // A failed AUTH names any user it likes: count only real ones, so
        // a client cannot grow the series set at will.
        if reason != "auth" || ctx.srv.acl.get(username.as_bytes()).is_some() {
            m.users.denied(&username);
        }
    }
    if let Some(i) = acl::DENIAL_REASONS.iter().position(|r| *r == reason) {
        ctx.srv.acl.denials[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let info = super::connection::client_line(ctx, &ctx.client.info);
    ctx.srv
        .acl
        .log
        .lock()
        .add(reason, context, object, username, info, ctx.now);
}
