#!/usr/bin/env bash
# Soak: keyward (the release binary in $KEYWARD_BIN, default target/release/keyward;
# this script builds nothing) with tests/soak/soak.toml on a free port, and the
# four-tenant workload of soak.js against it. Needs `npm ci` in tests/compat.
#
#   tests/soak/run.sh                 # 30 minutes at 50 % of measured capacity
#   tests/soak/run.sh --quick         # ~60 s (what CI runs)
#   tests/soak/run.sh --duration 600 --rate 4000 --out /tmp/soak.json
#
# Other flags: --interval S (sampling, default 60; 5 with --quick), --warmup S (RSS
# flatness is judged after it, default 300; 15 with --quick), --load F (share of
# capacity, default 0.5), --measure S (capacity phase), --latency-check yes|no
# (the p99 stability verdict; no with --quick), --out FILE (samples as JSON). The last line is
# `N passed, M failed`; the exit status is non-zero when M > 0.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${KEYWARD_BIN:-$root/target/release/keyward}"
if [ ! -x "$bin" ]; then
    echo "keyward binary not found at $bin (cargo build --release, or set KEYWARD_BIN)"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -d "$root/tests/compat/node_modules" ]; then
    echo "tests/compat/node_modules is missing: run \`npm ci\` in tests/compat"
    echo "0 passed, 1 failed"
    exit 1
fi

work="$(mktemp -d)"
kw=""
cleanup() {
    if [ -n "$kw" ]; then kill "$kw" 2>/dev/null; wait "$kw" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export SOAK_ADMIN_PASSWORD="soak-admin-$$"
export STUDIO_REDIS_PASSWORD="soak-studio-$$"
export WORKER_REDIS_PASSWORD="soak-worker-$$"
export LIMITER_REDIS_PASSWORD="soak-limiter-$$"

"$bin" "$here/soak.toml" --port "$port" --dir "$work" --save "" --appendonly no \
    --logfile "$work/keyward.log" &
kw=$!
for _ in $(seq 1 100); do
    if node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$kw" 2>/dev/null; then
        echo "keyward exited at startup:"; cat "$work/keyward.log"
        echo "0 passed, 1 failed"
        exit 1
    fi
    sleep 0.1
done

node "$here/soak.js" --port "$port" "$@"
rc=$?
if ! kill -0 "$kw" 2>/dev/null; then
    echo "not ok soak: keyward died during the run"; tail -20 "$work/keyward.log"
    rc=1
fi
exit "$rc"
