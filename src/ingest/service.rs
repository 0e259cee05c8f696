//! One ingest writer per state database in the process, shared by the sources (the watched
//! directory, `POST /api/v1/reports`, the IMAP mailbox): SQLite takes one writer at a time anyway, and one connection
//! keeps the duplicate check and the insert of a report in the same serial order.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::outcome::{InputOutcome, Status};
use super::store::IngestStore;
use super::{IngestError, MessageRules, ingest_with};
use crate::config::Config;

type Shared = Arc<Mutex<IngestStore>>;

static WRITERS: OnceLock<Mutex<HashMap<PathBuf, Shared>>> = OnceLock::new();

/// The process's writer for the database at `path`, opened on first use.
pub fn writer(path: &Path) -> Result<Shared, IngestError> {
    let writers = WRITERS.get_or_init(Mutex::default);
    let mut writers = writers.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(w) = writers.get(path) {
        return Ok(w.clone());
    }
    let w = Arc::new(Mutex::new(IngestStore::open(path)?));
    writers.insert(path.to_owned(), w.clone());
    Ok(w)
}

/// Ingest one input into the state database of `config` (`state.path`), with its bounds
/// (`ingest`) and its rules for bounces and complaints (`events`). Blocking: call from a blocking
/// thread. The outcome is final: every report, bounce and complaint in it is committed (or refused)
/// when this returns.
pub fn ingest_into(config: &Config, input: &mut dyn BufRead) -> InputOutcome {
    let writer = match writer(&config.state.path) {
        Ok(w) => w,
        Err(e) => {
            return InputOutcome {
                errors: vec![e],
                ..InputOutcome::default()
            };
        }
    };
    let mut store = writer.lock().unwrap_or_else(PoisonError::into_inner);
    let rules = MessageRules::from(&config.events);
    let outcome = ingest_with(input, &config.ingest.limits, &rules, &mut *store);
    if outcome.status() == Status::Failed && !outcome.is_transient() {
        // Kept for the `ingest_failures` alert rule (docs/alerts.md); losing this row loses no
        // report, so a failure to write it is only logged.
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if let Err(e) = store.record_failure(
            at,
            outcome.kind().as_str(),
            outcome.result_code(),
            &outcome.error().unwrap_or_default(),
        ) {
            tracing::warn!(error = %e, "could not record a refused input for the ingest_failures alert");
        }
    }
    store.release();
    outcome
}

impl InputOutcome {
    /// Whether the failure is ours (the store, a read error), not the input's: the input must then
    /// stay where it is for a retry, not be quarantined.
    pub fn is_transient(&self) -> bool {
        self.errors
            .iter()
            .any(|e| matches!(e, IngestError::Store(_) | IngestError::Io(_)))
    }
}
