//! Report ingestion end to end: `senderscope ingest` (JSON lines, exit codes, store, duplicates), and
//! the daemon's sources (`POST /api/v1/reports`, the watched directory) against one state database,
//! including a SIGKILL in the middle of a directory batch.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::daemon::{Daemon, TestConfig, binary};

mod imap;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ingest")
        .join(name)
}

/// An RFC 7489 aggregate report with `records` records of one message each.
fn synthetic_report(id: &str, records: usize) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\"?>\n<feedback><report_metadata><org_name>synthetic.example</org_name>\
<email>dmarc@synthetic.example</email><report_id>{id}</report_id><date_range><begin>1700000000</begin>\
<end>1700086399</end></date_range></report_metadata><policy_published><domain>example.com</domain>\
<p>none</p></policy_published>\n"
    );
    for i in 0..records {
        xml += &format!(
            "<record><row><source_ip>10.{}.{}.{}</source_ip><count>1</count><policy_evaluated>\
<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row><identifiers>\
<header_from>example.com</header_from></identifiers><auth_results><dkim><domain>example.com</domain>\
<selector>s1</selector><result>pass</result></dkim><spf><domain>bounce.example.com</domain>\
<result>pass</result></spf></auth_results></record>\n",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        );
    }
    xml + "</feedback>\n"
}

/// The harness's YAML with a retention that keeps the 2024 samples and a small body limit.
fn yaml(cfg: &TestConfig) -> String {
    cfg.yaml()
        .replacen("state:\n", "state:\n  retention: 3650d\n", 1)
        .replacen("server:\n", "server:\n  max_body_bytes: 64KiB\n", 1)
}

fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn state_count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn ingest_dry_run_prints_a_json_line_per_file_and_fails_on_a_bad_one() {
    let out = Command::new(binary())
        .args(["ingest", "--dry-run", "--format", "json"])
        .arg(fixture("extract_report"))
        .arg(fixture("empty.xml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the exit code 1"
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 6, "{lines:?}");
    for line in &lines[..4] {
        assert_eq!(line["status"], "ok", "{line}");
        assert_eq!(line["kind"], "dmarc_aggregate");
        assert_eq!(line["records"], 20);
        assert_eq!(line["duplicates"], 0);
    }
    assert_eq!(lines[4]["status"], "failed");
    assert_eq!(lines[4]["kind"], "unknown");
    assert!(lines[4]["error"].as_str().unwrap().contains("empty"));
    let summary = &lines[5]["summary"];
    assert_eq!(summary["files"], 5);
    assert_eq!(summary["ok"], 4);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["records"], 80);

    let ok = Command::new(binary())
        .args(["ingest", "--dry-run", "--format", "json"])
        .arg(fixture("smtp_tls"))
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

#[test]
fn ingest_stores_once_and_reports_a_rerun_as_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &[]);
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, yaml(&cfg)).unwrap();
    let run = || {
        Command::new(binary())
            .args(["ingest", "--format", "json", "-c"])
            .arg(&config)
            .arg(fixture("extract_report/nice-input.xml"))
            .arg(fixture("extract_report/nice-input.xml.gz"))
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let lines = json_lines(&first.stdout);
    assert_eq!(lines[0]["status"], "ok");
    assert_eq!(
        lines[1]["status"], "duplicate",
        "the gzip copy is the same report"
    );
    let again = json_lines(&run().stdout);
    assert_eq!(again[0]["status"], "duplicate");
    assert_eq!(again[0]["duplicates"], 1);
    assert_eq!(
        state_count(&cfg.state, "SELECT COUNT(*) FROM aggregate_records"),
        20
    );
}

/// A daemon with a token and a watched directory; returns (daemon, inbox, config, state db).
fn daemon_with_inbox(dir: &Path, settle: &str) -> (Daemon, PathBuf, TestConfig, PathBuf) {
    let token = dir.join("api-token");
    std::fs::write(&token, "ingest-token\n").unwrap();
    let mut cfg = TestConfig::new(dir, &[]);
    cfg.token_file = Some(token);
    let inbox = dir.join("inbox");
    let config = dir.join("config.yaml");
    let yaml = yaml(&cfg)
        + &format!(
            "ingest:\n  directory: {{path: {}, settle: {settle}}}\n",
            inbox.display()
        );
    std::fs::write(&config, yaml).unwrap();
    let d = Daemon::start(&config, cfg.port, &[]);
    (d, inbox, cfg, config)
}

fn wait_until(within: Duration, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn one_report_through_every_source_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (d, inbox, cfg, config) = daemon_with_inbox(dir.path(), "200ms");
    let auth = [("Authorization", "Bearer ingest-token")];
    let report = std::fs::read(fixture("extract_report/nice-input.xml")).unwrap();

    let unauthenticated = d.request("POST", "/api/v1/reports", &[], &report);
    assert_eq!(unauthenticated.status, 401);

    let created = d.request("POST", "/api/v1/reports", &auth, &report);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["records"], 20);
    let again = d.request("POST", "/api/v1/reports", &auth, &report);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["status"], "duplicate");

    let bad = d.request("POST", "/api/v1/reports", &auth, b"unused");
    assert_eq!(bad.status, 422);
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a report")
    );

    let too_big = vec![b' '; 80 << 10];
    let refused = d.request("POST", "/api/v1/reports", &auth, &too_big);
    assert_eq!(refused.status, 413);

    // The directory: the gzip copy is a duplicate, a bad file goes to failed/ with its reason.
    std::fs::copy(
        fixture("extract_report/nice-input.xml.gz"),
        inbox.join("r.xml.gz"),
    )
    .unwrap();
    std::fs::write(inbox.join("junk.bin"), b"\x00\x01not a report").unwrap();
    wait_until(Duration::from_secs(20), "the inbox to empty", || {
        inbox.join("processed/r.xml.gz").exists() && inbox.join("failed/junk.bin").exists()
    });
    let reason = std::fs::read_to_string(inbox.join("failed/junk.bin.error")).unwrap();
    assert!(reason.contains("not a report"), "{reason}");

    // And the command line against the same database.
    let cli = Command::new(binary())
        .args(["ingest", "--format", "json", "-c"])
        .arg(&config)
        .arg(fixture("extract_report/nice-input.xml.zip"))
        .output()
        .unwrap();
    assert_eq!(json_lines(&cli.stdout)[0]["status"], "duplicate");
    assert_eq!(
        state_count(&cfg.state, "SELECT COUNT(*) FROM aggregate_records"),
        20
    );
    assert_eq!(
        state_count(&cfg.state, "SELECT COUNT(*) FROM aggregate_reports"),
        1
    );
    let metrics = d.get("/metrics");
    let count = |series: &str| metrics.value(series).unwrap_or(0.0);
    assert_eq!(
        count("senderscope_ingest_total{kind=\"dmarc_aggregate\",result=\"ok\",source=\"http\"}"),
        1.0,
        "{}",
        metrics.body
    );
    assert_eq!(
        count(
            "senderscope_ingest_total{kind=\"dmarc_aggregate\",result=\"duplicate\",source=\"directory\"}"
        ),
        1.0
    );
    assert_eq!(
        count(
            "senderscope_ingest_total{kind=\"unknown\",result=\"not_a_report\",source=\"directory\"}"
        ),
        1.0
    );
    let messages: f64 = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("senderscope_dmarc_messages_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let stored = state_count(&cfg.state, "SELECT SUM(count) FROM aggregate_records");
    assert_eq!(
        messages, stored as f64,
        "the counters count each message once"
    );
}

#[test]
fn sigkill_in_a_directory_batch_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let files = 24;
    let per_file = 3000;
    for i in 0..files {
        std::fs::write(
            staging.join(format!("r{i:02}.xml")),
            synthetic_report(&format!("kill-{i}"), per_file),
        )
        .unwrap();
    }
    let (d, inbox, cfg, config) = daemon_with_inbox(dir.path(), "100ms");
    // Deliver atomically (rename in), as a mail system would.
    for i in 0..files {
        let name = format!("r{i:02}.xml");
        std::fs::rename(staging.join(&name), inbox.join(&name)).unwrap();
    }
    wait_until(Duration::from_secs(60), "part of the batch", || {
        std::fs::read_dir(inbox.join("processed")).map_or(0, |e| e.count()) >= 2
    });
    d.kill();
    let processed_at_kill = std::fs::read_dir(inbox.join("processed")).unwrap().count();
    assert!(processed_at_kill < files, "the kill came mid-batch");

    let _d = Daemon::start(&config, cfg.port, &[]);
    wait_until(Duration::from_secs(120), "the rest of the batch", || {
        std::fs::read_dir(inbox.join("processed")).map_or(0, |e| e.count()) == files
    });
    assert_eq!(std::fs::read_dir(inbox.join("failed")).unwrap().count(), 0);
    let complete = state_count(
        &cfg.state,
        "SELECT COUNT(*) FROM aggregate_reports WHERE state = 'complete'",
    );
    assert_eq!(complete, files as i64, "each file counts exactly once");
    assert_eq!(
        state_count(&cfg.state, "SELECT COUNT(*) FROM aggregate_records"),
        (files * per_file) as i64
    );
    assert_eq!(
        state_count(
            &cfg.state,
            "SELECT COUNT(*) FROM aggregate_reports WHERE state <> 'complete'"
        ),
        0
    );
}

fn bounce_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bounces")
        .join(name)
}

#[test]
fn ingest_prints_bounces_and_complaints_and_counts_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TestConfig::new(dir.path(), &["shop.example"]);
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, yaml(&cfg)).unwrap();
    let run = |extra: &[&str]| {
        Command::new(binary())
            .args(["ingest", "--format", "json"])
            .args(extra)
            .arg(bounce_fixture("postfix_user_unknown.eml"))
            .arg(bounce_fixture("arf_yahoo_abuse.eml"))
            .arg(bounce_fixture("auto_reply.eml"))
            .output()
            .unwrap()
    };
    // --dry-run classifies without a configuration.
    let dry = run(&["--dry-run"]);
    assert_eq!(dry.status.code(), Some(1), "the auto-reply is not a bounce");
    let lines = json_lines(&dry.stdout);
    assert_eq!(lines[0]["kind"], "bounce");
    assert_eq!(lines[0]["bounces"][0]["recipient"], "bob@example.net");
    assert_eq!(lines[0]["bounces"][0]["reason"], "user_unknown");
    assert_eq!(lines[1]["kind"], "complaint");
    assert_eq!(lines[1]["complaints"][0]["provider"], "yahoo");
    assert_eq!(lines[2]["status"], "failed");
    assert_eq!(lines[2]["kind"], "unknown");
    assert!(lines[2]["error"].as_str().unwrap().contains("auto-reply"));
    assert_eq!(lines[3]["summary"]["bounces"], 1);
    assert_eq!(lines[3]["summary"]["complaints"], 1);
    assert!(!cfg.state.exists(), "a dry run touches no database");

    let config_arg = config.to_str().unwrap();
    let first = json_lines(&run(&["-c", config_arg]).stdout);
    assert_eq!(first[0]["status"], "ok", "{}", first[0]);
    assert_eq!(first[1]["status"], "ok", "{}", first[1]);
    let again = json_lines(&run(&["-c", config_arg]).stdout);
    assert_eq!(again[0]["status"], "duplicate");
    assert_eq!(again[0]["duplicates"], 1);
    assert_eq!(again[1]["status"], "duplicate");
    assert_eq!(
        state_count(
            &cfg.state,
            "SELECT SUM(count) FROM event_buckets WHERE event = 'bounce' AND sender_domain = 'shop.example'"
        ),
        1
    );
    assert_eq!(
        state_count(
            &cfg.state,
            "SELECT SUM(count) FROM event_buckets WHERE event = 'complaint'"
        ),
        1
    );
    assert_eq!(
        state_count(&cfg.state, "SELECT COUNT(*) FROM suppressions"),
        2,
        "the hard bounce and the complaint suppress their addresses"
    );
}

#[test]
fn a_bounce_through_http_and_the_directory_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (d, inbox, cfg, _) = daemon_with_inbox(dir.path(), "200ms");
    let auth = [("Authorization", "Bearer ingest-token")];
    let dsn = std::fs::read(bounce_fixture("postfix_user_unknown.eml")).unwrap();

    let created = d.request("POST", "/api/v1/reports", &auth, &dsn);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["kind"], "bounce");
    assert_eq!(created.json()["bounces"][0]["status"], "5.1.1");
    let again = d.request("POST", "/api/v1/reports", &auth, &dsn);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["status"], "duplicate");
    let auto_reply = std::fs::read(bounce_fixture("auto_reply.eml")).unwrap();
    let refused = d.request("POST", "/api/v1/reports", &auth, &auto_reply);
    assert_eq!(refused.status, 422, "{}", refused.body);

    // The same bounce and a complaint through the directory.
    std::fs::copy(
        bounce_fixture("postfix_user_unknown.eml"),
        inbox.join("bounce.eml"),
    )
    .unwrap();
    std::fs::copy(bounce_fixture("arf_yahoo_abuse.eml"), inbox.join("fbl.eml")).unwrap();
    std::fs::copy(bounce_fixture("auto_reply.eml"), inbox.join("ooo.eml")).unwrap();
    wait_until(Duration::from_secs(20), "the inbox to empty", || {
        inbox.join("processed/bounce.eml").exists()
            && inbox.join("processed/fbl.eml").exists()
            && inbox.join("failed/ooo.eml").exists()
    });
    let reason = std::fs::read_to_string(inbox.join("failed/ooo.eml.error")).unwrap();
    assert!(reason.contains("auto-reply"), "{reason}");
    assert_eq!(
        state_count(
            &cfg.state,
            "SELECT SUM(count) FROM event_buckets WHERE event = 'bounce'"
        ),
        1
    );
    assert_eq!(
        state_count(
            &cfg.state,
            "SELECT SUM(count) FROM event_buckets WHERE event = 'complaint'"
        ),
        1
    );
    let metrics = d.get("/metrics");
    let count = |series: &str| metrics.value(series).unwrap_or(0.0);
    assert_eq!(
        count("senderscope_ingest_total{kind=\"bounce\",result=\"ok\",source=\"http\"}"),
        1.0,
        "{}",
        metrics.body
    );
    assert_eq!(
        count(
            "senderscope_ingest_total{kind=\"bounce\",result=\"duplicate\",source=\"directory\"}"
        ),
        1.0
    );
    assert_eq!(
        count("senderscope_ingest_total{kind=\"complaint\",result=\"ok\",source=\"directory\"}"),
        1.0
    );
    let bounces: f64 = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("senderscope_bounces_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(bounces, 1.0, "{}", metrics.body);
}
