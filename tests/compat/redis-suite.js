'use strict';
// The node `redis` checks, shared by redis5.js (RESP2 by default) and redis6.js (RESP3).
const { PORT, AUTH_PORT, PASSWORD, HOST, eq, truthy, check, rejects, sleep, waitFor, prefix } = require('./lib');

// RESP3 maps arrive as null-prototype objects; compare plain JSON shapes.
const plain = (v) => JSON.parse(JSON.stringify(v));

async function suite(tag, redis, expectResp) {
  const extra = {};
  const p = prefix(tag);
  const open = [];
  const make = (o = {}) => {
    const c = redis.createClient({ socket: { host: HOST, port: PORT, reconnectStrategy: false, ...(o.socket || {}) }, ...extra, ...o, socket: { host: HOST, port: o.port || PORT, reconnectStrategy: false } });
    c.on('error', () => {}); // surfaced through the commands' promises
    open.push(c);
    return c;
  };

  const r = make({ name: `${tag}-main` });
  await r.connect();

  eq(`${tag} PING`, await r.ping(), 'PONG');
  eq(`${tag} name via CLIENT GETNAME`, await r.clientGetName(), `${tag}-main`);
  const info = await r.sendCommand(['CLIENT', 'INFO']);
  truthy(`${tag} CLIENT INFO shows name=`, /\bname=\S+-main/.test(info), info);
  // CLIENT SETINFO exists from 7.2 (keyward reports 7.2.4); the client sends it on connect.
  const version = /redis_version:(\d+)\.(\d+)/.exec(await r.info('server'));
  if (version && Number(version[1]) * 100 + Number(version[2]) >= 702) {
    truthy(`${tag} CLIENT SETINFO lib-name on connect`, /lib-name=node-redis/.test(info), info);
  }
  const proto = /resp=(\d)/.exec(info);
  eq(`${tag} connection speaks RESP${expectResp}`, proto && proto[1], String(expectResp));

  // strings
  eq(`${tag} SET`, await r.set(`${p}s`, 'v1'), 'OK');
  eq(`${tag} GET`, await r.get(`${p}s`), 'v1');
  eq(`${tag} GET missing`, await r.get(`${p}missing`), null);
  eq(`${tag} SET NX on existing`, await r.set(`${p}s`, 'v2', { NX: true }), null);
  eq(`${tag} SET EX GET`, await r.set(`${p}s`, 'v3', { EX: 100, GET: true }), 'v1');
  const ttl = await r.ttl(`${p}s`);
  truthy(`${tag} TTL after EX`, ttl > 90 && ttl <= 100, ttl);
  eq(`${tag} INCRBY`, await r.incrBy(`${p}n`, 5), 5);
  eq(`${tag} INCRBYFLOAT`, await r.incrByFloat(`${p}n`, 1.5), '6.5');
  await r.mSet({ [`${p}a`]: '1', [`${p}b`]: '2' });
  eq(`${tag} MSET/MGET`, await r.mGet([`${p}a`, `${p}b`, `${p}c`]), ['1', '2', null]);
  await rejects(`${tag} INCR on non-integer`, () => r.incr(`${p}s`), 'ERR value is not an integer or out of range');
  await rejects(`${tag} WRONGTYPE`, async () => { await r.lPush(`${p}l0`, 'x'); return r.get(`${p}l0`); }, 'WRONGTYPE Operation against a key holding the wrong kind of value');

  // hashes
  eq(`${tag} HSET`, await r.hSet(`${p}h`, { f1: 'a', f2: 'b' }), 2);
  eq(`${tag} HGET`, await r.hGet(`${p}h`, 'f1'), 'a');
  eq(`${tag} HGETALL`, plain(await r.hGetAll(`${p}h`)), { f1: 'a', f2: 'b' });
  eq(`${tag} HGETALL missing`, plain(await r.hGetAll(`${p}nohash`)), {});
  eq(`${tag} HINCRBY`, await r.hIncrBy(`${p}h`, 'n', 3), 3);
  eq(`${tag} HDEL`, await r.hDel(`${p}h`, ['f2', 'nope']), 1);
  eq(`${tag} HKEYS`, (await r.hKeys(`${p}h`)).sort(), ['f1', 'n']);

  // lists
  eq(`${tag} RPUSH`, await r.rPush(`${p}l`, ['a', 'b', 'c']), 3);
  eq(`${tag} LRANGE`, await r.lRange(`${p}l`, 0, -1), ['a', 'b', 'c']);
  eq(`${tag} LPOP`, await r.lPop(`${p}l`), 'a');
  eq(`${tag} LPOP count`, await r.lPopCount(`${p}l`, 5), ['b', 'c']);
  eq(`${tag} LPOP empty`, await r.lPop(`${p}l`), null);
  {
    const b = make();
    await b.connect();
    const popped = b.blPop(`${p}bl`, 5);
    await sleep(50);
    await r.rPush(`${p}bl`, 'x');
    eq(`${tag} BLPOP woken by RPUSH`, plain(await popped), { key: `${p}bl`, element: 'x' });
    eq(`${tag} BLPOP timeout returns null`, await b.blPop(`${p}none`, 0.1), null);
    b.destroy();
  }

  // sets
  eq(`${tag} SADD`, await r.sAdd(`${p}set`, ['a', 'b', 'c', 'a']), 3);
  eq(`${tag} SMEMBERS`, [...(await r.sMembers(`${p}set`))].sort(), ['a', 'b', 'c']);
  eq(`${tag} SISMEMBER`, await r.sIsMember(`${p}set`, 'b'), 1);
  eq(`${tag} SMISMEMBER`, await r.smIsMember(`${p}set`, ['a', 'z']), [1, 0]);
  eq(`${tag} SCARD`, await r.sCard(`${p}set`), 3);

  // sorted sets
  eq(`${tag} ZADD`, await r.zAdd(`${p}z`, [{ score: 1, value: 'one' }, { score: 2.5, value: 'two' }, { score: 3, value: 'three' }]), 3);
  eq(`${tag} ZRANGE WITHSCORES`, plain(await r.zRangeWithScores(`${p}z`, 0, -1)), [{ value: 'one', score: 1 }, { value: 'two', score: 2.5 }, { value: 'three', score: 3 }]);
  eq(`${tag} ZSCORE`, await r.zScore(`${p}z`, 'two'), 2.5);
  eq(`${tag} ZRANGEBYSCORE LIMIT`, await r.zRangeByScore(`${p}z`, '(1', '+inf', { LIMIT: { offset: 0, count: 1 } }), ['two']);
  eq(`${tag} ZINCRBY`, await r.zIncrBy(`${p}z`, 2, 'one'), 3);
  eq(`${tag} ZRANK`, await r.zRank(`${p}z`, 'two'), 0);
  eq(`${tag} ZPOPMIN`, plain(await r.zPopMin(`${p}z`)), { value: 'two', score: 2.5 });
  eq(`${tag} ZCARD`, await r.zCard(`${p}z`), 2);

  // expiry and keys
  eq(`${tag} PEXPIRE`, await r.pExpire(`${p}a`, 50), 1);
  await sleep(120);
  eq(`${tag} key expired`, await r.exists(`${p}a`), 0);
  eq(`${tag} TYPE`, await r.type(`${p}h`), 'hash');
  eq(`${tag} DEL`, await r.del([`${p}b`, `${p}nope`]), 1);

  // pipelines and transactions
  eq(`${tag} pipeline (execAsPipeline)`, await r.multi().set(`${p}p1`, 'x').get(`${p}p1`).incr(`${p}n2`).execAsPipeline(), ['OK', 'x', 1]);
  eq(`${tag} MULTI/EXEC`, await r.multi().set(`${p}m`, '1').incr(`${p}m`).get(`${p}m`).exec(), ['OK', 2, '2']);
  {
    const w = make();
    await w.connect();
    await w.watch(`${p}w`);
    await r.set(`${p}w`, 'changed');
    await rejects(`${tag} WATCH aborts EXEC`, () => w.multi().set(`${p}w`, 'mine').exec(), 'One (or more) of the watched keys has been changed');
    w.destroy();
  }
  {
    const res = await Promise.all([r.set(`${p}auto1`, 'a'), r.get(`${p}auto1`), r.append(`${p}auto1`, 'b')]);
    eq(`${tag} concurrent commands (auto-pipelined)`, res, ['OK', 'a', 2]);
  }

  // Lua
  eq(`${tag} EVAL`, await r.eval("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}", { keys: [`${p}lua`], arguments: ['arg'] }), [`${p}lua`, 'arg', 1]);
  const sha = await r.scriptLoad("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  eq(`${tag} EVALSHA`, await r.evalSha(sha, { keys: [`${p}lua`], arguments: ['10'] }), 11);
  await rejects(`${tag} EVALSHA unknown`, () => r.evalSha('0'.repeat(40), { keys: [], arguments: [] }), 'NOSCRIPT');

  // pub/sub
  {
    const sub = r.duplicate();
    sub.on('error', () => {});
    open.push(sub);
    await sub.connect();
    const got = [];
    await sub.subscribe([`${p}ch1`, `${p}ch2`], (msg, ch) => got.push(['message', ch, msg]));
    await sub.pSubscribe(`${p}pat*`, (msg, ch) => got.push(['pmessage', ch, msg]));
    eq(`${tag} PUBLISH receivers`, await r.publish(`${p}ch1`, 'hello'), 1);
    await r.publish(`${p}pattern`, 'p-hello');
    await waitFor('two messages', () => got.length >= 2, 3000).catch(() => {});
    eq(`${tag} messages received`, got, [['message', `${p}ch1`, 'hello'], ['pmessage', `${p}pattern`, 'p-hello']]);
    eq(`${tag} PUBSUB NUMSUB`, plain(await r.pubSubNumSub(`${p}ch1`)), { [`${p}ch1`]: 1 });
    await sub.unsubscribe(`${p}ch1`);
    eq(`${tag} PUBLISH after UNSUBSCRIBE`, await r.publish(`${p}ch1`, 'gone'), 0);
    sub.destroy();
  }

  // scan iterators
  {
    const n = 250;
    const m = r.multi();
    for (let i = 0; i < n; i++) m.set(`${p}scan:${i}`, String(i));
    await m.execAsPipeline();
    const seen = new Set();
    for await (const batch of r.scanIterator({ MATCH: `${p}scan:*`, COUNT: 20 })) {
      for (const k of [].concat(batch)) seen.add(k);
    }
    eq(`${tag} scanIterator sees every key`, seen.size, n);
    await r.hSet(`${p}bigh`, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, String(i)])));
    let fields = 0;
    for await (const batch of r.hScanIterator(`${p}bigh`, { COUNT: 50 })) fields += [].concat(batch).length;
    eq(`${tag} hScanIterator sees every field`, fields, 300);
  }

  // database option
  {
    const d3 = make({ database: 3 });
    await d3.connect();
    await d3.set(`${p}indb3`, 'yes');
    eq(`${tag} database option: key in db 3`, await d3.get(`${p}indb3`), 'yes');
    eq(`${tag} database option: not in db 0`, await r.get(`${p}indb3`), null);
    eq(`${tag} database option: CLIENT INFO db=3`, /\bdb=3\b/.test(await d3.sendCommand(['CLIENT', 'INFO'])), true);
    d3.destroy();
  }

  // password
  if (AUTH_PORT) {
    const a = make({ port: AUTH_PORT, password: PASSWORD, database: 2, name: `${tag}-auth` });
    await a.connect();
    eq(`${tag} password: SET after AUTH`, await a.set(`${p}auth`, '1'), 'OK');
    eq(`${tag} password: name set`, await a.clientGetName(), `${tag}-auth`);
    a.destroy();
    const noPass = make({ port: AUTH_PORT });
    await rejects(`${tag} no password: NOAUTH`, async () => { await noPass.connect(); return noPass.get('x'); }, 'NOAUTH');
    const bad = make({ port: AUTH_PORT, password: 'wrong' });
    await rejects(`${tag} wrong password`, () => bad.connect(), 'WRONGPASS');
  }

  r.destroy();
  for (const c of open) {
    try { c.destroy(); } catch { /* already closed */ }
  }
}

module.exports = { suite };
