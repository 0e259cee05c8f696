//! MTA-STS against real servers: nsd for the records, the loopback HTTPS server (tests/harness/https.rs)
//! with a test CA for the policies. The fetcher resolves `mta-sts.<domain>` through our DNS layer, so the
//! zones' `mta-sts A 127.0.0.1` is what routes it to the test server.

use std::time::Duration;

use senderscope::checks::mta_sts::{self, PolicyFetcher};
use senderscope::checks::{DomainContext, Outcome};
use senderscope::dns::DnsSettings;
use senderscope::dns::testing::FakeDns;
use senderscope::findings::{FindingCode, Severity};

use super::{codes, context, round, unreachable_resolver};
use crate::harness::https::{HttpsServer, Reply, TestCa};
use crate::harness::nsd::Nsd;

const ZONES: [&str; 7] = [
    "clean.mta-sts.test",
    "missing.mta-sts.test",
    "syntax.mta-sts.test",
    "bad-policy.mta-sts.test",
    "unreachable.mta-sts.test",
    "testing.mta-sts.test",
    "uncovered.mta-sts.test",
];

fn policy(mode: &str, mx: &[&str]) -> String {
    let mut text = format!("version: STSv1\r\nmode: {mode}\r\n");
    for m in mx {
        text.push_str(&format!("mx: {m}\r\n"));
    }
    text.push_str("max_age: 604800\r\n");
    text
}

async fn run(settings: &DnsSettings, fetcher: &PolicyFetcher, domain: &str) -> Outcome {
    let cx = DomainContext {
        https: fetcher.clone(),
        ..context(round(settings), domain)
    };
    mta_sts::check(&cx).await
}

/// The `kind` in a policy_unreachable finding's detail.
fn kind(o: &Outcome) -> &str {
    o.findings[0].detail["kind"].as_str().unwrap_or("")
}

#[tokio::test]
async fn every_mta_sts_finding_comes_from_its_zone_and_policy() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&Nsd::fixtures(&ZONES)).await;
    let ca = TestCa::new("senderscope test CA");
    let hosts = [
        "mta-sts.clean.mta-sts.test",
        "mta-sts.syntax.mta-sts.test",
        "mta-sts.bad-policy.mta-sts.test",
        "mta-sts.testing.mta-sts.test",
        "mta-sts.uncovered.mta-sts.test",
    ];
    let leaf = ca.issue(&hosts);
    let server = HttpsServer::start(
        &leaf,
        &[],
        &[
            (
                hosts[0],
                Reply::policy(&policy(
                    "enforce",
                    &["mx1.clean.mta-sts.test", "*.backup.clean.mta-sts.test"],
                )),
            ),
            (
                hosts[1],
                Reply::policy(&policy("enforce", &["*.syntax.mta-sts.test"])),
            ),
            (
                hosts[2],
                Reply::policy("version: STSv1\nmode: enforced\nmx: mx.bad-policy.mta-sts.test\n"),
            ),
            (
                hosts[3],
                Reply::policy(&policy("testing", &["mx.testing.mta-sts.test"])),
            ),
            (
                hosts[4],
                Reply::policy(&policy("enforce", &["mx1.uncovered.mta-sts.test"])),
            ),
        ],
    )
    .await;
    let fetcher = PolicyFetcher::default()
        .with_port(server.port())
        .with_root_certificate_pem(ca.root_pem())
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let cases: [(&str, Vec<(FindingCode, Severity)>); 8] = [
        ("clean.mta-sts.test", vec![]),
        ("missing.mta-sts.test", vec![(MtaStsMissing, Info)]),
        ("syntax.mta-sts.test", vec![(MtaStsSyntaxError, Warning)]),
        (
            "bad-policy.mta-sts.test",
            vec![(MtaStsSyntaxError, Warning)],
        ),
        (
            "unreachable.mta-sts.test",
            vec![(MtaStsPolicyUnreachable, Warning)],
        ),
        ("testing.mta-sts.test", vec![(MtaStsTestingMode, Info)]),
        (
            "uncovered.mta-sts.test",
            vec![(MtaStsMxNotCovered, Critical)],
        ),
        ("unserved.mta-sts.test", vec![(MtaStsLookupFailed, Unknown)]),
    ];
    for (domain, expected) in cases {
        let o = run(&nsd.settings(), &fetcher, domain).await;
        assert_eq!(codes(&o), expected, "{domain}: {:#?}", o.findings);
    }
    let requested = server.requests();
    assert!(requested.contains(&hosts[0].to_owned()), "{requested:?}");
    // A record senders ignore is not followed by a fetch.
    assert!(!requested.contains(&hosts[1].to_owned()), "{requested:?}");

    let s = nsd.settings();
    let clean = run(&s, &fetcher, "clean.mta-sts.test").await;
    assert_eq!(clean.record.as_deref(), Some("v=STSv1; id=20260101000000"));
    let unreachable = run(&s, &fetcher, "unreachable.mta-sts.test").await;
    assert_eq!(kind(&unreachable), "dns");
    assert!(
        unreachable.findings[0]
            .message
            .contains("mta-sts.unreachable.mta-sts.test does not exist")
    );
    let bad = run(&s, &fetcher, "bad-policy.mta-sts.test").await;
    let message = &bad.findings[0].message;
    assert!(
        message.contains("mode \"enforced\"") && message.contains("max_age field is missing"),
        "{message}"
    );
    let uncovered = run(&s, &fetcher, "uncovered.mta-sts.test").await;
    assert!(
        uncovered.findings[0]
            .message
            .contains("mx2.uncovered.mta-sts.test")
    );
    assert!(
        !uncovered.findings[0]
            .message
            .contains("mx1.uncovered.mta-sts.test match")
    );

    // The same clean policy without the test CA: the certificate is validated, not merely accepted.
    let untrusting = PolicyFetcher::default().with_port(server.port());
    let o = run(&s, &untrusting, "clean.mta-sts.test").await;
    assert_eq!(codes(&o), vec![(MtaStsPolicyUnreachable, Warning)]);
    assert_eq!(kind(&o), "tls", "{}", o.findings[0].message);
}

/// Each way a policy fetch can fail, with the records from the in-process DNS server.
#[tokio::test]
async fn every_way_the_policy_can_be_unreachable_is_named() {
    let dns = FakeDns::start().await.unwrap();
    let names = [
        "good",
        "untrusted",
        "wrongname",
        "notfound",
        "redirect",
        "large",
        "unbounded",
        "stall",
        "refused",
        "html",
        "none",
    ];
    for n in names {
        let d = format!("{n}.fetch.test");
        dns.load(&format!(
            "_mta-sts.{d} TXT \"v=STSv1; id=1\"\n{d} MX 10 mx.{d}\nmx.{d} A 192.0.2.1\n\
             mta-sts.{d} A {}",
            if n == "refused" {
                "127.0.0.2"
            } else {
                "127.0.0.1"
            }
        ))
        .unwrap();
    }
    let ca = TestCa::new("senderscope test CA");
    let other_ca = TestCa::new("untrusted CA");
    let host = |n: &str| format!("mta-sts.{n}.fetch.test");
    let trusted: Vec<String> = names
        .iter()
        .filter(|n| !matches!(**n, "untrusted" | "wrongname"))
        .map(|n| host(n))
        .collect();
    let trusted_refs: Vec<&str> = trusted.iter().map(String::as_str).collect();
    let leaf = ca.issue(&trusted_refs);
    let untrusted_host = host("untrusted");
    let untrusted_leaf = other_ca.issue(&[&untrusted_host]);
    let good = policy("enforce", &["*.good.fetch.test"]);
    let replies: Vec<(String, Reply)> = vec![
        (host("good"), Reply::policy(&good)),
        (host("untrusted"), Reply::policy(&good)),
        (host("wrongname"), Reply::policy(&good)),
        (host("notfound"), Reply::status(404)),
        (
            host("redirect"),
            Reply::status(301).header("Location", "https://elsewhere.test/p"),
        ),
        (
            host("large"),
            Reply::policy(&good).body(vec![b'#'; 70 * 1024]),
        ),
        (
            host("unbounded"),
            Reply::policy(&good)
                .body(vec![b'#'; 70 * 1024])
                .without_length(),
        ),
        (host("stall"), Reply::stall()),
        (
            host("html"),
            Reply::policy(&policy("enforce", &["mx.html.fetch.test"]))
                .header("Content-Type", "text/html"),
        ),
        (
            host("none"),
            Reply::policy("version: STSv1\nmode: none\nmax_age: 86400\n"),
        ),
    ];
    let reply_refs: Vec<(&str, Reply)> = replies
        .iter()
        .map(|(h, r)| (h.as_str(), r.clone()))
        .collect();
    let server = HttpsServer::start(
        &leaf,
        &[(untrusted_host.as_str(), &untrusted_leaf)],
        &reply_refs,
    )
    .await;
    let fetcher = PolicyFetcher::default()
        .with_port(server.port())
        .with_root_certificate_pem(ca.root_pem())
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    let settings = dns.settings();

    let o = run(&settings, &fetcher, "good.fetch.test").await;
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
    for (n, expected_kind, words) in [
        ("untrusted", "tls", "TLS failed"),
        ("wrongname", "tls", "TLS failed"),
        ("notfound", "http_status", "HTTP 404"),
        ("redirect", "redirect", "https://elsewhere.test/p"),
        ("large", "too_large", "65536 bytes"),
        ("unbounded", "too_large", "65536 bytes"),
        ("stall", "timeout", "within 2 s"),
        ("refused", "connect", "refused"),
    ] {
        let o = run(&settings, &fetcher, &format!("{n}.fetch.test")).await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::MtaStsPolicyUnreachable, Severity::Warning)],
            "{n}: {:#?}",
            o.findings
        );
        assert_eq!(kind(&o), expected_kind, "{n}: {}", o.findings[0].message);
        assert!(
            o.findings[0].message.contains(words),
            "{n}: {}",
            o.findings[0].message
        );
    }
    // Served as text/html: a warning for senders that check the media type, and the policy still read.
    let o = run(&settings, &fetcher, "html.fetch.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::MtaStsPolicyUnreachable, Severity::Warning)]
    );
    assert_eq!(kind(&o), "media_type");
    let o = run(&settings, &fetcher, "none.fetch.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::MtaStsMissing, Severity::Info)]
    );
    assert!(o.findings[0].message.contains("mode none"));
}

#[tokio::test]
async fn an_unreachable_resolver_is_unknown_not_missing() {
    let settings = unreachable_resolver();
    let o = run(&settings, &PolicyFetcher::default(), "clean.mta-sts.test").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::MtaStsLookupFailed, Severity::Unknown)]
    );
}
