//! One reload path: the file watcher, SIGHUP and `POST /-/reload` all send a [`ReloadRequest`] to one task,
//! which loads and validates the file and either swaps the running config or keeps the old one and
//! says why (metric `senderscope_config_last_reload_successful`, log, `/api/v1/status`).
//!
//! - [`run`]: the task. Requests that queue up while a load runs share the next load.
//! - [`watch_file`]: the debounced watcher that sends file-triggered requests.
//! - [`ReloadStatus`]: the outcome of the last reload, for the status API and the gauge.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::{Config, ConfigError, ConfigSource, Problem, load};

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadTrigger {
    /// The config file changed on disk.
    File,
    /// SIGHUP.
    Signal,
    /// `POST /-/reload`.
    Http,
}

/// A request to the reload task; `reply` (if any) gets the outcome: `Err` carries the validation errors.
#[derive(Debug)]
pub struct ReloadRequest {
    /// What asked.
    pub trigger: ReloadTrigger,
    /// Where to send the outcome.
    pub reply: Option<oneshot::Sender<Result<(), String>>>,
}

/// The outcome of the last (re)load, shared by the reload task and whoever reports it. Cheap to clone.
#[derive(Clone)]
pub struct ReloadStatus {
    inner: Arc<StatusInner>,
}

struct StatusInner {
    /// `senderscope_config_last_reload_successful`.
    gauge: prometheus::IntGauge,
    state: Mutex<StatusState>,
}

#[derive(Default)]
struct StatusState {
    last_error: Option<String>,
    last_success_unix: Option<i64>,
}

impl ReloadStatus {
    /// A status for a daemon that has just loaded its config: the gauge is set to 1 and the initial
    /// load counts as the last success.
    pub fn new(gauge: prometheus::IntGauge) -> Self {
        gauge.set(1);
        ReloadStatus {
            inner: Arc::new(StatusInner {
                gauge,
                state: Mutex::new(StatusState {
                    last_error: None,
                    last_success_unix: Some(now_unix()),
                }),
            }),
        }
    }

    /// The refused config's problems (one per line), or `None` since the last good load.
    pub fn last_error(&self) -> Option<String> {
        self.state().last_error.clone()
    }

    /// When a config was last loaded successfully (Unix seconds).
    pub fn last_success_unix(&self) -> Option<i64> {
        self.state().last_success_unix
    }

    fn succeeded(&self) {
        let mut state = self.state();
        state.last_error = None;
        state.last_success_unix = Some(now_unix());
        self.inner.gauge.set(1);
    }

    fn failed(&self, error: &ConfigError) {
        self.state().last_error = Some(error.to_string());
        self.inner.gauge.set(0);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StatusState> {
        // The state is two plain values, consistent after any panic: a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ReloadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("ReloadStatus")
            .field("last_error", &state.last_error)
            .field("last_success_unix", &state.last_success_unix)
            .finish()
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The reload task. For each request: load and validate `source`; a good config replaces the one in
/// `current` (only if it differs, so receivers wake only for a real change), a bad one leaves it and
/// sets the gauge to 0. Either way the requester's `reply`, if any, gets the outcome. Returns when
/// `shutdown` is cancelled or every sender is gone.
pub async fn run(
    source: ConfigSource,
    current: watch::Sender<Arc<Config>>,
    mut requests: mpsc::Receiver<ReloadRequest>,
    status: ReloadStatus,
    shutdown: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            request = requests.recv() => match request {
                Some(request) => request,
                None => return,
            },
        };
        // An editor's save can come with a SIGHUP from a deploy script: one load answers all of them.
        let mut batch = vec![first];
        while let Ok(more) = requests.try_recv() {
            batch.push(more);
        }
        let triggers: Vec<ReloadTrigger> = batch.iter().map(|r| r.trigger).collect();
        let outcome = match load_off_thread(&source).await {
            Ok(config) => {
                // Status first: whoever wakes up to the new config finds the status already saying so.
                status.succeeded();
                let changed = current.send_if_modified(|running| {
                    if **running == config {
                        return false;
                    }
                    *running = Arc::new(config);
                    true
                });
                tracing::info!(source = %source, ?triggers, changed, "configuration reloaded");
                Ok(())
            }
            Err(error) => {
                status.failed(&error);
                tracing::error!(
                    source = %source,
                    ?triggers,
                    problems = error.problems.len(),
                    errors = %error,
                    "configuration reload refused; the running configuration stays"
                );
                Err(error.to_string())
            }
        };
        for request in batch {
            if let Some(reply) = request.reply {
                // The requester may have given up waiting; the outcome is in the status anyway.
                let _ = reply.send(outcome.clone());
            }
        }
    }
}

/// Loading reads files and parses up to 1 MiB of YAML (once more per problem placed): off the
/// async threads.
async fn load_off_thread(source: &ConfigSource) -> Result<Config, ConfigError> {
    let owned = source.clone();
    match tokio::task::spawn_blocking(move || load(&owned)).await {
        Ok(outcome) => outcome,
        Err(join) => Err(ConfigError::one(Problem::at(
            &source.to_string(),
            None,
            "",
            format!("loading failed unexpectedly: {join}"),
        ))),
    }
}

/// Stops watching when dropped.
pub struct ConfigWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfigWatcher")
    }
}

/// The debounce for [`watch_file`]: an editor's save is several events (write a temporary file,
/// rename it over, fix permissions) within a few milliseconds; one reload should follow, after the
/// file is complete.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// Watch the config file at `path` and send a [`ReloadTrigger::File`] request when it changes.
///
/// The watch is on the file's directory, not the file: editors that save by writing a new file and
/// renaming it over the old one, and a file deleted and created again, replace the inode a file
/// watch would follow. When the config path is a symbolic link (a Kubernetes ConfigMap swaps the
/// directory behind it), any change in the directory counts, and the directory of the file it points
/// to is watched as well.
pub fn watch_file(
    path: &Path,
    requests: mpsc::Sender<ReloadRequest>,
) -> Result<ConfigWatcher, notify::Error> {
    watch_file_debounced(path, requests, DEBOUNCE)
}

/// [`watch_file`] with a chosen debounce (tests use a short one).
pub fn watch_file_debounced(
    path: &Path,
    requests: mpsc::Sender<ReloadRequest>,
    debounce: Duration,
) -> Result<ConfigWatcher, notify::Error> {
    let name: OsString = path
        .file_name()
        .ok_or_else(|| notify::Error::generic("the config path names no file"))?
        .to_owned();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let any_change = path
        .symlink_metadata()
        .is_ok_and(|meta| meta.file_type().is_symlink());
    let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
        match result {
            Ok(events) => {
                let relevant = events
                    .iter()
                    .any(|event| concerns(&event.kind, &event.paths, &name, any_change));
                if relevant {
                    let request = ReloadRequest {
                        trigger: ReloadTrigger::File,
                        reply: None,
                    };
                    // Full: a reload is already queued and will read the file as it is now.
                    // Closed: the daemon is shutting down.
                    let _ = requests.try_send(request);
                }
            }
            Err(errors) => {
                for error in errors {
                    tracing::warn!(%error, "config file watcher error");
                }
            }
        }
    })?;
    debouncer.watch(&dir, RecursiveMode::NonRecursive)?;
    // Editing the file a symbolic link points to changes nothing in the link's directory: watch the
    // target's directory too (any change there counts, as in the link's).
    if any_change
        && let Some(target_dir) = std::fs::canonicalize(path)
            .ok()
            .and_then(|t| t.parent().map(Path::to_path_buf))
        && std::fs::canonicalize(&dir).ok().as_ref() != Some(&target_dir)
        && let Err(e) = debouncer.watch(&target_dir, RecursiveMode::NonRecursive)
    {
        tracing::warn!(dir = %target_dir.display(), error = %e, "cannot watch the directory the config symlink points into; edits there need SIGHUP or POST /-/reload");
    }
    Ok(ConfigWatcher {
        _debouncer: debouncer,
    })
}

/// Whether an event in the watched directory is about the config file's content. A removal alone is
/// not: the file is about to come back (delete and recreate), and until it does the running config
/// is the best there is.
fn concerns(kind: &EventKind, paths: &[PathBuf], name: &OsString, any_change: bool) -> bool {
    let content = matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any | EventKind::Other
    );
    content
        && (any_change
            || paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};

    #[test]
    fn only_changes_to_the_config_file_count() {
        let name = OsString::from("senderscope.yaml");
        let ours = vec![PathBuf::from("/etc/senderscope/senderscope.yaml")];
        let swap = vec![PathBuf::from("/etc/senderscope/.senderscope.yaml.swp")];
        let renamed = vec![
            PathBuf::from("/etc/senderscope/.tmp123"),
            PathBuf::from("/etc/senderscope/senderscope.yaml"),
        ];
        let create = EventKind::Create(CreateKind::File);
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let remove = EventKind::Remove(RemoveKind::File);
        assert!(concerns(&create, &ours, &name, false));
        assert!(concerns(&rename, &renamed, &name, false));
        assert!(!concerns(&create, &swap, &name, false));
        assert!(!concerns(&remove, &ours, &name, false));
        assert!(concerns(&create, &swap, &name, true));
    }

    #[test]
    fn status_records_failure_then_success() {
        let gauge = prometheus::IntGauge::new("g", "h").unwrap();
        let status = ReloadStatus::new(gauge.clone());
        assert_eq!(gauge.get(), 1);
        assert!(status.last_success_unix().is_some());
        let error = ConfigError::one(Problem::at("c.yaml", None, "x", "bad"));
        status.failed(&error);
        assert_eq!(gauge.get(), 0);
        assert_eq!(status.last_error().as_deref(), Some("c.yaml: x: bad"));
        status.succeeded();
        assert_eq!(gauge.get(), 1);
        assert_eq!(status.last_error(), None);
    }
}
