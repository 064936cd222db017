'use strict';
// TLS (tls-port): ioredis with `tls:` and node-redis with `rediss://` run the
// basics against a keyward that serves TLS only, with the certificates run.sh
// made with openssl (KW_TLS_DIR: ca.crt, client.crt, client.key) and client
// certificates required (tls-auth-clients yes, Redis's default).
const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const Redis = require('ioredis');
const redis = require('redis');
const { HOST, check, eq, truthy, prefix, guard } = require('./lib');

const TLS_PORT = Number(process.env.KW_TLS_PORT || 0);
const dir = process.env.KW_TLS_DIR || '';
const read = (f) => fs.readFileSync(path.join(dir, f));
const p = prefix('tls');

guard('tls', async () => {
  if (!TLS_PORT || !dir) throw new Error('run.sh sets KW_TLS_PORT and KW_TLS_DIR');
  const certs = { ca: read('ca.crt'), cert: read('client.crt'), key: read('client.key') };

  const io = new Redis({ host: HOST, port: TLS_PORT, tls: certs, maxRetriesPerRequest: 0, retryStrategy: null });
  eq('ioredis tls: PING', await io.ping(), 'PONG');
  eq('ioredis tls: SET', await io.set(`${p}io`, 'v1'), 'OK');
  eq('ioredis tls: GET', await io.get(`${p}io`), 'v1');
  const big = 'x'.repeat(200000);
  await io.set(`${p}big`, big);
  eq('ioredis tls: a value over many TLS records', (await io.get(`${p}big`)).length, big.length);
  const piped = await io.pipeline().incr(`${p}n`).incr(`${p}n`).incr(`${p}n`).exec();
  eq('ioredis tls: pipeline', piped.map((r) => r[1]), [1, 2, 3]);
  eq('ioredis tls: HSET/HGETALL', (await io.hset(`${p}h`, 'a', '1'), await io.hgetall(`${p}h`)), { a: '1' });
  io.disconnect();

  const nr = redis.createClient({
    url: `rediss://${HOST}:${TLS_PORT}`,
    socket: { tls: true, ...certs, reconnectStrategy: false },
  });
  nr.on('error', () => {});
  await nr.connect();
  eq('node-redis rediss: PING', await nr.ping(), 'PONG');
  eq('node-redis rediss: GET what ioredis set', await nr.get(`${p}io`), 'v1');
  eq('node-redis rediss: SET EX / TTL', (await nr.set(`${p}nr`, 'v2', { EX: 100 }), await nr.ttl(`${p}nr`)), 100);
  eq('node-redis rediss: MULTI', await nr.multi().incr(`${p}m`).incr(`${p}m`).exec(), [1, 2]);
  const sub = nr.duplicate();
  sub.on('error', () => {});
  await sub.connect();
  const got = new Promise((resolve) => sub.subscribe(`${p}ch`, (m) => resolve(m)));
  // Subscribed once the SUBSCRIBE reply is in: publish until it lands.
  let n = 0;
  for (let i = 0; i < 100 && n === 0; i++) n = await nr.publish(`${p}ch`, 'hello');
  eq('node-redis rediss: Pub/Sub over TLS', await got, 'hello');
  await sub.quit();
  await nr.del([`${p}io`, `${p}big`, `${p}n`, `${p}h`, `${p}nr`, `${p}m`]);
  await nr.quit();

  await check('no client certificate: refused (tls-auth-clients yes)', async () => {
    const outcome = await new Promise((resolve) => {
      const s = tls.connect({ host: HOST, port: TLS_PORT, ca: certs.ca }, () => s.write('PING\r\n'));
      s.on('data', (d) => resolve(`data ${d}`));
      s.on('error', () => resolve('closed'));
      s.on('close', () => resolve('closed'));
    });
    if (outcome !== 'closed') throw new Error(`expected a refusal, got ${outcome}`);
  });
  truthy('done', true);
});
