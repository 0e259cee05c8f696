#!/usr/bin/env bash
# Hardening benchmark: the rows of the hostile-input and overload table measured again on the release
# binary, against one nsd on loopback (response-rate limiting off) and the daemon on loopback.
#
#   fanout    SPF fan-out: 30 includes x 2,000 `mx:` (10 MX hosts each) / `a:` terms → `check`'s peak RSS,
#             JSON size, queries nsd answered
#   dbgrowth  a domain whose include count changes every round → state DB size after each round
#   status    DOMAINS (10,000) domains, 20 parallel GET /api/v1/status → RSS vs idle, /healthz latency
#   slowloris 500 slow-header clients + 200 idle connections → connections held, /healthz latency
#   fds       20,000 idle connections while the daemon checks domains → /healthz, stored results
#
# Usage: benches/hardening/run.sh [SECTION...]          (default: all, in the order above)
# Env:   SENDERSCOPE  release binary (default: cargo build --release, $CARGO_TARGET_DIR/release/senderscope)
#        INCLUDES (30) TERMS (2000) DOMAINS (10000) ROUNDS (12) LOAD_SECONDS (15) SLOW (500) IDLE (200)
#        FLOOD (20000)   KEEP=1 keeps the work directory
# Nothing leaves 127.0.0.1. Figures: RESULTS.md beside this file.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECTIONS=("$@")
[ ${#SECTIONS[@]} -gt 0 ] || SECTIONS=(fanout dbgrowth status slowloris fds)
INCLUDES=${INCLUDES:-30}
TERMS=${TERMS:-2000}
export DOMAINS=${DOMAINS:-10000}

. "$ROOT/benches/lib.sh"
bench_need nsd nsd-control python3 ss curl
bench_binary

bench_workdir hardening-bench
python3 "$HERE/gen_zone.py" "$WORK/hard.test.zone" "$INCLUDES" "$TERMS" "$DOMAINS" "$INCLUDES" 1
PORT=$(free_port)
printf '$ORIGIN chg.test.\n$TTL 1\n@ IN SOA ns1.hard.test. h.hard.test. 1 3600 600 86400 1\n@ IN NS ns1.hard.test.\n' \
    > "$WORK/chg.test.zone"
cat > "$WORK/zones.conf" <<CONF
zone:
  name: hard.test
  zonefile: $WORK/hard.test.zone
zone:
  name: chg.test
  zonefile: $WORK/chg.test.zone
CONF
nsd_start 127.0.0.1 "$PORT" "$WORK/zones.conf"

echo "hardening benchmark: $("$SENDERSCOPE" --version), nsd on 127.0.0.1:$PORT, $(nproc) cores," \
     "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
for s in "${SECTIONS[@]}"; do
    echo "== $s"
    python3 "$HERE/drive.py" "$s" "$SENDERSCOPE" "$WORK" "127.0.0.1:$PORT" "$WORK/nsd.conf"
done
