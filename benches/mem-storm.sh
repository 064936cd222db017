#!/usr/bin/env bash
# Memory is given back (issue 13): the storm of the report, against keyward
# and redis-server in the same run. Each server, empty, goes through
#   1. 2,000 connections opened (each says PING), held, then closed;
#   2. a slow subscriber: 64 MB published to it while it does not read
#      (output buffer limits lifted on both), then it reads it all and leaves;
#   3. a 1 MiB garbage request (an unknown command with a 1 MiB argument);
# and its RSS is printed before, right after, and SETTLE seconds after the
# storm (no command sent meanwhile), then after MEMORY PURGE.
#
#   benches/mem-storm.sh            # builds target/release/keyward if missing
#   SETTLE=10 KEYWARD=path/to/keyward REDIS=redis-server benches/mem-storm.sh
#
# RSS is meaningful on a busy machine (unlike wall-clock numbers).
set -euo pipefail
cd "$(dirname "$0")/.."
KEYWARD=${KEYWARD:-target/release/keyward}
REDIS=${REDIS:-redis-server}
SETTLE=${SETTLE:-5}
CONNS=${CONNS:-2000}
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ ! -x "$KEYWARD" ]; then
    cargo build --release --bin keyward
fi
command -v "$REDIS" >/dev/null || { echo "no $REDIS"; exit 1; }

. benches/rss-lib.sh

storm() { # name pid port
    python3 - "$1" "$2" "$3" "$SETTLE" "$CONNS" <<'EOF'
import socket, sys, time
name, pid, port, settle, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def rss():
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1]) * 1024
    return 0

def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def line(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return buf

def call(s, *args):
    s.sendall(enc(*args))
    return line(s)

def read_exact(s, n):
    got = 0
    while got < n:
        c = s.recv(min(1 << 20, n - got))
        if not c:
            raise SystemExit("subscriber: server closed the connection")
        got += len(c)

admin = conn()
assert call(admin, "CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0").startswith(b"+OK")
time.sleep(0.5)
before = rss()

# 1. connections
socks = []
for _ in range(conns):
    s = conn()
    s.sendall(enc("PING"))
    socks.append(s)
for s in socks:
    assert line(s) == b"+PONG\r\n"
with_conns = rss()
for s in socks:
    s.close()
socks = None

# 2. slow subscriber: 64 MB while it does not read
sub = conn()
sub.sendall(enc("SUBSCRIBE", "storm"))
read_exact(sub, len(b"*3\r\n$9\r\nsubscribe\r\n$5\r\nstorm\r\n:1\r\n"))
msg = b"x" * 65536
pub = conn()
n = 1024  # 1024 x 64 KiB = 64 MiB
payload = enc("PUBLISH", "storm", msg)
for _ in range(n):
    pub.sendall(payload)
    assert line(pub) == b":1\r\n"
with_sub = rss()
frame = len(b"*3\r\n$7\r\nmessage\r\n$5\r\nstorm\r\n$65536\r\n") + 65536 + 2
read_exact(sub, frame * n)
sub.close()
pub.close()

# 3. a 1 MiB garbage request
g = conn()
g.sendall(enc("GARBAGE", b"g" * (1 << 20)))
r = line(g)
assert r.startswith(b"-ERR"), r
g.close()

after = rss()
time.sleep(settle)
settled = rss()
assert call(admin, "MEMORY", "PURGE").startswith(b"+OK")
time.sleep(0.5)
purged = rss()
admin.close()
mb = lambda b: f"{b / (1 << 20):7.1f} MB"
print(f"{name:8} before {mb(before)} | {conns} conns {mb(with_conns)} | 64 MB queued {mb(with_sub)} | "
      f"after {mb(after)} | +{settle}s {mb(settled)} | after MEMORY PURGE {mb(purged)}")
EOF
}

on_fresh_server keyward storm "$KEYWARD" --save "" --appendonly no --maxclients 10000
on_fresh_server redis storm "$REDIS" --save "" --appendonly no --maxclients 10000
