//! The curated catalogue of blocklist zones, as data: what each answer means, which answers are the
//! list refusing us, where to ask for removal, and where those facts come from.
//!
//! Adding or correcting a list is an edit to [`CATALOGUE`], never a code branch. Facts that could not be
//! checked against the list's own documentation are named in each entry's `unverified` note; the decoder
//! is built so that a wrong or missing code yields "could not check", never a false listing.
//!
//! [`DEAD_ZONES`] are lists that are switched off or lapsed. They are never defaults: a dead zone whose
//! domain was re-registered can answer "listed" for every address.

use std::net::Ipv4Addr;

use super::Class;
use crate::config::ZoneKind;

/// One zone of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The public zone queried (`zen.spamhaus.org`); also its name in config, metrics and JSON.
    pub zone: &'static str,
    /// A human name for messages.
    pub name: &'static str,
    /// What it lists.
    pub kind: ZoneKind,
    /// In the default set (`blocklists.defaults: true`); `false` means opt-in via `blocklists.enable`.
    pub default: bool,
    /// How its answers decode into listings.
    pub answers: Answers,
    /// Answers that mean the list refused our query: never listings.
    pub refusals: &'static [Refusal],
    /// Domain lists only: (name that must be listed, name that must not be), when the list documents
    /// other test entries than RFC 5782 §5's `test` / `invalid`.
    pub domain_test_points: Option<(&'static str, &'static str)>,
    /// Spamhaus Data Query Service: the zone under `<key>.` used instead when a DQS key is configured.
    pub dqs: Option<&'static str>,
    /// Where a listed sender asks for removal.
    pub delist_url: &'static str,
    /// The primary source of the codes below.
    pub source: &'static str,
    /// What could not be verified against the primary source (empty when all was).
    pub unverified: &'static str,
}

/// How a list encodes why something is listed.
#[derive(Debug, Clone, Copy)]
pub enum Answers {
    /// Each documented answer (or range of answers) has one meaning; several answers may come at once.
    Codes(&'static [Code]),
    /// The last octet of a 127.0.0.0/8 answer is a bitmask, one bit per sub-list (SURBL, URIBL).
    Bitmask(&'static [Bit]),
}

/// A documented listing answer (or inclusive range of answers).
#[derive(Debug, Clone, Copy)]
pub struct Code {
    /// First answer of the range.
    pub first: Ipv4Addr,
    /// Last answer of the range (equal to `first` for one code).
    pub last: Ipv4Addr,
    /// Short name of the sub-list (`SBL`, `PBL`).
    pub label: &'static str,
    /// What a listing means, in words.
    pub meaning: &'static str,
    /// Reputation (the address misbehaved) or policy (what kind of address it is).
    pub class: Class,
}

/// One bit of a bitmask answer.
#[derive(Debug, Clone, Copy)]
pub struct Bit {
    /// The bit's value in the last octet (8 = 0b1000).
    pub value: u8,
    /// Short name of the sub-list.
    pub label: &'static str,
    /// What a listing means, in words.
    pub meaning: &'static str,
    /// Reputation or policy.
    pub class: Class,
}

/// A documented answer (or range) by which the list refuses to answer us.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// First answer of the range.
    pub first: Ipv4Addr,
    /// Last answer of the range.
    pub last: Ipv4Addr,
    /// What the list says the answer means.
    pub meaning: &'static str,
    /// How to fix it, when the fix is on our side.
    pub fix: Option<&'static str>,
}

const fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

const fn code(last_octet: u8, label: &'static str, meaning: &'static str, class: Class) -> Code {
    Code {
        first: ip(127, 0, 0, last_octet),
        last: ip(127, 0, 0, last_octet),
        label,
        meaning,
        class,
    }
}

const fn dbl(last_octet: u8, meaning: &'static str) -> Code {
    Code {
        first: ip(127, 0, 1, last_octet),
        last: ip(127, 0, 1, last_octet),
        label: "DBL",
        meaning,
        class: Class::Reputation,
    }
}

const fn refusal(
    first: Ipv4Addr,
    last: Ipv4Addr,
    meaning: &'static str,
    fix: Option<&'static str>,
) -> Refusal {
    Refusal {
        first,
        last,
        meaning,
        fix,
    }
}

const PUBLIC_RESOLVER_FIX: &str = "query through your own recursive resolver (one that does not forward to a public DNS service) or configure a free Spamhaus DQS key (blocklists.spamhaus_dqs_key_file)";

/// Spamhaus: "127.255.255.0/24 … should NOT be interpreted as any sort of reputation"
/// (https://www.spamhaus.org/news/article/788/). Specific codes first; the rest of the /24 last.
const SPAMHAUS_ERRORS: &[Refusal] = &[
    refusal(
        ip(127, 255, 255, 250),
        ip(127, 255, 255, 251),
        "the Spamhaus DQS key was not accepted (disabled or rejected)",
        Some("check the key in blocklists.spamhaus_dqs_key_file against your Spamhaus DQS account"),
    ),
    refusal(
        ip(127, 255, 255, 252),
        ip(127, 255, 255, 252),
        "typing error in the DNSBL name",
        Some("check the zone name"),
    ),
    refusal(
        ip(127, 255, 255, 254),
        ip(127, 255, 255, 254),
        "the query came through a public/open resolver or one with unattributable reverse DNS",
        Some(PUBLIC_RESOLVER_FIX),
    ),
    refusal(
        ip(127, 255, 255, 255),
        ip(127, 255, 255, 255),
        "excessive number of queries (over the free-use limits)",
        Some(PUBLIC_RESOLVER_FIX),
    ),
    refusal(
        ip(127, 255, 255, 0),
        ip(127, 255, 255, 255),
        "Spamhaus error code (127.255.255.0/24 is never a listing)",
        None,
    ),
];

const SPAMHAUS_DBL_ERRORS: &[Refusal] = &[
    refusal(
        ip(127, 0, 1, 255),
        ip(127, 0, 1, 255),
        "an IP address was queried against the DBL, which lists domains only",
        None,
    ),
    SPAMHAUS_ERRORS[0],
    SPAMHAUS_ERRORS[1],
    SPAMHAUS_ERRORS[2],
    SPAMHAUS_ERRORS[3],
    SPAMHAUS_ERRORS[4],
];

/// URIBL and SURBL answer 127.0.0.1 when they refuse a resolver (bit 0x1 is never a sub-list).
const URI_LIST_BLOCKED_FIX: &str = "query through your own recursive resolver instead of a public or large shared one, or buy a data feed for high volumes";

/// Every catalogued zone.
pub const CATALOGUE: &[Entry] = &[
    Entry {
        zone: "zen.spamhaus.org",
        name: "Spamhaus ZEN",
        kind: ZoneKind::Ip,
        default: true,
        answers: Answers::Codes(&[
            code(
                2,
                "SBL",
                "spam source or spam operation (Spamhaus Block List)",
                Class::Reputation,
            ),
            code(
                3,
                "CSS",
                "low-reputation bulk sending detected automatically (Spamhaus CSS)",
                Class::Reputation,
            ),
            code(
                9,
                "DROP",
                "hijacked or criminal network (Spamhaus DROP, always together with SBL)",
                Class::Reputation,
            ),
            Code {
                first: ip(127, 0, 0, 4),
                last: ip(127, 0, 0, 7),
                label: "XBL",
                meaning: "exploited or infected host (Spamhaus XBL)",
                class: Class::Reputation,
            },
            code(
                10,
                "PBL",
                "end-user address range that its ISP says should not send mail directly (Spamhaus PBL, ISP-maintained)",
                Class::Policy,
            ),
            code(
                11,
                "PBL",
                "end-user address range that should not send mail directly (Spamhaus PBL, Spamhaus-maintained)",
                Class::Policy,
            ),
            code(
                30,
                "BCL",
                "botnet controller (Spamhaus BCL)",
                Class::Reputation,
            ),
        ]),
        refusals: SPAMHAUS_ERRORS,
        domain_test_points: None,
        dqs: Some("zen.dq.spamhaus.net"),
        delist_url: "https://check.spamhaus.org/",
        source: "https://docs.spamhaus.com/datasets/docs/source/10-data-type-documentation/datasets/040-zones.html",
        unverified: "the split of 127.255.255.250 vs .251 (Spamhaus documents both as invalid-DQS-key codes); whether ZEN lists the RFC 5782 IPv6 test point ::FFFF:7F00:2",
    },
    Entry {
        zone: "dbl.spamhaus.org",
        name: "Spamhaus DBL",
        kind: ZoneKind::Domain,
        default: true,
        answers: Answers::Codes(&[
            dbl(2, "low-reputation (spam) domain"),
            dbl(4, "phishing domain"),
            dbl(5, "malware domain"),
            dbl(6, "botnet command-and-control domain"),
            dbl(102, "abused legitimate domain (spam)"),
            dbl(103, "abused redirector domain"),
            dbl(104, "abused legitimate domain used in phishing"),
            dbl(105, "abused legitimate domain used by malware"),
            dbl(106, "abused legitimate domain hosting command-and-control"),
        ]),
        refusals: SPAMHAUS_DBL_ERRORS,
        domain_test_points: Some(("dbltest.com", "invalid")),
        dqs: Some("dbl.dq.spamhaus.net"),
        delist_url: "https://check.spamhaus.org/",
        source: "https://docs.spamhaus.com/datasets/docs/source/10-data-type-documentation/datasets/040-zones.html",
        unverified: "the test entry dbltest.com (Spamhaus' documented DBL test domain, not re-read here)",
    },
    Entry {
        zone: "bl.spamcop.net",
        name: "SpamCop",
        kind: ZoneKind::Ipv4,
        default: true,
        answers: Answers::Codes(&[code(
            2,
            "SpamCop",
            "reported as a spam source by SpamCop users and traps",
            Class::Reputation,
        )]),
        refusals: &[],
        domain_test_points: None,
        dqs: None,
        delist_url: "https://www.spamcop.net/bl.shtml",
        source: "https://www.spamcop.net/bl.shtml",
        unverified: "return code 127.0.0.2 taken from secondary sources",
    },
    Entry {
        zone: "psbl.surriel.com",
        name: "PSBL",
        kind: ZoneKind::Ipv4,
        default: true,
        answers: Answers::Codes(&[code(
            2,
            "PSBL",
            "sent mail to PSBL spam traps",
            Class::Reputation,
        )]),
        refusals: &[],
        domain_test_points: None,
        dqs: None,
        delist_url: "https://psbl.org/",
        source: "https://psbl.org/",
        unverified: "return code 127.0.0.2 taken from secondary sources",
    },
    Entry {
        zone: "bl.mailspike.net",
        name: "Mailspike",
        kind: ZoneKind::Ipv4,
        default: true,
        // bl combines z.mailspike.net (127.0.0.2) with rep.mailspike.net levels L3–L5.
        answers: Answers::Codes(&[
            code(
                2,
                "Mailspike Z",
                "part of a distributed spam wave seen right now",
                Class::Reputation,
            ),
            code(
                10,
                "Mailspike L5",
                "worst possible sending reputation",
                Class::Reputation,
            ),
            code(
                11,
                "Mailspike L4",
                "very bad sending reputation",
                Class::Reputation,
            ),
            code(
                12,
                "Mailspike L3",
                "bad sending reputation",
                Class::Reputation,
            ),
        ]),
        refusals: &[],
        domain_test_points: None,
        dqs: None,
        delist_url: "https://mailspike.org/",
        source: "https://mailspike.org/usage.html",
        unverified: "the level-to-code mapping L5/L4/L3 = .10/.11/.12 (the usage page's table did not survive extraction; secondary sources agree)",
    },
    Entry {
        zone: "dnsbl-1.uceprotect.net",
        name: "UCEPROTECT Level 1",
        kind: ZoneKind::Ipv4,
        default: true,
        // Levels 2 and 3 list whole allocations and ASNs by design: collateral, never catalogued.
        answers: Answers::Codes(&[code(
            2,
            "UCEPROTECT-1",
            "this single address hit UCEPROTECT spam traps (expires after 7 days without new hits)",
            Class::Reputation,
        )]),
        refusals: &[],
        domain_test_points: None,
        dqs: None,
        delist_url: "https://www.uceprotect.net/en/rblcheck.php",
        source: "https://www.uceprotect.net/en/",
        unverified: "return code 127.0.0.2 taken from secondary sources",
    },
    Entry {
        zone: "all.spamrats.com",
        name: "SpamRATS",
        kind: ZoneKind::Ipv4,
        // Opt-in: only the RATS-Dyna code could be confirmed on spamrats.com; a wrong code would make
        // every listed address "could not check" rather than a false listing, but noisily.
        default: false,
        answers: Answers::Codes(&[
            code(
                36,
                "RATS-Dyna",
                "looks like a dynamic or home connection, not a mail server",
                Class::Policy,
            ),
            code(
                37,
                "RATS-NoPtr",
                "no reverse DNS on a network that lets such hosts send on port 25",
                Class::Policy,
            ),
            code(
                38,
                "RATS-Spam",
                "shown to send spam (compromised host, relay or spam server)",
                Class::Reputation,
            ),
            code(
                43,
                "RATS-Auth",
                "seen guessing passwords or abusing authentication",
                Class::Reputation,
            ),
        ]),
        refusals: &[],
        domain_test_points: None,
        dqs: None,
        delist_url: "https://www.spamrats.com/removal.php",
        source: "https://www.spamrats.com/lists.php",
        unverified: "codes .37, .38, .43 and the answers of the combined all.spamrats.com zone (only .36 for RATS-Dyna is confirmed by spamrats.com)",
    },
    Entry {
        zone: "b.barracudacentral.org",
        name: "Barracuda Reputation Block List",
        kind: ZoneKind::Ipv4,
        // Opt-in: Barracuda answers only resolvers registered with it (free).
        default: false,
        answers: Answers::Codes(&[code(
            2,
            "BRBL",
            "poor sending reputation at Barracuda",
            Class::Reputation,
        )]),
        refusals: &[],
        domain_test_points: None,
        dqs: None,
        delist_url: "https://www.barracudacentral.org/rbl/removal-request",
        source: "https://www.barracudacentral.org/rbl",
        unverified: "return code 127.0.0.2 and what unregistered resolvers receive",
    },
    Entry {
        zone: "multi.surbl.org",
        name: "SURBL multi",
        kind: ZoneKind::Domain,
        default: true,
        answers: Answers::Bitmask(&[
            Bit {
                value: 8,
                label: "PH",
                meaning: "seen in phishing messages",
                class: Class::Reputation,
            },
            Bit {
                value: 16,
                label: "MW",
                meaning: "seen in malware messages or hosting malware",
                class: Class::Reputation,
            },
            Bit {
                value: 64,
                label: "ABUSE",
                meaning: "seen in spam or other abuse",
                class: Class::Reputation,
            },
            Bit {
                value: 128,
                label: "CR",
                meaning: "cracked (compromised) site used by spammers",
                class: Class::Reputation,
            },
        ]),
        refusals: &[refusal(
            ip(127, 0, 0, 1),
            ip(127, 0, 0, 1),
            "SURBL blocked the query (resolver over its free-use limit)",
            Some(URI_LIST_BLOCKED_FIX),
        )],
        // "2.0.0.127 and test.surbl.org … are in all SURBL lists" (SURBL implementation guidelines).
        domain_test_points: Some(("test.surbl.org", "invalid")),
        dqs: None,
        delist_url: "https://www.surbl.org/surbl-analysis",
        source: "https://www.surbl.org/lists",
        unverified: "the meaning of 127.0.0.1 (taken from secondary sources)",
    },
    Entry {
        zone: "multi.uribl.com",
        name: "URIBL multi",
        kind: ZoneKind::Domain,
        default: true,
        answers: Answers::Bitmask(&[
            Bit {
                value: 2,
                label: "black",
                meaning: "domain seen in spam (URIBL black)",
                class: Class::Reputation,
            },
            Bit {
                value: 4,
                label: "grey",
                meaning: "domain of a bulk sender some recipients call spam (URIBL grey)",
                class: Class::Reputation,
            },
            Bit {
                value: 8,
                label: "red",
                meaning: "newly seen domain in spam, still being reviewed (URIBL red)",
                class: Class::Reputation,
            },
        ]),
        // "All queries that we refuse, we return a 127.0.0.1 response to" (https://uribl.com/refused.shtml).
        refusals: &[refusal(
            ip(127, 0, 0, 1),
            ip(127, 0, 0, 1),
            "URIBL refused the query (public or high-volume resolver)",
            Some(URI_LIST_BLOCKED_FIX),
        )],
        domain_test_points: Some(("test.uribl.com", "invalid")),
        dqs: None,
        delist_url: "https://admin.uribl.com/",
        source: "https://uribl.com/about.shtml",
        unverified: "the test entry test.uribl.com and the meanings of the grey and red bits",
    },
];

/// A list that is switched off or lapsed: never a default, never enabled from the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct DeadZone {
    /// The domain under which the list's zones lived (matches the domain and every name under it).
    pub domain: &'static str,
    /// What happened to it.
    pub why: &'static str,
}

/// Dead lists (notes/dns-checks-and-blocklists.md §4.4).
pub const DEAD_ZONES: &[DeadZone] = &[
    DeadZone {
        domain: "sorbs.net",
        why: "SORBS was switched off on 2024-06-05",
    },
    DeadZone {
        domain: "ix.dnsbl.manitu.net",
        why: "NiX Spam shut down on 2025-01-16",
    },
    DeadZone {
        domain: "spamcannibal.org",
        why: "spamcannibal lapsed; its wildcard listed everyone",
    },
    DeadZone {
        domain: "njabl.org",
        why: "NJABL closed in 2013",
    },
    DeadZone {
        domain: "ahbl.org",
        why: "AHBL closed in 2015 and answered 'listed' for every query",
    },
    DeadZone {
        domain: "dsbl.org",
        why: "DSBL closed in 2009",
    },
    DeadZone {
        domain: "cbl.abuseat.org",
        why: "the CBL was folded into Spamhaus XBL (part of zen.spamhaus.org)",
    },
];

/// The catalogue entry for `zone` (case-insensitive, trailing dot ignored).
pub fn entry(zone: &str) -> Option<&'static Entry> {
    let zone = crate::dns::normalize(zone);
    CATALOGUE.iter().find(|e| e.zone == zone)
}

/// Whether `zone` is (under) a dead list, and why.
pub fn dead(zone: &str) -> Option<&'static DeadZone> {
    let zone = crate::dns::normalize(zone);
    DEAD_ZONES.iter().find(|d| {
        zone == d.domain
            || zone
                .strip_suffix(d.domain)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_dead_list_is_a_default_or_in_the_catalogue() {
        for e in CATALOGUE {
            assert!(dead(e.zone).is_none(), "{} is a dead list", e.zone);
        }
        for name in [
            "dnsbl.sorbs.net",
            "spam.dnsbl.sorbs.net",
            "ix.dnsbl.manitu.net",
            "bl.spamcannibal.org",
            "dnsbl.njabl.org",
            "combined.njabl.org",
            "dnsbl.ahbl.org",
            "list.dsbl.org",
            "cbl.abuseat.org",
        ] {
            assert!(dead(name).is_some(), "{name} should be known dead");
            assert!(entry(name).is_none());
        }
        assert!(dead("notsorbs.net").is_none(), "suffix match is per label");
    }

    #[test]
    fn default_set_is_the_curated_one() {
        let defaults: Vec<&str> = CATALOGUE
            .iter()
            .filter(|e| e.default)
            .map(|e| e.zone)
            .collect();
        assert_eq!(
            defaults,
            [
                "zen.spamhaus.org",
                "dbl.spamhaus.org",
                "bl.spamcop.net",
                "psbl.surriel.com",
                "bl.mailspike.net",
                "dnsbl-1.uceprotect.net",
                "multi.surbl.org",
                "multi.uribl.com",
            ]
        );
        assert!(!entry("b.barracudacentral.org").unwrap().default);
        assert!(
            CATALOGUE
                .iter()
                .all(|e| !e.zone.contains("uceprotect") || e.zone == "dnsbl-1.uceprotect.net")
        );
    }

    #[test]
    fn every_entry_has_sources_and_sane_codes() {
        let mut seen = std::collections::HashSet::new();
        for e in CATALOGUE {
            assert!(seen.insert(e.zone), "duplicate {}", e.zone);
            assert!(e.source.starts_with("https://"), "{} source", e.zone);
            assert!(e.delist_url.starts_with("https://"), "{} delist", e.zone);
            match e.answers {
                Answers::Codes(codes) => {
                    assert!(!codes.is_empty());
                    for c in codes {
                        assert!(c.first <= c.last, "{}: {}", e.zone, c.label);
                        assert_eq!(c.first.octets()[0], 127);
                        // No listing code may overlap a refusal: refusals are never listings.
                        for r in e.refusals {
                            assert!(
                                c.last < r.first || r.last < c.first,
                                "{} overlaps refusal",
                                c.label
                            );
                        }
                        assert!(
                            c.first != Ipv4Addr::new(127, 0, 0, 1),
                            "127.0.0.1 is the RFC 5782 'not listed' point"
                        );
                    }
                }
                Answers::Bitmask(bits) => {
                    for b in bits {
                        assert_eq!(b.value.count_ones(), 1, "{}: {}", e.zone, b.label);
                        assert_ne!(b.value, 1, "bit 0x1 means refused");
                    }
                }
            }
        }
    }

    #[test]
    fn spamhaus_error_codes_are_refusals_never_listings() {
        for zone in ["zen.spamhaus.org", "dbl.spamhaus.org"] {
            let e = entry(zone).unwrap();
            for last in [250, 251, 252, 254, 255, 1] {
                let code = Ipv4Addr::new(127, 255, 255, last);
                assert!(
                    e.refusals.iter().any(|r| r.first <= code && code <= r.last),
                    "{zone} {code}"
                );
            }
            assert!(e.dqs.is_some());
        }
        let dbl = entry("dbl.spamhaus.org").unwrap();
        assert!(
            dbl.refusals
                .iter()
                .any(|r| r.first == Ipv4Addr::new(127, 0, 1, 255))
        );
    }

    #[test]
    fn policy_lists_are_flagged() {
        let zen = entry("zen.spamhaus.org").unwrap();
        let Answers::Codes(codes) = zen.answers else {
            panic!()
        };
        for c in codes {
            assert_eq!(c.class == Class::Policy, c.label == "PBL", "{}", c.label);
        }
        let rats = entry("all.spamrats.com").unwrap();
        let Answers::Codes(codes) = rats.answers else {
            panic!()
        };
        assert!(
            codes
                .iter()
                .any(|c| c.label == "RATS-Dyna" && c.class == Class::Policy)
        );
        assert!(
            codes
                .iter()
                .any(|c| c.label == "RATS-NoPtr" && c.class == Class::Policy)
        );
    }
}
