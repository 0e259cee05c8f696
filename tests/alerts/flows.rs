//! The rules over reports, events and ingest through the real daemon: a DMARC aggregate report, a
//! refused upload, a refused events body and bounce events posted to its HTTP API make
//! `dmarc_failure_rate`, `unknown_source`, `ingest_failures` and `bounce_rate` fire, and a real
//! Alertmanager holds each with its labels and measured values.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::harness::alertmanager::Alertmanager;
use crate::harness::daemon::{Daemon, TestConfig};

/// An aggregate report for shop.example whose day ended an hour ago: 90 messages from a
/// configured sending IP pass, 30 from 203.0.113.5 fail both DKIM and SPF alignment.
fn report(now: i64) -> String {
    let end = now - 3600;
    let record = |ip: &str, n: u32, result: &str| {
        format!(
            "<record><row><source_ip>{ip}</source_ip><count>{n}</count><policy_evaluated>\
             <disposition>none</disposition><dkim>{result}</dkim><spf>{result}</spf></policy_evaluated>\
             </row><identifiers><header_from>shop.example</header_from></identifiers><auth_results>\
             <spf><domain>shop.example</domain><result>{result}</result></spf></auth_results></record>"
        )
    };
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>receiver.example</org_name>\
         <email>dmarc@receiver.example</email><report_id>flows-1</report_id><date_range>\
         <begin>{}</begin><end>{end}</end></date_range></report_metadata><policy_published>\
         <domain>shop.example</domain><p>none</p></policy_published>{}{}</feedback>",
        end - 86_400,
        record("192.0.2.10", 90, "pass"),
        record("203.0.113.5", 30, "fail")
    )
}

/// 8 deliveries and 2 hard bounces at gmail.com for shop.example.
fn events() -> String {
    let mut list = Vec::new();
    for i in 0..8 {
        list.push(format!(
            r#"{{"type": "delivery", "recipient": "u{i}@gmail.com", "sender_domain": "shop.example", "id": "d{i}"}}"#
        ));
    }
    for i in 0..2 {
        list.push(format!(
            r#"{{"type": "bounce", "recipient": "gone{i}@gmail.com", "sender_domain": "shop.example", "id": "b{i}", "status": "5.1.1", "diagnostic": "550 5.1.1 The email account that you tried to reach does not exist."}}"#
        ));
    }
    format!("[{}]", list.join(","))
}

fn named<'a>(alerts: &'a [Value], name: &str) -> Option<&'a Value> {
    alerts.iter().find(|a| a["labels"]["alertname"] == name)
}

#[test]
fn reports_events_and_refused_inputs_reach_alertmanager_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken").unwrap();
    let mut cfg = TestConfig::new(dir.path(), &["shop.example"]);
    cfg.token_file = Some(token);
    let am = Alertmanager::start();
    let mut yaml = cfg.yaml();
    yaml += &format!(
        "alerts:\n  evaluate_every: 200ms\n  resend_every: 1s\n  alertmanagers:\n    - url: {}\n      name: am\n  rules:\n",
        am.url()
    );
    // Posture checks against a DNS port nobody answers are not what this test is about.
    for rule in [
        "blocklist_listed",
        "spf_too_many_lookups",
        "spf_ip_not_authorized",
        "dkim_key_problem",
        "dmarc_missing",
        "dmarc_policy_none",
        "dmarc_policy_weakened",
        "record_changed",
        "mx_broken",
        "mta_sts_broken",
        "dns_unreachable",
    ] {
        yaml += &format!("    {rule}: {{enabled: false}}\n");
    }
    yaml += "    unknown_source: {threshold: 20}\n";
    yaml += "    bounce_rate: {for: 0s, min_volume: 10}\n";
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let d = Daemon::start(&path, cfg.port, &[]);
    let auth = [("Authorization", "Bearer t0ken")];

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = d.request("POST", "/api/v1/reports", &auth, report(now).as_bytes());
    assert_eq!(r.status, 201, "{}", r.body);
    let r = d.request("POST", "/api/v1/reports", &auth, b"not a report at all");
    assert_eq!(r.status, 422, "{}", r.body);
    let json = [
        ("Authorization", "Bearer t0ken"),
        ("Content-Type", "application/json"),
    ];
    let r = d.request("POST", "/api/v1/events", &json, events().as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    // An events body that does not read is a refused input too; a webhook that is not configured
    // (404) is not.
    let r = d.request("POST", "/api/v1/events", &json, b"{\"type\": \"bounce\"");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = d.request("POST", "/webhooks/sendgrid", &json, b"[]");
    assert_eq!(r.status, 404, "{}", r.body);

    let held = am.wait_for(Duration::from_secs(30), |a| {
        [
            "SenderscopeDmarcFailureRate",
            "SenderscopeUnknownSource",
            "SenderscopeIngestFailing",
            "SenderscopeBounceRateHigh",
        ]
        .iter()
        .all(|n| named(a, n).is_some())
            && named(a, "SenderscopeIngestFailing").is_some_and(|i| {
                i["annotations"]["summary"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("2 "))
            })
    });

    let dmarc = named(&held, "SenderscopeDmarcFailureRate").unwrap();
    assert_eq!(
        dmarc["labels"],
        serde_json::json!({"alertname": "SenderscopeDmarcFailureRate", "severity": "warning", "domain": "shop.example"})
    );
    assert_eq!(
        dmarc["annotations"]["description"],
        "In the DMARC aggregate reports for shop.example covering the last 48h (1 report), 30 of 120 messages (25%) passed neither aligned DKIM nor aligned SPF (alert above 5% from 100 messages)."
    );
    assert_eq!(
        dmarc["annotations"]["runbook_url"],
        "docs/runbooks.md#senderscopedmarcfailurerate"
    );

    let unknown = named(&held, "SenderscopeUnknownSource").unwrap();
    assert_eq!(
        unknown["annotations"]["summary"],
        "203.0.113.5 sends mail as shop.example that fails DMARC",
        "the configured 192.0.2.10 is not unknown"
    );

    let ingest = named(&held, "SenderscopeIngestFailing").unwrap();
    assert_eq!(
        ingest["labels"],
        serde_json::json!({"alertname": "SenderscopeIngestFailing", "severity": "warning"})
    );
    assert_eq!(
        ingest["annotations"]["summary"],
        "2 inputs failed to ingest in the last 1h"
    );

    let bounce = named(&held, "SenderscopeBounceRateHigh").unwrap();
    assert_eq!(bounce["labels"]["severity"], "critical", "2 of 10 is 20%");
    assert_eq!(bounce["labels"]["domain"], "shop.example");
    assert!(
        bounce["annotations"]["description"]
            .as_str()
            .unwrap()
            .starts_with("The 24h bounce rate of shop.example is 20%: 2 bounces of 10 messages"),
        "{bounce:#}"
    );

    // The same alerts in the daemon's own API.
    let api = d.get("/api/v1/alerts").json();
    let firing: Vec<&str> = api["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "firing")
        .filter_map(|a| a["labels"]["alertname"].as_str())
        .collect();
    assert!(
        firing.contains(&"SenderscopeUnknownSource")
            && firing.contains(&"SenderscopeIngestFailing"),
        "{api}"
    );
}
