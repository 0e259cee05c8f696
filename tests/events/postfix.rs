//! The Postfix log follower against a real file: lines appended, the file renamed away mid-stream
//! (logrotate) while the old handle still gets lines, a new file, then the new file truncated in place
//! (copytruncate). Every delivery and bounce is counted exactly once.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use senderscope::config::load_str;
use senderscope::events::follow::{self, Start};
use senderscope::events::store::{EventStore, LazyEventStore};
use senderscope::metrics::Metrics;

fn qmgr(qid: &str) -> String {
    format!(
        "Dec  3 10:00:01 mx postfix/qmgr[1]: {qid}: from=<bounces@mail.shop.example>, size=10, nrcpt=1 (queue active)\n"
    )
}

fn sent(qid: &str, to: &str) -> String {
    format!(
        "Dec  3 10:00:02 mx postfix/smtp[2]: {qid}: to=<{to}>, relay=mx.example.net[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)\n"
    )
}

fn bounced(qid: &str, to: &str) -> String {
    format!(
        "Dec  3 10:00:03 mx postfix/smtp[2]: {qid}: to=<{to}>, relay=mx.example.net[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.9] said: 550 5.1.1 User unknown)\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn counts(db: &Path) -> (u64, u64) {
    let sums = EventStore::open(db)
        .unwrap()
        .sums(0, i64::MAX / 120)
        .unwrap();
    let of = |e: &str| sums.iter().filter(|s| s.event == e).map(|s| s.count).sum();
    (of("delivery"), of("bounce"))
}

async fn wait_for(db: &Path, want: (u64, u64)) {
    for _ in 0..100 {
        if counts(db) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("counts stayed at {:?}, expected {want:?}", counts(db));
}

#[tokio::test]
async fn a_log_rotated_and_truncated_mid_stream_counts_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    let db = dir.path().join("state.db");
    let yaml = format!(
        "state: {{ path: {} }}\ndomains: [{{name: shop.example}}]\nevents: {{ postfix_log: {{ path: {} }} }}\n",
        db.display(),
        log.display()
    );
    let config = load_str(&yaml, "test.yaml").unwrap();
    let (_tx, config) = watch::channel(Arc::new(config));
    let metrics = Arc::new(Metrics::new().unwrap());
    let shutdown = CancellationToken::new();
    // The daemon's store creates the database before the follower starts.
    drop(EventStore::open(&db).unwrap());
    // Lines already in the file at start are before our time: skipped.
    append(
        &log,
        &(qmgr("AAAA00001") + &sent("AAAA00001", "old@example.net")),
    );
    let task = tokio::spawn(follow::run(
        log.clone(),
        Start::End,
        Arc::new(LazyEventStore::new(&db)),
        metrics.clone(),
        config,
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    append(
        &log,
        &(qmgr("BBBB00001") + &sent("BBBB00001", "a@example.net")),
    );
    // Half a line: not read until its newline arrives.
    append(&log, &qmgr("CCCC00001"));
    append(
        &log,
        "Dec  3 10:00:03 mx postfix/smtp[2]: CCCC00001: to=<b@example.net>, relay=mx.example.net[192.0.2.9]:25, ",
    );
    wait_for(&db, (1, 0)).await;
    append(
        &log,
        "delay=1, dsn=5.1.1, status=bounced (host said: 550 5.1.1 User unknown)\n",
    );
    wait_for(&db, (1, 1)).await;

    // logrotate: rename, the writer keeps writing to the old file for a moment, then a new file.
    let rotated = dir.path().join("mail.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(
        &rotated,
        &(qmgr("DDDD00001") + &sent("DDDD00001", "c@example.net")),
    );
    append(
        &log,
        &(qmgr("EEEE00001") + &bounced("EEEE00001", "d@example.net")),
    );
    wait_for(&db, (2, 2)).await;

    // copytruncate: the same file emptied, then written again from the start.
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    append(
        &log,
        &(qmgr("FFFF00001") + &sent("FFFF00001", "e@example.net")),
    );
    wait_for(&db, (3, 2)).await;

    shutdown.cancel();
    task.await.unwrap();
    let text = metrics.render().unwrap();
    assert!(
        text.contains("senderscope_deliveries_total{domain=\"shop.example\",provider=\"other\"} 3"),
        "{text}"
    );
}
