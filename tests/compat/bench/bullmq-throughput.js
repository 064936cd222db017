'use strict';
// BullMQ throughput on one server: N jobs added (addBulk), then one Worker with
// concurrency C drains them. Prints one JSON line. Usage:
//   node bench/bullmq-throughput.js PORT [JOBS=10000] [CONCURRENCY=50]
const { Queue, Worker } = require('bullmq');

async function main() {
  const port = Number(process.argv[2]);
  const jobs = Number(process.argv[3] || 10000);
  const concurrency = Number(process.argv[4] || 50);
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const name = `bench-${process.pid}`;
  const q = new Queue(name, { connection });
  await q.obliterate({ force: true }).catch(() => {});

  let t0 = process.hrtime.bigint();
  for (let i = 0; i < jobs; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(i + 1000, jobs); j++) {
      batch.push({ name: 'job', data: { i: j, payload: 'x'.repeat(64) }, opts: { removeOnComplete: true } });
    }
    await q.addBulk(batch);
  }
  const addSecs = Number(process.hrtime.bigint() - t0) / 1e9;

  let done = 0;
  let finish;
  const finished = new Promise((r) => { finish = r; });
  t0 = process.hrtime.bigint();
  const w = new Worker(name, async (job) => job.data.i, { connection, concurrency });
  w.on('completed', () => { if (++done === jobs) finish(); });
  w.on('failed', (job, err) => { console.error(`job ${job && job.id} failed: ${err.message}`); process.exit(1); });
  await finished;
  const procSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  await w.close();
  await q.obliterate({ force: true });
  await q.close();
  console.log(JSON.stringify({ port, jobs, concurrency, add_jobs_per_s: Math.round(jobs / addSecs), process_jobs_per_s: Math.round(jobs / procSecs), process_secs: +procSecs.toFixed(3) }));
}

main().catch((e) => { console.error(e); process.exit(1); });
