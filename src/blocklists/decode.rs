//! Every A answer of one query → exactly one [`Listing`].
//!
//! Order matters and is the point of this file (STYLE "What not to copy": dnsbl_exporter reads only the
//! first answer and calls any answer a listing):
//! 1. any answer outside 127.0.0.0/8 → lookup failed: RFC 5782 §2 DNSxL A records carry 127.0.0.0/8
//!    values, so anything else is a resolver rewriting NXDOMAIN (ad/search pages), nothing to trust;
//! 2. any documented refusal code → refused (the list did not answer the question we asked);
//! 3. documented listing codes → listed, with every documented meaning;
//! 4. only undocumented codes → lookup failed: never "listed" unless the codes say so.

use std::net::Ipv4Addr;

use super::zone::{Rules, Zone};
use super::{Class, Failure, Listed, Listing, Meaning};

/// Decode the A answers of a query that returned records (NXDOMAIN / NODATA never get here).
pub(super) fn decode(zone: &Zone, answers: &[Ipv4Addr]) -> Listing {
    if answers.is_empty() {
        return Listing::NotListed;
    }
    let outside: Vec<Ipv4Addr> = answers
        .iter()
        .copied()
        .filter(|a| a.octets()[0] != 127)
        .collect();
    if !outside.is_empty() {
        return Listing::LookupFailed(Failure::OutsideLoopback(outside));
    }
    for &code in answers {
        if let Some(r) = zone.refusals.iter().find(|r| r.range.contains(code)) {
            return Listing::Refused {
                code,
                meaning: r.meaning.clone(),
            };
        }
    }
    let meanings: Vec<Meaning> = answers
        .iter()
        .flat_map(|&code| meanings_of(&zone.rules, code))
        .collect();
    if meanings.is_empty() {
        return Listing::LookupFailed(Failure::Undocumented(answers.to_vec()));
    }
    Listing::Listed(Listed {
        codes: answers.to_vec(),
        meanings,
        reason: None,
    })
}

/// The documented meanings of one answer (a bitmask answer may carry several).
fn meanings_of(rules: &Rules, code: Ipv4Addr) -> Vec<Meaning> {
    match rules {
        Rules::Codes(rules) => rules
            .iter()
            .filter(|r| r.range.contains(code))
            .take(1)
            .map(|r| Meaning {
                code,
                label: r.label.clone(),
                text: r.text.clone(),
                class: r.class,
            })
            .collect(),
        // SURBL: "Octets other than the first and last one are reserved for future use and should be
        // ignored"; the last octet carries one bit per sub-list. Unknown bits are ignored (not guessed).
        Rules::Bitmask(bits) => {
            let last = code.octets()[3];
            bits.iter()
                .filter(|b| last & b.value != 0)
                .map(|b| Meaning {
                    code,
                    label: b.label.clone(),
                    text: b.text.clone(),
                    class: b.class,
                })
                .collect()
        }
        Rules::Any127 => vec![Meaning {
            code,
            label: code.to_string(),
            text: String::new(),
            class: Class::Reputation,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::{generic_zone, zones};
    use crate::config::{CodeRange, ExtraZone, ZoneKind};

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn zen() -> Zone {
        Zone::from_catalogue(zones::entry("zen.spamhaus.org").unwrap(), None)
    }

    fn labels(l: &Listing) -> Vec<String> {
        match l {
            Listing::Listed(l) => l.meanings.iter().map(|m| m.label.clone()).collect(),
            other => panic!("not listed: {other:?}"),
        }
    }

    #[test]
    fn every_answer_is_read_not_only_the_first() {
        let l = decode(
            &zen(),
            &[ip("127.0.0.4"), ip("127.0.0.2"), ip("127.0.0.10")],
        );
        assert_eq!(labels(&l), ["XBL", "SBL", "PBL"]);
        let Listing::Listed(listed) = &l else {
            panic!()
        };
        assert_eq!(listed.codes.len(), 3);
        assert!(!listed.is_policy_only());
    }

    #[test]
    fn pbl_alone_is_a_policy_listing() {
        let l = decode(&zen(), &[ip("127.0.0.11")]);
        let Listing::Listed(listed) = &l else {
            panic!()
        };
        assert!(listed.is_policy_only());
        assert_eq!(l.severity(), crate::findings::Severity::Warning);
    }

    #[test]
    fn ranges_decode_every_member() {
        for last in 4..=7 {
            assert_eq!(
                labels(&decode(&zen(), &[Ipv4Addr::new(127, 0, 0, last)])),
                ["XBL"]
            );
        }
    }

    #[test]
    fn spamhaus_error_codes_are_refusals_even_beside_listing_codes() {
        for code in [
            "127.255.255.254",
            "127.255.255.255",
            "127.255.255.252",
            "127.255.255.250",
            "127.255.255.251",
            "127.255.255.7",
        ] {
            let l = decode(&zen(), &[ip(code)]);
            assert!(
                matches!(l, Listing::Refused { code: c, .. } if c == ip(code)),
                "{code}: {l:?}"
            );
        }
        let mixed = decode(&zen(), &[ip("127.0.0.2"), ip("127.255.255.254")]);
        assert_eq!(mixed.state(), "refused");
        let dbl = Zone::from_catalogue(zones::entry("dbl.spamhaus.org").unwrap(), None);
        assert_eq!(decode(&dbl, &[ip("127.0.1.255")]).state(), "refused");
        assert_eq!(labels(&decode(&dbl, &[ip("127.0.1.104")])), ["DBL"]);
    }

    #[test]
    fn answers_outside_loopback_are_lookup_failures() {
        let l = decode(&zen(), &[ip("127.0.0.2"), ip("198.51.100.7")]);
        assert_eq!(
            l,
            Listing::LookupFailed(Failure::OutsideLoopback(vec![ip("198.51.100.7")]))
        );
        let adhoc = generic_zone("bl.example.org");
        assert_eq!(decode(&adhoc, &[ip("10.0.0.1")]).state(), "lookup_failed");
    }

    #[test]
    fn undocumented_codes_are_never_listings() {
        let l = decode(&zen(), &[ip("127.0.0.99")]);
        assert_eq!(
            l,
            Listing::LookupFailed(Failure::Undocumented(vec![ip("127.0.0.99")]))
        );
        // A documented code beside an undocumented one is a listing; the extra code stays visible.
        let Listing::Listed(l) = decode(&zen(), &[ip("127.0.0.99"), ip("127.0.0.2")]) else {
            panic!()
        };
        assert_eq!(l.codes.len(), 2);
        assert_eq!(l.meanings.len(), 1);
    }

    #[test]
    fn bitmasks_decode_each_bit_and_127_0_0_1_is_refused() {
        let uribl = Zone::from_catalogue(zones::entry("multi.uribl.com").unwrap(), None);
        assert_eq!(
            labels(&decode(&uribl, &[ip("127.0.0.14")])),
            ["black", "grey", "red"]
        );
        assert_eq!(labels(&decode(&uribl, &[ip("127.0.0.4")])), ["grey"]);
        assert_eq!(decode(&uribl, &[ip("127.0.0.1")]).state(), "refused");
        // Only bits URIBL does not use (16, 32): undocumented, not listed.
        assert_eq!(decode(&uribl, &[ip("127.0.0.48")]).state(), "lookup_failed");
        let surbl = Zone::from_catalogue(zones::entry("multi.surbl.org").unwrap(), None);
        assert_eq!(
            labels(&decode(&surbl, &[ip("127.0.0.80")])),
            ["MW", "ABUSE"]
        );
        // Middle octets are reserved and ignored.
        assert_eq!(labels(&decode(&surbl, &[ip("127.1.0.8")])), ["PH"]);
        // The SURBL test entry sets every bit: the known ones decode.
        assert_eq!(
            labels(&decode(&surbl, &[ip("127.0.0.254")])),
            ["PH", "MW", "ABUSE", "CR"]
        );
    }

    #[test]
    fn generic_semantics_for_ad_hoc_zones() {
        let z = generic_zone("bl.example.org");
        assert_eq!(labels(&decode(&z, &[ip("127.0.0.2")])), ["127.0.0.2"]);
        assert_eq!(labels(&decode(&z, &[ip("127.0.5.77")])), ["127.0.5.77"]);
        assert_eq!(decode(&z, &[ip("127.0.0.1")]).state(), "refused");
        assert_eq!(decode(&z, &[ip("127.255.255.3")]).state(), "refused");
        assert_eq!(decode(&z, &[]), Listing::NotListed);
    }

    #[test]
    fn extra_zones_use_their_configured_codes() {
        let z = Zone::from_extra(&ExtraZone {
            zone: "bl.example.net".into(),
            name: "Example".into(),
            kind: ZoneKind::Ipv4,
            listed: vec![CodeRange {
                first: ip("127.0.0.2"),
                last: ip("127.0.0.5"),
            }],
            refused: vec![CodeRange {
                first: ip("127.0.0.200"),
                last: ip("127.0.0.200"),
            }],
            delist_url: None,
        });
        assert_eq!(
            labels(&decode(&z, &[ip("127.0.0.3")])),
            ["127.0.0.2-127.0.0.5"]
        );
        assert_eq!(decode(&z, &[ip("127.0.0.200")]).state(), "refused");
        assert_eq!(decode(&z, &[ip("127.0.0.9")]).state(), "lookup_failed");
        // Configured refusals replace the defaults: 127.0.0.1 is then just undocumented.
        assert_eq!(decode(&z, &[ip("127.0.0.1")]).state(), "lookup_failed");
    }
}
