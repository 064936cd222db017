#!/usr/bin/env bash
# rdb-load.sh [REDIS_PORT] [KW_PORT]
#
# Issue 11's load proof: time to load a >= 1 GB RDB written by redis-server,
# keyward against redis-server's own load of the same file.
#
#   cargo build --release && benches/rdb-load.sh            # ~4 min
#
# 1. Unless the file exists already, redis-server writes it: strings in DBs
#    0-3 (200-byte values, one in ten with a TTL), hashes in DB 4, lists in
#    DB 5, sorted sets in DB 6, sets in DB 7; each type both small
#    (listpack/intset encodings) and big (hashtable, skiplist, quicklist),
#    filled by `persist-bench.py fill-mixed` through `redis-cli --pipe`,
#    then SAVE. LOAD_SCALE 1 gives 5.5M keys and a 1.35 GB file.
# 2. The file is read once so both servers load it from the page cache.
# 3. LOAD_REPS rounds, alternating which server goes first: start the
#    server on the file, poll PING every 5 ms until +PONG (not -LOADING);
#    time from the spawn to that reply. Also the server's CPU time (all
#    threads, user+sys) at that moment, its RSS, its own log figure, and a
#    check that both hold the same keys per DB (INFO keyspace).
# 4. Medians and ratios keyward/redis. Target (issue 11): wall ratio <= 1.
#
# Knobs: LOAD_SCALE [1], LOAD_REPS [5], LOAD_DIR [/tmp/keyward-rdb-load],
# LOAD_REGEN [0] (1: rewrite the file), LOAD_QUIET [] (e.g. 15: before each
# run wait up to 10 min for the machine to be under 15% busy),
# KEYWARD_BIN [target/release/keyward],
# REDIS_SERVER [redis-server], REDIS_CLI [redis-cli].
# The machine is shared: wall times move with other load, so rounds
# alternate and medians are quoted; CPU time is the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."
redis_port=${1:-7411}
kw_port=${2:-7412}
scale=${LOAD_SCALE:-1}
reps=${LOAD_REPS:-5}
dir=${LOAD_DIR:-/tmp/keyward-rdb-load}
bin=${KEYWARD_BIN:-target/release/keyward}
rs=${REDIS_SERVER:-redis-server}
rc=${REDIS_CLI:-redis-cli}
tool=benches/persist-bench.py
file=mixed-$scale.rdb
mkdir -p "$dir"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; true' EXIT

common=(--dir "$dir" --dbfilename "$file" --save '' --appendonly no --databases 16)

# wait_gone, wait_quiet, the free-port check and alive: shared with the
# other persistence bench.
. benches/persist-lib.sh

if [ ! -s "$dir/$file" ] || [ "${LOAD_REGEN:-0}" = 1 ]; then
    echo "writing $dir/$file with redis-server (scale $scale) ..."
    rm -f "$dir/$file"
    "$rs" --port "$redis_port" "${common[@]}" >"$dir/gen.log" 2>&1 &
    pid=$!
    python3 "$tool" wait-ready "$redis_port" 30 >/dev/null
    alive "$pid"
    python3 "$tool" fill-mixed "$scale" | "$rc" -p "$redis_port" --pipe | tail -n 1
    "$rc" -p "$redis_port" SAVE >/dev/null
    "$rc" -p "$redis_port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    wait_gone "$pid"
    pid=
fi
size=$(stat -L -c %s "$dir/$file")
cat "$dir/$file" >/dev/null
awk -v f="$dir/$file" -v s="$size" 'BEGIN { printf "file: %s, %.2f GB\n", f, s / 1e9 }'

clk=$(getconf CLK_TCK)
cpu_s() { # pid -> user+sys seconds of the whole process
    awk -v t="$clk" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"
}
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
keyspace() { "$rc" -p "$1" INFO keyspace | tr -d '\r' | grep '^db' | sed 's/,avg_ttl=.*//' | sort; }

# run NAME -> appends "name wall cpu rss logged" to $dir/runs
run() {
    local name=$1 port start wall cpu rss logged
    [ -n "${LOAD_QUIET:-}" ] && wait_quiet "$LOAD_QUIET"
    start=$(date +%s.%N)
    start_server "$name" "$dir/$name.log" "${common[@]}"
    wall=$(python3 "$tool" wait-ready "$port" 600 "$start")
    alive "$pid"
    cpu=$(cpu_s "$pid")
    rss=$(rss_mb "$pid")
    keyspace "$port" >"$dir/$name.keyspace"
    if [ "$name" = redis ]; then
        logged=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$dir/$name.log" | tail -n 1)
    else
        logged=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/$name.log" | sed -n 's/.*DB loaded from disk.*seconds="\([0-9.]*\)".*/\1/p' | tail -n 1)
    fi
    "$rc" -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    wait_gone "$pid"
    pid=
    echo "$name $wall $cpu $rss ${logged:-?}" >>"$dir/runs"
    printf '  %-8s ready after %7.3f s  cpu %6.2f s  rss %6s MB  (log: %s s)\n' "$name" "$wall" "$cpu" "$rss" "${logged:-?}"
}

: >"$dir/runs"
for r in $(seq 1 "$reps"); do
    echo "round $r/$reps"
    if [ $((r % 2)) = 1 ]; then run redis; run keyward; else run keyward; run redis; fi
    if ! diff -q "$dir/redis.keyspace" "$dir/keyward.keyspace" >/dev/null; then
        echo "keyspaces differ:" >&2
        diff "$dir/redis.keyspace" "$dir/keyward.keyspace" >&2 || true
        exit 1
    fi
done
keys=$(awk -F'[=,]' '{ s += $2 } END { print s }' "$dir/redis.keyspace")

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$dir/runs" | median; }
echo
printf 'RDB load: %s keys, %d bytes, %d rounds (medians)\n' "$keys" "$size" "$reps"
printf '%-10s %10s %10s %10s %10s\n' server wall_s cpu_s rss_mb logged_s
for n in redis keyward; do
    printf '%-10s %10s %10s %10s %10s\n' "$n" "$(col $n 2)" "$(col $n 3)" "$(col $n 4)" "$(col $n 5)"
done
awk -v rw="$(col redis 2)" -v kw="$(col keyward 2)" -v rc="$(col redis 3)" -v kc="$(col keyward 3)" 'BEGIN {
    printf "ratio keyward/redis: wall %.2f, cpu %.2f   (target: wall <= 1.00)\n", kw / rw, kc / rc
}'
# Paired per-round ratios (each round runs both, so share its noise).
awk '$1 == "redis" { r[++i] = $2 } $1 == "keyward" { k[++j] = $2 } END {
    printf "per-round wall ratios:"; for (x = 1; x <= i; x++) printf " %.2f", k[x] / r[x]; print ""
}' "$dir/runs"
