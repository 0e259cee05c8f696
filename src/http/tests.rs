//! Router tests with `oneshot`: no socket, a real SQLite store in a temp dir.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use tower::ServiceExt;

use super::*;
use crate::config::{Secret, load_str};
use crate::findings::{CheckReport, Finding, FindingCode, Severity};
use crate::results::Results;
use crate::store::SqliteStore;

const YAML: &str = "\
server: { max_body_bytes: 1024 }
domains:
  - name: good.test
    sending_ips: [192.0.2.10]
  - name: bad.test
    sending_ips: [192.0.2.10, \"2001:db8::/126\"]
  - name: never.test
";

pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) state: AppState,
    pub(super) store: Arc<SqliteStore>,
    reloads: mpsc::Receiver<ReloadRequest>,
}

pub(super) fn fixture(token: Option<&str>) -> Fixture {
    fixture_with_state(token, |_| None)
}

/// [`fixture`] whose `state.path` is `state_path(temp dir)` when that gives one (the report
/// figures read the state database at `state.path`); the store is `state.db` in the temp dir.
pub(super) fn fixture_with_state(
    token: Option<&str>,
    state_path: impl FnOnce(&std::path::Path) -> Option<std::path::PathBuf>,
) -> Fixture {
    let mut config = load_str(YAML, "test.yaml").unwrap();
    config.server.api_token = token.map(Secret::new);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
    if let Some(path) = state_path(dir.path()) {
        config.state.path = path;
    }
    let metrics = Arc::new(Metrics::new().unwrap());
    let results = Arc::new(Results::new(store.clone(), &config));
    metrics.read_state(results.state().clone());
    let (_tx, config) = watch::channel(Arc::new(config));
    let (reload, reloads) = mpsc::channel(4);
    let status = ReloadStatus::new(metrics.config_last_reload_successful.clone());
    let state = AppState::new(config, results, metrics, reload, status).without_metrics_cache();
    Fixture {
        _dir: dir,
        state,
        store,
        reloads,
    }
}

pub(super) async fn call(
    state: &AppState,
    method: Method,
    uri: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Response, Vec<u8>) {
    // The tests write to the store directly: read it again, as a restarted daemon would. (A closed
    // store keeps the state it had.)
    let _ = state.results.seed().await;
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    if !body.is_empty() {
        req = req.header(header::CONTENT_LENGTH, body.len());
    }
    let response = router(state.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, Response::from_parts(parts, Body::empty()), bytes)
}

async fn get_json(state: &AppState, uri: &str) -> (StatusCode, serde_json::Value) {
    let (status, _, body) = call(state, Method::GET, uri, None, vec![]).await;
    (status, serde_json::from_slice(&body).unwrap())
}

pub(super) fn report(target: &str, check: &str, severity: Option<Severity>) -> CheckReport {
    let findings: Vec<Finding> = severity
        .map(|s| vec![Finding::new(FindingCode::SpfMissing, s, "no SPF record")])
        .unwrap_or_default();
    CheckReport {
        target: target.into(),
        check: check.parse().unwrap(),
        status: crate::findings::worst(&findings),
        record: Some("v=spf1 -all".into()),
        findings,
        checked_at: 1_000,
        duration: Duration::from_millis(250),
    }
}

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let f = fixture(None);
    let (status, _, body) = call(&f.state, Method::GET, "/healthz", None, vec![]).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok\n"[..]));
    let (status, json) = get_json(&f.state, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["ready"], true);
}

#[tokio::test]
async fn readyz_fails_when_the_store_is_gone() {
    let f = fixture(None);
    f.store.close().await.unwrap();
    let (status, json) = get_json(&f.state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["error"]["code"], "not_ready");
}

#[tokio::test]
async fn status_lists_every_domain_and_ip_before_any_check() {
    let f = fixture(None);
    let (status, json) = get_json(&f.state, "/api/v1/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["status"], "pending");
    let domains: Vec<&str> = json["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["bad.test", "good.test", "never.test"]);
    assert!(
        json["domains"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "pending")
    );
    let ips: Vec<&str> = json["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["192.0.2.10", "2001:db8::/126"]);
    assert_eq!(json["ips"][1]["domains"], serde_json::json!(["bad.test"]));
    assert_eq!(
        json["ips"][0]["domains"],
        serde_json::json!(["good.test", "bad.test"])
    );
    assert_eq!(json["config"]["last_reload_successful"], true);
    assert!(json["config"]["last_error"].is_null());
}

#[tokio::test]
async fn status_is_worst_first_with_stored_results() {
    let f = fixture(None);
    f.store
        .save_checks(vec![
            report("good.test", "spf", None),
            report("bad.test", "spf", Some(Severity::Critical)),
            report("bad.test", "mx", None),
            report("2001:db8::2", "ptr", Some(Severity::Warning)),
        ])
        .await
        .unwrap();
    let (_, json) = get_json(&f.state, "/api/v1/status").await;
    assert_eq!(json["status"], "critical");
    let d = &json["domains"];
    assert_eq!(
        (d[0]["domain"].as_str(), d[0]["status"].as_str()),
        (Some("bad.test"), Some("critical"))
    );
    assert_eq!(d[0]["checks"][0]["check"], "spf", "worst check first");
    assert_eq!(d[0]["checks"][0]["findings"][0]["code"], "spf.missing");
    assert_eq!(
        (d[1]["domain"].as_str(), d[1]["status"].as_str()),
        (Some("good.test"), Some("ok"))
    );
    assert_eq!(d[2]["status"], "pending");
    // The range's address result counts for the configured range.
    assert_eq!(json["ips"][0]["ip"], "2001:db8::/126");
    assert_eq!(json["ips"][0]["status"], "warning");
}

#[tokio::test]
async fn domain_detail_has_records_findings_and_404_for_unknown() {
    let f = fixture(None);
    f.store
        .save_checks(vec![report("bad.test", "spf", Some(Severity::Critical))])
        .await
        .unwrap();
    let (status, json) = get_json(&f.state, "/api/v1/domains/BAD.test.").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["domain"], "bad.test");
    let spf = &json["checks"][0];
    assert_eq!(spf["record"], "v=spf1 -all");
    assert_eq!(spf["findings"][0]["message"], "no SPF record");
    assert_eq!(spf["duration_seconds"], 0.25);
    assert_eq!(json["ips"].as_array().unwrap().len(), 2);

    let (status, json) = get_json(&f.state, "/api/v1/domains/other.test").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["error"]["code"], "unknown_domain");
    let (status, _) = get_json(&f.state, "/api/v1/domains/not%20a%20domain").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn summaries_name_the_worst_findings_and_ips_show_ptr_and_fcrdns() {
    use crate::results::{CheckFacts, PtrFacts};
    use crate::store::CheckResult;
    let f = fixture(None);
    let finding = |code, severity, message: &str| Finding::new(code, severity, message);
    let mut spf = report("bad.test", "spf", None);
    spf.findings = vec![
        finding(
            FindingCode::SpfMissing,
            Severity::Critical,
            "No SPF.\nPublish one.",
        ),
        finding(
            FindingCode::SpfSendingIpNotAuthorized,
            Severity::Warning,
            "IP fails.",
        ),
    ];
    let mut dkim = report("bad.test", "dkim", None);
    dkim.findings = vec![
        finding(
            FindingCode::DkimSelectorMissing,
            Severity::Critical,
            "No key\n  at s1.",
        ),
        finding(
            FindingCode::DkimSelectorMissing,
            Severity::Critical,
            "No key at s2.",
        ),
        finding(
            FindingCode::DkimSelectorMissing,
            Severity::Critical,
            "No key at s3.",
        ),
    ];
    let mut ptr = report("192.0.2.10", "ptr", None);
    ptr.record = Some("mail.good.test".into());
    let ptr_facts = PtrFacts {
        ptr: Some("mail.good.test".into()),
        fcrdns: Some(true),
    };
    f.store
        .save_results(vec![
            spf.into(),
            dkim.into(),
            report("good.test", "spf", None).into(),
            CheckResult {
                report: ptr,
                facts: CheckFacts::Ptr(ptr_facts),
            },
        ])
        .await
        .unwrap();
    let (_, json) = get_json(&f.state, "/api/v1/status").await;
    let d = &json["domains"];
    assert_eq!(d[0]["domain"], "bad.test");
    // Checks worst first, then by name: dkim before spf; two messages, the rest by code.
    assert_eq!(
        d[0]["summary"],
        "No key at s1. No key at s2. Also critical: dkim.selector_missing, spf.missing."
    );
    assert_eq!(d[1]["summary"], "No problems found.");
    assert_eq!(d[2]["summary"], "Not checked yet.");
    let ip = &json["ips"][0];
    assert_eq!(ip["ip"], "192.0.2.10");
    assert_eq!(
        (&ip["ptr"], &ip["fcrdns"]),
        (&"mail.good.test".into(), &true.into())
    );
    let range = &json["ips"][1];
    assert_eq!(range["ip"], "2001:db8::/126");
    assert!(range["ptr"].is_null() && range["fcrdns"].is_null());
    assert_eq!(range["summary"], "Not checked yet.");

    // The domain detail has the IP's result in full, facts included.
    let (_, json) = get_json(&f.state, "/api/v1/domains/good.test").await;
    let ptr = &json["ips"][0]["checks"][0];
    assert_eq!(ptr["check"], "ptr");
    assert_eq!(ptr["facts"]["fcrdns"], true);
    assert_eq!(ptr["record"], "mail.good.test");
    assert_eq!(json["checks"][0]["facts"], serde_json::json!({}));
}

#[tokio::test]
async fn a_range_is_one_entry_with_only_its_listed_addresses() {
    use crate::store::{Listed, ListingObservation};
    let f = fixture(None);
    // Every address of 2001:db8::/126 checked; ::2 listed, with its open listing period.
    let result = |ip: &str, findings: Vec<Finding>| CheckReport {
        target: ip.into(),
        check: crate::results::CheckId::Blocklists,
        status: crate::findings::worst(&findings),
        record: None,
        findings,
        checked_at: 2_000,
        duration: Duration::from_millis(30),
    };
    let listed = Finding::new(
        FindingCode::BlocklistListed,
        Severity::Critical,
        "2001:db8::2 is listed on ip6.bl.test (127.0.0.2) since 1970-01-01 00:16 UTC.",
    )
    .with_detail(serde_json::json!({
        "target": "2001:db8::2", "zone": "ip6.bl.test", "state": "listed",
        "meanings": [{"code": "127.0.0.2", "label": "127.0.0.2", "text": ""}],
    }));
    f.store
        .save_checks(vec![
            result("2001:db8::", vec![]),
            result("2001:db8::1", vec![]),
            result("2001:db8::2", vec![listed]),
            result("2001:db8::3", vec![]),
        ])
        .await
        .unwrap();
    f.store
        .observe_listings(vec![ListingObservation {
            target: "2001:db8::2".into(),
            zone: "ip6.bl.test".into(),
            listed: Some(Listed {
                codes: vec!["127.0.0.2".into()],
                reason: None,
            }),
            at: 1_000,
        }])
        .await
        .unwrap();
    let (_, json) = get_json(&f.state, "/api/v1/status").await;
    let range = &json["ips"][0];
    assert_eq!(range["ip"], "2001:db8::/126");
    assert_eq!(range["status"], "critical");
    assert_eq!(
        range["summary"],
        "1 of 4 addresses listed: 2001:db8::2 on ip6.bl.test (127.0.0.2)."
    );
    let checks = range["checks"].as_array().unwrap();
    assert_eq!(
        checks.len(),
        1,
        "one grouped check, not one per address: {range:#}"
    );
    assert_eq!(checks[0]["check"], "blocklists");
    assert_eq!(checks[0]["status"], "critical");
    assert_eq!(checks[0]["findings"].as_array().unwrap().len(), 1);
    assert_eq!(
        range["addresses"],
        serde_json::json!({"checked": 4, "listed": 1, "with_findings": 1,
            "shown": [{"ip": "2001:db8::2", "status": "critical"}], "not_shown": 0})
    );
    assert_eq!(range["listings"][0]["target"], "2001:db8::2");
    // A single address keeps its shape: no `addresses`.
    assert_eq!(json["ips"][1]["ip"], "192.0.2.10");
    assert!(json["ips"][1].get("addresses").is_none());

    // The domain detail groups the same way, with the findings in full.
    let (_, json) = get_json(&f.state, "/api/v1/domains/bad.test").await;
    let range = json["ips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ip"] == "2001:db8::/126")
        .unwrap();
    assert_eq!(range["checks"].as_array().unwrap().len(), 1);
    assert_eq!(
        range["checks"][0]["findings"][0]["detail"]["zone"],
        "ip6.bl.test"
    );
    assert_eq!(range["addresses"]["listed"], 1);
}

#[tokio::test]
async fn write_endpoints_are_off_without_a_token() {
    let f = fixture(None);
    let (status, _, body) = call(
        &f.state,
        Method::POST,
        "/-/reload",
        Some("Bearer anything"),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("write_disabled"));
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401() {
    let f = fixture(Some("s3cret"));
    let (status, response, _) = call(&f.state, Method::POST, "/-/reload", None, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"senderscope\""
    );
    let (status, _, body) = call(
        &f.state,
        Method::POST,
        "/-/reload",
        Some("Bearer s3cre"),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(&body).contains("s3cret"));
}

#[tokio::test]
async fn reload_answers_with_the_reload_outcome() {
    let mut f = fixture(Some("s3cret"));
    tokio::spawn(async move {
        let mut n = 0;
        while let Some(req) = f.reloads.recv().await {
            assert_eq!(req.trigger, ReloadTrigger::Http);
            n += 1;
            let outcome = if n == 1 {
                Ok(())
            } else {
                Err("c.yaml:3:5: domains[0].name: bad\nc.yaml:4:1: x: y".to_owned())
            };
            let _ = req.reply.unwrap().send(outcome);
        }
    });
    let (status, _, body) = call(
        &f.state,
        Method::POST,
        "/-/reload",
        Some("Bearer s3cret"),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = call(
        &f.state,
        Method::POST,
        "/-/reload",
        Some("bearer s3cret"),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "config_invalid");
    assert_eq!(
        json["error"]["errors"][0],
        "c.yaml:3:5: domains[0].name: bad"
    );
    assert_eq!(json["error"]["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let f = fixture(Some("s3cret"));
    let (status, _, _) = call(
        &f.state,
        Method::POST,
        "/-/reload",
        Some("Bearer s3cret"),
        vec![b'x'; 4096],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn layer_errors_come_as_json_bodies() {
    let f = fixture(Some("s3cret"));
    let (status, response, body) = call(
        &f.state,
        Method::POST,
        "/-/reload",
        Some("Bearer s3cret"),
        vec![b'x'; 4096],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "docs/api.md: every error is JSON"
    );
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "payload_too_large");
    let (status, _, body) = call(&f.state, Method::DELETE, "/metrics", None, vec![]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_timeout_holds_while_a_handler_hogs_its_thread() {
    // A handler that never yields (a large serialization, a blocking call): a timeout polled in the
    // handler's own task could not fire until it returned.
    let app = Router::new()
        .route(
            "/busy",
            get(|| async {
                std::thread::sleep(Duration::from_secs(3));
                "done"
            }),
        )
        .layer(middleware::from_fn_with_state(
            Duration::from_millis(200),
            deadline,
        ));
    let started = std::time::Instant::now();
    let response = app
        .oneshot(Request::builder().uri("/busy").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered after {:?}, not at the timeout",
        started.elapsed()
    );
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let f = fixture(None);
    let (status, json) = get_json(&f.state, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["error"]["code"], "not_found");
}

#[tokio::test]
async fn metrics_use_route_templates_and_the_text_format() {
    let f = fixture(None);
    get_json(&f.state, "/api/v1/domains/good.test").await;
    get_json(&f.state, "/api/v1/domains/x.test").await;
    let (status, response, body) = call(&f.state, Method::GET, "/metrics", None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains(r#"senderscope_build_info{version=""#));
    assert!(text.contains(r#"senderscope_http_requests_total{method="GET",route="/api/v1/domains/{domain}",status="2xx"} 1"#));
    assert!(text.contains(r#"senderscope_http_requests_total{method="GET",route="/api/v1/domains/{domain}",status="4xx"} 1"#));
    assert!(!text.contains("x.test"), "raw paths never become labels");
}

#[tokio::test]
async fn metrics_are_gzipped_for_clients_that_accept_it() {
    let f = fixture(None);
    let req = Request::builder()
        .uri("/metrics")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let response = router(f.state.clone()).oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(response.headers()[header::VARY], "accept-encoding");
    let gz = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    assert!(text.contains("senderscope_build_info"));
}

#[tokio::test]
async fn slow_requests_get_408() {
    let mut config = load_str(YAML, "test.yaml").unwrap();
    config.server.api_token = Some(Secret::new("s3cret"));
    config.server.request_timeout = Duration::from_millis(100);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let metrics = Arc::new(Metrics::new().unwrap());
    let results = Arc::new(Results::new(store, &config));
    let (_tx, config) = watch::channel(Arc::new(config));
    // Nobody answers reload requests: the handler waits until the timeout cuts it off.
    let (reload, _reloads) = mpsc::channel(4);
    let status = ReloadStatus::new(metrics.config_last_reload_successful.clone());
    let state = AppState::new(config, results, metrics, reload, status);
    let started = std::time::Instant::now();
    let (status, _, _) = call(
        &state,
        Method::POST,
        "/-/reload",
        Some("Bearer s3cret"),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn status_is_paged_worst_first_with_counts_of_what_was_left_out() {
    let f = fixture(None);
    f.store
        .save_checks(vec![
            report("good.test", "spf", None),
            report("bad.test", "spf", Some(Severity::Critical)),
        ])
        .await
        .unwrap();
    let (status, json) = get_json(&f.state, "/api/v1/status?offset=1&limit=1").await;
    assert_eq!(status, StatusCode::OK);
    let domains: Vec<&str> = json["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["good.test"], "the second worst, alone");
    assert_eq!(json["status"], "critical", "the worst over every entry");
    assert_eq!(
        json["page"],
        serde_json::json!({"offset": 1, "limit": 1, "domains_total": 3, "ips_total": 2,
            "domains_left_out": 2, "ips_left_out": 1})
    );
    // Without a query: the default page holds everything here.
    let (_, json) = get_json(&f.state, "/api/v1/status").await;
    assert_eq!(json["page"]["limit"], 100);
    assert_eq!(json["page"]["domains_left_out"], 0);
    // A limit past the cap is the cap; a limit that is not a number is a JSON 400.
    let (_, json) = get_json(&f.state, "/api/v1/status?limit=1000000").await;
    assert_eq!(json["page"]["limit"], 1000);
    let (status, json) = get_json(&f.state, "/api/v1/status?limit=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"]["code"], "bad_query");
}
