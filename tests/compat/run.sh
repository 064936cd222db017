#!/usr/bin/env bash
# Real-client compatibility suite: starts keyward (the binary in $KEYWARD_BIN,
# default ../../target/release/keyward; this script builds nothing) on free
# ports and runs every client script against it. Needs `npm ci` done in this
# directory; creates .venv for redis-py on first use.
#
#   tests/compat/run.sh                 # everything
#   tests/compat/run.sh bullmq redis6   # only the scripts whose name contains a word
#
# Each check prints `ok NAME` or `not ok NAME: expected ..., got ...`. The last
# line is `N passed, M failed`; the exit status is non-zero when M > 0.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

bin="${KEYWARD_BIN:-../../target/release/keyward}"
case "$bin" in /*) ;; *) bin="$here/$bin" ;; esac
script_timeout="${COMPAT_TIMEOUT:-240}"
password="compat-secret"

if [ ! -x "$bin" ]; then
    echo "keyward binary not found at $bin (cargo build --release, or set KEYWARD_BIN)"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -d node_modules ]; then
    echo "tests/compat/node_modules is missing: run \`npm ci\` in tests/compat"
    echo "0 passed, 1 failed"
    exit 1
fi

scripts=(ioredis5.js ioredis6.js redis5.js redis6.js client-side-cache.js bullmq.js tenancy-bullmq.js connect-redis.js rate-limiter.js keyspace-notifications.js tls.js py/test_redis_py.py)
if [ "$#" -gt 0 ]; then
    chosen=()
    for s in "${scripts[@]}"; do
        for w in "$@"; do
            case "$s" in *"$w"*) chosen+=("$s"); break ;; esac
        done
    done
    scripts=("${chosen[@]}")
fi

work="$(mktemp -d)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start NAME ARGS...: runs keyward in the background, waits until it accepts.
start() {
    local name="$1" port="$2"
    shift 2
    "$bin" --save '' --port "$port" --bind 127.0.0.1 "$@" >"$work/$name.log" 2>&1 &
    pids+=("$!")
    local i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "keyward ($name) did not start on port $port:"
    cat "$work/$name.log"
    echo "0 passed, 1 failed"
    exit 1
}

port="$(free_port)"
start plain "$port"
auth_port="$(free_port)"
start auth "$auth_port" --requirepass "$password"
# TLS only (port 0), client certificates required (Redis's default): a CA,
# a server certificate for 127.0.0.1, a client certificate, made by openssl.
tls_dir="$work/tls"
mkdir -p "$tls_dir"
make_certs() {
    local d="$tls_dir" ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
        -subj "/CN=keyward compat CA" &&
    openssl req "${ec[@]}" -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=127.0.0.1" &&
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -out "$d/server.crt" -days 2 \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n') &&
    openssl req "${ec[@]}" -keyout "$d/client.key" -out "$d/client.csr" -subj "/CN=compat client" &&
    openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -out "$d/client.crt" -days 2 -extfile <(printf 'extendedKeyUsage=clientAuth\n')
}
if ! make_certs >"$work/openssl.log" 2>&1; then
    echo "could not make TLS certificates with openssl:"
    cat "$work/openssl.log"
    echo "0 passed, 1 failed"
    exit 1
fi
tls_port="$(free_port)"
start tls "$tls_port" --port 0 --tls-port "$tls_port" --tls-cert-file "$tls_dir/server.crt" \
    --tls-key-file "$tls_dir/server.key" --tls-ca-cert-file "$tls_dir/ca.crt"
export KW_PORT="$port" KW_AUTH_PORT="$auth_port" KW_PASSWORD="$password"
export KW_TLS_PORT="$tls_port" KW_TLS_DIR="$tls_dir"
echo "keyward $("$bin" --version 2>/dev/null | head -1) on $port, with a password on $auth_port, TLS on $tls_port"

python_ready() {
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv || return 1
    fi
    if ! .venv/bin/python -c 'import redis' 2>/dev/null; then
        .venv/bin/pip install -q --disable-pip-version-check -r py/requirements.txt || return 1
    fi
}

total_pass=0
total_fail=0
failures=()
for s in "${scripts[@]}"; do
    echo
    echo "== $s"
    case "$s" in
        *.py)
            if ! python_ready; then
                echo "not ok $s: could not create .venv / pip install -r py/requirements.txt"
                total_fail=$((total_fail + 1)); failures+=("$s (setup)")
                continue
            fi
            cmd=(.venv/bin/python "$s") ;;
        *) cmd=(node "$s") ;;
    esac
    out="$work/out.txt"
    timeout -k 5 "$script_timeout" "${cmd[@]}" 2>&1 | tee "$out"
    rc="${PIPESTATUS[0]}"
    p="$(grep -c '^ok ' "$out")"
    f="$(grep -c '^not ok ' "$out")"
    grep '^not ok ' "$out" | while IFS= read -r line; do echo "$s: ${line#not ok }"; done >>"$work/failed.txt"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "not ok $s: timed out after ${script_timeout}s"
        echo "$s: timed out after ${script_timeout}s" >>"$work/failed.txt"
        f=$((f + 1))
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok $s: exited with status $rc without reporting a failed check"
        echo "$s: exited with status $rc" >>"$work/failed.txt"
        f=$((f + 1))
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    # A dead server fails everything after it: stop early and say why.
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "keyward exited during $s; its log:"
            tail -50 "$work"/*.log
            echo "$total_pass passed, $((total_fail + 1)) failed"
            exit 1
        fi
    done
done

echo
if [ -s "$work/failed.txt" ]; then
    echo "== failures"
    cat "$work/failed.txt"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
