#!/usr/bin/env bash
# Results benchmark: the daemon at scale against nsd on loopback, with the posture bench's zones
# (benches/posture/gen_zones.py: SPF tree, DMARC, DKIM selectors s1 and s2, MX with FCrDNS) and two
# blocklist zones of our own (ipbl.bench.test for IPv4, dombl.bench.test for domains, every 10th
# target listed, RFC 5782 test points). Each configured domain has selectors s1 and s2 and one
# sending IP (its mx1 address).
#
#   round    1,000 domains: RSS after the first full round, /metrics lines and series per family and
#            per domain, render time plain and gzip (median of RENDERS requests, curl time_total)
#   load     400 domains (about 10,000 series): /metrics under wrk -t2 -c50, p99, plain and gzip
#   history  100 domains + a year of stored history: start to first /readyz 200, idle RSS after
#   idle     100 domains, empty store, checks not yet run: idle RSS
#   loc      lines removed and added in src/ since before the results module
#
# Usage: benches/results/run.sh [SECTION...]     (default: all, in the order above)
# Env:   SENDERSCOPE  release binary (default: cargo build --release, $CARGO_TARGET_DIR/release/senderscope)
#        ROUND_DOMAINS (1000) LOAD_DOMAINS (400) RENDERS (20) STARTS (20) LOAD_SECONDS (10)
#        HISTORY_EVERY (1: every stored outcome changes once a day for the year; 7: once a week)
#        HISTORY_EVENTS (1: hourly delivery and daily bounce buckets per domain all year; 0: none)  KEEP=1
# Figures: RESULTS.md beside this file. Nothing leaves 127.0.0.1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECTIONS=("$@")
[ ${#SECTIONS[@]} -gt 0 ] || SECTIONS=(round load history idle loc)
export ROUND_DOMAINS=${ROUND_DOMAINS:-1000}

if [ "${SECTIONS[*]}" != loc ]; then
. "$ROOT/benches/lib.sh"
bench_need nsd nsd-control openssl python3 curl wrk
bench_binary
bench_workdir results-bench

python3 "$ROOT/benches/posture/gen_zones.py" "$ROUND_DOMAINS" "$WORK"
# The blocklist zones: RFC 5782 test points, and every 10th sending IP and domain listed.
python3 - "$WORK" <<'PY'
import os, sys
work = sys.argv[1]
domains = open(os.path.join(work, "domains.txt")).read().split()
soa = ("$ORIGIN {z}.\n$TTL 300\n@ IN SOA ns1.posture-bench.test. hostmaster.posture-bench.test. 1 3600 600 86400 60\n"
       "@ IN NS ns1.posture-bench.test.\n")
ip = soa.format(z="ipbl.bench.test") + '2.0.0.127 IN A 127.0.0.2\n2.0.0.127 IN TXT "test point"\n'
dom = soa.format(z="dombl.bench.test") + 'test IN A 127.0.0.2\n'
for n, d in enumerate(domains):
    if n % 10 == 0:
        hi, lo = divmod(n, 256)
        ip += f'{lo}.{hi}.18.198 IN A 127.0.0.2\n{lo}.{hi}.18.198 IN TXT "bench listing"\n'
        dom += f"{d}.dombl.bench.test. IN A 127.0.0.2\n"
with open(os.path.join(work, "bl.conf"), "w") as conf:
    for zone, text in (("ipbl.bench.test", ip), ("dombl.bench.test", dom)):
        path = os.path.join(work, "zones", zone + ".zone")
        open(path, "w").write(text)
        conf.write(f"zone:\n  name: {zone}\n  zonefile: {path}\n")
PY
PORT=$(free_port)
nsd_start 127.0.0.1 "$PORT" "$WORK/zones.conf" "$WORK/bl.conf"

echo "results benchmark: $("$SENDERSCOPE" --version), nsd $(nsd -v 2>&1 | head -1 | awk '{print $3}') on" \
     "127.0.0.1:$PORT, $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"\
     "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
fi

for s in "${SECTIONS[@]}"; do
    echo "== $s"
    if [ "$s" = loc ]; then
        # The results module's first commit; its parent is the code before the refactoring.
        FIRST=$(cd "$ROOT" && git log --format=%h -- src/results | tail -n 1)
        echo "  src/ from ${FIRST}^ ($(cd "$ROOT" && git log -1 --format='%cs %s' "$FIRST^" | cut -c1-80)) to HEAD:"
        echo "  $(cd "$ROOT" && git diff --shortstat "$FIRST^" HEAD -- src/)"
        echo "  the refactoring commit alone: $(cd "$ROOT" && git diff --shortstat "$FIRST^" "$FIRST" -- src/)"
        echo "  commits touching src/ since: $(cd "$ROOT" && git rev-list --count "$FIRST..HEAD" -- src/)"
        continue
    fi
    echo "  load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$HERE/drive.py" "$s" "$SENDERSCOPE" "$WORK" "127.0.0.1:$PORT"
done
