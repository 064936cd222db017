'use strict';
// express-session + connect-redis (on node `redis`): the store API directly, with
// node-redis 5 and 6 clients, and sessions through express-session's middleware on
// a plain http server driven with fetch.
const http = require('node:http');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { PORT, HOST, eq, truthy, check, sleep, guard, prefix } = require('./lib');

const tag = 'connect-redis';

async function storeChecks(name, redis) {
  const t = `${tag}/${name}`;
  const client = redis.createClient({ socket: { host: HOST, port: PORT, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  const pfx = `${prefix(t)}sess:`;
  const store = new RedisStore({ client, prefix: pfx, ttl: 100 });
  const cookie = { originalMaxAge: null, expires: null, httpOnly: true, path: '/' };
  try {
    await store.set('s1', { cookie, user: 'ada', n: 1 });
    eq(`${t} set + get`, await store.get('s1'), { cookie, user: 'ada', n: 1 });
    const ttl = await client.ttl(`${pfx}s1`);
    truthy(`${t} session key has the store ttl`, ttl > 90 && ttl <= 100, ttl);
    eq(`${t} get missing`, await store.get('nope'), null);
    await client.expire(`${pfx}s1`, 5);
    await store.touch('s1', { cookie, user: 'ada', n: 1 });
    const touched = await client.ttl(`${pfx}s1`);
    truthy(`${t} touch resets the ttl`, touched > 90, touched);
    const expiring = { ...cookie, expires: new Date(Date.now() + 2000).toISOString(), originalMaxAge: 2000 };
    await store.set('s2', { cookie: expiring, user: 'bob' });
    const pttl = await client.pTTL(`${pfx}s2`);
    truthy(`${t} cookie.expires sets the key ttl`, pttl > 1000 && pttl <= 2000, pttl);
    await store.set('s3', { cookie, user: 'cy' });
    eq(`${t} length`, await store.length(), 3);
    eq(`${t} ids`, (await store.ids()).sort(), ['s1', 's2', 's3']);
    const all = await store.all();
    eq(`${t} all`, all.map((s) => [s.id, s.user]).sort(), [['s1', 'ada'], ['s2', 'bob'], ['s3', 'cy']]);
    await store.destroy('s3');
    eq(`${t} destroy`, [await store.get('s3'), await store.length()], [null, 2]);
    await store.clear();
    eq(`${t} clear`, await store.length(), 0);
    await store.set('short', { cookie: { ...cookie, expires: new Date(Date.now() + 300).toISOString(), originalMaxAge: 300 } });
    await sleep(1150); // connect-redis rounds the ttl up to whole seconds
    eq(`${t} session expires with its cookie`, await store.get('short'), null);
  } finally {
    client.destroy();
  }
}

async function appChecks() {
  const t = `${tag}/app`;
  const redis = require('redis5');
  const client = redis.createClient({ socket: { host: HOST, port: PORT, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  const pfx = `${prefix(t)}sess:`;
  const store = new RedisStore({ client, prefix: pfx });
  const mw = session({ store, secret: 'compat', resave: false, saveUninitialized: false, cookie: { maxAge: 60000 } });
  const server = http.createServer((req, res) => {
    mw(req, res, () => {
      if (req.url === '/login') {
        req.session.user = 'ada';
        req.session.visits = 0;
      } else if (req.url === '/visit' && req.session.user) {
        req.session.visits++;
      } else if (req.url === '/logout') {
        return req.session.destroy(() => res.end('bye'));
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ user: req.session.user || null, visits: req.session.visits || 0 }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const login = await fetch(`${base}/login`);
    const setCookie = login.headers.get('set-cookie');
    truthy(`${t} login sets a session cookie`, setCookie && setCookie.startsWith('connect.sid='), setCookie);
    const jar = setCookie.split(';')[0];
    const sid = decodeURIComponent(jar.split('=')[1]).slice(2).split('.')[0];
    eq(`${t} session stored in redis`, JSON.parse(await client.get(`${pfx}${sid}`)).user, 'ada');
    await fetch(`${base}/visit`, { headers: { cookie: jar } });
    const second = await (await fetch(`${base}/visit`, { headers: { cookie: jar } })).json();
    eq(`${t} session state across requests`, second, { user: 'ada', visits: 2 });
    const ttl = await client.ttl(`${pfx}${sid}`);
    truthy(`${t} ttl from cookie maxAge`, ttl > 50 && ttl <= 60, ttl);
    await fetch(`${base}/logout`, { headers: { cookie: jar } });
    eq(`${t} logout destroys the session`, await client.exists(`${pfx}${sid}`), 0);
    eq(`${t} no session after logout`, await (await fetch(`${base}/visit`, { headers: { cookie: jar } })).json(), { user: null, visits: 0 });
  } finally {
    server.close();
    client.destroy();
  }
}

guard(tag, async () => {
  await check(`${tag} store API with node-redis 5`, () => storeChecks('redis5', require('redis5')));
  await check(`${tag} store API with node-redis 6`, () => storeChecks('redis6', require('redis6')));
  await check(`${tag} express-session app`, appChecks);
});
