#!/usr/bin/env bash
# Posture benchmark (issue 7): N domains (SPF tree + DMARC + 2 DKIM selectors + MX) served by nsd on
# loopback; `senderscope check` over all of them (64 domains in flight, the CLI default) and checkdmarc
# over the same domains against the same nsd, in the same run. Prints wall time and max RSS of both
# (from /usr/bin/time -v) and the ratio.
#
# checkdmarc only takes nameserver IPs (no port), so nsd listens on port 53 of a loopback address
# (BENCH_ADDR, default 127.0.2.53; needs root or CAP_NET_BIND_SERVICE).
#
# Usage: benches/posture/run.sh [N]      (default 1000)
# Env:   BENCH_ADDR      loopback address for nsd (port 53)
#        SENDERSCOPE     senderscope binary (default: cargo build --release, target/release/senderscope)
#        CHECKDMARC_VENV virtualenv holding checkdmarc (default ~/.cache/senderscope-bench/venv;
#                        created with `python3 -m venv` + `pip install checkdmarc==$CHECKDMARC_VERSION`)
#        CHECKDMARC_VERSION (default 6.0.4)   SKIP_CHECKDMARC=1 to time senderscope only
#        KEEP=1          keep the work directory (zones, outputs, time logs)
set -euo pipefail

N=${1:-1000}
ADDR=${BENCH_ADDR:-127.0.2.53}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${CHECKDMARC_VENV:-$HOME/.cache/senderscope-bench/venv}
CHECKDMARC_VERSION=${CHECKDMARC_VERSION:-6.0.4}

for tool in nsd nsd-checkzone openssl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install nsd openssl python3)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

if [ -z "${SENDERSCOPE:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
    SENDERSCOPE=$ROOT/target/release/senderscope
fi

if [ -z "${SKIP_CHECKDMARC:-}" ] && [ ! -x "$VENV/bin/checkdmarc" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "checkdmarc==$CHECKDMARC_VERSION"
fi

WORK=$(mktemp -d /tmp/posture-bench.XXXXXX)
NSD_PID=
cleanup() {
    if [ -n "$NSD_PID" ]; then kill "$NSD_PID" 2>/dev/null || true; wait "$NSD_PID" 2>/dev/null || true; fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}
trap cleanup EXIT

python3 "$HERE/gen_zones.py" "$N" "$WORK"
cat > "$WORK/nsd.conf" <<CONF
server:
  ip-address: $ADDR@53
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
  control-enable: no
CONF
cat "$WORK/zones.conf" >> "$WORK/nsd.conf"
nsd -d -c "$WORK/nsd.conf" >"$WORK/nsd.log" 2>&1 &
NSD_PID=$!

# Ready when the last zone answers (nsd loads zones at start).
LAST=$(tail -n 1 "$WORK/domains.txt")
python3 - "$ADDR" "$LAST" <<'PY'
import socket, struct, sys, time
addr, name = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 6, 1)
deadline = time.time() + 60
while time.time() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
    try:
        s.sendto(q, (addr, 53)); r = s.recv(512)
        if r[3] & 0x0F == 0 and struct.unpack(">H", r[6:8])[0] > 0:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("nsd did not serve %s within 60 s" % name)
PY

mapfile -t DOMAINS < "$WORK/domains.txt"

# Both tools: ask each domain once, through nsd only, with their own default timeouts.
/usr/bin/time -v -o "$WORK/senderscope.time" \
    "$SENDERSCOPE" check --nameserver "$ADDR:53" --dkim-selector s1 --dkim-selector s2 --format json \
    "${DOMAINS[@]}" > "$WORK/senderscope.json" || true   # exit code = worst status, not a failure

wall() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }

python3 - "$WORK/senderscope.json" "$N" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
domains = report["domains"]
codes = [f["code"] for d in domains for c in d["checks"] for f in c["findings"]]
failed = sum(1 for c in codes if c.endswith(".lookup_failed"))
print(f"senderscope: {len(domains)} domains reported (expected {sys.argv[2]}), status {report['status']}, "
      f"{len(codes)} findings, {failed} lookup_failed")
if len(domains) != int(sys.argv[2]) or failed:
    sys.exit("senderscope run is not clean: the timing is not comparable")
PY
S_WALL=$(wall "$WORK/senderscope.time"); S_RSS=$(rss "$WORK/senderscope.time")
echo "senderscope: wall ${S_WALL} s, max RSS ${S_RSS} MB ($N domains, 64 in flight)"

if [ -n "${SKIP_CHECKDMARC:-}" ]; then exit 0; fi

# checkdmarc checks domains one after another; TLS probing of MX hosts is off by default (6.x).
/usr/bin/time -v -o "$WORK/checkdmarc.time" \
    "$VENV/bin/checkdmarc" --nameserver "$ADDR" --format json "${DOMAINS[@]}" \
    > "$WORK/checkdmarc.json" 2> "$WORK/checkdmarc.err" || true

python3 - "$WORK/checkdmarc.json" "$N" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
data = data if isinstance(data, list) else [data]
spf = sum(1 for d in data if d.get("spf", {}).get("valid"))
dmarc = sum(1 for d in data if d.get("dmarc", {}).get("valid"))
print(f"checkdmarc: {len(data)} domains reported (expected {sys.argv[2]}), SPF valid {spf}, DMARC valid {dmarc}")
PY
C_WALL=$(wall "$WORK/checkdmarc.time"); C_RSS=$(rss "$WORK/checkdmarc.time")
echo "checkdmarc $("$VENV/bin/checkdmarc" --version 2>&1 | tail -n 1): wall ${C_WALL} s, max RSS ${C_RSS} MB"
python3 -c "
import sys
s, c = map(float, sys.argv[1:])
print(f'ratio: senderscope is {c / s:.1f}x faster (wall)' if s > 0 else 'ratio: n/a (senderscope wall time rounds to 0)')
" "$S_WALL" "$C_WALL"
