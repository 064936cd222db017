'use strict';
// BullMQ 6 (on ioredis): queues, workers, events, delays, retries, priorities,
// rate limits, flows, job schedulers, getWorkers, pause/resume, clean/obliterate
// and stalled-job recovery after a worker process is SIGKILLed.
const { fork } = require('node:child_process');
const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');
const IORedis = require('ioredis');
const { PORT, HOST, eq, truthy, check, sleep, waitFor, guard, prefix } = require('./lib');

const connection = { host: HOST, port: PORT, maxRetriesPerRequest: null };
const tag = 'bullmq';
const qp = prefix(tag).replace(/:/g, '-');
const closers = [];
const track = (x) => { closers.push(x); return x; };
const queue = (name, o = {}) => track(new Queue(qp + name, { connection, ...o }));
// A worker's errors (e.g. a failing Lua script) show once, as one line, not with
// the whole script text ioredis attaches.
const seenErrors = new Set();
const quiet = (w) => w.on('error', (e) => {
  const line = String((e && e.message) || e).split('\n')[0];
  if (!seenErrors.has(line)) { seenErrors.add(line); console.log(`# worker error: ${line}`); }
});
const worker = (name, fn, o = {}) => { const w = track(new Worker(qp + name, fn, { connection, ...o })); quiet(w); return w; };
const events = (name) => track(new QueueEvents(qp + name, { connection }));

// Child mode: a worker that takes one job, never finishes it, and waits to be killed.
if (process.argv[2] === 'stall-child') {
  const w = new Worker(process.argv[3], async () => {
    process.send('took-job');
    await new Promise(() => {});
  }, { connection, lockDuration: 1000, stalledInterval: 1000 });
  w.on('error', () => {});
  return;
}

async function main() {
  const redis = track(new IORedis(connection));

  await check(`${tag} bulk: 3000 jobs through Queue + Worker(concurrency 50) + QueueEvents`, async () => {
    const q = queue('bulk');
    const qe = events('bulk');
    await qe.waitUntilReady();
    let completedEvents = 0;
    qe.on('completed', () => { completedEvents++; });
    const n = 3000;
    const jobs = [];
    for (let i = 0; i < n; i++) jobs.push({ name: 'sum', data: { a: i, b: 1 } });
    for (let i = 0; i < n; i += 500) await q.addBulk(jobs.slice(i, i + 500));
    let sum = 0;
    const w = worker('bulk', async (job) => { sum += job.data.a + job.data.b; return job.data.a + job.data.b; }, { concurrency: 50 });
    await waitFor('3000 completed', async () => (await q.getJobCounts('completed')).completed === n, 60000, 100);
    eq(`${tag} bulk: every job processed once`, sum, (n * (n - 1)) / 2 + n);
    const counts = await q.getJobCounts('waiting', 'active', 'completed', 'failed');
    eq(`${tag} bulk: job counts`, counts, { waiting: 0, active: 0, completed: n, failed: 0 });
    await waitFor('completed events', () => completedEvents >= n, 10000);
    eq(`${tag} bulk: QueueEvents saw every completion`, completedEvents, n);
    const done = await q.getCompleted(0, 0);
    truthy(`${tag} bulk: completed job has returnvalue`, done.length === 1 && typeof done[0].returnvalue === 'number', done[0] && done[0].returnvalue);
    await w.close();
  });

  await check(`${tag} delayed job runs after its delay`, async () => {
    const q = queue('delayed');
    const qe = events('delayed');
    await qe.waitUntilReady();
    const w = worker('delayed', async (job) => Date.now() - job.timestamp);
    const job = await q.add('later', { x: 1 }, { delay: 700 });
    eq(`${tag} delayed: state right after add`, await job.getState(), 'delayed');
    const waited = await job.waitUntilFinished(qe, 10000);
    truthy(`${tag} delayed: ran no earlier than its delay`, waited >= 690, waited);
    await w.close();
  });

  await check(`${tag} retries with exponential backoff`, async () => {
    const q = queue('retry');
    const qe = events('retry');
    await qe.waitUntilReady();
    const times = {};
    const w = worker('retry', async (job) => {
      (times[job.id] = times[job.id] || []).push(Date.now());
      if (job.data.always || job.attemptsMade < 2) throw new Error(`boom ${job.attemptsMade}`);
      return 'third time lucky';
    });
    const ok = await q.add('flaky', {}, { attempts: 3, backoff: { type: 'exponential', delay: 200 } });
    const bad = await q.add('broken', { always: true }, { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
    eq(`${tag} retry: result after two failures`, await ok.waitUntilFinished(qe, 15000), 'third time lucky');
    const t = times[ok.id];
    truthy(`${tag} retry: backoff gaps ~200ms then ~400ms`, t.length === 3 && t[1] - t[0] >= 190 && t[2] - t[1] >= 390, t.map((x) => x - t[0]));
    const okJob = await q.getJob(ok.id);
    eq(`${tag} retry: attemptsMade`, okJob.attemptsMade, 3);
    await bad.waitUntilFinished(qe, 15000).then(() => { throw new Error('broken job completed'); }, () => {});
    const badJob = await q.getJob(bad.id);
    eq(`${tag} retry: exhausted job is failed`, [await badJob.getState(), badJob.failedReason, badJob.attemptsMade], ['failed', 'boom 1', 2]);
    await w.close();
  });

  await check(`${tag} priorities`, async () => {
    const q = queue('prio');
    const order = [];
    await q.add('low', { n: 'low' }, { priority: 10 });
    await q.add('none', { n: 'none' });
    await q.add('high', { n: 'high' }, { priority: 1 });
    await q.add('mid', { n: 'mid' }, { priority: 5 });
    eq(`${tag} prio: getPrioritized`, (await q.getJobCounts('prioritized')).prioritized, 3);
    const w = worker('prio', async (job) => { order.push(job.data.n); }, { concurrency: 1 });
    await waitFor('4 done', () => order.length === 4, 10000);
    eq(`${tag} prio: processing order`, order, ['none', 'high', 'mid', 'low']);
    await w.close();
  });

  await check(`${tag} rate-limited worker`, async () => {
    const q = queue('limited');
    const stamps = [];
    await q.addBulk(Array.from({ length: 12 }, (_, i) => ({ name: 'r', data: { i } })));
    const start = Date.now();
    const w = worker('limited', async () => { stamps.push(Date.now() - start); }, { concurrency: 10, limiter: { max: 4, duration: 500 } });
    await waitFor('12 done', () => stamps.length === 12, 15000);
    // 12 jobs at 4 per 500 ms: three windows, so the last starts ~1000 ms in.
    truthy(`${tag} rate limit: 12 jobs took at least two extra windows`, stamps[11] >= 900, stamps);
    const firstWindow = stamps.filter((s) => s < stamps[0] + 450).length;
    truthy(`${tag} rate limit: at most 4 in the first window`, firstWindow <= 4, stamps);
    await w.close();
  });

  await check(`${tag} FlowProducer parent/children`, async () => {
    const fp = track(new FlowProducer({ connection }));
    const q = queue('flow');
    const qe = events('flow');
    await qe.waitUntilReady();
    const w = worker('flow', async (job) => {
      if (job.name === 'parent') {
        const vals = await job.getChildrenValues();
        return Object.values(vals).sort((a, b) => a - b);
      }
      return job.data.n * 10;
    }, { concurrency: 5 });
    const tree = await fp.add({
      name: 'parent', queueName: qp + 'flow', data: {},
      children: [1, 2, 3].map((n) => ({ name: 'child', queueName: qp + 'flow', data: { n } })),
    });
    eq(`${tag} flow: parent waits for children`, await tree.job.getState().then((s) => ['waiting-children', 'waiting', 'active', 'completed'].includes(s)), true);
    eq(`${tag} flow: parent result from children`, await tree.job.waitUntilFinished(qe, 10000), [10, 20, 30]);
    const deps = await (await q.getJob(tree.job.id)).getDependenciesCount();
    eq(`${tag} flow: dependencies processed`, deps.processed, 3);
    await w.close();
  });

  await check(`${tag} job scheduler (upsertJobScheduler)`, async () => {
    const q = queue('sched');
    let runs = 0;
    const w = worker('sched', async (job) => { runs++; return job.name; });
    await q.upsertJobScheduler('every-300ms', { every: 300 }, { name: 'tick', data: { t: 1 } });
    const schedulers = await q.getJobSchedulers();
    eq(`${tag} sched: getJobSchedulers`, schedulers.map((s) => [s.key, s.every]), [['every-300ms', 300]]);
    await waitFor('3 scheduled runs', () => runs >= 3, 10000);
    truthy(`${tag} sched: ran repeatedly`, runs >= 3, runs);
    eq(`${tag} sched: removeJobScheduler`, await q.removeJobScheduler('every-300ms'), true);
    eq(`${tag} sched: no schedulers left`, (await q.getJobSchedulers()).length, 0);
    await q.upsertJobScheduler('cron', { pattern: '*/1 * * * * *' }, { name: 'cron-tick' });
    const next = await q.getJobScheduler('cron');
    truthy(`${tag} sched: cron scheduler has a next run`, next && next.next > Date.now() - 1000, next);
    await q.removeJobScheduler('cron');
    await w.close();
  });

  await check(`${tag} getWorkers (CLIENT LIST name=)`, async () => {
    const q = queue('workers');
    const w1 = worker('workers', async () => {}, { name: 'alpha' });
    const w2 = worker('workers', async () => {});
    await w1.waitUntilReady();
    await w2.waitUntilReady();
    await sleep(100);
    const ws = await q.getWorkers();
    eq(`${tag} getWorkers: count`, ws.length, 2);
    truthy(`${tag} getWorkers: entries carry CLIENT LIST fields`, ws.every((x) => x.addr && x.name !== undefined && x.id), ws);
    truthy(`${tag} getWorkers: worker name shows`, ws.some((x) => x.rawname && x.rawname.endsWith('alpha')), ws.map((x) => x.rawname || x.name));
    eq(`${tag} getWorkersCount`, await q.getWorkersCount(), 2);
    await w1.close();
    await w2.close();
  });

  await check(`${tag} pause/resume`, async () => {
    const q = queue('pause');
    let runs = 0;
    const w = worker('pause', async () => { runs++; });
    await w.waitUntilReady();
    await q.pause();
    eq(`${tag} pause: isPaused`, await q.isPaused(), true);
    await q.add('p', {});
    await sleep(500);
    eq(`${tag} pause: nothing ran while paused`, runs, 0);
    const pc = await q.getJobCounts('wait', 'paused');
    eq(`${tag} pause: job waits while paused`, pc.wait + pc.paused, 1);
    await q.resume();
    eq(`${tag} resume: isPaused`, await q.isPaused(), false);
    await waitFor('job after resume', () => runs === 1, 5000);
    eq(`${tag} resume: job ran`, runs, 1);
    await w.close();
  });

  await check(`${tag} clean/obliterate`, async () => {
    const q = queue('clean');
    const w = worker('clean', async (job) => { if (job.data.fail) throw new Error('x'); });
    await q.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'c', data: { fail: i % 4 === 0 } })));
    await waitFor('20 finished', async () => { const c = await q.getJobCounts('completed', 'failed'); return c.completed + c.failed === 20; }, 10000);
    await w.close();
    const cleaned = await q.clean(0, 100, 'completed');
    eq(`${tag} clean: completed removed`, cleaned.length, 15);
    eq(`${tag} clean: counts after`, await q.getJobCounts('completed', 'failed'), { completed: 0, failed: 5 });
    await q.add('left', {});
    await q.obliterate({ force: true });
    const left = await redis.keys(`bull:${qp}clean:*`);
    eq(`${tag} obliterate: no keys left`, left, []);
  });

  await check(`${tag} stalled job recovered after its worker is SIGKILLed`, async () => {
    const name = qp + 'stall';
    const q = queue('stall');
    const qe = events('stall');
    await qe.waitUntilReady();
    const stalled = [];
    qe.on('stalled', ({ jobId }) => stalled.push(jobId));
    const job = await q.add('hang', { v: 7 });
    const child = fork(__filename, ['stall-child', name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (c) => reject(new Error(`stall child exited early (${c})`)));
      setTimeout(() => reject(new Error('stall child took no job in 10 s')), 10000).unref();
    });
    eq(`${tag} stalled: job active in the child`, await job.getState(), 'active');
    child.removeAllListeners('exit');
    child.kill('SIGKILL');
    const w = worker('stall', async (j) => j.data.v * 6, { stalledInterval: 300, lockDuration: 1000 });
    eq(`${tag} stalled: another worker completes it`, await job.waitUntilFinished(qe, 20000), 42);
    eq(`${tag} stalled: 'stalled' event for the job`, stalled, [job.id]);
    await w.close();
  });

  await check(`${tag} job API: progress, logs, update, priority, promote, retry, remove, drain`, async () => {
    const q = queue('api');
    const qe = events('api');
    await qe.waitUntilReady();
    const progress = [];
    qe.on('progress', ({ data }) => progress.push(data));
    const w = worker('api', async (job) => {
      if (job.name === 'fails') throw new Error('nope');
      await job.updateProgress(50);
      await job.updateProgress({ step: 'done' });
      await job.log('line one');
      await job.log('line two');
      await job.updateData({ ...job.data, touched: true });
      return 'ok';
    }, { autorun: false, metrics: { maxDataPoints: 10 } });
    const a = await q.add('a', { v: 1 });
    const lifo = await q.add('lifo', { v: 2 }, { lifo: true });
    const pr = await q.add('pr', {}, { priority: 7 });
    await pr.changePriority({ priority: 2 });
    eq(`${tag} api: changePriority`, (await q.getJob(pr.id)).priority, 2);
    const d = await q.add('d', {}, { delay: 60000 });
    eq(`${tag} api: getDelayed`, (await q.getDelayed()).map((j) => j.id), [d.id]);
    await d.promote();
    eq(`${tag} api: promote moves to waiting`, await d.getState(), 'waiting');
    eq(`${tag} api: getWaiting has lifo first`, (await q.getWaiting(0, 0))[0].id, lifo.id);
    const dup1 = await q.add('dedup', { n: 1 }, { deduplication: { id: 'same' } });
    const dup2 = await q.add('dedup', { n: 2 }, { deduplication: { id: 'same' } });
    eq(`${tag} api: deduplication returns the first job`, dup2.id, dup1.id);
    const f = await q.add('fails', {});
    eq(`${tag} api: getJobCounts before run`, await q.getJobCounts('wait', 'prioritized', 'delayed'), { wait: 5, prioritized: 1, delayed: 0 });
    w.run();
    await f.waitUntilFinished(qe, 10000).catch(() => {});
    await a.waitUntilFinished(qe, 10000);
    await waitFor('all done', async () => { const c = await q.getJobCounts('completed', 'failed'); return c.completed + c.failed === 6; }, 10000);
    const aj = await q.getJob(a.id);
    eq(`${tag} api: progress stored`, aj.progress, { step: 'done' });
    eq(`${tag} api: progress events`, progress.slice(0, 2), [50, { step: 'done' }]);
    eq(`${tag} api: job logs`, await q.getJobLogs(a.id), { logs: ['line one', 'line two'], count: 2 });
    eq(`${tag} api: updateData`, aj.data, { v: 1, touched: true });
    eq(`${tag} api: returnvalue`, aj.returnvalue, 'ok');
    const metrics = await q.getMetrics('completed');
    eq(`${tag} api: metrics count`, metrics.meta.count, 5);
    eq(`${tag} api: failed job listed`, (await q.getFailed()).map((j) => [j.id, j.failedReason]), [[f.id, 'nope']]);
    await w.pause();
    await q.retryJobs({ state: 'failed' });
    eq(`${tag} api: retryJobs moves failed back to wait`, await (await q.getJob(f.id)).getState(), 'waiting');
    await (await q.getJob(f.id)).remove();
    eq(`${tag} api: job.remove`, await q.getJob(f.id), undefined);
    await q.addBulk([{ name: 'x', data: {} }, { name: 'y', data: {} }]);
    await q.drain();
    eq(`${tag} api: drain empties wait`, await q.getWaitingCount(), 0);
    eq(`${tag} api: getJobs by type`, (await q.getJobs(['completed'])).length, 5);
    eq(`${tag} api: count`, await q.count(), 0);
    await w.close();
  });

  await check(`${tag} removeOnComplete/removeOnFail keep limits`, async () => {
    const q = queue('keep');
    const w = worker('keep', async (job) => { if (job.data.fail) throw new Error('f'); }, { concurrency: 5 });
    await q.addBulk(Array.from({ length: 30 }, (_, i) => ({ name: 'k', data: { fail: i % 3 === 0 }, opts: { removeOnComplete: 5, removeOnFail: { count: 2 } } })));
    await waitFor('30 finished', async () => {
      const c = await q.getJobCounts('wait', 'active');
      return c.wait + c.active === 0;
    }, 10000);
    await sleep(100);
    eq(`${tag} keep: counts trimmed`, await q.getJobCounts('completed', 'failed'), { completed: 5, failed: 2 });
    await w.close();
  });

  await check(`${tag} over ioredis 6 connections (RESP3: HELLO 3)`, async () => {
    const IORedis6 = require('ioredis6');
    const mk = () => new IORedis6({ host: HOST, port: PORT, maxRetriesPerRequest: null });
    const name = qp + 'resp3';
    const q = track(new Queue(name, { connection: mk() }));
    const qe = track(new QueueEvents(name, { connection: mk() }));
    await qe.waitUntilReady();
    const w = track(new Worker(name, async (job) => { await job.updateProgress(5); return job.data.n * 2; }, { connection: mk(), concurrency: 10 }));
    quiet(w);
    await q.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 'j', data: { n: i } })));
    const d = await q.add('d', { n: 21 }, { delay: 200 });
    eq(`${tag} resp3: delayed job result`, await d.waitUntilFinished(qe, 10000), 42);
    const fp = track(new FlowProducer({ connection: mk() }));
    const t = await fp.add({ name: 'p', queueName: name, data: { n: 1 }, children: [{ name: 'c', queueName: name, data: { n: 2 } }] });
    eq(`${tag} resp3: flow parent result`, await t.job.waitUntilFinished(qe, 10000), 2);
    await waitFor('203 completed', async () => (await q.getJobCounts('completed')).completed === 203, 10000);
    eq(`${tag} resp3: job counts`, await q.getJobCounts('completed', 'failed', 'active', 'wait'), { completed: 203, failed: 0, active: 0, wait: 0 });
    eq(`${tag} resp3: getWorkers`, (await q.getWorkers()).length, 1);
    eq(`${tag} resp3: progress`, (await q.getJob(d.id)).progress, 5);
    await w.close();
    await q.obliterate({ force: true });
  });

  await redis.quit();
}

guard(tag, async () => {
  try {
    await main();
  } finally {
    for (const c of closers.reverse()) {
      try { await Promise.race([c.close ? c.close() : c.quit(), sleep(3000)]); } catch { /* closing anyway */ }
    }
  }
});
