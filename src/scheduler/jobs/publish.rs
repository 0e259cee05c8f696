//! What a result publishes: the one place that turns check results into metric series, for a round
//! (the results it is about to store) and at start (the latest stored ones, [`super::restore`]). Both
//! read the same shape — [`ResultView`], the stored form of a result — so a restarted daemon publishes
//! exactly what its jobs had published, and a change to what a result means changes both.
//!
//! - [`domain`]: a domain's posture checks (status, findings, last run), the `ptr` roll-up of its
//!   single sending IPs, and the facts (SPF lookups, DKIM key sizes, DMARC policy).
//! - [`listings`]: one blocklist target's answers per zone ([`ListingFacts`], stored with its
//!   `blocklists` result); [`zone_health`]: the zones' health ([`RoundFacts`], stored with the round).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::{CheckKind, bulk_sender};
use crate::findings::{FindingCode, Severity};
use crate::metrics::{FactValues, ListingState, Metrics, UnknownFacts};
use crate::store::{CheckResult, StoredCheck};

use super::history::PTR_CHECK;

/// One check result as publishing reads it: a round's [`CheckResult`] or a [`StoredCheck`].
#[derive(Debug, Clone)]
pub struct ResultView<'a> {
    /// Domain, IP or blocklist target.
    pub target: &'a str,
    /// Check name.
    pub check: &'a str,
    /// Worst finding.
    pub status: Severity,
    /// When it ran (Unix seconds).
    pub checked_at: i64,
    /// Its findings.
    pub findings: Vec<FindingView<'a>>,
    /// The facts stored with it (`{}` or null when none).
    pub facts: &'a serde_json::Value,
}

/// What publishing reads of a finding.
#[derive(Debug, Clone, Copy)]
pub struct FindingView<'a> {
    /// Dotted code.
    pub code: &'a str,
    /// Severity.
    pub severity: Severity,
    /// `detail.selector`, for the DKIM findings about one selector.
    pub selector: Option<&'a str>,
}

fn selector(detail: &serde_json::Value) -> Option<&str> {
    detail.get("selector").and_then(|s| s.as_str())
}

impl<'a> From<&'a CheckResult> for ResultView<'a> {
    fn from(r: &'a CheckResult) -> Self {
        ResultView {
            target: &r.report.target,
            check: r.report.check,
            status: r.report.status,
            checked_at: r.report.checked_at,
            findings: r
                .report
                .findings
                .iter()
                .map(|f| FindingView {
                    code: f.code.as_str(),
                    severity: f.severity,
                    selector: selector(&f.detail),
                })
                .collect(),
            facts: &r.facts,
        }
    }
}

impl<'a> From<&'a StoredCheck> for ResultView<'a> {
    fn from(c: &'a StoredCheck) -> Self {
        ResultView {
            target: &c.target,
            check: &c.check,
            status: c.status,
            checked_at: c.checked_at,
            findings: c
                .findings
                .iter()
                .map(|f| FindingView {
                    code: &f.code,
                    severity: f.severity,
                    selector: selector(&f.detail),
                })
                .collect(),
            facts: &c.facts,
        }
    }
}

impl ResultView<'_> {
    fn severities(&self) -> Vec<Severity> {
        self.findings.iter().map(|f| f.severity).collect()
    }

    /// Some lookup failed: what the check would have learned is unknown.
    fn could_not_check(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Unknown)
    }

    fn fact_values(&self) -> FactValues {
        FactValues::deserialize(self.facts).unwrap_or_default()
    }
}

/// A configured domain, as far as its metrics go.
#[derive(Debug, Clone, Copy)]
pub struct DomainScope<'a> {
    /// The domain.
    pub domain: &'a str,
    /// Its configured DKIM selectors: only these have `dkim_key_size` series.
    pub selectors: &'a [String],
    /// Its single sending IPs (as text): their `ptr` results make the domain's `check="ptr"` series.
    pub ips: &'a [String],
}

/// Whether `check` is one of the posture checks a domain has series for (the blocklist result stored
/// under a domain target is not: its metric is `senderscope_blocklist_listed`).
fn is_posture_check(check: &str) -> bool {
    check == bulk_sender::CHECK_NAME || CheckKind::ALL.iter().any(|k| k.as_str() == check)
}

/// Publish a domain's results: every posture check given, the `ptr` roll-up of its IPs' results (the
/// IP is never a label: worst status, findings summed, the oldest run's time), and the facts.
///
/// A check absent from `results` is left as it is. A fact its check did not learn — the check is absent,
/// or a lookup failed (an unknown finding; for DKIM, per selector) — keeps its series' last value (see
/// [`Metrics::observe_facts`]); a DKIM key of a selector no longer configured is not published. A
/// domain without single IPs loses its `ptr` series.
pub fn domain(metrics: &Metrics, scope: DomainScope<'_>, results: &[ResultView<'_>]) {
    let d = scope.domain;
    let own = |check: &str| results.iter().find(|r| r.target == d && r.check == check);
    for r in results
        .iter()
        .filter(|r| r.target == d && is_posture_check(r.check))
    {
        metrics.observe_check(d, r.check, r.status, &r.severities(), r.checked_at);
    }

    if scope.ips.is_empty() {
        metrics.forget_check(d, PTR_CHECK);
    } else {
        let ptr: Vec<&ResultView<'_>> = results
            .iter()
            .filter(|r| r.check == PTR_CHECK && scope.ips.iter().any(|ip| ip == r.target))
            .collect();
        if let Some(checked_at) = ptr.iter().map(|r| r.checked_at).min() {
            let status = ptr.iter().map(|r| r.status).max().unwrap_or_default();
            let findings: Vec<Severity> = ptr.iter().flat_map(|r| r.severities()).collect();
            metrics.observe_check(d, PTR_CHECK, status, &findings, checked_at);
        }
    }

    let spf = own(CheckKind::Spf.as_str());
    let dkim = own(CheckKind::Dkim.as_str());
    let dmarc = own(CheckKind::Dmarc.as_str());
    let values = |r: Option<&ResultView<'_>>| r.map(ResultView::fact_values).unwrap_or_default();
    let mut facts = FactValues {
        spf_dns_lookups: values(spf).spf_dns_lookups,
        dkim_keys: values(dkim).dkim_keys,
        dmarc_policy: values(dmarc).dmarc_policy,
    };
    facts
        .dkim_keys
        .retain(|k| scope.selectors.contains(&k.selector));
    let unknown = UnknownFacts {
        spf: spf.is_none_or(ResultView::could_not_check),
        dmarc: dmarc.is_none_or(ResultView::could_not_check),
        dkim_selectors: match dkim {
            // Without a result every selector is unknown: its series (if any) stay.
            None => scope.selectors.to_vec(),
            Some(r) => r
                .findings
                .iter()
                .filter(|f| f.code == FindingCode::DkimLookupFailed.as_str())
                .filter_map(|f| f.selector.map(str::to_owned))
                .collect(),
        },
    };
    metrics.observe_facts(d, &facts, &unknown);
}

/// The facts stored with a target's `blocklists` result: each zone's answer in the round, as
/// [`crate::blocklists::Listing::state`] names it (`listed`, `not_listed`, `refused`,
/// `lookup_failed`). A zone that does not list the target's kind is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingFacts {
    /// Zone → answer.
    #[serde(default)]
    pub zones: BTreeMap<String, String>,
}

/// The facts stored with a round's zone-level result: whether each zone passed its RFC 5782 test
/// points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundFacts {
    /// Zone → healthy.
    #[serde(default)]
    pub healthy: BTreeMap<String, bool>,
}

/// What an answer, as stored, means for `senderscope_blocklist_listed`.
pub fn listing_state(answer: &str) -> ListingState {
    match answer {
        "listed" => ListingState::Listed,
        "not_listed" => ListingState::NotListed,
        _ => ListingState::Unknown,
    }
}

/// Publish one target's answers, for the zones `configured` accepts.
pub fn listings(
    metrics: &Metrics,
    target: &str,
    facts: &ListingFacts,
    configured: impl Fn(&str) -> bool,
) {
    for (zone, answer) in facts.zones.iter().filter(|(z, _)| configured(z)) {
        metrics.observe_listing(target, zone, listing_state(answer));
    }
}

/// Publish the zones' health, for the zones `configured` accepts.
pub fn zone_health(metrics: &Metrics, facts: &RoundFacts, configured: impl Fn(&str) -> bool) {
    for (zone, healthy) in facts.healthy.iter().filter(|(z, _)| configured(z)) {
        metrics
            .blocklist_zone_healthy
            .with_label_values(&[zone.as_str()])
            .set(i64::from(*healthy));
    }
}
