#!/usr/bin/env python3
"""Helpers for benches/bgsave.sh and benches/rdb-load.sh (python3 stdlib only).

  persist-bench.py fill-strings N VSIZE [DB]   RESP for `redis-cli --pipe`:
                                               SET key:<0..N-1> <VSIZE bytes>
  persist-bench.py fill-mixed SCALE            RESP for the load bench's file
                                               (strings, hashes, lists, zsets,
                                               sets over DBs 0-7; SCALE 1.0
                                               makes an RDB of ~1.2 GB)
  persist-bench.py sample PID OUT [MS]         every MS ms (50) append to OUT
                                               "t rss_parent rss_children
                                               pss_parent pss_children" (kB)
                                               for PID and its child processes
                                               (a fork child), until killed
  persist-bench.py probe PORT N VSIZE RATE IDLE_S OUT_JSON
                                               paced SETs over the N keys;
                                               IDLE_S seconds idle, then BGSAVE
                                               and on until it has finished;
                                               latency figures as JSON
  persist-bench.py wait-ready PORT TIMEOUT_S [START]
                                               polls PING every 5 ms until it
                                               answers +PONG (not -LOADING);
                                               prints seconds since START (a
                                               unix time; default: the call)

Values are deterministic (a seeded pool of printable bytes), so two servers
filled by the same command hold the same data.
"""

import json
import os
import random
import socket
import sys
import time

POOL_LEN = 1 << 20


def pool():
    rng = random.Random(11)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    return bytes(rng.choice(alphabet) for _ in range(POOL_LEN))


def value(p, i, size):
    off = (i * 7919) % (POOL_LEN - size)
    return p[off:off + size]


def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def fill_strings(n, vsize, db=0):
    p = pool()
    w = sys.stdout.buffer
    w.write(cmd("SELECT", db))
    head = b"*3\r\n$3\r\nSET\r\n"
    vlen = b"$%d\r\n" % vsize
    batch = []
    for i in range(n):
        k = b"key:%d" % i
        batch.append(b"%s$%d\r\n%s\r\n%s%s\r\n" % (head, len(k), k, vlen, value(p, i, vsize)))
        if len(batch) == 10000:
            w.write(b"".join(batch))
            batch.clear()
    w.write(b"".join(batch))
    w.flush()


# Far-future expiry (2100-01-01), so a cached file never loses keys to time.
PXAT = 4102444800000


def fill_mixed(scale):
    """About 1.2 GB of RDB at scale 1: DBs 0-3 strings (200-byte values,
    one in ten with a TTL), DB 4 hashes, DB 5 lists, DB 6 zsets, DB 7 sets;
    small collections (listpack/intset encodings in the file) and big ones
    (hashtable/skiplist/quicklist)."""
    p = pool()
    w = sys.stdout.buffer
    s = lambda n: max(1, int(n * scale))  # noqa: E731
    n_str = s(1_200_000)
    for db in range(4):
        w.write(cmd("SELECT", db))
        batch = []
        for i in range(n_str):
            k = b"user:%d:%d" % (db, i)
            v = value(p, i + db * 1_000_003, 200)
            if i % 10 == 0:
                batch.append(cmd(b"SET", k, v, b"PXAT", PXAT))
            else:
                batch.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$200\r\n%s\r\n" % (len(k), k, v))
            if len(batch) == 10000:
                w.write(b"".join(batch))
                batch.clear()
        w.write(b"".join(batch))
    w.write(cmd("SELECT", 4))
    for i in range(s(200_000)):
        args = [b"HSET", b"session:%d" % i]
        for f in range(20):
            args += [b"field%d" % f, value(p, i * 20 + f, 16)]
        w.write(cmd(*args))
    for i in range(s(200)):
        k = b"bighash:%d" % i
        for c in range(0, 2000, 500):
            args = [b"HSET", k]
            for f in range(c, c + 500):
                args += [b"f%d" % f, value(p, i * 2000 + f, 24)]
            w.write(cmd(*args))
    w.write(cmd("SELECT", 5))
    for i in range(s(100_000)):
        w.write(cmd(b"RPUSH", b"queue:%d" % i, *[value(p, i * 30 + j, 20) for j in range(30)]))
    for i in range(s(50)):
        k = b"biglist:%d" % i
        for c in range(0, 20000, 1000):
            w.write(cmd(b"RPUSH", k, *[value(p, i * 20000 + c + j, 32) for j in range(1000)]))
    w.write(cmd("SELECT", 6))
    for i in range(s(200_000)):
        args = [b"ZADD", b"board:%d" % i]
        for m in range(10):
            args += [b"%d" % (i * 31 + m * 7), value(p, i * 10 + m, 12)]
        w.write(cmd(*args))
    for i in range(s(200)):
        k = b"bigzset:%d" % i
        for c in range(0, 5000, 500):
            args = [b"ZADD", k]
            for m in range(c, c + 500):
                args += [b"%d.5" % (m * 3), b"m%d-" % m + value(p, m, 10)]
            w.write(cmd(*args))
    w.write(cmd("SELECT", 7))
    for i in range(s(100_000)):
        w.write(cmd(b"SADD", b"ids:%d" % i, *[b"%d" % (i + j * 1000) for j in range(10)]))
        w.write(cmd(b"SADD", b"tags:%d" % i, *[value(p, i * 10 + j, 10) for j in range(10)]))
    for i in range(s(100)):
        k = b"bigset:%d" % i
        w.write(cmd(b"SADD", k, *[b"s%d-" % m + value(p, m, 8) for m in range(5000)]))
    w.flush()


def children(pid):
    kids = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def sample(pid, out, every_ms=50):
    with open(out, "a", buffering=1) as f:
        while True:
            kids = children(pid)
            rss = status_kb(pid, "VmRSS:")
            if rss == 0:
                return
            f.write("%.3f %d %d %d %d\n" % (
                time.time(), rss, sum(status_kb(k, "VmRSS:") for k in kids),
                pss_kb(pid), sum(pss_kb(k) for k in kids)))
            time.sleep(every_ms / 1000)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def reply(self):
        ln = self.line()
        if ln[:1] == b"$":
            n = int(ln[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        return ln

    def call(self, *args):
        self.s.sendall(cmd(*args))
        return self.reply()


def info_field(c, section, field):
    text = c.call("INFO", section).decode()
    for ln in text.splitlines():
        if ln.startswith(field + ":"):
            return ln.split(":", 1)[1]
    return None


def cpu_times():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def busy_pct(a, b):
    return 100.0 * (b[0] - a[0]) / max(1, b[1] - a[1])


def pct(sorted_us, q):
    if not sorted_us:
        return float("nan")
    return sorted_us[min(len(sorted_us) - 1, int(q * len(sorted_us)))]


def summary(lat):
    lat = sorted(lat)
    return {
        "n": len(lat),
        "p50_us": pct(lat, 0.50),
        "p99_us": pct(lat, 0.99),
        "p999_us": pct(lat, 0.999),
        "max_us": lat[-1] if lat else float("nan"),
    }


def probe(port, n, vsize, rate, idle_s, out):
    """One connection sends SET key:<random> at `rate` per second (paced;
    latency is measured from the send). IDLE_S seconds without a save, then
    BGSAVE; the load goes on until INFO says the save has finished."""
    p = pool()
    c = Conn(port)
    ctl = Conn(port)
    rng = random.Random(7)
    interval = 1.0 / rate
    lat_idle, lat_save = [], []
    t0 = time.perf_counter()
    cpu0 = cpu_times()
    next_at = t0
    phase = "idle"
    save_started = save_ended = None
    last_poll = t0
    while True:
        now = time.perf_counter()
        if phase == "idle" and now - t0 >= idle_s:
            r = ctl.call("BGSAVE")
            if not r.startswith(b"+"):
                raise SystemExit(f"BGSAVE refused: {r!r}")
            save_started = time.perf_counter()
            cpu1 = cpu_times()
            last_poll = save_started
            phase = "save"
        if phase == "save" and now - last_poll >= 0.05:
            last_poll = now
            if info_field(ctl, "persistence", "rdb_bgsave_in_progress") == "0":
                save_ended = time.perf_counter()
                cpu2 = cpu_times()
                break
        if now < next_at:
            # Plain sleep, no spinning: the client must not take a core
            # from the server on a small machine.
            time.sleep(next_at - now)
        next_at += interval
        # Behind schedule (a stall): do not burst to catch up.
        if next_at < time.perf_counter() - 0.01:
            next_at = time.perf_counter()
        i = rng.randrange(n)
        k = b"key:%d" % i
        req = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
            len(k), k, vsize, value(p, i + 1, vsize))
        s = time.perf_counter()
        c.s.sendall(req)
        r = c.reply()
        us = (time.perf_counter() - s) * 1e6
        if r != b"+OK":
            raise SystemExit(f"SET failed: {r!r}")
        (lat_idle if phase == "idle" else lat_save).append(us)
    status = info_field(ctl, "persistence", "rdb_last_bgsave_status")
    fork_us = info_field(ctl, "stats", "latest_fork_usec")
    res = {
        "idle": summary(lat_idle),
        "save": summary(lat_save),
        "bgsave_s": save_ended - save_started,
        "bgsave_start_unix": time.time() - (time.perf_counter() - save_started),
        "bgsave_end_unix": time.time() - (time.perf_counter() - save_ended),
        "status": status,
        "latest_fork_usec": fork_us,
        "rate": rate,
        # Whole-machine CPU busy (all cores, ours included): the share of
        # the machine other work took shows as what ours cannot explain.
        "busy_idle_pct": busy_pct(cpu0, cpu1),
        "busy_save_pct": busy_pct(cpu1, cpu2),
        "cores": os.cpu_count(),
    }
    with open(out, "w") as f:
        json.dump(res, f)


def wait_ready(port, timeout_s, start):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        try:
            c = Conn(port)
            while time.perf_counter() - t0 < timeout_s:
                r = c.call("PING")
                if r == b"+PONG":
                    print("%.3f" % (time.time() - start))
                    return
                time.sleep(0.005)
        except OSError:
            time.sleep(0.005)
    raise SystemExit(f"port {port}: not ready after {timeout_s} s")


def main():
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    op = a[0]
    if op == "fill-strings":
        fill_strings(int(a[1]), int(a[2]), int(a[3]) if len(a) > 3 else 0)
    elif op == "fill-mixed":
        fill_mixed(float(a[1]))
    elif op == "sample":
        sample(int(a[1]), a[2], int(a[3]) if len(a) > 3 else 50)
    elif op == "probe":
        probe(int(a[1]), int(a[2]), int(a[3]), float(a[4]), float(a[5]), a[6])
    elif op == "wait-ready":
        wait_ready(int(a[1]), float(a[2]), float(a[3]) if len(a) > 3 else time.time())
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
