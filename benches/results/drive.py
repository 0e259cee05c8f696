#!/usr/bin/env python3
"""The results benchmark's measurements (run by run.sh, which starts nsd and passes its address).

Sections (each prints its figures; machine-readable lines start with "RESULT"):
  round    the daemon with ROUND_DOMAINS (1,000) domains: RSS after the first full round, /metrics size,
           series per family and per domain, render time plain and gzip (cache missed and hit)
  load     the daemon with LOAD_DOMAINS (400) domains (about 10,000 series): wrk -c50, plain and gzip
  history  100 domains and a year of stored history: start to first /readyz 200, then idle RSS
  idle     100 domains, empty store, no check run yet: idle RSS

Usage: drive.py SECTION BINARY WORKDIR NSD_ADDR:PORT
Only 127.0.0.1 is ever contacted.
"""
import gzip
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import time

ROUND_DOMAINS = int(os.environ.get("ROUND_DOMAINS", "1000"))
LOAD_DOMAINS = int(os.environ.get("LOAD_DOMAINS", "400"))
SMALL_DOMAINS = 100
RENDERS = int(os.environ.get("RENDERS", "20"))
STARTS = int(os.environ.get("STARTS", "20"))
LOAD_SECONDS = os.environ.get("LOAD_SECONDS", "10")
# Days between two changes of every stored outcome in the year of history (1: a change a day).
HISTORY_EVERY = int(os.environ.get("HISTORY_EVERY", "1"))
# 0: no event buckets in the year of history (only check results, record history, listings).
HISTORY_EVENTS = os.environ.get("HISTORY_EVENTS", "1") != "0"
DAY = 86_400


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(port, path, headers=(), timeout=30):
    """(status, headers text, body bytes) of one GET over a fresh connection; status 0 on failure."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    req += "".join(f"{h}\r\n" for h in headers) + "\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(req.encode())
            chunks = []
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                chunks.append(b)
    except OSError:
        return 0, "", b""
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ")[1])
    except (IndexError, ValueError):
        return 0, "", b""
    hdrs = "\n".join(lines[1:]).lower()
    if "transfer-encoding: chunked" in hdrs:
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, hdrs, body


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, round((len(v) - 1) * p))]


def domains(work, n):
    names = open(os.path.join(work, "domains.txt")).read().split()
    if len(names) < n:
        raise SystemExit(f"only {len(names)} generated domains, {n} wanted")
    return names[:n]


def sending_ip(i):
    """The domain's mx1 address (gen_zones.py): its PTR names the host back, so FCrDNS holds."""
    hi, lo = divmod(i, 256)
    return f"198.18.{hi}.{lo}"


def write_config(path, port, db, names, ns, schedule, token=False):
    y = [
        f'server:\n  listen: "127.0.0.1:{port}"\n',
        f"state:\n  path: {db}\n  retention: 400d\n",
        f'dns:\n  nameservers: ["{ns}"]\n',
        schedule,
        "blocklists:\n  defaults: false\n  extra:\n"
        "    - zone: ipbl.bench.test\n      kind: ipv4\n"
        "    - zone: dombl.bench.test\n      kind: domain\n",
        "domains:\n",
    ]
    for i, d in enumerate(names):
        y.append(f"  - name: {d}\n    dkim_selectors: [s1, s2]\n    sending_ips: [{sending_ip(i)}]\n")
    with open(path, "w") as f:
        f.writelines(y)


ROUND_NOW = "schedule:\n  checks: 1h\n  blocklists: 1h\n  jitter: 0\n"
# Every run pushed out of the measurement: 24 h shifted by up to half of it.
NOT_YET = "schedule:\n  checks: 24h\n  blocklists: 24h\n  jitter: 0.5\n"


class Daemon:
    def __init__(self, binary, work, name, names, ns, schedule, db=None):
        self.port = free_port()
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.db = db or os.path.join(self.dir, "state.db")
        self.config = os.path.join(self.dir, "senderscope.yaml")
        write_config(self.config, self.port, self.db, names, ns, schedule)
        self.binary = binary
        self.proc = None

    def start(self, log_level="warn"):
        """Spawn, poll /readyz every 0.5 ms; returns seconds from spawn to the first 200."""
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        env["RUST_LOG"] = log_level
        self.log = os.path.join(self.dir, "log")
        with open(self.log, "w") as log:
            started = time.perf_counter()
            self.proc = subprocess.Popen([self.binary, "serve", "-c", self.config],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        deadline = started + 60
        while time.perf_counter() < deadline:
            if http(self.port, "/readyz", timeout=2)[0] == 200:
                return time.perf_counter() - started
            if self.proc.poll() is not None:
                break
            time.sleep(0.0005)
        raise SystemExit(f"daemon not ready within 60 s (see {self.log})")

    def metrics(self, headers=()):
        return http(self.port, "/metrics", headers)

    def runs(self, job):
        _, _, body = self.metrics()
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(f'senderscope_scheduler_job_runs_total{{job="{job}"'):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_round(self, n, timeout=900):
        """Until every domain's posture job and one blocklist round have run; returns seconds."""
        started = time.time()
        while time.time() < started + timeout:
            p, b = self.runs("posture"), self.runs("blocklists")
            if p >= n and b >= 1:
                return time.time() - started
            time.sleep(0.5)
        raise SystemExit(f"round not done in {timeout} s: {self.runs('posture')} posture runs")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def series_by_family(text):
    fam = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = re.split(r"[{ ]", line, 1)[0]
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        fam[name] = fam.get(name, 0) + 1
    return fam


def curl_times(port, gzip_on, n, gap):
    """curl -w time_total of n GET /metrics, gap seconds apart (over the 1 s render cache: renders)."""
    times = []
    for _ in range(n):
        args = ["curl", "-s", "-o", "/dev/null", "-w", "%{time_total} %{size_download}"]
        if gzip_on:
            args += ["-H", "Accept-Encoding: gzip"]
        out = subprocess.run(args + [f"http://127.0.0.1:{port}/metrics"], capture_output=True,
                             text=True, check=True).stdout.split()
        times.append((float(out[0]) * 1000, int(out[1])))
        time.sleep(gap)
    return times


def round_section(binary, work, ns):
    names = domains(work, ROUND_DOMAINS)
    d = Daemon(binary, work, "round", names, ns, ROUND_NOW)
    try:
        ready = d.start()
        took = d.wait_round(len(names))
        time.sleep(2)
        rss = rss_mb(d.proc.pid)
        _, _, body = d.metrics()
        text = body.decode()
        lines = text.count("\n")
        fam = series_by_family(text)
        total = sum(fam.values())
        print(f"  ready in {ready * 1000:.0f} ms; first round of {len(names)} domains (posture + blocklists)"
              f" done {took:.0f} s after ready")
        print(f"  RSS after the round: {rss:.1f} MB   (target <= 40 MB)")
        print(f"  /metrics: {lines} lines, {total} series, {len(body)} bytes")
        per_domain = {"senderscope_check_status", "senderscope_findings",
                      "senderscope_last_check_timestamp_seconds", "senderscope_spf_dns_lookups",
                      "senderscope_dkim_key_size", "senderscope_dmarc_policy",
                      "senderscope_blocklist_listed"}
        state = 0
        for name in sorted(fam, key=lambda k: -fam[k]):
            mark = " (per domain/target)" if name in per_domain else ""
            if name in per_domain:
                state += fam[name]
            print(f"    {name}: {fam[name]} series = {fam[name] / len(names):.2f} per domain{mark}")
        print(f"  series per domain: {state / len(names):.2f} from the domain/target families, "
              f"{total / len(names):.2f} counting every family   (target <= 25)")
        # Render: requests 1.1 s apart, so each one misses the 1 s shared-render cache.
        time.sleep(1.1)
        plain = curl_times(d.port, False, RENDERS, 1.1)
        gz = curl_times(d.port, True, RENDERS, 1.1)
        # Cache hits: back to back, right after one render.
        hit_plain = curl_times(d.port, False, RENDERS, 0.0)
        hit_gz = curl_times(d.port, True, RENDERS, 0.0)
        for label, t in (("plain, rendered", plain), ("gzip, rendered", gz),
                         ("plain, back to back (1 s cache)", hit_plain),
                         ("gzip, back to back (1 s cache)", hit_gz)):
            ms = [x[0] for x in t]
            print(f"  GET /metrics {label}: median {statistics.median(ms):.1f} ms, min {min(ms):.1f}, "
                  f"max {max(ms):.1f} ms over {len(ms)} ({t[0][1]} bytes)")
        print(f"RESULT round domains={len(names)} rss_mb={rss:.1f} lines={lines} series={total} "
              f"bytes={len(body)} state_series_per_domain={state / len(names):.2f} "
              f"all_series_per_domain={total / len(names):.2f} "
              f"render_plain_ms={statistics.median([x[0] for x in plain]):.1f} "
              f"render_gzip_ms={statistics.median([x[0] for x in gz]):.1f}")
    finally:
        d.stop()


def wrk(url, header):
    args = ["wrk", "-t2", "-c50", f"-d{LOAD_SECONDS}s", "--latency"]
    if header:
        args += ["-H", header]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    pick = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("50%", "75%", "90%", "99%"):
            pick[parts[0]] = parts[1]
        elif line.startswith("Requests/sec:"):
            pick["rps"] = parts[1]
        elif "Non-2xx" in line or "Socket errors" in line:
            pick.setdefault("errors", []).append(line.strip())
    return pick


def load_section(binary, work, ns):
    names = domains(work, LOAD_DOMAINS)
    d = Daemon(binary, work, "load", names, ns, ROUND_NOW)
    try:
        d.start()
        d.wait_round(len(names))
        time.sleep(1)
        text = d.metrics()[2].decode()
        series = sum(series_by_family(text).values())
        print(f"  {len(names)} domains after their first round: /metrics {series} series, "
              f"{len(text)} bytes; wrk -t2 -c50 -d{LOAD_SECONDS}s (target p99 <= 5 ms)")
        url = f"http://127.0.0.1:{d.port}/metrics"
        for label, header in (("plain text", None), ("gzip", "Accept-Encoding: gzip")):
            r = wrk(url, header)
            print(f"    {label:<10} p50 {r.get('50%')}  p90 {r.get('90%')}  p99 {r.get('99%')}  "
                  f"{r.get('rps')} requests/s {' '.join(r.get('errors', []))}")
            print(f"RESULT load {label.split()[0]} series={series} p50={r.get('50%')} p99={r.get('99%')} "
                  f"rps={r.get('rps')}")
    finally:
        d.stop()


def fill_year(db, now):
    """A year of history behind the latest results the daemon stored: every (target, check) changed
    outcome every HISTORY_EVERY days (365 spans for 1, alternately with and without a finding), every
    published value as often, every blocklist target was listed and delisted on each zone once a month, and
    every domain sent mail all year (deliveries each hour, bounces each day, per-minute rows)."""
    con = sqlite3.connect(db)
    cur = con.cursor()
    latest = cur.execute(
        "SELECT target, check_name, status, record, findings, first_checked_at, duration_ms, facts "
        "FROM check_results").fetchall()
    rows = []
    finding = json.dumps([{"code": "record.changed", "severity": "info",
                           "message": "The record changed between two runs.",
                           "detail": {"old": "v=old", "new": "v=new"}}])
    for target, check, status, record, findings, first, dur, facts in latest:
        for k in range(1, 365 // HISTORY_EVERY):
            start = first - k * HISTORY_EVERY * DAY
            f, s = (finding, "info") if k % 2 else (findings, status)
            rows.append((target, check, s, (record or "") + f" ; span -{k}", f, start,
                         start + HISTORY_EVERY * DAY - 900, dur, facts))
    cur.executemany(
        "INSERT INTO check_results (target, check_name, status, record, findings, first_checked_at, "
        "last_checked_at, duration_ms, facts) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    hist = cur.execute("SELECT target, check_name, name, value, first_seen FROM record_history").fetchall()
    span = HISTORY_EVERY * DAY
    hrows = [(t, c, n, f"{v} ; span -{k}", fs - k * span, fs - k * span + span - 900)
             for t, c, n, v, fs in hist for k in range(1, 365 // HISTORY_EVERY)]
    cur.executemany("INSERT INTO record_history (target, check_name, name, value, first_seen, last_seen) "
                    "VALUES (?,?,?,?,?,?)", hrows)
    targets = [r[0] for r in cur.execute(
        "SELECT DISTINCT target FROM check_results WHERE check_name = 'blocklists'")]
    lrows = []
    for t in targets:
        zone = "dombl.bench.test" if any(c.isalpha() for c in t) else "ipbl.bench.test"
        for m in range(1, 13):
            since = now - m * 30 * DAY
            lrows.append((t, zone, '["127.0.0.2"]', "bench listing", since, since + 3 * DAY, since + 3 * DAY))
    cur.executemany("INSERT OR IGNORE INTO blocklist_listings (target, zone, codes, reason, listed_since, "
                    "last_seen, delisted_at) VALUES (?,?,?,?,?,?,?)", lrows)
    doms = [r[0] for r in cur.execute(
        "SELECT DISTINCT target FROM check_results WHERE check_name = 'spf'")]
    erows = []
    hour0 = now - now % 3600
    for dom in doms if HISTORY_EVENTS else []:
        for h in range(1, 365 * 24):
            minute = (hour0 - h * 3600) // 60
            erows.append((minute, dom, "gmail", "delivery", "", "", 40 + h % 17))
            if h % 24 == 0:
                erows.append((minute, dom, "microsoft", "bounce", "hard", "user_unknown", 1))
    cur.executemany("INSERT OR IGNORE INTO event_buckets (minute, sender_domain, provider, event, "
                    "bounce_type, reason, count) VALUES (?,?,?,?,?,?,?)", erows)
    con.commit()
    counts = {t: cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("check_results", "record_history", "blocklist_listings", "event_buckets")}
    con.execute("VACUUM")
    con.close()
    return counts


def history_section(binary, work, ns):
    names = domains(work, SMALL_DOMAINS)
    # A real first round against nsd gives the latest rows (and the schema) ...
    d = Daemon(binary, work, "history", names, ns, ROUND_NOW)
    try:
        d.start()
        d.wait_round(len(names))
        time.sleep(1)
    finally:
        d.stop()
    # ... then a year of older rows is written behind them.
    t0 = time.time()
    counts = fill_year(d.db, int(time.time()))
    size = sum(os.path.getsize(d.db + s) for s in ("", "-wal") if os.path.exists(d.db + s))
    con = sqlite3.connect(d.db)
    t1 = time.perf_counter()
    con.execute("PRAGMA quick_check(5)").fetchall()
    quick = (time.perf_counter() - t1) * 1000
    con.close()
    print(f"  outcomes changing every {HISTORY_EVERY} day(s); SQLite's PRAGMA quick_check on it "
          f"(python sqlite3, warm cache): {quick:.0f} ms")
    print(f"  stored history, filled in {time.time() - t0:.0f} s: "
          + ", ".join(f"{k} {v:,} rows" for k, v in counts.items()) + f"; state DB {size / 1e6:.1f} MB")
    # Restarts with checks pushed out: the start reads the store and publishes the latest state only.
    r = Daemon(binary, work, "history-restart", names, ns, NOT_YET, db=d.db)
    times, publish = [], []
    idle = None
    for i in range(STARTS):
        times.append(r.start(log_level="info"))
        if i == STARTS - 1:
            time.sleep(3)
            idle = rss_mb(r.proc.pid)
        r.stop()
        m = re.search(r"published the stored results.*? ms=(\d+)", open(r.log).read())
        if m:
            publish.append(int(m.group(1)))
    ms = [t * 1000 for t in times]
    print(f"  start to first /readyz 200, {len(names)} domains, a year of history ({STARTS} starts): "
          f"median {statistics.median(ms):.1f} ms, min {min(ms):.1f}, max {max(ms):.1f} ms   (target <= 30 ms)")
    if publish:
        print(f"  of which publishing the stored results (daemon log): median {statistics.median(publish)} ms")
    print(f"  idle RSS 3 s after ready, same store: {idle:.1f} MB")
    print(f"RESULT history every_days={HISTORY_EVERY} events={int(HISTORY_EVENTS)} start_ms_median={statistics.median(ms):.1f} start_ms_max={max(ms):.1f} "
          f"idle_rss_mb={idle:.1f} db_mb={size / 1e6:.1f}")


def idle_section(binary, work, ns):
    names = domains(work, SMALL_DOMAINS)
    d = Daemon(binary, work, "idle", names, ns, NOT_YET)
    try:
        ready = d.start()
        time.sleep(3)
        idle = rss_mb(d.proc.pid)
        http(d.port, "/api/v1/status")
        d.metrics()
        time.sleep(0.5)
        after = rss_mb(d.proc.pid)
        print(f"  idle RSS, {len(names)} domains, empty store, no check run yet: {idle:.1f} MB "
              f"(after one /api/v1/status + /metrics: {after:.1f} MB; ready in {ready * 1000:.1f} ms)"
              f"   (target <= 15 MB)")
        print(f"RESULT idle rss_mb={idle:.1f} after_requests_mb={after:.1f}")
    finally:
        d.stop()


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    section, binary, work, ns = sys.argv[1:]
    {"round": round_section, "load": load_section, "history": history_section,
     "idle": idle_section}[section](binary, work, ns)


if __name__ == "__main__":
    main()
