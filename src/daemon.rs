//! The daemon's wiring: every long-running task is spawned here, with one shutdown token.
//!
//! Start: load the config, open the store (migrations), seed the latest state from it
//! ([`Results::open`]: one query, what `/metrics` and the API read from the first request), bind the
//! listener, then spawn the reload task
//! (fed by the file watcher, SIGHUP and `POST /-/reload`), the scheduler, the alert engine, the
//! HTTP server, the
//! systemd watchdog and the start-up public-resolver probe, and tell systemd `READY=1`. Stop
//! (SIGTERM/SIGINT): drain HTTP, stop the scheduler and let running jobs finish, flush the store
//! writer, and return — within [`STOP_BUDGET`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::blocklists::{self, resolver};
use crate::config::reload::{self, ReloadRequest, ReloadStatus, ReloadTrigger};
use crate::config::{self, Config, ConfigError, ConfigSource};
use crate::dns::{DnsSetupError, Resolver};
use crate::http::{self, AppState};
use crate::metrics::{Metrics, MetricsError};
use crate::results::Results;
use crate::scheduler;
use crate::store::{CheckResult, SqliteStore, Store, StoreError};

/// Everything must be stopped within this (systemd's default stop timeout is 90 s; ours says 10).
pub const STOP_BUDGET: Duration = Duration::from_secs(10);
/// Of the budget, what HTTP and the scheduler may use; the rest is the store's flush.
const DRAIN_BUDGET: Duration = Duration::from_secs(8);

/// Why the daemon could not start (or stop cleanly).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is invalid.
    /// (Not a `#[source]`: the message already lists every problem, and `{:#}` would print them twice.)
    #[error("the configuration is invalid:\n{0}")]
    Config(ConfigError),
    /// Metric registration failed (a bug).
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The state store could not be opened or flushed.
    #[error("state store {path}: {source}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
    /// The DNS settings could not be applied.
    #[error(transparent)]
    Dns(#[from] DnsSetupError),
    /// The listen address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// `server.listen`.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("installing signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

impl From<ConfigError> for DaemonError {
    fn from(e: ConfigError) -> Self {
        DaemonError::Config(e)
    }
}

/// Run the daemon until SIGTERM or SIGINT.
pub async fn run(source: ConfigSource) -> Result<(), DaemonError> {
    let started = Instant::now();
    let config = config::load(&source)?;
    let metrics = Arc::new(Metrics::new()?);
    let reload_status = ReloadStatus::new(metrics.config_last_reload_successful.clone());
    let state_path = config.state.path.clone();
    let store_error = |source| DaemonError::Store {
        path: state_path.clone(),
        source,
    };
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&config.state.path).map_err(store_error)?);
    let results = Arc::new(seed_results(&config, store.clone()).await);
    metrics.read_state(results.state().clone());
    let dns = Resolver::with_histogram(&config.dns, metrics.dns_query_duration_seconds.clone())?;
    let addr = config.server.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let domains = config.domains.len();

    let shutdown = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(16);
    let signals = spawn_signals(reload_tx.clone(), shutdown.clone())?;
    let (config_tx, config_rx) = watch::channel(Arc::new(config));

    // The file watcher lives as long as this function; without it SIGHUP and /-/reload still work.
    let _watcher = match &source {
        ConfigSource::File(path) => match reload::watch_file(path, reload_tx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot watch the config file; reload with SIGHUP or POST /-/reload");
                None
            }
        },
        ConfigSource::Embedded => None,
    };
    let reloader = tokio::spawn(reload::run(
        source,
        config_tx,
        reload_rx,
        reload_status.clone(),
        shutdown.clone(),
    ));
    let follower = tokio::spawn(follow_config(
        config_rx.clone(),
        results.clone(),
        shutdown.clone(),
    ));
    let probe = tokio::spawn(probe_resolver(
        config_rx.borrow().clone(),
        results.clone(),
        dns.clone(),
    ));
    // Reverse DNS of report sources, after their commit (docs/ingest.md, "Source enrichment").
    let enrichment = tokio::spawn(crate::analysis::enrich::run(
        config_rx.clone(),
        dns.clone(),
        metrics.dmarc_source_messages.clone(),
        shutdown.clone(),
    ));
    let scheduler = tokio::spawn(scheduler::run(
        scheduler::Deps {
            config: config_rx.clone(),
            results: results.clone(),
            metrics: metrics.clone(),
            dns,
        },
        scheduler::plan,
        shutdown.clone(),
    ));
    // Bounces, deferrals and deliveries from the Postfix log (events.postfix_log; a new path needs a
    // restart). Stops with the shutdown token.
    let _postfix_log = config_rx.borrow().events.postfix_log.clone().map(|path| {
        tokio::spawn(crate::events::follow::run(
            path,
            crate::events::follow::Start::End,
            Arc::new(crate::events::store::LazyEventStore::new(&state_path)),
            metrics.clone(),
            config_rx.clone(),
            shutdown.clone(),
        ))
    });
    let limits = http::serve::Limits {
        max_connections: config_rx.borrow().server.max_connections,
        header_read_timeout: config_rx.borrow().server.header_read_timeout,
        idle_timeout: config_rx.borrow().server.idle_timeout,
    };
    let alerting = tokio::spawn(crate::alerts::run(
        crate::alerts::Deps {
            config: config_rx.clone(),
            store: store.clone(),
            state: results.state().clone(),
            metrics: metrics.clone(),
        },
        shutdown.clone(),
    ));
    let _inbox = crate::ingest::sources::dir::spawn(
        &config_rx.borrow(),
        metrics.ingest.clone(),
        shutdown.clone(),
    );
    // The IMAP mailbox (ingest.imap): follows reloads, stops with the shutdown token.
    let _mailbox = crate::ingest::sources::imap::spawn(
        config_rx.clone(),
        metrics.ingest.clone(),
        shutdown.clone(),
    );
    let app = http::router(AppState::new(
        config_rx,
        results,
        metrics,
        reload_tx,
        reload_status,
    ));
    let server = {
        let stop = shutdown.clone();
        tokio::spawn(async move { http::serve::serve(listener, app, limits, stop).await })
    };

    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("watching {domains} domains")),
    ]);
    let watchdog = spawn_watchdog(shutdown.clone());
    tracing::info!(
        listen = %local,
        domains,
        state = %state_path.display(),
        ms = started.elapsed().as_millis() as u64,
        version = env!("CARGO_PKG_VERSION"),
        "senderscope is ready"
    );

    shutdown.cancelled().await;
    let stopping = Instant::now();
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("shutting down: draining HTTP, finishing running jobs, flushing the store");
    let deadline = tokio::time::Instant::now() + DRAIN_BUDGET;
    match tokio::time::timeout_at(deadline, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "the HTTP server failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server task ended abnormally"),
        Err(_) => tracing::warn!("HTTP requests still running at the drain deadline were dropped"),
    }
    if tokio::time::timeout_at(deadline, scheduler).await.is_err() {
        tracing::warn!("the scheduler did not stop before the drain deadline");
    }
    for task in [
        reloader, follower, signals, watchdog, probe, alerting, enrichment,
    ] {
        task.abort();
    }
    // The analysis' connection closes before the store's, so the store's close is the last and
    // checkpoints the WAL.
    crate::analysis::db::AnalysisDb::close_all();
    store.close().await.map_err(store_error)?;
    tracing::info!(
        ms = stopping.elapsed().as_millis() as u64,
        "senderscope stopped"
    );
    Ok(())
}

/// The results pipeline with its state seeded from the store before the scheduler starts (its first
/// runs are up to `jitter × interval` away) and before READY=1, so series and statuses do not vanish
/// across a restart. A store that cannot be read costs them until the first runs, not the start.
async fn seed_results(config: &Config, store: Arc<dyn Store>) -> Results {
    let started = Instant::now();
    let results = Results::new(store, config);
    match results.seed().await {
        Ok(s) => tracing::info!(
            results = s.results,
            listings = s.listings,
            ms = started.elapsed().as_millis() as u64,
            "published the stored results"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            "cannot read the stored results; check and blocklist series appear after the first runs"
        ),
    }
    results
}

/// SIGTERM and SIGINT stop the daemon; SIGHUP asks for a reload.
fn spawn_signals(
    reload: mpsc::Sender<ReloadRequest>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, DaemonError> {
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!(signal = "SIGTERM", "stop requested"); break; }
                _ = int.recv() => { tracing::info!(signal = "SIGINT", "stop requested"); break; }
                _ = hup.recv() => {
                    tracing::info!(signal = "SIGHUP", "reload requested");
                    let request = ReloadRequest { trigger: ReloadTrigger::Signal, reply: None };
                    if reload.try_send(request).is_err() {
                        tracing::warn!("a reload is already queued; this SIGHUP adds nothing");
                    }
                }
            }
        }
        shutdown.cancel();
    }))
}

/// Keep the latest state's scope in step with the configuration: what a reload removed has no
/// series and no status entry from then on.
async fn follow_config(
    mut config: watch::Receiver<Arc<Config>>,
    results: Arc<Results>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = config.changed() => if changed.is_err() { return },
        }
        let c = config.borrow_and_update().clone();
        results.configure(&c);
        tracing::info!(
            domains = c.domains.len(),
            "the running configuration changed"
        );
    }
}

/// At start, before the first blocklist round: does Spamhaus refuse our resolver as public
/// (127.255.255.254)? The verdict is logged with the fix and stored for `/api/v1/status`; every round
/// asks again. Nothing is sent when no Spamhaus zone is configured or nothing is monitored.
async fn probe_resolver(config: Arc<Config>, results: Arc<Results>, dns: Resolver) {
    if config.domains.is_empty() {
        return;
    }
    let Ok(zones) = blocklists::select(&config.blocklists) else {
        return;
    };
    let started = Instant::now();
    let Some(health) = resolver::probe(&dns.round(), &zones).await else {
        return;
    };
    let verdict = resolver::verdict(&health, &zones, &resolver::describe(&config.dns));
    match &verdict {
        resolver::Verdict::Public(f) => tracing::warn!(code = %f.code, "{}", f.message),
        resolver::Verdict::Accepted => {
            tracing::info!("Spamhaus answers this resolver: it is not refused as public")
        }
        resolver::Verdict::Unknown => tracing::warn!(
            "could not tell whether Spamhaus refuses this resolver: its test point 127.0.0.2 gave no answer or was not listed (Spamhaus once answered NXDOMAIN to public resolvers); see the zone-health findings"
        ),
        resolver::Verdict::NotApplicable => {}
    }
    if let Some(report) = resolver::stored(&verdict, crate::checks::unix_now(), started.elapsed())
        && let Err(e) = results.record(vec![CheckResult::from(report)]).await
    {
        tracing::warn!(error = %e, "cannot store the resolver verdict");
    }
}

/// Ping systemd's watchdog at half its period (sd_watchdog_enabled(3)); a no-op without WATCHDOG_USEC.
fn spawn_watchdog(shutdown: CancellationToken) -> JoinHandle<()> {
    let period = sd_notify::watchdog_enabled();
    tokio::spawn(async move {
        let Some(period) = period else { return };
        let mut tick = tokio::time::interval(period / 2);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => notify(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    })
}

/// Tell systemd; without NOTIFY_SOCKET this does nothing.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}
