//! What the DMARC aggregate reports add to the domain views: pass rates over 24 h and 7 d, the top
//! failing sources and the enforcement verdict in `/api/v1/domains/{domain}`, the compact verdict in
//! `/api/v1/status` ([`crate::analysis`] computes them from the store; nothing here knows HTTP).

use std::collections::HashMap;

use serde::Serialize;

use super::{DomainDetail, StatusResponse};
use crate::analysis::readiness::{Enforcement, EnforcementSummary};
use crate::analysis::sources::Source;
use crate::analysis::{Overview, PassRate};

/// `reports` in `/api/v1/domains/{domain}`.
#[derive(Debug, Clone, Serialize)]
pub struct DomainReports {
    /// DMARC pass rate over the last 24 hours (reports that ended in it).
    pub pass_rate_24h: PassRate,
    /// DMARC pass rate over the last 7 days.
    pub pass_rate_7d: PassRate,
    /// Sources with the most failing messages over 7 days: IP, reverse DNS, sender, counts, and
    /// which of SPF and DKIM failed and why.
    pub top_failing_sources: Vec<Source>,
    /// Enforcement readiness (the compact form; the full one at `/enforcement`).
    pub enforcement: EnforcementSummary,
}

/// The domain's report figures.
pub fn domain_reports(overview: &Overview, enforcement: &Enforcement) -> DomainReports {
    DomainReports {
        pass_rate_24h: overview.pass_rate_24h.clone(),
        pass_rate_7d: overview.pass_rate_7d.clone(),
        top_failing_sources: overview.top_failing_sources.clone(),
        enforcement: enforcement.summary(),
    }
}

/// Add the report figures to a domain's detail.
pub fn attach_domain(detail: &mut DomainDetail, reports: DomainReports) {
    detail.reports = Some(reports);
}

/// Add each listed domain's compact enforcement verdict to the status (domains missing from
/// `verdicts` keep none: their figures could not be read).
pub fn attach_status(status: &mut StatusResponse, verdicts: &HashMap<String, EnforcementSummary>) {
    for d in &mut status.domains {
        d.enforcement = verdicts.get(&d.domain).cloned();
    }
}
