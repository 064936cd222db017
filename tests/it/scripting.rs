//! Tests: scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT LOAD /
//! EXISTS / FLUSH / KILL / HELP), mostly differential against redis-server.

use std::time::Duration;

use crate::support::{self, diff_args, start};

fn cmd(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn evals(scripts: &[&str]) -> Vec<Vec<Vec<u8>>> {
    scripts.iter().map(|s| cmd(&["EVAL", s, "0"])).collect()
}

/// What redis::Script does: EVALSHA first, EVAL on NOSCRIPT (the redis
/// crate's `script` feature is off in this build).
async fn invoke(
    c: &mut redis::aio::MultiplexedConnection,
    body: &str,
    keys: &[&str],
    args: &[&str],
) -> redis::Value {
    let sha = sha1_smol::Sha1::from(body).digest().to_string();
    let mut evalsha = redis::cmd("EVALSHA");
    evalsha.arg(&sha).arg(keys.len()).arg(keys).arg(args);
    match evalsha.query_async(c).await {
        Ok(v) => v,
        Err(e) => {
            assert_eq!(e.code(), Some("NOSCRIPT"), "{e}");
            let mut eval = redis::cmd("EVAL");
            eval.arg(body).arg(keys.len()).arg(keys).arg(args);
            eval.query_async(c).await.expect("EVAL succeeds")
        }
    }
}

#[tokio::test]
async fn redis_crate_evalsha_falls_back_to_eval() {
    let s = start().await;
    let mut c = s.client().await;
    let body = "return redis.call('set', KEYS[1], ARGV[1])";
    let r = invoke(&mut c, body, &["k"], &["v"]).await;
    assert_eq!(r, redis::Value::Okay);
    // Cached now: EVALSHA answers without the fallback.
    let sha = sha1_smol::Sha1::from(body).digest().to_string();
    let r: String = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(1)
        .arg("k")
        .arg("w")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(r, "OK");
    let v: String = redis::cmd("GET")
        .arg("k")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "w");
    let n = invoke(&mut c, "return #ARGV + #KEYS", &["a"], &["1", "2"]).await;
    assert_eq!(n, redis::Value::Int(3));
}

#[tokio::test]
async fn diff_conversions() {
    diff_args(&evals(&[
        "return 1",
        "return 3.99",
        "return -2.7",
        "return 'x'",
        "return true",
        "return false",
        "return nil",
        "return {1,2,3,'x',nil,4}",
        "return {1.9,-2.7,true,false,{ok='x'}}",
        "return {ok='FINE'}",
        "return {err='My Error'}",
        "return {err='-X My Error'}",
        "return {err='a\\r\\nb'}",
        "return redis.error_reply('My Error')",
        "return redis.status_reply('FINE')",
        "return {double=3.5}",
        "return {map={a=1}}",
        "return {set={a=true}}",
        "return {big_number='123'}",
        "return {{1,{2,{3}}}}",
        "return redis.call('ping')",
        "redis.call('set','k','v') return redis.call('get','k')",
        "return redis.call('get','nokey')",
        "return type(redis.call('get','nokey'))",
        "return redis.call('incr','n')",
        "return {redis.call('set','s','abc')}",
        "return redis.pcall('incr','s')",
        "return redis.pcall('nosuch')",
        "return redis.call('set', 'f', 7e15+0.5)",
        "return redis.call('get', 'f')",
        "redis.call('set','f',0.1) return redis.call('get','f')",
        "redis.call('set','f',1/3) return redis.call('get','f')",
        "redis.call('set','f',1e100) return redis.call('get','f')",
        "redis.call('set','f',-0.0) return redis.call('get','f')",
        "return 'x' .. 7e15",
        "return redis.sha1hex('')",
        "return redis.sha1hex('abc')",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "redis.log(redis.LOG_WARNING, 'hi') return 1",
        "return unpack({1,2})",
        "return {unpack({1,2,3})}",
        "return tostring(math.random()) .. ' ' .. tostring(math.random(10))",
        "return tostring(math.random())",
    ]))
    .await;
}

#[tokio::test]
async fn diff_errors() {
    let mut cmds = evals(&[
        "return redis.call('nosuch')",
        "return redis.call('incr','k','x')",
        "error('boom')",
        "error()",
        "error({err='X y'})",
        "x = 1",
        "return y",
        "syntax error here",
        "return os",
        "return loadfile",
        "return tostring(require)",
        "return type(dofile)",
        "return type(print)",
        "cjson = 1",
        "cjson.x = 1",
        "string.foo = 1",
        "redis.call = 1",
        "return pcall(redis.call,'nosuch')",
        "return redis.call('multi')",
        "return redis.call('eval','return 1', 0)",
        "return redis.call()",
        "return redis.call('get')",
        "return redis.call(1)",
        "return redis.call({})",
        "local t = {} return redis.call('get', t)",
        "return redis.call('script','kill')",
        "return redis.call('client','nosuch')",
        "return redis.call('client')",
        "local function f() error('in f') end f()",
        "\nlocal x = 1\nreturn redis.call('nosuch')",
        "local ok, e = pcall(function() error('x') end) return e",
        "redis.setresp(4)",
        "return nil + 1",
        "redis.call('set','s','abc') return redis.call('incr','s')",
    ]);
    cmds.push(cmd(&["EVAL", "return 1", "-1"]));
    cmds.push(cmd(&["EVAL", "return 1", "3", "a"]));
    cmds.push(cmd(&["EVAL", "return 1", "x"]));
    cmds.push(cmd(&["EVAL", "return 1"]));
    cmds.push(cmd(&["EVAL_RO", "return redis.call('set','a','b')", "0"]));
    cmds.push(cmd(&["EVAL_RO", "return redis.call('get','a')", "0"]));
    diff_args(&cmds).await;
}

#[tokio::test]
async fn diff_keys_argv_and_cache() {
    diff_args(&[
        cmd(&["EVAL", "return KEYS[1]..ARGV[1]..#ARGV", "1", "a", "b", "c"]),
        cmd(&["EVAL", "return {KEYS, ARGV}", "2", "a", "b", "c"]),
        cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1"]),
        cmd(&["SCRIPT", "LOAD", "return 1"]),
        cmd(&[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "ab",
        ]),
        cmd(&["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"]),
        cmd(&["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"]),
        cmd(&[
            "EVALSHA_RO",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "0",
        ]),
        cmd(&["EVALSHA", "e0e1", "0"]),
        cmd(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]),
        cmd(&["SCRIPT", "LOAD", "x x"]),
        cmd(&["SCRIPT", "FLUSH", "x"]),
        cmd(&["SCRIPT", "FLUSH", "ASYNC", "SYNC"]),
        cmd(&["SCRIPT", "FLUSH", "SYNC"]),
        cmd(&[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        ]),
        cmd(&["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"]),
        cmd(&["EVAL", "return 1", "0"]),
        cmd(&[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        ]),
        cmd(&["SCRIPT", "FLUSH", "async"]),
        cmd(&["SCRIPT", "FLUSH"]),
        cmd(&["SCRIPT", "KILL"]),
        cmd(&["SCRIPT", "HELP"]),
        cmd(&["SCRIPT"]),
        cmd(&["SCRIPT", "nope"]),
    ])
    .await;
}

#[tokio::test]
async fn diff_libraries() {
    diff_args(&evals(&[
        "return cjson.encode({1,2,{a=1}})",
        "return cjson.encode({})",
        "return cjson.encode({[1]=1,[3]=3})",
        "return cjson.encode({a='x\\n\"/'})",
        "return cjson.encode(3.14159265358979)",
        "return cjson.encode(1e20)",
        "return cjson.encode(0.1)",
        "return cjson.encode(nil)",
        "return cjson.encode(cjson.null)",
        "return cjson.encode('\\1\\127\\200')",
        "local t = cjson.decode('{\"a\":[1,2,null,true],\"b\":1.5e3}') return {t.a[1], t.a[2], tostring(t.a[4]), t.b}",
        "return cjson.decode('[1,2')",
        "return cjson.encode(function() end)",
        "return cjson.encode({[1]=1,[100]=2})",
        "return cjson.decode(cjson.encode({x='y'})).x",
        "return {bit.tobit(0xffffffff), bit.band(12,10), bit.bor(12,10), bit.bxor(12,10), bit.lshift(1,31), bit.rshift(-1,28), bit.arshift(-256,4), bit.rol(0x12345678,8), bit.ror(0x12345678,8), bit.bnot(0), bit.tohex(255), bit.tohex(-1,-4), bit.tohex(255,2)}",
    ]))
    .await;
}

#[tokio::test]
async fn diff_resp3() {
    let Some(oracle) = support::Oracle::start().await else {
        return;
    };
    let s = start().await;
    let mut a = s.raw().await;
    let mut b = oracle.raw().await;
    for line in [
        vec!["HELLO", "3"],
        vec!["SET", "k", "v"],
        vec![
            "EVAL",
            "redis.setresp(3); return redis.call('get','k')",
            "0",
        ],
        vec![
            "EVAL",
            "redis.setresp(3); return {map={a=redis.call('get','k')}}",
            "0",
        ],
        vec!["EVAL", "return {double=3.5}", "0"],
        vec!["EVAL", "redis.setresp(3); return {double=3.5}", "0"],
        vec!["EVAL", "return true", "0"],
        vec!["EVAL", "return false", "0"],
        vec!["EVAL", "redis.setresp(3); return false", "0"],
        vec!["EVAL", "return nil", "0"],
        vec![
            "EVAL",
            "redis.setresp(3); return redis.call('get','nokey')",
            "0",
        ],
        vec![
            "EVAL",
            "redis.setresp(3); return type(redis.call('get','nokey'))",
            "0",
        ],
        vec!["EVAL", "return {map={a=1}}", "0"],
        vec!["EVAL", "return {set={a=true}}", "0"],
        vec!["EVAL", "return {big_number='123'}", "0"],
    ] {
        let args: Vec<&[u8]> = line.iter().map(|x| x.as_bytes()).collect();
        let ours = a.call(&args).await;
        let theirs = b.call(&args).await;
        if line[0] == "HELLO" {
            continue;
        }
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{line:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn script_kill_and_busy() {
    let s = start().await;
    let mut other = s.raw().await;
    assert_eq!(
        other.call_str("SCRIPT KILL").await,
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    let mut runner = s.raw().await;
    runner.cmd(&[b"EVAL", b"while true do end", b"0"]).await;
    // Before busy-reply-threshold (5 s) other clients still run; past it, BUSY.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(other.call_str("PING").await, b"+PONG\r\n");
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert_eq!(
        other.call_str("PING").await,
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(other.call_str("SCRIPT KILL").await, b"+OK\r\n");
    let reply = String::from_utf8(runner.reply().await).unwrap();
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{reply}"
    );
    assert_eq!(other.call_str("PING").await, b"+PONG\r\n");

    runner
        .cmd(&[
            b"EVAL",
            b"redis.call('set','a','b') local i = 0 while i < 2e8 do i = i + 1 end return 1",
            b"0",
        ])
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = other.call_str("SCRIPT KILL").await;
    assert!(
        r.starts_with(b"-UNKILLABLE Sorry the script already executed write commands"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(runner.reply().await, b":1\r\n");
}
