//! The analysis' own connection to the state database: reads of the ingested aggregate records
//! (migration 0005) and the enrichment table (migration 0007), and the enrichment writes. One
//! connection per database in the process ([`AnalysisDb::shared`]), WAL, a busy timeout; every call
//! is synchronous (async callers run it on a blocking thread).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, params};

use crate::store::{SqliteStore, StoreError};

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::db(context, e)
}

/// Volume of one source IP for one policy domain over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTotals {
    /// The source IP (canonical text).
    pub ip: String,
    /// Messages.
    pub messages: u64,
    /// Messages that passed DMARC (aligned DKIM or aligned SPF passed).
    pub passed: u64,
    /// Messages with aligned DKIM passing.
    pub dkim_aligned: u64,
    /// Messages with aligned SPF passing.
    pub spf_aligned: u64,
}

/// One record that failed DMARC (neither aligned DKIM nor aligned SPF passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingRow {
    /// The source IP.
    pub ip: String,
    /// Messages.
    pub count: u64,
    /// The From domain.
    pub header_from: Option<String>,
    /// The envelope sender domain.
    pub envelope_from: Option<String>,
    /// `[{domain, selector, result}]` as stored.
    pub dkim: String,
    /// `[{domain, scope, result}]` as stored.
    pub spf: String,
    /// `[{kind, comment}]`: the receiver's override reasons.
    pub reasons: String,
}

/// A stored reverse-DNS answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrichment {
    /// `ptr`, `no_ptr` or `failed`.
    pub outcome: String,
    /// The PTR name.
    pub ptr: Option<String>,
}

/// A DKIM selector seen in reports for a policy domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenSelector {
    /// The signature's d= domain.
    pub dkim_domain: String,
    /// The selector (lower case).
    pub selector: String,
    /// Messages signed with it.
    pub messages: u64,
    /// Messages whose signature verified.
    pub passed: u64,
    /// The end of the newest report that named it.
    pub last_seen: i64,
}

/// The connection.
pub struct AnalysisDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

static SHARED: OnceLock<Mutex<HashMap<PathBuf, Arc<AnalysisDb>>>> = OnceLock::new();

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl AnalysisDb {
    /// Open the state database at `path` (the store's open applies the migrations first; inside
    /// the daemon it already did, and this connection opens beside it).
    pub fn open(path: &Path) -> Result<AnalysisDb, StoreError> {
        match SqliteStore::open(path) {
            Ok(store) => drop(store),
            Err(StoreError::Locked(_)) => {}
            // Two openers at once can race on a migration; the loser finds it applied on retry.
            Err(_) => match SqliteStore::open(path) {
                Ok(store) => drop(store),
                Err(StoreError::Locked(_)) => {}
                Err(e) => return Err(e),
            },
        }
        let conn = Connection::open(path).map_err(db("opening the state database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(db("setting the busy timeout"))?;
        conn.execute_batch("PRAGMA journal_mode = WAL;")
            .map_err(db("switching to WAL"))?;
        Ok(AnalysisDb {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The process's connection to the database at `path`, opened on first use (a failure is
    /// returned and the next call tries again).
    pub fn shared(path: &Path) -> Result<Arc<AnalysisDb>, StoreError> {
        let all = SHARED.get_or_init(Mutex::default);
        let mut all = all.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(d) = all.get(path) {
            return Ok(d.clone());
        }
        let d = Arc::new(AnalysisDb::open(path)?);
        all.insert(path.to_owned(), d.clone());
        Ok(d)
    }

    /// Close the process's connections (daemon shutdown: the last connection to close checkpoints
    /// the WAL). A caller still holding one keeps it open until it drops it.
    pub fn close_all() {
        if let Some(all) = SHARED.get() {
            all.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn)
    }

    /// Per source IP of `domain`'s records in reports that ended at or after `since`.
    pub fn source_totals(&self, domain: &str, since: i64) -> Result<Vec<SourceTotals>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT r.source_ip, SUM(r.count),
                       SUM(CASE WHEN r.dkim_aligned = 'pass' OR r.spf_aligned = 'pass' THEN r.count ELSE 0 END),
                       SUM(CASE WHEN r.dkim_aligned = 'pass' THEN r.count ELSE 0 END),
                       SUM(CASE WHEN r.spf_aligned = 'pass' THEN r.count ELSE 0 END)
                     FROM aggregate_records r JOIN aggregate_reports p ON p.report_uid = r.report_uid
                     WHERE r.domain = ?1 AND r.end_at >= ?2 AND p.state = 'complete'
                     GROUP BY r.source_ip",
                )
                .map_err(db("preparing the source totals"))?;
            let rows = stmt
                .query_map(params![domain, since], |r| {
                    Ok(SourceTotals {
                        ip: r.get(0)?,
                        messages: u(r.get(1)?),
                        passed: u(r.get(2)?),
                        dkim_aligned: u(r.get(3)?),
                        spf_aligned: u(r.get(4)?),
                    })
                })
                .map_err(db("reading the source totals"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db("reading the source totals"))
        })
    }

    /// Up to `cap` of `domain`'s records that failed DMARC in reports that ended at or after `since`,
    /// largest first.
    pub fn failing_rows(
        &self,
        domain: &str,
        since: i64,
        cap: usize,
    ) -> Result<Vec<FailingRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT r.source_ip, r.count, r.header_from, r.envelope_from, r.dkim, r.spf, r.reasons
                     FROM aggregate_records r JOIN aggregate_reports p ON p.report_uid = r.report_uid
                     WHERE r.domain = ?1 AND r.end_at >= ?2 AND p.state = 'complete'
                       AND r.dkim_aligned <> 'pass' AND r.spf_aligned <> 'pass'
                     ORDER BY r.count DESC LIMIT ?3",
                )
                .map_err(db("preparing the failing records"))?;
            let rows = stmt
                .query_map(
                    params![domain, since, i64::try_from(cap).unwrap_or(i64::MAX)],
                    |r| {
                        Ok(FailingRow {
                            ip: r.get(0)?,
                            count: u(r.get(1)?),
                            header_from: r.get(2)?,
                            envelope_from: r.get(3)?,
                            dkim: r.get(4)?,
                            spf: r.get(5)?,
                            reasons: r.get(6)?,
                        })
                    },
                )
                .map_err(db("reading the failing records"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db("reading the failing records"))
        })
    }

    /// The stored reverse-DNS answers of `ips` (expired ones too: a stale name beats none).
    pub fn enrichment(&self, ips: &[&str]) -> Result<HashMap<String, Enrichment>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached("SELECT outcome, ptr FROM source_enrichment WHERE ip = ?1")
                .map_err(db("preparing the enrichment read"))?;
            let mut out = HashMap::new();
            for ip in ips {
                let mut rows = stmt
                    .query(params![ip])
                    .map_err(db("reading the enrichment"))?;
                if let Some(r) = rows.next().map_err(db("reading the enrichment"))? {
                    out.insert(
                        (*ip).to_owned(),
                        Enrichment {
                            outcome: r.get(0).map_err(db("reading the enrichment"))?,
                            ptr: r.get(1).map_err(db("reading the enrichment"))?,
                        },
                    );
                }
            }
            Ok(out)
        })
    }

    /// Up to `limit` distinct source IPs of reports received at or after `received_since` (and, when
    /// `domain` is given, of that policy domain only) with no unexpired enrichment at `now`.
    pub fn pending_ips(
        &self,
        received_since: i64,
        domain: Option<&str>,
        now: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT DISTINCT r.source_ip
                     FROM aggregate_reports p JOIN aggregate_records r ON r.report_uid = p.report_uid
                     WHERE p.received_at >= ?1 AND p.state = 'complete' AND (?2 IS NULL OR p.domain = ?2)
                       AND NOT EXISTS (SELECT 1 FROM source_enrichment e
                                       WHERE e.ip = r.source_ip AND e.expires_at > ?3)
                     LIMIT ?4",
                )
                .map_err(db("preparing the pending sources"))?;
            let rows = stmt
                .query_map(
                    params![
                        received_since,
                        domain,
                        now,
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    |r| r.get(0),
                )
                .map_err(db("reading the pending sources"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db("reading the pending sources"))
        })
    }

    /// The newest `received_at` of a complete report (0 when none).
    pub fn newest_received(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(received_at), 0) FROM aggregate_reports WHERE state = 'complete'",
                [],
                |r| r.get(0),
            )
            .map_err(db("reading the newest report"))
        })
    }

    /// What the answers depend on: the newest report arrival, the reports stored and the newest
    /// enrichment. Cheap (indexed); a cached answer is good while this is unchanged.
    pub fn version(&self) -> Result<(i64, i64, i64), StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT (SELECT COALESCE(MAX(received_at), 0) FROM aggregate_reports),
                        (SELECT COUNT(*) FROM aggregate_reports WHERE state = 'complete'),
                        (SELECT COALESCE(MAX(resolved_at), 0) FROM source_enrichment)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(db("reading the data version"))
        })
    }

    /// Store reverse-DNS answers: `(ip, outcome, ptr, expires_at)`, all resolved at `now`.
    pub fn write_enrichment(
        &self,
        rows: &[(String, &'static str, Option<String>, i64)],
        now: i64,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            // IMMEDIATE: take the write lock up front, waiting within the busy timeout, rather than
            // fail to upgrade a read lock while another writer commits.
            let _turn = crate::store::gate::enter(BUSY_TIMEOUT);
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("starting the enrichment write"))?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO source_enrichment (ip, outcome, ptr, resolved_at, expires_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (ip) DO UPDATE SET outcome = excluded.outcome, ptr = excluded.ptr,
                           resolved_at = excluded.resolved_at, expires_at = excluded.expires_at",
                    )
                    .map_err(db("preparing the enrichment write"))?;
                for (ip, outcome, ptr, expires) in rows {
                    stmt.execute(params![ip, outcome, ptr, now, expires])
                        .map_err(db("writing the enrichment"))?;
                }
            }
            tx.commit().map_err(db("committing the enrichment"))
        })
    }

    /// DKIM selectors seen for `domain` whose newest report ended at or after `since`.
    pub fn seen_selectors(
        &self,
        domain: &str,
        since: i64,
    ) -> Result<Vec<SeenSelector>, StoreError> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT dkim_domain, selector, messages, passed, last_seen FROM dkim_selectors_seen
                     WHERE domain = ?1 AND last_seen >= ?2 ORDER BY messages DESC, selector",
                )
                .map_err(db("preparing the selector read"))?;
            let rows = stmt
                .query_map(params![domain, since], |r| {
                    Ok(SeenSelector {
                        dkim_domain: r.get(0)?,
                        selector: r.get(1)?,
                        messages: u(r.get(2)?),
                        passed: u(r.get(3)?),
                        last_seen: r.get(4)?,
                    })
                })
                .map_err(db("reading the selectors"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db("reading the selectors"))
        })
    }
}
