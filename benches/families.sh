#!/usr/bin/env bash
# The Redis 7.2 command families keyward added (bitmaps, HyperLogLog,
# geo) side by side with redis-server: the same redis-benchmark command
# lines against both, alternating A B A B, at -P 1 and -P 16, and the
# ratio keyward / redis per line and round.
#
#   cargo build --release && benches/families.sh
#
# Knobs: ROUNDS [3], N [200000] requests per run, CLIENTS [50],
# PIPELINES ["1 16"], KEYWARD_BIN, REDIS_SERVER.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KEYWARD_BIN:-target/release/keyward}
redis=${REDIS_SERVER:-redis-server}
rounds=${ROUNDS:-3}
n=${N:-200000}
clients=${CLIENTS:-50}
pipelines=${PIPELINES:-1 16}
kport=6395
rport=6396

"$bin" --port $kport --save '' --appendonly no >/dev/null 2>&1 &
kpid=$!
"$redis" --port $rport --save '' --appendonly no >/dev/null 2>&1 &
rpid=$!
trap 'kill $kpid $rpid 2>/dev/null || true' EXIT
for port in $kport $rport; do
    for _ in $(seq 1 50); do
        redis-cli -p $port PING >/dev/null 2>&1 && break
        sleep 0.1
    done
done

# Data the read commands find: a 1 MiB bitmap, an HLL of 100k elements, a
# geo set of 10k points around one place.
setup() {
    local port=$1
    redis-cli -p "$port" FLUSHALL >/dev/null
    redis-cli -p "$port" SETBIT bitmap 8388607 1 >/dev/null
    redis-benchmark -p "$port" -n 100000 -r 100000 -P 64 -q PFADD hll __rand_int__ >/dev/null
    redis-benchmark -p "$port" -n 10000 -r 10000 -P 64 -q \
        GEOADD geo 13.36__rand_int__ 38.11__rand_int__ m:__rand_int__ >/dev/null
}

# name|command line (redis-benchmark replaces __rand_int__ per request, with
# 12 zero-padded digits: no use as a bit offset, which refuses leading zeros)
workloads=(
    "SETBIT|SETBIT bits:__rand_int__ 4095 1"
    "GETBIT|GETBIT bitmap 4194303"
    "BITCOUNT|BITCOUNT bitmap 0 4095"
    "PFADD|PFADD hll:__rand_int__ a b c __rand_int__"
    "PFCOUNT|PFCOUNT hll"
    "GEOADD|GEOADD geo:__rand_int__ 13.361389 38.115556 __rand_int__"
    "GEOSEARCH|GEOSEARCH geo FROMLONLAT 13.36 38.11 BYRADIUS 50 km ASC COUNT 10"
)

rps() {
    local port=$1 p=$2 cmd=$3
    # shellcheck disable=SC2086
    redis-benchmark -p "$port" -n "$n" -c "$clients" -P "$p" -r 1000000 --csv $cmd \
        | tail -1 | cut -d, -f2 | tr -d '"'
}

setup $kport
setup $rport
printf '%-10s %-3s %-6s %12s %12s %7s\n' workload P round keyward redis ratio
for p in $pipelines; do
    for w in "${workloads[@]}"; do
        name=${w%%|*}
        cmd=${w#*|}
        for r in $(seq 1 "$rounds"); do
            k=$(rps $kport "$p" "$cmd")
            s=$(rps $rport "$p" "$cmd")
            ratio=$(python3 -c "print(f'{$k/$s:.2f}')")
            printf '%-10s %-3s %-6s %12s %12s %7s\n' "$name" "$p" "$r" "$k" "$s" "$ratio"
        done
    done
done
