#!/usr/bin/env bash
# RSS of idle connections (issue 13): N connections (default 10,000) opened
# to keyward and to redis-server in the same run, each used once (HELLO-less
# pool style: one PING) and then left idle; RSS is read after the opening
# and again after SETTLE seconds of idling (both servers resize idle
# clients' buffers in their cron), and the delta from the empty server is
# printed per connection.
#
#   benches/idle-conns.sh                 # builds target/release/keyward if missing
#   N=10000 SETTLE=4 SILENT=1 benches/idle-conns.sh   # SILENT=1: no PING at all
#
# RSS is meaningful on a busy machine (unlike wall-clock numbers).
set -euo pipefail
cd "$(dirname "$0")/.."
KEYWARD=${KEYWARD:-target/release/keyward}
REDIS=${REDIS:-redis-server}
N=${N:-10000}
SETTLE=${SETTLE:-4}
SILENT=${SILENT:-0}
ulimit -n $((N * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((N + 64)) ]; then
    echo "ulimit -n $(ulimit -n) is too low for $N connections"
    exit 1
fi
if [ ! -x "$KEYWARD" ]; then
    cargo build --release --bin keyward
fi

. benches/rss-lib.sh

measure() { # name pid port
    python3 - "$1" "$2" "$3" "$N" "$SETTLE" "$SILENT" <<'EOF'
import socket, sys, time
name, pid, port, n, settle, silent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"

def rss():
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1]) * 1024
    return 0

def read_line(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        c = s.recv(64)
        if not c:
            raise SystemExit(f"{name}: connection closed")
        buf += c
    return buf

time.sleep(0.5)
base = rss()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if not silent:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
    socks.append(s)
    if not silent and len(socks) % 200 == 0:
        for t in socks[-200:]:
            assert read_line(t) == b"+PONG\r\n"
if not silent:
    for t in socks[len(socks) - len(socks) % 200:]:
        assert read_line(t) == b"+PONG\r\n"
# Every connection is accepted and registered before the first reading.
check = socket.create_connection(("127.0.0.1", port))
check.sendall(b"*1\r\n$4\r\nPING\r\n")
assert read_line(check) == b"+PONG\r\n"
time.sleep(0.5)
opened = rss()
time.sleep(settle)
idle = rss()
per = lambda r: (r - base) / n
print(f"{name:8} empty {base / 1048576:6.1f} MB | {n} conns {opened / 1048576:6.1f} MB "
      f"({per(opened):7.0f} B/conn) | after {settle}s idle {idle / 1048576:6.1f} MB ({per(idle):7.0f} B/conn)")
for s in socks:
    s.close()
EOF
}

on_fresh_server keyward measure "$KEYWARD" --save "" --appendonly no --maxclients $((N + 100))
on_fresh_server redis measure "$REDIS" --save "" --appendonly no --maxclients $((N + 100))
