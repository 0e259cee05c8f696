//! The blocklist round job: every configured sending IP (ranges expanded up to the cap) and sending
//! domain on every configured zone, every `schedule.blocklists` — polled here with the round's DNS
//! cache, never per scrape.
//!
//! Definitive answers open and close listing periods ([`store_listings`]); refused and failed answers
//! are not observations. Each target's findings (with the status sentence and when its listing began)
//! are stored as its `blocklists` check result for `/api/v1/status`, with each zone's answer as its
//! facts ([`ListingFacts`]); the zones' findings likewise, with their health ([`RoundFacts`]). The
//! metrics are published from those facts ([`publish::listings`], [`publish::zone_health`]), as they
//! are at start: `senderscope_blocklist_listed` 1 or 0, and for a refused or failed answer a 1 stays and
//! a 0 is withdrawn (unknown is not clean). The public-resolver verdict is logged and stored every
//! round, as at start.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context as _;

use super::publish::{self, ListingFacts, RoundFacts};
use super::store_listings;
use crate::blocklists::{self, History, ROUND_CHECK, ROUND_TARGET, RoundReport, resolver};
use crate::checks;
use crate::config::Config;
use crate::findings::Severity;
use crate::scheduler::JobContext;
use crate::store::{CheckResult, ListingTransition};

/// Whether the configuration asks for blocklist rounds: some target and some zone.
pub(super) fn planned(config: &Config) -> bool {
    !config.domains.is_empty()
        && blocklists::select(&config.blocklists).is_ok_and(|zones| !zones.is_empty())
}

/// One round.
pub(super) async fn round(cx: &JobContext) -> anyhow::Result<()> {
    let (zones, targets) =
        blocklists::configured(&cx.config).context("selecting the blocklist zones")?;
    if zones.is_empty() || targets.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let round = blocklists::run_round(&cx.dns.round(), &zones, &targets).await;
    let at = checks::unix_now();

    let answers: HashMap<String, ListingFacts> = round
        .targets
        .iter()
        .map(|t| {
            let zones = t
                .listings
                .iter()
                .map(|l| (l.zone.clone(), l.listing.state().to_owned()))
                .collect();
            (t.target.to_string(), ListingFacts { zones })
        })
        .collect();
    let health = RoundFacts {
        healthy: round
            .zones
            .iter()
            .map(|z| (z.zone.clone(), z.is_healthy()))
            .collect(),
    };
    publish::zone_health(&cx.metrics, &health, |_| true);
    for (target, facts) in &answers {
        publish::listings(&cx.metrics, target, facts, |_| true);
    }

    let updates = store_listings(cx, blocklists::observations(&round, at)).await?;
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

    // Open periods give each listing's start; closed ones the recent ends shown as findings.
    let mut history = History::new();
    for target in targets.targets() {
        let periods = cx
            .store
            .listings(Some(target.to_string()))
            .await
            .context("reading blocklist listing history")?;
        for p in periods {
            history.add(p);
        }
    }

    let verdict = resolver::verdict(&round.zones, &zones, &resolver::describe(&cx.config.dns));
    if let resolver::Verdict::Public(f) = &verdict {
        tracing::warn!(code = %f.code, "{}", f.message);
    }
    let report = RoundReport::new(round, &zones, &history, at);
    for f in &report.zone_findings {
        tracing::warn!(code = %f.code, "{}", f.message);
    }
    let took = started.elapsed();
    // Each result carries the answers behind it: what the metrics are restored from at start.
    let mut stored: Vec<CheckResult> = report
        .stored(at, took)
        .into_iter()
        .map(|r| {
            let facts = if r.target == ROUND_TARGET && r.check == ROUND_CHECK {
                serde_json::to_value(&health)
            } else {
                serde_json::to_value(answers.get(&r.target).cloned().unwrap_or_default())
            };
            CheckResult {
                report: r,
                facts: facts.unwrap_or(serde_json::Value::Null),
            }
        })
        .collect();
    stored.extend(resolver::stored(&verdict, at, took).map(CheckResult::from));
    cx.store
        .save_results(stored)
        .await
        .context("storing blocklist results")?;

    let count = |pred: fn(Severity) -> bool| {
        report
            .targets
            .iter()
            .filter(|t| t.listings.iter().any(|l| pred(l.listing.severity())))
            .count()
    };
    tracing::info!(
        targets = report.targets.len(),
        zones = zones.len(),
        listed = count(|s| s == Severity::Critical || s == Severity::Warning),
        unknown = count(|s| s == Severity::Unknown),
        secs = took.as_secs_f64(),
        "blocklist round finished"
    );
    Ok(())
}
