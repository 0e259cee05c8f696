//! MX check against a real authoritative server (nsd): one zone per finding code, plus a clean domain.

use senderscope::checks::{Outcome, mx};
use senderscope::dns::DnsSettings;
use senderscope::findings::{FindingCode, Severity};

use super::{codes, context, round, unreachable_resolver};
use crate::harness::nsd::Nsd;

const ZONES: [&str; 7] = [
    "clean.mx.test",
    "missing.mx.test",
    "unroutable.mx.test",
    "null.mx.test",
    "null-mixed.mx.test",
    "unresolvable.mx.test",
    "cname.mx.test",
];

async fn run(settings: &DnsSettings, domain: &str) -> Outcome {
    mx::check(&context(round(settings), domain)).await
}

#[tokio::test]
async fn every_mx_finding_comes_from_its_zone_on_nsd() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&Nsd::fixtures(&ZONES)).await;
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
    let settings = unreachable_resolver();
    let o = run(&settings, "clean.mx.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::MxLookupFailed, Severity::Unknown)]
    );
}
