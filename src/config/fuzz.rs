//! The body of the `config_parse` fuzz target (see `fuzz/`), here so that
//! plain `cargo test` replays the tracked corpus (`fuzz/corpus/config_parse/`).
//!
//! [`parse_rewrite_agrees`] reads the input both as a TOML config file and
//! as a redis.conf file. Either parser may refuse it; neither may panic.
//! What one accepts must survive CONFIG REWRITE: the rewritten text, read
//! again by the same parser, gives the same value for every parameter, the
//! same `[[db]]` limits and the same users (`ACL LIST` lines). Inputs that
//! name other files (`include`, `aclfile`) are skipped: their outcome
//! depends on the machine's files, not on the parser.

use super::{redisconf, rewrite, Config};
use crate::acl::Acl;

fn described(c: &Config) -> Vec<String> {
    let mut users: Vec<String> = Acl::from_config(c)
        .users()
        .iter()
        .map(|u| u.describe())
        .collect();
    users.sort();
    users
}

fn same(a: &Config, b: &Config, what: &str, text: &str) {
    // `dir` is written back absolute (as Redis writes its working
    // directory): the same directory.
    let value = |p: &super::params::Param, c: &Config| {
        let v = (p.get)(c);
        if p.name == "dir" {
            std::path::absolute(&v).map_or(v, |d| d.display().to_string())
        } else {
            v
        }
    };
    for p in super::params::PARAMS {
        assert_eq!(
            value(p, a),
            value(p, b),
            "{what}: {} changed across CONFIG REWRITE; rewritten:\n{text}",
            p.name
        );
    }
    let dbs = |c: &Config| {
        let mut d = c.dbs.clone();
        d.sort_by_key(|d| d.index);
        d
    };
    assert_eq!(dbs(a), dbs(b), "{what}: [[db]] tables; rewritten:\n{text}");
    assert_eq!(
        described(a),
        described(b),
        "{what}: users; rewritten:\n{text}"
    );
}

/// Returns which parsers accepted the input (TOML, redis.conf), so the
/// corpus replay can tell that it exercised the round trip.
pub fn parse_rewrite_agrees(data: &[u8]) -> (bool, bool) {
    let lower = String::from_utf8_lossy(data).to_ascii_lowercase();
    if lower.contains("include") || lower.contains("aclfile") {
        return (false, false);
    }
    let text = String::from_utf8_lossy(data);

    let mut c = Config::default();
    let toml = c.load_toml(&text, "fuzz.toml", &mut Vec::new()).is_ok();
    if toml {
        let users = Acl::from_config(&c).users();
        if let Ok(out) = rewrite::rewrite(&text, &c, &users) {
            let mut back = Config::default();
            if let Err(e) = back.load_toml(&out, "fuzz.toml", &mut Vec::new()) {
                panic!("TOML: the rewritten file does not load: {e}\n{out}");
            }
            same(&c, &back, "TOML", &out);
        }
    }

    let mut c = Config::default();
    let conf = redisconf::load(&mut c, "fuzz.conf", data, "", &mut Vec::new()).is_ok();
    if conf {
        let users = Acl::from_config(&c).users();
        let out = redisconf::rewrite(&text, &c, &users);
        let mut back = Config::default();
        if let Err(e) = redisconf::load(&mut back, "fuzz.conf", out.as_bytes(), "", &mut Vec::new())
        {
            panic!("redis.conf: the rewritten file does not load: {e}\n{out}");
        }
        same(&c, &back, "redis.conf", &out);
    }
    (toml, conf)
}

#[cfg(test)]
mod tests {
    use super::parse_rewrite_agrees;

    #[test]
    fn replay_corpus() {
        let accepted = crate::fuzz_corpus::replay("config_parse", 10, parse_rewrite_agrees);
        let toml = accepted.iter().filter(|(t, _)| *t).count();
        let conf = accepted.iter().filter(|(_, c)| *c).count();
        // The round trip ran, not only the refusals.
        assert!(
            toml >= 3 && conf >= 3,
            "accepted: {toml} TOML, {conf} redis.conf"
        );
    }

    /// Lines recombined from the corpus, a few thousand on every `cargo
    /// test`: each a file of random settings the parsers must round-trip.
    #[test]
    fn random_files_round_trip() {
        campaign(7, 300);
    }

    /// The long campaign (the cargo-fuzz target's stand-in):
    /// `KEYWARD_FUZZ_ITERS=100000 cargo test --release --lib
    /// config::fuzz::tests::random_config_campaign -- --ignored`.
    #[test]
    #[ignore]
    fn random_config_campaign() {
        let iters = std::env::var("KEYWARD_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        campaign(1, iters);
    }

    /// Random files made of the corpus's pieces: TOML files from its
    /// `[server]` lines and whole `[[db]]`/`[[user]]` tables, redis.conf
    /// files from its lines; one byte in eight lines changed at random.
    fn campaign(seed: u64, iters: usize) {
        let (mut server, mut tables, mut conf) = (Vec::new(), Vec::new(), Vec::new());
        for (path, data) in crate::fuzz_corpus::files("config_parse", 10) {
            if path.extension().is_some_and(|x| x == "toml") {
                let text = String::from_utf8_lossy(&data);
                for (i, part) in text.split("\n[").enumerate() {
                    let part = if i == 0 {
                        part.to_string()
                    } else {
                        format!("[{part}")
                    };
                    if part.starts_with("[[") {
                        tables.push(part.into_bytes());
                    } else {
                        server.extend(
                            part.lines()
                                .filter(|l| !l.starts_with('['))
                                .map(|l| l.as_bytes().to_vec()),
                        );
                    }
                }
            } else {
                conf.extend(data.split(|&b| b == b'\n').map(<[u8]>::to_vec));
            }
        }
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let pick = |pool: &[Vec<u8>], next: &mut dyn FnMut() -> u64| {
            let mut l = pool[(next() % pool.len() as u64) as usize].clone();
            if next() % 8 == 0 && !l.is_empty() {
                let at = (next() % l.len() as u64) as usize;
                l[at] = next() as u8;
            }
            l
        };
        for i in 0..iters {
            let mut data = Vec::new();
            if next() % 2 == 0 {
                data.extend_from_slice(b"[server]\n");
                for _ in 0..next() % 10 {
                    data.extend(pick(&server, &mut next));
                    data.push(b'\n');
                }
                for _ in 0..next() % 4 {
                    data.extend(pick(&tables, &mut next));
                    data.push(b'\n');
                }
            } else {
                for _ in 0..1 + next() % 12 {
                    data.extend(pick(&conf, &mut next));
                    data.push(b'\n');
                }
            }
            let r = std::panic::catch_unwind(|| parse_rewrite_agrees(&data));
            if r.is_err() {
                let path = std::env::temp_dir().join(format!("config-parse-crash-{seed}-{i}"));
                let _ = std::fs::write(&path, &data);
                panic!(
                    "input {i} of seed {seed} fails; saved to {}",
                    path.display()
                );
            }
        }
    }
}
