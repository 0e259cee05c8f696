//! The ingest metric families, registered into the daemon's registry from `metrics.rs`. Labels are
//! bounded (docs/metrics.md): `source` and `kind` and `result` from code; `domain` is a configured
//! domain or `other`; `reporter` is the reporting organisation (a few dozen in practice), cut to 64
//! characters — never an IP address or a report id.

use prometheus::core::Collector;
use prometheus::{IntCounterVec, Opts, Registry};

use super::outcome::{Breakdown, InputOutcome};
use crate::config::Config;

/// Where an input came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The watched directory.
    Directory,
    /// `POST /api/v1/reports`.
    Http,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Directory => "directory",
            Source::Http => "http",
        }
    }
}

/// The ingest families.
#[derive(Clone)]
pub struct IngestMetrics {
    /// `senderscope_ingest_total{source,kind,result}`.
    pub ingest_total: IntCounterVec,
    /// `senderscope_dmarc_reports_total{domain,reporter}`.
    pub dmarc_reports_total: IntCounterVec,
    /// `senderscope_dmarc_messages_total{domain,reporter,disposition,dkim_aligned,spf_aligned}`.
    pub dmarc_messages_total: IntCounterVec,
    /// `senderscope_tls_sessions_total{domain,reporter,result}`.
    pub tls_sessions_total: IntCounterVec,
}

impl IngestMetrics {
    /// Create the families and register them; returns them with their names (for docs/metrics.md).
    pub fn register(
        registry: &Registry,
    ) -> Result<(IngestMetrics, Vec<String>), prometheus::Error> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let m = IngestMetrics {
            ingest_total: counter(
                "senderscope_ingest_total",
                "Inputs ingested by the daemon, by source, kind and result (ok, duplicate, or the refusal code).",
                &["source", "kind", "result"],
            )?,
            dmarc_reports_total: counter(
                "senderscope_dmarc_reports_total",
                "DMARC aggregate reports stored, by policy domain and reporter.",
                &["domain", "reporter"],
            )?,
            dmarc_messages_total: counter(
                "senderscope_dmarc_messages_total",
                "Messages in stored DMARC aggregate reports, by disposition and DKIM/SPF alignment.",
                &[
                    "domain",
                    "reporter",
                    "disposition",
                    "dkim_aligned",
                    "spf_aligned",
                ],
            )?,
            tls_sessions_total: counter(
                "senderscope_tls_sessions_total",
                "SMTP TLS sessions in stored TLS reports, by result (successful, failed).",
                &["domain", "reporter", "result"],
            )?,
        };
        let mut names = Vec::new();
        for c in [
            &m.ingest_total,
            &m.dmarc_reports_total,
            &m.dmarc_messages_total,
            &m.tls_sessions_total,
        ] {
            names.extend(c.desc().iter().map(|d| d.fq_name.clone()));
            registry.register(Box::new(c.clone()))?;
        }
        Ok((m, names))
    }

    /// Count one input and what it stored (duplicates count nothing twice).
    pub fn observe(&self, source: Source, config: &Config, outcome: &InputOutcome) {
        self.ingest_total
            .with_label_values(&[
                source.as_str(),
                outcome.kind().as_str(),
                outcome.result_code(),
            ])
            .inc();
        for found in &outcome.reports {
            let domain = found
                .domain
                .as_deref()
                .filter(|d| config.domains.iter().any(|c| c.name.as_str() == *d))
                .unwrap_or("other");
            let reporter: String = found.reporter.chars().take(64).collect();
            if found.kind == super::ReportKind::DmarcAggregate && !found.breakdown.is_empty() {
                self.dmarc_reports_total
                    .with_label_values(&[domain, reporter.as_str()])
                    .inc();
            }
            for (what, n) in &found.breakdown {
                match what {
                    Breakdown::Dmarc(disposition, dkim, spf) => self
                        .dmarc_messages_total
                        .with_label_values(&[domain, reporter.as_str(), disposition, dkim, spf])
                        .inc_by(*n),
                    Breakdown::TlsSessions(result) => self
                        .tls_sessions_total
                        .with_label_values(&[domain, reporter.as_str(), result])
                        .inc_by(*n),
                }
            }
        }
    }
}
