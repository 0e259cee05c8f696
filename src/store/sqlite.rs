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
const TABLES: [&str; 4] = [
    "check_results",
    "record_history",
    "blocklist_listings",
    "alert_instances",
];

/// A write queued for the writer thread.
trait Write: Send {
    /// Run inside the batch's transaction; returns whether it succeeded, the damage its error shows
    /// (if any) and how to answer after commit.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Option<String>, Box<dyn Answer>);
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
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Option<String>, Box<dyn Answer>) {
        let result = (self.f)(conn);
        let ok = result.is_ok();
        let damage = result.as_ref().err().and_then(damage);
        (
            ok,
            damage,
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

/// Why the store cannot work right now (`None`: healthy), set by the writer and readers when SQLite
/// reports damage or a failed commit, cleared by the next clean commit; `/readyz` reads it.
type Health = Arc<Mutex<Option<String>>>;

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    writer: mpsc::Sender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    health: Health,
    /// When `/readyz` last started a quick check of the file (see [`DEEP_CHECK_EVERY`]).
    last_deep_check: Mutex<Option<std::time::Instant>>,
    /// Held (flock) until the store is closed: one daemon per state file.
    lock: Mutex<Option<std::fs::File>>,
}

/// What an error says about the database itself (damage, a full disk, I/O), for readiness; `None`
/// for errors of one write (a constraint, malformed data).
fn damage(error: &StoreError) -> Option<String> {
    use rusqlite::ErrorCode;
    let StoreError::Database { source, .. } = error else {
        return None;
    };
    let code = source
        .downcast_ref::<rusqlite::Error>()?
        .sqlite_error_code()?;
    let why = match code {
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => DAMAGED,
        ErrorCode::DiskFull => "the disk is full",
        ErrorCode::SystemIoFailure => "the disk reports an I/O error",
        ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied => {
            "the database file cannot be written"
        }
        _ => return None,
    };
    Some(why.to_owned())
}

/// How often a ping (`/readyz`) also runs SQLite's quick check, on a fresh connection so no cached
/// page hides damage on disk. Damage in pages no write touches is otherwise never seen; the check
/// reads the whole file, so it runs in the background and at most this often.
const DEEP_CHECK_EVERY: Duration = Duration::from_secs(10);

/// The reason given for a damaged file. Damage stays reported until restart: a commit that happens
/// not to touch the damaged pages does not repair them.
const DAMAGED: &str =
    "the database file is damaged; stop senderscope and follow the start-up message";

fn set_health(health: &Health, state: Option<String>) {
    let mut h = health.lock().unwrap_or_else(PoisonError::into_inner);
    if state.is_none() && h.as_deref() == Some(DAMAGED) {
        return;
    }
    if *h != state {
        match &state {
            Some(why) => {
                tracing::error!(reason = %why, "the state store is not healthy; /readyz reports it")
            }
            None => tracing::info!("the state store commits again"),
        }
        *h = state;
    }
}

/// Take the exclusive lock on `<state>.lock` (flock: released by the kernel when the process dies,
/// so a SIGKILLed daemon never leaves a stale lock).
fn lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::db("opening the state lock file", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(lock_path)),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StoreError::db("locking the state lock file", e))
        }
    }
}

/// SQLite's quick check (structure of every page, no index contents: fast enough for every start).
fn quick_check(conn: &Connection) -> Result<(), StoreError> {
    let mut problems = Vec::new();
    let checked = conn.prepare("PRAGMA quick_check(5)").and_then(|mut stmt| {
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            problems.push(row?);
        }
        Ok(())
    });
    if let Err(e) = checked {
        return Err(StoreError::Damaged(e.to_string()));
    }
    match problems.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        _ => Err(StoreError::Damaged(problems.join("; "))),
    }
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
        let lock = lock(path)?;
        let mut conn = Connection::open(path).map_err(db("opening the state database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(db("setting the busy timeout"))?;
        // After a clean stop that left the file untouched the check moves off the start's path.
        let checked_at_open = !clean_stop::left_clean(path);
        if checked_at_open {
            quick_check(&conn)?;
        }
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
        let health = Health::default();
        let writer_health = health.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, rx, &writer_health))
            .map_err(|e| StoreError::db("starting the store writer thread", e))?;
        if !checked_at_open {
            background_quick_check(path.to_owned(), health.clone());
        }
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: tx,
            thread: Mutex::new(Some(thread)),
            readers: Arc::new(Mutex::new(Vec::new())),
            health,
            last_deep_check: Mutex::new(Some(std::time::Instant::now())),
            lock: Mutex::new(Some(lock)),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Start a quick check of the file in the background when [`DEEP_CHECK_EVERY`] has passed; a
    /// damaged file marks the store unhealthy for the next ping.
    fn deep_check_if_due(&self) {
        {
            let mut last = self
                .last_deep_check
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < DEEP_CHECK_EVERY) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let (path, health) = (self.path.clone(), self.health.clone());
        tokio::task::spawn_blocking(move || quick_check_into_health(&path, &health));
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
        let health = self.health.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let idle = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let conn = match idle {
                    Some(c) => c,
                    None => open_reader(&path)?,
                };
                let result = f(&conn);
                if let Some(why) = result.as_ref().err().and_then(damage) {
                    set_health(&health, Some(why));
                }
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

/// Quick-check the file on a fresh read connection; damage marks the store unhealthy.
fn quick_check_into_health(path: &Path, health: &Health) {
    if let Err(StoreError::Damaged(problems)) = open_reader(path).and_then(|c| quick_check(&c)) {
        tracing::error!(%problems, "SQLite's quick check finds the state database damaged");
        set_health(health, Some(DAMAGED.to_owned()));
    }
}

/// The start's quick check, skipped after a clean stop, run on a thread of its own.
fn background_quick_check(path: PathBuf, health: Health) {
    let spawned = std::thread::Builder::new()
        .name("store-check".into())
        .spawn(move || quick_check_into_health(&path, &health));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the background quick check; /readyz runs it");
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

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Command>, health: &Health) {
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
        commit_batch(&mut conn, writes, health);
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

fn commit_batch(conn: &mut Connection, writes: Vec<Box<dyn Write>>, health: &Health) {
    if writes.is_empty() {
        return;
    }
    // Queued behind the daemon's other writers (crate::store::gate), so a report ingest never
    // starves the check results.
    let _turn = super::gate::enter(BUSY_TIMEOUT);
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::db("starting a write transaction", e);
            tracing::error!(error = %e, "a batch of store writes failed");
            set_health(
                health,
                Some(damage(&e).unwrap_or_else(|| "a write transaction cannot start".into())),
            );
            for w in writes {
                w.fail(e.clone());
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(writes.len());
    let mut damaged = None;
    for w in writes {
        // A savepoint per write: a failing write is rolled back alone and answered with its error.
        if let Err(e) = tx.execute_batch("SAVEPOINT write") {
            w.fail(StoreError::db("opening a savepoint", e));
            continue;
        }
        let (ok, damage, answer) = w.run(&tx);
        damaged = damaged.or(damage);
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
    match &commit {
        Err(e) => {
            tracing::error!(error = %e, writes = answers.len(), "a batch of store writes was not committed");
            set_health(
                health,
                Some(
                    damage(e)
                        .unwrap_or_else(|| "the last batch of writes was not committed".into()),
                ),
            );
        }
        Ok(()) => set_health(health, damaged),
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
            let unhealthy = self
                .health
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(why) = unhealthy {
                return Err(StoreError::Unhealthy(why));
            }
            self.deep_check_if_due();
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

    fn alerts(&self) -> StoreFuture<'_, Vec<StoredAlert>> {
        self.read(alerts::load)
    }

    fn save_alerts(&self, upserts: Vec<StoredAlert>, removed: Vec<String>) -> StoreFuture<'_, ()> {
        self.write(move |c| alerts::save(c, &upserts, &removed))
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
            // The writer is gone and the WAL folded in: say so for the next start, while the file is
            // still ours (not when damage was seen: the next start must look at it in full).
            let healthy = self
                .health
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none();
            if healthy {
                clean_stop::mark(&self.path);
            }
            // Another process may have the file now.
            self.lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            Ok(())
        })
    }
}

mod alerts;
mod clean_stop;
mod queries;
#[cfg(test)]
mod tests;
