//! The ingest metric families, registered into the daemon's registry from `metrics.rs`. Labels are
//! bounded (docs/metrics.md): `source` and `kind` and `result` from code; `domain` is a configured
//! domain or `other`; `reporter` is the reporting organisation (a few dozen in practice), cut to 64
//! characters — never an IP address or a report id. The bounces and complaints an input carried are
//! counted in the events families (`crate::events::metrics`), once [`IngestMetrics::with_events`]
//! has joined them; the IMAP source's own work is in [`ImapMetrics`].

use prometheus::core::Collector;
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

use super::outcome::{Breakdown, InputOutcome};
use crate::config::Config;
use crate::events::metrics::EventMetrics;

/// Where an input came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The watched directory.
    Directory,
    /// `POST /api/v1/reports`.
    Http,
    /// The IMAP mailbox (`ingest.imap`).
    Imap,
}

impl Source {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Directory => "directory",
            Source::Http => "http",
            Source::Imap => "imap",
        }
    }
}

/// Why an IMAP session ended or could not start: the `result` of `senderscope_imap_sessions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Stopped on purpose (shutdown, a changed configuration).
    Closed,
    /// The TCP connection could not be made or broke.
    Connect,
    /// The TLS handshake (or STARTTLS) failed: certificate, name, protocol.
    Tls,
    /// The server refused the login.
    Login,
    /// The mailbox or a folder could not be selected or created.
    Mailbox,
    /// The server answered something unexpected, or a command failed.
    Protocol,
    /// No answer within the timeout.
    Timeout,
}

impl SessionEnd {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::Closed => "closed",
            SessionEnd::Connect => "connect",
            SessionEnd::Tls => "tls",
            SessionEnd::Login => "login",
            SessionEnd::Mailbox => "mailbox",
            SessionEnd::Protocol => "protocol",
            SessionEnd::Timeout => "timeout",
        }
    }
}

/// The IMAP source's own work.
#[derive(Clone)]
pub struct ImapMetrics {
    /// `senderscope_imap_connected`: 1 while a session is logged in with its mailbox selected.
    pub connected: IntGauge,
    /// `senderscope_imap_sessions_total{result}`: sessions ended, by why.
    pub sessions_total: IntCounterVec,
    /// `senderscope_imap_moves_total{folder,result}`: messages moved (or copied and expunged) to
    /// the processed or failed folder.
    pub moves_total: IntCounterVec,
    /// `senderscope_imap_last_poll_timestamp_seconds`: when the mailbox was last read to the end.
    pub last_poll: IntGauge,
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
    /// The IMAP source's families.
    pub imap: ImapMetrics,
    /// Where the bounces and complaints of ingested messages are counted.
    events: Option<EventMetrics>,
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
            imap: ImapMetrics {
                connected: IntGauge::new(
                    "senderscope_imap_connected",
                    "1 while the IMAP source is logged in with its mailbox selected, else 0.",
                )?,
                sessions_total: counter(
                    "senderscope_imap_sessions_total",
                    "IMAP sessions ended, by why (closed, connect, tls, login, mailbox, protocol, timeout).",
                    &["result"],
                )?,
                moves_total: counter(
                    "senderscope_imap_moves_total",
                    "Messages moved out of the IMAP mailbox after their content was committed, by folder (processed, failed) and result (ok, error).",
                    &["folder", "result"],
                )?,
                last_poll: IntGauge::new(
                    "senderscope_imap_last_poll_timestamp_seconds",
                    "When the IMAP mailbox was last read to the end, Unix seconds (0 before the first time).",
                )?,
            },
            events: None,
        };
        let mut names = Vec::new();
        let collectors: [Box<dyn Collector>; 8] = [
            Box::new(m.ingest_total.clone()),
            Box::new(m.dmarc_reports_total.clone()),
            Box::new(m.dmarc_messages_total.clone()),
            Box::new(m.tls_sessions_total.clone()),
            Box::new(m.imap.connected.clone()),
            Box::new(m.imap.sessions_total.clone()),
            Box::new(m.imap.moves_total.clone()),
            Box::new(m.imap.last_poll.clone()),
        ];
        for c in collectors {
            names.extend(c.desc().iter().map(|d| d.fq_name.clone()));
            registry.register(c)?;
        }
        Ok((m, names))
    }

    /// Count the bounces and complaints of ingested messages in `events` from now on.
    pub fn with_events(mut self, events: EventMetrics) -> IngestMetrics {
        self.events = Some(events);
        self
    }

    /// Count one input and what it stored (duplicates count nothing twice).
    pub fn observe(&self, source: Source, config: &Config, outcome: &InputOutcome) {
        if let Some(events) = &self.events
            && !outcome.events.is_empty()
        {
            let configured: Vec<String> = config
                .domains
                .iter()
                .map(|d| d.name.as_str().to_owned())
                .collect();
            events.observe(
                outcome.events.iter().flat_map(|e| e.counted.iter()),
                &configured,
            );
        }
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
