//! The ingest write path: its own SQLite connection to the state database (WAL, busy timeout), so a
//! large report streams into the database in batches without going through the daemon's store queue.
//!
//! Idempotency (docs/ingest.md): an aggregate report's key is (reporter, report id, policy domain,
//! begin, end); a TLS report's (organization, report id); a failure report's its identity fields.
//! A key already stored with the same content hash is a duplicate; with other content a conflict,
//! logged and kept in `report_ledger` while the first copy keeps counting. An aggregate report's
//! records go in transactions of [`RECORDS_PER_TX`] under a `loading` report row, made `complete`
//! in the last one: a crash leaves a `loading` row that the next attempt replaces, never a half
//! report that counts.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::error::IngestError;
use super::formats::aggregate_model::{AggregateMeta, AggregateRecord, DkimResult};
use super::formats::dmarc_aggregate::AggregateSummary;
use super::formats::failure::FailureReport;
use super::formats::tls_report::TlsReport;
use super::hash::ContentHash;
use super::{Admission, ReportKind, ReportSink, Stored};
use crate::events::store::{RecordOutcome, Recorded};
use crate::events::suppress::SuppressionPolicy;
use crate::store::gate::{self, WriteTurn};
use crate::store::{SqliteStore, StoreError};

/// Records per write transaction: large enough to amortise the commit, small enough that the
/// daemon's own writer never waits long for the lock.
pub const RECORDS_PER_TX: usize = 50_000;
/// Distinct (domain, selector) pairs tracked per report.
const MAX_SELECTORS: usize = 10_000;
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

fn store_err(context: &str) -> impl Fn(rusqlite::Error) -> IngestError + '_ {
    move |e| IngestError::Store(format!("{context}: {e}"))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The aggregate report being written.
struct Loading {
    uid: String,
    key: String,
    meta: AggregateMeta,
    admission: Admission,
    existing_hash: Option<String>,
    seq: i64,
    in_tx: usize,
    selectors: HashMap<(String, String), (u64, u64)>,
}

/// The ingest writer. One per process; not shared between threads.
pub struct IngestStore {
    conn: Connection,
    loading: Option<Loading>,
    /// This connection's place in the daemon's write queue while its transaction is open.
    turn: Cell<Option<WriteTurn>>,
}

impl IngestStore {
    /// Open the state database at `path` (applying migrations through the daemon's store first).
    pub fn open(path: &Path) -> Result<IngestStore, IngestError> {
        // Migrations live with the daemon's store; opening it once brings the schema up to date.
        // Inside the daemon the store is already open (and holds the state file's lock): its start
        // applied the migrations, so this connection opens beside it.
        match SqliteStore::open(path) {
            Ok(store) => drop(store),
            Err(StoreError::Locked(_)) => {}
            Err(e) => return Err(IngestError::Store(e.to_string())),
        }
        let conn = Connection::open(path).map_err(store_err("opening the state database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(store_err("setting the busy timeout"))?;
        // WAL is already set by the store; FULL: a report is on disk before its source is moved or
        // acknowledged.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(store_err("setting pragmas"))?;
        Ok(IngestStore {
            conn,
            loading: None,
            turn: Cell::new(None),
        })
    }

    /// Delete reports that ended before `now - retention` (and their records and ledger rows).
    pub fn prune(&mut self, retention: Duration) -> Result<u64, IngestError> {
        let cutoff = now().saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX));
        let _turn = gate::enter(BUSY_TIMEOUT);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_err("starting the retention transaction"))?;
        let mut removed = 0;
        for sql in [
            "DELETE FROM aggregate_records WHERE end_at < ?1",
            "DELETE FROM aggregate_reports WHERE end_at < ?1",
            "DELETE FROM tls_reports WHERE end_at < ?1",
            "DELETE FROM failure_reports WHERE received_at < ?1",
            "DELETE FROM report_ledger WHERE last_seen < ?1",
            "DELETE FROM dkim_selectors_seen WHERE last_seen < ?1",
            // Reverse-DNS answers (migration 0007) that expired before the cutoff.
            "DELETE FROM source_enrichment WHERE expires_at < ?1",
            // Refused inputs (migration 0008), read by the ingest_failures alert rule.
            "DELETE FROM ingest_failures WHERE at < ?1",
        ] {
            removed += tx
                .execute(sql, [cutoff])
                .map_err(store_err("applying retention"))? as u64;
        }
        tx.commit().map_err(store_err("committing retention"))?;
        Ok(removed)
    }

    /// Roll back a transaction a failed write left open, so this connection never keeps the
    /// database's write lock between inputs (the daemon's own writer waits on it).
    pub fn release(&mut self) {
        self.abort_aggregate();
        if !self.conn.is_autocommit() {
            self.rollback();
        }
    }

    fn begin_tx(&self) -> Result<(), IngestError> {
        // A write that failed half-way left its transaction open: roll it back rather than refuse
        // every later report.
        if !self.conn.is_autocommit() {
            self.rollback();
        }
        // Queue behind the daemon's other writers (crate::store::gate), so report after report
        // never starves them.
        self.turn.set(gate::enter(BUSY_TIMEOUT));
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .inspect_err(|_| drop(self.turn.take()))
            .map_err(store_err("starting a write transaction"))
    }

    fn commit(&self) -> Result<(), IngestError> {
        let committed = self
            .conn
            .execute_batch("COMMIT")
            .map_err(store_err("committing"));
        if self.conn.is_autocommit() {
            drop(self.turn.take());
        }
        committed
    }

    /// Roll back the open transaction and give up the write turn.
    fn rollback(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
        drop(self.turn.take());
    }

    fn ledger(
        &self,
        kind: ReportKind,
        key: &str,
        hash: &str,
        outcome: &Stored,
    ) -> Result<(), IngestError> {
        let outcome = match outcome {
            Stored::New => "new",
            Stored::Duplicate => "duplicate",
            Stored::Conflict => "conflict",
        };
        let t = now();
        self.conn
            .execute(
                "INSERT INTO report_ledger (kind, report_key, content_hash, outcome, times, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)
                 ON CONFLICT (kind, report_key, content_hash)
                 DO UPDATE SET times = times + 1, last_seen = excluded.last_seen",
                params![kind.as_str(), key, hash, outcome, t],
            )
            .map_err(store_err("writing the ingest ledger"))?;
        Ok(())
    }

    /// The outcome for a key already stored with `existing` content.
    fn judge(existing: &str, hash: &str, kind: ReportKind, key: &str) -> Stored {
        if existing == hash {
            Stored::Duplicate
        } else {
            tracing::warn!(
                kind = kind.as_str(),
                key,
                stored_hash = existing,
                new_hash = hash,
                "a report arrived again with the same key but other content; the first copy counts, this one is kept in the ingest ledger"
            );
            Stored::Conflict
        }
    }

    fn write_records(&mut self, batch: &[AggregateRecord]) -> Result<(), IngestError> {
        let Some(l) = self.loading.as_mut() else {
            return Ok(());
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO aggregate_records (report_uid, seq, domain, begin_at, end_at, source_ip, count,
                   disposition, dkim_aligned, spf_aligned, header_from, envelope_from, envelope_to, dkim, spf, reasons)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )
            .map_err(store_err("preparing the record insert"))?;
        for r in batch {
            l.seq += 1;
            stmt.execute(params![
                l.uid,
                l.seq,
                l.meta.policy.domain,
                l.meta.begin,
                l.meta.end,
                r.source_ip.to_string(),
                i64::try_from(r.count).unwrap_or(i64::MAX),
                r.disposition.as_str(),
                r.dkim_aligned.as_str(),
                r.spf_aligned.as_str(),
                r.header_from,
                r.envelope_from,
                r.envelope_to,
                json(&r.dkim),
                json(&r.spf),
                json(&r.reasons),
            ])
            .map_err(store_err("inserting a record"))?;
            for sig in &r.dkim {
                let (Some(domain), Some(selector)) = (&sig.domain, &sig.selector) else {
                    continue;
                };
                let key = (domain.clone(), selector.to_ascii_lowercase());
                if l.selectors.len() >= MAX_SELECTORS && !l.selectors.contains_key(&key) {
                    continue;
                }
                let e = l.selectors.entry(key).or_default();
                e.0 += r.count;
                if sig.result == DkimResult::Pass {
                    e.1 += r.count;
                }
            }
        }
        Ok(())
    }
}

/// JSON text of a small per-record list (serde cannot fail on these plain types).
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

fn aggregate_key(meta: &AggregateMeta) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        meta.reporter(),
        meta.report_id,
        meta.policy.domain,
        meta.begin,
        meta.end
    )
}

impl ReportSink for IngestStore {
    fn begin_aggregate(&mut self, meta: &AggregateMeta) -> Result<Admission, IngestError> {
        self.abort_aggregate();
        let key = aggregate_key(meta);
        let uid = ContentHash::of(key.as_bytes()).hex()[..32].to_owned();
        self.begin_tx()?;
        let found: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT state, content_hash FROM aggregate_reports WHERE report_uid = ?1",
                [&uid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(store_err("looking up the report key"))?;
        let (admission, existing_hash) = match found {
            Some((state, hash)) if state == "complete" => (Admission::Skip, hash),
            other => {
                if other.is_some() {
                    // A report left half-written by a crash: start it again.
                    self.conn
                        .execute(
                            "DELETE FROM aggregate_records WHERE report_uid = ?1",
                            [&uid],
                        )
                        .map_err(store_err("clearing a half-written report"))?;
                    self.conn
                        .execute(
                            "DELETE FROM aggregate_reports WHERE report_uid = ?1",
                            [&uid],
                        )
                        .map_err(store_err("clearing a half-written report"))?;
                }
                let policy = serde_json::to_string(&meta.policy).unwrap_or_else(|_| "{}".into());
                self.conn
                    .execute(
                        "INSERT INTO aggregate_reports (report_uid, reporter, report_id, domain, begin_at, end_at,
                           org_name, email, namespace, policy, state, content_hash, records, messages, warnings, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'loading', NULL, 0, 0, 0, ?11)",
                        params![
                            uid,
                            meta.reporter(),
                            meta.report_id,
                            meta.policy.domain,
                            meta.begin,
                            meta.end,
                            meta.org_name,
                            meta.email,
                            meta.namespace,
                            policy,
                            now()
                        ],
                    )
                    .map_err(store_err("inserting the report"))?;
                (Admission::Store, None)
            }
        };
        if admission == Admission::Skip {
            self.commit()?;
        }
        self.loading = Some(Loading {
            uid,
            key,
            meta: meta.clone(),
            admission,
            existing_hash,
            seq: 0,
            in_tx: 0,
            selectors: HashMap::new(),
        });
        Ok(admission)
    }

    fn aggregate_records(&mut self, batch: &[AggregateRecord]) -> Result<(), IngestError> {
        let Some(l) = self.loading.as_ref() else {
            return Ok(());
        };
        if l.admission == Admission::Skip {
            return Ok(());
        }
        if l.in_tx >= RECORDS_PER_TX {
            self.commit()?;
            self.begin_tx()?;
            if let Some(l) = self.loading.as_mut() {
                l.in_tx = 0;
            }
        }
        self.write_records(batch)?;
        if let Some(l) = self.loading.as_mut() {
            l.in_tx += batch.len();
        }
        Ok(())
    }

    fn finish_aggregate(
        &mut self,
        summary: &AggregateSummary,
        hash: &ContentHash,
    ) -> Result<Stored, IngestError> {
        let Some(l) = self.loading.take() else {
            return Err(IngestError::Store(
                "a report finished that never began".into(),
            ));
        };
        let hash = hash.hex();
        if l.admission == Admission::Skip {
            let stored = Self::judge(
                l.existing_hash.as_deref().unwrap_or_default(),
                &hash,
                ReportKind::DmarcAggregate,
                &l.key,
            );
            self.ledger(ReportKind::DmarcAggregate, &l.key, &hash, &stored)?;
            return Ok(stored);
        }
        self.conn
            .execute(
                "UPDATE aggregate_reports SET state = 'complete', content_hash = ?2, records = ?3,
                   messages = ?4, warnings = ?5 WHERE report_uid = ?1",
                params![
                    l.uid,
                    hash,
                    i64::try_from(summary.records).unwrap_or(i64::MAX),
                    i64::try_from(summary.messages).unwrap_or(i64::MAX),
                    i64::try_from(summary.warnings.count).unwrap_or(i64::MAX),
                ],
            )
            .map_err(store_err("completing the report"))?;
        for ((dkim_domain, selector), (messages, passed)) in &l.selectors {
            self.conn
                .execute(
                    "INSERT INTO dkim_selectors_seen (domain, dkim_domain, selector, first_seen, last_seen, messages, passed)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)
                     ON CONFLICT (domain, dkim_domain, selector) DO UPDATE SET
                       first_seen = MIN(first_seen, excluded.first_seen),
                       last_seen = MAX(last_seen, excluded.last_seen),
                       messages = messages + excluded.messages,
                       passed = passed + excluded.passed",
                    params![
                        l.meta.policy.domain,
                        dkim_domain,
                        selector,
                        l.meta.end,
                        i64::try_from(*messages).unwrap_or(i64::MAX),
                        i64::try_from(*passed).unwrap_or(i64::MAX)
                    ],
                )
                .map_err(store_err("recording DKIM selectors"))?;
        }
        self.ledger(ReportKind::DmarcAggregate, &l.key, &hash, &Stored::New)?;
        self.commit()?;
        Ok(Stored::New)
    }

    fn abort_aggregate(&mut self) {
        let Some(l) = self.loading.take() else {
            return;
        };
        if l.admission == Admission::Store {
            // Roll back the open batch; rows of earlier batches stay 'loading' until cleared here.
            self.rollback();
            let _ = self.conn.execute(
                "DELETE FROM aggregate_records WHERE report_uid = ?1",
                [&l.uid],
            );
            let _ = self.conn.execute(
                "DELETE FROM aggregate_reports WHERE report_uid = ?1 AND state = 'loading'",
                [&l.uid],
            );
        }
    }

    fn tls_report(
        &mut self,
        report: &TlsReport,
        hash: &ContentHash,
    ) -> Result<Stored, IngestError> {
        let key = format!(
            "{}|{}",
            report.organization.to_ascii_lowercase(),
            report.report_id
        );
        let hash = hash.hex();
        self.begin_tx()?;
        let existing: Option<String> = self
            .conn
            .query_row(
                "SELECT content_hash FROM tls_reports WHERE organization = ?1 AND report_id = ?2",
                params![report.organization.to_ascii_lowercase(), report.report_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(store_err("looking up the TLS report"))?;
        let stored = match existing {
            Some(existing) => Self::judge(&existing, &hash, ReportKind::TlsReport, &key),
            None => {
                self.conn
                    .execute(
                        "INSERT INTO tls_reports (organization, report_id, domain, begin_at, end_at,
                           successful_sessions, failed_sessions, report, content_hash, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        params![
                            report.organization.to_ascii_lowercase(),
                            report.report_id,
                            report.policy_domain(),
                            report.begin,
                            report.end,
                            i64::try_from(report.successful_sessions()).unwrap_or(i64::MAX),
                            i64::try_from(report.failed_sessions()).unwrap_or(i64::MAX),
                            serde_json::to_string(report).unwrap_or_default(),
                            hash,
                            now()
                        ],
                    )
                    .map_err(store_err("inserting the TLS report"))?;
                Stored::New
            }
        };
        self.ledger(ReportKind::TlsReport, &key, &hash, &stored)?;
        self.commit()?;
        Ok(stored)
    }

    fn failure_report(
        &mut self,
        report: &FailureReport,
        hash: &ContentHash,
    ) -> Result<Stored, IngestError> {
        let key = report.identity();
        let hash = hash.hex();
        self.begin_tx()?;
        let existing: Option<String> = self
            .conn
            .query_row(
                "SELECT content_hash FROM failure_reports WHERE identity = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()
            .map_err(store_err("looking up the failure report"))?;
        let stored = match existing {
            // Re-deliveries differ in their Received lines: the identity decides, not the bytes.
            Some(_) => Stored::Duplicate,
            None => {
                self.conn
                    .execute(
                        "INSERT INTO failure_reports (identity, domain, source_ip, auth_failure, report, content_hash, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            key,
                            report.reported_domain,
                            report.source_ip.map(|i| i.to_string()),
                            report.auth_failure,
                            serde_json::to_string(report).unwrap_or_default(),
                            hash,
                            now()
                        ],
                    )
                    .map_err(store_err("inserting the failure report"))?;
                Stored::New
            }
        };
        self.ledger(ReportKind::DmarcFailure, &key, &hash, &stored)?;
        self.commit()?;
        Ok(stored)
    }

    fn message_events(
        &mut self,
        batch: &[Recorded],
        policy: &SuppressionPolicy,
    ) -> Result<RecordOutcome, IngestError> {
        // The events tables are in the same database: counted on this connection, in their own
        // transaction (a write that failed half-way left one open: roll it back first).
        if !self.conn.is_autocommit() {
            self.rollback();
        }
        crate::events::store::record_on(&mut self.conn, batch, policy)
            .map_err(|e| IngestError::Store(format!("counting bounces and complaints: {e}")))
    }
}

impl Drop for IngestStore {
    fn drop(&mut self) {
        self.abort_aggregate();
    }
}

pub mod alert_inputs;

#[cfg(test)]
mod tests;
