# Shared by the benchmark scripts (sourced, not run): the release binary, a work directory cleaned up
# on exit, and nsd started on loopback with response-rate limiting off.
#
#   . "$ROOT/benches/lib.sh"
#   bench_need nsd nsd-control curl          # exits naming what is missing
#   bench_binary                             # $SENDERSCOPE, or cargo build --release
#   bench_workdir posture-bench              # $WORK, removed on exit unless KEEP=1
#   nsd_start 127.0.0.1 "$PORT" "$WORK/zones.conf"   # $NSD_PID, $NSD_CONF; waits until it answers control
#
# Nothing here talks to anything but loopback.

# Exit with a message naming every tool of "$@" that is not on PATH.
bench_need() {
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "missing: ${missing[*]} (apt-get install nsd curl python3 time wrk ...)" >&2
        exit 1
    fi
    [ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }
}

# $SENDERSCOPE: as given, else the release build of the checkout ($ROOT), built if needed.
bench_binary() {
    if [ -z "${SENDERSCOPE:-}" ]; then
        (cd "$ROOT" && cargo build --release --quiet)
        SENDERSCOPE=${CARGO_TARGET_DIR:-$ROOT/target}/release/senderscope
    fi
    [ -x "$SENDERSCOPE" ] || { echo "not an executable: $SENDERSCOPE" >&2; exit 1; }
    export SENDERSCOPE
}

# A free loopback port (TCP and UDP are asked for separately; nsd needs both, the daemon TCP).
free_port() {
    python3 -c 'import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p); break'
}

# $WORK: a fresh directory under /tmp named after $1; on exit nsd (and $BENCH_PIDS) are stopped and
# the directory removed, unless KEEP=1.
NSD_PID=
BENCH_PIDS=()
bench_workdir() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    trap bench_cleanup EXIT
}
bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}" $NSD_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}

# Start nsd on ADDR@PORT serving the `zone:` entries of the files after the port (each a piece of
# nsd.conf). Sets $NSD_PID and $NSD_CONF (for nsd-control: stats, reload). Returns once nsd answers
# its control socket; nsd has loaded its zones by then.
nsd_start() {
    local addr=$1 port=$2
    shift 2
    NSD_CONF=$WORK/nsd.conf
    cat > "$NSD_CONF" <<CONF
server:
  ip-address: $addr@$port
  username: ""
  chroot: ""
  database: ""
  zonelistfile: $WORK/zone.list
  xfrdfile: $WORK/xfrd.state
  pidfile: $WORK/nsd.pid
  server-count: 1
  # Debian's default response-rate limit (200/s per source) drops answers to a fast loopback client.
  rrl-ratelimit: 0
  verbosity: 0
remote-control:
  # A local socket, for the query counters (nsd-control stats) and reloads; no keys needed.
  control-enable: yes
  control-interface: $WORK/nsd.ctl
CONF
    [ $# -eq 0 ] || cat "$@" >> "$NSD_CONF"
    nsd -d -c "$NSD_CONF" >"$WORK/nsd.log" 2>&1 &
    NSD_PID=$!
    local _
    for _ in $(seq 300); do
        nsd-control -c "$NSD_CONF" status >/dev/null 2>&1 && break
        kill -0 "$NSD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$NSD_PID" 2>/dev/null || ! nsd-control -c "$NSD_CONF" status >/dev/null 2>&1; then
        echo "nsd did not start:" >&2; cat "$WORK/nsd.log" >&2
        kill "$NSD_PID" 2>/dev/null || true
        NSD_PID=
        exit 1
    fi
}
