#!/usr/bin/env python3
"""Helpers for run.sh: validate each tool's output, summarize nsd's counters, compare verdicts.

  report.py senderscope OUT.json DOMAINS.txt   every domain reported, exactly the expected findings
  report.py checkdmarc OUT.json DOMAINS.txt    every domain reported, everything resolved, all valid
  report.py nsd-stats STATS.txt N             queries, answers by rcode and type, per domain; exit 1 on
                                              any REFUSED/SERVFAIL/dropped answer
  report.py compare S.json C.json CASES.tsv   markdown table of both tools' verdicts on the tricky zones

A validation failure exits non-zero: a timing of a run that did not resolve everything is not comparable.
"""

import json
import sys
from collections import Counter

# What a generated benchmark domain must yield in senderscope: the 1024-bit s2 key is deliberate (so
# the DKIM key check runs its whole path), no MTA-STS or BIMI record is published, and the bulk-sender
# summary is informational. Anything else means something did not resolve as generated.
SENDERSCOPE_EXPECTED = Counter({
    ("dkim.weak_key", "warning"): 1,
    ("mta_sts.missing", "info"): 1,
    ("bimi.missing", "info"): 1,
    ("bulk_sender.requirements", "info"): 1,
})

# checkdmarc's only complaints on a generated domain: no MTA-STS and no BIMI record.
CHECKDMARC_ERRORS = {
    "mta_sts": "An MTA-STS DNS record does not exist.",
    "bimi": "A BIMI record does not exist at the default selector for this subdomain or its base domain.",
}


def load_domains(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def senderscope(out, domains_path):
    domains = load_domains(domains_path)
    report = json.load(open(out))
    seen = {d["domain"]: d for d in report["domains"]}
    problems = [f"{d}: not in the output" for d in domains if d not in seen]
    for d in domains:
        if d not in seen:
            continue
        got = Counter(
            (f["code"], f["severity"]) for c in seen[d]["checks"] for f in c["findings"]
        )
        if got != SENDERSCOPE_EXPECTED:
            problems.append(f"{d}: findings {dict(got)}")
    total = sum(len(c["findings"]) for d in report["domains"] for c in d["checks"])
    print(f"senderscope: {len(seen)}/{len(domains)} domains, {total} findings, "
          f"{len(problems)} domains not as generated")
    return problems


def checkdmarc(out, domains_path):
    domains = load_domains(domains_path)
    data = json.load(open(out))
    data = data if isinstance(data, list) else [data]
    seen = {d["domain"]: d for d in data}
    problems = [f"{d}: not in the output" for d in domains if d not in seen]
    for d in domains:
        r = seen.get(d)
        if r is None:
            continue
        why = []
        for section in ("spf", "dmarc", "smtp_tls_reporting"):
            if not r[section].get("valid"):
                why.append(f"{section} not valid: {r[section].get('error')}")
        for section, error in CHECKDMARC_ERRORS.items():
            if r[section].get("error") != error:
                why.append(f"{section}: {r[section].get('error')}")
        if r["spf"].get("dns_lookups") != 5:
            why.append(f"spf dns_lookups {r['spf'].get('dns_lookups')}")
        hosts = r["mx"].get("hosts", [])
        if len(hosts) != 2 or [len(h["addresses"]) for h in hosts] != [1, 2]:
            why.append(f"mx hosts {hosts}")
        for section, value in r.items():
            if isinstance(value, dict) and value.get("warnings"):
                why.append(f"{section} warnings: {value['warnings']}")
        if why:
            problems.append(f"{d}: " + "; ".join(why))
    print(f"checkdmarc: {len(seen)}/{len(domains)} domains, {len(problems)} domains not as generated")
    return problems


def nsd_stats(path, n):
    stats = {}
    for line in open(path):
        key, _, value = line.strip().partition("=")
        try:
            stats[key] = float(value)
        except ValueError:
            pass
    queries = int(stats.get("num.queries", 0))
    rcodes = {k.split(".")[-1]: int(v) for k, v in stats.items() if k.startswith("num.rcode.") and v}
    types = {k.split(".")[-1]: int(v) for k, v in stats.items() if k.startswith("num.type.") and v}
    extra = {k: int(stats.get(k, 0)) for k in ("num.tcp", "num.truncated", "num.dropped", "num.rxerr", "num.txerr")}
    print(f"  nsd: {queries} queries ({queries / n:.1f} per domain); rcodes {rcodes}; types {types}; "
          + ", ".join(f"{k.split('.')[-1]} {v}" for k, v in extra.items()))
    bad = {k: v for k, v in rcodes.items() if k not in ("NOERROR", "NXDOMAIN")}
    if bad or extra["num.dropped"] or extra["num.rxerr"] or extra["num.txerr"]:
        return [f"nsd answered {bad} / dropped {extra['num.dropped']}: some lookups failed"]
    return []


def senderscope_verdicts(report):
    """domain -> check -> ["code (severity)", ...]"""
    out = {}
    for d in report["domains"]:
        out[d["domain"]] = {
            c["check"]: [f"`{f['code']}` ({f['severity']})" for f in c["findings"]] or ["ok"]
            for c in d["checks"]
        }
    return out


def checkdmarc_verdict(section, r):
    s = r.get(section, {})
    parts = []
    if "valid" in s:
        parts.append("valid" if s["valid"] else "**invalid**")
    if s.get("error"):
        parts.append(f"error: {s['error']}")
    if section == "spf" and "dns_lookups" in s:
        parts.append(f"lookups {s['dns_lookups']}, void {s.get('void_dns_lookups')}")
        if s.get("parsed"):
            parts.append(f"all={s['parsed'].get('all')}")
    if section == "dmarc" and s.get("tags"):
        tags = s["tags"]
        parts.append("p=" + str(tags.get("p", {}).get("value")))
        if "pct" in tags:
            parts.append(f"pct={tags['pct']['value']}")
    if section == "mx":
        parts.append("hosts " + ", ".join(
            f"{h['hostname']} {h.get('addresses')}" for h in s.get("hosts", [])) if s.get("hosts") else "no hosts")
    parts += [f"warning: {w}" for w in s.get("warnings", [])]
    return "; ".join(parts) or "—"


SECTIONS = {"spf": ("spf", "spf"), "dmarc": ("dmarc", "dmarc"), "mx": ("mx", "mx"),
            "tlsrpt": ("tls_rpt", "smtp_tls_reporting")}


def compare(s_path, c_path, cases_path):
    s = senderscope_verdicts(json.load(open(s_path)))
    data = json.load(open(c_path))
    c = {d["domain"]: d for d in (data if isinstance(data, list) else [data])}
    print("| case | what | senderscope | checkdmarc |")
    print("|---|---|---|---|")
    for line in open(cases_path):
        case, what, domain = line.rstrip("\n").split("\t")
        ours, theirs = SECTIONS[case.split("-")[0]]
        sv = "<br>".join(s.get(domain, {}).get(ours, ["(not reported)"]))
        cv = " ".join(checkdmarc_verdict(theirs, c.get(domain, {})).split()).replace("|", "\\|")
        print(f"| {case} | {what} | {sv} | {cv} |")
    return []


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "senderscope":
        problems = senderscope(*args)
    elif cmd == "checkdmarc":
        problems = checkdmarc(*args)
    elif cmd == "nsd-stats":
        problems = nsd_stats(args[0], int(args[1]))
    elif cmd == "compare":
        problems = compare(*args)
    else:
        sys.exit(__doc__)
    for p in problems[:10]:
        print("  NOT COMPARABLE:", p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
