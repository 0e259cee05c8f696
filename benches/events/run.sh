#!/usr/bin/env bash
# Events benchmark: bounce classification rate and webhook (events API) ingest rate.
#
#   bench     `cargo bench --bench events`: every message of tests/fixtures/bounces/ classified
#             in-process (`senderscope::events::read_message`), round-robin on one thread, 5 s
#   dryrun    the release binary, pinned to one core (taskset -c 0): `senderscope ingest --dry-run`
#             over COPIES copies of the fixtures (files read, parsed, classified, one JSON line each)
#   webhook   the release daemon on loopback, `POST /api/v1/events` with the bearer token under wrk
#             (-t2, CLIENTS connections, SECONDS s), one event a request and BATCH events a request;
#             every event new (unique ids) and answered 200 only after its commit to SQLite; the
#             events counted in /metrics and the events_seen table are checked against wrk's count
#
# Usage: benches/events/run.sh [SECTION...]     (default: bench dryrun webhook)
# Env:   SENDERSCOPE (release binary; default: cargo build --release)  COPIES (2000)  CLIENTS (50 10)
#        SECONDS_EACH (15)  BATCH (10)  KEEP=1
# Figures: RESULTS.md beside this file. Nothing leaves 127.0.0.1.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECTIONS=("$@")
[ ${#SECTIONS[@]} -gt 0 ] || SECTIONS=(bench dryrun webhook)
COPIES=${COPIES:-2000}
CLIENTS=${CLIENTS:-50 10}
SECONDS_EACH=${SECONDS_EACH:-15}
BATCH=${BATCH:-10}

. "$ROOT/benches/lib.sh"
bench_need python3 curl wrk taskset sqlite3
bench_workdir events-bench
echo "events benchmark: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"\
     "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"

metric_sum() { # the sum of every series of family $1 in the exposition on stdin
    awk -v f="$1" 'index($0, f) == 1 && substr($0, length(f) + 1, 1) ~ /[{ ]/ { s += $NF } END { printf "%d", s }'
}

for s in "${SECTIONS[@]}"; do
    echo "== $s (load $(cut -d' ' -f1-3 /proc/loadavg))"
    case $s in
    bench)
        (cd "$ROOT" && cargo bench --bench events 2>&1 | grep -E '^classify|error' )
        ;;
    dryrun)
        bench_binary
        mkdir -p "$WORK/msgs"
        # COPIES copies of every fixture (tens of thousands of files: no shell globs over them).
        python3 - "$ROOT/tests/fixtures/bounces" "$WORK/msgs" "$COPIES" <<'PY'
import os, shutil, sys
src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name in sorted(os.listdir(src)):
    if name.endswith(".eml"):
        for i in range(copies):
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, f"{i}-{name}"))
PY
        n=$(find "$WORK/msgs" -name '*.eml' | wc -l)
        # Count the bytes and warm the page cache in one read, then the timed run.
        bytes=$(find "$WORK/msgs" -name '*.eml' -print0 | xargs -0 cat | wc -c)
        /usr/bin/time -v -o "$WORK/dryrun.time" taskset -c 0 "$SENDERSCOPE" ingest --dry-run --format json \
            "$WORK/msgs" > "$WORK/dryrun.jsonl" || true
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$WORK/dryrun.time")
        cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$WORK/dryrun.time")
        lines=$(grep -c '"file"' "$WORK/dryrun.jsonl" || true)
        kinds=$(python3 -c 'import json,sys,collections
c=collections.Counter()
for l in open(sys.argv[1]):
    d=json.loads(l)
    if "file" in d: c[(d.get("status"), d.get("kind"))]+=1
print(dict(c))' "$WORK/dryrun.jsonl")
        echo "  $n messages ($((bytes / n)) bytes mean) in $wall s wall, $cpu s CPU, one core:" \
             "$(python3 -c "print(f'{$n / $wall:,.0f} messages/s wall, {$n / max($cpu, 0.01):,.0f} messages/s CPU')")"
        echo "  results: $lines lines, by (status, kind): $kinds"
        echo "RESULT dryrun messages=$n wall_s=$wall cpu_s=$cpu"
        ;;
    webhook)
        bench_binary
        PORT=$(free_port)
        TOKEN=$(openssl rand -hex 24)
        DOMAINS="shop.bench.test news.bench.test billing.bench.test"
        {
            printf 'server:\n  listen: "127.0.0.1:%s"\n' "$PORT"
            printf 'state:\n  path: %s/state.db\n' "$WORK"
            printf 'dns:\n  nameservers: ["127.0.0.1:%s"]\n' "$(free_port)"
            printf 'schedule:\n  checks: 24h\n  blocklists: 24h\n  jitter: 0.5\n'
            printf 'blocklists:\n  defaults: false\n'
            printf 'domains:\n'
            for d in $DOMAINS; do printf '  - name: %s\n' "$d"; done
        } > "$WORK/webhook.yaml"
        SENDERSCOPE_API_TOKEN=$TOKEN RUST_LOG=warn "$SENDERSCOPE" serve -c "$WORK/webhook.yaml" \
            > "$WORK/daemon.log" 2>&1 &
        BENCH_PIDS+=($!)
        for _ in $(seq 200); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && break
            sleep 0.1
        done
        total_ok=0
        for batch in 1 "$BATCH"; do
            for c in $CLIENTS; do
                out=$(TOKEN=$TOKEN DOMAINS=$DOMAINS BATCH=$batch RUN="b$batch-c$c" \
                    wrk -t2 -c"$c" -d"${SECONDS_EACH}s" --latency -s "$HERE/events.lua" \
                    "http://127.0.0.1:$PORT" 2>"$WORK/wrk.err")
                reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
                non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }'); non2xx=${non2xx:-0}
                secs=$(echo "$out" | awk '/requests in/ { sub(/s,$/, "", $4); print $4 }')
                ok=$(( (reqs - non2xx) * batch )); total_ok=$((total_ok + ok))
                p=$(echo "$out" | awk '$1 ~ /^(50|90|99)%$/ { printf "p%s %s  ", substr($1, 1, 2), $2 }')
                echo "  $batch event(s)/request, $c clients: $reqs requests ($non2xx not 200) in $secs s," \
                     "$(python3 -c "print(f'{$ok / $secs:,.0f} events/s')"); $p"
                [ -s "$WORK/wrk.err" ] && head -3 "$WORK/wrk.err" | sed 's/^/    /'
                echo "RESULT webhook batch=$batch clients=$c events=$ok secs=$secs non2xx=$non2xx $p"
            done
        done
        body=$(curl -s "http://127.0.0.1:$PORT/metrics")
        counted=$(( $(echo "$body" | metric_sum senderscope_deliveries_total) + \
                    $(echo "$body" | metric_sum senderscope_bounces_total) + \
                    $(echo "$body" | metric_sum senderscope_complaints_total) ))
        seen=$(sqlite3 "$WORK/state.db" 'SELECT count(*) FROM events_seen')
        # wrk stops counting at the deadline: requests then in flight are stored but not counted,
        # at most (clients x batch) per run.
        inflight=0
        for batch in 1 "$BATCH"; do for c in $CLIENTS; do inflight=$((inflight + c * batch)); done; done
        verdict='MISMATCH'
        if [ "$counted" = "$seen" ] && [ "$seen" -ge "$total_ok" ] && [ $((seen - total_ok)) -le "$inflight" ]; then
            verdict="consistent: /metrics = events_seen, $((seen - total_ok)) more than wrk counted (in flight at its deadlines, at most $inflight)"
        fi
        echo "  check: wrk counted $total_ok events answered 200; /metrics counts $counted;" \
             "events_seen holds $seen keys: $verdict"
        echo "  state DB: $(du -cb "$WORK"/state.db* | tail -1 | cut -f1) bytes"
        ;;
    *) echo "unknown section $s" >&2; exit 1 ;;
    esac
done
