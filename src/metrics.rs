//! Every metric family of the daemon, in one place (DESIGN §4, STYLE habit 7), with typed ways to set them.
//!
//! A [`Metrics`] owns its own [`Registry`] — one per daemon instance, never a global — so tests can run
//! several daemons in one process. Names are `senderscope_<name>_<unit>[_total]`; the process collector
//! adds the standard `process_*` families. Label values come from configuration or from enums, never
//! from input (STYLE habit 6); docs/metrics.md lists every family and a test keeps it in step with
//! [`Metrics::family_names`].

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::findings::Severity;

const DNS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// DMARC policies, the values of `senderscope_dmarc_policy{policy}`.
pub const DMARC_POLICIES: [&str; 3] = ["none", "quarantine", "reject"];

/// The values behind the fact families of one domain, as the checks store them with their results
/// (the SPF check's `spf_dns_lookups`, the DKIM check's `dkim_keys`, the DMARC check's `dmarc_policy`;
/// other stored facts are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct FactValues {
    /// DNS-querying SPF terms, when a valid SPF record was found.
    #[serde(default)]
    pub spf_dns_lookups: Option<u32>,
    /// Each selector with a usable key.
    #[serde(default)]
    pub dkim_keys: Vec<KeySize>,
    /// The DMARC policy that applies, when a record applies.
    #[serde(default)]
    pub dmarc_policy: Option<String>,
}

/// One DKIM key's size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct KeySize {
    /// The selector.
    pub selector: String,
    /// Size in bits.
    pub bits: u32,
}

/// What one answer says about `senderscope_blocklist_listed{target,zone}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingState {
    /// Listed: 1.
    Listed,
    /// Not listed: 0.
    NotListed,
    /// Refused or failed: a 1 stays (nothing says the listing ended), a 0 is withdrawn (unknown is
    /// not clean).
    Unknown,
}

/// The facts a round could not learn because a lookup failed: their series keep their last value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnknownFacts {
    /// The SPF record could not be read.
    pub spf: bool,
    /// The DMARC policy could not be determined.
    pub dmarc: bool,
    /// The DKIM selectors whose key could not be looked up.
    pub dkim_selectors: Vec<String>,
}

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
    /// `senderscope_check_status{domain,check}`: 0 ok, 1 info, 2 warning, 3 critical, -1 unknown.
    pub check_status: IntGaugeVec,
    /// `senderscope_findings{domain,check,severity}`: findings of the latest run.
    pub findings: IntGaugeVec,
    /// `senderscope_check_duration_seconds{check}`.
    pub check_duration_seconds: HistogramVec,
    /// `senderscope_spf_dns_lookups{domain}`.
    pub spf_dns_lookups: IntGaugeVec,
    /// `senderscope_dkim_key_size{domain,selector}`.
    pub dkim_key_size: IntGaugeVec,
    /// `senderscope_dmarc_policy{domain,policy}`: 1 for the published policy.
    pub dmarc_policy: IntGaugeVec,
    /// `senderscope_blocklist_listed{target,zone}`: 1 listed, 0 not listed.
    pub blocklist_listed: IntGaugeVec,
    /// `senderscope_blocklist_zone_healthy{zone}`: 1 when the RFC 5782 test points answer right.
    pub blocklist_zone_healthy: IntGaugeVec,
    /// `senderscope_last_check_timestamp_seconds{domain,check}`.
    pub last_check_timestamp_seconds: IntGaugeVec,
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
        let check_status = b.gauges(
            "senderscope_check_status",
            "Status of the latest run of a check: 0 ok, 1 info, 2 warning, 3 critical, -1 unknown (could not check).",
            &["domain", "check"],
        )?;
        let findings = b.gauges(
            "senderscope_findings",
            "Number of findings of the latest run of a check, by severity.",
            &["domain", "check", "severity"],
        )?;
        let check_duration_seconds = b.histograms(
            "senderscope_check_duration_seconds",
            "Time one check took for one domain.",
            JOB_BUCKETS,
            &["check"],
        )?;
        let spf_dns_lookups = b.gauges(
            "senderscope_spf_dns_lookups",
            "DNS-querying terms needed to evaluate the domain's SPF record (RFC 7208 limit: 10).",
            &["domain"],
        )?;
        // Not `senderscope_dkim_key_bits` (DESIGN §4's first name): promtool's lint rejects any `_bits`
        // name ("use base unit bytes"), and key sizes are stated in bits everywhere (RFC 8301 §3.2 "Key
        // Size"), so the name is the RFC's term and the help text gives the unit.
        let dkim_key_size = b.gauges(
            "senderscope_dkim_key_size",
            "Size of the DKIM key published for a configured selector, in bits.",
            &["domain", "selector"],
        )?;
        let dmarc_policy = b.gauges(
            "senderscope_dmarc_policy",
            "1 for the DMARC policy that applies to the domain, 0 for the others.",
            &["domain", "policy"],
        )?;
        let blocklist_listed = b.gauges(
            "senderscope_blocklist_listed",
            "1 when a configured IP or domain is listed on a blocklist zone, 0 when it is not.",
            &["target", "zone"],
        )?;
        let blocklist_zone_healthy = b.gauges(
            "senderscope_blocklist_zone_healthy",
            "1 when a blocklist zone answers its RFC 5782 test points correctly, 0 when it is not trusted.",
            &["zone"],
        )?;
        let last_check_timestamp_seconds = b.gauges(
            "senderscope_last_check_timestamp_seconds",
            "When a check last ran for a domain, in Unix seconds.",
            &["domain", "check"],
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
        let (ingest, ingest_names) = crate::ingest::metrics::IngestMetrics::register(&b.registry)?;
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
            check_status,
            findings,
            check_duration_seconds,
            spf_dns_lookups,
            dkim_key_size,
            dmarc_policy,
            blocklist_listed,
            blocklist_zone_healthy,
            last_check_timestamp_seconds,
            dns_query_duration_seconds,
            config_last_reload_successful,
            build_info,
            job_runs_total,
            job_duration_seconds,
            jobs_running,
            http_requests_total,
            http_request_duration_seconds,
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

    /// The text exposition format (what `/metrics` serves).
    pub fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }

    /// Record the latest result of one check of a configured domain: status, findings by severity
    /// (`findings` holds one severity per finding) and when it ran. Every severity gets a series (0
    /// when absent) so a fixed problem reads 0, not "gone". A run's duration is
    /// [`Metrics::observe_check_duration`]'s: a result restored at start was not a run.
    pub fn observe_check(
        &self,
        domain: &str,
        check: &str,
        status: Severity,
        findings: &[Severity],
        checked_at: i64,
    ) {
        let labels = [domain, check];
        self.check_status
            .with_label_values(&labels)
            .set(status.gauge_value());
        for severity in Severity::ALL {
            let n = findings.iter().filter(|s| **s == severity).count();
            self.findings
                .with_label_values(&[domain, check, severity.as_str()])
                .set(n as i64);
        }
        self.last_check_timestamp_seconds
            .with_label_values(&labels)
            .set(checked_at);
    }

    /// A check ran for `took`.
    pub fn observe_check_duration(&self, check: &str, took: Duration) {
        self.check_duration_seconds
            .with_label_values(&[check])
            .observe(took.as_secs_f64());
    }

    /// Set `senderscope_blocklist_listed{target,zone}` from one answer (see [`ListingState`]).
    pub fn observe_listing(&self, target: &str, zone: &str, state: ListingState) {
        let labels = [target, zone];
        match state {
            ListingState::Listed => self.blocklist_listed.with_label_values(&labels).set(1),
            ListingState::NotListed => self.blocklist_listed.with_label_values(&labels).set(0),
            ListingState::Unknown => {
                if self
                    .blocklist_listed
                    .get_metric_with_label_values(&labels)
                    .is_ok_and(|g| g.get() == 0)
                {
                    let _ = self.blocklist_listed.remove_label_values(&labels);
                }
            }
        }
    }

    /// Record the facts a domain's round learned (`facts` merged over its checks). A fact that is
    /// definitively gone loses its series — no SPF record, a selector without a usable key or no longer
    /// configured, no DMARC policy — so dashboards never show a stale value as current; a fact its check
    /// could not learn (`unknown`: a lookup failed) keeps its last value, as a failed blocklist query
    /// does: "could not check" is neither a value nor its absence.
    pub fn observe_facts(&self, domain: &str, facts: &FactValues, unknown: &UnknownFacts) {
        match facts.spf_dns_lookups {
            Some(n) => self
                .spf_dns_lookups
                .with_label_values(&[domain])
                .set(i64::from(n)),
            None if !unknown.spf => {
                let _ = self.spf_dns_lookups.remove_label_values(&[domain]);
            }
            None => {}
        }
        let current: HashSet<&str> = facts
            .dkim_keys
            .iter()
            .map(|k| k.selector.as_str())
            .chain(unknown.dkim_selectors.iter().map(String::as_str))
            .collect();
        remove_where(&self.dkim_key_size, |l| {
            l.get("domain") == Some(&domain)
                && !l.get("selector").is_some_and(|s| current.contains(s))
        });
        for key in &facts.dkim_keys {
            self.dkim_key_size
                .with_label_values(&[domain, key.selector.as_str()])
                .set(i64::from(key.bits));
        }
        match facts.dmarc_policy.as_deref() {
            Some(policy) => {
                for p in DMARC_POLICIES {
                    self.dmarc_policy
                        .with_label_values(&[domain, p])
                        .set(i64::from(p == policy));
                }
            }
            None if !unknown.dmarc => {
                for p in DMARC_POLICIES {
                    let _ = self.dmarc_policy.remove_label_values(&[domain, p]);
                }
            }
            None => {}
        }
    }

    /// Drop a check's series for a domain (`ptr` once the domain has no single sending IP left).
    pub fn forget_check(&self, domain: &str, check: &str) {
        let _ = self.check_status.remove_label_values(&[domain, check]);
        let _ = self
            .last_check_timestamp_seconds
            .remove_label_values(&[domain, check]);
        for severity in Severity::ALL {
            let _ = self
                .findings
                .remove_label_values(&[domain, check, severity.as_str()]);
        }
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

    /// Drop the series of domains and targets no longer configured (after a reload), so removed
    /// domains do not linger with their last values.
    pub fn retain(&self, domains: &HashSet<String>, targets: &HashSet<String>) {
        let gone = |l: &HashMap<&str, &str>| l.get("domain").is_some_and(|d| !domains.contains(*d));
        for vec in [
            &self.check_status,
            &self.findings,
            &self.spf_dns_lookups,
            &self.dkim_key_size,
            &self.dmarc_policy,
            &self.last_check_timestamp_seconds,
        ] {
            remove_where(vec, gone);
        }
        remove_where(&self.blocklist_listed, |l| {
            l.get("target").is_some_and(|t| !targets.contains(*t))
        });
    }
}

impl Metrics {
    /// Drop the blocklist series of zones no longer configured (after a reload), so a removed zone
    /// does not linger with its last health and listings.
    pub fn retain_zones(&self, zones: &HashSet<String>) {
        for vec in [&self.blocklist_listed, &self.blocklist_zone_healthy] {
            remove_where(vec, |l| l.get("zone").is_some_and(|z| !zones.contains(*z)));
        }
    }
}

/// Remove every series of `vec` whose labels match `doomed`.
fn remove_where(vec: &IntGaugeVec, doomed: impl Fn(&HashMap<&str, &str>) -> bool) {
    for family in vec.collect() {
        for m in family.get_metric() {
            let labels: HashMap<&str, &str> = m
                .get_label()
                .iter()
                .map(|p| (p.name(), p.value()))
                .collect();
            if doomed(&labels) {
                let _ = vec.remove(&labels);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check result with findings of these severities, run at 1_700_000_000.
    fn observe(m: &Metrics, domain: &str, check: &str, findings: &[Severity]) {
        let status = findings.iter().copied().max().unwrap_or_default();
        m.observe_check(domain, check, status, findings, 1_700_000_000);
    }

    #[test]
    fn two_instances_do_not_share_a_registry() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.config_last_reload_successful.set(1);
        b.config_last_reload_successful.set(0);
        assert_eq!(a.config_last_reload_successful.get(), 1);
    }

    #[test]
    fn check_report_sets_status_every_severity_and_timestamp() {
        let m = Metrics::new().unwrap();
        observe(&m, "a.test", "spf", &[Severity::Warning, Severity::Warning]);
        assert_eq!(
            m.check_status.with_label_values(&["a.test", "spf"]).get(),
            2
        );
        assert_eq!(
            m.findings
                .with_label_values(&["a.test", "spf", "warning"])
                .get(),
            2
        );
        let text = m.render().unwrap();
        assert!(text.contains(
            r#"senderscope_findings{check="spf",domain="a.test",severity="critical"} 0"#
        ));
        assert!(text.contains(
            r#"senderscope_last_check_timestamp_seconds{check="spf",domain="a.test"} 1700000000"#
        ));
    }

    #[test]
    fn unknown_status_reads_minus_one() {
        let m = Metrics::new().unwrap();
        observe(&m, "a.test", "dmarc", &[Severity::Unknown]);
        assert_eq!(
            m.check_status.with_label_values(&["a.test", "dmarc"]).get(),
            -1
        );
    }

    #[test]
    fn dmarc_policy_marks_exactly_one() {
        let m = Metrics::new().unwrap();
        let facts = FactValues {
            dmarc_policy: Some("reject".into()),
            ..FactValues::default()
        };
        m.observe_facts("a.test", &facts, &UnknownFacts::default());
        let text = m.render().unwrap();
        assert!(text.contains(r#"senderscope_dmarc_policy{domain="a.test",policy="reject"} 1"#));
        assert!(text.contains(r#"senderscope_dmarc_policy{domain="a.test",policy="none"} 0"#));
    }

    fn key(selector: &str, bits: u32) -> KeySize {
        KeySize {
            selector: selector.into(),
            bits,
        }
    }

    #[test]
    fn facts_that_are_gone_lose_their_series_and_unknown_ones_keep_them() {
        let m = Metrics::new().unwrap();
        let all = FactValues {
            spf_dns_lookups: Some(3),
            dkim_keys: vec![key("s1", 2048), key("s2", 1024)],
            dmarc_policy: Some("quarantine".into()),
        };
        m.observe_facts("a.test", &all, &UnknownFacts::default());
        m.observe_facts("b.test", &all, &UnknownFacts::default());

        // a.test: lookups failed everywhere — every series keeps its value.
        let unknown = UnknownFacts {
            spf: true,
            dmarc: true,
            dkim_selectors: vec!["s1".into(), "s2".into()],
        };
        m.observe_facts("a.test", &FactValues::default(), &unknown);
        let text = m.render().unwrap();
        assert!(text.contains(r#"senderscope_spf_dns_lookups{domain="a.test"} 3"#));
        assert!(text.contains(r#"senderscope_dkim_key_size{domain="a.test",selector="s2"} 1024"#));
        assert!(
            text.contains(r#"senderscope_dmarc_policy{domain="a.test",policy="quarantine"} 1"#)
        );

        // b.test: SPF and DMARC removed, selector s2 gone — their series go; s1 stays.
        let fewer = FactValues {
            dkim_keys: vec![key("s1", 2048)],
            ..FactValues::default()
        };
        m.observe_facts("b.test", &fewer, &UnknownFacts::default());
        let text = m.render().unwrap();
        assert!(!text.contains(r#"senderscope_spf_dns_lookups{domain="b.test"}"#));
        assert!(!text.contains(r#"senderscope_dkim_key_size{domain="b.test",selector="s2"}"#));
        assert!(text.contains(r#"senderscope_dkim_key_size{domain="b.test",selector="s1"} 2048"#));
        assert!(!text.contains(r#"senderscope_dmarc_policy{domain="b.test""#));
    }

    #[test]
    fn a_forgotten_check_loses_every_series() {
        let m = Metrics::new().unwrap();
        observe(&m, "a.test", "ptr", &[]);
        observe(&m, "a.test", "spf", &[]);
        m.forget_check("a.test", "ptr");
        let text = m.render().unwrap();
        // The duration histogram is per check, not per domain: it stays.
        assert!(!text.contains(r#"check="ptr",domain="a.test""#), "{text}");
        assert!(text.contains(r#"senderscope_check_status{check="spf",domain="a.test"} 0"#));
    }

    #[test]
    fn removed_domains_lose_their_series() {
        let m = Metrics::new().unwrap();
        observe(&m, "a.test", "spf", &[]);
        observe(&m, "b.test", "spf", &[]);
        m.blocklist_listed
            .with_label_values(&["192.0.2.1", "bl.test"])
            .set(1);
        let keep: HashSet<String> = ["b.test".to_owned()].into();
        m.retain(&keep, &HashSet::new());
        let text = m.render().unwrap();
        assert!(!text.contains(r#"domain="a.test""#));
        assert!(text.contains(r#"domain="b.test""#));
        assert!(!text.contains("192.0.2.1"));
    }

    #[test]
    fn an_unknown_answer_keeps_a_listing_and_withdraws_a_clean_reading() {
        let m = Metrics::new().unwrap();
        m.observe_listing("192.0.2.1", "bl.test", ListingState::Listed);
        m.observe_listing("192.0.2.2", "bl.test", ListingState::NotListed);
        for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
            m.observe_listing(ip, "bl.test", ListingState::Unknown);
        }
        let text = m.render().unwrap();
        assert!(
            text.contains(r#"senderscope_blocklist_listed{target="192.0.2.1",zone="bl.test"} 1"#)
        );
        assert!(!text.contains("192.0.2.2"), "{text}");
        assert!(!text.contains("192.0.2.3"), "{text}");
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
