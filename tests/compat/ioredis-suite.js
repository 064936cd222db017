'use strict';
// The ioredis checks, shared by ioredis5.js (RESP2) and ioredis6.js (HELLO 3 by default).
const { PORT, AUTH_PORT, PASSWORD, HOST, eq, truthy, check, rejects, sleep, waitFor, prefix } = require('./lib');

async function suite(tag, Redis, extra = {}) {
  const p = prefix(tag);
  const opts = { host: HOST, port: PORT, lazyConnect: true, maxRetriesPerRequest: 1, ...extra };
  const open = [];
  const client = (o = {}) => {
    const c = new Redis({ ...opts, ...o });
    c.on('error', () => {}); // errors surface through the commands' promises
    open.push(c);
    return c;
  };

  const r = client({ connectionName: `${tag}-main` });
  await r.connect();

  await check(`${tag} connect + PING`, async () => eq(`${tag} PING reply`, await r.ping(), 'PONG'));
  eq(`${tag} connectionName via CLIENT GETNAME`, await r.client('GETNAME'), `${tag}-main`);
  const list = await r.client('LIST');
  truthy(`${tag} CLIENT LIST shows name=`, String(list).includes(`name=${tag}-main`), list);
  const expectResp = extra.protocol === 2 ? '2' : '3';
  eq(`${tag} connection speaks RESP${expectResp}`, (/resp=(\d)/.exec(await r.client('INFO')) || [])[1], expectResp);
  if (extra.protocol !== 2) {
    const hello = await r.hello();
    truthy(`${tag} HELLO reply has server/version/proto`, JSON.stringify(hello).includes('redis'), hello);
  }

  // strings
  eq(`${tag} SET`, await r.set(`${p}s`, 'v1'), 'OK');
  eq(`${tag} GET`, await r.get(`${p}s`), 'v1');
  eq(`${tag} GET missing`, await r.get(`${p}missing`), null);
  eq(`${tag} SET NX on existing`, await r.set(`${p}s`, 'v2', 'NX'), null);
  eq(`${tag} SET EX GET`, await r.set(`${p}s`, 'v3', 'EX', 100, 'GET'), 'v1');
  const ttl = await r.ttl(`${p}s`);
  truthy(`${tag} TTL after EX`, ttl > 90 && ttl <= 100, ttl);
  eq(`${tag} INCRBY`, await r.incrby(`${p}n`, 5), 5);
  eq(`${tag} INCRBYFLOAT`, await r.incrbyfloat(`${p}n`, 1.5), '6.5');
  eq(`${tag} MSET/MGET`, (await r.mset(`${p}a`, '1', `${p}b`, '2'), await r.mget(`${p}a`, `${p}b`, `${p}c`)), ['1', '2', null]);
  eq(`${tag} getBuffer`, await r.getBuffer(`${p}a`), Buffer.from('1'));
  eq(`${tag} binary value round trip`, (await r.set(`${p}bin`, Buffer.from([0, 255, 10, 13])), await r.getBuffer(`${p}bin`)), Buffer.from([0, 255, 10, 13]));
  await rejects(`${tag} INCR on non-integer`, () => r.incr(`${p}s`), 'ERR value is not an integer or out of range');
  await rejects(`${tag} WRONGTYPE`, async () => { await r.lpush(`${p}l0`, 'x'); return r.get(`${p}l0`); }, 'WRONGTYPE Operation against a key holding the wrong kind of value');

  // hashes
  eq(`${tag} HSET`, await r.hset(`${p}h`, { f1: 'a', f2: 'b' }), 2);
  eq(`${tag} HGET`, await r.hget(`${p}h`, 'f1'), 'a');
  eq(`${tag} HGETALL`, await r.hgetall(`${p}h`), { f1: 'a', f2: 'b' });
  eq(`${tag} HINCRBY`, await r.hincrby(`${p}h`, 'n', 3), 3);
  eq(`${tag} HDEL`, await r.hdel(`${p}h`, 'f2', 'nope'), 1);
  eq(`${tag} HKEYS`, (await r.hkeys(`${p}h`)).sort(), ['f1', 'n']);

  // lists
  eq(`${tag} RPUSH`, await r.rpush(`${p}l`, 'a', 'b', 'c'), 3);
  eq(`${tag} LRANGE`, await r.lrange(`${p}l`, 0, -1), ['a', 'b', 'c']);
  eq(`${tag} LPOP`, await r.lpop(`${p}l`), 'a');
  eq(`${tag} LPOP count`, await r.lpop(`${p}l`, 5), ['b', 'c']);
  eq(`${tag} LPOP empty`, await r.lpop(`${p}l`), null);
  {
    const b = client();
    await b.connect();
    const popped = b.blpop(`${p}bl`, 5);
    await sleep(50);
    await r.rpush(`${p}bl`, 'x');
    eq(`${tag} BLPOP woken by RPUSH`, await popped, [`${p}bl`, 'x']);
    eq(`${tag} BLPOP timeout returns null`, await b.blpop(`${p}none`, 0.1), null);
    b.disconnect();
  }

  // sets
  eq(`${tag} SADD`, await r.sadd(`${p}set`, 'a', 'b', 'c', 'a'), 3);
  eq(`${tag} SMEMBERS`, (await r.smembers(`${p}set`)).sort(), ['a', 'b', 'c']);
  eq(`${tag} SISMEMBER`, await r.sismember(`${p}set`, 'b'), 1);
  eq(`${tag} SMISMEMBER`, await r.smismember(`${p}set`, 'a', 'z'), [1, 0]);
  eq(`${tag} SCARD`, await r.scard(`${p}set`), 3);

  // sorted sets
  eq(`${tag} ZADD`, await r.zadd(`${p}z`, 1, 'one', 2.5, 'two', 3, 'three'), 3);
  eq(`${tag} ZRANGE WITHSCORES`, await r.zrange(`${p}z`, 0, -1, 'WITHSCORES'), ['one', '1', 'two', '2.5', 'three', '3']);
  eq(`${tag} ZSCORE`, await r.zscore(`${p}z`, 'two'), '2.5');
  eq(`${tag} ZRANGEBYSCORE LIMIT`, await r.zrangebyscore(`${p}z`, '(1', '+inf', 'LIMIT', 0, 1), ['two']);
  eq(`${tag} ZINCRBY`, await r.zincrby(`${p}z`, 2, 'one'), '3');
  eq(`${tag} ZRANK`, await r.zrank(`${p}z`, 'two'), 0);
  eq(`${tag} ZPOPMIN`, await r.zpopmin(`${p}z`), ['two', '2.5']);
  eq(`${tag} ZCARD`, await r.zcard(`${p}z`), 2);

  // expiry and keys
  eq(`${tag} PEXPIRE`, await r.pexpire(`${p}a`, 50), 1);
  await sleep(120);
  eq(`${tag} key expired`, await r.exists(`${p}a`), 0);
  eq(`${tag} TYPE`, await r.type(`${p}h`), 'hash');
  eq(`${tag} DEL`, await r.del(`${p}b`, `${p}nope`), 1);

  // pipelines and transactions
  {
    const res = await r.pipeline().set(`${p}p1`, 'x').get(`${p}p1`).incr(`${p}p1`).exec();
    eq(`${tag} pipeline replies`, res.map(([e, v]) => [e && e.message, v]), [[null, 'OK'], [null, 'x'], ['ERR value is not an integer or out of range', undefined]]);
  }
  {
    const res = await r.multi().set(`${p}m`, '1').incr(`${p}m`).get(`${p}m`).exec();
    eq(`${tag} MULTI/EXEC`, res, [[null, 'OK'], [null, 2], [null, '2']]);
  }
  {
    const w = client();
    await w.connect();
    await w.watch(`${p}w`);
    await r.set(`${p}w`, 'changed');
    const res = await w.multi().set(`${p}w`, 'mine').exec();
    eq(`${tag} WATCH aborts EXEC`, res, null);
    w.disconnect();
  }
  await rejects(`${tag} EXECABORT`, () => r.multi().set(`${p}x`).exec(), 'EXECABORT');

  // Lua
  eq(`${tag} EVAL`, await r.eval("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}", 1, `${p}lua`, 'arg'), [`${p}lua`, 'arg', 1]);
  r.defineCommand('kwAdd', { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" });
  eq(`${tag} defineCommand (EVALSHA, NOSCRIPT fallback)`, await r.kwAdd(`${p}lua`, 10), 11);
  eq(`${tag} defineCommand again (EVALSHA)`, await r.kwAdd(`${p}lua`, 1), 12);

  // pub/sub
  {
    const sub = client();
    await sub.connect();
    const got = [];
    sub.on('message', (ch, msg) => got.push(['message', ch, msg]));
    sub.on('pmessage', (pat, ch, msg) => got.push(['pmessage', pat, ch, msg]));
    eq(`${tag} SUBSCRIBE count`, await sub.subscribe(`${p}ch1`, `${p}ch2`), 2);
    eq(`${tag} PSUBSCRIBE count`, await sub.psubscribe(`${p}pat*`), 3);
    eq(`${tag} PUBLISH receivers`, await r.publish(`${p}ch1`, 'hello'), 1);
    await r.publish(`${p}pattern`, 'p-hello');
    await waitFor('two messages', () => got.length >= 2, 3000);
    eq(`${tag} messages received`, got, [['message', `${p}ch1`, 'hello'], ['pmessage', `${p}pat*`, `${p}pattern`, 'p-hello']]);
    eq(`${tag} PUBSUB NUMSUB`, await r.pubsub('NUMSUB', `${p}ch1`), [`${p}ch1`, 1]);
    await sub.unsubscribe(`${p}ch1`);
    eq(`${tag} PUBLISH after UNSUBSCRIBE`, await r.publish(`${p}ch1`, 'gone'), 0);
    sub.disconnect();
  }

  // scanStream
  {
    const n = 250;
    const pipe = r.pipeline();
    for (let i = 0; i < n; i++) pipe.set(`${p}scan:${i}`, i);
    await pipe.exec();
    const seen = new Set();
    await new Promise((resolve, reject) => {
      const s = r.scanStream({ match: `${p}scan:*`, count: 20 });
      s.on('data', (keys) => keys.forEach((k) => seen.add(k)));
      s.on('end', resolve);
      s.on('error', reject);
    });
    eq(`${tag} scanStream sees every key`, seen.size, n);
    await r.hset(`${p}bigh`, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, i])));
    let fields = 0;
    await new Promise((resolve, reject) => {
      const s = r.hscanStream(`${p}bigh`, { count: 50 });
      s.on('data', (kv) => { fields += kv.length / 2; });
      s.on('end', resolve);
      s.on('error', reject);
    });
    eq(`${tag} hscanStream sees every field`, fields, 300);
  }

  // db option
  {
    const d3 = client({ db: 3 });
    await d3.connect();
    await d3.set(`${p}indb3`, 'yes');
    eq(`${tag} db option: key in db 3`, await d3.get(`${p}indb3`), 'yes');
    eq(`${tag} db option: not in db 0`, await r.get(`${p}indb3`), null);
    eq(`${tag} db option: CLIENT INFO db=3`, /\bdb=3\b/.test(await d3.client('INFO')), true);
    d3.disconnect();
  }

  // password
  if (AUTH_PORT) {
    const a = client({ port: AUTH_PORT, password: PASSWORD, db: 2, connectionName: `${tag}-auth` });
    await a.connect();
    eq(`${tag} password: SET after AUTH`, await a.set(`${p}auth`, '1'), 'OK');
    eq(`${tag} password: name set`, await a.client('GETNAME'), `${tag}-auth`);
    a.disconnect();
    const noPass = client({ port: AUTH_PORT });
    await noPass.connect().catch(() => {});
    await rejects(`${tag} no password: NOAUTH`, () => noPass.get('x'), 'NOAUTH');
    noPass.disconnect();
    // As with redis-server, ioredis reports WRONGPASS as an 'error' event and closes.
    const bad = new Redis({ ...opts, port: AUTH_PORT, password: 'wrong', retryStrategy: () => null });
    const events = [];
    bad.on('error', (e) => events.push(e.message));
    await bad.connect().catch(() => {});
    eq(`${tag} wrong password: WRONGPASS error event`, events, ['WRONGPASS invalid username-password pair or user is disabled.']);
    bad.disconnect();
  }

  await r.quit();
  for (const c of open) c.disconnect();
}

module.exports = { suite };
