//! The events' own write path into the state database: one rusqlite connection in WAL mode with a
//! busy timeout (the main store's writer holds another). Concurrent batches share one transaction
//! and its one sync to disk (group commit, [`group`]), each batch in its own savepoint.
//!
//! Tables (migration `0005_events.sql`): `event_buckets` (per-minute counts), `events_seen`
//! (idempotency keys), `suppressions` and `suppression_soft_bounces`. Every call is synchronous:
//! async callers run it on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::model::{Bounce, BounceType, Complaint, Delivery, Reason};
use super::suppress::SuppressionPolicy;
use crate::store::{SqliteStore, StoreError};

/// How long a writer waits for the database lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One typed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message accepted by the receiver.
    Delivery(Delivery),
    /// A delivery attempt that will be retried (Postfix `status=deferred`): stored, not in rates.
    Deferral(Delivery),
    /// A failed recipient.
    Bounce(Bounce),
    /// A complaint.
    Complaint(Complaint),
}

/// An event to count: when it happened and the key that makes a redelivery count once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `source:id` (`sendgrid:<sg_event_id>`, `mail:<Message-ID>:<recipient>`), or `None` when the
    /// source has no stable id (a log line counted once by its reader's position).
    pub key: Option<String>,
    /// When it happened, Unix seconds.
    pub at: i64,
    /// The event.
    pub event: Event,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordOutcome {
    /// Events counted.
    pub counted: usize,
    /// Events already counted before (same key), skipped.
    pub duplicates: usize,
    /// Per event of the batch, whether it was counted.
    #[serde(skip)]
    pub fresh: Vec<bool>,
}

/// Counts summed over a span, per bucket key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketSum {
    /// The sending domain as the event gave it ('' when unknown).
    pub sender_domain: String,
    /// The mailbox provider label.
    pub provider: String,
    /// `delivery`, `deferral`, `bounce` or `complaint`.
    pub event: String,
    /// `hard`, `soft` or ''.
    pub bounce_type: String,
    /// The reason label or ''.
    pub reason: String,
    /// The count.
    pub count: u64,
}

/// One suppressed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The address.
    pub address: String,
    /// Why: `hard_bounce`, `soft_bounces` or `complaint`.
    pub cause: String,
    /// The reason category of the last bounce, or the feedback type.
    pub reason: String,
    /// The sending domain of the event that suppressed it.
    pub sender_domain: String,
    /// The diagnostic or a summary.
    pub detail: String,
    /// Since when, Unix seconds.
    pub since: i64,
    /// Last event, Unix seconds.
    pub updated_at: i64,
}

/// The events' connection to the state database.
pub struct EventStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    group: group::Group,
}

fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::db(context, e)
}

impl EventStore {
    /// Open the state database at `path`. The main store's open creates it and applies the
    /// migrations (a no-op when the daemon already did); then this connection is opened beside it.
    pub fn open(path: &Path) -> Result<EventStore, StoreError> {
        match SqliteStore::open(path) {
            Ok(store) => drop(store),
            // The daemon holds the state file and applied the migrations at its start: open beside it.
            Err(StoreError::Locked(_)) => {}
            // Two openers at once can both start the same migration (the version is read before
            // its transaction); the loser fails, and by then the winner has applied it.
            Err(_) => match SqliteStore::open(path) {
                Ok(store) => drop(store),
                Err(StoreError::Locked(_)) => {}
                Err(e) => return Err(e),
            },
        }
        let conn = Connection::open(path).map_err(db("opening the state database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(db("setting the busy timeout"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db("switching to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Malformed(format!(
                "the database refused WAL mode (journal_mode = {mode})"
            )));
        }
        // FULL: a webhook is answered 2xx only after its events are on disk.
        conn.execute_batch("PRAGMA synchronous = FULL;")
            .map_err(db("setting pragmas"))?;
        Ok(EventStore {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            group: group::Group::default(),
        })
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

    /// Count a batch: each event whose key was seen before is skipped; the others add to their
    /// minute's bucket and update the suppression list. Returns once the transaction holding the
    /// batch has committed; that transaction may hold other callers' batches too (group commit,
    /// [`group`]), each in its own savepoint, so a batch that fails fails alone. Blocking.
    pub fn record(
        &self,
        batch: &[Recorded],
        policy: &SuppressionPolicy,
    ) -> Result<RecordOutcome, StoreError> {
        if batch.is_empty() {
            return Ok(RecordOutcome::default());
        }
        self.group.submit(batch.to_vec(), *policy, |parts| {
            let parts: Vec<_> = parts
                .iter()
                .map(|p| (p.batch.as_slice(), &p.policy))
                .collect();
            let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
            record_parts(&mut conn, &parts)
        })
    }

    /// Record a refused request body (`kind` the endpoint, `reason` the refusal's code) for the
    /// `ingest_failures` alert rule (docs/alerts.md), at `at` (Unix seconds).
    pub fn record_refusal(
        &self,
        at: i64,
        kind: &str,
        reason: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        self.with(|conn| {
            crate::ingest::store::alert_inputs::record_failure_on(conn, at, kind, reason, error)
                .map_err(db("recording a refused request"))
        })
    }

    /// Counts per bucket key over the minutes `from_minute..=to_minute`.
    pub fn sums(&self, from_minute: i64, to_minute: i64) -> Result<Vec<BucketSum>, StoreError> {
        self.with(|conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT sender_domain, provider, event, bounce_type, reason, SUM(count) \
                     FROM event_buckets WHERE minute >= ?1 AND minute <= ?2 \
                     GROUP BY sender_domain, provider, event, bounce_type, reason \
                     ORDER BY sender_domain, provider, event, bounce_type, reason",
                )
                .map_err(db("reading event counts"))?;
            let rows = s
                .query_map(params![from_minute, to_minute], |r| {
                    Ok(BucketSum {
                        sender_domain: r.get(0)?,
                        provider: r.get(1)?,
                        event: r.get(2)?,
                        bounce_type: r.get(3)?,
                        reason: r.get(4)?,
                        count: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                    })
                })
                .map_err(db("reading event counts"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(db("reading event counts"))
        })
    }

    /// Every suppressed address, oldest first.
    pub fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        self.with(|conn| super::suppress::list(conn))
    }

    /// Whether `address` is suppressed.
    pub fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError> {
        self.with(|conn| super::suppress::get(conn, address))
    }

    /// Take `address` off the list (and forget its soft bounces); `false` when it was not on it.
    pub fn remove_suppression(&self, address: &str) -> Result<bool, StoreError> {
        self.with(|conn| super::suppress::remove(conn, address))
    }

    /// Drop buckets older than `keep_buckets` and idempotency keys older than `keep_keys`.
    pub fn prune(
        &self,
        now: i64,
        keep_buckets: Duration,
        keep_keys: Duration,
    ) -> Result<(), StoreError> {
        let bucket_floor = minute_of(now) - (keep_buckets.as_secs() / 60) as i64;
        let key_floor = now - keep_keys.as_secs() as i64;
        self.with(|conn| {
            conn.execute(
                "DELETE FROM event_buckets WHERE minute < ?1",
                params![bucket_floor],
            )
            .map_err(db("pruning event buckets"))?;
            conn.execute(
                "DELETE FROM events_seen WHERE seen_at < ?1",
                params![key_floor],
            )
            .map_err(db("pruning event keys"))?;
            Ok(())
        })
    }

    /// Whether an event key was counted (for tests and diagnostics).
    pub fn seen(&self, key: &str) -> Result<bool, StoreError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT 1 FROM events_seen WHERE event_key = ?1",
                params![key],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(db("reading an event key"))
        })
    }
}

/// The events store, opened on first use: a daemon opens it at its first event or scrape (the main
/// store created the file at start); a process that never counts an event never touches the file.
pub struct LazyEventStore {
    path: PathBuf,
    store: Mutex<Option<Arc<EventStore>>>,
}

impl LazyEventStore {
    /// Nothing is opened yet.
    pub fn new(path: &Path) -> LazyEventStore {
        LazyEventStore {
            path: path.to_owned(),
            store: Mutex::new(None),
        }
    }

    /// An open store: already open, else opened now (creating the file). Blocking. A failure is
    /// returned and the next call tries again.
    pub fn get(&self) -> Result<Arc<EventStore>, StoreError> {
        let mut slot = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(EventStore::open(&self.path)?);
        *slot = Some(s.clone());
        Ok(s)
    }

    /// An open store only if the database file exists (readers: `/metrics` must not create it).
    pub fn get_existing(&self) -> Option<Arc<EventStore>> {
        if !self.path.exists() {
            return None;
        }
        match self.get() {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, path = %self.path.display(), "could not open the events store");
                None
            }
        }
    }
}

/// [`EventStore::record`] on any connection to the state database (the report ingester's writer
/// counts the bounces and complaints of the messages it reads on its own connection): one batch,
/// one transaction.
pub fn record_on(
    conn: &mut Connection,
    batch: &[Recorded],
    policy: &SuppressionPolicy,
) -> Result<RecordOutcome, StoreError> {
    record_parts(conn, &[(batch, policy)])
        .pop()
        .unwrap_or_else(|| Ok(RecordOutcome::default()))
}

/// Count several callers' batches in ONE transaction, one result per batch. Each batch runs in its
/// own savepoint, in order, so a batch sees the keys of the batches before it (the same event in
/// two requests counts once), and a batch that fails is rolled back alone and gets its own error.
/// A result is `Ok` only once the commit holding it is done; when the transaction itself fails
/// (begin, commit, or an error after which SQLite rolled the whole transaction back), every batch
/// gets that error.
fn record_parts(
    conn: &mut Connection,
    parts: &[(&[Recorded], &SuppressionPolicy)],
) -> Vec<Result<RecordOutcome, StoreError>> {
    let all = |e: StoreError| vec![Err(e); parts.len()];
    // Keys are kept from when they were seen, not from when their event happened: a provider's
    // retry of an old event must still find its key.
    let seen_at = time::OffsetDateTime::now_utc().unix_timestamp();
    // IMMEDIATE and queued behind the daemon's other writers (crate::store::gate): a deferred
    // transaction that upgrades to a write can fail at once instead of waiting its turn.
    let _turn = crate::store::gate::enter(BUSY_TIMEOUT);
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return all(StoreError::db("starting an events batch", e)),
    };
    let mut results = Vec::with_capacity(parts.len());
    for (batch, policy) in parts {
        let sp = match tx.savepoint() {
            Ok(sp) => sp,
            Err(e) => return all(StoreError::db("opening an events batch's savepoint", e)),
        };
        match record_part(&sp, batch, policy, seen_at) {
            Ok(outcome) => {
                if let Err(e) = sp.commit() {
                    return all(StoreError::db("releasing an events batch's savepoint", e));
                }
                results.push(Ok(outcome));
            }
            Err(e) => {
                // Undo this batch alone (ROLLBACK TO, RELEASE). After some errors (a full disk, an
                // I/O error) SQLite has rolled the whole transaction back: nothing of it stands.
                if sp.finish().is_err() {
                    return all(e);
                }
                results.push(Err(e));
            }
        }
    }
    if results.iter().any(Result::is_ok)
        && let Err(e) = tx.commit()
    {
        return all(StoreError::db("committing an events batch", e));
    }
    // Else nothing to keep: dropping `tx` rolls it back.
    results
}

/// One batch inside its savepoint.
fn record_part(
    conn: &Connection,
    batch: &[Recorded],
    policy: &SuppressionPolicy,
    seen_at: i64,
) -> Result<RecordOutcome, StoreError> {
    let mut outcome = RecordOutcome::default();
    for r in batch {
        if let Some(key) = &r.key {
            let fresh = conn
                .prepare_cached(
                    "INSERT INTO events_seen (event_key, seen_at) VALUES (?1, ?2) \
                     ON CONFLICT (event_key) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![key, seen_at]))
                .map_err(db("recording an event key"))?;
            if fresh == 0 {
                outcome.duplicates += 1;
                outcome.fresh.push(false);
                continue;
            }
        }
        add_to_bucket(conn, r)?;
        super::suppress::apply(conn, r, policy)?;
        outcome.counted += 1;
        outcome.fresh.push(true);
    }
    Ok(outcome)
}

/// The UTC minute of a Unix time.
pub fn minute_of(at: i64) -> i64 {
    at.div_euclid(60)
}

fn add_to_bucket(tx: &Connection, r: &Recorded) -> Result<(), StoreError> {
    let (event, domain, provider, kind, reason): (&str, _, _, &str, &str) = match &r.event {
        Event::Delivery(d) => ("delivery", &d.sender_domain, d.provider, "", ""),
        Event::Deferral(d) => ("deferral", &d.sender_domain, d.provider, "", ""),
        Event::Bounce(b) => (
            "bounce",
            &b.sender_domain,
            b.provider,
            b.kind.as_str(),
            b.reason.as_str(),
        ),
        Event::Complaint(c) => ("complaint", &c.sender_domain, c.provider, "", ""),
    };
    tx.prepare_cached(
        "INSERT INTO event_buckets (minute, sender_domain, provider, event, bounce_type, reason, count) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1) \
         ON CONFLICT (minute, sender_domain, provider, event, bounce_type, reason) \
         DO UPDATE SET count = event_buckets.count + 1",
    )
    .and_then(|mut s| {
        s.execute(params![
            minute_of(r.at),
            domain.as_deref().unwrap_or(""),
            provider.as_str(),
            event,
            kind,
            reason
        ])
    })
    .map_err(db("counting an event"))?;
    Ok(())
}

/// The label values a bucket row may hold, for readers that rebuild typed values.
pub fn parse_bucket_kind(bounce_type: &str, reason: &str) -> Option<(BounceType, Reason)> {
    Some((BounceType::parse(bounce_type)?, Reason::parse(reason)?))
}

mod group;
#[cfg(test)]
mod tests;
