#!/usr/bin/env python3
"""Durability trial: injected write and fsync failures (libfiu). keyward never
keeps acknowledging writes on a failed AOF file, and loses no acknowledged
write.

keyward runs under `fiu-run -x` (libfiu's POSIX preload, Debian's fiu-utils).
While writer clients run, `fiu-ctrl` switches a failpoint on at a random
moment. Every restart that follows runs the plain binary, without fiu.

Failpoints, and why these:
  posix/io/sync/fdatasync  failinfo=5 (EIO), on until the script turns it off.
      keyward fdatasyncs only files: the AOF incr file, rewrite bases and
      manifests. Directory syncs use fsync(2), which is never failed here. So
      this failpoint hits the AOF's fsync and nothing else.
  posix/io/rw/write        failinfo=28 (ENOSPC), `onetime`: only the next
      write(2) in the process fails. Sockets are safe: Rust's std (under
      mio/tokio) sends with send(2), never write(2). But `strace -f -y` of a
      run with writers shows write(2) on two things besides the AOF and its
      manifests. One is the log on stdout. The other is tokio's eventfd
      waker, and a failed waker write panics the runtime ("failed to wake I/O
      driver"). So a write failpoint left on would soon break tokio, not the
      AOF. A one-time failure lands on the next write(2). Under `everysec`
      the worker writes the waker about 10 times a second, against thousands
      of AOF writes, so the next write(2) is nearly always the AOF's. If it
      does hit the waker, the log shows tokio's panic, and the trial is run
      again with a new seed. The script says so, and such a trial never
      counts as a pass. keyward's MISCONF is sticky, so one failed write is
      enough to test it. Under `always` every group commit wakes the waiting
      connections through the waker, so a one-time failure would land there
      about half the time. The `always` scenario therefore fails fdatasync
      only.
  The errno is always set explicitly. fiu's default is a random one, and
  write_all retries EINTR.
  Why not the `fail` crate: it needs a feature build of its own. fiu fails
  the real syscalls of the release binary, with no change to the code.

Scenarios (trial t runs the t-th, in turn):
  always-fsync
      `appendfsync always`, fdatasync fails. Replies may already have promised
      durability, so as in Redis the server must exit with a non-zero status
      within 10 s, even if no other write comes to find the error. No op sent
      after the failpoint was on may be acknowledged: no fdatasync can cover
      it. After a restart every acknowledged op must be there.
  everysec-write, everysec-fsync
      `appendfsync everysec`, and a write fails, or fdatasync fails (the
      once-a-second fsync hits it within about 1 s). Checks:
        - each writer stops with `-MISCONF Errors writing to the AOF file: ...`
          or loses its connection. A lost connection means a command that ran
          just as the failure was found: its outcome is unknown. Once any
          client got a refusal, no op sent after it may be acknowledged: the
          server must not keep answering OK;
        - a probe SET gets MISCONF while the failure stands. A BGREWRITEAOF
          whose base cannot be fdatasynced (fdatasync failing) leaves MISCONF
          on;
        - with the failpoints off, MISCONF stays, because the failed file is
          not trusted again, until a BGREWRITEAOF (new base + new incr) lifts
          it within 10 s. Then a second generation of writers must run without
          one refusal.
      Then comes kill -9, 2.2 s after the writers stop. That is past everysec's
      window: a write postponed behind an fdatasync is acknowledged before it
      is written, as in Redis. kill -9 leaves the page cache, so after the
      restart every acknowledged op of both generations must be there, and
      the acknowledged probes too.
  everysec-write-crash, everysec-fsync-crash
      The same failure, but the kill -9 comes while MISCONF is still on: 2.2 s
      after the failpoint is off, before any rewrite. Acknowledged ops must be
      in the AOF file already, not only in memory waiting for a rewrite's base.
  There are 4 writers, writer i in DB i. Each sends one command at a time: SET,
  INCR, RPUSH or HSET with fresh keys, as in kill9.py. A writer stops at its
  first error reply (not counted as acknowledged) or when its connection
  closes. The check after the restart is kill9.py's: every acknowledged op is
  present, nothing never sent is, the list is a prefix, and the state is a
  prefix of the op sequence. The server log must hold no panic.

Usage:
  tests/durability/fiu.py [--trials N] [--quick] [--seed S] [--keep-failed]
                          [--scenario NAME]...
  KEYWARD_BIN overrides the binary (default target/release/keyward under the
  repo root). --quick runs 5 trials, one per scenario (CI, about 20 s). The
  default is 50. Prints one line per trial, then the totals and
  `N passed, M failed`. Exits 1 on any failure. Needs Python 3 (stdlib) and
  fiu-utils.
"""

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kill9 as k9  # noqa: E402  (the RESP client, the server, the writers, the check)

REPO = k9.REPO
WRITERS = k9.WRITERS
SCENARIOS = ("always-fsync", "everysec-write", "everysec-fsync",
             "everysec-write-crash", "everysec-fsync-crash")
EIO, ENOSPC = 5, 28
FAILPOINTS = {
    "fsync": "posix/io/sync/fdatasync,failinfo=%d" % EIO,
    # onetime: only the next write(2) fails (see the header: tokio's waker).
    "write": "posix/io/rw/write,failinfo=%d,onetime" % ENOSPC,
}
SYNC_OFF = "disable name=posix/io/sync/fdatasync"
WAKER_PANIC = "failed to wake I/O driver"
MISCONF = "MISCONF Errors writing to the AOF file"


class TrialError(Exception):
    """A check that ends the trial at once."""


class FiuServer(k9.Server):
    """keyward, under `fiu-run -x` when `fiu` is set (fifos under `fifo`)."""

    def __init__(self, binary, datadir, policy, logpath, fifo):
        super().__init__(binary, datadir, policy, logpath)
        self.fifo = fifo
        self.fiu = False

    def args(self):
        a = super().args() + ["--io-threads", "1"]
        if self.fiu:
            return ["fiu-run", "-x", "-f", str(self.fifo)] + a
        return a

    def ctl(self, command):
        """One fiu-ctrl command (`enable name=...`, `disable name=...`)."""
        r = subprocess.run(["fiu-ctrl", "-f", str(self.fifo), "-c", command, str(self.proc.pid)],
                           capture_output=True, text=True, timeout=15)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0 or "rror" in out:
            raise TrialError("fiu-ctrl -c %r failed: %s" % (command, out))

    def exited(self, timeout):
        """Waits up to `timeout` s for the process to end; its exit status or None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


class FiuWriter(k9.Writer):
    """kill9's writer, except that an error reply ends it and is not an
    acknowledgement: `refusal` keeps the text and `ended` the time."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.refusal = None
        self.ended = None

    def run(self):
        c = None
        try:
            c = k9.Resp(self.port, timeout=10.0)
            c.call("SELECT", self.i)
            self.ready.set()
            expected = k9.ExpectedReplies()
            n = 0
            while not self.stop.is_set():
                op = k9.Op(n, self.rng.choice(self.kinds))
                self.ops.append(op)
                op.sent = time.monotonic()
                c.send(*self.command(op))
                r = c.read()
                if isinstance(r, k9.RespError):
                    op.reply = r
                    self.refusal = str(r)
                    self.ended = time.monotonic()
                    return
                op.acked = time.monotonic()
                op.reply = r
                want = expected.reply(op.kind)
                if r != want and self.bad_reply is None:
                    self.bad_reply = "op %d %s: reply %r, expected %r" % (n, op.kind, r, want)
                n += 1
        except (OSError, ConnectionError, ValueError, k9.RespError) as e:
            self.error = e
            self.ended = time.monotonic()
        finally:
            self.ready.set()
            if c:
                c.close()


def start_writers(srv, rng, gen):
    stop = threading.Event()
    ws = [FiuWriter(i, srv.port, rng.randrange(1 << 30), stop, "g%dw%d" % (gen, i))
          for i in range(WRITERS)]
    for w in ws:
        w.start()
    for w in ws:
        w.ready.wait(10)
    return ws, stop


def stop_writers(ws, stop, timeout=15.0):
    stop.set()
    for w in ws:
        w.join(timeout)
    return [w for w in ws if w.is_alive()]


def probe(port, key, value):
    """One SET on a fresh connection: "OK", the error text, or "closed"."""
    c = None
    try:
        c = k9.Resp(port, timeout=10.0)
        c.send("SET", key, value)
        r = c.read()
        return str(r) if isinstance(r, k9.RespError) else r
    except (OSError, ConnectionError, ValueError):
        return "closed"
    finally:
        if c:
            c.close()


def info_field(port, field):
    c = k9.Resp(port, timeout=10.0)
    try:
        text = c.call("INFO", "persistence").decode()
    finally:
        c.close()
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def rewrite(port, timeout=15.0):
    """BGREWRITEAOF (retried while one is running), then waits until no
    rewrite runs. Returns the reply to the BGREWRITEAOF that was taken."""
    deadline = time.monotonic() + timeout
    c = k9.Resp(port, timeout=10.0)
    try:
        while True:
            c.send("BGREWRITEAOF")
            r = c.read()
            if not (isinstance(r, k9.RespError) and "in progress" in str(r)):
                break
            if time.monotonic() > deadline:
                raise TrialError("BGREWRITEAOF refused for %.0f s: %s" % (timeout, r))
            time.sleep(0.05)
    finally:
        c.close()
    while info_field(port, "aof_rewrite_in_progress") != "0":
        if time.monotonic() > deadline:
            raise TrialError("the AOF rewrite still running after %.0f s" % timeout)
        time.sleep(0.02)
    return r


def wait_refused(writers, timeout):
    """Waits until every writer ended; the ones still running after `timeout`."""
    deadline = time.monotonic() + timeout
    for w in writers:
        w.join(max(0.0, deadline - time.monotonic()))
    return [w for w in writers if w.is_alive()]


def after(ops, t):
    """Ops sent after `t` that were acknowledged."""
    return [op for op in ops if op.sent > t and op.acked is not None]


def run_trial(scenario, srv, trng):
    """Runs one scenario against a started server (under fiu). Returns
    (problems, every writer, the probes acknowledged {key: value}, a summary
    for the trial line)."""
    problems = []
    fault = "write" if "-write" in scenario else "fsync"
    crash = scenario.endswith("-crash")
    probes = {}
    summary = {}

    def fault_off():
        if fault == "fsync":  # the write failpoint is onetime: off already
            srv.ctl(SYNC_OFF)

    gen1, stop1 = start_writers(srv, trng, 1)
    time.sleep(trng.uniform(0.3, 1.0))
    srv.ctl("enable name=%s" % FAILPOINTS[fault])
    t_on = time.monotonic()  # fiu-ctrl returned: the failpoint is on

    if scenario.startswith("always"):
        status = srv.exited(10.0)
        summary["exit"] = status
        if status is None:
            r = probe(srv.port, "probe:always", 1)
            problems.append("server still running 10 s after the AOF %s failed under always "
                            "(then a probe SET got %r)" % (fault, r))
            if r == "OK":
                probes["probe:always"] = b"1"
            if srv.proc.poll() is None:
                fault_off()
        elif status == 0:
            problems.append("server exited with status 0 after a fatal AOF error")
        hung = stop_writers(gen1, stop1)
        if hung:
            problems.append("%d writers still running after the server exited" % len(hung))
        late = [op for w in gen1 for op in after(w.ops, t_on)]
        summary["acked_after_failure"] = len(late)
        if late:
            problems.append("%d ops sent after the failpoint was on were acknowledged "
                            "(no fdatasync can cover them)" % len(late))
        for w in gen1:
            if w.refusal and not w.refusal.startswith("MISCONF"):
                problems.append("%s: unexpected error reply %r" % (w.prefix, w.refusal))
        return problems, gen1, probes, summary

    # everysec: every writer refused within 5 s (the fsync runs once a second).
    hung = wait_refused(gen1, 5.0)
    if hung:
        problems.append("%d of %d writers still acknowledged 5 s after the %s failpoint was on"
                        % (len(hung), WRITERS, fault))
        stop_writers(gen1, stop1)
        fault_off()
        return problems, gen1, probes, summary
    stop1.set()
    for w in gen1:
        if w.refusal is not None and not w.refusal.startswith(MISCONF):
            problems.append("%s: error reply %r, expected %s: ..." % (w.prefix, w.refusal, MISCONF))
    first_refusal = min(w.ended for w in gen1)
    late = [op for w in gen1 for op in after(w.ops, first_refusal)]
    summary["misconf_replies"] = sum(1 for w in gen1 if w.refusal)
    summary["closed"] = sum(1 for w in gen1 if w.refusal is None)
    summary["acked_after_failure"] = len(late)
    summary["refused_after"] = "%.2fs" % max(0.0, first_refusal - t_on)
    if late:
        problems.append("%d ops sent after the first refusal were acknowledged: %s"
                        % (len(late), ", ".join("%s#%d" % (op.kind, op.n) for op in late[:5])))
    if srv.proc.poll() is not None:
        problems.append("server exited (status %s) after an AOF %s failure under everysec"
                        % (srv.proc.returncode, fault))
        return problems, gen1, probes, summary

    def refused(key, when):
        """A probe SET that must get MISCONF."""
        r = probe(srv.port, key, 1)
        if r == "OK":
            probes[key] = b"1"
            problems.append("a SET was acknowledged %s" % when)
        elif not r.startswith(MISCONF):
            problems.append("SET %s: %r, expected %s: ..." % (when, r, MISCONF))
        return r

    r = refused("probe:on", "while the AOF failure stands")
    summary["misconf"] = r[len(MISCONF) + 2:].split(":")[0] if r.startswith(MISCONF) else r

    if crash:
        fault_off()
        # Past everysec's window, so that every acknowledged op is required.
        time.sleep(k9.EVERYSEC_WINDOW + 0.2)
        refused("probe:off", "after the failpoint was off, without a rewrite")
        return problems, gen1, probes, summary

    # A rewrite that cannot sync its base does not lift MISCONF.
    if fault == "write":
        srv.ctl("enable name=%s" % FAILPOINTS["fsync"])
    r = rewrite(srv.port)
    summary["failing_rewrite"] = "refused" if isinstance(r, k9.RespError) else "ran"
    srv.ctl(SYNC_OFF)
    refused("probe:after-failed-rewrite", "after a rewrite that could not sync its base")
    # Off: still refused until a rewrite.
    refused("probe:off", "after the failpoint was off, without a rewrite")
    r = rewrite(srv.port)
    if isinstance(r, k9.RespError):
        problems.append("BGREWRITEAOF with the failpoints off: %s" % r)
    t = time.monotonic()
    r = probe(srv.port, "probe:lifted", 1)
    while r != "OK" and time.monotonic() - t < 10:
        time.sleep(0.05)
        r = probe(srv.port, "probe:lifted", 1)
    if r != "OK":
        problems.append("MISCONF not lifted 10 s after a BGREWRITEAOF with the failpoints off: %r" % r)
        return problems, gen1, probes, summary
    probes["probe:lifted"] = b"1"

    gen2, stop2 = start_writers(srv, trng, 2)
    time.sleep(trng.uniform(0.3, 1.0))
    for w in gen2:
        if not w.is_alive():
            problems.append("%s ended after the rewrite: %s" % (w.prefix, w.refusal or repr(w.error)))
    hung = stop_writers(gen2, stop2)
    if hung:
        problems.append("%d writers of the second generation hung" % len(hung))
    summary["acked_after_rewrite"] = sum(1 for w in gen2 for op in w.ops if op.acked is not None)
    # Past everysec's window before the kill: a write postponed behind an
    # fdatasync is acknowledged before it is written (as in Redis).
    time.sleep(k9.EVERYSEC_WINDOW + 0.2)
    return problems, gen1 + gen2, probes, summary


def trial(t, args, binary, seed, tallies):
    """One trial: "pass", "fail", or "waker" (the one-time write failure hit
    tokio's waker instead of the AOF: not a verdict on keyward)."""
    trng = random.Random(seed)
    scenario = args.scenarios[(t - 1) % len(args.scenarios)]
    policy = "always" if scenario.startswith("always") else "everysec"
    tmp = Path(tempfile.mkdtemp(prefix="keyward-fiu-"))
    datadir = tmp / "data"
    datadir.mkdir()
    logpath = tmp / "server.log"
    srv = FiuServer(binary, datadir, policy, logpath, tmp / "fiu")
    outcome = "fail"
    writers = []
    try:
        srv.fiu = True
        srv.start()
        problems, writers, probes, summary = run_trial(scenario, srv, trng)
        # Whatever is left of the run: a crash, then a restart without fiu.
        srv.kill9()
        log = Path(logpath).read_text(errors="replace")
        if WAKER_PANIC in log:
            print("trial %d/%d RETRY %s seed=%d: the one-time write failure hit tokio's waker, "
                  "not the AOF; running it again with a new seed" % (t, args.trials, scenario, seed),
                  flush=True)
            print("    " + "\n    ".join(l for l in log.splitlines()
                                         if "AOF" in l or "panicked" in l or WAKER_PANIC in l),
                  flush=True)
            outcome = "waker"
            return outcome
        if "panicked" in log:
            problems.append("the server log holds a panic")
        srv.fiu = False
        srv.start()
        c = k9.Resp(srv.port, timeout=30.0)
        try:
            for w in writers:
                p, st = k9.check_writer(c, w, math.inf, "everysec")
                problems += ["%s: %s" % (w.prefix, x) for x in p]
                for k in ("sent", "acked", "acked_lost"):
                    summary[k] = summary.get(k, 0) + st[k]
            c.call("SELECT", 0)
            for k, v in probes.items():
                got = c.call("GET", k)
                if got != v:
                    problems.append("acknowledged probe %s = %r after the restart, expected %r"
                                    % (k, got, v))
        finally:
            c.close()
        extra = " ".join("%s=%s" % (k, v) for k, v in summary.items()
                         if k not in ("sent", "acked", "acked_lost"))
        print("trial %d/%d %s %s seed=%d sent=%d acked=%d acked_lost=%d %s"
              % (t, args.trials, "PASS" if not problems else "FAIL", scenario, seed,
                 summary.get("sent", 0), summary.get("acked", 0), summary.get("acked_lost", 0),
                 extra), flush=True)
        tallies["sent"] += summary.get("sent", 0)
        tallies["acked"] += summary.get("acked", 0)
        tallies["lost"] += summary.get("acked_lost", 0)
        tallies["acked_after_failure"] += summary.get("acked_after_failure", 0)
        tallies["misconf"] += summary.get("misconf_replies", 0)
        if problems:
            for p in problems[:40]:
                print("    " + p, flush=True)
            print("    " + k9.describe_dir(datadir).replace("\n", "\n    "), flush=True)
            print("    server log tail:\n    " + k9.tail(logpath, 30).replace("\n", "\n    "),
                  flush=True)
        else:
            outcome = "pass"
        return outcome
    except Exception as e:  # a start failure, a protocol error, a TrialError
        print("trial %d/%d FAIL %s seed=%d error: %s" % (t, args.trials, scenario, seed, e), flush=True)
        print("    server log tail:\n    " + k9.tail(logpath, 30).replace("\n", "\n    "), flush=True)
        return outcome
    finally:
        srv.stop()
        for w in writers:
            w.stop.set()
        if outcome == "fail" and args.keep_failed:
            print("    kept %s" % tmp, flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="5 trials, one per scenario (CI)")
    ap.add_argument("--seed", type=int, default=None, help="master seed (default: random)")
    ap.add_argument("--keep-failed", action="store_true", help="keep the temp dir of failed trials")
    ap.add_argument("--scenario", action="append", choices=sorted(set(SCENARIOS)),
                    help="run only these scenarios (repeatable; default: all, in turn)")
    args = ap.parse_args()
    if args.quick:
        args.trials = len(SCENARIOS)
    args.scenarios = args.scenario or list(SCENARIOS)
    binary = Path(os.environ.get("KEYWARD_BIN", REPO / "target" / "release" / "keyward"))
    if not binary.is_absolute():
        binary = REPO / binary
    if not os.access(binary, os.X_OK):
        print("keyward binary not found: %s (set KEYWARD_BIN)" % binary, file=sys.stderr)
        return 2
    for tool in ("fiu-run", "fiu-ctrl"):
        if shutil.which(tool) is None:
            print("%s not found (apt-get install fiu-utils)" % tool, file=sys.stderr)
            return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print("fiu: %s, trials=%d, scenarios=%s, master seed=%d"
          % (binary, args.trials, ",".join(args.scenarios), seed), flush=True)
    rng = random.Random(seed)
    tallies = dict(sent=0, acked=0, lost=0, acked_after_failure=0, misconf=0)
    passed = failed = retried = 0
    start = time.monotonic()
    for t in range(1, args.trials + 1):
        for _attempt in range(3):
            outcome = trial(t, args, binary, rng.randrange(1 << 30), tallies)
            if outcome != "waker":
                break
            retried += 1
        if outcome == "pass":
            passed += 1
        else:
            failed += 1
    print("total: %d trials%s, %d ops sent, %d acknowledged, %d acknowledged and lost, "
          "%d acknowledged after the failure, %d MISCONF replies to writers, %.0f s"
          % (args.trials, " (%d rerun: fiu hit tokio's waker)" % retried if retried else "",
             tallies["sent"], tallies["acked"], tallies["lost"], tallies["acked_after_failure"],
             tallies["misconf"], time.monotonic() - start), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
