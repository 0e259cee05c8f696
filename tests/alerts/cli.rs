//! `senderscope alerts test`: one test alert through every notifier, each answer printed; a
//! notifier that does not answer makes the exit code 1.

use std::process::Command;
use std::time::Duration;

use super::receiver::Receiver;
use crate::harness::alertmanager::Alertmanager;
use crate::harness::daemon::binary;
use crate::harness::free_port;

#[test]
fn alerts_test_reaches_every_notifier_and_says_what_each_answered() {
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start();
    let hook = Receiver::start(&[]);
    let url_file = dir.path().join("hook-url");
    std::fs::write(&url_file, hook.url()).unwrap();
    let dead = free_port();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "domains: []\nalerts:\n  alertmanagers:\n    - url: {}\n      name: main\n    - url: http://127.0.0.1:{dead}\n      name: dead\n  webhooks:\n    - name: ops\n      url_file: {}\n      format: slack\n",
            am.url(),
            url_file.display()
        ),
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["alerts", "test", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        out.status.code(),
        Some(1),
        "one notifier is down:\n{stdout}"
    );
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0], "alertmanager main: accepted (HTTP 200)");
    assert!(
        lines[1].starts_with("alertmanager dead: FAILED (no answer: connection failed"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "webhook ops: accepted (HTTP 200: ok)");
    assert!(!stdout.contains("s3cr3t-token"));

    let held = am.wait_for(Duration::from_secs(5), |a| {
        a.iter()
            .any(|a| a["labels"]["alertname"] == "SenderscopeTest")
    });
    assert_eq!(held[0]["labels"]["severity"], "info");
    let body: serde_json::Value = serde_json::from_str(&hook.requests()[0].1).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("[FIRING] SenderscopeTest (info): Test alert from"),
        "{text}"
    );
}

#[test]
fn alerts_test_without_notifiers_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "domains: []\n").unwrap();
    let out = Command::new(binary())
        .args(["alerts", "test", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no notifier is configured"));
}
