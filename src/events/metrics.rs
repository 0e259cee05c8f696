//! The events' metric families, as one collector registered by `metrics.rs` (docs/metrics.md):
//!
//! - `senderscope_deliveries_total{domain,provider}`, `senderscope_bounces_total{domain,provider,kind,reason}`,
//!   `senderscope_complaints_total{domain,provider}`: events this process counted (after commit,
//!   duplicates excluded);
//! - `senderscope_bounce_rate{domain,window}`, `senderscope_complaint_rate{domain,window}`: built at
//!   scrape time from the stored per-minute buckets, so they survive a restart.
//!
//! `domain` is a configured sending domain or `other`; `provider`, `kind` and `reason` come from
//! enums: every label value is bounded.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, IntCounterVec, Opts};

use super::rates::{DomainRates, Thresholds, Window, attribute, rates};
use super::store::{Event, LazyEventStore, Recorded};

/// How long computed rates are reused between scrapes.
const RATES_MAX_AGE: Duration = Duration::from_secs(10);

/// The settings rates are computed with: windows, thresholds, configured domains.
pub type RateSettings = (Vec<Window>, Thresholds, Vec<String>);

/// Rates computed at one instant.
type CachedRates = Option<(Instant, Vec<DomainRates>)>;

/// Where rates are read from, once the daemon has opened the events store.
pub struct RateSource {
    /// The store (read only once its file exists).
    pub store: Arc<LazyEventStore>,
    /// The windows, thresholds and configured domains, read at each computation.
    pub settings: Box<dyn Fn() -> RateSettings + Send + Sync>,
}

/// The collector. Cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct EventMetrics {
    deliveries_total: IntCounterVec,
    bounces_total: IntCounterVec,
    complaints_total: IntCounterVec,
    bounce_rate: GaugeVec,
    complaint_rate: GaugeVec,
    source: Arc<RwLock<Option<RateSource>>>,
    cache: Arc<Mutex<CachedRates>>,
}

impl EventMetrics {
    /// Create the families (not yet registered).
    pub fn new() -> Result<EventMetrics, prometheus::Error> {
        Ok(EventMetrics {
            deliveries_total: IntCounterVec::new(
                Opts::new(
                    "senderscope_deliveries_total",
                    "Messages accepted by the recipient's server, counted from webhooks, logs and the events API.",
                ),
                &["domain", "provider"],
            )?,
            bounces_total: IntCounterVec::new(
                Opts::new(
                    "senderscope_bounces_total",
                    "Failed recipients, by hard or soft and reason category.",
                ),
                &["domain", "provider", "kind", "reason"],
            )?,
            complaints_total: IntCounterVec::new(
                Opts::new(
                    "senderscope_complaints_total",
                    "Spam complaints (feedback reports and ESP complaint events).",
                ),
                &["domain", "provider"],
            )?,
            bounce_rate: GaugeVec::new(
                Opts::new(
                    "senderscope_bounce_rate",
                    "Bounces / (deliveries + bounces) over the rolling window, as a ratio.",
                ),
                &["domain", "window"],
            )?,
            complaint_rate: GaugeVec::new(
                Opts::new(
                    "senderscope_complaint_rate",
                    "Complaints / deliveries over the rolling window, as a ratio.",
                ),
                &["domain", "window"],
            )?,
            source: Arc::new(RwLock::new(None)),
            cache: Arc::new(Mutex::new(None)),
        })
    }

    /// Read rates from `source` from now on.
    pub fn attach(&self, source: RateSource) {
        *self.source.write().unwrap_or_else(PoisonError::into_inner) = Some(source);
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Count events that were committed (pass only the ones the store counted).
    pub fn observe<'a>(
        &self,
        events: impl IntoIterator<Item = &'a Recorded>,
        configured: &[String],
    ) {
        for r in events {
            match &r.event {
                Event::Delivery(d) => {
                    let domain = attribute(d.sender_domain.as_deref().unwrap_or(""), configured);
                    self.deliveries_total
                        .with_label_values(&[domain, d.provider.as_str()])
                        .inc();
                }
                Event::Bounce(b) => {
                    let domain = attribute(b.sender_domain.as_deref().unwrap_or(""), configured);
                    self.bounces_total
                        .with_label_values(&[
                            domain,
                            b.provider.as_str(),
                            b.kind.as_str(),
                            b.reason.as_str(),
                        ])
                        .inc();
                }
                Event::Deferral(_) => {}
                Event::Complaint(c) => {
                    let domain = attribute(c.sender_domain.as_deref().unwrap_or(""), configured);
                    self.complaints_total
                        .with_label_values(&[domain, c.provider.as_str()])
                        .inc();
                }
            }
        }
        // New events change the rates: compute them afresh at the next scrape.
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn current_rates(&self) -> Vec<DomainRates> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, rows)) = cache.as_ref()
            && at.elapsed() < RATES_MAX_AGE
        {
            return rows.clone();
        }
        let source = self.source.read().unwrap_or_else(PoisonError::into_inner);
        let Some(source) = source.as_ref() else {
            return Vec::new();
        };
        let Some(store) = source.store.get_existing() else {
            return Vec::new();
        };
        let (windows, thresholds, domains) = (source.settings)();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match rates(&store, now, &windows, &thresholds, &domains) {
            Ok(rows) => {
                *cache = Some((Instant::now(), rows.clone()));
                rows
            }
            Err(e) => {
                // A scrape shows no rate rather than a stale one; the log says why.
                tracing::warn!(error = %e, "could not read event rates from the store");
                Vec::new()
            }
        }
    }
}

impl Collector for EventMetrics {
    fn desc(&self) -> Vec<&Desc> {
        let mut d = Vec::new();
        d.extend(self.deliveries_total.desc());
        d.extend(self.bounces_total.desc());
        d.extend(self.complaints_total.desc());
        d.extend(self.bounce_rate.desc());
        d.extend(self.complaint_rate.desc());
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let rows = self.current_rates();
        self.bounce_rate.reset();
        self.complaint_rate.reset();
        for r in &rows {
            if let Some(v) = r.bounce_rate {
                self.bounce_rate
                    .with_label_values(&[&r.domain, &r.window])
                    .set(v);
            }
            if let Some(v) = r.complaint_rate {
                self.complaint_rate
                    .with_label_values(&[&r.domain, &r.window])
                    .set(v);
            }
        }
        let mut out = Vec::new();
        out.extend(self.deliveries_total.collect());
        out.extend(self.bounces_total.collect());
        out.extend(self.complaints_total.collect());
        out.extend(self.bounce_rate.collect());
        out.extend(self.complaint_rate.collect());
        out
    }
}
