#!/usr/bin/env bash
# Posture benchmark (issue 7): N domains (SPF tree + DMARC + 2 DKIM selectors + MX) served by nsd on
# loopback; `senderscope check` over all of them (64 domains in flight, the CLI default) and checkdmarc
# over the same domains against the same nsd, in the same run. Prints wall time, CPU time and max RSS
# of both (from /usr/bin/time -v), the queries each sent (nsd's own counters), and the ratio. Then both
# tools check the tricky zones (gen_tricky.py) and their verdicts are tabulated side by side.
#
# A run counts only if both tools resolved everything: every domain reported with exactly the findings
# the generator implies, and nsd answered every query NOERROR or NXDOMAIN (no REFUSED, SERVFAIL, drops).
#
# checkdmarc only takes nameserver IPs (no port), so nsd listens on port 53 of a loopback address
# (BENCH_ADDR, default 127.0.2.53; needs root or CAP_NET_BIND_SERVICE).
#
# Usage: benches/posture/run.sh [N]      (default 1000)
# Env:   BENCH_ADDR      loopback address for nsd (port 53)
#        REPEAT          timed runs of each tool (default 3; the median is reported)
#        SENDERSCOPE     senderscope binary (default: cargo build --release, target/release/senderscope)
#        CHECKDMARC_VENV virtualenv holding checkdmarc (default ~/.cache/senderscope-bench/venv;
#                        created with `python3 -m venv` + `pip install checkdmarc==$CHECKDMARC_VERSION`)
#        CHECKDMARC_VERSION (default 6.0.4)   SKIP_CHECKDMARC=1 to time senderscope only
#        SKIP_TRICKY=1   skip the verdict comparison on the tricky zones
#        KEEP=1          keep the work directory (zones, outputs, time logs, compare.md)
#        STRACE=1        count senderscope's system calls in one extra run (`strace -c -f`)
#        PERF=1          profile one senderscope run (`perf record -e cpu-clock`)
set -euo pipefail

N=${1:-1000}
ADDR=${BENCH_ADDR:-127.0.2.53}
REPEAT=${REPEAT:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${CHECKDMARC_VENV:-$HOME/.cache/senderscope-bench/venv}
CHECKDMARC_VERSION=${CHECKDMARC_VERSION:-6.0.4}

. "$ROOT/benches/lib.sh"
bench_need nsd nsd-control nsd-checkzone openssl python3
bench_binary

if [ -z "${SKIP_CHECKDMARC:-}" ] && [ ! -x "$VENV/bin/checkdmarc" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "checkdmarc==$CHECKDMARC_VERSION"
fi

bench_workdir posture-bench
python3 "$HERE/gen_zones.py" "$N" "$WORK"
python3 "$HERE/gen_tricky.py" "$WORK"
nsd_start "$ADDR" 53 "$WORK/zones.conf" "$WORK/tricky.conf"

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
# Another server already on $ADDR:53 would have answered the probe: make sure it is ours.
if ! kill -0 "$NSD_PID" 2>/dev/null; then
    echo "nsd did not start:" >&2; cat "$WORK/nsd.log" >&2; NSD_PID=; exit 1
fi

mapfile -t DOMAINS < "$WORK/domains.txt"
reset_counters() { nsd-control -c "$WORK/nsd.conf" stats >/dev/null; }
read_counters() { nsd-control -c "$WORK/nsd.conf" stats > "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"; }
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Both tools: ask each domain once, through nsd only, with their own default timeouts and retries.
S_WALLS=(); S_RSS=(); S_CPU=()
for i in $(seq 1 "$REPEAT"); do
    reset_counters
    /usr/bin/time -v -o "$WORK/senderscope.$i.time" \
        "$SENDERSCOPE" check --nameserver "$ADDR:53" --dkim-selector s1 --dkim-selector s2 --format json \
        "${DOMAINS[@]}" > "$WORK/senderscope.$i.json" || true   # exit code = worst status, not a failure
    read_counters "$WORK/senderscope.$i.nsd"
    S_WALLS+=("$(wall "$WORK/senderscope.$i.time")"); S_RSS+=("$(rss "$WORK/senderscope.$i.time")")
    S_CPU+=("$(cpu "$WORK/senderscope.$i.time")")
    echo "senderscope run $i: wall ${S_WALLS[-1]} s, CPU ${S_CPU[-1]} s, max RSS ${S_RSS[-1]} MB"
    python3 "$HERE/report.py" nsd-stats "$WORK/senderscope.$i.nsd" "$N"
    python3 "$HERE/report.py" senderscope "$WORK/senderscope.$i.json" "$WORK/domains.txt"
done
S_WALL=$(median "${S_WALLS[@]}")
if [ -n "${STRACE:-}" ] && command -v strace >/dev/null; then
    strace -c -f -o "$WORK/strace.txt" \
        "$SENDERSCOPE" check --nameserver "$ADDR:53" --dkim-selector s1 --dkim-selector s2 --format json \
        "${DOMAINS[@]}" > /dev/null || true
    echo "system calls of one senderscope run (strace -c -f):"
    awk 'NR <= 2 || /socket|bind|close|sendto|recvfrom|epoll_ctl|epoll_wait|connect|total/' "$WORK/strace.txt"
fi
if [ -n "${PERF:-}" ] && command -v perf >/dev/null; then
    # Where the CPU goes: sampled on the CPU clock (a VM exposes no hardware counters), one run.
    perf record -e cpu-clock -F 4999 -g -o "$WORK/perf.data" \
        "$SENDERSCOPE" check --nameserver "$ADDR:53" --dkim-selector s1 --dkim-selector s2 --format json \
        "${DOMAINS[@]}" > /dev/null 2>&1 || true
    echo "profile of one senderscope run (perf record -e cpu-clock, self time, top entries):"
    perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --percent-limit 1.5 --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | head -30
fi
echo "senderscope median of $REPEAT: wall ${S_WALL} s, CPU $(median "${S_CPU[@]}") s," \
     "max RSS $(median "${S_RSS[@]}") MB ($N domains, 64 in flight)"

if [ -z "${SKIP_CHECKDMARC:-}" ]; then
    # checkdmarc checks domains one after another; TLS probing of MX hosts is off by default (6.x).
    C_WALLS=(); C_RSS=(); C_CPU=()
    for i in $(seq 1 "$REPEAT"); do
        reset_counters
        /usr/bin/time -v -o "$WORK/checkdmarc.$i.time" \
            "$VENV/bin/checkdmarc" --nameserver "$ADDR" --format json "${DOMAINS[@]}" \
            > "$WORK/checkdmarc.$i.json" 2> "$WORK/checkdmarc.$i.err" || true
        read_counters "$WORK/checkdmarc.$i.nsd"
        C_WALLS+=("$(wall "$WORK/checkdmarc.$i.time")"); C_RSS+=("$(rss "$WORK/checkdmarc.$i.time")")
        C_CPU+=("$(cpu "$WORK/checkdmarc.$i.time")")
        echo "checkdmarc run $i: wall ${C_WALLS[-1]} s, CPU ${C_CPU[-1]} s, max RSS ${C_RSS[-1]} MB"
        python3 "$HERE/report.py" nsd-stats "$WORK/checkdmarc.$i.nsd" "$N"
        python3 "$HERE/report.py" checkdmarc "$WORK/checkdmarc.$i.json" "$WORK/domains.txt"
    done
    C_WALL=$(median "${C_WALLS[@]}")
    echo "checkdmarc $("$VENV/bin/checkdmarc" --version 2>&1 | tail -n 1) median of $REPEAT: wall ${C_WALL} s," \
         "CPU $(median "${C_CPU[@]}") s, max RSS $(median "${C_RSS[@]}") MB (one domain after another)"

    # Like for like: checkdmarc's library doing only SPF + DMARC + MX (see checkdmarc_core.py).
    K_WALLS=()
    for i in $(seq 1 "$REPEAT"); do
        reset_counters
        /usr/bin/time -v -o "$WORK/core.$i.time" "$VENV/bin/python" "$HERE/checkdmarc_core.py" \
            "$ADDR" "$WORK/domains.txt" "$WORK/core.$i.json"
        read_counters "$WORK/core.$i.nsd"
        K_WALLS+=("$(wall "$WORK/core.$i.time")")
        echo "checkdmarc core run $i: wall ${K_WALLS[-1]} s, CPU $(cpu "$WORK/core.$i.time") s," \
             "max RSS $(rss "$WORK/core.$i.time") MB"
        python3 "$HERE/report.py" nsd-stats "$WORK/core.$i.nsd" "$N"
    done
    K_WALL=$(median "${K_WALLS[@]}")
    python3 -c "
import sys
s, c, k = map(float, sys.argv[1:])
print(f'ratio: senderscope is {c / s:.1f}x faster than the checkdmarc CLI, '
      f'{k / s:.1f}x faster than checkdmarc on SPF + DMARC + MX only (median wall)' if s > 0 else 'ratio: n/a')
" "$S_WALL" "$C_WALL" "$K_WALL"
fi

if [ -z "${SKIP_TRICKY:-}" ] && [ -z "${SKIP_CHECKDMARC:-}" ]; then
    mapfile -t TRICKY < "$WORK/tricky.txt"
    "$SENDERSCOPE" check --nameserver "$ADDR:53" --format json "${TRICKY[@]}" \
        > "$WORK/tricky.senderscope.json" || true
    "$VENV/bin/checkdmarc" --nameserver "$ADDR" --format json "${TRICKY[@]}" \
        > "$WORK/tricky.checkdmarc.json" 2> "$WORK/tricky.checkdmarc.err" || true
    python3 "$HERE/report.py" compare "$WORK/tricky.senderscope.json" "$WORK/tricky.checkdmarc.json" \
        "$WORK/tricky-cases.tsv" > "$WORK/compare.md"
    echo "verdicts on ${#TRICKY[@]} tricky domains: $WORK/compare.md (KEEP=1 to keep it)"
fi
