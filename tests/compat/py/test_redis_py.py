"""redis-py against keyward: strings, hashes, lists, sets, zsets, pipelines,
MULTI/WATCH, pub/sub, Lua scripts, db and password options, under RESP2 and
RESP3. Prints `ok NAME` / `not ok NAME: expected X, got Y` (run.sh counts them)."""

import os
import sys
import time
import traceback

import redis

PORT = int(os.environ.get("KW_PORT", "6379"))
AUTH_PORT = int(os.environ.get("KW_AUTH_PORT", "0"))
PASSWORD = os.environ.get("KW_PASSWORD", "")
HOST = "127.0.0.1"

passed = 0
failed = 0


def ok(name):
    global passed
    passed += 1
    print(f"ok {name}", flush=True)


def fail(name, why):
    global failed
    failed += 1
    print(f"not ok {name}: {why}", flush=True)


def eq(name, got, expected):
    if got == expected:
        ok(name)
    else:
        fail(name, f"expected {expected!r}, got {got!r}")


def truthy(name, cond, detail=None):
    if cond:
        ok(name)
    else:
        fail(name, f"condition false; got {detail!r}")


def raises(name, fn, text):
    try:
        v = fn()
    except redis.RedisError as e:
        if text in str(e):
            ok(name)
        else:
            fail(name, f"expected an error containing {text!r}, got {str(e)!r}")
        return
    fail(name, f"expected an error containing {text!r}, got reply {v!r}")


def suite(proto):
    tag = f"redis-py/resp{proto}"
    p = f"compat:{tag}:{os.getpid()}:"
    r = redis.Redis(host=HOST, port=PORT, protocol=proto, decode_responses=True,
                    client_name=f"py-{proto}")
    eq(f"{tag} PING", r.ping(), True)
    eq(f"{tag} client_name", r.client_getname(), f"py-{proto}")
    info = r.client_info()
    eq(f"{tag} CLIENT INFO resp", int(info.get("resp", 0)), proto)
    major, minor = (int(x) for x in r.info("server")["redis_version"].split(".")[:2])
    if (major, minor) >= (7, 2):  # CLIENT SETINFO is 7.2's; keyward reports 7.2.4
        eq(f"{tag} CLIENT SETINFO lib-name", info.get("lib-name"), "redis-py")

    eq(f"{tag} SET", r.set(f"{p}s", "v1"), True)
    eq(f"{tag} GET", r.get(f"{p}s"), "v1")
    eq(f"{tag} GET missing", r.get(f"{p}missing"), None)
    eq(f"{tag} SET NX existing", r.set(f"{p}s", "v2", nx=True), None)
    eq(f"{tag} SET GET", r.set(f"{p}s", "v3", ex=100, get=True), "v1")
    ttl = r.ttl(f"{p}s")
    truthy(f"{tag} TTL", 90 < ttl <= 100, ttl)
    eq(f"{tag} INCRBY", r.incrby(f"{p}n", 5), 5)
    eq(f"{tag} INCRBYFLOAT", r.incrbyfloat(f"{p}n", 1.5), 6.5)
    r.mset({f"{p}a": "1", f"{p}b": "2"})
    eq(f"{tag} MGET", r.mget([f"{p}a", f"{p}b", f"{p}c"]), ["1", "2", None])
    raises(f"{tag} INCR on non-integer", lambda: r.incr(f"{p}s"), "value is not an integer or out of range")
    r.lpush(f"{p}l0", "x")
    raises(f"{tag} WRONGTYPE", lambda: r.get(f"{p}l0"), "WRONGTYPE Operation against a key holding the wrong kind of value")

    eq(f"{tag} HSET", r.hset(f"{p}h", mapping={"f1": "a", "f2": "b"}), 2)
    eq(f"{tag} HGETALL", r.hgetall(f"{p}h"), {"f1": "a", "f2": "b"})
    eq(f"{tag} HINCRBY", r.hincrby(f"{p}h", "n", 3), 3)
    eq(f"{tag} HDEL", r.hdel(f"{p}h", "f2", "nope"), 1)

    eq(f"{tag} RPUSH", r.rpush(f"{p}l", "a", "b", "c"), 3)
    eq(f"{tag} LRANGE", r.lrange(f"{p}l", 0, -1), ["a", "b", "c"])
    eq(f"{tag} LPOP count", r.lpop(f"{p}l", 2), ["a", "b"])
    eq(f"{tag} BLPOP timeout", r.blpop([f"{p}none"], timeout=0.1), None)
    r.rpush(f"{p}bl", "x")
    got = r.blpop([f"{p}bl"], timeout=1)
    eq(f"{tag} BLPOP", list(got) if got else got, [f"{p}bl", "x"])

    eq(f"{tag} SADD", r.sadd(f"{p}set", "a", "b", "a"), 2)
    eq(f"{tag} SMEMBERS", r.smembers(f"{p}set"), {"a", "b"})
    eq(f"{tag} SISMEMBER", r.sismember(f"{p}set", "a"), True)

    eq(f"{tag} ZADD", r.zadd(f"{p}z", {"one": 1, "two": 2.5}), 2)
    eq(f"{tag} ZRANGE WITHSCORES", [tuple(x) for x in r.zrange(f"{p}z", 0, -1, withscores=True)], [("one", 1.0), ("two", 2.5)])
    eq(f"{tag} ZSCORE", r.zscore(f"{p}z", "two"), 2.5)
    eq(f"{tag} ZINCRBY", r.zincrby(f"{p}z", 2, "one"), 3.0)
    popped = r.zpopmin(f"{p}z")
    # RESP3 without COUNT: a flat [member, score] pair, as Redis 7 sends it.
    if popped and not isinstance(popped[0], (list, tuple)):
        popped = [popped]
    eq(f"{tag} ZPOPMIN", [tuple(x) for x in popped], [("two", 2.5)])

    r.pexpire(f"{p}a", 50)
    time.sleep(0.12)
    eq(f"{tag} key expired", r.exists(f"{p}a"), 0)

    pipe = r.pipeline(transaction=False)
    pipe.set(f"{p}p", "x").get(f"{p}p").incr(f"{p}p")
    res = pipe.execute(raise_on_error=False)
    eq(f"{tag} pipeline", [res[0], res[1], type(res[2]).__name__], [True, "x", "ResponseError"])
    tx = r.pipeline(transaction=True)
    tx.set(f"{p}m", "1").incr(f"{p}m").get(f"{p}m")
    eq(f"{tag} MULTI/EXEC", tx.execute(), [True, 2, "2"])

    def watched(pipe):
        pipe.get(f"{p}w")
        r.set(f"{p}w", "changed-by-other")
        pipe.multi()
        pipe.set(f"{p}w", "mine")

    w = r.pipeline()
    w.watch(f"{p}w")
    watched(w)
    try:
        w.execute()
        fail(f"{tag} WATCH aborts EXEC", "EXEC ran")
    except redis.WatchError:
        ok(f"{tag} WATCH aborts EXEC")

    eq(f"{tag} EVAL", r.eval("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}", 1, f"{p}lua", "arg"), [f"{p}lua", "arg", 1])
    script = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    eq(f"{tag} register_script (EVALSHA with NOSCRIPT fallback)", script(keys=[f"{p}lua"], args=[10]), 11)
    eq(f"{tag} SCRIPT EXISTS", r.script_exists(script.sha), [True])
    raises(f"{tag} Lua error reply", lambda: r.eval("return redis.error_reply('MY fail')", 0), "MY fail")

    sub = r.pubsub()
    sub.subscribe(f"{p}ch")
    sub.psubscribe(f"{p}pat*")
    confirm = [sub.get_message(timeout=1) for _ in range(2)]
    eq(f"{tag} subscribe confirmations", [m["type"] for m in confirm if m], ["subscribe", "psubscribe"])
    eq(f"{tag} PUBLISH", r.publish(f"{p}ch", "hello"), 1)
    r.publish(f"{p}pattern", "p-hello")
    msgs = []
    deadline = time.time() + 3
    while len(msgs) < 2 and time.time() < deadline:
        m = sub.get_message(timeout=0.5)
        if m:
            msgs.append((m["type"], m["channel"], m["data"]))
    eq(f"{tag} messages", msgs, [("message", f"{p}ch", "hello"), ("pmessage", f"{p}pattern", "p-hello")])
    eq(f"{tag} PUBSUB NUMSUB", [tuple(x) for x in r.pubsub_numsub(f"{p}ch")], [(f"{p}ch", 1)])
    sub.close()

    for i in range(200):
        r.set(f"{p}scan:{i}", i)
    eq(f"{tag} scan_iter", len(set(r.scan_iter(match=f"{p}scan:*", count=20))), 200)

    d3 = redis.Redis(host=HOST, port=PORT, db=3, protocol=proto, decode_responses=True)
    d3.set(f"{p}indb3", "yes")
    eq(f"{tag} db=3: key there", d3.get(f"{p}indb3"), "yes")
    eq(f"{tag} db=3: not in db 0", r.get(f"{p}indb3"), None)
    d3.close()

    if AUTH_PORT:
        a = redis.Redis(host=HOST, port=AUTH_PORT, password=PASSWORD, protocol=proto, decode_responses=True)
        eq(f"{tag} password: SET", a.set(f"{p}auth", "1"), True)
        a.close()
        n = redis.Redis(host=HOST, port=AUTH_PORT, protocol=proto)
        raises(f"{tag} no password: NOAUTH", lambda: n.get("x"), "uthenticat")  # NOAUTH; RESP3 fails at HELLO
        n.close()
        b = redis.Redis(host=HOST, port=AUTH_PORT, password="wrong", protocol=proto)
        raises(f"{tag} wrong password", lambda: b.get("x"), "invalid username-password pair")
        b.close()
    r.close()


def main():
    for proto in (2, 3):
        try:
            suite(proto)
        except Exception:
            fail(f"redis-py/resp{proto} (aborted)", traceback.format_exc())
    print(f"# redis-py {redis.__version__}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
