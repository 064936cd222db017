//! Tests: list group (LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX
//! LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP) and the pop/move
//! primitives the blocking layer uses.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::{diff_args, diff_lines, start};
use keyward::commands::list::{move_for_client, pop_for_client};
use keyward::keyspace::value::Thresholds;

#[tokio::test]
async fn push_pop_range_with_redis_crate() {
    let s = start().await;
    let mut c = s.client().await;
    let n: i64 = redis::cmd("RPUSH")
        .arg("q")
        .arg(&["a", "b", "c"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let n: i64 = redis::cmd("LPUSH")
        .arg("q")
        .arg(&["x", "y"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 5);
    let all: Vec<String> = redis::cmd("LRANGE")
        .arg("q")
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(all, ["y", "x", "a", "b", "c"]);
    let v: String = redis::cmd("RPOP")
        .arg("q")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "c");
    let v: Vec<String> = redis::cmd("LPOP")
        .arg("q")
        .arg(2)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, ["y", "x"]);
    let n: i64 = redis::cmd("LLEN")
        .arg("q")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let v: Option<String> = redis::cmd("LINDEX")
        .arg("q")
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("b"));
    let n: i64 = redis::cmd("LPUSHX")
        .arg("nope")
        .arg("v")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("RPUSHX")
        .arg("q")
        .arg("z")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    // Popping the last elements deletes the key.
    let _: Vec<String> = redis::cmd("RPOP")
        .arg("q")
        .arg(10)
        .query_async(&mut c)
        .await
        .unwrap();
    let e: i64 = redis::cmd("EXISTS")
        .arg("q")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(e, 0);
}

/// The benchmark's queue pattern: many LPUSH then RPOP in FIFO order.
#[tokio::test]
async fn queue_fifo_order_across_many_nodes() {
    let s = start().await;
    let mut raw = s.raw().await;
    let job = |i: usize| format!("job:{i:06}:{}", "p".repeat(60));
    for i in 0..3000 {
        let j = job(i);
        let r = raw.call(&[b"LPUSH", b"queue:1", j.as_bytes()]).await;
        assert_eq!(r, format!(":{}\r\n", i + 1).into_bytes());
    }
    for i in 0..3000 {
        let j = job(i);
        let r = raw.call(&[b"RPOP", b"queue:1"]).await;
        assert_eq!(r, format!("${}\r\n{j}\r\n", j.len()).into_bytes());
    }
    assert_eq!(raw.call(&[b"RPOP", b"queue:1"]).await, b"$-1\r\n");
}

#[tokio::test]
async fn resp3_reply_shapes() {
    let s = start().await;
    let mut raw = s.raw().await;
    raw.call(&[b"HELLO", b"3"]).await;
    raw.call(&[b"RPUSH", b"l", b"a", b"b", b"c"]).await;
    assert_eq!(raw.call(&[b"LPOP", b"nx", b"1"]).await, b"_\r\n");
    assert_eq!(raw.call(&[b"LPOP", b"nx"]).await, b"_\r\n");
    assert_eq!(raw.call(&[b"LMPOP", b"1", b"nx", b"LEFT"]).await, b"_\r\n");
    assert_eq!(raw.call(&[b"LPOP", b"l", b"0"]).await, b"*0\r\n");
    assert_eq!(
        raw.call(&[b"LMPOP", b"2", b"nx", b"l", b"RIGHT", b"COUNT", b"2"])
            .await,
        b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_eq!(raw.call(&[b"LPOS", b"l", b"zz"]).await, b"_\r\n");
    assert_eq!(raw.call(&[b"LINDEX", b"l", b"5"]).await, b"_\r\n");
    assert_eq!(raw.call(&[b"RPOPLPUSH", b"nx", b"l"]).await, b"_\r\n");
    assert_eq!(
        raw.call(&[b"LMOVE", b"l", b"l2", b"LEFT", b"RIGHT"]).await,
        b"$1\r\na\r\n"
    );
    // Redis 7.2 range-checks RANK (7.0 let LLONG_MIN through).
    assert_eq!(
        raw.call(&[b"LPOS", b"l", b"a", b"RANK", b"-9223372036854775808"])
            .await,
        &b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"[..]
    );
    // RESP2 on the same server for contrast.
    let mut r2 = s.raw().await;
    assert_eq!(r2.call(&[b"LPOP", b"nx", b"1"]).await, b"*-1\r\n");
    assert_eq!(r2.call(&[b"LPOP", b"nx"]).await, b"$-1\r\n");
}

#[tokio::test]
async fn diff_errors_and_edges() {
    diff_lines(&[
        "RPUSH l a b c a b c a",
        "SET s v",
        "LPOP l 0",
        "LPOP nx 0",
        "LPOP l -1",
        "LPOP nx -1",
        "LPOP l x",
        "LPOP l 1 2",
        "RPOP l 1 2",
        "LPOP s",
        "LPOP s 0",
        "RPOP s -1",
        "LPUSH s a",
        "RPUSHX s a",
        "LPUSHX nx a",
        "LPUSH",
        "LPUSH k",
        "LLEN s",
        "LLEN nx",
        "LRANGE l a 1",
        "LRANGE s 0 1",
        "LRANGE nx 0 -1",
        "LINDEX nx x",
        "LINDEX l x",
        "LINDEX s 0",
        "LINDEX l -100",
        "LSET nx 0 a",
        "LSET nx x a",
        "LSET l x a",
        "LSET l 100 a",
        "LSET l -100 a",
        "LSET s 0 a",
        "LSET l -1 last",
        "LINSERT l middle a x",
        "LINSERT nx before a x",
        "LINSERT l before zz x",
        "LINSERT s before a x",
        "LINSERT l BEFORE a x0",
        "LINSERT l AFTER c x1",
        "LREM l x a",
        "LREM nx 0 a",
        "LREM s 0 a",
        "LTRIM l x 1",
        "LTRIM nx 0 1",
        "LTRIM s 0 1",
        "LPOS l a RANK 0",
        "LPOS l a RANK x",
        "LPOS l a COUNT -1",
        "LPOS l a COUNT x",
        "LPOS l a MAXLEN -1",
        "LPOS l a MAXLEN x",
        "LPOS l a foo",
        "LPOS l a RANK",
        "LPOS nx a",
        "LPOS nx a COUNT 1",
        "LPOS nx a RANK 0",
        "LPOS s a",
        "LPOS l a",
        "LPOS l a RANK -1",
        "LPOS l a RANK 2 COUNT 0",
        "LPOS l a RANK -2 COUNT 2",
        "LPOS l a COUNT 0 MAXLEN 3",
        "LPOS l a RANK -1 MAXLEN 2",
        "LPOS l zz COUNT 0",
        "LMPOP 0 l left",
        "LMPOP -1 l left",
        "LMPOP x l left",
        "LMPOP 1 l middle",
        "LMPOP 1 l left COUNT 0",
        "LMPOP 1 l left COUNT -1",
        "LMPOP 1 l left COUNT x",
        "LMPOP 1 l left COUNT 1 COUNT 1",
        "LMPOP 2 l left",
        "LMPOP 1 l left foo",
        "LMPOP 9223372036854775807 l left",
        "LMPOP 1 nx left",
        "LMPOP 2 s l left",
        "LMPOP 2 nx s left",
        "LMPOP 2 nx l RIGHT COUNT 2",
        "LMOVE l l2 up left",
        "LMOVE l l2 left up",
        "LMOVE s l left left",
        "LMOVE l s left left",
        "LMOVE nx s left left",
        "LMOVE l l2 LEFT RIGHT",
        "LMOVE l l RIGHT LEFT",
        "RPOPLPUSH s l",
        "RPOPLPUSH l s",
        "RPOPLPUSH nx l",
        "RPOPLPUSH l l2",
        "LRANGE l 0 -1",
        "LRANGE l2 0 -1",
        "RPUSH one x",
        "LMOVE one one LEFT RIGHT",
        "LRANGE one 0 -1",
        "RPOPLPUSH one one",
        "LRANGE one 0 -1",
        "LMOVE one other RIGHT LEFT",
        "EXISTS one",
        "LRANGE other 0 -1",
        "LREM l 0 a",
        "LRANGE l 0 -1",
        "LTRIM l 5 1",
        "EXISTS l",
    ])
    .await;
}

/// Big lists (quicklist with many nodes): negative and out-of-range
/// indexes, LINSERT in the middle, LREM from the tail, LPOS RANK -1.
#[tokio::test]
async fn diff_big_list_sanity() {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let c = |parts: &[&str]| parts.iter().map(|p| p.as_bytes().to_vec()).collect();
    for i in 0..600 {
        let v = format!("v{}-{}", i % 7, "z".repeat(i % 90));
        cmds.push(c(&["RPUSH", "big", &v]));
    }
    for (s, e) in [
        ("0", "-1"),
        ("-5", "-1"),
        ("-1000", "3"),
        ("595", "1000"),
        ("600", "700"),
        ("-1", "-2"),
        ("300", "310"),
        ("10", "5"),
        ("-601", "-600"),
    ] {
        cmds.push(c(&["LRANGE", "big", s, e]));
    }
    for i in ["0", "-1", "299", "-300", "600", "-601"] {
        cmds.push(c(&["LINDEX", "big", i]));
    }
    for i in 0..40 {
        let pivot = format!("v{}-{}", i % 7, "z".repeat((i * 13) % 90));
        let side = if i % 2 == 0 { "BEFORE" } else { "AFTER" };
        cmds.push(c(&["LINSERT", "big", side, &pivot, &format!("ins{i}")]));
    }
    cmds.push(c(&["LPOS", "big", "v3-zzz", "RANK", "-1"]));
    cmds.push(c(&["LPOS", "big", "ins5", "RANK", "-1"]));
    cmds.push(c(&["LPOS", "big", "v3-zzz", "RANK", "-1", "COUNT", "0"]));
    cmds.push(c(&["LPOS", "big", "v3-zzz", "RANK", "1", "COUNT", "0"]));
    for v in ["ins3", "ins4", "v0-", "v1-z"] {
        cmds.push(c(&["RPUSH", "big", v, v]));
        cmds.push(c(&["LPUSH", "big", v]));
    }
    cmds.push(c(&["LREM", "big", "-2", "ins3"]));
    cmds.push(c(&["LREM", "big", "-1", "v0-"]));
    cmds.push(c(&["LREM", "big", "2", "v1-z"]));
    cmds.push(c(&["LREM", "big", "0", "ins4"]));
    cmds.push(c(&["LSET", "big", "-3", "changed"]));
    cmds.push(c(&["LSET", "big", "250", &"L".repeat(5000)]));
    cmds.push(c(&["LRANGE", "big", "0", "-1"]));
    cmds.push(c(&["LTRIM", "big", "100", "-100"]));
    cmds.push(c(&["LRANGE", "big", "0", "-1"]));
    cmds.push(c(&["LMPOP", "1", "big", "RIGHT", "COUNT", "50"]));
    cmds.push(c(&["RPOP", "big", "50"]));
    cmds.push(c(&["LPOP", "big", "1000"]));
    cmds.push(c(&["EXISTS", "big"]));
    diff_args(&cmds).await;
}

fn random_cmd(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let keys = ["a", "b", "c", "str"];
    let key = keys[rng.gen_range(0..keys.len())].to_string();
    let key2 = keys[rng.gen_range(0..keys.len())].to_string();
    let elem = |rng: &mut StdRng| -> String {
        match rng.gen_range(0..10) {
            0 => "x".repeat(rng.gen_range(60..400)),
            1 => rng.gen_range(-5..300).to_string(),
            _ => format!("e{}", rng.gen_range(0..6)),
        }
    };
    let idx = |rng: &mut StdRng| -> String {
        match rng.gen_range(0..12) {
            0 => "x".into(),
            1 => "-9999".into(),
            _ => rng.gen_range(-30..30).to_string(),
        }
    };
    let side = |rng: &mut StdRng| ["LEFT", "RIGHT", "left", "up"][rng.gen_range(0..4)].to_string();
    let mut v: Vec<String> = match rng.gen_range(0..20) {
        0..=2 => {
            let mut v = vec![
                ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"][rng.gen_range(0..4)].into(),
                key,
            ];
            for _ in 0..rng.gen_range(1..8) {
                v.push(elem(rng));
            }
            v
        }
        3 => vec!["LPOP".into(), key],
        4 => vec!["RPOP".into(), key, rng.gen_range(-1..5).to_string()],
        5 => vec!["LLEN".into(), key],
        6 => vec!["LRANGE".into(), key, idx(rng), idx(rng)],
        7 => vec!["LINDEX".into(), key, idx(rng)],
        8 => vec!["LSET".into(), key, idx(rng), elem(rng)],
        9 => vec![
            "LINSERT".into(),
            key,
            ["BEFORE", "AFTER", "after", "x"][rng.gen_range(0..4)].into(),
            elem(rng),
            elem(rng),
        ],
        10 => vec![
            "LREM".into(),
            key,
            rng.gen_range(-3..4).to_string(),
            elem(rng),
        ],
        11 => vec!["LTRIM".into(), key, idx(rng), idx(rng)],
        12 => {
            let mut v = vec!["LPOS".into(), key, elem(rng)];
            for _ in 0..rng.gen_range(0..3) {
                let opt = ["RANK", "COUNT", "MAXLEN"][rng.gen_range(0..3)];
                v.push(opt.into());
                v.push(rng.gen_range(-3..4).to_string());
            }
            v
        }
        13 => vec!["LMOVE".into(), key, key2, side(rng), side(rng)],
        14 => vec!["RPOPLPUSH".into(), key, key2],
        15 => {
            let n = rng.gen_range(0..4);
            let mut v = vec!["LMPOP".into(), n.to_string()];
            for _ in 0..n {
                v.push(keys[rng.gen_range(0..keys.len())].into());
            }
            v.push(side(rng));
            if rng.gen_bool(0.5) {
                v.push("COUNT".into());
                v.push(rng.gen_range(-1..6).to_string());
            }
            v
        }
        16 => vec!["LPOP".into(), key, rng.gen_range(-1..4).to_string()],
        17 => vec!["LRANGE".into(), key, "0".into(), "-1".into()],
        _ => vec!["RPUSH".into(), key, elem(rng), elem(rng), elem(rng)],
    };
    if v[1] == "str" && rng.gen_bool(0.1) {
        v = vec!["SET".into(), "str".into(), "s".into()];
    }
    v.into_iter().map(String::into_bytes).collect()
}

/// Seeded random sequences mixing valid, invalid and WRONGTYPE commands,
/// byte-compared with redis-server.
#[tokio::test]
async fn diff_random_sequences() {
    for seed in 0..3u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut cmds = vec![vec![b"SET".to_vec(), b"str".to_vec(), b"v".to_vec()]];
        for _ in 0..700 {
            cmds.push(random_cmd(&mut rng));
        }
        for k in ["a", "b", "c"] {
            cmds.push(vec![
                b"LRANGE".to_vec(),
                k.into(),
                b"0".to_vec(),
                b"-1".to_vec(),
            ]);
        }
        diff_args(&cmds).await;
    }
}

#[tokio::test]
async fn memory_accounting_matches_recount() {
    let s = start().await;
    let mut raw = s.raw().await;
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..4000 {
        let cmd = random_cmd(&mut rng);
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        raw.call(&args).await;
    }
    for i in 0..500 {
        let v = format!("{i}{}", "q".repeat(i % 200));
        raw.call(&[b"RPUSH", b"long", v.as_bytes()]).await;
    }
    raw.call(&[b"LTRIM", b"long", b"10", b"-10"]).await;
    raw.call(&[b"LREM", b"long", b"-3", b"5"]).await;
    let shared = s.handle.shared();
    let db = shared.keyspace.lock(0);
    assert!(db.entry_memory() > 0);
    assert_eq!(db.entry_memory(), db.recount_memory());
}

#[tokio::test]
async fn blocking_primitives() {
    let s = start().await;
    let mut raw = s.raw().await;
    raw.call(&[b"RPUSH", b"src", b"1", b"2", b"3"]).await;
    raw.call(&[b"SET", b"str", b"v"]).await;
    let shared = s.handle.shared();
    let t = Thresholds::default();
    {
        let mut db = shared.keyspace.lock(0);
        let got = pop_for_client(&mut db, b"src", 0, true, None).unwrap();
        assert_eq!(got, Some(vec![b"1".to_vec()]));
        assert!(pop_for_client(&mut db, b"str", 0, true, None).is_err());
        assert_eq!(
            pop_for_client(&mut db, b"none", 0, true, Some(2)).unwrap(),
            None
        );
        // WRONGTYPE on the destination leaves the source untouched.
        let e = move_for_client(&mut db, b"src", b"str", 0, false, true, &t).unwrap_err();
        assert!(e.text().starts_with("WRONGTYPE"));
        let v = move_for_client(&mut db, b"src", b"dst", 0, false, true, &t).unwrap();
        assert_eq!(v, Some(b"3".to_vec()));
        assert_eq!(
            move_for_client(&mut db, b"none", b"dst", 0, true, true, &t).unwrap(),
            None
        );
    }
    assert_eq!(
        raw.call(&[b"LRANGE", b"src", b"0", b"-1"]).await,
        b"*1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        raw.call(&[b"LRANGE", b"dst", b"0", b"-1"]).await,
        b"*1\r\n$1\r\n3\r\n"
    );
    {
        let mut db = shared.keyspace.lock(0);
        let got = pop_for_client(&mut db, b"src", 0, false, Some(5)).unwrap();
        assert_eq!(got, Some(vec![b"2".to_vec()]));
    }
    assert_eq!(raw.call(&[b"EXISTS", b"src"]).await, b":0\r\n");
}
