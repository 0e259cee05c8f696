//! What a round means to people and to the store.
//!
//! - [`RoundReport`]: per target its findings — one per zone that lists it, refused it or could not
//!   answer, each with the status sentence, plus listings that ended lately — and the zone-level
//!   findings (health, refusals, failures, truncated ranges). `senderscope check` prints it; the daemon
//!   stores it ([`RoundReport::stored`]).
//! - [`observations`]: the definitive answers (listed / not listed) that open and close listing
//!   periods in the store. Refused and failed answers are left out: they say nothing about a listing.
//! - [`History`]: what the store knows (when a listing began, which ones ended), so sentences read
//!   "listed on … since 2026-11-20 14:02 UTC".

use std::collections::HashMap;
use std::time::Duration;

use super::report::{ended_finding, target_finding};
use super::{Listing, Round, Target, Targets, Zone, ZoneHealth, ZoneListing, select};
use crate::config::Config;
use crate::findings::{CheckReport, Finding, FindingCode, Severity, worst};
use crate::results::CheckId;
use crate::store::{self, ListingObservation, ListingPeriod};

/// How long a listing that ended stays among its target's findings (`blocklist.delisted`, info): a
/// week, so a weekly review still sees that it happened; the store keeps the period itself for
/// `state.retention`.
pub const ENDED_SHOWN: Duration = Duration::from_secs(7 * 24 * 3600);

/// The check of blocklist results in the store and in `/api/v1/status`.
pub const CHECK: CheckId = CheckId::Blocklists;

/// The store target of results about the zones and the resolver rather than one IP or domain.
pub const ROUND_TARGET: &str = crate::results::BLOCKLISTS_TARGET;

/// Check (under [`ROUND_TARGET`]) of the zone-level findings of the latest round.
pub const ROUND_CHECK: CheckId = CheckId::BlocklistRound;

/// Check (under [`ROUND_TARGET`]) of the public-resolver verdict (at start and every round).
pub const RESOLVER_CHECK: CheckId = CheckId::BlocklistResolver;

/// The zones and targets the configuration asks for.
pub fn configured(config: &Config) -> Result<(Vec<Zone>, Targets), select::SelectError> {
    let zones = select::select(&config.blocklists)?;
    let targets = Targets::from_config(&config.domains, config.blocklists.max_range_addresses);
    Ok((zones, targets))
}

/// What the store knows of listing periods: when open ones began, and closed ones.
#[derive(Debug, Clone, Default)]
pub struct History {
    since: HashMap<(String, String), i64>,
    ended: HashMap<(String, String), ListingPeriod>,
}

impl History {
    /// Nothing known (`senderscope check` has no store).
    pub fn new() -> Self {
        History::default()
    }

    /// Add a period read from the store: an open one gives its listing's start, a closed one is a
    /// listing that ended (the latest per target and zone is kept).
    pub fn add(&mut self, period: ListingPeriod) {
        let key = (period.target.clone(), period.zone.clone());
        match period.delisted_at {
            None => {
                self.since.insert(key, period.listed_since);
            }
            Some(end) => {
                if self
                    .ended
                    .get(&key)
                    .is_none_or(|p| p.delisted_at.unwrap_or(0) < end)
                {
                    self.ended.insert(key, period);
                }
            }
        }
    }

    fn since(&self, target: &str, zone: &str) -> Option<i64> {
        self.since
            .get(&(target.to_owned(), zone.to_owned()))
            .copied()
    }

    fn ended(&self, target: &str, zone: &str) -> Option<&ListingPeriod> {
        self.ended.get(&(target.to_owned(), zone.to_owned()))
    }
}

/// One target's results of a round, for people.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetReport {
    /// The IP or domain.
    pub target: Target,
    /// Worst of its findings (`ok` when listed nowhere and every zone answered).
    pub status: Severity,
    /// Each zone's answer, in zone order.
    pub listings: Vec<ZoneListing>,
    /// One finding per zone that listed, refused or failed it; `blocklist.delisted` for recent ends.
    pub findings: Vec<Finding>,
}

/// A round read for people: per target and per zone.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    /// Per target, in [`Targets`] order.
    pub targets: Vec<TargetReport>,
    /// Each zone's health this round.
    pub zones: Vec<ZoneHealth>,
    /// Zone-level findings: unhealthy zones, refusals and failures (with how many targets they cost),
    /// truncated ranges. Listings are per target, not here.
    pub zone_findings: Vec<Finding>,
    /// Worst of everything above.
    pub status: Severity,
}

impl RoundReport {
    /// Read `round` (run on `zones`) with what the store knows; `now` (Unix seconds) decides which
    /// ended listings are still shown.
    pub fn new(round: Round, zones: &[Zone], history: &History, now: i64) -> RoundReport {
        let shown_after = now.saturating_sub(ENDED_SHOWN.as_secs() as i64);
        let targets: Vec<TargetReport> = round
            .targets
            .into_iter()
            .map(|t| {
                let name = t.target.to_string();
                let mut findings = Vec::new();
                for l in &t.listings {
                    let Some(zone) = zones.iter().find(|z| z.zone() == l.zone) else {
                        continue;
                    };
                    let health = round
                        .zones
                        .iter()
                        .find(|h| h.zone == l.zone)
                        .and_then(|h| h.family(t.target.family()));
                    let since = history.since(&name, &l.zone);
                    if let Some(f) = target_finding(&t.target, zone, l, health, since) {
                        findings.push(f);
                    }
                    if !l.listing.is_listed()
                        && let Some(ended) = history.ended(&name, &l.zone)
                        && ended.delisted_at.is_some_and(|at| at >= shown_after)
                    {
                        findings.push(ended_finding(ended));
                    }
                }
                TargetReport {
                    status: worst(&findings).max(t.status),
                    target: t.target,
                    listings: t.listings,
                    findings,
                }
            })
            .collect();
        let zone_findings: Vec<Finding> = round
            .findings
            .into_iter()
            .filter(|f| f.code != FindingCode::BlocklistListed)
            .collect();
        let status = targets
            .iter()
            .map(|t| t.status)
            .chain([worst(&zone_findings)])
            .max()
            .unwrap_or(Severity::Ok);
        RoundReport {
            targets,
            zones: round.zones,
            zone_findings,
            status,
        }
    }

    /// The results of `target`, if it was in the round.
    pub fn target(&self, target: &Target) -> Option<&TargetReport> {
        self.targets.iter().find(|t| &t.target == target)
    }

    /// What the daemon stores: one [`CHECK`] report per target and the zone-level report
    /// ([`ROUND_TARGET`] / [`ROUND_CHECK`]).
    pub fn stored(&self, checked_at: i64, took: Duration) -> Vec<CheckReport> {
        let report = |target: String, check: CheckId, findings: Vec<Finding>| CheckReport {
            target,
            check,
            status: worst(&findings),
            record: None,
            findings,
            checked_at,
            duration: took,
        };
        let mut out: Vec<CheckReport> = self
            .targets
            .iter()
            .map(|t| report(t.target.to_string(), CHECK, t.findings.clone()))
            .collect();
        out.push(report(
            ROUND_TARGET.to_owned(),
            ROUND_CHECK,
            self.zone_findings.clone(),
        ));
        out
    }
}

/// The definitive answers of a round, for the store's listing periods: listed (codes and reason) or
/// not listed. Refused and failed answers are not observations: they must neither open nor close a
/// period.
pub fn observations(round: &Round, at: i64) -> Vec<ListingObservation> {
    round
        .targets
        .iter()
        .flat_map(|t| {
            t.listings.iter().filter_map(move |l| {
                let listed = match &l.listing {
                    Listing::NotListed => None,
                    Listing::Listed(listed) => Some(store::Listed {
                        codes: listed.codes.iter().map(ToString::to_string).collect(),
                        reason: listed.reason.clone(),
                    }),
                    Listing::Refused { .. } | Listing::LookupFailed(_) => return None,
                };
                Some(ListingObservation {
                    target: t.target.to_string(),
                    zone: l.zone.clone(),
                    listed,
                    at,
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocklists::{generic_zone, run_round};
    use crate::dns::Resolver;
    use crate::dns::testing::FakeDns;

    fn period(target: &str, since: i64, ended: Option<i64>) -> ListingPeriod {
        ListingPeriod {
            target: target.into(),
            zone: "bl.test".into(),
            codes: vec!["127.0.0.2".into()],
            reason: None,
            listed_since: since,
            last_seen: ended.unwrap_or(since),
            delisted_at: ended,
        }
    }

    #[tokio::test]
    async fn findings_carry_the_sentence_the_start_and_recent_ends() {
        let fake = FakeDns::start().await.unwrap();
        fake.load(
            "2.0.0.127.bl.test A 127.0.0.2\n\
             10.2.0.192.bl.test A 127.0.0.2\n\
             10.2.0.192.bl.test TXT \"spam trap hits\"\n\
             12.2.0.192.bl.test A 127.255.255.254\n\
             13.2.0.192.bl.test TIMEOUT",
        )
        .unwrap();
        let dns = Resolver::new(&fake.settings()).unwrap().round();
        let zones = [generic_zone("bl.test")];
        let mut targets = Targets::new();
        for ip in ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"] {
            targets.add_ip(ip.parse().unwrap());
        }
        let round = run_round(&dns, &zones, &targets).await;

        let obs = observations(&round, 100);
        let seen: Vec<(&str, bool)> = obs
            .iter()
            .map(|o| (o.target.as_str(), o.listed.is_some()))
            .collect();
        assert_eq!(
            seen,
            [("192.0.2.10", true), ("192.0.2.11", false)],
            "refused and failed answers are not observations"
        );

        let now = 1_795_700_000;
        let mut history = History::new();
        history.add(period("192.0.2.10", 1_795_183_320, None));
        history.add(period("192.0.2.11", 1_795_000_000, Some(1_795_600_000)));
        // Ended long ago: no longer shown.
        history.add(period("192.0.2.12", 1_700_000_000, Some(1_700_000_100)));
        let r = RoundReport::new(round, &zones, &history, now);

        let t = |ip: &str| r.target(&Target::Ip(ip.parse().unwrap())).unwrap();
        let listed = &t("192.0.2.10").findings;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].severity, Severity::Critical);
        assert_eq!(
            listed[0].message,
            "192.0.2.10 is listed on bl.test (127.0.0.2) since 2026-11-20 14:02 UTC, reason: spam trap \
             hits; find and stop the cause before asking for removal."
        );
        assert_eq!(listed[0].detail["listed_since"], 1_795_183_320);

        let ended = &t("192.0.2.11").findings;
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].code, FindingCode::BlocklistDelisted);
        assert_eq!(t("192.0.2.11").status, Severity::Info);
        assert_eq!(
            ended[0].message,
            "192.0.2.11 is no longer listed on bl.test: listed from 2026-11-18 11:06 UTC until \
             2026-11-25 09:46 UTC."
        );

        let refused = &t("192.0.2.12").findings;
        assert_eq!(refused.len(), 1, "{refused:#?}");
        assert_eq!(refused[0].code, FindingCode::BlocklistQueryRefused);
        assert_eq!(t("192.0.2.12").status, Severity::Unknown);
        let failed = &t("192.0.2.13").findings;
        assert_eq!(failed[0].code, FindingCode::BlocklistLookupFailed);
        assert!(
            failed[0]
                .message
                .starts_with("Could not check 192.0.2.13 on bl.test:")
        );

        assert!(
            r.zone_findings
                .iter()
                .all(|f| f.code != FindingCode::BlocklistListed)
        );
        assert_eq!(r.status, Severity::Critical);
        let stored = r.stored(now, Duration::from_millis(5));
        assert_eq!(stored.len(), 5);
        assert_eq!(stored[0].check, CHECK);
        assert_eq!(stored[0].status, Severity::Critical);
        assert_eq!(stored[4].target, ROUND_TARGET);
        assert_eq!(stored[4].status, Severity::Unknown);
    }
}
