//! Bitmap group: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, byte for byte against redis-server, plus what a
//! differential run can't see (7.2's argument order where Debian's 7.0
//! differs, accounting, WATCH, limits, the table's metadata).

use crate::support::{self, err, q, start, Oracle};

/// An argument with `\xHH` escapes decoded and `''` as the empty string.
fn arg(a: &str) -> Vec<u8> {
    if a == "''" {
        return Vec::new();
    }
    let b = a.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).expect("\\x escape is ASCII");
            out.push(u8::from_str_radix(hex, 16).expect("\\x escape is hex"));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

async fn diff(lines: &[&str]) {
    let cmds: Vec<Vec<Vec<u8>>> = lines
        .iter()
        .map(|l| l.split(' ').map(arg).collect())
        .collect();
    support::diff_args(&cmds).await;
}

/// The entry memory tracked incrementally still equals a full recount.
fn assert_accounting(s: &support::TestServer) {
    let db = s.handle.shared().keyspace.lock(0);
    assert_eq!(db.entry_memory(), db.recount_memory());
}

#[tokio::test]
async fn differential_setbit_getbit() {
    diff(&[
        "SETBIT b 7 1",
        "GETBIT b 7",
        "GETBIT b 6",
        "GETBIT b 100",
        "GET b",
        "SETBIT b 7 1",
        "SETBIT b 7 0",
        "SETBIT b 100 1",
        "STRLEN b",
        "GET b",
        "SETBIT b 0 1",
        "GET b",
        "SETBIT b -1 1",
        "SETBIT b abc 1",
        "SETBIT b 4294967296 1",
        "SETBIT b 1 2",
        "SETBIT b 1 -1",
        "SETBIT b 1 x",
        "SETBIT b 1 ''",
        "SETBIT b 01 1",
        "GETBIT b -1",
        "GETBIT b 4294967296",
        "GETBIT b x",
        "GETBIT nokey 5",
        "SETBIT b",
        "GETBIT b",
        "SET n 12345",
        "GETBIT n 2",
        "GETBIT n 39",
        "GETBIT n 40",
        "SETBIT n 0 1",
        "GET n",
        "SET n2 7",
        "SETBIT n2 6 0",
        "GET n2",
        "SET t abc EX 100",
        "SETBIT t 30 1",
        "TTL t",
        "GET t",
        "RPUSH l a",
        "SETBIT l 0 1",
        "GETBIT l 0",
        "SETBIT l x 1",
        "SETBIT l 0 5",
        "SETBIT grow 80000 1",
        "STRLEN grow",
        "GETBIT grow 80000",
        "BITCOUNT grow",
    ])
    .await;
}

#[tokio::test]
async fn differential_bitcount() {
    diff(&[
        "SET s foobar",
        "BITCOUNT s",
        "BITCOUNT s 0 0",
        "BITCOUNT s 1 1",
        "BITCOUNT s 1 -1",
        "BITCOUNT s -2 -1",
        "BITCOUNT s -1 -2",
        "BITCOUNT s -100 -50",
        "BITCOUNT s -100 -200",
        "BITCOUNT s 0 100",
        "BITCOUNT s 3 1",
        "BITCOUNT s 5 30 BIT",
        "BITCOUNT s 5 30 bit",
        "BITCOUNT s 0 -1 BYTE",
        "BITCOUNT s 1 2 byte",
        "BITCOUNT s -7 -1 BIT",
        "BITCOUNT s 3 3 BIT",
        "BITCOUNT s 9 9 BIT",
        "BITCOUNT s 0 47 BIT",
        "BITCOUNT s 0 48 BIT",
        "BITCOUNT s 13 18 BIT",
        "BITCOUNT s -20 -3 BIT",
        "BITCOUNT s 100 200",
        "BITCOUNT s 100 200 BIT",
        "BITCOUNT s 0",
        "BITCOUNT s 0 1 FOO",
        "BITCOUNT s 0 1 BIT x",
        "BITCOUNT s a 1",
        "BITCOUNT s 0 b",
        "BITCOUNT s 0 b FOO",
        "BITCOUNT s 9223372036854775807 -9223372036854775808",
        "BITCOUNT s -9223372036854775808 9223372036854775807 BIT",
        "BITCOUNT nokey",
        "BITCOUNT nokey 0 -1",
        "BITCOUNT nokey 0 -1 BIT",
        "RPUSH l a",
        "BITCOUNT l",
        "BITCOUNT l 0 1",
        "SET n -1234567",
        "BITCOUNT n",
        "BITCOUNT n 1 2",
        "BITCOUNT n 3 20 BIT",
        "SET empty ''",
        "BITCOUNT empty",
        "BITCOUNT empty 0 -1",
        "BITCOUNT empty 0 -1 BIT",
        "SET big \\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x01",
        "BITCOUNT big",
        "BITCOUNT big 1 -2",
        "BITCOUNT big 3 140 BIT",
    ])
    .await;
}

#[tokio::test]
async fn differential_bitpos() {
    diff(&[
        "SET ff \\xff\\xf0\\x00",
        "BITPOS ff 0",
        "BITPOS ff 1",
        "BITPOS ff 0 0",
        "BITPOS ff 0 0 0",
        "BITPOS ff 0 1 1",
        "BITPOS ff 1 2",
        "BITPOS ff 1 2 -1",
        "BITPOS ff 0 8 11 BIT",
        "BITPOS ff 0 8 12 BIT",
        "BITPOS ff 0 12 23 BIT",
        "BITPOS ff 1 12 23 BIT",
        "BITPOS ff 1 3 5 BIT",
        "BITPOS ff 0 3 5 BIT",
        "BITPOS ff 1 0 -1 BYTE",
        "BITPOS ff 0 -1",
        "BITPOS ff 1 -1",
        "SET all1 \\xff\\xff\\xff",
        "BITPOS all1 0",
        "BITPOS all1 0 0",
        "BITPOS all1 0 1",
        "BITPOS all1 0 0 -1",
        "BITPOS all1 0 0 23 BIT",
        "BITPOS all1 0 0 100 BIT",
        "BITPOS all1 0 10",
        "BITPOS all1 0 -1",
        "BITPOS all1 0 -100",
        "BITPOS all1 0 -100 -50",
        "BITPOS all1 0 -2 -10",
        "BITPOS all1 1 -2 -10",
        "BITPOS all1 1 2 1",
        "SET z \\x00\\x00\\x01",
        "BITPOS z 1",
        "BITPOS z 1 1",
        "BITPOS z 1 0 1",
        "BITPOS z 1 0 22 BIT",
        "BITPOS z 1 0 23 BIT",
        "BITPOS z 0",
        "BITPOS z 0 2",
        "BITPOS z 0 23 23 BIT",
        "SET long \\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x08\\x00",
        "BITPOS long 1",
        "BITPOS long 1 1 -2",
        "BITPOS long 1 9 164 BIT",
        "BITPOS long 1 9 163 BIT",
        "BITPOS long 0 9 163 BIT",
        "SET empty ''",
        "BITPOS empty 0",
        "BITPOS empty 1",
        "BITPOS empty 0 0 -1",
        "BITPOS nokey 0",
        "BITPOS nokey 1",
        "SET s foobar",
        "BITPOS s 2",
        "BITPOS s -1",
        "BITPOS s x",
        "BITPOS s 1 a",
        "BITPOS s 1 0 b",
        "BITPOS s 1 0 1 FOO",
        "BITPOS s 1 0 b FOO",
        "BITPOS s 1 0 1 BIT extra",
        "BITPOS s",
        "RPUSH l a",
        "BITPOS l 1",
        "BITPOS l 2",
        "SET n 12",
        "BITPOS n 1",
        "BITPOS n 0 1",
    ])
    .await;
}

#[tokio::test]
async fn differential_bitop() {
    diff(&[
        "SET a \\x0f\\xf0abc",
        "SET b \\xff",
        "BITOP AND dest a b",
        "GET dest",
        "BITOP OR dest a b nokey",
        "GET dest",
        "BITOP XOR dest a b",
        "GET dest",
        "BITOP xor dest a b a",
        "GET dest",
        "BITOP NOT dest a",
        "GET dest",
        "BITOP and dest nokey a",
        "GET dest",
        "BITOP NOT dest a b",
        "BITOP NOT dest",
        "BITOP FOO dest a",
        "BITOP ANDX dest a",
        "BITOP and dest nokey",
        "EXISTS dest",
        "BITOP or dest nokey nokey2",
        "EXISTS dest",
        "SET dest x EX 100",
        "BITOP OR dest a",
        "TTL dest",
        "GET dest",
        "RPUSH l x",
        "BITOP AND dest a l",
        "BITOP AND l a",
        "TYPE l",
        "GET l",
        "SET n 1234",
        "BITOP AND dest a n",
        "GET dest",
        "BITOP NOT dest n",
        "GET dest",
        "BITOP XOR a a b",
        "GET a",
        "SET empty ''",
        "BITOP AND dest empty",
        "EXISTS dest",
        "BITOP NOT dest empty",
        "EXISTS dest",
        "BITOP OR dest empty a",
        "GET dest",
        "BITOP",
        "BITOP AND dest",
    ])
    .await;
}

#[tokio::test]
async fn differential_bitfield() {
    diff(&[
        "BITFIELD bf SET i8 0 100",
        "BITFIELD bf GET i8 0 GET u8 0 GET u4 0 GET i4 4",
        "BITFIELD bf INCRBY i8 0 100",
        "BITFIELD bf OVERFLOW SAT INCRBY i8 0 100",
        "BITFIELD bf OVERFLOW FAIL INCRBY i8 0 1",
        "BITFIELD bf OVERFLOW WRAP INCRBY i8 0 1",
        "BITFIELD bf SET u8 #1 255 GET u8 #1 INCRBY u8 #1 10 OVERFLOW SAT INCRBY u8 #1 1000 OVERFLOW FAIL INCRBY u8 #1 -300 GET u8 8",
        "GET bf",
        "BITFIELD bf SET u63 100 123456789 GET u63 100 GET i64 100 GET u2 #50",
        "BITFIELD bf SET i64 0 -9223372036854775808 GET i64 0 INCRBY i64 0 -1",
        "BITFIELD bf OVERFLOW SAT INCRBY i64 0 -1 INCRBY i64 0 9223372036854775807 INCRBY i64 0 9223372036854775807",
        "BITFIELD bf OVERFLOW FAIL INCRBY i64 0 1 INCRBY i64 0 -9223372036854775808 GET i64 0",
        "BITFIELD bf OVERFLOW SAT SET i8 0 1000 SET i8 0 -1000 SET u8 0 -1 SET u8 0 300 SET i8 0 -5",
        "BITFIELD bf OVERFLOW WRAP SET i8 0 1000 SET i8 0 -1000 SET u8 0 -1 SET u8 0 300 GET u8 0",
        "BITFIELD bf OVERFLOW FAIL SET i8 0 1000 SET u8 0 -1 SET u8 0 7 GET u8 0",
        "BITFIELD bf OVERFLOW SAT SET i8 0 -9223372036854775808 SET i8 0 9223372036854775807",
        "BITFIELD bf OVERFLOW WRAP SET i16 3 -9223372036854775808 SET u16 3 9223372036854775807",
        "BITFIELD bf OVERFLOW SAT SET u63 0 -1 INCRBY u63 0 -9223372036854775808",
        "BITFIELD bf OVERFLOW WRAP INCRBY u63 0 -9223372036854775808 INCRBY u5 3 -100",
        "BITFIELD bf INCRBY u1 5 1 INCRBY u1 5 1 INCRBY i1 6 1 INCRBY i1 6 -1 OVERFLOW SAT INCRBY i1 6 1 INCRBY i1 6 -5",
        "BITFIELD bf OVERFLOW sat INCRBY i3 100 100 OVERFLOW fail INCRBY i3 100 1 OVERFLOW Wrap INCRBY i3 100 1",
        "GET bf",
        "BITFIELD bf GET i8 0 OVERFLOW FOO",
        "BITFIELD bf GET u64 0",
        "BITFIELD bf GET i65 0",
        "BITFIELD bf GET i0 0",
        "BITFIELD bf GET I8 0",
        "BITFIELD bf GET x 0",
        "BITFIELD bf GET '' 0",
        "BITFIELD bf GET i+8 0",
        "BITFIELD bf GET i8 -1",
        "BITFIELD bf GET i8 #-1",
        "BITFIELD bf GET i8 #",
        "BITFIELD bf GET i8 ''",
        "BITFIELD bf GET i8 4294967296",
        "BITFIELD bf GET i8 #536870912",
        "BITFIELD bf GET i8 #536870911 GET u7 4294967295",
        "BITFIELD bf SET i8 0",
        "BITFIELD bf SET i8 0 x",
        "BITFIELD bf INCRBY i8 0 1.5",
        "BITFIELD bf FOO",
        "BITFIELD bf GET",
        "BITFIELD bf GET u8 0 GET",
        "BITFIELD bf INCRBY i8 0 1 GET",
        "BITFIELD bf SET i8 0 1 GET x 0",
        "GET bf",
        "BITFIELD bf",
        "BITFIELD bf OVERFLOW SAT",
        "BITFIELD bf OVERFLOW",
        "BITFIELD",
        "BITFIELD nokey GET u8 0 GET i16 100",
        "EXISTS nokey",
        "BITFIELD newkey OVERFLOW FAIL INCRBY u2 10 10",
        "GET newkey",
        "BITFIELD newkey2 SET u8 #3 65 GET u8 0",
        "GET newkey2",
        "RPUSH l a",
        "BITFIELD l GET u8 0",
        "BITFIELD l SET u8 0 1",
        "BITFIELD l SET u8 0 x",
        "SET n 12345",
        "BITFIELD n GET u8 0 GET u16 8 GET i64 #0",
        "BITFIELD n SET u8 0 65",
        "GET n",
        "SET t abc EX 100",
        "BITFIELD t SET u8 40 1",
        "TTL t",
        "GET t",
        "BITFIELD_RO bf GET i8 0 GET u16 #1",
        "BITFIELD_RO bf SET i8 0 1",
        "BITFIELD_RO bf INCRBY i8 0 1",
        "BITFIELD_RO bf OVERFLOW SAT GET u8 0",
        "BITFIELD_RO bf INCRBY i8 0 1 GET x 0",
        "BITFIELD_RO bf",
        "BITFIELD_RO l GET u8 0",
        "BITFIELD_RO nokey GET u8 0",
        "BITFIELD_RO",
    ])
    .await;
}

/// BITFIELD's null for OVERFLOW FAIL under RESP3 on both servers.
#[tokio::test]
async fn differential_bitfield_resp3() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let s = start().await;
    let mut replies = Vec::new();
    for mut r in [s.raw().await, oracle.raw().await] {
        r.call(&[b"HELLO", b"3"]).await;
        r.call(&[b"DEL", b"k"]).await;
        replies.push(
            r.call_str("BITFIELD k OVERFLOW FAIL INCRBY u2 0 7 INCRBY u2 0 2 GET u2 0")
                .await,
        );
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[0], b"*3\r\n_\r\n:2\r\n:2\r\n");
}

/// Redis 7.2 checks the arguments before looking the key up; Debian's
/// 7.0 answers 0 (or -1) for a missing key first, so this is not a
/// differential case.
#[tokio::test]
async fn missing_key_still_checks_arguments() {
    let s = start().await;
    let mut c = s.client().await;
    let not_int = "value is not an integer or out of range";
    assert!(err(&mut c, &["BITCOUNT", "nokey", "a", "1"])
        .await
        .contains(not_int));
    assert!(err(&mut c, &["BITCOUNT", "nokey", "0"])
        .await
        .contains("syntax error"));
    assert!(err(&mut c, &["BITCOUNT", "nokey", "0", "1", "X"])
        .await
        .contains("syntax error"));
    assert!(err(&mut c, &["BITPOS", "nokey", "1", "a"])
        .await
        .contains(not_int));
    assert!(err(&mut c, &["BITPOS", "nokey", "0", "0", "1", "X"])
        .await
        .contains("syntax error"));
    assert!(err(&mut c, &["BITPOS", "nokey", "0", "0", "1", "BIT", "x"])
        .await
        .contains("syntax error"));
    assert_eq!(
        q::<i64>(&mut c, &["BITPOS", "nokey", "0", "5", "9", "BIT"])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        q::<i64>(&mut c, &["BITPOS", "nokey", "1", "5"])
            .await
            .unwrap(),
        -1
    );
    assert_eq!(
        q::<i64>(&mut c, &["BITCOUNT", "nokey", "0", "-1", "BIT"])
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn writes_grow_in_place_and_keep_accounting() {
    let s = start().await;
    let mut c = s.client().await;
    let () = q(&mut c, &["SET", "k", "abc", "PX", "100000"])
        .await
        .unwrap();
    // In place (same length), then grown (block rebuilt), then BITFIELD.
    assert_eq!(
        q::<i64>(&mut c, &["SETBIT", "k", "7", "1"]).await.unwrap(),
        1
    );
    assert_eq!(
        q::<i64>(&mut c, &["SETBIT", "k", "6", "1"]).await.unwrap(),
        0
    );
    assert_accounting(&s);
    assert_eq!(
        q::<i64>(&mut c, &["SETBIT", "k", "799", "1"])
            .await
            .unwrap(),
        0
    );
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "k"]).await.unwrap(), 100);
    assert_accounting(&s);
    let v: Vec<i64> = q(&mut c, &["BITFIELD", "k", "SET", "u16", "#100", "65535"])
        .await
        .unwrap();
    assert_eq!(v, vec![0]);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "k"]).await.unwrap(), 202);
    assert_accounting(&s);
    assert!(q::<i64>(&mut c, &["PTTL", "k"]).await.unwrap() > 0);
    assert_eq!(
        q::<i64>(&mut c, &["BITCOUNT", "k"]).await.unwrap(),
        8 + 3 + 16 + 1
    );
    // An integer-encoded value becomes bytes.
    let () = q(&mut c, &["SET", "n", "10"]).await.unwrap();
    assert_eq!(
        q::<i64>(&mut c, &["SETBIT", "n", "15", "1"]).await.unwrap(),
        0
    );
    assert_eq!(q::<String>(&mut c, &["GET", "n"]).await.unwrap(), "11");
    assert_accounting(&s);
    assert_eq!(
        q::<i64>(&mut c, &["BITOP", "NOT", "d", "k"]).await.unwrap(),
        202
    );
    assert_accounting(&s);
}

/// Strings grown a little at a time (SETBIT, BITFIELD, SETRANGE, APPEND)
/// keep room to grow, as Redis's greedy sdsMakeRoomFor: MEMORY USAGE
/// counts it (more than the bytes), OBJECT ENCODING says raw, the
/// accounting stays exact, and an overwrite gives the room back.
#[tokio::test]
async fn grown_strings_keep_room_and_exact_accounting() {
    let s = start().await;
    let mut c = s.client().await;
    for i in 0..2000 {
        let off = (i * 8 + 7).to_string();
        let _: i64 = q(&mut c, &["SETBIT", "b", &off, "1"]).await.unwrap();
        let field = format!("#{}", 2000 + i);
        let _: Vec<i64> = q(&mut c, &["BITFIELD", "f", "SET", "u8", &field, "255"])
            .await
            .unwrap();
        let _: i64 = q(&mut c, &["APPEND", "a", "xy"]).await.unwrap();
        let at = (i * 3).to_string();
        let _: i64 = q(&mut c, &["SETRANGE", "r", &at, "abc"]).await.unwrap();
    }
    assert_accounting(&s);
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "b"]).await.unwrap(), 2000);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "b"]).await.unwrap(), 2000);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "f"]).await.unwrap(), 4000);
    let a: String = q(&mut c, &["GET", "a"]).await.unwrap();
    assert_eq!(a, "xy".repeat(2000));
    let r: String = q(&mut c, &["GET", "r"]).await.unwrap();
    assert_eq!(r, "abc".repeat(2000));
    for k in ["b", "f", "a", "r"] {
        let enc: String = q(&mut c, &["OBJECT", "ENCODING", k]).await.unwrap();
        assert_eq!(enc, "raw");
        let len: i64 = q(&mut c, &["STRLEN", k]).await.unwrap();
        let mem: i64 = q(&mut c, &["MEMORY", "USAGE", k]).await.unwrap();
        assert!(mem > len, "{k}: {mem} bytes for {len}");
    }
    let before: i64 = q(&mut c, &["MEMORY", "USAGE", "a"]).await.unwrap();
    // A TTL rebuilds the block without the room.
    let _: i64 = q(&mut c, &["EXPIRE", "a", "100"]).await.unwrap();
    let after: i64 = q(&mut c, &["MEMORY", "USAGE", "a"]).await.unwrap();
    assert!(after < before, "{after} !< {before}");
    assert_accounting(&s);
    let () = q(&mut c, &["SET", "b", "x"]).await.unwrap();
    assert_accounting(&s);
}

/// A SETBIT or BITFIELD that changes nothing is no write: a WATCH on the
/// key survives it, as in Redis 7.2. A real change breaks it.
#[tokio::test]
async fn unchanged_bits_do_not_touch_watchers() {
    let s = start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    b.call_str("SETBIT k 3 1").await;
    a.call_str("WATCH k").await;
    assert_eq!(b.call_str("SETBIT k 3 1").await, b":1\r\n");
    assert_eq!(b.call_str("BITFIELD k SET u4 0 1").await, b"*1\r\n:1\r\n");
    assert_eq!(
        b.call_str("BITFIELD k OVERFLOW FAIL INCRBY u4 0 100").await,
        b"*1\r\n$-1\r\n"
    );
    a.call_str("MULTI").await;
    a.call_str("GET k").await;
    assert_eq!(a.call_str("EXEC").await, b"*1\r\n$1\r\n\x10\r\n");
    a.call_str("WATCH k").await;
    assert_eq!(b.call_str("SETBIT k 3 0").await, b":1\r\n");
    a.call_str("MULTI").await;
    a.call_str("GET k").await;
    assert_eq!(a.call_str("EXEC").await, b"*-1\r\n");
}

#[tokio::test]
async fn offsets_follow_proto_max_bulk_len() {
    let s = start().await;
    let mut c = s.client().await;
    let () = q(&mut c, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"])
        .await
        .unwrap();
    let e = err(&mut c, &["SETBIT", "k", "8388608", "1"]).await;
    assert!(
        e.contains("bit offset is not an integer or out of range"),
        "{e}"
    );
    assert!(err(&mut c, &["BITFIELD", "k", "GET", "u8", "#1048576"])
        .await
        .contains("bit offset is not an integer or out of range"));
    assert_eq!(
        q::<i64>(&mut c, &["SETBIT", "k", "8388607", "1"])
            .await
            .unwrap(),
        0
    );
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "k"]).await.unwrap(), 1 << 20);
    assert_eq!(
        q::<i64>(&mut c, &["BITPOS", "k", "1"]).await.unwrap(),
        8388607
    );
    assert_eq!(q::<i64>(&mut c, &["BITCOUNT", "k"]).await.unwrap(), 1);
    assert_accounting(&s);
}

#[tokio::test]
async fn table_rows_give_metadata_and_categories() {
    let s = start().await;
    let mut c = s.client().await;
    let mut cat: Vec<String> = q(&mut c, &["ACL", "CAT", "bitmap"]).await.unwrap();
    cat.sort();
    assert_eq!(
        cat,
        [
            "bitcount",
            "bitfield",
            "bitfield_ro",
            "bitop",
            "bitpos",
            "getbit",
            "setbit"
        ]
    );
    let mut raw = s.raw().await;
    let info = String::from_utf8(raw.call_str("COMMAND INFO bitop").await).unwrap();
    assert!(
        info.starts_with(
            "*1\r\n*10\r\n$5\r\nbitop\r\n:-4\r\n*2\r\n+write\r\n+denyoom\r\n:2\r\n:-1\r\n:1\r\n"
        ),
        "{info}"
    );
    assert!(info.contains("@bitmap"), "{info}");
    let info = String::from_utf8(raw.call_str("COMMAND INFO bitfield_ro getbit").await).unwrap();
    assert!(info.contains("+readonly\r\n+fast\r\n"), "{info}");
    let docs = String::from_utf8(raw.call_str("COMMAND DOCS setbit").await).unwrap();
    assert!(docs.contains("bitmap"), "{docs}");
    // A user without @bitmap can still use strings.
    let () = q(
        &mut c,
        &[
            "ACL", "SETUSER", "nobits", "on", "nopass", "+@all", "-@bitmap", "~*",
        ],
    )
    .await
    .unwrap();
    let () = q(&mut c, &["AUTH", "nobits", "x"]).await.unwrap();
    let e = err(&mut c, &["SETBIT", "k", "1", "1"]).await;
    assert!(e.contains("no permissions to run the 'setbit'"), "{e}");
    assert!(err(&mut c, &["BITFIELD_RO", "k", "GET", "u8", "0"])
        .await
        .contains("no permissions to run the 'bitfield_ro'"));
    let () = q(&mut c, &["SET", "k", "v"]).await.unwrap();
}

/// Random valid bitmap commands on a few keys, compared reply by reply
/// with redis-server 7.0: the hand-picked cases above, at scale.
#[tokio::test]
async fn differential_random_bitmap_workload() {
    for seed in 0..4 {
        support::diff_args(&random_bitmap_workload(seed)).await;
    }
}

/// The same random workloads (other seeds too) against the Redis 7.2
/// oracle, where BITFIELD's and BITCOUNT's argument checks are 7.2's.
#[tokio::test]
async fn differential_random_bitmap_workload_72() {
    for seed in 0..6 {
        support::diff_args_72(&random_bitmap_workload(seed)).await;
    }
}

/// 1000 random valid bitmap commands over three keys, from `seed`.
fn random_bitmap_workload(seed: u64) -> Vec<Vec<Vec<u8>>> {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    {
        let mut rng = StdRng::seed_from_u64(seed);
        let keys = ["a", "b", "c"];
        let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
        for _ in 0..1000 {
            let k = keys[rng.gen_range(0..keys.len())].to_string();
            let k2 = keys[rng.gen_range(0..keys.len())].to_string();
            let n = |rng: &mut StdRng, lo: i64, hi: i64| rng.gen_range(lo..=hi).to_string();
            let signed = rng.gen_bool(0.5);
            let width = if signed {
                rng.gen_range(1..=64)
            } else {
                rng.gen_range(1..=63)
            };
            let ty = format!("{}{width}", if signed { 'i' } else { 'u' });
            let value = match rng.gen_range(0..4) {
                0 => n(&mut rng, -300, 300),
                1 => n(&mut rng, i64::MIN, i64::MAX),
                2 => ["9223372036854775807", "-9223372036854775808", "-1", "0"]
                    [rng.gen_range(0..4)]
                .to_string(),
                _ => (1i64 << rng.gen_range(0..63)).to_string(),
            };
            let offset = if rng.gen_bool(0.2) {
                format!("#{}", rng.gen_range(0..4))
            } else {
                n(&mut rng, 0, 200)
            };
            let overflow = ["WRAP", "SAT", "FAIL"][rng.gen_range(0..3)].to_string();
            let unit = ["BYTE", "BIT"][rng.gen_range(0..2)].to_string();
            let cmd: Vec<String> = match rng.gen_range(0..14) {
                0 | 1 => vec!["SETBIT".into(), k, n(&mut rng, 0, 200), n(&mut rng, 0, 1)],
                2 => vec!["GETBIT".into(), k, n(&mut rng, 0, 220)],
                3 => vec![
                    "BITCOUNT".into(),
                    k,
                    n(&mut rng, -40, 40),
                    n(&mut rng, -40, 40),
                    unit,
                ],
                4 => vec![
                    "BITPOS".into(),
                    k,
                    n(&mut rng, 0, 1),
                    n(&mut rng, -40, 40),
                    n(&mut rng, -40, 40),
                    unit,
                ],
                5 => vec!["BITPOS".into(), k, n(&mut rng, 0, 1), n(&mut rng, -30, 30)],
                6 => {
                    let op = ["AND", "OR", "XOR", "NOT"][rng.gen_range(0..4)];
                    if op == "NOT" {
                        vec!["BITOP".into(), op.into(), k, k2]
                    } else {
                        vec![
                            "BITOP".into(),
                            op.into(),
                            k,
                            k2,
                            keys[rng.gen_range(0..3)].into(),
                        ]
                    }
                }
                7 => vec!["BITFIELD".into(), k, "GET".into(), ty, offset],
                8 => vec![
                    "BITFIELD".into(),
                    k,
                    "OVERFLOW".into(),
                    overflow,
                    if rng.gen_bool(0.5) { "SET" } else { "INCRBY" }.into(),
                    ty,
                    offset,
                    value,
                ],
                // The string writes that grow a value in place, as
                // SETBIT and BITFIELD do.
                10 => vec!["APPEND".into(), k, "x".repeat(rng.gen_range(0..30))],
                11 => vec![
                    "SETRANGE".into(),
                    k,
                    n(&mut rng, 0, 60),
                    "y".repeat(rng.gen_range(0..10)),
                ],
                12 => vec!["BITFIELD_RO".into(), k, "GET".into(), ty, offset],
                _ => vec![if rng.gen_bool(0.5) { "GET" } else { "STRLEN" }.into(), k],
            };
            cmds.push(cmd.into_iter().map(String::into_bytes).collect());
        }
        cmds
    }
}
