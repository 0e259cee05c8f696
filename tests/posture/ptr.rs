//! PTR / FCrDNS against nsd serving reverse zones for 192.0.2.0/24 and 2001:db8::/32.

use std::net::IpAddr;

use senderscope::checks::ptr;
use senderscope::dns::DnsSettings;
use senderscope::findings::{FindingCode, Severity};

use super::{codes, round, unreachable_resolver};
use crate::harness::nsd::Nsd;

const ZONES: [&str; 3] = [
    "hosts.ptr.test",
    "2.0.192.in-addr.arpa",
    "8.b.d.0.1.0.0.2.ip6.arpa",
];

async fn run(settings: &DnsSettings, ip: &str) -> ptr::PtrOutcome {
    let ip: IpAddr = ip.parse().unwrap();
    let outcome = ptr::check(&round(settings), ip).await;
    assert_eq!(outcome.ip, ip);
    outcome
}

/// (ip, ptr, fcrdns, findings, words the first finding's message must contain)
type Case = (
    &'static str,
    Option<&'static str>,
    Option<bool>,
    Vec<(FindingCode, Severity)>,
    &'static str,
);

#[tokio::test]
async fn ipv4_and_ipv6_ptr_conditions_on_nsd() {
    use FindingCode::*;
    use Severity::*;
    let nsd = Nsd::serve(&Nsd::fixtures(&ZONES)).await;
    let s = nsd.settings();
    let cases: [Case; 9] = [
        (
            "192.0.2.10",
            Some("mail.hosts.ptr.test"),
            Some(true),
            vec![],
            "",
        ),
        (
            "192.0.2.11",
            None,
            Some(false),
            vec![(PtrMissing, Critical)],
            "11.2.0.192.in-addr.arpa does not exist",
        ),
        (
            "192.0.2.12",
            Some("elsewhere.hosts.ptr.test"),
            Some(false),
            vec![(PtrFcrdnsMismatch, Critical)],
            "elsewhere.hosts.ptr.test resolves to 192.0.2.99",
        ),
        (
            "192.0.2.13",
            Some("gone.hosts.ptr.test"),
            Some(false),
            vec![(PtrFcrdnsMismatch, Critical)],
            "gone.hosts.ptr.test does not exist (NXDOMAIN)",
        ),
        (
            "192.0.2.14",
            Some("multi.hosts.ptr.test"),
            Some(true),
            vec![(PtrMultipleNames, Info)],
            "passes through multi.hosts.ptr.test",
        ),
        (
            "2001:db8::10",
            Some("mail.hosts.ptr.test"),
            Some(true),
            vec![],
            "",
        ),
        (
            "2001:db8::11",
            None,
            Some(false),
            vec![(PtrMissing, Critical)],
            "ip6.arpa does not exist",
        ),
        (
            "2001:db8::12",
            Some("v4only.hosts.ptr.test"),
            Some(false),
            vec![(PtrFcrdnsMismatch, Critical)],
            "v4only.hosts.ptr.test has no AAAA record",
        ),
        // No reverse zone for 198.51.100.0/24 on this server: REFUSED, so "could not check".
        (
            "198.51.100.1",
            None,
            None,
            vec![(PtrLookupFailed, Unknown)],
            "REFUSED",
        ),
    ];
    for (ip, name, fcrdns, expected, words) in cases {
        let o = run(&s, ip).await;
        assert_eq!(codes(&o), expected, "{ip}: {:#?}", o.findings);
        assert_eq!(o.ptr.as_deref(), name, "{ip}");
        assert_eq!(o.fcrdns, fcrdns, "{ip}");
        if let Some(f) = o.findings.first() {
            assert!(f.message.contains(words), "{ip}: {}", f.message);
        }
    }
}

#[tokio::test]
async fn an_unreachable_resolver_is_unknown_not_missing() {
    let settings = unreachable_resolver();
    let o = run(&settings, "192.0.2.10").await;
    assert_eq!(
        codes(&o),
        vec![(FindingCode::PtrLookupFailed, Severity::Unknown)]
    );
    assert_eq!(o.fcrdns, None, "unknown is not false");
}
