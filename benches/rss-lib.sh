# Shared by benches/idle-conns.sh and benches/mem-storm.sh (sourced, not
# run): each measures a freshly started server's RSS around a workload.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# on_fresh_server NAME FN CMD...: starts CMD --port P on a free port, waits
# until it answers, runs FN NAME PID PORT, then stops the server.
on_fresh_server() {
    local name=$1 fn=$2
    shift 2
    local port
    port=$(free_port)
    "$@" --port "$port" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        (echo PING | timeout 1 bash -c "cat > /dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
    sleep 0.3
    "$fn" "$name" "$pid" "$port" || true
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}
