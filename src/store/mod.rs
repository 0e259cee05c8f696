//! The state store: what checks found, what records were published, when listings began and ended.
//! Each later feature adds its own tables with its own migration.
//!
//! - [`Store`]: the trait the daemon, HTTP and jobs use (SQLite now; PostgreSQL to scale out).
//! - [`sqlite::SqliteStore`]: one writer thread owning the connection, fed by a channel, batching writes
//!   into transactions; readers on their own connections; WAL.
//! - `migrate`: `PRAGMA user_version` migrations from numbered SQL files, applied at open.
//!
//! Methods return boxed futures so the daemon can hold an `Arc<dyn Store>`.

pub mod gate;
mod migrate;
pub mod sqlite;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::findings::{CheckReport, Finding, Severity};
use crate::results::{CheckFacts, CheckId, Target};

pub use migrate::{MIGRATIONS, Migration};
pub use sqlite::SqliteStore;

/// What every store method returns.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// A store failure. Cheap to clone: one failed commit is reported to every write in its batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database refused an operation.
    #[error("{context}: {source}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The backend's error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A migration failed (the database is left at the previous version).
    #[error("applying migration {version} ({name}): {source}")]
    Migration {
        /// Migration number.
        version: u32,
        /// Its file name.
        name: &'static str,
        /// The backend's error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The database was written by a newer senderscope.
    #[error(
        "the database is at schema version {found}, newer than this binary knows ({known}); upgrade senderscope"
    )]
    TooNew {
        /// `user_version` found.
        found: u32,
        /// The latest migration this binary has.
        known: u32,
    },
    /// Data read back does not have the shape this binary writes.
    #[error("malformed stored data: {0}")]
    Malformed(String),
    /// The writer has stopped (the store was closed or its thread died).
    #[error("the store is closed")]
    Closed,
    /// The last write could not be committed; until one is, the daemon is not ready.
    #[error("the store cannot commit: {0}")]
    Unhealthy(String),
    /// SQLite's quick check found the file damaged at start.
    #[error(
        "the database file is damaged ({0}); stop senderscope, move the file (and its -wal and -shm files) aside or restore a backup, then start again: an empty state is created and the stored results and history of the moved file are lost (`sqlite3 FILE .recover` may save some)"
    )]
    Damaged(String),
    /// Another process holds the state file's lock.
    #[error(
        "another senderscope is already using this state file (the lock on {0} is held); stop it, or give this one its own state.path"
    )]
    Locked(PathBuf),
}

impl StoreError {
    pub(crate) fn db(
        context: &'static str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Database {
            context,
            source: Arc::new(e),
        }
    }
}

/// A finding as read back from the store (codes are strings here: the store outlives code renames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    /// Dotted finding code.
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// The sentence shown to humans.
    pub message: String,
    /// Machine-readable facts.
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl From<&Finding> for StoredFinding {
    fn from(f: &Finding) -> Self {
        StoredFinding {
            code: f.code.as_str().to_owned(),
            severity: f.severity,
            message: f.message.clone(),
            detail: f.detail.clone(),
        }
    }
}

/// The latest result of one check on one target: what the store returns, and what the latest state
/// holds (`results::LatestState`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCheck {
    /// Domain, IP or `@blocklists`.
    pub target: Target,
    /// Which check.
    pub check: CheckId,
    /// Worst finding.
    pub status: Severity,
    /// The record(s) read.
    pub record: Option<String>,
    /// What was found.
    pub findings: Vec<StoredFinding>,
    /// When the latest run happened (Unix seconds).
    pub checked_at: i64,
    /// Since when the outcome has been the same (Unix seconds).
    pub since: i64,
    /// How long the latest run took (milliseconds).
    pub duration_ms: u64,
    /// The typed facts behind the result.
    pub facts: CheckFacts,
}

/// A check result to store: the report and the typed facts behind it.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// What the check found.
    pub report: CheckReport,
    /// What it learned beyond its findings.
    pub facts: CheckFacts,
}

impl From<CheckReport> for CheckResult {
    fn from(report: CheckReport) -> Self {
        CheckResult {
            report,
            facts: CheckFacts::None,
        }
    }
}

/// A published value seen by a check (a record's text at a DNS name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordObservation {
    /// Domain or IP.
    pub target: String,
    /// Which check read it.
    pub check: CheckId,
    /// The DNS name read.
    pub name: String,
    /// The value as published.
    pub value: String,
    /// When (Unix seconds).
    pub seen_at: i64,
}

/// A value that differs from the one seen before (what raises `record.changed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordChange {
    /// Domain or IP.
    pub target: String,
    /// Which check read it.
    pub check: CheckId,
    /// The DNS name.
    pub name: String,
    /// The previous value.
    pub old_value: String,
    /// Since when the previous value was seen.
    pub old_first_seen: i64,
    /// When the previous value was last seen.
    pub old_last_seen: i64,
    /// The new value.
    pub new_value: String,
    /// When the change was seen.
    pub changed_at: i64,
}

/// One version of a published value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordVersion {
    /// The DNS name.
    pub name: String,
    /// The value.
    pub value: String,
    /// First seen (Unix seconds).
    pub first_seen: i64,
    /// Last seen (Unix seconds).
    pub last_seen: i64,
}

/// A definitive blocklist answer for one (target, zone). "Refused" and "lookup failed" are not
/// observations: they say nothing about the listing, so they must not open or close a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingObservation {
    /// Configured IP or domain.
    pub target: String,
    /// Blocklist zone (never a DQS key).
    pub zone: String,
    /// Listed or not.
    pub listed: Option<Listed>,
    /// When (Unix seconds).
    pub at: i64,
}

/// What a listing answer said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// The answer codes (`127.0.0.2`, …).
    pub codes: Vec<String>,
    /// The list's TXT reason, if any.
    pub reason: Option<String>,
}

/// One listing period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingPeriod {
    /// Configured IP or domain.
    pub target: String,
    /// Blocklist zone.
    pub zone: String,
    /// The latest answer codes.
    pub codes: Vec<String>,
    /// The latest TXT reason.
    pub reason: Option<String>,
    /// When the listing was first seen (Unix seconds).
    pub listed_since: i64,
    /// When it was last seen listed.
    pub last_seen: i64,
    /// When it was first seen delisted (`None` while listed).
    pub delisted_at: Option<i64>,
}

/// How an observation changed a (target, zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingTransition {
    /// Same as before (listed and still listed, or clean and still clean).
    Unchanged,
    /// A new listing began.
    Started,
    /// A listing ended.
    Ended,
}

/// The result of one [`ListingObservation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingUpdate {
    /// What changed.
    pub transition: ListingTransition,
    /// The open period (or the one just closed); `None` when not listed before or now.
    pub period: Option<ListingPeriod>,
}

/// One alert of the alert engine as stored (its record is the engine's JSON; the store does not
/// read inside it).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    /// Its identity (alertname and labels).
    pub key: String,
    /// `pending`, `firing` or `resolved`.
    pub phase: String,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
    /// The engine's record.
    pub record: serde_json::Value,
}

/// Rows removed by retention pruning, per table.
pub type PruneReport = BTreeMap<&'static str, u64>;

/// The state store. Writes are committed before their future resolves (nothing is acknowledged
/// before it is stored). Reads borrow their arguments; writes take their rows by value, because they
/// travel to the writer (another thread) and would be copied there anyway.
pub trait Store: Send + Sync + 'static {
    /// The store answers a trivial query (readiness).
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Rows per table (status and diagnostics).
    fn counts(&self) -> StoreFuture<'_, BTreeMap<String, u64>>;

    /// Store check results with their facts; returns each as stored (with `since`). An outcome
    /// identical to the latest one for its (target, check) — status, record, findings and facts —
    /// extends that span instead of adding a row.
    fn save_results(&self, results: Vec<CheckResult>) -> StoreFuture<'_, Vec<StoredCheck>>;

    /// Store check results without facts (see [`Store::save_results`]).
    fn save_checks(&self, reports: Vec<CheckReport>) -> StoreFuture<'_, Vec<StoredCheck>> {
        self.save_results(reports.into_iter().map(CheckResult::from).collect())
    }

    /// The latest result of every (target, check), or only those of `target`: one query. Rows this
    /// binary cannot read (a check name from another version) are skipped with a warning.
    fn latest_checks<'a>(&'a self, target: Option<&'a str>) -> StoreFuture<'a, Vec<StoredCheck>>;

    /// The results of `check` on `target`, newest first, at most `limit`: one per span of identical
    /// outcomes (`since` … `checked_at`).
    fn check_history<'a>(
        &'a self,
        target: &'a str,
        check: CheckId,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredCheck>>;

    /// Record the values checks read. Returns a [`RecordChange`] for every observed value that differs
    /// from the one before it and took over at or after `changed_since` (Unix seconds): the changes seen
    /// now, and — with `changed_since` in the past — the recent ones still in force.
    fn observe_records(
        &self,
        seen: Vec<RecordObservation>,
        changed_since: i64,
    ) -> StoreFuture<'_, Vec<RecordChange>>;

    /// Every stored version of the values read by `check` on `target`, oldest first.
    fn record_history<'a>(
        &'a self,
        target: &'a str,
        check: CheckId,
    ) -> StoreFuture<'a, Vec<RecordVersion>>;

    /// Apply definitive blocklist answers: open, extend or close listing periods.
    fn observe_listings(
        &self,
        seen: Vec<ListingObservation>,
    ) -> StoreFuture<'_, Vec<ListingUpdate>>;

    /// Listing periods still open, or every period of `target` (open and closed) when given.
    fn listings<'a>(&'a self, target: Option<&'a str>) -> StoreFuture<'a, Vec<ListingPeriod>>;

    /// In one read, what a blocklist round needs of every target: the open periods and those that
    /// ended at or after `ended_since` (Unix seconds).
    fn listing_history(&self, ended_since: i64) -> StoreFuture<'_, Vec<ListingPeriod>>;

    /// Remove history last seen before `before` (Unix seconds). Current state is never older than
    /// the retention period unless its target was removed from the configuration.
    fn prune(&self, before: i64) -> StoreFuture<'_, PruneReport>;

    /// Every alert the alert engine keeps.
    fn alerts(&self) -> StoreFuture<'_, Vec<StoredAlert>>;

    /// Write changed alerts and delete those gone, in one transaction.
    fn save_alerts(&self, upserts: Vec<StoredAlert>, removed: Vec<String>) -> StoreFuture<'_, ()>;

    /// Commit what is queued and stop the writer; later writes fail with [`StoreError::Closed`].
    fn close(&self) -> StoreFuture<'_, ()>;
}
