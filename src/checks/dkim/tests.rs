//! DKIM check against the in-process FakeDns.

use super::*;
use crate::checks::test_support::{context, sorted_codes as codes};
use crate::dns::testing::FakeDns;

const RSA_512: &str = include_str!("../../../tests/fixtures/dkim/rsa512.b64");
const RSA_1024: &str = include_str!("../../../tests/fixtures/dkim/rsa1024.b64");
const RSA_2048: &str = include_str!("../../../tests/fixtures/dkim/rsa2048.b64");
const ED25519: &str = include_str!("../../../tests/fixtures/dkim/ed25519.b64");

async fn run(dns: &FakeDns, domain: &str, selectors: &[&str]) -> Outcome {
    let cx = DomainContext {
        dkim_selectors: selectors.iter().map(|s| s.to_string()).collect(),
        ..context(dns, domain)
    };
    check(&cx).await
}

fn txt(dns: &FakeDns, name: &str, text: &str) {
    dns.add(name, crate::dns::testing::FakeRecord::txt(text));
}

#[tokio::test]
async fn clean_rsa_and_ed25519_selectors_give_facts_and_no_findings() {
    let dns = FakeDns::start().await.unwrap();
    txt(
        &dns,
        "rsa._domainkey.ok.test",
        &format!("v=DKIM1; k=rsa; p={}", RSA_2048.trim()),
    );
    txt(
        &dns,
        "ed._domainkey.ok.test",
        &format!("v=DKIM1; k=ed25519; p={}", ED25519.trim()),
    );
    let outcome = run(&dns, "ok.test", &["rsa", "ed"]).await;
    assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
    let facts: Vec<_> = outcome
        .facts
        .dkim_keys
        .iter()
        .map(|k| (k.selector.as_str(), k.key_type, k.bits))
        .collect();
    assert_eq!(facts, [("rsa", "rsa", 2048), ("ed", "ed25519", 256)]);
    let record = outcome.record.unwrap();
    assert!(record.starts_with("rsa: v=DKIM1; k=rsa; p=MII"), "{record}");
    assert!(record.contains("\ned: v=DKIM1; k=ed25519; p="), "{record}");
}

#[tokio::test]
async fn key_sizes_follow_rfc_8301_section_3_2() {
    let dns = FakeDns::start().await.unwrap();
    txt(
        &dns,
        "k512._domainkey.w.test",
        &format!("p={}", RSA_512.trim()),
    );
    txt(
        &dns,
        "k1024._domainkey.w.test",
        &format!("p={}", RSA_1024.trim()),
    );
    let outcome = run(&dns, "w.test", &["k512", "k1024"]).await;
    assert_eq!(
        codes(&outcome),
        [
            ("dkim.weak_key", Severity::Warning),
            ("dkim.weak_key", Severity::Critical)
        ]
    );
    let bits: Vec<_> = outcome.facts.dkim_keys.iter().map(|k| k.bits).collect();
    assert_eq!(bits, [512, 1024]);
    assert_eq!(outcome.findings[0].detail["bits"], 512);
}

#[tokio::test]
async fn revoked_testing_and_sha1_only_keys() {
    let dns = FakeDns::start().await.unwrap();
    let key = RSA_2048.trim();
    txt(&dns, "old._domainkey.f.test", "v=DKIM1; k=rsa; p=");
    txt(
        &dns,
        "try._domainkey.f.test",
        &format!("v=DKIM1; t=y; p={key}"),
    );
    txt(
        &dns,
        "sha1._domainkey.f.test",
        &format!("v=DKIM1; h=sha1; p={key}"),
    );
    let outcome = run(&dns, "f.test", &["old", "try", "sha1"]).await;
    assert_eq!(
        codes(&outcome),
        [
            ("dkim.key_revoked", Severity::Critical),
            ("dkim.sha1_only", Severity::Critical),
            ("dkim.testing_mode", Severity::Warning),
        ]
    );
}

#[tokio::test]
async fn missing_selectors_tell_nxdomain_from_other_txt_and_dangling_cnames() {
    let dns = FakeDns::start().await.unwrap();
    txt(&dns, "other._domainkey.m.test", "v=spf1 -all");
    dns.load("esp._domainkey.m.test CNAME s1.dkim.esp.test\nx.esp.test A 192.0.2.1")
        .unwrap();
    let outcome = run(&dns, "m.test", &["gone", "other", "esp"]).await;
    assert_eq!(
        codes(&outcome),
        [
            ("dkim.selector_missing", Severity::Critical),
            ("dkim.selector_missing", Severity::Critical),
            ("dkim.selector_missing", Severity::Critical),
        ]
    );
    let messages: Vec<&str> = outcome
        .findings
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        messages[0].contains("does not exist (NXDOMAIN)"),
        "{messages:?}"
    );
    assert!(messages[1].contains("none is a DKIM key"), "{messages:?}");
    assert!(
        messages[2].contains("is a CNAME to s1.dkim.esp.test"),
        "{messages:?}"
    );
    assert!(outcome.facts.dkim_keys.is_empty());
}

#[tokio::test]
async fn cname_to_an_esp_is_followed_and_reported() {
    let dns = FakeDns::start().await.unwrap();
    dns.load("s1._domainkey.c.test CNAME s1.keys.esp.test")
        .unwrap();
    txt(
        &dns,
        "s1.keys.esp.test",
        &format!("v=DKIM1; k=rsa; p={}", RSA_1024.trim()),
    );
    let outcome = run(&dns, "c.test", &["s1"]).await;
    assert_eq!(codes(&outcome), [("dkim.weak_key", Severity::Warning)]);
    let finding = &outcome.findings[0];
    assert_eq!(finding.detail["aliases"], json!(["s1.keys.esp.test"]));
}

#[tokio::test]
async fn syntax_errors_name_the_tag() {
    let dns = FakeDns::start().await.unwrap();
    let key = RSA_2048.trim();
    txt(
        &dns,
        "k._domainkey.s.test",
        &format!("v=DKIM1; k=dsa; p={key}"),
    );
    txt(&dns, "b64._domainkey.s.test", "v=DKIM1; p=%%%");
    let outcome = run(&dns, "s.test", &["k", "b64"]).await;
    assert_eq!(
        codes(&outcome),
        [
            ("dkim.syntax_error", Severity::Critical),
            ("dkim.syntax_error", Severity::Critical)
        ]
    );
    let tags: Vec<_> = outcome
        .findings
        .iter()
        .map(|f| f.detail["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["k", "p"]);
    assert!(outcome.findings[0].message.contains("k=dsa"));
    assert!(outcome.facts.dkim_keys.is_empty());
}

#[tokio::test]
async fn several_keys_at_one_selector_are_flagged() {
    let dns = FakeDns::start().await.unwrap();
    txt(
        &dns,
        "two._domainkey.d.test",
        &format!("p={}", RSA_2048.trim()),
    );
    txt(
        &dns,
        "two._domainkey.d.test",
        &format!("p={}", RSA_1024.trim()),
    );
    let outcome = run(&dns, "d.test", &["two"]).await;
    assert_eq!(
        codes(&outcome),
        [
            ("dkim.syntax_error", Severity::Warning),
            ("dkim.weak_key", Severity::Warning)
        ]
    );
}

#[tokio::test]
async fn dns_failures_are_unknown_never_missing() {
    let dns = FakeDns::start().await.unwrap();
    dns.load("slow._domainkey.u.test TIMEOUT\nbroken._domainkey.u.test SERVFAIL")
        .unwrap();
    let outcome = run(&dns, "u.test", &["slow", "broken"]).await;
    assert_eq!(
        codes(&outcome),
        [
            ("dkim.lookup_failed", Severity::Unknown),
            ("dkim.lookup_failed", Severity::Unknown)
        ]
    );
    assert_eq!(outcome.findings[0].detail["error"], "timeout");
    assert_eq!(outcome.findings[1].detail["error"], "servfail");
}

#[tokio::test]
async fn no_selectors_is_one_info_finding() {
    let dns = FakeDns::start().await.unwrap();
    let outcome = run(&dns, "n.test", &[]).await;
    assert_eq!(codes(&outcome), [("dkim.no_selectors", Severity::Info)]);
    assert_eq!(outcome.record, None);
}
