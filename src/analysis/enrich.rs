//! Source enrichment: the reverse-DNS name of each source IP in the aggregate reports, through the
//! project's DNS layer, stored in `source_enrichment` (migration 0007) with an expiry from the
//! answer's TTL (clamped to [`MIN_KEEP`, `MAX_KEEP`]; a failed lookup is asked again after
//! [`RETRY_FAILED`]). It runs after the report commit and never on the ingest path: the daemon's
//! task ([`run`]) polls for reports received since its last pass, one batch of distinct IPs at a
//! time, [`IN_FLIGHT`] lookups at once; `senderscope report` enriches the domain it reports on.
//! The sender name is not stored: [`super::senders`] maps the name on every read.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use prometheus::IntGaugeVec;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::db::AnalysisDb;
use super::source_metrics::Refresher;
use crate::config::Config;
use crate::dns::{Answer, Lookups, Resolver};
use crate::store::StoreError;

/// Lookups in flight at once (the DNS layer's own `dns.concurrency` bounds all queries too): enough
/// to clear a report of a few thousand sources in seconds without crowding the posture checks.
pub const IN_FLIGHT: usize = 16;
/// Distinct IPs per pass of the loop: one write transaction each.
pub const BATCH: usize = 500;
/// A reverse-DNS answer is kept at least this long whatever its TTL (PTR names rarely change, and
/// every re-ask is a query per source).
pub const MIN_KEEP: Duration = Duration::from_secs(6 * 3600);
/// …and at most this long.
pub const MAX_KEEP: Duration = Duration::from_secs(7 * 86_400);
/// A lookup that failed (timeout, SERVFAIL) is asked again after this.
pub const RETRY_FAILED: Duration = Duration::from_secs(3600);
/// How often the daemon's task looks for new reports.
pub const POLL: Duration = Duration::from_secs(15);

/// What one lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The IP as stored in the records.
    pub ip: String,
    /// `ptr`, `no_ptr` or `failed`.
    pub outcome: &'static str,
    /// The first PTR name (sorted, so the choice is stable).
    pub ptr: Option<String>,
    /// How long to keep it.
    pub keep: Duration,
}

/// Look up one source's PTR name.
pub async fn resolve(dns: &Lookups, ip: &str) -> Resolved {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        // Records store canonical IPs; anything else has no reverse name to ask.
        return Resolved {
            ip: ip.to_owned(),
            outcome: "no_ptr",
            ptr: None,
            keep: MAX_KEEP,
        };
    };
    match dns.ptr(addr).await {
        Ok(Answer::Records(r)) => {
            let mut names = r.items;
            names.sort();
            Resolved {
                ip: ip.to_owned(),
                outcome: "ptr",
                ptr: names.into_iter().next(),
                keep: Duration::from_secs(u64::from(r.ttl)).clamp(MIN_KEEP, MAX_KEEP),
            }
        }
        Ok(Answer::NxDomain | Answer::NoData) => Resolved {
            ip: ip.to_owned(),
            outcome: "no_ptr",
            ptr: None,
            keep: MIN_KEEP,
        },
        Err(_) => Resolved {
            ip: ip.to_owned(),
            outcome: "failed",
            ptr: None,
            keep: RETRY_FAILED,
        },
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Resolve and store one batch of up to [`BATCH`] pending IPs (of reports received at or after
/// `received_since`, of `domain` when given). Returns how many were resolved (0: nothing pending).
pub async fn enrich_batch(
    db: &Arc<AnalysisDb>,
    dns: &Lookups,
    received_since: i64,
    domain: Option<&str>,
) -> Result<usize, StoreError> {
    let now = crate::checks::unix_now();
    let pending = {
        let db = db.clone();
        let domain = domain.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            db.pending_ips(received_since, domain.as_deref(), now, BATCH)
        })
        .await
        .map_err(|e| StoreError::Malformed(format!("the enrichment read stopped: {e}")))??
    };
    if pending.is_empty() {
        return Ok(0);
    }
    // Owned values in the stream: with borrowed ones the compiler cannot prove the future `Send`
    // for every lifetime, which `tokio::spawn` needs.
    let resolved: Vec<Resolved> = futures::stream::iter(pending)
        .map(|ip| {
            let dns = dns.clone();
            async move { resolve(&dns, &ip).await }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let rows: Vec<(String, &'static str, Option<String>, i64)> = resolved
        .into_iter()
        .map(|r| {
            let expires = now.saturating_add(secs(r.keep));
            (r.ip, r.outcome, r.ptr, expires)
        })
        .collect();
    let n = rows.len();
    let db = db.clone();
    tokio::task::spawn_blocking(move || db.write_enrichment(&rows, now))
        .await
        .map_err(|e| StoreError::Malformed(format!("the enrichment write stopped: {e}")))??;
    Ok(n)
}

/// Enrich every pending source (of `domain` when given) until none is left; returns how many were
/// resolved. Bounded by the number of distinct sources: each is written with an expiry in the
/// future, so the next query no longer returns it.
pub async fn enrich_all(
    db: &Arc<AnalysisDb>,
    dns: &Lookups,
    received_since: i64,
    domain: Option<&str>,
) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = enrich_batch(db, dns, received_since, domain).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// The daemon's enrichment task: every [`POLL`], the sources of reports received since the last
/// pass (all reports at start). A store or DNS problem is logged and retried at the next poll.
///
/// After each pass it refreshes `senderscope_dmarc_source_messages` (`source_gauge`; see
/// [`super::source_metrics`]): the pass may have named new senders.
pub async fn run(
    config: watch::Receiver<Arc<Config>>,
    dns: Resolver,
    source_gauge: IntGaugeVec,
    shutdown: CancellationToken,
) {
    let refresher = Arc::new(Mutex::new(Refresher::default()));
    let mut since = 0_i64;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let path = config.borrow().state.path.clone();
        let db = match tokio::task::spawn_blocking(move || AnalysisDb::shared(&path)).await {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "source enrichment cannot open the state database; trying again later");
                continue;
            }
            Err(_) => continue,
        };
        // Reports received during this pass are picked up by the next one: start from the newest
        // arrival seen before the pass (the same second again, harmless: resolved IPs are skipped).
        let newest = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || db.newest_received())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(since)
        };
        let lookups = dns.round();
        let pass = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = enrich_all(&db, &lookups, since, None) => r,
        };
        match pass {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(
                        sources = n,
                        "resolved the reverse DNS of new report sources"
                    );
                }
                since = newest;
            }
            Err(e) => tracing::warn!(error = %e, "source enrichment failed; trying again later"),
        }
        let (refresher, gauge, config) = (
            refresher.clone(),
            source_gauge.clone(),
            config.borrow().clone(),
        );
        let refreshed = tokio::task::spawn_blocking(move || {
            let mut r = refresher.lock().unwrap_or_else(PoisonError::into_inner);
            r.refresh(&db, &config, &gauge, crate::checks::unix_now())
        })
        .await;
        if let Ok(Err(e)) = refreshed {
            tracing::warn!(error = %e, "could not count the report sources per sender; trying again later");
        }
    }
}
