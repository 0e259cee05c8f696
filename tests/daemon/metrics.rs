//! `/metrics` as Prometheus reads it, and docs/metrics.md in step with the registry.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::daemon::{Daemon, TestConfig, promtool_check};

#[test]
fn metrics_pass_promtool_check_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &["a.test", "b.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    // After the first checks, so the per-domain families are populated.
    let scrape = d.wait_for("/metrics", Duration::from_secs(20), |r| {
        r.body.contains("senderscope_last_check_timestamp_seconds{")
            && r.body.contains("domain=\"b.test\"")
    });
    assert!(
        scrape
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    promtool_check(&scrape.body);
    for family in [
        "senderscope_check_status",
        "senderscope_build_info",
        "senderscope_scheduler_job_runs_total",
        "process_resident_memory_bytes",
    ] {
        assert!(
            scrape.body.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
    }
}

/// Every `senderscope_*`/`process_*` name in backticks at the start of a table row of docs/metrics.md.
fn documented() -> BTreeSet<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("senderscope_") || n.starts_with("process_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn docs_metrics_md_lists_exactly_the_registered_families() {
    let metrics = senderscope::metrics::Metrics::new().unwrap();
    let registered: BTreeSet<String> = metrics.family_names().iter().cloned().collect();
    let documented = documented();
    let missing: Vec<_> = registered.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "registered but not in docs/metrics.md: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "in docs/metrics.md but not registered: {stale:?}"
    );
}
