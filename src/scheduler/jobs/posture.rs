//! The posture job of one domain: [`crate::posture::check_domain`] on one DNS round — every domain check,
//! the PTR/FCrDNS of each single sending IP, the bulk-sender summary, exactly what `senderscope check`
//! runs — handed to the results pipeline ([`crate::results::Results::record_domain_round`]). The DKIM
//! check also covers the selectors DMARC reports showed for the domain ([`crate::analysis::selectors`]).

use std::time::Instant;

use anyhow::Context as _;

use crate::analysis::db::{AnalysisDb, SeenSelector};
use crate::analysis::selectors;
use crate::checks::{self, DomainContext};
use crate::config::DomainName;
use crate::results::{CheckId, DomainRound};
use crate::scheduler::JobContext;

/// Check `domain` as configured in the job's snapshot and record the results.
pub(super) async fn run(cx: &JobContext, domain: &DomainName) -> anyhow::Result<()> {
    let Some(settings) = cx.config.domains.iter().find(|d| d.name == *domain) else {
        return Ok(()); // removed from the configuration since dispatch
    };
    let discovered = discovered_selectors(cx, domain, &settings.dkim_selectors).await;
    let dcx = DomainContext {
        domain: domain.clone(),
        dkim_selectors: selectors::union(&settings.dkim_selectors, &discovered),
        // Ranges are not walked address by address for PTR (a /24 would be 256 reverse lookups per
        // round); their addresses are the blocklist job's business.
        sending_ips: settings.single_ips().collect(),
        dns: cx.dns.round(),
        https: checks::mta_sts::PolicyFetcher::default(),
    };
    let started = Instant::now();
    let checked_at = checks::unix_now();
    let mut report = crate::posture::check_domain(&dcx).await;
    if let Some(dkim) = report.checks.iter_mut().find(|r| r.check == CheckId::Dkim) {
        selectors::annotate(dkim, domain.as_str(), &discovered);
        report.status = report
            .checks
            .iter()
            .map(|r| r.status)
            .max()
            .unwrap_or(report.status);
    }
    let took = started.elapsed();
    for r in &report.checks {
        cx.metrics.observe_check_duration(r.check, r.duration);
    }
    if !report.ips.is_empty() {
        cx.metrics.observe_check_duration(CheckId::Ptr, took);
    }
    cx.results
        .record_domain_round(DomainRound {
            report,
            dkim_selectors: dcx.dkim_selectors,
            checked_at,
            took,
        })
        .await
        .context("storing check results")
}

/// The selectors reports showed for `domain` that are not configured; none when the store cannot be
/// read (the configured ones are still checked, and the next round asks again).
async fn discovered_selectors(
    cx: &JobContext,
    domain: &DomainName,
    configured: &[String],
) -> Vec<SeenSelector> {
    let path = cx.config.state.path.clone();
    if !path.exists() {
        return Vec::new(); // no state database yet, so no report either
    }
    let (domain, configured) = (domain.to_string(), configured.to_vec());
    let read = tokio::task::spawn_blocking(move || {
        let db = AnalysisDb::shared(&path)?;
        selectors::discovered(&db, &domain, &configured, checks::unix_now())
    })
    .await;
    match read {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the DKIM selectors seen in reports; checking the configured ones");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}
