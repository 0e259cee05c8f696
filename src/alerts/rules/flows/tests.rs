//! Each rule over reports, events and ingest: it fires, its volume gate holds it, a per-domain
//! override changes it, and its alert resolves when the condition clears.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::{AlertSeverity, Candidate, RuleKind, evaluate};
use crate::alerts::lifecycle::{self, Phase};
use crate::alerts::settings::{AlertSettings, RuleOverride};
use crate::alerts::snapshot::{
    DmarcFigures, DomainState, IngestFailures, RateFigure, RateFigures, ReportHistory, Snapshot,
    SourceFigure,
};
use crate::config::DomainName;

const NOW: i64 = 1_800_000_000;

/// Every rule of this file on, every other rule off (they read check results these tests lack).
fn settings() -> AlertSettings {
    let mut s = AlertSettings::default();
    for (k, r) in s.rules.iter_mut() {
        r.enabled = matches!(
            k,
            RuleKind::DmarcFailureRate
                | RuleKind::UnknownSource
                | RuleKind::NoReports
                | RuleKind::BounceRate
                | RuleKind::ComplaintRate
                | RuleKind::IngestFailures
        );
    }
    s
}

fn over(settings: &mut AlertSettings, domain: &str, rule: RuleKind, o: RuleOverride) {
    settings
        .overrides
        .entry(DomainName::parse(domain).unwrap())
        .or_default()
        .insert(rule, o);
}

fn snap(domains: Vec<DomainState>) -> Snapshot {
    Snapshot {
        domains,
        now: NOW,
        ..Snapshot::default()
    }
}

fn domain(name: &str) -> DomainState {
    DomainState {
        domain: name.into(),
        ..DomainState::default()
    }
}

fn dmarc(name: &str, messages: u64, failing: u64) -> DomainState {
    DomainState {
        dmarc: Some(DmarcFigures {
            window: "48h".into(),
            messages,
            failing,
            reports: 3,
        }),
        ..domain(name)
    }
}

fn rates(name: &str, bounces: RateFigures, complaints: RateFigures) -> DomainState {
    DomainState {
        bounces: Some(bounces),
        complaints: Some(complaints),
        ..domain(name)
    }
}

fn figures(events: u64, volume: u64, providers: &[(&str, u64, u64)]) -> RateFigures {
    RateFigures {
        window: "24h".into(),
        total: RateFigure { events, volume },
        providers: providers
            .iter()
            .map(|(p, events, volume)| {
                (
                    (*p).to_owned(),
                    RateFigure {
                        events: *events,
                        volume: *volume,
                    },
                )
            })
            .collect(),
    }
}

fn of(c: &[Candidate], rule: RuleKind) -> Vec<Candidate> {
    c.iter().filter(|c| c.rule == rule).cloned().collect()
}

/// Fire `first` (with `for` 0), then evaluate `second`: the alert's phase after each.
fn life(first: &Snapshot, second: &Snapshot, settings: &AlertSettings) -> (Phase, Phase) {
    let mut records = BTreeMap::new();
    let runbook = |_: RuleKind| String::new();
    let c = evaluate(first, settings);
    assert_eq!(c.len(), 1, "{c:#?}");
    lifecycle::step(&mut records, &c, 1_000, &runbook, &[]);
    let phase1 = records.values().next().unwrap().phase;
    lifecycle::step(
        &mut records,
        &evaluate(second, settings),
        2_000,
        &runbook,
        &[],
    );
    (phase1, records.values().next().unwrap().phase)
}

fn immediate(mut s: AlertSettings) -> AlertSettings {
    for r in s.rules.values_mut() {
        r.for_ = Duration::ZERO;
    }
    s
}

#[test]
fn dmarc_failure_rate_fires_over_the_share_with_the_measured_values() {
    let c = evaluate(&snap(vec![dmarc("shop.example", 1000, 100)]), &settings());
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].rule, RuleKind::DmarcFailureRate);
    assert_eq!(c[0].severity, AlertSeverity::Warning);
    assert_eq!(
        c[0].labels,
        BTreeMap::from([("domain".to_owned(), "shop.example".to_owned())])
    );
    assert_eq!(
        c[0].summary,
        "10% of the mail reported for shop.example fails DMARC"
    );
    assert_eq!(
        c[0].description,
        "In the DMARC aggregate reports for shop.example covering the last 48h (3 reports), 100 of 1000 messages (10%) passed neither aligned DKIM nor aligned SPF (alert above 5% from 100 messages)."
    );
    // At the threshold exactly: not over it.
    assert!(evaluate(&snap(vec![dmarc("shop.example", 1000, 50)]), &settings()).is_empty());
}

#[test]
fn dmarc_failure_rate_is_held_by_its_volume_gate_and_tuned_per_domain() {
    let s = settings();
    let small = snap(vec![dmarc("tiny.example", 99, 99)]);
    assert!(evaluate(&small, &s).is_empty(), "99 messages < 100");
    let mut s = settings();
    over(
        &mut s,
        "tiny.example",
        RuleKind::DmarcFailureRate,
        RuleOverride {
            min_volume: Some(10),
            ..RuleOverride::default()
        },
    );
    over(
        &mut s,
        "shop.example",
        RuleKind::DmarcFailureRate,
        RuleOverride {
            threshold: Some(0.2),
            ..RuleOverride::default()
        },
    );
    let both = snap(vec![
        dmarc("tiny.example", 99, 99),
        dmarc("shop.example", 1000, 100),
    ]);
    let c = evaluate(&both, &s);
    let domains: Vec<&str> = c.iter().map(|c| c.labels["domain"].as_str()).collect();
    assert_eq!(
        domains,
        ["tiny.example"],
        "shop.example's 10% is under its 20%"
    );
}

#[test]
fn dmarc_failure_rate_resolves_when_the_share_drops() {
    let (a, b) = life(
        &snap(vec![dmarc("shop.example", 1000, 100)]),
        &snap(vec![dmarc("shop.example", 1000, 10)]),
        &settings(),
    );
    assert_eq!((a, b), (Phase::Firing, Phase::Resolved));
}

fn sources(name: &str, list: &[(&str, u64)]) -> DomainState {
    DomainState {
        failing_sources: list
            .iter()
            .map(|(ip, n)| SourceFigure {
                source_ip: (*ip).into(),
                failing: *n,
            })
            .collect(),
        ..domain(name)
    }
}

#[test]
fn an_unknown_source_over_n_fires_one_alert_per_domain_naming_the_sources() {
    let mut s = settings();
    let list: Vec<(String, u64)> = (1..=7)
        .map(|i| (format!("203.0.113.{i}"), 1000 - i * 10))
        .collect();
    let list: Vec<(&str, u64)> = list.iter().map(|(ip, n)| (ip.as_str(), *n)).collect();
    let c = evaluate(&snap(vec![sources("shop.example", &list)]), &s);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rule, RuleKind::UnknownSource);
    assert_eq!(c[0].labels.len(), 1, "no source IP in the labels");
    assert_eq!(
        c[0].summary,
        "7 unknown sources send mail as shop.example that fails DMARC"
    );
    assert!(
        c[0].description.starts_with(
            "DMARC aggregate reports for shop.example covering the last 48h show 7 sources outside the configured sending IPs with more than 100 messages each that passed neither aligned DKIM nor aligned SPF: 203.0.113.1 (990 messages), 203.0.113.2 (980 messages), 203.0.113.3 (970 messages), 203.0.113.4 (960 messages), 203.0.113.5 (950 messages), and 2 more."
        ),
        "{}",
        c[0].description
    );
    // N is per domain: 960 is not over 960.
    over(
        &mut s,
        "shop.example",
        RuleKind::UnknownSource,
        RuleOverride {
            threshold: Some(960.0),
            ..RuleOverride::default()
        },
    );
    let c = evaluate(&snap(vec![sources("shop.example", &list)]), &s);
    assert_eq!(
        c[0].summary,
        "3 unknown sources send mail as shop.example that fails DMARC"
    );
}

#[test]
fn an_unknown_source_at_or_under_n_says_nothing_and_resolves_when_it_stops() {
    let s = settings();
    assert!(
        evaluate(
            &snap(vec![sources("shop.example", &[("203.0.113.5", 100)])]),
            &s
        )
        .is_empty()
    );
    let (a, b) = life(
        &snap(vec![sources("shop.example", &[("203.0.113.5", 101)])]),
        &snap(vec![sources("shop.example", &[])]),
        &s,
    );
    assert_eq!((a, b), (Phase::Firing, Phase::Resolved));
    let c = evaluate(
        &snap(vec![sources("shop.example", &[("203.0.113.5", 101)])]),
        &s,
    );
    assert_eq!(
        c[0].summary,
        "203.0.113.5 sends mail as shop.example that fails DMARC"
    );
}

fn history(name: &str, last_end: Option<i64>, reports: u64) -> DomainState {
    DomainState {
        report_history: Some(ReportHistory { last_end, reports }),
        ..domain(name)
    }
}

#[test]
fn no_reports_for_48_hours_fires_only_for_domains_that_had_reports() {
    let s = settings();
    let silent = NOW - 49 * 3600;
    let c = evaluate(
        &snap(vec![
            history("quiet.example", Some(silent), 1),
            history("fresh.example", Some(NOW - 3600), 1),
            history("never.example", None, 0),
        ]),
        &s,
    );
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].labels["domain"], "quiet.example");
    assert_eq!(c[0].summary, "No DMARC reports for quiet.example in 48h");
    assert_eq!(
        c[0].description,
        "The latest DMARC aggregate report stored for quiet.example covers up to 2027-01-13T07:00:00Z, more than 48h ago: the rua address, the mailbox it delivers to or the ingest source may be broken."
    );
}

#[test]
fn no_reports_watches_a_domain_that_never_had_one_when_its_gate_is_0_and_takes_its_window() {
    let mut s = settings();
    over(
        &mut s,
        "never.example",
        RuleKind::NoReports,
        RuleOverride {
            min_volume: Some(0),
            ..RuleOverride::default()
        },
    );
    over(
        &mut s,
        "quiet.example",
        RuleKind::NoReports,
        RuleOverride {
            window: Some(Duration::from_secs(72 * 3600)),
            ..RuleOverride::default()
        },
    );
    let c = evaluate(
        &snap(vec![
            history("quiet.example", Some(NOW - 49 * 3600), 1),
            history("never.example", None, 0),
        ]),
        &s,
    );
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].labels["domain"], "never.example");
    assert!(
        c[0].description
            .starts_with("No DMARC aggregate report has ever been stored for never.example")
    );
}

#[test]
fn no_reports_resolves_when_a_report_arrives() {
    let (a, b) = life(
        &snap(vec![history("quiet.example", Some(NOW - 50 * 3600), 4)]),
        &snap(vec![history("quiet.example", Some(NOW - 600), 5)]),
        &settings(),
    );
    assert_eq!((a, b), (Phase::Firing, Phase::Resolved));
}

#[test]
fn bounce_rates_warn_and_page_at_the_provider_levels() {
    let s = settings();
    let quiet = figures(0, 1000, &[]);
    let c = evaluate(
        &snap(vec![
            rates("warn.example", figures(30, 1000, &[]), quiet.clone()),
            rates("crit.example", figures(50, 1000, &[]), quiet.clone()),
            rates("fine.example", figures(19, 1000, &[]), quiet.clone()),
        ]),
        &s,
    );
    let got: Vec<(&str, AlertSeverity)> = c
        .iter()
        .map(|c| (c.labels["domain"].as_str(), c.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("warn.example", AlertSeverity::Warning),
            ("crit.example", AlertSeverity::Critical)
        ]
    );
    assert_eq!(c[0].rule, RuleKind::BounceRate);
    assert_eq!(c[0].summary, "warn.example bounces 3% of its mail");
    assert_eq!(
        c[0].description,
        "The 24h bounce rate of warn.example is 3%: 30 bounces of 1000 messages (deliveries + bounces) (warning at 2%, critical at 5%, judged from 100 messages)."
    );
    assert_eq!(c[0].for_, Duration::from_secs(15 * 60));
}

#[test]
fn complaint_rates_use_their_own_levels_and_the_volume_gate() {
    let s = settings();
    let none = figures(0, 1000, &[]);
    let c = evaluate(
        &snap(vec![
            rates("a.example", none.clone(), figures(2, 1000, &[])),
            rates("b.example", none.clone(), figures(3, 1000, &[])),
            rates("small.example", none.clone(), figures(5, 99, &[])),
        ]),
        &s,
    );
    let got: Vec<(&str, AlertSeverity)> = c
        .iter()
        .map(|c| (c.labels["domain"].as_str(), c.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("a.example", AlertSeverity::Warning),
            ("b.example", AlertSeverity::Critical)
        ],
        "5 complaints in 99 deliveries are under the 100-message gate"
    );
    assert_eq!(
        c[0].summary,
        "a.example draws complaints on 0.2% of its mail"
    );
}

#[test]
fn a_provider_worse_than_its_domain_gets_its_own_alert() {
    let s = settings();
    let c = evaluate(
        &snap(vec![rates(
            "shop.example",
            figures(
                30,
                1000,
                &[("gmail", 25, 400), ("yahoo", 5, 500), ("other", 0, 100)],
            ),
            figures(0, 1000, &[]),
        )]),
        &s,
    );
    let got: Vec<(Option<&str>, AlertSeverity)> = c
        .iter()
        .map(|c| (c.labels.get("provider").map(String::as_str), c.severity))
        .collect();
    assert_eq!(
        got,
        [
            (None, AlertSeverity::Warning),
            (Some("gmail"), AlertSeverity::Critical)
        ],
        "gmail's 6.25% is critical; yahoo's 1% is nothing"
    );
    assert!(
        c[0].description
            .ends_with(" Worst providers: gmail 6.25% (25/400), yahoo 1% (5/500)."),
        "{}",
        c[0].description
    );
    assert_eq!(
        c[1].summary,
        "shop.example bounces 6.25% of its mail to gmail"
    );
}

#[test]
fn rate_levels_are_tuned_per_domain_and_the_alert_resolves_when_the_rate_falls() {
    let mut s = immediate(settings());
    over(
        &mut s,
        "shop.example",
        RuleKind::BounceRate,
        RuleOverride {
            threshold: Some(0.04),
            critical: Some(0.08),
            min_volume: Some(10),
            ..RuleOverride::default()
        },
    );
    let quiet = figures(0, 50, &[]);
    let at = |bounces| {
        snap(vec![rates(
            "shop.example",
            figures(bounces, 50, &[]),
            quiet.clone(),
        )])
    };
    assert!(
        evaluate(&at(1), &s).is_empty(),
        "2% is under the domain's 4%"
    );
    let c = evaluate(&at(3), &s);
    assert_eq!(c[0].severity, AlertSeverity::Warning, "6% over 50 messages");
    let (a, b) = life(&at(3), &at(1), &s);
    assert_eq!((a, b), (Phase::Firing, Phase::Resolved));
}

fn failures(count: u64) -> Snapshot {
    Snapshot {
        now: NOW,
        ingest_failures: Some(IngestFailures {
            window: "1h".into(),
            count,
            by_reason: if count == 0 {
                vec![]
            } else {
                vec![("not_a_report".into(), count)]
            },
            last_error: (count > 0).then(|| "no DMARC, TLS-RPT, ARF or DSN content found".into()),
        }),
        ..Snapshot::default()
    }
}

#[test]
fn ingest_failures_fire_a_daemon_wide_alert_over_the_threshold_and_resolve() {
    let mut s = settings();
    let c = evaluate(&failures(2), &s);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rule, RuleKind::IngestFailures);
    assert!(c[0].labels.is_empty(), "no domain label: {:?}", c[0].labels);
    assert_eq!(c[0].summary, "2 inputs failed to ingest in the last 1h");
    assert_eq!(
        c[0].description,
        "The ingest pipeline refused 2 inputs in the last 1h (alert above 0): not_a_report 2. Refused files are kept in failed/ with the reason beside them; refused uploads were answered 422. Latest: no DMARC, TLS-RPT, ARF or DSN content found"
    );
    assert!(evaluate(&failures(0), &s).is_empty());
    let (a, b) = life(&failures(1), &failures(0), &s);
    assert_eq!((a, b), (Phase::Firing, Phase::Resolved));
    s.rules
        .get_mut(&RuleKind::IngestFailures)
        .unwrap()
        .threshold = Some(2.0);
    assert!(evaluate(&failures(2), &s).is_empty(), "2 is not above 2");
}

#[test]
fn a_rule_switched_off_for_a_domain_says_nothing_about_it() {
    let mut s = settings();
    over(
        &mut s,
        "shop.example",
        RuleKind::DmarcFailureRate,
        RuleOverride {
            enabled: Some(false),
            ..RuleOverride::default()
        },
    );
    let c = evaluate(
        &snap(vec![
            dmarc("shop.example", 1000, 500),
            dmarc("news.example", 1000, 500),
        ]),
        &s,
    );
    let domains: Vec<&str> = c.iter().map(|c| c.labels["domain"].as_str()).collect();
    assert_eq!(domains, ["news.example"]);
    assert_eq!(of(&c, RuleKind::DmarcFailureRate).len(), 1);
}

#[test]
fn figures_not_read_say_nothing() {
    let c = evaluate(&snap(vec![domain("shop.example")]), &settings());
    assert!(c.is_empty(), "{c:#?}");
}

#[test]
fn percentages_and_windows_read_as_people_write_them() {
    use super::{human, pct};
    assert_eq!(pct(0.05), "5%");
    assert_eq!(pct(0.001), "0.1%");
    assert_eq!(pct(0.0625), "6.25%");
    assert_eq!(pct(1.0 / 3.0), "33.33%");
    assert_eq!(human(Duration::from_secs(48 * 3600)), "48h");
    assert_eq!(human(Duration::from_secs(7 * 86_400)), "7d");
    assert_eq!(human(Duration::from_secs(90)), "90s");
    assert_eq!(human(Duration::from_secs(1800)), "30m");
}
