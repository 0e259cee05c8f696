//! The world the end-to-end test looks at: nsd serving the fixture domain (tests/fixtures/e2e/),
//! rbldnsd listing its sending IP, a relay joining them as a site's resolver would (with one name,
//! the domain's `_mta-sts` record, routed to a server that never answers: a real DNS error), and the
//! daemon checking every 5 s, its alert engine every second, delivering to a real Alertmanager (the
//! listing's alert fires at once). [`World::feed`] posts reports and events through the API with the
//! token, as a mail system would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::blocklists::relay::Relay;
use crate::harness::alertmanager::Alertmanager;
use crate::harness::daemon::{Daemon, TestConfig};
use crate::harness::nsd::Nsd;
use crate::harness::rbldnsd::{Dataset, Rbldnsd};
use crate::harness::{free_port, loopback};

/// The fixture domain.
pub const DOMAIN: &str = "shop.e2e.test";
/// Its sending IP, listed on `ip.bl.test`.
const IP: &str = "192.0.2.20";
const TOKEN: &str = "e2e-token-0123456789abcdef";

/// Blocklist zones: an IP zone listing the sending IP and a domain zone listing the domain, each
/// with its RFC 5782 test point so the zones are healthy.
const ZONES: &str = "{defaults: false, extra: [\
    {zone: ip.bl.test, kind: ipv4, listed: [127.0.0.2]}, {zone: dom.bl.test, kind: domain}]}";

/// The running world; everything stops when dropped.
pub struct World {
    /// The daemon under test.
    pub daemon: Daemon,
    /// The Alertmanager the daemon's alert engine delivers to (notifier `e2e`).
    pub alertmanager: Alertmanager,
    _relay: Relay,
    _rbl: Rbldnsd,
    _nsd: Nsd,
    _dir: tempfile::TempDir,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e")
        .join(name)
}

impl World {
    /// Start the servers and the daemon (ready, first jobs under way).
    pub async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let nsd = Nsd::serve(&[
            (DOMAIN.to_owned(), fixture("shop.e2e.test.zone")),
            Nsd::fixture("2.0.192.in-addr.arpa"),
            Nsd::test_tld(),
        ])
        .await;
        let ips = dir.path().join("ip.txt");
        std::fs::write(
            &ips,
            format!(":127.0.0.2:Spam from $ seen in traps\n127.0.0.2\n{IP}\n"),
        )
        .unwrap();
        let domains = dir.path().join("dom.txt");
        std::fs::write(&domains, ":127.0.0.2:Domain $ is listed\ntest\n").unwrap();
        let rbl = Rbldnsd::serve(
            &[
                Dataset::new("ip.bl.test", "ip4set", ips),
                Dataset::new("dom.bl.test", "dnset", domains),
            ],
            "ip.bl.test",
        )
        .await;
        // Nothing listens there: the relay's query times out, so the daemon's does.
        let dead = loopback(free_port());
        let relay = Relay::start(&[
            ("test", nsd.addr()),
            ("in-addr.arpa", nsd.addr()),
            ("bl.test", rbl.addr()),
            (&format!("_mta-sts.{DOMAIN}"), dead),
        ])
        .await;

        let alertmanager = tokio::task::spawn_blocking(Alertmanager::start)
            .await
            .unwrap();

        let mut cfg = TestConfig::new(dir.path(), &[]);
        cfg.domains = vec![(DOMAIN.to_owned(), vec![IP.to_owned()])];
        cfg.dkim_selectors = vec!["s1".into()];
        cfg.dns_port = relay.addr().port();
        cfg.checks = "5s".into();
        cfg.blocklists_every = "5s".into();
        cfg.blocklists = ZONES.into();
        let token = dir.path().join("token");
        std::fs::write(&token, TOKEN).unwrap();
        cfg.token_file = Some(token);
        let path = dir.path().join("config.yaml");
        // Re-sent every second, so the notifier's counter rises within every rate window.
        let alerts = format!(
            "alerts:\n  evaluate_every: 1s\n  resend_every: 1s\n  alertmanagers:\n    - url: {}\n      name: e2e\n",
            alertmanager.url()
        );
        std::fs::write(&path, cfg.yaml() + &alerts).unwrap();
        let daemon = Daemon::start(&path, cfg.port, &[]);
        World {
            daemon,
            alertmanager,
            _relay: relay,
            _rbl: rbl,
            _nsd: nsd,
            _dir: dir,
        }
    }

    /// Wait (blocking) until a posture job and a blocklist round have stored their results.
    pub fn wait_first_rounds(&self) {
        self.daemon
            .wait_for("/metrics", Duration::from_secs(60), |r| {
                r.value(r#"senderscope_scheduler_job_runs_total{job="posture",result="ok"}"#)
                    .is_some_and(|n| n >= 1.0)
                    && r.value(
                        r#"senderscope_scheduler_job_runs_total{job="blocklists",result="ok"}"#,
                    )
                    .is_some_and(|n| n >= 1.0)
            });
    }

    fn post(&self, path: &str, content_type: &str, body: &[u8]) {
        let auth = format!("Bearer {TOKEN}");
        let r = self.daemon.request(
            "POST",
            path,
            &[("Authorization", &auth), ("Content-Type", content_type)],
            body,
        );
        assert!(
            (200..300).contains(&r.status),
            "POST {path}: {} {}",
            r.status,
            r.body
        );
    }

    /// One round of what a mail system sends: an aggregate report from each of two reporters
    /// (covering the day that ended an hour ago, so the 24-hour and 7-day figures hold it), a TLS
    /// report, and deliveries, bounces and a complaint at three mailbox providers. `round` makes
    /// report ids and event ids new, so each round counts.
    pub fn feed(&self, round: u32) {
        let aggregate = std::fs::read_to_string(fixture("aggregate.xml")).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let end = now - 3600;
        for org in ["google.com", "yahoo.com"] {
            let xml = aggregate
                .replace("@ORG@", org)
                .replace("@REPORT_ID@", &format!("e2e-{org}-{round}"))
                .replace("@BEGIN@", &(end - 86_399).to_string())
                .replace("@END@", &end.to_string());
            self.post("/api/v1/reports", "application/xml", xml.as_bytes());
        }
        let tls = std::fs::read_to_string(fixture("tls-report.json"))
            .unwrap()
            .replace("@ORG@", "google.com")
            .replace("@REPORT_ID@", &format!("e2e-tls-{round}"));
        self.post("/api/v1/reports", "application/json", tls.as_bytes());
        self.post(
            "/api/v1/events",
            "application/json",
            events(round).as_bytes(),
        );
    }
}

/// A round of generic events (docs/api.md, `POST /api/v1/events`).
fn events(round: u32) -> String {
    let mut events = Vec::new();
    let mut push = |kind: &str, n: u32, provider: &str, extra: serde_json::Value| {
        for i in 0..n {
            let mut e = serde_json::json!({
                "type": kind,
                "recipient": format!("{kind}{round}-{i}@{provider}"),
                "sender_domain": DOMAIN,
                "id": format!("e2e-{round}-{kind}-{provider}-{i}"),
            });
            if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
                e.extend(x.clone());
            }
            events.push(e);
        }
    };
    push("delivery", 60, "gmail.com", serde_json::json!({}));
    push("delivery", 40, "yahoo.com", serde_json::json!({}));
    push("delivery", 20, "outlook.com", serde_json::json!({}));
    push(
        "bounce",
        3,
        "gmail.com",
        serde_json::json!({"status": "5.1.1", "diagnostic": "550 5.1.1 The email account that you tried to reach does not exist."}),
    );
    push(
        "bounce",
        2,
        "yahoo.com",
        serde_json::json!({"status": "4.2.2", "diagnostic": "452 4.2.2 Mailbox full"}),
    );
    push(
        "complaint",
        1,
        "yahoo.com",
        serde_json::json!({"feedback_type": "abuse"}),
    );
    serde_json::Value::Array(events).to_string()
}
