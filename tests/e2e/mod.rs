//! End to end, as an operator sees senderscope: the real daemon checks a fixture domain against nsd
//! and rbldnsd (joined by the relay, as a site's resolver would), takes DMARC and TLS reports and
//! bounce, complaint and delivery events over its API, delivers its alerts to a real Alertmanager, and
//! a real Prometheus scrapes it every second. Then every query of every Grafana dashboard
//! (dashboards/*.json) runs against that Prometheus and must return data, and headless Chromium
//! renders the status page, which must show the fixture domain's findings, its DMARC figures and its
//! active alert. Screenshots are kept under `target/e2e/`.
//!
//! The servers are Debian packages (`.ci/run` installs them). Without one of them the test says so
//! and passes, unless `SENDERSCOPE_REQUIRE_E2E` is set (CI sets it): then it fails.

mod dashboards;
mod structure;
mod world;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::harness::chromium;
use crate::harness::daemon::promtool_check;
use crate::harness::prometheus::Prometheus;
use world::{DOMAIN, World};

/// What the end-to-end test needs on the PATH.
const TOOLS: [&str; 6] = [
    "nsd",
    "rbldnsd",
    "prometheus",
    "promtool",
    "prometheus-alertmanager",
    "chromium",
];

/// Whether to skip: a tool is missing and CI did not ask for the test.
fn skip() -> bool {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return false;
    }
    assert!(
        std::env::var_os("SENDERSCOPE_REQUIRE_E2E").is_none(),
        "SENDERSCOPE_REQUIRE_E2E is set but {missing:?} not installed"
    );
    eprintln!("skipping the end-to-end test: {missing:?} not installed");
    true
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file())
}

/// Where screenshots go: `$CARGO_TARGET_DIR/e2e`, else `target/e2e` in the crate.
fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
            PathBuf::from,
        )
        .join("e2e")
}

/// A query "has data" when its result is not empty and some value is a number (not NaN).
fn has_data(result: &[serde_json::Value]) -> bool {
    let finite = |v: &serde_json::Value| {
        v.get(1)
            .and_then(|x| x.as_str())
            .and_then(|x| x.parse::<f64>().ok())
            .is_some_and(f64::is_finite)
    };
    result.iter().any(|s| {
        s.get("value").is_some_and(finite)
            || s["values"]
                .as_array()
                .is_some_and(|vs| vs.iter().any(finite))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_and_the_status_page_show_the_live_world() {
    if skip() {
        return;
    }
    let world = World::start().await;
    // The servers and the relay answer on this runtime; the polling below blocks a thread of its own.
    tokio::task::spawn_blocking(move || check_world(&world))
        .await
        .unwrap();
}

fn check_world(world: &World) {
    world.wait_first_rounds();
    let prom = Prometheus::start(&[world.daemon.addr()]);
    prom.wait_for(
        "up{job=\"senderscope\"} == 1",
        Duration::from_secs(30),
        |r| !r.is_empty(),
    )
    .unwrap_or_else(|e| panic!("prometheus never scraped the daemon: {e}\n{}", prom.log()));

    // Two rounds of reports and events, a scrape apart, so counters rise inside Prometheus' window
    // (a series first seen at its final value has no increase).
    world.feed(1);
    prom.wait_for(
        "count(senderscope_dmarc_messages_total) and count(senderscope_bounces_total)",
        Duration::from_secs(30),
        |r| !r.is_empty(),
    )
    .unwrap();
    world.feed(2);

    // The scheduler's `job` label meets Prometheus' target label: stored as `exported_job`.
    let jobs = prom
        .wait_for(
            "senderscope_scheduler_job_runs_total{exported_job=\"posture\",result=\"ok\"}",
            Duration::from_secs(30),
            |r| !r.is_empty(),
        )
        .unwrap();
    assert!(
        !jobs.is_empty(),
        "the scheduler's job label is not exported_job"
    );

    // The listing's alert really reached the notifier (the Daemon board's notifier panels read that).
    world.alertmanager.wait_for(Duration::from_secs(30), |a| {
        a.iter()
            .any(|a| a["labels"]["alertname"] == "SenderscopeBlocklistListed")
    });

    // The `domain` variable's values (label_values(senderscope_check_status, domain)).
    let domains = prom
        .query("group by (domain) (senderscope_check_status)")
        .unwrap();
    assert!(
        domains.iter().any(|s| s["metric"]["domain"] == DOMAIN),
        "{domains:?}"
    );

    // Every panel's every query, polled until it has data, within one deadline for all.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut failed = Vec::new();
    let mut checked = 0;
    for (file, board) in dashboards::all() {
        for q in dashboards::queries(&file, &board) {
            let expr = dashboards::substitute(&q.expr, DOMAIN);
            let left = deadline.saturating_duration_since(Instant::now());
            match prom.wait_for(&expr, left, has_data) {
                Ok(r) if has_data(&r) => checked += 1,
                Ok(r) => failed.push(format!("{}: no data for {expr}: {r:?}", q.place)),
                Err(e) => failed.push(format!("{}: {expr}: {e}", q.place)),
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} panel queries failed:\n{}",
        failed.len(),
        checked + failed.len(),
        failed.join("\n")
    );
    assert!(
        checked >= 40,
        "only {checked} queries: are the dashboards there?"
    );

    // The exposition of the whole world is clean for promtool.
    promtool_check(&world.daemon.get("/metrics").body);

    // The status page in a real browser: every finding of the fixture domain, in words.
    let detail = world
        .daemon
        .get(&format!("/api/v1/domains/{DOMAIN}"))
        .json();
    let ip_checks = detail["ips"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|ip| ip["checks"].as_array().unwrap().clone());
    let messages: Vec<String> = detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .chain(ip_checks)
        .flat_map(|c| c["findings"].as_array().unwrap().clone())
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(messages.len() >= 3, "{detail:#}");
    let base = format!("http://{}", world.daemon.addr());
    let domain_url = format!("{base}/domains/{DOMAIN}");
    let dom = chromium::dump_dom(&domain_url);
    for m in &messages {
        let escaped = m
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(dom.contains(&escaped), "{m:?} not on {domain_url}:\n{dom}");
    }
    for shown in [
        "dmarc.policy_none",
        "dkim.weak_key",
        "ptr.missing",
        "mta_sts.lookup_failed",
        "ip.bl.test",
        "Bounce and complaint rates per rolling window",
        "SenderscopeBlocklistListed",
    ] {
        assert!(dom.contains(shown), "{shown} not on {domain_url}:\n{dom}");
    }
    let enforcement = world
        .daemon
        .get(&format!("/api/v1/domains/{DOMAIN}/enforcement"))
        .json();
    assert_dmarc_figures(&detail, &enforcement, &dom, &domain_url);
    let overview = chromium::dump_dom(&format!("{base}/"));
    assert!(
        overview.contains(&format!("href=\"/domains/{DOMAIN}\"")),
        "{overview}"
    );
    assert!(overview.contains(&messages_summary(&detail)), "{overview}");
    // Each domain's 7-day DMARC pass rate and verdict in the domains table.
    for shown in [FIXTURE_PASS_RATE, "Ready for p=reject"] {
        assert!(overview.contains(shown), "{shown} not on /:\n{overview}");
    }

    let shots = screenshot_dir();
    chromium::screenshot(&format!("{base}/"), &shots.join("overview.png"), 1280, 1600);
    // Tall enough for the whole domain page, DMARC figures and alerts included.
    chromium::screenshot(&domain_url, &shots.join("domain.png"), 1280, 5200);
}

/// Two rounds of two reports (tests/fixtures/e2e/aggregate.xml): 800 messages, 780 passing DMARC.
const FIXTURE_PASS_RATE: &str = "97.50 % (780 of 800 messages)";

/// The domain page shows what the API says of the DMARC reports: the fixture's pass rates over
/// 24 hours and 7 days, the enforcement verdict with its reasons, and each top failing source with
/// the fix of each of its problems.
fn assert_dmarc_figures(
    detail: &serde_json::Value,
    enforcement: &serde_json::Value,
    dom: &str,
    url: &str,
) {
    let reports = &detail["reports"];
    for window in ["pass_rate_24h", "pass_rate_7d"] {
        assert_eq!(
            (&reports[window]["messages"], &reports[window]["passed"]),
            (&serde_json::json!(800), &serde_json::json!(780)),
            "{window}: {reports:#}"
        );
    }
    assert_eq!(
        reports["enforcement"]["verdict"], "ready_for_reject",
        "{reports:#}"
    );
    for shown in [
        "DMARC pass rate (reports whose interval ended in the window)",
        "<th scope=\"row\">Last 24 hours</th><td>800</td><td>780</td><td>20</td>",
        "<th scope=\"row\">Last 7 days</th><td>800</td><td>780</td><td>20</td>",
        FIXTURE_PASS_RATE,
        "Ready for p=reject",
        "Sources with the most mail failing DMARC, last 7 days",
        "<th scope=\"row\">203.0.113.66</th>",
    ] {
        assert!(dom.contains(shown), "{shown} not on {url}:\n{dom}");
    }
    let reasons = enforcement["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty(), "{enforcement:#}");
    for r in reasons {
        let r = escape(r.as_str().unwrap());
        assert!(dom.contains(&r), "{r:?} not on {url}:\n{dom}");
    }
    let sources = reports["top_failing_sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{reports:#}");
    let fixes = sources
        .iter()
        .flat_map(|s| s["problems"].as_array().unwrap().clone())
        .map(|p| p["fix"].as_str().unwrap().to_owned());
    for fix in fixes {
        assert!(dom.contains(&escape(&fix)), "{fix:?} not on {url}:\n{dom}");
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The domain's one-line summary as the overview shows it (HTML-escaped).
fn messages_summary(detail: &serde_json::Value) -> String {
    detail["summary"]
        .as_str()
        .unwrap()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
