#!/usr/bin/env bash
# Durability trial: under `appendfsync always`, no reply before the fdatasync.
#
# Runs keyward under
#   strace -f -tt -s $STRACE_S -o LOG \
#     -e trace=write,writev,pwrite64,pwritev,sendto,sendmsg,fdatasync,fsync,accept,accept4
# with `--appendonly yes --appendfsync always --save '' --io-threads 1` in a temp
# dir, sends N (default 200) `SET d:<n> dur-<n>` one at a time on one
# connection (inline python client; CLIENTS=k spreads them over k concurrent
# connections, each one at a time, to exercise group commit), stops the
# server, then reads the strace log. For each command n:
#   W = the write to the AOF fd whose data holds `dur-<n>\r\n` (the AOF fd is
#       the fd those writes go to; it must be a single fd);
#   R = the write/writev/sendto/sendmsg of its `+OK\r\n` on the client fd
#       (the fd accept4 returned for the client's port; the k-th +OK on that
#       fd after the accept answers that client's k-th SET);
#   it passes when some fdatasync/fsync F of the AOF fd, returning 0, starts
#   after W returned and returns before R starts (one F may cover several
#   commands: group commit).
# Order is the order of the strace log's lines (an unfinished syscall starts
# at its `<unfinished ...>` line and ends at its `resumed>` line), which is
# causal: a thread stopped at a syscall exit is resumed only after strace
# printed it.
#
# Usage: tests/durability/strace-always.sh
#   KEYWARD_BIN  binary (default target/release/keyward under the repo root)
#   N            number of SETs (default 200)
#   CLIENTS      concurrent connections (default 1)
#   IO_THREADS   the server's worker threads (default 1)
#   STRACE_S     strace string size (default 256, 64 per client above 4 clients;
#                a command lost to truncation is reported as unmatched)
#   POLICY       appendfsync policy (default always; `everysec` is a checker
#                self-test: it must report violations)
#   KEEP=1       keep the temp dir (strace log, server log, data dir)
# Prints the count checked and `N passed, M failed`; exits 1 on any violation.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${KEYWARD_BIN:-$REPO/target/release/keyward}
case $BIN in /*) ;; *) BIN=$REPO/$BIN ;; esac
N=${N:-200}
CLIENTS=${CLIENTS:-1}
IO_THREADS=${IO_THREADS:-1}
# Group commit writes up to CLIENTS commands at once: room for all of them.
STRACE_S=${STRACE_S:-$(( CLIENTS > 4 ? CLIENTS * 64 : 256 ))}
POLICY=${POLICY:-always}

if [[ ! -x $BIN ]]; then
    echo "keyward binary not found: $BIN (set KEYWARD_BIN)" >&2
    exit 2
fi
command -v strace >/dev/null || { echo "strace not installed" >&2; exit 2; }

tmp=$(mktemp -d /tmp/keyward-strace-XXXXXX)
mkdir "$tmp/data"
strace_pid=
server_pid=

# The traced server: strace's child (same pid through `env`'s exec).
find_server() {
    [[ -n $strace_pid ]] || return 0
    server_pid=$(pgrep -P "$strace_pid" | head -n1 || true)
}

cleanup() {
    local rc=$?
    [[ -n $server_pid ]] || find_server
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -9 "$server_pid" 2>/dev/null || true
    fi
    if [[ -n $strace_pid ]] && kill -0 "$strace_pid" 2>/dev/null; then
        kill "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" 2>/dev/null || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit $rc
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

echo "strace-always: $BIN, appendfsync=$POLICY, $N SETs over $CLIENTS connection(s), port $port"
strace -f -tt -s "$STRACE_S" \
    -e trace=write,writev,pwrite64,pwritev,sendto,sendmsg,fdatasync,fsync,accept,accept4 \
    -o "$tmp/strace.log" \
    env NO_COLOR=1 "$BIN" --bind 127.0.0.1 --port "$port" --dir "$tmp/data" \
    --appendonly yes --appendfsync "$POLICY" --save '' --io-threads "$IO_THREADS" \
    >"$tmp/server.log" 2>&1 &
strace_pid=$!

# The client: wait for PING, then the SETs, then SHUTDOWN. It writes each
# connection's local port to ports.txt (client index, port).
python3 - "$port" "$N" "$CLIENTS" "$tmp/ports.txt" <<'EOF'
import socket, sys, threading, time
port, n, k, ports_path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def enc(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = str(x).encode()
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out

def line(s, buf):
    while b"\r\n" not in buf[0]:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed")
        buf[0] += d
    l, buf[0] = buf[0].split(b"\r\n", 1)
    return l

deadline = time.time() + 60
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(enc("PING"))
        if line(s, [b""]) == b"+PONG":
            s.close()
            break
        s.close()
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("server not answering PING")
    time.sleep(0.1)

conns = []
for c in range(k):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conns.append(s)
with open(ports_path, "w") as f:
    for c, s in enumerate(conns):
        f.write("%d %d\n" % (c, s.getsockname()[1]))
errors = []
start = threading.Barrier(k)

def client(c):
    s, buf = conns[c], [b""]
    start.wait()
    for i in range(c, n, k):  # client c sends n = c, c+k, c+2k, ...
        s.sendall(enc("SET", "d:%d" % i, "dur-%d" % i))
        r = line(s, buf)
        if r != b"+OK":
            errors.append("SET %d: reply %r" % (i, r))
            return

threads = [threading.Thread(target=client, args=(c,)) for c in range(k)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    sys.exit("; ".join(errors))
s = conns[0]
s.sendall(enc("SHUTDOWN", "NOSAVE"))
try:
    line(s, [b""])
except (OSError, ConnectionError):
    pass
print("client: %d SETs acknowledged" % n)
EOF

# The server stops on SHUTDOWN; kill it if it has not after 15 s.
for _ in $(seq 150); do
    kill -0 "$strace_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$strace_pid" 2>/dev/null; then
    find_server
    echo "server did not stop after SHUTDOWN; killing pid $server_pid"
    [[ $server_pid =~ ^[0-9]+$ ]] && kill -9 "$server_pid" 2>/dev/null || true
fi
wait "$strace_pid" || true
strace_pid=

python3 - "$tmp/strace.log" "$N" "$CLIENTS" "$tmp/ports.txt" <<'EOF'
import re, sys
from collections import defaultdict

path, n, k, ports_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
HEAD = re.compile(r'^(?:\[pid\s+)?(\d+)\]?\s+(\d\d:\d\d:\d\d\.\d+)\s+(.*)$')
START = re.compile(r'^([a-z_0-9]+)\((.*)$')
RESUMED = re.compile(r'^<\.\.\. ([a-z_0-9]+) resumed>(.*)$')
RET = re.compile(r'\)\s+=\s+(-?\d+|\?)(?:\s+[^"]*)?$')

calls = []    # dicts: pid, name, args, ret, start, end (line indices)
pending = {}  # pid -> call in progress
for idx, raw in enumerate(open(path, errors="replace")):
    m = HEAD.match(raw.rstrip("\n"))
    if not m:
        continue
    pid, _ts, rest = int(m.group(1)), m.group(2), m.group(3)
    if rest.startswith(("+++", "---")):
        continue
    r = RESUMED.match(rest)
    if r:
        c = pending.pop(pid, None)
        if c is None or c["name"] != r.group(1):
            continue  # resumed without a start (strace attached mid-call)
        tail = r.group(2)
        c["args"] += tail
        rm = RET.search(tail)
        c["ret"] = int(rm.group(1)) if rm and rm.group(1) != "?" else None
        c["end"] = idx
        continue
    s = START.match(rest)
    if not s:
        continue
    c = dict(pid=pid, name=s.group(1), args=s.group(2), ret=None, start=idx, end=None)
    if rest.endswith("<unfinished ...>"):
        c["args"] = c["args"][: -len("<unfinished ...>")]
        pending[pid] = c
    else:
        rm = RET.search(rest)
        c["ret"] = int(rm.group(1)) if rm and rm.group(1) != "?" else None
        c["end"] = idx
    calls.append(c)

def fd_of(c):
    m = re.match(r'\s*(\d+)', c["args"])
    return int(m.group(1)) if m else None

WRITES = ("write", "writev", "pwrite64", "pwritev", "sendto", "sendmsg")
ok = [c for c in calls if c["end"] is not None and c["ret"] is not None and c["ret"] >= 0]

# The AOF writes: data holding dur-<n>\r\n (strace shows \r\n escaped).
DUR = re.compile(r'dur-(\d+)\\r\\n')
aof_write = {}
aof_fds = defaultdict(int)
truncated_aof = 0
for c in ok:
    if c["name"] not in WRITES:
        continue
    found = DUR.findall(c["args"])
    for d in found:
        aof_fds[fd_of(c)] += 1
        aof_write.setdefault(int(d), c)  # the first write of those bytes
if len(aof_fds) != 1:
    print("AOF fd ambiguous or not found: writes holding dur-<n> on fds %s" % dict(aof_fds))
    print("0 passed, %d failed" % n)
    sys.exit(1)
aof_fd = next(iter(aof_fds))
for c in ok:
    if c["name"] in WRITES and fd_of(c) == aof_fd and re.search(r'"\.\.\.', c["args"]):
        truncated_aof += 1
syncs = [c for c in ok if c["name"] in ("fdatasync", "fsync") and fd_of(c) == aof_fd and c["ret"] == 0]
failed_syncs = [c for c in calls if c["name"] in ("fdatasync", "fsync") and fd_of(c) == aof_fd
                and c["ret"] is not None and c["ret"] < 0]

# The client fds: accept4 results for the clients' ports.
ports = {}
for l in open(ports_path):
    c, p = l.split()
    ports[int(p)] = int(c)
accepted = {}  # client -> (fd, line)
for c in ok:
    if c["name"] in ("accept", "accept4"):
        m = re.search(r'sin6?_port=htons\((\d+)\)', c["args"])
        if m and int(m.group(1)) in ports:
            accepted[ports[int(m.group(1))]] = (c["ret"], c["end"])
if len(accepted) != k:
    print("accept4 of the client connections not found (%d of %d)" % (len(accepted), k))
    print("0 passed, %d failed" % n)
    sys.exit(1)

# The replies: +OK\r\n on each client fd after its accept, in order.
replies_of = {}
for cl, (fd, at) in accepted.items():
    rs = []
    for c in ok:
        if c["name"] in WRITES and c["ret"] > 0 and fd_of(c) == fd and c["start"] > at:
            rs += [c] * c["args"].count('+OK\\r\\n')
    replies_of[cl] = rs
reply = {}
for cl, rs in replies_of.items():
    for j, i in enumerate(range(cl, n, k)):
        if j < len(rs):
            reply[i] = rs[j]
batches = len(set(c["start"] for c in reply.values()))

print("strace log: %d syscalls; AOF fd %d: %d writes holding the commands, %d fdatasync/fsync ok, "
      "%d failed; client fds %s: %d +OK in %d reply writes"
      % (len(calls), aof_fd, len(set(id(c) for c in aof_write.values())), len(syncs),
         len(failed_syncs), sorted(fd for fd, _ in accepted.values()), len(reply), batches))
if truncated_aof:
    print("note: %d AOF writes truncated by strace -s (raise STRACE_S if commands go unmatched)" % truncated_aof)

passed = failed = 0
shown = 0
for i in range(n):
    w = aof_write.get(i)
    r = reply.get(i)
    why = None
    if w is None:
        why = "no AOF write holding dur-%d found%s" % (
            i, " (AOF writes were truncated: raise STRACE_S)" if truncated_aof else "")
    elif r is None:
        why = "no reply found"
    elif not w["end"] < r["start"]:
        why = "reply (line %d) before the AOF write returned (line %d)" % (r["start"] + 1, w["end"] + 1)
    elif not any(w["end"] < f["start"] and f["end"] < r["start"] for f in syncs):
        between = [f for f in syncs if w["end"] < f["start"] < r["start"]]
        why = ("no fdatasync between the AOF write (returned line %d) and the reply (line %d)%s"
               % (w["end"] + 1, r["start"] + 1,
                  "; one started at line %d but returned at line %d" % (between[0]["start"] + 1, between[0]["end"] + 1)
                  if between else ""))
    if why:
        failed += 1
        if shown < 10:
            print("  SET d:%d dur-%d: %s" % (i, i, why))
            shown += 1
    else:
        passed += 1
if failed > shown:
    print("  ... %d more" % (failed - shown))
print("checked %d commands" % n)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
