//! The alert engine's pending and firing alerts as the views show them: the list of
//! `GET /api/v1/alerts`, a bounded block in `/api/v1/status` and each domain's own in
//! `/api/v1/domains/{domain}` (docs/api.md). The records come from the store the engine writes every
//! change to; nothing here knows HTTP.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{DomainDetail, StatusResponse};
use crate::alerts::lifecycle::{AlertRecord, Phase};
use crate::alerts::rules::rfc3339;

/// One alert as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    /// `pending` or `firing`.
    pub state: &'static str,
    /// alertname, severity, domain, …
    pub labels: BTreeMap<String, String>,
    /// summary, description, runbook_url.
    pub annotations: BTreeMap<String, String>,
    /// When the condition was first seen (RFC 3339).
    pub active_at: String,
    /// When it started firing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<String>,
}

impl AlertView {
    /// Whether it has fired (not only pending).
    pub fn is_firing(&self) -> bool {
        self.state == Phase::Firing.as_str()
    }

    /// Whether its `domain` label names `domain` (names compare case-insensitively).
    pub fn concerns(&self, domain: &str) -> bool {
        self.labels
            .get("domain")
            .is_some_and(|d| d.trim_end_matches('.').eq_ignore_ascii_case(domain))
    }
}

/// The active alerts among stored records: resolved ones left out, firing first, each group in the
/// store's order (by key).
pub fn active(records: impl IntoIterator<Item = AlertRecord>) -> Vec<AlertView> {
    let mut alerts: Vec<AlertView> = records
        .into_iter()
        .filter(|r| r.phase != Phase::Resolved)
        .map(|r| AlertView {
            state: r.phase.as_str(),
            active_at: rfc3339(r.active_at),
            fired_at: r.fired_at.map(rfc3339),
            labels: r.labels,
            annotations: r.annotations,
        })
        .collect();
    alerts.sort_by_key(|a| !a.is_firing());
    alerts
}

/// `alerts` in `/api/v1/status`: counts over every alert, the first `limit` of them in full.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveAlerts {
    /// Alerts firing now.
    pub firing: usize,
    /// Alerts waiting out their `for`.
    pub pending: usize,
    /// Firing first; at most the page's `limit`.
    pub alerts: Vec<AlertView>,
    /// Active alerts not shown (over `limit`).
    pub left_out: usize,
}

/// Each domain's active alerts in `/api/v1/status`, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AlertCounts {
    /// Alerts firing now.
    pub firing: usize,
    /// Alerts waiting out their `for`.
    pub pending: usize,
}

impl AlertCounts {
    fn of<'a>(alerts: impl IntoIterator<Item = &'a AlertView>) -> Self {
        alerts.into_iter().fold(Self::default(), |mut c, a| {
            if a.is_firing() {
                c.firing += 1;
            } else {
                c.pending += 1;
            }
            c
        })
    }
}

/// Add the active alerts to the status: the block of the first `limit`, and each listed domain's
/// counts. Without `active` (the store could not be read) both stay absent.
pub fn attach_status(status: &mut StatusResponse, active: &[AlertView], limit: usize) {
    let counts = AlertCounts::of(active);
    status.alerts = Some(ActiveAlerts {
        firing: counts.firing,
        pending: counts.pending,
        alerts: active.iter().take(limit).cloned().collect(),
        left_out: active.len().saturating_sub(limit),
    });
    for d in &mut status.domains {
        d.alerts = Some(AlertCounts::of(
            active.iter().filter(|a| a.concerns(&d.domain)),
        ));
    }
}

/// Add the domain's own active alerts (labelled with it) to its detail.
pub fn attach_domain(detail: &mut DomainDetail, active: &[AlertView]) {
    detail.alerts = Some(
        active
            .iter()
            .filter(|a| a.concerns(&detail.domain))
            .cloned()
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, domain: Option<&str>, phase: Phase) -> AlertRecord {
        let mut labels = BTreeMap::from([("alertname".to_owned(), name.to_owned())]);
        if let Some(d) = domain {
            labels.insert("domain".to_owned(), d.to_owned());
        }
        AlertRecord {
            labels,
            annotations: BTreeMap::new(),
            phase,
            active_at: 1_700_000_000,
            fired_at: (phase == Phase::Firing).then_some(1_700_000_300),
            resolved_at: None,
            delivered: BTreeMap::new(),
        }
    }

    #[test]
    fn resolved_alerts_are_left_out_and_firing_ones_come_first() {
        let list = active([
            record("A", Some("a.test"), Phase::Pending),
            record("B", Some("a.test"), Phase::Resolved),
            record("C", None, Phase::Firing),
        ]);
        let names: Vec<(&str, &str)> = list
            .iter()
            .map(|a| (a.labels["alertname"].as_str(), a.state))
            .collect();
        assert_eq!(names, [("C", "firing"), ("A", "pending")]);
    }

    #[test]
    fn a_domain_counts_only_alerts_labelled_with_it() {
        let list = active([
            record("A", Some("A.test."), Phase::Firing),
            record("B", Some("a.test"), Phase::Pending),
            record("C", Some("b.test"), Phase::Firing),
            record("D", None, Phase::Firing),
        ]);
        assert_eq!(
            AlertCounts::of(list.iter().filter(|a| a.concerns("a.test"))),
            AlertCounts {
                firing: 1,
                pending: 1
            }
        );
    }
}
