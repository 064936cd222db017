'use strict';
// BullMQ as a DB-pinned ACL user: `worker` (rules `on >pw db=2 ~* &* +@all -@dangerous`,
// plus `+info +client|list`: Redis files both under @dangerous, and BullMQ's connection
// setup runs INFO (to read redis_version; NOPERM aborts it, as with Redis 7) and
// getWorkers runs CLIENT LIST)
// on a keyward started here from a TOML config with per-DB [[db]] tables (DB 2
// noeviction, DB 1 allkeys-lru). Part of run.sh's list; it starts its own server.
// Alone: KEYWARD_BIN=... node tests/compat/tenancy-bullmq.js
// (TENANCY_NO_DB_TABLES=1 leaves the [[db]] tables out, for servers without them).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');
const IORedis = require('ioredis');
const { eq, truthy, check, rejects, sleep, waitFor, guard } = require('./lib');

const tag = 'tenancy-bullmq';
const bin = path.resolve(__dirname, process.env.KEYWARD_BIN || '../../target/release/keyward');

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function startServer() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kw-tenancy-'));
  const file = path.join(dir, 'keyward.toml');
  const dbTables = process.env.TENANCY_NO_DB_TABLES ? '' : `
[[db]]
index = 2
name = "jobs"
maxmemory = "64mb"
maxmemory-policy = "noeviction"

[[db]]
index = 1
name = "cache"
maxmemory-policy = "allkeys-lru"
`;
  fs.writeFileSync(file, `[server]
bind = ["127.0.0.1"]
port = ${port}

[[user]]
name = "worker"
rules = "on >pw db=2 ~* &* +@all -@dangerous +info +client|list"
${dbTables}`);
  const child = spawn(bin, [file, '--save', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  await waitFor(`keyward on ${port}`, () => new Promise((resolve) => {
    if (child.exitCode !== null) throw new Error(`keyward exited (${child.exitCode}): ${log}`);
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), 10000, 100);
  return { port, child, dir, log: () => log };
}

guard(tag, async () => {
  // A server that rejects the [[db]] tables exits here with its log in the failure.
  const srv = await startServer();
  const closers = [];
  const track = (x) => { closers.push(x); return x; };
  try {
    const connection = { host: '127.0.0.1', port: srv.port, username: 'worker', password: 'pw', maxRetriesPerRequest: null };
    const admin = track(new IORedis({ host: '127.0.0.1', port: srv.port }));
    const me = track(new IORedis(connection));

    eq(`${tag} worker lands in DB 2`, /\bdb=2\b/.test(await me.client('INFO')), true);
    await rejects(`${tag} worker cannot SELECT 0`, () => me.select(0), 'NOPERM');
    await rejects(`${tag} worker cannot FLUSHALL (@dangerous)`, () => me.flushall(), 'NOPERM');
    if (!process.env.TENANCY_NO_DB_TABLES) {
      // BullMQ reads maxmemory_policy from INFO: the queue DB must say noeviction
      // while a client of the cache DB on the same server sees allkeys-lru.
      const policy = (info) => (/maxmemory_policy:(\S+)/.exec(info) || [])[1];
      eq(`${tag} INFO policy in the queue DB`, policy(await me.info('memory')), 'noeviction');
      const cache = track(new IORedis({ host: '127.0.0.1', port: srv.port, db: 1 }));
      eq(`${tag} INFO policy in the cache DB`, policy(await cache.info('memory')), 'allkeys-lru');
    }

    const q = track(new Queue('tenant-jobs', { connection }));
    const qe = track(new QueueEvents('tenant-jobs', { connection }));
    await qe.waitUntilReady();
    let sum = 0;
    const w = track(new Worker('tenant-jobs', async (job) => { sum += job.data.n; return job.data.n * 2; }, { connection, concurrency: 20, name: 'pinned' }));
    const n = 500;
    await q.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'j', data: { n: i } })));
    await waitFor(`${n} jobs`, async () => (await q.getJobCounts('completed')).completed === n, 30000, 100);
    eq(`${tag} ${n} jobs processed in DB 2`, sum, (n * (n - 1)) / 2);
    const delayed = await q.add('later', { n: 1 }, { delay: 300 });
    eq(`${tag} delayed job`, await delayed.waitUntilFinished(qe, 10000), 2);
    const fp = track(new FlowProducer({ connection }));
    const flow = await fp.add({ name: 'parent', queueName: 'tenant-jobs', data: { n: 0 }, children: [{ name: 'c', queueName: 'tenant-jobs', data: { n: 5 } }] });
    eq(`${tag} flow`, await flow.job.waitUntilFinished(qe, 10000), 0);

    await admin.select(2);
    truthy(`${tag} queue keys are in DB 2`, (await admin.keys('bull:tenant-jobs:*')).length > 0);
    await admin.select(0);
    eq(`${tag} no queue keys in DB 0`, await admin.keys('bull:tenant-jobs:*'), []);

    // getWorkers filters CLIENT LIST by name; the pinned user must still see its worker.
    await check(`${tag} getWorkers as the pinned user`, async () => {
      const ws = await q.getWorkers();
      truthy(`${tag} getWorkers sees the pinned worker`, ws.some((x) => (x.rawname || '').endsWith('pinned')), ws);
    });
    await w.close();
    await q.obliterate({ force: true });
    await admin.select(2);
    eq(`${tag} obliterate leaves DB 2 without queue keys`, await admin.keys('bull:tenant-jobs:*'), []);
  } finally {
    for (const c of closers.reverse()) {
      try { await Promise.race([c.close ? c.close() : c.quit(), sleep(2000)]); } catch { /* closing anyway */ }
    }
    srv.child.kill('SIGTERM');
    fs.rmSync(srv.dir, { recursive: true, force: true });
  }
});
