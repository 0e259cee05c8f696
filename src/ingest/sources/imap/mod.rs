//! The IMAP mailbox (`ingest.imap`, docs/ingest.md "IMAP"): one mailbox that receives DMARC
//! aggregate, TLS and failure reports, bounces and complaints.
//!
//! - [`settings`]: the validated section; [`connect`]: TCP, implicit TLS or STARTTLS (rustls), login;
//! - [`mailbox`]: one pass over the mailbox: each message fetched (bounded), handed to the same
//!   ingest pipeline as the other sources, and moved to the processed or failed folder only once
//!   what it carried is committed;
//! - this file: the supervisor: a session per configuration, IDLE (RFC 2177) where the server
//!   offers it and polling otherwise, reconnection with exponential backoff, and a new session when
//!   a reload changes `ingest.imap`.
//!
//! Nothing is lost: a message leaves the mailbox only after the store commit; one the store could
//! not take stays where it is and is read again (the store's keys make that count once); one that
//! cannot be read goes to the failed folder, never deleted.

pub mod connect;
pub mod mailbox;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::metrics::{IngestMetrics, SessionEnd};
pub use connect::ImapError;
use settings::ImapSettings;

/// RFC 2177 §3: a client should end IDLE and re-issue it at least every 29 minutes.
const IDLE_MAX: Duration = Duration::from_secs(29 * 60);
/// While polling, the connection is kept alive with a NOOP at least this often (RFC 3501 §5.4:
/// servers may log out a client idle for 30 minutes).
const KEEPALIVE: Duration = Duration::from_secs(5 * 60);
/// The first wait before reconnecting, and before reading again after the store refused a write.
const BACKOFF_START: Duration = Duration::from_secs(1);

/// Start the IMAP source: it follows the configuration (none configured: it waits for a reload
/// that adds one) and stops with `shutdown`.
pub fn spawn(
    config: watch::Receiver<Arc<Config>>,
    metrics: IngestMetrics,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(config, metrics, shutdown))
}

/// Run sessions for the configured mailbox until `shutdown`; a reload that changes `ingest.imap`
/// ends the session and starts one with the new settings.
pub async fn run(
    mut config: watch::Receiver<Arc<Config>>,
    metrics: IngestMetrics,
    shutdown: CancellationToken,
) {
    loop {
        let settings = config.borrow_and_update().ingest.imap.clone();
        let Some(settings) = settings else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = config.changed() => if changed.is_err() { return },
            }
            continue;
        };
        tracing::info!(
            host = %settings.host,
            port = settings.port,
            tls = settings.tls.as_str(),
            folder = %settings.folder,
            "reading the IMAP mailbox"
        );
        let mut backoff = Backoff::new(settings.backoff_max);
        loop {
            let session_config = config.clone();
            let ended = tokio::select! {
                _ = shutdown.cancelled() => { metrics.imap.connected.set(0); return }
                _ = changed(&mut config, &settings) => {
                    metrics.imap.connected.set(0);
                    metrics.imap.sessions_total.with_label_values(&[SessionEnd::Closed.as_str()]).inc();
                    tracing::info!("ingest.imap changed; starting a new IMAP session");
                    break;
                }
                ended = mailbox::session(&settings, session_config, &metrics) => ended,
            };
            metrics.imap.connected.set(0);
            let end = ended.error.end();
            metrics
                .imap
                .sessions_total
                .with_label_values(&[end.as_str()])
                .inc();
            if ended.worked {
                backoff.reset();
            }
            let wait = backoff.wait();
            tracing::warn!(
                host = %settings.host,
                error = %ended.error,
                retry_in_ms = wait.as_millis() as u64,
                "the IMAP session ended; reconnecting"
            );
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = changed(&mut config, &settings) => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Resolves when the configuration's `ingest.imap` is no longer `current`.
async fn changed(config: &mut watch::Receiver<Arc<Config>>, current: &ImapSettings) {
    loop {
        if config.changed().await.is_err() {
            // No more configurations: only the shutdown token ends the source now.
            std::future::pending::<()>().await;
        }
        if config.borrow_and_update().ingest.imap.as_ref() != Some(current) {
            return;
        }
    }
}

/// Exponential backoff: 1 s, 2 s, 4 s … up to a ceiling.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starting at one second, never above `max`.
    pub fn new(max: Duration) -> Backoff {
        Backoff {
            next: BACKOFF_START.min(max),
            max,
        }
    }

    /// The wait now; the next one is twice as long.
    pub fn wait(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    /// Back to the first wait (after a session that worked).
    pub fn reset(&mut self) {
        self.next = BACKOFF_START.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let waits: Vec<u64> = (0..5).map(|_| b.wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.wait(), Duration::from_secs(1));
    }
}
