//! State survives a crash; migrations run once.

use std::time::Duration;

use crate::harness::daemon::{Daemon, TestConfig};

#[test]
fn data_committed_before_a_sigkill_is_there_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new(dir.path(), &["a.test"]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    let before = d.wait_for("/api/v1/domains/a.test", Duration::from_secs(20), |r| {
        !r.json()["checks"].as_array().unwrap().is_empty()
    });
    let before = before.json()["checks"].clone();
    d.kill();

    // Restart with the first checks pushed far out (jitter over an hour-long interval), so what the
    // API shows comes from the store, not from a new run.
    cfg.jitter = 0.5;
    cfg.checks = "12h".into();
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    let after = d.get("/api/v1/domains/a.test").json()["checks"].clone();
    assert_eq!(after, before, "the stored results survive SIGKILL");
    assert!(d.log().contains("senderscope is ready"));
}

#[test]
fn migrations_run_once_and_a_second_start_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &[]);
    let path = dir.path().join("config.yaml");
    cfg.write(&path);
    let first = Daemon::start(&path, cfg.port, &[]);
    assert!(
        first.log().contains("applied a state database migration"),
        "{}",
        first.log()
    );
    drop(first);
    let second = Daemon::start(&path, cfg.port, &[]);
    assert!(
        !second.log().contains("applied a state database migration"),
        "{}",
        second.log()
    );
}

#[tokio::test]
async fn reopening_the_store_keeps_schema_and_rows() {
    use senderscope::store::{SqliteStore, Store};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    let version = store.schema_version().await.unwrap();
    // The last migration's number (0007 is reserved for another branch until it is merged).
    assert_eq!(
        Some(version),
        senderscope::store::MIGRATIONS.last().map(|m| m.version)
    );
    store
        .save_checks(vec![senderscope::findings::CheckReport {
            target: "a.test".into(),
            check: senderscope::results::CheckId::Spf,
            status: senderscope::findings::Severity::Ok,
            record: None,
            findings: vec![],
            checked_at: 1,
            duration: Duration::ZERO,
        }])
        .await
        .unwrap();
    store.close().await.unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().await.unwrap(), version);
    assert_eq!(store.counts().await.unwrap()["check_results"], 1);
}
