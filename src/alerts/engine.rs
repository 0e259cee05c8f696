//! The engine task: every `evaluate_every`, read the latest state ([`snapshot::latest`]), run the
//! rules, advance each alert's life ([`lifecycle::step`]), store what changed, and tell the
//! notifiers. Settings are read from the running configuration on every pass, so a reload applies
//! at the next one.
//!
//! Delivery: Alertmanagers get every firing (and recently resolved) alert at each transition and
//! again every `resend_every`; webhooks get each transition once, retried with a doubling backoff
//! until the far end accepts. A notifier that fails is a metric and a log line; the engine goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::inputs::Inputs;
use super::lifecycle::{self, AlertRecord, Phase};
use super::notify::{self, DeliveryError, Notification, Notifier, Status};
use super::rules::{self, AlertSeverity, Candidate, RuleKind, rfc3339};
use super::settings::AlertSettings;
use super::snapshot;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::results::LatestState;
use crate::store::{Store, StoredAlert};

/// What the engine needs from the daemon.
#[derive(Clone)]
pub struct Deps {
    /// The running configuration.
    pub config: watch::Receiver<Arc<Config>>,
    /// Where alerts are kept.
    pub store: Arc<dyn Store>,
    /// The latest results the rules read.
    pub state: Arc<LatestState>,
    /// Where delivery outcomes are counted.
    pub metrics: Arc<Metrics>,
}

/// Run until `shutdown`.
pub async fn run(mut deps: Deps, shutdown: CancellationToken) {
    let mut engine = Engine::load(&deps).await;
    loop {
        let config = deps.config.borrow_and_update().clone();
        let wake = engine.pass(&deps, &config, now_ms()).await;
        let sleep = Duration::from_millis(u64::try_from(wake - now_ms()).unwrap_or(0));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(sleep) => {}
            changed = deps.config.changed() => if changed.is_err() { return },
        }
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One notifier's delivery schedule (in memory: after a restart everything due is tried at once).
#[derive(Debug, Default)]
struct Schedule {
    /// Not before this (Unix ms).
    next_try: i64,
    /// The wait after the next failure (webhooks).
    backoff: Duration,
    /// The last attempt failed.
    down: bool,
}

struct Engine {
    records: BTreeMap<String, AlertRecord>,
    /// Per configured notifier name; a notifier removed by a reload loses its entry and series.
    schedules: HashMap<String, Schedule>,
    next_eval: i64,
    client: reqwest::Client,
    /// Connections for the report, event and ingest figures (used on a blocking thread).
    inputs: Arc<Mutex<Inputs>>,
}

impl Engine {
    /// Start from the stored alerts: firing ones keep firing (and their `startsAt`), and what each
    /// webhook was told is remembered, so a restart sends nothing new.
    async fn load(deps: &Deps) -> Engine {
        let mut records = BTreeMap::new();
        match deps.store.alerts().await {
            Ok(stored) => {
                for a in stored {
                    match serde_json::from_value::<AlertRecord>(a.record) {
                        Ok(r) => {
                            records.insert(a.key, r);
                        }
                        Err(e) => {
                            tracing::warn!(alert = a.key, error = %e, "a stored alert cannot be read; it is dropped")
                        }
                    }
                }
                let firing = records
                    .values()
                    .filter(|r| r.phase == Phase::Firing)
                    .count();
                tracing::info!(alerts = records.len(), firing, "alert state restored");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the stored alerts; starting with none")
            }
        }
        Engine {
            records,
            schedules: HashMap::new(),
            next_eval: 0,
            client: notify::client(),
            inputs: Arc::default(),
        }
    }

    /// One pass at `now`; returns when the next is due (Unix ms).
    async fn pass(&mut self, deps: &Deps, config: &Arc<Config>, now: i64) -> i64 {
        let settings = &config.alerts;
        if !settings.enabled {
            self.publish(&deps.metrics);
            return now + ms(settings.evaluate_every);
        }
        let mut transitions = false;
        if now >= self.next_eval {
            self.next_eval = now + ms(settings.evaluate_every);
            transitions = self.evaluate(deps, config, now).await;
        }
        self.forget_removed_notifiers(settings, &deps.metrics);
        let generator = format!("http://{}/api/v1/alerts", config.server.listen);
        for notifier in Notifier::all(settings) {
            match &notifier {
                Notifier::Alertmanager(_) => {
                    self.deliver_to_alertmanager(
                        deps,
                        settings,
                        &notifier,
                        &generator,
                        transitions,
                        now,
                    )
                    .await
                }
                Notifier::Webhook(w) => {
                    let initial = w.retry_initial;
                    let max = w.retry_max;
                    self.deliver_to_webhook(deps, &notifier, &generator, initial, max, now)
                        .await
                }
            }
        }
        self.publish(&deps.metrics);
        let mut wake = self.next_eval;
        for n in Notifier::all(settings) {
            if let Some(s) = self.schedules.get(n.name())
                && self.has_work(&n)
            {
                wake = wake.min(s.next_try);
            }
        }
        wake.max(now + 10)
    }

    /// Run the rules; returns whether some alert started firing or resolved.
    async fn evaluate(&mut self, deps: &Deps, config: &Arc<Config>, now: i64) -> bool {
        let mut snap = snapshot::latest(&deps.state, config);
        snap.now = now.div_euclid(1000);
        let inputs = self.inputs.clone();
        let cfg = config.clone();
        let read = tokio::task::spawn_blocking(move || {
            inputs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .read(&mut snap, &cfg);
            snap
        })
        .await;
        let snap = read.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading the alert inputs stopped; those rules' alerts stay as they are this round");
            let mut snap = snapshot::latest(&deps.state, config);
            snap.now = now.div_euclid(1000);
            snap.unavailable = RuleKind::ALL.to_vec();
            snap
        });
        let settings = &config.alerts;
        let mut candidates = rules::evaluate(&snap, settings);
        candidates.extend(held(
            &self.records,
            &snap.unavailable,
            &candidates,
            settings,
        ));
        let base = settings.runbook_url.clone();
        let runbook = move |rule: RuleKind| format!("{base}#{}", rule.alertname().to_lowercase());
        let hooks: Vec<String> = settings.webhooks.iter().map(|w| w.name.clone()).collect();
        let changes = lifecycle::step(&mut self.records, &candidates, now, &runbook, &hooks);
        // One line per alert that started firing or resolved in this pass.
        for r in &changes.upserts {
            let moved = match r.phase {
                Phase::Firing => r.fired_at == Some(now),
                Phase::Resolved => r.resolved_at == Some(now),
                Phase::Pending => false,
            };
            if moved {
                tracing::info!(alert = r.alertname(), labels = ?r.labels, phase = r.phase.as_str(), "alert changed");
            }
        }
        self.persist(deps, changes.upserts, changes.removed, now)
            .await;
        changes.transitions
    }

    async fn persist(
        &self,
        deps: &Deps,
        upserts: Vec<AlertRecord>,
        removed: Vec<String>,
        now: i64,
    ) {
        if upserts.is_empty() && removed.is_empty() {
            return;
        }
        let stored = upserts
            .into_iter()
            .map(|r| StoredAlert {
                key: r.key(),
                phase: r.phase.as_str().to_owned(),
                updated_at: now,
                record: serde_json::to_value(&r).unwrap_or_default(),
            })
            .collect();
        if let Err(e) = deps.store.save_alerts(stored, removed).await {
            tracing::error!(error = %e, "cannot store the alert state; a restart may notify again");
        }
    }

    fn has_work(&self, n: &Notifier) -> bool {
        match n {
            Notifier::Alertmanager(_) => self.records.values().any(|r| r.phase != Phase::Pending),
            Notifier::Webhook(w) => self.records.values().any(|r| undelivered(r, &w.name)),
        }
    }

    async fn deliver_to_alertmanager(
        &mut self,
        deps: &Deps,
        settings: &AlertSettings,
        notifier: &Notifier,
        generator: &str,
        transitions: bool,
        now: i64,
    ) {
        let schedule = self
            .schedules
            .entry(notifier.name().to_owned())
            .or_default();
        if !transitions && now < schedule.next_try {
            return;
        }
        // Prometheus: endsAt = now + 4 × max(resend delay, evaluation interval).
        let valid_for = 4 * ms(settings.resend_every.max(settings.evaluate_every));
        let batch: Vec<Notification> = self
            .records
            .values()
            .filter(|r| r.phase != Phase::Pending)
            .map(|r| notification(r, now + valid_for, generator))
            .collect();
        if batch.is_empty() {
            return;
        }
        let result = notifier.send(&self.client, &batch).await;
        let ok = result.is_ok();
        observe(&deps.metrics, notifier, schedule, result, batch.len());
        schedule.next_try = now
            + if ok {
                ms(settings.resend_every)
            } else {
                ms(settings.evaluate_every)
            };
    }

    async fn deliver_to_webhook(
        &mut self,
        deps: &Deps,
        notifier: &Notifier,
        generator: &str,
        initial: Duration,
        max: Duration,
        now: i64,
    ) {
        let name = notifier.name().to_owned();
        let schedule = self
            .schedules
            .entry(name.clone())
            .or_insert_with(|| Schedule {
                backoff: initial,
                ..Schedule::default()
            });
        if now < schedule.next_try {
            return;
        }
        let mut changed = Vec::new();
        let keys: Vec<String> = self.records.keys().cloned().collect();
        for key in keys {
            let Some(r) = self.records.get_mut(&key) else {
                continue;
            };
            if !undelivered(r, &name) {
                continue;
            }
            if r.phase == Phase::Resolved && !r.delivered.contains_key(&name) {
                // It resolved before this webhook heard it fire: nothing to take back.
                r.delivered.insert(name.clone(), Phase::Resolved);
                changed.push(r.clone());
                continue;
            }
            let note = notification(r, now, generator);
            let result = notifier
                .send(&self.client, std::slice::from_ref(&note))
                .await;
            let ok = result.is_ok();
            let schedule = self.schedules.entry(name.clone()).or_default();
            observe(&deps.metrics, notifier, schedule, result, 1);
            if !ok {
                schedule.next_try = now + ms(schedule.backoff);
                schedule.backoff = (schedule.backoff * 2).min(max);
                break;
            }
            schedule.backoff = initial;
            r.delivered.insert(name.clone(), r.phase);
            changed.push(r.clone());
        }
        self.persist(deps, changed, Vec::new(), now).await;
    }

    fn forget_removed_notifiers(&mut self, settings: &AlertSettings, metrics: &Metrics) {
        let names: Vec<String> = Notifier::all(settings)
            .iter()
            .map(|n| n.name().to_owned())
            .collect();
        self.schedules.retain(|name, _| {
            let keep = names.contains(name);
            if !keep {
                let _ = metrics.alert_notifier_up.remove_label_values(&[name]);
                for result in ["ok", "failed"] {
                    let _ = metrics
                        .alert_notifications_total
                        .remove_label_values(&[name, result]);
                }
            }
            keep
        });
    }

    fn publish(&self, metrics: &Metrics) {
        for phase in [Phase::Pending, Phase::Firing] {
            let n = self.records.values().filter(|r| r.phase == phase).count();
            metrics
                .alerts
                .with_label_values(&[phase.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

/// The pending and firing alerts of rules whose input could not be read this round, as candidates
/// again (unless a rule produced them anyway): a read error is neither a problem nor its end.
fn held(
    records: &BTreeMap<String, AlertRecord>,
    unavailable: &[RuleKind],
    found: &[Candidate],
    settings: &AlertSettings,
) -> Vec<Candidate> {
    if unavailable.is_empty() {
        return Vec::new();
    }
    records
        .values()
        .filter(|r| r.phase != Phase::Resolved)
        .filter_map(|r| {
            let rule = *unavailable
                .iter()
                .find(|k| k.alertname() == r.alertname())?;
            let severity = AlertSeverity::parse(r.labels.get("severity")?)?;
            let mut labels = r.labels.clone();
            labels.remove("alertname");
            labels.remove("severity");
            if found
                .iter()
                .any(|c| c.rule == rule && c.labels == labels && c.severity == severity)
            {
                return None;
            }
            let domain = labels.get("domain").map(String::as_str);
            Some(Candidate {
                rule,
                severity,
                summary: r.annotations.get("summary").cloned().unwrap_or_default(),
                description: r
                    .annotations
                    .get("description")
                    .cloned()
                    .unwrap_or_default(),
                for_: settings.rule(rule, domain).for_,
                labels,
            })
        })
        .collect()
}

/// Firing or resolved, and this webhook has not been told so.
fn undelivered(r: &AlertRecord, hook: &str) -> bool {
    matches!(r.phase, Phase::Firing | Phase::Resolved) && r.delivered.get(hook) != Some(&r.phase)
}

/// The notification of `r`; a firing alert is valid until `ends_at` (Unix ms).
fn notification(r: &AlertRecord, ends_at: i64, generator: &str) -> Notification {
    let (status, ends) = match (r.phase, r.resolved_at) {
        (Phase::Resolved, Some(t)) => (Status::Resolved, t),
        _ => (Status::Firing, ends_at),
    };
    Notification {
        status,
        labels: r.labels.clone(),
        annotations: r.annotations.clone(),
        starts_at: rfc3339(r.fired_at.unwrap_or(r.active_at)),
        ends_at: rfc3339(ends),
        generator_url: generator.to_owned(),
    }
}

/// Count a delivery, keep `notifier_up`, and log when a notifier goes down or comes back (not every
/// retry: a dead webhook would fill the log).
fn observe(
    metrics: &Metrics,
    notifier: &Notifier,
    schedule: &mut Schedule,
    result: Result<String, DeliveryError>,
    alerts: usize,
) {
    let name = notifier.name();
    let ok = result.is_ok();
    metrics
        .alert_notifications_total
        .with_label_values(&[name, if ok { "ok" } else { "failed" }])
        .inc();
    metrics
        .alert_notifier_up
        .with_label_values(&[name])
        .set(i64::from(ok));
    match result {
        Ok(answer) => {
            if schedule.down {
                tracing::info!(
                    notifier = name,
                    kind = notifier.kind(),
                    "alert notifier is back; delivery resumed"
                );
            }
            tracing::debug!(
                notifier = name,
                kind = notifier.kind(),
                alerts,
                answer,
                "alerts delivered"
            );
        }
        Err(e) => {
            if schedule.down {
                tracing::debug!(notifier = name, kind = notifier.kind(), error = %e, "alert notifier still down");
            } else {
                tracing::warn!(notifier = name, kind = notifier.kind(), alerts, error = %e, "alert notifier is down; delivery will be retried");
            }
        }
    }
    schedule.down = !ok;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(phase: Phase) -> AlertRecord {
        AlertRecord {
            labels: BTreeMap::from([("alertname".into(), "SenderscopeBlocklistListed".into())]),
            annotations: BTreeMap::new(),
            phase,
            active_at: 1_000,
            fired_at: Some(61_000),
            resolved_at: (phase == Phase::Resolved).then_some(121_000),
            delivered: BTreeMap::new(),
        }
    }

    #[test]
    fn firing_alerts_start_when_they_fired_and_end_ahead_resolved_ones_when_they_resolved() {
        let firing = notification(&record(Phase::Firing), 300_000, "http://x/api/v1/alerts");
        assert_eq!(firing.status, Status::Firing);
        assert_eq!(firing.starts_at, "1970-01-01T00:01:01Z");
        assert_eq!(firing.ends_at, "1970-01-01T00:05:00Z");
        assert_eq!(firing.generator_url, "http://x/api/v1/alerts");
        let resolved = notification(&record(Phase::Resolved), 300_000, "");
        assert_eq!(resolved.status, Status::Resolved);
        assert_eq!(resolved.ends_at, "1970-01-01T00:02:01Z");
    }

    #[test]
    fn a_webhook_hears_each_phase_once() {
        let mut r = record(Phase::Firing);
        assert!(undelivered(&r, "ops"));
        r.delivered.insert("ops".into(), Phase::Firing);
        assert!(!undelivered(&r, "ops"));
        assert!(undelivered(&r, "other"));
        r.phase = Phase::Resolved;
        assert!(undelivered(&r, "ops"));
        assert!(!undelivered(&record(Phase::Pending), "ops"));
    }
}
