//! Tests: hash group (HSET HSETNX HGET HMGET HMSET HDEL HEXISTS HLEN HKEYS
//! HVALS HGETALL HINCRBY HINCRBYFLOAT HSTRLEN HSCAN HRANDFIELD).

use std::collections::{HashMap, HashSet};

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::support::{self, start};

#[tokio::test]
async fn basic_commands_with_redis_crate() {
    let s = start().await;
    let mut c = s.client().await;
    let n: i64 = redis::cmd("HSET")
        .arg("session:1")
        .arg(&["user", "u1", "role", "member", "ts", "1700000000"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let all: Vec<String> = redis::cmd("HGETALL")
        .arg("session:1")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        all,
        ["user", "u1", "role", "member", "ts", "1700000000"].map(String::from)
    );
    let v: Option<String> = redis::cmd("HGET")
        .arg("session:1")
        .arg("role")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("member"));
    let n: i64 = redis::cmd("HINCRBY")
        .arg("session:1")
        .arg("ts")
        .arg(5)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1700000005);
    let len: i64 = redis::cmd("HLEN")
        .arg("session:1")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 3);
    let n: i64 = redis::cmd("HDEL")
        .arg("session:1")
        .arg(&["user", "role", "ts", "nope"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let ex: i64 = redis::cmd("EXISTS")
        .arg("session:1")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(ex, 0, "an emptied hash is deleted");
}

fn line(s: &str) -> Vec<Vec<u8>> {
    s.split(' ').map(|a| a.as_bytes().to_vec()).collect()
}

#[tokio::test]
async fn differential_fixed_sequences() {
    let long = "x".repeat(70);
    let mut cmds: Vec<Vec<Vec<u8>>> = [
        "HSET h a 1 b 2 c 3",
        "HSET h a 10 d 4",
        "HSET h a",
        "HSET h",
        "HMSET h e 5 f 6",
        "HMSET h e",
        "HSETNX h a 99",
        "HSETNX h z 26",
        "HGET h a",
        "HGET h missing",
        "HGET nokey a",
        "HMGET h a missing b",
        "HMGET nokey a b",
        "HGETALL h",
        "HKEYS h",
        "HVALS h",
        "HGETALL nokey",
        "HKEYS nokey",
        "HVALS nokey",
        "HLEN h",
        "HLEN nokey",
        "HEXISTS h a",
        "HEXISTS h q",
        "HEXISTS nokey a",
        "HSTRLEN h a",
        "HSTRLEN h q",
        "HSTRLEN nokey q",
        "HDEL h a q",
        "HDEL nokey a",
        "HGETALL h",
        "HINCRBY h n 5",
        "HINCRBY h n -7",
        "HINCRBY h n abc",
        "HINCRBY h z 9223372036854775807",
        "HSET h big 9223372036854775807",
        "HINCRBY h big 1",
        "HSET h str hello",
        "HINCRBY h str 1",
        "HINCRBYFLOAT h str 1",
        "HINCRBYFLOAT h fl 10.5",
        "HINCRBYFLOAT h fl 0.25",
        "HINCRBYFLOAT h fl -3",
        "HINCRBYFLOAT h fl 5.0e3",
        "HINCRBYFLOAT h fl abc",
        "HINCRBYFLOAT h fl inf",
        "HINCRBYFLOAT h n 1.5",
        "HINCRBYFLOAT h fl2 1e20",
        "HINCRBYFLOAT h fl3 1e-20",
        "HSCAN h 0",
        "HSCAN h 0 MATCH f*",
        "HSCAN h 0 COUNT 2",
        "HSCAN h 0 COUNT 0",
        "HSCAN h abc",
        "HSCAN h 0 BOGUS",
        "HSCAN nokey 0",
        "HRANDFIELD nokey",
        "HRANDFIELD nokey 3",
        "HRANDFIELD h 0",
        // A count >= the size returns the whole hash in encoding order: deterministic.
        "HRANDFIELD h 100",
        "HRANDFIELD h 100 WITHVALUES",
        "HRANDFIELD h 1 WITHVALUES x",
        "HRANDFIELD h abc",
        "HRANDFIELD h -9223372036854775808",
        "HRANDFIELD h -9223372036854775807 WITHVALUES",
        "SET s v",
        "HSET s a 1",
        "HGET s a",
        "HGETALL s",
        "HDEL s a",
        "HLEN s",
        "HINCRBY s a 1",
        "HSCAN s 0",
        "HRANDFIELD s",
        "HSETNX s a 1",
    ]
    .iter()
    .map(|l| line(l))
    .collect();
    cmds.push(line("HSET h long"));
    cmds.last_mut().unwrap().push(long.into_bytes());
    cmds.push(line("HGET h long"));
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn differential_random_small_hashes() {
    // Hashes stay listpack-encoded (few fields) so HGETALL/HKEYS/HVALS
    // order is insertion order on both servers and compares byte for byte.
    let mut rng = StdRng::seed_from_u64(0x4a54);
    let keys = ["h1", "h2", "str"];
    let fields = ["a", "b", "c", "d", "e", "num"];
    let mut cmds = vec![line("SET str x")];
    for _ in 0..400 {
        let k = keys[rng.gen_range(0..keys.len())];
        let f = fields[rng.gen_range(0..fields.len())];
        let v = match rng.gen_range(0..4) {
            0 => rng.gen_range(-5..50).to_string(),
            1 => "1.5".to_string(),
            2 => "abc".to_string(),
            _ => "".to_string(),
        };
        let c = match rng.gen_range(0..14) {
            0 => format!("HSET {k} {f} {v}"),
            1 => format!("HSET {k} {f} {v} a 1"),
            2 => format!("HSETNX {k} {f} {v}"),
            3 => format!("HGET {k} {f}"),
            4 => format!("HMGET {k} {f} a zz"),
            5 => format!("HDEL {k} {f} b"),
            6 => format!("HEXISTS {k} {f}"),
            7 => format!("HLEN {k}"),
            8 => format!("HGETALL {k}"),
            9 => format!("HINCRBY {k} {f} {}", rng.gen_range(-3..4)),
            10 => format!("HINCRBYFLOAT {k} {f} 0.5"),
            11 => format!("HSTRLEN {k} {f}"),
            12 => format!("HKEYS {k}"),
            _ => format!("HVALS {k}"),
        };
        cmds.push(c.split(' ').map(|a| a.as_bytes().to_vec()).collect());
    }
    support::diff_args(&cmds).await;
}

#[tokio::test]
async fn resp3_shapes() {
    let s = start().await;
    let mut r = s.raw().await;
    r.call(&[b"HELLO", b"3"]).await;
    r.call(&[b"HSET", b"h", b"a", b"1", b"b", b"2"]).await;
    assert_eq!(
        r.call(&[b"HGETALL", b"h"]).await,
        b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(r.call(&[b"HGETALL", b"none"]).await, b"%0\r\n");
    assert_eq!(r.call(&[b"HGET", b"h", b"zz"]).await, b"_\r\n");
    assert_eq!(
        r.call(&[b"HRANDFIELD", b"h", b"-3", b"WITHVALUES"])
            .await
            .len(),
        b"*3\r\n".len() + 3 * b"*2\r\n$1\r\na\r\n$1\r\n1\r\n".len()
    );
    let one = r.call(&[b"HRANDFIELD", b"h", b"1", b"WITHVALUES"]).await;
    assert!(one.starts_with(b"*1\r\n*2\r\n$1\r\n"));
    let mut r2 = s.raw().await;
    let flat = r2.call(&[b"HRANDFIELD", b"h", b"2", b"WITHVALUES"]).await;
    assert!(flat.starts_with(b"*4\r\n$1\r\n"), "RESP2 is a flat array");
}

/// OBJECT ENCODING belongs to the generic group; read the encoding directly.
fn encoding(s: &support::TestServer, key: &[u8]) -> &'static str {
    let db = s.handle.shared().keyspace.lock(0);
    match db.peek(key).map(|e| e.value()) {
        Some(keyward::keyspace::ValueRef::Obj(o)) => o.encoding(),
        _ => "none",
    }
}

#[tokio::test]
async fn encoding_conversion_and_large_hash() {
    let s = start().await;
    let mut r = s.raw().await;
    // Redis's hash-max-listpack-entries: 512.
    for i in 0..512 {
        r.call(&[b"HSET", b"h", format!("f{i}").as_bytes(), b"v"])
            .await;
    }
    assert_eq!(encoding(&s, b"h"), "listpack");
    r.call(&[b"HSET", b"h", b"f512", b"v"]).await;
    assert_eq!(encoding(&s, b"h"), "hashtable");
    r.call(&[b"HDEL", b"h", b"f512", b"f0"]).await;
    assert_eq!(encoding(&s, b"h"), "hashtable", "never converts back");
    assert_eq!(r.call(&[b"HLEN", b"h"]).await, b":511\r\n");
    let long = "x".repeat(65);
    r.call(&[b"HSET", b"small", b"f", long.as_bytes()]).await;
    assert_eq!(encoding(&s, b"small"), "hashtable", "a long value converts");
    assert_eq!(r.call(&[b"HGET", b"h", b"f77"]).await, b"$1\r\nv\r\n");
}

#[tokio::test]
async fn hscan_hashtable_returns_every_field_despite_churn() {
    let s = start().await;
    let mut c = s.client().await;
    for i in 0..1000 {
        let _: i64 = redis::cmd("HSET")
            .arg("big")
            .arg(format!("f{i}"))
            .arg(i)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let mut seen = HashSet::new();
    let mut cursor: u64 = 0;
    let mut round = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(50)
            .query_async(&mut c)
            .await
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        // Additions force rehashes while the scan is under way.
        for j in 0..100 {
            let _: i64 = redis::cmd("HSET")
                .arg("big")
                .arg(format!("extra{round}_{j}"))
                .arg(1)
                .query_async(&mut c)
                .await
                .unwrap();
        }
        round += 1;
        cursor = next.parse().unwrap();
        if cursor == 0 {
            break;
        }
    }
    for i in 0..1000 {
        assert!(seen.contains(&format!("f{i}")), "f{i} missed");
    }
    let (_, matched): (String, Vec<String>) = redis::cmd("HSCAN")
        .arg("big")
        .arg(0)
        .arg("MATCH")
        .arg("f99*")
        .arg("COUNT")
        .arg(100000)
        .query_async(&mut c)
        .await
        .unwrap();
    let mut got: Vec<&String> = matched.iter().step_by(2).collect();
    got.sort();
    assert_eq!(
        got,
        ["f99", "f990", "f991", "f992", "f993", "f994", "f995", "f996", "f997", "f998", "f999"]
    );
}

#[tokio::test]
async fn hrandfield_properties() {
    let s = start().await;
    let mut c = s.client().await;
    let mut expect = HashMap::new();
    for i in 0..5 {
        expect.insert(format!("f{i}"), format!("v{i}"));
        let _: i64 = redis::cmd("HSET")
            .arg("h")
            .arg(format!("f{i}"))
            .arg(format!("v{i}"))
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let one: String = redis::cmd("HRANDFIELD")
        .arg("h")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(expect.contains_key(&one));
    let distinct: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(3)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(distinct.len(), 3);
    assert_eq!(distinct.iter().collect::<HashSet<_>>().len(), 3);
    let all: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(10)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(all.len(), 5, "positive count caps at the hash size");
    let rep: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(-20)
        .arg("WITHVALUES")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(rep.len(), 40, "negative count repeats");
    for p in rep.chunks(2) {
        assert_eq!(expect.get(&p[0]), Some(&p[1]));
    }
}

#[tokio::test]
async fn memory_accounting_matches_recount() {
    let s = start().await;
    let mut r = s.raw().await;
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..3000 {
        let k = format!("k{}", rng.gen_range(0..5));
        let f = format!("f{}", rng.gen_range(0..200));
        let v = "v".repeat(rng.gen_range(0..80));
        match rng.gen_range(0..5) {
            0 | 1 => {
                r.call(&[b"HSET", k.as_bytes(), f.as_bytes(), v.as_bytes()])
                    .await
            }
            2 => r.call(&[b"HDEL", k.as_bytes(), f.as_bytes()]).await,
            3 => {
                r.call(&[b"HINCRBY", k.as_bytes(), f.as_bytes(), b"1"])
                    .await
            }
            _ => r.call(&[b"HSETNX", k.as_bytes(), f.as_bytes(), b"x"]).await,
        };
    }
    let db = s.handle.shared().keyspace.lock(0);
    assert_eq!(db.entry_memory(), db.recount_memory());
    assert!(db.entry_memory() > 0);
}

#[tokio::test]
async fn hset_odd_arguments_error_text() {
    let s = start().await;
    let mut r = s.raw().await;
    assert_eq!(
        r.call(&[b"HSET", b"h", b"a", b"1", b"b"]).await,
        b"-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(
        r.call(&[b"HMSET", b"h", b"a", b"1", b"b"]).await,
        b"-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_eq!(r.call(&[b"HMSET", b"h", b"a", b"1"]).await, b"+OK\r\n");
}

/// HINCRBYFLOAT computes in Redis's long double (shared with INCRBYFLOAT),
/// so 17-digit results match too, not only the common short ones.
#[tokio::test]
async fn differential_hincrbyfloat_long_double() {
    support::diff_lines(&[
        "HINCRBYFLOAT h a 0.333333333333333333",
        "HINCRBYFLOAT h a 0.1",
        "HINCRBYFLOAT h b 0.1",
        "HINCRBYFLOAT h b 0.2",
        "HINCRBYFLOAT h c 1e20",
        "HINCRBYFLOAT h c 1.5",
        "HINCRBYFLOAT h d 5.0e3",
        "HINCRBYFLOAT h d -2.5e-3",
        "HINCRBYFLOAT h e 3",
        "HINCRBYFLOAT h e 0x10",
        "HINCRBYFLOAT h e inf",
        "HINCRBYFLOAT h e abc",
        "HSET h s notanumber",
        "HINCRBYFLOAT h s 1",
        "HGETALL h",
    ])
    .await;
}

/// Hashes (in table encoding) holding the same fields, written in the same
/// order, list them in the same order, as Redis's dicts do: BullMQ turns
/// every job's HGETALL into a JavaScript object, and V8 gives each key
/// order its own object shape.
#[tokio::test]
async fn equal_field_sets_list_in_one_order() {
    let s = start().await;
    let mut c = s.client().await;
    let fields = [
        "name",
        "data",
        "opts",
        "timestamp",
        "delay",
        "priority",
        "processedOn",
        "ats",
    ];
    let big = "x".repeat(100); // past hash-max-listpack-value: a table
    let mut orders = Vec::new();
    for job in 0..20 {
        let key = format!("bull:q:{job}");
        for f in fields {
            let _: i64 = redis::cmd("HSET")
                .arg(&key)
                .arg(f)
                .arg(&big)
                .query_async(&mut c)
                .await
                .unwrap();
        }
        let enc: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(enc, "hashtable");
        let keys: Vec<String> = redis::cmd("HKEYS")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        orders.push(keys);
    }
    assert!(orders.iter().all(|o| o == &orders[0]), "{orders:?}");
}
