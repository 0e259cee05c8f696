//! The scheduler: jobs on intervals with jitter, at most `schedule.concurrency` at once (a semaphore),
//! each cut off after `schedule.job_timeout`. A job that fails, times out or panics is logged and
//! counted (`senderscope_scheduler_job_runs_total{job,result}`) and the daemon goes on.
//!
//! - [`Job`]: a unit of scheduled work; the built-in ones are the [`BuiltinJob`] enum (posture
//!   checks per domain, blocklists per round, retention pruning), tests bring their own.
//! - [`run`]: the loop. It re-plans when the configuration changes (domains added or removed,
//!   intervals changed) and, on shutdown, stops dispatching and lets running jobs finish for a grace
//!   period before cancelling them.
//! - Cadence is fixed-rate: the next run is due one (jittered) interval after this one was
//!   dispatched; a job still running when it is due again skips that turn instead of overlapping.

mod jobs;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use rand::Rng;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::dns::Resolver;
use crate::metrics::{JobResult, Metrics};
use crate::results::Results;

pub use jobs::{BuiltinJob, JobKind, RETENTION_INTERVAL, plan};

/// The longest shutdown waits for running jobs before cancelling them (systemd's stop budget is
/// 10 s and the HTTP drain and store flush need their share).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A unit of scheduled work.
pub trait Job: Send + Sync + 'static {
    /// The `job` metrics label: a constant from code, so label values stay bounded.
    fn kind(&self) -> &'static str;
    /// What the job works on, for logs (`example.com`, `all`).
    fn target(&self) -> String;
    /// Run once. `cx.shutdown` is cancelled when the daemon stops: long jobs should watch it.
    fn run(&self, cx: JobContext) -> BoxFuture<'static, anyhow::Result<()>>;
}

/// What a job may use: a snapshot of the configuration taken when it was dispatched.
#[derive(Clone)]
pub struct JobContext {
    /// The configuration at dispatch time.
    pub config: Arc<Config>,
    /// Where results go (the store, then the latest state).
    pub results: Arc<Results>,
    /// The daemon's metrics.
    pub metrics: Arc<Metrics>,
    /// DNS, built from `config.dns`.
    pub dns: Resolver,
    /// Cancelled at shutdown.
    pub shutdown: CancellationToken,
}

/// A job and how often it runs. `key` identifies it across re-plans (`posture:example.com`).
#[derive(Clone)]
pub struct Planned {
    /// Unique and stable across config reloads.
    pub key: String,
    /// The work.
    pub job: Arc<dyn Job>,
    /// How often.
    pub interval: Duration,
}

/// What the scheduler runs with.
pub struct Deps {
    /// The running configuration.
    pub config: watch::Receiver<Arc<Config>>,
    /// Where results go (the store, then the latest state).
    pub results: Arc<Results>,
    /// The daemon's metrics.
    pub metrics: Arc<Metrics>,
    /// The resolver for `config.dns` (rebuilt here when `dns:` changes).
    pub dns: Resolver,
}

/// How one run ended: one value that writes its log line and bumps its metrics together.
struct JobFinished {
    kind: &'static str,
    target: String,
    result: JobResult,
    took: Duration,
    error: Option<String>,
}

impl JobFinished {
    fn emit(&self, metrics: &Metrics) {
        metrics.observe_job(self.kind, self.result, self.took);
        let secs = self.took.as_secs_f64();
        let (job, target) = (self.kind, self.target.as_str());
        match self.result {
            JobResult::Ok => tracing::debug!(job, target, secs, "job finished"),
            JobResult::Failed => tracing::warn!(
                job,
                target,
                secs,
                error = self.error.as_deref().unwrap_or(""),
                "job failed"
            ),
            JobResult::Timeout => tracing::warn!(
                job,
                target,
                secs,
                "job ran past schedule.job_timeout and was cancelled"
            ),
            JobResult::Panic => tracing::error!(
                job,
                target,
                secs,
                panic = self.error.as_deref().unwrap_or(""),
                "job panicked; the daemon goes on"
            ),
        }
    }
}

struct Entry {
    planned: Planned,
    due: Instant,
    running: bool,
}

/// A duration shifted by a random fraction in `[-jitter, +jitter]` of itself.
fn jittered(interval: Duration, jitter: f64) -> Duration {
    if jitter <= 0.0 {
        return interval;
    }
    let f = rand::rng().random_range(-jitter..=jitter);
    interval.mul_f64((1.0 + f).max(0.0))
}

/// When a newly planned job first runs: within the first `jitter` fraction of its interval, so a
/// thousand domains do not all start in the same second (and with no jitter, at once).
fn first_due(now: Instant, interval: Duration, jitter: f64) -> Instant {
    if jitter <= 0.0 {
        return now;
    }
    now + interval.mul_f64(rand::rng().random_range(0.0..=jitter))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

type Queue = BinaryHeap<Reverse<(Instant, String)>>;

/// Bring the entries in line with the plan for `config`: new jobs are queued, removed ones dropped
/// (a running one finishes), changed intervals applied.
fn replan(
    plan: &impl Fn(&Config) -> Vec<Planned>,
    metrics: &Metrics,
    config: &Config,
    entries: &mut HashMap<String, Entry>,
    queue: &mut Queue,
) {
    let now = Instant::now();
    let planned = plan(config);
    let keep: HashSet<&str> = planned.iter().map(|p| p.key.as_str()).collect();
    entries.retain(|k, _| keep.contains(k.as_str()));
    for p in planned {
        metrics.declare_job(p.job.kind());
        match entries.get_mut(&p.key) {
            Some(e) => {
                // A shorter interval takes effect now rather than after the old, longer wait.
                if p.interval < e.planned.interval && e.due > now + p.interval {
                    e.due = now + p.interval;
                    queue.push(Reverse((e.due, p.key.clone())));
                }
                e.planned = p;
            }
            None => {
                let due = first_due(now, p.interval, config.schedule.jitter);
                queue.push(Reverse((due, p.key.clone())));
                let key = p.key.clone();
                entries.insert(
                    key,
                    Entry {
                        planned: p,
                        due,
                        running: false,
                    },
                );
            }
        }
    }
    tracing::info!(jobs = entries.len(), "scheduler planned its jobs");
}

/// Run the scheduler until `shutdown`: `plan` says which jobs exist for a configuration.
pub async fn run(
    mut deps: Deps,
    plan: impl Fn(&Config) -> Vec<Planned>,
    shutdown: CancellationToken,
) {
    let mut config = deps.config.borrow_and_update().clone();
    let concurrency = config.schedule.concurrency.get();
    let semaphore = Arc::new(Semaphore::new(concurrency));
    let mut permits = concurrency;
    let jobs_token = shutdown.child_token();
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut queue: Queue = BinaryHeap::new();
    let mut running: JoinSet<(String, Option<JobFinished>)> = JoinSet::new();

    replan(&plan, &deps.metrics, &config, &mut entries, &mut queue);

    loop {
        let next_due = queue.peek().map(|Reverse((t, _))| *t);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = deps.config.changed() => {
                if changed.is_err() {
                    break;
                }
                let new = deps.config.borrow_and_update().clone();
                if new.dns != config.dns {
                    match Resolver::with_histogram(&new.dns, deps.metrics.dns_query_duration_seconds.clone()) {
                        Ok(r) => deps.dns = r,
                        Err(e) => tracing::error!(error = %e, "the new dns settings could not be applied; keeping the previous resolver"),
                    }
                }
                let wanted = new.schedule.concurrency.get();
                if wanted > permits {
                    semaphore.add_permits(wanted - permits);
                } else if wanted < permits {
                    // Take the surplus permits out of circulation as running jobs return them.
                    let sem = semaphore.clone();
                    let surplus = u32::try_from(permits - wanted).unwrap_or(u32::MAX);
                    tokio::spawn(async move {
                        if let Ok(p) = sem.acquire_many_owned(surplus).await {
                            p.forget();
                        }
                    });
                }
                permits = wanted;
                config = new;
                replan(&plan, &deps.metrics, &config, &mut entries, &mut queue);
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                match done {
                    Ok((key, finished)) => {
                        if let Some(f) = finished {
                            f.emit(&deps.metrics);
                        }
                        if let Some(e) = entries.get_mut(&key) {
                            e.running = false;
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "a job task ended abnormally"),
                }
            }
            _ = sleep_until(next_due) => {
                let Some(Reverse((at, key))) = queue.pop() else { continue };
                let Some(entry) = entries.get_mut(&key) else { continue };
                if entry.due != at {
                    continue; // superseded by a re-plan
                }
                let interval = entry.planned.interval;
                entry.due = at.max(Instant::now()) + jittered(interval, config.schedule.jitter);
                queue.push(Reverse((entry.due, key.clone())));
                if entry.running {
                    tracing::debug!(job = entry.planned.job.kind(), target = entry.planned.job.target(), "job still running when due again; skipping this turn");
                    continue;
                }
                entry.running = true;
                let cx = JobContext {
                    config: config.clone(),
                    results: deps.results.clone(),
                    metrics: deps.metrics.clone(),
                    dns: deps.dns.clone(),
                    shutdown: jobs_token.clone(),
                };
                let job = entry.planned.job.clone();
                running.spawn(dispatch(key, job, cx, semaphore.clone(), config.schedule.job_timeout));
            }
        }
    }
    drain(
        running,
        semaphore,
        jobs_token,
        config.schedule.job_timeout,
        &deps.metrics,
    )
    .await;
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Wait for a concurrency slot, then run the job with its timeout, catching a panic.
async fn dispatch(
    key: String,
    job: Arc<dyn Job>,
    cx: JobContext,
    semaphore: Arc<Semaphore>,
    timeout: Duration,
) -> (String, Option<JobFinished>) {
    let (kind, target) = (job.kind(), job.target());
    let Ok(_permit) = semaphore.acquire_owned().await else {
        // The semaphore closes at shutdown: a job still waiting for a slot does not start.
        return (key, None);
    };
    let metrics = cx.metrics.clone();
    let gauge = metrics.jobs_running.with_label_values(&[kind]);
    gauge.inc();
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, AssertUnwindSafe(job.run(cx)).catch_unwind()).await;
    gauge.dec();
    let (result, error) = match outcome {
        Ok(Ok(Ok(()))) => (JobResult::Ok, None),
        Ok(Ok(Err(e))) => (JobResult::Failed, Some(format!("{e:#}"))),
        Ok(Err(panic)) => (JobResult::Panic, Some(panic_message(panic.as_ref()))),
        Err(_) => (JobResult::Timeout, None),
    };
    let finished = JobFinished {
        kind,
        target,
        result,
        took: started.elapsed(),
        error,
    };
    (key, Some(finished))
}

/// At shutdown: no new starts; running jobs get `min(job_timeout, SHUTDOWN_GRACE)` to finish, with
/// their shutdown token cancelled so cooperative jobs end early; the rest are cancelled.
async fn drain(
    mut running: JoinSet<(String, Option<JobFinished>)>,
    semaphore: Arc<Semaphore>,
    jobs_token: CancellationToken,
    job_timeout: Duration,
    metrics: &Metrics,
) {
    semaphore.close();
    jobs_token.cancel();
    let deadline = Instant::now() + job_timeout.min(SHUTDOWN_GRACE);
    loop {
        match tokio::time::timeout_at(deadline, running.join_next()).await {
            Ok(Some(Ok((_, finished)))) => {
                if let Some(f) = finished {
                    f.emit(metrics);
                }
            }
            Ok(Some(Err(e))) => tracing::error!(error = %e, "a job task ended abnormally"),
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    jobs = running.len(),
                    "jobs still running at shutdown were cancelled"
                );
                running.abort_all();
                while running.join_next().await.is_some() {}
                break;
            }
        }
    }
    tracing::info!("scheduler stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_fraction() {
        let i = Duration::from_secs(100);
        for _ in 0..1000 {
            let j = jittered(i, 0.1);
            assert!(
                j >= Duration::from_secs(90) && j <= Duration::from_secs(110),
                "{j:?}"
            );
        }
        assert_eq!(jittered(i, 0.0), i);
    }

    #[test]
    fn first_runs_spread_over_the_jitter_window() {
        let now = Instant::now();
        let i = Duration::from_secs(1000);
        assert_eq!(first_due(now, i, 0.0), now);
        for _ in 0..1000 {
            let d = first_due(now, i, 0.2) - now;
            assert!(d <= Duration::from_secs(200), "{d:?}");
        }
    }
}
