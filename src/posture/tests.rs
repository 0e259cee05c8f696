//! Orchestration against the in-process FakeDns, and the JSON/text views on hand-built reports.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::checks::mta_sts::PolicyFetcher;
use crate::dns::Resolver;
use crate::dns::testing::{FakeDns, ptr_name};
use crate::findings::FindingCode;

fn context(domain: &str, ips: &[&str], dns: &crate::dns::Lookups) -> DomainContext {
    DomainContext {
        domain: DomainName::parse(domain).unwrap(),
        dkim_selectors: vec!["s1".into()],
        sending_ips: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
        dns: dns.clone(),
        https: PolicyFetcher::default(),
    }
}

#[tokio::test]
async fn every_check_is_reported_then_the_bulk_sender_summary() {
    let dns = FakeDns::start().await.unwrap();
    let ip: IpAddr = "192.0.2.10".parse().unwrap();
    dns.load(&format!(
        "{} PTR mail.orchestra.test\nmail.orchestra.test A 192.0.2.10",
        ptr_name(ip)
    ))
    .unwrap();
    let round = Resolver::new(&dns.settings()).unwrap().round();
    let report = check_domain(&context("orchestra.test", &["192.0.2.10"], &round)).await;

    let names: Vec<&str> = report.checks.iter().map(|c| c.check.as_str()).collect();
    let mut expected: Vec<&str> = CheckKind::ALL.iter().map(|k| k.as_str()).collect();
    expected.push("bulk_sender");
    assert_eq!(names, expected);
    assert!(report.checks.iter().all(|c| c.target == "orchestra.test"));
    assert_eq!(
        report.ips,
        vec![IpReport {
            ip,
            status: Severity::Ok,
            ptr: Some("mail.orchestra.test".into()),
            fcrdns: true,
            findings: vec![],
        }]
    );
    let bulk = report.checks.last().unwrap();
    let detail = &bulk.findings[0].detail;
    assert!(
        detail["met"].as_array().unwrap().iter().any(|v| v == "ptr"),
        "{detail}"
    );
    assert_eq!(
        report.status,
        report.checks.iter().map(|c| c.status).max().unwrap()
    );
}

#[tokio::test]
async fn a_failed_ptr_lookup_is_unverified_in_the_summary() {
    let dns = FakeDns::start().await.unwrap();
    let ip: IpAddr = "192.0.2.66".parse().unwrap();
    dns.load(&format!("{} SERVFAIL", ptr_name(ip))).unwrap();
    let round = Resolver::new(&dns.settings()).unwrap().round();
    let report = check_domain(&context("broken.test", &["192.0.2.66"], &round)).await;
    assert_eq!(report.ips[0].status, Severity::Unknown);
    assert_eq!(report.ips[0].findings[0].code, FindingCode::PtrLookupFailed);
    let detail = &report.checks.last().unwrap().findings[0].detail;
    assert!(
        detail["unverified"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "ptr"),
        "{detail}"
    );
    assert!(
        !detail["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "ptr"),
        "{detail}"
    );
}

#[tokio::test]
async fn many_domains_keep_their_order_and_the_in_flight_bound() {
    // Each domain's IP has a PTR that never answers (300 ms timeout); every other lookup is answered
    // at once. With 2 domains in flight, 6 domains take 3 timeouts one after another; unbounded, one.
    let dns = FakeDns::start().await.unwrap();
    let mut contexts = Vec::new();
    let resolver = Resolver::new(&dns.settings()).unwrap();
    let round = resolver.round();
    for i in 0..6 {
        let ip: IpAddr = format!("192.0.2.{}", 100 + i).parse().unwrap();
        dns.timeout(&ptr_name(ip));
        contexts.push(context(&format!("d{i}.test"), &[&ip.to_string()], &round));
    }
    let started = Instant::now();
    let reports = check_domains(contexts, 2).await;
    let elapsed = started.elapsed();
    let order: Vec<&str> = reports.iter().map(|r| r.domain.as_str()).collect();
    assert_eq!(
        order,
        [
            "d0.test", "d1.test", "d2.test", "d3.test", "d4.test", "d5.test"
        ]
    );
    assert!(elapsed >= Duration::from_millis(850), "{elapsed:?}");
}

#[tokio::test]
async fn domains_checked_in_one_round_share_its_cache() {
    // The same domain twice in one round costs no more queries than once: every lookup of the second
    // is served (or joined) by the round's cache. Holds whatever the checks look up.
    let dns = FakeDns::start().await.unwrap();
    let ip: IpAddr = "192.0.2.10".parse().unwrap();
    dns.load(&format!(
        "{} PTR mail.shared.test\nmail.shared.test A 192.0.2.10\nshared.test TXT \"v=spf1 -all\"",
        ptr_name(ip)
    ))
    .unwrap();
    let once = Resolver::new(&dns.settings()).unwrap();
    let round = once.round();
    check_domains([context("shared.test", &["192.0.2.10"], &round)], 4).await;
    let twice = Resolver::new(&dns.settings()).unwrap();
    let round = twice.round();
    let cx = context("shared.test", &["192.0.2.10"], &round);
    let reports = check_domains([cx.clone(), cx], 4).await;
    assert_eq!(reports.len(), 2);
    assert!(
        once.queries_sent() >= 2,
        "PTR and its forward lookup at least"
    );
    assert_eq!(twice.queries_sent(), once.queries_sent());
}

fn finding(code: FindingCode, severity: Severity) -> Finding {
    Finding::new(code, severity, format!("{} happened.", code.as_str()))
}

fn check_report(check: &'static str, record: Option<&str>, findings: Vec<Finding>) -> CheckReport {
    CheckReport {
        target: String::new(),
        check: check.parse().unwrap(),
        status: worst(&findings),
        record: record.map(str::to_owned),
        findings,
        checked_at: 0,
        duration: Duration::ZERO,
    }
}

fn domain_report(name: &str, checks: Vec<CheckReport>, ips: Vec<IpReport>) -> DomainReport {
    DomainReport {
        domain: DomainName::parse(name).unwrap(),
        status: checks.iter().map(|c| c.status).max().unwrap_or_default(),
        checks,
        facts: Facts::default(),
        ips,
    }
}

fn ip_report(ip: &str, findings: Vec<Finding>) -> IpReport {
    IpReport {
        ip: ip.parse().unwrap(),
        status: worst(&findings),
        ptr: Some("mail.example.test".into()),
        fcrdns: findings.is_empty(),
        findings,
    }
}

fn sample() -> PostureReport {
    let ip = ip_report("192.0.2.10", vec![]);
    let bad_ip = ip_report(
        "192.0.2.11",
        vec![finding(FindingCode::PtrLookupFailed, Severity::Unknown)],
    );
    PostureReport::new(vec![
        domain_report(
            "fine.test",
            vec![
                check_report("spf", Some("v=spf1 -all"), vec![]),
                check_report(
                    "mta_sts",
                    None,
                    vec![finding(FindingCode::MtaStsMissing, Severity::Info)],
                ),
            ],
            vec![ip.clone()],
        ),
        domain_report(
            "bad.test",
            vec![
                check_report(
                    "dmarc",
                    Some("v=DMARC1; p=none"),
                    vec![finding(FindingCode::DmarcPolicyNone, Severity::Warning)],
                ),
                check_report(
                    "spf",
                    Some("v=spf1 +all"),
                    vec![
                        finding(FindingCode::SpfNeutralAll, Severity::Warning),
                        finding(FindingCode::SpfPermissiveAll, Severity::Critical),
                    ],
                ),
            ],
            vec![ip, bad_ip],
        ),
    ])
}

#[test]
fn overall_status_is_the_worst_of_domains_and_ips_listed_once() {
    let report = sample();
    assert_eq!(report.status, Severity::Critical);
    let ips: Vec<String> = report.ips.iter().map(|i| i.ip.to_string()).collect();
    assert_eq!(ips, ["192.0.2.10", "192.0.2.11"]);

    // An unknown IP raises an otherwise fine report to unknown, not past a known critical.
    let only_fine = PostureReport::new(vec![domain_report(
        "fine.test",
        vec![check_report("spf", Some("v=spf1 -all"), vec![])],
        vec![ip_report(
            "192.0.2.11",
            vec![finding(FindingCode::PtrLookupFailed, Severity::Unknown)],
        )],
    )]);
    assert_eq!(only_fine.status, Severity::Unknown);
    assert_eq!(only_fine.status.exit_code(), 3);
    assert_eq!(PostureReport::new(vec![]).status, Severity::Ok);
}

#[test]
fn json_follows_the_design_contract() {
    let value = serde_json::to_value(json::PostureJson::new(&sample())).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&value), ["domains", "ips", "status"]);
    assert_eq!(value["status"], "critical");
    let domain = &value["domains"][1];
    assert_eq!(keys(domain), ["checks", "domain", "status"]);
    assert_eq!(domain["domain"], "bad.test");
    let spf = &domain["checks"][1];
    assert_eq!(keys(spf), ["check", "findings", "record", "status"]);
    assert_eq!(spf["check"], "spf");
    assert_eq!(spf["record"], "v=spf1 +all");
    assert_eq!(
        keys(&spf["findings"][1]),
        ["code", "detail", "message", "severity"]
    );
    assert_eq!(spf["findings"][1]["code"], "spf.permissive_all");
    assert_eq!(spf["findings"][1]["severity"], "critical");
    assert_eq!(
        value["domains"][0]["checks"][1]["record"],
        serde_json::Value::Null
    );
    let ip = &value["ips"][1];
    assert_eq!(keys(ip), ["fcrdns", "findings", "ip", "ptr", "status"]);
    assert_eq!(ip["ip"], "192.0.2.11");
    assert_eq!(ip["status"], "unknown");
    assert_eq!(ip["ptr"], "mail.example.test");
    assert_eq!(ip["fcrdns"], false);
}

#[test]
fn text_puts_the_worst_first_with_codes_and_records() {
    let out = text::render(&sample());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "CRITICAL  bad.test");
    assert_eq!(lines[1], "  CRITICAL  spf          v=spf1 +all");
    assert_eq!(
        lines[2],
        "      critical spf.permissive_all: spf.permissive_all happened."
    );
    assert_eq!(
        lines[3],
        "      warning  spf.neutral_all: spf.neutral_all happened."
    );
    assert_eq!(lines[4], "  WARNING   dmarc        v=DMARC1; p=none");
    let fine = lines
        .iter()
        .position(|l| *l == "INFO      fine.test")
        .unwrap();
    let unknown_ip = lines
        .iter()
        .position(|l| l.starts_with("UNKNOWN   IP 192.0.2.11"))
        .unwrap();
    let ok_ip = lines
        .iter()
        .position(|l| l.starts_with("OK        IP 192.0.2.10"))
        .unwrap();
    assert!(fine < unknown_ip && unknown_ip < ok_ip, "{out}");
    assert_eq!(lines.last().unwrap(), &"CRITICAL: 2 domains, 2 IPs");
    assert!(
        lines.iter().all(|l| l.trim_end() == *l),
        "trailing blanks:\n{out}"
    );
}

#[test]
fn long_records_are_cut_in_text_only() {
    let key = format!("v=DKIM1; k=rsa; p={}", "A".repeat(400));
    let report = PostureReport::new(vec![domain_report(
        "keys.test",
        vec![check_report("dkim", Some(&key), vec![])],
        vec![],
    )]);
    let out = text::render(&report);
    assert!(out.contains(&format!("… ({} bytes)", key.len())), "{out}");
    let value = serde_json::to_value(json::PostureJson::new(&report)).unwrap();
    assert_eq!(value["domains"][0]["checks"][0]["record"], key.as_str());
}
