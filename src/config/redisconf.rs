//! redis.conf: Redis's own configuration format, read the way
//! redis-server 7.2 reads it (`loadServerConfigFromString` in config.c).
//!
//! - One directive per line; a line whose first non-blank is `#` is a
//!   comment; words are split by [`split_args`], Redis's `sdssplitargs`.
//! - Command line flags after the file become lines appended to it
//!   ([`options_from_args`]), as redis-server does, so they override it and
//!   a bad one is reported like a bad line.
//! - A parameter takes one argument, or several for Redis's multi-argument
//!   ones (`save`, `bind` …); `save` lines accumulate (the first one drops
//!   the defaults, `save ""` empties the list), `client-output-buffer-limit`
//!   lines set one class each, others: the last line wins. (After an
//!   `include`, `save` lines replace the list, as in redis-server, whose
//!   include ends its "reading the config file" state.)
//! - `include PATH` loads a file (or every match of a glob) at that point;
//!   `user NAME RULES…` declares an ACL user once; `db INDEX FIELD VALUE…`
//!   is keyward's spelling of a `[[db]]` table.
//! - A value keyward refuses fails the start unless a later line (or flag)
//!   sets it back to what keyward takes: Debian's `daemonize yes` with the
//!   `--daemonize no` its systemd unit passes is fine.
//! - Any error stops the start with Redis's report:
//!   `*** FATAL CONFIG FILE ERROR (Redis 7.2.4) ***`, the line, the reason.

use crate::protocol::parse::{sds_repr as repr, sds_trim};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::params::{self, Class};
use super::{Config, ConfigError, DbConfig, UserConfig};

/// Nesting limit of `include` (Redis has none and overflows its stack).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Redis's parameters that take several words (`MULTI_ARG_CONFIG`).
const MULTI_ARG: &[&str] = &[
    "save",
    "client-output-buffer-limit",
    "oom-score-adj-values",
    "bind",
    "replicaof",
    "slaveof",
    "latency-tracking-info-percentiles",
    "shutdown-on-sigint",
    "shutdown-on-sigterm",
];

/// Names Redis 7.2 still takes and ignores (its `deprecated_configs`).
const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Splits a line into words as Redis's `sdssplitargs`: blanks separate
/// words; `"…"` takes `\n \r \t \b \a`, `\xHH` and `\<any>` escapes; `'…'`
/// takes only `\'`; a closing quote must end the word. `None` for
/// unbalanced quotes (or a quote closed inside a word).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // C string semantics: a NUL byte ends the line.
    let line = match line.iter().position(|&b| b == 0) {
        Some(n) => &line[..n],
        None => line,
    };
    crate::protocol::parse::split_args(line)
}

/// Which format a configuration file is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Toml,
    RedisConf,
}

/// A `.toml` file is TOML and a `.conf` file redis.conf; any other name is
/// decided by its first line that is not blank or a comment: TOML if it
/// opens a table (`[server]`) or assigns (`port = 6379`, `port=6379`),
/// which no redis.conf directive can.
pub fn detect(path: &str, text: &str) -> Format {
    let ext = Path::new(path)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("toml") => return Format::Toml,
        Some("conf") => return Format::RedisConf,
        _ => {}
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(line) = first else {
        return Format::RedisConf;
    };
    let mut words = line.split_whitespace();
    let head = words.next().unwrap_or("");
    if line.starts_with('[')
        || head.contains('=')
        || words.next().is_some_and(|w| w.starts_with('='))
    {
        Format::Toml
    } else {
        Format::RedisConf
    }
}

/// The command line after the file as redis-server turns it into config
/// lines: `--name` starts a line, each following word is appended quoted;
/// a `--save` with no value means `save ""`.
pub fn options_from_args(args: &[String]) -> String {
    let mut options = String::new();
    let mut handled_last = true;
    for (j, arg) in args.iter().enumerate() {
        if handled_last && arg.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&arg[2..]);
            options.push(' ');
            let words = split_args(arg.as_bytes()).map_or(0, |w| w.len());
            if words == 1 {
                handled_last = false;
                let next_is_flag = args.get(j + 1).is_some_and(|a| a.starts_with("--"));
                if arg.eq_ignore_ascii_case("--save") && (next_is_flag || j + 1 == args.len()) {
                    options.push_str("\"\"");
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
        } else {
            options.push_str(&repr(arg.as_bytes()));
            options.push(' ');
            handled_last = true;
        }
    }
    options
}

/// Redis's startup report of a bad configuration line.
pub fn fatal(line: Option<(usize, &str)>, reason: &str) -> ConfigError {
    let mut text = format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n",
        crate::server::REDIS_VERSION
    );
    if let Some((n, l)) = line {
        text.push_str(&format!(
            "Reading the configuration file, at line {n}\n>>> '{l}'\n"
        ));
    }
    text.push_str(reason);
    ConfigError::Fatal(text)
}

/// Why a line failed: a reason to report with that line, or the report of
/// a line of an included file (Redis names only the included file's line).
enum Failure {
    Reason(String),
    Report(ConfigError),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Reason(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Failure {
        Failure::Reason(s.to_string())
    }
}

/// A refused value that a later line may still set back.
struct Pending {
    line_no: usize,
    line: String,
    reason: String,
}

/// State of one load: what spans lines.
struct Loader<'a> {
    config: &'a mut Config,
    ignored: &'a mut Vec<String>,
    /// `save` pairs once a `save` line was read (the defaults until then).
    save: Option<Vec<String>>,
    /// Refused values by parameter (canonical name), last line first.
    pending: BTreeMap<&'static str, Pending>,
    /// `db` lines by index, as the `[[db]]` table they spell.
    dbs: BTreeMap<usize, toml::Table>,
    users: bool,
    depth: usize,
    /// Redis's `reading_config_file`, which an `include` leaves cleared: from
    /// then on each `save` line replaces the list instead of adding to it.
    save_adds: bool,
}

/// Loads redis.conf `text` (the file at `path`, `options` appended as
/// redis-server appends its flags) over `config`.
pub fn load(
    config: &mut Config,
    path: &str,
    text: &[u8],
    options: &str,
    ignored: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let mut all = text.to_vec();
    // Where the flags start: the unknown names among them are logged and
    // ignored, as keyward's flags are, instead of failing.
    let mut first_option = usize::MAX;
    if !options.is_empty() {
        all.push(b'\n');
        first_option = all.split(|&b| b == b'\n').count();
        all.extend_from_slice(options.as_bytes());
    }
    let mut loader = Loader {
        config,
        ignored,
        save: None,
        pending: BTreeMap::new(),
        dbs: BTreeMap::new(),
        users: false,
        depth: 0,
        save_adds: true,
    };
    loader.load_string(&all, first_option)?;
    if let Some(p) = loader.pending.values().next() {
        return Err(fatal(Some((p.line_no, &p.line)), &p.reason));
    }
    for (n, (index, table)) in std::mem::take(&mut loader.dbs).into_iter().enumerate() {
        let mut t = table;
        t.insert("index".into(), toml::Value::Integer(index as i64));
        let db = DbConfig::from_table(&t, n + 1, usize::MAX)
            .map_err(|m| fatal(None, &format!("db {index}: {m}")))?;
        loader.config.dbs.retain(|d| d.index != index);
        loader.config.dbs.push(db);
    }
    if loader.users && loader.config.aclfile.is_some() {
        // Redis's own refusal (ACLLoadUsersAtStartup).
        return Err(fatal(
            None,
            "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.",
        ));
    }
    loader.config.config_format = Format::RedisConf;
    let p = Path::new(path);
    loader.config.config_file = Some(std::path::absolute(p).unwrap_or_else(|_| p.into()));
    Ok(())
}

impl Loader<'_> {
    fn load_string(&mut self, text: &[u8], first_option: usize) -> Result<(), ConfigError> {
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let line = sds_trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let shown = String::from_utf8_lossy(line).into_owned();
            let err = |reason: &str| fatal(Some((line_no, &shown)), reason);
            let Some(argv) = split_args(line) else {
                return Err(err("Unbalanced quotes in configuration line"));
            };
            if argv.is_empty() {
                continue;
            }
            let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
            let from_flags = line_no >= first_option;
            match self.directive(&name, &argv, line_no, &shown, from_flags) {
                Ok(()) => {}
                Err(Failure::Reason(reason)) => return Err(err(&reason)),
                Err(Failure::Report(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn directive(
        &mut self,
        name: &str,
        argv: &[Vec<u8>],
        line_no: usize,
        line: &str,
        from_flags: bool,
    ) -> Result<(), Failure> {
        let argc = argv.len();
        if let Some(p) = params::find(name) {
            let canonical = params::canonical(p);
            let multi = MULTI_ARG.contains(&canonical.name) || MULTI_ARG.contains(&p.name);
            if !multi && argc != 2 {
                return Err("wrong number of arguments".into());
            }
            let args: Vec<Vec<u8>> = if multi && argc == 2 && !argv[1].is_empty() {
                split_args(&argv[1]).ok_or("Unbalanced quotes in configuration line")?
            } else {
                argv[1..].to_vec()
            };
            let args = args
                .iter()
                .map(|a| utf8(a))
                .collect::<Result<Vec<&str>, String>>()?;
            let value = match canonical.name {
                "save" => self.save(&args)?,
                // One class per line, over what earlier lines set.
                "client-output-buffer-limit" => {
                    format!("{} {}", (canonical.get)(self.config), args.join(" "))
                }
                _ if multi => args.join(" "),
                _ => args[0].to_string(),
            };
            return match (p.set)(self.config, &value) {
                Ok(()) => {
                    self.pending.remove(canonical.name);
                    Ok(())
                }
                // Refused: fatal unless a later line sets it back (not for
                // a line that sets one class of several, which a later
                // line about another class must not clear).
                Err(reason)
                    if matches!(p.class, Class::Refused(why) if why == reason)
                        && canonical.name != "client-output-buffer-limit" =>
                {
                    self.pending.insert(
                        canonical.name,
                        Pending {
                            line_no,
                            line: line.to_string(),
                            reason,
                        },
                    );
                    Ok(())
                }
                Err(reason) => Err(reason.into()),
            };
        }
        if DEPRECATED.contains(&name) && argc == 2 {
            return Ok(());
        }
        match name {
            "include" if argc == 2 => self.include(utf8(&argv[1])?),
            "user" if argc >= 2 => Ok(self.user(argv)?),
            "db" if argc >= 2 => Ok(self.db(argv)?),
            "rename-command" if argc == 3 => {
                let pair = (utf8(&argv[1])?.to_string(), utf8(&argv[2])?.to_string());
                self.config.rename_command.push(pair);
                // Checked line by line, against what earlier lines renamed.
                if let Err((_, e)) =
                    crate::commands::table::Renames::build(&self.config.rename_command)
                {
                    self.config.rename_command.pop();
                    return Err(e.into());
                }
                Ok(())
            }
            "loadmodule" if argc >= 2 => Err("keyward cannot load Redis modules".into()),
            _ if name.contains('.') => Err("keyward cannot load Redis modules".into()),
            _ if from_flags => {
                let words: Vec<String> = argv.iter().map(|a| repr_if_needed(a)).collect();
                self.ignored.push(format!("--{}", words.join(" ")));
                Ok(())
            }
            _ => Err("Bad directive or wrong number of arguments".into()),
        }
    }

    /// `save` lines accumulate, as in Redis: the first drops the defaults,
    /// `save ""` empties the list.
    fn save(&mut self, args: &[&str]) -> Result<String, String> {
        let args: &[&str] = if args == [""] {
            self.save = Some(Vec::new());
            &[]
        } else {
            args
        };
        let valid = args.len() % 2 == 0
            && args.iter().enumerate().all(|(j, a)| {
                a.parse::<i64>()
                    .is_ok_and(|n| if j % 2 == 0 { n >= 1 } else { n >= 0 })
            });
        if !valid {
            return Err("Invalid save parameters".into());
        }
        let pairs = self.save.get_or_insert_with(Vec::new);
        if !self.save_adds {
            pairs.clear();
        }
        pairs.extend(args.iter().map(|a| a.to_string()));
        Ok(pairs.join(" "))
    }

    fn include(&mut self, path: &str) -> Result<(), Failure> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "include: more than {MAX_INCLUDE_DEPTH} nested includes (a loop?)"
            )
            .into());
        }
        // With a wildcard, every match in order, and none is fine (an
        // empty conf.d); without, the file must be there.
        let files = if path.contains(['*', '?', '[']) {
            glob(path)
        } else {
            vec![PathBuf::from(path)]
        };
        self.depth += 1;
        for f in files {
            let text = std::fs::read(&f).map_err(|e| {
                Failure::Report(ConfigError::Fatal(format!(
                    "Fatal error, can't open config file '{}': {}",
                    f.display(),
                    io_reason(&e)
                )))
            })?;
            // Its errors are reported with its own line numbers, as Redis.
            self.load_string(&text, usize::MAX)
                .map_err(Failure::Report)?;
        }
        self.depth -= 1;
        // As redis-server: the included file's load ends "reading the
        // config file" for the rest of the outer one.
        self.save_adds = false;
        Ok(())
    }

    /// `user NAME RULE…`: Redis's ACL rules, each word as it was quoted.
    fn user(&mut self, argv: &[Vec<u8>]) -> Result<(), String> {
        let name = utf8(&argv[1])?.to_string();
        let decl = |word: &[u8], e: &str| {
            format!(
                "Error in user declaration '{}': {e}",
                String::from_utf8_lossy(word)
            )
        };
        // As Redis's ACL load (`ACLStringHasSpaces`): a name with a space,
        // quoted into the line, would be written back unquoted by CONFIG
        // REWRITE and ACL LIST and no longer read as one name.
        if argv[1]
            .iter()
            .any(|&b| b == 0 || b.is_ascii_whitespace() || b == 0x0b)
        {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        if self.config.users.iter().any(|u| u.name == name) {
            return Err(decl(
                &argv[1],
                "Duplicate user found. A user can only be defined once in config files",
            ));
        }
        let words: Vec<&[u8]> = argv[2..].iter().map(Vec::as_slice).collect();
        let merged = crate::acl::rules::merge_selectors(&words).map_err(|e| decl(&argv[1], &e))?;
        let mut check = crate::acl::User::new(&name);
        for w in &merged {
            check
                .apply(w, self.config.databases)
                .map_err(|e| decl(w, e.text()))?;
        }
        self.config.users.push(UserConfig {
            name,
            password_env: None,
            rules: String::new(),
            words: Some(argv[2..].to_vec()),
            password: None,
        });
        self.users = true;
        Ok(())
    }

    /// `db INDEX FIELD VALUE [FIELD VALUE …]`: keyward's per-DB settings,
    /// the fields of a `[[db]]` table. Lines for one index add up.
    fn db(&mut self, argv: &[Vec<u8>]) -> Result<(), String> {
        let index: usize = utf8(&argv[1])?
            .parse()
            .map_err(|_| "db: the first argument is the database index".to_string())?;
        if argv.len() % 2 != 0 || argv.len() < 4 {
            return Err("db: expected db INDEX FIELD VALUE [FIELD VALUE ...]".into());
        }
        let mut table = self.dbs.get(&index).cloned().unwrap_or_default();
        for pair in argv[2..].chunks(2) {
            let field = utf8(&pair[0])?.to_ascii_lowercase();
            let v = utf8(&pair[1])?;
            let value = match field.as_str() {
                "index" => return Err("db: the index is the first argument".into()),
                "max-keys" | "max-ops-per-sec" | "max-clients" => v
                    .parse::<i64>()
                    .map_or_else(|_| toml::Value::String(v.into()), toml::Value::Integer),
                "persist" => match v.to_ascii_lowercase().as_str() {
                    "yes" => toml::Value::Boolean(true),
                    "no" => toml::Value::Boolean(false),
                    _ => return Err(format!("db {index}: persist: expected yes or no, got {v}")),
                },
                _ => toml::Value::String(v.into()),
            };
            table.insert(field, value);
        }
        // Checked now, so the error points at this line (the index range
        // is checked once `databases` is final).
        let mut t = table.clone();
        t.insert("index".into(), toml::Value::Integer(index as i64));
        DbConfig::from_table(&t, 1, usize::MAX).map_err(|m| m.replacen("[[db]] index", "db", 1))?;
        self.dbs.insert(index, table);
        Ok(())
    }
}

fn utf8(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|_| "keyward takes UTF-8 values only".to_string())
}

/// A word as a flag would be written: bare when that reads back the same.
fn repr_if_needed(w: &[u8]) -> String {
    match std::str::from_utf8(w) {
        Ok(s) if !s.is_empty() && split_args(w).is_some_and(|v| v.len() == 1 && v[0] == w) => {
            s.to_string()
        }
        _ => repr(w),
    }
}

/// `strerror` as Redis prints it, without Rust's " (os error N)".
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(n) => s[..n].to_string(),
        None => s,
    }
}

/// The files a glob pattern matches, sorted, as glob(3) with no flags:
/// wildcards per path component, not matching a leading `.` unless the
/// pattern's component starts with one. Relative to the current directory.
pub fn glob(pattern: &str) -> Vec<PathBuf> {
    let absolute = pattern.starts_with('/');
    let mut found = vec![if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let wild = comp.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &found {
            if !wild {
                next.push(base.join(comp));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            // glob(3) negates a class with `!`; Redis's matcher with `^`.
            let pat = comp.replace("[!", "[^");
            let mut names: Vec<Vec<u8>> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().as_encoded_bytes().to_vec())
                .filter(|n| !n.starts_with(b".") || comp.starts_with('.'))
                .filter(|n| crate::commands::glob::glob_match(pat.as_bytes(), n, false))
                .collect();
            names.sort();
            for n in names {
                next.push(base.join(String::from_utf8_lossy(&n).as_ref()));
            }
        }
        found = next;
    }
    found.retain(|p| p.exists());
    found
}

// ------------------------------------------------------------ CONFIG REWRITE

/// Redis's string parameters (`createStringConfig`/`createSDSConfig`,
/// `notify-keyspace-events`): written quoted, as `sdscatrepr` does.
const QUOTED: &[&str] = &[
    "aclfile",
    "unixsocket",
    "pidfile",
    "logfile",
    "dbfilename",
    "appendfilename",
    "appenddirname",
    "requirepass",
    "masterauth",
    "masteruser",
    "replica-announce-ip",
    "bind-source-addr",
    "syslog-ident",
    "proc-title-template",
    "locale-collate",
    "ignore-warnings",
    "notify-keyspace-events",
    "cluster-config-file",
    "cluster-announce-ip",
    "cluster-announce-hostname",
    "cluster-announce-human-nodename",
    "server_cpulist",
    "bio_cpulist",
    "aof_rewrite_cpulist",
    "bgsave_cpulist",
];

/// Put before the lines a rewrite appends (Redis's marker).
const SIGNATURE: &str = "# Generated by CONFIG REWRITE";

/// The redis.conf text `old` rewritten for `config` and the ACL's `users`,
/// as Redis's `rewriteConfig`: comments, order and unknown lines stay; the
/// line of a setting the file has is replaced by its current value (the
/// first of its lines; further ones are dropped when fewer are needed);
/// a setting the file lacks is appended under [`SIGNATURE`] when it is
/// not at its default; runs of blank lines become one. `include`,
/// `rename-command`, `loadmodule` and keyward's `db` lines are kept as
/// written (per-DB changes made at runtime are not written back).
pub fn rewrite(old: &str, config: &Config, users: &[std::sync::Arc<crate::acl::User>]) -> String {
    let mut st = RewriteState::read(old);
    let defaults = Config::default();
    for p in params::PARAMS {
        if p.alias_of.is_some() || (p.name == "requirepass" && super::rewrite::from_env(config)) {
            continue;
        }
        let value = (p.get)(config);
        let force = value != (p.get)(&defaults);
        match p.name {
            "save" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                if words.is_empty() {
                    st.line("save", "save \"\"".into(), true);
                }
                for pair in words.chunks(2) {
                    st.line("save", format!("save {}", pair.join(" ")), true);
                }
            }
            "client-output-buffer-limit" => {
                let d = (p.get)(&defaults);
                let dw: Vec<&str> = d.split_whitespace().collect();
                let words: Vec<&str> = value.split_whitespace().collect();
                for (class, def) in words.chunks(4).zip(dw.chunks(4)) {
                    let line = format!("{} {}", p.name, class.join(" "));
                    st.line(p.name, line, class != def);
                }
            }
            // Redis writes the directory it runs in, always.
            "dir" => {
                let dir = std::path::absolute(&config.dir).unwrap_or_else(|_| config.dir.clone());
                let line = format!("dir {}", repr(dir.as_os_str().as_encoded_bytes()));
                st.line("dir", line, true);
            }
            _ => {
                let line = format!("{} {}", p.name, conf_value(p, &value));
                st.line(p.name, line, force);
            }
        }
        st.processed(p.name);
    }
    if config.aclfile.is_none() {
        // By name, as Redis walks its users.
        let mut users: Vec<_> = users.iter().collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        for u in users {
            st.line("user", u.describe(), true);
        }
    }
    // With an aclfile the users are its: the file's user lines go.
    st.processed("user");
    st.finish()
}

/// A parameter's value as a redis.conf line writes it: free text quoted
/// (Redis's string parameters), memory in its largest exact unit,
/// multi-word parameters and the rest as they are.
fn conf_value(p: &'static params::Param, value: &str) -> String {
    let canonical = params::canonical(p).name;
    if MULTI_ARG.contains(&canonical) && !value.is_empty() {
        return value.to_string();
    }
    // Anything that would not read back as one word is quoted too.
    let one_word = split_args(value.as_bytes()).is_some_and(|w| w == [value.as_bytes()]);
    let free_text = QUOTED.contains(&canonical) || !one_word;
    if free_text {
        return repr(value.as_bytes());
    }
    let memory = {
        let mut c = Config::default();
        (p.set)(&mut c, "1gb").is_ok() && (p.get)(&c) == "1073741824"
    };
    if memory {
        if let Ok(n) = value.parse::<u64>() {
            return [("gb", 1u64 << 30), ("mb", 1 << 20), ("kb", 1 << 10)]
                .into_iter()
                .find(|&(_, unit)| n > 0 && n % unit == 0)
                .map_or_else(|| n.to_string(), |(u, unit)| format!("{}{u}", n / unit));
        }
    }
    value.to_string()
}

/// Redis's `rewriteConfigState`.
struct RewriteState {
    lines: Vec<String>,
    /// Directive (canonical name) → its lines still to reuse, in order.
    by_option: std::collections::HashMap<String, std::collections::VecDeque<usize>>,
    processed: std::collections::HashSet<String>,
    needs_signature: bool,
}

impl RewriteState {
    fn read(old: &str) -> RewriteState {
        let mut st = RewriteState {
            lines: Vec::new(),
            by_option: Default::default(),
            processed: Default::default(),
            needs_signature: true,
        };
        let text = old.strip_suffix('\n').unwrap_or(old);
        for raw in text.split('\n') {
            let line = std::str::from_utf8(sds_trim(raw.as_bytes())).unwrap_or(raw);
            if line.is_empty() || line.starts_with('#') {
                if line == SIGNATURE {
                    st.needs_signature = false;
                }
                st.lines.push(line.to_string());
                continue;
            }
            let name = split_args(line.as_bytes()).and_then(|a| {
                a.first()
                    .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            });
            let known = name.as_deref().and_then(|n| {
                params::find(n)
                    .map(|p| params::canonical(p).name.to_string())
                    .or_else(|| {
                        ["include", "rename-command", "user", "loadmodule", "db"]
                            .contains(&n)
                            .then(|| n.to_string())
                    })
            });
            match known {
                Some(option) => {
                    st.by_option
                        .entry(option)
                        .or_default()
                        .push_back(st.lines.len());
                    st.lines.push(line.to_string());
                }
                // Unparsable, or no longer a directive: kept as a comment.
                None => st.lines.push(format!("# ??? {line}")),
            }
        }
        st
    }

    /// Redis's `rewriteConfigRewriteLine`.
    fn line(&mut self, option: &str, line: String, force: bool) {
        self.processed.insert(option.to_string());
        let slot = self.by_option.get_mut(option).and_then(|l| l.pop_front());
        match slot {
            Some(n) => self.lines[n] = line,
            None if force => {
                if std::mem::take(&mut self.needs_signature) {
                    self.lines.push(SIGNATURE.to_string());
                }
                self.lines.push(line);
            }
            None => {}
        }
    }

    fn processed(&mut self, option: &str) {
        self.processed.insert(option.to_string());
    }

    /// Drops the unused lines of processed options; one blank line per run.
    fn finish(mut self) -> String {
        for (option, rest) in &self.by_option {
            if self.processed.contains(option) {
                for &n in rest {
                    self.lines[n].clear();
                }
            }
        }
        let mut out = String::new();
        let mut was_empty = false;
        for l in &self.lines {
            if l.is_empty() {
                if was_empty {
                    continue;
                }
                was_empty = true;
            } else {
                was_empty = false;
            }
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| {
            v.into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect()
        })
    }

    fn w(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    /// Each case checked against Redis's `sdssplitargs` (sds.c).
    #[test]
    fn split_args_as_redis() {
        assert_eq!(words(""), w(&[]));
        assert_eq!(words("   \t "), w(&[]));
        assert_eq!(words("port 6379"), w(&["port", "6379"]));
        assert_eq!(words("  a\t\tb  c "), w(&["a", "b", "c"]));
        // \v and \f separate words (isspace) but only before a word starts.
        assert_eq!(words("a \x0b\x0c b"), w(&["a", "b"]));
        assert_eq!(words("a\x0bb"), w(&["a\x0bb"]));
        // Double quotes: the escapes.
        assert_eq!(
            words(r#"k "a\nb\rc\td\be\af\\g\"h""#),
            w(&["k", "a\nb\rc\td\u{8}e\u{7}f\\g\"h"])
        );
        assert_eq!(words(r#""\x41\x6a\x4A""#), w(&["AjJ"]));
        // \x without two hex digits is an x; any other escaped char is itself.
        assert_eq!(words(r#""\x4g""#), w(&["x4g"]));
        assert_eq!(words(r#""\q\'""#), w(&["q'"]));
        assert_eq!(words(r#""a b" c"#), w(&["a b", "c"]));
        assert_eq!(words(r#""""#), w(&[""]));
        assert_eq!(words(r#"save """#), w(&["save", ""]));
        // Single quotes: only \' is an escape.
        assert_eq!(words(r"'a\nb'"), w(&["a\\nb"]));
        assert_eq!(words(r"'it\'s'"), w(&["it's"]));
        assert_eq!(words(r#"'say "hi"'"#), w(&["say \"hi\""]));
        assert_eq!(words("''"), w(&[""]));
        // A quote opens inside a word and joins it.
        assert_eq!(words(r#"ab"c d"e"#), None);
        assert_eq!(words(r#"ab"c d""#), w(&["abc d"]));
        assert_eq!(words("ab'c d'"), w(&["abc d"]));
        // The closing quote must end the word.
        assert_eq!(words(r#""a"b"#), None);
        assert_eq!(words("'a'b"), None);
        assert_eq!(words(r#""a"	b"#), w(&["a", "b"]));
        // Unbalanced.
        assert_eq!(words(r#""abc"#), None);
        assert_eq!(words("'abc"), None);
        assert_eq!(words(r#""abc\"#), None);
        assert_eq!(words(r#"'abc\'"#), None);
        // A backslash outside quotes is a plain character.
        assert_eq!(words(r"a\nb"), w(&["a\\nb"]));
        // A NUL ends the line (C strings).
        assert_eq!(words("a b\0c"), w(&["a", "b"]));
        // `#` is a comment only at the start of a line (see load).
        assert_eq!(words("requirepass a#b"), w(&["requirepass", "a#b"]));
    }

    #[test]
    fn repr_reads_back() {
        for s in [
            "",
            "plain",
            "a b",
            "q\"uo\\te",
            "\n\r\t\u{7}\u{8}",
            "\u{1}\u{7f}",
            "{title} {listen-addr}",
        ] {
            let r = repr(s.as_bytes());
            assert_eq!(
                split_args(r.as_bytes()),
                Some(vec![s.as_bytes().to_vec()]),
                "{r}"
            );
        }
        assert_eq!(repr(b"a\x01\"b"), r#""a\x01\"b""#);
    }

    #[test]
    fn options_as_redis_server_builds_them() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            options_from_args(&args(&["--port", "7000", "--save", "900", "1"])),
            "port \"7000\" \nsave \"900\" \"1\" "
        );
        assert_eq!(
            options_from_args(&args(&["--save", "--port", "1"])),
            "save \"\"\nport \"1\" "
        );
        assert_eq!(options_from_args(&args(&["--save"])), "save \"\"");
        // A name still waiting for its value takes the next word as it is.
        assert_eq!(
            options_from_args(&args(&["--requirepass", "--x"])),
            "requirepass \"--x\" "
        );
    }

    #[test]
    fn format_by_extension_then_content() {
        assert_eq!(detect("a.toml", "port 1"), Format::Toml);
        assert_eq!(
            detect("/etc/redis/redis.conf", "[server]"),
            Format::RedisConf
        );
        assert_eq!(detect("cfg", "# c\n\n[server]\nport = 1"), Format::Toml);
        assert_eq!(detect("cfg", "port=1"), Format::Toml);
        assert_eq!(detect("cfg", "port = 1"), Format::Toml);
        assert_eq!(detect("cfg", "# c\nport 1\n"), Format::RedisConf);
        assert_eq!(detect("cfg", ""), Format::RedisConf);
    }

    fn load_text(text: &str, options: &str) -> Result<(Config, Vec<String>), String> {
        let mut c = Config::default();
        let mut ignored = Vec::new();
        load(&mut c, "t.conf", text.as_bytes(), options, &mut ignored)
            .map_err(|e| e.to_string())?;
        Ok((c, ignored))
    }

    #[test]
    fn directives_and_their_repetition() {
        let (c, ignored) = load_text(
            "# a comment\n  port 7000  \n\nsave 100 1\nsave 200 2\nbind 1.2.3.4\nbind 127.0.0.1 -::1\nMAXMEMORY 1gb\nproc-title-template \"{title} {port}\"\nlist-max-ziplist-entries 512\n",
            "save \"300\" \"3\" \nno-such-flag \"x\" ",
        )
        .expect("loads");
        assert_eq!(c.port, 7000);
        assert_eq!(c.save, "100 1 200 2 300 3");
        assert_eq!(c.bind, vec!["127.0.0.1".to_string(), "::1".into()]);
        assert_eq!(c.maxmemory, 1 << 30);
        assert_eq!(
            (params::find("proc-title-template").expect("row").get)(&c),
            "{title} {port}"
        );
        assert_eq!(ignored, vec!["--no-such-flag x".to_string()]);
        assert_eq!(c.config_format, Format::RedisConf);
        // save "" empties the list; later lines add to it.
        let (c, _) = load_text("save 1 1\nsave \"\"\n", "").expect("loads");
        assert_eq!(c.save, "");
        let (c, _) = load_text("save \"\"\nsave 5 5\n", "").expect("loads");
        assert_eq!(c.save, "5 5");
        // One quoted argument holding several words, as Redis splits it.
        let (c, _) = load_text("save \"10 1 20 2\"\n", "").expect("loads");
        assert_eq!(c.save, "10 1 20 2");
        // Without save lines, the defaults stay.
        let (c, _) = load_text("port 1\n", "").expect("loads");
        assert_eq!(c.save, Config::default().save);
        // client-output-buffer-limit: one class per line (Debian's three
        // lines, at Redis's defaults).
        let (c, _) = load_text(
            "client-output-buffer-limit normal 0 0 0\nclient-output-buffer-limit replica 256mb 64mb 60\nclient-output-buffer-limit pubsub 32mb 8mb 60\n",
            "",
        )
        .expect("loads");
        assert_eq!(
            (params::find("client-output-buffer-limit").expect("row").get)(&c),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        // Lines add up by class.
        let (c, _) = load_text(
            "client-output-buffer-limit pubsub 1mb 1mb 1\nclient-output-buffer-limit normal 2mb 0 0\n",
            "",
        )
        .expect("loads");
        assert_eq!(
            (params::find("client-output-buffer-limit").expect("row").get)(&c),
            "normal 2097152 0 0 slave 268435456 67108864 60 pubsub 1048576 1048576 1"
        );
        // The replica class keeps its default (no replicas to limit).
        let e = load_text(
            "client-output-buffer-limit replica 1mb 1mb 1\nclient-output-buffer-limit normal 0 0 0\n",
            "",
        )
        .expect_err("refused");
        assert!(e.contains("at line 1\n"), "{e}");
    }

    #[test]
    fn errors_name_the_line_as_redis() {
        let e = load_text("port 1\nnot-a-directive yes\n", "").expect_err("bad");
        assert_eq!(
            e,
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.2.4) ***\nReading the configuration file, at line 2\n>>> 'not-a-directive yes'\nBad directive or wrong number of arguments"
        );
        let e = load_text("requirepass a b\n", "").expect_err("bad");
        assert!(
            e.ends_with(">>> 'requirepass a b'\nwrong number of arguments"),
            "{e}"
        );
        let e = load_text("port \"1\n", "").expect_err("bad");
        assert!(
            e.ends_with("Unbalanced quotes in configuration line"),
            "{e}"
        );
        let e = load_text("port x\n", "").expect_err("bad");
        assert!(
            e.ends_with("argument couldn't be parsed into an integer"),
            "{e}"
        );
        let e = load_text("save 0 1\n", "").expect_err("bad");
        assert!(e.ends_with("Invalid save parameters"), "{e}");
        let e = load_text("rename-command CONFIG \"\"\nrename-command config x\n", "")
            .expect_err("bad");
        assert!(
            e.ends_with(
                "at line 2\n>>> 'rename-command config x'\nNo such command in rename-command"
            ),
            "{e}"
        );
        let e = load_text("loadmodule /x.so\n", "").expect_err("bad");
        assert!(e.ends_with("keyward cannot load Redis modules"), "{e}");
        // A bad flag is reported at its line after the file's.
        let e = load_text("port 1\n", "port \"x\" ").expect_err("bad");
        assert!(e.contains("at line 3\n>>> 'port \"x\"'"), "{e}");
    }

    #[test]
    fn a_refused_value_may_be_set_back_later() {
        let e = load_text("daemonize yes\nport 1\n", "").expect_err("refused");
        assert!(
            e.contains("at line 1\n>>> 'daemonize yes'\ndaemonize is not supported"),
            "{e}"
        );
        let (c, _) = load_text("daemonize yes\n", "daemonize \"no\" ").expect("set back");
        assert!(!c.daemonize);
        assert!(load_text("daemonize no\ndaemonize yes\n", "").is_err());
    }

    #[test]
    fn users_and_dbs() {
        let (c, _) = load_text(
            "user alice on \">pass word\" ~* +@all\nuser default off\ndb 1 name cache maxmemory 64mb\ndb 1 maxmemory-policy allkeys-lru max-keys 10 persist no\n",
            "",
        )
        .expect("loads");
        assert_eq!(c.users.len(), 2);
        let acl = crate::acl::Acl::from_config(&c);
        let alice = acl.get(b"alice").expect("alice");
        assert!(alice.password_ok(b"pass word"));
        assert!(!acl.get(b"default").expect("default").enabled);
        let d = c.dbs.iter().find(|d| d.index == 1).expect("db 1");
        assert_eq!(d.name, "cache");
        assert_eq!(d.maxmemory, 64 << 20);
        assert_eq!(d.max_keys, 10);
        assert!(d.no_persist);
        assert_eq!(
            d.maxmemory_policy,
            Some(crate::keyspace::evict::Policy::AllKeysLru)
        );
        let e = load_text("user a on\nuser a off\n", "").expect_err("duplicate");
        assert!(e.ends_with("Error in user declaration 'a': Duplicate user found. A user can only be defined once in config files"), "{e}");
        let e = load_text("user a on +nosuchcommand\n", "").expect_err("bad rule");
        assert!(e.ends_with("Error in user declaration '+nosuchcommand': Unknown command or category name in ACL"), "{e}");
        let e = load_text("user \"alice x\" on nopass +@all\n", "").expect_err("space in a name");
        assert!(e.ends_with("Spaces not allowed in ACL usernames"), "{e}");
        let e = load_text("db 1 max-keys lots\n", "").expect_err("bad field");
        assert!(e.contains(">>> 'db 1 max-keys lots'"), "{e}");
        let acl = std::env::temp_dir().join(format!("keyward-users-{}.acl", std::process::id()));
        std::fs::write(&acl, "").expect("write");
        let e =
            load_text(&format!("user a on\naclfile {}\n", acl.display()), "").expect_err("both");
        let _ = std::fs::remove_file(&acl);
        assert!(e.contains("ACL file path is invalid"), "{e}");
    }

    #[test]
    fn include_files_and_globs() {
        let dir = std::env::temp_dir().join(format!("keyward-include-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf.d")).expect("dir");
        std::fs::write(dir.join("conf.d/10-port.conf"), "port 7001\n").expect("write");
        std::fs::write(dir.join("conf.d/20-port.conf"), "port 7002\ntimeout 9\n").expect("write");
        std::fs::write(dir.join("conf.d/.hidden.conf"), "port 1\n").expect("write");
        std::fs::write(dir.join("conf.d/x.txt"), "bogus\n").expect("write");
        std::fs::write(dir.join("bad.conf"), "port 1\nbogus 1\n").expect("write");
        let d = dir.display();
        let (c, _) = load_text(
            &format!("save 1 1\nport 1\ninclude {d}/conf.d/*.conf\nsave 2 2\nsave 3 3\n"),
            "",
        )
        .expect("loads");
        assert_eq!((c.port, c.timeout), (7002, 9));
        // Redis's quirk: after an include, each save line replaces.
        assert_eq!(c.save, "3 3");
        // A pattern matching nothing is fine; a missing file is not.
        assert!(load_text(&format!("include {d}/none/*.conf\n"), "").is_ok());
        let e = load_text(&format!("include {d}/missing.conf\n"), "").expect_err("missing");
        assert!(e.contains("can't open config file"), "{e}");
        assert!(e.contains("No such file or directory"), "{e}");
        // An included file's error names its own line.
        let e = load_text(&format!("port 1\ninclude {d}/bad.conf\n"), "").expect_err("bad");
        assert!(e.contains("at line 2\n>>> 'bogus 1'"), "{e}");
        // Including itself stops.
        std::fs::write(dir.join("loop.conf"), format!("include {d}/loop.conf\n")).expect("w");
        assert!(load_text(&format!("include {d}/loop.conf\n"), "").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rewrite_as_redis() {
        let old = "# my redis\nport 6379\n\n\n# persistence\nsave 900 1\nsave 300 10\nslave-read-only yes\ninclude /etc/x.conf\nrename-command KEYS \"\"\nmaxmemory 2gb\n";
        let mut c = Config::default();
        c.apply("port", "7000").expect("valid");
        c.apply("save", "60 5").expect("valid");
        c.apply("maxmemory", "3gb").expect("valid");
        c.apply("timeout", "30").expect("valid");
        c.apply("proc-title-template", "{title} x").expect("valid");
        let users = crate::acl::Acl::new(None).users();
        let text = rewrite(old, &c, &users);
        let dir = repr(
            std::path::absolute(".")
                .expect("cwd")
                .as_os_str()
                .as_encoded_bytes(),
        );
        assert_eq!(
            text,
            format!(
                "# my redis\nport 7000\n\n# persistence\nsave 60 5\n\nreplica-read-only yes\ninclude /etc/x.conf\nrename-command KEYS \"\"\nmaxmemory 3gb\n# Generated by CONFIG REWRITE\ntimeout 30\ndir {dir}\nproc-title-template \"{{title}} x\"\n{}\n",
                users[0].describe()
            )
        );
        // The rewritten file loads back to the same values; a second
        // rewrite changes nothing.
        let mut back = Config::default();
        let cleaned = text
            .replace("include /etc/x.conf\n", "")
            .replace("rename-command KEYS \"\"\n", "");
        load(&mut back, "t.conf", cleaned.as_bytes(), "", &mut Vec::new()).expect("loads");
        for name in [
            "port",
            "save",
            "maxmemory",
            "timeout",
            "proc-title-template",
        ] {
            let p = params::find(name).expect("row");
            assert_eq!((p.get)(&back), (p.get)(&c), "{name}");
        }
        assert_eq!(rewrite(&text, &c, &users), text);
    }
}
