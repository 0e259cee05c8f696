//! BIMI check against nsd: one zone per finding code, plus a clean domain. DMARC comes from the
//! `_dmarc` record each zone publishes (through `checks::dmarc::effective_policy`).

use senderscope::checks::{Outcome, bimi};
use senderscope::dns::DnsSettings;
use senderscope::findings::{FindingCode, Severity};

use super::{codes, context, round, unreachable_resolver};
use crate::harness::nsd::Nsd;

const ZONES: [&str; 5] = [
    "clean.bimi.test",
    "bimi.test",
    "missing.bimi.test",
    "syntax.bimi.test",
    "unenforced.bimi.test",
];

async fn run(settings: &DnsSettings, domain: &str) -> Outcome {
    bimi::check(&context(round(settings), domain)).await
}

#[tokio::test]
async fn every_bimi_finding_comes_from_its_zone_on_nsd() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&Nsd::fixtures(&ZONES)).await;
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
    let settings = unreachable_resolver();
    let o = run(&settings, "clean.bimi.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::BimiLookupFailed, Severity::Unknown)]
    );
}
