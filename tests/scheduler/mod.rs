//! The scheduler in-process with test jobs: failures, panics and timeouts are counted and the rest go
//! on; concurrency is bounded; re-plans follow the config; shutdown lets running jobs finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use senderscope::config::{Config, load_str};
use senderscope::dns::{DnsSettings, Resolver};
use senderscope::metrics::Metrics;
use senderscope::results::{CheckId, Results};
use senderscope::scheduler::{self, Deps, Job, JobContext, Planned};
use senderscope::store::{SqliteStore, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What a test job does when run.
#[derive(Clone, Copy)]
enum Behaviour {
    Succeed,
    Fail,
    Panic,
    Hang,
    Sleep(Duration),
}

struct TestJob {
    kind: &'static str,
    behaviour: Behaviour,
    runs: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
    finished: Arc<AtomicUsize>,
}

impl TestJob {
    fn new(kind: &'static str, behaviour: Behaviour) -> Arc<TestJob> {
        Arc::new(TestJob {
            kind,
            behaviour,
            runs: Arc::default(),
            running: Arc::default(),
            max_running: Arc::default(),
            finished: Arc::default(),
        })
    }
}

impl Job for TestJob {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn target(&self) -> String {
        "test".into()
    }

    fn run(&self, _cx: JobContext) -> BoxFuture<'static, anyhow::Result<()>> {
        let (behaviour, runs, running, max, finished) = (
            self.behaviour,
            self.runs.clone(),
            self.running.clone(),
            self.max_running.clone(),
            self.finished.clone(),
        );
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            // Counted down on drop too: a timed-out run is dropped mid-way.
            let _running = Running(running);
            let result = match behaviour {
                Behaviour::Succeed => Ok(()),
                Behaviour::Fail => Err(anyhow::anyhow!("the test job fails on purpose")),
                Behaviour::Panic => panic!("the test job panics on purpose"),
                Behaviour::Hang => {
                    std::future::pending::<()>().await;
                    Ok(())
                }
                Behaviour::Sleep(d) => {
                    tokio::time::sleep(d).await;
                    Ok(())
                }
            };
            finished.fetch_add(1, Ordering::SeqCst);
            result
        })
    }
}

struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    metrics: Arc<Metrics>,
    store: Arc<SqliteStore>,
    results: Arc<Results>,
    config_tx: watch::Sender<Arc<Config>>,
    deps: Option<Deps>,
}

impl Harness {
    /// What a built-in job gets when the scheduler runs it: this harness's config, store, metrics, DNS.
    fn job_context(&self) -> JobContext {
        let deps = self.deps.as_ref().unwrap();
        JobContext {
            config: deps.config.borrow().clone(),
            results: self.results.clone(),
            metrics: self.metrics.clone(),
            dns: deps.dns.clone(),
            shutdown: CancellationToken::new(),
        }
    }
}

fn config(domains: &[&str], concurrency: usize, timeout: Duration) -> Config {
    let list: Vec<String> = domains.iter().map(|d| format!("{{name: {d}}}")).collect();
    let mut c = load_str(&format!("domains: [{}]\n", list.join(", ")), "test.yaml").unwrap();
    c.schedule.jitter = 0.0;
    c.schedule.concurrency = concurrency.try_into().unwrap();
    c.schedule.job_timeout = timeout;
    c
}

fn harness(config: Config) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let metrics = Arc::new(Metrics::new().unwrap());
    let results = Arc::new(Results::new(store.clone(), &config));
    metrics.read_state(results.state().clone());
    let (config_tx, config_rx) = watch::channel(Arc::new(config));
    let dns = Resolver::new(&DnsSettings {
        nameservers: vec!["127.0.0.1:9".parse().unwrap()],
        ..DnsSettings::default()
    })
    .unwrap();
    let deps = Deps {
        config: config_rx,
        results: results.clone(),
        metrics: metrics.clone(),
        dns,
    };
    Harness {
        _dir: dir,
        metrics,
        store,
        results,
        config_tx,
        deps: Some(deps),
    }
}

fn every(key: &str, job: &Arc<TestJob>, interval: Duration) -> Planned {
    Planned {
        key: key.into(),
        job: job.clone(),
        interval,
    }
}

/// The value of one sample line (`name{labels}`) of a scrape, if present.
fn sample(m: &Metrics, series: &str) -> Option<f64> {
    let text = m.render().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn runs(m: &Metrics, job: &str, result: &str) -> u64 {
    m.job_runs_total.with_label_values(&[job, result]).get()
}

#[tokio::test]
async fn failing_panicking_and_hanging_jobs_are_counted_and_the_rest_go_on() {
    let mut h = harness(config(&[], 4, Duration::from_millis(200)));
    let ok = TestJob::new("test_ok", Behaviour::Succeed);
    let fail = TestJob::new("test_fail", Behaviour::Fail);
    let panics = TestJob::new("test_panic", Behaviour::Panic);
    let hang = TestJob::new("test_hang", Behaviour::Hang);
    let plan = {
        let jobs = [ok.clone(), fail.clone(), panics.clone(), hang.clone()];
        move |_: &Config| {
            jobs.iter()
                .map(|j| every(j.kind, j, Duration::from_millis(50)))
                .collect::<Vec<_>>()
        }
    };
    let stop = CancellationToken::new();
    let task = tokio::spawn(scheduler::run(h.deps.take().unwrap(), plan, stop.clone()));
    let m = &h.metrics;
    // Poll rather than sleep a fixed time: on a loaded machine (or with RUST_BACKTRACE=1, which
    // makes every caught panic slow) the turns come later, but they must all come.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline
        && !(runs(m, "test_ok", "ok") >= 5
            && runs(m, "test_fail", "failed") >= 5
            && runs(m, "test_panic", "panic") >= 5
            && runs(m, "test_hang", "timeout") >= 2)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(
        runs(m, "test_ok", "ok") >= 5,
        "the healthy job kept running"
    );
    assert!(runs(m, "test_fail", "failed") >= 5);
    assert!(
        runs(m, "test_panic", "panic") >= 5,
        "panics are caught and counted"
    );
    assert!(
        runs(m, "test_hang", "timeout") >= 2,
        "hung jobs are cut off at job_timeout"
    );
    assert_eq!(runs(m, "test_hang", "ok"), 0);
    assert_eq!(runs(m, "test_ok", "panic"), 0);
    // A hung job is never run twice at once: the next turn is skipped while it runs.
    assert_eq!(hang.max_running.load(Ordering::SeqCst), 1);
    let text = m.render().unwrap();
    assert!(text.contains(r#"senderscope_scheduler_job_duration_seconds_count{job="test_ok"}"#));

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(6), task)
        .await
        .expect("stops")
        .unwrap();
}

#[tokio::test]
async fn at_most_schedule_concurrency_jobs_run_at_once() {
    let mut h = harness(config(&[], 2, Duration::from_secs(5)));
    let jobs: Vec<Arc<TestJob>> = (0..8)
        .map(|_| TestJob::new("test_sleep", Behaviour::Sleep(Duration::from_millis(100))))
        .collect();
    let running = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    // All jobs share one pair of counters so the maximum is over jobs, not within one.
    let jobs: Vec<Arc<TestJob>> = jobs
        .into_iter()
        .map(|j| {
            Arc::new(TestJob {
                running: running.clone(),
                max_running: max.clone(),
                ..Arc::try_unwrap(j).ok().unwrap()
            })
        })
        .collect();
    let plan = {
        let jobs = jobs.clone();
        move |_: &Config| {
            jobs.iter()
                .enumerate()
                .map(|(i, j)| every(&format!("sleep{i}"), j, Duration::from_secs(3600)))
                .collect::<Vec<_>>()
        }
    };
    let stop = CancellationToken::new();
    let task = tokio::spawn(scheduler::run(h.deps.take().unwrap(), plan, stop.clone()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        jobs.iter().all(|j| j.finished.load(Ordering::SeqCst) == 1),
        "all 8 ran once"
    );
    assert_eq!(max.load(Ordering::SeqCst), 2, "two at a time, never more");
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_running_job_finish() {
    let mut h = harness(config(&[], 2, Duration::from_secs(5)));
    let slow = TestJob::new("test_slow", Behaviour::Sleep(Duration::from_millis(500)));
    let plan = {
        let slow = slow.clone();
        move |_: &Config| vec![every("slow", &slow, Duration::from_secs(3600))]
    };
    let stop = CancellationToken::new();
    let task = tokio::spawn(scheduler::run(h.deps.take().unwrap(), plan, stop.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(slow.runs.load(Ordering::SeqCst), 1);
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("stops")
        .unwrap();
    assert_eq!(
        slow.finished.load(Ordering::SeqCst),
        1,
        "the running job finished"
    );
    assert_eq!(runs(&h.metrics, "test_slow", "ok"), 1);
}

#[tokio::test]
async fn a_job_past_the_shutdown_grace_is_cancelled() {
    let mut h = harness(config(&[], 2, Duration::from_secs(60)));
    let hang = TestJob::new("test_hang", Behaviour::Hang);
    let plan = {
        let hang = hang.clone();
        move |_: &Config| vec![every("hang", &hang, Duration::from_secs(3600))]
    };
    let stop = CancellationToken::new();
    let task = tokio::spawn(scheduler::run(h.deps.take().unwrap(), plan, stop.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.cancel();
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(8), task)
        .await
        .expect("stops")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= scheduler::SHUTDOWN_GRACE - Duration::from_millis(100)
            && took < Duration::from_secs(7),
        "{took:?}"
    );
    assert_eq!(hang.finished.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_reload_adds_and_removes_jobs() {
    let mut h = harness(config(&["a.test", "b.test"], 4, Duration::from_secs(5)));
    let per_domain: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<TestJob>>>> =
        Arc::default();
    let plan = {
        let per_domain = per_domain.clone();
        move |c: &Config| {
            let mut map = per_domain.lock().unwrap();
            c.domains
                .iter()
                .map(|d| {
                    let job = map
                        .entry(d.name.to_string())
                        .or_insert_with(|| TestJob::new("test_domain", Behaviour::Succeed))
                        .clone();
                    every(&format!("d:{}", d.name), &job, Duration::from_millis(50))
                })
                .collect::<Vec<_>>()
        }
    };
    let stop = CancellationToken::new();
    let task = tokio::spawn(scheduler::run(h.deps.take().unwrap(), plan, stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.config_tx
        .send(Arc::new(config(
            &["b.test", "c.test"],
            4,
            Duration::from_secs(5),
        )))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let count = |d: &str| per_domain.lock().unwrap()[d].runs.load(Ordering::SeqCst);
    let a_after_reload = count("a.test");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        count("a.test"),
        a_after_reload,
        "a removed domain is no longer scheduled"
    );
    assert!(count("c.test") >= 3, "an added domain is");
    assert!(count("b.test") >= 8, "a kept domain goes on");
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn the_retention_job_prunes_history_older_than_state_retention() {
    use senderscope::findings::{CheckReport, Severity};
    let h = harness(config(&[], 1, Duration::from_secs(5)));
    let now = senderscope::checks::unix_now();
    let report = |target: &str, at: i64| CheckReport {
        target: target.into(),
        check: CheckId::Spf,
        status: Severity::Ok,
        record: None,
        findings: vec![],
        checked_at: at,
        duration: Duration::ZERO,
    };
    h.store
        .save_checks(vec![
            report("old.test", now - 500 * 86400),
            report("new.test", now),
        ])
        .await
        .unwrap();
    let cx = h.job_context();
    assert_eq!(
        cx.config.state.retention,
        Duration::from_secs(400 * 86400),
        "default retention"
    );
    scheduler::BuiltinJob::Retention.run(cx).await.unwrap();
    let left: Vec<String> = h
        .store
        .latest_checks(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.target.to_string())
        .collect();
    assert_eq!(left, ["new.test"]);
}

#[tokio::test]
async fn the_posture_job_stores_every_check_and_publishes_metrics() {
    let h = harness(config(&["a.test"], 1, Duration::from_secs(5)));
    let cx = h.job_context();
    let job =
        scheduler::BuiltinJob::Posture(senderscope::config::DomainName::parse("a.test").unwrap());
    Job::run(&job, cx).await.unwrap();
    let stored = h.store.latest_checks(Some("a.test")).await.unwrap();
    let checks: Vec<&str> = stored.iter().map(|c| c.check.as_str()).collect();
    // Every domain check plus the bulk-sender summary: the job runs posture::check_domain.
    let mut expected: Vec<&str> = senderscope::checks::CheckKind::ALL
        .iter()
        .map(|k| k.as_str())
        .chain([senderscope::checks::bulk_sender::CHECK_NAME])
        .collect();
    expected.sort();
    assert_eq!(checks, expected);
    for kind in senderscope::checks::CheckKind::ALL {
        let status = sample(
            &h.metrics,
            &format!(
                r#"senderscope_check_status{{check="{}",domain="a.test"}}"#,
                kind.as_str()
            ),
        );
        assert!(status.is_some(), "{} has a status", kind.as_str());
    }
    // One timestamp for the domain: the oldest of its checks' last runs (docs/metrics.md).
    let ts = sample(
        &h.metrics,
        r#"senderscope_last_check_timestamp_seconds{domain="a.test"}"#,
    )
    .unwrap_or(0.0);
    assert!(ts > 0.0, "a.test has a last-check timestamp");
}

#[tokio::test]
async fn a_changed_record_raises_record_changed_for_a_day() {
    use senderscope::checks::Facts;
    use senderscope::findings::{CheckReport, Severity};
    use senderscope::posture::DomainReport;
    use senderscope::results::{CHANGE_REPORTED_FOR, DomainRound};
    let h = harness(config(&["a.test"], 1, Duration::from_secs(5)));
    let round = |record: &str, at: i64| {
        let report = CheckReport {
            target: "a.test".into(),
            check: CheckId::Dmarc,
            status: Severity::Ok,
            record: Some(record.into()),
            findings: vec![],
            checked_at: at,
            duration: Duration::ZERO,
        };
        DomainRound {
            report: DomainReport {
                domain: senderscope::config::DomainName::parse("a.test").unwrap(),
                status: Severity::Ok,
                checks: vec![report],
                facts: Facts {
                    dmarc_policy: Some("none"),
                    ..Facts::default()
                },
                ips: vec![],
            },
            dkim_selectors: vec![],
            checked_at: at,
            took: Duration::ZERO,
        }
    };
    h.results
        .record_domain_round(round("v=DMARC1; p=none", 100))
        .await
        .unwrap();
    assert!(
        codes(&h.store).await.is_empty(),
        "the first sighting is not a change"
    );
    h.results
        .record_domain_round(round("v=DMARC1; p=reject", 200))
        .await
        .unwrap();
    let latest = h.store.latest_checks(Some("a.test")).await.unwrap();
    let changed = &latest[0].findings[0];
    assert_eq!(changed.code, "record.changed");
    assert_eq!(changed.severity, Severity::Info);
    assert_eq!(latest[0].status, Severity::Info);
    assert!(
        changed.message.contains("p=none") && changed.message.contains("p=reject"),
        "{}",
        changed.message
    );
    assert_eq!(changed.detail["old"], "v=DMARC1; p=none");
    assert_eq!(changed.detail["new"], "v=DMARC1; p=reject");
    assert_eq!(changed.detail["changed_at"], 200);
    // The next round still shows the change, word for word, so the stored span just extends.
    h.results
        .record_domain_round(round("v=DMARC1; p=reject", 300))
        .await
        .unwrap();
    let again = h.store.latest_checks(Some("a.test")).await.unwrap();
    assert_eq!(again[0].findings, latest[0].findings);
    assert_eq!(again[0].since, 200);
    // A day later it is history only.
    let later = 200 + CHANGE_REPORTED_FOR.as_secs() as i64 + 1;
    h.results
        .record_domain_round(round("v=DMARC1; p=reject", later))
        .await
        .unwrap();
    assert!(
        codes(&h.store).await.is_empty(),
        "past the window an unchanged record raises nothing"
    );
    assert_eq!(
        sample(
            &h.metrics,
            r#"senderscope_dmarc_policy{domain="a.test",policy="none"}"#
        ),
        Some(1.0)
    );
}

async fn codes(store: &SqliteStore) -> Vec<String> {
    store.latest_checks(Some("a.test")).await.unwrap()[0]
        .findings
        .iter()
        .map(|f| f.code.clone())
        .collect()
}
