//! HyperLogLog group: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST,
//! byte for byte against redis-server (replies and the raw GET of the
//! value, sparse, dense and across the promotion boundary), HLLs moved
//! between the two servers by GET/SET, plus what a differential run can't
//! see (WATCH, TTL, the config parameter, the table's metadata).

use crate::support::{self, start, Oracle};

fn cmd(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn line(l: &str) -> Vec<Vec<u8>> {
    l.split(' ').map(|s| s.as_bytes().to_vec()).collect()
}

/// `PFADD key` with elements `prefix{from..to}`.
fn pfadd_range(key: &str, prefix: &str, from: usize, to: usize) -> Vec<Vec<u8>> {
    let mut c = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
    c.extend((from..to).map(|i| format!("{prefix}{i}").into_bytes()));
    c
}

#[tokio::test]
async fn differential_pfadd_pfcount_sparse() {
    let mut cmds: Vec<Vec<Vec<u8>>> = [
        "PFADD h a b c",
        "GET h",
        "PFCOUNT h",
        "GET h",
        "PFADD h a",
        "PFADD h d",
        "PFDEBUG ENCODING h",
        "PFDEBUG DECODE h",
        "PFCOUNT h",
        "PFCOUNT nokey",
        "PFCOUNT h nokey",
        "PFADD empty",
        "GET empty",
        "PFADD empty",
        "PFCOUNT empty",
        "GET empty",
    ]
    .iter()
    .map(|l| line(l))
    .collect();
    // Elements of every length the hash's tail handles (0..=16 bytes).
    for n in 0..=16 {
        cmds.push(cmd(&[b"PFADD", b"lens", "x".repeat(n).as_bytes()]));
    }
    cmds.push(line("GET lens"));
    cmds.push(line("PFCOUNT lens"));
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn differential_promotion_boundary() {
    let mut cmds = Vec::new();
    // Small steps through the default 3000-byte limit: the value is
    // compared after every step, so the step that promotes is seen.
    for step in 0..60 {
        cmds.push(pfadd_range("h", "e", step * 50, step * 50 + 50));
        cmds.push(line("PFDEBUG ENCODING h"));
        cmds.push(line("STRLEN h"));
        cmds.push(line("GET h"));
        cmds.push(line("PFCOUNT h"));
    }
    // One element at a time across the boundary.
    for i in 0..400 {
        cmds.push(cmd(&[b"PFADD", b"one", format!("{i}").as_bytes()]));
        cmds.push(line("STRLEN one"));
    }
    cmds.push(line("GET one"));
    cmds.push(line("PFCOUNT one"));
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn differential_dense_and_large_counts() {
    let mut cmds = Vec::new();
    for batch in 0..40 {
        cmds.push(pfadd_range("big", "m", batch * 2500, batch * 2500 + 2500));
        cmds.push(line("PFCOUNT big"));
    }
    cmds.push(line("GET big"));
    cmds.push(line("PFADD big m5"));
    cmds.push(line("PFDEBUG ENCODING big"));
    cmds.push(line("PFDEBUG TODENSE big"));
    cmds.push(line("PFDEBUG DECODE big"));
    cmds.push(line("PFDEBUG GETREG big"));
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn differential_sparse_max_bytes_config() {
    let mut cmds = vec![line("CONFIG SET hll-sparse-max-bytes 100")];
    for i in 0..60 {
        cmds.push(cmd(&[b"PFADD", b"h", format!("k{i}").as_bytes()]));
        cmds.push(line("PFDEBUG ENCODING h"));
    }
    cmds.push(line("GET h"));
    cmds.push(line("CONFIG SET hll-sparse-max-bytes 0"));
    cmds.push(line("PFADD z a"));
    cmds.push(line("PFDEBUG ENCODING z"));
    cmds.push(line("GET z"));
    cmds.push(line("CONFIG GET hll-sparse-max-bytes"));
    cmds.push(line("CONFIG SET hll-sparse-max-bytes 3000"));
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn differential_pfmerge() {
    let mut cmds = vec![line("PFADD s1 a b c"), line("PFADD s2 c d e f")];
    cmds.push(pfadd_range("d1", "x", 0, 5000));
    cmds.extend(
        [
            // All sparse: the result stays sparse.
            "PFMERGE m1 s1 s2",
            "PFDEBUG ENCODING m1",
            "GET m1",
            "PFCOUNT m1",
            "PFCOUNT s1 s2",
            // A dense input makes the destination dense.
            "PFMERGE m2 s1 d1",
            "PFDEBUG ENCODING m2",
            "GET m2",
            "PFCOUNT m2",
            "PFCOUNT s1 s2 d1",
            // Into an existing key, which counts as an input.
            "PFMERGE s1 s2",
            "GET s1",
            "PFMERGE s1",
            "GET s1",
            "PFMERGE fresh",
            "GET fresh",
            "PFMERGE fresh2 nokey1 nokey2",
            "GET fresh2",
            "PFMERGE d1 s1",
            "GET d1",
        ]
        .iter()
        .map(|l| line(l)),
    );
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn differential_errors() {
    let corrupt_sparse: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x00";
    let short_dense: &[u8] = b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00";
    let bad_encoding: &[u8] = b"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff";
    let too_long: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x7f\xff";
    let truncated: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f";
    let mut cmds: Vec<Vec<Vec<u8>>> = [
        "SET s abc",
        "PFADD s x",
        "PFCOUNT s",
        "PFCOUNT s s",
        "PFMERGE d s",
        "PFMERGE s",
        "EXISTS d",
        "SET i 123",
        "PFCOUNT i",
        "PFADD i x",
        "LPUSH l x",
        "PFADD l x",
        "PFCOUNT l",
        "PFCOUNT l l",
        "PFMERGE l",
        "PFADD h a",
        "PFDEBUG GETREG nokey",
        "PFDEBUG FOO nokey",
        "PFDEBUG FOO h",
        "PFDEBUG GETREG s",
        "PFDEBUG ENCODING l",
        "PFADD",
        "PFCOUNT",
        "PFMERGE",
        "PFDEBUG ENCODING",
        "PFDEBUG ENCODING h x",
        "PFSELFTEST x",
    ]
    .iter()
    .map(|l| line(l))
    .collect();
    for (key, value) in [
        (&b"c"[..], corrupt_sparse),
        (b"short", short_dense),
        (b"enc", bad_encoding),
        (b"long", too_long),
        (b"trunc", truncated),
    ] {
        cmds.push(cmd(&[b"SET", key, value]));
        cmds.push(cmd(&[b"PFCOUNT", key]));
        cmds.push(cmd(&[b"PFCOUNT", key, b"h"]));
        cmds.push(cmd(&[b"PFMERGE", b"dst", key]));
        cmds.push(cmd(&[b"PFDEBUG", b"TODENSE", key]));
        cmds.push(cmd(&[b"PFDEBUG", b"DECODE", key]));
        // Last: after a PFADD on the truncated value, Redis reads a stale
        // byte past the string's end (not what it reads after a reload).
        cmds.push(cmd(&[b"PFADD", key, b"zz"]));
        cmds.push(cmd(&[b"GET", key]));
    }
    support::diff_args(&cmds).await;
}

/// An HLL written by Redis counts the same here, and one written here
/// counts the same in Redis, through plain GET/SET.
#[tokio::test]
async fn hll_values_move_between_servers() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let server = start().await;
    let mut ours = server.raw().await;
    let mut theirs = oracle.raw().await;
    for (key, n) in [("small", 20usize), ("dense", 30_000)] {
        let add = pfadd_range(key, "v", 0, n);
        let add: Vec<&[u8]> = add.iter().map(Vec::as_slice).collect();
        theirs.call(&add).await;
        let value = support::bulk_payload(&theirs.call(&[b"GET", key.as_bytes()]).await)
            .expect("redis has the HLL");
        let moved = format!("{key}-from-redis");
        ours.call(&[b"SET", moved.as_bytes(), &value]).await;
        assert_eq!(
            ours.call(&[b"PFCOUNT", moved.as_bytes()]).await,
            theirs.call(&[b"PFCOUNT", key.as_bytes()]).await
        );
        // DUMP/RESTORE too (Redis 7.0's payload; ours is 7.2's version 11,
        // which 7.0 refuses, so this direction only).
        let payload = support::bulk_payload(&theirs.call(&[b"DUMP", key.as_bytes()]).await)
            .expect("redis dumps the HLL");
        let restored = format!("{key}-restored");
        assert_eq!(
            ours.call(&[b"RESTORE", restored.as_bytes(), b"0", &payload])
                .await,
            b"+OK\r\n"
        );
        assert_eq!(
            ours.call(&[b"PFCOUNT", restored.as_bytes()]).await,
            theirs.call(&[b"PFCOUNT", key.as_bytes()]).await
        );
        assert_eq!(
            ours.call(&[b"GET", restored.as_bytes()]).await,
            theirs.call(&[b"GET", key.as_bytes()]).await
        );
        // And back: ours, made here from the same input, counted there.
        ours.call(&add).await;
        let mine = support::bulk_payload(&ours.call(&[b"GET", key.as_bytes()]).await)
            .expect("keyward has the HLL");
        theirs.call(&[b"SET", b"mine", &mine]).await;
        assert_eq!(
            theirs.call(&[b"PFCOUNT", b"mine"]).await,
            ours.call(&[b"PFCOUNT", key.as_bytes()]).await
        );
        assert_eq!(
            theirs.call(&[b"PFDEBUG", b"ENCODING", b"mine"]).await,
            ours.call(&[b"PFDEBUG", b"ENCODING", key.as_bytes()]).await
        );
    }
}

#[tokio::test]
async fn pfselftest_passes() {
    let server = start().await;
    let mut r = server.raw().await;
    assert_eq!(r.call(&[b"PFSELFTEST"]).await, b"+OK\r\n");
}

#[tokio::test]
async fn pfadd_keeps_ttl_and_unchanged_pfadd_keeps_watch() {
    let server = start().await;
    let mut r = server.raw().await;
    r.call_str("PFADD h a b").await;
    r.call_str("EXPIRE h 100").await;
    assert_eq!(r.call_str("PFADD h c").await, b":1\r\n");
    assert_eq!(r.call_str("TTL h").await, b":100\r\n");
    // Dense too: the in-place path.
    r.call_str("PFDEBUG TODENSE h").await;
    assert_eq!(r.call_str("PFADD h d").await, b":1\r\n");
    assert_eq!(r.call_str("TTL h").await, b":100\r\n");
    assert_eq!(r.call_str("PFCOUNT h").await, b":4\r\n");

    // A PFADD that changes no register is not a write: WATCH holds.
    let mut other = server.raw().await;
    r.call_str("WATCH h").await;
    assert_eq!(other.call_str("PFADD h a").await, b":0\r\n");
    r.call_str("MULTI").await;
    r.call_str("PING").await;
    assert_eq!(r.call_str("EXEC").await, b"*1\r\n+PONG\r\n");
    // One that does is.
    r.call_str("WATCH h").await;
    assert_eq!(other.call_str("PFADD h zz").await, b":1\r\n");
    r.call_str("MULTI").await;
    r.call_str("PING").await;
    assert_eq!(r.call_str("EXEC").await, b"*-1\r\n");
}

#[tokio::test]
async fn pfcount_caches_the_cardinality() {
    let server = start().await;
    let mut r = server.raw().await;
    r.call_str("PFADD h a b c").await;
    let stale = support::bulk_payload(&r.call_str("GET h").await).expect("value");
    assert_eq!(stale[15] & 0x80, 0x80, "PFADD marks the cache stale");
    assert_eq!(r.call_str("PFCOUNT h").await, b":3\r\n");
    let fresh = support::bulk_payload(&r.call_str("GET h").await).expect("value");
    assert_eq!(&fresh[8..16], &3u64.to_le_bytes());
    // A forged cache is believed, as in Redis (that is what a cache is).
    let mut forged = fresh.clone();
    forged[8] = 42;
    r.call(&[b"SET", b"f", &forged]).await;
    assert_eq!(r.call_str("PFCOUNT f").await, b":42\r\n");
    // Several keys never use nor write the cache.
    assert_eq!(r.call_str("PFCOUNT f nokey").await, b":3\r\n");
    let after = support::bulk_payload(&r.call_str("GET f").await).expect("value");
    assert_eq!(after, forged);
}

#[tokio::test]
async fn hll_sparse_max_bytes_is_honoured() {
    let server = start().await;
    let mut r = server.raw().await;
    assert_eq!(
        r.call_str("CONFIG GET hll-sparse-max-bytes").await,
        b"*2\r\n$20\r\nhll-sparse-max-bytes\r\n$4\r\n3000\r\n"
    );
    assert_eq!(
        r.call_str("CONFIG SET hll-sparse-max-bytes 20").await,
        b"+OK\r\n"
    );
    r.call_str("PFADD h a b c d e").await;
    assert_eq!(r.call_str("PFDEBUG ENCODING h").await, b"+dense\r\n");
    assert_eq!(r.call_str("STRLEN h").await, b":12304\r\n");
    // Promotion, in-place dense writes and the cache refresh keep the
    // memory accounting exact.
    r.call_str("CONFIG SET hll-sparse-max-bytes 3000").await;
    r.call_str("PFADD s a b c").await;
    r.call_str("PFCOUNT s").await;
    r.call_str("PFMERGE s h").await;
    r.call_str("PFADD h x y").await;
    r.call_str("PFDEBUG GETREG s").await;
    let db = server.handle.shared().keyspace.lock(0);
    assert_eq!(db.entry_memory(), db.recount_memory());
}

#[tokio::test]
async fn hll_rows_match_redis_metadata() {
    let server = start().await;
    let mut r = server.raw().await;
    let info = String::from_utf8_lossy(
        &r.call_str("COMMAND INFO pfadd pfcount pfmerge pfdebug pfselftest")
            .await,
    )
    .into_owned();
    for want in ["hyperloglog", "pfselftest", "admin", "denyoom"] {
        assert!(info.contains(want), "{want} missing from {info}");
    }
    let docs = String::from_utf8_lossy(&r.call_str("COMMAND DOCS pfcount").await).into_owned();
    assert!(docs.contains("hyperloglog"), "{docs}");
    assert!(!docs.contains("doc_flags"), "{docs}");
    // The internal ones carry Redis's `syscmd` doc flag.
    for internal in ["pfdebug", "pfselftest"] {
        let docs = String::from_utf8_lossy(&r.call_str(&format!("COMMAND DOCS {internal}")).await)
            .into_owned();
        assert!(
            docs.contains("$9\r\ndoc_flags\r\n*1\r\n+syscmd\r\n"),
            "{docs}"
        );
    }
}

/// Random PFADD/PFCOUNT/PFMERGE over a few keys, compared reply by reply
/// with the Redis 7.2 oracle, raw strings included (GET): the sparse and
/// dense encodings, the promotion between them and the cached
/// cardinality must match byte for byte.
#[tokio::test]
async fn differential_random_hll_workload_72() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    for seed in 0..3 {
        let mut rng = StdRng::seed_from_u64(seed);
        let keys = ["h1", "h2", "h3"];
        let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
        for _ in 0..600 {
            let k = keys[rng.gen_range(0..keys.len())].to_string();
            let cmd: Vec<String> = match rng.gen_range(0..10) {
                0..=4 => {
                    let mut c = vec!["PFADD".to_string(), k];
                    // A wide member space: sets grow past the sparse limit.
                    for _ in 0..rng.gen_range(1..40) {
                        c.push(format!("m{}", rng.gen_range(0..20_000)));
                    }
                    c
                }
                5 | 6 => vec!["PFCOUNT".into(), k],
                7 => vec![
                    "PFCOUNT".into(),
                    k,
                    keys[rng.gen_range(0..keys.len())].into(),
                ],
                8 => vec![
                    "PFMERGE".into(),
                    k,
                    keys[rng.gen_range(0..keys.len())].into(),
                    keys[rng.gen_range(0..keys.len())].into(),
                ],
                _ => vec!["GET".into(), k],
            };
            cmds.push(cmd.into_iter().map(String::into_bytes).collect());
        }
        support::diff_args_72(&cmds).await;
    }
}
