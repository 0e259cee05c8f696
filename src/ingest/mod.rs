//! Report ingestion: `RawInput → sniff → decode (bounded) → parse → sink → outcome`.
//!
//! - [`sniff`]: what the bytes are (gzip, zip, XML, JSON, message), whatever the name says.
//! - [`decode`]: gzip and zip within a decompressed-size and ratio budget; [`text`]: any encoding
//!   into UTF-8; [`hash`]: the content hash computed on the way.
//! - [`message`]: MIME messages and [`message::route`], which decides what a message is; bounces
//!   and complaints go on to `crate::events` and are counted in the events tables.
//! - [`formats`]: the parsers (DMARC aggregate, TLS-RPT, DMARC failure).
//! - [`store`]: the write path into the state database (idempotent: duplicate key + content hash).
//! - [`service`]: the process's one writer per database; [`sources`]: the watched directory and
//!   the IMAP mailbox.
//! - [`outcome`]: what one input came to (the JSON line of `senderscope ingest`).
//! - [`limits`], [`error`], [`warnings`]: bounds, refusals and what was tolerated.
//!
//! docs/ingest.md describes the formats, the quirks tolerated, and what lands where.

pub mod decode;
pub mod error;
pub mod formats;
pub mod hash;
pub mod limits;
pub mod message;
pub mod metrics;
pub mod outcome;
pub mod service;
pub mod sniff;
pub mod sources;
pub mod store;
pub mod text;
pub mod warnings;

mod pipeline;

use serde::Serialize;

use formats::aggregate_model::{AggregateMeta, AggregateRecord};
use formats::dmarc_aggregate::AggregateSummary;
use formats::failure::FailureReport;
use formats::tls_report::TlsReport;

use crate::events::store::{RecordOutcome, Recorded};
use crate::events::suppress::SuppressionPolicy;

pub use error::IngestError;
pub use hash::ContentHash;
pub use limits::Limits;
pub use outcome::{InputOutcome, Status};
pub use pipeline::{MessageRules, ingest, ingest_with};

/// The bounds the fuzz target and its replay test run with: the defaults, with a decompressed
/// budget small enough that a generated bomb is refused quickly.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_decompressed_bytes: 16 << 20,
        max_buffered_bytes: 4 << 20,
        ..Limits::default()
    }
}

/// What a report (or an input) is: the `kind` of the JSON line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A DMARC aggregate report (RFC 9990).
    DmarcAggregate,
    /// An SMTP TLS report (RFC 8460).
    TlsReport,
    /// A DMARC failure report (RFC 9991).
    DmarcFailure,
    /// A bounce (RFC 3464 delivery status notification, or an MTA's plain-text layout).
    Bounce,
    /// A complaint (ARF feedback report, RFC 5965, of a type other than `auth-failure`).
    Complaint,
    /// Nothing this pipeline reads.
    Unknown,
}

impl ReportKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::DmarcAggregate => "dmarc_aggregate",
            ReportKind::TlsReport => "tls_report",
            ReportKind::DmarcFailure => "dmarc_failure",
            ReportKind::Bounce => "bounce",
            ReportKind::Complaint => "complaint",
            ReportKind::Unknown => "unknown",
        }
    }
}

/// Whether the records of an aggregate report are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A new report: store its records.
    Store,
    /// Its key is already stored: read on only to compare the content hash.
    Skip,
}

/// What the sink did with a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// Stored for the first time.
    New,
    /// The same report (same key and content) was already stored.
    Duplicate,
    /// The key was stored with other content: the first copy counts, this one is logged and kept
    /// in the ledger.
    Conflict,
}

/// Where typed reports go: the store, or nowhere for `--dry-run`.
pub trait ReportSink {
    /// An aggregate report begins (its identity complete).
    fn begin_aggregate(&mut self, meta: &AggregateMeta) -> Result<Admission, IngestError>;
    /// A batch of its records (only after [`Admission::Store`]).
    fn aggregate_records(&mut self, batch: &[AggregateRecord]) -> Result<(), IngestError>;
    /// The report ended; commit it.
    fn finish_aggregate(
        &mut self,
        summary: &AggregateSummary,
        hash: &ContentHash,
    ) -> Result<Stored, IngestError>;
    /// The report failed after it began; forget what was written.
    fn abort_aggregate(&mut self);
    /// A whole TLS report.
    fn tls_report(&mut self, report: &TlsReport, hash: &ContentHash)
    -> Result<Stored, IngestError>;
    /// A whole failure report.
    fn failure_report(
        &mut self,
        report: &FailureReport,
        hash: &ContentHash,
    ) -> Result<Stored, IngestError>;
    /// The bounces or complaints of one message, each keyed for idempotency
    /// ([`crate::events::ingest::recorded`]): counted in one transaction, those whose key was
    /// counted before skipped.
    fn message_events(
        &mut self,
        batch: &[Recorded],
        policy: &SuppressionPolicy,
    ) -> Result<RecordOutcome, IngestError>;
}

/// A sink that stores nothing and calls every report new (`senderscope ingest --dry-run`).
#[derive(Debug, Default)]
pub struct DryRun;

impl ReportSink for DryRun {
    fn begin_aggregate(&mut self, _: &AggregateMeta) -> Result<Admission, IngestError> {
        Ok(Admission::Store)
    }
    fn aggregate_records(&mut self, _: &[AggregateRecord]) -> Result<(), IngestError> {
        Ok(())
    }
    fn finish_aggregate(
        &mut self,
        _: &AggregateSummary,
        _: &ContentHash,
    ) -> Result<Stored, IngestError> {
        Ok(Stored::New)
    }
    fn abort_aggregate(&mut self) {}
    fn tls_report(&mut self, _: &TlsReport, _: &ContentHash) -> Result<Stored, IngestError> {
        Ok(Stored::New)
    }
    fn failure_report(
        &mut self,
        _: &FailureReport,
        _: &ContentHash,
    ) -> Result<Stored, IngestError> {
        Ok(Stored::New)
    }
    fn message_events(
        &mut self,
        batch: &[Recorded],
        _: &SuppressionPolicy,
    ) -> Result<RecordOutcome, IngestError> {
        Ok(RecordOutcome {
            counted: batch.len(),
            duplicates: 0,
            fresh: vec![true; batch.len()],
        })
    }
}
