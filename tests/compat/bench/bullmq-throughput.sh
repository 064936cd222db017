#!/usr/bin/env bash
# BullMQ throughput, keyward vs Debian's redis-server in the same run (not a
# test, not in CI): 10k jobs added, one Worker with concurrency 50. Each server
# is measured ROUNDS times (default 3), alternating; the best and median runs of
# each are compared, with server and client CPU per job. Needs `npm ci` in tests/compat and a release build:
#   cargo build --release && tests/compat/bench/bullmq-throughput.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bin="${KEYWARD_BIN:-../../target/release/keyward}"
case "$bin" in /*) ;; *) bin="$here/$bin" ;; esac
jobs="${JOBS:-10000}"
concurrency="${CONCURRENCY:-50}"
rounds="${ROUNDS:-3}"

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_port() {
    local i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listening on $1" >&2
    exit 1
}

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
kport="$(free_port)"
"$bin" --save '' --port "$kport" --bind 127.0.0.1 >/dev/null 2>&1 &
kpid="$!"
pids+=("$kpid")
wait_port "$kport"
rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
rpid="$!"
pids+=("$rpid")
wait_port "$rport"
echo "keyward: $("$bin" --version | head -1) on $kport; $(redis-server --version | cut -d' ' -f1-3) on $rport"
echo "$jobs jobs, one Worker with concurrency $concurrency, $rounds rounds each"

results="$(mktemp)"
trap 'rm -f "$results"; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
for round in $(seq 1 "$rounds"); do
    for which in keyward redis; do
        port="$kport"; pid="$kpid"
        [ "$which" = redis ] && { port="$rport"; pid="$rpid"; }
        line="$(node bench/bullmq-throughput.js "$port" "$jobs" "$concurrency" "$pid")"
        echo "round $round $which: $line"
        echo "$which $line" >>"$results"
    done
done
# Best and median of each side; server and client CPU per job (µs) are
# medians. On a 2-core machine the Node client needs a core of its own, so
# the server's CPU per job is the steadier figure.
node - "$results" <<'JS'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n')
  .map((l) => { const i = l.indexOf(' '); return [l.slice(0, i), JSON.parse(l.slice(i + 1))]; });
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const side = (name) => {
  const r = rows.filter(([w]) => w === name).map(([, j]) => j);
  return {
    best: Math.max(...r.map((j) => j.process_jobs_per_s)),
    median: med(r.map((j) => j.process_jobs_per_s)),
    server: med(r.map((j) => j.server_cpu_us_per_job)),
    client: med(r.map((j) => j.client_cpu_us_per_job)),
  };
};
const k = side('keyward');
const r = side('redis');
console.log(`best jobs/s: keyward ${k.best}, redis-server ${r.best}, ratio keyward/redis ${(k.best / r.best).toFixed(2)}`);
console.log(`median jobs/s: keyward ${k.median}, redis-server ${r.median}, ratio keyward/redis ${(k.median / r.median).toFixed(2)}`);
console.log(`median server CPU µs/job: keyward ${k.server}, redis-server ${r.server}, ratio ${(k.server / r.server).toFixed(2)}`);
console.log(`median client CPU µs/job: against keyward ${k.client}, against redis-server ${r.client}`);
JS
