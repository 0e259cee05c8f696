//! What one input came to: the reports found in it (new or duplicate), the refusals, the warnings —
//! and its JSON line for `senderscope ingest --format json` (docs/ingest.md).

use serde::Serialize;
use serde_json::{Value, json};

use super::error::IngestError;
use super::warnings::Warnings;
use super::{ReportKind, Stored};

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
    /// Refusals (the input's, or of parts of it), in order.
    pub errors: Vec<IngestError>,
    /// What was tolerated.
    pub warnings: Warnings,
    /// The kind of a report whose parser failed (so a failed line still says what it was).
    pub attempted: Option<ReportKind>,
}

impl InputOutcome {
    /// `failed` when anything was refused (or nothing found), `duplicate` when every report was
    /// already stored, `ok` otherwise.
    pub fn status(&self) -> Status {
        if !self.errors.is_empty() || self.reports.is_empty() {
            Status::Failed
        } else if self.reports.iter().all(|r| r.stored == Stored::Duplicate) {
            Status::Duplicate
        } else {
            Status::Ok
        }
    }

    /// The kind of the first report found, else the kind that failed, else `unknown`.
    pub fn kind(&self) -> ReportKind {
        self.reports
            .first()
            .map(|r| r.kind)
            .or(self.attempted)
            .unwrap_or(ReportKind::Unknown)
    }

    /// Every refusal in one sentence; the stable code of the first for metrics.
    pub fn error(&self) -> Option<String> {
        if self.errors.is_empty() && self.reports.is_empty() {
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

    /// Reports that were already stored.
    pub fn duplicates(&self) -> u64 {
        self.reports
            .iter()
            .filter(|r| r.stored == Stored::Duplicate)
            .count() as u64
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
        if let Some(error) = self.error() {
            line["error"] = Value::String(error);
        }
        if !self.warnings.is_empty() {
            line["warnings"] = json!(self.warnings);
        }
        line
    }
}
