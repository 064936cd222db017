'use strict';
// rate-limiter-flexible's RateLimiterRedis on ioredis (Lua via defineCommand) and on
// node-redis 5 (EVAL, MULTI): points, msBeforeNext, blocks, penalty/reward, expiry.
const { RateLimiterRedis } = require('rate-limiter-flexible');
const IORedis = require('ioredis');
const { PORT, HOST, eq, truthy, check, sleep, guard, prefix } = require('./lib');

const tag = 'rate-limiter';

async function consumeAll(rl, key, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    try {
      const r = await rl.consume(key);
      out.push(['ok', r.remainingPoints]);
    } catch (r) {
      if (r instanceof Error) throw r;
      out.push(['blocked', r.remainingPoints, r.msBeforeNext]);
    }
  }
  return out;
}

async function checks(name, storeClient, extra = {}) {
  const t = `${tag}/${name}`;
  const kp = prefix(t);
  const rl = new RateLimiterRedis({ storeClient, keyPrefix: `${kp}basic`, points: 5, duration: 1, ...extra });
  const got = await consumeAll(rl, 'user1', 6);
  eq(`${t} remainingPoints count down`, got.slice(0, 5), [['ok', 4], ['ok', 3], ['ok', 2], ['ok', 1], ['ok', 0]]);
  truthy(`${t} sixth consume blocked with msBeforeNext in (0, 1000]`, got[5][0] === 'blocked' && got[5][1] === 0 && got[5][2] > 0 && got[5][2] <= 1000, got[5]);
  const state = await rl.get('user1');
  eq(`${t} get: consumedPoints`, state.consumedPoints, 6);
  await sleep(Math.max(state.msBeforeNext, 0) + 150);
  eq(`${t} expiry restores points`, (await rl.consume('user1')).remainingPoints, 4);

  const pr = new RateLimiterRedis({ storeClient, keyPrefix: `${kp}pr`, points: 10, duration: 5, ...extra });
  await pr.consume('u', 2);
  eq(`${t} penalty adds points`, (await pr.penalty('u', 3)).consumedPoints, 5);
  eq(`${t} reward gives points back`, (await pr.reward('u', 4)).consumedPoints, 1);
  eq(`${t} remainingPoints after penalty/reward`, (await pr.get('u')).remainingPoints, 9);
  await pr.delete('u');
  eq(`${t} delete forgets the key`, await pr.get('u'), null);
  const big = await pr.consume('multi', 4);
  truthy(`${t} msBeforeNext tracks a 5 s window`, big.msBeforeNext > 4000 && big.msBeforeNext <= 5000, big.msBeforeNext);

  const bl = new RateLimiterRedis({ storeClient, keyPrefix: `${kp}block`, points: 2, duration: 1, blockDuration: 2, ...extra });
  const b = await consumeAll(bl, 'ip', 3);
  truthy(`${t} blockDuration: third consume blocked for ~2 s`, b[2][0] === 'blocked' && b[2][2] > 1500 && b[2][2] <= 2000, b);
  await sleep(1200);
  const still = await consumeAll(bl, 'ip', 1);
  truthy(`${t} blockDuration: still blocked after the 1 s window`, still[0][0] === 'blocked', still);
  await sleep(Math.max(still[0][2], 0) + 150);
  eq(`${t} blockDuration: free again after the block`, await consumeAll(bl, 'ip', 1), [['ok', 1]]);

  const blockNow = new RateLimiterRedis({ storeClient, keyPrefix: `${kp}bn`, points: 100, duration: 10, ...extra });
  await blockNow.block('bad', 1);
  const blocked = await consumeAll(blockNow, 'bad', 1);
  truthy(`${t} block(): key blocked for ~1 s`, blocked[0][0] === 'blocked' && blocked[0][2] > 500 && blocked[0][2] <= 1000, blocked);
}

guard(tag, async () => {
  const io = new IORedis({ host: HOST, port: PORT, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  io.on('error', () => {});
  await new Promise((r) => io.once('ready', r));
  await check(`${tag} with ioredis`, () => checks('ioredis', io));
  io.disconnect();

  const redis = require('redis5');
  const nr = redis.createClient({ socket: { host: HOST, port: PORT, reconnectStrategy: false } });
  nr.on('error', () => {});
  await nr.connect();
  await check(`${tag} with node-redis 5`, () => checks('node-redis', nr, { useRedisPackage: true }));
  nr.destroy();
});
