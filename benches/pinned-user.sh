#!/usr/bin/env bash
# What tenancy costs on the hot path (issue 5's speed check): the shared
# side-by-side script, candidate = keyward with a pinned ACL user, key
# patterns and all per-DB quotas configured (benches/pinned-user.toml),
# reference = the same binary, default user, no limits. Target: paired
# ratio >= 0.97 on every workload.
#
#   cargo build --release && benches/pinned-user.sh [CAND_PORT] [REF_PORT]
#
# COMPARE points at compare.sh (default ../shared/perf/compare.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cand_port=${1:-6395}
ref_port=${2:-6396}
bin=${KEYWARD_BIN:-target/release/keyward}
compare=${COMPARE:-../shared/perf/compare.sh}
export KEYWARD_BENCH_PASSWORD=bench-pw

"$bin" benches/pinned-user.toml --port "$cand_port" --save '' >/dev/null 2>&1 &
cand=$!
"$bin" --port "$ref_port" --save '' >/dev/null 2>&1 &
ref=$!
trap 'kill $cand $ref 2>/dev/null || true' EXIT
for port in "$cand_port" "$ref_port"; do
    for _ in $(seq 1 50); do
        redis-cli -p "$port" PING >/dev/null 2>&1 && break
        sleep 0.1
    done
done

PERF_CAND_USER=bench PERF_CAND_PASS=$KEYWARD_BENCH_PASSWORD \
PERF_CAND_PID=$cand PERF_REF_PID=$ref \
    "$compare" "$cand_port" "$ref_port"
