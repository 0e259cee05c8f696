//! MX check against a real authoritative server (nsd): one zone per finding code, plus a clean domain.

use std::path::PathBuf;
use std::time::Duration;

use senderscope::checks::mta_sts::PolicyFetcher;
use senderscope::checks::{DomainContext, Outcome, mx};
use senderscope::config::DomainName;
use senderscope::dns::{DnsSettings, Resolver};
use senderscope::findings::{FindingCode, Severity};

use crate::harness::nsd::Nsd;
use crate::harness::{free_port, loopback};

const ZONES: [&str; 7] = [
    "clean.mx.test",
    "missing.mx.test",
    "unroutable.mx.test",
    "null.mx.test",
    "null-mixed.mx.test",
    "unresolvable.mx.test",
    "cname.mx.test",
];

fn fixtures(names: &[&str]) -> Vec<(String, PathBuf)> {
    names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                PathBuf::from(format!("tests/fixtures/zones/{n}.zone")),
            )
        })
        .collect()
}

async fn run(settings: &DnsSettings, domain: &str) -> Outcome {
    let cx = DomainContext {
        domain: DomainName::parse(domain).unwrap(),
        dkim_selectors: vec![],
        sending_ips: vec![],
        dns: Resolver::new(settings).unwrap().round(),
        https: PolicyFetcher::default(),
    };
    mx::check(&cx).await
}

fn codes(o: &Outcome) -> Vec<(FindingCode, Severity)> {
    o.findings.iter().map(|f| (f.code, f.severity)).collect()
}

#[tokio::test]
async fn every_mx_finding_comes_from_its_zone_on_nsd() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&fixtures(&ZONES)).await;
    let cases: [(&str, Vec<(FindingCode, Severity)>); 8] = [
        ("clean.mx.test", vec![]),
        ("missing.mx.test", vec![(MxMissing, Warning)]),
        ("unroutable.mx.test", vec![(MxMissing, Critical)]),
        ("null.mx.test", vec![(MxNullMx, Critical)]),
        ("null-mixed.mx.test", vec![(MxNullMx, Critical)]),
        (
            "unresolvable.mx.test",
            vec![(MxTargetUnresolvable, Warning)],
        ),
        ("cname.mx.test", vec![(MxCnameTarget, Warning)]),
        // Not a zone nsd serves: it answers REFUSED, which is "could not check", not "missing".
        ("unserved.mx.test", vec![(MxLookupFailed, Unknown)]),
    ];
    for (domain, expected) in cases {
        let o = run(&nsd.settings(), domain).await;
        assert_eq!(codes(&o), expected, "{domain}: {:#?}", o.findings);
    }
    let clean = run(&nsd.settings(), "clean.mx.test").await;
    assert_eq!(
        clean.record.as_deref(),
        Some("10 mx1.clean.mx.test\n20 mx2.clean.mx.test")
    );
    let unresolvable = run(&nsd.settings(), "unresolvable.mx.test").await;
    assert!(
        unresolvable.findings[0]
            .message
            .contains("gone.unresolvable.mx.test does not exist (NXDOMAIN)"),
        "{}",
        unresolvable.findings[0].message
    );
    let cname = run(&nsd.settings(), "cname.mx.test").await;
    assert!(cname.findings[0].message.contains("real.cname.mx.test"));
}

#[tokio::test]
async fn an_unreachable_resolver_is_unknown_not_missing() {
    let settings = DnsSettings {
        nameservers: vec![loopback(free_port())],
        timeout: Duration::from_millis(300),
        attempts: 1,
        ..DnsSettings::default()
    };
    let o = run(&settings, "clean.mx.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::MxLookupFailed, Severity::Unknown)]
    );
}
