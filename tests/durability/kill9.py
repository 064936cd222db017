#!/usr/bin/env python3
"""Durability trial: acknowledged writes must survive `kill -9`.

Each trial:
  1. starts keyward on a free 127.0.0.1 port with
     `--dir <tmp> --appendonly yes --appendfsync <policy> --save ''`, waits for PING;
  2. runs 4 writer threads, thread i in DB i (SELECT i), each sending one
     command at a time (wait for the reply before the next), a random mix of
         SET   w<i>:k<n> <n>        (a fresh key per op)
         INCR  w<i>:counter
         RPUSH w<i>:list <n>
         HSET  w<i>:h f<n> <n>
     where n is the thread's op index; per op it records when it was *sent*
     (before the bytes went out) and *acknowledged* (a reply was read);
  3. after a random 0.3-1.5 s (everysec: 2.3-3.5 s, since writes acked in
     the last 2 s may be lost), SIGKILLs the server while the writers run;
  4. restarts it on the same dir with the same flags (a fresh port), waits for
     PING, and checks each DB with one connection:
       - every required op is present: a SET key with its value, an RPUSH
         element, an HSET field with its value (required = acknowledged under
         `always`; under `everysec`, acknowledged more than 2 s before the kill);
       - acked INCRs <= counter <= sent INCRs (lower bound: required INCRs);
       - nothing never sent is present (no phantom keys, fields or elements);
       - the list is exactly the RPUSH values in send order, cut at some point
         (a prefix: no gaps, no reordering, no duplicates);
       - across types, the state is that of a prefix of the thread's op
         sequence (an append-only log cut at its tail): no present op after a
         missing one, and the counter agrees with that cut.
     Unacknowledged writes may be present or not.

Usage:
  tests/durability/kill9.py [--trials N] [--policy always|everysec] [--quick]
                            [--seed S] [--keep-failed] [--cycles K] [--rewrite]
                            [--big] [--inject-loss]
  KEYWARD_BIN overrides the binary (default target/release/keyward under the
  repo root). Prints one line per trial, then `N passed, M failed`; exits 1 on
  any failure. Python 3 stdlib only.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WRITERS = 4
EVERYSEC_WINDOW = 2.0


# --------------------------------------------------------------------------
# A tiny RESP client


class ExpectedReplies:
    """The reply each op of one writer must get: its counters count only
    its own keys, so INCR and RPUSH answer 1, 2, 3 ... in order."""

    def __init__(self):
        self.incrs = 0
        self.pushes = 0

    def reply(self, kind):
        if kind == "INCR":
            self.incrs += 1
            return self.incrs
        if kind == "RPUSH":
            self.pushes += 1
            return self.pushes
        if kind == "HSET":
            return 1
        return "OK"

class RespError(Exception):
    """An error reply (-ERR ...)."""


class Resp:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, *args):
        self.sock.sendall(self.encode(*args))

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """One reply. Error replies are returned as RespError instances."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"%":  # RESP3 map, not expected (we speak RESP2)
            return [self.read() for _ in range(2 * int(rest))]
        if t == b"_":
            return None
        raise ValueError("bad RESP line %r" % line)

    def call(self, *args):
        self.send(*args)
        r = self.read()
        if isinstance(r, RespError):
            raise r
        return r


# --------------------------------------------------------------------------
# Server process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, datadir, policy, logpath, io_threads=1):
        self.binary = binary
        self.io_threads = io_threads
        self.datadir = datadir
        self.policy = policy
        self.logpath = logpath
        self.proc = None
        self.port = None

    def args(self):
        return [
            str(self.binary),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.datadir),
            "--appendonly", "yes",
            "--appendfsync", self.policy,
            "--save", "",
            "--io-threads", str(self.io_threads),
        ]

    def start(self, timeout=30.0):
        self.port = free_port()
        log = open(self.logpath, "ab")
        log.write(b"=== start %s\n" % " ".join(self.args()).encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.args(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=str(self.datadir),
            env=dict(os.environ, NO_COLOR="1"))
        log.close()
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with status %s at start (log %s):\n%s"
                                   % (self.proc.returncode, self.logpath, tail(self.logpath)))
            try:
                c = Resp(self.port, timeout=2.0)
                try:
                    r = c.call("PING")
                    if r == "PONG":
                        return
                    last = r
                finally:
                    c.close()
            except (OSError, RespError, ValueError) as e:  # refused, LOADING...
                last = e
            time.sleep(0.02)
        raise RuntimeError("server not answering PING after %.0fs (last: %r)" % (timeout, last))

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def stop(self):
        """Best-effort teardown: SIGKILL and reap (the data is checked already)."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
        except Exception:
            pass
        self.proc = None


def tail(path, n=20):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------
# Writers

KINDS = ("SET", "INCR", "RPUSH", "HSET")
BIG_DB = WRITERS  # --big: the big-value writer's DB


def big_value(n):
    """--big: the value of SET b:k<n>, 64 KiB to 1 MiB, derived from n."""
    size = 65536 * (1 + (n * 7) % 16)
    unit = b"%d-" % n
    return (unit * (size // len(unit) + 1))[:size]


class Op:
    __slots__ = ("n", "kind", "sent", "acked", "reply")

    def __init__(self, n, kind):
        self.n = n
        self.kind = kind
        self.sent = None   # monotonic time before the bytes went out
        self.acked = None  # monotonic time the reply was read
        self.reply = None


class Writer(threading.Thread):
    def __init__(self, i, port, rng_seed, stop, prefix, big=False):
        super().__init__(daemon=True)
        self.i = i
        self.prefix = prefix   # w<i>, or c<cycle>w<i> after the first cycle
        self.big = big         # SETs only, of big_value(n)
        self.kinds = ("SET",) if big else KINDS
        self.kill_time = None
        self.port = port
        self.rng = random.Random(rng_seed)
        self.stop = stop
        self.ops = []
        self.error = None      # what ended the loop (expected: connection lost)
        self.bad_reply = None  # a reply that was not what the op must return
        self.ready = threading.Event()

    def command(self, op):
        p, n = self.prefix, op.n
        if op.kind == "SET":
            return ("SET", "%s:k%d" % (p, n), big_value(n) if self.big else n)
        if op.kind == "INCR":
            return ("INCR", "%s:counter" % p)
        if op.kind == "RPUSH":
            return ("RPUSH", "%s:list" % p, n)
        return ("HSET", "%s:h" % p, "f%d" % n, n)

    def run(self):
        c = None
        try:
            c = Resp(self.port, timeout=10.0)
            c.call("SELECT", self.i)
            self.ready.set()
            expected = ExpectedReplies()
            n = 0
            while not self.stop.is_set():
                op = Op(n, self.rng.choice(self.kinds))
                self.ops.append(op)
                op.sent = time.monotonic()
                c.send(*self.command(op))
                r = c.read()
                op.acked = time.monotonic()
                op.reply = r
                # The reply itself must be consistent with the history.
                want = expected.reply(op.kind)
                if r != want and self.bad_reply is None:
                    self.bad_reply = "op %d %s: reply %r, expected %r" % (n, op.kind, r, want)
                n += 1
        except (OSError, ConnectionError, ValueError) as e:
            self.error = e
        finally:
            self.ready.set()
            if c:
                c.close()


class Rewriter(threading.Thread):
    """--rewrite: BGREWRITEAOF every 50-300 ms while the writers run, so that
    kills also land mid-rewrite (new incr file, base written, manifest swap)."""

    def __init__(self, port, rng_seed, stop):
        super().__init__(daemon=True)
        self.port = port
        self.rng = random.Random(rng_seed)
        self.stop = stop
        self.started = 0
        self.refused = 0

    def run(self):
        c = None
        try:
            c = Resp(self.port, timeout=10.0)
            while not self.stop.wait(self.rng.uniform(0.05, 0.3)):
                c.send("BGREWRITEAOF")
                r = c.read()
                if isinstance(r, RespError):
                    self.refused += 1  # one already running
                else:
                    self.started += 1
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            if c:
                c.close()


# --------------------------------------------------------------------------
# The check


def check_writer(c, w, kill_time, policy):
    """Returns (problems, stats) for writer w, on connection c (any DB)."""
    i, p, ops = w.i, w.prefix, w.ops
    problems = []
    c.call("SELECT", i)
    sent = [op for op in ops if op.sent is not None]
    acked = [op for op in ops if op.acked is not None]
    if policy == "always":
        def required(op):
            return op.acked is not None
    else:
        def required(op):
            return op.acked is not None and op.acked <= kill_time - EVERYSEC_WINDOW
    nreq = 0  # ops are acknowledged in order: the required ones are a prefix
    for op in ops:
        if not required(op):
            break
        nreq += 1
    nsent = len(sent)

    # Read back everything of this writer.
    keys = set(k.decode() for k in c.call("KEYS", "%s:*" % p))
    values = {}
    set_keys = sorted((k for k in keys if k.startswith("%s:k" % p)), key=lambda k: int(k.split(":k")[1]))
    step = 4 if w.big else 500
    for j in range(0, len(set_keys), step):
        chunk = set_keys[j:j + step]
        values.update(zip(chunk, c.call("MGET", *chunk)))
    values = {k: v for k, v in values.items() if v is not None}
    counter = c.call("GET", "%s:counter" % p)
    counter = int(counter) if counter is not None else 0
    lst = [int(x) for x in c.call("LRANGE", "%s:list" % p, 0, -1)]
    h = c.call("HGETALL", "%s:h" % p)
    hash_ = {h[j].decode(): h[j + 1] for j in range(0, len(h), 2)}
    unexpected = keys - set(set_keys) - {"%s:counter" % p, "%s:list" % p, "%s:h" % p}
    if unexpected:
        problems.append("unexpected keys %s" % sorted(unexpected)[:5])

    # present[j]: whether op j's effect is there (None for INCR: derived).
    by_n = {op.n: op for op in ops}
    present = {}
    list_pos = {}
    for pos, v in enumerate(lst):
        if v in list_pos:
            problems.append("list element %d duplicated" % v)
        list_pos[v] = pos
    for op in ops:
        n = op.n
        if op.kind == "SET":
            k = "%s:k%d" % (p, n)
            if k in values:
                present[n] = True
                want = big_value(n) if w.big else str(n).encode()
                if values[k] != want:
                    problems.append("%s = %r (%d bytes), expected %r (%d bytes)"
                                    % (k, values[k][:20], len(values[k]), want[:20], len(want)))
            else:
                present[n] = False
        elif op.kind == "RPUSH":
            present[n] = n in list_pos
        elif op.kind == "HSET":
            f = "f%d" % n
            if f in hash_:
                present[n] = True
                if hash_[f] != str(n).encode():
                    problems.append("hash field %s = %r, expected %r" % (f, hash_[f], n))
            else:
                present[n] = False
    # Phantoms: effects of ops never sent.
    for k in set_keys:
        n = int(k.split(":k")[1])
        if n not in by_n or by_n[n].kind != "SET" or by_n[n].sent is None:
            problems.append("phantom key %s (never sent)" % k)
    for v in lst:
        if v not in by_n or by_n[v].kind != "RPUSH" or by_n[v].sent is None:
            problems.append("phantom list element %d (never sent)" % v)
    for f in hash_:
        n = int(f[1:]) if f[1:].isdigit() else -1
        if n not in by_n or by_n[n].kind != "HSET" or by_n[n].sent is None:
            problems.append("phantom hash field %s (never sent)" % f)

    # Required ops present.
    lost = []
    for op in ops[:nreq]:
        if op.kind != "INCR" and not present[op.n]:
            lost.append("%s#%d" % (op.kind, op.n))
    if lost:
        problems.append("LOST %d acknowledged writes: %s%s"
                        % (len(lost), ", ".join(lost[:10]), " ..." if len(lost) > 10 else ""))
    incr_req = sum(1 for op in ops[:nreq] if op.kind == "INCR")
    incr_acked = sum(1 for op in acked if op.kind == "INCR")
    incr_sent = sum(1 for op in sent if op.kind == "INCR")
    if not (incr_req <= counter <= incr_sent):
        problems.append("counter %d not in [%d required, %d sent] (acked %d)"
                        % (counter, incr_req, incr_sent, incr_acked))

    # The list: exactly the first len(lst) RPUSH values in send order.
    pushes = [op.n for op in sent if op.kind == "RPUSH"]
    if lst != pushes[:len(lst)]:
        for pos, (a, b) in enumerate(zip(lst, pushes)):
            if a != b:
                problems.append("list not a prefix of the pushes: position %d holds %d, expected %d"
                                % (pos, a, b))
                break
        else:
            problems.append("list longer than the pushes sent (%d > %d)" % (len(lst), len(pushes)))

    # Cross-type prefix: the state is ops[0:P] for some P.
    non_incr = [op for op in sent if op.kind != "INCR"]
    first_missing = next((op.n for op in non_incr if not present[op.n]), None)
    last_present = max((op.n for op in non_incr if present[op.n]), default=-1)
    if first_missing is not None and last_present > first_missing:
        problems.append("not a prefix: op %d (%s) present but op %d (%s) missing"
                        % (last_present, by_n[last_present].kind, first_missing, by_n[first_missing].kind))
    else:
        lo_cut = last_present + 1
        hi_cut = first_missing if first_missing is not None else nsent
        lo = sum(1 for op in ops[:lo_cut] if op.kind == "INCR")
        hi = sum(1 for op in ops[:hi_cut] if op.kind == "INCR")
        if not (lo <= counter <= hi):
            problems.append("counter %d inconsistent with the cut between ops %d and %d "
                            "(expects %d..%d)" % (counter, lo_cut, hi_cut, lo, hi))

    # How far the recovered state reaches: the smallest cut P >= the last
    # present op that also accounts for the counter.
    P = last_present + 1
    incr_upto = sum(1 for op in ops[:P] if op.kind == "INCR")
    while P < nsent and incr_upto < counter:
        if ops[P].kind == "INCR":
            incr_upto += 1
        P += 1
    stats = dict(sent=nsent, acked=len(acked), required=nreq, recovered=P,
                 acked_lost=max(0, len(acked) - P))
    if w.bad_reply:
        problems.append("bad reply during the run: " + w.bad_reply)
    return problems, stats


def inject_loss(c, writers):
    """Checker self-test: damage the recovered state the way a lost tail would
    (delete the first acknowledged SET key, drop the list's first element),
    so every trial must FAIL."""
    for w in writers:
        c.call("SELECT", w.i)
        for op in w.ops:
            if op.kind == "SET" and op.acked is not None:
                c.call("DEL", "%s:k%d" % (w.prefix, op.n))
                break
        c.call("LPOP", "%s:list" % w.prefix)


def torn_tail(datadir):
    """Bytes after the last complete command of the last incr file named by
    the manifest (0: the file ends on a command boundary), read after the
    kill, before the restart: whether this kill exercised the torn-tail cut."""
    d = Path(datadir) / "appendonlydir"
    try:
        man = next(d.glob("*.manifest")).read_text()
    except (StopIteration, OSError):
        return 0
    last = None
    for line in man.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0] == "file" and f[5] == "i":
            if last is None or int(f[3]) > last[0]:
                last = (int(f[3]), f[1])
    if last is None:
        return 0
    try:
        data = (d / last[1]).read_bytes()
    except OSError:
        return 0
    pos = good = 0
    try:
        while pos < len(data):
            if data[pos:pos + 1] == b"#":  # #TS: annotation
                e = data.index(b"\r\n", pos)
                pos = good = e + 2
                continue
            e = data.index(b"\r\n", pos)
            argc = int(data[pos + 1:e])
            pos = e + 2
            for _ in range(argc):
                e = data.index(b"\r\n", pos)
                n = int(data[pos + 1:e])
                pos = e + 2 + n + 2
                if pos > len(data):
                    raise ValueError
            good = pos
    except ValueError:
        pass
    return len(data) - good


def describe_dir(datadir):
    out = []
    for root, dirs, files in os.walk(datadir):
        dirs.sort()
        out.append("$ ls -la %s" % root)
        try:
            out.append(subprocess.run(["ls", "-la", root], capture_output=True, text=True).stdout.rstrip())
        except OSError:
            pass
        for f in sorted(files):
            if f.endswith(".manifest"):
                p = Path(root) / f
                out.append("$ cat %s" % p)
                out.append(p.read_text(errors="replace").rstrip())
    return "\n".join(out)


def trial(t, args, binary, rng):
    seed = rng.randrange(1 << 30)
    trng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="keyward-kill9-"))
    datadir = tmp / "data"
    datadir.mkdir()
    logpath = tmp / "server.log"
    srv = Server(binary, datadir, args.policy, logpath, args.io_threads)
    all_writers = []  # every cycle's writers: each restart re-checks them all
    threads = []
    stop = threading.Event()
    delays = []
    torn = []
    failed = True
    try:
        srv.start()
        problems = []
        rewrites = 0
        for cyc in range(args.cycles):
            delay = trng.uniform(0.3, 1.5)
            if args.policy == "everysec":
                # Writes acked in the last 2 s may be lost: run 2 s longer so
                # that some writes are required at all.
                delay += EVERYSEC_WINDOW
            delays.append(delay)
            stop = threading.Event()
            writers = [Writer(i, srv.port, trng.randrange(1 << 30), stop,
                              "w%d" % i if cyc == 0 else "c%dw%d" % (cyc, i))
                       for i in range(WRITERS)]
            if args.big:
                writers.append(Writer(BIG_DB, srv.port, trng.randrange(1 << 30), stop,
                                      "b" if cyc == 0 else "c%db" % cyc, big=True))
            threads = list(writers)
            for w in writers:
                w.start()
            for w in writers:
                w.ready.wait(10)
            rewriter = None
            if args.rewrite:
                rewriter = Rewriter(srv.port, trng.randrange(1 << 30), stop)
                threads.append(rewriter)
                rewriter.start()
            time.sleep(delay)
            alive = [w.is_alive() for w in writers]
            kill_time = time.monotonic()
            srv.kill9()
            stop.set()
            for th in threads:
                th.join(15)
            if rewriter:
                rewrites += rewriter.started
            for w in writers:
                w.kill_time = kill_time
            torn.append(torn_tail(datadir))
            all_writers += writers
            tag = "cycle %d: " % (cyc + 1) if args.cycles > 1 else ""
            if not all(alive):
                problems.append(tag + "writers ended before the kill: %s"
                                % [repr(w.error) for w, a in zip(writers, alive) if not a])
            if any(th.is_alive() for th in threads):
                problems.append(tag + "a client thread is still running 15 s after the kill")

            srv.start()
            c = Resp(srv.port, timeout=30.0)
            stats = []
            try:
                if args.inject_loss and cyc == args.cycles - 1:
                    inject_loss(c, writers)
                for w in all_writers:
                    p, st = check_writer(c, w, w.kill_time, args.policy)
                    problems += ["%s%s: %s" % (tag, w.prefix, x) for x in p]
                    stats.append(st)
                dbsize = []
                for i in range(WRITERS + (1 if args.big else 0)):
                    c.call("SELECT", i)
                    dbsize.append(c.call("DBSIZE"))
            finally:
                c.close()
            if problems:
                break
        tot = {k: sum(st[k] for st in stats) for k in ("sent", "acked", "required", "recovered", "acked_lost")}
        line = ("trial %d/%d %s seed=%d kill_after=%s sent=%d acked=%d required=%d "
                "recovered=%d acked_not_recovered=%d keys=%d"
                % (t, args.trials, "PASS" if not problems else "FAIL", seed,
                   "+".join("%.2fs" % d for d in delays), tot["sent"], tot["acked"],
                   tot["required"], tot["recovered"], tot["acked_lost"], sum(dbsize)))
        if args.rewrite:
            line += " rewrites=%d" % rewrites
        if any(torn):
            line += " torn_tail_bytes=%s" % "+".join(map(str, torn))
        print(line, flush=True)
        if problems:
            for p in problems[:40]:
                print("    " + p, flush=True)
            print("    data dir %s:" % datadir, flush=True)
            print("    " + describe_dir(datadir).replace("\n", "\n    "), flush=True)
            print("    server log tail:\n    " + tail(logpath).replace("\n", "\n    "), flush=True)
        failed = bool(problems)
        return not problems
    except Exception as e:  # a start failure, a protocol error: a failed trial
        print("trial %d/%d FAIL seed=%d kill_after=%s error: %r"
              % (t, args.trials, seed, "+".join("%.2fs" % d for d in delays), e), flush=True)
        print("    server log tail:\n    " + tail(logpath).replace("\n", "\n    "), flush=True)
        if datadir.exists():
            print("    " + describe_dir(datadir).replace("\n", "\n    "), flush=True)
        return False
    finally:
        stop.set()
        srv.stop()
        for th in threads:
            th.join(5)
        if failed and args.keep_failed:
            print("    kept %s" % tmp, flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--policy", choices=("always", "everysec"), default="always")
    ap.add_argument("--quick", action="store_true", help="5 trials (CI)")
    ap.add_argument("--io-threads", type=int, default=1,
                    help="the server's worker threads (default 1)")
    ap.add_argument("--seed", type=int, default=None, help="master seed (default: random)")
    ap.add_argument("--keep-failed", action="store_true", help="keep the temp dir of failed trials")
    ap.add_argument("--cycles", type=int, default=1,
                    help="kill/restart cycles per trial on the same dir, with fresh keys each cycle "
                         "(every restart re-checks all earlier cycles)")
    ap.add_argument("--big", action="store_true",
                    help="add a writer of 64 KiB-1 MiB values (DB 4), so kills can tear an AOF write")
    ap.add_argument("--rewrite", action="store_true",
                    help="also run BGREWRITEAOF every 50-300 ms, so kills land mid-rewrite")
    ap.add_argument("--inject-loss", action="store_true",
                    help="checker self-test: delete acknowledged data after the restart (every trial must FAIL)")
    args = ap.parse_args()
    if args.quick:
        args.trials = 5
    binary = Path(os.environ.get("KEYWARD_BIN", REPO / "target" / "release" / "keyward"))
    if not binary.is_absolute():
        binary = REPO / binary
    if not os.access(binary, os.X_OK):
        print("keyward binary not found: %s (set KEYWARD_BIN)" % binary, file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print("kill9: %s, policy=%s, trials=%d, master seed=%d%s%s%s"
          % (binary, args.policy, args.trials, seed,
             ", %d kill cycles per trial" % args.cycles if args.cycles > 1 else "",
             ", with BGREWRITEAOF" if args.rewrite else "",
             ", with a big-value writer" if args.big else ""), flush=True)
    rng = random.Random(seed)
    passed = failed = 0
    for t in range(1, args.trials + 1):
        if trial(t, args, binary, rng):
            passed += 1
        else:
            failed += 1
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
