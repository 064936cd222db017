//! Users, authentication and the permission check (Redis 7 ACLs plus
//! Valkey 9.1's database rule).
//!
//! A [`User`] is an immutable snapshot: `ACL SETUSER` builds a new one and
//! marks the old one stale, and dispatch swaps a client's `Arc<User>` when
//! it sees the mark. Everything the check needs (command bitsets, DB masks)
//! is computed when rules change, never per command. The default user with
//! `+@all ~* &* alldbs` passes on one atomic load.

pub mod failures;
pub mod fuzz;
pub mod log;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::commands::glob::glob_match;
use crate::commands::keyspec;
use crate::commands::spec::{cat, flags, Channels, Dbs};
use crate::commands::table::Command;
pub use rules::{RuleError, Selector};

pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// `skip-sanitize-payload` (else `sanitize-payload`, every new user's
    /// flag since Redis 7.2). keyward sanitises every RESTORE payload deeply
    /// whatever the flag says: skipping is never weaker than sanitising.
    pub skip_sanitize: bool,
    /// SHA-256 digests of the accepted passwords.
    passwords: Vec<[u8; 32]>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
    /// Unrestricted and current: the check's one-branch fast path.
    fast: AtomicBool,
    /// Replaced or deleted: the holder must look the user up again.
    stale: AtomicBool,
    /// The DBs this user may reach, `None` when a selector has `alldbs`;
    /// computed by [`User::finish`]. `Some` makes the user DB-restricted:
    /// the tenant boundary applies to it (see `Tenant` in the command table).
    visible: Option<Vec<usize>>,
    /// `acl-pubsub-default allchannels` when this user was made or last
    /// edited: the channels a new selector (`reset`, `(…)`) starts with,
    /// as Redis reads the setting at each of those.
    new_selector_allchannels: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("name", &self.name).finish()
    }
}

impl User {
    /// A new user as `ACL SETUSER name` creates it with Redis's default
    /// `acl-pubsub-default`: `off resetchannels -@all`.
    pub fn new(name: &str) -> User {
        User::new_with(name, false)
    }

    /// A new user whose selectors start with every channel (`&*`) when
    /// `allchannels` (`acl-pubsub-default allchannels`), else none.
    pub fn new_with(name: &str, allchannels: bool) -> User {
        let mut root = Selector::empty();
        root.allchannels = allchannels;
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            skip_sanitize: false,
            passwords: Vec::new(),
            root,
            selectors: Vec::new(),
            fast: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            visible: None,
            new_selector_allchannels: allchannels,
        }
    }

    /// A new selector: no commands, keys or channels, or every channel
    /// under `acl-pubsub-default allchannels` (Redis's `ACLCreateSelector`).
    fn new_selector(&self) -> Selector {
        let mut s = Selector::empty();
        s.allchannels = self.new_selector_allchannels;
        s
    }

    /// The user an internal client runs as (replaying the AOF): every
    /// command, key, channel and DB, whatever the configured users are.
    pub fn internal() -> User {
        let mut u = User::default_user(None);
        u.name = "(internal)".into();
        u.finish()
    }

    fn default_user(password: Option<&str>) -> User {
        let mut u = User::new("default");
        u.enabled = true;
        for w in ["~*", "&*", "+@all"] {
            let _ = u.root.apply(w.as_bytes(), 0);
        }
        u.set_password(password);
        u.finish()
    }

    fn set_password(&mut self, password: Option<&str>) {
        self.passwords.clear();
        self.nopass = password.is_none();
        if let Some(p) = password {
            self.passwords.push(digest(p.as_bytes()));
        }
    }

    /// A fresh copy for editing (the copy is not stale).
    pub fn edit(&self) -> User {
        User {
            name: self.name.clone(),
            enabled: self.enabled,
            nopass: self.nopass,
            skip_sanitize: self.skip_sanitize,
            passwords: self.passwords.clone(),
            root: self.root.clone(),
            selectors: self.selectors.clone(),
            fast: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            visible: None,
            new_selector_allchannels: self.new_selector_allchannels,
        }
    }

    /// Precomputes the fast-path flag and the visible DBs once the rules
    /// are final.
    pub fn finish(mut self) -> User {
        let fast = self.root.unrestricted();
        self.fast.store(fast, Ordering::Relaxed);
        self.visible = self.compute_visible_dbs();
        self
    }

    /// Applies one rule word of `ACL SETUSER` (user-level or selector).
    pub fn apply(&mut self, word: &[u8], databases: usize) -> Result<(), RuleError> {
        let lw = word.to_ascii_lowercase();
        match lw.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"sanitize-payload" => self.skip_sanitize = false,
            b"skip-sanitize-payload" => self.skip_sanitize = true,
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                let name = std::mem::take(&mut self.name);
                *self = User::new_with(&name, self.new_selector_allchannels);
                for w in ["resetkeys", "resetchannels", "alldbs", "-@all"] {
                    self.root.apply(w.as_bytes(), databases)?;
                }
                // Redis's reset: resetchannels, then allchannels under
                // `acl-pubsub-default allchannels`.
                self.root.allchannels = self.new_selector_allchannels;
            }
            _ => match word.first() {
                Some(b'>') => {
                    let d = digest(&word[1..]);
                    if !self.passwords.contains(&d) {
                        self.passwords.push(d);
                    }
                    self.nopass = false;
                }
                Some(b'<') => {
                    let d = digest(&word[1..]);
                    let before = self.passwords.len();
                    self.passwords.retain(|p| *p != d);
                    if self.passwords.len() == before {
                        return Err(RuleError::NoSuchPassword);
                    }
                }
                Some(b'#') => {
                    let d = parse_hash(&word[1..]).ok_or(RuleError::BadHash)?;
                    if !self.passwords.contains(&d) {
                        self.passwords.push(d);
                    }
                    self.nopass = false;
                }
                Some(b'!') => {
                    let d = parse_hash(&word[1..]).ok_or(RuleError::BadHash)?;
                    let before = self.passwords.len();
                    self.passwords.retain(|p| *p != d);
                    if self.passwords.len() == before {
                        return Err(RuleError::NoSuchPassword);
                    }
                }
                Some(b'(') if word.last() == Some(&b')') => {
                    let mut s = self.new_selector();
                    for w in word[1..word.len() - 1].split(|&b| b == b' ') {
                        if !w.is_empty() {
                            s.apply(w, databases)?;
                        }
                    }
                    self.selectors.push(s);
                }
                _ => self.root.apply(word, databases)?,
            },
        }
        Ok(())
    }

    /// Constant-time check against every stored digest.
    pub fn password_ok(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let d = digest(password);
        let mut ok = subtle::Choice::from(0u8);
        for p in &self.passwords {
            ok |= p.ct_eq(&d);
        }
        ok.into()
    }

    pub fn password_hashes(&self) -> impl Iterator<Item = String> + '_ {
        self.passwords.iter().map(|p| hex(p))
    }

    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        // Redis's flag table order: on/off, nopass, skip-sanitize-payload,
        // sanitize-payload.
        f.push(if self.skip_sanitize {
            "skip-sanitize-payload"
        } else {
            "sanitize-payload"
        });
        f
    }

    /// The ACL LIST / aclfile line.
    pub fn describe(&self) -> String {
        format!("user {} {}", self.name, self.rules_text())
    }

    /// The rules that rebuild this user from [`User::new`]: its ACL LIST
    /// line without `user <name>` (a `[[user]]` table's `rules`).
    pub fn rules_text(&self) -> String {
        let mut s = self.flags().join(" ");
        for h in self.password_hashes() {
            s.push_str(" #");
            s.push_str(&h);
        }
        s.push(' ');
        s.push_str(&self.root.describe());
        for sel in &self.selectors {
            s.push_str(" (");
            s.push_str(&sel.describe());
            s.push(')');
        }
        s
    }

    /// The user a `[[user]]` table defines: its rules (checked when the
    /// file was read) applied in order, then `password`, its
    /// `password-env`'s value.
    pub fn from_config(
        uc: &crate::config::UserConfig,
        password: Option<&str>,
        databases: usize,
        allchannels: bool,
    ) -> User {
        let words: Vec<&[u8]> = match &uc.words {
            Some(w) => w.iter().map(Vec::as_slice).collect(),
            None => uc
                .rules
                .split_ascii_whitespace()
                .map(str::as_bytes)
                .collect(),
        };
        let mut u = User::new_with(&uc.name, allchannels);
        for w in rules::merge_selectors(&words).unwrap_or_default() {
            if let Err(e) = u.apply(&w, databases) {
                tracing::error!("user {}: {}", uc.name, e.text());
            }
        }
        if let Some(p) = password {
            // The rules may name the same password by its hash (a table
            // CONFIG REWRITE wrote): it is accepted once.
            let d = digest(p.as_bytes());
            if !u.passwords.contains(&d) {
                u.passwords.push(d);
            }
            u.nopass = false;
        }
        u
    }

    /// The DB a pinned user lands in after authenticating.
    pub fn first_db(&self) -> Option<usize> {
        self.root.db_list().and_then(|v| v.first().copied())
    }

    /// The DBs this user may see (INFO, FLUSHALL's reach): the union over
    /// its selectors, `None` when one of them has `alldbs`.
    pub fn visible_dbs(&self) -> Option<&[usize]> {
        self.visible.as_deref()
    }

    /// Whether the tenant boundary applies: some selector names DBs and
    /// none has `alldbs`.
    #[inline]
    pub fn is_restricted(&self) -> bool {
        self.visible.is_some()
    }

    /// Whether this user may see DB `index`.
    pub fn sees_db(&self, index: usize) -> bool {
        self.visible.as_ref().is_none_or(|v| v.contains(&index))
    }

    fn compute_visible_dbs(&self) -> Option<Vec<usize>> {
        let mut all = Vec::new();
        for s in std::iter::once(&self.root).chain(&self.selectors) {
            all.extend(s.db_list()?);
        }
        all.sort_unstable();
        all.dedup();
        Some(all)
    }

    /// Whether some selector lets this user read every key (SCAN, KEYS and
    /// RANDOMKEY then skip the per-key check).
    pub fn reads_all_keys(&self) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.allkeys)
    }

    /// Whether some selector lets this user publish to or subscribe to
    /// `channel` (PUBSUB CHANNELS/NUMSUB of a DB-restricted user).
    pub fn may_use_channel(&self, channel: &[u8]) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.allchannels || s.channels.iter().any(|p| glob_match(p, channel, false)))
    }

    /// Whether some selector's key patterns let this user read `key`.
    pub fn may_read_key(&self, key: &[u8]) -> bool {
        std::iter::once(&self.root).chain(&self.selectors).any(|s| {
            s.allkeys
                || s.keys
                    .iter()
                    .any(|(p, perm)| perm & rules::PERM_R != 0 && glob_match(p, key, false))
        })
    }

    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// Whether every check passes without looking (one atomic load).
    #[inline]
    pub fn is_fast(&self) -> bool {
        self.fast.load(Ordering::Relaxed)
    }

    fn retire(&self) {
        self.fast.store(false, Ordering::Relaxed);
        self.stale.store(true, Ordering::Relaxed);
    }

    /// The full check: the root selector, then each `(…)` selector.
    /// `all_dbs_own` (`flushall-scope own`): a command that touches every
    /// DB is allowed to a DB-restricted user, and acts on its own DBs.
    pub fn check(
        &self,
        cmd: &Command,
        argv: &[&[u8]],
        db: usize,
        all_dbs_own: bool,
    ) -> Result<(), (Denied, Option<usize>)> {
        let mut worst = match check_selector(&self.root, cmd, argv, db, all_dbs_own) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        for s in &self.selectors {
            match check_selector(s, cmd, argv, db, all_dbs_own) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if (e.0.rank(), e.1) > (worst.0.rank(), worst.1) {
                        worst = e;
                    }
                }
            }
        }
        Err(worst)
    }
}

fn check_selector(
    s: &Selector,
    cmd: &Command,
    argv: &[&[u8]],
    db: usize,
    all_dbs_own: bool,
) -> Result<(), (Denied, Option<usize>)> {
    let spec = cmd.spec;
    // Redis skips the command check for no-auth commands (AUTH, HELLO…),
    // so a user whose rules forbid them can still log in as another.
    if !spec.has(flags::NO_AUTH) && !s.allows(cmd.id) {
        return Err((Denied::Command, None));
    }
    if s.dbs.is_some() {
        let connection = spec.categories() & cat::CONNECTION != 0;
        if !connection && !s.db_allowed(db) {
            return Err((Denied::Database, None));
        }
        let deny_arg = |i: usize| -> Result<(), (Denied, Option<usize>)> {
            let n = argv
                .get(i)
                .and_then(|a| crate::protocol::parse::parse_i64(a));
            match n {
                Some(n) if n >= 0 && s.db_allowed(n as usize) => Ok(()),
                // An invalid index is the command's own error to report.
                Some(n) if n >= 0 => Err((Denied::Database, Some(i))),
                _ => Ok(()),
            }
        };
        match spec.dbs {
            Dbs::None => {}
            Dbs::Args(idx) => idx.iter().try_for_each(|&i| deny_arg(i))?,
            Dbs::Find(f) => {
                if let Some(i) = f(argv) {
                    deny_arg(i)?;
                }
            }
            Dbs::All if !all_dbs_own => return Err((Denied::Database, None)),
            Dbs::All => {}
        }
    }
    if spec.has(flags::PUBSUB) {
        if !s.allchannels {
            let (range, pattern) = match spec.channels {
                Channels::None => (0..0, false),
                Channels::First => (1..2.min(argv.len()), false),
                Channels::All => (1..argv.len(), false),
                Channels::AllPatterns => (1..argv.len(), true),
            };
            for i in range {
                let ch = argv[i];
                let ok = s.channels.iter().any(|p| {
                    if pattern {
                        p.as_slice() == ch
                    } else {
                        glob_match(p, ch, false)
                    }
                });
                if !ok {
                    return Err((Denied::Channel, Some(i)));
                }
            }
        }
    } else if !s.allkeys && cmd.has_keys() {
        // Redis 7.2's ACLSelectorCheckKey: each key needs what its key
        // spec says the command does with it (ACCESS: %R; INSERT, DELETE,
        // UPDATE: %W; both, or neither, when the pattern must still match).
        cmd.try_each_acl_key(argv, |k| {
            let Some(key) = argv.get(k.pos) else {
                return Ok(());
            };
            let (r, w) = keyspec::needs(k.flags);
            let need = if r { rules::PERM_R } else { 0 } | if w { rules::PERM_W } else { 0 };
            let ok = s
                .keys
                .iter()
                .any(|(p, perm)| perm & need == need && glob_match(p, key, false));
            if ok {
                Ok(())
            } else {
                Err((Denied::Key, Some(k.pos)))
            }
        })?;
    }
    Ok(())
}

fn digest(p: &[u8]) -> [u8; 32] {
    Sha256::digest(p).into()
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(b"0123456789abcdef"[(x >> 4) as usize]));
        s.push(char::from(b"0123456789abcdef"[(x & 15) as usize]));
    }
    s
}

fn parse_hash(h: &[u8]) -> Option<[u8; 32]> {
    if h.len() != 64 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nib(h[2 * i])? << 4 | nib(h[2 * i + 1])?;
    }
    Some(out)
}

/// Why a command was refused by the permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key,
    Channel,
    Database,
}

impl Denied {
    /// Which denial to report when every selector refused (Redis keeps the
    /// highest `ACL_DENIED_*`; ours, database, ranks last).
    fn rank(self) -> u8 {
        match self {
            Denied::Command => 1,
            Denied::Key => 2,
            Denied::Channel => 4,
            Denied::Database => 5,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Denied::Command => "command",
            Denied::Key => "key",
            Denied::Channel => "channel",
            Denied::Database => "database",
        }
    }
}

pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// The requirepass last applied, so an unrelated CONFIG SET leaves
    /// the default user's ACL passwords alone.
    requirepass: Mutex<Option<String>>,
    pub log: Mutex<log::AclLog>,
    pub failures: Mutex<failures::AuthFailures>,
    /// Refusals by ACL LOG reason, in [`DENIAL_REASONS`] order (INFO's
    /// `acl_access_denied_*`).
    pub denials: [std::sync::atomic::AtomicU64; 5],
    /// `acl-pubsub-default allchannels`: what ACL SETUSER's new users and
    /// selectors start with.
    pubsub_allchannels: AtomicBool,
}

/// ACL LOG reasons, in the order of [`Acl::denials`].
pub const DENIAL_REASONS: [&str; 5] = ["auth", "command", "key", "channel", "database"];

impl Acl {
    pub fn new(requirepass: Option<&str>) -> Acl {
        let mut users = BTreeMap::new();
        users.insert(
            "default".to_string(),
            Arc::new(User::default_user(requirepass)),
        );
        Acl {
            users: RwLock::new(users),
            requirepass: Mutex::new(requirepass.map(str::to_string)),
            log: Mutex::new(log::AclLog::default()),
            failures: Mutex::new(failures::AuthFailures::default()),
            denials: Default::default(),
            pubsub_allchannels: AtomicBool::new(false),
        }
    }

    /// CONFIG SET acl-pubsub-default: later new users and selectors start
    /// with it; existing users keep their channels, as in Redis.
    pub fn set_pubsub_default(&self, allchannels: bool) {
        self.pubsub_allchannels
            .store(allchannels, Ordering::Relaxed);
    }

    pub fn pubsub_default_all(&self) -> bool {
        self.pubsub_allchannels.load(Ordering::Relaxed)
    }

    /// The users of `requirepass`, the aclfile and the `[[user]]` tables
    /// (all validated when the configuration was read).
    pub fn from_config(config: &crate::config::Config) -> Acl {
        let acl = Acl::new(config.requirepass.as_deref());
        let all = config.acl_pubsub_allchannels;
        acl.set_pubsub_default(all);
        let mut list = Vec::new();
        if let Some(path) = &config.aclfile {
            match std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| parse_aclfile(&t, config.databases, all))
            {
                Ok(users) => list = users,
                Err(e) => tracing::error!("aclfile {path}: {e}"),
            }
        }
        for uc in &config.users {
            let u = User::from_config(uc, uc.password.as_deref(), config.databases, all);
            list.retain(|x: &User| x.name != u.name);
            list.push(u);
        }
        if !list.is_empty() {
            acl.replace_all(list);
        }
        acl
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get(b"default")
            .expect("the default user cannot be deleted")
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        self.users.read().get(name).cloned()
    }

    /// Whether a new connection starts authenticated (default user, nopass).
    pub fn default_is_open(&self) -> bool {
        let u = self.default_user();
        u.enabled && u.nopass
    }

    /// Replaces the default user's password (CONFIG SET requirepass), as
    /// Redis does: only when the setting actually changed.
    pub fn set_requirepass(&self, requirepass: Option<&str>) {
        let mut last = self.requirepass.lock();
        if last.as_deref() == requirepass {
            return;
        }
        *last = requirepass.map(str::to_string);
        let mut users = self.users.write();
        if let Some(old) = users.get("default") {
            let mut u = old.edit();
            u.set_password(requirepass);
            let u = Arc::new(u.finish());
            old.retire();
            users.insert("default".into(), u);
        }
    }

    /// AUTH / HELLO AUTH. `None` when the pair does not match an enabled user.
    pub fn authenticate(&self, user: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let u = self.get(user)?;
        (u.enabled && u.password_ok(password)).then_some(u)
    }

    /// ACL SETUSER: all words apply or none do.
    pub fn set_user(
        &self,
        name: &str,
        words: &[Vec<u8>],
        databases: usize,
    ) -> Result<(), (usize, RuleError)> {
        let mut users = self.users.write();
        let old = users.get(name).cloned();
        let all = self.pubsub_default_all();
        let mut u = old
            .as_ref()
            .map_or_else(|| User::new_with(name, all), |o| o.edit());
        u.new_selector_allchannels = all;
        for (i, w) in words.iter().enumerate() {
            u.apply(w, databases).map_err(|e| (i, e))?;
        }
        users.insert(name.to_string(), Arc::new(u.finish()));
        if let Some(o) = old {
            o.retire();
        }
        Ok(())
    }

    /// Removes users; returns how many existed.
    pub fn delete(&self, names: &[&str]) -> usize {
        let mut users = self.users.write();
        let mut n = 0;
        for name in names {
            if let Some(u) = users.remove(*name) {
                u.retire();
                n += 1;
            }
        }
        n
    }

    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Replaces every user at once (ACL LOAD, aclfile at startup); the
    /// default user is kept as is unless the list defines it.
    pub fn replace_all(&self, list: Vec<User>) {
        let mut users = self.users.write();
        let mut new = BTreeMap::new();
        for u in list {
            new.insert(u.name.clone(), Arc::new(u.finish()));
        }
        if !new.contains_key("default") {
            if let Some(d) = users.get("default") {
                new.insert("default".into(), Arc::new(d.edit().finish()));
            }
        }
        for u in users.values() {
            u.retire();
        }
        *users = new;
    }

    /// The permission gate in dispatch.
    #[inline]
    pub fn check(
        &self,
        user: &User,
        cmd: &Command,
        argv: &[&[u8]],
        db: usize,
    ) -> Result<(), Denied> {
        if user.is_fast() {
            return Ok(());
        }
        user.check(cmd, argv, db, false).map_err(|e| e.0)
    }
}

/// Parses aclfile text (`user <name> <rules…>` lines) into users.
/// Users of an aclfile; `allchannels` is `acl-pubsub-default allchannels`.
pub fn parse_aclfile(text: &str, databases: usize, allchannels: bool) -> Result<Vec<User>, String> {
    let mut out: Vec<User> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&[u8]> = line.split_ascii_whitespace().map(str::as_bytes).collect();
        if parts.len() < 2 || parts[0] != b"user" {
            return Err(format!("/{}: line should start with user keyword", n + 1));
        }
        let name = String::from_utf8_lossy(parts[1]).into_owned();
        if out.iter().any(|u| u.name == name) {
            return Err(format!("{}: Duplicate user '{name}' found", n + 1));
        }
        let words = rules::merge_selectors(&parts[2..])?;
        let mut u = User::new_with(&name, allchannels);
        for w in &words {
            u.apply(w, databases).map_err(|e| {
                format!(
                    "{}: Error in applying operation '{}': {}",
                    n + 1,
                    String::from_utf8_lossy(w),
                    e.text()
                )
            })?;
        }
        out.push(u);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &str) -> User {
        let mut u = User::new("u");
        let words: Vec<&[u8]> = rules.split(' ').map(str::as_bytes).collect();
        for w in rules::merge_selectors(&words).expect("balanced") {
            u.apply(&w, 16).expect("valid rule");
        }
        u.finish()
    }

    #[test]
    fn describe_matches_redis() {
        assert_eq!(
            user("+@all -get +get").describe(),
            "user u off sanitize-payload resetchannels +@all +get"
        );
        assert_eq!(
            user("-@all +@string -get").describe(),
            "user u off sanitize-payload resetchannels -@all +@string -get"
        );
        assert_eq!(
            user("-@all +client|id +client").describe(),
            "user u off sanitize-payload resetchannels -@all +client"
        );
        assert_eq!(
            user("on ~a* %R~b* &c* +get (+set ~x*) db=2").describe(),
            "user u on sanitize-payload ~a* %R~b* resetchannels &c* -@all +get db=2 (~x* resetchannels -@all +set)"
        );
        assert_eq!(
            User::default_user(None).describe(),
            "user default on nopass sanitize-payload ~* &* +@all"
        );
    }

    #[test]
    fn default_user_takes_the_fast_path() {
        assert!(User::default_user(None).is_fast());
        assert!(!user("+@all ~* &* db=0").is_fast());
    }

    proptest::proptest! {
        /// Printing a user and applying the printed rules to a fresh user
        /// gives the same user (ACL LIST / aclfile round trip).
        #[test]
        fn describe_round_trips(picks in proptest::collection::vec(0usize..42, 0..16)) {
            const VOCAB: &[&str] = &[
                "on", "off", ">a", ">b", "nopass", "resetpass", "+get", "-get", "+set",
                "+@string", "-@string", "+@all", "-@all", "+client", "-client|id",
                "+client|list", "~a*", "%R~r*", "%W~w*", "resetkeys", "&c*", "resetchannels",
                "db=1", "db=0,3", "alldbs", "resetdbs", "(+get ~x)", "(db=2 +@read)",
                "clearselectors", "+@keyspace", "-del", "allcommands", "nocommands",
                "+@connection", "-@dangerous", "%RW~b", "+type", "-type", "+select", "reset",
                "skip-sanitize-payload", "sanitize-payload",
            ];
            let mut u = User::new("u");
            for &i in &picks {
                // Refused words (a pattern after `~*`) leave the user unchanged.
                let _ = u.apply(VOCAB[i].as_bytes(), 16);
            }
            let text = u.describe();
            let words: Vec<&[u8]> = text.split(' ').skip(2).map(str::as_bytes).collect();
            let mut v = User::new("u");
            for w in rules::merge_selectors(&words).expect("balanced") {
                v.apply(&w, 16).expect("printed rules parse");
            }
            proptest::prop_assert_eq!(v.describe(), text);
            for id in 0..crate::commands::REGISTRY.len() as u16 {
                proptest::prop_assert_eq!(u.root.allows(id), v.root.allows(id));
            }
        }
    }

    #[test]
    fn hashes_round_trip() {
        let u = user(">pw");
        let h: Vec<String> = u.password_hashes().collect();
        let u2 = user(&format!("#{}", h[0]));
        assert!(u2.password_ok(b"pw"));
        assert!(!u2.password_ok(b"nope"));
        assert!(parse_hash(b"ABC").is_none());
    }
}
