use std::time::Duration;

use serde_json::json;

use super::*;
use crate::alerts::settings::RuleOverride;
use crate::alerts::snapshot::{FindingState, Listing};
use crate::config::DomainName;

fn finding(
    code: &str,
    severity: Severity,
    message: &str,
    detail: serde_json::Value,
) -> FindingState {
    FindingState {
        code: code.into(),
        severity,
        message: message.into(),
        detail,
    }
}

fn check(name: &str, status: Severity, findings: Vec<FindingState>) -> CheckState {
    CheckState {
        check: name.into(),
        status,
        findings,
    }
}

fn domain(name: &str, checks: Vec<CheckState>) -> DomainState {
    DomainState {
        domain: name.into(),
        selectors: vec!["s1".into(), "s2".into()],
        checks,
        ..DomainState::default()
    }
}

fn names(c: &[Candidate]) -> Vec<(&'static str, &str)> {
    c.iter()
        .map(|c| (c.rule.as_str(), c.severity.as_str()))
        .collect()
}

#[test]
fn a_listing_names_target_zone_domain_and_the_lists_reason() {
    let snap = Snapshot {
        domains: vec![domain("shop.example", vec![])],
        listings: vec![Listing {
            target: "192.0.2.10".into(),
            zone: "bl.test".into(),
            domains: vec!["shop.example".into(), "news.example".into()],
            codes: vec!["127.0.0.2".into()],
            reason: Some("Spam source 192.0.2.10 seen in traps".into()),
            since: 1_764_864_000,
        }],
        ..Snapshot::default()
    };
    let c = evaluate(&snap, &AlertSettings::default());
    assert_eq!(names(&c), [("blocklist_listed", "critical")]);
    assert_eq!(c[0].labels["domain"], "shop.example");
    assert_eq!(c[0].labels["target"], "192.0.2.10");
    assert_eq!(c[0].labels["zone"], "bl.test");
    assert_eq!(c[0].summary, "192.0.2.10 is listed on bl.test");
    assert_eq!(
        c[0].description,
        "192.0.2.10 is listed on bl.test (answer 127.0.0.2) since 2025-12-04T16:00:00Z; the list says: Spam source 192.0.2.10 seen in traps. Sending domains affected: shop.example, news.example."
    );
    assert_eq!(c[0].for_, Duration::ZERO);
}

#[test]
fn spf_over_the_threshold_fires_and_the_threshold_is_per_domain() {
    let spf = |name: &str, n: u32| DomainState {
        spf_lookups: Some(n),
        ..domain(name, vec![check("spf", Severity::Ok, vec![])])
    };
    let snap = Snapshot {
        domains: vec![spf("a.example", 11), spf("b.example", 8)],
        listings: vec![],
        ..Snapshot::default()
    };
    let mut settings = AlertSettings::default();
    assert_eq!(
        names(&evaluate(&snap, &settings)),
        [("spf_too_many_lookups", "critical")]
    );
    settings.overrides.insert(
        DomainName::parse("b.example").unwrap(),
        BTreeMap::from([(
            RuleKind::SpfTooManyLookups,
            RuleOverride {
                threshold: Some(7.0),
                ..RuleOverride::default()
            },
        )]),
    );
    let c = evaluate(&snap, &settings);
    let domains: Vec<&str> = c.iter().map(|c| c.labels["domain"].as_str()).collect();
    assert_eq!(domains, ["a.example", "b.example"]);
    assert!(
        c[1].description
            .contains("needs 8 DNS-querying terms (alert above 7;"),
        "{}",
        c[1].description
    );
}

#[test]
fn a_switched_off_rule_finds_nothing_and_a_domain_can_switch_one_off() {
    let dmarc = check(
        "dmarc",
        Severity::Warning,
        vec![finding(
            "dmarc.policy_none",
            Severity::Warning,
            "p=none.",
            json!({}),
        )],
    );
    let snap = Snapshot {
        domains: vec![
            domain("a.example", vec![dmarc.clone()]),
            domain("b.example", vec![dmarc]),
        ],
        listings: vec![],
        ..Snapshot::default()
    };
    let mut settings = AlertSettings::default();
    settings.overrides.insert(
        DomainName::parse("a.example").unwrap(),
        BTreeMap::from([(
            RuleKind::DmarcPolicyNone,
            RuleOverride {
                enabled: Some(false),
                ..RuleOverride::default()
            },
        )]),
    );
    let c = evaluate(&snap, &settings);
    assert_eq!(names(&c), [("dmarc_policy_none", "warning")]);
    assert_eq!(c[0].labels["domain"], "b.example");
    settings
        .rules
        .get_mut(&RuleKind::DmarcPolicyNone)
        .unwrap()
        .enabled = false;
    assert!(evaluate(&snap, &settings).is_empty());
}

#[test]
fn dkim_alerts_per_configured_selector_with_severity_from_key_size() {
    let dkim = check(
        "dkim",
        Severity::Critical,
        vec![
            finding(
                "dkim.weak_key",
                Severity::Critical,
                "512 bits at s1.",
                json!({"selector": "s1", "bits": 512}),
            ),
            finding(
                "dkim.weak_key",
                Severity::Warning,
                "1024 bits at s2.",
                json!({"selector": "s2", "bits": 1024}),
            ),
            // Not configured: never a label value.
            finding(
                "dkim.selector_missing",
                Severity::Critical,
                "none at x.",
                json!({"selector": "x"}),
            ),
            finding(
                "dkim.testing_mode",
                Severity::Info,
                "t=y.",
                json!({"selector": "s1"}),
            ),
        ],
    );
    let c = evaluate(
        &Snapshot {
            domains: vec![domain("shop.example", vec![dkim])],
            listings: vec![],
            ..Snapshot::default()
        },
        &AlertSettings::default(),
    );
    let got: Vec<(&str, &str, &str)> = c
        .iter()
        .map(|c| {
            (
                c.labels["selector"].as_str(),
                c.severity.as_str(),
                c.description.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("s1", "critical", "512 bits at s1."),
            ("s2", "warning", "1024 bits at s2.")
        ]
    );
}

#[test]
fn record_changes_mx_and_mta_sts_problems_each_have_a_rule() {
    let snap = Snapshot {
        domains: vec![domain(
            "shop.example",
            vec![
                check(
                    "mx",
                    Severity::Critical,
                    vec![finding(
                        "mx.target_unresolvable",
                        Severity::Critical,
                        "mx1 has no address.",
                        json!({}),
                    )],
                ),
                check(
                    "mta_sts",
                    Severity::Warning,
                    vec![finding(
                        "mta_sts.policy_unreachable",
                        Severity::Warning,
                        "No policy.",
                        json!({}),
                    )],
                ),
                check(
                    "spf",
                    Severity::Info,
                    vec![finding(
                        "record.changed",
                        Severity::Info,
                        "SPF changed.",
                        json!({}),
                    )],
                ),
            ],
        )],
        listings: vec![],
        ..Snapshot::default()
    };
    let c = evaluate(&snap, &AlertSettings::default());
    assert_eq!(
        names(&c),
        [
            ("record_changed", "info"),
            ("mx_broken", "critical"),
            ("mta_sts_broken", "warning")
        ]
    );
    assert_eq!(c[0].labels["check"], "spf");
}

#[test]
fn lookup_failures_are_one_dns_unreachable_alert_that_waits_half_an_hour() {
    let failed = |name: &str| {
        check(
            name,
            Severity::Unknown,
            vec![finding(
                &format!("{name}.lookup_failed"),
                Severity::Unknown,
                "The query timed out.",
                json!({}),
            )],
        )
    };
    let snap = Snapshot {
        domains: vec![domain(
            "shop.example",
            vec![
                failed("spf"),
                failed("dmarc"),
                check("bimi", Severity::Ok, vec![]),
            ],
        )],
        listings: vec![],
        ..Snapshot::default()
    };
    let c = evaluate(&snap, &AlertSettings::default());
    assert_eq!(names(&c), [("dns_unreachable", "warning")]);
    assert_eq!(c[0].for_, Duration::from_secs(1800));
    assert_eq!(
        c[0].description,
        "2 of 3 checks of shop.example could not run: spf, dmarc. First error: The query timed out."
    );
}

#[test]
fn every_rule_has_a_runbook_section_and_a_docs_entry() {
    let runbooks = include_str!("../../../docs/runbooks.md");
    let alerts_md = include_str!("../../../docs/alerts.md");
    for rule in RuleKind::ALL {
        let heading = format!("## {}", rule.alertname());
        assert!(
            runbooks.lines().any(|l| l == heading),
            "docs/runbooks.md lacks {heading}"
        );
        assert!(
            alerts_md.contains(&format!("`{}`", rule.as_str())),
            "docs/alerts.md lacks {rule}"
        );
        assert_eq!(RuleKind::parse(rule.as_str()), Some(rule));
    }
}

#[test]
fn a_key_the_check_accepts_alerts_below_a_raised_threshold() {
    let d = DomainState {
        dkim_key_bits: vec![
            ("s1".into(), 2048),
            ("s2".into(), 4096),
            ("old".into(), 1024),
        ],
        ..domain("shop.example", vec![check("dkim", Severity::Ok, vec![])])
    };
    let mut settings = AlertSettings::default();
    settings
        .rules
        .get_mut(&RuleKind::DkimKeyProblem)
        .unwrap()
        .threshold = Some(3072.0);
    let c = evaluate(
        &Snapshot {
            domains: vec![d],
            listings: vec![],
            ..Snapshot::default()
        },
        &settings,
    );
    let got: Vec<(&str, &str)> = c
        .iter()
        .map(|c| (c.labels["selector"].as_str(), c.severity.as_str()))
        .collect();
    // `old` is not a configured selector: no label, no alert.
    assert_eq!(got, [("s1", "warning")]);
    assert_eq!(
        c[0].description,
        "The DKIM key at s1._domainkey.shop.example is shorter than 3072 bits (the configured threshold)."
    );
}

#[test]
fn a_dmarc_record_changed_to_a_weaker_policy_is_weakened() {
    let change = |old: &str, new: &str| {
        finding(
            "record.changed",
            Severity::Info,
            "The DMARC record changed.",
            json!({"old": old, "new": new}),
        )
    };
    let snap = |f: FindingState| Snapshot {
        domains: vec![domain(
            "shop.example",
            vec![check("dmarc", Severity::Info, vec![f])],
        )],
        listings: vec![],
        ..Snapshot::default()
    };
    let run = |old: &str, new: &str| {
        evaluate(&snap(change(old, new)), &AlertSettings::default())
            .into_iter()
            .filter(|c| c.rule == RuleKind::DmarcPolicyWeakened)
            .map(|c| (c.severity.as_str(), c.summary))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run("v=DMARC1; p=reject; rua=mailto:d@x", "v=DMARC1;p=none"),
        [(
            "critical",
            "The DMARC policy of shop.example was weakened from reject to none".to_owned()
        )]
    );
    assert_eq!(
        run("v=DMARC1; p=reject", "v=DMARC1; P=Quarantine"),
        [(
            "warning",
            "The DMARC policy of shop.example was weakened from reject to quarantine".to_owned()
        )]
    );
    assert!(run("v=DMARC1; p=none", "v=DMARC1; p=reject").is_empty());
    assert!(
        run("v=DMARC1; p=reject", "").is_empty(),
        "removal is dmarc_missing"
    );
    assert!(run("v=spf1 -all", "v=DMARC1; p=none").is_empty());
}
