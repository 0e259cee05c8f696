#!/usr/bin/env bash
# Slow-client flood against the daemon on loopback: how many of N slowloris connections the daemon
# still holds after its header-read timeout, and how long /healthz takes meanwhile.
#
#   benches/slowloris.sh [BINARY] [CLIENTS]     (defaults: target/release/senderscope, 500)
#
# Each client sends a request head one byte every second and never finishes it. The figures of the
# last run are in the hardening notes of the report; nothing here leaves 127.0.0.1.
set -euo pipefail

bin=${1:-target/release/senderscope}
clients=${2:-500}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$dir/senderscope.yaml" <<EOF
server:
  listen: "127.0.0.1:$port"
state:
  path: $dir/state.db
dns:
  nameservers: ["127.0.0.1:9"]
domains: []
EOF
"$bin" serve -c "$dir/senderscope.yaml" 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

held() { ss -Htn state established "( sport = :$port )" | wc -l; }
healthz_ms() { curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/healthz" | awk '{printf "%.1f", $1*1000}'; }

python3 - "$port" "$clients" "$dir/connected" <<'PY' &
import socket, sys, time
port, n, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
open(flag, "w").write(str(time.time()))
head = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
for i in range(40):
    for s in socks:
        try:
            s.send(head[i:i + 1])
        except OSError:
            pass
    time.sleep(1)
PY
flood=$!
echo "before: held $(held), /healthz $(healthz_ms) ms"
while [ ! -e "$dir/connected" ]; do sleep 0.1; done
echo "clients: $clients (all connected)"
for t in 1 5 9 11 13 15; do
  sleep $((t - ${last:-0})); last=$t
  echo "after ${t} s: held $(held), /healthz $(healthz_ms) ms"
done
kill "$flood" 2>/dev/null || true
