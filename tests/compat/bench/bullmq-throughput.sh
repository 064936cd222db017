#!/usr/bin/env bash
# BullMQ throughput, keyward vs Debian's redis-server in the same run (not a
# test, not in CI): 10k jobs added, one Worker with concurrency 50. Each server
# is measured ROUNDS times (default 3), alternating, and the best run of each
# is compared. Needs `npm ci` in tests/compat and a release build:
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
pids+=("$!")
wait_port "$kport"
rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
pids+=("$!")
wait_port "$rport"
echo "keyward: $("$bin" --version | head -1) on $kport; $(redis-server --version | cut -d' ' -f1-3) on $rport"
echo "$jobs jobs, one Worker with concurrency $concurrency, $rounds rounds each"

best_k=0
best_r=0
for round in $(seq 1 "$rounds"); do
    for which in keyward redis; do
        port="$kport"; [ "$which" = redis ] && port="$rport"
        line="$(node bench/bullmq-throughput.js "$port" "$jobs" "$concurrency")"
        rate="$(node -p "JSON.parse(process.argv[1]).process_jobs_per_s" "$line")"
        echo "round $round $which: $line"
        if [ "$which" = keyward ]; then
            [ "$rate" -gt "$best_k" ] && best_k="$rate"
        else
            [ "$rate" -gt "$best_r" ] && best_r="$rate"
        fi
    done
done
echo "best jobs/s: keyward $best_k, redis-server $best_r, ratio keyward/redis $(node -p "($best_k / $best_r).toFixed(2)")"
