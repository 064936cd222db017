//! Integration tests: Redis 7 functions (FUNCTION …, FCALL, FCALL_RO)
//! against redis-server, their flags, BUSY and FUNCTION KILL, persistence
//! (RDB, AOF, Redis's own files) and what DB-pinned users may do.

use std::time::Duration;

use keyward::config::{DbConfig, UserConfig};
use keyward::Config;

use crate::support::{compare, start, start_with, temp_dir, Oracle, Raw};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn args(a: &[&str]) -> Vec<Vec<u8>> {
    a.iter().map(|x| x.as_bytes().to_vec()).collect()
}

async fn call(r: &mut Raw, a: &[&str]) -> String {
    let a: Vec<&[u8]> = a.iter().map(|x| x.as_bytes()).collect();
    s(&r.call(&a).await)
}

const LIB1: &str = "#!lua name=lib1\n\
redis.register_function('echo', function(keys, args) return {keys, args} end)";

const LIB2: &str = "#!lua name=lib2\n\
redis.register_function{function_name='put', callback=function(keys, args) \
return redis.call('set', keys[1], args[1]) end, description='sets a key'}\n\
redis.register_function{function_name='get', callback=function(keys) \
return redis.call('get', keys[1]) end, flags={'no-writes'}}\n\
redis.register_function{function_name='sneaky', callback=function(keys) \
return redis.call('set', keys[1], 'x') end, flags={'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}";

/// Load, list, call, delete, flush and their errors, byte for byte.
#[tokio::test]
async fn differential_load_list_call_delete() {
    let Some(oracle) = Oracle::start().await else {
        return;
    };
    let srv = start().await;
    let mut a = srv.raw().await;
    let mut b = oracle.raw().await;
    let lib = |name: &str, body: &str| format!("#!lua name={name}\n{body}");
    let mut cmds = vec![
        args(&["FUNCTION", "FLUSH"]),
        args(&["FUNCTION", "LOAD", LIB1]),
        args(&["FUNCTION", "LOAD", LIB1]),
        args(&["FUNCTION", "LOAD", "REPLACE", LIB1]),
        args(&["FUNCTION", "LOAD", LIB2]),
        args(&["FUNCTION", "LIST", "LIBRARYNAME", "lib1"]),
        args(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "LIB1"]),
        args(&["FUNCTION", "LIST", "LIBRARYNAME", "nosuch*"]),
        args(&["FUNCTION", "LIST", "LIBRARYNAME"]),
        args(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]),
        args(&["FUNCTION", "LIST", "bogus"]),
        args(&["FUNCTION", "STATS"]),
        args(&["FCALL", "echo", "0"]),
        args(&["FCALL", "echo", "2", "k1", "k2", "a1", "a2"]),
        args(&["FCALL", "echo", "3", "k1"]),
        args(&["FCALL", "echo", "-1"]),
        args(&["FCALL", "echo", "x"]),
        args(&["FCALL", "nosuch", "0"]),
        args(&["FCALL_RO", "echo", "0"]),
        args(&["FCALL", "put", "1", "k", "v"]),
        args(&["FCALL_RO", "get", "1", "k"]),
        args(&["FCALL", "get", "1", "k"]),
        args(&["FCALL", "sneaky", "1", "k"]),
        args(&["FCALL_RO", "sneaky", "1", "k"]),
        args(&["FCALL_RO", "put", "1", "k", "v"]),
        args(&["FUNCTION", "KILL"]),
        args(&["FUNCTION", "DELETE", "nosuch"]),
        args(&["FUNCTION", "DELETE", "lib2"]),
        args(&["FCALL", "put", "1", "k", "v"]),
        args(&["FUNCTION", "FLUSH", "bogus"]),
        args(&["FUNCTION", "FLUSH", "SYNC", "x"]),
        args(&["FUNCTION", "RESTORE", "junk"]),
        args(&["FUNCTION", "RESTORE", "junk", "bogus"]),
        args(&["FUNCTION", "RESTORE", "junk", "FLUSH", "x"]),
        args(&["FUNCTION", "HELP"]),
        args(&["FUNCTION", "LOAD"]),
        args(&["FUNCTION", "LOAD", "bogus", LIB1]),
        args(&["FUNCTION", "LOAD", "REPLACE"]),
        args(&["FUNCTION", "LOAD", "lua name=x"]),
        args(&["FUNCTION", "LOAD", "#!lua name=x"]),
        args(&["FUNCTION", "LOAD", "#!lua2 name=x\n"]),
        args(&["FUNCTION", "LOAD", "#!LUA name=x-y\n"]),
        args(&["FUNCTION", "LOAD", "#!lua foo=x\n"]),
        args(&["FUNCTION", "LOAD", "#!lua name=a name=b\n"]),
        args(&["FUNCTION", "LOAD", "#!lua\n"]),
        // A function name another library has.
        args(&[
            "FUNCTION",
            "LOAD",
            &lib("other", "redis.register_function('echo', function() end)"),
        ]),
        args(&["FUNCTION", "FLUSH", "ASYNC"]),
        args(&["FUNCTION", "STATS"]),
        args(&["FUNCTION", "LIST"]),
    ];
    // Library bodies that fail (the restricted load-time environment) or
    // register oddly.
    for body in [
        "local x = 1",
        "local x = ",
        "return math.random()",
        "redis.call('set', 'a', 'b')",
        "a = 1",
        "redis = 1",
        "error('boom')",
        "return redis.setresp",
        "return redis.sha1hex('a')",
        "redis.register_function()",
        "redis.register_function('a', function() end, 3)",
        "redis.register_function('f', function() end) redis.register_function('f', function() end)",
        "redis.register_function('a', 1)",
        "redis.register_function(1)",
        "redis.register_function({foo = 1})",
        "redis.register_function({[1] = 2})",
        "redis.register_function({function_name = 'f'})",
        "redis.register_function({callback = function() end})",
        "redis.register_function({function_name = 'f', callback = 1})",
        "redis.register_function({function_name = 'f', callback = function() end, flags = 1})",
        "redis.register_function({function_name = 'f', callback = function() end, flags = {'bad'}})",
        "redis.register_function({function_name = 'f', callback = function() end, flags = {1}})",
        "redis.register_function({function_name = 'f', callback = function() end, description = 1})",
        "redis.register_function(1, function() return 1 end)",
        "redis.log(redis.LOG_WARNING, 'loading') redis.register_function('v', function() return redis.REDIS_VERSION_NUM > 0 end)",
        "while true do end",
    ] {
        cmds.push(args(&["FUNCTION", "LOAD", "REPLACE", &lib("body", body)]));
        cmds.push(args(&["FUNCTION", "LIST", "LIBRARYNAME", "body"]));
    }
    // Runtime errors, with the function's name and line.
    for body in [
        "redis.register_function('r', function() return error('x') end)",
        "redis.register_function('r', function() return redis.call('nosuch') end)",
        "redis.register_function('r', function() return KEYS end)",
        "redis.register_function('r', function() x = 1 end)",
        "redis.register_function('r', function() return redis.pcall('incr', 'k') end)",
        "local function h(a) return a + 1 end\nredis.register_function('r', function(k, a) return h(tonumber(a[1])) end)",
        "redis.register_function('r', function() redis.setresp(3) return redis.call('hgetall', 'nosuch') end)",
    ] {
        cmds.push(args(&["FUNCTION", "LOAD", "REPLACE", &lib("rt", body)]));
        cmds.push(args(&["FCALL", "r", "0", "41"]));
    }
    a.call(&[b"FLUSHALL"]).await;
    b.call(&[b"FLUSHALL"]).await;
    compare(&mut a, &mut b, &cmds).await;
    // RESP3: maps and sets in LIST and STATS.
    let rest = [
        args(&["FUNCTION", "FLUSH"]),
        args(&["FUNCTION", "LOAD", LIB1]),
        args(&["FUNCTION", "LIST", "WITHCODE"]),
        args(&["FUNCTION", "STATS"]),
        args(&["FCALL", "echo", "1", "k", "a"]),
    ];
    let mut a = srv.raw().await;
    let mut b = oracle.raw().await;
    // HELLO's own reply names the servers' versions: not compared.
    a.call(&[b"HELLO", b"3"]).await;
    b.call(&[b"HELLO", b"3"]).await;
    compare(&mut a, &mut b, &rest).await;
}

/// Redis 7.2's text for a bad function name (7.0, the oracle, wrongly
/// says "Library names").
#[tokio::test]
async fn bad_function_name_is_redis_7_2s_error() {
    let srv = start().await;
    let mut r = srv.raw().await;
    assert_eq!(
        call(
            &mut r,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=x\nredis.register_function('f-1', function() end)"
            ]
        )
        .await,
        "-ERR Error registering functions: ERR Function names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n"
    );
}

fn bulk(reply: &[u8]) -> Vec<u8> {
    crate::support::bulk_payload(reply).expect("a bulk reply")
}

/// FUNCTION DUMP of redis-server restores here (and ours restores here):
/// the same libraries, the same policies and errors.
#[tokio::test]
async fn dump_and_restore_across_servers() {
    let srv = start().await;
    let mut a = srv.raw().await;
    if let Some(oracle) = Oracle::start().await {
        let mut b = oracle.raw().await;
        b.call(&[b"FUNCTION", b"FLUSH"]).await;
        for lib in [LIB1, LIB2] {
            b.call(&[b"FUNCTION", b"LOAD", lib.as_bytes()]).await;
        }
        let payload = bulk(&b.call(&[b"FUNCTION", b"DUMP"]).await);
        assert_eq!(
            call(&mut a, &["FUNCTION", "LOAD", LIB1]).await,
            "$4\r\nlib1\r\n"
        );
        // APPEND (the default) refuses an existing library.
        assert_eq!(
            s(&a.call(&[b"FUNCTION", b"RESTORE", &payload]).await),
            "-ERR Library lib1 already exists\r\n"
        );
        let lists =
            |r: &'static str| vec![args(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", r])];
        assert_eq!(
            s(&a.call(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"])
                .await),
            "+OK\r\n"
        );
        // (A library's functions come in Redis's hash order: one-function
        // libraries compare byte for byte.)
        compare(&mut a, &mut b, &lists("lib1")).await;
        let lib2 = call(
            &mut a,
            &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "lib2"],
        )
        .await;
        assert!(lib2.contains("sneaky") && lib2.contains(LIB2), "{lib2}");
        assert_eq!(
            s(&a.call(&[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"]).await),
            "+OK\r\n"
        );
        compare(&mut a, &mut b, &lists("lib1")).await;
        compare(
            &mut a,
            &mut b,
            &[
                args(&["FCALL", "echo", "1", "k", "v"]),
                args(&["FUNCTION", "STATS"]),
            ],
        )
        .await;
        // Errors on a damaged payload are Redis's.
        let mut bad = payload.clone();
        bad[3] ^= 0xff;
        compare(
            &mut a,
            &mut b,
            &[vec![b"FUNCTION".to_vec(), b"RESTORE".to_vec(), bad]],
        )
        .await;
    }
    // Our own DUMP: version 11 with a CRC64, restorable into a fresh server.
    a.call(&[b"FUNCTION", b"FLUSH"]).await;
    for lib in [LIB1, LIB2] {
        a.call(&[b"FUNCTION", b"LOAD", lib.as_bytes()]).await;
    }
    let ours = bulk(&a.call(&[b"FUNCTION", b"DUMP"]).await);
    assert_eq!(ours[0], 0xF5, "a FUNCTION2 record");
    assert_eq!(&ours[ours.len() - 10..ours.len() - 8], &[11, 0]);
    let listed = a.call(&[b"FUNCTION", b"LIST", b"WITHCODE"]).await;
    let other = start().await;
    let mut c = other.raw().await;
    assert_eq!(
        s(&c.call(&[b"FUNCTION", b"RESTORE", &ours]).await),
        "+OK\r\n"
    );
    assert_eq!(
        s(&c.call(&[b"FUNCTION", b"LIST", b"WITHCODE"]).await),
        s(&listed)
    );
    // A payload that is not functions.
    let key_dump = {
        c.call(&[b"SET", b"k", b"v"]).await;
        bulk(&c.call(&[b"DUMP", b"k"]).await)
    };
    assert_eq!(
        s(&c.call(&[b"FUNCTION", b"RESTORE", &key_dump]).await),
        "-ERR given type is not a function\r\n"
    );
}

/// Writes refused in no-writes functions; OOM refuses a function that may
/// write unless it has allow-oom.
#[tokio::test]
async fn flags_no_writes_and_allow_oom() {
    let mut d = DbConfig::new(1);
    d.maxmemory = 1;
    let srv = start_with(Config {
        dbs: vec![d],
        ..Config::default()
    })
    .await;
    let mut r = srv.raw().await;
    assert_eq!(
        call(&mut r, &["FUNCTION", "LOAD", LIB2]).await,
        "$4\r\nlib2\r\n"
    );
    let oom_lib = "#!lua name=oom\n\
        redis.register_function{function_name='force', callback=function(keys) \
        return redis.call('set', keys[1], 'v') end, flags={'allow-oom'}}";
    assert_eq!(
        call(&mut r, &["FUNCTION", "LOAD", oom_lib]).await,
        "$3\r\noom\r\n"
    );
    assert_eq!(
        call(&mut r, &["FCALL", "sneaky", "1", "k"]).await,
        "-ERR Write commands are not allowed from read-only scripts. script: sneaky, on @user_function:4.\r\n"
    );
    // DB 1 is over its 1-byte limit with noeviction.
    call(&mut r, &["SELECT", "1"]).await;
    assert_eq!(
        call(&mut r, &["FCALL", "put", "1", "k", "v"]).await,
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    // Read-only functions and allow-oom ones run.
    assert_eq!(call(&mut r, &["FCALL", "get", "1", "k"]).await, "$-1\r\n");
    assert_eq!(
        call(&mut r, &["FCALL_RO", "get", "1", "k"]).await,
        "$-1\r\n"
    );
    assert_eq!(call(&mut r, &["FCALL", "force", "1", "k"]).await, "+OK\r\n");
    assert_eq!(call(&mut r, &["GET", "k"]).await, "$1\r\nv\r\n");
}

/// A long function: others get the BUSY that names FUNCTION KILL, SCRIPT
/// KILL refuses it, FUNCTION STATS shows it, FUNCTION KILL ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn busy_stats_and_function_kill() {
    let srv = start_with(Config {
        busy_reply_threshold: 50,
        ..Config::default()
    })
    .await;
    let mut other = srv.raw().await;
    let spin = "#!lua name=spin\nredis.register_function{function_name='spin', \
        callback=function() while true do end end, flags={'no-writes'}}";
    assert_eq!(
        call(&mut other, &["FUNCTION", "LOAD", spin]).await,
        "$4\r\nspin\r\n"
    );
    let mut runner = srv.raw().await;
    runner.cmd(&[b"FCALL", b"spin", b"0", b"arg"]).await;
    // FUNCTION STATS (allow-busy) once the function runs.
    let mut stats = call(&mut other, &["FUNCTION", "STATS"]).await;
    for _ in 0..1000 {
        if !stats.contains("running_script\r\n$-1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        stats = call(&mut other, &["FUNCTION", "STATS"]).await;
    }
    assert!(
        stats.starts_with(
            "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*4\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$3\r\narg\r\n$11\r\nduration_ms\r\n:"
        ),
        "{stats}"
    );
    assert_eq!(
        call(&mut other, &["PING"]).await,
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(
        call(&mut other, &["SCRIPT", "KILL"]).await,
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(call(&mut other, &["FUNCTION", "KILL"]).await, "+OK\r\n");
    let reply = s(&runner.reply().await);
    assert!(
        reply.starts_with(
            "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:"
        ),
        "{reply}"
    );
    assert_eq!(call(&mut other, &["PING"]).await, "+PONG\r\n");
    assert_eq!(
        call(&mut other, &["FUNCTION", "KILL"]).await,
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    // FUNCTION KILL does not kill an EVAL.
    runner.cmd(&[b"EVAL", b"while true do end", b"0"]).await;
    let mut r = call(&mut other, &["FUNCTION", "KILL"]).await;
    for _ in 0..1000 {
        if !r.starts_with("-NOTBUSY") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        r = call(&mut other, &["FUNCTION", "KILL"]).await;
    }
    assert_eq!(
        r,
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(call(&mut other, &["SCRIPT", "KILL"]).await, "+OK\r\n");
    runner.reply().await;
}

fn persisted(dir: &std::path::Path) -> Config {
    Config {
        persistence: true,
        dir: dir.to_path_buf(),
        save: String::new(),
        ..Config::default()
    }
}

/// Libraries survive SAVE + restart, BGSAVE + restart, and an AOF replay
/// (LOAD, DELETE, RESTORE as logged effects).
#[tokio::test]
async fn libraries_survive_rdb_and_aof_restarts() {
    let dir = temp_dir("functions-rdb");
    let c = persisted(&dir);
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    call(&mut r, &["FUNCTION", "LOAD", LIB1]).await;
    call(&mut r, &["FUNCTION", "LOAD", LIB2]).await;
    let listed = call(&mut r, &["FUNCTION", "LIST", "WITHCODE"]).await;
    assert_eq!(call(&mut r, &["SAVE"]).await, "+OK\r\n");
    srv.handle.shutdown().await;
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    assert_eq!(
        call(&mut r, &["FUNCTION", "LIST", "WITHCODE"]).await,
        listed
    );
    assert_eq!(
        call(&mut r, &["FCALL", "echo", "1", "k", "a"]).await,
        "*2\r\n*1\r\n$1\r\nk\r\n*1\r\n$1\r\na\r\n"
    );
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    let dir = temp_dir("functions-aof");
    let c = Config {
        appendonly: true,
        ..persisted(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    call(&mut r, &["FUNCTION", "LOAD", LIB1]).await;
    call(&mut r, &["FUNCTION", "LOAD", LIB2]).await;
    let payload = bulk(&r.call(&[b"FUNCTION", b"DUMP"]).await);
    call(&mut r, &["FUNCTION", "DELETE", "lib1"]).await;
    assert_eq!(
        call(&mut r, &["FCALL", "put", "1", "k", "v"]).await,
        "+OK\r\n"
    );
    let rewrite = "#!lua name=lib3\nredis.register_function('three', function() return 3 end)";
    call(&mut r, &["FUNCTION", "LOAD", rewrite]).await;
    let listed = call(&mut r, &["FUNCTION", "LIST", "WITHCODE"]).await;
    srv.handle.shutdown().await;
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    assert_eq!(
        call(&mut r, &["FUNCTION", "LIST", "WITHCODE"]).await,
        listed
    );
    assert_eq!(call(&mut r, &["GET", "k"]).await, "$1\r\nv\r\n");
    // RESTORE FLUSH, then a rewrite: the base carries the libraries.
    assert_eq!(
        s(&r.call(&[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"]).await),
        "+OK\r\n"
    );
    let listed = call(&mut r, &["FUNCTION", "LIST", "WITHCODE"]).await;
    assert!(
        listed.contains("lib1") && !listed.contains("lib3"),
        "{listed}"
    );
    assert!(call(&mut r, &["BGREWRITEAOF"]).await.starts_with('+'));
    for _ in 0..500 {
        let info = call(&mut r, &["INFO", "persistence"]).await;
        if info.contains("aof_rewrite_in_progress:0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    srv.handle.shutdown().await;
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    assert_eq!(
        call(&mut r, &["FUNCTION", "LIST", "WITHCODE"]).await,
        listed
    );
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Redis's own RDB files with a library load here, and FCALL runs it.
#[tokio::test]
async fn redis_rdb_files_with_functions_load() {
    for f in ["redis-7.0.15-function.rdb", "redis-7.2.6-function.rdb"] {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/rdb")
            .join(f);
        let Ok(bytes) = std::fs::read(&src) else {
            eprintln!("skipped: {} is not there", src.display());
            return;
        };
        let dir = temp_dir("functions-fixture");
        std::fs::write(dir.join("dump.rdb"), bytes).expect("copy");
        let srv = start_with(persisted(&dir)).await;
        let mut r = srv.raw().await;
        let listed = call(&mut r, &["FUNCTION", "LIST"]).await;
        assert!(
            listed.contains("mylib") && listed.contains("echo1"),
            "{f}: {listed}"
        );
        assert_eq!(
            call(&mut r, &["FCALL", "echo1", "0", "hi"]).await,
            "$2\r\nhi\r\n",
            "{f}"
        );
        srv.handle.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

const PW: &str = "tenant-pw";

fn user(name: &str, rules: &str) -> UserConfig {
    UserConfig {
        name: name.into(),
        password_env: None,
        rules: rules.into(),
        password: None,
        words: None,
    }
}

fn tenants(per_db: bool) -> Config {
    Config {
        users: vec![
            user("default", &format!("on >{PW} alldbs ~* &* +@all")),
            user("t1", &format!("on >{PW} db=1 ~* &* +@all")),
            user("t2", &format!("on >{PW} db=2 ~* &* +@all")),
        ],
        script_per_db: per_db,
        ..Config::default()
    }
}

async fn login(srv: &crate::support::TestServer, name: &str) -> Raw {
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["AUTH", name, PW]).await, "+OK\r\n");
    r
}

/// Under `script-scope global` the libraries are every tenant's: a pinned
/// user may call them but not change them, and not kill another DB's
/// function.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pinned_users_under_global_scope() {
    let srv = start_with(Config {
        busy_reply_threshold: 50,
        ..tenants(false)
    })
    .await;
    let mut adm = login(&srv, "default").await;
    assert_eq!(
        call(&mut adm, &["FUNCTION", "LOAD", LIB1]).await,
        "$4\r\nlib1\r\n"
    );
    let payload = bulk(&adm.call(&[b"FUNCTION", b"DUMP"]).await);
    let mut t1 = login(&srv, "t1").await;
    for (a, name) in [
        (&["FUNCTION", "LOAD", "REPLACE", LIB1][..], "function|load"),
        (&["FUNCTION", "DELETE", "lib1"], "function|delete"),
        (&["FUNCTION", "FLUSH"], "function|flush"),
    ] {
        assert_eq!(
            call(&mut t1, a).await,
            format!(
                "-NOPERM User t1 is restricted to its databases and '{name}' acts outside them\r\n"
            )
        );
    }
    assert_eq!(
        s(&t1.call(&[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"]).await),
        "-NOPERM User t1 is restricted to its databases and 'function|restore' acts outside them\r\n"
    );
    let log = call(&mut adm, &["ACL", "LOG"]).await;
    assert!(log.contains("function|flush"), "{log}");
    // Calling, listing and stats are fine.
    assert_eq!(
        call(&mut t1, &["FCALL", "echo", "0", "x"]).await,
        "*2\r\n*0\r\n*1\r\n$1\r\nx\r\n"
    );
    assert!(call(&mut t1, &["FUNCTION", "LIST"]).await.contains("lib1"));
    // The admin's function running in DB 0: t1 cannot kill it or see it.
    let spin = "#!lua name=spin\nredis.register_function{function_name='spin', \
        callback=function() local t = redis.call('time') while true do \
        local n = redis.call('time') if n[1] - t[1] >= 3 then break end end return 1 end, \
        flags={'no-writes'}}";
    assert_eq!(
        call(&mut adm, &["FUNCTION", "LOAD", spin]).await,
        "$4\r\nspin\r\n"
    );
    let mut runner = login(&srv, "default").await;
    runner.cmd(&[b"FCALL", b"spin", b"0"]).await;
    let mut running = false;
    for _ in 0..1000 {
        let stats = call(&mut adm, &["FUNCTION", "STATS"]).await;
        if !stats.contains("running_script\r\n$-1") {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(running);
    assert_eq!(
        call(&mut t1, &["FUNCTION", "KILL"]).await,
        "-NOPERM User t1 is restricted to its databases and 'function|kill' acts outside them\r\n"
    );
    assert_eq!(runner.reply().await, b":1\r\n");
}

/// Under `script-scope db` each DB has its own libraries: tenants load,
/// call, list, flush and restore only their own.
#[tokio::test]
async fn pinned_users_under_db_scope() {
    let srv = start_with(tenants(true)).await;
    let mut t1 = login(&srv, "t1").await;
    let mut t2 = login(&srv, "t2").await;
    assert_eq!(
        call(&mut t1, &["FUNCTION", "LOAD", LIB1]).await,
        "$4\r\nlib1\r\n"
    );
    assert_eq!(
        call(&mut t2, &["FCALL", "echo", "0"]).await,
        "-ERR Function not found\r\n"
    );
    assert_eq!(call(&mut t2, &["FUNCTION", "LIST"]).await, "*0\r\n");
    // The same library name in another DB is another library.
    assert_eq!(
        call(&mut t2, &["FUNCTION", "LOAD", LIB1]).await,
        "$4\r\nlib1\r\n"
    );
    assert_eq!(call(&mut t2, &["FUNCTION", "FLUSH"]).await, "+OK\r\n");
    assert_eq!(
        call(&mut t1, &["FCALL", "echo", "0"]).await,
        "*2\r\n*0\r\n*0\r\n"
    );
    let payload = bulk(&t1.call(&[b"FUNCTION", b"DUMP"]).await);
    assert_eq!(
        s(&t2.call(&[b"FUNCTION", b"RESTORE", &payload]).await),
        "+OK\r\n"
    );
    assert!(call(&mut t2, &["FUNCTION", "LIST"]).await.contains("lib1"));
    assert_eq!(
        call(&mut t1, &["FUNCTION", "DELETE", "lib1"]).await,
        "+OK\r\n"
    );
    assert!(call(&mut t2, &["FUNCTION", "LIST"]).await.contains("lib1"));
    // Stats count the caller's DB.
    assert!(call(&mut t1, &["FUNCTION", "STATS"])
        .await
        .contains("libraries_count\r\n:0"));
    assert!(call(&mut t2, &["FUNCTION", "STATS"])
        .await
        .contains("libraries_count\r\n:1"));
}

/// Per-DB libraries survive a restart in their own DBs.
#[tokio::test]
async fn per_db_libraries_survive_a_restart() {
    let dir = temp_dir("functions-per-db");
    let c = Config {
        script_per_db: true,
        ..persisted(&dir)
    };
    let srv = start_with(c.clone()).await;
    let mut r = srv.raw().await;
    call(&mut r, &["SELECT", "3"]).await;
    call(&mut r, &["FUNCTION", "LOAD", LIB1]).await;
    call(&mut r, &["SELECT", "5"]).await;
    call(&mut r, &["FUNCTION", "LOAD", LIB2]).await;
    assert_eq!(call(&mut r, &["SAVE"]).await, "+OK\r\n");
    srv.handle.shutdown().await;
    let srv = start_with(c).await;
    let mut r = srv.raw().await;
    assert_eq!(call(&mut r, &["FUNCTION", "LIST"]).await, "*0\r\n");
    call(&mut r, &["SELECT", "3"]).await;
    let l3 = call(&mut r, &["FUNCTION", "LIST"]).await;
    assert!(l3.contains("lib1") && !l3.contains("lib2"), "{l3}");
    call(&mut r, &["SELECT", "5"]).await;
    let l5 = call(&mut r, &["FUNCTION", "LIST"]).await;
    assert!(l5.contains("lib2") && !l5.contains("lib1"), "{l5}");
    srv.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A parsed RESP2 reply, for replies whose element order is a hash
/// table's (FUNCTION LIST walks dicts in Redis): compared after sorting.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
enum Resp {
    Line(u8, String),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

fn parse_resp(b: &[u8]) -> (Resp, usize) {
    let nl = b.windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let line = std::str::from_utf8(&b[1..nl]).expect("ASCII header");
    match b[0] {
        b'$' => {
            let n: i64 = line.parse().expect("bulk length");
            if n < 0 {
                return (Resp::Bulk(None), nl + 2);
            }
            let end = nl + 2 + n as usize;
            (Resp::Bulk(Some(b[nl + 2..end].to_vec())), end + 2)
        }
        b'*' => {
            let n: i64 = line.parse().expect("array length");
            if n < 0 {
                return (Resp::Array(None), nl + 2);
            }
            let mut pos = nl + 2;
            let mut items = Vec::new();
            for _ in 0..n {
                let (v, used) = parse_resp(&b[pos..]);
                items.push(v);
                pos += used;
            }
            (Resp::Array(Some(items)), pos)
        }
        t => (Resp::Line(t, line.to_string()), nl + 2),
    }
}

/// FUNCTION LIST with its libraries, and each library's functions, in
/// sorted order (Redis lists them in dict order, which is random).
fn sorted_function_list(reply: &[u8]) -> Resp {
    let (mut v, _) = parse_resp(reply);
    if let Resp::Array(Some(libs)) = &mut v {
        for lib in libs.iter_mut() {
            if let Resp::Array(Some(fields)) = lib {
                for pair in fields.chunks_mut(2) {
                    if pair[0] == Resp::Bulk(Some(b"functions".to_vec())) {
                        if let Resp::Array(Some(fs)) = &mut pair[1] {
                            fs.sort();
                        }
                    }
                }
            }
        }
        libs.sort();
    }
    v
}

/// A random library from a small space of names, function names, bodies
/// and flags, so that loads collide (library exists, function exists),
/// replace, fail to compile or to register, and calls hit functions that
/// write, read, fail or are refused by their flags.
fn random_library(rng: &mut rand::rngs::StdRng) -> String {
    use rand::seq::SliceRandom;
    use rand::Rng;
    const BODIES: &[&str] = &[
        "return redis.call('set', keys[1], args[1])",
        "return redis.call('get', keys[1])",
        "return redis.call('incr', keys[1])",
        "return {keys[1], args[1], #keys, #args}",
        "return redis.pcall('lpush', keys[1], 'x')",
        "return redis.error_reply('my error')",
        "return redis.status_reply('FINE')",
        "error('raised')",
        "return redis.call('nosuchcommand')",
        "return 3.7",
        "return {1, 2, {3, 'four'}, false, true}",
    ];
    const FLAGS: &[&str] = &["no-writes", "allow-oom", "allow-stale", "no-cluster"];
    let name = ["la", "lb", "lc"][rng.gen_range(0..3)];
    let mut code = format!("#!lua name={name}\n");
    if rng.gen_bool(0.05) {
        code = "#!lua\n".into();
    }
    // Distinct names within a library: Redis 7.2 refuses a second
    // registration of a name at once ("Function already exists in the
    // library"), Valkey 8.1 only after the library ran; the 7.0 oracle
    // checks ours in `differential_load_list_call_delete`.
    let mut names = vec!["f1", "f2", "f3", "f4", "f5"];
    names.shuffle(rng);
    for f in names.into_iter().take(rng.gen_range(0..4)) {
        let body = BODIES[rng.gen_range(0..BODIES.len())];
        let flags: Vec<String> = FLAGS
            .iter()
            .filter(|_| rng.gen_bool(0.3))
            .map(|f| format!("'{f}'"))
            .collect();
        if flags.is_empty() && rng.gen_bool(0.5) {
            code.push_str(&format!(
                "redis.register_function('{f}', function(keys, args) {body} end)\n"
            ));
        } else {
            code.push_str(&format!(
                "redis.register_function{{function_name='{f}', callback=function(keys, args) \
                 {body} end, flags={{{}}}{}}}\n",
                flags.join(", "),
                if rng.gen_bool(0.5) {
                    ", description='d'"
                } else {
                    ""
                }
            ));
        }
    }
    match rng.gen_range(0..20) {
        0 => code.push_str("return ("),
        1 => code.push_str("redis.call('set', 'x', 'y')\n"),
        2 => code.push_str("redis.register_function('bad name!', function() end)\n"),
        _ => {}
    }
    code
}

/// Random FUNCTION and FCALL sequences (random libraries, errors
/// included), compared reply by reply with the Redis 7.2 oracle. FUNCTION
/// LIST is compared sorted (Redis lists in dict order); FUNCTION DUMP by
/// RDB version and by the oracle restoring our payload; each server
/// restores its own dumps.
#[tokio::test]
async fn differential_random_functions_72() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    for seed in 0..4 {
        let Some(oracle) = Oracle::valkey().await else {
            return;
        };
        let srv = start().await;
        let mut a = srv.raw().await;
        let mut b = oracle.raw().await;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut dumps: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for step in 0..400 {
            let key = ["k1", "k2", "k3"][rng.gen_range(0..3)].to_string();
            let f = ["f1", "f2", "f3", "f4", "f5", "nof"][rng.gen_range(0..6)].to_string();
            let lib = ["la", "lb", "lc", "nolib"][rng.gen_range(0..4)].to_string();
            let cmd: Vec<String> = match rng.gen_range(0..20) {
                0..=4 => {
                    let mut c = vec!["FUNCTION".into(), "LOAD".into()];
                    if rng.gen_bool(0.4) {
                        c.push("REPLACE".into());
                    }
                    c.push(random_library(&mut rng));
                    c
                }
                5..=9 => {
                    let mut c = vec![
                        if rng.gen_bool(0.7) {
                            "FCALL"
                        } else {
                            "FCALL_RO"
                        }
                        .into(),
                        f,
                    ];
                    match rng.gen_range(0..10) {
                        0 => c.push("-1".into()),
                        1 => c.push("5".into()),
                        2 => c.push("x".into()),
                        _ => {
                            c.push("1".into());
                            c.push(key);
                            c.push(rng.gen_range(0..100).to_string());
                        }
                    }
                    c
                }
                10 => vec!["FUNCTION".into(), "DELETE".into(), lib],
                11 => {
                    let mut c = vec!["FUNCTION".into(), "FLUSH".into()];
                    if rng.gen_bool(0.1) {
                        c.push(["ASYNC", "SYNC", "bogus"][rng.gen_range(0..3)].into());
                    }
                    if rng.gen_bool(0.7) {
                        // Flushing is rare in real use; keep libraries around.
                        continue;
                    }
                    c
                }
                12 | 13 => {
                    let mut c = vec!["FUNCTION".into(), "LIST".into()];
                    if rng.gen_bool(0.5) {
                        c.push("WITHCODE".into());
                    }
                    if rng.gen_bool(0.5) {
                        c.push("LIBRARYNAME".into());
                        c.push(["l*", "la", "LB", "x*", "?c"][rng.gen_range(0..5)].into());
                    }
                    c
                }
                14 => vec!["FUNCTION".into(), "STATS".into()],
                15 => vec!["FUNCTION".into(), "DUMP".into()],
                16 => {
                    let policy = ["", "FLUSH", "APPEND", "REPLACE", "bogus"][rng.gen_range(0..5)];
                    let (ours, theirs) = match dumps.len() {
                        0 => (b"garbage".to_vec(), b"garbage".to_vec()),
                        n => dumps[rng.gen_range(0..n)].clone(),
                    };
                    let restore = |payload: &[u8]| {
                        let mut v =
                            vec![b"FUNCTION".to_vec(), b"RESTORE".to_vec(), payload.to_vec()];
                        if !policy.is_empty() {
                            v.push(policy.as_bytes().to_vec());
                        }
                        v
                    };
                    let (x, y) = (restore(&ours), restore(&theirs));
                    let x: Vec<&[u8]> = x.iter().map(Vec::as_slice).collect();
                    let y: Vec<&[u8]> = y.iter().map(Vec::as_slice).collect();
                    let (ra, rb) = (a.call(&x).await, b.call(&y).await);
                    if !(collision(&s(&ra)) && collision(&s(&rb))) {
                        assert_eq!(
                            s(&ra),
                            s(&rb),
                            "seed {seed} step {step}: FUNCTION RESTORE {policy}"
                        );
                    }
                    continue;
                }
                17 => vec!["GET".into(), key],
                _ => vec!["FUNCTION".into(), "LIST".into(), "LIBRARYNAME".into(), lib],
            };
            let argv: Vec<&[u8]> = cmd.iter().map(|x| x.as_bytes()).collect();
            let (ra, rb) = (a.call(&argv).await, b.call(&argv).await);
            let what = format!("seed {seed} step {step}: {cmd:?}");
            match (cmd[0].as_str(), cmd.get(1).map(String::as_str)) {
                ("FUNCTION", Some("LIST")) => {
                    assert_eq!(
                        sorted_function_list(&ra),
                        sorted_function_list(&rb),
                        "{what}"
                    )
                }
                ("FUNCTION", Some("DUMP")) => {
                    let (Some(da), Some(db)) = (
                        crate::support::bulk_payload(&ra),
                        crate::support::bulk_payload(&rb),
                    ) else {
                        assert_eq!(s(&ra), s(&rb), "{what}");
                        continue;
                    };
                    // Not the bytes: libraries come in dict order, and
                    // keyward's LZF (src/persistence/rdb/lzf.rs) finds
                    // other matches than Redis's lzf_c.c. What must hold:
                    // the oracle restores our payload to the libraries it
                    // has (REPLACE of the same set changes nothing).
                    let back = b
                        .call(&[&b"FUNCTION"[..], b"RESTORE", &da, b"REPLACE"])
                        .await;
                    assert_eq!(
                        s(&back),
                        "+OK\r\n",
                        "{what}: the oracle refuses our payload"
                    );
                    // The RDB version before the CRC-64.
                    let v = |d: &[u8]| d[d.len() - 10..d.len() - 8].to_vec();
                    assert_eq!(v(&da), v(&db), "{what}");
                    dumps.push((da, db));
                }
                ("FUNCTION", Some("LOAD")) => {
                    // Redis 7.2 wraps any error raised while the library
                    // runs as `ERR Error registering functions: <the
                    // error>` (luaEngineCreate in function_lua.c), those of
                    // redis.register_function itself included; Valkey
                    // 8.1's engine rewrite answers those alone. Redis 7.2
                    // wins: then ours must be the oracle's error wrapped.
                    let (ours, theirs) = (s(&ra), s(&rb));
                    if collision(&ours) && collision(&theirs) {
                        continue;
                    }
                    if ours != theirs {
                        let wrapped = format!("-ERR Error registering functions: {}", &theirs[1..]);
                        assert_eq!(ours, wrapped, "{what}");
                    }
                }
                _ => assert_eq!(s(&ra), valkey_as_72(&s(&rb)), "{what}"),
            }
        }
    }
}

/// A name collision error: which of several colliding functions (or
/// libraries) Redis names follows dict order.
fn collision(e: &str) -> bool {
    (e.starts_with("-ERR Function ") || e.starts_with("-ERR Library "))
        && e.ends_with(" already exists\r\n")
}

/// An error text of Valkey 8.1 as Redis 7.2 words it, where Valkey took
/// "Redis" out (script.c's scriptCall: "Unknown Redis command called from
/// script" in Redis 7.2).
fn valkey_as_72(reply: &str) -> String {
    reply.replace(
        "Unknown command called from script",
        "Unknown Redis command called from script",
    )
}
