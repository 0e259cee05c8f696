//! Is our resolver one Spamhaus refuses? Spamhaus answers 127.255.255.254 to queries that come
//! through a public/open resolver or one with unattributable reverse DNS
//! (https://www.spamhaus.org/news/article/788/); older set-ups got NXDOMAIN, a silent false "clean".
//! Their RFC 5782 test point 127.0.0.2 tells us at once, before any target is queried.
//!
//! The daemon probes at start ([`probe`]) and reads the same answer from every round's zone health
//! ([`verdict`]). Only catalogue zones that document the code are asked, so a configuration without
//! Spamhaus sends Spamhaus nothing.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;

use super::health::{self, HealthState, ZoneHealth};
use super::monitor::{RESOLVER_CHECK, ROUND_TARGET};
use super::{Family, Zone};
use crate::config::ZoneKind;
use crate::dns::{DnsSettings, Lookups};
use crate::findings::{CheckReport, Finding, FindingCode, Severity, worst};

/// Spamhaus: "127.255.255.254 — Query via public/open resolver / generic unattributable rDNS".
pub const PUBLIC_RESOLVER_CODE: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 254);

/// What the test points say about the resolver.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// No configured zone documents the public-resolver answer: nothing to say.
    NotApplicable,
    /// The list refused the resolver as public: the finding says how to fix it.
    Public(Finding),
    /// The list answered (listed, clean or another refusal): the resolver is not refused as public.
    Accepted,
    /// The test points could not be queried: unknown.
    Unknown,
}

/// The zones whose answer tells (catalogue zones documenting [`PUBLIC_RESOLVER_CODE`]).
fn telling(zones: &[Zone]) -> impl Iterator<Item = &Zone> {
    zones
        .iter()
        .filter(|z| z.documents_refusal(PUBLIC_RESOLVER_CODE))
}

/// Query the test points of the zones that can tell (their main family only). `None` when no
/// configured zone can.
pub async fn probe(dns: &Lookups, zones: &[Zone]) -> Option<Vec<ZoneHealth>> {
    let checks: Vec<_> = telling(zones)
        .map(|z| {
            let family = match z.kind() {
                ZoneKind::Domain => Family::Domain,
                ZoneKind::Ipv4 | ZoneKind::Ip => Family::V4,
            };
            async move { health::check(dns, z, &[family]).await }
        })
        .collect();
    if checks.is_empty() {
        return None;
    }
    Some(futures::future::join_all(checks).await)
}

/// Judge the resolver from zone health (the start-up probe's or a round's). `resolver` names it for
/// the message (`dns.nameservers 192.0.2.53:53`, `the system resolver (/etc/resolv.conf)`).
pub fn verdict(health: &[ZoneHealth], zones: &[Zone], resolver: &str) -> Verdict {
    let mut answered = false;
    let mut asked = false;
    for zone in telling(zones) {
        let Some(h) = health.iter().find(|h| h.zone == zone.zone()) else {
            continue;
        };
        asked = true;
        for f in &h.families {
            match &f.state {
                HealthState::Refused { code, meaning } if *code == PUBLIC_RESOLVER_CODE => {
                    return Verdict::Public(finding(zone, h, *code, meaning, resolver));
                }
                // Only a real answer clears the resolver. A test point that is not listed may be
                // Spamhaus' older way of refusing public resolvers (NXDOMAIN for everything), or a
                // resolver rewriting answers: the zone-health finding says so; here it tells nothing.
                HealthState::Unreachable(_) | HealthState::Unhealthy(_) => {}
                HealthState::Healthy | HealthState::Refused { .. } => answered = true,
            }
        }
    }
    match (asked, answered) {
        (false, _) => Verdict::NotApplicable,
        (true, true) => Verdict::Accepted,
        (true, false) => Verdict::Unknown,
    }
}

/// How the resolver in `dns` is named in messages.
pub fn describe(dns: &DnsSettings) -> String {
    if dns.nameservers.is_empty() {
        "the system resolver from /etc/resolv.conf".to_owned()
    } else {
        let servers: Vec<String> = dns.nameservers.iter().map(ToString::to_string).collect();
        format!("dns.nameservers {}", servers.join(", "))
    }
}

/// What the daemon stores for a verdict ([`ROUND_TARGET`] / [`RESOLVER_CHECK`]): the finding, or an
/// empty report once the resolver is accepted (or no zone can tell), so an old finding goes away.
/// `None` when unknown: a resolver that could not be judged keeps the last verdict.
pub fn stored(verdict: &Verdict, checked_at: i64, took: Duration) -> Option<CheckReport> {
    let findings = match verdict {
        Verdict::Public(f) => vec![f.clone()],
        Verdict::Accepted | Verdict::NotApplicable => Vec::new(),
        Verdict::Unknown => return None,
    };
    Some(CheckReport {
        target: ROUND_TARGET.to_owned(),
        check: RESOLVER_CHECK,
        status: worst(&findings),
        record: None,
        findings,
        checked_at,
        duration: took,
    })
}

fn finding(
    zone: &Zone,
    health: &ZoneHealth,
    code: Ipv4Addr,
    meaning: &str,
    resolver: &str,
) -> Finding {
    let point = health
        .probes
        .iter()
        .find(|p| p.must_be_listed)
        .map(|p| p.point.as_str())
        .unwrap_or("127.0.0.2");
    let fix = zone
        .refusal_fix(code)
        .map(|f| format!(" Fix: {f}."))
        .unwrap_or_default();
    Finding::new(
        FindingCode::BlocklistPublicResolver,
        Severity::Unknown,
        format!(
            "Spamhaus refuses our resolver ({resolver}): {} answered its test point {point} with {code} \
             ({meaning}), so every Spamhaus result is unknown until this is fixed.{fix}",
            zone.zone()
        ),
    )
    .with_detail(json!({
        "zone": zone.zone(),
        "queried_as": zone.queried_as(),
        "code": code,
        "resolver": resolver,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::{generic_zone, zones};
    use crate::dns::Resolver;
    use crate::dns::testing::FakeDns;

    fn catalogue(zone: &str) -> Zone {
        Zone::from_catalogue(zones::entry(zone).unwrap(), None)
    }

    #[tokio::test]
    async fn spamhaus_public_resolver_answer_is_told_apart() {
        let fake = FakeDns::start().await.unwrap();
        fake.load(
            "2.0.0.127.zen.spamhaus.org A 127.255.255.254\n\
             1.0.0.127.zen.spamhaus.org A 127.255.255.254\n\
             test.dbl.spamhaus.org A 127.255.255.254\n\
             2.0.0.127.other.test A 127.0.0.2",
        )
        .unwrap();
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let zones = [
            catalogue("zen.spamhaus.org"),
            catalogue("bl.spamcop.net"),
            generic_zone("other.test"),
        ];
        let health = probe(&dns, &zones).await.unwrap();
        assert_eq!(health.len(), 1, "only Spamhaus can tell");
        let Verdict::Public(f) = verdict(&health, &zones, "dns.nameservers 192.0.2.53:53") else {
            panic!("public resolver not detected: {health:#?}")
        };
        assert_eq!(f.code, FindingCode::BlocklistPublicResolver);
        assert!(
            f.message.starts_with(
                "Spamhaus refuses our resolver (dns.nameservers 192.0.2.53:53): zen.spamhaus.org \
                 answered its test point 127.0.0.2 with 127.255.255.254"
            ),
            "{}",
            f.message
        );
        assert!(f.message.contains("own recursive resolver"));
        assert!(f.message.contains("DQS key"));
        let report = stored(&Verdict::Public(f), 1, Duration::ZERO).unwrap();
        assert_eq!(
            (report.target.as_str(), report.check, report.status),
            (ROUND_TARGET, RESOLVER_CHECK, Severity::Unknown)
        );
        assert!(stored(&Verdict::Unknown, 1, Duration::ZERO).is_none());
        assert!(
            stored(&Verdict::Accepted, 1, Duration::ZERO)
                .unwrap()
                .findings
                .is_empty()
        );

        // Without Spamhaus nothing is asked; an unreachable zone says nothing either way.
        assert!(probe(&dns, &zones[1..]).await.is_none());
        assert_eq!(verdict(&[], &zones[1..], "x"), Verdict::NotApplicable);
        let silent = Resolver::new(&crate::dns::DnsSettings {
            nameservers: vec![([127, 0, 0, 1], 9).into()],
            timeout: std::time::Duration::from_millis(100),
            attempts: 1,
            ..Default::default()
        })
        .unwrap()
        .round();
        let health = probe(&silent, &zones).await.unwrap();
        assert_eq!(verdict(&health, &zones, "x"), Verdict::Unknown);
    }

    #[tokio::test]
    async fn an_answering_zone_clears_the_resolver() {
        let fake = FakeDns::start().await.unwrap();
        fake.load(
            "2.0.0.127.zen.spamhaus.org A 127.0.0.2\n\
             2.0.0.127.zen.spamhaus.org A 127.0.0.4\n\
             2.0.0.127.zen.spamhaus.org A 127.0.0.10",
        )
        .unwrap();
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let zones = [catalogue("zen.spamhaus.org")];
        let health = probe(&dns, &zones).await.unwrap();
        assert_eq!(verdict(&health, &zones, "x"), Verdict::Accepted);
    }

    #[tokio::test]
    async fn a_test_point_answered_nxdomain_does_not_clear_the_resolver() {
        // Spamhaus used to answer NXDOMAIN to public resolvers: a silent false "clean".
        let fake = FakeDns::start().await.unwrap();
        fake.load("1.0.0.127.zen.spamhaus.org A 127.0.0.9").unwrap();
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let zones = [catalogue("zen.spamhaus.org")];
        let health = probe(&dns, &zones).await.unwrap();
        assert_eq!(verdict(&health, &zones, "x"), Verdict::Unknown);
    }
}
