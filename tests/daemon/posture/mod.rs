//! The posture job in the real daemon, its DNS served by a real nsd: what `/api/v1/*` and `/metrics`
//! show for a domain and its sending IPs, record history across a zone change and across a restart.
//!
//! Zones: `watched.daemon.test` (copied to a temp dir, because the tests rewrite it), `broken.daemon.test`,
//! the reverse zone of 192.0.2.0/24 with its forward names (`hosts.ptr.test`), and the empty `test` TLD.
//! The fixtures' comments say what each should produce.
//!
//! - [`api`]: what `/api/v1/status` and `/api/v1/domains/{domain}` show.
//! - [`history`]: `record.changed` after a zone change, and record history across a daemon restart.
//! - [`metrics`]: the posture families on `/metrics`, through promtool.
//! - [`restore`]: the posture families are back at ready after a restart, from the store.

mod api;
mod history;
mod metrics;
mod restore;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::daemon::{Daemon, TestConfig};
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

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join(format!("{WATCHED}.zone"));
    std::fs::copy(Nsd::fixture(WATCHED).1, &zone).unwrap();
    let nsd = Nsd::serve(&[
        (WATCHED.to_owned(), zone.clone()),
        Nsd::fixture(BROKEN),
        Nsd::fixture("2.0.192.in-addr.arpa"),
        Nsd::fixture("hosts.ptr.test"),
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
