//! At start, before the daemon says it is ready: publish from the store what the jobs had published,
//! so a restart does not make series vanish until each job's first run (up to `jitter × interval`
//! later): Prometheus would see alerts on `senderscope_check_status` resolve and fire again, and
//! dashboards would show gaps.
//!
//! The latest stored results go through the jobs' own publishing ([`publish`]); only what the running
//! configuration still names is published: its domains, their single IPs' `ptr` roll-up, their
//! configured DKIM selectors, and the blocklist targets and zones a round would check. Timestamps are
//! the stored `checked_at`, so staleness stays visible. A fact the latest run could not learn (a
//! lookup failed) kept the value of an earlier run in the job's series: that earlier result is
//! published first, as the job did.

use std::collections::{HashMap, HashSet};

use serde::Deserialize as _;

use super::history::PTR_CHECK;
use super::publish::{self, DomainScope, ListingFacts, ResultView, RoundFacts};
use crate::blocklists::{self, ROUND_CHECK, ROUND_TARGET};
use crate::checks::CheckKind;
use crate::config::{Config, DomainSettings};
use crate::findings::{FindingCode, Severity};
use crate::metrics::{FactValues, Metrics};
use crate::store::{Store, StoreError, StoredCheck};

/// How far back to look for the last run that learned a fact the latest run could not (a DNS outage
/// of this many runs in a row leaves the fact unpublished until the next run that learns it).
const LOOKBACK: usize = 32;

/// What was restored, for the start-up log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Domains with at least one stored result.
    pub domains: usize,
    /// Stored results published.
    pub results: usize,
    /// Blocklist (target, zone) answers published.
    pub listings: usize,
}

/// Publish the latest stored results for what `config` names.
pub async fn restore(
    config: &Config,
    store: &dyn Store,
    metrics: &Metrics,
) -> Result<Restored, StoreError> {
    let latest = store.latest_checks(None).await?;
    let mut by_target: HashMap<&str, Vec<&StoredCheck>> = HashMap::new();
    for c in &latest {
        by_target.entry(c.target.as_str()).or_default().push(c);
    }
    let mut restored = Restored::default();
    for d in &config.domains {
        restored.results += restore_domain(d, &by_target, store, metrics).await?;
        restored.domains += usize::from(by_target.contains_key(d.name.as_str()));
    }
    restored.listings = restore_listings(config, &by_target, store, metrics).await?;
    Ok(restored)
}

/// A domain's checks and the `ptr` roll-up of its single IPs; returns how many results it published.
async fn restore_domain(
    d: &DomainSettings,
    by_target: &HashMap<&str, Vec<&StoredCheck>>,
    store: &dyn Store,
    metrics: &Metrics,
) -> Result<usize, StoreError> {
    let domain = d.name.as_str();
    let ips: Vec<String> = d.single_ips().map(|ip| ip.to_string()).collect();
    let scope = DomainScope {
        domain,
        selectors: &d.dkim_selectors,
        ips: &ips,
    };
    let own = by_target.get(domain).map(Vec::as_slice).unwrap_or_default();
    let ptr = ips
        .iter()
        .filter_map(|ip| by_target.get(ip.as_str()))
        .flatten()
        .filter(|c| c.check == PTR_CHECK);
    let latest: Vec<&StoredCheck> = own.iter().chain(ptr).copied().collect();

    // Facts the latest runs could not learn: the earlier results that did, oldest first.
    let mut earlier: Vec<StoredCheck> = Vec::new();
    for c in own.iter().filter(|c| !settles(c)) {
        earlier.extend(last_learned(store, c, &d.dkim_selectors).await?);
    }
    earlier.sort_by_key(|c| c.checked_at);
    for c in &earlier {
        publish::domain(metrics, scope, &[ResultView::from(c)]);
    }

    let views: Vec<ResultView<'_>> = latest.iter().map(|c| ResultView::from(*c)).collect();
    if !views.is_empty() {
        publish::domain(metrics, scope, &views);
    }
    Ok(views.len())
}

/// Whether publishing `c` settles its check's facts: SPF and DMARC when the run learned the value or
/// did not fail (a value that is gone is settled too), DKIM when no selector's lookup failed. Other
/// checks have no facts.
fn settles(c: &StoredCheck) -> bool {
    let unknown = c.findings.iter().any(|f| f.severity == Severity::Unknown);
    let values = || FactValues::deserialize(&c.facts).unwrap_or_default();
    match CheckKind::ALL.into_iter().find(|k| k.as_str() == c.check) {
        Some(CheckKind::Spf) => !unknown || values().spf_dns_lookups.is_some(),
        Some(CheckKind::Dmarc) => !unknown || values().dmarc_policy.is_some(),
        Some(CheckKind::Dkim) => failed_selectors(c).is_empty(),
        _ => true,
    }
}

/// The selectors whose DKIM lookup failed in `c`.
fn failed_selectors(c: &StoredCheck) -> HashSet<&str> {
    c.findings
        .iter()
        .filter(|f| f.code == FindingCode::DkimLookupFailed.as_str())
        .filter_map(|f| f.detail.get("selector").and_then(|s| s.as_str()))
        .collect()
}

/// The newest earlier results of `latest`'s check that learned what it could not: for SPF and DMARC
/// the newest run that settled the fact ([`settles`]); for DKIM, per selector that failed (and is still
/// configured), the newest run in which its lookup did not fail.
async fn last_learned(
    store: &dyn Store,
    latest: &StoredCheck,
    selectors: &[String],
) -> Result<Vec<StoredCheck>, StoreError> {
    let history = store
        .check_history(latest.target.clone(), latest.check.clone(), LOOKBACK)
        .await?;
    let older = history.into_iter().filter(|c| c.since < latest.since);
    if latest.check != CheckKind::Dkim.as_str() {
        return Ok(older.into_iter().find(settles).into_iter().collect());
    }
    let mut missing: HashSet<String> = failed_selectors(latest)
        .into_iter()
        .filter(|s| selectors.iter().any(|c| c == s))
        .map(str::to_owned)
        .collect();
    let mut out = Vec::new();
    for c in older {
        if missing.is_empty() {
            break;
        }
        let failed = failed_selectors(&c);
        let before = missing.len();
        missing.retain(|s| failed.contains(s.as_str()));
        if missing.len() < before {
            out.push(c);
        }
    }
    Ok(out)
}

/// `senderscope_blocklist_listed` and `senderscope_blocklist_zone_healthy` for the targets and zones
/// a round would check: an open listing period reads 1 (whatever the latest answer: a refused or
/// failed query leaves a 1 in place), otherwise the latest stored answer decides. Returns how many
/// (target, zone) answers were published.
async fn restore_listings(
    config: &Config,
    by_target: &HashMap<&str, Vec<&StoredCheck>>,
    store: &dyn Store,
    metrics: &Metrics,
) -> Result<usize, StoreError> {
    let Ok((zones, targets)) = blocklists::configured(config) else {
        return Ok(0); // the configuration's loader already refused such a selection
    };
    if zones.is_empty() || targets.is_empty() {
        return Ok(0);
    }
    let zones: HashSet<&str> = zones.iter().map(|z| z.zone()).collect();
    let configured = |z: &str| zones.contains(z);
    let stored = |target: &str, check: &str| {
        by_target
            .get(target)
            .and_then(|cs| cs.iter().find(|c| c.check == check))
            .copied()
    };

    if let Some(round) = stored(ROUND_TARGET, ROUND_CHECK) {
        let facts: RoundFacts = serde_json::from_value(round.facts.clone()).unwrap_or_default();
        publish::zone_health(metrics, &facts, configured);
    }

    let mut open: HashMap<&str, Vec<&str>> = HashMap::new();
    let periods = store.listings(None).await?;
    for p in &periods {
        open.entry(p.target.as_str())
            .or_default()
            .push(p.zone.as_str());
    }
    let mut published = 0;
    for target in targets.targets() {
        let target = target.to_string();
        let mut facts: ListingFacts = stored(&target, blocklists::CHECK)
            .and_then(|c| serde_json::from_value(c.facts.clone()).ok())
            .unwrap_or_default();
        for zone in open.get(target.as_str()).into_iter().flatten() {
            facts.zones.insert((*zone).to_owned(), "listed".to_owned());
        }
        facts.zones.retain(|z, _| configured(z));
        published += facts.zones.len();
        publish::listings(metrics, &target, &facts, configured);
    }
    Ok(published)
}

#[cfg(test)]
mod tests;
