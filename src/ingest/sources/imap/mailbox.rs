//! One session on the mailbox: make sure the folders exist, select the mailbox, then read it in
//! passes — each message fetched (bounded, `BODY.PEEK[]` so a failure leaves it unread), ingested,
//! and moved to the processed or failed folder after the commit — and between passes wait with IDLE
//! (RFC 2177) or a timer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_imap::types::Capabilities;
use futures::TryStreamExt;
use tokio::sync::watch;

use super::connect::{ImapError, ImapSession, login, timed};
use super::settings::ImapSettings;
use super::{Backoff, IDLE_MAX, KEEPALIVE};
use crate::config::Config;
use crate::ingest::metrics::{IngestMetrics, Source};
use crate::ingest::outcome::Status;
use crate::ingest::{IngestError, InputOutcome, service};

/// Messages whose sizes are asked for in one command.
const BATCH: usize = 50;

/// How a session ended.
#[derive(Debug)]
pub struct Ended {
    /// Why.
    pub error: ImapError,
    /// Whether it read the mailbox to the end at least once (then the reconnection backoff starts
    /// over).
    pub worked: bool,
}

/// What the server can do beyond RFC 3501.
#[derive(Debug, Clone, Copy)]
struct Abilities {
    /// RFC 6851 `MOVE`.
    move_: bool,
    /// RFC 4315 `UID EXPUNGE`.
    uidplus: bool,
    /// RFC 2177 `IDLE`.
    idle: bool,
}

impl Abilities {
    fn of(caps: &Capabilities) -> Abilities {
        Abilities {
            move_: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            idle: caps.has_str("IDLE"),
        }
    }
}

/// How a pass over the mailbox ended.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Every message was read and moved.
    Done,
    /// The store could not take a message: it stays in the mailbox, to be read again soon.
    StoreUnavailable,
}

/// Run one session until it fails (the supervisor drops it to stop it).
pub async fn session(
    settings: &ImapSettings,
    config: watch::Receiver<Arc<Config>>,
    metrics: &IngestMetrics,
) -> Ended {
    let mut worked = false;
    let error = match run(settings, &config, metrics, &mut worked).await {
        Ok(never) => match never {},
        Err(e) => e,
    };
    Ended { error, worked }
}

async fn run(
    settings: &ImapSettings,
    config: &watch::Receiver<Arc<Config>>,
    metrics: &IngestMetrics,
    worked: &mut bool,
) -> Result<std::convert::Infallible, ImapError> {
    let t = settings.timeout;
    let mut session = login(settings).await?;
    let abilities = Abilities::of(&timed("CAPABILITY", t, session.capabilities()).await?);
    for folder in [&settings.processed_folder, &settings.failed_folder] {
        ensure_folder(&mut session, folder, t).await?;
    }
    timed("SELECT", t, session.select(&settings.folder))
        .await
        .map_err(|e| ImapError::Mailbox {
            folder: settings.folder.clone(),
            message: e.to_string(),
        })?;
    metrics.imap.connected.set(1);
    tracing::info!(
        host = %settings.host,
        folder = %settings.folder,
        idle = abilities.idle && settings.idle,
        r#move = abilities.move_,
        "IMAP session ready"
    );
    let mut store_backoff = Backoff::new(settings.poll_interval);
    loop {
        while session.unsolicited_responses.try_recv().is_ok() {}
        match pass(&mut session, settings, abilities, config, metrics).await? {
            Pass::Done => {
                // Only a session that read the mailbox to the end resets the reconnection backoff:
                // one that fails on the same message every time backs off to `backoff_max`.
                *worked = true;
                store_backoff.reset();
                metrics
                    .imap
                    .last_poll
                    .set(time::OffsetDateTime::now_utc().unix_timestamp());
                session = wait(session, settings, abilities).await?;
            }
            Pass::StoreUnavailable => {
                // The message that failed is read again first; NOOP keeps the session alive.
                tokio::time::sleep(store_backoff.wait()).await;
                timed("NOOP", t, session.noop()).await?;
            }
        }
    }
}

/// Create `folder` unless it exists (RFC 3501 §6.3.8: LIST with the name as the pattern).
async fn ensure_folder(
    session: &mut ImapSession,
    folder: &str,
    t: Duration,
) -> Result<(), ImapError> {
    let exists = {
        let names = timed("LIST", t, session.list(Some(""), Some(folder))).await?;
        let names: Vec<_> = timed("LIST", t, names.try_collect()).await?;
        names.iter().any(|n| n.name() == folder)
    };
    if !exists {
        timed("CREATE", t, session.create(folder))
            .await
            .map_err(|e| ImapError::Mailbox {
                folder: folder.to_owned(),
                message: e.to_string(),
            })?;
        tracing::info!(folder, "created the IMAP folder");
    }
    Ok(())
}

/// Read every message in the mailbox, oldest first.
async fn pass(
    session: &mut ImapSession,
    settings: &ImapSettings,
    abilities: Abilities,
    config: &watch::Receiver<Arc<Config>>,
    metrics: &IngestMetrics,
) -> Result<Pass, ImapError> {
    let t = settings.timeout;
    // Messages flagged \Deleted are on their way out (a copy was made): not read again.
    let mut uids: Vec<u32> = timed("UID SEARCH", t, session.uid_search("UNDELETED"))
        .await?
        .into_iter()
        .collect();
    uids.sort_unstable();
    for chunk in uids.chunks(BATCH) {
        let set = chunk
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sizes: HashMap<u32, u32> = {
            let fetches =
                timed("UID FETCH", t, session.uid_fetch(&set, "(UID RFC822.SIZE)")).await?;
            let fetches: Vec<_> = timed("UID FETCH", t, fetches.try_collect()).await?;
            fetches
                .iter()
                .filter_map(|f| Some((f.uid?, f.size?)))
                .collect()
        };
        for &uid in chunk {
            // Gone since the search (another client moved it): nothing to do.
            let Some(&size) = sizes.get(&uid) else {
                continue;
            };
            let config = config.borrow().clone();
            let limit = config.ingest.limits.max_buffered_bytes;
            let outcome = if u64::from(size) > limit {
                too_large(limit)
            } else {
                let Some(bytes) = fetch(session, uid, limit, t).await? else {
                    continue;
                };
                if bytes.len() as u64 > limit {
                    too_large(limit)
                } else {
                    let config = config.clone();
                    tokio::task::spawn_blocking(move || {
                        service::ingest_into(&config, &mut bytes.as_slice())
                    })
                    .await
                    .unwrap_or_else(|e| InputOutcome {
                        errors: vec![IngestError::Store(format!("the ingest task stopped: {e}"))],
                        ..InputOutcome::default()
                    })
                }
            };
            metrics.observe(Source::Imap, &config, &outcome);
            if outcome.is_transient() {
                tracing::warn!(
                    uid,
                    error = outcome.error().unwrap_or_default(),
                    "an IMAP message could not be stored; it stays in the mailbox and is read again"
                );
                return Ok(Pass::StoreUnavailable);
            }
            let (folder, label) = if outcome.status() == Status::Failed {
                tracing::warn!(
                    uid,
                    kind = outcome.kind().as_str(),
                    error = outcome.error().unwrap_or_default(),
                    folder = %settings.failed_folder,
                    "an IMAP message was refused; moved to the failed folder"
                );
                (&settings.failed_folder, "failed")
            } else {
                tracing::info!(
                    uid,
                    status = outcome.status().as_str(),
                    kind = outcome.kind().as_str(),
                    reports = outcome.reports.len(),
                    bounces = outcome.bounces().len(),
                    complaints = outcome.complaints().len(),
                    "an IMAP message was ingested"
                );
                (&settings.processed_folder, "processed")
            };
            let moved = move_message(session, uid, folder, abilities, t).await;
            let result = if moved.is_ok() { "ok" } else { "error" };
            metrics
                .imap
                .moves_total
                .with_label_values(&[label, result])
                .inc();
            moved?;
        }
    }
    Ok(Pass::Done)
}

/// The refusal of a message over `ingest.max_message_bytes` (it is not downloaded).
fn too_large(limit: u64) -> InputOutcome {
    InputOutcome {
        errors: vec![IngestError::TooLarge {
            what: "the message (ingest.max_message_bytes)",
            limit,
        }],
        ..InputOutcome::default()
    }
}

/// The message's bytes, at most `limit + 1` of them (RFC 3501 §6.4.5: a partial `BODY.PEEK[]<0.n>`,
/// so a server that understated the size still cannot make us hold more); `None` when it is gone.
async fn fetch(
    session: &mut ImapSession,
    uid: u32,
    limit: u64,
    t: Duration,
) -> Result<Option<Vec<u8>>, ImapError> {
    let query = format!("(UID BODY.PEEK[]<0.{}>)", limit.saturating_add(1));
    let fetches = timed("UID FETCH", t, session.uid_fetch(uid.to_string(), &query)).await?;
    let fetches: Vec<_> = timed("UID FETCH", t, fetches.try_collect()).await?;
    Ok(fetches
        .iter()
        .find(|f| f.uid == Some(uid))
        .and_then(|f| f.body())
        .map(<[u8]>::to_vec))
}

/// Move one message: `UID MOVE` (RFC 6851) where offered, else `UID COPY`, `\Deleted` and
/// `UID EXPUNGE` (RFC 4315) or, without UIDPLUS, `EXPUNGE`.
async fn move_message(
    session: &mut ImapSession,
    uid: u32,
    folder: &str,
    abilities: Abilities,
    t: Duration,
) -> Result<(), ImapError> {
    let set = uid.to_string();
    if abilities.move_ {
        return timed("UID MOVE", t, session.uid_mv(&set, folder)).await;
    }
    timed("UID COPY", t, session.uid_copy(&set, folder)).await?;
    {
        let stored = timed(
            "UID STORE",
            t,
            session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
        )
        .await?;
        let _: Vec<_> = timed("UID STORE", t, stored.try_collect()).await?;
    }
    if abilities.uidplus {
        let expunged = timed("UID EXPUNGE", t, session.uid_expunge(&set)).await?;
        let _: Vec<_> = timed("UID EXPUNGE", t, expunged.try_collect()).await?;
    } else {
        let expunged = timed("EXPUNGE", t, session.expunge()).await?;
        let _: Vec<_> = timed("EXPUNGE", t, expunged.try_collect()).await?;
    }
    Ok(())
}

/// Wait for new mail: IDLE until the server reports a change, or `poll_interval` passed (at most
/// 29 minutes, RFC 2177 §3); without IDLE, a timer with a NOOP every few minutes.
async fn wait(
    mut session: ImapSession,
    settings: &ImapSettings,
    abilities: Abilities,
) -> Result<ImapSession, ImapError> {
    let t = settings.timeout;
    if abilities.idle && settings.idle {
        let mut idle = session.idle();
        timed("IDLE", t, idle.init()).await?;
        let span = settings.poll_interval.min(IDLE_MAX);
        {
            let (until_change, _stop) = idle.wait_with_timeout(span);
            // The crate's own timeout restarts at every keepalive the server sends: bound the
            // whole wait too.
            match tokio::time::timeout(span, until_change).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(source)) => {
                    return Err(ImapError::Protocol {
                        what: "IDLE",
                        source,
                    });
                }
            }
        }
        return timed("DONE", t, idle.done()).await;
    }
    let mut left = settings.poll_interval;
    while !left.is_zero() {
        let step = left.min(KEEPALIVE);
        tokio::time::sleep(step).await;
        left -= step;
        timed("NOOP", t, session.noop()).await?;
    }
    Ok(session)
}
