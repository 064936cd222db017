//! Sorted-set group: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK
//! ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE
//! ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREMRANGEBYSCORE
//! ZREMRANGEBYRANK ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP ZUNIONSTORE
//! ZINTERSTORE ZDIFFSTORE ZUNION ZINTER ZDIFF ZINTERCARD ZRANDMEMBER ZSCAN.
//!
//! Differential tests use scores that print the same in Redis 7.0 (the
//! oracle, `%.17g`) and 7.2 (shortest round trip): integers and dyadic
//! fractions such as 1.5 or 0.25.

use rand::{Rng, SeedableRng};

use crate::support::{self, start, Oracle, Raw};

fn owned(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|s| s.as_bytes().to_vec()).collect()
}

#[tokio::test]
async fn basics_with_redis_crate() {
    let s = start().await;
    let mut c = s.client().await;
    let n: i64 = redis::cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg("a")
        .arg(2.5)
        .arg("b")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let sc: f64 = redis::cmd("ZSCORE")
        .arg("z")
        .arg("b")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(sc, 2.5);
    let r: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("z")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(r, vec![("a".into(), 1.0), ("b".into(), 2.5)]);
    let inc: f64 = redis::cmd("ZINCRBY")
        .arg("z")
        .arg(10)
        .arg("a")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(inc, 11.0);
    let card: i64 = redis::cmd("ZCARD")
        .arg("z")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(card, 2);
}

#[tokio::test]
async fn differential_commands_and_errors() {
    support::diff_lines(&[
        "ZADD z 1 a 2 b 3 c 4 d 5 e",
        "ZADD z",
        "ZADD z 1",
        "ZADD z 1 a 2",
        "ZADD z nx xx 1 a",
        "ZADD z gt lt 1 a",
        "ZADD z gt nx 1 a",
        "ZADD z incr 1 a 2 b",
        "ZADD z x a",
        "ZADD z nan a",
        "ZADD z 1e400 a",
        "ZADD z inf f -inf g",
        "ZADD z ch 10 a 2 b 7 new",
        "ZADD z nx 100 a 8 nx2",
        "ZADD z xx 0 a 9 nosuch",
        "ZADD z gt 1 a 20 b",
        "ZADD z lt 1 a 30 c",
        "ZADD z gt ch xx 50 d",
        "ZADD z incr 5 a",
        "ZADD z incr nx 5 a",
        "ZADD z incr xx 5 missing",
        "ZADD z incr gt -100 a",
        "ZADD z incr +inf f",
        "ZADD z incr -inf f",
        "ZADD nokey xx 1 a",
        "ZADD z ch",
        "ZADD z incr",
        "ZADD z 1e-400 a",
        "ZADD z 0x10 a",
        "ZADD z -0x1.8p1 hex2",
        "ZADD z 0x0p5 hex3",
        "ZADD z 0x1p-5000 hex4",
        "ZADD z 0x a",
        "ZSCORE z hex2",
        "ZRANGEBYSCORE z (0x1 0x10",
        "ZADD z ' 1' a",
        "ZADD z 1.5e1 a",
        "ZSCORE z a",
        "ZADD z -0 negzero",
        "ZSCORE z negzero",
        "ZADD z NX CH Gt 1 a",
        "ZADD z XX LT INCR -1 a",
        "ZADD nokey xx incr 1 a",
        "ZINCRBY z 2 b",
        "ZINCRBY z x b",
        "ZINCRBY z nx b",
        "ZINCRBY fresh 1.5 m",
        "ZRANGE z 0 -1 WITHSCORES",
        "ZCARD z",
        "ZCARD nokey",
        "ZSCORE z a",
        "ZSCORE z nosuch",
        "ZSCORE nokey a",
        "ZMSCORE z a nosuch b",
        "ZMSCORE nokey a b",
        "ZRANK z a",
        "ZRANK z nosuch",
        "ZREVRANK z a",
        "ZRANK nokey a",
        "ZCOUNT z -inf +inf",
        "ZCOUNT z (1 5",
        "ZCOUNT z 2 (5",
        "ZCOUNT z 5 1",
        "ZCOUNT z x 1",
        "ZCOUNT z 1 (x",
        "ZCOUNT nokey 0 1",
        "ZRANGE z 0 2",
        "ZRANGE z -2 -1",
        "ZRANGE z 5 1",
        "ZRANGE z 0 100 withscores",
        "ZRANGE z x 1",
        "ZRANGE z 0 -1 rev",
        "ZRANGE z 0 -1 rev withscores",
        "ZRANGE z 0 1 limit 0 1",
        "ZRANGE z (1 +inf byscore",
        "ZRANGE z +inf (1 byscore rev",
        "ZRANGE z -inf +inf byscore limit 1 2",
        "ZRANGE z -inf +inf byscore limit 1 -1 withscores",
        "ZRANGE z -inf +inf byscore limit -1 2",
        "ZRANGE z -inf +inf byscore limit 100 2",
        "ZRANGE z +inf -inf byscore rev limit 1 2 withscores",
        "ZRANGE z - + bylex withscores",
        "ZRANGE z 0 1 byscore bylex",
        "ZRANGE z 0 1 limit 1",
        "ZRANGE z 0 1 limit x 1",
        "ZRANGE z 0 1 bogus",
        "ZRANGE nokey 0 -1",
        "ZRANGE z 0 -1 limit 0 1 byscore",
        "ZRANGE z (1 (x byscore",
        "ZRANGE z [a [b bylex rev",
        "ZRANGE z 0 -1 rev rev",
        "ZRANGE z 0 -1 withscores withscores",
        "ZRANGE z 9223372036854775807 -9223372036854775808",
        "ZRANGE z -9223372036854775808 9223372036854775807",
        "ZRANGE z 0 -1 byscore limit 0 9223372036854775807",
        "ZRANGEBYSCORE z -inf +inf limit 9223372036854775807 1",
        "ZRANGEBYSCORE z 1e400 -1e400",
        "ZRANGEBYSCORE z -1e400 1e400",
        "ZRANGEBYSCORE z ' 1' 3",
        "ZRANGEBYSCORE z (nan 3",
        "ZREMRANGEBYRANK z 9223372036854775807 -9223372036854775808",
        "ZREVRANGE z 0 1",
        "ZREVRANGE z 1 -1 withscores",
        "ZREVRANGE z 0 1 rev",
        "ZREVRANGE z 0 1 limit 0 1",
        "ZRANGEBYSCORE z 1 5",
        "ZRANGEBYSCORE z (1 (5 withscores",
        "ZRANGEBYSCORE z -inf +inf limit 2 2",
        "ZRANGEBYSCORE z -inf +inf byscore",
        "ZRANGEBYSCORE z a b",
        "ZRANGEBYSCORE z ( 5",
        "ZREVRANGEBYSCORE z 5 1",
        "ZREVRANGEBYSCORE z +inf -inf withscores limit 0 3",
        "ZREVRANGEBYSCORE z 1 5",
        "ZRANGESTORE dst z 0 1",
        "ZRANGE dst 0 -1 withscores",
        "ZRANGESTORE dst z 0 -1 withscores",
        "ZRANGESTORE dst z 10 20",
        "EXISTS dst",
        "ZRANGESTORE dst nokey 0 -1",
        "ZRANGESTORE dst z +inf -inf byscore rev limit 0 2",
        "ZRANGE dst 0 -1 withscores",
        "ZREM z a nosuch b",
        "ZREM nokey a",
        "ZREMRANGEBYSCORE z -inf (3",
        "ZREMRANGEBYSCORE z x 1",
        "ZREMRANGEBYSCORE nokey 0 1",
        "ZREMRANGEBYRANK z 0 0",
        "ZREMRANGEBYRANK z 5 1",
        "ZREMRANGEBYRANK z x 1",
        "ZREMRANGEBYRANK nokey 0 1",
        "ZRANGE z 0 -1 withscores",
        "ZADD lex 0 a 0 b 0 c 0 d 0 e 0 f",
        "ZRANGEBYLEX lex - +",
        "ZRANGEBYLEX lex [b (e",
        "ZRANGEBYLEX lex (b [e limit 1 2",
        "ZRANGEBYLEX lex + -",
        "ZRANGEBYLEX lex - -",
        "ZRANGEBYLEX lex [a [a",
        "ZRANGEBYLEX lex (a (a",
        "ZRANGEBYLEX lex a b",
        "ZRANGEBYLEX lex [a [c withscores",
        "ZREVRANGEBYLEX lex + -",
        "ZREVRANGEBYLEX lex [e (b",
        "ZREVRANGEBYLEX lex + - limit 1 3",
        "ZLEXCOUNT lex - +",
        "ZLEXCOUNT lex [b [d",
        "ZLEXCOUNT lex x y",
        "ZLEXCOUNT nokey - +",
        "ZREMRANGEBYLEX lex [b (d",
        "ZREMRANGEBYLEX lex x y",
        "ZRANGE lex 0 -1",
        "ZREMRANGEBYLEX lex - +",
        "EXISTS lex",
        "SET str x",
        "ZADD str 1 a",
        "ZRANGE str 0 -1",
        "ZSCORE str a",
        "ZCARD str",
        "ZREM str a",
        "ZPOPMIN str",
        "ZUNION 1 str",
        "ZRANGESTORE dst str 0 -1",
        "ZINCRBY str 1 a",
        "ZSCAN str 0",
        "ZRANDMEMBER str",
        "ZMPOP 1 str min",
    ])
    .await;
}

#[tokio::test]
async fn differential_pops_and_set_operations() {
    support::diff_lines(&[
        "ZADD z 1 a 2 b 3 c 4 d 5 e",
        "ZPOPMIN z",
        "ZPOPMAX z",
        "ZPOPMIN z 2",
        "ZPOPMIN z 0",
        "ZPOPMIN z -1",
        "ZPOPMIN z x",
        "ZPOPMIN z 1 2",
        "ZPOPMAX z 10",
        "EXISTS z",
        "ZPOPMIN nokey",
        "ZPOPMAX nokey 3",
        "ZADD a 1 x 2 y 3 z",
        "ZADD b 10 y 20 z 30 w",
        "ZADD c 0.5 z",
        "ZMPOP 2 nokey a min",
        "ZMPOP 1 a max count 5",
        "ZMPOP 1 a min",
        "ZMPOP 0 a min",
        "ZMPOP x a min",
        "ZMPOP 1 a foo",
        "ZMPOP 1 a min count 0",
        "ZMPOP 1 a min count",
        "ZMPOP 1 a min count 1 count 1",
        "ZMPOP 5 a min",
        "ZADD a 1 x 2 y 3 z",
        "ZUNION 2 a b",
        "ZUNION 2 a b withscores",
        "ZUNION 2 a b weights 2 0.5 withscores",
        "ZUNION 2 a b aggregate max withscores",
        "ZUNION 2 a b aggregate min withscores",
        "ZUNION 2 a b aggregate avg",
        "ZUNION 2 a b weights 1",
        "ZUNION 2 a b weights 1 x",
        "ZUNION 3 a b nokey withscores",
        "ZUNION 0 a",
        "ZUNION 3 a b",
        "ZUNION x a",
        "ZUNION 1 a withscores withscores",
        "ZINTER 2 a b withscores",
        "ZINTER 3 a b c withscores",
        "ZINTER 3 a b c aggregate min withscores",
        "ZINTER 2 a nokey",
        "ZINTER 2 a b weights 0 -1 withscores",
        "ZDIFF 2 a b withscores",
        "ZDIFF 1 a",
        "ZDIFF 2 a b weights 1 1",
        "ZDIFF 2 a b aggregate sum",
        "ZINTERCARD 2 a b",
        "ZINTERCARD 2 a b limit 1",
        "ZINTERCARD 2 a b limit 0",
        "ZINTERCARD 2 a b limit -1",
        "ZINTERCARD 2 a b withscores",
        "ZINTERCARD 0 a",
        "ZINTERCARD 1 a limit x",
        "ZINTERCARD 1 a limit",
        "ZINTERCARD 3 a b",
        "ZUNIONSTORE d 1 a weights",
        "ZUNIONSTORE d 1 a weights 2 aggregate",
        "ZUNIONSTORE d x a",
        "ZUNIONSTORE d -1 a",
        "ZINTERSTORE d 1 a weights inf",
        "ZRANGE d 0 -1 withscores",
        "ZUNION 2 a b weights 1 nan",
        "ZUNION 2 a b weights 1 1e400",
        "ZMPOP 1 a MAX COUNT 2",
        "ZMPOP 2 a b min count 100",
        "EXISTS a",
        "ZUNIONSTORE d 2 a b",
        "ZRANGE d 0 -1 withscores",
        "ZUNIONSTORE d 2 a b weights 1 2 aggregate max",
        "ZRANGE d 0 -1 withscores",
        "ZUNIONSTORE d 0 a",
        "ZUNIONSTORE d 2 a b withscores",
        "ZINTERSTORE d 2 a b",
        "ZRANGE d 0 -1 withscores",
        "ZINTERSTORE d 2 a nokey",
        "EXISTS d",
        "ZDIFFSTORE d 2 a b",
        "ZRANGE d 0 -1 withscores",
        "ZDIFFSTORE d 2 a a",
        "EXISTS d",
        "ZUNIONSTORE a 2 a b",
        "ZRANGE a 0 -1 withscores",
        "ZADD inf1 inf x",
        "ZADD inf2 -inf x",
        "ZUNION 2 inf1 inf2 withscores",
        "ZUNION 2 inf1 inf2 weights 0 1 withscores",
        "ZINTER 2 inf1 inf2 aggregate max withscores",
        "SET s v",
        "ZUNION 2 a s",
        "ZUNIONSTORE d 2 a s",
        "ZSCAN a 0",
        "ZSCAN a x",
        "ZSCAN a +0",
        "ZSCAN a -0",
        "ZSCAN a 99999999999999999999999",
        "ZSCAN a ' 0'",
        "ZSCAN a 0x",
        "ZSCAN a 0 count 0",
        "ZSCAN a 0 count x",
        "ZSCAN a 0 match *z*",
        "ZSCAN a 0 bogus",
        "ZSCAN nokey 0 count 0",
        "ZRANDMEMBER nokey",
        "ZRANDMEMBER nokey 5",
        "ZRANDMEMBER a 0",
        "ZRANDMEMBER a x",
        "ZRANDMEMBER a -9223372036854775808",
        "ZRANDMEMBER a 5 withscores x",
        "ZRANDMEMBER a 9223372036854775807 withscores",
        "ZRANDMEMBER a 100 withscores",
    ])
    .await;
}

/// Sets large enough for the skiplist encoding, compared with the oracle.
#[tokio::test]
async fn differential_large_sets() {
    let mut cmds = Vec::new();
    let mut zadd = owned("ZADD big");
    for i in 0..400 {
        zadd.push(format!("{}", (i * 7919) % 1000).into_bytes());
        zadd.push(format!("m{i:04}").into_bytes());
    }
    cmds.push(zadd);
    let mut lex = owned("ZADD lex");
    for i in 0..300 {
        lex.push(b"0".to_vec());
        lex.push(format!("k{:05}", (i * 37) % 1000).into_bytes());
    }
    cmds.push(lex);
    for l in [
        "ZCARD big",
        "ZRANGE big 0 20 withscores",
        "ZRANGE big 100 130",
        "ZRANGE big -30 -1 withscores",
        "ZREVRANGE big 0 25 withscores",
        "ZRANGE big 500 1000 byscore limit 5 20 withscores",
        "ZRANGE big (800 300 byscore rev limit 3 7",
        "ZRANGEBYSCORE big 250 (260 withscores",
        "ZREVRANGEBYSCORE big 999 990",
        "ZCOUNT big 100 (200",
        "ZRANK big m0123",
        "ZREVRANK big m0123",
        "ZSCORE big m0399",
        "ZMSCORE big m0001 m9999 m0002",
        "ZRANGEBYLEX lex [k00100 (k00200",
        "ZREVRANGEBYLEX lex (k00500 - limit 2 10",
        "ZLEXCOUNT lex (k00100 +",
        "ZREM big m0000 m0001 m0002",
        "ZINCRBY big 5000 m0010",
        "ZADD big gt ch 1 m0011 2000 m0012",
        "ZRANGE big -3 -1 withscores",
        "ZREMRANGEBYRANK big 10 19",
        "ZREMRANGEBYSCORE big 300 (400",
        "ZREMRANGEBYLEX lex [k00300 [k00600",
        "ZCARD big",
        "ZCARD lex",
        "ZRANGE big 0 -1 withscores",
        "ZPOPMIN big 3",
        "ZPOPMAX big",
        "ZMPOP 1 big max count 4",
        "ZRANGESTORE dst big 10 200",
        "ZRANGE dst 0 -1 withscores",
        "ZUNIONSTORE u 2 big lex weights 1 3",
        "ZRANGE u 0 -1 withscores",
        "ZINTERSTORE i 2 big dst aggregate max",
        "ZRANGE i 0 -1 withscores",
        "ZDIFFSTORE df 2 big dst",
        "ZRANGE df 0 -1 withscores",
        "ZINTERCARD 2 big dst limit 50",
        "ZRANDMEMBER big 1000 withscores",
    ] {
        cmds.push(owned(l));
    }
    support::diff_args(&cmds).await;
}

/// Seeded random sequences over a small key space, mixing valid and invalid
/// arguments and wrong types, compared byte for byte with the oracle.
#[tokio::test]
async fn differential_random_sequences() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let server = start().await;
    let mut a = server.raw().await;
    let mut b = oracle.raw().await;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0x25e7);
    let keys = ["z1", "z2", "z3", "str"];
    let scores = [
        "0", "1", "-1", "2.5", "0.25", "-3", "100", "(1", "(2.5", "-inf", "+inf", "x", "",
    ];
    let lexes = ["-", "+", "[m1", "(m3", "[m7", "m2", "(", "["];
    a.call(&[b"SET", b"str", b"v"]).await;
    b.call(&[b"SET", b"str", b"v"]).await;
    let mut seen_skiplist = [false; 4];
    for step in 0..4000 {
        let k = keys[rng.gen_range(0..keys.len())];
        let k2 = keys[rng.gen_range(0..keys.len())];
        let m = format!(
            "m{}",
            rng.gen_range(0..(if step % 500 < 250 { 12 } else { 200 }))
        );
        let sc = scores[rng.gen_range(0..scores.len())];
        let sc2 = scores[rng.gen_range(0..scores.len())];
        let lx = lexes[rng.gen_range(0..lexes.len())];
        let lx2 = lexes[rng.gen_range(0..lexes.len())];
        let i1 = rng.gen_range(-5..8).to_string();
        let i2 = rng.gen_range(-5..8).to_string();
        // Phases alternate between small (listpack) and large (skiplist) sets.
        let big = step % 1000 >= 500;
        let line: Vec<String> = match rng.gen_range(0..32) {
            0..=4 => {
                let mut v = vec!["ZADD".to_string(), k.into()];
                for opt in ["NX", "XX", "GT", "LT", "CH"] {
                    if rng.gen_ratio(1, 8) {
                        v.push(opt.into());
                    }
                }
                let n = if rng.gen_ratio(1, 6) {
                    0
                } else if big {
                    rng.gen_range(1..60)
                } else {
                    rng.gen_range(1..6)
                };
                for _ in 0..n {
                    // An invalid score fails the whole ZADD: rare in big ones.
                    let kinds = if big && !rng.gen_ratio(1, 50) { 6 } else { 8 };
                    let s = ["1", "2", "3", "0.5", "-2", "7", "x", "inf"][rng.gen_range(0..kinds)];
                    v.push(s.into());
                    v.push(format!("m{}", rng.gen_range(0..if big { 400 } else { 40 })));
                }
                v
            }
            5 => vec!["ZINCRBY".into(), k.into(), sc.into(), m.clone()],
            6 => vec!["ZREM".into(), k.into(), m.clone(), "m1".into()],
            7 => vec!["ZSCORE".into(), k.into(), m.clone()],
            8 => vec!["ZRANK".into(), k.into(), m.clone()],
            9 => vec!["ZREVRANK".into(), k.into(), m.clone()],
            10 => vec!["ZCOUNT".into(), k.into(), sc.into(), sc2.into()],
            // Lex ranges only mean something when all scores are equal: "lx"
            // holds score-0 members only.
            11 => vec!["ZLEXCOUNT".into(), "lx".into(), lx.into(), lx2.into()],
            24 => {
                let mut v = vec!["ZADD".to_string(), "lx".into()];
                for _ in 0..rng.gen_range(1..(if big { 40 } else { 4 })) {
                    v.push("0".into());
                    v.push(format!("m{}", rng.gen_range(0..300)));
                }
                v
            }
            25 => vec![
                "ZREVRANGEBYLEX".into(),
                "lx".into(),
                lx.into(),
                lx2.into(),
                "LIMIT".into(),
                i1.clone(),
                i2.clone(),
            ],
            26 => vec!["ZREMRANGEBYLEX".into(), "lx".into(), lx.into(), lx2.into()],
            27 => vec![
                "ZRANGE".into(),
                "lx".into(),
                lx.into(),
                lx2.into(),
                "BYLEX".into(),
                "REV".into(),
            ],
            28 => vec![
                "ZMPOP".into(),
                "2".into(),
                k.into(),
                k2.into(),
                ["MIN", "MAX"][rng.gen_range(0..2)].into(),
                "COUNT".into(),
                rng.gen_range(1..4).to_string(),
            ],
            29 => vec![
                "ZINTERCARD".into(),
                "2".into(),
                k.into(),
                k2.into(),
                "LIMIT".into(),
                rng.gen_range(0..5).to_string(),
            ],
            30 => vec!["ZMSCORE".into(), k.into(), m.clone(), "m2".into()],
            31 => vec![
                "ZRANGE".into(),
                k.into(),
                sc.into(),
                sc2.into(),
                "BYSCORE".into(),
                "REV".into(),
                "LIMIT".into(),
                i1.clone(),
                i2.clone(),
                "WITHSCORES".into(),
            ],
            12 => vec![
                "ZRANGE".into(),
                k.into(),
                i1.clone(),
                i2.clone(),
                "WITHSCORES".into(),
            ],
            13 => vec![
                "ZRANGEBYSCORE".into(),
                k.into(),
                sc.into(),
                sc2.into(),
                "LIMIT".into(),
                i1.clone(),
                i2.clone(),
            ],
            14 => vec![
                "ZREVRANGEBYSCORE".into(),
                k.into(),
                sc.into(),
                sc2.into(),
                "WITHSCORES".into(),
            ],
            15 => vec!["ZRANGEBYLEX".into(), "lx".into(), lx.into(), lx2.into()],
            16 => vec!["ZREMRANGEBYRANK".into(), k.into(), i1.clone(), i2.clone()],
            17 => vec!["ZREMRANGEBYSCORE".into(), k.into(), sc.into(), sc2.into()],
            18 => vec!["ZPOPMIN".into(), k.into(), rng.gen_range(0..4).to_string()],
            19 => vec!["ZPOPMAX".into(), k.into()],
            20 => vec![
                "ZUNIONSTORE".into(),
                "dst".into(),
                "2".into(),
                k.into(),
                k2.into(),
                "AGGREGATE".into(),
                ["SUM", "MIN", "MAX"][rng.gen_range(0..3)].into(),
            ],
            21 => vec![
                "ZINTER".into(),
                "2".into(),
                k.into(),
                k2.into(),
                "WITHSCORES".into(),
            ],
            22 => vec![
                "ZDIFF".into(),
                "2".into(),
                k.into(),
                k2.into(),
                "WITHSCORES".into(),
            ],
            _ => vec![
                "ZRANGESTORE".into(),
                "dst".into(),
                k.into(),
                i1.clone(),
                i2.clone(),
            ],
        };
        let args: Vec<&[u8]> = line.iter().map(|s| s.as_bytes()).collect();
        let ours = a.call(&args).await;
        let theirs = b.call(&args).await;
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "step {step}: {line:?}"
        );
        {
            let db = server.handle.shared().keyspace.lock(0);
            for (i, k) in ["z1", "z2", "z3", "lx"].iter().enumerate() {
                if let Some(keyward::keyspace::ValueRef::Obj(o)) =
                    db.peek(k.as_bytes()).map(|e| e.value())
                {
                    if o.encoding() == "skiplist" {
                        seen_skiplist[i] = true;
                    }
                }
            }
        }
    }
    assert_eq!(
        seen_skiplist, [true; 4],
        "every key reaches the skiplist encoding at some point"
    );
    // Final state agrees too.
    for k in ["z1", "z2", "z3", "dst", "lx"] {
        let args: [&[u8]; 5] = [b"ZRANGE", k.as_bytes(), b"0", b"-1", b"WITHSCORES"];
        assert_eq!(a.call(&args).await, b.call(&args).await, "{k}");
    }
}

async fn hello3(r: &mut Raw) {
    let rep = r.call(&[b"HELLO", b"3"]).await;
    assert_eq!(rep[0], b'%');
}

/// RESP3 reply shapes, compared with the oracle where 7.0 and 7.2 agree.
#[tokio::test]
async fn resp3_shapes_match_oracle() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let server = start().await;
    let mut a = server.raw().await;
    let mut b = oracle.raw().await;
    hello3(&mut a).await;
    hello3(&mut b).await;
    for line in [
        "ZADD z 1 a 2.5 b 3 c",
        "ZADD z2 1 a",
        "ZSCORE z b",
        "ZSCORE z nosuch",
        "ZMSCORE z a nosuch",
        "ZINCRBY z 1 a",
        "ZADD z incr 1 a",
        "ZADD z xx incr 1 nosuch",
        "ZRANGE z 0 -1",
        "ZRANGE z 0 -1 WITHSCORES",
        "ZRANGEBYSCORE z -inf +inf WITHSCORES",
        "ZREVRANGE z 0 -1 WITHSCORES",
        "ZUNION 2 z z2 WITHSCORES",
        "ZINTER 2 z z2 WITHSCORES",
        "ZDIFF 2 z z2 WITHSCORES",
        "ZRANK z nosuch",
        "ZMSCORE nokey a",
        "ZADD neg -inf x +inf y",
        "ZSCORE neg x",
        "ZRANGE neg 0 -1 WITHSCORES",
        "ZRANGE z +inf -inf BYSCORE REV LIMIT 1 5 WITHSCORES",
        "ZRANGESTORE dst z 0 -1",
        "ZRANGE dst 0 -1 WITHSCORES",
        "ZADD z NX INCR 1 a",
        "ZRANDMEMBER z 5 WITHSCORES",
        "ZRANDMEMBER nokey",
        "ZRANDMEMBER nokey 2",
        "ZSCAN z 0",
        "ZPOPMIN z",
        "ZPOPMIN z 1",
        "ZPOPMAX z 0",
        "ZPOPMIN nokey",
        "ZPOPMIN nokey 2",
        "ZMPOP 1 z max",
        "ZMPOP 1 nokey max",
        "ZADD z 1 a",
        "ZMPOP 1 z min COUNT 3",
    ] {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let ours = a.call(&args).await;
        let theirs = b.call(&args).await;
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{line}"
        );
    }
}

/// 7.2 behaviour the 7.0 oracle lacks: ZRANK/ZREVRANK WITHSCORE, and
/// shortest round-trip score formatting.
#[tokio::test]
async fn redis_72_rank_withscore_and_double_format() {
    let s = start().await;
    let mut r = s.raw().await;
    r.call_str("ZADD z 1.1 a 2 b 3 c").await;
    assert_eq!(
        r.call_str("ZRANK z b WITHSCORE").await,
        b"*2\r\n:1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        r.call_str("ZREVRANK z a withscore").await,
        b"*2\r\n:2\r\n$3\r\n1.1\r\n"
    );
    assert_eq!(r.call_str("ZRANK z nosuch WITHSCORE").await, b"*-1\r\n");
    assert_eq!(r.call_str("ZRANK nokey a WITHSCORE").await, b"*-1\r\n");
    assert_eq!(r.call_str("ZRANK z a foo").await, b"-ERR syntax error\r\n");
    assert_eq!(
        r.call_str("ZRANK z a WITHSCORE x").await,
        b"-ERR wrong number of arguments for 'zrank' command\r\n"
    );
    assert_eq!(r.call_str("ZSCORE z a").await, b"$3\r\n1.1\r\n");
    hello3(&mut r).await;
    assert_eq!(
        r.call_str("ZRANK z a WITHSCORE").await,
        b"*2\r\n:0\r\n,1.1\r\n"
    );
    assert_eq!(r.call_str("ZRANK z nosuch WITHSCORE").await, b"_\r\n");
    assert_eq!(r.call_str("ZSCORE z a").await, b",1.1\r\n");
    assert_eq!(
        r.call_str("ZINCRBY z 1e300 a").await,
        b",1e+300\r\n",
        "exponent written the C way"
    );
    assert_eq!(r.call_str("ZADD z incr -inf a").await, b",-inf\r\n");
    assert_eq!(
        r.call_str("ZADD z incr +inf a").await,
        b"-ERR resulting score is not a number (NaN)\r\n"
    );
}

#[tokio::test]
async fn encodings_convert_like_redis() {
    let s = start().await;
    let mut r = s.raw().await;
    let enc = |key: &str| -> String {
        let db = s.handle.shared().keyspace.lock(0);
        match db.peek(key.as_bytes()).map(|e| e.value()) {
            Some(keyward::keyspace::ValueRef::Obj(o)) => o.encoding().to_string(),
            _ => "none".to_string(),
        }
    };
    let mut line = vec![b"ZADD".to_vec(), b"small".to_vec()];
    for i in 0..128 {
        line.push(i.to_string().into_bytes());
        line.push(format!("m{i}").into_bytes());
    }
    let args: Vec<&[u8]> = line.iter().map(Vec::as_slice).collect();
    assert_eq!(r.call(&args).await, b":128\r\n");
    assert_eq!(enc("small"), "listpack");
    r.call_str("ZADD small 1 one-more").await;
    assert_eq!(enc("small"), "skiplist");
    r.call_str("ZREMRANGEBYRANK small 0 -5").await;
    assert_eq!(enc("small"), "skiplist", "never converts back");
    let long = "x".repeat(65);
    r.call(&[b"ZADD", b"long", b"1", long.as_bytes()]).await;
    assert_eq!(enc("long"), "skiplist");
    r.call_str("ZADD short 1 a 2 b").await;
    assert_eq!(enc("short"), "listpack");
    // A store result is packed when it fits (zsetConvertToListpackIfNeeded).
    r.call_str("ZUNIONSTORE u 1 small").await;
    assert_eq!(enc("u"), "listpack");
    r.call_str("ZRANGESTORE rs small 0 1").await;
    assert_eq!(enc("rs"), "listpack");
}

#[tokio::test]
async fn zrandmember_properties() {
    let s = start().await;
    let mut c = s.client().await;
    for (key, n) in [("small", 20), ("big", 300)] {
        for i in 0..n {
            let _: i64 = redis::cmd("ZADD")
                .arg(key)
                .arg(i)
                .arg(format!("m{i}"))
                .query_async(&mut c)
                .await
                .unwrap();
        }
        let one: String = redis::cmd("ZRANDMEMBER")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!(one.starts_with('m'));
        let uniq: Vec<String> = redis::cmd("ZRANDMEMBER")
            .arg(key)
            .arg(10)
            .query_async(&mut c)
            .await
            .unwrap();
        let set: std::collections::HashSet<_> = uniq.iter().collect();
        assert_eq!(uniq.len(), 10);
        assert_eq!(set.len(), 10, "positive count gives distinct members");
        let rep: Vec<String> = redis::cmd("ZRANDMEMBER")
            .arg(key)
            .arg(-50)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(rep.len(), 50);
        let ws: Vec<(String, f64)> = redis::cmd("ZRANDMEMBER")
            .arg(key)
            .arg(-5)
            .arg("WITHSCORES")
            .query_async(&mut c)
            .await
            .unwrap();
        for (m, sc) in ws {
            assert_eq!(format!("m{sc}"), m, "score belongs to member");
        }
        let all: Vec<String> = redis::cmd("ZRANDMEMBER")
            .arg(key)
            .arg(n + 5)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(all.len(), n as usize);
    }
}

#[tokio::test]
async fn zscan_visits_every_member() {
    let s = start().await;
    let mut c = s.client().await;
    for i in 0..1000 {
        let _: i64 = redis::cmd("ZADD")
            .arg("z")
            .arg(i)
            .arg(format!("m{i}"))
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let mut seen = std::collections::HashMap::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<(String, String)>) = redis::cmd("ZSCAN")
            .arg("z")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query_async(&mut c)
            .await
            .unwrap();
        // Deleting during a scan must not hide members present throughout.
        if calls == 2 {
            let _: i64 = redis::cmd("ZREM")
                .arg("z")
                .arg("m0")
                .arg("m999")
                .query_async(&mut c)
                .await
                .unwrap();
        }
        for (m, sc) in items {
            seen.insert(m, sc);
        }
        calls += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(calls > 1);
    for i in 1..999 {
        assert_eq!(seen.get(&format!("m{i}")), Some(&i.to_string()));
    }
    let (_, items): (u64, Vec<String>) = redis::cmd("ZSCAN")
        .arg("z")
        .arg(0)
        .arg("MATCH")
        .arg("m5*")
        .arg("COUNT")
        .arg(10_000)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(items.len(), 2 * 111);
}

/// Incremental memory accounting equals a full recount after a random
/// workload crossing both encodings.
#[tokio::test]
async fn memory_accounting_is_exact() {
    let s = start().await;
    let mut r = s.raw().await;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(99);
    for _ in 0..4000 {
        let k = format!("k{}", rng.gen_range(0..4));
        let m = format!("member{}", rng.gen_range(0..300));
        let sc = rng.gen_range(-50..50).to_string();
        let line = match rng.gen_range(0..10) {
            0..=4 => format!("ZADD {k} {sc} {m}"),
            5 => format!("ZREM {k} {m}"),
            6 => format!("ZINCRBY {k} {sc} {m}"),
            7 => format!("ZREMRANGEBYRANK {k} 0 {}", rng.gen_range(0..5)),
            8 => format!("ZPOPMAX {k} 3"),
            _ => format!("ZUNIONSTORE k{} 2 {k} k1", rng.gen_range(0..4)),
        };
        r.call_str(&line).await;
    }
    r.call_str("ZRANGE k0 0 -1").await;
    let db = s.handle.shared().keyspace.lock(0);
    assert!(db.entry_memory() > 0);
    assert_eq!(db.entry_memory(), db.recount_memory());
}

/// BullMQ's delayed-job pattern: ~7e15 scores, ZRANGEBYSCORE with LIMIT,
/// ZRANK on a large set.
#[tokio::test]
async fn bullmq_style_large_scores() {
    let s = start().await;
    let mut r = s.raw().await;
    let base = 7_000_000_000_000_000i64;
    for i in 0..2000i64 {
        let sc = (base + i * 4096).to_string();
        r.call(&[
            b"ZADD",
            b"delayed",
            sc.as_bytes(),
            format!("job{i}").as_bytes(),
        ])
        .await;
    }
    let max = (base + 10 * 4096).to_string();
    let got = r
        .call(&[
            b"ZRANGEBYSCORE",
            b"delayed",
            b"0",
            max.as_bytes(),
            b"LIMIT",
            b"0",
            b"3",
            b"WITHSCORES",
        ])
        .await;
    assert_eq!(
        got,
        b"*6\r\n$4\r\njob0\r\n$16\r\n7000000000000000\r\n$4\r\njob1\r\n$16\r\n7000000000004096\r\n$4\r\njob2\r\n$16\r\n7000000000008192\r\n"
    );
    assert_eq!(r.call_str("ZRANK delayed job1500").await, b":1500\r\n");
    assert_eq!(r.call_str("ZCARD delayed").await, b":2000\r\n");
}

/// OBJECT ENCODING on the oracle against our encoding after the same
/// commands: conversions happen at the same moments as in Redis.
#[tokio::test]
async fn encodings_match_oracle() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let s = start().await;
    let mut a = s.raw().await;
    let mut b = oracle.raw().await;
    let ours = |key: &str| -> String {
        let db = s.handle.shared().keyspace.lock(0);
        match db.peek(key.as_bytes()).map(|e| e.value()) {
            Some(keyward::keyspace::ValueRef::Obj(o)) => o.encoding().to_string(),
            _ => "none".to_string(),
        }
    };
    let mut dup = owned("ZADD dup");
    for _ in 0..200 {
        dup.push(b"1".to_vec());
        dup.push(b"same".to_vec());
    }
    let mut big = owned("ZADD big");
    for i in 0..200 {
        big.push(i.to_string().into_bytes());
        big.push(format!("m{i}").into_bytes());
    }
    let mut edge = owned("ZADD edge");
    for i in 0..128 {
        edge.push(i.to_string().into_bytes());
        edge.push(format!("m{i}").into_bytes());
    }
    let long = format!("ZADD long 1 {}", "x".repeat(65));
    let steps: Vec<(Vec<Vec<u8>>, &str)> = vec![
        (dup, "dup"),
        (big, "big"),
        (edge, "edge"),
        (owned("ZADD edge 1 one-more"), "edge"),
        (owned(&long), "long"),
        (owned("ZADD long 2 short"), "long"),
        (owned("ZUNIONSTORE u 1 big"), "u"),
        (owned("ZINTERSTORE i 2 big edge"), "i"),
        (owned("ZDIFFSTORE d 2 big edge"), "d"),
        (owned("ZRANGESTORE r big 0 9"), "r"),
        (owned("ZRANGESTORE r2 big 0 150"), "r2"),
        (owned("ZUNIONSTORE l 1 long"), "l"),
        (owned("ZREMRANGEBYRANK big 0 -3"), "big"),
    ];
    for (cmd, key) in steps {
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        assert_eq!(a.call(&args).await, b.call(&args).await);
        let theirs = b.call(&[b"OBJECT", b"ENCODING", key.as_bytes()]).await;
        let theirs = String::from_utf8_lossy(&theirs);
        let theirs = theirs
            .trim_start_matches('$')
            .split("\r\n")
            .nth(1)
            .unwrap_or("none");
        assert_eq!(
            ours(key),
            theirs,
            "after {:?}",
            String::from_utf8_lossy(&cmd.join(&b' '))
        );
    }
}

/// The hook the blocking pops (BZPOPMIN/BZPOPMAX/BZMPOP) call.
#[tokio::test]
async fn pop_for_client_contract() {
    use keyward::commands::sorted_set::pop_for_client;
    let s = start().await;
    let mut r = s.raw().await;
    r.call_str("ZADD z 3 c 1 a 2 b").await;
    r.call_str("SET str v").await;
    let mut db = s.handle.shared().keyspace.lock(0);
    assert_eq!(pop_for_client(&mut db, b"missing", 0, false, 1), Ok(None));
    assert!(pop_for_client(&mut db, b"str", 0, false, 1).is_err());
    assert_eq!(
        pop_for_client(&mut db, b"z", 0, true, 1),
        Ok(Some(vec![(b"c".to_vec(), 3.0)]))
    );
    assert_eq!(
        pop_for_client(&mut db, b"z", 0, false, 5),
        Ok(Some(vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.0)]))
    );
    assert!(db.peek(b"z").is_none(), "emptied key is deleted");
    assert_eq!(db.entry_memory(), db.recount_memory());
}

/// ZUNION/ZINTER/ZDIFF (and STORE, ZINTERCARD) take plain sets as
/// sorted sets whose scores are all 1.
#[tokio::test]
async fn differential_set_inputs_to_zset_algebra() {
    support::diff_lines(&[
        "SADD s a b c 1 2",
        "ZADD z 1 a 5 d 2.5 1",
        "ZUNION 2 s z WITHSCORES",
        "ZINTER 2 s z WITHSCORES",
        "ZINTER 2 s z WEIGHTS 2 3 AGGREGATE MAX WITHSCORES",
        "ZDIFF 2 s z WITHSCORES",
        "ZDIFF 2 z s",
        "ZINTERCARD 2 s z",
        "ZUNIONSTORE out 2 s z",
        "ZRANGE out 0 -1 WITHSCORES",
        "ZINTERSTORE out2 2 z s",
        "ZRANGE out2 0 -1 WITHSCORES",
        "SET str x",
        "ZUNION 2 s str",
    ])
    .await;
}

/// ZADD/GEOADD/SADD/ZREM that change nothing are no writes in Redis 7.2:
/// a WATCH on the key survives them (EXEC runs); a real change breaks it.
#[tokio::test]
async fn noop_writes_keep_watch_72() {
    let mut steps = Vec::new();
    for (setup, noop, change) in [
        ("ZADD z 1 m", "ZADD z 1 m", "ZADD z 2 m"),
        ("ZADD z 1 m", "ZREM z nosuch", "ZREM z m"),
        (
            "GEOADD g 13.36 38.11 m",
            "GEOADD g 13.36 38.11 m",
            "GEOADD g 13.37 38.11 m",
        ),
        ("SADD s a", "SADD s a", "SADD s b"),
    ] {
        steps.extend([
            "0 FLUSHALL".to_string(),
            format!("0 {setup}"),
            "1 WATCH z g s".into(),
            format!("0 {noop}"),
            "1 MULTI".into(),
            "1 PING".into(),
            "1 EXEC".into(),
            "1 WATCH z g s".into(),
            format!("0 {change}"),
            "1 MULTI".into(),
            "1 PING".into(),
            "1 EXEC".into(),
        ]);
    }
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    crate::support::scenario(crate::support::Oracle::valkey().await, &steps).await;
}
