#!/usr/bin/env bash
# Blocklist benchmark, side by side: `senderscope check` with 1,000 IPs on 10 zones against a loopback
# rbldnsd, and pydnsbl doing the same lookups against the same rbldnsd, in the same run. Prints wall
# time, CPU time (user+sys) and max RSS of each run, the median of REPEAT runs, the ratio, and CPU per
# query; with STRACE=1 also the system calls of one senderscope run (`strace -c -f`).
#
# A run counts only if both tools found exactly the planted listings (every (7 + z)th address on zone
# z, with the RFC 5782 test point 127.0.0.2) and nothing else.
#
# pydnsbl (aiodns, hence c-ares) takes nameserver addresses without a port, so rbldnsd listens on port
# 53 of a loopback address (BENCH_ADDR, default 127.0.2.54; needs root or CAP_NET_BIND_SERVICE).
#
# Usage: benches/blocklists/run.sh
# Env:   BENCH_ADDR   loopback address for rbldnsd (port 53)
#        REPEAT       timed runs of each tool (default 5; the median is reported)
#        SENDERSCOPE  senderscope binary (default: cargo build --release, target/release/senderscope)
#        VENV         virtualenv holding pydnsbl (default ~/.cache/senderscope-bench/venv; created with
#                     `python3 -m venv` + `pip install pydnsbl==$PYDNSBL_VERSION`)
#        PYDNSBL_VERSION (default 1.1.7)   SKIP_PYDNSBL=1 to time senderscope only
#        STRACE=1     count senderscope's system calls in one extra run
#        KEEP=1       keep the work directory
set -euo pipefail

IPS=1000
ZONES=10
ADDR=${BENCH_ADDR:-127.0.2.54}
REPEAT=${REPEAT:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$HOME/.cache/senderscope-bench/venv}
PYDNSBL_VERSION=${PYDNSBL_VERSION:-1.1.7}

command -v rbldnsd >/dev/null || { echo "missing rbldnsd (apt-get install rbldnsd)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

if [ -z "${SENDERSCOPE:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
    SENDERSCOPE=${CARGO_TARGET_DIR:-$ROOT/target}/release/senderscope
fi
if [ -z "${SKIP_PYDNSBL:-}" ] && ! "$VENV/bin/python" -c "import pydnsbl" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "pydnsbl==$PYDNSBL_VERSION"
fi

WORK=$(mktemp -d /tmp/blocklist-bench.XXXXXX)
chmod 755 "$WORK"
RBL_PID=
cleanup() {
    if [ -n "$RBL_PID" ]; then kill "$RBL_PID" 2>/dev/null || true; wait "$RBL_PID" 2>/dev/null || true; fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}
trap cleanup EXIT

# The data: zone z lists the test point and every (7 + z)th target, with a TXT reason.
python3 - "$WORK" "$IPS" "$ZONES" <<'PY'
import ipaddress, sys
work, ips, zones = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = int(ipaddress.IPv4Address("10.20.0.0"))
targets = [str(ipaddress.IPv4Address(base + i)) for i in range(ips)]
open(f"{work}/ips.txt", "w").write("\n".join(targets) + "\n")
expected = []
for z in range(zones):
    listed = [t for i, t in enumerate(targets) if i % (7 + z) == 0]
    with open(f"{work}/zone{z}.txt", "w") as f:
        f.write(":127.0.0.2:Listed in bench zone, see https://bl.test/$\n127.0.0.2\n")
        f.write("".join(t + "\n" for t in listed))
    expected += [f"{t} z{z}.bench.test" for t in listed]
open(f"{work}/expected.txt", "w").write("\n".join(sorted(expected)) + "\n")
PY
chmod 644 "$WORK"/*.txt
ARGS=()
for z in $(seq 0 $((ZONES - 1))); do ARGS+=("z$z.bench.test:ip4set:zone$z.txt"); done
rbldnsd -n -b "$ADDR/53" -r "$WORK" -p "$WORK/rbldnsd.pid" -u nobody "${ARGS[@]}" \
    >"$WORK/rbldnsd.log" 2>&1 &
RBL_PID=$!
python3 - "$ADDR" <<'PY'
import socket, struct, sys, time
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "2.0.0.127.z9.bench.test".split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
deadline = time.time() + 30
while time.time() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
    try:
        s.sendto(q, (sys.argv[1], 53))
        if struct.unpack(">H", s.recv(512)[6:8])[0] > 0:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("rbldnsd did not answer within 30 s")
PY

mapfile -t TARGETS < "$WORK/ips.txt"
IP_ARGS=(); for ip in "${TARGETS[@]}"; do IP_ARGS+=(--ip "$ip"); done
ZONE_ARGS=(); for z in $(seq 0 $((ZONES - 1))); do ZONE_ARGS+=(--blocklist "ipv4:z$z.bench.test"); done
# One domain (check needs one), in a zone rbldnsd serves: its posture lookups are quick NXDOMAINs.
CHECK=("$SENDERSCOPE" check --nameserver "$ADDR:53" --format json "${IP_ARGS[@]}" "${ZONE_ARGS[@]}" z0.bench.test)

wall() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.3f", s }' "$1"; }
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Listings found, as "IP zone" lines, compared with the planted ones.
verify() {
    python3 - "$1" "$2" "$WORK/expected.txt" <<'PY'
import json, sys
kind, path, expected = sys.argv[1], sys.argv[2], sys.argv[3]
found = set()
if kind == "senderscope":
    doc = json.load(open(path))
    for ip in doc["ips"]:
        for l in ip.get("listings") or []:
            if l["listed"] is True:
                found.add(f'{ip["ip"]} {l["zone"]}')
            elif l["listed"] is None:
                sys.exit(f'{ip["ip"]} on {l["zone"]}: {l.get("state")} {l.get("error", "")}')
else:
    found = {line.strip() for line in open(path) if line.strip()}
want = {line.strip() for line in open(expected) if line.strip()}
if found != want:
    sys.exit(f"{kind}: {len(found & want)} of {len(want)} planted listings found, {len(found - want)} invented")
print(f"  {kind}: all {len(want)} planted listings found, none invented")
PY
}

S_WALLS=(); S_CPU=(); S_RSS=()
for i in $(seq 1 "$REPEAT"); do
    /usr/bin/time -v -o "$WORK/s.$i.time" "${CHECK[@]}" > "$WORK/s.$i.json" || true
    S_WALLS+=("$(wall "$WORK/s.$i.time")"); S_CPU+=("$(cpu "$WORK/s.$i.time")"); S_RSS+=("$(rss "$WORK/s.$i.time")")
    echo "senderscope run $i: wall ${S_WALLS[-1]} s, CPU ${S_CPU[-1]} s, max RSS ${S_RSS[-1]} MB"
    verify senderscope "$WORK/s.$i.json"
done
S_WALL=$(median "${S_WALLS[@]}"); S_CPUM=$(median "${S_CPU[@]}")
echo "senderscope median of $REPEAT: wall ${S_WALL} s, CPU ${S_CPUM} s, max RSS $(median "${S_RSS[@]}") MB"

if [ -n "${STRACE:-}" ] && command -v strace >/dev/null; then
    strace -c -f -o "$WORK/strace.txt" "${CHECK[@]}" > /dev/null || true
    echo "system calls of one senderscope run (strace -c -f):"
    awk 'NR <= 2 || /socket|bind|close|sendto|sendmmsg|recvfrom|recvmmsg|epoll_ctl|epoll_wait|connect|total/' "$WORK/strace.txt"
    # Every query is one sendto (UDP) or one write (TCP; none here): CPU per query from the median.
    SENT=$(awk '$NF == "sendto" { print $4 }' "$WORK/strace.txt")
    python3 -c "
import sys
cpu, sent = float(sys.argv[1]), int(sys.argv[2] or 0)
print(f'{sent} queries sent; CPU per query (median CPU / queries): {cpu / sent * 1e6:.1f} us' if sent else 'no sendto counted')
" "$S_CPUM" "${SENT:-0}"
fi

if [ -n "${PERF:-}" ] && command -v perf >/dev/null; then
    # Where the CPU goes: sampled on the CPU clock (a VM exposes no hardware counters), one run.
    perf record -e cpu-clock -F 4999 -g -o "$WORK/perf.data" "${CHECK[@]}" > /dev/null 2>&1 || true
    echo "profile of one senderscope run (perf record -e cpu-clock, self time, top entries):"
    perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --percent-limit 1.5 --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | head -30
fi
if [ -n "${CALLGRIND:-}" ] && command -v valgrind >/dev/null; then
    # Instructions executed: steady where wall and CPU time on a shared machine are not.
    valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "${CHECK[@]}" \
        > "$WORK/callgrind.json" 2> "$WORK/callgrind.log" || true
    verify senderscope "$WORK/callgrind.json" || echo "  (under valgrind: answers missed, count not comparable)"
    awk '/Collected/ { print "senderscope instructions (callgrind, one run): " $4 }' "$WORK/callgrind.log"
fi

if [ -n "${DAEMON:-}" ]; then
    # The daemon's blocklist round on the same work, bookkeeping included (listing periods, history
    # read, reports stored): senderscope_scheduler_job_duration_seconds{job="blocklists"}, per round.
    python3 - "$SENDERSCOPE" "$WORK" "$ADDR" "$ZONES" "${DAEMON_ROUNDS:-5}" <<'PY'
import json, os, socket, subprocess, sys, time, urllib.request
binary, work, addr, zones, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
ips = [l.strip() for l in open(f"{work}/ips.txt") if l.strip()]
extra = "".join(f"    - {{zone: z{z}.bench.test, kind: ipv4}}\n" for z in range(zones))
cfg = (f"server: {{listen: \"127.0.0.1:{port}\"}}\nstate: {{path: {work}/daemon.db}}\n"
       f"dns: {{nameservers: [\"{addr}:53\"]}}\nschedule: {{checks: 1h, blocklists: 3s, jitter: 0}}\n"
       f"alerts: {{enabled: false}}\nblocklists:\n  defaults: false\n  extra:\n{extra}"
       f"domains:\n  - name: z0.bench.test\n    sending_ips: [{', '.join(ips)}]\n")
open(f"{work}/daemon.yaml", "w").write(cfg)
log = open(f"{work}/daemon.log", "w")
d = subprocess.Popen([binary, "serve", "-c", f"{work}/daemon.yaml"], stdout=log, stderr=log)
def metric():
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith('senderscope_scheduler_job_duration_seconds_sum{job="blocklists"'):
            total = float(line.split()[-1])
        if line.startswith('senderscope_scheduler_job_duration_seconds_count{job="blocklists"'):
            count = float(line.split()[-1])
    return total, count
try:
    durations, last = [], (0.0, 0.0)
    deadline = time.time() + 120
    while len(durations) < rounds and time.time() < deadline:
        time.sleep(0.2)
        try:
            now = metric()
        except OSError:
            continue
        if now[1] > last[1]:
            durations.append((now[0] - last[0]) / (now[1] - last[1]))
            print(f"daemon blocklist round {len(durations)}: {durations[-1] * 1000:.0f} ms (job duration)")
        last = now
    if durations:
        durations.sort()
        print(f"daemon blocklist round, median of {len(durations)}: {durations[len(durations) // 2] * 1000:.0f} ms")
    else:
        print("daemon: no blocklist round finished within 120 s (see daemon.log)")
finally:
    d.terminate(); d.wait()
PY
fi

if [ -z "${SKIP_PYDNSBL:-}" ]; then
    P_WALLS=(); P_CPU=()
    for i in $(seq 1 "$REPEAT"); do
        /usr/bin/time -v -o "$WORK/p.$i.time" "$VENV/bin/python" "$HERE/pydnsbl_check.py" "$ADDR" \
            "$WORK/ips.txt" "$ZONES" "$WORK/p.$i.txt"
        P_WALLS+=("$(wall "$WORK/p.$i.time")"); P_CPU+=("$(cpu "$WORK/p.$i.time")")
        echo "pydnsbl run $i: wall ${P_WALLS[-1]} s, CPU ${P_CPU[-1]} s, max RSS $(rss "$WORK/p.$i.time") MB"
        verify pydnsbl "$WORK/p.$i.txt"
    done
    P_WALL=$(median "${P_WALLS[@]}")
    echo "pydnsbl $("$VENV/bin/pip" show pydnsbl 2>/dev/null | awk '/^Version/ { print $2 }') median of $REPEAT: wall ${P_WALL} s, CPU $(median "${P_CPU[@]}") s"
    python3 -c "
import sys
s, p = map(float, sys.argv[1:])
print(f'ratio: senderscope is {p / s:.1f}x faster than pydnsbl (median wall)' if s > 0 else 'ratio: n/a')
" "$S_WALL" "$P_WALL"
fi
