//! The ACL rule grammar: one [`Selector`] (commands, keys, channels,
//! databases) and the parsing/printing of Redis 7's rule words plus Valkey
//! 9.1's `db=`, `alldbs`, `resetdbs`.
//!
//! Command permissions are a bitset indexed by command id, rebuilt from the
//! rule list whenever the rules change, so the per-command check is one
//! bit test.

use crate::commands::spec::cat;
use crate::commands::table::Command;
use crate::commands::REGISTRY;

/// Key pattern permissions.
pub const PERM_R: u8 = 1;
pub const PERM_W: u8 = 2;
pub const PERM_RW: u8 = PERM_R | PERM_W;

/// Why a rule word was refused (Redis's `ACLSetUserStringError` texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeyAfterAll,
    ChannelAfterAll,
    BadHash,
    NoSuchPassword,
    BadDb,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadDb => "Invalid database index in ACL",
        }
    }
}

/// The category named `name` (without `@`), `Some(!0)` for `all`.
pub fn category(name: &[u8]) -> Option<u64> {
    if name.eq_ignore_ascii_case(b"all") {
        return Some(!0);
    }
    cat::NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(c, _)| *c)
}

/// One set of permissions: the root selector of a user, or a `(…)` one.
#[derive(Clone, Debug)]
pub struct Selector {
    /// Allowed commands, by command id.
    cmds: Vec<u64>,
    /// Set by `+@all`: commands added later are allowed too (printing
    /// starts from `+@all` rather than `-@all`).
    all_future: bool,
    /// Command rules after the `±@all` base, as Redis 7.2 keeps them
    /// (`ACLUpdateCommandRules`): a rule replaces earlier rules of the same
    /// name and of that command's subcommands, and is kept even when it
    /// changes nothing (`+@all -get +get` prints `+@all +get`; Redis 7.0
    /// dropped such rules).
    rules: Vec<(bool, String)>,
    pub allkeys: bool,
    pub keys: Vec<(Vec<u8>, u8)>,
    pub allchannels: bool,
    pub channels: Vec<Vec<u8>>,
    /// Allowed DBs as a bitmask; `None` is `alldbs`.
    pub dbs: Option<Vec<u64>>,
}

fn words() -> usize {
    REGISTRY.len().div_ceil(64)
}

impl Selector {
    /// A selector that allows nothing (a new user's root, or `(…)`), with
    /// every DB (so Redis-common rules behave as in Redis).
    pub fn empty() -> Selector {
        Selector {
            cmds: vec![0; words()],
            all_future: false,
            rules: Vec::new(),
            allkeys: false,
            keys: Vec::new(),
            allchannels: false,
            channels: Vec::new(),
            dbs: None,
        }
    }

    #[inline]
    pub fn allows(&self, id: u16) -> bool {
        let i = id as usize;
        self.cmds
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Whether every command, key, channel and DB is allowed.
    pub fn unrestricted(&self) -> bool {
        self.all_future
            && self.rules.is_empty()
            && self.allkeys
            && self.allchannels
            && self.dbs.is_none()
    }

    #[inline]
    pub fn db_allowed(&self, db: usize) -> bool {
        match &self.dbs {
            None => true,
            Some(m) => m.get(db / 64).is_some_and(|w| w & (1 << (db % 64)) != 0),
        }
    }

    /// The allowed DB indexes, `None` for all.
    pub fn db_list(&self) -> Option<Vec<usize>> {
        let m = self.dbs.as_ref()?;
        let mut v = Vec::new();
        for (wi, w) in m.iter().enumerate() {
            for b in 0..64 {
                if w & (1 << b) != 0 {
                    v.push(wi * 64 + b);
                }
            }
        }
        Some(v)
    }

    fn rebuild(&mut self) {
        let fill = if self.all_future { !0 } else { 0 };
        self.cmds.iter_mut().for_each(|w| *w = fill);
        let rules = std::mem::take(&mut self.rules);
        for (allow, name) in &rules {
            self.apply_bits(*allow, name);
        }
        self.rules = rules;
    }

    fn set_bit(&mut self, id: u16, on: bool) {
        let i = id as usize;
        if on {
            self.cmds[i / 64] |= 1 << (i % 64);
        } else {
            self.cmds[i / 64] &= !(1 << (i % 64));
        }
    }

    fn set_command(&mut self, c: &Command, on: bool) {
        self.set_bit(c.id, on);
        for s in REGISTRY.subcommands(c) {
            self.set_bit(s.id, on);
        }
    }

    /// Applies one rule name (`get`, `client|id`, `@hash`) to the bitset.
    fn apply_bits(&mut self, allow: bool, name: &str) {
        if let Some(catname) = name.strip_prefix('@') {
            let Some(c) = category(catname.as_bytes()) else {
                return;
            };
            for cmd in &REGISTRY.commands {
                if cmd.spec.categories() & c != 0 {
                    self.set_bit(cmd.id, allow);
                }
            }
        } else if let Some(c) = REGISTRY.lookup_fullname(name.as_bytes()) {
            self.set_command(c, allow);
        }
    }

    fn command_rule(&mut self, allow: bool, name: &[u8]) -> Result<(), RuleError> {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        if let Some(catname) = lower.strip_prefix('@') {
            if catname == "all" {
                self.all_future = allow;
                self.rules.clear();
                self.rebuild();
                return Ok(());
            }
            category(catname.as_bytes()).ok_or(RuleError::UnknownCommand)?;
        } else {
            let c = REGISTRY
                .lookup_fullname(lower.as_bytes())
                .ok_or(RuleError::UnknownCommand)?;
            if lower.contains('|') && c.parent.is_none() {
                return Err(RuleError::UnknownCommand);
            }
        }
        let sub_prefix = format!("{lower}|");
        self.rules
            .retain(|(_, n)| *n != lower && !n.starts_with(&sub_prefix));
        self.rules.push((allow, lower));
        self.rebuild();
        Ok(())
    }

    /// Applies one selector rule word (not the user-level ones).
    pub fn apply(&mut self, word: &[u8], databases: usize) -> Result<(), RuleError> {
        let lw = word.to_ascii_lowercase();
        match lw.as_slice() {
            b"allcommands" => return self.command_rule(true, b"@all"),
            b"nocommands" => return self.command_rule(false, b"@all"),
            b"allkeys" => {
                self.allkeys = true;
                self.keys.clear();
                return Ok(());
            }
            b"resetkeys" => {
                self.allkeys = false;
                self.keys.clear();
                return Ok(());
            }
            b"allchannels" => {
                self.allchannels = true;
                self.channels.clear();
                return Ok(());
            }
            b"resetchannels" => {
                self.allchannels = false;
                self.channels.clear();
                return Ok(());
            }
            b"alldbs" => {
                self.dbs = None;
                return Ok(());
            }
            b"resetdbs" => {
                self.dbs = Some(vec![0; databases.div_ceil(64).max(1)]);
                return Ok(());
            }
            _ => {}
        }
        match word.first() {
            Some(b'+') => return self.command_rule(true, &word[1..]),
            Some(b'-') => return self.command_rule(false, &word[1..]),
            Some(b'~') => return self.key_pattern(&word[1..], PERM_RW),
            Some(b'%') => {
                // Redis accepts `%R` with no `~` as an empty pattern.
                let tilde = word.iter().position(|&b| b == b'~').unwrap_or(word.len());
                let mut perm = 0;
                for &f in &word[1..tilde] {
                    perm |= match f.to_ascii_uppercase() {
                        b'R' => PERM_R,
                        b'W' => PERM_W,
                        _ => return Err(RuleError::Syntax),
                    };
                }
                if perm == 0 {
                    return Err(RuleError::Syntax);
                }
                return self.key_pattern(word.get(tilde + 1..).unwrap_or_default(), perm);
            }
            Some(b'&') => {
                let p = &word[1..];
                if self.allchannels {
                    return Err(RuleError::ChannelAfterAll);
                }
                if p == b"*" {
                    self.allchannels = true;
                    self.channels.clear();
                } else if !self.channels.iter().any(|c| c == p) {
                    self.channels.push(p.to_vec());
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(list) = lw.strip_prefix(b"db=") {
            // Valkey 9.1: `db=` adds to the allowed set and clears `alldbs`.
            let mut mask = self
                .dbs
                .clone()
                .unwrap_or_else(|| vec![0u64; databases.div_ceil(64).max(1)]);
            for part in list.split(|&b| b == b',') {
                let n: usize = std::str::from_utf8(part)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n < databases)
                    .ok_or(RuleError::BadDb)?;
                mask[n / 64] |= 1 << (n % 64);
            }
            self.dbs = Some(mask);
            return Ok(());
        }
        Err(RuleError::Syntax)
    }

    fn key_pattern(&mut self, p: &[u8], perm: u8) -> Result<(), RuleError> {
        if self.allkeys {
            return Err(RuleError::KeyAfterAll);
        }
        if p == b"*" && perm == PERM_RW {
            self.allkeys = true;
            self.keys.clear();
        } else if let Some(k) = self.keys.iter_mut().find(|(k, _)| k == p) {
            k.1 |= perm;
        } else {
            self.keys.push((p.to_vec(), perm));
        }
        Ok(())
    }

    /// `+@all -get +client|id`, as ACL LIST and GETUSER print it.
    pub fn commands_text(&self) -> String {
        let mut s = String::from(if self.all_future { "+@all" } else { "-@all" });
        for (allow, n) in &self.rules {
            s.push(' ');
            s.push(if *allow { '+' } else { '-' });
            s.push_str(n);
        }
        s
    }

    pub fn keys_text(&self) -> String {
        if self.allkeys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .keys
            .iter()
            .map(|(p, perm)| {
                let pre = match *perm {
                    PERM_R => "%R~",
                    PERM_W => "%W~",
                    _ => "~",
                };
                format!("{pre}{}", String::from_utf8_lossy(p))
            })
            .collect();
        parts.join(" ")
    }

    pub fn channels_text(&self) -> String {
        if self.allchannels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|p| format!("&{}", String::from_utf8_lossy(p)))
            .collect();
        parts.join(" ")
    }

    /// `alldbs`, `resetdbs` or `db=0,2`.
    pub fn dbs_text(&self) -> String {
        match self.db_list() {
            None => "alldbs".into(),
            Some(v) if v.is_empty() => "resetdbs".into(),
            Some(v) => {
                let parts: Vec<String> = v.iter().map(|d| d.to_string()).collect();
                format!("db={}", parts.join(","))
            }
        }
    }

    /// The selector as ACL LIST prints it (keys, channels, commands, and
    /// our DB rule only when it restricts).
    pub fn describe(&self) -> String {
        let mut out = Vec::new();
        let k = self.keys_text();
        if !k.is_empty() {
            out.push(k);
        }
        if self.allchannels {
            out.push("&*".into());
        } else {
            out.push("resetchannels".into());
            let c = self.channels_text();
            if !c.is_empty() {
                out.push(c);
            }
        }
        out.push(self.commands_text());
        if self.dbs.is_some() {
            out.push(self.dbs_text());
        }
        out.join(" ")
    }
}

/// Splits a rule list into words, keeping `(…)` selectors whole even when
/// they were sent as several arguments (Redis's `ACLMergeSelectorArguments`).
pub fn merge_selectors(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for a in args {
        if let Some(acc) = &mut open {
            acc.push(b' ');
            acc.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.extend(open.take());
            }
        } else if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some(a.to_vec());
        } else {
            out.push(a.to_vec());
        }
    }
    if let Some(acc) = open {
        return Err(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&acc)
        ));
    }
    Ok(out)
}
