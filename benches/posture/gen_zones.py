#!/usr/bin/env python3
"""Write N benchmark domains as nsd zone files, one zone per domain, plus their parent zone.

Each domain dNNNN.posture-bench.test has: an SPF tree of three includes (one nested) plus `mx` and
`a:`; DMARC at quarantine with rua; two DKIM selectors (s1 RSA-2048, s2 RSA-1024); two MX hosts with
addresses; TLS-RPT. Every name is unique to its domain, so no cache shared across domains helps
senderscope (or checkdmarc) more than a real portfolio of unrelated domains would.

Usage: gen_zones.py N OUTDIR   -> OUTDIR/zones/*.zone, OUTDIR/zones.conf (nsd zone: entries),
                                  OUTDIR/domains.txt (one domain a line)
"""

import base64
import os
import subprocess
import sys

PARENT = "posture-bench.test"


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


def domain_zone(d: str, n: int, s1: str, s2: str) -> str:
    a, b = divmod(n, 250)
    return soa(d) + f"""@ IN A 192.0.2.{b + 1}
@ IN MX 10 mx1
@ IN MX 20 mx2
mx1 IN A 198.51.100.{b + 1}
mx2 IN A 198.51.100.{b + 2}
mx2 IN AAAA 2001:db8:{a:x}::{b + 2:x}
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


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    count, out = int(sys.argv[1]), sys.argv[2]
    zones = os.path.join(out, "zones")
    os.makedirs(zones, exist_ok=True)
    s1, s2 = dkim_txt(2048), dkim_txt(1024)
    domains = [f"d{n:04d}.{PARENT}" for n in range(count)]
    conf = []
    parent = os.path.join(zones, f"{PARENT}.zone")
    with open(parent, "w") as f:
        f.write(soa(PARENT) + "ns1 IN A 127.0.0.1\n")
    conf.append(f"zone:\n  name: {PARENT}\n  zonefile: {parent}\n")
    for n, d in enumerate(domains):
        path = os.path.join(zones, f"{d}.zone")
        with open(path, "w") as f:
            f.write(domain_zone(d, n, s1, s2))
        conf.append(f"zone:\n  name: {d}\n  zonefile: {path}\n")
    with open(os.path.join(out, "zones.conf"), "w") as f:
        f.write("".join(conf))
    with open(os.path.join(out, "domains.txt"), "w") as f:
        f.write("\n".join(domains) + "\n")


if __name__ == "__main__":
    main()
