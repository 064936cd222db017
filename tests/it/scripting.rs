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
        "redis.call('set','f',1e17) return redis.call('get','f')",
        "redis.call('set','f',99999999999999999) return redis.call('get','f')",
        "redis.call('set','f',-123456789012345) return redis.call('get','f')",
        "redis.call('set','f',2^63) return redis.call('get','f')",
        "return redis.call('hmset','h','a',1,'b',2.5,'c','x')",
        "return redis.call('hgetall','h')",
        "return redis.pcall('hgetall','h','extra')",
        "return redis.pcall('set','k',{})",
        "return redis.pcall()",
        "return {redis.call('xrange','nostream','-','+')}",
        "return {map={[1]='a',[2]={1,2}}, x=1}",
        "return {set={['a']=true}, map={a=1}}",
        "return {verbatim_string={format='txt',string='hi'}}",
        "return {{err='inner'},{ok='x'},{double=0.5}}",
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
        "return cjson.encode({1e14, 123456789012345, 99999999999999, -0.0, 1.5, -7})",
        "return cjson.encode({[1.5]=1})",
        "return cjson.encode({[2]='b', [1]='a'})",
        "return cjson.encode({a={b={c={1,2,{d=true}}}}})",
        "return cjson.encode()",
        "return cjson.encode(1, 2)",
        "return cjson.encode({f=print})",
        "return cjson.encode({[true]=1})",
        "return cjson.encode(0/0)",
        "return cjson.encode({1, 2, nil, 4})",
        "local t = {} t[1] = t return cjson.encode(t)",
        "return cjson.decode()",
        "return cjson.decode({})",
        "return cjson.decode(123)",
        "return cjson.decode('123')",
        "return cjson.decode('\"a\\\\b\\u0041\\n\"')",
        "return cjson.decode('\"unended')",
        "return cjson.decode('[\"ab\\\\x\"]')",
        "return cjson.decode('\"\\\\ud83d\\\\ude00 \\\\u00e9\"')",
        "return cjson.decode('\"x\\\\ud83d\"')",
        "return cjson.decode('\"\\\\ude00\"')",
        "return cjson.decode('\"\\\\u12\"')",
        "return cjson.decode('\"\\\\u+041\"')",
        "return cjson.decode('\"ab\\\\')",
        "return cjson.decode('{\"a\" 1}')",
        "return cjson.decode('{1:2}')",
        "return cjson.decode('[1,]')",
        "return cjson.decode('[1] x')",
        "return cjson.decode('nul')",
        "return cjson.decode('[01]')",
        "return cjson.decode('[0x10, -0x1, 0X1p3, inf, -inf, Infinity, +1, 1., -.5, 1e400]')",
        "return tostring(cjson.decode('[nan]')[1])",
        "return cjson.decode('[.5]')",
        "return cjson.decode('[-]')",
        "return cjson.decode('[ix]')",
        "return cjson.decode('[tru]')",
        "return cjson.decode('[-0x1]')",
        "return cjson.decode('[-inf]')",
        "return cjson.decode('[1.5.3]')",
        "return cjson.decode('[1e]')",
        "return cjson.decode('[-.5, .5e1, 1., 2E+2, -0]')",
        "return cjson.decode('[+1]')",
        "return cjson.decode('[--1]')",
        "return cjson.decode('{\"a\" true}')",
        "return cjson.decode('{\"a\" null}')",
        "return cjson.decode('{\"a\" 01}')",
        "return cjson.decode('{\"a\":1 \"b\"}')",
        "return cjson.decode(string.rep('[', 1100))",
        "local t = cjson.decode('{\"x\":{\"y\":[true,false,null]}}') return {type(t.x.y[1]), tostring(t.x.y[2]), t.x.y[3] == cjson.null}",
        "return cjson.encode(cjson.decode('{\"k\":\"v\",\"n\":[1,2.5,-3e2]}'))",
        "local ok, e = pcall(cjson.encode, function() end) return e",
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

const BUSY_REPLY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

/// One worker thread, as the server runs by default. A client whose command
/// needs the DB a long script holds used to wait for it on the worker
/// thread, so nobody got BUSY and SCRIPT KILL was never read: the server
/// hung for as long as the script ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn waiting_clients_get_busy_and_script_kill_works() {
    let s = start().await;
    let mut runner = s.raw().await;
    let mut reader = s.raw().await;
    let mut killer = s.raw().await;
    runner
        .cmd(&[b"EVAL", b"redis.call('get','x') while true do end", b"0"])
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    reader.cmd(&[b"GET", b"x"]).await;
    killer.cmd(&[b"SCRIPT", b"KILL"]).await;
    let within = |f| tokio::time::timeout(Duration::from_secs(20), f);
    assert_eq!(
        within(killer.reply()).await.expect("SCRIPT KILL answered"),
        b"+OK\r\n"
    );
    let killed = String::from_utf8(within(runner.reply()).await.expect("script ended")).unwrap();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed}"
    );
    // The GET ran either past the threshold (BUSY) or after the kill.
    let got = within(reader.reply()).await.expect("GET answered");
    assert!(
        got == BUSY_REPLY || got == b"$-1\r\n",
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(reader.call_str("PING").await, b"+PONG\r\n");
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
    // As in Redis, nothing else runs before busy-reply-threshold (5 s): a
    // PING sent now is answered once the script has run that long, BUSY.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = std::time::Instant::now();
    assert_eq!(other.call_str("PING").await, BUSY_REPLY);
    assert!(
        sent.elapsed() >= Duration::from_secs(4),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(other.call_str("PING").await, BUSY_REPLY);
    assert_eq!(other.call_str("SCRIPT KILL").await, b"+OK\r\n");
    let reply = String::from_utf8(runner.reply().await).unwrap();
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{reply}"
    );
    assert_eq!(other.call_str("PING").await, b"+PONG\r\n");

    // A writing script past the threshold (lowered, as Redis allows) is
    // unkillable.
    assert_eq!(
        other.call_str("CONFIG SET busy-reply-threshold 100").await,
        b"+OK\r\n"
    );
    runner
        .cmd(&[
            b"EVAL",
            b"redis.call('set','a','b') local t = redis.call('time') \
              while true do local n = redis.call('time') \
              if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 1500000 then break end end \
              return 1",
            b"0",
        ])
        .await;
    // Wait for the script to start (a loaded machine may take a while).
    let mut r = other.call_str("SCRIPT KILL").await;
    for _ in 0..500 {
        if !r.starts_with(b"-NOTBUSY") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        r = other.call_str("SCRIPT KILL").await;
    }
    assert!(
        r.starts_with(b"-UNKILLABLE Sorry the script already executed write commands"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(runner.reply().await, b":1\r\n");
}

/// Lua that hex-encodes a string, so binary replies compare byte for byte
/// (diff_args compares lossy UTF-8).
const HEX: &str = "local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end ";

fn hex_evals(exprs: &[&str]) -> Vec<Vec<Vec<u8>>> {
    exprs
        .iter()
        .map(|e| cmd(&["EVAL", &format!("{HEX}{e}"), "0"]))
        .collect()
}

#[tokio::test]
async fn diff_cmsgpack_pack_bytes() {
    diff_args(&hex_evals(&[
        // Integers of each width, both signs, and the boundaries between.
        "return hex(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296))",
        "return hex(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649))",
        "return hex(cmsgpack.pack(2^53, -2^53, 2^53 + 2, 2^62, -2^63, 9007199254740993))",
        // Floats: float32 when exact, else float64; non-finite and -0.
        "return hex(cmsgpack.pack(0.5, 1.5, -2.25, 1.1, 0.1, 1e300, 3.4028234663852886e38, 1e-45))",
        "return hex(cmsgpack.pack(1/0, -1/0, -0.0, 2^63, 2^64, -2^64))",
        // Strings of each length class.
        "return hex(cmsgpack.pack('', 'a', string.rep('x', 31), string.rep('x', 32)))",
        "return hex(cmsgpack.pack(string.rep('y', 255), string.rep('y', 256)))",
        "return string.sub(hex(cmsgpack.pack(string.rep('z', 65535))), 1, 12)",
        "return string.sub(hex(cmsgpack.pack(string.rep('z', 65536))), 1, 16)",
        "return #cmsgpack.pack(string.rep('z', 65536))",
        "return hex(cmsgpack.pack('\\0\\1\\255'))",
        // Tables: sequences as arrays, the rest as maps, nesting, empty.
        "return hex(cmsgpack.pack({}, {1, 2, 3}, {a = 1}, {1, nil, 3}, {[2] = 1}))",
        "return hex(cmsgpack.pack({[1] = 1, [2] = 2, x = 3}, {true, false}, {[1.5] = 1}, {[0] = 1}, {[-1] = 1}))",
        "return hex(cmsgpack.pack({{1, {2, {3, {}}}}, {a = {b = {c = 'd'}}}}))",
        "local t = {} for i = 1, 15 do t[i] = i end return hex(cmsgpack.pack(t))",
        "local t = {} for i = 1, 16 do t[i] = i end return hex(cmsgpack.pack(t))",
        "local t = {} for i = 1, 20 do t['k' .. i] = i end return hex(cmsgpack.pack(t))",
        "local t = {} for i = 1, 70000 do t[i] = 1 end return string.sub(hex(cmsgpack.pack(t)), 1, 10)",
        "local t = {} for i = 1, 70000 do t['k' .. i] = 1 end return string.sub(hex(cmsgpack.pack(t)), 1, 10)",
        "local t = {} t[1] = t return hex(cmsgpack.pack(t))",
        "local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return hex(cmsgpack.pack(t))",
        "local t = {} local c = t for i = 1, 20 do c.k = {} c = c.k end return hex(cmsgpack.pack(t))",
        // Booleans, nil, and types msgpack lacks (nil in Redis).
        "return hex(cmsgpack.pack(true, false, nil, cjson.null, tostring, coroutine.create(tostring)))",
        // Numbers Lua formats as integers but passes as strings stay strings.
        "return hex(cmsgpack.pack('12', 12))",
    ]))
    .await;
}

#[tokio::test]
async fn diff_cmsgpack_unpack_and_errors() {
    diff_args(&hex_evals(&[
        // Round trips.
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1, 2, {x = 'y'}}, -5, 2.5))}",
        "local t = cmsgpack.unpack(cmsgpack.pack({a = {1, 2}, b = true})) return {t.a[2], tostring(t.b)}",
        "local a, b = cmsgpack.unpack(cmsgpack.pack(0.1, 1e300)) return {tostring(a), tostring(b)}",
        "return tostring(cmsgpack.unpack(cmsgpack.pack(-2^63)))",
        "return hex(cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack({1, {a = 2}}, 'x', 3.5))))",
        // Every decoder tag, including the 64-bit and unsigned ones.
        "return {cmsgpack.unpack('\\204\\255\\208\\128\\205\\1\\0\\209\\255\\0\\206\\0\\1\\0\\0\\210\\255\\255\\255\\0')}",
        "return {tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')), tostring(cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\1'))}",
        "return {tostring(cmsgpack.unpack('\\202\\63\\192\\0\\0')), tostring(cmsgpack.unpack('\\203\\63\\185\\153\\153\\153\\153\\153\\154'))}",
        "return {cmsgpack.unpack('\\217\\3abc\\218\\0\\2de\\219\\0\\0\\0\\1f\\161g')}",
        "return {cmsgpack.unpack('\\220\\0\\2\\1\\2')}",
        "return cmsgpack.unpack('\\221\\0\\0\\0\\1\\7')[1]",
        "return cmsgpack.unpack('\\222\\0\\1\\161a\\1').a",
        "return cmsgpack.unpack('\\223\\0\\0\\0\\1\\161a\\2').a",
        "return {tostring(cmsgpack.unpack('\\192')), tostring(cmsgpack.unpack('\\195')), tostring(cmsgpack.unpack('\\194'))}",
        "return {cmsgpack.unpack('\\255\\224\\127')}",
        "return {cmsgpack.unpack('')}",
        "return {cmsgpack.unpack(12)}",
        // unpack_one / unpack_limit offsets.
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), '1')}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 1, 2)}",
        // Errors, as Redis words and positions them.
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 9)}",
        "return cmsgpack.unpack_limit('a')",
        "return cmsgpack.unpack_limit('a', {})",
        "return cmsgpack.unpack_one('a', 'x')",
        "return cmsgpack.unpack()",
        "return cmsgpack.unpack({})",
        "return cmsgpack.unpack('\\193')",
        "return cmsgpack.unpack('\\196\\1a')",
        "return cmsgpack.unpack('\\205\\1')",
        "return cmsgpack.unpack('\\147\\1\\2')",
        "return cmsgpack.unpack('\\217\\9abc')",
        "return cmsgpack.unpack('\\129\\192\\1')",
        "return cmsgpack.pack()",
        "local p = cmsgpack.pack return p()",
        "return {pcall(cmsgpack.pack)}",
        "return {pcall(cmsgpack.unpack, '\\193')}",
        // Nesting and result counts past the Lua C stack.
        "return cmsgpack.unpack(string.rep('\\145', 5000))",
        "return #cmsgpack.unpack(string.rep('\\145', 3000) .. '\\1')",
        "local x = cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1') return 1",
        "local x = cmsgpack.unpack(string.rep('\\145', 4000) .. '\\1') return 1",
        "local x = cmsgpack.unpack(string.rep('\\129\\1', 3000) .. '\\1') return 1",
        "local x = cmsgpack.unpack(string.rep('\\129\\1', 7000) .. '\\1') return 1",
        "return #{cmsgpack.unpack(string.rep('\\1', 7000))}",
        "return #{cmsgpack.unpack(string.rep('\\1', 7998))}",
        "return #{cmsgpack.unpack(string.rep('\\1', 8000))}",
        "return {cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
        "cmsgpack.pack = nil",
    ]))
    .await;
}

#[tokio::test]
async fn diff_struct() {
    diff_args(&hex_evals(&[
        "return hex(struct.pack('>bBhHlLTiIi2I3i8', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4000000000, -5, 70000, -6))",
        "return hex(struct.pack('<bBhHlLTiIi2I3i8', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4000000000, -5, 70000, -6))",
        "return hex(struct.pack('bhi', 1, 2, 3))",
        "return hex(struct.pack('!bd!2bi<hf>d', 1, 2.5, 3, 4, 5, 1.5, -0.1))",
        "return hex(struct.pack('!bh!bi!4bd', 1, 2, 3, 4, 5, 6))",
        "return hex(struct.pack('i16I12', -1, 5))",
        "return hex(struct.pack('>i1I1', -1, 255))",
        "return hex(struct.pack('sc0xc3s', 'ab', 'cde', 'fghij', ''))",
        "return hex(struct.pack('b', 3.7) .. struct.pack('b', -3.7) .. struct.pack('B', 300) .. struct.pack('I', -1))",
        "return hex(struct.pack('i', '12') .. struct.pack(' > h ', 258))",
        "return hex(struct.pack('x!x', 1) .. struct.pack('!16xi', 1))",
        "return hex(struct.pack('>fd', 0.1, 0.1) .. struct.pack('<fd', 1/0, -0.0))",
        "return {struct.unpack('>i16I12', struct.pack('>i16I12', -1, 5))}",
        "return {struct.unpack('<bBhHlLTiIi2I3', struct.pack('<bBhHlLTiIi2I3', -1, 255, -2, 65535, -3, 2^40, 7, -4, 4000000000, -5, 70000))}",
        "return {struct.unpack('!bd!2bi<hf>d', struct.pack('!bd!2bi<hf>d', 1, 2.5, 3, 4, 5, 1.5, -0.1))}",
        "local a, b, c = struct.unpack('>fd', struct.pack('>fd', 0.1, 0.1)) return {tostring(a), tostring(b), c}",
        "return {struct.unpack('sc3xc2s', 'ab\\0cdeXfgh\\0')}",
        "return {struct.unpack('s', 'ab\\0cd', 4)}",
        "return {struct.unpack(' b b ', '\\1\\2')}",
        "return {struct.unpack('bc0', '\\3abcd')}",
        "return {struct.unpack('bc0', '\\0')}",
        "return {struct.unpack('bb', '\\1\\2', 2)}",
        "return {struct.unpack('b', '\\1\\2', 3)}",
        "return {struct.unpack('>I3i3', '\\255\\255\\255\\255\\255\\255')}",
        "return {struct.size('bhilTfd'), struct.size('!bhilTfd'), struct.size('!8bd'), struct.size('!4bdbhbi'), struct.size('c10'), struct.size('j'), struct.size('x')}",
        // Errors.
        "return struct.pack('z', 1)",
        "return struct.pack('j', 1)",
        "return struct.unpack('c0', 'abc')",
        "return struct.unpack('s', 'abc')",
        "return struct.unpack('i4', 'abc')",
        "return struct.pack('i40', 1)",
        "return struct.pack('!3i', 1)",
        "return struct.size('s')",
        "return struct.size('c0')",
        "return struct.pack('c5', 'abc')",
        "return struct.pack('>i', 'x')",
        "return struct.pack('>i')",
        "return struct.pack('>ii', 1)",
        "return struct.pack('s')",
        "return struct.unpack('>i', 'abcd', 6)",
        "return struct.unpack('>i', 'abcd', 5)",
        "return struct.unpack('>i', 'abcd', 0)",
        "return {struct.unpack('bc0', '\\9abcd')}",
        "return struct.pack('i99999999999', 1)",
        "return struct.unpack()",
        "return struct.unpack('b')",
        "return struct.pack(12, 1)",
        "return struct.pack({}, 1)",
        "return {pcall(struct.pack, 'z')}",
        "struct.pack = nil",
    ]))
    .await;
}

#[tokio::test]
async fn diff_error_objects() {
    diff_args(&evals(&[
        // Redis 7's pcall gives back an error table's `err` text.
        "local ok, e = pcall(redis.call, 'nosuch') return {tostring(ok), type(e), e}",
        "local ok, e = pcall(redis.call, 'incr', 'x', 'y') return {tostring(ok), type(e), e}",
        "redis.call('set', 's', 'x') local ok, e = pcall(redis.call, 'incr', 's') return e",
        "local ok, e = pcall(redis.call) return e",
        "local ok, e = pcall(redis.call, {}) return e",
        "local ok, e = pcall(redis.setresp, 4) return e",
        "local ok, e = pcall(redis.log) return e",
        "local ok, e = pcall(cjson.decode, '[') return e",
        "local ok, e = pcall(function() error('boom') end) return e",
        "local ok, e = pcall(function() error({err = 'X'}) end) return e",
        "local ok, e = pcall(function() error({x = 'X'}) end) return type(e)",
        "local ok, e = pcall(error, {err = 12}) return {type(e), e}",
        "local ok, e = pcall(function() local x = nil + 1 end) return e",
        "return tostring(select(2, pcall(redis.call, 'nosuch')))",
        "return {pcall(function(a, b) return a + b end, 1, 2)}",
        "return pcall(error)",
        "local ok, e = pcall(redis.call, 'nosuch') return redis.call('ping')",
        // xpcall handlers see the table.
        "local ok, e = xpcall(function() redis.call('nosuch') end, function(e) return type(e) end) return e",
        "local ok, e = xpcall(function() redis.call('nosuch') end, function(e) return e.err end) return e",
        "local ok, e = xpcall(function() error('x') end, function(e) return e end) return e",
        // redis.pcall returns the table.
        "local e = redis.pcall('nosuch') return e.err",
        "return redis.pcall('incr', 'x', 'y')",
        // error_reply / status_reply.
        "return redis.error_reply('My')",
        "return redis.error_reply('My err')",
        "return redis.error_reply('-My')",
        "return redis.error_reply('-X  y')",
        "return redis.error_reply('\\r\\nX y\\r\\n')",
        "local e = redis.error_reply('-') return e.err",
        "local e = redis.error_reply('') return e.err",
        "local e = redis.error_reply(12) return e.err",
        "local e = redis.error_reply(1, 2) return e.err",
        "return redis.error_reply()",
        "local e = redis.status_reply(12) return {e.ok, e.err}",
        "local e = redis.status_reply() return e.err",
        "return redis.status_reply('A\\r\\nB')",
        "error(redis.error_reply('XX yy'))",
        "return {err = 12}",
        "return 1 + {}",
        // Other library argument errors.
        "redis.log()",
        "redis.log('x', 'y')",
        "redis.log(99, 'y')",
        "redis.log('2', 'y') return 1",
        "return redis.setresp()",
        "return redis.setresp(2, 3)",
        "redis.setresp('3') return 1",
        "return redis.sha1hex()",
        "return redis.sha1hex(1, 2)",
        "return redis.sha1hex({})",
        "return redis.sha1hex(12)",
        "return redis.call('nosuch')",
        "return cjson.decode('[')",
        // Errors through coroutines.
        "local co = coroutine.create(function() redis.call('nosuch') end) local ok, e = coroutine.resume(co) return {tostring(ok), type(e), e.err}",
        "return {coroutine.resume(coroutine.create(function() error('x') end))}",
        "return {coroutine.resume(coroutine.create(function() cjson.decode('[') end))}",
        "return coroutine.wrap(function() redis.call('nosuch') end)()",
        "local function f()\n  error('deep', 2)\nend\nf()",
        "error('x', 0)",
        "error(12)",
        "error(true)",
        "return #nil",
        "return ('x'):bad()",
        // Numbers past int64 become C's out-of-range cast.
        "return {1e300, -1e300, 2^63, -2^63, 2^62, 0/0, math.huge, -math.huge}",
    ]))
    .await;
}

#[tokio::test]
async fn pcall_gives_error_text_to_scripts() {
    let s = start().await;
    let mut c = s.client().await;
    let r: Vec<String> = redis::cmd("EVAL")
        .arg(
            "local ok, e = pcall(redis.call, 'incr', KEYS[1], 'x') \
             local ok2, t = xpcall(function() redis.call('nosuch') end, function(e) return e end) \
             return {tostring(ok), e, tostring(ok2), t.err}",
        )
        .arg(1)
        .arg("k")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        r,
        [
            "false",
            "ERR Wrong number of args calling Redis command from script",
            "false",
            "ERR Unknown Redis command called from script",
        ]
    );
}

#[tokio::test]
async fn cmsgpack_and_struct_round_trip_through_keys() {
    let s = start().await;
    let mut c = s.client().await;
    // Pack in one script, store, unpack in another: the stored bytes are
    // what cmsgpack.pack produced.
    let _: () = redis::cmd("EVAL")
        .arg(
            "redis.call('set', KEYS[1], cmsgpack.pack({id = 7, tags = {'a', 'b'}}, -300, 1.5)) \
              redis.call('set', KEYS[2], struct.pack('>I2s', 513, 'hi'))",
        )
        .arg(2)
        .arg("m")
        .arg("s")
        .query_async(&mut c)
        .await
        .unwrap();
    let raw: Vec<u8> = redis::cmd("GET")
        .arg("s")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(raw, b"\x02\x01hi\x00");
    let r: Vec<redis::Value> = redis::cmd("EVAL")
        .arg(
            "local t, n, f = cmsgpack.unpack(redis.call('get', KEYS[1])) \
              local a, b = struct.unpack('>I2s', redis.call('get', KEYS[2])) \
              return {t.id, t.tags[2], n, tostring(f), a, b}",
        )
        .arg(2)
        .arg("m")
        .arg("s")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        r,
        vec![
            redis::Value::Int(7),
            redis::Value::BulkString(b"b".to_vec()),
            redis::Value::Int(-300),
            redis::Value::BulkString(b"1.5".to_vec()),
            redis::Value::Int(513),
            redis::Value::BulkString(b"hi".to_vec()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn other_clients_wait_for_a_running_script() {
    // Scripts are atomic, as in Redis: before busy-reply-threshold nothing
    // else runs, so a PING and another EVAL sent meanwhile are answered
    // after the script. They wait off the worker thread (a long script
    // hands its worker off), so the server itself keeps going.
    let s = start().await;
    let mut runner = s.raw().await;
    let mut waiter = s.raw().await;
    let mut other = s.raw().await;
    let started = std::time::Instant::now();
    runner
        .cmd(&[
            b"EVAL",
            b"local t = redis.call('time') local i = 0 \
              while true do i = i + 1 if i % 100000 == 0 then \
              local n = redis.call('time') \
              if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 800000 then break end end end \
              return 'done'",
            b"0",
        ])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    waiter.cmd(&[b"EVAL", b"return 'second'", b"0"]).await;
    assert_eq!(other.call_str("PING").await, b"+PONG\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "PING ran beside the script: {:?}",
        started.elapsed()
    );
    assert_eq!(runner.reply().await, b"$4\r\ndone\r\n");
    assert_eq!(waiter.reply().await, b"$6\r\nsecond\r\n");
}

/// A `__gc` finalizer runs inside Lua allocations, so it may run while
/// redis.call or cjson is converting; calling them again from there is
/// refused (as Redis refuses a nested redis.call) instead of reusing
/// buffers still being read.
#[tokio::test]
async fn finalizers_cannot_reenter_redis_call_or_cjson() {
    let s = start().await;
    let mut c = s.raw().await;
    let script = b"local hits = 0 \
        for i = 1, 200 do \
          local p = newproxy(true) \
          getmetatable(p).__gc = function() \
            pcall(redis.call, 'SET', 'k', string.rep('x', 100)) \
            pcall(cjson.encode, {a = string.rep('y', 100)}) \
            hits = hits + 1 \
          end \
          p = nil \
          redis.call('SET', 'big', string.rep('z', 1000)) \
          local t = redis.call('MGET', 'big', 'big', 'big') \
          cjson.decode(cjson.encode({t, t, t})) \
        end \
        collectgarbage() \
        return {hits, redis.call('STRLEN', 'big')}";
    let r = c.call(&[b"EVAL", script, b"0"]).await;
    assert_eq!(
        r,
        b"*2\r\n:200\r\n:1000\r\n",
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(c.call_str("PING").await, b"+PONG\r\n");
}

/// EVAL / EVAL_RO / SCRIPT LOAD / EVALSHA of scripts with a `#!` line:
/// the flags they declare and the errors of a bad shebang. The engine
/// errors are compared with redis-server 7.0 only: Valkey 8.1 rewrote
/// them (`Could not find scripting engine …`), Redis 7.2 did not
/// (eval.c's evalExtractShebangFlags is the same in 7.0 and 7.2).
fn shebang_cases(with_engine_errors: bool) -> Vec<Vec<Vec<u8>>> {
    let mut cmds = evals(&[
        "#!lua\nreturn 1",
        "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 2",
        "#!lua flags=\nreturn 3",
        "#!lua \"flags=no-writes\"\nreturn 4",
        "#!lua\nreturn redis.call('set','k','v')",
        "#!lua flags=no-writes,foo\nreturn 1",
        "#!lua flags=NO-WRITES\nreturn 1",
        "#!lua flags=no-writes,,allow-oom\nreturn 1",
        "#!lua flags=no-writes,\nreturn 1",
        "#!lua name=x\nreturn 1",
        "#!lua",
        "#!lua \"flags=no-writes\nreturn 1",
        "#!lua flags=no-writes\nreturn redis.call('set','k','v')",
        "#!lua flags=no-writes\nreturn redis.call('get','k')",
        "#!lua flags=no-writes\nreturn redis.call('publish','c','m')",
        "#!lua flags=no-writes\nreturn redis.call('pfcount','h')",
        "#!lua flags=allow-oom\nreturn redis.call('incr','n')",
        "#!lua\nreturn error('x')",
        "#!lua\nsyntax error",
        "#!lua flags=no-writes\nreturn redis.pcall('set','k','v')",
    ]);
    if with_engine_errors {
        cmds.extend(evals(&[
            "#!python\nreturn 1",
            "#!LUA\nreturn 1",
            "#! lua\nreturn 1",
            "#!\nreturn 1",
            // Valkey says "Unknown command"; Redis 7.2 as 7.0.
            "#!lua\n\nreturn redis.call('nosuch')",
        ]));
        cmds.push(cmd(&["SCRIPT", "LOAD", "#!js\nreturn 1"]));
    }
    for args in [
        ["EVAL_RO", "#!lua\nreturn 1", "0"],
        ["EVAL_RO", "#!lua flags=allow-oom\nreturn 1", "0"],
        [
            "EVAL_RO",
            "#!lua flags=no-writes\nreturn redis.call('get','k')",
            "0",
        ],
        ["EVAL_RO", "return redis.call('publish','c','m')", "0"],
        ["EVAL_RO", "return redis.call('pfcount','h')", "0"],
        ["SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1"],
        [
            "SCRIPT",
            "LOAD",
            "#!lua flags=no-writes\nreturn redis.call('set','k','v')",
        ],
        ["SCRIPT", "LOAD", "#!lua\nreturn redis.call('get','k')"],
    ] {
        cmds.push(cmd(&args));
    }
    // The cached scripts keep their flags for EVALSHA and EVALSHA_RO.
    let no_writes = support_sha("#!lua flags=no-writes\nreturn redis.call('set','k','v')");
    let writes = support_sha("#!lua\nreturn redis.call('get','k')");
    for args in [
        ["EVALSHA", no_writes.as_str(), "0"],
        ["EVALSHA_RO", no_writes.as_str(), "0"],
        ["EVALSHA", writes.as_str(), "0"],
        ["EVALSHA_RO", writes.as_str(), "0"],
    ] {
        cmds.push(cmd(&args));
    }
    cmds
}

fn support_sha(body: &str) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

#[tokio::test]
async fn diff_eval_shebang() {
    diff_args(&shebang_cases(true)).await;
}

#[tokio::test]
async fn diff_eval_shebang_72() {
    support::diff_args_72(&shebang_cases(false)).await;
}

/// Over `maxmemory`, a script that declares it may write (no `no-writes`,
/// no `allow-oom`) is refused before it runs, in MULTI too; the others run
/// as their flags say (Redis's processCommand with evalGetCommandFlags).
#[tokio::test]
async fn diff_eval_shebang_oom() {
    let Some(oracle) = support::Oracle::start().await else {
        return;
    };
    let server = start().await;
    let mut a = server.raw().await;
    let mut b = oracle.raw().await;
    let write = "#!lua\nreturn redis.call('get','k')";
    let cmds: Vec<Vec<Vec<u8>>> = vec![
        cmd(&["SET", "k", "v"]),
        cmd(&["SCRIPT", "LOAD", write]),
        cmd(&["CONFIG", "SET", "maxmemory", "1"]),
        cmd(&["EVAL", write, "0"]),
        cmd(&["EVALSHA", &support_sha(write), "0"]),
        cmd(&["EVAL_RO", write, "0"]),
        cmd(&[
            "EVAL",
            "#!lua flags=allow-oom\nreturn redis.call('set','k','v2')",
            "0",
        ]),
        cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get','k')",
            "0",
        ]),
        cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('set','k','x')",
            "0",
        ]),
        cmd(&["EVAL", "return redis.call('get','k')", "0"]),
        cmd(&["EVAL", "return redis.call('set','k','v3')", "0"]),
        cmd(&["MULTI"]),
        cmd(&["EVAL", write, "0"]),
        cmd(&["EXEC"]),
        cmd(&["CONFIG", "SET", "maxmemory", "0"]),
        cmd(&["EVAL", write, "0"]),
    ];
    support::compare(&mut a, &mut b, &cmds).await;
}

/// After a failed background save, a script that may write is refused
/// with MISCONF before it runs; `no-writes` scripts and scripts without a
/// shebang run (the latter's writes fail inside).
#[tokio::test]
async fn diff_eval_shebang_misconf() {
    let theirs = support::temp_dir("shebang-misconf-redis");
    let ours = support::temp_dir("shebang-misconf-ours");
    let Some(oracle) =
        support::Oracle::start_with(&["--dir", theirs.to_str().expect("utf8"), "--save", "3600 1"])
            .await
    else {
        return;
    };
    let server = crate::support::start_with(keyward::Config {
        persistence: true,
        dir: ours.clone(),
        save: "3600 1".into(),
        ..keyward::Config::default()
    })
    .await;
    let mut a = server.raw().await;
    let mut b = oracle.raw().await;
    // Both directories vanish: the next save fails. Redis's foreground
    // SAVE does not stop writes, its BGSAVE does; keyward's BGSAVE fails
    // before it starts (the file cannot be created), its SAVE stops writes.
    std::fs::remove_dir_all(&theirs).expect("rm");
    std::fs::remove_dir_all(&ours).expect("rm");
    for (r, save) in [(&mut a, &b"SAVE"[..]), (&mut b, &b"BGSAVE"[..])] {
        r.call(&[save]).await;
        let mut failed = false;
        for _ in 0..500 {
            let info =
                String::from_utf8_lossy(&r.call(&[b"INFO", b"persistence"]).await).into_owned();
            if info.contains("rdb_last_bgsave_status:err")
                && info.contains("rdb_bgsave_in_progress:0")
            {
                failed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(failed, "the background save did not fail");
    }
    let cmds: Vec<Vec<Vec<u8>>> = vec![
        cmd(&["SET", "a", "b"]),
        cmd(&["EVAL", "#!lua\nreturn 1", "0"]),
        cmd(&["EVAL", "#!lua flags=allow-oom\nreturn 1", "0"]),
        cmd(&["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]),
        cmd(&["EVAL", "return 1", "0"]),
        cmd(&["EVAL", "return redis.call('set','a','b')", "0"]),
        cmd(&["EVAL_RO", "#!lua\nreturn 1", "0"]),
        cmd(&["MULTI"]),
        cmd(&["EVAL", "#!lua\nreturn 1", "0"]),
        cmd(&["EVAL", "#!lua flags=no-writes\nreturn 1", "0"]),
        cmd(&["EXEC"]),
    ];
    support::compare(&mut a, &mut b, &cmds).await;
}
