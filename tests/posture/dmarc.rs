//! The DMARC check against Debian's nsd serving tests/fixtures/zones/*.dmarc.test.zone, the report
//! destination zones dmarc-*.test, and the empty `test` TLD the tree walk climbs to .

use senderscope::checks::dmarc::{Policy, effective_policy};
use senderscope::checks::{self, CheckKind, Facts};
use senderscope::config::DomainName;
use senderscope::dns::DnsSettings;
use senderscope::findings::{CheckReport, Severity};

use super::{context, round, sorted_codes as codes, zones_where};
use crate::harness::nsd::Nsd;

/// nsd serving every DMARC zone and the destinations and `test`.
async fn serve() -> Nsd {
    let mut zones = zones_where(|name| name.ends_with(".dmarc.test") || name.starts_with("dmarc-"));
    zones.push(Nsd::test_tld());
    zones.sort();
    assert!(zones.len() >= 16, "DMARC zones not found: {zones:?}");
    Nsd::serve(&zones).await
}

async fn run(settings: &DnsSettings, domain: &str) -> (CheckReport, Facts) {
    checks::run(CheckKind::Dmarc, &context(round(settings), domain)).await
}

#[tokio::test]
async fn every_dmarc_finding_code_from_a_real_nsd() {
    use Severity::*;
    let nsd = serve().await;
    let settings = nsd.settings();
    let cases: &[(&str, &[(&str, Severity)])] = &[
        ("clean.dmarc.test", &[]),
        ("rua-authorized.dmarc.test", &[]),
        ("missing.dmarc.test", &[("dmarc.missing", Critical)]),
        (
            "multiple-records.dmarc.test",
            &[("dmarc.multiple_records", Critical)],
        ),
        (
            "syntax-error.dmarc.test",
            &[
                ("dmarc.syntax_error", Warning),
                ("dmarc.syntax_error", Warning),
            ],
        ),
        ("policy-none.dmarc.test", &[("dmarc.policy_none", Warning)]),
        (
            "subdomain-policy-none.dmarc.test",
            &[("dmarc.subdomain_policy_none", Warning)],
        ),
        (
            "testing-mode.dmarc.test",
            &[("dmarc.testing_mode", Warning)],
        ),
        ("obsolete-tag.dmarc.test", &[("dmarc.obsolete_tag", Info)]),
        ("no-rua.dmarc.test", &[("dmarc.no_rua", Warning)]),
        (
            "rua-not-authorized.dmarc.test",
            &[("dmarc.rua_not_authorized", Warning)],
        ),
        (
            "record-at-apex.dmarc.test",
            &[("dmarc.record_at_apex", Critical)],
        ),
        ("unrelated-txt.dmarc.test", &[("dmarc.unrelated_txt", Info)]),
        ("mail.inherited.dmarc.test", &[("dmarc.inherited", Info)]),
        (
            "policy-not-second.dmarc.test",
            &[("dmarc.policy_not_second", Info)],
        ),
        (
            "report-address-undeliverable.dmarc.test",
            &[
                ("dmarc.report_address_undeliverable", Warning),
                ("dmarc.report_address_undeliverable", Warning),
                ("dmarc.report_address_undeliverable", Warning),
            ],
        ),
        (
            "lookup-failed.dmarc.example",
            &[("dmarc.lookup_failed", Unknown)],
        ),
    ];
    for (domain, expected) in cases {
        let (report, _) = run(&settings, domain).await;
        assert_eq!(
            codes(&report),
            *expected,
            "{domain}: {:#?}",
            report.findings
        );
    }
}

#[tokio::test]
async fn report_addresses_that_cannot_receive_mail_and_p_out_of_place_are_named() {
    let nsd = serve().await;
    let settings = nsd.settings();
    let (report, _) = run(&settings, "report-address-undeliverable.dmarc.test").await;
    let messages: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    let d = "report-address-undeliverable.dmarc.test";
    assert_eq!(
        messages,
        [
            format!(
                "Reports for {d} go to mailto:dmarc@nullmx.{d}, but nullmx.{d} publishes a null MX (RFC 7505): \
                 it accepts no mail: receivers' reports sent there are lost. Use an address at a domain that receives mail."
            ),
            format!(
                "Reports for {d} go to mailto:f@nomail.{d}, but nomail.{d} has no MX and no A or AAAA record to \
                 deliver to (RFC 5321 §5.1): receivers' reports sent there are lost. Use an address at a domain that receives mail."
            ),
            format!(
                "Reports for {d} go to mailto:f@gone.{d}, but gone.{d} does not exist (NXDOMAIN): receivers' \
                 reports sent there are lost. Use an address at a domain that receives mail."
            ),
        ]
    );
    assert_eq!(report.findings[0].detail["host"], format!("nullmx.{d}"));

    let (report, _) = run(&settings, "policy-not-second.dmarc.test").await;
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].detail["position"], 3);
    assert!(
        report.findings[0]
            .message
            .starts_with("The DMARC record at _dmarc.policy-not-second.dmarc.test has p= as tag 3, not right after v=DMARC1."),
        "{}",
        report.findings[0].message
    );
    // The policy itself is read wherever p= stands.
    let (_, facts) = run(&settings, "policy-not-second.dmarc.test").await;
    assert_eq!(facts.dmarc_policy, Some("reject"));
}

#[tokio::test]
async fn facts_and_records_for_metrics_and_bimi() {
    let nsd = serve().await;
    let settings = nsd.settings();
    let (report, facts) = run(&settings, "clean.dmarc.test").await;
    assert_eq!(
        report.record.as_deref(),
        Some("v=DMARC1; p=reject; rua=mailto:dmarc@clean.dmarc.test")
    );
    assert_eq!(facts.dmarc_policy, Some("reject"));
    assert_eq!(facts.dmarc_enforced, Some(true));
    let (_, testing) = run(&settings, "testing-mode.dmarc.test").await;
    assert_eq!(testing.dmarc_enforced, Some(false));
    let (_, none) = run(&settings, "policy-none.dmarc.test").await;
    assert_eq!(none.dmarc_policy, Some("none"));
    let (_, missing) = run(&settings, "missing.dmarc.test").await;
    assert_eq!(missing.dmarc_policy, None);
    assert_eq!(missing.dmarc_enforced, Some(false));
}

#[tokio::test]
async fn tree_walk_reaches_the_parent_and_effective_policy_agrees() {
    let nsd = serve().await;
    let settings = nsd.settings();
    let (report, facts) = run(&settings, "mail.inherited.dmarc.test").await;
    let inherited = &report.findings[0];
    assert_eq!(inherited.detail["found_at"], "inherited.dmarc.test");
    let queried: Vec<&str> = inherited.detail["queried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        queried,
        [
            "_dmarc.mail.inherited.dmarc.test",
            "_dmarc.inherited.dmarc.test",
            "_dmarc.dmarc.test",
            "_dmarc.test",
        ]
    );
    // The parent's sp=quarantine applies to an existing subdomain.
    assert_eq!(facts.dmarc_policy, Some("quarantine"));
    let lookups = round(&settings);
    let summary = effective_policy(
        &lookups,
        &DomainName::parse("mail.inherited.dmarc.test").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(summary.found_at, "inherited.dmarc.test");
    assert_eq!(summary.policy, Policy::Quarantine);
    assert_eq!(summary.subdomain_policy, Some(Policy::Quarantine));
    assert!(!summary.testing);
    let none = effective_policy(&lookups, &DomainName::parse("missing.dmarc.test").unwrap()).await;
    assert_eq!(none, Ok(None));
}

#[tokio::test]
async fn unauthorized_destination_names_the_record_to_publish() {
    let nsd = serve().await;
    let (report, _) = run(&nsd.settings(), "rua-not-authorized.dmarc.test").await;
    let finding = &report.findings[0];
    assert_eq!(
        finding.detail["name"],
        "rua-not-authorized.dmarc.test._report._dmarc.dmarc-dest.test"
    );
    assert!(
        finding.message.contains("does not exist"),
        "{}",
        finding.message
    );
}
