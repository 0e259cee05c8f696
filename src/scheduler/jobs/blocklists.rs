//! The blocklist round job: every configured sending IP (ranges expanded up to the cap) and sending
//! domain on every configured zone, every `schedule.blocklists` — polled here with the round's DNS
//! cache, never per scrape.
//!
//! Definitive answers open and close listing periods and set `senderscope_blocklist_listed` through
//! [`store_listings`]; refused and failed answers are not observations (a 0 is withdrawn: unknown is
//! not clean). Each target's findings (with the status sentence and when its listing began) and the
//! zones' findings are stored as check results for `/api/v1/status`; the public-resolver verdict is
//! logged and stored every round, as at start.

use std::time::Instant;

use anyhow::Context as _;

use super::store_listings;
use crate::blocklists::{self, History, RoundReport, resolver};
use crate::checks;
use crate::config::Config;
use crate::findings::Severity;
use crate::scheduler::JobContext;
use crate::store::ListingTransition;

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

    let health: Vec<(String, bool)> = round
        .zones
        .iter()
        .map(|z| (z.zone.clone(), z.is_healthy()))
        .collect();
    let updates = store_listings(cx, blocklists::observations(&round, at), &health).await?;
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
    forget_unknown(cx, &blocklists::unknown_pairs(&round));

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
    let mut stored = report.stored(at, took);
    stored.extend(resolver::stored(&verdict, at, took));
    cx.store
        .save_checks(stored)
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

/// A refused or failed answer is not an observation: a series reading 0 ("not listed") would claim
/// a clean state nobody saw this round, so it is withdrawn; a 1 stays, as its listing period stays
/// open in the store (nothing says it ended).
fn forget_unknown(cx: &JobContext, pairs: &[(String, String)]) {
    let listed = &cx.metrics.blocklist_listed;
    for (target, zone) in pairs {
        let labels = [target.as_str(), zone.as_str()];
        if listed
            .get_metric_with_label_values(&labels)
            .is_ok_and(|g| g.get() == 0)
        {
            let _ = listed.remove_label_values(&labels);
        }
    }
}
