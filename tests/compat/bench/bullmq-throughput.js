'use strict';
// BullMQ throughput on one server: N jobs added (addBulk), then one Worker with
// concurrency C drains them. Prints one JSON line. Usage:
//   node bench/bullmq-throughput.js PORT [JOBS=10000] [CONCURRENCY=50] [SERVER_PID]
// With SERVER_PID, the server's CPU time while the Worker drains the queue is
// reported too (µs per job), read from /proc; so is this client's.
const fs = require('fs');
const { Queue, Worker } = require('bullmq');

// utime + stime of a process, in µs (fields 14 and 15 of /proc/PID/stat,
// counted after the command name, which may hold spaces).
function cpuUs(pid) {
  if (!pid) return 0;
  const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(rest[11]) + Number(rest[12])) * 1e6 / 100;
}

async function main() {
  const port = Number(process.argv[2]);
  const jobs = Number(process.argv[3] || 10000);
  const concurrency = Number(process.argv[4] || 50);
  const serverPid = Number(process.argv[5] || 0);
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
  const server0 = cpuUs(serverPid);
  const client0 = process.cpuUsage();
  const w = new Worker(name, async (job) => job.data.i, { connection, concurrency });
  w.on('completed', () => { if (++done === jobs) finish(); });
  w.on('failed', (job, err) => { console.error(`job ${job && job.id} failed: ${err.message}`); process.exit(1); });
  await finished;
  const procSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  const serverUs = cpuUs(serverPid) - server0;
  const client = process.cpuUsage(client0);
  await w.close();
  await q.obliterate({ force: true });
  await q.close();
  console.log(JSON.stringify({ port, jobs, concurrency, add_jobs_per_s: Math.round(jobs / addSecs), process_jobs_per_s: Math.round(jobs / procSecs), process_secs: +procSecs.toFixed(3),
    server_cpu_us_per_job: serverPid ? +(serverUs / jobs).toFixed(1) : null,
    client_cpu_us_per_job: +((client.user + client.system) / jobs).toFixed(1) }));
}

main().catch((e) => { console.error(e); process.exit(1); });
