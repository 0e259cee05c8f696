//! The status page through the router (`oneshot`, a real SQLite store): HTML out, every value
//! escaped, an HTML 404 for a domain that is not configured.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode, header};

use crate::alerts::lifecycle::{AlertRecord, Phase};
use crate::findings::{CheckReport, Finding, FindingCode, Severity};
use crate::http::tests::{Fixture, call, fixture, report};
use crate::store::{Store, StoredAlert};

const HOSTILE: &str = "<script>alert(\"x\")</script> & 'quoted'";

async fn get_html(f: &Fixture, uri: &str) -> (StatusCode, String, String) {
    let (status, response, body) = call(&f.state, Method::GET, uri, None, vec![]).await;
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, content_type, String::from_utf8(body).unwrap())
}

fn hostile_report() -> CheckReport {
    let mut r = report("bad.test", "dmarc", None);
    r.findings = vec![Finding::new(
        FindingCode::DmarcPolicyNone,
        Severity::Warning,
        format!("Policy is none {HOSTILE}; publish p=quarantine."),
    )];
    r.status = Severity::Warning;
    r.record = Some(format!("v=DMARC1; p=none; x={HOSTILE}"));
    r
}

async fn save_alert(f: &Fixture, domain: &str, phase: Phase) {
    let record = AlertRecord {
        labels: BTreeMap::from([
            (
                "alertname".to_owned(),
                "SenderscopeDmarcPolicyNone".to_owned(),
            ),
            ("domain".to_owned(), domain.to_owned()),
            ("severity".to_owned(), "warning".to_owned()),
        ]),
        annotations: BTreeMap::from([(
            "summary".to_owned(),
            format!("DMARC of {domain} {HOSTILE}"),
        )]),
        phase,
        active_at: 1_000_000,
        fired_at: None,
        resolved_at: None,
        delivered: BTreeMap::new(),
    };
    let stored = StoredAlert {
        key: record.key(),
        phase: phase.as_str().to_owned(),
        updated_at: 1_000_000,
        record: serde_json::to_value(&record).unwrap(),
    };
    f.store.save_alerts(vec![stored], vec![]).await.unwrap();
}

fn assert_no_raw_markup(body: &str) {
    assert!(!body.contains("<script"), "raw markup in the page:\n{body}");
    assert!(
        !body.contains("\"x\")</"),
        "raw markup in the page:\n{body}"
    );
}

#[tokio::test]
async fn the_overview_is_html_with_every_domain_worst_first_and_statuses_in_words() {
    let f = fixture(None);
    f.store.save_checks(vec![hostile_report()]).await.unwrap();
    f.store
        .save_checks(vec![report("good.test", "spf", None)])
        .await
        .unwrap();
    let (status, content_type, body) = get_html(&f, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(
        body.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{body}"
    );
    assert!(!body.contains("<script"), "no JavaScript, no raw markup");
    // Worst first, each status as a word.
    let bad = body.find("href=\"/domains/bad.test\"").unwrap();
    let good = body.find("href=\"/domains/good.test\"").unwrap();
    let never = body.find("href=\"/domains/never.test\"").unwrap();
    assert!(bad < good && good < never, "not worst first:\n{body}");
    assert!(body.contains(">Warning</span>"));
    assert!(body.contains(">OK</span>"));
    assert!(body.contains(">Pending</span>"));
    assert!(body.contains("<caption>Configured domains, worst first (3 of 3)</caption>"));
    assert!(body.contains("<th scope=\"col\">Status</th>"));
    // The summary carries the hostile message, escaped.
    assert!(
        body.contains(
            "Policy is none &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'quoted'"
        ),
        "{body}"
    );
    assert_no_raw_markup(&body);
}

#[tokio::test]
async fn a_domain_page_shows_findings_records_and_alerts_escaped() {
    let f = fixture(None);
    f.store.save_checks(vec![hostile_report()]).await.unwrap();
    save_alert(&f, "bad.test", Phase::Pending).await;
    save_alert(&f, "good.test", Phase::Firing).await;
    let (status, content_type, body) = get_html(&f, "/domains/bad.test").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(body.contains("<h1>bad.test</h1>"), "{body}");
    assert!(body.contains("<caption>Findings of the dmarc check</caption>"));
    assert!(body.contains("<code>dmarc.policy_none</code>"));
    assert!(body.contains("publish p=quarantine."));
    assert!(
        body.contains("x=&lt;script&gt;"),
        "the record, escaped:\n{body}"
    );
    // Only this domain's alert, escaped.
    assert!(body.contains("DMARC of bad.test &lt;script&gt;"), "{body}");
    assert!(!body.contains("DMARC of good.test"), "{body}");
    assert!(body.contains("<td>Pending</td>"));
    assert_no_raw_markup(&body);
}

#[tokio::test]
async fn an_unknown_or_hostile_domain_is_an_html_404() {
    let f = fixture(None);
    for uri in [
        "/domains/other.test",
        "/domains/%3Cscript%3Ealert(1)%3C%2Fscript%3E.test",
        "/domains/a%22%20onmouseover%3D%22x",
    ] {
        let (status, content_type, body) = get_html(&f, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(content_type, "text/html; charset=utf-8", "{uri}");
        assert!(body.contains("<h1>Unknown domain</h1>"), "{uri}: {body}");
        assert_no_raw_markup(&body);
        assert!(!body.contains("\" onmouseover"), "{uri}: {body}");
    }
    let (_, _, body) = get_html(&f, "/domains/%3Cscript%3Ealert(1)%3C%2Fscript%3E.test").await;
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;.test"),
        "{body}"
    );
}

#[tokio::test]
async fn the_api_keeps_json_errors_beside_the_page() {
    let f = fixture(None);
    let (status, content_type, _) = get_html(&f, "/api/v1/domains/other.test").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
    let (status, content_type, _) = get_html(&f, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
}

#[tokio::test]
async fn the_page_shows_rates_from_the_events_store() {
    let f = fixture(None);
    let (status, _, body) = get_html(&f, "/domains/good.test").await;
    assert_eq!(status, StatusCode::OK);
    // The default windows, no mail yet: shown, not judged.
    assert!(
        body.contains("<caption>Bounce and complaint rates per rolling window</caption>"),
        "{body}"
    );
    assert!(body.contains("Too few messages to judge"), "{body}");
    assert!(body.contains("<td>24h</td>"), "{body}");
}
