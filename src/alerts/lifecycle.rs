//! An alert's life: pending while its condition has held for less than its `for`, firing after,
//! resolved when the condition clears — as Prometheus' rule manager does. One [`AlertRecord`] per
//! alert, keyed by its labels, so the same problem is one alert however often it is seen
//! (de-duplication), and the records are what the store keeps across restarts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rules::{Candidate, RuleKind};

/// How long a resolved alert is kept (and still sent to Alertmanager as resolved), as Prometheus
/// keeps resolved alerts for 15 minutes (`resolvedRetention`).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The condition holds, not yet for `for`.
    Pending,
    /// The condition has held for `for`: notifiers are told.
    Firing,
    /// The condition cleared after firing.
    Resolved,
}

impl Phase {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Firing => "firing",
            Phase::Resolved => "resolved",
        }
    }
}

/// One alert and what notifiers were told about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// `alertname` and every other label, sorted (the identity).
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`: the latest values.
    pub annotations: BTreeMap<String, String>,
    /// Where it is.
    pub phase: Phase,
    /// When the condition was first seen (Unix ms).
    pub active_at: i64,
    /// When it started firing (Unix ms): Alertmanager's `startsAt`.
    pub fired_at: Option<i64>,
    /// When it resolved (Unix ms): Alertmanager's `endsAt` from then on.
    pub resolved_at: Option<i64>,
    /// Per webhook name, the phase last delivered to it (firing or resolved).
    #[serde(default)]
    pub delivered: BTreeMap<String, Phase>,
}

impl AlertRecord {
    /// The identity: `alertname` then the other labels, as `name="value"` pairs.
    pub fn key(&self) -> String {
        key_of(&self.labels)
    }

    /// The `alertname` label.
    pub fn alertname(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// The identity of a label set.
pub fn key_of(labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("alertname").map_or("", String::as_str);
    let mut key = name.to_owned();
    for (k, v) in labels.iter().filter(|(k, _)| *k != "alertname") {
        key.push_str(&format!(",{k}={v:?}"));
    }
    key
}

/// The label set and annotations of a candidate, as notifiers see them.
pub fn labels_of(c: &Candidate) -> BTreeMap<String, String> {
    let mut labels = c.labels.clone();
    labels.insert("alertname".into(), c.rule.alertname().to_owned());
    labels.insert("severity".into(), c.severity.as_str().to_owned());
    labels
}

/// What one step changed: records to write and keys to delete.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// Records that are new or changed phase or annotations.
    pub upserts: Vec<AlertRecord>,
    /// Records gone (a pending alert whose condition cleared, a resolved one past retention).
    pub removed: Vec<String>,
    /// Some alert started firing or resolved: notifiers should hear now, not at the next resend.
    pub transitions: bool,
}

/// Advance every alert to `now` (Unix ms) given what the rules found; `runbook` makes each
/// alert's `runbook_url`; `webhooks` are the names that must hear a resolution before its record
/// may go.
pub fn step(
    records: &mut BTreeMap<String, AlertRecord>,
    candidates: &[Candidate],
    now: i64,
    runbook: &dyn Fn(RuleKind) -> String,
    webhooks: &[String],
) -> Changes {
    let mut changes = Changes::default();
    let mut seen = std::collections::BTreeSet::new();
    for c in candidates {
        let labels = labels_of(c);
        let key = key_of(&labels);
        if !seen.insert(key.clone()) {
            continue;
        }
        let annotations = BTreeMap::from([
            ("summary".to_owned(), c.summary.clone()),
            ("description".to_owned(), c.description.clone()),
            ("runbook_url".to_owned(), runbook(c.rule)),
        ]);
        let for_ms = i64::try_from(c.for_.as_millis()).unwrap_or(i64::MAX);
        let record = records
            .entry(key)
            .and_modify(|r| {
                // A resolved alert that comes back is a new alert (Prometheus does the same).
                if r.phase == Phase::Resolved {
                    *r = fresh(&labels, now);
                }
            })
            .or_insert_with(|| fresh(&labels, now));
        let before = record.clone();
        record.annotations = annotations;
        if record.phase == Phase::Pending && now.saturating_sub(record.active_at) >= for_ms {
            record.phase = Phase::Firing;
            record.fired_at = Some(now);
            changes.transitions = true;
        }
        if *record != before {
            changes.upserts.push(record.clone());
        }
    }
    let retention = i64::try_from(RESOLVED_RETENTION.as_millis()).unwrap_or(i64::MAX);
    let mut gone = Vec::new();
    for (key, r) in records.iter_mut().filter(|(k, _)| !seen.contains(*k)) {
        match r.phase {
            Phase::Pending => gone.push(key.clone()),
            Phase::Firing => {
                r.phase = Phase::Resolved;
                r.resolved_at = Some(now);
                changes.transitions = true;
                changes.upserts.push(r.clone());
            }
            Phase::Resolved => {
                let old = r
                    .resolved_at
                    .is_some_and(|t| now.saturating_sub(t) >= retention);
                let told = webhooks
                    .iter()
                    .all(|w| r.delivered.get(w) != Some(&Phase::Firing));
                if old && told {
                    gone.push(key.clone());
                }
            }
        }
    }
    for key in gone {
        records.remove(&key);
        changes.removed.push(key);
    }
    changes
}

fn fresh(labels: &BTreeMap<String, String>, now: i64) -> AlertRecord {
    AlertRecord {
        labels: labels.clone(),
        annotations: BTreeMap::new(),
        phase: Phase::Pending,
        active_at: now,
        fired_at: None,
        resolved_at: None,
        delivered: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::AlertSeverity;

    fn listed(for_secs: u64) -> Candidate {
        Candidate {
            rule: RuleKind::BlocklistListed,
            severity: AlertSeverity::Critical,
            labels: BTreeMap::from([
                ("domain".into(), "shop.example".into()),
                ("target".into(), "192.0.2.10".into()),
                ("zone".into(), "bl.test".into()),
            ]),
            summary: "192.0.2.10 is listed on bl.test".into(),
            description: "listed".into(),
            for_: Duration::from_secs(for_secs),
        }
    }

    fn runbook(_: RuleKind) -> String {
        "docs/runbooks.md#x".into()
    }

    #[test]
    fn pending_until_for_has_passed_then_firing_once() {
        let mut records = BTreeMap::new();
        let c = [listed(60)];
        let first = step(&mut records, &c, 1_000, &runbook, &[]);
        assert_eq!(first.upserts[0].phase, Phase::Pending);
        assert!(!first.transitions);
        let early = step(&mut records, &c, 60_999, &runbook, &[]);
        assert!(early.upserts.is_empty(), "nothing changed before for");
        let fire = step(&mut records, &c, 61_000, &runbook, &[]);
        assert_eq!(fire.upserts[0].phase, Phase::Firing);
        assert_eq!(fire.upserts[0].fired_at, Some(61_000));
        assert!(fire.transitions);
        let again = step(&mut records, &c, 90_000, &runbook, &[]);
        assert_eq!(again, Changes::default(), "the same alert is not new again");
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn a_pending_alert_that_clears_is_forgotten_without_notice() {
        let mut records = BTreeMap::new();
        step(&mut records, &[listed(60)], 0, &runbook, &[]);
        let cleared = step(&mut records, &[], 10_000, &runbook, &[]);
        assert_eq!(cleared.removed.len(), 1);
        assert!(!cleared.transitions);
        assert!(records.is_empty());
    }

    #[test]
    fn a_firing_alert_resolves_then_goes_after_retention_once_webhooks_heard() {
        let mut records = BTreeMap::new();
        let hooks = ["ops".to_owned()];
        step(&mut records, &[listed(0)], 0, &runbook, &hooks);
        let resolved = step(&mut records, &[], 5_000, &runbook, &hooks);
        assert!(resolved.transitions);
        assert_eq!(resolved.upserts[0].phase, Phase::Resolved);
        assert_eq!(resolved.upserts[0].resolved_at, Some(5_000));
        let key = resolved.upserts[0].key();
        // The webhook heard the firing but not yet the resolution: kept past retention.
        records
            .get_mut(&key)
            .unwrap()
            .delivered
            .insert("ops".into(), Phase::Firing);
        let later = 5_000 + RESOLVED_RETENTION.as_millis() as i64;
        assert!(
            step(&mut records, &[], later, &runbook, &hooks)
                .removed
                .is_empty()
        );
        records
            .get_mut(&key)
            .unwrap()
            .delivered
            .insert("ops".into(), Phase::Resolved);
        assert_eq!(
            step(&mut records, &[], later, &runbook, &hooks).removed,
            vec![key]
        );
    }

    #[test]
    fn a_resolved_alert_that_returns_is_a_new_alert() {
        let mut records = BTreeMap::new();
        step(&mut records, &[listed(0)], 0, &runbook, &[]);
        step(&mut records, &[], 1_000, &runbook, &[]);
        let back = step(&mut records, &[listed(0)], 2_000, &runbook, &[]);
        assert_eq!(back.upserts[0].phase, Phase::Firing);
        assert_eq!(back.upserts[0].fired_at, Some(2_000));
        assert_eq!(back.upserts[0].resolved_at, None);
    }

    #[test]
    fn the_key_is_the_label_set() {
        let labels = labels_of(&listed(0));
        assert_eq!(
            key_of(&labels),
            "SenderscopeBlocklistListed,domain=\"shop.example\",severity=\"critical\",target=\"192.0.2.10\",zone=\"bl.test\""
        );
    }
}
