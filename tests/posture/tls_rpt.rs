//! TLS-RPT check against nsd: one zone per finding code, plus a clean domain.

use senderscope::checks::{Outcome, tls_rpt};
use senderscope::dns::DnsSettings;
use senderscope::findings::{FindingCode, Severity};

use super::{codes, context, round, unreachable_resolver};
use crate::harness::nsd::Nsd;

const ZONES: [&str; 3] = [
    "clean.tls-rpt.test",
    "missing.tls-rpt.test",
    "syntax.tls-rpt.test",
];

async fn run(settings: &DnsSettings, domain: &str) -> Outcome {
    tls_rpt::check(&context(round(settings), domain)).await
}

#[tokio::test]
async fn every_tls_rpt_finding_comes_from_its_zone_on_nsd() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&Nsd::fixtures(&ZONES)).await;
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
    let settings = unreachable_resolver();
    let o = run(&settings, "clean.tls-rpt.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::TlsRptLookupFailed, Severity::Unknown)]
    );
}
