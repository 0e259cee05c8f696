//! The posture job of one domain: [`crate::posture::check_domain`] on one DNS round — every domain check,
//! the PTR/FCrDNS of each single sending IP, the bulk-sender summary, exactly what `senderscope check`
//! runs — handed to the results pipeline ([`crate::results::Results::record_domain_round`]).

use std::time::Instant;

use anyhow::Context as _;

use crate::checks::{self, DomainContext};
use crate::config::DomainName;
use crate::results::{CheckId, DomainRound};
use crate::scheduler::JobContext;

/// Check `domain` as configured in the job's snapshot and record the results.
pub(super) async fn run(cx: &JobContext, domain: &DomainName) -> anyhow::Result<()> {
    let Some(settings) = cx.config.domains.iter().find(|d| d.name == *domain) else {
        return Ok(()); // removed from the configuration since dispatch
    };
    let dcx = DomainContext {
        domain: domain.clone(),
        dkim_selectors: settings.dkim_selectors.clone(),
        // Ranges are not walked address by address for PTR (a /24 would be 256 reverse lookups per
        // round); their addresses are the blocklist job's business.
        sending_ips: settings.single_ips().collect(),
        dns: cx.dns.round(),
        https: checks::mta_sts::PolicyFetcher::default(),
    };
    let started = Instant::now();
    let checked_at = checks::unix_now();
    let report = crate::posture::check_domain(&dcx).await;
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
