//! The posture job of one domain: [`crate::posture::check_domain`] on one DNS round — every domain check,
//! the PTR/FCrDNS of each single sending IP, the bulk-sender summary, exactly what `senderscope check`
//! runs — then [`store_domain_results`]: record history (and its `record.changed` findings), metrics,
//! the store.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::history::{self, CHANGE_REPORTED_FOR, PTR_CHECK};
use super::publish::{self, DomainScope, ResultView};
use crate::checks::{self, CheckKind, DomainContext, Facts};
use crate::config::DomainName;
use crate::findings::CheckReport;
use crate::posture::{DomainReport, IpReport};
use crate::scheduler::JobContext;
use crate::store::{CheckResult, PtrFacts};

/// One domain's round as the posture job hands it to [`store_domain_results`].
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

/// Check `domain` as configured in the job's snapshot and store the results.
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
    store_domain_results(
        cx,
        DomainRound {
            report,
            dkim_selectors: dcx.dkim_selectors,
            checked_at,
            took: started.elapsed(),
        },
    )
    .await
}

/// Keep a domain's round: observe its records (a change adds an info `record.changed` finding to its
/// check or IP, and keeps it there for [`CHANGE_REPORTED_FOR`]), publish its metrics from the results
/// as they are stored ([`publish::domain`]), store every check and every IP's PTR result with their
/// facts.
pub async fn store_domain_results(cx: &JobContext, round: DomainRound) -> anyhow::Result<()> {
    let DomainRound {
        mut report,
        dkim_selectors,
        checked_at,
        took,
    } = round;
    let domain = report.domain.to_string();
    let observations = history::observations(&report, &dkim_selectors, checked_at);
    let window = i64::try_from(CHANGE_REPORTED_FOR.as_secs()).unwrap_or(i64::MAX);
    let changes = cx
        .store
        .observe_records(observations, checked_at.saturating_sub(window))
        .await
        .context("storing record history")?;
    for c in changes.iter().filter(|c| c.changed_at == checked_at) {
        tracing::info!(
            domain,
            target = c.target,
            check = c.check,
            name = c.name,
            "a published record changed"
        );
    }
    history::attach(&mut report, &changes);

    let mut results: Vec<CheckResult> = report
        .checks
        .iter()
        .map(|r| CheckResult {
            facts: check_facts(r.check, &report.facts),
            report: r.clone(),
        })
        .collect();
    results.extend(report.ips.iter().map(|ip| ptr_result(ip, checked_at, took)));

    // The metrics are read from exactly what is stored, as they are at start (jobs::restore).
    let ips: Vec<String> = report.ips.iter().map(|i| i.ip.to_string()).collect();
    let views: Vec<ResultView<'_>> = results.iter().map(ResultView::from).collect();
    let scope = DomainScope {
        domain: &domain,
        selectors: &dkim_selectors,
        ips: &ips,
    };
    publish::domain(&cx.metrics, scope, &views);
    for r in &report.checks {
        cx.metrics.observe_check_duration(r.check, r.duration);
    }
    if !ips.is_empty() {
        cx.metrics.observe_check_duration(PTR_CHECK, took);
    }

    cx.store
        .save_results(results)
        .await
        .context("storing check results")?;
    Ok(())
}

/// The part of the round's merged facts that `check` learned (each check fills only its own). The
/// destructuring is exhaustive: a new field in `Facts` does not compile until it is placed here.
fn check_facts(check: &str, facts: &Facts) -> serde_json::Value {
    let Facts {
        spf_dns_lookups,
        spf_present,
        dkim_keys,
        dmarc_policy,
        dmarc_enforced,
    } = facts.clone();
    let own = match CheckKind::ALL.into_iter().find(|k| k.as_str() == check) {
        Some(CheckKind::Spf) => Facts {
            spf_dns_lookups,
            spf_present,
            ..Facts::default()
        },
        Some(CheckKind::Dkim) => Facts {
            dkim_keys,
            ..Facts::default()
        },
        Some(CheckKind::Dmarc) => Facts {
            dmarc_policy,
            dmarc_enforced,
            ..Facts::default()
        },
        _ => Facts::default(),
    };
    serde_json::to_value(own).unwrap_or(serde_json::Value::Null)
}

/// An IP's PTR outcome as a stored check result targeting the IP.
fn ptr_result(ip: &IpReport, checked_at: i64, took: Duration) -> CheckResult {
    let facts = PtrFacts {
        ptr: ip.ptr.clone(),
        fcrdns: ip.fcrdns,
    };
    CheckResult {
        report: CheckReport {
            target: ip.ip.to_string(),
            check: PTR_CHECK,
            status: ip.status,
            record: ip.ptr.clone(),
            findings: ip.findings.clone(),
            checked_at,
            duration: took,
        },
        facts: serde_json::to_value(facts).unwrap_or(serde_json::Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::DkimKeyFact;

    #[test]
    fn each_check_stores_only_its_own_facts() {
        let facts = Facts {
            spf_dns_lookups: Some(4),
            spf_present: Some(true),
            dkim_keys: vec![DkimKeyFact {
                selector: "s1".into(),
                key_type: "rsa",
                bits: 2048,
            }],
            dmarc_policy: Some("reject"),
            dmarc_enforced: Some(true),
        };
        assert_eq!(
            check_facts("spf", &facts),
            serde_json::json!({"spf_dns_lookups": 4, "spf_present": true})
        );
        assert_eq!(
            check_facts("dkim", &facts),
            serde_json::json!({"dkim_keys": [{"selector": "s1", "key_type": "rsa", "bits": 2048}]})
        );
        assert_eq!(
            check_facts("dmarc", &facts),
            serde_json::json!({"dmarc_policy": "reject", "dmarc_enforced": true})
        );
        assert_eq!(check_facts("mx", &facts), serde_json::json!({}));
        assert_eq!(check_facts("bulk_sender", &facts), serde_json::json!({}));
    }
}
