#!/usr/bin/env python3
"""Write the hardening benchmark's zone `hard.test` for nsd (one zone file).

- SPF fan-out: `fan-mx.hard.test` includes INCLUDES records of TERMS `mx:` terms each, every target
  with 10 MX hosts (a wildcard MX per include); `fan-a.hard.test` the same with `a:` terms. Every
  target name is distinct, so no cache shortens the walk.
- `chg.hard.test`: an SPF record including the first CHG of the `fan-a` include records; CHG is an
  argument so the benchmark can rewrite the zone with another count every round (a result that changes
  every round, for the state DB's growth).
- `dNNNNN.hard.test` for the status load: SPF, DMARC with rua, one MX.

Usage: gen_zone.py OUTFILE INCLUDES TERMS DOMAINS CHG SERIAL
"""
import sys


def txt(record: str) -> str:
    """A TXT record as quoted character-strings of at most 255 bytes (RFC 7208 §3.3)."""
    return " ".join(f'"{record[i:i + 250]}"' for i in range(0, len(record), 250))


def main():
    out, includes, terms, domains, chg, serial = sys.argv[1], *map(int, sys.argv[2:7])
    z = [
        "$ORIGIN hard.test.\n$TTL 3600\n",
        f"@ IN SOA ns1.hard.test. hostmaster.hard.test. {serial} 3600 600 86400 300\n",
        "@ IN NS ns1.hard.test.\nns1 IN A 127.0.0.1\n",
        "@ IN MX 10 h0.hard.test.\n",
    ]
    for m in range(10):
        z.append(f"h{m} IN A 192.0.2.{m + 1}\n")
    for kind, sub in (("mx", "m"), ("a", "a")):
        incs = " ".join(f"include:i{k}.{sub}.hard.test" for k in range(includes))
        z.append(f"fan-{kind} IN TXT {txt(f'v=spf1 {incs} -all')}\n")
        for k in range(includes):
            body = " ".join(f"{kind}:t{j}.i{k}.{sub}.hard.test" for j in range(terms))
            z.append(f"i{k}.{sub} IN TXT {txt(f'v=spf1 {body} -all')}\n")
            if kind == "mx":
                for m in range(10):
                    z.append(f"*.i{k}.{sub} IN MX {m} h{m}.hard.test.\n")
            else:
                z.append(f"*.i{k}.{sub} IN A 192.0.2.200\n")
    incs = " ".join(f"include:i{k}.a.hard.test" for k in range(chg))
    z.append(f"chg IN TXT {txt(f'v=spf1 {incs} -all')}\n")
    z.append('_dmarc.chg IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@hard.test"\n')
    for i in range(domains):
        d = f"d{i:05d}"
        z.append(f'{d} IN TXT "v=spf1 ip4:192.0.2.{i % 250 + 1} -all"\n')
        z.append(f'_dmarc.{d} IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@hard.test"\n')
        z.append(f"{d} IN MX 10 h{i % 10}.hard.test.\n")
    with open(out, "w") as f:
        f.writelines(z)


if __name__ == "__main__":
    main()
