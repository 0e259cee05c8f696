#!/usr/bin/env python3
"""Write N benchmark domains as nsd zone files, one zone per domain, plus the zones around them.

Each domain dNNNN.posture-bench.test has: an SPF tree of three includes (one nested) plus `mx` and
`a:` (5 DNS-querying terms); DMARC at quarantine with rua; two DKIM selectors (s1 RSA-2048, s2
RSA-1024); two MX hosts with addresses of their own (IPv4 in 198.18.0.0/15, RFC 2544's benchmarking
block, and IPv6 in 2001:db8::/32) whose PTR records name the host back (checkdmarc looks those up);
TLS-RPT. Every name and every MX address is unique to its domain, so no cache shared across domains
helps senderscope (or checkdmarc) more than a real portfolio of unrelated domains would.

Around them: the parent zone posture-bench.test, the `test` TLD (so lookups above the domains get
NXDOMAIN, as on the Internet, and never REFUSED), and the reverse zones of the MX addresses. nsd
answers REFUSED for a name in no zone it serves; the benchmark counts REFUSED answers and must see none.

Usage: gen_zones.py N OUTDIR   -> OUTDIR/zones/*.zone, OUTDIR/zones.conf (nsd zone: entries),
                                  OUTDIR/domains.txt (one domain a line)
"""

import base64
import ipaddress
import os
import subprocess
import sys

PARENT = "posture-bench.test"
MAX_DOMAINS = 65536  # one address per domain in each /16 of 198.18.0.0/15


def dkim_txt(bits: int) -> str:
    """A DKIM key record for a fresh RSA key, as quoted strings of at most 255 bytes."""
    key = subprocess.run(
        ["openssl", "genrsa", str(bits)], check=True, capture_output=True
    ).stdout
    der = subprocess.run(
        ["openssl", "rsa", "-pubout", "-outform", "DER"],
        input=key, check=True, capture_output=True,
    ).stdout
    record = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    return " ".join(f'"{record[i:i + 250]}"' for i in range(0, len(record), 250))


def soa(origin: str) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 3600\n"
        f"@ IN SOA ns1.{PARENT}. hostmaster.{PARENT}. 1 3600 600 86400 300\n"
        f"@ IN NS ns1.{PARENT}.\n"
    )


def mx_addresses(n: int) -> tuple[str, str, str]:
    """mx1's IPv4, mx2's IPv4 and mx2's IPv6 address for domain number n, unique per domain."""
    hi, lo = divmod(n, 256)
    return f"198.18.{hi}.{lo}", f"198.19.{hi}.{lo}", f"2001:db8:{n:x}::2"


def domain_zone(d: str, n: int, s1: str, s2: str) -> str:
    a, b = divmod(n, 250)
    mx1_v4, mx2_v4, mx2_v6 = mx_addresses(n)
    return soa(d) + f"""@ IN A 192.0.2.{b + 1}
@ IN MX 10 mx1
@ IN MX 20 mx2
mx1 IN A {mx1_v4}
mx2 IN A {mx2_v4}
mx2 IN AAAA {mx2_v6}
mail IN A 203.0.113.{b + 1}
@ IN TXT "v=spf1 include:_spf1.{d} include:_spf2.{d} mx a:mail.{d} -all"
_spf1 IN TXT "v=spf1 ip4:198.51.100.0/24 include:_spf3.{d} ~all"
_spf2 IN TXT "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8:{a:x}::/48 ~all"
_spf3 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{d}"
s1._domainkey IN TXT {s1}
s2._domainkey IN TXT {s2}
_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{d}"
"""


def reverse_zones(domains: list[str]) -> dict[str, str]:
    """The reverse zones of every MX address, each PTR naming its MX host (so FCrDNS holds)."""
    zones = {
        "18.198.in-addr.arpa": soa("18.198.in-addr.arpa"),
        "19.198.in-addr.arpa": soa("19.198.in-addr.arpa"),
        "8.b.d.0.1.0.0.2.ip6.arpa": soa("8.b.d.0.1.0.0.2.ip6.arpa"),
    }
    for n, d in enumerate(domains):
        mx1_v4, mx2_v4, mx2_v6 = mx_addresses(n)
        for ip, host in ((mx1_v4, "mx1"), (mx2_v4, "mx2"), (mx2_v6, "mx2")):
            name = ipaddress.ip_address(ip).reverse_pointer
            zone = next(z for z in zones if name.endswith("." + z))
            zones[zone] += f"{name}. IN PTR {host}.{d}.\n"
    return zones


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    count, out = int(sys.argv[1]), sys.argv[2]
    if not 0 < count <= MAX_DOMAINS:
        sys.exit(f"N must be 1..{MAX_DOMAINS}")
    zones = os.path.join(out, "zones")
    os.makedirs(zones, exist_ok=True)
    s1, s2 = dkim_txt(2048), dkim_txt(1024)
    domains = [f"d{n:04d}.{PARENT}" for n in range(count)]
    files = {
        "test": "$ORIGIN test.\n$TTL 300\n"
        f"@ IN SOA ns1.{PARENT}. hostmaster.{PARENT}. 1 3600 600 86400 60\n"
        f"@ IN NS ns1.{PARENT}.\n",
        PARENT: soa(PARENT) + "ns1 IN A 127.0.0.1\n",
        **reverse_zones(domains),
        **{d: domain_zone(d, n, s1, s2) for n, d in enumerate(domains)},
    }
    conf = []
    for name, text in files.items():
        path = os.path.join(zones, f"{name}.zone")
        with open(path, "w") as f:
            f.write(text)
        conf.append(f"zone:\n  name: {name}\n  zonefile: {path}\n")
    with open(os.path.join(out, "zones.conf"), "w") as f:
        f.write("".join(conf))
    with open(os.path.join(out, "domains.txt"), "w") as f:
        f.write("\n".join(domains) + "\n")


if __name__ == "__main__":
    main()
