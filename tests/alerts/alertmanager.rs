//! The daemon's engine against a real Alertmanager and rbldnsd: a listing reaches Alertmanager with
//! its labels and annotations and resolves when the listing ends; a restart while it fires sends no
//! new alert (same `startsAt`, one webhook notification).

use std::time::Duration;

use serde_json::Value;

use super::receiver::Receiver;
use super::{config, ip4set, write};
use crate::harness::alertmanager::Alertmanager;
use crate::harness::daemon::Daemon;
use crate::harness::free_port;
use crate::harness::rbldnsd::Rbldnsd;

const NAME: &str = "SenderscopeBlocklistListed";

fn listed_alert(alerts: &[Value]) -> Option<Value> {
    alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == NAME)
        .cloned()
}

#[tokio::test]
async fn a_listing_reaches_alertmanager_with_labels_and_annotations_and_resolves_when_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let dns_port = free_port();
    let rbl = Rbldnsd::serve_on(
        dns_port,
        &[ip4set(dir.path(), "listed.txt", &["192.0.2.10"])],
        "ip.bl.test",
    )
    .await;
    let am = Alertmanager::start();
    let alerts = format!(
        "  runbook_url: https://runbooks.example/senderscope.md\n  alertmanagers:\n    - url: {}\n      name: am\n",
        am.url()
    );
    let (cfg, path) = config(dir.path(), dns_port, &alerts);
    let d = Daemon::start(&path, cfg.port, &[]);

    let held = am.wait_for(Duration::from_secs(20), |a| listed_alert(a).is_some());
    let alert = listed_alert(&held).unwrap();
    assert_eq!(
        alert["labels"],
        serde_json::json!({
            "alertname": NAME,
            "severity": "critical",
            "domain": "listed.test",
            "target": "192.0.2.10",
            "zone": "ip.bl.test",
        })
    );
    let annotations = &alert["annotations"];
    assert_eq!(annotations["summary"], "192.0.2.10 is listed on ip.bl.test");
    let description = annotations["description"].as_str().unwrap();
    assert!(
        description.starts_with("192.0.2.10 is listed on ip.bl.test (answer 127.0.0.2) since 20")
            && description.ends_with(
                "; the list says: Spam source 192.0.2.10 seen in traps. Sending domains affected: listed.test."
            ),
        "{description}"
    );
    assert_eq!(
        annotations["runbook_url"],
        "https://runbooks.example/senderscope.md#senderscopeblocklistlisted"
    );
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(held.len(), 1, "only the listed IP alerts: {held:#?}");

    let api = d.get("/api/v1/alerts").json();
    assert_eq!(api["alerts"][0]["state"], "firing", "{api}");
    assert_eq!(api["alerts"][0]["labels"]["target"], "192.0.2.10");
    // The same alert in the status roll-up and in the domain's detail.
    let status = d.get("/api/v1/status").json();
    assert_eq!(
        (
            &status["alerts"]["firing"],
            &status["alerts"]["left_out"],
            &status["alerts"]["alerts"][0]["labels"]["target"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!("192.0.2.10")
        ),
        "{status}"
    );
    let listed = status["domains"]
        .as_array()
        .and_then(|ds| ds.iter().find(|x| x["domain"] == "listed.test"))
        .unwrap_or_else(|| panic!("listed.test in {status}"));
    assert_eq!(
        listed["alerts"],
        serde_json::json!({"firing": 1, "pending": 0})
    );
    let detail = d.get("/api/v1/domains/listed.test").json();
    assert_eq!(detail["alerts"][0]["labels"]["alertname"], NAME, "{detail}");

    // Delisted: rbldnsd restarted on the same port without the IP.
    drop(rbl);
    let _clean = Rbldnsd::serve_on(
        dns_port,
        &[ip4set(dir.path(), "clean.txt", &[])],
        "ip.bl.test",
    )
    .await;
    am.wait_for(Duration::from_secs(20), |a| listed_alert(a).is_none());
    let api = d
        .wait_for("/api/v1/alerts", Duration::from_secs(5), |r| {
            r.json()["alerts"].as_array().is_some_and(Vec::is_empty)
        })
        .json();
    assert_eq!(api, serde_json::json!({"alerts": []}));
    let status = d.get("/api/v1/status").json();
    assert_eq!(
        status["alerts"],
        serde_json::json!({"firing": 0, "pending": 0, "alerts": [], "left_out": 0})
    );
    let metrics = d.get("/metrics");
    assert_eq!(
        metrics.value("senderscope_alerts{state=\"firing\"}"),
        Some(0.0)
    );
    assert_eq!(
        metrics.value("senderscope_alert_notifier_up{notifier=\"am\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_restart_while_an_alert_fires_sends_no_new_alert() {
    let dir = tempfile::tempdir().unwrap();
    let dns_port = free_port();
    let _rbl = Rbldnsd::serve_on(
        dns_port,
        &[ip4set(dir.path(), "listed.txt", &["192.0.2.10"])],
        "ip.bl.test",
    )
    .await;
    let am = Alertmanager::start();
    let hook = Receiver::start(&[]);
    let url_file = dir.path().join("hook-url");
    std::fs::write(&url_file, hook.url()).unwrap();
    let alerts = format!(
        "  alertmanagers:\n    - url: {}\n  webhooks:\n    - name: ops\n      url_file: {}\n",
        am.url(),
        url_file.display()
    );
    let (cfg, path) = config(dir.path(), dns_port, &alerts);

    let d = Daemon::start(&path, cfg.port, &[]);
    let first =
        listed_alert(&am.wait_for(Duration::from_secs(20), |a| listed_alert(a).is_some())).unwrap();
    hook.wait_for(Duration::from_secs(10), |r| !r.is_empty());
    let log_before = d.log();
    drop(d);

    let d = Daemon::start(&path, cfg.port, &[]);
    // The new process re-sends the firing alert (Alertmanager updates it) …
    let again = am.wait_for(Duration::from_secs(10), |a| {
        listed_alert(a).is_some_and(|a| a["updatedAt"] != first["updatedAt"])
    });
    let again = listed_alert(&again).unwrap();
    // … as the same alert: same identity, same start.
    assert_eq!(again["fingerprint"], first["fingerprint"]);
    assert_eq!(again["startsAt"], first["startsAt"]);
    // Give the webhook a few evaluation passes to (wrongly) hear it again.
    std::thread::sleep(Duration::from_secs(2));
    let requests = hook.requests();
    assert_eq!(
        requests.len(),
        1,
        "one webhook notification in all: {requests:#?}"
    );
    let body: Value = serde_json::from_str(&requests[0].1).unwrap();
    assert_eq!(body["status"], "firing");
    assert_eq!(body["alert"]["labels"]["alertname"], NAME);
    assert!(
        d.log().contains("alert state restored") && d.log().contains("firing=1"),
        "{}",
        d.log()
    );
    // The webhook URL carries a token: it is never logged.
    assert!(!log_before.contains("s3cr3t-token") && !d.log().contains("s3cr3t-token"));
}

#[tokio::test]
async fn an_alertmanager_that_comes_up_late_gets_the_firing_alert() {
    let dir = tempfile::tempdir().unwrap();
    let dns_port = free_port();
    let _rbl = Rbldnsd::serve_on(
        dns_port,
        &[ip4set(dir.path(), "listed.txt", &["192.0.2.10"])],
        "ip.bl.test",
    )
    .await;
    let am_port = free_port();
    let alerts =
        format!("  alertmanagers:\n    - url: http://127.0.0.1:{am_port}\n      name: late\n");
    let (cfg, path) = config(dir.path(), dns_port, &alerts);
    let d = Daemon::start(&path, cfg.port, &[]);
    // Firing, with nobody to tell: a metric and a log line, and the daemon carries on.
    d.wait_for("/metrics", Duration::from_secs(20), |r| {
        r.value("senderscope_alert_notifier_up{notifier=\"late\"}") == Some(0.0)
            && r.value("senderscope_alerts{state=\"firing\"}") == Some(1.0)
    });
    assert!(d.log().contains("alert notifier is down"), "{}", d.log());

    let am = Alertmanager::start_on(am_port);
    let held = am.wait_for(Duration::from_secs(10), |a| listed_alert(a).is_some());
    assert_eq!(
        listed_alert(&held).unwrap()["labels"]["target"],
        "192.0.2.10"
    );
    d.wait_for("/metrics", Duration::from_secs(5), |r| {
        r.value("senderscope_alert_notifier_up{notifier=\"late\"}") == Some(1.0)
    });
    assert!(d.log().contains("alert notifier is back"), "{}", d.log());
}

#[tokio::test]
async fn switching_a_rule_off_by_reload_resolves_its_alert() {
    let dir = tempfile::tempdir().unwrap();
    let dns_port = free_port();
    let _rbl = Rbldnsd::serve_on(
        dns_port,
        &[ip4set(dir.path(), "listed.txt", &["192.0.2.10"])],
        "ip.bl.test",
    )
    .await;
    let am = Alertmanager::start();
    let alerts = format!("  alertmanagers:\n    - url: {}\n", am.url());
    let (cfg, path) = config(dir.path(), dns_port, &alerts);
    let d = Daemon::start(&path, cfg.port, &[]);
    am.wait_for(Duration::from_secs(20), |a| listed_alert(a).is_some());

    // The same file with the rule switched off for the domain, then SIGHUP.
    let off = format!(
        "{alerts}  domains:\n    listed.test:\n      blocklist_listed: {{enabled: false}}\n"
    );
    write(dir.path(), &cfg, &off);
    d.signal("HUP");
    am.wait_for(Duration::from_secs(10), |a| listed_alert(a).is_none());
    let api = d.get("/api/v1/alerts").json();
    assert_eq!(api, serde_json::json!({"alerts": []}));
}
