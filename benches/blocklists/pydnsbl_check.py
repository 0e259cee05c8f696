"""pydnsbl checking the benchmark's IPs on its zones (z0.bench.test ... z{N-1}.bench.test) through one
nameserver; writes one "IP zone" line per listing found. pydnsbl has no nameserver option, so its
aiodns resolver is pointed at the benchmark's rbldnsd after construction. Its defaults otherwise:
5 s timeout, 2 tries, 200 queries in flight, A queries only (no TXT reasons, no test points).

Usage: python pydnsbl_check.py NAMESERVER IPS_FILE ZONES OUT_FILE
"""
import sys

from pydnsbl import DNSBLIpChecker
from pydnsbl.providers import Provider


def main():
    nameserver, ips_file, zones, out_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    ips = [line.strip() for line in open(ips_file) if line.strip()]
    providers = [Provider(f"z{z}.bench.test") for z in range(zones)]
    checker = DNSBLIpChecker(providers=providers)
    checker._resolver.nameservers = [nameserver]
    results = checker.bulk_check(ips)
    failed = sum(len(r.failed_providers) for r in results)
    if failed:
        sys.exit(f"pydnsbl: {failed} lookups failed")
    with open(out_file, "w") as out:
        for r in results:
            for zone in r.detected_by:
                out.write(f"{r.addr} {zone}\n")


if __name__ == "__main__":
    main()
