use std::time::Duration;

use super::*;
use crate::findings::{Finding, FindingCode};
use crate::results::PtrFacts;

fn report(target: &str, check: &str, findings: Vec<Finding>, at: i64) -> CheckReport {
    CheckReport {
        target: target.into(),
        check: check.parse().unwrap(),
        status: crate::findings::worst(&findings),
        record: Some("v=spf1 -all".into()),
        findings,
        checked_at: at,
        duration: Duration::from_millis(12),
    }
}

fn warn() -> Finding {
    Finding::new(
        FindingCode::SpfNeutralAll,
        Severity::Warning,
        "ends in ?all",
    )
    .with_detail(serde_json::json!({"all": "?"}))
}

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("sub/state.db")).unwrap();
    (dir, store)
}

#[tokio::test]
async fn identical_outcomes_extend_one_span() {
    let (_d, s) = open();
    s.save_checks(vec![report("a.test", "spf", vec![warn()], 100)])
        .await
        .unwrap();
    s.save_checks(vec![report("a.test", "spf", vec![warn()], 200)])
        .await
        .unwrap();
    let latest = s.latest_checks(None).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].since, latest[0].checked_at), (100, 200));
    assert_eq!(latest[0].status, Severity::Warning);
    assert_eq!(latest[0].findings[0].code, "spf.neutral_all");
    assert_eq!(latest[0].findings[0].detail["all"], "?");
    assert_eq!(s.counts().await.unwrap()["check_results"], 1);

    // A different outcome starts a new span, which becomes the latest.
    s.save_checks(vec![report("a.test", "spf", vec![], 300)])
        .await
        .unwrap();
    let latest = s.latest_checks(Some("a.test")).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].status, latest[0].since), (Severity::Ok, 300));
    assert_eq!(s.counts().await.unwrap()["check_results"], 2);
    assert!(s.latest_checks(Some("b.test")).await.unwrap().is_empty());
}

#[tokio::test]
async fn check_history_is_one_entry_per_span_newest_first() {
    let (_d, s) = open();
    for (findings, at) in [
        (vec![warn()], 100),
        (vec![warn()], 150),
        (vec![], 200),
        (vec![warn()], 300),
    ] {
        s.save_checks(vec![report("a.test", "spf", findings, at)])
            .await
            .unwrap();
    }
    s.save_checks(vec![
        report("a.test", "mx", vec![], 400),
        report("b.test", "spf", vec![], 400),
    ])
    .await
    .unwrap();
    let spans = |h: &[StoredCheck]| -> Vec<(i64, i64, Severity)> {
        h.iter()
            .map(|c| (c.since, c.checked_at, c.status))
            .collect()
    };
    let all = s.check_history("a.test", CheckId::Spf, 10).await.unwrap();
    assert_eq!(
        spans(&all),
        [
            (300, 300, Severity::Warning),
            (200, 200, Severity::Ok),
            (100, 150, Severity::Warning)
        ]
    );
    assert_eq!(all[2].findings[0].code, "spf.neutral_all");
    let two = s.check_history("a.test", CheckId::Spf, 2).await.unwrap();
    assert_eq!(spans(&two), spans(&all[..2]));
    assert!(
        s.check_history("c.test", CheckId::Spf, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn two_outcomes_in_one_second_keep_the_newer() {
    let (_d, s) = open();
    s.save_checks(vec![report("a.test", "spf", vec![warn()], 100)])
        .await
        .unwrap();
    s.save_checks(vec![report("a.test", "spf", vec![], 100)])
        .await
        .unwrap();
    let latest = s.latest_checks(None).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].status, Severity::Ok);
}

#[tokio::test]
async fn a_changed_record_is_reported_once_with_old_and_new() {
    let (_d, s) = open();
    let obs = |v: &str, at| RecordObservation {
        target: "a.test".into(),
        check: CheckId::Dmarc,
        name: "_dmarc.a.test".into(),
        value: v.into(),
        seen_at: at,
    };
    assert!(
        s.observe_records(vec![obs("v=DMARC1; p=none", 10)], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.observe_records(vec![obs("v=DMARC1; p=none", 20)], 20)
            .await
            .unwrap()
            .is_empty()
    );
    let changes = s
        .observe_records(vec![obs("v=DMARC1; p=reject", 30)], 30)
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].old_value, "v=DMARC1; p=none");
    assert_eq!(
        (changes[0].old_first_seen, changes[0].old_last_seen),
        (10, 20)
    );
    assert_eq!(changes[0].new_value, "v=DMARC1; p=reject");
    assert!(
        s.observe_records(vec![obs("v=DMARC1; p=reject", 40)], 40)
            .await
            .unwrap()
            .is_empty()
    );
    let history = s.record_history("a.test", CheckId::Dmarc).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[1].first_seen, history[1].last_seen), (30, 40));
}

#[tokio::test]
async fn a_recent_change_is_reported_while_within_the_window() {
    let (_d, s) = open();
    let obs = |v: &str, at| RecordObservation {
        target: "a.test".into(),
        check: CheckId::Dkim,
        name: "s2._domainkey.a.test".into(),
        value: v.into(),
        seen_at: at,
    };
    s.observe_records(vec![obs("v=DKIM1; p=AAAA", 10)], 10)
        .await
        .unwrap();
    // Removed (observed as ""), then seen again unchanged: the change of 20 stays reported while
    // `changed_since` reaches back to it, with when it happened.
    s.observe_records(vec![obs("", 20)], 20).await.unwrap();
    let still = s.observe_records(vec![obs("", 50)], 15).await.unwrap();
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].old_value, "v=DKIM1; p=AAAA");
    assert_eq!(still[0].new_value, "");
    assert_eq!(
        (
            still[0].old_first_seen,
            still[0].old_last_seen,
            still[0].changed_at
        ),
        (10, 10, 20)
    );
    assert!(
        s.observe_records(vec![obs("", 60)], 21)
            .await
            .unwrap()
            .is_empty(),
        "past the window the change is history only"
    );
    let history = s.record_history("a.test", CheckId::Dkim).await.unwrap();
    let values: Vec<(&str, i64, i64)> = history
        .iter()
        .map(|v| (v.value.as_str(), v.first_seen, v.last_seen))
        .collect();
    assert_eq!(values, [("v=DKIM1; p=AAAA", 10, 10), ("", 20, 60)]);
}

#[tokio::test]
async fn facts_are_stored_and_part_of_the_outcome() {
    let (_d, s) = open();
    let result = |fcrdns: bool, at| CheckResult {
        report: report("192.0.2.10", "ptr", vec![], at),
        facts: CheckFacts::Ptr(PtrFacts {
            ptr: Some("mail.a.test".into()),
            fcrdns,
        }),
    };
    s.save_results(vec![result(true, 100)]).await.unwrap();
    s.save_results(vec![result(true, 200)]).await.unwrap();
    let latest = s.latest_checks(None).await.unwrap();
    assert_eq!((latest[0].since, latest[0].checked_at), (100, 200));
    let facts = latest[0].facts.ptr().unwrap();
    assert_eq!(facts.ptr.as_deref(), Some("mail.a.test"));
    assert!(facts.fcrdns);
    s.save_results(vec![result(false, 300)]).await.unwrap();
    let latest = s.latest_checks(None).await.unwrap();
    assert_eq!(latest[0].since, 300, "different facts start a new span");
    assert_eq!(
        serde_json::to_value(&latest[0].facts).unwrap()["fcrdns"],
        false
    );
    // Results stored without facts read back as an empty object.
    s.save_checks(vec![report("a.test", "spf", vec![], 400)])
        .await
        .unwrap();
    let spf = s.latest_checks(Some("a.test")).await.unwrap();
    assert_eq!(
        serde_json::to_value(&spf[0].facts).unwrap(),
        serde_json::json!({})
    );
}

#[tokio::test]
async fn listing_periods_open_extend_and_close() {
    let (_d, s) = open();
    let obs = |listed: bool, at| ListingObservation {
        target: "192.0.2.10".into(),
        zone: "bl.test".into(),
        listed: listed.then(|| Listed {
            codes: vec!["127.0.0.2".into()],
            reason: Some("spam".into()),
        }),
        at,
    };
    let u = s.observe_listings(vec![obs(false, 5)]).await.unwrap();
    assert_eq!(u[0].transition, ListingTransition::Unchanged);
    assert!(u[0].period.is_none());
    let u = s.observe_listings(vec![obs(true, 10)]).await.unwrap();
    assert_eq!(u[0].transition, ListingTransition::Started);
    let u = s.observe_listings(vec![obs(true, 20)]).await.unwrap();
    assert_eq!(u[0].transition, ListingTransition::Unchanged);
    assert_eq!(u[0].period.as_ref().unwrap().listed_since, 10);
    assert_eq!(s.listings(None).await.unwrap().len(), 1);
    let u = s.observe_listings(vec![obs(false, 30)]).await.unwrap();
    assert_eq!(u[0].transition, ListingTransition::Ended);
    assert!(s.listings(None).await.unwrap().is_empty());
    let all = s.listings(Some("192.0.2.10")).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].codes, vec!["127.0.0.2"]);
    assert_eq!(
        (all[0].listed_since, all[0].last_seen, all[0].delisted_at),
        (10, 20, Some(30))
    );
}

#[tokio::test]
async fn prune_removes_only_old_history() {
    let (_d, s) = open();
    s.save_checks(vec![
        report("old.test", "spf", vec![], 100),
        report("new.test", "spf", vec![], 1000),
    ])
    .await
    .unwrap();
    let pruned = s.prune(500).await.unwrap();
    assert_eq!(pruned["check_results"], 1);
    let left = s.latest_checks(None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].target, "new.test");
}

#[tokio::test]
async fn a_failing_write_does_not_undo_its_batch_neighbours() {
    let (_d, s) = open();
    // Queue both before either is committed, so they share a batch.
    let good = s.save_checks(vec![report("a.test", "spf", vec![], 1)]);
    let bad = s.write(|c| {
        c.execute("INSERT INTO no_such_table VALUES (1)", [])
            .map_err(db("a write that fails"))
    });
    let (good, bad) = tokio::join!(good, bad);
    good.unwrap();
    assert!(bad.is_err());
    assert_eq!(s.latest_checks(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn writes_after_close_fail_and_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = SqliteStore::open(&path).unwrap();
    s.save_checks(vec![report("a.test", "spf", vec![warn()], 1)])
        .await
        .unwrap();
    s.close().await.unwrap();
    assert!(matches!(
        s.save_checks(vec![report("a.test", "spf", vec![], 2)])
            .await,
        Err(StoreError::Closed)
    ));
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().await.unwrap(), migrate::latest());
    let latest = s.latest_checks(None).await.unwrap();
    assert_eq!(latest[0].status, Severity::Warning);
    s.ping().await.unwrap();
}
