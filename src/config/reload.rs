//! One reload path: the file watcher, SIGHUP and `POST /-/reload` all send a [`ReloadRequest`] to one task,
//! which loads and validates the file and either swaps the running config or keeps the old one and
//! says why (metric `senderscope_config_last_reload_successful`, log, `/api/v1/status`).

use tokio::sync::oneshot;

// TEMPORARY (runtime branch): stand-ins; the lead replaces them with the config engineer's.
pub use super::stub::reload_stub::{ConfigWatcher, ReloadStatus, run, watch_file};

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
