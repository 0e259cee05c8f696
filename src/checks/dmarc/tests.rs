//! The DMARC check and `effective_policy`, against the in-process FakeDns.

use super::*;
use crate::checks::test_support::{context, lookups, sorted_codes as codes, txt_records as fake};
use crate::dns::testing::{FakeDns, FakeRecord};
use crate::findings::{FindingCode, Severity};

/// Every report destination domain these tests name: each receives mail (an MX), so only the
/// findings a test is about appear (an address that cannot receive mail is a finding of its own).
const MAIL_DOMAINS: [&str; 15] = [
    "example.com",
    "reports.example.com",
    "a.test",
    "b.test",
    "c.test",
    "beside.test",
    "broken.test",
    "extra.test",
    "elsewhere.test",
    "named.test",
    "wild.test",
    "none.test",
    "reports.test",
    "redirect.test",
    "slow.test",
];

async fn run(dns: &FakeDns, domain: &str) -> Outcome {
    for host in MAIL_DOMAINS {
        dns.add(host, FakeRecord::Mx(10, "mx.example.net".into()));
    }
    check(&context(dns, domain)).await
}

const CLEAN: &str = "v=DMARC1; p=reject; rua=mailto:dmarc@example.com";

#[tokio::test]
async fn clean_record_gives_no_findings_and_enforced_facts() {
    let dns = fake(&[("_dmarc.example.com", CLEAN)]).await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(codes(&outcome), []);
    assert_eq!(outcome.record.as_deref(), Some(CLEAN));
    assert_eq!(outcome.facts.dmarc_policy, Some("reject"));
    assert_eq!(outcome.facts.dmarc_enforced, Some(true));
}

#[tokio::test]
async fn missing_everywhere_is_critical_and_lists_the_walk() {
    let dns = fake(&[]).await;
    let outcome = run(&dns, "mail.example.com").await;
    assert_eq!(codes(&outcome), [("dmarc.missing", Severity::Critical)]);
    let queried = &outcome.findings[0].detail["queried"];
    assert_eq!(queried.as_array().unwrap().len(), 3);
    assert_eq!(outcome.facts.dmarc_policy, None);
    assert_eq!(outcome.facts.dmarc_enforced, Some(false));
}

#[tokio::test]
async fn dns_failure_is_unknown_never_missing() {
    let dns = fake(&[]).await;
    dns.load("_dmarc.example.com TIMEOUT").unwrap();
    let outcome = run(&dns, "example.com").await;
    assert_eq!(
        codes(&outcome),
        [("dmarc.lookup_failed", Severity::Unknown)]
    );
    assert_eq!(outcome.facts.dmarc_enforced, None);
    // A failure higher up the walk is just as unknown.
    let dns = fake(&[]).await;
    dns.load("_dmarc.com SERVFAIL").unwrap();
    let outcome = run(&dns, "example.com").await;
    assert_eq!(
        codes(&outcome),
        [("dmarc.lookup_failed", Severity::Unknown)]
    );
    assert_eq!(outcome.findings[0].detail["name"], "_dmarc.com");
}

#[tokio::test]
async fn inherited_policy_is_info_and_applies_sp() {
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com",
    )])
    .await;
    let outcome = run(&dns, "news.example.com").await;
    assert_eq!(codes(&outcome), [("dmarc.inherited", Severity::Info)]);
    assert_eq!(outcome.findings[0].detail["found_at"], "example.com");
    assert_eq!(outcome.facts.dmarc_policy, Some("quarantine"));
}

#[tokio::test]
async fn policy_none_explicit_missing_p_and_inherited_sp_none() {
    let dns = fake(&[
        ("_dmarc.a.test", "v=DMARC1; p=none; rua=mailto:d@a.test"),
        ("_dmarc.b.test", "v=DMARC1; rua=mailto:d@b.test"),
        (
            "_dmarc.c.test",
            "v=DMARC1; p=reject; sp=none; rua=mailto:d@c.test",
        ),
    ])
    .await;
    let a = run(&dns, "a.test").await;
    assert_eq!(codes(&a), [("dmarc.policy_none", Severity::Warning)]);
    assert_eq!(a.facts.dmarc_policy, Some("none"));
    // RFC 9989 §4.7: no p means p=none; the message says RFC 7489 receivers saw it differently.
    let b = run(&dns, "b.test").await;
    assert_eq!(codes(&b), [("dmarc.policy_none", Severity::Warning)]);
    assert!(b.findings[0].message.contains("no p= tag"), "{b:?}");
    let c = run(&dns, "x.c.test").await;
    assert_eq!(
        codes(&c),
        [
            ("dmarc.inherited", Severity::Info),
            ("dmarc.policy_none", Severity::Warning),
            ("dmarc.subdomain_policy_none", Severity::Warning),
        ]
    );
}

#[tokio::test]
async fn no_p_and_no_rua_means_no_dmarc_at_all_rfc_9989_section_4_10_1() {
    let dns = fake(&[("_dmarc.example.com", "v=DMARC1; adkim=s")]).await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(
        codes(&outcome),
        [
            ("dmarc.no_rua", Severity::Warning),
            ("dmarc.syntax_error", Severity::Critical),
        ]
    );
    assert_eq!(outcome.facts.dmarc_policy, None);
    assert_eq!(outcome.facts.dmarc_enforced, Some(false));
    let l = lookups(&dns);
    let domain = DomainName::parse("example.com").unwrap();
    assert_eq!(effective_policy(&l, &domain).await, Ok(None));
}

#[tokio::test]
async fn subdomain_and_nonexistent_subdomain_policies() {
    let dns = fake(&[
        (
            "_dmarc.a.test",
            "v=DMARC1; p=reject; sp=none; rua=mailto:d@a.test",
        ),
        (
            "_dmarc.b.test",
            "v=DMARC1; p=reject; np=none; rua=mailto:d@b.test",
        ),
    ])
    .await;
    let a = run(&dns, "a.test").await;
    assert_eq!(
        codes(&a),
        [("dmarc.subdomain_policy_none", Severity::Warning)]
    );
    assert_eq!(a.findings[0].detail["tag"], "sp");
    let b = run(&dns, "b.test").await;
    assert_eq!(
        codes(&b),
        [("dmarc.subdomain_policy_none", Severity::Warning)]
    );
    assert_eq!(b.findings[0].detail["tag"], "np");
}

#[tokio::test]
async fn testing_mode_is_not_enforcement() {
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; t=y; rua=mailto:d@example.com",
    )])
    .await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(codes(&outcome), [("dmarc.testing_mode", Severity::Warning)]);
    assert_eq!(outcome.facts.dmarc_policy, Some("reject"));
    assert_eq!(outcome.facts.dmarc_enforced, Some(false));
}

#[tokio::test]
async fn rfc_7489_record_with_pct_below_100_is_not_enforced() {
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=quarantine; pct=50; ri=86400; rf=afrf; rua=mailto:d@example.com",
    )])
    .await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(codes(&outcome), [("dmarc.obsolete_tag", Severity::Warning)]);
    let message = &outcome.findings[0].message;
    assert!(message.contains("pct=50, ri=86400, rf=afrf"), "{message}");
    assert_eq!(outcome.facts.dmarc_enforced, Some(false));
    let l = lookups(&dns);
    let domain = DomainName::parse("example.com").unwrap();
    let summary = effective_policy(&l, &domain).await.unwrap().unwrap();
    assert_eq!(summary.pct, Some(50));
    assert_eq!(summary.policy, Policy::Quarantine);
    // pct=100 changes nothing: info only, still enforced.
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; pct=100; rua=mailto:d@example.com",
    )])
    .await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(codes(&outcome), [("dmarc.obsolete_tag", Severity::Info)]);
    assert_eq!(outcome.facts.dmarc_enforced, Some(true));
}

#[tokio::test]
async fn no_rua_and_rua_without_scheme() {
    let dns = fake(&[
        ("_dmarc.a.test", "v=DMARC1; p=reject"),
        ("_dmarc.b.test", "v=DMARC1; p=reject; rua=dmarc@b.test"),
    ])
    .await;
    assert_eq!(
        codes(&run(&dns, "a.test").await),
        [("dmarc.no_rua", Severity::Warning)]
    );
    let b = run(&dns, "b.test").await;
    assert_eq!(
        codes(&b),
        [
            ("dmarc.no_rua", Severity::Warning),
            ("dmarc.syntax_error", Severity::Warning)
        ]
    );
    let syntax = b
        .findings
        .iter()
        .find(|f| f.code == FindingCode::DmarcSyntaxError)
        .unwrap();
    assert_eq!(syntax.detail["tag"], "rua");
    assert!(syntax.message.contains("mailto:dmarc@b.test"));
}

#[tokio::test]
async fn external_destinations_need_an_authorization_record_rfc_9990() {
    let dns = fake(&[
        (
            "_dmarc.example.com",
            "v=DMARC1; p=reject; rua=mailto:a@named.test,mailto:b@wild.test,mailto:c@none.test; \
             ruf=mailto:f@redirect.test",
        ),
        ("example.com._report._dmarc.named.test", "v=DMARC1"),
        ("*._report._dmarc.wild.test", "v=DMARC1;"),
        ("other._report._dmarc.none.test", "v=DMARC1"),
        (
            "example.com._report._dmarc.redirect.test",
            "v=DMARC1; rua=mailto:x@elsewhere.test",
        ),
    ])
    .await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(
        codes(&outcome),
        [
            ("dmarc.rua_not_authorized", Severity::Warning),
            ("dmarc.rua_not_authorized", Severity::Warning)
        ]
    );
    let hosts: Vec<_> = outcome
        .findings
        .iter()
        .map(|f| f.detail["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["none.test", "redirect.test"]);
    assert_eq!(
        outcome.findings[0].detail["name"],
        "example.com._report._dmarc.none.test"
    );
    assert!(outcome.findings[1].message.contains("another host"));
}

#[tokio::test]
async fn same_organization_needs_no_authorization_and_failures_are_lookup_failed() {
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; rua=mailto:a@reports.example.com,mailto:b@slow.test",
    )])
    .await;
    dns.load("example.com._report._dmarc.slow.test TIMEOUT")
        .unwrap();
    let outcome = run(&dns, "example.com").await;
    // reports.example.com shares example.com's organizational domain: nothing is queried for it.
    assert_eq!(
        codes(&outcome),
        [("dmarc.lookup_failed", Severity::Unknown)]
    );
    assert_eq!(
        outcome.findings[0].detail["name"],
        "example.com._report._dmarc.slow.test"
    );
    assert_eq!(outcome.facts.dmarc_enforced, Some(true));
}

#[tokio::test]
async fn inherited_policy_is_authorized_for_the_domain_it_was_found_at() {
    // RFC 9990: prepend "the domain name from which the policy was retrieved".
    let dns = fake(&[
        (
            "_dmarc.example.com",
            "v=DMARC1; p=reject; rua=mailto:a@reports.test",
        ),
        ("example.com._report._dmarc.reports.test", "v=DMARC1"),
    ])
    .await;
    let outcome = run(&dns, "mail.example.com").await;
    assert_eq!(codes(&outcome), [("dmarc.inherited", Severity::Info)]);
}

#[tokio::test]
async fn several_records_broken_and_unrelated_txt() {
    let dns = fake(&[
        ("_dmarc.multi.test", CLEAN),
        ("_dmarc.multi.test", "v=DMARC1; p=none"),
        (
            "_dmarc.broken.test",
            "v=DMARC1 p=reject; rua=mailto:d@broken.test",
        ),
        (
            "_dmarc.extra.test",
            "v=DMARC1; p=reject; rua=mailto:d@extra.test",
        ),
        ("_dmarc.extra.test", "v=spf1 -all"),
    ])
    .await;
    let multi = run(&dns, "multi.test").await;
    assert_eq!(
        codes(&multi),
        [("dmarc.multiple_records", Severity::Critical)]
    );
    assert_eq!(multi.facts.dmarc_enforced, Some(false));
    assert_eq!(multi.record.unwrap().lines().count(), 2);
    let broken = run(&dns, "broken.test").await;
    assert_eq!(codes(&broken), [("dmarc.syntax_error", Severity::Critical)]);
    assert_eq!(broken.findings[0].detail["tag"], "v");
    let extra = run(&dns, "extra.test").await;
    assert_eq!(codes(&extra), [("dmarc.unrelated_txt", Severity::Info)]);
    assert!(extra.findings[0].message.contains("wildcard"));
}

#[tokio::test]
async fn record_at_apex_instead_of_and_beside_dmarc() {
    let dns = fake(&[
        ("instead.test", "v=DMARC1; p=reject"),
        ("instead.test", "v=spf1 -all"),
        ("beside.test", "v=DMARC1; p=reject"),
        (
            "_dmarc.beside.test",
            "v=DMARC1; p=reject; rua=mailto:d@beside.test",
        ),
    ])
    .await;
    let instead = run(&dns, "instead.test").await;
    assert_eq!(
        codes(&instead),
        [("dmarc.record_at_apex", Severity::Critical)]
    );
    assert_eq!(instead.record.as_deref(), Some("v=DMARC1; p=reject"));
    let beside = run(&dns, "beside.test").await;
    assert_eq!(codes(&beside), [("dmarc.record_at_apex", Severity::Info)]);
}

#[tokio::test]
async fn syntax_errors_name_their_tag_and_keep_the_policy() {
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; adkim=x; foo=bar; rua=mailto:d@example.com",
    )])
    .await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(
        codes(&outcome),
        [
            ("dmarc.syntax_error", Severity::Warning),
            ("dmarc.syntax_error", Severity::Warning)
        ]
    );
    let tags: Vec<_> = outcome
        .findings
        .iter()
        .map(|f| f.detail["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["adkim", "foo"]);
    assert_eq!(outcome.facts.dmarc_policy, Some("reject"));
}

#[tokio::test]
async fn invalid_p_with_rua_falls_back_to_none() {
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=rejct; rua=mailto:d@example.com",
    )])
    .await;
    let outcome = run(&dns, "example.com").await;
    assert_eq!(
        codes(&outcome),
        [
            ("dmarc.policy_none", Severity::Warning),
            ("dmarc.syntax_error", Severity::Critical)
        ]
    );
    assert_eq!(outcome.facts.dmarc_policy, Some("none"));
}

#[tokio::test]
async fn effective_policy_reports_where_and_what() {
    let dns = fake(&[(
        "_dmarc.example.com",
        "v=DMARC1; p=reject; sp=quarantine; t=y; rua=mailto:d@example.com",
    )])
    .await;
    let l = lookups(&dns);
    let own = effective_policy(&l, &DomainName::parse("example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        own,
        PolicySummary {
            found_at: "example.com".into(),
            policy: Policy::Reject,
            subdomain_policy: Some(Policy::Quarantine),
            pct: None,
            testing: true,
        }
    );
    let sub = effective_policy(&l, &DomainName::parse("shop.example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.found_at, "example.com");
    assert_eq!(sub.policy, Policy::Quarantine);
    assert_eq!(sub.policy.as_str(), "quarantine");
    dns.load("_dmarc.slow.test TIMEOUT").unwrap();
    assert_eq!(
        effective_policy(&l, &DomainName::parse("slow.test").unwrap()).await,
        Err(LookupError::Timeout)
    );
}
