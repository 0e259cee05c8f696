//! Seeding the state from the store: rounds recorded by `record_domain_round` and the blocklist round
//! job, then a fresh `Metrics` reading a fresh state seeded from the same store must read the same
//! series — for what the configuration still names.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::checks::{DkimKeyFact, Facts};
use crate::config::{DomainName, load_str};
use crate::dns::Resolver;
use crate::dns::testing::FakeDns;
use crate::findings::{CheckReport, Finding, FindingCode, Severity};
use crate::metrics::Metrics;
use crate::posture::{DomainReport, IpReport};
use crate::scheduler::{BuiltinJob, Job, JobContext};
use crate::store::SqliteStore;

/// The families restored at start.
const RESTORED: [&str; 8] = [
    "senderscope_check_status",
    "senderscope_findings",
    "senderscope_last_check_timestamp_seconds",
    "senderscope_spf_dns_lookups",
    "senderscope_dkim_key_size",
    "senderscope_dmarc_policy",
    "senderscope_blocklist_listed",
    "senderscope_blocklist_zone_healthy",
];

/// The restored families' sample lines, sorted.
fn series(m: &Metrics) -> Vec<String> {
    let mut out: Vec<String> = m
        .render()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.split(['{', ' '])
                .next()
                .is_some_and(|f| RESTORED.contains(&f))
        })
        .map(str::to_owned)
        .collect();
    out.sort();
    out
}

fn has(lines: &[String], line: &str) -> bool {
    lines.iter().any(|l| l == line)
}

struct World {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    results: Arc<Results>,
    cx: JobContext,
}

fn world(yaml: &str, dns: &crate::dns::DnsSettings) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let config = Arc::new(load_str(yaml, "t.yaml").unwrap());
    let results = Arc::new(Results::new(store.clone(), &config));
    let metrics = Arc::new(Metrics::new().unwrap());
    metrics.read_state(results.state().clone());
    let cx = JobContext {
        config,
        results: results.clone(),
        metrics,
        dns: Resolver::new(dns).unwrap(),
        shutdown: CancellationToken::new(),
    };
    World {
        _dir: dir,
        store,
        results,
        cx,
    }
}

impl World {
    /// A fresh daemon's metrics, its state seeded from the store, with `yaml` as the running
    /// configuration.
    async fn restarted(&self, yaml: &str) -> (Metrics, Seeded) {
        let metrics = Metrics::new().unwrap();
        let config = load_str(yaml, "t.yaml").unwrap();
        let (results, seeded) = Results::open(self.store.clone(), &config).await.unwrap();
        metrics.read_state(results.state().clone());
        (metrics, seeded)
    }
}

const POSTURE: &str = "\
domains:
  - name: a.test
    dkim_selectors: [s1, s2]
    sending_ips: [192.0.2.10, 192.0.2.11, 198.51.100.0/30]
  - name: b.test
blocklists: {defaults: false}
";

fn check(check: &str, at: i64, findings: Vec<Finding>) -> CheckReport {
    CheckReport {
        target: "a.test".into(),
        check: check.parse().unwrap(),
        status: crate::findings::worst(&findings),
        record: None,
        findings,
        checked_at: at,
        duration: Duration::from_millis(3),
    }
}

fn failed(code: FindingCode, selector: Option<&str>) -> Finding {
    let f = Finding::new(code, Severity::Unknown, "timed out");
    match selector {
        Some(s) => f.with_detail(json!({"selector": s})),
        None => f,
    }
}

fn key(selector: &str, bits: u32) -> DkimKeyFact {
    DkimKeyFact {
        selector: selector.into(),
        key_type: "rsa",
        bits,
    }
}

fn ip(addr: &str, findings: Vec<Finding>) -> IpReport {
    IpReport {
        ip: addr.parse().unwrap(),
        status: crate::findings::worst(&findings),
        ptr: None,
        fcrdns: Some(findings.is_empty()),
        findings,
    }
}

fn round(
    domain: &str,
    at: i64,
    checks: Vec<CheckReport>,
    facts: Facts,
    ips: Vec<IpReport>,
) -> DomainRound {
    let checks: Vec<CheckReport> = checks
        .into_iter()
        .map(|mut c| {
            c.target = domain.into();
            c
        })
        .collect();
    DomainRound {
        report: DomainReport {
            domain: DomainName::parse(domain).unwrap(),
            status: checks.iter().map(|c| c.status).max().unwrap_or_default(),
            checks,
            facts,
            ips,
        },
        dkim_selectors: vec!["s1".into(), "s2".into()],
        checked_at: at,
        took: Duration::from_millis(7),
    }
}

/// Round 1 learns everything; round 2 cannot read SPF or the s2 key (their series keep round 1's
/// values) and sees DMARC move to reject.
async fn two_rounds(w: &World) {
    let weak = Finding::new(FindingCode::DkimWeakKey, Severity::Warning, "1024 bits")
        .with_detail(json!({"selector": "s2"}));
    let no_ptr = Finding::new(FindingCode::PtrMissing, Severity::Critical, "no PTR");
    let first = round(
        "a.test",
        1_000,
        vec![
            check("spf", 1_000, vec![]),
            check("dkim", 1_000, vec![weak]),
            check("dmarc", 1_000, vec![]),
            check("mx", 1_000, vec![]),
            check("bulk_sender", 1_000, vec![]),
        ],
        Facts {
            spf_dns_lookups: Some(3),
            spf_present: Some(true),
            dkim_keys: vec![key("s1", 2048), key("s2", 1024)],
            dmarc_policy: Some("quarantine"),
            dmarc_enforced: Some(true),
        },
        vec![
            ip("192.0.2.10", vec![]),
            ip("192.0.2.11", vec![no_ptr.clone()]),
        ],
    );
    w.results.record_domain_round(first).await.unwrap();
    let second = round(
        "a.test",
        2_000,
        vec![
            check(
                "spf",
                2_000,
                vec![failed(FindingCode::SpfLookupFailed, None)],
            ),
            check(
                "dkim",
                2_000,
                vec![failed(FindingCode::DkimLookupFailed, Some("s2"))],
            ),
            check("dmarc", 2_000, vec![]),
            check("mx", 2_000, vec![]),
            check("bulk_sender", 2_000, vec![]),
        ],
        Facts {
            dkim_keys: vec![key("s1", 2048)],
            dmarc_policy: Some("reject"),
            dmarc_enforced: Some(true),
            ..Facts::default()
        },
        vec![ip("192.0.2.10", vec![]), ip("192.0.2.11", vec![no_ptr])],
    );
    w.results.record_domain_round(second).await.unwrap();
    // b.test has no sending IP: no ptr series.
    let b = round(
        "b.test",
        2_000,
        vec![check("spf", 2_000, vec![])],
        Facts::default(),
        vec![],
    );
    w.results.record_domain_round(b).await.unwrap();
    // A blocklist result stored under the domain is not a posture check.
    w.store
        .save_checks(vec![CheckReport {
            target: "a.test".into(),
            check: CheckId::Blocklists,
            status: Severity::Ok,
            record: None,
            findings: vec![],
            checked_at: 2_000,
            duration: Duration::ZERO,
        }])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_restart_publishes_what_the_rounds_had_published() {
    let fake = FakeDns::start().await.unwrap();
    let w = world(POSTURE, &fake.settings());
    two_rounds(&w).await;
    let before = series(&w.cx.metrics);
    for line in [
        // Kept from round 1: round 2 could not learn them.
        r#"senderscope_spf_dns_lookups{domain="a.test"} 3"#,
        r#"senderscope_dkim_key_size{domain="a.test",selector="s2"} 1024"#,
        r#"senderscope_check_status{check="spf",domain="a.test"} -1"#,
        r#"senderscope_dmarc_policy{domain="a.test",policy="reject"} 1"#,
        r#"senderscope_check_status{check="ptr",domain="a.test"} 3"#,
        r#"senderscope_findings{check="ptr",domain="a.test",severity="critical"} 1"#,
        r#"senderscope_last_check_timestamp_seconds{domain="a.test"} 2000"#,
    ] {
        assert!(
            has(&before, line),
            "the round should publish {line}: {before:#?}"
        );
    }

    let (after, seeded) = w.restarted(POSTURE).await;
    assert_eq!(
        series(&after),
        before,
        "restored series differ from the published ones"
    );
    // a.test: 5 checks + the blocklist result (read, not published as a check) + 2 ptr; b.test: 1.
    assert_eq!(seeded.results, 9);
    let text = after.render().unwrap();
    assert!(!text.contains(r#"check="blocklists""#), "{text}");
    assert!(!text.contains(r#"check="ptr",domain="b.test""#));
    // A restore is not a run: no duration observed.
    assert!(
        !text.contains("senderscope_check_duration_seconds_count"),
        "{text}"
    );
}

/// One timestamp per domain: the oldest last run among its checks (docs/metrics.md), so a check
/// that stopped running keeps the domain's timestamp from moving.
#[tokio::test]
async fn the_domain_timestamp_is_its_stalest_check() {
    let fake = FakeDns::start().await.unwrap();
    let w = world(POSTURE, &fake.settings());
    let both = round(
        "a.test",
        1_000,
        vec![check("spf", 1_000, vec![]), check("mx", 1_000, vec![])],
        Facts::default(),
        vec![],
    );
    w.results.record_domain_round(both).await.unwrap();
    let spf_only = round(
        "a.test",
        2_000,
        vec![check("spf", 2_000, vec![])],
        Facts::default(),
        vec![],
    );
    w.results.record_domain_round(spf_only).await.unwrap();
    let lines = series(&w.cx.metrics);
    let stamps: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("senderscope_last_check_timestamp_seconds"))
        .collect();
    assert_eq!(
        stamps,
        [r#"senderscope_last_check_timestamp_seconds{domain="a.test"} 1000"#],
        "{lines:#?}"
    );
}

#[tokio::test]
async fn only_what_the_configuration_still_names_is_published() {
    let fake = FakeDns::start().await.unwrap();
    let w = world(POSTURE, &fake.settings());
    two_rounds(&w).await;
    let now = "\
domains:
  - name: a.test
    dkim_selectors: [s1]
    sending_ips: [192.0.2.10]
blocklists: {defaults: false}
";
    let (after, _) = w.restarted(now).await;
    let lines = series(&after);
    assert!(lines.iter().all(|l| !l.contains("b.test")), "{lines:#?}");
    assert!(
        lines.iter().all(|l| !l.contains(r#"selector="s2""#)),
        "{lines:#?}"
    );
    assert!(has(
        &lines,
        r#"senderscope_dkim_key_size{domain="a.test",selector="s1"} 2048"#
    ));
    // The roll-up of the IPs still configured: 192.0.2.11 (no PTR) is gone.
    assert!(
        has(
            &lines,
            r#"senderscope_check_status{check="ptr",domain="a.test"} 0"#
        ),
        "{lines:#?}"
    );

    // Without single IPs there is no ptr series at all.
    let ranges_only = now.replace("[192.0.2.10]", "[198.51.100.0/30]");
    let (after, _) = w.restarted(&ranges_only).await;
    assert!(series(&after).iter().all(|l| !l.contains(r#"check="ptr""#)));
}

#[tokio::test]
async fn an_empty_store_restores_nothing() {
    let fake = FakeDns::start().await.unwrap();
    let w = world(POSTURE, &fake.settings());
    let (after, seeded) = w.restarted(POSTURE).await;
    assert_eq!(seeded, Seeded::default());
    assert!(series(&after).is_empty());
}

fn blocklist_yaml(zone: &str) -> String {
    format!(
        "domains:\n  - name: a.test\n    sending_ips: [192.0.2.10, 192.0.2.11, 192.0.2.12, 192.0.2.13]\n\
         blocklists: {{defaults: false, extra: [{{zone: {zone}, kind: ipv4, listed: [127.0.0.2]}}]}}\n"
    )
}

#[tokio::test]
async fn blocklist_series_come_back_listed_clean_or_not_at_all() {
    let fake = FakeDns::start().await.unwrap();
    fake.load(
        "2.0.0.127.bl.test A 127.0.0.2\n\
         10.2.0.192.bl.test A 127.0.0.2\n\
         13.2.0.192.bl.test A 127.0.0.2",
    )
    .unwrap();
    let yaml = blocklist_yaml("bl.test");
    let w = world(&yaml, &fake.settings());
    BuiltinJob::Blocklists.run(w.cx.clone()).await.unwrap();
    // Round 2: .10 stays listed but its query times out (a 1 stays); .12 was clean and now times out
    // (its 0 is withdrawn); .13 is delisted (0).
    fake.timeout("10.2.0.192.bl.test")
        .timeout("12.2.0.192.bl.test")
        .remove("13.2.0.192.bl.test");
    BuiltinJob::Blocklists.run(w.cx.clone()).await.unwrap();
    let before = series(&w.cx.metrics);
    let listed = |ip: &str, v: u8| {
        format!(r#"senderscope_blocklist_listed{{target="{ip}",zone="bl.test"}} {v}"#)
    };
    assert!(has(&before, &listed("192.0.2.10", 1)), "{before:#?}");
    assert!(has(&before, &listed("192.0.2.11", 0)), "{before:#?}");
    assert!(has(&before, &listed("192.0.2.13", 0)), "{before:#?}");
    assert!(
        !before.iter().any(|l| l.contains("192.0.2.12")),
        "{before:#?}"
    );
    assert!(has(
        &before,
        r#"senderscope_blocklist_zone_healthy{zone="bl.test"} 1"#
    ));

    let (after, seeded) = w.restarted(&yaml).await;
    let blocklist = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| l.starts_with("senderscope_blocklist"))
            .collect()
    };
    assert_eq!(blocklist(series(&after)), blocklist(before));
    assert_eq!(seeded.listings, 1, "one open listing period: 192.0.2.10");

    // A zone no longer configured has no series.
    let (after, _) = w.restarted(&blocklist_yaml("other.test")).await;
    assert!(
        blocklist(series(&after)).is_empty(),
        "{:#?}",
        series(&after)
    );
}

#[tokio::test]
async fn the_state_changes_only_after_the_store_committed() {
    let fake = FakeDns::start().await.unwrap();
    let w = world(POSTURE, &fake.settings());
    let spf = |at| {
        round(
            "a.test",
            at,
            vec![check("spf", at, vec![])],
            Facts::default(),
            vec![],
        )
    };
    w.results.record_domain_round(spf(1_000)).await.unwrap();
    let target: Target = "a.test".parse().unwrap();
    let checked_at = |w: &World| {
        w.results
            .state()
            .read()
            .result(&target, CheckId::Spf)
            .map(|c| c.checked_at)
    };
    assert_eq!(checked_at(&w), Some(1_000));
    // A store that cannot commit: the round fails and the state keeps what is stored.
    w.store.close().await.unwrap();
    assert!(w.results.record_domain_round(spf(2_000)).await.is_err());
    assert_eq!(checked_at(&w), Some(1_000));
}
