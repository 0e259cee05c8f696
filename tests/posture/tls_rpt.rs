//! TLS-RPT check against nsd: one zone per finding code, plus a clean domain.

use std::path::PathBuf;
use std::time::Duration;

use senderscope::checks::mta_sts::PolicyFetcher;
use senderscope::checks::{DomainContext, Outcome, tls_rpt};
use senderscope::config::DomainName;
use senderscope::dns::{DnsSettings, Resolver};
use senderscope::findings::{FindingCode, Severity};

use crate::harness::nsd::Nsd;
use crate::harness::{free_port, loopback};

const ZONES: [&str; 3] = [
    "clean.tls-rpt.test",
    "missing.tls-rpt.test",
    "syntax.tls-rpt.test",
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
    tls_rpt::check(&cx).await
}

fn codes(o: &Outcome) -> Vec<(FindingCode, Severity)> {
    o.findings.iter().map(|f| (f.code, f.severity)).collect()
}

#[tokio::test]
async fn every_tls_rpt_finding_comes_from_its_zone_on_nsd() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&fixtures(&ZONES)).await;
    let cases: [(&str, Vec<(FindingCode, Severity)>); 4] = [
        ("clean.tls-rpt.test", vec![]),
        ("missing.tls-rpt.test", vec![(TlsRptMissing, Info)]),
        ("syntax.tls-rpt.test", vec![(TlsRptSyntaxError, Warning)]),
        ("unserved.tls-rpt.test", vec![(TlsRptLookupFailed, Unknown)]),
    ];
    for (domain, expected) in cases {
        let o = run(&nsd.settings(), domain).await;
        assert_eq!(codes(&o), expected, "{domain}: {:#?}", o.findings);
    }
    let clean = run(&nsd.settings(), "clean.tls-rpt.test").await;
    assert_eq!(
        clean.record.as_deref(),
        Some("v=TLSRPTv1; rua=mailto:tlsrpt@clean.tls-rpt.test")
    );
    let syntax = run(&nsd.settings(), "syntax.tls-rpt.test").await;
    assert!(
        syntax.findings[0]
            .message
            .contains("neither mailto: nor https:")
    );
}

#[tokio::test]
async fn an_unreachable_resolver_is_unknown_not_missing() {
    let settings = DnsSettings {
        nameservers: vec![loopback(free_port())],
        timeout: Duration::from_millis(300),
        attempts: 1,
        ..DnsSettings::default()
    };
    let o = run(&settings, "clean.tls-rpt.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::TlsRptLookupFailed, Severity::Unknown)]
    );
}
