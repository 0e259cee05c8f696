//! A blocklist round: definitive answers open and close listing periods (refused and failed answers
//! are not observations), the periods the round's sentences need are read in one query, then each
//! target's findings (with the status sentence and when its listing began) are stored as its
//! `blocklists` result with each zone's answer as its facts, the zones' findings as the `round` result
//! with their health, and the public-resolver verdict — and only then does the state take them.

use std::collections::HashMap;
use std::time::Duration;

use super::Results;
use super::facts::{Answer, CheckFacts, ListingFacts, ZoneFacts};
use super::id::CheckId;
use crate::blocklists::{self, History, Round, RoundReport, Zone, resolver};
use crate::store::{CheckResult, ListingTransition, StoreError};

/// One round as the blocklist job hands it over.
pub struct BlocklistRound<'a> {
    /// What the queries answered.
    pub round: Round,
    /// The zones it ran on.
    pub zones: &'a [Zone],
    /// How the resolver is named in the public-resolver finding.
    pub resolver: String,
    /// When it finished (Unix seconds).
    pub at: i64,
    /// How long it took.
    pub took: Duration,
}

impl Results {
    /// Keep a blocklist round: listing periods, then results, then the state. Returns the round as
    /// read for people (for the job's log line).
    pub async fn record_blocklist_round(
        &self,
        r: BlocklistRound<'_>,
    ) -> Result<RoundReport, StoreError> {
        let BlocklistRound {
            round,
            zones,
            resolver: described,
            at,
            took,
        } = r;
        let listing_facts = |t: &blocklists::TargetListings| {
            CheckFacts::Listings(ListingFacts {
                zones: t
                    .listings
                    .iter()
                    .map(|l| (l.zone.clone(), Answer::from_state(l.listing.state())))
                    .collect(),
            })
        };
        let mut answers: HashMap<String, CheckFacts> = round
            .targets
            .iter()
            .map(|t| (t.target.to_string(), listing_facts(t)))
            .collect();
        let health = CheckFacts::Zones(ZoneFacts {
            healthy: round
                .zones
                .iter()
                .map(|z| (z.zone.clone(), z.is_healthy()))
                .collect(),
        });

        let updates = self
            .store
            .observe_listings(blocklists::observations(&round, at))
            .await?;
        for u in &updates {
            match (u.transition, &u.period) {
                (ListingTransition::Started, Some(p)) => {
                    tracing::warn!(subject = %p.target, zone = %p.zone, codes = ?p.codes, "a blocklist listing began");
                }
                (ListingTransition::Ended, Some(p)) => {
                    tracing::info!(subject = %p.target, zone = %p.zone, listed_since = p.listed_since, "a blocklist listing ended");
                }
                _ => {}
            }
        }
        self.state.apply_listings(&updates);

        // Open periods give each listing's start; closed ones the recent ends shown as findings.
        let shown_after = at.saturating_sub(blocklists::ENDED_SHOWN.as_secs() as i64);
        let mut history = History::new();
        for p in self.store.listing_history(shown_after).await? {
            history.add(p);
        }

        let verdict = resolver::verdict(&round.zones, zones, &described);
        if let resolver::Verdict::Public(f) = &verdict {
            tracing::warn!(code = %f.code, "{}", f.message);
        }
        let report = RoundReport::new(round, zones, &history, at);
        for f in &report.zone_findings {
            tracing::warn!(code = %f.code, "{}", f.message);
        }
        // Each result carries the answers behind it: what the listing series are made of.
        let mut stored: Vec<CheckResult> = report
            .stored(at, took)
            .into_iter()
            .map(|r| {
                let facts = if r.check == CheckId::BlocklistRound {
                    health.clone()
                } else {
                    answers.remove(&r.target).unwrap_or_default()
                };
                CheckResult { report: r, facts }
            })
            .collect();
        stored.extend(resolver::stored(&verdict, at, took).map(CheckResult::from));
        self.record(stored).await?;
        Ok(report)
    }
}
