//! Following the Postfix mail log (`events.postfix_log`), as `tail -F` does: complete lines only;
//! when the file is renamed away (logrotate) the rest of the old file is read before the new one
//! from its start; when it shrinks (`copytruncate`) reading starts again at 0. File-system
//! notifications wake the reader; a one-second poll covers file systems without them.
//!
//! At start the reader begins at the end of the existing file (like `tail -F`): lines already
//! there were written before this process could count them at the right time. Each line's event
//! key makes a re-read count nothing twice.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::postfix::Joiner;
use super::store::{LazyEventStore, Recorded};
use crate::config::Config;
use crate::metrics::Metrics;

/// The most read in one go (a huge backlog is taken in slices).
const MAX_READ: u64 = 4 << 20;
/// The longest line kept; a longer one is cut (Postfix lines are far shorter).
const MAX_LINE: usize = 64 << 10;

/// Where reading starts in a file that already exists when the follower opens it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the end: only lines written from now on.
    End,
    /// At the beginning (tests, one-off imports).
    Beginning,
}

/// A followed file: the open handle, its inode and how far it was read.
pub struct Follower {
    path: PathBuf,
    file: Option<(File, u64)>,
    offset: u64,
    partial: Vec<u8>,
    start: Start,
}

impl Follower {
    /// Follow `path` (it may not exist yet).
    pub fn new(path: &Path, start: Start) -> Follower {
        Follower {
            path: path.to_owned(),
            file: None,
            offset: 0,
            partial: Vec::new(),
            start,
        }
    }

    /// Every complete line written since the last call.
    pub fn poll(&mut self) -> io::Result<Vec<String>> {
        let mut lines = Vec::new();
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => {
                    let meta = f.metadata()?;
                    self.offset = if self.start == Start::End {
                        meta.len()
                    } else {
                        0
                    };
                    self.file = Some((f, meta.ino()));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(lines),
                Err(e) => return Err(e),
            }
            // Only the very first open may skip what is there; every later file is read whole.
            self.start = Start::Beginning;
        }
        self.read_available(&mut lines)?;
        let inode = self.file.as_ref().map(|(_, ino)| *ino);
        match std::fs::metadata(&self.path) {
            Ok(meta) if Some(meta.ino()) != inode => {
                // Rotated: the old file is drained (above); the new one is read from its start.
                self.flush_partial(&mut lines);
                self.file = None;
                self.offset = 0;
                if let Ok(f) = File::open(&self.path) {
                    let ino = f.metadata()?.ino();
                    self.file = Some((f, ino));
                    self.read_available(&mut lines)?;
                }
            }
            Ok(meta) if meta.len() < self.offset => {
                // Truncated in place: start again at 0.
                self.partial.clear();
                self.offset = 0;
                self.read_available(&mut lines)?;
            }
            _ => {}
        }
        Ok(lines)
    }

    fn read_available(&mut self, lines: &mut Vec<String>) -> io::Result<()> {
        let Some((file, _)) = self.file.as_mut() else {
            return Ok(());
        };
        loop {
            file.seek(SeekFrom::Start(self.offset))?;
            let mut chunk = Vec::new();
            let n = file.by_ref().take(MAX_READ).read_to_end(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            self.offset += n as u64;
            for byte in chunk {
                if byte == b'\n' {
                    lines.push(
                        String::from_utf8_lossy(&self.partial)
                            .trim_end_matches('\r')
                            .to_owned(),
                    );
                    self.partial.clear();
                } else if self.partial.len() < MAX_LINE {
                    self.partial.push(byte);
                }
            }
            if (n as u64) < MAX_READ {
                return Ok(());
            }
        }
    }

    /// A rotated file's last line without a newline is still a line.
    fn flush_partial(&mut self, lines: &mut Vec<String>) {
        if !self.partial.is_empty() {
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            self.partial.clear();
        }
    }
}

/// Follow `path` until `shutdown`, counting what the lines report into the events store.
pub async fn run(
    path: PathBuf,
    start: Start,
    store: Arc<LazyEventStore>,
    metrics: Arc<Metrics>,
    config: watch::Receiver<Arc<Config>>,
    shutdown: CancellationToken,
) {
    let (wake_tx, mut wake) = tokio::sync::mpsc::channel::<()>(1);
    let _watcher = watch_dir(&path, wake_tx);
    let mut follower = Follower::new(&path, start);
    let mut joiner = Joiner::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tracing::info!(path = %path.display(), "following the Postfix log");
    // Events read but not yet stored. While a batch waits (the store refused it), no new lines
    // are read: the log file holds them, so nothing is lost and memory stays bounded.
    let mut pending: Vec<Recorded> = Vec::new();
    loop {
        let (classifier, policy, domains) = {
            let c = config.borrow();
            (
                c.events.classifier.clone(),
                c.events.suppression,
                crate::http::events::configured_domains(&c),
            )
        };
        if pending.is_empty() {
            match follower.poll() {
                Ok(lines) => {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    for l in &lines {
                        joiner.line(l, now, &classifier, &mut pending);
                    }
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not read the Postfix log");
                }
            }
        }
        if !pending.is_empty() {
            let store = store.clone();
            let batch = std::mem::take(&mut pending);
            let result = tokio::task::spawn_blocking(move || {
                let stored = store.get().and_then(|s| s.record(&batch, &policy));
                (stored, batch)
            })
            .await;
            match result {
                Ok((Ok(outcome), batch)) => {
                    let counted = batch
                        .iter()
                        .zip(&outcome.fresh)
                        .filter(|(_, f)| **f)
                        .map(|(r, _)| r);
                    metrics.events.observe(counted, &domains);
                }
                Ok((Err(e), batch)) => {
                    tracing::warn!(error = %e, events = batch.len(), "could not store Postfix log events; retrying");
                    pending = batch;
                }
                Err(e) => tracing::warn!(error = %e, "the Postfix log writer failed"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.recv() => {}
            _ = tick.tick() => {}
        }
    }
}

/// Watch the log's directory (renames and new files happen there); `None` when notifications are
/// not available, and the poll does the work.
fn watch_dir(
    path: &Path,
    wake: tokio::sync::mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = wake.try_send(());
    })
    .ok()?;
    watcher
        .watch(dir, notify::RecursiveMode::NonRecursive)
        .ok()?;
    Some(watcher)
}
