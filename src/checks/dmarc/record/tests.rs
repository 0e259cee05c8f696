//! The DMARC record reader on RFC 9989 and RFC 7489-era records.

use super::*;

fn record(text: &str) -> DmarcRecord {
    match classify(text) {
        Classified::Dmarc(r) => *r,
        other => panic!("{text}: {other:?}"),
    }
}

fn problem_tags(r: &DmarcRecord) -> Vec<(&str, bool)> {
    r.problems
        .iter()
        .map(|p| (p.tag.as_str(), p.severe))
        .collect()
}

#[test]
fn rfc_9989_record_with_every_tag() {
    let r = record(
        "v=DMARC1; p=reject; sp=quarantine; np=reject; psd=n; t=n; adkim=s; aspf=r; fo=0:d; \
         rua=mailto:agg@example.com, https://reports.example.net/dmarc; ruf=mailto:fail@example.com",
    );
    assert_eq!(r.p, PolicyTag::Valid(Policy::Reject));
    assert_eq!(r.sp, PolicyTag::Valid(Policy::Quarantine));
    assert_eq!(r.np, PolicyTag::Valid(Policy::Reject));
    assert_eq!(r.psd, Psd::No);
    assert!(!r.testing);
    let hosts: Vec<_> = r.rua.iter().map(|u| u.host.as_str()).collect();
    assert_eq!(hosts, ["example.com", "reports.example.net"]);
    assert_eq!(r.ruf[0].host, "example.com");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(r.obsolete.is_empty());
}

#[test]
fn rfc_7489_record_reads_with_obsolete_tags() {
    // A typical RFC 7489 record: pct, rf, ri and a !size suffix are all gone in RFC 9989.
    let r =
        record("v=DMARC1; p=quarantine; pct=25; rf=afrf; ri=86400; rua=mailto:d@example.com!10m");
    assert_eq!(r.p, PolicyTag::Valid(Policy::Quarantine));
    assert_eq!(r.pct, Some(25));
    let obsolete: Vec<_> = r
        .obsolete
        .iter()
        .map(|o| (o.tag.as_str(), o.value.as_str(), o.weakens))
        .collect();
    assert_eq!(
        obsolete,
        [
            ("pct", "25", true),
            ("rf", "afrf", false),
            ("ri", "86400", false),
            ("rua", "!10m", false)
        ]
    );
    assert_eq!(r.rua[0].uri, "mailto:d@example.com");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(!record("v=DMARC1; p=reject; pct=100").obsolete[0].weakens);
    assert!(record("v=DMARC1; p=reject; pct=150").obsolete[0].weakens);
}

#[test]
fn records_receivers_discard_are_broken_not_unrelated() {
    for (text, why) in [
        (" v=DMARC1; p=reject", "white space"),
        ("v=dmarc1; p=reject", "case-sensitive"),
        ("v=DMARC2; p=reject", "is not DMARC1"),
        ("p=reject; v=DMARC1", "not the first tag"),
        ("v=DMARC1 p=reject", "not followed by ';'"),
    ] {
        match classify(text) {
            Classified::Broken { why: found, .. } => {
                assert!(found.contains(why), "{text}: {found}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(matches!(
        classify("v=spf1 include:_spf.example.com -all"),
        Classified::Unrelated(_)
    ));
    assert!(matches!(classify("v=DMARC1"), Classified::Dmarc(_)));
    assert!(matches!(
        classify("v = DMARC1 ;p=none;"),
        Classified::Dmarc(_)
    ));
}

#[test]
fn missing_p_is_absent_not_an_error() {
    // RFC 9989 §4.7 p: "If this tag is not present in an otherwise syntactically valid DMARC Policy
    // Record, then the record is treated as if it included p=none" (policy logic lives in mod.rs).
    let r = record("v=DMARC1; rua=mailto:d@example.com");
    assert_eq!(r.p, PolicyTag::Absent);
    assert!(r.problems.is_empty());
}

#[test]
fn bad_values_duplicates_and_unknown_tags_name_their_tag() {
    let r = record(
        "v=DMARC1; p=rejct; sp=none; sp=reject; adkim=x; t=maybe; psd=q; fo=0:1; \
         rua=dmarc@example.com; ruf=ftp://x.example; P=reject; foo=bar; ; junk",
    );
    assert_eq!(
        problem_tags(&r),
        [
            ("sp", true),
            ("-", false),
            ("p", true),
            ("adkim", false),
            ("t", false),
            ("psd", false),
            ("fo", false),
            ("rua", false),
            ("ruf", false),
            ("P", false),
            ("foo", false),
        ]
    );
    assert_eq!(r.p, PolicyTag::Invalid);
    assert_eq!(
        r.sp,
        PolicyTag::Valid(Policy::None),
        "first occurrence wins"
    );
    assert!(r.rua.is_empty() && r.ruf.is_empty());
    let rua = &r.problems[7].message;
    assert!(rua.contains("write mailto:dmarc@example.com"), "{rua}");
    assert!(r.problems[9].message.contains("case-sensitive"));
}

#[test]
fn failure_options_follow_the_grammar() {
    assert!(failure_options("0").is_ok());
    assert!(failure_options("1:d:s").is_ok());
    assert!(failure_options("d").is_ok());
    assert!(failure_options("0:1").is_err());
    assert!(failure_options("d:d").is_err());
    assert!(failure_options("2").is_err());
}

#[test]
fn report_uris_yield_their_destination_host() {
    assert_eq!(
        report_uri("mailto:a+b@Reports.Example.NET."),
        Ok("reports.example.net".into())
    );
    assert_eq!(
        report_uri("https://user@r.example:8443/x?y"),
        Ok("r.example".into())
    );
    assert!(report_uri("mailto:@example.com").is_err());
    assert!(report_uri("mailto:a@").is_err());
    assert!(report_uri("a@example.com").is_err());
}

/// Random strings over the characters the grammar cares about, plus multi-byte ones.
pub(crate) fn hostile_strings(seed: u64, count: usize) -> Vec<String> {
    use rand::{Rng, SeedableRng};
    const ALPHABET: &[char] = &[
        'v', '=', 'D', 'M', 'A', 'R', 'C', '1', ';', ' ', '\t', 'p', 's', 'n', 'r', 'u', 'a', 'f',
        'o', 't', 'y', ':', ',', '!', '@', '.', '/', 'm', 'i', 'l', 'h', '0', 'é', '€', '\u{0}',
        'K', 'I', 'M', 'k', 'e', 'd', '2', '5', '+',
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let len = rng.random_range(0..80);
            let mut s: String = (0..len)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect();
            if rng.random_bool(0.5) {
                s.insert_str(0, "v=DMARC1;");
            }
            s
        })
        .collect()
}

#[test]
fn hostile_input_never_panics() {
    for text in hostile_strings(9989, 20_000) {
        if let Classified::Dmarc(r) = classify(&text) {
            // Whatever was read, hosts are non-empty and lower-case.
            for uri in r.rua.iter().chain(&r.ruf) {
                assert!(!uri.host.is_empty() && uri.host == uri.host.to_ascii_lowercase());
            }
        }
    }
}
