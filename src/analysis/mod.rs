//! What the ingested DMARC aggregate reports say about a domain (docs/ingest.md, "Analysis"):
//!
//! - [`senders`]: reverse-DNS name → base domain (Public Suffix List) → known sender
//!   (config/senders.yaml, extended by `ingest.senders_file`), else `other`;
//! - [`enrich`]: the reverse-DNS lookups of report sources, after the commit, cached in the store;
//! - [`sources`]: per source IP, its volume, pass counts, identity and why its mail failed;
//! - [`readiness`]: enforcement readiness (p=quarantine / p=reject) with what to fix;
//! - [`selectors`]: DKIM selectors seen in reports, checked by the daemon beside the configured ones;
//! - [`db`]: the reads and the enrichment writes, on the analysis' own connection.
//!
//! The entry points here ([`enforcement`], [`overview`]) are synchronous store reads: run them on a
//! blocking thread. The `cached_*` forms keep an answer while the data is unchanged (at most
//! [`CACHE_FOR`]) so `/api/v1/status` does not scan a month of records on every request.

pub mod db;
pub mod enrich;
pub mod readiness;
pub mod selectors;
pub mod senders;
pub mod source_metrics;
pub mod sources;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::store::StoreError;
use db::AnalysisDb;
use readiness::Enforcement;
use senders::SenderMap;
use sources::Source;

/// The default enforcement window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30 * 86_400);
/// Failing records read per question, largest first: they only explain *why* mail failed (the
/// volumes come from per-IP sums over every record), so a cap bounds the work on a domain that is
/// spoofed at scale without changing any count.
pub const MAX_FAILING_ROWS: usize = 50_000;
/// Sources listed in `top_failing_sources`.
pub const TOP_FAILING: usize = 10;
/// How long an answer is reused while the data it was computed from is unchanged (new reports or
/// enrichment make it stale at once; this bounds the drift of the window's start).
pub const CACHE_FOR: Duration = Duration::from_secs(300);

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Every source of `domain` in reports that ended at or after `since`, with its identity and problems.
pub fn sources(
    db: &AnalysisDb,
    senders: &SenderMap,
    domain: &str,
    since: i64,
) -> Result<Vec<Source>, StoreError> {
    let totals = db.source_totals(domain, since)?;
    let failing = db.failing_rows(domain, since, MAX_FAILING_ROWS)?;
    let ips: Vec<&str> = totals.iter().map(|t| t.ip.as_str()).collect();
    let enrichment = db.enrichment(&ips)?;
    Ok(sources::build(
        domain,
        totals.clone(),
        &failing,
        &enrichment,
        senders,
    ))
}

/// Enforcement readiness of `domain` over `window` ending at `now`.
pub fn enforcement(
    db: &AnalysisDb,
    senders: &SenderMap,
    domain: &str,
    window: Duration,
    now: i64,
) -> Result<Enforcement, StoreError> {
    let since = now.saturating_sub(secs(window));
    let all = sources(db, senders, domain, since)?;
    Ok(readiness::assess(
        domain,
        window.as_secs() / 86_400,
        since,
        &all,
    ))
}

/// Messages passing and failing DMARC per known sender (`other` for sources no mapping names).
pub fn by_sender(sources: &[Source]) -> std::collections::BTreeMap<&str, (u64, u64)> {
    let mut out = std::collections::BTreeMap::new();
    for s in sources {
        let (passed, failed) = out.entry(s.identity.sender.as_str()).or_insert((0, 0));
        *passed += s.passed;
        *failed += s.failed;
    }
    out
}

/// DMARC pass rate over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassRate {
    /// Messages in reports that ended in the window.
    pub messages: u64,
    /// Of those, passing DMARC.
    pub passed: u64,
    /// `passed / messages`; null without messages.
    pub rate: Option<f64>,
}

/// The report figures of `/api/v1/domains/{domain}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// Over the last 24 hours (reports that ended in it).
    pub pass_rate_24h: PassRate,
    /// Over the last 7 days.
    pub pass_rate_7d: PassRate,
    /// The sources with the most failing messages over 7 days (at most [`TOP_FAILING`]).
    pub top_failing_sources: Vec<Source>,
}

fn pass_rate(sources: &[Source]) -> PassRate {
    let messages = sources.iter().map(|s| s.messages).sum();
    let passed = sources.iter().map(|s| s.passed).sum();
    PassRate {
        messages,
        passed,
        rate: (messages > 0).then(|| passed as f64 / messages as f64),
    }
}

/// Pass rates over 24 h and 7 d and the top failing sources of `domain`.
pub fn overview(
    db: &AnalysisDb,
    senders: &SenderMap,
    domain: &str,
    now: i64,
) -> Result<Overview, StoreError> {
    let day = db.source_totals(domain, now.saturating_sub(86_400))?;
    let (messages, passed) = day
        .iter()
        .fold((0, 0), |(m, p), t| (m + t.messages, p + t.passed));
    let week = sources(db, senders, domain, now.saturating_sub(7 * 86_400))?;
    let mut failing: Vec<Source> = week.iter().filter(|s| s.failed > 0).cloned().collect();
    failing.sort_by(|a, b| b.failed.cmp(&a.failed).then(a.ip.cmp(&b.ip)));
    failing.truncate(TOP_FAILING);
    Ok(Overview {
        pass_rate_24h: PassRate {
            messages,
            passed,
            rate: (messages > 0).then(|| passed as f64 / messages as f64),
        },
        pass_rate_7d: pass_rate(&week),
        top_failing_sources: failing,
    })
}

/// A cached answer.
#[derive(Clone)]
enum Answer {
    Enforcement(Arc<Enforcement>),
    Overview(Arc<Overview>),
}

type Key = (PathBuf, String, &'static str, u64, (i64, i64, i64));
static CACHE: OnceLock<Mutex<HashMap<Key, (Instant, Answer)>>> = OnceLock::new();

fn cache_get(key: &Key) -> Option<Answer> {
    let cache = CACHE.get_or_init(Mutex::default);
    let cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    cache
        .get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_FOR)
        .map(|(_, a)| a.clone())
}

fn cache_put(key: Key, answer: Answer) {
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    // Bounded: stale entries go whenever the map grows past a few thousand domains' worth.
    if cache.len() > 4096 {
        cache.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
    }
    cache.insert(key, (Instant::now(), answer));
}

/// [`enforcement`] for the state database at `path`, reused for [`CACHE_FOR`].
pub fn cached_enforcement(
    path: &Path,
    senders: &SenderMap,
    domain: &str,
    window: Duration,
) -> Result<Arc<Enforcement>, StoreError> {
    if !path.exists() {
        // No state database yet: no report was ever stored (and none is created by a read).
        let since = crate::checks::unix_now().saturating_sub(secs(window));
        return Ok(Arc::new(readiness::assess(
            domain,
            window.as_secs() / 86_400,
            since,
            &[],
        )));
    }
    let db = AnalysisDb::shared(path)?;
    let key = (
        path.to_owned(),
        domain.to_owned(),
        "enforcement",
        window.as_secs(),
        db.version()?,
    );
    if let Some(Answer::Enforcement(e)) = cache_get(&key) {
        return Ok(e);
    }
    let e = Arc::new(enforcement(
        &db,
        senders,
        domain,
        window,
        crate::checks::unix_now(),
    )?);
    cache_put(key, Answer::Enforcement(e.clone()));
    Ok(e)
}

/// [`overview`] for the state database at `path`, reused for [`CACHE_FOR`].
pub fn cached_overview(
    path: &Path,
    senders: &SenderMap,
    domain: &str,
) -> Result<Arc<Overview>, StoreError> {
    if !path.exists() {
        return Ok(Arc::new(Overview {
            pass_rate_24h: pass_rate(&[]),
            pass_rate_7d: pass_rate(&[]),
            top_failing_sources: Vec::new(),
        }));
    }
    let db = AnalysisDb::shared(path)?;
    let key = (
        path.to_owned(),
        domain.to_owned(),
        "overview",
        0,
        db.version()?,
    );
    if let Some(Answer::Overview(o)) = cache_get(&key) {
        return Ok(o);
    }
    let o = Arc::new(overview(&db, senders, domain, crate::checks::unix_now())?);
    cache_put(key, Answer::Overview(o.clone()));
    Ok(o)
}

#[cfg(test)]
mod tests;
