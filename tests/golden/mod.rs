//! The whole `/metrics` exposition of the state families for a fixed round, compared with a
//! checked-in file (node_exporter's end-to-end way): posture checks of two domains against nsd and a
//! blocklist round against rbldnsd, joined by a relay as a site's own resolver would join them.
//! Volatile values (last-check timestamps) are masked.
//!
//! Then: a restart from the same store serves the identical exposition (timestamps included) before
//! any job ran, and a domain removed by a reload has no series at the next scrape.
//!
//! After an intended change, regenerate the expected file with
//! `SENDERSCOPE_REGENERATE_GOLDEN=1 cargo test --test integration golden` and review the diff.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::blocklists::relay::Relay;
use crate::harness::daemon::{Daemon, Reply, TestConfig, promtool_check};
use crate::harness::nsd::Nsd;
use crate::harness::rbldnsd::{Dataset, Rbldnsd};

const EXPECTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/metrics.txt");
const REGENERATE: &str = "SENDERSCOPE_REGENERATE_GOLDEN";

/// The families built from the latest state.
const STATE_FAMILIES: [&str; 8] = [
    "senderscope_blocklist_listed",
    "senderscope_blocklist_zone_healthy",
    "senderscope_check_status",
    "senderscope_dkim_key_size",
    "senderscope_dmarc_policy",
    "senderscope_findings",
    "senderscope_last_check_timestamp_seconds",
    "senderscope_spf_dns_lookups",
];

const POSTURE_RUNS: &str = r#"senderscope_scheduler_job_runs_total{job="posture",result="ok"}"#;
const BLOCKLIST_RUNS: &str =
    r#"senderscope_scheduler_job_runs_total{job="blocklists",result="ok"}"#;

const ZONES: &str = "{defaults: false, extra: [\
    {zone: ip.bl.test, kind: ipv4, listed: [127.0.0.2]}, {zone: dom.bl.test, kind: domain}]}";

/// The state families of a scrape: their `# HELP`/`# TYPE` lines and samples, in exposition order.
fn state_families(body: &str) -> Vec<String> {
    body.lines()
        .filter(|l| {
            let name = l
                .strip_prefix("# HELP ")
                .or_else(|| l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            name.split(['{', ' '])
                .next()
                .is_some_and(|f| STATE_FAMILIES.contains(&f))
        })
        .map(str::to_owned)
        .collect()
}

/// Timestamps of the runs are the only volatile values.
fn masked(lines: &[String]) -> String {
    lines
        .iter()
        .map(
            |l| match l.strip_prefix("senderscope_last_check_timestamp_seconds") {
                Some(rest) if !l.starts_with('#') => {
                    let labels = rest.rsplit_once(' ').map_or(rest, |(labels, _)| labels);
                    format!("senderscope_last_check_timestamp_seconds{labels} <timestamp>\n")
                }
                _ => format!("{l}\n"),
            },
        )
        .collect()
}

fn ip4set(dir: &Path) -> Dataset {
    let path = dir.join("ip.txt");
    std::fs::write(
        &path,
        ":127.0.0.2:Spam source $ seen in traps\n127.0.0.2\n192.0.2.11\n",
    )
    .unwrap();
    Dataset::new("ip.bl.test", "ip4set", path)
}

fn dnset(dir: &Path) -> Dataset {
    let path = dir.join("dom.txt");
    std::fs::write(
        &path,
        ":127.0.0.2:Domain $ is listed\ntest\nbroken.daemon.test\n",
    )
    .unwrap();
    Dataset::new("dom.bl.test", "dnset", path)
}

fn config(dir: &Path, relay: u16, domains: &[(&str, &str)]) -> (TestConfig, PathBuf) {
    let mut cfg = TestConfig::new(dir, &[]);
    cfg.domains = domains
        .iter()
        .map(|(d, ip)| ((*d).to_owned(), vec![(*ip).to_owned()]))
        .collect();
    cfg.dkim_selectors = vec!["s1".into(), "s2".into()];
    cfg.dns_port = relay;
    cfg.blocklists = ZONES.into();
    let path = dir.join("config.yaml");
    cfg.write(&path);
    (cfg, path)
}

/// Scrape until `pred` holds, on a blocking thread so the relay (on this runtime) keeps answering.
async fn scrape_until(d: &Daemon, pred: impl Fn(&Reply) -> bool + Send + 'static) -> Reply {
    let (addr, within) = (d.addr(), Duration::from_secs(60));
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        loop {
            let r = crate::harness::daemon::try_request(addr, "GET", "/metrics", &[], b"");
            if let Some(r) = r.ok().filter(|r| pred(r)) {
                return r;
            }
            assert!(started.elapsed() < within, "/metrics never got there");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_families_match_the_golden_file_across_a_restart_and_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let nsd = Nsd::serve(&[
        Nsd::fixture("watched.daemon.test"),
        Nsd::fixture("broken.daemon.test"),
        Nsd::fixture("2.0.192.in-addr.arpa"),
        Nsd::fixture("hosts.ptr.test"),
        Nsd::test_tld(),
    ])
    .await;
    let rbl = Rbldnsd::serve(&[ip4set(dir.path()), dnset(dir.path())], "ip.bl.test").await;
    let relay = Relay::start(&[
        ("test", nsd.addr()),
        ("in-addr.arpa", nsd.addr()),
        ("bl.test", rbl.addr()),
    ])
    .await;
    let both = [
        ("watched.daemon.test", "192.0.2.10"),
        ("broken.daemon.test", "192.0.2.11"),
    ];
    let (mut cfg, path) = config(dir.path(), relay.addr().port(), &both);

    // One round of everything, then the exposition.
    let d = Daemon::start(&path, cfg.port, &[]);
    let round = scrape_until(&d, |r| {
        r.value(POSTURE_RUNS) == Some(2.0) && r.value(BLOCKLIST_RUNS) == Some(1.0)
    })
    .await;
    promtool_check(&round.body);
    let published = state_families(&round.body);
    let text = masked(&published);
    if std::env::var_os(REGENERATE).is_some() {
        std::fs::write(EXPECTED, &text).unwrap();
    }
    let expected = std::fs::read_to_string(EXPECTED)
        .unwrap_or_else(|e| panic!("{EXPECTED}: {e}; regenerate with {REGENERATE}=1"));
    assert_eq!(
        text, expected,
        "the state families differ from {EXPECTED} (regenerate with {REGENERATE}=1 after an intended change)"
    );
    drop(d);

    // A restart from the same store, every job days away: the same exposition, unmasked.
    cfg.checks = "1w".into();
    cfg.blocklists_every = "1w".into();
    cfg.jitter = 0.5;
    cfg.write(&path);
    let d = Daemon::start(&path, cfg.port, &[]);
    let restarted = scrape_until(&d, |_| true).await;
    assert!(
        restarted.value(POSTURE_RUNS).is_none_or(|n| n == 0.0),
        "a posture job ran: the series would not come from the store"
    );
    assert_eq!(
        state_families(&restarted.body),
        published,
        "restarted ≠ published"
    );

    // A reload that removes a domain: none of its series at the next scrape.
    let mut kept = cfg.clone();
    kept.domains.truncate(1);
    kept.write(&path);
    d.signal("HUP");
    let reloaded = scrape_until(&d, |r| !r.body.contains("broken.daemon.test")).await;
    let lines = state_families(&reloaded.body);
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("broken.daemon.test") && !l.contains("192.0.2.11")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l
            .starts_with(r#"senderscope_check_status{check="spf",domain="watched.daemon.test"}"#)),
        "the kept domain keeps its series: {lines:#?}"
    );
    drop(relay);
}
