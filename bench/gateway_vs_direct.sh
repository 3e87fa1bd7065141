#!/usr/bin/env bash
# Benchmark (not a test): N HTTP requests through kiagateway's HTTP listener vs straight to the same
# backend, in the same run, plus the gateway's RSS idle and with 1000 connections held open.
# Usage: bench/gateway_vs_direct.sh [requests=50000] [concurrency=50] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-50000}
concurrency=${2:-50}
rounds=${3:-3}

scripts/deps nginx-light apache2-utils
if [ ! -x build/release/kiagateway ] || [ -n "$(find src platform -newer build/release/kiagateway -print -quit)" ]; then
    cmake --preset release >/dev/null && cmake --build --preset release --target kiagateway >/dev/null
fi
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
backend_port=$(free_port)
gateway_port=$(free_port)

mkdir -p "$work/nginx/logs"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$backend_port; location / { return 200 "ok\n"; } }
}
CONF
cat > "$work/gateway.toml" <<CONF
[gateway]
http_listen = ["127.0.0.1:$gateway_port"]
https_listen = []
access_log = "off"
[http_backends]
"bench.test" = "127.0.0.1:$backend_port"
CONF
nginx -p "$work/nginx" -c "$work/nginx.conf" &
nginx_pid=$!
build/release/kiagateway run -c "$work/gateway.toml" 2>"$work/gateway.log" &
gateway_pid=$!
trap 'kill $gateway_pid $nginx_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q "ready:" "$work/gateway.log" 2>/dev/null && break; sleep 0.1; done

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$gateway_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gateway_pid/stat"; }
run_ab() { # port keepalive -> seconds
    ab -q -n "$requests" -c "$concurrency" $2 -H "Host: bench.test" "http://127.0.0.1:$1/" 2>&1 |
        awk '/Failed requests/ { if ($3 != 0) { print "FAILED " $3 > "/dev/stderr" } } /Time taken for tests/ {print $5}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

idle_rss=$(rss_kib)
echo "kiagateway $(build/release/kiagateway --version | cut -d' ' -f2), $(nginx -v 2>&1 | cut -d' ' -f3), $(ab -V | head -1 | cut -d, -f1)"
echo "$requests requests, concurrency $concurrency, median of $rounds rounds; backend nginx returns 3 bytes"
printf '%-34s %10s %10s %8s %14s\n' "scenario" "direct s" "gateway s" "ratio" "gateway CPU/req"
for mode in "new connection per request:" "keep-alive:-k"; do
    label=${mode%%:*}
    flag=${mode#*:}
    direct=(); through=()
    ticks_before=$(cpu_ticks)
    for _ in $(seq "$rounds"); do
        direct+=("$(run_ab "$backend_port" "$flag")")
        through+=("$(run_ab "$gateway_port" "$flag")")
    done
    ticks=$(( $(cpu_ticks) - ticks_before ))
    d=$(printf '%s\n' "${direct[@]}" | median)
    g=$(printf '%s\n' "${through[@]}" | median)
    per_req_us=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$requests" -v r="$rounds" \
        'BEGIN {printf "%.1f us", t / hz / (n * r) * 1e6}')
    printf '%-34s %10s %10s %7.2fx %14s\n' "$label" "$d" "$g" "$(awk -v a="$g" -v b="$d" 'BEGIN {print a / b}')" "$per_req_us"
done

# 1000 connections held open through the gateway (each has made one keep-alive request).
python3 - "$gateway_port" "$gateway_pid" "$idle_rss" <<'PY'
import resource, socket, sys, time
port, pid, idle = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
conns = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n")
    conns.append(s)
for s in conns:
    data = b""
    while b"ok\n" not in data:
        data += s.recv(4096)
time.sleep(0.5)
rss = int([l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0])
print(f"RSS: idle {idle} KiB; 1000 open connections {rss} KiB ({(rss - idle) / 1000:.1f} KiB per connection)")
for s in conns:
    s.close()
PY
