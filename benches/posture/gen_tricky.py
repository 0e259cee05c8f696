#!/usr/bin/env python3
"""Write the tricky zones on which senderscope's and checkdmarc's verdicts are compared.

One zone per case, `<case>.tricky.test`, standalone (SOA + NS), plus the parent `tricky.test` and three
report-destination zones in other organizational domains. The `test` TLD zone comes from gen_zones.py
(both scripts write into the same OUTDIR and run.sh serves everything from one nsd).

Each case names the one thing it tests; the prefix (spf-, dmarc-, mx-, tlsrpt-) is the section compared.
The verdicts and which tool is right are written up in RESULTS.md.

Usage: gen_tricky.py OUTDIR   -> OUTDIR/tricky/*.zone, OUTDIR/tricky.conf, OUTDIR/tricky.txt (the
                                 domains checked), OUTDIR/tricky-cases.tsv (case, what, domain)
"""

import os
import sys

PARENT = "tricky.test"
NS = "ns1.posture-bench.test."

def txt(record: str) -> str:
    """A TXT record's quoted strings, split every 250 bytes (receivers join them without spaces)."""
    return " ".join(f'"{record[i:i + 250]}"' for i in range(0, len(record), 250))


# (case, what it tests, zone body; "{d}" is the case's domain, or a function of the domain). Names under the domain that a case
# needs are in its own zone; names that must not exist are simply absent (NXDOMAIN).
CASES = [
    # --- SPF (RFC 7208) ---
    ("spf-plus-all", "+all passes every host", '@ TXT "v=spf1 +all"'),
    ("spf-bare-all", "all without qualifier is +all (§4.6.2)", '@ TXT "v=spf1 ip4:192.0.2.0/24 all"'),
    ("spf-qmark-all", "?all: unlisted hosts neutral", '@ TXT "v=spf1 ip4:192.0.2.0/24 ?all"'),
    ("spf-no-all", "no all, no redirect: default neutral (§4.7)", '@ TXT "v=spf1 ip4:192.0.2.0/24"'),
    ("spf-ten-lookups", "exactly 10 DNS-querying terms: allowed",
     lambda d: "@ TXT " + txt("v=spf1 " + " ".join(f"a:h{i}.{d}" for i in range(1, 11)) + " -all") + "\n"
     + "\n".join(f"h{i} A 192.0.2.{i}" for i in range(1, 12))),
    ("spf-eleven-lookups", "11 DNS-querying terms: permerror (§4.6.4)",
     lambda d: "@ TXT " + txt("v=spf1 " + " ".join(f"a:h{i}.{d}" for i in range(1, 12)) + " -all") + "\n"
     + "\n".join(f"h{i} A 192.0.2.{i}" for i in range(1, 12))),
    ("spf-nested-eleven", "1 + 5 + 1 + 4 = 11 terms through nested includes",
     '@ TXT "v=spf1 include:_a.{d} -all"\n'
     '_a TXT "v=spf1 ' + " ".join(f"a:h{i}.{{d}}" for i in range(1, 6)) + ' include:_b.{d} -all"\n'
     '_b TXT "v=spf1 ' + " ".join(f"a:h{i}.{{d}}" for i in range(6, 10)) + ' -all"\n'
     + "\n".join(f"h{i} A 192.0.2.{i}" for i in range(1, 10))),
    ("spf-two-voids", "2 void lookups: allowed (§4.6.4 limit is 2)",
     '@ TXT "v=spf1 a:nx1.{d} a:nx2.{d} ip4:192.0.2.1 -all"'),
    ("spf-three-voids", "3 void lookups (NXDOMAIN): permerror at most receivers (§4.6.4)",
     '@ TXT "v=spf1 a:nx1.{d} a:nx2.{d} a:nx3.{d} ip4:192.0.2.1 -all"'),
    ("spf-three-voids-nodata", "3 void lookups (names exist, no A): NODATA is void too",
     '@ TXT "v=spf1 a:t1.{d} a:t2.{d} a:t3.{d} ip4:192.0.2.1 -all"\n'
     't1 TXT "x"\nt2 TXT "x"\nt3 TXT "x"'),
    ("spf-mx-ten", "mx naming 10 hosts: allowed",
     '@ TXT "v=spf1 mx -all"\n' + "\n".join(f"@ MX {i} m{i}\nm{i} A 192.0.2.{i}" for i in range(1, 11))),
    ("spf-mx-eleven", "mx naming 11 hosts: permerror (§4.6.4: more than 10 MX records)",
     '@ TXT "v=spf1 mx -all"\n' + "\n".join(f"@ MX {i} m{i}\nm{i} A 192.0.2.{i}" for i in range(1, 12))),
    ("spf-mx-hosts-void", "mx whose 3 hosts have no address",
     '@ TXT "v=spf1 mx ip4:192.0.2.1 -all"\n' + "\n".join(f"@ MX {i} m{i}" for i in range(1, 4))),
    ("spf-include-nx", "include of a name that does not exist: permerror (§5.2)",
     '@ TXT "v=spf1 include:gone.{d} ip4:192.0.2.1 -all"'),
    ("spf-include-nospf", "include of a name with TXT but no SPF: permerror (§5.2)",
     '@ TXT "v=spf1 include:_x.{d} ip4:192.0.2.1 -all"\n_x TXT "some verification token"'),
    ("spf-include-loop", "include of itself", '@ TXT "v=spf1 include:{d} -all"'),
    ("spf-include-syntax", "include target with a syntax error",
     '@ TXT "v=spf1 include:_x.{d} -all"\n_x TXT "v=spf1 ip4:192.0.2.300 -all"'),
    ("spf-redirect", "redirect to a valid record", '@ TXT "v=spf1 redirect=_spf.{d}"\n_spf TXT "v=spf1 ip4:192.0.2.0/24 -all"'),
    ("spf-redirect-nx", "redirect to a name without SPF: permerror (§6.1)", '@ TXT "v=spf1 redirect=gone.{d}"'),
    ("spf-redirect-beside-all", "redirect is ignored when all is present (§6.1)",
     '@ TXT "v=spf1 ip4:192.0.2.0/24 -all redirect=gone.{d}"'),
    ("spf-ptr", "ptr mechanism (§5.5 SHOULD NOT)", '@ TXT "v=spf1 ptr -all"'),
    ("spf-exists-macro", "exists with macros", '@ TXT "v=spf1 exists:%{{i}}._ip.%{{d}} -all"'),
    ("spf-multiple", "two SPF records: permerror (§4.5)", '@ TXT "v=spf1 -all"\n@ TXT "v=spf1 ip4:192.0.2.1 -all"'),
    ("spf-glued-all", "all glued to the previous term", '@ TXT "v=spf1 ip4:192.0.2.1~all"'),
    ("spf-bad-ip4", "invalid IPv4 address", '@ TXT "v=spf1 ip4:192.0.2.300 -all"'),
    ("spf-bad-cidr", "prefix length over 32", '@ TXT "v=spf1 ip4:192.0.2.0/33 -all"'),
    ("spf-unknown-mechanism", "unknown mechanism: permerror (§5)", '@ TXT "v=spf1 foo:bar.example -all"'),
    ("spf-unknown-modifier", "unknown modifier: must be ignored (§6)", '@ TXT "v=spf1 ip4:192.0.2.1 foo=bar -all"'),
    ("spf-spf10", "v=spf10 is not an SPF record (§4.5)", '@ TXT "v=spf10 -all"'),
    ("spf-uppercase", "V=SPF1 -ALL: the version is matched case-insensitively? (§4.5, §12)", '@ TXT "V=SPF1 IP4:192.0.2.1 -ALL"'),
    ("spf-split-strings", "record split over two strings, joined without space (§3.3)",
     '@ TXT "v=spf1 ip4:192.0.2.0/24" " -all"'),
    ("spf-long-record", "record over 450 bytes (§3.4)",
     '@ TXT "v=spf1 ' + " ".join(f"ip4:198.51.100.{i}" for i in range(1, 12)) + '" " '
     + " ".join(f"ip4:203.0.113.{i}" for i in range(1, 12)) + '" " '
     + " ".join(f"ip6:2001:db8::{i:x}" for i in range(1, 12)) + ' -all"'),
    ("spf-after-all", "terms after all are never reached", '@ TXT "v=spf1 -all ip4:192.0.2.1"'),
    ("spf-exp", "exp= with an explanation record", '@ TXT "v=spf1 ip4:192.0.2.1 -all exp=why.{d}"\nwhy TXT "Not allowed: %{{i}}"'),
    ("spf-include-plus-all", "include of a record ending +all: the include passes everyone (§5.2)",
     '@ TXT "v=spf1 include:_esp.{d} -all"\n_esp TXT "v=spf1 +all"'),
    ("spf-redirect-no-all", "redirect to a record without all: neutral (§4.7)",
     '@ TXT "v=spf1 redirect=_spf.{d}"\n_spf TXT "v=spf1 ip4:192.0.2.0/24"'),
    ("spf-empty", "v=spf1 with no terms: neutral for everyone", '@ TXT "v=spf1"'),
    ("spf-trailing-space", "trailing space after the last term is allowed (§12 *SP)", '@ TXT "v=spf1 -all "'),
    ("spf-include-macro", "include target built from the sender: counted, not followable",
     '@ TXT "v=spf1 include:%{{l}}._spf.{d} -all"'),
    ("spf-cname", "the SPF TXT reached through a CNAME", '@ A 192.0.2.1\nspf CNAME _real\n_real TXT "v=spf1 -all"'),
    # --- DMARC (RFC 9989; RFC 7489 for old records) ---
    ("dmarc-pct50", "pct=50 (removed by RFC 9989)", '_dmarc TXT "v=DMARC1; p=reject; pct=50; rua=mailto:d@{d}"'),
    ("dmarc-pct0", "pct=0 (RFC 7489: policy not applied)", '_dmarc TXT "v=DMARC1; p=reject; pct=0; rua=mailto:d@{d}"'),
    ("dmarc-no-p", "no p tag, rua present: p=none (RFC 9989 §4.10.1)", '_dmarc TXT "v=DMARC1; rua=mailto:d@{d}"'),
    ("dmarc-no-p-no-rua", "no p and no rua: no DMARC processing (§4.10.1)", '_dmarc TXT "v=DMARC1; adkim=s"'),
    ("dmarc-p-not-second", "p after rua (RFC 7489 required p second; RFC 9989 does not)",
     '_dmarc TXT "v=DMARC1; rua=mailto:d@{d}; p=reject"'),
    ("dmarc-p-invalid", "p=rejected (invalid value)", '_dmarc TXT "v=DMARC1; p=rejected; rua=mailto:d@{d}"'),
    ("dmarc-policy-none", "p=none", '_dmarc TXT "v=DMARC1; p=none; rua=mailto:d@{d}"'),
    ("dmarc-sp-none", "p=reject; sp=none", '_dmarc TXT "v=DMARC1; p=reject; sp=none; rua=mailto:d@{d}"'),
    ("dmarc-np-none", "p=reject; np=none (RFC 9989 np)", '_dmarc TXT "v=DMARC1; p=reject; np=none; rua=mailto:d@{d}"'),
    ("dmarc-testing", "t=y (RFC 9989)", '_dmarc TXT "v=DMARC1; p=reject; t=y; rua=mailto:d@{d}"'),
    ("dmarc-no-rua", "no rua", '_dmarc TXT "v=DMARC1; p=reject"'),
    ("dmarc-rua-external", "rua in another org domain, no authorization record",
     '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:reports@tricky-reports.test"'),
    ("dmarc-rua-external-ok", "rua in another org domain, authorized by name",
     '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:reports@tricky-reports-ok.test"'),
    ("dmarc-rua-external-wild", "rua in another org domain, authorized by wildcard",
     '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:reports@tricky-wild.test"'),
    ("dmarc-rua-no-scheme", "rua without mailto:", '_dmarc TXT "v=DMARC1; p=reject; rua=d@{d}"'),
    ("dmarc-rua-size", "rua with !size (RFC 9989 removed it)", '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@{d}!10m"'),
    ("dmarc-ri-rf", "ri and rf (removed by RFC 9989)", '_dmarc TXT "v=DMARC1; p=reject; ri=3600; rf=afrf; rua=mailto:d@{d}"'),
    ("dmarc-multiple", "two DMARC records: all discarded", '_dmarc TXT "v=DMARC1; p=reject"\n_dmarc TXT "v=DMARC1; p=none"'),
    ("dmarc-apex-only", "record at the apex, none at _dmarc", '@ TXT "v=DMARC1; p=reject; rua=mailto:d@{d}"'),
    ("dmarc-unrelated", "an unrelated TXT beside the record at _dmarc",
     '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@{d}"\n_dmarc TXT "google-site-verification=abc"'),
    ("dmarc-spf-at-dmarc", "an SPF record at _dmarc only", '_dmarc TXT "v=spf1 -all"'),
    ("dmarc-uppercase-v", "v=dmarc1 in lower case", '_dmarc TXT "v=dmarc1; p=reject; rua=mailto:d@{d}"'),
    ("dmarc-missing", "no record here or above (the walk reaches tricky.test and test)", '@ A 192.0.2.1'),
    ("dmarc-inherited", "sub.dmarc-inherited.tricky.test has no record; the parent's applies",
     '_dmarc TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@{d}"\nsub A 192.0.2.1'),
    ("dmarc-bad-fo", "fo=2 (invalid value)", '_dmarc TXT "v=DMARC1; p=reject; fo=2; rua=mailto:d@{d}"'),
    ("dmarc-duplicate-tag", "p given twice", '_dmarc TXT "v=DMARC1; p=reject; p=none; rua=mailto:d@{d}"'),
    ("dmarc-cname", "_dmarc is a CNAME to a record elsewhere (common with ESPs)",
     '_dmarc CNAME policy.tricky-reports-ok.test.'),
    ("dmarc-split-strings", "record split over two strings (RFC 9989 §4.5: concatenated)",
     '_dmarc TXT "v=DMARC1; p=reject; " "rua=mailto:d@{d}"'),
    ("dmarc-wsp", "spaces around = and ; (RFC 7489 ABNF allows *WSP)", '_dmarc TXT "v=DMARC1 ; p = reject ; rua = mailto:d@{d}"'),
    ("dmarc-mailto-upper", "MAILTO: in capitals (URI schemes are case-insensitive, RFC 3986 §3.1)",
     '_dmarc TXT "v=DMARC1; p=reject; rua=MAILTO:d@{d}"'),
    ("dmarc-rua-mixed", "one internal rua, one external without authorization",
     '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@{d},mailto:r@tricky-reports.test"'),
    ("dmarc-rua-spaces", "space after the comma between rua URIs",
     '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@{d}, mailto:e@{d}"'),
    ("dmarc-sp-invalid", "sp=bogus: RFC 9989 §4.10.1 then treats the record as p=none",
     '_dmarc TXT "v=DMARC1; p=reject; sp=bogus; rua=mailto:d@{d}"'),
    ("dmarc-adkim-bad", "adkim=x (invalid value, default r applies)", '_dmarc TXT "v=DMARC1; p=reject; adkim=x; rua=mailto:d@{d}"'),
    ("dmarc-psd-y", "psd=y on an ordinary domain's own record", '_dmarc TXT "v=DMARC1; p=reject; psd=y; rua=mailto:d@{d}"'),
    ("dmarc-no-semicolon-end", "no space after ;", '_dmarc TXT "v=DMARC1;p=reject;rua=mailto:d@{d}"'),
    # --- MX (RFC 5321, RFC 7505, RFC 2181 §10.3) ---
    ("mx-null", "null MX", '@ MX 0 .'),
    ("mx-null-plus", "null MX beside another MX", '@ MX 0 .\n@ MX 10 mx\nmx A 192.0.2.1'),
    ("mx-cname", "MX target is a CNAME (RFC 2181 §10.3)", '@ MX 10 alias\nalias CNAME host\nhost A 192.0.2.1'),
    ("mx-no-address", "MX target exists but has no A/AAAA", '@ MX 10 mx\nmx TXT "x"'),
    ("mx-nx-target", "MX target does not exist", '@ MX 10 gone'),
    ("mx-one-of-two-bad", "one of two MX targets unresolvable", '@ MX 10 mx1\n@ MX 20 gone\nmx1 A 192.0.2.1'),
    ("mx-ip-literal", "MX target written as an IP address", '@ MX 10 192.0.2.1.'),
    ("mx-none", "no MX, only an A record (implicit MX, RFC 5321 §5.1)", '@ A 192.0.2.1'),
    ("mx-duplicate-host", "the same host in two MX records", '@ MX 10 mx\n@ MX 20 mx\nmx A 192.0.2.1'),
    # --- TLS-RPT (RFC 8460) ---
    ("tlsrpt-no-rua", "no rua", '_smtp._tls TXT "v=TLSRPTv1"'),
    ("tlsrpt-bad-scheme", "rua neither mailto: nor https:", '_smtp._tls TXT "v=TLSRPTv1; rua=ftp://x.example/r"'),
]

# Cases whose checked name is below the zone's apex (a CNAME cannot sit at an apex; a subdomain inherits).
CHECKED_BELOW_APEX = {"dmarc-inherited": "sub", "spf-cname": "spf"}

EXTERNAL = {
    # No authorization at all.
    "tricky-reports.test": "@ A 192.0.2.1\n@ MX 10 @",
    # Named authorization for dmarc-rua-external-ok.tricky.test (RFC 9990 §3.2.3).
    "tricky-reports-ok.test": "@ A 192.0.2.1\n@ MX 10 @\n"
    'dmarc-rua-external-ok.tricky.test._report._dmarc TXT "v=DMARC1"\n'
    # The policy dmarc-cname.tricky.test's _dmarc CNAME points at.
    'policy TXT "v=DMARC1; p=quarantine; rua=mailto:d@dmarc-cname.tricky.test"',
    # Wildcard authorization.
    "tricky-wild.test": '@ A 192.0.2.1\n@ MX 10 @\n*._report._dmarc TXT "v=DMARC1"',
}


def zone(origin: str, body: str) -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 3600\n"
        f"@ IN SOA {NS} hostmaster.{origin}. 1 3600 600 86400 300\n@ IN NS {NS}\n{body}\n"
    )


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    zones = os.path.join(out, "tricky")
    os.makedirs(zones, exist_ok=True)
    files = {PARENT: zone(PARENT, "")}
    files.update({name: zone(name, body) for name, body in EXTERNAL.items()})
    domains = []
    for case, _what, body in CASES:
        d = f"{case}.{PARENT}"
        files[d] = zone(d, body(d) if callable(body) else body.format(d=d))
        below = CHECKED_BELOW_APEX.get(case)
        domains.append(f"{below}.{d}" if below else d)
    conf = []
    for name, text in files.items():
        path = os.path.join(zones, f"{name}.zone")
        with open(path, "w") as f:
            f.write(text)
        conf.append(f"zone:\n  name: {name}\n  zonefile: {path}\n")
    with open(os.path.join(out, "tricky.conf"), "w") as f:
        f.write("".join(conf))
    with open(os.path.join(out, "tricky.txt"), "w") as f:
        f.write("\n".join(domains) + "\n")
    with open(os.path.join(out, "tricky-cases.tsv"), "w") as f:
        for (case, what, _), domain in zip(CASES, domains):
            f.write(f"{case}\t{what}\t{domain}\n")


if __name__ == "__main__":
    main()
