#!/usr/bin/env bash
# EVALSHA cost: server CPU µs per call of a BullMQ-sized job-queue script,
# keyward vs redis-server.
#
#   benches/evalsha.sh KEYWARD_PORT REDIS_PORT [CALLS] [CLIENTS]
#
# Both servers must already run on 127.0.0.1 (a release keyward:
# `cargo build --release && target/release/keyward --port P`). CPU is read
# from /proc/PID/stat (utime+stime of all threads) around the run, so the
# client's own cost is not counted. The script keeps its data bounded, so
# the numbers do not drift with CALLS.
set -euo pipefail

KW_PORT=${1:?usage: evalsha.sh KEYWARD_PORT REDIS_PORT [CALLS] [CLIENTS]}
RD_PORT=${2:?usage: evalsha.sh KEYWARD_PORT REDIS_PORT [CALLS] [CLIENTS]}
CALLS=${3:-100000}
CLIENTS=${4:-8}
TICK=$(getconf CLK_TCK)

# A move-to-active in the style of BullMQ's moveToActive-*.lua: promote due
# delayed jobs, take the next job, lock it, mark it active, record
# metrics and an event, and return the job's data.
read -r -d '' SCRIPT <<'LUA' || true
local waitKey, activeKey, delayedKey = KEYS[1], KEYS[2], KEYS[3]
local prioritizedKey, eventsKey, metaKey = KEYS[4], KEYS[5], KEYS[6]
local jobPrefix, stalledKey = KEYS[7], KEYS[8]
local token, lockDuration = ARGV[1], tonumber(ARGV[2])
local timestamp = tonumber(ARGV[3])
local opts = cjson.decode(ARGV[4])
local maxEvents = opts.maxEvents or 100

-- Keep the queue fed so every call does the same work.
local seq = redis.call("HINCRBY", metaKey, "seq", 1)
local newId = tostring(seq % 1000)
redis.call("HMSET", jobPrefix .. newId, "name", "job", "data",
  cjson.encode({id = newId, attempt = 0, payload = {a = 1, b = "two"}}),
  "timestamp", timestamp, "priority", seq % 5, "delay", 0)
redis.call("LPUSH", waitKey, newId)
redis.call("ZADD", delayedKey, timestamp + (seq % 7) * 10, newId)

-- Promote delayed jobs that are due.
local due = redis.call("ZRANGEBYSCORE", delayedKey, 0, timestamp + 30, "LIMIT", 0, 10)
if #due > 0 then
  for i = 1, #due do
    local prio = tonumber(redis.call("HGET", jobPrefix .. due[i], "priority")) or 0
    redis.call("ZADD", prioritizedKey, prio * 1000 + i, due[i])
  end
  redis.call("ZREM", delayedKey, unpack(due))
end
redis.call("ZREMRANGEBYRANK", prioritizedKey, 0, -51)

local paused = redis.call("HEXISTS", metaKey, "paused")
if paused == 1 then
  return {0, 0, 0, 0}
end

local jobId = redis.call("RPOPLPUSH", waitKey, activeKey)
if not jobId then
  return {0, 0, 0, 0}
end
redis.call("LTRIM", activeKey, 0, 99)
redis.call("LTRIM", waitKey, 0, 199)

local jobKey = jobPrefix .. jobId
if lockDuration and lockDuration > 0 then
  redis.call("SET", jobKey .. ":lock", token, "PX", lockDuration)
end
redis.call("SREM", stalledKey, jobId)
redis.call("HSET", jobKey, "processedOn", timestamp)
local attempts = redis.call("HINCRBY", jobKey, "attemptsStarted", 1)

local data = redis.call("HGET", jobKey, "data")
local job = cjson.decode(data)
job.attempt = attempts
job.token = token

redis.call("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*",
  "event", "active", "jobId", jobId, "prev", "waiting")

local counts = {
  redis.call("LLEN", waitKey),
  redis.call("LLEN", activeKey),
  redis.call("ZCARD", delayedKey),
  redis.call("ZCARD", prioritizedKey),
}
local raw = redis.call("HGETALL", jobKey)
return {jobId, cjson.encode(job), counts, #raw, tostring(timestamp / 1000)}
LUA

pid_of() {
  ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
}

cpu_ticks() {
  # Fields 14 and 15 of /proc/PID/stat; the command name (field 2) may
  # hold spaces, so count from after its closing parenthesis.
  local rest
  rest=$(sed 's/^.*) //' "/proc/$1/stat")
  awk '{print $12 + $13}' <<<"$rest"
}

run_one() {
  local name=$1 port=$2 pid sha t0 t1
  pid=$(pid_of "$port")
  [[ -n $pid ]] || { echo "no server listening on port $port" >&2; exit 1; }
  redis-cli -p "$port" DEL bq:wait bq:active bq:delayed bq:prio bq:events bq:meta bq:stalled >/dev/null
  sha=$(redis-cli -p "$port" SCRIPT LOAD "$SCRIPT")
  # Warm up (and check the script runs).
  redis-cli -p "$port" EVALSHA "$sha" 8 bq:wait bq:active bq:delayed bq:prio bq:events bq:meta bq:job: bq:stalled \
    tok 30000 1700000000000 '{"maxEvents":100}' >/dev/null
  t0=$(cpu_ticks "$pid")
  redis-benchmark -p "$port" -n "$CALLS" -c "$CLIENTS" -q \
    EVALSHA "$sha" 8 bq:wait bq:active bq:delayed bq:prio bq:events bq:meta bq:job: bq:stalled \
    tok 30000 1700000000000 '{"maxEvents":100}' >&2
  t1=$(cpu_ticks "$pid")
  # µs per call = ticks * (1e6 / TICK) / CALLS
  awk -v d=$((t1 - t0)) -v tick="$TICK" -v n="$CALLS" 'BEGIN { printf "%.2f\n", d * 1e6 / tick / n }'
}

kw=$(run_one keyward "$KW_PORT")
rd=$(run_one redis "$RD_PORT")
echo "calls=$CALLS clients=$CLIENTS"
echo "keyward  CPU µs/call: $kw"
echo "redis    CPU µs/call: $rd"
awk -v a="$kw" -v b="$rd" 'BEGIN { if (b > 0) printf "ratio keyward/redis: %.2f\n", a / b }'
