//! Zone health, every round, from the RFC 5782 §5 test points.
//!
//! RFC 5782 §5: an IPv4 list MUST list 127.0.0.2 and MUST NOT list 127.0.0.1; an IPv6 list likewise
//! ::FFFF:7F00:2 and ::FFFF:7F00:1; a domain list `TEST` and not `INVALID`. §7: users SHOULD NOT use a
//! zone without correct test entries. A zone that fails is not trusted: its answers for targets of that
//! family become "could not check", never listed or clean. A dead zone that lists everything fails here
//! (127.0.0.1 is listed), and so does an empty or misnamed one (127.0.0.2 is not).
//!
//! Health is judged per family, because a list may serve IPv4 correctly and lack its IPv6 test points.

use std::net::Ipv6Addr;

use serde::Serialize;

use super::query::query_prefix;
use super::{Failure, Family, Listing, Zone};
use crate::config::ZoneKind;
use crate::dns::{self, Lookups};

/// One test point and what the zone answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The family the point tests.
    pub family: Family,
    /// The point as shown to people (`127.0.0.2`, `::ffff:7f00:1`, `test`).
    pub point: String,
    /// Whether RFC 5782 §5 wants it listed (`true`) or not listed (`false`).
    pub must_be_listed: bool,
    /// What the zone answered.
    pub listing: Listing,
}

/// The verdict for one family of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthState {
    /// The test points answer as RFC 5782 §5 requires.
    Healthy,
    /// The test points are wrong: each problem in words.
    Unhealthy(Vec<String>),
    /// The list refused our test queries (e.g. Spamhaus 127.255.255.254: public resolver).
    Refused {
        /// The refusal answer.
        code: std::net::Ipv4Addr,
        /// What the list says it means.
        meaning: String,
    },
    /// The test points could not be queried (timeout, SERVFAIL, rewritten answers).
    Unreachable(Failure),
}

impl HealthState {
    /// `healthy`, `unhealthy`, `refused` or `unreachable`.
    pub fn as_str(&self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy(_) => "unhealthy",
            HealthState::Refused { .. } => "refused",
            HealthState::Unreachable(_) => "unreachable",
        }
    }

    /// Why answers of this family are not trusted (`None` when healthy).
    pub fn distrust(&self) -> Option<String> {
        match self {
            HealthState::Healthy => None,
            HealthState::Unhealthy(problems) => Some(format!(
                "it fails its RFC 5782 test points ({})",
                problems.join("; ")
            )),
            HealthState::Refused { code, meaning } => {
                Some(format!("it refused our test queries ({code}: {meaning})"))
            }
            HealthState::Unreachable(f) => {
                Some(format!("its test points could not be queried ({f})"))
            }
        }
    }

    fn rank(&self) -> u8 {
        match self {
            HealthState::Healthy => 0,
            HealthState::Unreachable(_) => 1,
            HealthState::Refused { .. } => 2,
            HealthState::Unhealthy(_) => 3,
        }
    }
}

impl Serialize for HealthState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The verdict for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyHealth {
    /// Which family.
    pub family: Family,
    /// Its verdict.
    pub state: HealthState,
}

/// A zone's health this round (source of `senderscope_blocklist_zone_healthy{zone}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneHealth {
    /// The zone (its config name).
    pub zone: String,
    /// One verdict per family tested.
    pub families: Vec<FamilyHealth>,
    /// Every test point queried.
    pub probes: Vec<Probe>,
}

impl ZoneHealth {
    /// True when every tested family is healthy (the metric's 1).
    pub fn is_healthy(&self) -> bool {
        self.families
            .iter()
            .all(|f| f.state == HealthState::Healthy)
    }

    /// The worst verdict over the tested families.
    pub fn state(&self) -> &HealthState {
        self.families
            .iter()
            .map(|f| &f.state)
            .max_by_key(|s| s.rank())
            .unwrap_or(&HealthState::Healthy)
    }

    /// The verdict for `family` (`None` when that family was not tested).
    pub fn family(&self, family: Family) -> Option<&HealthState> {
        self.families
            .iter()
            .find(|f| f.family == family)
            .map(|f| &f.state)
    }
}

/// The families a zone is tested for this round: its main one always (so health is known every round),
/// IPv6 only when the round has IPv6 targets for it.
pub(super) fn families_to_test(zone: &Zone, v6_targets: bool) -> Vec<Family> {
    match zone.kind() {
        ZoneKind::Ipv4 => vec![Family::V4],
        ZoneKind::Ip if v6_targets => vec![Family::V4, Family::V6],
        ZoneKind::Ip => vec![Family::V4],
        ZoneKind::Domain => vec![Family::Domain],
    }
}

/// (shown point, query prefix, must be listed) for a family.
fn points(zone: &Zone, family: Family) -> [(String, String, bool); 2] {
    match family {
        Family::V4 => [
            ("127.0.0.2".into(), "2.0.0.127".into(), true),
            ("127.0.0.1".into(), "1.0.0.127".into(), false),
        ],
        Family::V6 => {
            let listed = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 2);
            let unlisted = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 1);
            [
                (listed.to_string(), dns::ipv6_nibbles(listed), true),
                (unlisted.to_string(), dns::ipv6_nibbles(unlisted), false),
            ]
        }
        Family::Domain => {
            let (listed, unlisted) = &zone.test_points;
            [
                (listed.clone(), listed.clone(), true),
                (unlisted.clone(), unlisted.clone(), false),
            ]
        }
    }
}

/// Query the test points of `families` on `zone` and judge each family.
pub(super) async fn check(dns: &Lookups, zone: &Zone, families: &[Family]) -> ZoneHealth {
    let queries = families.iter().flat_map(|&family| {
        points(zone, family).map(|(point, prefix, must_be_listed)| async move {
            Probe {
                family,
                listing: query_prefix(dns, zone, &prefix, false).await,
                point,
                must_be_listed,
            }
        })
    });
    let probes = futures::future::join_all(queries).await;
    let families = families
        .iter()
        .map(|&family| FamilyHealth {
            family,
            state: judge(probes.iter().filter(|p| p.family == family)),
        })
        .collect();
    ZoneHealth {
        zone: zone.zone().to_owned(),
        families,
        probes,
    }
}

/// RFC 5782 §5 applied to one family's probes. Wrong test points outrank a refusal, which outranks a
/// failed query: a zone listing 127.0.0.1 is broken whatever else happened.
fn judge<'a>(probes: impl Iterator<Item = &'a Probe>) -> HealthState {
    let mut problems = Vec::new();
    let mut refused = None;
    let mut failed = None;
    for p in probes {
        match (&p.listing, p.must_be_listed) {
            (Listing::Listed(_), true) | (Listing::NotListed, false) => {}
            (Listing::NotListed, true) => problems.push(format!(
                "{} is not listed, though every list must list it: empty, dead or misnamed zone?",
                p.point
            )),
            (Listing::Listed(_), false) => problems.push(format!(
                "{} is listed, though no list may list it: a zone that does may list every address",
                p.point
            )),
            (Listing::LookupFailed(Failure::Undocumented(codes)), _) => problems.push(format!(
                "{} answers {}, which the list does not document",
                p.point,
                codes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (Listing::Refused { code, meaning }, _) => {
                refused.get_or_insert(HealthState::Refused {
                    code: *code,
                    meaning: meaning.clone(),
                });
            }
            (Listing::LookupFailed(f), _) => {
                failed.get_or_insert(HealthState::Unreachable(f.clone()));
            }
        }
    }
    if !problems.is_empty() {
        HealthState::Unhealthy(problems)
    } else {
        refused.or(failed).unwrap_or(HealthState::Healthy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::{generic_zone, zones};
    use crate::dns::Resolver;
    use crate::dns::testing::FakeDns;

    #[tokio::test]
    async fn test_points_decide_health_per_family() {
        let fake = FakeDns::start().await.unwrap();
        fake.load(
            "2.0.0.127.good.test A 127.0.0.2\n\
             2.0.0.127.wild.test A 127.0.0.2\n\
             1.0.0.127.wild.test A 127.0.0.2\n\
             2.0.0.127.slow.test TIMEOUT\n\
             1.0.0.127.slow.test TIMEOUT\n\
             2.0.0.127.zen.spamhaus.org A 127.255.255.254\n\
             1.0.0.127.zen.spamhaus.org A 127.255.255.254\n\
             test.dom.test A 127.0.0.2",
        )
        .unwrap();
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let health = |zone: &'static str, fams: &'static [Family]| {
            let dns = dns.clone();
            async move { check(&dns, &generic_zone(zone), fams).await }
        };
        let good = health("good.test", &[Family::V4, Family::V6]).await;
        assert_eq!(good.family(Family::V4), Some(&HealthState::Healthy));
        assert!(
            matches!(good.family(Family::V6), Some(HealthState::Unhealthy(p)) if p[0].starts_with("::ffff:127.0.0.2"))
        );
        assert!(!good.is_healthy());
        let wild = health("wild.test", &[Family::V4]).await;
        assert!(
            matches!(wild.state(), HealthState::Unhealthy(p) if p[0].starts_with("127.0.0.1 is listed"))
        );
        let empty = health("empty.test", &[Family::V4]).await;
        assert!(
            matches!(empty.state(), HealthState::Unhealthy(p) if p[0].starts_with("127.0.0.2 is not listed"))
        );
        let slow = health("slow.test", &[Family::V4]).await;
        assert!(matches!(slow.state(), HealthState::Unreachable(f) if f.kind() == "timeout"));
        let zen = Zone::from_catalogue(zones::entry("zen.spamhaus.org").unwrap(), None);
        let zen = check(&dns, &zen, &[Family::V4]).await;
        assert!(
            matches!(zen.state(), HealthState::Refused { code, .. } if code.octets() == [127, 255, 255, 254])
        );
        let mut dom = generic_zone("dom.test");
        dom.kind = ZoneKind::Domain;
        assert_eq!(
            check(&dns, &dom, &[Family::Domain]).await.state(),
            &HealthState::Healthy
        );
    }

    #[test]
    fn ipv6_points_are_tested_only_when_there_are_ipv6_targets() {
        let zen = Zone::from_catalogue(zones::entry("zen.spamhaus.org").unwrap(), None);
        assert_eq!(families_to_test(&zen, false), [Family::V4]);
        assert_eq!(families_to_test(&zen, true), [Family::V4, Family::V6]);
        let spamcop = Zone::from_catalogue(zones::entry("bl.spamcop.net").unwrap(), None);
        assert_eq!(families_to_test(&spamcop, true), [Family::V4]);
    }
}
