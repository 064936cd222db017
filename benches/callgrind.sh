#!/usr/bin/env bash
# Instructions per dispatch, steady state, for benches/dispatch.rs cases:
# the deterministic figure this repo quotes for hot-path cost (wall-clock
# criterion runs move ±50 % on shared 2-core machines).
#
#   benches/callgrind.sh 'dispatch/set$' 'dispatch/get$' ...
#
# For each filter the bench runs under callgrind twice (--profile-time 1 and
# 3); the difference of the two runs' inclusive instructions in FN divided
# by the difference of its call counts cancels setup and warm-up.
# FN defaults to the dispatch entry (keyward::server::dispatch::dispatch_with).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
FN="${FN:-keyward::server::dispatch::dispatch_with}"
cargo bench --bench dispatch --no-run 2>&1 | tail -1
bin=$(ls -t target/release/deps/dispatch-* | grep -v '\.d$' | head -1)
out=$(mktemp -d)
for filter in "$@"; do
    for t in 1 3; do
        valgrind --tool=callgrind --callgrind-out-file="$out/cg.$t" \
            "$bin" --bench --profile-time "$t" "$filter" >/dev/null 2>&1
    done
    FN="$FN" python3 - "$out/cg.1" "$out/cg.3" "$filter" <<'PY'
import os, re, sys
fn = os.environ["FN"]
def totals(path):
    names, calls, incl, cur = {}, 0, 0, None
    lines = open(path).read().split("\n")
    for i, l in enumerate(lines):
        m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", l)
        if m:
            if m.group(2):
                names[m.group(1)] = m.group(2)
            if l.startswith("cfn="):
                cur = names.get(m.group(1), "")
            continue
        if l.startswith("calls=") and cur and cur.endswith(fn):
            calls += int(l.split()[0][6:])
            incl += int(lines[i + 1].split()[1])
    return calls, incl
c1, i1 = totals(sys.argv[1])
c2, i2 = totals(sys.argv[2])
print(f"{sys.argv[3]}: {(i2 - i1) / max(c2 - c1, 1):.0f} Ir per call of {fn} ({c2 - c1} calls)")
PY
done
rm -rf "$out"
