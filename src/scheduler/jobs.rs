//! The built-in jobs, one enum matched exhaustively. A job computes and hands its outcome to the
//! results pipeline ([`crate::results::Results`]), which stores it and updates the latest state.
//!
//! Adding a kind is a variant, its arm in [`BuiltinJob::run`] and a line in [`plan`].

mod blocklists;
mod posture;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;

use super::{Job, JobContext, Planned};
use crate::checks;
use crate::config::{Config, DomainName};

/// How often retention pruning runs. Not configurable: pruning is cheap and a day's delay would
/// only keep rows a little longer than `state.retention`.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// The kinds of built-in job: the `job` label of the scheduler metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// DNS posture checks of one domain, every `schedule.checks`.
    Posture,
    /// One blocklist round over every sending IP and domain, every `schedule.blocklists`.
    Blocklists,
    /// Remove history older than `state.retention`, hourly.
    Retention,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 3] = [JobKind::Posture, JobKind::Blocklists, JobKind::Retention];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Posture => "posture",
            JobKind::Blocklists => "blocklists",
            JobKind::Retention => "retention",
        }
    }
}

/// A built-in job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltinJob {
    /// Posture checks of one domain.
    Posture(DomainName),
    /// A blocklist round.
    Blocklists,
    /// Retention pruning.
    Retention,
}

impl BuiltinJob {
    /// Its kind.
    pub fn kind(&self) -> JobKind {
        match self {
            BuiltinJob::Posture(_) => JobKind::Posture,
            BuiltinJob::Blocklists => JobKind::Blocklists,
            BuiltinJob::Retention => JobKind::Retention,
        }
    }
}

impl Job for BuiltinJob {
    fn kind(&self) -> &'static str {
        BuiltinJob::kind(self).as_str()
    }

    fn target(&self) -> String {
        match self {
            BuiltinJob::Posture(d) => d.to_string(),
            BuiltinJob::Blocklists | BuiltinJob::Retention => "all".into(),
        }
    }

    fn run(&self, cx: JobContext) -> BoxFuture<'static, anyhow::Result<()>> {
        let job = self.clone();
        Box::pin(async move {
            match job {
                BuiltinJob::Posture(domain) => posture::run(&cx, &domain).await,
                BuiltinJob::Blocklists => blocklists::round(&cx).await,
                BuiltinJob::Retention => retention(&cx).await,
            }
        })
    }
}

/// The jobs a configuration asks for.
pub fn plan(config: &Config) -> Vec<Planned> {
    let mut out: Vec<Planned> = config
        .domains
        .iter()
        .map(|d| Planned {
            key: format!("posture:{}", d.name),
            job: Arc::new(BuiltinJob::Posture(d.name.clone())),
            interval: config.schedule.checks,
        })
        .collect();
    if blocklists::planned(config) {
        out.push(Planned {
            key: "blocklists".into(),
            job: Arc::new(BuiltinJob::Blocklists),
            interval: config.schedule.blocklists,
        });
    }
    out.push(Planned {
        key: "retention".into(),
        job: Arc::new(BuiltinJob::Retention),
        interval: RETENTION_INTERVAL,
    });
    out
}

async fn retention(cx: &JobContext) -> anyhow::Result<()> {
    let keep = i64::try_from(cx.config.state.retention.as_secs()).unwrap_or(i64::MAX);
    let before = checks::unix_now().saturating_sub(keep);
    let pruned = cx
        .results
        .store()
        .prune(before)
        .await
        .context("pruning history")?;
    let rows: u64 = pruned.values().sum();
    if rows > 0 {
        tracing::info!(rows, ?pruned, "pruned history older than state.retention");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_has_a_posture_job_per_domain_and_retention() {
        let config = crate::config::load_str(
            "domains: [{name: a.test}, {name: b.test}]\nschedule: {checks: 5m}\n",
            "t.yaml",
        )
        .unwrap();
        let plan = plan(&config);
        let keys: Vec<&str> = plan.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "posture:a.test",
                "posture:b.test",
                "blocklists",
                "retention"
            ]
        );
        assert_eq!(plan[0].interval, Duration::from_secs(300));
        assert_eq!(plan[2].job.kind(), "blocklists");
        assert_eq!(plan[3].job.kind(), "retention");
    }

    #[test]
    fn blocklist_rounds_are_planned_when_there_are_targets_and_zones() {
        let plan_keys = |yaml: &str| -> Vec<String> {
            let config = crate::config::load_str(yaml, "t.yaml").unwrap();
            plan(&config).into_iter().map(|p| p.key).collect()
        };
        let keys = plan_keys("domains: [{name: a.test}]\nschedule: {blocklists: 10m}\n");
        assert_eq!(keys, ["posture:a.test", "blocklists", "retention"]);
        assert!(!plan_keys("domains: []\n").contains(&"blocklists".to_owned()));
        assert!(
            !plan_keys("domains: [{name: a.test}]\nblocklists: {defaults: false}\n")
                .contains(&"blocklists".to_owned())
        );
    }
}
