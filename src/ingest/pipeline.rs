//! The pipeline of one input: sniff, decode layer by layer (bounded), parse, hand to the sink. Each
//! report of an input stands alone: one that fails does not stop the others, and each refusal is kept
//! with its reason.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};

use mail_parser::Message;

use super::decode::{Budget, ZipMembers, gunzip, read_bounded};
use super::error::IngestError;
use super::formats::aggregate_model::{AggregateMeta, AggregateRecord};
use super::formats::dmarc_aggregate::{self, RecordSink};
use super::formats::{failure, tls_report};
use super::hash::{ContentHash, HashingReader};
use super::limits::Limits;
use super::message::{Candidate, FailureSource, Route, from_address, route};
use super::outcome::{Breakdown, Found, FoundEvents, InputOutcome};
use super::sniff::{Sniffed, skip_preamble, sniff};
use super::text::{SourceEncoding, Utf8Repair};
use super::{Admission, ReportKind, ReportSink, Stored};
use crate::events::MessageEvents;
use crate::events::classify::Classifier;
use crate::events::settings::EventSettings;
use crate::events::suppress::SuppressionPolicy;

/// How the bounces and complaints of messages are read and counted (the `events:` section): the
/// operator's classification rules and the suppression policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageRules {
    /// Status and diagnostic text → reason, the operator's rules first.
    pub classifier: Classifier,
    /// When an address goes on the suppression list.
    pub suppression: SuppressionPolicy,
}

impl From<&EventSettings> for MessageRules {
    fn from(s: &EventSettings) -> Self {
        MessageRules {
            classifier: s.classifier.clone(),
            suppression: s.suppression,
        }
    }
}

/// Read every report in `input` into `sink`, bounces and complaints with the built-in rules. Never
/// panics and never returns early: whatever happens is in the outcome.
pub fn ingest(input: &mut dyn BufRead, limits: &Limits, sink: &mut dyn ReportSink) -> InputOutcome {
    ingest_with(input, limits, &MessageRules::default(), sink)
}

/// [`ingest`] with the operator's rules for bounces and complaints.
pub fn ingest_with(
    input: &mut dyn BufRead,
    limits: &Limits,
    rules: &MessageRules,
    sink: &mut dyn ReportSink,
) -> InputOutcome {
    let mut run = Run {
        limits,
        rules,
        sink,
        budget: Budget::new(limits),
        outcome: InputOutcome::default(),
    };
    if let Err(e) = run.visit(input, 0) {
        run.outcome.errors.push(e);
    }
    run.outcome
}

struct Run<'a> {
    limits: &'a Limits,
    rules: &'a MessageRules,
    sink: &'a mut dyn ReportSink,
    budget: Budget,
    outcome: InputOutcome,
}

impl Run<'_> {
    fn visit(&mut self, reader: &mut dyn BufRead, layer: usize) -> Result<(), IngestError> {
        if layer > self.limits.max_layers {
            return Err(IngestError::TooLarge {
                what: "container nesting",
                limit: self.limits.max_layers as u64,
            });
        }
        if self.outcome.reports.len() >= self.limits.max_reports {
            return Err(IngestError::TooLarge {
                what: "report count of one input",
                limit: self.limits.max_reports as u64,
            });
        }
        let head = skip_preamble(reader).map_err(IngestError::from_io)?;
        if head.is_empty() {
            return Err(IngestError::NotAReport("the input is empty".into()));
        }
        match sniff(head) {
            Sniffed::Gzip => {
                let mut inner = BufReader::new(gunzip(reader, &self.budget, self.limits));
                self.visit(&mut inner, layer + 1)
            }
            Sniffed::Zip => self.zip(reader, layer),
            Sniffed::Xml => self.aggregate(reader),
            Sniffed::Json => self.tls(reader),
            Sniffed::Message => {
                let bytes = read_bounded(reader, self.limits)?;
                let message = crate::mail::parse(&bytes).ok_or_else(|| {
                    IngestError::NotAReport("the input is not a readable message".into())
                })?;
                self.message(&message, layer)
            }
            Sniffed::Unknown => Err(IngestError::NotAReport(describe(head))),
        }
    }

    fn zip(&mut self, reader: &mut dyn BufRead, layer: usize) -> Result<(), IngestError> {
        let bytes = read_bounded(reader, self.limits)?;
        let mut zip = ZipMembers::open(bytes, self.limits)?;
        for i in 0..zip.len() {
            let Some((name, bytes)) = zip.read(i, &self.budget, self.limits)? else {
                continue;
            };
            if let Err(e) = self.visit(&mut bytes.as_slice(), layer + 1) {
                self.outcome
                    .errors
                    .push(in_part(&format!("zip member {name:?}"), e));
            }
        }
        Ok(())
    }

    fn aggregate(&mut self, reader: &mut dyn BufRead) -> Result<(), IngestError> {
        let encoding = SourceEncoding::declared_in(reader.fill_buf().map_err(IngestError::Io)?);
        let mut hashing = HashingReader::new(reader, self.limits.max_decompressed_bytes);
        let mut text = Utf8Repair::new(&mut hashing, encoding);
        let mut adapter = Adapter {
            sink: &mut *self.sink,
            admission: None,
            tally: HashMap::new(),
        };
        let parsed = dmarc_aggregate::parse(&mut text, self.limits, &mut adapter);
        let repaired = text.repaired();
        let began = adapter.admission.is_some();
        let mut breakdown: Vec<(Breakdown, u64)> = adapter.tally.into_iter().collect();
        breakdown.sort();
        let result = parsed.and_then(|summary| {
            let hash = hashing.finish().map_err(IngestError::from_io)?;
            Ok((summary, hash))
        });
        let (mut summary, hash) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if began {
                    self.sink.abort_aggregate();
                }
                if !matches!(e, IngestError::NotAReport(_)) {
                    self.outcome.attempted = Some(ReportKind::DmarcAggregate);
                }
                return Err(e);
            }
        };
        if repaired > 0 {
            summary.warnings.push(format!(
                "{repaired} byte(s) were not valid UTF-8 and were read as windows-1252"
            ));
        }
        let stored = self.sink.finish_aggregate(&summary, &hash)?;
        if stored != Stored::New {
            breakdown.clear();
        }
        let meta = &summary.meta;
        self.outcome.reports.push(Found {
            kind: ReportKind::DmarcAggregate,
            stored,
            reporter: meta.reporter(),
            report_id: meta.report_id.clone(),
            domain: Some(meta.policy.domain.clone()),
            records: summary.records,
            messages: summary.messages,
            breakdown,
        });
        self.outcome.warnings.merge(summary.warnings);
        Ok(())
    }

    fn tls(&mut self, reader: &mut dyn BufRead) -> Result<(), IngestError> {
        let bytes = read_bounded(reader, self.limits)?;
        let report = tls_report::parse(&bytes, &mut self.outcome.warnings).inspect_err(|e| {
            if !matches!(e, IngestError::NotAReport(_)) {
                self.outcome.attempted = Some(ReportKind::TlsReport);
            }
        })?;
        let stored = self.sink.tls_report(&report, &ContentHash::of(&bytes))?;
        self.outcome.reports.push(Found {
            kind: ReportKind::TlsReport,
            reporter: report.organization.to_ascii_lowercase(),
            report_id: report.report_id.clone(),
            domain: report.policy_domain().map(str::to_owned),
            records: report.policies.len() as u64,
            messages: report.successful_sessions() + report.failed_sessions(),
            breakdown: if stored == Stored::New {
                vec![
                    (
                        Breakdown::TlsSessions("successful"),
                        report.successful_sessions(),
                    ),
                    (Breakdown::TlsSessions("failed"), report.failed_sessions()),
                ]
            } else {
                Vec::new()
            },
            stored,
        });
        Ok(())
    }

    fn message(&mut self, message: &Message<'_>, layer: usize) -> Result<(), IngestError> {
        match route(message) {
            Route::Reports(candidates) => {
                if candidates.is_empty() {
                    return Err(IngestError::NotAReport(
                        "no DMARC, TLS-RPT, ARF or DSN content found in the message".into(),
                    ));
                }
                for (i, candidate) in candidates.into_iter().enumerate() {
                    let result = match candidate {
                        Candidate::Bytes(mut bytes) => self.visit(&mut bytes, layer + 1),
                        Candidate::Message(inner) if layer < self.limits.max_layers => {
                            self.message(inner, layer + 1)
                        }
                        Candidate::Message(_) => Err(IngestError::TooLarge {
                            what: "message nesting",
                            limit: self.limits.max_layers as u64,
                        }),
                    };
                    if let Err(e) = result {
                        self.outcome
                            .errors
                            .push(in_part(&format!("MIME part {}", i + 1), e));
                    }
                }
                Ok(())
            }
            Route::DmarcFailure(source) => {
                self.outcome.attempted = Some(ReportKind::DmarcFailure);
                let reporter = from_address(message);
                let report = match source {
                    FailureSource::Arf(fields) => failure::parse_arf(fields, reporter)?,
                    FailureSource::PlainText(text) => failure::parse_plain_text(text, reporter)?,
                };
                let stored = self
                    .sink
                    .failure_report(&report, &ContentHash::of(message.raw_message()))?;
                self.outcome.reports.push(Found {
                    kind: ReportKind::DmarcFailure,
                    stored,
                    reporter: report.reporter.clone().unwrap_or_default(),
                    report_id: report.identity(),
                    domain: report.reported_domain.clone(),
                    records: 1,
                    messages: 1,
                    breakdown: Vec::new(),
                });
                Ok(())
            }
            Route::Events => self.events(message),
        }
    }

    /// A message that may carry bounces or complaints: read by the events parser, counted under
    /// keys derived from the message (its Message-ID and each recipient), so reading it again from
    /// any source counts nothing twice.
    fn events(&mut self, message: &Message<'_>) -> Result<(), IngestError> {
        let raw = message.raw_message();
        let read = crate::events::read_message_with(raw, &self.rules.classifier);
        let kind = match &read {
            MessageEvents::Bounces(_) => ReportKind::Bounce,
            MessageEvents::Complaints(_) => ReportKind::Complaint,
            MessageEvents::NotABounce { why } => {
                return Err(IngestError::NotAReport(format!("{why}; nothing to count")));
            }
            MessageEvents::Unrecognized => {
                return Err(IngestError::NotAReport(
                    "no DMARC, TLS-RPT, ARF or DSN content found in the message".into(),
                ));
            }
        };
        self.outcome.attempted = Some(kind);
        let key = crate::events::ingest::message_key(raw);
        let batch = crate::events::ingest::recorded(&read, &key, event_time(message));
        if batch.is_empty() {
            return Err(IngestError::NotAReport(format!(
                "a {} that names no usable recipient address",
                kind.as_str()
            )));
        }
        let stored = self.sink.message_events(&batch, &self.rules.suppression)?;
        let counted = batch
            .into_iter()
            .zip(&stored.fresh)
            .filter(|(_, fresh)| **fresh)
            .map(|(r, _)| r)
            .collect();
        self.outcome.events.push(FoundEvents {
            kind,
            read,
            counted,
            duplicates: stored.duplicates,
        });
        Ok(())
    }
}

/// When a bounce or complaint happened: the message's `Date` (RFC 5322 §3.6.1: when its author, here
/// the reporting MTA or feedback loop, wrote it), so a backfill lands in the right minutes; the time
/// of reading when the date is missing or in the future.
fn event_time(message: &Message<'_>) -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    message
        .date()
        .map(|d| d.to_timestamp())
        .filter(|&t| t > 0 && t <= now)
        .unwrap_or(now)
}

/// Say which part of an input a refusal came from.
fn in_part(part: &str, e: IngestError) -> IngestError {
    match e {
        IngestError::Malformed(m) => IngestError::Malformed(format!("{part}: {m}")),
        IngestError::NotAReport(m) => IngestError::NotAReport(format!("{part}: {m}")),
        other => other,
    }
}

/// A refusal for content that is none of the known formats, quoting its start.
fn describe(head: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(&head[..head.len().min(24)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    format!(
        "not a report: the content starts with {shown:?} (not XML, JSON, gzip, zip or a message)"
    )
}

/// Connects the streaming parser to the sink, remembering whether the report's records are wanted.
struct Adapter<'s> {
    sink: &'s mut dyn ReportSink,
    admission: Option<Admission>,
    /// Messages by (disposition, DKIM aligned, SPF aligned), for the metrics.
    tally: HashMap<Breakdown, u64>,
}

impl RecordSink for Adapter<'_> {
    fn begin(&mut self, meta: &AggregateMeta) -> Result<(), IngestError> {
        self.admission = Some(self.sink.begin_aggregate(meta)?);
        Ok(())
    }

    fn records(&mut self, batch: &[AggregateRecord]) -> Result<(), IngestError> {
        if self.admission != Some(Admission::Store) {
            return Ok(());
        }
        for r in batch {
            let key = Breakdown::Dmarc(
                r.disposition.as_str(),
                r.dkim_aligned.as_str(),
                r.spf_aligned.as_str(),
            );
            *self.tally.entry(key).or_default() += r.count;
        }
        self.sink.aggregate_records(batch)
    }
}

#[cfg(test)]
mod tests;
