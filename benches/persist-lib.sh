# Shared by benches/bgsave.sh and benches/rdb-load.sh (sourced, not run):
# process and machine helpers, and the check that both ports are free
# (expects $redis_port, $kw_port, and $rs / $bin, the two servers' binaries).
wait_gone() { while kill -0 "$1" 2>/dev/null; do sleep 0.1; done; }
# wait_quiet PCT: until the whole machine is under PCT% busy over 3 s
wait_quiet() {
    local a b busy total p waited=0
    while [ "$waited" -lt 600 ]; do
        read -ra a < <(head -n 1 /proc/stat)
        sleep 3
        read -ra b < <(head -n 1 /proc/stat)
        busy=$(((b[1] + b[2] + b[3] + b[6] + b[7]) - (a[1] + a[2] + a[3] + a[6] + a[7])))
        total=$((busy + (b[4] + b[5]) - (a[4] + a[5])))
        p=$((100 * busy / (total > 0 ? total : 1)))
        [ "$p" -lt "$1" ] && return 0
        waited=$((waited + 3))
    done
    echo "(still $p% busy after 10 min: measuring anyway)"
}
# The machine is shared: a port someone else listens on would be measured
# instead of ours.
for p in "$redis_port" "$kw_port"; do
    if ss -ltnH "sport = :$p" | grep -q .; then
        echo "port $p is in use; pass free ports: $0 REDIS_PORT KW_PORT" >&2
        exit 2
    fi
done
alive() { kill -0 "$1" 2>/dev/null || { echo "the server (pid $1) died; see its log" >&2; exit 1; }; }
# start_server NAME LOG ARGS...: redis-server (NAME redis) or keyward on
# its port, in the background, output to LOG; sets $port and $pid.
start_server() {
    local name=$1 log=$2
    shift 2
    if [ "$name" = redis ]; then
        port=$redis_port
        "$rs" --port "$port" "$@" >"$log" 2>&1 &
    else
        port=$kw_port
        "$bin" --port "$port" "$@" >"$log" 2>&1 &
    fi
    pid=$!
}
