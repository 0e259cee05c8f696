//! Blocklist rounds in the real daemon against a real rbldnsd: a listing shows in /metrics and in
//! /api/v1/status with its sentence; delisting (rbldnsd restarted on the same port with new data)
//! ends the period and drops the metric to 0; a zone that stops answering is `lookup_failed`, never
//! 0 or clean.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::daemon::{Daemon, Reply, TestConfig};
use crate::harness::free_port;
use crate::harness::rbldnsd::{Dataset, Rbldnsd};

/// An ip4set for `ip.bl.test`: the RFC 5782 test point and `listed`, with a TXT reason.
pub(super) fn ip4set(dir: &Path, name: &str, listed: &[&str]) -> Dataset {
    let mut text = String::from(":127.0.0.2:Spam source $ seen in traps\n127.0.0.2\n");
    for ip in listed {
        text += &format!("{ip}\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Dataset::new("ip.bl.test", "ip4set", path)
}

/// A dnset for `dom.bl.test`: the RFC 5782 `test` point and `listed`.
pub(super) fn dnset(dir: &Path, name: &str, listed: &[&str]) -> Dataset {
    let mut text = String::from(":127.0.0.2:Domain $ is listed\ntest\n");
    for d in listed {
        text += &format!("{d}\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Dataset::new("dom.bl.test", "dnset", path)
}

/// Every `ip.bl.test` query ignored: the server never answers (rbldnsd wants a data dataset beside
/// an acl, so the zone keeps its ip4set too).
fn silent(dir: &Path) -> Dataset {
    let path = dir.join("silent.acl");
    std::fs::write(&path, "0.0.0.0/0 :ignore\n").unwrap();
    Dataset::new("ip.bl.test", "acl", path)
}

pub(super) const ZONES: &str = "{defaults: false, extra: [\
    {zone: ip.bl.test, kind: ipv4, listed: [127.0.0.2], delist_url: \"https://ip.bl.test/delist\"}, \
    {zone: dom.bl.test, kind: domain}]}";

fn config(dir: &Path, dns_port: u16) -> (TestConfig, std::path::PathBuf) {
    let mut cfg = TestConfig::new(dir, &[]);
    cfg.domains = vec![(
        "listed.test".into(),
        vec!["192.0.2.10".into(), "192.0.2.11".into()],
    )];
    cfg.dns_port = dns_port;
    cfg.blocklists_every = "1s".into();
    cfg.blocklists = ZONES.into();
    let path = dir.join("config.yaml");
    cfg.write(&path);
    (cfg, path)
}

fn series(target: &str, zone: &str) -> String {
    format!("senderscope_blocklist_listed{{target=\"{target}\",zone=\"{zone}\"}}")
}

/// The `blocklists` check of a target in /api/v1/status (`ips[]` or `domains[]`).
fn blocklist_check(status: &Value, section: &str, key: &str, name: &str) -> Option<Value> {
    status[section]
        .as_array()?
        .iter()
        .find(|e| e[key] == name)?["checks"]
        .as_array()?
        .iter()
        .find(|c| c["check"] == "blocklists")
        .cloned()
}

fn messages(check: &Value) -> Vec<String> {
    check["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| f["message"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn has_line(r: &Reply, line: &str) -> bool {
    r.body.lines().any(|l| l == line)
}

#[tokio::test]
async fn listing_shows_in_metrics_and_status_and_delisting_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rbl = Rbldnsd::serve_on(
        port,
        &[
            ip4set(dir.path(), "listed.txt", &["192.0.2.10"]),
            dnset(dir.path(), "listed-dom.txt", &["listed.test"]),
        ],
        "ip.bl.test",
    )
    .await;
    let (cfg, path) = config(dir.path(), port);
    let d = Daemon::start(&path, cfg.port, &[]);

    // A round's targets are committed (and published) as they finish: wait for the whole round.
    let scrape = d.wait_for("/metrics", Duration::from_secs(20), |r| {
        [
            ("192.0.2.10", "ip.bl.test"),
            ("192.0.2.11", "ip.bl.test"),
            ("listed.test", "dom.bl.test"),
        ]
        .iter()
        .all(|(target, zone)| r.body.contains(&series(target, zone)))
    });
    for (target, zone, value) in [
        ("192.0.2.10", "ip.bl.test", 1),
        ("192.0.2.11", "ip.bl.test", 0),
        ("listed.test", "dom.bl.test", 1),
    ] {
        assert!(
            has_line(&scrape, &format!("{} {value}", series(target, zone))),
            "{target} on {zone} should read {value}:\n{}",
            scrape.body
        );
    }
    assert!(has_line(
        &scrape,
        "senderscope_blocklist_zone_healthy{zone=\"ip.bl.test\"} 1"
    ));

    let status = d
        .wait_for("/api/v1/status", Duration::from_secs(10), |r| {
            blocklist_check(&r.json(), "ips", "ip", "192.0.2.10").is_some()
        })
        .json();
    let ip = blocklist_check(&status, "ips", "ip", "192.0.2.10").unwrap();
    assert_eq!(ip["status"], "critical");
    let sentence = &messages(&ip)[0];
    assert!(
        sentence.starts_with("192.0.2.10 is listed on ip.bl.test (127.0.0.2) since 20"),
        "{sentence}"
    );
    assert!(
        sentence.contains(
            " UTC, reason: Spam source 192.0.2.10 seen in traps, delist at https://ip.bl.test/delist"
        ),
        "{sentence}"
    );
    let clean = blocklist_check(&status, "ips", "ip", "192.0.2.11").unwrap();
    assert_eq!(clean["status"], "ok");
    assert_eq!(clean["findings"], serde_json::json!([]));
    let domain = blocklist_check(&status, "domains", "domain", "listed.test").unwrap();
    assert_eq!(domain["status"], "critical");
    assert!(
        messages(&domain)[0].starts_with("listed.test is listed on dom.bl.test (127.0.0.2) since")
    );
    let open = status["ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ip"] == "192.0.2.10")
        .unwrap()["listings"]
        .clone();
    assert_eq!(open[0]["zone"], "ip.bl.test");
    assert!(open[0]["delisted_at"].is_null());
    assert_eq!(
        status["blocklists"]["status"], "ok",
        "{}",
        status["blocklists"]
    );

    // Delisted: the same zone, new data, on the same port.
    drop(rbl);
    let _rbl = Rbldnsd::serve_on(
        port,
        &[
            ip4set(dir.path(), "clean.txt", &[]),
            dnset(dir.path(), "clean-dom.txt", &[]),
        ],
        "ip.bl.test",
    )
    .await;
    let scrape = d.wait_for("/metrics", Duration::from_secs(20), |r| {
        has_line(r, &format!("{} 0", series("192.0.2.10", "ip.bl.test")))
    });
    assert!(has_line(
        &scrape,
        &format!("{} 0", series("listed.test", "dom.bl.test"))
    ));
    let status = d
        .wait_for("/api/v1/status", Duration::from_secs(10), |r| {
            blocklist_check(&r.json(), "ips", "ip", "192.0.2.10")
                .is_some_and(|c| c["status"] == "info")
        })
        .json();
    let ip = blocklist_check(&status, "ips", "ip", "192.0.2.10").unwrap();
    let ended = &messages(&ip)[0];
    assert!(
        ended.starts_with("192.0.2.10 is no longer listed on ip.bl.test: listed from 20"),
        "{ended}"
    );
    assert_eq!(ip["findings"][0]["code"], "blocklist.delisted");
    let entry = status["ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ip"] == "192.0.2.10")
        .unwrap();
    assert_eq!(entry["listings"], serde_json::json!([]), "no open period");
    let log = d.log();
    assert!(log.contains("a blocklist listing began"), "{log}");
    assert!(log.contains("a blocklist listing ended"), "{log}");
}

#[tokio::test]
async fn zone_that_stops_answering_is_lookup_failed_never_clean() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rbl = Rbldnsd::serve_on(
        port,
        &[
            ip4set(dir.path(), "clean.txt", &[]),
            dnset(dir.path(), "clean-dom.txt", &[]),
        ],
        "ip.bl.test",
    )
    .await;
    let (cfg, path) = config(dir.path(), port);
    let d = Daemon::start(&path, cfg.port, &[]);
    d.wait_for("/metrics", Duration::from_secs(20), |r| {
        has_line(r, &format!("{} 0", series("192.0.2.11", "ip.bl.test")))
    });

    // ip.bl.test now never answers (dom.bl.test still does).
    drop(rbl);
    let _rbl = Rbldnsd::serve_on(
        port,
        &[
            silent(dir.path()),
            ip4set(dir.path(), "clean.txt", &[]),
            dnset(dir.path(), "clean-dom.txt", &[]),
        ],
        "dom.bl.test",
    )
    .await;
    // A round stores its findings after its metrics: once the status says unknown, the series
    // of that round are in place.
    let status = d
        .wait_for("/api/v1/status", Duration::from_secs(20), |r| {
            blocklist_check(&r.json(), "ips", "ip", "192.0.2.11")
                .is_some_and(|c| c["status"] == "unknown")
        })
        .json();
    let scrape = d.get("/metrics");
    assert!(has_line(
        &scrape,
        "senderscope_blocklist_zone_healthy{zone=\"ip.bl.test\"} 0"
    ));
    assert!(
        !scrape.body.contains(&series("192.0.2.11", "ip.bl.test")),
        "unknown is not clean: the 0 must go\n{}",
        scrape.body
    );
    assert!(has_line(
        &scrape,
        &format!("{} 0", series("listed.test", "dom.bl.test"))
    ));
    let ip = blocklist_check(&status, "ips", "ip", "192.0.2.11").unwrap();
    assert_eq!(ip["findings"][0]["code"], "blocklist.lookup_failed", "{ip}");
    assert!(
        messages(&ip)[0].starts_with("Could not check 192.0.2.11 on ip.bl.test: "),
        "{ip}"
    );
    let round = &status["blocklists"];
    assert_eq!(round["status"], "unknown", "{round}");
    let codes: Vec<&str> = round["checks"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"blocklist.lookup_failed"), "{round}");
}
