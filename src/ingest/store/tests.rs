use super::*;
use crate::ingest::{DryRun, Limits, Status, ingest};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/ingest/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn count(store: &IngestStore, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_report_is_stored_once_and_a_resend_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = IngestStore::open(&dir.path().join("state.db")).unwrap();
    let bytes = fixture("extract_report/nice-input.xml");
    let first = ingest(&mut bytes.as_slice(), &Limits::default(), &mut store);
    assert_eq!(first.status(), Status::Ok, "{:?}", first.errors);
    assert_eq!(first.records(), 20);
    let again = ingest(&mut bytes.as_slice(), &Limits::default(), &mut store);
    assert_eq!(again.status(), Status::Duplicate);
    // The same report gzipped is the same report.
    let gz = fixture("extract_report/nice-input.xml.gz");
    let third = ingest(&mut gz.as_slice(), &Limits::default(), &mut store);
    assert_eq!(third.status(), Status::Duplicate);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM aggregate_records"), 20);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM aggregate_reports WHERE state = 'complete'"
        ),
        1
    );
    assert_eq!(count(&store, "SELECT times FROM report_ledger"), 3);
}

#[test]
fn same_key_with_other_content_is_kept_as_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = IngestStore::open(&dir.path().join("state.db")).unwrap();
    let bytes = fixture("extract_report/nice-input.xml");
    ingest(&mut bytes.as_slice(), &Limits::default(), &mut store);
    let text = String::from_utf8(bytes).unwrap();
    let changed = text.replacen("<count>", "<count>9", 1);
    let outcome = ingest(&mut changed.as_bytes(), &Limits::default(), &mut store);
    assert_eq!(outcome.reports[0].stored, Stored::Conflict);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM aggregate_records"), 20);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM report_ledger WHERE outcome = 'conflict'"
        ),
        1
    );
}

#[test]
fn a_failed_report_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = IngestStore::open(&dir.path().join("state.db")).unwrap();
    let text = String::from_utf8(fixture("extract_report/nice-input.xml")).unwrap();
    let cut = &text[..text.len() - 200];
    let outcome = ingest(&mut cut.as_bytes(), &Limits::default(), &mut store);
    assert_eq!(outcome.status(), Status::Failed);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM aggregate_records"), 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM aggregate_reports"), 0);
    // And the whole report still goes in afterwards.
    let whole = ingest(&mut text.as_bytes(), &Limits::default(), &mut store);
    assert_eq!(whole.status(), Status::Ok);
}

#[test]
fn dkim_selectors_seen_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = IngestStore::open(&dir.path().join("state.db")).unwrap();
    let bytes = fixture("aggregate/rfc9990-sample.xml");
    ingest(&mut bytes.as_slice(), &Limits::default(), &mut store);
    let (selector, passed): (String, i64) = store
        .conn
        .query_row(
            "SELECT selector, passed FROM dkim_selectors_seen WHERE domain = 'example.com'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((selector.as_str(), passed), ("abc123", 123));
}

#[test]
fn tls_and_failure_reports_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = IngestStore::open(&dir.path().join("state.db")).unwrap();
    for name in [
        "smtp_tls/rfc8460.json",
        "failure/dmarc_ruf_report_linkedin.eml",
    ] {
        let bytes = fixture(name);
        let first = ingest(&mut bytes.as_slice(), &Limits::default(), &mut store);
        assert_eq!(first.status(), Status::Ok, "{name}: {:?}", first.errors);
        let again = ingest(&mut bytes.as_slice(), &Limits::default(), &mut store);
        assert_eq!(again.status(), Status::Duplicate, "{name}");
    }
    // The dry run stores nothing and calls everything new.
    let bytes = fixture("smtp_tls/rfc8460.json");
    let dry = ingest(&mut bytes.as_slice(), &Limits::default(), &mut DryRun);
    assert_eq!(dry.status(), Status::Ok);
}

#[test]
fn retention_removes_old_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = IngestStore::open(&dir.path().join("state.db")).unwrap();
    let bytes = fixture("extract_report/nice-input.xml");
    ingest(&mut bytes.as_slice(), &Limits::default(), &mut store);
    // The sample is from 2024: a one-day retention removes it, a century keeps it.
    assert_eq!(
        store
            .prune(Duration::from_secs(100 * 365 * 86_400))
            .unwrap(),
        0
    );
    assert!(store.prune(Duration::from_secs(86_400)).unwrap() > 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM aggregate_records"), 0);
}
