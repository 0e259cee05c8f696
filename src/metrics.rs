//! Every metric family of the daemon, in one place, with typed ways to set them.
//!
//! Two kinds of family (docs/metrics.md):
//! - **state families** (check status, findings, facts, listings, zone health) are built at scrape time
//!   from the latest state by a custom collector (`state`): a series exists exactly while its target
//!   is configured and has a result, so no code ever removes a stale series;
//! - the process's own work (scheduler, HTTP, DNS, reloads) is ordinary registered counters, gauges and
//!   histograms.
//!
//! A [`Metrics`] owns its own [`Registry`] — one per daemon instance, never a global — so tests can run
//! several daemons in one process. Names are `senderscope_<name>_<unit>[_total]`; the process collector
//! adds the standard `process_*` families. Label values come from configuration or from enums, never
//! from input; docs/metrics.md lists every family and a test keeps it in step with
//! [`Metrics::family_names`].

mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::results::{CheckId, LatestState};
use state::StateFamilies;

const DNS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// How a scheduled job ended: the `result` label of `senderscope_scheduler_job_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobResult {
    /// Finished without error.
    Ok,
    /// Returned an error.
    Failed,
    /// Ran past `schedule.job_timeout` and was cancelled.
    Timeout,
    /// Panicked; the panic was caught and the daemon went on.
    Panic,
}

impl JobResult {
    /// Every result, for docs and pre-initialised series.
    pub const ALL: [JobResult; 4] = [
        JobResult::Ok,
        JobResult::Failed,
        JobResult::Timeout,
        JobResult::Panic,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Ok => "ok",
            JobResult::Failed => "failed",
            JobResult::Timeout => "timeout",
            JobResult::Panic => "panic",
        }
    }
}

/// Every metric family of one daemon instance. Handles are `Sync`: share the struct behind an `Arc`.
pub struct Metrics {
    registry: Registry,
    names: Vec<String>,
    /// The state families, read from the latest state at scrape time.
    state: StateFamilies,
    /// The previous rendering's length and some room: the next one's buffer size.
    render_size: AtomicUsize,
    /// `senderscope_check_duration_seconds{check}`.
    pub check_duration_seconds: HistogramVec,
    /// `senderscope_dns_query_duration_seconds`: pass to `dns::Resolver::with_histogram`.
    pub dns_query_duration_seconds: Histogram,
    /// `senderscope_config_last_reload_successful`.
    pub config_last_reload_successful: IntGauge,
    /// `senderscope_build_info{version}`: always 1.
    pub build_info: IntGaugeVec,
    /// `senderscope_scheduler_job_runs_total{job,result}`.
    pub job_runs_total: IntCounterVec,
    /// `senderscope_scheduler_job_duration_seconds{job}`.
    pub job_duration_seconds: HistogramVec,
    /// `senderscope_scheduler_jobs_running{job}`.
    pub jobs_running: IntGaugeVec,
    /// `senderscope_http_requests_total{route,method,status}` (status class: 2xx, 4xx, …).
    pub http_requests_total: IntCounterVec,
    /// `senderscope_http_request_duration_seconds{route,method}`.
    pub http_request_duration_seconds: HistogramVec,
    /// Bounce, complaint and delivery counters and rates (`events::metrics`).
    pub events: crate::events::metrics::EventMetrics,
    /// `senderscope_alerts{state}`: the alert engine's pending and firing alerts.
    pub alerts: IntGaugeVec,
    /// `senderscope_alert_notifications_total{notifier,result}`: deliveries to a notifier.
    pub alert_notifications_total: IntCounterVec,
    /// `senderscope_alert_notifier_up{notifier}`: 1 when the last delivery succeeded.
    pub alert_notifier_up: IntGaugeVec,
    /// `senderscope_dmarc_source_messages{domain,sender,result}`: the last 7 days of aggregate
    /// reports by known sender (set by the source enrichment task, `analysis::enrich`).
    pub dmarc_source_messages: IntGaugeVec,
    /// The report ingest families (`ingest::metrics`).
    pub ingest: crate::ingest::metrics::IngestMetrics,
}

/// Registration failed: a programming error (duplicate or malformed name), reported at start.
#[derive(Debug, thiserror::Error)]
#[error("registering metric families: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

struct Builder {
    registry: Registry,
    names: Vec<String>,
}

impl Builder {
    fn add<C: Collector + Clone + 'static>(&mut self, c: C) -> Result<C, MetricsError> {
        for d in c.desc() {
            self.names.push(d.fq_name.clone());
        }
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    fn gauges(
        &mut self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntGaugeVec, MetricsError> {
        self.add(IntGaugeVec::new(Opts::new(name, help), labels)?)
    }

    fn histograms(
        &mut self,
        name: &str,
        help: &str,
        buckets: &[f64],
        labels: &[&str],
    ) -> Result<HistogramVec, MetricsError> {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(HistogramVec::new(opts, labels)?)
    }
}

impl Metrics {
    /// Create and register every family in a fresh registry.
    pub fn new() -> Result<Metrics, MetricsError> {
        let mut b = Builder {
            registry: Registry::new(),
            names: Vec::new(),
        };
        let state = StateFamilies::new();
        for d in state.descs() {
            b.names.push(d.fq_name.clone());
        }
        b.registry.register(Box::new(state.clone()))?;
        let check_duration_seconds = b.histograms(
            "senderscope_check_duration_seconds",
            "Time one check took for one domain.",
            JOB_BUCKETS,
            &["check"],
        )?;
        let dns_query_duration_seconds = b.add(Histogram::with_opts(
            HistogramOpts::new(
                "senderscope_dns_query_duration_seconds",
                "Time a DNS query sent to the network took, answered or not.",
            )
            .buckets(DNS_BUCKETS.to_vec()),
        )?)?;
        let config_last_reload_successful = b.add(IntGauge::new(
            "senderscope_config_last_reload_successful",
            "1 when the last configuration (re)load succeeded, 0 when the new file was refused.",
        )?)?;
        let build_info = b.gauges(
            "senderscope_build_info",
            "Always 1; the version of the running binary is in the label.",
            &["version"],
        )?;
        let job_runs_total = b.add(IntCounterVec::new(
            Opts::new(
                "senderscope_scheduler_job_runs_total",
                "Scheduled job runs, by job kind and how they ended.",
            ),
            &["job", "result"],
        )?)?;
        let job_duration_seconds = b.histograms(
            "senderscope_scheduler_job_duration_seconds",
            "Time a scheduled job ran, whatever its result.",
            JOB_BUCKETS,
            &["job"],
        )?;
        let jobs_running = b.gauges(
            "senderscope_scheduler_jobs_running",
            "Jobs running now (holding a concurrency slot).",
            &["job"],
        )?;
        let http_requests_total = b.add(IntCounterVec::new(
            Opts::new(
                "senderscope_http_requests_total",
                "HTTP requests answered, by route template, method and status class.",
            ),
            &["route", "method", "status"],
        )?)?;
        let http_request_duration_seconds = b.histograms(
            "senderscope_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            HTTP_BUCKETS,
            &["route", "method"],
        )?;
        let events = b.add(crate::events::metrics::EventMetrics::new()?)?;
        let alerts = b.gauges(
            "senderscope_alerts",
            "Alerts of the built-in engine, by state (pending, firing).",
            &["state"],
        )?;
        let alert_notifications_total = b.add(IntCounterVec::new(
            Opts::new(
                "senderscope_alert_notifications_total",
                "Deliveries of alerts to a configured notifier, by result (ok, failed).",
            ),
            &["notifier", "result"],
        )?)?;
        let alert_notifier_up = b.gauges(
            "senderscope_alert_notifier_up",
            "1 when the last delivery to a configured notifier succeeded, 0 when it failed.",
            &["notifier"],
        )?;
        let dmarc_source_messages = b.gauges(
            "senderscope_dmarc_source_messages",
            "Messages in the DMARC aggregate reports of the last 7 days, by the known sender of the source IP (its reverse DNS; other when unknown) and DMARC result (pass, fail).",
            &["domain", "sender", "result"],
        )?;
        let (ingest, ingest_names) = crate::ingest::metrics::IngestMetrics::register(&b.registry)?;
        let ingest = ingest.with_events(events.clone());
        b.names.extend(ingest_names);
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            b.names
                .extend(process.desc().iter().map(|d| d.fq_name.clone()));
            b.registry.register(Box::new(process))?;
        }

        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(Metrics {
            registry: b.registry,
            names: b.names,
            state,
            render_size: AtomicUsize::new(64 * 1024),
            check_duration_seconds,
            dns_query_duration_seconds,
            config_last_reload_successful,
            build_info,
            job_runs_total,
            job_duration_seconds,
            jobs_running,
            http_requests_total,
            http_request_duration_seconds,
            events,
            alerts,
            alert_notifications_total,
            alert_notifier_up,
            dmarc_source_messages,
            ingest,
        })
    }

    /// The name of every registered family (what docs/metrics.md must list).
    pub fn family_names(&self) -> &[String] {
        &self.names
    }

    /// The registry, for tests and custom encoders.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format (what `/metrics` serves): the registry's families through the
    /// encoder, the state families written straight from the latest state, all in family-name order
    /// into one buffer sized from the previous rendering. (`registry().gather()` alone has no state
    /// families.)
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let registered = self.registry.gather();
        let mut out = String::with_capacity(self.render_size.load(Ordering::Relaxed));
        let encoder = TextEncoder::new();
        let state = self.state.current();
        let snapshot = state.as_ref().map(|s| s.read());
        let text = snapshot.as_deref().map(state::Text::of);
        let mut names = state::names().peekable();
        for family in &registered {
            while let Some(name) = names.next_if(|n| *n < family.name()) {
                if let Some(t) = &text {
                    t.write(name, &mut out);
                }
            }
            encoder.encode_utf8(std::slice::from_ref(family), &mut out)?;
        }
        if let Some(t) = &text {
            names.for_each(|name| t.write(name, &mut out));
        }
        drop(text);
        drop(snapshot);
        // Room for some growth before the next rendering reallocates.
        self.render_size
            .store(out.len() + out.len() / 16 + 4096, Ordering::Relaxed);
        Ok(out)
    }

    /// Build the state families from `state` at every scrape from now on.
    pub fn read_state(&self, state: Arc<LatestState>) {
        self.state.read_from(state);
    }

    /// A check ran for `took`.
    pub fn observe_check_duration(&self, check: CheckId, took: Duration) {
        self.check_duration_seconds
            .with_label_values(&[check.as_str()])
            .observe(took.as_secs_f64());
    }

    /// A job finished: count it by result and observe its duration.
    pub fn observe_job(&self, job: &str, result: JobResult, took: Duration) {
        self.job_runs_total
            .with_label_values(&[job, result.as_str()])
            .inc();
        self.job_duration_seconds
            .with_label_values(&[job])
            .observe(took.as_secs_f64());
    }

    /// Pre-create a job kind's series at 0, so `rate()` and alerts see them before the first failure.
    pub fn declare_job(&self, job: &str) {
        for r in JobResult::ALL {
            self.job_runs_total.with_label_values(&[job, r.as_str()]);
        }
        self.jobs_running.with_label_values(&[job]);
    }

    /// An HTTP request was answered. `route` is the matched route template (bounded), never the path.
    pub fn observe_http(
        &self,
        route: &str,
        method: &axum::http::Method,
        status: axum::http::StatusCode,
        took: Duration,
    ) {
        let method = match *method {
            axum::http::Method::GET => "GET",
            axum::http::Method::POST => "POST",
            axum::http::Method::HEAD => "HEAD",
            axum::http::Method::PUT => "PUT",
            axum::http::Method::DELETE => "DELETE",
            _ => "other",
        };
        let class = match status.as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_requests_total
            .with_label_values(&[route, method, class])
            .inc();
        self.http_request_duration_seconds
            .with_label_values(&[route, method])
            .observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_instances_do_not_share_a_registry() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.config_last_reload_successful.set(1);
        b.config_last_reload_successful.set(0);
        assert_eq!(a.config_last_reload_successful.get(), 1);
    }

    #[test]
    fn http_labels_are_bounded() {
        let m = Metrics::new().unwrap();
        m.observe_http(
            "/api/v1/domains/{domain}",
            &axum::http::Method::from_bytes(b"BREW").unwrap(),
            axum::http::StatusCode::IM_A_TEAPOT,
            Duration::from_millis(1),
        );
        let text = m.render().unwrap();
        assert!(text.contains(r#"method="other",route="/api/v1/domains/{domain}",status="4xx""#));
    }
}
