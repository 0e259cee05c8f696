//! The posture job in the real daemon, its DNS served by a real nsd: what `/api/v1/*` and `/metrics`
//! show for a domain and its sending IPs, record history across a zone change and across a restart.
//!
//! Zones: `watched.daemon.test` (copied to a temp dir, because the tests rewrite it), `broken.daemon.test`,
//! the reverse zone of 192.0.2.0/24 with its forward names (`hosts.ptr.test`), and the empty `test` TLD.
//! The fixtures' comments say what each should produce.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::daemon::{Daemon, Reply, TestConfig};
use crate::harness::nsd::Nsd;

const WATCHED: &str = "watched.daemon.test";
const BROKEN: &str = "broken.daemon.test";
const WATCHED_PATH: &str = "/api/v1/domains/watched.daemon.test";
/// A first round needs a few DNS answers; a slow machine gets time.
const ROUND: Duration = Duration::from_secs(30);

/// The SPF record before and after the rewrite (2 → 3 DNS lookups).
const SPF_BEFORE: &str = "v=spf1 ip4:192.0.2.10 include:_spf.watched.daemon.test -all";
const SPF_AFTER: &str = "v=spf1 ip4:192.0.2.10 mx include:_spf.watched.daemon.test -all";
const DMARC_BEFORE: &str = "v=DMARC1; p=quarantine; rua=mailto:dmarc@watched.daemon.test";
const DMARC_AFTER: &str = "v=DMARC1; p=reject; rua=mailto:dmarc@watched.daemon.test";

/// nsd with the zones, a daemon config pointing at it (checks every second, first round at once).
struct World {
    _dir: tempfile::TempDir,
    nsd: Nsd,
    zone: PathBuf,
    cfg: TestConfig,
    config: PathBuf,
}

fn fixture(name: &str) -> (String, PathBuf) {
    (
        name.to_owned(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/zones/{name}.zone")),
    )
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join(format!("{WATCHED}.zone"));
    std::fs::copy(fixture(WATCHED).1, &zone).unwrap();
    let nsd = Nsd::serve(&[
        (WATCHED.to_owned(), zone.clone()),
        fixture(BROKEN),
        fixture("2.0.192.in-addr.arpa"),
        fixture("hosts.ptr.test"),
        Nsd::test_tld(),
    ])
    .await;
    let mut cfg = TestConfig::new(dir.path(), &[]);
    cfg.domains = vec![
        (WATCHED.to_owned(), vec!["192.0.2.10".to_owned()]),
        (BROKEN.to_owned(), vec!["192.0.2.11".to_owned()]),
    ];
    cfg.dkim_selectors = vec!["s1".into(), "s2".into()];
    cfg.checks = "1s".into();
    cfg.dns_port = nsd.addr().port();
    let config = dir.path().join("config.yaml");
    cfg.write(&config);
    World {
        _dir: dir,
        nsd,
        zone,
        cfg,
        config,
    }
}

impl World {
    fn daemon(&self) -> Daemon {
        Daemon::start(&self.config, self.cfg.port, &[])
    }

    /// Rewrite the watched zone (SPF gains `mx`, DMARC goes to reject, the s2 key is removed) and
    /// restart nsd on the same port.
    async fn change_zone(&mut self) {
        let before = std::fs::read_to_string(&self.zone).unwrap();
        let after: String = before
            .replace(SPF_BEFORE, SPF_AFTER)
            .replace(DMARC_BEFORE, DMARC_AFTER)
            .lines()
            .filter(|l| !l.starts_with("s2._domainkey"))
            .map(|l| format!("{l}\n"))
            .collect();
        for (gone, new) in [(SPF_BEFORE, SPF_AFTER), (DMARC_BEFORE, DMARC_AFTER)] {
            assert!(before.contains(gone) && after.contains(new) && !after.contains(gone));
        }
        assert!(before.contains("s2._domainkey") && !after.contains("s2._domainkey"));
        std::fs::write(&self.zone, after).unwrap();
        self.nsd.restart().await;
    }
}

/// The domain's check `name` in a `/api/v1/domains/{domain}` body.
fn check<'a>(detail: &'a Value, name: &str) -> &'a Value {
    detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {detail:#}"))
}

fn codes(check: &Value) -> Vec<&str> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

fn record_changes(check: &Value) -> Vec<&Value> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "record.changed")
        .collect()
}

/// Every `record.changed` anywhere in a domain detail (its checks and its IPs' checks).
fn all_record_changes(detail: &Value) -> Vec<Value> {
    let ips = detail["ips"].as_array().unwrap();
    detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(ips.iter().flat_map(|i| i["checks"].as_array().unwrap()))
        .flat_map(|c| record_changes(c).into_iter().cloned())
        .collect()
}

/// Wait until both domains have all their results and the watched domain's SPF record is `spf`.
fn wait_for_round(d: &Daemon, spf: &str) -> Value {
    d.wait_for(WATCHED_PATH, ROUND, |r| {
        let j = r.json();
        j["checks"].as_array().is_some_and(|c| c.len() == 8)
            && j["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["check"] == "spf" && c["record"] == spf)
            && j["ips"][0]["checks"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
    })
    .json()
}

#[tokio::test]
async fn the_api_shows_each_checks_record_findings_and_each_ips_ptr() {
    let w = world().await;
    let d = w.daemon();
    let detail = wait_for_round(&d, SPF_BEFORE);
    let broken = d.wait_for("/api/v1/domains/broken.daemon.test", ROUND, |r| {
        r.json()["checks"].as_array().is_some_and(|c| c.len() == 8)
    });
    let broken = broken.json();

    // The watched domain: only the 1024-bit s2 key is a warning; MTA-STS and BIMI are optional.
    assert_eq!(detail["status"], "warning", "{detail:#}");
    assert_eq!(detail["dkim_selectors"], serde_json::json!(["s1", "s2"]));
    let spf = check(&detail, "spf");
    assert_eq!(spf["status"], "ok");
    assert_eq!(spf["record"], SPF_BEFORE);
    assert!(codes(spf).is_empty(), "{spf:#}");
    assert_eq!(spf["facts"]["spf_dns_lookups"], 2);
    assert!(spf["checked_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(spf["duration_seconds"].as_f64().unwrap() >= 0.0);
    let dkim = check(&detail, "dkim");
    assert_eq!(dkim["status"], "warning");
    assert_eq!(codes(dkim), ["dkim.weak_key"]);
    let weak = &dkim["findings"][0];
    assert!(
        weak["message"].as_str().unwrap().contains("1024"),
        "{weak:#}"
    );
    assert!(!weak["detail"].is_null(), "findings carry their detail");
    let record = dkim["record"].as_str().unwrap();
    assert!(record.contains("s1: v=DKIM1; k=rsa; p=MIIBIjAN") && record.contains("s2: v=DKIM1"));
    let bits: Vec<i64> = dkim["facts"]["dkim_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["bits"].as_i64().unwrap())
        .collect();
    assert_eq!(bits, [2048, 1024]);
    let dmarc = check(&detail, "dmarc");
    assert_eq!(dmarc["record"], DMARC_BEFORE);
    assert_eq!(dmarc["facts"]["dmarc_policy"], "quarantine");
    assert_eq!(codes(check(&detail, "mta_sts")), ["mta_sts.missing"]);
    assert_eq!(codes(check(&detail, "bimi")), ["bimi.missing"]);
    assert_eq!(
        check(&detail, "mx")["record"],
        "10 mail.watched.daemon.test"
    );
    assert_eq!(check(&detail, "bulk_sender")["status"], "ok");
    // Worst first: the DKIM warning before the info and ok checks.
    assert_eq!(detail["checks"][0]["check"], "dkim");
    assert_eq!(
        detail["summary"], weak["message"],
        "the summary is the worst finding's message"
    );

    // Its IP: PTR and FCrDNS as served by the reverse zone.
    let ips = detail["ips"].as_array().unwrap();
    assert_eq!(ips.len(), 1);
    let ip = &ips[0];
    assert_eq!(ip["ip"], "192.0.2.10");
    assert_eq!(ip["status"], "ok");
    assert_eq!(ip["ptr"], "mail.hosts.ptr.test");
    assert_eq!(ip["fcrdns"], true);
    assert_eq!(ip["checks"][0]["check"], "ptr");
    assert_eq!(ip["checks"][0]["record"], "mail.hosts.ptr.test");
    assert_eq!(ip["summary"], "No problems found.");

    // The broken domain: no SPF, no keys, p=none.
    assert_eq!(broken["status"], "critical");
    assert_eq!(
        codes(check(&broken, "spf")),
        ["spf.missing", "spf.sending_ip_not_authorized"]
    );
    assert_eq!(
        codes(check(&broken, "dkim")),
        ["dkim.selector_missing", "dkim.selector_missing"]
    );
    assert!(codes(check(&broken, "dmarc")).contains(&"dmarc.policy_none"));
    assert!(
        codes(check(&broken, "bulk_sender")).contains(&"bulk_sender.requirements"),
        "{broken:#}"
    );
    let bip = &broken["ips"][0];
    assert_eq!(
        (&bip["ip"], &bip["status"], &bip["fcrdns"]),
        (&"192.0.2.11".into(), &"critical".into(), &false.into())
    );
    assert!(bip["ptr"].is_null());
    assert_eq!(codes(&bip["checks"][0]), ["ptr.missing"]);

    // /api/v1/status: worst first, each with a one-line summary of what is wrong.
    let status = d.get("/api/v1/status").json();
    assert_eq!(status["status"], "critical");
    let domains: Vec<(&str, &str)> = status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["domain"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert_eq!(domains, [(BROKEN, "critical"), (WATCHED, "warning")]);
    let summary = status["domains"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("SPF") && !summary.contains('\n'),
        "{summary}"
    );
    assert_eq!(status["domains"][1]["summary"], weak["message"]);
    let ips: Vec<(&str, &str, &Value, &Value)> = status["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["ip"].as_str().unwrap(),
                i["status"].as_str().unwrap(),
                &i["ptr"],
                &i["fcrdns"],
            )
        })
        .collect();
    assert_eq!(
        ips,
        [
            ("192.0.2.11", "critical", &Value::Null, &false.into()),
            (
                "192.0.2.10",
                "ok",
                &"mail.hosts.ptr.test".into(),
                &true.into()
            ),
        ]
    );
    assert!(
        status["ips"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("192.0.2.11 has no reverse DNS"),
        "{:#}",
        status["ips"][0]
    );
    assert!(
        all_record_changes(&detail).is_empty(),
        "nothing changed yet"
    );
}

#[tokio::test]
async fn a_changed_zone_shows_record_changed_with_old_and_new_values() {
    let mut w = world().await;
    let d = w.daemon();
    let first = wait_for_round(&d, SPF_BEFORE);
    let first_seen = check(&first, "spf")["checked_at"].as_i64().unwrap();
    w.change_zone().await;
    let detail = wait_for_round(&d, SPF_AFTER);

    let spf = record_changes(check(&detail, "spf"));
    assert_eq!(spf.len(), 1, "{detail:#}");
    assert_eq!(spf[0]["severity"], "info");
    assert_eq!(spf[0]["detail"]["name"], WATCHED);
    assert_eq!(spf[0]["detail"]["old"], SPF_BEFORE);
    assert_eq!(spf[0]["detail"]["new"], SPF_AFTER);
    let changed_at = spf[0]["detail"]["changed_at"].as_i64().unwrap();
    let old_last_seen = spf[0]["detail"]["old_last_seen"].as_i64().unwrap();
    assert!(spf[0]["detail"]["old_first_seen"].as_i64().unwrap() <= first_seen);
    assert!(first_seen <= old_last_seen && old_last_seen <= changed_at);
    let message = spf[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("The SPF record at {WATCHED} changed between "))
            && message.contains(SPF_BEFORE)
            && message.contains(SPF_AFTER),
        "{message}"
    );

    let dmarc = record_changes(check(&detail, "dmarc"));
    assert_eq!(dmarc.len(), 1);
    assert_eq!(dmarc[0]["detail"]["name"], "_dmarc.watched.daemon.test");
    assert_eq!(
        (&dmarc[0]["detail"]["old"], &dmarc[0]["detail"]["new"]),
        (&DMARC_BEFORE.into(), &DMARC_AFTER.into())
    );

    // DKIM: one history per selector; s1 is unchanged, the removed s2 is a change to "absent".
    let dkim = check(&detail, "dkim");
    let changes = record_changes(dkim);
    assert_eq!(changes.len(), 1, "{dkim:#}");
    assert_eq!(
        changes[0]["detail"]["name"],
        "s2._domainkey.watched.daemon.test"
    );
    assert!(
        changes[0]["detail"]["old"]
            .as_str()
            .unwrap()
            .starts_with("v=DKIM1; k=rsa; p=MIGfMA0")
    );
    assert_eq!(changes[0]["detail"]["new"], "");
    assert!(
        changes[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("and is now absent."),
        "{}",
        changes[0]["message"]
    );
    assert!(codes(dkim).contains(&"dkim.selector_missing"));

    // Unchanged records and the IP's PTR raise nothing.
    for name in ["mx", "tls_rpt", "mta_sts", "bimi", "bulk_sender"] {
        assert!(record_changes(check(&detail, name)).is_empty(), "{name}");
    }
    assert_eq!(all_record_changes(&detail).len(), 3);

    // The change stays on the report in later rounds (same words, so one stored span).
    let later = d.wait_for(WATCHED_PATH, ROUND, |r| {
        check(&r.json(), "spf")["checked_at"].as_i64().unwrap() > changed_at + 1
    });
    let later = later.json();
    assert_eq!(record_changes(check(&later, "spf")), spf);
    assert_eq!(
        check(&later, "spf")["since"],
        check(&detail, "spf")["since"]
    );
}

#[tokio::test]
async fn metrics_follow_the_published_records_and_pass_promtool() {
    let mut w = world().await;
    let d = w.daemon();
    wait_for_round(&d, SPF_BEFORE);
    let m = scrape_when(
        &d,
        r#"senderscope_check_status{check="ptr",domain="broken.daemon.test"}"#,
    );
    for line in [
        r#"senderscope_spf_dns_lookups{domain="watched.daemon.test"} 2"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s1"} 2048"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s2"} 1024"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="quarantine"} 1"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="reject"} 0"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="none"} 0"#,
        r#"senderscope_dmarc_policy{domain="broken.daemon.test",policy="none"} 1"#,
        r#"senderscope_check_status{check="spf",domain="watched.daemon.test"} 0"#,
        r#"senderscope_check_status{check="dkim",domain="watched.daemon.test"} 2"#,
        r#"senderscope_check_status{check="ptr",domain="watched.daemon.test"} 0"#,
        r#"senderscope_check_status{check="spf",domain="broken.daemon.test"} 3"#,
        r#"senderscope_check_status{check="ptr",domain="broken.daemon.test"} 3"#,
        r#"senderscope_check_status{check="bulk_sender",domain="broken.daemon.test"} 3"#,
        r#"senderscope_findings{check="dkim",domain="watched.daemon.test",severity="warning"} 1"#,
        r#"senderscope_findings{check="dkim",domain="broken.daemon.test",severity="critical"} 2"#,
        r#"senderscope_findings{check="ptr",domain="broken.daemon.test",severity="critical"} 1"#,
    ] {
        assert!(has_line(&m, line), "{line} missing:\n{}", grep(&m));
    }
    // No SPF record at broken.daemon.test: no lookup count, and no key sizes for its missing keys.
    assert!(
        !m.body
            .contains(r#"senderscope_spf_dns_lookups{domain="broken.daemon.test"}"#)
    );
    assert!(
        !m.body
            .contains(r#"senderscope_dkim_key_size{domain="broken.daemon.test""#)
    );
    assert_last_check_is_recent(&m, WATCHED);
    promtool_check(&m.body);

    w.change_zone().await;
    let m = scrape_when(
        &d,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="reject"} 1"#,
    );
    for line in [
        r#"senderscope_spf_dns_lookups{domain="watched.daemon.test"} 3"#,
        r#"senderscope_dmarc_policy{domain="watched.daemon.test",policy="quarantine"} 0"#,
        r#"senderscope_dkim_key_size{domain="watched.daemon.test",selector="s1"} 2048"#,
        r#"senderscope_check_status{check="dkim",domain="watched.daemon.test"} 3"#,
        r#"senderscope_findings{check="spf",domain="watched.daemon.test",severity="info"} 1"#,
    ] {
        assert!(has_line(&m, line), "{line} missing:\n{}", grep(&m));
    }
    assert!(
        !m.body.contains(r#"selector="s2""#),
        "the removed key's series is gone:\n{}",
        grep(&m)
    );
    promtool_check(&m.body);
}

#[tokio::test]
async fn record_history_survives_a_daemon_restart() {
    let mut w = world().await;
    let d = w.daemon();
    let first = wait_for_round(&d, SPF_BEFORE);
    let since = check(&first, "spf")["since"].clone();
    let first_seen = since.as_i64().unwrap();
    drop(d);

    // Same records after the restart: no record.changed, and the stored spans simply go on.
    let restarted_at = senderscope::checks::unix_now();
    let d = w.daemon();
    let after = d.wait_for(WATCHED_PATH, ROUND, |r| {
        let j = r.json();
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["checked_at"].as_i64().unwrap() >= restarted_at)
            && j["ips"][0]["checks"][0]["checked_at"].as_i64().unwrap() >= restarted_at
    });
    let after = after.json();
    assert!(all_record_changes(&after).is_empty(), "{after:#}");
    assert_eq!(
        check(&after, "spf")["since"],
        since,
        "one span across the restart"
    );
    drop(d);

    // Records changed while the daemon was down: the first round after the start compares with the
    // history stored before it.
    w.change_zone().await;
    let d = w.daemon();
    let detail = wait_for_round(&d, SPF_AFTER);
    let spf = record_changes(check(&detail, "spf"));
    assert_eq!(spf.len(), 1, "{detail:#}");
    assert_eq!(spf[0]["detail"]["old"], SPF_BEFORE);
    assert_eq!(spf[0]["detail"]["old_first_seen"], first_seen);
    assert!(spf[0]["detail"]["old_last_seen"].as_i64().unwrap() >= restarted_at);
    assert_eq!(
        all_record_changes(&detail).len(),
        3,
        "spf, dmarc and dkim s2"
    );
}

/// Scrape `/metrics` until it has `needle`.
fn scrape_when(d: &Daemon, needle: &str) -> Reply {
    d.wait_for("/metrics", ROUND, |r| r.body.contains(needle))
}

fn has_line(m: &Reply, line: &str) -> bool {
    m.body.lines().any(|l| l == line)
}

/// The posture families of a scrape, for failure messages.
fn grep(m: &Reply) -> String {
    m.body
        .lines()
        .filter(|l| {
            !l.starts_with('#')
                && [
                    "spf_dns_lookups",
                    "dkim_key_size",
                    "dmarc_policy",
                    "check_status",
                    "findings",
                ]
                .iter()
                .any(|f| l.starts_with(&format!("senderscope_{f}")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_last_check_is_recent(m: &Reply, domain: &str) {
    let prefix =
        format!(r#"senderscope_last_check_timestamp_seconds{{check="spf",domain="{domain}"}} "#);
    let value: i64 = m
        .body
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}"))
        .parse()
        .unwrap();
    let now = senderscope::checks::unix_now();
    assert!(now - 60 <= value && value <= now, "{value} vs now {now}");
}

fn promtool_check(body: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}
