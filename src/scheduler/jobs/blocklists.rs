//! The blocklist round job: every configured sending IP (ranges expanded up to the cap) and sending
//! domain on every configured zone, every `schedule.blocklists` — polled here with the round's DNS
//! cache, never per scrape — handed to the results pipeline
//! ([`crate::results::Results::record_blocklist_round`]).

use std::time::Instant;

use anyhow::Context as _;

use crate::blocklists::{self, resolver};
use crate::checks;
use crate::config::Config;
use crate::findings::Severity;
use crate::results::BlocklistRound;
use crate::scheduler::JobContext;

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
    let report = cx
        .results
        .record_blocklist_round(BlocklistRound {
            round,
            zones: &zones,
            resolver: resolver::describe(&cx.config.dns),
            at: checks::unix_now(),
            took: started.elapsed(),
        })
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
        secs = started.elapsed().as_secs_f64(),
        "blocklist round finished"
    );
    Ok(())
}
