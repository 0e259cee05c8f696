//! The watched directory (`ingest.directory`): a file dropped in it is read once complete — at once
//! when renamed in (the atomic way to deliver), else once its size and mtime have held still for
//! `settle` — then moved to `processed/`, or to `failed/` beside a `NAME.error` saying why, only after
//! the store commit. A file the store could not take (a transient error) stays for the next scan.
//! A crash between commit and move leaves the file in place: read again, it is a duplicate.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::metrics::{IngestMetrics, Source};
use crate::ingest::outcome::Status;
use crate::ingest::{IngestError, InputOutcome, service};

/// Subdirectory for ingested files.
pub const PROCESSED: &str = "processed";
/// Subdirectory for refused files (with `NAME.error`).
pub const FAILED: &str = "failed";

/// Start watching when the config names a directory; the task stops with `shutdown`. The directory
/// and the config it ingests with are those at start (a change needs a restart).
pub fn spawn(
    config: &Arc<Config>,
    metrics: IngestMetrics,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let dir = config.ingest.directory.clone()?;
    Some(tokio::spawn(run(
        dir.path,
        dir.settle,
        config.clone(),
        metrics,
        shutdown,
    )))
}

/// What the scanner knows of a file not yet read.
struct Pending {
    len: u64,
    modified: Option<SystemTime>,
    since: Instant,
}

/// Watch `inbox` until `shutdown`.
pub async fn run(
    inbox: PathBuf,
    settle: Duration,
    config: Arc<Config>,
    metrics: IngestMetrics,
    shutdown: CancellationToken,
) {
    for dir in [inbox.clone(), inbox.join(PROCESSED), inbox.join(FAILED)] {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(dir = %dir.display(), error = %e, "cannot create the ingest directory; it is not watched");
            return;
        }
    }
    let (wake, mut woken) = mpsc::channel::<Option<PathBuf>>(64);
    // Events only wake the scan early (and mark renames); the scan itself is the source of truth,
    // so a lost event costs at most one scan interval.
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let renamed_in = matches!(
                event.kind,
                EventKind::Modify(notify::event::ModifyKind::Name(
                    notify::event::RenameMode::To | notify::event::RenameMode::Both
                )) | EventKind::Create(_)
            );
            let path = renamed_in.then(|| event.paths.last().cloned()).flatten();
            let _ = wake.try_send(path);
        }
    });
    let _watcher = match watcher {
        Ok(mut w) => match w.watch(&inbox, RecursiveMode::NonRecursive) {
            Ok(()) => Some(w),
            Err(e) => {
                tracing::warn!(dir = %inbox.display(), error = %e, "cannot watch the ingest directory; scanning it on an interval");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "no file watcher; scanning the ingest directory on an interval");
            None
        }
    };
    tracing::info!(dir = %inbox.display(), "watching the ingest directory");
    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    let mut renamed: HashSet<PathBuf> = HashSet::new();
    let interval = (settle / 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        for path in ready(&inbox, settle, &mut pending, &mut renamed) {
            if shutdown.is_cancelled() {
                return;
            }
            let (config, inbox) = (config.clone(), inbox.clone());
            let done = tokio::task::spawn_blocking(move || {
                let outcome = process(&inbox, &path, &config);
                (outcome, config)
            });
            match done.await {
                Ok((outcome, config)) => metrics.observe(Source::Directory, &config, &outcome),
                Err(e) => tracing::error!(error = %e, "an ingest task stopped abnormally"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            event = woken.recv() => {
                if let Some(Some(path)) = event {
                    renamed.insert(path);
                }
            }
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Files that are complete: renamed in, or unchanged for `settle`. Hidden files (`.name`, the usual
/// way to write before a rename) are left alone.
fn ready(
    inbox: &Path,
    settle: Duration,
    pending: &mut HashMap<PathBuf, Pending>,
    renamed: &mut HashSet<PathBuf>,
) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(inbox) else {
        return Vec::new();
    };
    let mut present = HashSet::new();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if hidden || !meta.is_file() {
            continue;
        }
        present.insert(path.clone());
        let modified = meta.modified().ok();
        if renamed.remove(&path) {
            pending.remove(&path);
            out.push(path);
            continue;
        }
        match pending.get_mut(&path) {
            Some(p) if p.len == meta.len() && p.modified == modified => {
                if p.since.elapsed() >= settle {
                    pending.remove(&path);
                    out.push(path);
                }
            }
            _ => {
                pending.insert(
                    path,
                    Pending {
                        len: meta.len(),
                        modified,
                        since: Instant::now(),
                    },
                );
            }
        }
    }
    pending.retain(|p, _| present.contains(p));
    renamed.retain(|p| present.contains(p));
    out.sort();
    out
}

/// Ingest one file (reports, bounces, complaints), then move it according to its outcome.
pub fn process(inbox: &Path, path: &Path, config: &Config) -> InputOutcome {
    let outcome = match File::open(path) {
        Ok(f) => service::ingest_into(config, &mut BufReader::with_capacity(64 << 10, f)),
        Err(e) => InputOutcome {
            errors: vec![IngestError::Io(e)],
            ..InputOutcome::default()
        },
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if outcome.is_transient() {
        tracing::warn!(file = %path.display(), error = outcome.error().unwrap_or_default(), "a report file could not be stored; it stays for the next scan");
        return outcome;
    }
    let status = outcome.status();
    let moved = if status == Status::Failed {
        let error = outcome.error().unwrap_or_default();
        tracing::warn!(file = %name, kind = outcome.kind().as_str(), error, "a report file was refused; moved to failed/");
        move_to(path, &inbox.join(FAILED), Some(&error))
    } else {
        tracing::info!(
            file = %name,
            status = status.as_str(),
            kind = outcome.kind().as_str(),
            reports = outcome.reports.len(),
            records = outcome.records(),
            "a report file was ingested"
        );
        move_to(path, &inbox.join(PROCESSED), None)
    };
    if let Err(e) = moved {
        tracing::error!(file = %path.display(), error = %e, "cannot move an ingested file; it will be read again (and count once)");
    }
    outcome
}

/// Move `path` into `dir` (a free name if taken), with `NAME.error` beside it when refused.
fn move_to(path: &Path, dir: &Path, error: Option<&str>) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let mut target = dir.join(&name);
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    if let Some(error) = error {
        let note = target.with_file_name(format!(
            "{}.error",
            target
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        std::fs::write(note, format!("{error}\n"))?;
    }
    std::fs::rename(path, &target)
}
