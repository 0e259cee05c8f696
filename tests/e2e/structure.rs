//! The dashboards as Grafana reads them, checked without a server: the current schema, the
//! `${datasource}` and `domain` variables, stable unique uids, panels that fit the grid with unique
//! ids and known types, and queries that read only metrics docs/metrics.md lists (which a test keeps
//! in step with the daemon's registry). The end-to-end test then runs every query for data.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::dashboards;

/// Panel types of Grafana's core visualizations that the dashboards use.
const PANEL_TYPES: [&str; 6] = [
    "stat",
    "timeseries",
    "table",
    "bargauge",
    "piechart",
    "state-timeline",
];

/// The boards and their uids: stable, so links and provisioning survive edits.
const BOARDS: [(&str, &str); 5] = [
    ("authentication.json", "senderscope-authentication"),
    ("blocklists.json", "senderscope-blocklists"),
    ("bounces-complaints.json", "senderscope-bounces"),
    ("daemon.json", "senderscope-daemon"),
    ("overview.json", "senderscope-overview"),
];

fn documented_metrics() -> BTreeSet<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md"))
            .unwrap();
    dashboards::metric_names(&doc).into_iter().collect()
}

fn variable<'a>(board: &'a Value, name: &str) -> Option<&'a Value> {
    board["templating"]["list"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == name)
}

#[test]
fn every_dashboard_is_current_grafana_json_reading_only_documented_metrics() {
    let boards = dashboards::all();
    let files: Vec<(&str, &str)> = boards
        .iter()
        .map(|(f, b)| (f.as_str(), b["uid"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(files, BOARDS, "dashboards and their uids");
    let metrics = documented_metrics();
    for (file, board) in &boards {
        assert!(
            board["schemaVersion"].as_u64().is_some_and(|v| v >= 39),
            "{file}: schemaVersion"
        );
        assert!(
            board["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("senderscope / ")),
            "{file}"
        );
        let ds = variable(board, "datasource")
            .unwrap_or_else(|| panic!("{file}: no datasource variable"));
        assert_eq!(
            (ds["type"].as_str(), ds["query"].as_str()),
            (Some("datasource"), Some("prometheus")),
            "{file}"
        );
        let domain =
            variable(board, "domain").unwrap_or_else(|| panic!("{file}: no domain variable"));
        assert_eq!(domain["type"], "query", "{file}");
        assert_eq!(domain["datasource"]["uid"], "${datasource}", "{file}");

        let panels = board["panels"].as_array().unwrap();
        let mut ids = BTreeSet::new();
        for p in panels {
            let title = p["title"].as_str().unwrap_or("?");
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{file}: duplicate id at {title}"
            );
            assert!(
                PANEL_TYPES.contains(&p["type"].as_str().unwrap()),
                "{file}: {title}: type"
            );
            assert!(
                !p["description"].as_str().unwrap_or("").is_empty(),
                "{file}: {title}: no description"
            );
            let g = &p["gridPos"];
            assert!(
                g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
                "{file}: {title}: wider than the grid"
            );
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: {title}: no query");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}: {title}");
                let expr = t["expr"].as_str().unwrap();
                let names = dashboards::metric_names(expr);
                assert!(
                    !names.is_empty(),
                    "{file}: {title}: reads no senderscope metric: {expr}"
                );
                for n in names {
                    assert!(
                        metrics.contains(&n),
                        "{file}: {title}: {n} is not in docs/metrics.md"
                    );
                }
            }
        }
        // One screen: nothing lower than about three screens of 8-high rows.
        let bottom = panels
            .iter()
            .map(|p| p["gridPos"]["y"].as_u64().unwrap() + p["gridPos"]["h"].as_u64().unwrap())
            .max()
            .unwrap();
        assert!(
            bottom <= 40,
            "{file}: {bottom} grid rows is more than one readable screen"
        );
    }
}

/// The metrics a board's panels read, all together.
fn board_metrics(file: &str) -> BTreeSet<String> {
    let (_, board) = dashboards::all()
        .into_iter()
        .find(|(f, _)| f == file)
        .unwrap_or_else(|| panic!("{file} missing"));
    dashboards::queries(file, &board)
        .iter()
        .flat_map(|q| dashboards::metric_names(&q.expr))
        .collect()
}

#[test]
fn the_boards_answer_the_questions_they_are_for() {
    for (file, needed) in [
        (
            "daemon.json",
            &[
                "senderscope_alerts",
                "senderscope_alert_notifications_total",
                "senderscope_alert_notifier_up",
                "senderscope_ingest_total",
                "senderscope_config_last_reload_successful",
            ][..],
        ),
        (
            "authentication.json",
            &[
                "senderscope_dmarc_messages_total",
                "senderscope_dmarc_reports_total",
                "senderscope_dmarc_policy",
            ][..],
        ),
    ] {
        let read = board_metrics(file);
        for m in needed {
            assert!(read.contains(*m), "{file} has no panel over {m}");
        }
    }
    // Pass and fail by reporter: a panel grouping DMARC messages by reporter.
    let (_, auth) = dashboards::all()
        .into_iter()
        .find(|(f, _)| f == "authentication.json")
        .unwrap();
    let by_reporter = dashboards::queries("authentication.json", &auth)
        .into_iter()
        .filter(|q| {
            q.expr.contains("senderscope_dmarc_messages_total") && q.expr.contains("by (reporter")
        })
        .count();
    assert!(by_reporter >= 2, "pass/fail and pass rate by reporter");
}

#[test]
fn provisioning_points_grafana_at_the_dashboards_and_a_prometheus() {
    let dir = dashboards::dir().join("provisioning");
    let boards = std::fs::read_to_string(dir.join("dashboards/senderscope.yaml")).unwrap();
    assert!(
        boards.contains("apiVersion: 1") && boards.contains("type: file"),
        "{boards}"
    );
    let sources = std::fs::read_to_string(dir.join("datasources/prometheus.yaml")).unwrap();
    assert!(
        sources.contains("apiVersion: 1") && sources.contains("type: prometheus"),
        "{sources}"
    );
}

#[test]
fn metric_names_are_read_from_expressions() {
    assert_eq!(
        dashboards::metric_names(
            "histogram_quantile(0.9, sum by (le) (rate(senderscope_dns_query_duration_seconds_bucket[1m]))) / senderscope_x{domain=~\"$domain\"}"
        ),
        ["senderscope_dns_query_duration_seconds", "senderscope_x"]
    );
    assert_eq!(
        dashboards::substitute("rate(x{domain=~\"$domain\"}[$__rate_interval])", "a.test"),
        "rate(x{domain=~\"a.test\"}[1m])"
    );
}
