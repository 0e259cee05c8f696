//! One blocklist round: every zone's test points and every target on every zone of its family, all at
//! once through the round's [`Lookups`] (the DNS layer keeps at most `dns.concurrency` queries in
//! flight), then the zones' health decides which answers are trusted, then findings.
//!
//! The daemon scheduler runs this on `schedule.blocklists` and stores listing start/end; `check` runs it
//! once. Both read [`Round`]: per (target, zone) the [`Listing`], per zone its [`ZoneHealth`], findings.

use std::collections::HashMap;

use serde::{Serialize, Serializer};

use super::health::{self, HealthState, ZoneHealth};
use super::report::{self, ListingJson, some_targets, zone_detail};
use super::{Failure, Family, Listing, Target, Targets, Zone, query};
use crate::dns::Lookups;
use crate::findings::{Finding, FindingCode, Severity, worst};

/// One zone's answer for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneListing {
    /// The zone's config name (the `zone` label).
    pub zone: String,
    /// Where to ask for removal.
    pub delist_url: Option<String>,
    /// What it said.
    pub listing: Listing,
}

impl ZoneListing {
    /// The status sentence for this state, given when it started (see [`report::status_sentence`]).
    pub fn status_sentence(&self, since: Option<time::OffsetDateTime>) -> String {
        report::status_sentence(self, since)
    }
}

impl Serialize for ZoneListing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ListingJson::from(self).serialize(s)
    }
}

/// Every zone's answer for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetListings {
    /// The IP or domain.
    pub target: Target,
    /// Worst state over its listings (critical listed, warning policy-listed, unknown refused or failed).
    pub status: Severity,
    /// One per zone that lists its family, in zone order.
    pub listings: Vec<ZoneListing>,
}

/// The result of one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// Per target, in [`Targets`] order.
    pub targets: Vec<TargetListings>,
    /// Per zone, in the order given.
    pub zones: Vec<ZoneHealth>,
    /// Listings per (target, zone); refusals, failures and health per zone; truncated ranges.
    pub findings: Vec<Finding>,
}

impl Round {
    /// The listing of `target` on `zone`, if that pair was queried.
    pub fn listing(&self, target: &Target, zone: &str) -> Option<&Listing> {
        self.targets
            .iter()
            .find(|t| &t.target == target)?
            .listings
            .iter()
            .find(|l| l.zone == zone)
            .map(|l| &l.listing)
    }

    /// The health of `zone`.
    pub fn health(&self, zone: &str) -> Option<&ZoneHealth> {
        self.zones.iter().find(|z| z.zone == zone)
    }

    /// The worst finding of the round.
    pub fn status(&self) -> Severity {
        worst(&self.findings)
    }
}

/// Check every target on every zone that lists its family, with each zone's health tested alongside.
pub async fn run_round(dns: &Lookups, zones: &[Zone], targets: &Targets) -> Round {
    let v6 = targets.targets().iter().any(|t| t.family() == Family::V6);
    let checks = zones
        .iter()
        .map(|z| async move { health::check(dns, z, &health::families_to_test(z, v6)).await });
    // Collected first: a lazy iterator of borrowing closures inside the stream defeats the `Send`
    // proof of the scheduler's boxed job future.
    let queries: Vec<_> = targets
        .targets()
        .iter()
        .flat_map(|t| {
            zones
                .iter()
                .enumerate()
                .filter(|(_, z)| z.lists(t.family()))
                .map(move |(zi, z)| async move { (zi, query(dns, z, t).await) })
        })
        .collect();
    // Twice the DNS concurrency in flight keeps every query permit busy (a listed target asks its
    // TXT reason after the A) while 10,000 pending futures would each be polled on every wake-up.
    let in_flight = dns.concurrency().saturating_mul(2).max(1);
    let (health, answers) = futures::future::join(
        futures::future::join_all(checks),
        futures::StreamExt::collect::<Vec<_>>(futures::StreamExt::buffered(
            futures::stream::iter(queries),
            in_flight,
        )),
    )
    .await;

    let mut answers = answers.into_iter();
    let mut results = Vec::with_capacity(targets.len());
    for target in targets.targets() {
        let mut listings = Vec::new();
        for _ in zones.iter().filter(|z| z.lists(target.family())) {
            let Some((zi, listing)) = answers.next() else {
                break;
            };
            let (zone, health) = (&zones[zi], &health[zi]);
            listings.push(ZoneListing {
                zone: zone.zone().to_owned(),
                delist_url: zone.delist_url().map(str::to_owned),
                listing: trusted(listing, health, target.family()),
            });
        }
        results.push(TargetListings {
            target: target.clone(),
            status: listings
                .iter()
                .map(|l| l.listing.severity())
                .max()
                .unwrap_or(Severity::Ok),
            listings,
        });
    }
    let mut findings = listing_findings(zones, &results);
    let by_zone = by_zone(zones, &results);
    for (zi, zone) in zones.iter().enumerate() {
        findings.extend(zone_findings(zone, &health[zi], &by_zone[zi]));
    }
    findings.extend(targets.findings());
    Round {
        targets: results,
        zones: health,
        findings,
    }
}

/// RFC 5782 §7: a zone failing its test points is not used. Its listed/clean answers become "could not
/// check"; refusals and failures say more than that and are kept.
fn trusted(listing: Listing, health: &ZoneHealth, family: Family) -> Listing {
    let distrust = health.family(family).and_then(HealthState::distrust);
    match (listing, distrust) {
        (Listing::NotListed | Listing::Listed(_), Some(why)) => {
            Listing::LookupFailed(Failure::Untrusted(why))
        }
        (listing, _) => listing,
    }
}

fn listing_findings(zones: &[Zone], results: &[TargetListings]) -> Vec<Finding> {
    let zone_of: HashMap<&str, &Zone> = zones.iter().map(|z| (z.zone(), z)).collect();
    let mut out = Vec::new();
    for t in results {
        for l in &t.listings {
            if let (Listing::Listed(listed), Some(zone)) =
                (&l.listing, zone_of.get(l.zone.as_str()))
            {
                out.push(report::listed_finding(&t.target, zone, listed));
            }
        }
    }
    out
}

/// Per zone (in `zones` order), every target's answer there: one pass over the results instead of
/// one scan of every target's listings per zone.
fn by_zone<'r>(
    zones: &[Zone],
    results: &'r [TargetListings],
) -> Vec<Vec<(&'r Target, &'r Listing)>> {
    let index: HashMap<&str, usize> = zones
        .iter()
        .enumerate()
        .map(|(zi, z)| (z.zone(), zi))
        .collect();
    let mut out = vec![Vec::new(); zones.len()];
    for t in results {
        for l in &t.listings {
            if let Some(&zi) = index.get(l.zone.as_str()) {
                out[zi].push((&t.target, &l.listing));
            }
        }
    }
    out
}

/// One finding per zone and problem: unhealthy, refused (with the list's fix, e.g. for Spamhaus'
/// public-resolver answer), lookups failed. Targets are counted, a few named, up to 20 in detail.
fn zone_findings(
    zone: &Zone,
    health: &ZoneHealth,
    answers: &[(&Target, &Listing)],
) -> Vec<Finding> {
    let name = zone.zone();
    let mut refused: Vec<&Target> = Vec::new();
    let mut refusal = None;
    let mut failed: Vec<&Target> = Vec::new();
    let mut failure = None;
    let mut untrusted: Vec<&Target> = Vec::new();
    for &(target, listing) in answers {
        match listing {
            Listing::Refused { code, meaning } => {
                refused.push(target);
                refusal.get_or_insert((*code, meaning.clone()));
            }
            Listing::LookupFailed(Failure::Untrusted(_)) => untrusted.push(target),
            Listing::LookupFailed(f) => {
                failed.push(target);
                failure.get_or_insert(f.clone());
            }
            Listing::NotListed | Listing::Listed(_) => {}
        }
    }
    let mut out = Vec::new();
    let unchecked = |targets: &[&Target]| match targets.len() {
        0 => String::new(),
        n => format!(
            " {n} target(s) ({}) could not be checked on it.",
            some_targets(targets)
        ),
    };
    let problems: Vec<&String> = health
        .families
        .iter()
        .filter_map(|f| match &f.state {
            HealthState::Unhealthy(p) => Some(p),
            _ => None,
        })
        .flatten()
        .collect();
    if !problems.is_empty() {
        out.push(
            Finding::new(
                FindingCode::BlocklistZoneUnhealthy,
                Severity::Unknown,
                format!(
                    "{name} fails its RFC 5782 test points ({}), so its answers are not trusted.{} \
                     Remove it from the configuration or ask its operator: a dead list may answer \"listed\" for every address.",
                    problems.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("; "),
                    unchecked(&untrusted)
                ),
            )
            .with_detail(with(zone_detail(zone, &untrusted), "problems", &problems)),
        );
    }
    let health_refusal = health.families.iter().find_map(|f| match &f.state {
        HealthState::Refused { code, meaning } => Some((*code, meaning.clone())),
        _ => None,
    });
    if let Some((code, meaning)) = health_refusal.clone().or(refusal) {
        let mut not_checked = refused.clone();
        if problems.is_empty() {
            not_checked.extend(untrusted.iter().copied());
        }
        let fix = zone
            .refusal_fix(code)
            .map(|f| format!(" Fix: {f}."))
            .unwrap_or_default();
        out.push(
            Finding::new(
                FindingCode::BlocklistQueryRefused,
                Severity::Unknown,
                format!(
                    "{name} refused our queries ({code}: {meaning}); this is not a listing, but nothing is known about the targets on this list.{}{fix}",
                    unchecked(&not_checked)
                ),
            )
            .with_detail(with(zone_detail(zone, &not_checked), "code", code)),
        );
    }
    let health_failure = health.families.iter().find_map(|f| match &f.state {
        HealthState::Unreachable(f) => Some(f.clone()),
        _ => None,
    });
    if let Some(f) = health_failure.clone().or(failure) {
        let mut not_checked = failed.clone();
        if health_failure.is_some() && problems.is_empty() && health_refusal.is_none() {
            not_checked.extend(untrusted.iter().copied());
        }
        out.push(
            Finding::new(
                FindingCode::BlocklistLookupFailed,
                Severity::Unknown,
                format!(
                    "Lookups on {name} failed: {f}; the listing state is unknown, neither listed nor clean.{} \
                     Check the resolver (dns.nameservers) and that the zone still exists.",
                    unchecked(&not_checked)
                ),
            )
            .with_detail(with(zone_detail(zone, &not_checked), "error", f.kind())),
        );
    }
    out
}

fn with(mut detail: serde_json::Value, key: &str, value: impl Serialize) -> serde_json::Value {
    if let (Some(map), Ok(v)) = (detail.as_object_mut(), serde_json::to_value(value)) {
        map.insert(key.to_owned(), v);
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::generic_zone;
    use crate::dns::Resolver;
    use crate::dns::testing::FakeDns;

    #[tokio::test]
    async fn untrusted_zones_turn_answers_into_could_not_check() {
        let fake = FakeDns::start().await.unwrap();
        fake.load(
            "2.0.0.127.ok.test A 127.0.0.2\n\
             10.2.0.192.ok.test A 127.0.0.2\n\
             2.0.0.127.flaky.test TIMEOUT\n\
             10.2.0.192.flaky.test A 127.0.0.2\n\
             2.0.0.127.ref.test A 127.0.0.1\n\
             10.2.0.192.ref.test A 127.0.0.1",
        )
        .unwrap();
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let zones = ["ok.test", "flaky.test", "ref.test"].map(generic_zone);
        let mut targets = Targets::new();
        targets.add_ip("192.0.2.10".parse().unwrap());
        targets.add_ip("192.0.2.11".parse().unwrap());
        let r = run_round(&dns, &zones, &targets).await;
        let t = Target::Ip("192.0.2.10".parse().unwrap());
        assert!(r.listing(&t, "ok.test").unwrap().is_listed());
        // The test point timed out: the listing answer is not trusted, the target is unknown there.
        assert!(matches!(
            r.listing(&t, "flaky.test"),
            Some(Listing::LookupFailed(Failure::Untrusted(why))) if why.contains("could not be queried")
        ));
        assert_eq!(r.listing(&t, "ref.test").unwrap().state(), "refused");
        assert_eq!(r.targets[0].status, Severity::Critical);
        assert_eq!(r.targets[1].status, Severity::Unknown);
        let by_code = |c| {
            r.findings
                .iter()
                .filter(|f| f.code == c)
                .collect::<Vec<_>>()
        };
        assert_eq!(by_code(FindingCode::BlocklistListed).len(), 1);
        let failed = by_code(FindingCode::BlocklistLookupFailed);
        assert_eq!(failed.len(), 1);
        assert!(
            failed[0].message.starts_with(
                "Lookups on flaky.test failed: no answer from the resolver (timed out);"
            )
        );
        assert_eq!(failed[0].detail["target_count"], 2);
        let refused = by_code(FindingCode::BlocklistQueryRefused);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].detail["target_count"], 2);
        assert_eq!(r.health("ok.test").map(ZoneHealth::is_healthy), Some(true));
    }
    #[tokio::test]
    async fn answers_keep_their_target_and_zone_when_in_flight_work_is_bounded() {
        // Concurrency 1: at most two query futures alive at once for 12 targets x 2 zones; each
        // answer must still land on its own (target, zone), in target order.
        let fake = FakeDns::start().await.unwrap();
        let mut data = String::from("2.0.0.127.a.test A 127.0.0.2\n2.0.0.127.b.test A 127.0.0.2\n");
        for i in (0..12).filter(|i| i % 3 == 0) {
            data.push_str(&format!("{i}.2.0.192.a.test A 127.0.0.2\n"));
        }
        for i in (0..12).filter(|i| i % 4 == 1) {
            data.push_str(&format!("{i}.2.0.192.b.test A 127.0.0.3\n"));
        }
        fake.load(data.trim_end()).unwrap();
        let mut settings = fake.settings();
        settings.concurrency = std::num::NonZeroUsize::MIN;
        let dns = Resolver::new(&settings).unwrap().round();
        assert_eq!(dns.concurrency(), 1);
        let zones = ["a.test", "b.test"].map(generic_zone);
        let mut targets = Targets::new();
        for i in 0..12 {
            targets.add_ip(format!("192.0.2.{i}").parse().unwrap());
        }
        let r = run_round(&dns, &zones, &targets).await;
        assert_eq!(r.targets.len(), 12);
        for (i, t) in r.targets.iter().enumerate() {
            assert_eq!(
                t.target,
                Target::Ip(format!("192.0.2.{i}").parse().unwrap())
            );
            let zones_listing: Vec<(&str, bool)> = t
                .listings
                .iter()
                .map(|l| (l.zone.as_str(), l.listing.is_listed()))
                .collect();
            assert_eq!(
                zones_listing,
                vec![("a.test", i % 3 == 0), ("b.test", i % 4 == 1)],
                "target 192.0.2.{i}"
            );
        }
    }
}
