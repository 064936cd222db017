#!/usr/bin/env bash
# TLS speed (issue 13): redis-benchmark --tls SET/GET at -P1 and -P16 against
# keyward and redis-server, both TLS-only (port 0) with the same certificate
# (made here with openssl), client certificates required (Redis's default),
# alternating the servers round by round. Prints each side's median ops/sec
# and the ratio keyward/redis-server per workload (target >= 1.0).
#
#   cargo build --release && benches/tls.sh
#
# Knobs: ROUNDS [3], N_P1 [30000], N_P16 [200000], CLIENTS [50],
# KEYWARD_BIN [target/release/keyward], REDIS_SERVER [redis-server].
# Numbers mean something only on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KEYWARD_BIN:-target/release/keyward}
redis_server=${REDIS_SERVER:-redis-server}
rounds=${ROUNDS:-3}
n_p1=${N_P1:-30000}
n_p16=${N_P16:-200000}
clients=${CLIENTS:-50}

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# One CA, one server certificate for 127.0.0.1, one client certificate.
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
{
    openssl req -x509 "${ec[@]}" -keyout "$work/ca.key" -out "$work/ca.crt" -days 2 -subj "/CN=bench CA"
    openssl req "${ec[@]}" -keyout "$work/server.key" -out "$work/server.csr" -subj "/CN=127.0.0.1"
    openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
        -out "$work/server.crt" -days 2 \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
    openssl req "${ec[@]}" -keyout "$work/client.key" -out "$work/client.csr" -subj "/CN=bench client"
    openssl x509 -req -in "$work/client.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
        -out "$work/client.crt" -days 2 -extfile <(printf 'extendedKeyUsage=clientAuth\n')
} >"$work/openssl.log" 2>&1 || { cat "$work/openssl.log"; exit 2; }

tls_args=(--tls-cert-file "$work/server.crt" --tls-key-file "$work/server.key"
    --tls-ca-cert-file "$work/ca.crt")
client_tls=(--tls --cacert "$work/ca.crt" --cert "$work/client.crt" --key "$work/client.key")

kw_port=$(free_port)
"$bin" --port 0 --tls-port "$kw_port" --bind 127.0.0.1 --save '' "${tls_args[@]}" \
    >"$work/keyward.log" 2>&1 &
pids+=($!)
rs_port=$(free_port)
"$redis_server" --port 0 --tls-port "$rs_port" --bind 127.0.0.1 --save '' --appendonly no \
    "${tls_args[@]}" >"$work/redis.log" 2>&1 &
pids+=($!)
for port in "$kw_port" "$rs_port"; do
    ok=0
    for _ in $(seq 1 100); do
        if redis-cli "${client_tls[@]}" -p "$port" PING 2>/dev/null | grep -q PONG; then
            ok=1
            break
        fi
        sleep 0.1
    done
    if [ "$ok" -ne 1 ]; then
        echo "no TLS PONG on port $port; logs:"
        cat "$work/keyward.log" "$work/redis.log"
        exit 2
    fi
done

# bench PORT PIPELINE N: "SET_rps GET_rps"
bench() {
    redis-benchmark "${client_tls[@]}" -h 127.0.0.1 -p "$1" -c "$clients" -P "$2" -n "$3" \
        -r 100000 -t set,get --csv 2>/dev/null |
        awk -F'","' '/^"SET"/ {s=$2} /^"GET"/ {g=$2} END {gsub(/"/, "", s); gsub(/"/, "", g); print s, g}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "keyward $("$bin" --version | head -1) vs $("$redis_server" --version | awk '{print $3}'), TLS, $clients clients, $rounds rounds"
printf '%-12s %14s %14s %8s\n' workload keyward redis-server ratio
for p in 1 16; do
    n=$n_p1
    [ "$p" -eq 16 ] && n=$n_p16
    : >"$work/kw" && : >"$work/rs"
    for r in $(seq 1 "$rounds"); do
        bench "$kw_port" "$p" "$n" >>"$work/kw"
        bench "$rs_port" "$p" "$n" >>"$work/rs"
    done
    for col in 1 2; do
        name=$([ "$col" -eq 1 ] && echo SET || echo GET)
        k=$(awk -v c="$col" '{print $c}' "$work/kw" | median)
        s=$(awk -v c="$col" '{print $c}' "$work/rs" | median)
        ratio=$(awk -v a="$k" -v b="$s" 'BEGIN {printf (b > 0 ? "%.2f" : "n/a"), a / b}')
        printf '%-12s %14s %14s %8s\n' "$name -P$p" "$k" "$s" "$ratio"
    done
done
