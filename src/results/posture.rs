//! A domain round: every domain check, the PTR/FCrDNS of each single sending IP and the bulk-sender
//! summary, as the posture job hands it over. Its records are observed first (a change adds an info
//! `record.changed` finding to its check or IP, kept for [`CHANGE_REPORTED_FOR`]), then every check
//! and every IP's PTR result is stored with its facts, then the state takes them.

use std::time::Duration;

use super::Results;
use super::facts::{CheckFacts, PtrFacts};
use super::history::{self, CHANGE_REPORTED_FOR};
use super::id::{CheckId, Target};
use crate::findings::CheckReport;
use crate::posture::{DomainReport, IpReport};
use crate::store::{CheckResult, StoreError};

/// One domain's round as the posture job hands it over.
#[derive(Debug, Clone)]
pub struct DomainRound {
    /// What the round found.
    pub report: DomainReport,
    /// The DKIM selectors it checked (each has its own record history).
    pub dkim_selectors: Vec<String>,
    /// When it started (Unix seconds): the time of its PTR results and record observations.
    pub checked_at: i64,
    /// How long the whole round took (the PTR results' duration: they run beside the other checks).
    pub took: Duration,
}

impl Results {
    /// Keep a domain's round: record history, the store, then the state.
    pub async fn record_domain_round(&self, round: DomainRound) -> Result<(), StoreError> {
        let DomainRound {
            mut report,
            dkim_selectors,
            checked_at,
            took,
        } = round;
        let domain = report.domain.to_string();
        let observations = history::observations(&report, &dkim_selectors, checked_at);
        let window = i64::try_from(CHANGE_REPORTED_FOR.as_secs()).unwrap_or(i64::MAX);
        let changes = self
            .store
            .observe_records(observations, checked_at.saturating_sub(window))
            .await?;
        for c in changes.iter().filter(|c| c.changed_at == checked_at) {
            tracing::info!(
                domain,
                target = c.target,
                check = %c.check,
                name = c.name,
                "a published record changed"
            );
        }
        history::attach(&mut report, &changes);

        let target = Target::Domain(report.domain.clone());
        let mut results: Vec<CheckResult> = {
            let state = self.state.read();
            report
                .checks
                .iter()
                .map(|r| {
                    let previous = state.result(&target, r.check).map(|c| &c.facts);
                    CheckResult {
                        facts: CheckFacts::of_check(r.check, &report.facts)
                            .keeping_unknown(&r.findings, previous),
                        report: r.clone(),
                    }
                })
                .collect()
        };
        results.extend(report.ips.iter().map(|ip| ptr_result(ip, checked_at, took)));
        self.record(results).await
    }
}

/// An IP's PTR outcome as a stored check result targeting the IP.
fn ptr_result(ip: &IpReport, checked_at: i64, took: Duration) -> CheckResult {
    CheckResult {
        report: CheckReport {
            target: ip.ip.to_string(),
            check: CheckId::Ptr,
            status: ip.status,
            record: ip.ptr.clone(),
            findings: ip.findings.clone(),
            checked_at,
            duration: took,
        },
        facts: CheckFacts::Ptr(PtrFacts {
            ptr: ip.ptr.clone(),
            fcrdns: ip.fcrdns,
        }),
    }
}
