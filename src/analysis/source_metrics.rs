//! `senderscope_dmarc_source_messages{domain,sender,result}` (docs/metrics.md): each configured
//! domain's last 7 days of aggregate reports by known sender, the Authentication dashboard's "who
//! sends as my domain" panel. Labels stay bounded: the sender is a name from the sender mapping or
//! `other`, never an IP or a PTR name. Recomputed by the enrichment task when a report or an
//! enrichment arrived, and at least every [`REFRESH_EVERY`] as the window moves on; the whole family
//! is replaced each time, so a domain removed from the configuration loses its series.

use std::time::{Duration, Instant};

use prometheus::IntGaugeVec;

use super::db::AnalysisDb;
use super::{by_sender, sources};
use crate::config::Config;
use crate::store::StoreError;

/// The window the family covers.
pub const WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// Recomputed at least this often without new data.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);

/// When the family was last computed, and from which data.
#[derive(Default)]
pub struct Refresher {
    last: Option<Computed>,
}

struct Computed {
    at: Instant,
    /// [`AnalysisDb::version`] then.
    version: (i64, i64, i64),
    domains: Vec<String>,
}

impl Refresher {
    /// Recompute the family when the stored data or the configured domains changed, or
    /// [`REFRESH_EVERY`] passed. Blocking (reads the store).
    pub fn refresh(
        &mut self,
        db: &AnalysisDb,
        config: &Config,
        gauge: &IntGaugeVec,
        now: i64,
    ) -> Result<(), StoreError> {
        let version = db.version()?;
        let domains: Vec<String> = config
            .domains
            .iter()
            .map(|d| d.name.as_str().to_owned())
            .collect();
        if let Some(last) = &self.last
            && last.version == version
            && last.domains == domains
            && last.at.elapsed() < REFRESH_EVERY
        {
            return Ok(());
        }
        let since = now.saturating_sub(i64::try_from(WINDOW.as_secs()).unwrap_or(i64::MAX));
        let mut rows = Vec::new();
        for d in &config.domains {
            let domain = d.name.as_str();
            let all = sources(db, &config.ingest.senders, domain, since)?;
            for (sender, (passed, failed)) in by_sender(&all) {
                rows.push((domain.to_owned(), sender.to_owned(), passed, failed));
            }
        }
        // Computed in full before the family is touched: a read error leaves the last values.
        gauge.reset();
        for (domain, sender, passed, failed) in rows {
            for (result, n) in [("pass", passed), ("fail", failed)] {
                gauge
                    .with_label_values(&[domain.as_str(), sender.as_str(), result])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        self.last = Some(Computed {
            at: Instant::now(),
            version,
            domains,
        });
        Ok(())
    }
}
