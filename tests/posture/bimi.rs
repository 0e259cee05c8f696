//! BIMI check against nsd: one zone per finding code, plus a clean domain. DMARC comes from the
//! `_dmarc` record each zone publishes (through `checks::dmarc::effective_policy`).

use std::path::PathBuf;
use std::time::Duration;

use senderscope::checks::mta_sts::PolicyFetcher;
use senderscope::checks::{DomainContext, Outcome, bimi};
use senderscope::config::DomainName;
use senderscope::dns::{DnsSettings, Resolver};
use senderscope::findings::{FindingCode, Severity};

use crate::harness::nsd::Nsd;
use crate::harness::{free_port, loopback};

const ZONES: [&str; 5] = [
    "clean.bimi.test",
    "bimi.test",
    "missing.bimi.test",
    "syntax.bimi.test",
    "unenforced.bimi.test",
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
    bimi::check(&cx).await
}

fn codes(o: &Outcome) -> Vec<(FindingCode, Severity)> {
    o.findings.iter().map(|f| (f.code, f.severity)).collect()
}

#[tokio::test]
async fn every_bimi_finding_comes_from_its_zone_on_nsd() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&fixtures(&ZONES)).await;
    let cases: [(&str, Vec<(FindingCode, Severity)>); 4] = [
        ("clean.bimi.test", vec![]),
        // Looked up at missing.bimi.test, then at the organizational domain bimi.test.
        ("missing.bimi.test", vec![(BimiMissing, Info)]),
        ("syntax.bimi.test", vec![(BimiSyntaxError, Warning)]),
        (
            "unenforced.bimi.test",
            vec![(BimiRequiresEnforcedDmarc, Warning)],
        ),
    ];
    for (domain, expected) in cases {
        let o = run(&nsd.settings(), domain).await;
        assert_eq!(codes(&o), expected, "{domain}: {:#?}", o.findings);
    }
    let unenforced = run(&nsd.settings(), "unenforced.bimi.test").await;
    assert!(unenforced.findings[0].message.contains("p=none"));
    let syntax = run(&nsd.settings(), "syntax.bimi.test").await;
    assert!(syntax.findings[0].message.contains("not an https:// URL"));
}

#[tokio::test]
async fn an_unreachable_resolver_is_unknown_not_missing() {
    let settings = DnsSettings {
        nameservers: vec![loopback(free_port())],
        timeout: Duration::from_millis(300),
        attempts: 1,
        ..DnsSettings::default()
    };
    let o = run(&settings, "clean.bimi.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::BimiLookupFailed, Severity::Unknown)]
    );
}
