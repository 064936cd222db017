#!/usr/bin/env bash
# mem-collections.sh PORT [PORT ...]
#
# Memory per element of collections on RESP servers listening on 127.0.0.1,
# the way ../shared/perf/mem-per-key.sh measures strings: load with
# `redis-cli --pipe`, report RSS growth (and INFO used_memory growth) divided
# by the element count. Run each server freshly started.
#
#   zset:  one sorted set of MEM_ZSET_MEMBERS (1,000,000) members,
#          "member:<9 digits>" (16 B) with ~7e15 scores (BullMQ-like)
#   hash:  MEM_HASHES (100,000) hashes of 10 fields each,
#          "session:<9 digits>" keys, fields f0..f9, 8-byte values
#
# Prints one line per server and workload; the keys are deleted afterwards.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PORT [PORT ...]" >&2; exit 2; }
ZN=${MEM_ZSET_MEMBERS:-1000000}
HN=${MEM_HASHES:-100000}
RC=${REDIS_CLI:-redis-cli}
WORK=$(mktemp -d /tmp/mem-collections.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

awk -v n="$ZN" 'BEGIN {
  for (i = 0; i < n; i += 100) {
    printf "*%d\r\n$4\r\nZADD\r\n$10\r\nbench:zset\r\n", 2 + 2 * 100
    for (j = i; j < i + 100; j++) {
      m = sprintf("member:%09d", j); s = sprintf("%d", 7000000000000000 + j * 13)
      printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(s), s, length(m), m
    }
  }
}' > "$WORK/zset.resp"
awk -v n="$HN" 'BEGIN {
  for (i = 0; i < n; i++) {
    k = sprintf("session:%09d", i)
    printf "*22\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(k), k
    for (f = 0; f < 10; f++) printf "$2\r\nf%d\r\n$8\r\n%08d\r\n", f, i
  }
}' > "$WORK/hash.resp"

pid_of() { ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
used() { "$RC" -p "$1" INFO memory 2>/dev/null | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }

measure() { # port label file elements cleanup-pattern
  local port=$1 label=$2 file=$3 n=$4 pid r0 r1 u0 u1
  pid=$(pid_of "$port")
  sleep 1
  r0=$(rss_kb "$pid"); u0=$(used "$port")
  "$RC" -p "$port" --pipe < "$file" > "$WORK/pipe.log" 2>&1
  sleep 2
  r1=$(rss_kb "$pid"); u1=$(used "$port")
  awk -v p="$port" -v l="$label" -v n="$n" -v a="$r0" -v b="$r1" -v c="$u0" -v d="$u1" -v e="$(cat /proc/"$pid"/comm)" \
    'BEGIN { printf "%-6s %-13s %-5s RSS %6.1f B/elem   used_memory %6.1f B/elem\n", p, e, l, (b - a) * 1024 / n, (d - c) / n }'
}

for port in "$@"; do
  "$RC" -p "$port" DEL bench:zset > /dev/null
  measure "$port" zset "$WORK/zset.resp" "$ZN"
  measure "$port" hash "$WORK/hash.resp" "$((HN * 10))"
  "$RC" -p "$port" DEL bench:zset > /dev/null
  "$RC" -p "$port" --scan --pattern 'session:*' | xargs -r -n 1000 "$RC" -p "$port" DEL > /dev/null
done
