//! The SPF check against a real authoritative server: nsd serves tests/fixtures/zones/*.spf.test.zone,
//! one domain per finding code plus a clean one, and each domain must yield exactly its codes.
//!
//! `spf.string_too_long` has no zone: a DNS character-string carries a one-byte length, so no
//! conforming server can send one over 255 bytes (nsd-checkzone refuses it: "text string is longer than
//! 255 characters"); the check reads the raw strings and is unit-tested in src/checks/spf/walk_tests.rs.

use std::net::IpAddr;
use std::path::PathBuf;

use senderscope::checks::{CheckKind, DomainContext, run};
use senderscope::dns::Lookups;
use senderscope::findings::{CheckReport, FindingCode, Severity};

use super::{context, round, sorted_code_names as codes, zones_where};
use crate::harness::nsd::Nsd;

/// Every SPF zone file in tests/fixtures/zones.
fn spf_zones() -> Vec<(String, PathBuf)> {
    zones_where(|name| name.ends_with(".spf.test"))
}

async fn check(lookups: &Lookups, domain: &str, ips: &[&str]) -> CheckReport {
    let cx = DomainContext {
        sending_ips: ips.iter().map(|ip| ip.parse::<IpAddr>().unwrap()).collect(),
        ..context(lookups.clone(), domain)
    };
    run(CheckKind::Spf, &cx).await.0
}

/// (domain, configured sending IPs, the exact codes expected).
const CASES: &[(&str, &[&str], &[&str])] = &[
    ("clean.spf.test", &["192.0.2.10", "2001:db8::25"], &[]),
    ("missing.spf.test", &[], &["spf.missing"]),
    ("multiple-records.spf.test", &[], &["spf.multiple_records"]),
    ("syntax-error.spf.test", &[], &["spf.syntax_error"]),
    ("too-many-lookups.spf.test", &[], &["spf.too_many_lookups"]),
    (
        "too-many-void-lookups.spf.test",
        &[],
        &["spf.too_many_void_lookups"],
    ),
    ("permissive-all.spf.test", &[], &["spf.permissive_all"]),
    ("neutral-all.spf.test", &[], &["spf.neutral_all"]),
    ("ptr-mechanism.spf.test", &[], &["spf.ptr_mechanism"]),
    (
        "include-without-spf.spf.test",
        &[],
        &["spf.include_without_spf"],
    ),
    ("include-loop.spf.test", &[], &["spf.include_loop"]),
    (
        "sending-ip-not-authorized.spf.test",
        &["192.0.2.10", "198.51.100.20"],
        &["spf.sending_ip_not_authorized"],
    ),
    ("lookup-failed.spf.test", &[], &["spf.lookup_failed"]),
    ("record-too-long.spf.test", &[], &["spf.record_too_long"]),
    // The ip4 after -all is never read; exp= applies wherever it stands and is not reported.
    (
        "terms-after-all.spf.test",
        &["198.51.100.20"],
        &["spf.sending_ip_not_authorized", "spf.terms_after_all"],
    ),
];

#[tokio::test]
async fn each_spf_test_domain_yields_exactly_its_codes_from_nsd() {
    let zones = spf_zones();
    assert_eq!(zones.len(), CASES.len(), "one zone per case: {zones:?}");
    let nsd = Nsd::serve(&zones).await;
    let lookups = round(&nsd.settings());
    let mut wrong = Vec::new();
    for (domain, ips, expected) in CASES {
        let report = check(&lookups, domain, ips).await;
        if codes(&report) != *expected {
            wrong.push(format!(
                "{domain}: got {:?}, expected {expected:?}\n{:#?}",
                codes(&report),
                report.findings
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn findings_say_what_and_where_against_nsd() {
    let nsd = Nsd::serve(&spf_zones()).await;
    let lookups = round(&nsd.settings());

    let clean = check(&lookups, "clean.spf.test", &["192.0.2.10"]).await;
    assert_eq!(clean.status, Severity::Ok);
    assert_eq!(
        clean.record.as_deref(),
        Some("v=spf1 ip4:192.0.2.0/24 include:_spf.clean.spf.test -all")
    );

    let syntax = check(&lookups, "syntax-error.spf.test", &[]).await;
    assert_eq!(syntax.status, Severity::Critical);
    assert!(
        syntax.findings[0].message.contains(
            "term 3 `ip4:192.0.2.1~all` at byte 12: `192.0.2.1~all` is not an IPv4 address (a space is missing before `~all`)"
        ),
        "{}",
        syntax.findings[0].message
    );

    let heavy = check(&lookups, "too-many-lookups.spf.test", &[]).await;
    assert_eq!(
        heavy.findings[0].message,
        "SPF needs 13 DNS lookups; receivers stop at 10 and return permerror. Flatten or remove the heaviest branches: b.too-many-lookups.spf.test (7), _spf.a.too-many-lookups.spf.test (5), mx (1)."
    );
    assert_eq!(heavy.findings[0].detail["tree"]["lookups"], 13);

    // RFC 7208 §5.1: nothing after `all` is read, so the ip4 there authorizes nobody.
    let after = check(&lookups, "terms-after-all.spf.test", &["198.51.100.20"]).await;
    let finding = after
        .findings
        .iter()
        .find(|f| f.code == FindingCode::SpfTermsAfterAll)
        .expect("a terms_after_all finding");
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(
        finding.message,
        "The record of terms-after-all.spf.test has `ip4:198.51.100.0/24` after `-all`: receivers stop at `all` \
         and never read what follows (RFC 7208 §5.1), so those senders are not authorized. Move the terms before \
         `-all`, or delete them."
    );
    assert_eq!(
        finding.detail["terms"],
        serde_json::json!(["ip4:198.51.100.0/24"])
    );

    let missing = check(&lookups, "missing.spf.test", &[]).await;
    assert!(
        missing.findings[0]
            .message
            .starts_with("missing.spf.test has no TXT records, so no SPF record."),
        "{}",
        missing.findings[0].message
    );
    let nx = check(&lookups, "nx.missing.spf.test", &[]).await;
    assert_eq!(codes(&nx), ["spf.missing"]);
    assert!(nx.findings[0].message.contains("NXDOMAIN"));
    let near = check(&lookups, "near-miss.missing.spf.test", &[]).await;
    assert_eq!(codes(&near), ["spf.missing"]);
    assert!(
        near.findings[0]
            .message
            .contains("`v=spf10` is not the version")
    );

    let ip = check(
        &lookups,
        "sending-ip-not-authorized.spf.test",
        &["192.0.2.10", "198.51.100.20"],
    )
    .await;
    assert_eq!(ip.findings.len(), 1);
    assert_eq!(
        ip.findings[0].message,
        "Sending IP 198.51.100.20 gets SPF fail for sending-ip-not-authorized.spf.test: matched `-all` in sending-ip-not-authorized.spf.test. Add `ip4:198.51.100.20` (or the include of the service sending from it) before the `all`."
    );

    let failed = check(&lookups, "lookup-failed.spf.test", &[]).await;
    assert_eq!(failed.status, Severity::Unknown);
    assert!(
        failed.findings[0]
            .message
            .contains("TXT _spf.not-served.test (refused)")
    );

    // A domain nsd does not serve at all: REFUSED is a lookup failure, never "missing".
    let unserved = check(&lookups, "elsewhere.test", &["192.0.2.1"]).await;
    assert_eq!(codes(&unserved), ["spf.lookup_failed"]);
}

/// Every spf.* code has a domain above, except string_too_long (see the module comment).
#[test]
fn every_spf_code_has_a_test_domain() {
    let covered: Vec<&str> = CASES
        .iter()
        .flat_map(|(_, _, c)| c.iter().copied())
        .collect();
    for code in FindingCode::ALL {
        let code = code.as_str();
        if code.starts_with("spf.") && code != "spf.string_too_long" {
            assert!(covered.contains(&code), "no test domain yields {code}");
        }
    }
}
