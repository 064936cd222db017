#!/usr/bin/env bash
# `appendfsync always` side by side: keyward and redis-server, each with a
# fresh AOF in a temp dir, the same redis-benchmark write workloads
# alternating A B A B, and per run the fdatasyncs each server issued
# (perf's syscall tracepoints, when `perf stat` can read them).
#
# Ops per fdatasync is the group-commit figure: on a noisy shared disk the
# ops/sec of both sides swing with every fsync's latency, but how many
# writes one fdatasync covers barely moves (Redis: one per event-loop turn).
#
#   cargo build --release && benches/aof-always.sh
#
# Knobs: ROUNDS [3], N [20000] requests per run, CLIENTS [50],
# PIPELINES ["1 16"], TESTS [set,incr,lpush], KEYWARD_BIN, REDIS_SERVER.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KEYWARD_BIN:-target/release/keyward}
redis=${REDIS_SERVER:-redis-server}
rounds=${ROUNDS:-3}
n=${N:-20000}
clients=${CLIENTS:-50}
pipelines=${PIPELINES:-1 16}
tests=${TESTS:-set,incr,lpush}
kport=6397
rport=6398
work=$(mktemp -d)
mkdir -p "$work/k" "$work/r"

"$bin" --port $kport --dir "$work/k" --appendonly yes --appendfsync always --save '' \
    >"$work/k.log" 2>&1 &
kpid=$!
"$redis" --port $rport --dir "$work/r" --appendonly yes --appendfsync always --save '' \
    >"$work/r.log" 2>&1 &
rpid=$!
trap 'kill $kpid $rpid 2>/dev/null || true; rm -rf "$work"' EXIT
for port in $kport $rport; do
    for _ in $(seq 1 50); do
        redis-cli -p $port PING >/dev/null 2>&1 && break
        sleep 0.1
    done
done

have_perf=0
if perf stat -x, -e syscalls:sys_enter_fdatasync true >/dev/null 2>&1; then
    have_perf=1
fi

# run PORT PID PIPELINE -> "test ops/s ..." and the fdatasync count
run() {
    local port=$1 pid=$2 p=$3 perfpid=""
    if [ $have_perf = 1 ]; then
        # No workload command: counts until SIGINT. Its own output goes
        # nowhere, so the caller's $(...) does not wait on it.
        perf stat -x, -e syscalls:sys_enter_fdatasync -p "$pid" -o "$work/perf" \
            >/dev/null 2>&1 &
        perfpid=$!
        sleep 0.3
    fi
    redis-benchmark -p "$port" -c "$clients" -n "$n" -P "$p" -t "$tests" -q 2>/dev/null \
        | tr '\r' '\n' | grep 'per second' | awk '{printf "%s %s ", $1, $2}'
    if [ -n "$perfpid" ]; then
        kill -INT "$perfpid" 2>/dev/null || true
        wait "$perfpid" 2>/dev/null || true
        awk -F, '/fdatasync/ {printf "fdatasyncs %s", $1}' "$work/perf"
    fi
    echo
}

ops_total=$(( n * $(echo "$tests" | tr ',' '\n' | wc -l) ))
printf '%-8s %-3s %-6s %s\n' server P round "ops/sec per test, fdatasyncs (ops per fdatasync)"
for p in $pipelines; do
    for r in $(seq 1 "$rounds"); do
        for side in keyward redis; do
            if [ $side = keyward ]; then line=$(run $kport $kpid "$p"); else line=$(run $rport $rpid "$p"); fi
            syncs=$(echo "$line" | awk '{for (i=1;i<=NF;i++) if ($i=="fdatasyncs") print $(i+1)}')
            per=""
            if [ -n "$syncs" ] && [ "$syncs" -gt 0 ]; then
                per=$(awk -v o="$ops_total" -v s="$syncs" 'BEGIN {printf "(%.1f ops/fdatasync)", o/s}')
            fi
            printf '%-8s %-3s %-6s %s %s\n' $side "$p" "$r" "$line" "$per"
        done
    done
done
