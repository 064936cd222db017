'use strict';
// Keyspace notifications as an ioredis listener sees them: CONFIG SET/GET of
// notify-keyspace-events, keyspace and keyevent channels through PSUBSCRIBE, the
// events of a few commands in order, and an expiry found by the server on its own.
const IORedis = require('ioredis');
const { PORT, HOST, eq, check, waitFor, prefix, guard } = require('./lib');

const tag = 'keyspace-notifications';

guard(tag, async () => {
  const kp = prefix(tag);
  const opts = { host: HOST, port: PORT, maxRetriesPerRequest: 1 };
  const cmd = new IORedis(opts);
  const sub = new IORedis(opts);
  for (const c of [cmd, sub]) c.on('error', () => {});

  await cmd.config('SET', 'notify-keyspace-events', 'KEA');
  eq(`${tag} CONFIG GET prints the classes as Redis does`, await cmd.config('GET', 'notify-keyspace-events'), ['notify-keyspace-events', 'AKE']);

  const space = [];
  const events = [];
  sub.on('pmessage', (pattern, channel, message) => {
    if (channel.startsWith('__keyspace@0__:')) space.push([channel.slice('__keyspace@0__:'.length), message]);
    else if (message.startsWith(kp)) events.push([channel.slice('__keyevent@0__:'.length), message]);
  });
  await sub.psubscribe(`__keyspace@0__:${kp}*`, '__keyevent@0__:*');

  // Everything published before the sentinel arrives before it.
  const sentinel = async () => {
    const n = space.length;
    await cmd.publish(`__keyspace@0__:${kp}end`, 'end');
    await waitFor('the sentinel', () => space.slice(n).some(([k]) => k === `${kp}end`));
    space.splice(space.findIndex(([k], i) => i >= n && k === `${kp}end`), 1);
  };

  await check(`${tag} events of a command script`, async () => {
    await cmd.set(`${kp}s`, 'v');
    await cmd.expire(`${kp}s`, 100);
    await cmd.rpush(`${kp}l`, 'a', 'b');
    await cmd.lpop(`${kp}l`, 2);
    await cmd.hset(`${kp}h`, 'f', '1');
    await cmd.hincrby(`${kp}h`, 'f', 2);
    await cmd.rename(`${kp}h`, `${kp}h2`);
    await cmd.del(`${kp}s`, `${kp}h2`);
    await cmd.multi().incr(`${kp}n`).sadd(`${kp}set`, 'x').exec();
    await sentinel();
  });
  eq(`${tag} keyspace channel: event names in order`, space, [
    [`${kp}s`, 'set'],
    [`${kp}s`, 'expire'],
    [`${kp}l`, 'rpush'],
    [`${kp}l`, 'lpop'],
    [`${kp}l`, 'del'],
    [`${kp}h`, 'hset'],
    [`${kp}h`, 'hincrby'],
    [`${kp}h`, 'rename_from'],
    [`${kp}h2`, 'rename_to'],
    [`${kp}s`, 'del'],
    [`${kp}h2`, 'del'],
    [`${kp}n`, 'incrby'],
    [`${kp}set`, 'sadd'],
  ]);
  eq(`${tag} keyevent channel: the keys, in the same order`, events.map(([e]) => e), space.map(([, e]) => e));

  await check(`${tag} the server's own expiry fires expired`, async () => {
    await cmd.set(`${kp}ttl`, 'v', 'PX', 20);
    await waitFor('the expired event', () => events.some(([e, k]) => e === 'expired' && k === `${kp}ttl`));
  });

  await cmd.config('SET', 'notify-keyspace-events', '');
  eq(`${tag} turned off again`, await cmd.config('GET', 'notify-keyspace-events'), ['notify-keyspace-events', '']);
  await cmd.del(`${kp}n`, `${kp}set`);
  sub.disconnect();
  cmd.disconnect();
});
