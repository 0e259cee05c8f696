//! The SQLite store: embedded, bundled SQLite, WAL.
//!
//! One writer thread owns the write connection and is fed by a channel; it takes whatever is queued
//! (up to [`MAX_BATCH`] writes) into one transaction, each write in its own savepoint so one failing
//! write does not undo the others, and answers every write only after the commit. Reads run on
//! blocking threads with connections of their own (WAL lets them proceed while the writer writes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::*;

/// The most writes committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Writes waiting for the writer before callers wait to queue (back-pressure).
const QUEUE: usize = 1024;
/// Idle read connections kept open.
const IDLE_READERS: usize = 4;
/// How long a connection waits for a lock held by another process (a backup, the sqlite3 shell).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Tables counted by [`Store::counts`].
const TABLES: [&str; 3] = ["check_results", "record_history", "blocklist_listings"];

/// A write queued for the writer thread.
trait Write: Send {
    /// Run inside the batch's transaction; returns whether it succeeded and how to answer after commit.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Answer>);
    /// The batch could not start: answer with the error.
    fn fail(self: Box<Self>, error: StoreError);
}

/// The deferred answer to one write.
trait Answer: Send {
    fn send(self: Box<Self>, commit: Result<(), StoreError>);
}

struct FnWrite<T, F> {
    f: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

struct Pending<T> {
    result: Result<T, StoreError>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send + 'static> Answer for Pending<T> {
    fn send(self: Box<Self>, commit: Result<(), StoreError>) {
        let _ = self.reply.send(commit.and(self.result));
    }
}

impl<T, F> Write for FnWrite<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Answer>) {
        let result = (self.f)(conn);
        let ok = result.is_ok();
        (
            ok,
            Box::new(Pending {
                result,
                reply: self.reply,
            }),
        )
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

enum Command {
    Write(Box<dyn Write>),
    Close(oneshot::Sender<()>),
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    writer: mpsc::Sender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

fn db(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::db(context, e)
}

impl SqliteStore {
    /// Open (creating it and its directory if needed) the database at `path`, apply migrations and
    /// start the writer thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::db("creating the state directory", e))?;
        }
        let mut conn = Connection::open(path).map_err(db("opening the state database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(db("setting the busy timeout"))?;
        // WAL: readers never block the writer and the writer never blocks readers.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db("switching to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Malformed(format!(
                "the database refused WAL mode (journal_mode = {mode})"
            )));
        }
        // FULL: a commit is on disk before a write is acknowledged ("nothing lost": docs/architecture.md); the
        // cost is one fsync per batch, not per write.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(db("setting pragmas"))?;
        migrate::apply(&mut conn)?;

        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::db("starting the store writer thread", e))?;
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: tx,
            thread: Mutex::new(Some(thread)),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the database (for tests and diagnostics).
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        self.read(migrate::current).await
    }

    fn write<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let cmd = Command::Write(Box::new(FnWrite { f, reply }));
        Box::pin(async move {
            self.writer
                .send(cmd)
                .await
                .map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn read<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.readers.clone();
        let path = self.path.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let idle = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let conn = match idle {
                    Some(c) => c,
                    None => open_reader(&path)?,
                };
                let result = f(&conn);
                let mut idle = pool.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < IDLE_READERS {
                    idle.push(conn);
                }
                result
            })
            .await
            .map_err(|e| StoreError::db("running a store read", e))?
        })
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db("opening a read connection"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db("setting the busy timeout"))?;
    Ok(conn)
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Command>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let mut closers = Vec::new();
        let mut writes = Vec::new();
        for cmd in batch {
            match cmd {
                Command::Write(w) => writes.push(w),
                Command::Close(done) => closers.push(done),
            }
        }
        commit_batch(&mut conn, writes);
        if !closers.is_empty() {
            checkpoint(&conn);
            for done in closers {
                let _ = done.send(());
            }
            return;
        }
    }
    checkpoint(&conn);
}

fn commit_batch(conn: &mut Connection, writes: Vec<Box<dyn Write>>) {
    if writes.is_empty() {
        return;
    }
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::db("starting a write transaction", e);
            tracing::error!(error = %e, "a batch of store writes failed");
            for w in writes {
                w.fail(e.clone());
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(writes.len());
    for w in writes {
        // A savepoint per write: a failing write is rolled back alone and answered with its error.
        if let Err(e) = tx.execute_batch("SAVEPOINT write") {
            w.fail(StoreError::db("opening a savepoint", e));
            continue;
        }
        let (ok, answer) = w.run(&tx);
        let end = if ok {
            "RELEASE write"
        } else {
            "ROLLBACK TO write; RELEASE write"
        };
        if let Err(e) = tx.execute_batch(end) {
            tracing::error!(error = %e, "closing a store savepoint failed");
        }
        answers.push(answer);
    }
    let commit = tx
        .commit()
        .map_err(|e| StoreError::db("committing store writes", e));
    if let Err(e) = &commit {
        tracing::error!(error = %e, writes = answers.len(), "a batch of store writes was not committed");
    }
    for a in answers {
        a.send(commit.clone());
    }
}

fn checkpoint(conn: &Connection) {
    // Fold the WAL back into the database file so a stopped daemon leaves one self-contained file.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "checkpointing the state database at close failed");
    }
}

use queries::*;

impl Store for SqliteStore {
    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.read(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(db("pinging the state database"))
            })
            .await?;
            // The writer answers too (an empty write commits nothing).
            self.write(|_| Ok(())).await
        })
    }

    fn counts(&self) -> StoreFuture<'_, BTreeMap<String, u64>> {
        self.read(|c| {
            let mut out = BTreeMap::new();
            for t in TABLES {
                let n: i64 = c
                    .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                    .map_err(db("counting rows"))?;
                out.insert(t.to_owned(), n as u64);
            }
            Ok(out)
        })
    }

    fn save_results(&self, results: Vec<CheckResult>) -> StoreFuture<'_, Vec<StoredCheck>> {
        self.write(move |c| save_results(c, results))
    }

    fn latest_checks<'a>(&'a self, target: Option<&'a str>) -> StoreFuture<'a, Vec<StoredCheck>> {
        let target = target.map(str::to_owned);
        self.read(move |c| latest_checks(c, target.as_deref()))
    }

    fn check_history<'a>(
        &'a self,
        target: &'a str,
        check: CheckId,
        limit: usize,
    ) -> StoreFuture<'a, Vec<StoredCheck>> {
        let target = target.to_owned();
        self.read(move |c| check_history(c, &target, check, limit))
    }

    fn observe_records(
        &self,
        seen: Vec<RecordObservation>,
        changed_since: i64,
    ) -> StoreFuture<'_, Vec<RecordChange>> {
        self.write(move |c| observe_records(c, &seen, changed_since))
    }

    fn record_history<'a>(
        &'a self,
        target: &'a str,
        check: CheckId,
    ) -> StoreFuture<'a, Vec<RecordVersion>> {
        let target = target.to_owned();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT name, value, first_seen, last_seen FROM record_history \
                     WHERE target = ?1 AND check_name = ?2 ORDER BY name, first_seen",
                )
                .map_err(db("preparing the record history query"))?;
            let rows = stmt
                .query_map(params![target, check.as_str()], |r| {
                    Ok(RecordVersion {
                        name: r.get(0)?,
                        value: r.get(1)?,
                        first_seen: r.get(2)?,
                        last_seen: r.get(3)?,
                    })
                })
                .map_err(db("reading record history"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db("reading record history"))
        })
    }

    fn observe_listings(
        &self,
        seen: Vec<ListingObservation>,
    ) -> StoreFuture<'_, Vec<ListingUpdate>> {
        self.write(move |c| observe_listings(c, &seen))
    }

    fn listings<'a>(&'a self, target: Option<&'a str>) -> StoreFuture<'a, Vec<ListingPeriod>> {
        let target = target.map(str::to_owned);
        self.read(move |c| {
            let sql = match target {
                None => format!(
                    "SELECT {PERIOD_COLUMNS} FROM blocklist_listings WHERE delisted_at IS NULL \
                     AND (?1 IS NULL OR target = ?1) ORDER BY target, zone"
                ),
                Some(_) => format!(
                    "SELECT {PERIOD_COLUMNS} FROM blocklist_listings WHERE target = ?1 \
                     ORDER BY zone, listed_since DESC"
                ),
            };
            let mut stmt = c
                .prepare(&sql)
                .map_err(db("preparing the listings query"))?;
            let rows = stmt
                .query_map(params![target], period)
                .map_err(db("reading listings"))?;
            rows.map(|r| r.map_err(db("reading a listing")).and_then(with_codes))
                .collect()
        })
    }

    fn listing_history(&self, ended_since: i64) -> StoreFuture<'_, Vec<ListingPeriod>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {PERIOD_COLUMNS} FROM blocklist_listings \
                     WHERE delisted_at IS NULL OR delisted_at >= ?1 ORDER BY target, zone, listed_since"
                ))
                .map_err(db("preparing the listing history query"))?;
            let rows = stmt
                .query_map(params![ended_since], period)
                .map_err(db("reading listing history"))?;
            rows.map(|r| r.map_err(db("reading a listing")).and_then(with_codes))
                .collect()
        })
    }

    fn prune(&self, before: i64) -> StoreFuture<'_, PruneReport> {
        self.write(move |c| prune(c, before))
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // Readers first: the last connection to close removes the WAL files, and only the
            // writer's connection may do that.
            self.readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            let (done, closed) = oneshot::channel();
            if self.writer.send(Command::Close(done)).await.is_ok() {
                let _ = closed.await;
            }
            let thread = self
                .thread
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(t) = thread {
                tokio::task::spawn_blocking(move || t.join())
                    .await
                    .map_err(|e| StoreError::db("joining the store writer", e))?
                    .map_err(|_| StoreError::Closed)?;
            }
            Ok(())
        })
    }
}

mod queries;
#[cfg(test)]
mod tests;
