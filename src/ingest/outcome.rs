//! What one input came to: the reports found in it (new or duplicate), the bounces and complaints,
//! the refusals, the warnings — and its JSON line for `senderscope ingest --format json` (docs/ingest.md).

use serde::Serialize;
use serde_json::{Value, json};

use super::error::IngestError;
use super::warnings::Warnings;
use super::{ReportKind, Stored};
use crate::events::store::Recorded;
use crate::events::{Bounce, Complaint, MessageEvents};

/// One report found in an input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// Its kind.
    pub kind: ReportKind,
    /// What the sink did with it.
    pub stored: Stored,
    /// The reporter (org name or email domain; the From address of a failure report).
    pub reporter: String,
    /// The report id (for failure reports, their identity fields).
    pub report_id: String,
    /// The policy domain it is about.
    pub domain: Option<String>,
    /// Aggregate: records; TLS: policies; failure: 1.
    pub records: u64,
    /// Aggregate: messages (sum of counts); TLS: sessions; failure: 1.
    pub messages: u64,
    /// Aggregate reports stored now: messages by (disposition, DKIM aligned, SPF aligned);
    /// TLS reports: `[successful, failed]` sessions as two entries. Empty otherwise.
    pub breakdown: Vec<(Breakdown, u64)>,
}

/// The bounces or complaints of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundEvents {
    /// [`ReportKind::Bounce`] or [`ReportKind::Complaint`].
    pub kind: ReportKind,
    /// What the message reports, one item per recipient (the JSON line's `bounces`/`complaints`).
    pub read: MessageEvents,
    /// The events counted now (for the metrics); the others were counted before.
    pub counted: Vec<Recorded>,
    /// Events already counted before (same message and recipient).
    pub duplicates: usize,
}

/// What a count in [`Found::breakdown`] is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Breakdown {
    /// Aggregate messages: disposition, DKIM aligned, SPF aligned.
    Dmarc(&'static str, &'static str, &'static str),
    /// TLS sessions: `successful` or `failed`.
    TlsSessions(&'static str),
}

/// The overall result of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Reports were read and at least one was new.
    Ok,
    /// Every report in it was already stored.
    Duplicate,
    /// It could not be read whole (the reason is in `error`); nothing of it is lost.
    Failed,
}

impl Status {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Duplicate => "duplicate",
            Status::Failed => "failed",
        }
    }
}

/// What one input came to.
#[derive(Debug, Default)]
pub struct InputOutcome {
    /// Reports found, in order.
    pub reports: Vec<Found>,
    /// Messages with bounces or complaints, in order.
    pub events: Vec<FoundEvents>,
    /// Refusals (the input's, or of parts of it), in order.
    pub errors: Vec<IngestError>,
    /// What was tolerated.
    pub warnings: Warnings,
    /// The kind of a report whose parser failed (so a failed line still says what it was).
    pub attempted: Option<ReportKind>,
}

impl InputOutcome {
    /// `failed` when anything was refused (or nothing found), `duplicate` when every report and
    /// every bounce or complaint was already stored, `ok` otherwise.
    pub fn status(&self) -> Status {
        if !self.errors.is_empty() || self.found_nothing() {
            Status::Failed
        } else if self.reports.iter().all(|r| r.stored == Stored::Duplicate)
            && self.events.iter().all(|e| e.counted.is_empty())
        {
            Status::Duplicate
        } else {
            Status::Ok
        }
    }

    fn found_nothing(&self) -> bool {
        self.reports.is_empty() && self.events.is_empty()
    }

    /// The kind of the first report (or bounce or complaint) found, else the kind that failed,
    /// else `unknown`.
    pub fn kind(&self) -> ReportKind {
        self.reports
            .first()
            .map(|r| r.kind)
            .or_else(|| self.events.first().map(|e| e.kind))
            .or(self.attempted)
            .unwrap_or(ReportKind::Unknown)
    }

    /// Every refusal in one sentence; the stable code of the first for metrics.
    pub fn error(&self) -> Option<String> {
        if self.errors.is_empty() && self.found_nothing() {
            return Some("no DMARC, TLS-RPT, ARF or DSN content found".into());
        }
        let parts: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The bounded reason code of the outcome (`ok`, `duplicate`, or the first refusal's code).
    pub fn result_code(&self) -> &'static str {
        match self.status() {
            Status::Ok => "ok",
            Status::Duplicate => "duplicate",
            Status::Failed => self
                .errors
                .first()
                .map_or("not_a_report", IngestError::reason),
        }
    }

    /// Records read, over every report.
    pub fn records(&self) -> u64 {
        self.reports.iter().map(|r| r.records).sum()
    }

    /// Messages, over every report.
    pub fn messages(&self) -> u64 {
        self.reports.iter().map(|r| r.messages).sum()
    }

    /// Reports, bounces and complaints that were already stored.
    pub fn duplicates(&self) -> u64 {
        let reports = self
            .reports
            .iter()
            .filter(|r| r.stored == Stored::Duplicate)
            .count();
        let events: usize = self.events.iter().map(|e| e.duplicates).sum();
        (reports + events) as u64
    }

    /// Failed recipients read (new or counted before).
    pub fn bounces(&self) -> Vec<&Bounce> {
        self.events
            .iter()
            .flat_map(|e| match &e.read {
                MessageEvents::Bounces(b) => b.as_slice(),
                _ => &[],
            })
            .collect()
    }

    /// Complaints read (new or counted before).
    pub fn complaints(&self) -> Vec<&Complaint> {
        self.events
            .iter()
            .flat_map(|e| match &e.read {
                MessageEvents::Complaints(c) => c.as_slice(),
                _ => &[],
            })
            .collect()
    }

    /// The JSON line of this input.
    pub fn json_line(&self, file: &str) -> Value {
        let mut line = json!({
            "file": file,
            "status": self.status(),
            "kind": self.kind(),
            "reports": self.reports.len(),
            "records": self.records(),
            "messages": self.messages(),
            "duplicates": self.duplicates(),
        });
        let (bounces, complaints) = (self.bounces(), self.complaints());
        if !bounces.is_empty() {
            line["bounces"] = json!(bounces);
        }
        if !complaints.is_empty() {
            line["complaints"] = json!(complaints);
        }
        if let Some(error) = self.error() {
            line["error"] = Value::String(error);
        }
        if !self.warnings.is_empty() {
            line["warnings"] = json!(self.warnings);
        }
        line
    }
}
