//! The IMAP source against a real Dovecot on loopback (tests/harness/dovecot.rs): reports, bounces
//! and complaints appended to INBOX are stored and then moved to the processed folder, a message
//! that cannot be read to the failed folder; a message appended again counts nothing twice; a
//! message the store refuses stays in INBOX until the store takes it; implicit TLS and STARTTLS
//! with a certificate checked against `ca_file`; MOVE-less servers and polling.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use senderscope::config::Config;
use senderscope::events::metrics::EventMetrics;
use senderscope::ingest::metrics::IngestMetrics;
use senderscope::ingest::sources::imap;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::harness::dovecot::{self, Dovecot, Options};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap()
}

/// Every input of the mailbox tests, with the Message-ID each is found by.
const MAILBOX: [(&str, &str); 6] = [
    (
        "ingest/aggregate/twilight.eml",
        "<1627703331531660819@google.com>",
    ),
    (
        "ingest/aggregate/mimecast-weird-gzip.eml",
        "<4973f467-4c66-4341-a50a-cf1a87033376@au-1.mimecastreport.com>",
    ),
    (
        "ingest/smtp_tls/google.com_smtp_tls_report.eml",
        "<66d83c20.050a0220.a0566.1e8dtls@google.com>",
    ),
    (
        "bounces/postfix_user_unknown.eml",
        "<20261203101502.6E4C3D5B@mail.shop.example>",
    ),
    (
        "bounces/arf_yahoo_abuse.eml",
        "<fbl-20261203-0001@arf.mail.yahoo.com>",
    ),
    ("bounces/newsletter.eml", "<nl-1@other.example>"),
];

struct Source {
    dir: tempfile::TempDir,
    metrics: IngestMetrics,
    registry: prometheus::Registry,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Source {
    fn db(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// The text exposition of the ingest and events families.
    fn exposition(&self) -> String {
        let mut out = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &self.registry.gather(),
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn ingested(&self, kind: &str, result: &str) -> u64 {
        self.metrics
            .ingest_total
            .with_label_values(&["imap", kind, result])
            .get()
    }

    async fn stop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

/// The YAML of a config reading `server`'s INBOX with `imap` (the `ingest.imap` keys besides
/// username and password_file).
fn config_yaml(dir: &Path, server: &Dovecot, imap: &str) -> String {
    format!(
        "domains: [{{name: shop.example}}]\nstate:\n  path: {db}\n  retention: 3650d\n\
         ingest:\n  imap:\n    username: {user}\n    password_file: {pw}\n    poll_interval: 10s\n    timeout: 10s\n    backoff_max: 2s\n{imap}",
        db = dir.join("state.db").display(),
        user = dovecot::USER,
        pw = server.password_file(dir).display(),
    )
}

/// Start the IMAP source in this process with `yaml`.
fn start(dir: tempfile::TempDir, yaml: &str) -> Source {
    let config: Config = senderscope::config::load_str(yaml, "test.yaml").unwrap();
    let registry = prometheus::Registry::new();
    let events = EventMetrics::new().unwrap();
    registry.register(Box::new(events.clone())).unwrap();
    let (metrics, _) = IngestMetrics::register(&registry).unwrap();
    let metrics = metrics.with_events(events.clone());
    let (_tx, rx) = watch::channel(Arc::new(config));
    // The sender lives in the task's receiver: the configuration never changes in these tests.
    std::mem::forget(_tx);
    let stop = CancellationToken::new();
    let task = tokio::spawn(imap::run(rx, metrics.clone(), stop.clone()));
    Source {
        dir,
        metrics,
        registry,
        stop,
        task: Some(task),
    }
}

/// Wait until `folder` holds `n` messages.
async fn wait_for(server: &Dovecot, folder: &str, n: usize) -> Vec<String> {
    let mut client = server.client().await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let ids = dovecot::headers(&mut client, folder).await;
        if ids.len() == n {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "{folder} holds {} messages, not {n}: {ids:?}\n{}",
            ids.len(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn append_all(server: &Dovecot, inputs: &[(&str, &str)]) {
    let mut client = server.client().await;
    for (path, _) in inputs {
        dovecot::append(&mut client, "INBOX", &fixture(path)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_mailbox_is_stored_then_moved_and_read_again_counts_nothing_twice() {
    let server = Dovecot::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let yaml = config_yaml(
        dir.path(),
        &server,
        &format!(
            "    host: 127.0.0.1\n    port: {}\n    tls: none\n",
            server.port
        ),
    );
    append_all(&server, &MAILBOX).await;
    let mut source = start(dir, &yaml);

    wait_for(&server, "INBOX", 0).await;
    let processed = wait_for(&server, "Processed", 5).await;
    let failed = wait_for(&server, "Failed", 1).await;
    let want: Vec<&str> = MAILBOX[..5].iter().map(|(_, id)| *id).collect();
    let mut got: Vec<&str> = processed.iter().map(String::as_str).collect();
    got.sort_unstable();
    let mut want_sorted = want.clone();
    want_sorted.sort_unstable();
    assert_eq!(got, want_sorted, "the readable messages are in Processed");
    assert_eq!(
        failed,
        [MAILBOX[5].1],
        "the message with no report is kept in Failed"
    );

    let aggregate = source.count("SELECT COUNT(*) FROM aggregate_reports WHERE state = 'complete'");
    assert_eq!(aggregate, 2, "two aggregate reports (zip and gzip in mail)");
    assert_eq!(source.count("SELECT COUNT(*) FROM tls_reports"), 1);
    let bounces = "SELECT COALESCE(SUM(count), 0) FROM event_buckets WHERE event = 'bounce'";
    let complaints = "SELECT COALESCE(SUM(count), 0) FROM event_buckets WHERE event = 'complaint'";
    assert_eq!(source.count(bounces), 1);
    assert_eq!(source.count(complaints), 1);
    assert_eq!(
        source.count(
            "SELECT COUNT(*) FROM events_seen WHERE event_key = \
             'mail:20261203101502.6E4C3D5B@mail.shop.example:bob@example.net'"
        ),
        1,
        "the bounce is keyed by its Message-ID and recipient"
    );
    assert_eq!(source.ingested("dmarc_aggregate", "ok"), 2);
    assert_eq!(source.ingested("tls_report", "ok"), 1);
    assert_eq!(source.ingested("bounce", "ok"), 1);
    assert_eq!(source.ingested("complaint", "ok"), 1);
    assert_eq!(source.ingested("unknown", "not_a_report"), 1);
    let text = source.exposition();
    assert!(
        text.contains(
            "senderscope_bounces_total{domain=\"shop.example\",kind=\"hard\",provider=\"other\",reason=\"user_unknown\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("senderscope_complaints_total{domain=\"shop.example\",provider=\"yahoo\"} 1"),
        "{text}"
    );
    assert_eq!(
        source
            .metrics
            .imap
            .moves_total
            .with_label_values(&["processed", "ok"])
            .get(),
        5
    );
    assert_eq!(source.metrics.imap.connected.get(), 1);

    // The same messages again (what a crash between the commit and the move leaves): each is read,
    // found stored, and moved; nothing is counted twice.
    append_all(&server, &MAILBOX).await;
    wait_for(&server, "INBOX", 0).await;
    wait_for(&server, "Processed", 10).await;
    wait_for(&server, "Failed", 2).await;
    assert_eq!(source.count("SELECT COUNT(*) FROM aggregate_reports"), 2);
    assert_eq!(source.count("SELECT COUNT(*) FROM tls_reports"), 1);
    assert_eq!(source.count(bounces), 1);
    assert_eq!(source.count(complaints), 1);
    assert_eq!(source.ingested("dmarc_aggregate", "duplicate"), 2);
    assert_eq!(source.ingested("bounce", "duplicate"), 1);
    assert_eq!(source.ingested("complaint", "duplicate"), 1);
    source.stop().await;
    assert_eq!(source.metrics.imap.connected.get(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_message_stays_in_inbox_while_the_store_refuses_it() {
    let server = Dovecot::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    // The schema first, then a fault: every insert of a report or an event key is refused.
    drop(senderscope::ingest::store::IngestStore::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_reports BEFORE INSERT ON aggregate_reports \
           BEGIN SELECT RAISE(ABORT, 'injected store fault'); END;
         CREATE TRIGGER refuse_events BEFORE INSERT ON events_seen \
           BEGIN SELECT RAISE(ABORT, 'injected store fault'); END;",
    )
    .unwrap();
    let yaml = config_yaml(
        dir.path(),
        &server,
        &format!(
            "    host: 127.0.0.1\n    port: {}\n    tls: none\n",
            server.port
        ),
    );
    let inputs = [MAILBOX[0], MAILBOX[3]];
    append_all(&server, &inputs).await;
    let mut source = start(dir, &yaml);

    let deadline = Instant::now() + Duration::from_secs(30);
    while source.ingested("dmarc_aggregate", "store") < 2 {
        assert!(Instant::now() < deadline, "the store fault was never hit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut client = server.client().await;
    assert_eq!(
        dovecot::headers(&mut client, "INBOX").await.len(),
        2,
        "nothing left INBOX"
    );
    assert!(dovecot::headers(&mut client, "Processed").await.is_empty());
    assert!(dovecot::headers(&mut client, "Failed").await.is_empty());

    conn.execute_batch("DROP TRIGGER refuse_reports;").unwrap();
    // The report goes through; the bounce behind it is still refused and stays.
    wait_for(&server, "Processed", 1).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while source.ingested("bounce", "store") < 1 {
        assert!(
            Instant::now() < deadline,
            "the bounce never met the store fault"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dovecot::headers(&mut client, "INBOX").await, [MAILBOX[3].1]);
    conn.execute_batch("DROP TRIGGER refuse_events;").unwrap();
    wait_for(&server, "INBOX", 0).await;
    wait_for(&server, "Processed", 2).await;
    assert_eq!(source.count("SELECT COUNT(*) FROM aggregate_reports"), 1);
    assert_eq!(
        source.count("SELECT COALESCE(SUM(count), 0) FROM event_buckets WHERE event = 'bounce'"),
        1
    );
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_over_implicit_tls_and_starttls_checks_the_certificate() {
    let server = Dovecot::start(Options {
        tls: true,
        ..Options::default()
    });
    let tls_port = server.tls_port.unwrap();

    // Without the test CA the certificate is not trusted: no login, the message stays.
    let dir = tempfile::tempdir().unwrap();
    let yaml = config_yaml(
        dir.path(),
        &server,
        &format!("    host: localhost\n    port: {tls_port}\n    tls: implicit\n"),
    );
    append_all(&server, &MAILBOX[..1]).await;
    let mut source = start(dir, &yaml);
    let sessions =
        |s: &Source, r: &str| s.metrics.imap.sessions_total.with_label_values(&[r]).get();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sessions(&source, "tls") < 1 {
        assert!(
            Instant::now() < deadline,
            "an untrusted certificate was accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    source.stop().await;
    wait_for(&server, "INBOX", 1).await;

    // Implicit TLS with the CA.
    let dir = tempfile::tempdir().unwrap();
    let yaml = config_yaml(
        dir.path(),
        &server,
        &format!(
            "    host: localhost\n    port: {tls_port}\n    tls: implicit\n    ca_file: {}\n",
            server.ca_file().display()
        ),
    );
    let mut source = start(dir, &yaml);
    wait_for(&server, "Processed", 1).await;
    wait_for(&server, "INBOX", 0).await;
    assert_eq!(source.ingested("dmarc_aggregate", "ok"), 1);
    source.stop().await;

    // STARTTLS on the plain port.
    let dir = tempfile::tempdir().unwrap();
    let yaml = config_yaml(
        dir.path(),
        &server,
        &format!(
            "    host: localhost\n    port: {}\n    tls: starttls\n    ca_file: {}\n",
            server.port,
            server.ca_file().display()
        ),
    );
    append_all(&server, &MAILBOX[3..4]).await;
    let mut source = start(dir, &yaml);
    wait_for(&server, "Processed", 2).await;
    wait_for(&server, "INBOX", 0).await;
    assert_eq!(source.ingested("bounce", "ok"), 1);
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_without_move_uidplus_or_idle_copies_expunges_and_polls() {
    let server = Dovecot::start(Options {
        capabilities: Some("IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE NAMESPACE".into()),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let yaml = config_yaml(
        dir.path(),
        &server,
        &format!(
            "    host: 127.0.0.1\n    port: {}\n    tls: none\n",
            server.port
        ),
    );
    append_all(&server, &[MAILBOX[4], MAILBOX[5]]).await;
    let mut source = start(dir, &yaml);
    wait_for(&server, "INBOX", 0).await;
    assert_eq!(wait_for(&server, "Processed", 1).await, [MAILBOX[4].1]);
    assert_eq!(wait_for(&server, "Failed", 1).await, [MAILBOX[5].1]);
    // Polled again after poll_interval (10 s): a message appended now is read then.
    append_all(&server, &MAILBOX[3..4]).await;
    wait_for(&server, "Processed", 2).await;
    assert_eq!(source.ingested("complaint", "ok"), 1);
    assert_eq!(source.ingested("bounce", "ok"), 1);
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reads_its_mailbox_and_follows_a_reload_of_ingest_imap() {
    use crate::harness::daemon::{Daemon, TestConfig};

    let server = Dovecot::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &["shop.example"]);
    let config = dir.path().join("config.yaml");
    let imap = |user: &str| {
        format!(
            "ingest:\n  imap:\n    host: 127.0.0.1\n    port: {}\n    tls: none\n    username: {user}\n    poll_interval: 10s\n    backoff_max: 1s\n",
            server.port
        )
    };
    std::fs::write(&config, cfg.yaml() + &imap(dovecot::USER)).unwrap();
    append_all(&server, &MAILBOX[3..4]).await;
    // The password from the environment this time.
    let d = Daemon::start(
        &config,
        cfg.port,
        &[("SENDERSCOPE_IMAP_PASSWORD", dovecot::PASSWORD)],
    );
    wait_for(&server, "Processed", 1).await;
    let metrics = d.get("/metrics");
    assert_eq!(
        metrics.value("senderscope_imap_connected"),
        Some(1.0),
        "{}",
        metrics.body
    );
    assert_eq!(
        metrics.value("senderscope_ingest_total{kind=\"bounce\",result=\"ok\",source=\"imap\"}"),
        Some(1.0)
    );

    // A reload with a user the server does not know: the session ends, logins are refused and
    // retried, and nothing else stops.
    std::fs::write(&config, cfg.yaml() + &imap("nobody@example.test")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = d.get("/metrics");
        let refused = m
            .value("senderscope_imap_sessions_total{result=\"login\"}")
            .unwrap_or(0.0);
        if refused >= 1.0 && m.value("senderscope_imap_connected") == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no refused login after the reload:\n{}",
            m.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(d.get("/healthz").status, 200);
    drop(d);
    let log = std::fs::read_to_string(config.with_extension("log")).unwrap();
    assert!(
        log.contains("refused"),
        "the refused login is logged: {log}"
    );
    assert!(
        !log.contains(dovecot::PASSWORD),
        "the password is never logged"
    );
}
