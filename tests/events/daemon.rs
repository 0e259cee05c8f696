//! The real binary: events posted to a running daemon become counters and rates on `/metrics`
//! (checked with promtool), the rates come back after a restart from the stored per-minute counts,
//! and `senderscope suppressions export` prints what the bounces suppressed.

use std::process::Command;

use crate::harness::daemon::{Daemon, TestConfig, binary, promtool_check};

#[test]
fn rates_survive_a_restart_and_suppressions_export() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken").unwrap();
    let mut tc = TestConfig::new(dir.path(), &["shop.example"]);
    tc.token_file = Some(token);
    let yaml = tc.yaml() + "events:\n  windows: [1h, 7d]\n  thresholds: { min_volume: 1 }\n";
    let config = dir.path().join("senderscope.yaml");
    std::fs::write(&config, yaml).unwrap();

    let daemon = Daemon::start(&config, tc.port, &[]);
    let events = br#"[
        {"type": "delivery", "recipient": "a@gmail.com", "sender_domain": "mail.shop.example", "id": "1"},
        {"type": "delivery", "recipient": "b@gmail.com", "sender_domain": "shop.example", "id": "2"},
        {"type": "delivery", "recipient": "c@yahoo.com", "sender_domain": "shop.example", "id": "3"},
        {"type": "bounce", "recipient": "gone@gmail.com", "sender_domain": "shop.example", "id": "4",
         "status": "5.1.1", "diagnostic": "550 5.1.1 The email account that you tried to reach does not exist."}
    ]"#;
    let auth = [
        ("Authorization", "Bearer t0ken"),
        ("Content-Type", "application/json"),
    ];
    let r = daemon.request("POST", "/api/v1/events", &auth, events);
    assert_eq!(r.status, 200, "{}", r.body);
    let scrape = daemon.get("/metrics");
    promtool_check(&scrape.body);
    let rate = "senderscope_bounce_rate{domain=\"shop.example\",window=\"1h\"}";
    assert_eq!(scrape.value(rate), Some(0.25), "{}", scrape.body);
    assert_eq!(
        scrape.value("senderscope_bounces_total{domain=\"shop.example\",kind=\"hard\",provider=\"gmail\",reason=\"user_unknown\"}"),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("senderscope_deliveries_total{domain=\"shop.example\",provider=\"gmail\"}"),
        Some(2.0)
    );
    drop(daemon);

    // After a restart the counters start again, the rates do not: they come from the store.
    let daemon = Daemon::start(&config, tc.port, &[]);
    let scrape = daemon.get("/metrics");
    assert_eq!(scrape.value(rate), Some(0.25), "{}", scrape.body);
    assert_eq!(
        scrape.value("senderscope_complaint_rate{domain=\"shop.example\",window=\"7d\"}"),
        Some(0.0)
    );
    // The same events again count nothing.
    let r = daemon.request("POST", "/api/v1/events", &auth, events);
    assert_eq!(r.json()["duplicates"], 4, "{}", r.body);
    drop(daemon);

    let out = Command::new(binary())
        .args(["suppressions", "export", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with("gone@gmail.com,hard_bounce,user_unknown,shop.example,"),
        "{csv}"
    );
}

#[tokio::test]
async fn hosted_recipient_domains_count_under_their_mx_providers() {
    let nsd =
        crate::harness::nsd::Nsd::serve(&[crate::harness::nsd::Nsd::fixture("hosted.test")]).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken").unwrap();
    let mut tc = TestConfig::new(dir.path(), &["shop.example"]);
    tc.token_file = Some(token);
    tc.dns_port = nsd.addr().port();
    let config = dir.path().join("senderscope.yaml");
    std::fs::write(&config, tc.yaml()).unwrap();
    let daemon = Daemon::start(&config, tc.port, &[]);
    let events = br#"[
        {"type": "delivery", "recipient": "a@gw.hosted.test", "sender_domain": "shop.example", "id": "1"},
        {"type": "delivery", "recipient": "b@m365.hosted.test", "sender_domain": "shop.example", "id": "2"},
        {"type": "delivery", "recipient": "c@own.hosted.test", "sender_domain": "shop.example", "id": "3"}
    ]"#;
    let auth = [
        ("Authorization", "Bearer t0ken"),
        ("Content-Type", "application/json"),
    ];
    let r = daemon.request("POST", "/api/v1/events", &auth, events);
    assert_eq!(r.status, 200, "{}", r.body);
    let scrape = daemon.get("/metrics");
    let deliveries = |provider: &str| {
        scrape.value(&format!(
            "senderscope_deliveries_total{{domain=\"shop.example\",provider=\"{provider}\"}}"
        ))
    };
    assert_eq!(
        (
            deliveries("gmail"),
            deliveries("microsoft"),
            deliveries("other")
        ),
        (Some(1.0), Some(1.0), Some(1.0)),
        "{}",
        scrape.body
    );
}
