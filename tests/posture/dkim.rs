//! The DKIM check against Debian's nsd serving tests/fixtures/zones/*.dkim.test.zone, with keys made by
//! openssl (tests/fixtures/dkim).

use senderscope::checks::{self, CheckKind, DomainContext, Facts};
use senderscope::dns::DnsSettings;
use senderscope::findings::{CheckReport, Severity};

use super::{context, round, sorted_codes as codes, zones_where};
use crate::harness::nsd::Nsd;

/// nsd serving every DKIM zone.
async fn serve() -> Nsd {
    let zones = zones_where(|name| name.ends_with(".dkim.test"));
    assert!(zones.len() >= 9, "DKIM zones not found: {zones:?}");
    Nsd::serve(&zones).await
}

async fn run(settings: &DnsSettings, domain: &str, selectors: &[&str]) -> (CheckReport, Facts) {
    let cx = DomainContext {
        dkim_selectors: selectors.iter().map(|s| s.to_string()).collect(),
        ..context(round(settings), domain)
    };
    checks::run(CheckKind::Dkim, &cx).await
}

/// The finding codes and severities a case must give, sorted.
type Expected<'a> = &'a [(&'a str, Severity)];

#[tokio::test]
async fn every_dkim_finding_code_from_a_real_nsd() {
    use Severity::*;
    let nsd = serve().await;
    let settings = nsd.settings();
    let cases: &[(&str, &[&str], Expected)] = &[
        ("clean.dkim.test", &["rsa2048", "ed25519"], &[]),
        ("cname.dkim.test", &["s1"], &[]),
        (
            "selector-missing.dkim.test",
            &["absent", "notdkim"],
            &[
                ("dkim.selector_missing", Critical),
                ("dkim.selector_missing", Critical),
            ],
        ),
        (
            "syntax-error.dkim.test",
            &["badtype", "duplicate"],
            &[
                ("dkim.syntax_error", Critical),
                ("dkim.syntax_error", Critical),
            ],
        ),
        (
            "key-revoked.dkim.test",
            &["old"],
            &[("dkim.key_revoked", Critical)],
        ),
        (
            "testing-mode.dkim.test",
            &["s1"],
            &[("dkim.testing_mode", Warning)],
        ),
        (
            "weak-key.dkim.test",
            &["k512", "k1024"],
            &[("dkim.weak_key", Warning), ("dkim.weak_key", Critical)],
        ),
        (
            "sha1-only.dkim.test",
            &["s1"],
            &[("dkim.sha1_only", Critical)],
        ),
        ("clean.dkim.test", &[], &[("dkim.no_selectors", Info)]),
    ];
    for (domain, selectors, expected) in cases {
        let (report, _) = run(&settings, domain, selectors).await;
        assert_eq!(
            codes(&report),
            *expected,
            "{domain} {selectors:?}: {:#?}",
            report.findings
        );
    }
}

#[tokio::test]
async fn key_facts_come_from_the_published_keys() {
    let nsd = serve().await;
    let settings = nsd.settings();
    let (report, facts) = run(&settings, "clean.dkim.test", &["rsa2048", "ed25519"]).await;
    let keys: Vec<_> = facts
        .dkim_keys
        .iter()
        .map(|k| (k.selector.as_str(), k.key_type, k.bits))
        .collect();
    assert_eq!(
        keys,
        [("rsa2048", "rsa", 2048), ("ed25519", "ed25519", 256)]
    );
    // The 2048-bit key is published as two strings; the record shows them joined.
    let record = report.record.unwrap();
    let first = record.lines().next().unwrap();
    assert!(
        first.starts_with("rsa2048: v=DKIM1; k=rsa; p=MIIBIjAN"),
        "{first}"
    );
    assert!(first.ends_with("IDAQAB"), "{first}");
    let (_, weak) = run(&settings, "weak-key.dkim.test", &["k512", "k1024"]).await;
    let bits: Vec<_> = weak.dkim_keys.iter().map(|k| k.bits).collect();
    assert_eq!(bits, [512, 1024]);
}

#[tokio::test]
async fn cname_to_the_provider_is_followed_and_dangling_ones_named() {
    let nsd = serve().await;
    let settings = nsd.settings();
    let (report, facts) = run(&settings, "cname.dkim.test", &["s1", "dangling"]).await;
    assert_eq!(facts.dkim_keys.len(), 1, "{:#?}", report.findings);
    assert_eq!(facts.dkim_keys[0].bits, 2048);
    assert_eq!(
        codes(&report),
        [("dkim.selector_missing", Severity::Critical)]
    );
    let missing = &report.findings[0];
    assert!(
        missing
            .message
            .contains("is a CNAME to gone._domainkey.esp.dkim.test"),
        "{}",
        missing.message
    );
}

#[tokio::test]
async fn a_refusing_server_is_unknown_not_missing() {
    // nsd is not authoritative for this name and answers REFUSED.
    let nsd = serve().await;
    let (report, facts) = run(&nsd.settings(), "lookup-failed.dkim.example", &["s1"]).await;
    assert_eq!(codes(&report), [("dkim.lookup_failed", Severity::Unknown)]);
    assert_eq!(report.status, Severity::Unknown);
    assert!(facts.dkim_keys.is_empty());
}
