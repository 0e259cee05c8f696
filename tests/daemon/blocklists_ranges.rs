//! A sending range in the real daemon against a real rbldnsd: `/api/v1/status` shows the range once,
//! with its summary and only the listed address under it; after a restart (rbldnsd gone, rounds days
//! away) `senderscope_blocklist_*` read exactly what the round had published, at ready.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::blocklists_listings::{ZONES, dnset, ip4set};
use crate::harness::daemon::{Daemon, Reply, TestConfig, promtool_check};
use crate::harness::rbldnsd::Rbldnsd;

const RANGE: &str = "192.0.2.16/29";
const BLOCKLIST_RUNS: &str =
    r#"senderscope_scheduler_job_runs_total{job="blocklists",result="ok"}"#;
const FAMILIES: [&str; 2] = [
    "senderscope_blocklist_listed",
    "senderscope_blocklist_zone_healthy",
];

fn config(dir: &Path, dns_port: u16) -> (TestConfig, std::path::PathBuf) {
    let mut cfg = TestConfig::new(dir, &[]);
    cfg.domains = vec![(
        "listed.test".into(),
        vec!["192.0.2.10".into(), RANGE.into()],
    )];
    cfg.dns_port = dns_port;
    cfg.blocklists = ZONES.into();
    cfg.blocklists_every = "1h".into();
    let path = dir.join("config.yaml");
    cfg.write(&path);
    (cfg, path)
}

fn entry<'a>(status: &'a Value, ip: &str) -> &'a Value {
    status["ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ip"] == ip)
        .unwrap_or_else(|| panic!("no {ip} in {status:#}"))
}

#[tokio::test]
async fn a_range_is_one_entry_and_its_series_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rbl = Rbldnsd::serve(
        &[
            ip4set(dir.path(), "listed.txt", &["192.0.2.10", "192.0.2.20"]),
            dnset(dir.path(), "listed-dom.txt", &["listed.test"]),
        ],
        "ip.bl.test",
    )
    .await;
    let (mut cfg, path) = config(dir.path(), rbl.addr().port());
    let d = Daemon::start(&path, cfg.port, &[]);
    let published = d.wait_for("/metrics", Duration::from_secs(30), |r| {
        r.value(BLOCKLIST_RUNS) == Some(1.0)
    });

    let status = d.get("/api/v1/status").json();
    let range = entry(&status, RANGE);
    assert_eq!(range["status"], "critical", "{range:#}");
    assert_eq!(
        range["summary"],
        "1 of 6 addresses listed: 192.0.2.20 on ip.bl.test (127.0.0.2)."
    );
    let checks = range["checks"].as_array().unwrap();
    assert_eq!(
        checks.len(),
        1,
        "one grouped check for six addresses: {range:#}"
    );
    assert_eq!(checks[0]["check"], "blocklists");
    assert_eq!(checks[0]["status"], "critical");
    let findings = checks[0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{range:#}");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("192.0.2.20 is listed on ip.bl.test (127.0.0.2) since "),
        "{range:#}"
    );
    assert_eq!(
        range["addresses"],
        json!({"checked": 6, "listed": 1, "with_findings": 1,
               "shown": [{"ip": "192.0.2.20", "status": "critical"}], "not_shown": 0})
    );
    assert_eq!(range["listings"].as_array().unwrap().len(), 1);
    assert_eq!(range["listings"][0]["target"], "192.0.2.20");
    // The single address keeps its own shape.
    let single = entry(&status, "192.0.2.10");
    assert!(single.get("addresses").is_none(), "{single:#}");
    assert!(
        single["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "blocklists" && c["status"] == "critical"),
        "{single:#}"
    );

    let before = published.samples(&FAMILIES);
    let listed = |target: &str, zone: &str, v: u8| {
        format!(r#"senderscope_blocklist_listed{{target="{target}",zone="{zone}"}} {v}"#)
    };
    for line in [
        listed("192.0.2.10", "ip.bl.test", 1),
        listed("192.0.2.20", "ip.bl.test", 1),
        listed("192.0.2.17", "ip.bl.test", 0),
        listed("listed.test", "dom.bl.test", 1),
        r#"senderscope_blocklist_zone_healthy{zone="ip.bl.test"} 1"#.to_owned(),
    ] {
        assert!(before.contains(&line), "{line} missing: {before:#?}");
    }
    assert_eq!(before.len(), 10, "8 answers and 2 zones: {before:#?}");

    // Restart with no blocklist server and the next rounds days away.
    drop(d);
    drop(rbl);
    cfg.blocklists_every = "1w".into();
    cfg.jitter = 0.5;
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    let m: Reply = d.get("/metrics");
    assert!(
        m.value(BLOCKLIST_RUNS).is_none_or(|n| n == 0.0),
        "a round ran: the series would not come from the store"
    );
    assert_eq!(m.samples(&FAMILIES), before, "restored ≠ published");
    promtool_check(&m.body);
    // The status API reads the store: still one entry for the range.
    let status = d.get("/api/v1/status").json();
    assert_eq!(entry(&status, RANGE)["addresses"]["listed"], 1);
}
