#!/usr/bin/env python3
"""checkdmarc's library on the brief's workload only: SPF tree, DMARC, MX hosts and their addresses.

The checkdmarc CLI (what run.sh times first, with its defaults) also reads SOA, NS, DNSSEC (DS, DNSKEY),
TLSA and PTR records, MTA-STS, TLS-RPT and BIMI: about three times the queries senderscope sends. This
script calls the same functions the CLI does for SPF and DMARC, and checkdmarc's own MX and address
helpers, nothing else: a lower bound for checkdmarc on "SPF tree + DMARC + MX" (it has no DKIM check),
so the ratio against it is the like-for-like one.

Usage: checkdmarc_core.py NAMESERVER DOMAINS.txt OUT.json   (run with the checkdmarc venv's python)
Exit 1 if any domain's SPF or DMARC is not valid or an MX host has no address (nothing resolved wrong).
"""

import json
import sys

from checkdmarc.dmarc import check_dmarc
from checkdmarc.spf import check_spf
from checkdmarc.utils import get_a_records, get_mx_records


def main() -> None:
    nameserver, domains_path, out = sys.argv[1:4]
    ns = [nameserver]
    domains = [line.strip() for line in open(domains_path) if line.strip()]
    results, bad = [], 0
    for domain in domains:
        spf = check_spf(domain, nameservers=ns)
        dmarc = check_dmarc(domain, nameservers=ns)
        hosts = [
            {"hostname": mx["hostname"], "addresses": get_a_records(mx["hostname"], nameservers=ns)}
            for mx in get_mx_records(domain, nameservers=ns)
        ]
        ok = spf.get("valid") and dmarc.get("valid") and hosts and all(h["addresses"] for h in hosts)
        bad += not ok
        results.append({"domain": domain, "spf": spf, "dmarc": dmarc, "mx": hosts})
    with open(out, "w") as f:
        json.dump(results, f, default=str)
    print(f"checkdmarc (library, SPF + DMARC + MX only): {len(results)}/{len(domains)} domains, "
          f"{bad} not as generated")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
