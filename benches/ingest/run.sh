#!/bin/sh
# Ingest benchmark (docs/ingest.md): parse rate (--dry-run) and store rate on >= 100 MB of synthetic
# RFC 7489 aggregate XML, and peak RSS while ingesting one 200 MB report.
#   cargo build --release && benches/ingest/run.sh [WORKDIR]
# With PARSEDMARC set (a parsedmarc executable, e.g. ~/.cache/senderscope-bench/venv/bin/parsedmarc),
# parsedmarc --offline reads the same files in the same run, timed with /usr/bin/time -v.
# Synthetic records: distinct source IPs (10 % IPv6), one or two DKIM results, about 590 bytes each,
# the shape of the anchor measurements in the project notes.
set -eu
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/senderscope}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK/corpus"
python3 - "$WORK" <<'PY'
import os, sys
work = sys.argv[1]
def report(path, rid, n):
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n <report_metadata>\n'
                '  <org_name>bench.example</org_name>\n  <email>dmarc@bench.example</email>\n'
                f'  <report_id>{rid}</report_id>\n  <date_range><begin>1733011200</begin><end>1733097599</end></date_range>\n'
                ' </report_metadata>\n <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf>'
                '<p>none</p><sp>none</sp><pct>100</pct></policy_published>\n')
        for i in range(n):
            # Two low groups, so every index above 65535 is still a valid IPv6 address.
            ip = f"2001:db8::{i >> 16:x}:{i & 0xffff:x}" if i % 10 == 0 else f"10.{(i>>16)&255}.{(i>>8)&255}.{i&255}"
            dkim2 = ('<dkim><domain>esp.example</domain><selector>k1</selector><result>fail</result></dkim>'
                     if i % 2 else '')
            f.write(f'  <record>\n   <row>\n    <source_ip>{ip}</source_ip>\n    <count>{1 + i % 7}</count>\n'
                    '    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>\n'
                    '   </row>\n   <identifiers><header_from>example.com</header_from><envelope_from>bounce.example.com</envelope_from></identifiers>\n'
                    f'   <auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim>{dkim2}'
                    '<spf><domain>bounce.example.com</domain><scope>mfrom</scope><result>pass</result></spf></auth_results>\n  </record>\n')
        f.write('</feedback>\n')
for k in range(12):
    report(os.path.join(work, "corpus", f"r{k:02}.xml"), f"bench-{k}", 17000)
report(os.path.join(work, "big.xml"), "bench-big", 340000)
# A batch of many small reports (the daily shape of most reporters): 2,000 of 10 records.
os.makedirs(os.path.join(work, "small"), exist_ok=True)
for k in range(2000):
    report(os.path.join(work, "small", f"s{k:04}.xml"), f"small-{k}", 10)
PY
MB=$(du -cm "$WORK"/corpus/*.xml | tail -1 | cut -f1)
BIGMB=$(du -m "$WORK/big.xml" | cut -f1)
printf 'state:\n  path: %s/state.db\n  retention: 3650d\ndomains: []\n' "$WORK" > "$WORK/config.yaml"
now() { date +%s.%N; }
t0=$(now); "$BIN" ingest --dry-run --format json "$WORK/corpus" > "$WORK/parse.jsonl"; t1=$(now)
RECORDS=$(tail -1 "$WORK/parse.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["records"])')
echo "parse (--dry-run): ${MB} MB, ${RECORDS} records in $(echo "$t1 - $t0" | bc) s: $(echo "$MB / ($t1 - $t0)" | bc) MB/s, $(echo "$RECORDS / ($t1 - $t0)" | bc) records/s"
t0=$(now); "$BIN" ingest -c "$WORK/config.yaml" --format json "$WORK/corpus" > "$WORK/store.jsonl"; t1=$(now)
echo "parse + store: $(echo "$t1 - $t0" | bc) s: $(echo "$RECORDS / ($t1 - $t0)" | bc) records/s, $(echo "$MB / ($t1 - $t0)" | bc) MB/s"
/usr/bin/time -v "$BIN" ingest --dry-run "$WORK/big.xml" 2> "$WORK/rss-dry.txt" > /dev/null
echo "peak RSS, ${BIGMB} MB report, --dry-run: $(grep 'Maximum resident' "$WORK/rss-dry.txt" | awk '{print $6}') KB"
/usr/bin/time -v "$BIN" ingest -c "$WORK/config.yaml" "$WORK/big.xml" 2> "$WORK/rss-store.txt" > /dev/null
echo "peak RSS, ${BIGMB} MB report, stored: $(grep 'Maximum resident' "$WORK/rss-store.txt" | awk '{print $6}') KB, $(grep 'Elapsed' "$WORK/rss-store.txt" | awk '{print $8}') elapsed"
SMALLMB=$(du -cm "$WORK"/small/*.xml | tail -1 | cut -f1)
/usr/bin/time -v "$BIN" ingest -c "$WORK/config.yaml" --format json "$WORK/small" 2> "$WORK/rss-small.txt" > "$WORK/small.jsonl"
echo "small batch (2000 reports, 20000 records, ${SMALLMB} MB), stored: $(grep 'Elapsed' "$WORK/rss-small.txt" | awk '{print $8}') elapsed, peak RSS $(grep 'Maximum resident' "$WORK/rss-small.txt" | awk '{print $6}') KB"
if [ -n "${PARSEDMARC:-}" ]; then
  for what in corpus small; do
    rm -rf "$WORK/pm-$what"
    /usr/bin/time -v "$PARSEDMARC" --offline -s -o "$WORK/pm-$what" "$WORK/$what" 2> "$WORK/pm-$what.txt" > /dev/null || true
    echo "parsedmarc --offline, $what: $(grep 'Elapsed' "$WORK/pm-$what.txt" | awk '{print $8}') elapsed, peak RSS $(grep 'Maximum resident' "$WORK/pm-$what.txt" | awk '{print $6}') KB, exit $(grep 'Exit status' "$WORK/pm-$what.txt" | awk '{print $3}')"
  done
  rm -rf "$WORK/pm-big"
  /usr/bin/time -v "$PARSEDMARC" --offline -s -o "$WORK/pm-big" "$WORK/big.xml" 2> "$WORK/pm-big.txt" > /dev/null || true
  echo "parsedmarc --offline, ${BIGMB} MB report: $(grep 'Elapsed' "$WORK/pm-big.txt" | awk '{print $8}') elapsed, peak RSS $(grep 'Maximum resident' "$WORK/pm-big.txt" | awk '{print $6}') KB, exit $(grep 'Exit status' "$WORK/pm-big.txt" | awk '{print $3}')"
fi
