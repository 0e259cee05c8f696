//! A restart publishes the stored results before READY=1: the posture families read exactly what the
//! jobs had published, with no job run (checks pushed days out), and promtool accepts them — also
//! after a round that could not reach DNS, whose facts the job kept from the round before.

use super::*;
use crate::harness::daemon::{Reply, promtool_check};

/// The families restored from the store at start.
const RESTORED: [&str; 6] = [
    "senderscope_check_status",
    "senderscope_findings",
    "senderscope_last_check_timestamp_seconds",
    "senderscope_spf_dns_lookups",
    "senderscope_dkim_key_size",
    "senderscope_dmarc_policy",
];
const POSTURE_RUNS: &str = r#"senderscope_scheduler_job_runs_total{job="posture",result="ok"}"#;

/// Start, let the first round of both domains finish (checks hourly, first run at once), scrape.
fn one_round(cfg: &mut TestConfig, config: &Path) -> Reply {
    cfg.checks = "1h".into();
    cfg.jitter = 0.0;
    cfg.write(config);
    let d = Daemon::start(config, cfg.port, &[]);
    d.wait_for("/metrics", Duration::from_secs(60), |r| {
        r.value(POSTURE_RUNS) == Some(2.0)
    })
}

/// Start with the next runs a week away (jitter 0.5: the first within 3.5 days) and scrape at once.
fn restarted(cfg: &mut TestConfig, config: &Path) -> Reply {
    cfg.checks = "1w".into();
    cfg.blocklists_every = "1w".into();
    cfg.jitter = 0.5;
    cfg.write(config);
    let d = Daemon::start(config, cfg.port, &[]);
    let m = d.get("/metrics");
    assert!(
        m.value(POSTURE_RUNS).is_none_or(|n| n == 0.0),
        "a posture job ran: the series would not come from the store\n{}",
        d.log()
    );
    assert!(
        d.log().contains("published the stored results"),
        "{}",
        d.log()
    );
    m
}

#[tokio::test]
async fn posture_series_are_back_at_ready_after_a_restart() {
    let World {
        _dir,
        nsd,
        mut cfg,
        config,
        ..
    } = world().await;
    let published = one_round(&mut cfg, &config);
    let before = published.samples(&RESTORED);
    for line in [
        r#"senderscope_spf_dns_lookups{domain="watched.daemon.test"} 2"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s2"} 1024"#,
        r#"senderscope_check_status{check="ptr",domain="broken.daemon.test"} 3"#,
    ] {
        assert!(
            before.iter().any(|l| l == line),
            "{line} missing: {before:#?}"
        );
    }

    // No DNS from here on: a run could not reproduce these values.
    drop(nsd);
    let m = restarted(&mut cfg, &config);
    assert_eq!(m.samples(&RESTORED), before, "restored ≠ published");
    promtool_check(&m.body);

    // A round without DNS: every check unknown; the job keeps the facts it cannot learn (from the
    // store, as this process never saw them). The store keeps one outcome per second, and without DNS
    // this all takes less: the failing round must not replace the first one's row.
    std::thread::sleep(Duration::from_millis(1100));
    let failed = one_round(&mut cfg, &config);
    let after_failure = failed.samples(&RESTORED);
    for line in [
        r#"senderscope_check_status{check="spf",domain="watched.daemon.test"} -1"#,
        r#"senderscope_spf_dns_lookups{domain="watched.daemon.test"} 2"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s1"} 2048"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="quarantine"} 1"#,
    ] {
        assert!(
            after_failure.iter().any(|l| l == line),
            "{line} missing: {after_failure:#?}"
        );
    }
    // The latest stored SPF, DKIM and DMARC results know none of those facts: a restart takes them
    // from the round before, as the job did.
    let m = restarted(&mut cfg, &config);
    assert_eq!(m.samples(&RESTORED), after_failure, "restored ≠ published");
    promtool_check(&m.body);
}
