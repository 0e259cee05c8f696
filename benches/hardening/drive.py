#!/usr/bin/env python3
"""The hardening benchmark's measurements (run by run.sh, which starts nsd and passes its address).

Sections (each prints its figures; the last line of each starts with "RESULT"):
  fanout   `senderscope check` on the SPF fan-out domains: peak RSS, JSON size, queries nsd answered
  dbgrowth the daemon checking a domain whose SPF include count changes every round: state DB size
  status   the daemon with DOMAINS domains under 20 parallel GET /api/v1/status: RSS vs idle, /healthz
  slowloris 500 slow-header clients + 200 idle connections: connections held, /healthz latency
  fds      20,000 idle connections against the daemon while it checks domains: /healthz, results

Usage: drive.py SECTION BINARY WORKDIR NSD_ADDR:PORT NSD_CONF
Only 127.0.0.1 is ever contacted.
"""
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nsd_stats(conf):
    """nsd's counters since the last call (nsd-control stats resets them)."""
    out = subprocess.run(["nsd-control", "-c", conf, "stats"], capture_output=True, text=True, check=True).stdout
    stats = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        try:
            stats[k] = float(v)
        except ValueError:
            pass
    return stats


def time_v(path):
    """wall s, CPU s, max RSS MB from a /usr/bin/time -v log."""
    wall = cpu = rss = 0.0
    for line in open(path):
        k, _, v = line.strip().rpartition(": ")
        if k.startswith("Elapsed (wall clock)"):
            s = 0.0
            for part in v.split(":"):
                s = s * 60 + float(part)
            wall = s
        elif k in ("User time (seconds)", "System time (seconds)"):
            cpu += float(v)
        elif k == "Maximum resident set size (kbytes)":
            rss = float(v) / 1024
    return wall, cpu, rss


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def get(port, path, timeout=120):
    """(status, seconds, bytes) of one GET; status 0 on a connection error or timeout."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            body = r.read()
            return r.status, time.perf_counter() - started, body
    except urllib.error.HTTPError as e:
        return e.code, time.perf_counter() - started, e.read()
    except OSError:
        return 0, time.perf_counter() - started, b""


def healthz_ms(port, timeout=10):
    status, secs, _ = get(port, "/healthz", timeout)
    return (secs * 1000 if status == 200 else None)


class Daemon:
    def __init__(self, binary, work, name, domains, nameserver, extra=""):
        self.port = free_port()
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.db = os.path.join(self.dir, "state.db")
        lines = [
            f"server:\n  listen: \"127.0.0.1:{self.port}\"\n",
            f"state:\n  path: {self.db}\n",
            f"dns:\n  nameservers: [\"{nameserver}\"]\n",
            "blocklists:\n  defaults: false\n",
            "alerts:\n  enabled: true\n",
            extra,
            "domains:\n" + "".join(f"  - name: {d}\n" for d in domains) if domains else "domains: []\n",
        ]
        self.config = os.path.join(self.dir, "senderscope.yaml")
        with open(self.config, "w") as f:
            f.writelines(lines)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen([binary, "serve", "-c", self.config], stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if get(self.port, "/readyz", 2)[0] == 200:
                return
            time.sleep(0.1)
        raise SystemExit(f"daemon {name} not ready within 60 s (see {self.dir}/log)")

    def status(self, query=""):
        code, secs, body = get(self.port, "/api/v1/status" + query)
        return code, secs, body

    def all_checked(self, n):
        """Pending sorts last: the last entry checked means every domain was."""
        code, _, body = self.status(f"?offset={n - 1}&limit=1")
        if code != 200:
            return False
        doms = json.loads(body)["domains"]
        return bool(doms) and doms[0]["status"] != "pending"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fanout(binary, work, ns, conf):
    for kind in ("mx", "a"):
        domain = f"fan-{kind}.hard.test"
        nsd_stats(conf)
        out = os.path.join(work, f"fan-{kind}.json")
        tlog = os.path.join(work, f"fan-{kind}.time")
        with open(out, "w") as f:
            subprocess.run(["/usr/bin/time", "-v", "-o", tlog, binary, "check", "--nameserver", ns,
                            "--format", "json", domain], stdout=f, stderr=subprocess.DEVNULL)
        wall, cpu, rss = time_v(tlog)
        st = nsd_stats(conf)
        size = os.path.getsize(out)
        doc = json.load(open(out))
        spf = [c for d in doc["domains"] for c in d["checks"] if c["check"] == "spf"]
        codes = sorted({f["code"] for c in spf for f in c["findings"]})
        cut = [f["message"][:200] for c in spf for f in c["findings"] if "cut" in f["message"] or "stopp" in f["message"]]
        print(f"  {domain}: wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.1f} MB, JSON {size / 1e6:.3f} MB "
              f"({size} bytes), queries answered by nsd {int(st.get('num.queries', 0))} "
              f"(TCP {int(st.get('num.tcp', 0))}), SPF findings {codes}")
        for m in cut[:2]:
            print(f"    finding: {m}")
        print(f"RESULT fanout {kind} rss_mb={rss:.1f} json_bytes={size} queries={int(st.get('num.queries', 0))} wall_s={wall:.2f}")


def write_chg(work, conf, count, serial):
    incs = " ".join(f"include:i{k}.a.hard.test" for k in range(count))
    rec = f"v=spf1 {incs} -all"
    quoted = " ".join(f'"{rec[i:i + 250]}"' for i in range(0, len(rec), 250))
    with open(os.path.join(work, "chg.test.zone"), "w") as f:
        f.write(f"$ORIGIN chg.test.\n$TTL 1\n@ IN SOA ns1.hard.test. h.hard.test. {serial} 3600 600 86400 1\n"
                f"@ IN NS ns1.hard.test.\n@ IN TXT {quoted}\n"
                "@ IN MX 10 h0.hard.test.\n"
                '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@hard.test"\n')
    subprocess.run(["nsd-control", "-c", conf, "reload", "chg.test"], capture_output=True, check=True)


def db_bytes(db):
    """Bytes of the database in use (pages less free pages), read through SQLite beside the daemon:
    the file and its WAL only grow in steps (the WAL is reused after each checkpoint)."""
    import sqlite3
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        free = con.execute("PRAGMA freelist_count").fetchone()[0]
        size = con.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size
    finally:
        con.close()


def disk_bytes(db):
    return sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))


def dbgrowth(binary, work, ns, conf, rounds=int(os.environ.get("ROUNDS", "12"))):
    write_chg(work, conf, 20, 2)
    d = Daemon(binary, work, "dbgrowth", ["chg.test"], ns,
               "schedule:\n  checks: 1s\n  jitter: 0\n")
    try:
        sizes, disk = [], []
        last = None
        for r in range(rounds):
            # Wait for a round that saw the current zone, then change the include count.
            deadline = time.time() + 60
            while time.time() < deadline:
                code, _, body = d.status()
                if code == 200:
                    doms = json.loads(body)["domains"]
                    at = max((c["checked_at"] for c in doms[0]["checks"]), default=None) if doms else None
                    if at is not None and at != last:
                        last = at
                        break
                time.sleep(0.2)
            time.sleep(1.2)
            sizes.append(db_bytes(d.db))
            disk.append(disk_bytes(d.db))
            write_chg(work, conf, 20 + (r % 2) * 10 + r % 7, r + 3)
        growth = [b - a for a, b in zip(sizes, sizes[1:])]
        print(f"  state DB in use (pages less free pages) after each round: {[round(s / 1e6, 3) for s in sizes]} MB")
        print(f"  on disk (file + WAL): {[round(s / 1e6, 2) for s in disk]} MB")
        later = growth[len(growth) // 2:]
        print(f"  growth per round: median {statistics.median(growth) / 1e3:.0f} kB, "
              f"second half median {statistics.median(later) / 1e3:.0f} kB, max {max(growth) / 1e3:.0f} kB")
        print(f"RESULT dbgrowth first_mb={sizes[0] / 1e6:.2f} last_mb={sizes[-1] / 1e6:.2f} rounds={rounds} "
              f"per_round_kb={statistics.median(growth) / 1e3:.0f}")
    finally:
        d.stop()


def status(binary, work, ns, conf):
    n = int(os.environ.get("DOMAINS", "10000"))
    domains = [f"d{i:05d}.hard.test" for i in range(n)]
    started = time.time()
    d = Daemon(binary, work, "status", domains, ns, "schedule:\n  checks: 1h\n  blocklists: 1h\n  jitter: 0\n")
    try:
        while not d.all_checked(n):
            if time.time() - started > 600:
                raise SystemExit("the daemon did not check every domain within 600 s")
            time.sleep(1)
        print(f"  {n} domains checked {time.time() - started:.1f} s after start")
        time.sleep(5)
        idle = statistics.median([rss_mb(d.proc.pid) for _ in range(10) if time.sleep(0.2) is None])
        for query in ("", "?limit=1000"):
            code, secs, body = d.status(query)
            print(f"  one GET /api/v1/status{query}: {code}, {secs * 1000:.0f} ms, {len(body) / 1e6:.2f} MB")
            stop = threading.Event()
            lat, peak, answered, failed = [], [idle], [], [0]

            def client():
                while not stop.is_set():
                    c, s, b = d.status(query)
                    if c == 200:
                        answered.append(s)
                    else:
                        failed[0] += 1

            def sampler():
                while not stop.is_set():
                    peak.append(rss_mb(d.proc.pid))
                    time.sleep(0.05)

            def prober():
                while not stop.is_set():
                    ms = healthz_ms(d.port)
                    lat.append(ms if ms is not None else float("inf"))
                    time.sleep(0.1)

            threads = [threading.Thread(target=client) for _ in range(20)]
            threads += [threading.Thread(target=sampler), threading.Thread(target=prober)]
            for t in threads:
                t.start()
            time.sleep(float(os.environ.get("LOAD_SECONDS", "15")))
            stop.set()
            for t in threads:
                t.join()
            lat.sort()
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"  20 clients x GET /api/v1/status{query} for {os.environ.get('LOAD_SECONDS', '15')} s: "
                  f"{len(answered)} answered (median {statistics.median(answered) * 1000:.0f} ms, "
                  f"max {max(answered) * 1000:.0f} ms), {failed[0]} failed; "
                  f"RSS idle {idle:.1f} MB, peak {max(peak):.1f} MB ({max(peak) / idle:.2f}x); "
                  f"/healthz {len(lat)} probes: median {statistics.median(lat):.1f} ms, p99 {p99:.1f} ms, "
                  f"max {lat[-1]:.1f} ms")
            print(f"RESULT status{query or '?limit=100'} idle_mb={idle:.1f} peak_mb={max(peak):.1f} "
                  f"ratio={max(peak) / idle:.2f} healthz_max_ms={lat[-1]:.1f} healthz_p99_ms={p99:.1f} "
                  f"answered={len(answered)} median_ms={statistics.median(answered) * 1000:.0f}")
    finally:
        d.stop()


def established(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def slowloris(binary, work, ns, conf):
    slow_n, idle_n = int(os.environ.get("SLOW", "500")), int(os.environ.get("IDLE", "200"))
    d = Daemon(binary, work, "slowloris", [], ns)
    try:
        socks = []
        for _ in range(slow_n + idle_n):
            socks.append(socket.create_connection(("127.0.0.1", d.port)))
        t0 = time.time()
        head = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        print(f"  {slow_n} slow clients (one header byte a second) + {idle_n} idle connections, "
              f"header_read_timeout 10s (default)")
        rows = []
        for sec in range(0, 41):
            for s in socks[:slow_n]:
                try:
                    s.send(head[sec:sec + 1])
                except OSError:
                    pass
            if sec in (0, 2, 5, 8, 9, 10, 11, 12, 13, 15, 20, 30, 40):
                ms = healthz_ms(d.port)
                rows.append((sec, established(d.port), ms))
                print(f"    t={sec:>2} s: connections held by the daemon {rows[-1][1]:>4}, /healthz "
                      f"{'no answer' if ms is None else f'{ms:.1f} ms'}")
            time.sleep(max(0, t0 + sec + 1 - time.time()))
        worst = max((r[2] if r[2] is not None else float("inf")) for r in rows)
        gone = next((r[0] for r in rows if r[1] <= 2), None)
        print(f"RESULT slowloris held_at_0={rows[0][1]} all_closed_by_s={gone} healthz_max_ms={worst:.1f}")
        for s in socks:
            s.close()
    finally:
        d.stop()


def hold(port, n, ready, done):
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 100, n + 100))
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            pass
    ready.write(f"{len(socks)}\n")
    ready.flush()
    done.readline()


def fds(binary, work, ns, conf):
    total = int(os.environ.get("FLOOD", "20000"))
    n = 20
    domains = [f"d{i:05d}.hard.test" for i in range(n)]
    d = Daemon(binary, work, "fds", domains, ns, "schedule:\n  checks: 2s\n  jitter: 0\n")
    try:
        while not d.all_checked(n):
            time.sleep(0.5)
        print(f"  daemon fd limit {open(f'/proc/{d.proc.pid}/limits').read().split('Max open files')[1].split()[0]}, "
              f"max_connections 512 (default)")
        # Two holder processes (the client's own fd limit is 20,000).
        holders = []
        t0 = time.time()
        for part in range(2):
            p = subprocess.Popen([sys.executable, "-c",
                                  f"import sys; sys.path.insert(0, {HERE!r}); import drive; "
                                  f"drive.hold({d.port}, {total // 2}, sys.stdout, sys.stdin)"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            holders.append(p)
        opened = sum(int(p.stdout.readline() or 0) for p in holders)
        flood_at = int(time.time())
        print(f"  {opened} connections opened in {time.time() - t0:.1f} s (client side)")
        lat = []
        for _ in range(50):
            ms = healthz_ms(d.port)
            lat.append(ms if ms is not None else float("inf"))
            time.sleep(0.2)
        held = established(d.port)
        fd_count = len(os.listdir(f"/proc/{d.proc.pid}/fd"))
        # Results of the rounds run during the flood.
        code, _, body = d.status("?limit=1000")
        doms = json.loads(body)["domains"] if code == 200 else []
        fresh = [c for x in doms for c in x["checks"] if c["checked_at"] >= flood_at]
        failed = [f["code"] for c in fresh for f in c["findings"] if f["code"].endswith("lookup_failed")]
        lost = sum(1 for x in lat if x == float("inf"))
        lat = sorted(x for x in lat if x != float("inf")) or [float("inf")]
        print(f"  /healthz probes without an answer: {lost} of 50")
        print(f"  during the flood: daemon fds {fd_count}, server-side established {held}; /healthz "
              f"{len(lat)} answered, median {statistics.median(lat):.1f} ms, max {lat[-1]:.1f} ms; "
              f"{len(fresh)} check results stored during the flood, {len(failed)} lookup_failed findings")
        print(f"RESULT fds opened={opened} daemon_fds={fd_count} healthz_max_ms={lat[-1]:.1f} healthz_lost={lost} "
              f"checks_during={len(fresh)} lookup_failed={len(failed)}")
        for p in holders:
            p.stdin.write("\n")
            p.stdin.flush()
            p.wait()
    finally:
        d.stop()


def main():
    section, binary, work, ns, conf = sys.argv[1:6]
    {"fanout": fanout, "dbgrowth": dbgrowth, "status": status, "slowloris": slowloris, "fds": fds}[section](
        binary, work, ns, conf)


if __name__ == "__main__":
    main()
