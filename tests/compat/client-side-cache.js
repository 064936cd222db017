'use strict';
// node `redis` 5 client-side caching (RESP3 `clientSideCache`): a GET is served
// from the local cache until another client's write invalidates it through
// keyward's CLIENT TRACKING pushes; the cache's hit/miss counters show it.
const redis = require('redis5');
const { HOST, PORT, eq, check, truthy, waitFor, prefix, guard } = require('./lib');

const tag = 'client-side-cache';

guard(tag, async () => {
  const p = prefix(tag);
  const key = `${p}greeting`;
  const other = `${p}other`;
  const cached = redis.createClient({
    socket: { host: HOST, port: PORT },
    RESP: 3,
    clientSideCache: { ttl: 0, maxEntries: 0, evictPolicy: 'LRU' },
  });
  const writer = redis.createClient({ socket: { host: HOST, port: PORT } });
  cached.on('error', () => {});
  writer.on('error', () => {});
  await cached.connect();
  await writer.connect();
  try {
    const cache = cached.clientSideCache;
    truthy(`${tag} cache provider present`, cache !== undefined);
    await writer.set(key, 'hello');
    await writer.set(other, 'x');

    eq(`${tag} first GET (miss)`, await cached.get(key), 'hello');
    eq(`${tag} second GET (hit)`, await cached.get(key), 'hello');
    let st = cache.stats();
    eq(`${tag} counters after two GETs`, [st.hitCount, st.missCount], [1, 1]);
    eq(`${tag} one entry cached`, cache.size(), 1);

    const info = await writer.sendCommand(['CLIENT', 'LIST']);
    truthy(`${tag} tracking flag in CLIENT LIST`, /flags=t/.test(info), info);

    // Another client's write: keyward pushes `invalidate [key]`.
    await writer.set(key, 'changed');
    await check(`${tag} invalidation empties the cache`, () =>
      waitFor('the invalidation push', () => cache.size() === 0));
    eq(`${tag} GET after invalidation (miss, new value)`, await cached.get(key), 'changed');
    eq(`${tag} GET again (hit)`, await cached.get(key), 'changed');
    st = cache.stats();
    eq(`${tag} counters after the write`, [st.hitCount, st.missCount], [2, 2]);

    // A write to a key it never read leaves its cache alone.
    await writer.set(other, 'y');
    await writer.set(key, 'again');
    await check(`${tag} second invalidation`, () =>
      waitFor('the second push', () => cache.size() === 0));
    eq(`${tag} fresh value`, await cached.get(key), 'again');

    // DEL of a cached key invalidates it too.
    await cached.get(key);
    eq(`${tag} hit before DEL`, cache.stats().hitCount, 3);
    await writer.del(key);
    await check(`${tag} DEL invalidates`, () => waitFor('the DEL push', () => cache.size() === 0));
    eq(`${tag} GET of a deleted key`, await cached.get(key), null);
  } finally {
    await writer.del([key, other]).catch(() => {});
    cached.destroy();
    writer.destroy();
  }
});
