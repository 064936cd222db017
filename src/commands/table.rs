//! The registry: every group's rows, dense ids, allocation-free lookup.

use std::sync::LazyLock;

use hashbrown::HashMap;

use super::keyspec::{self, GetKeys, KeyRef, KeySpec};
use super::spec::{CommandSpec, Keys};

/// Dense command id (index into [`Registry::commands`]); ACL bitsets and
/// per-command statistics are indexed by it.
pub type CommandId = u16;

/// A registered command or subcommand.
pub struct Command {
    pub id: CommandId,
    pub spec: &'static CommandSpec,
    /// `get`, or `client|id` for a subcommand (Redis's "fullname").
    pub fullname: String,
    /// For a subcommand, its container's id.
    pub parent: Option<CommandId>,
    /// Redis 7.2's key specs for this command (see [`keyspec`]).
    pub key_specs: &'static [KeySpec],
    /// Its key function, for what the specs cannot say.
    pub getkeys: Option<GetKeys>,
    /// Whether it has key arguments at all (from the two above, computed
    /// once: the ACL key check asks on every command).
    has_keys: bool,
    /// Subcommands by lowercase name.
    subs: HashMap<&'static [u8], CommandId>,
}

impl Command {
    pub fn is_container(&self) -> bool {
        !self.spec.subcommands.is_empty()
    }

    /// The keys of `argv` with their key-spec flags, as Redis's
    /// `getKeysFromCommandWithSpecs` finds them (ACL, COMMAND GETKEYS).
    pub fn keys_with_flags(&self, argv: &[&[u8]]) -> Vec<KeyRef> {
        keyspec::keys_with_flags(self.key_specs, self.getkeys, argv)
    }

    /// The keys the ACL checks, with their flags: the key specs' (see
    /// [`keyspec::acl_keys`]), and any other key the command acts on
    /// (the row's positions), which then needs both %R and %W. Redis 7.2
    /// checks the first `GEORADIUS … STORE a STORE b` destination but
    /// writes the last; keyward checks both.
    pub fn acl_keys(&self, argv: &[&[u8]]) -> Vec<KeyRef> {
        let mut keys = keyspec::acl_keys(self.key_specs, self.getkeys, argv);
        if matches!(self.spec.keys, Keys::Find(_)) {
            for pos in self.spec.key_indexes(argv) {
                if !keys.iter().any(|k| k.pos == pos) {
                    keys.push(KeyRef {
                        pos,
                        flags: keyspec::flags::RW | keyspec::flags::ACCESS | keyspec::flags::UPDATE,
                    });
                }
            }
        }
        keys
    }

    /// Calls `f` with each of [`Command::acl_keys`] in turn, stopping at
    /// its first error; without collecting them when the key specs alone
    /// say (a command without key function or movable row keys), which
    /// keeps a restricted user's key check allocation-free.
    pub fn try_each_acl_key<E>(
        &self,
        argv: &[&[u8]],
        mut f: impl FnMut(KeyRef) -> Result<(), E>,
    ) -> Result<(), E> {
        if !matches!(self.spec.keys, Keys::Find(_)) {
            if let Some(r) = keyspec::try_each_acl_key(self.key_specs, self.getkeys, argv, &mut f) {
                return r;
            }
        }
        self.acl_keys(argv).into_iter().try_for_each(f)
    }

    /// Whether the command has key arguments at all.
    pub fn has_keys(&self) -> bool {
        self.has_keys
    }
}

pub struct Registry {
    pub commands: Vec<Command>,
    top: HashMap<&'static [u8], CommandId>,
}

/// Longest command name we look up; longer names cannot match.
const MAX_NAME: usize = 32;

#[inline]
fn lowercase<'a>(name: &[u8], buf: &'a mut [u8; MAX_NAME]) -> Option<&'a [u8]> {
    if name.len() > MAX_NAME {
        return None;
    }
    let out = &mut buf[..name.len()];
    for (o, &c) in out.iter_mut().zip(name) {
        *o = c.to_ascii_lowercase();
    }
    Some(out)
}

impl Registry {
    fn build(groups: &[&'static [CommandSpec]]) -> Registry {
        let mut r = Registry {
            commands: Vec::new(),
            top: HashMap::new(),
        };
        for group in groups {
            for spec in group.iter() {
                let id = r.push(spec, spec.name.to_string(), None);
                let prev = r.top.insert(spec.name.as_bytes(), id);
                assert!(prev.is_none(), "command {} registered twice", spec.name);
                for sub in spec.subcommands {
                    let sid = r.push(sub, format!("{}|{}", spec.name, sub.name), Some(id));
                    r.commands[id as usize]
                        .subs
                        .insert(sub.name.as_bytes(), sid);
                }
            }
        }
        r
    }

    fn push(
        &mut self,
        spec: &'static CommandSpec,
        fullname: String,
        parent: Option<CommandId>,
    ) -> CommandId {
        let id = CommandId::try_from(self.commands.len()).expect("fewer than 65536 commands");
        let key_specs = keyspec::specs_for(&fullname);
        let getkeys = keyspec::getkeys_for(&fullname);
        self.commands.push(Command {
            id,
            spec,
            key_specs,
            getkeys,
            has_keys: keyspec::has_keys(key_specs, getkeys),
            fullname,
            parent,
            subs: HashMap::new(),
        });
        id
    }

    /// Case-insensitive lookup of a top-level command.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<&Command> {
        let mut buf = [0u8; MAX_NAME];
        let lower = lowercase(name, &mut buf)?;
        self.top.get(lower).map(|&id| &self.commands[id as usize])
    }

    /// Case-insensitive lookup of a subcommand of `parent`.
    pub fn lookup_sub(&self, parent: &Command, name: &[u8]) -> Option<&Command> {
        let mut buf = [0u8; MAX_NAME];
        let lower = lowercase(name, &mut buf)?;
        parent
            .subs
            .get(lower)
            .map(|&id| &self.commands[id as usize])
    }

    /// Looks up `name` or `container|sub` (as ACL rules and COMMAND INFO write it).
    pub fn lookup_fullname(&self, fullname: &[u8]) -> Option<&Command> {
        match fullname.iter().position(|&b| b == b'|') {
            None => self.lookup(fullname),
            Some(p) => {
                let parent = self.lookup(&fullname[..p])?;
                self.lookup_sub(parent, &fullname[p + 1..])
            }
        }
    }

    pub fn get(&self, id: CommandId) -> &Command {
        &self.commands[id as usize]
    }

    /// Top-level commands, in registration order.
    pub fn top_level(&self) -> impl Iterator<Item = &Command> {
        self.commands.iter().filter(|c| c.parent.is_none())
    }

    pub fn subcommands<'a>(&'a self, c: &'a Command) -> impl Iterator<Item = &'a Command> + 'a {
        c.spec
            .subcommands
            .iter()
            .filter_map(move |s| self.lookup_sub(c, s.name.as_bytes()))
    }

    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

/// A server's `rename-command` directives applied to the registry's
/// top-level names, as Redis edits its command dict: a name maps to
/// another row, or to none (the row is gone under that name). Names not
/// mentioned keep their row. The rows themselves (fullname, COMMAND INFO,
/// ACL rules, commandstats) keep their original names, as in Redis, where
/// ACL reads `orig_commands`.
#[derive(Debug, Default, Clone)]
pub struct Renames {
    /// Lowercase name → the row it now names (`None`: removed).
    names: HashMap<Vec<u8>, Option<CommandId>>,
}

impl Renames {
    /// Applies `rename-command from to` directives in order, with Redis's
    /// error texts; the error names the directive's index.
    pub fn build(list: &[(String, String)]) -> Result<Option<Renames>, (usize, String)> {
        if list.is_empty() {
            return Ok(None);
        }
        let mut r = Renames::default();
        for (i, (from, to)) in list.iter().enumerate() {
            r.apply(from.as_bytes(), to.as_bytes())
                .map_err(|e| (i, e.to_string()))?;
        }
        Ok(Some(r))
    }

    /// One `rename-command from to` (`to` empty: remove), against the
    /// names as the earlier directives left them.
    pub fn apply(&mut self, from: &[u8], to: &[u8]) -> Result<(), &'static str> {
        // Redis 7.2 looks a `container|sub` name up and then fails an
        // assertion deleting it; it cannot rename a subcommand either way.
        if from.contains(&b'|') {
            return Err("rename-command cannot rename a subcommand (container|subcommand)");
        }
        let id = self
            .lookup(from)
            .ok_or("No such command in rename-command")?
            .id;
        self.names.insert(from.to_ascii_lowercase(), None);
        if !to.is_empty() {
            if self.lookup(to).is_some() {
                return Err("Target command name already exists");
            }
            self.names.insert(to.to_ascii_lowercase(), Some(id));
        }
        Ok(())
    }

    /// Case-insensitive lookup of a top-level name.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static Command> {
        let mut buf = [0u8; 64];
        let owned;
        let lower: &[u8] = if name.len() <= buf.len() {
            let out = &mut buf[..name.len()];
            for (o, &c) in out.iter_mut().zip(name) {
                *o = c.to_ascii_lowercase();
            }
            out
        } else {
            owned = name.to_ascii_lowercase();
            &owned
        };
        match self.names.get(lower) {
            Some(found) => found.map(|id| REGISTRY.get(id)),
            None => REGISTRY.lookup(lower),
        }
    }

    /// [`Renames::lookup`], falling back to the original names: for what
    /// keyward wrote itself (a log's effects: `PEXPIREAT`, `DEL` …), as
    /// Redis's `lookupCommandOrOriginal`.
    pub fn lookup_or_original(&self, name: &[u8]) -> Option<&'static Command> {
        self.lookup(name).or_else(|| REGISTRY.lookup(name))
    }

    /// Whether a top-level row can still be called under some name
    /// (COMMAND COUNT/LIST and bare COMMAND list only those).
    pub fn reachable(&self, cmd: &Command) -> bool {
        let original = self.names.get(cmd.spec.name.as_bytes());
        original.is_none() || self.names.values().any(|v| *v == Some(cmd.id))
    }
}

/// The top-level command `name` calls on a server with `renames`.
pub fn lookup_named(renames: Option<&Renames>, name: &[u8]) -> Option<&'static Command> {
    match renames {
        None => REGISTRY.lookup(name),
        Some(r) => r.lookup(name),
    }
}

/// The process-wide registry, built once from every group's table.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry::build(super::ALL_GROUPS));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        let get = REGISTRY.lookup(b"GeT").expect("GET is registered");
        assert_eq!(get.fullname, "get");
        assert!(REGISTRY.lookup(b"nosuchcommand").is_none());
        assert!(REGISTRY.lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn subcommands_have_fullnames() {
        let c = REGISTRY
            .lookup_fullname(b"client|id")
            .expect("CLIENT ID is registered");
        assert_eq!(c.fullname, "client|id");
        assert!(c.parent.is_some());
    }

    #[test]
    fn renames_as_redis_edits_its_command_table() {
        let list = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let r = Renames::build(&list(&[
            ("CONFIG", ""),
            ("get", "G2"),
            ("g2", "g3"),
            ("set", "get"),
        ]))
        .expect("valid")
        .expect("some");
        assert!(r.lookup(b"config").is_none());
        assert!(r.lookup(b"g2").is_none());
        assert_eq!(r.lookup(b"G3").map(|c| c.fullname.as_str()), Some("get"));
        assert_eq!(r.lookup(b"GET").map(|c| c.fullname.as_str()), Some("set"));
        assert!(r.lookup(b"set").is_none());
        assert_eq!(
            r.lookup_or_original(b"set").map(|c| c.fullname.as_str()),
            Some("set")
        );
        let config = REGISTRY.lookup(b"config").expect("config");
        let get = REGISTRY.lookup(b"get").expect("get");
        let ping = REGISTRY.lookup(b"ping").expect("ping");
        assert!(!r.reachable(config));
        assert!(r.reachable(get) && r.reachable(ping));
        let long = "x".repeat(100);
        let r = Renames::build(&list(&[("config", &long)]))
            .expect("valid")
            .expect("some");
        assert_eq!(
            r.lookup(long.to_uppercase().as_bytes())
                .map(|c| c.fullname.as_str()),
            Some("config")
        );
        assert_eq!(Renames::build(&[]).expect("valid").map(|_| ()), None);
        for (bad, e) in [
            (("nosuch", "x"), "No such command in rename-command"),
            (("get", "SET"), "Target command name already exists"),
            (
                ("config|get", "x"),
                "rename-command cannot rename a subcommand (container|subcommand)",
            ),
        ] {
            assert_eq!(
                Renames::build(&list(&[("ping", "p"), bad])).map(|_| ()),
                Err((1, e.to_string()))
            );
        }
    }

    #[test]
    fn ids_are_dense() {
        for (i, c) in REGISTRY.commands.iter().enumerate() {
            assert_eq!(c.id as usize, i);
        }
    }
}
