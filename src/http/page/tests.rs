//! The status page through the router (`oneshot`, a real SQLite store): HTML out, every value
//! escaped, an HTML 404 for a domain that is not configured, the DMARC report figures of reports
//! ingested into that store.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode, header};

use crate::alerts::lifecycle::{AlertRecord, Phase};
use crate::findings::{CheckReport, Finding, FindingCode, Severity};
use crate::http::tests::{Fixture, call, fixture, fixture_with_state, report};
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

/// An aggregate report for `bad.test` that ended an hour ago: 150 messages from 192.0.2.10 passing
/// aligned DKIM and SPF, 50 from 203.0.113.9 failing both, its SPF domain hostile.
fn aggregate_report() -> String {
    let end = crate::checks::unix_now() - 3600;
    format!(
        "<feedback><report_metadata><org_name>receiver.example</org_name><email>d@receiver.example</email>\
         <report_id>page-1</report_id><date_range><begin>{}</begin><end>{end}</end></date_range></report_metadata>\
         <policy_published><domain>bad.test</domain><p>none</p></policy_published>\
         <record><row><source_ip>192.0.2.10</source_ip><count>150</count><policy_evaluated>\
         <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>\
         <identifiers><header_from>bad.test</header_from></identifiers><auth_results>\
         <dkim><domain>bad.test</domain><selector>s1</selector><result>pass</result></dkim>\
         <spf><domain>bad.test</domain><result>pass</result></spf></auth_results></record>\
         <record><row><source_ip>203.0.113.9</source_ip><count>50</count><policy_evaluated>\
         <disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>\
         <identifiers><header_from>bad.test</header_from></identifiers><auth_results>\
         <spf><domain>x&lt;script&gt;alert(\"x\")&lt;/script&gt;.test</domain><result>fail</result></spf>\
         </auth_results></record></feedback>",
        end - 86_399
    )
}

/// A fixture whose `state.path` is its store, holding [`aggregate_report`].
fn fixture_with_reports() -> Fixture {
    let f = fixture_with_state(None, |dir| Some(dir.join("state.db")));
    let path = f.state.config.borrow().state.path.clone();
    let mut w = crate::ingest::store::IngestStore::open(&path).unwrap();
    let report = aggregate_report();
    let o = crate::ingest::ingest(
        &mut report.as_bytes(),
        &crate::ingest::Limits::default(),
        &mut w,
    );
    assert_eq!(o.status(), crate::ingest::Status::Ok, "{:?}", o.errors);
    f
}

#[tokio::test]
async fn a_domain_page_shows_dmarc_pass_rates_the_verdict_and_failing_sources_with_fixes() {
    let f = fixture_with_reports();
    let (status, _, body) = get_html(&f, "/domains/bad.test").await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "<h2>DMARC aggregate reports</h2>",
        "<caption>DMARC pass rate (reports whose interval ended in the window)</caption>",
        "<th scope=\"col\">Passed DMARC</th>",
        "<th scope=\"row\">Last 24 hours</th><td>200</td><td>150</td><td>50</td><td>75.00 % (150 of 200 messages)</td>",
        "<th scope=\"row\">Last 7 days</th><td>200</td><td>150</td><td>50</td><td>75.00 % (150 of 200 messages)</td>",
        "<h3>Enforcement readiness (last 30 days)</h3>",
        // The only failing source never passes: unauthorized, so enforcement blocks no real mail.
        "Verdict: <span class=\"status status-ok\">Ready for p=reject</span>",
        "<caption>Sources with the most mail failing DMARC, last 7 days</caption>",
        "<th scope=\"row\">203.0.113.9</th><td>None</td><td>other</td><td>50</td><td>50</td>",
        "<strong>No DKIM signature</strong>",
    ] {
        assert!(body.contains(shown), "{shown} not in:\n{body}");
    }
    assert!(
        !body.contains("<th scope=\"row\">192.0.2.10</th><td>None</td>"),
        "a passing source is not failing:\n{body}"
    );
    // The hostile SPF domain reaches the page escaped (in the problem and its fix).
    assert!(
        body.contains("x&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.test"),
        "{body}"
    );
    assert_no_raw_markup(&body);
}

#[tokio::test]
async fn the_overview_shows_each_domains_dmarc_pass_rate_and_verdict() {
    let f = fixture_with_reports();
    let (status, _, body) = get_html(&f, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<th scope=\"col\">DMARC pass rate (7 days)</th><th scope=\"col\">Enforcement (30 days)</th>"),
        "{body}"
    );
    let row = |domain: &str| {
        let start = body
            .find(&format!("href=\"/domains/{domain}\""))
            .unwrap_or_else(|| panic!("{domain} not in:\n{body}"));
        let end = start + body[start..].find("</tr>").unwrap();
        body[start..end].to_owned()
    };
    let bad = row("bad.test");
    assert!(
        bad.contains("<td>75.00 % (150 of 200 messages)</td>"),
        "{bad}"
    );
    assert!(bad.contains(">Ready for p=reject</span>"), "{bad}");
    let good = row("good.test");
    assert!(good.contains("<td>No reported mail</td>"), "{good}");
    assert!(
        good.contains(">Too few reported messages to judge</span>"),
        "{good}"
    );
}

#[tokio::test]
async fn report_figures_that_cannot_be_read_leave_a_sentence_not_an_error() {
    // `state.path` is a directory: the analysis cannot open it as a database.
    let f = fixture_with_state(None, |dir| Some(dir.to_owned()));
    let (status, _, body) = get_html(&f, "/domains/bad.test").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("The DMARC report figures could not be read; see the daemon"),
        "{body}"
    );
    let (status, _, body) = get_html(&f, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<td>Not available</td>"), "{body}");
}

#[test]
fn a_hostile_ptr_name_is_escaped_in_the_failing_sources() {
    use crate::analysis::readiness::assess;
    use crate::analysis::sources::{Mechanism, Problem, ProblemKind, Source};
    use crate::analysis::{PassRate, senders::SourceIdentity};
    use crate::views::reports::DomainReports;

    let source = Source {
        ip: "203.0.113.9".into(),
        identity: SourceIdentity {
            ptr: Some(HOSTILE.into()),
            base_domain: None,
            sender: "other".into(),
            sender_type: None,
            spf_include: None,
        },
        messages: 120,
        passed: 0,
        failed: 120,
        spf_aligned: 0,
        dkim_aligned: 0,
        forwarded: 0,
        problems: vec![Problem {
            mechanism: Mechanism::Dkim,
            kind: ProblemKind::DkimFailed,
            domain: Some("bad.test".into()),
            selector: Some(HOSTILE.into()),
            result: Some("fail".into()),
            messages: 120,
            fix: format!("Fix {HOSTILE}."),
        }],
    };
    let enforcement = std::sync::Arc::new(assess("bad.test", 30, 0, std::slice::from_ref(&source)));
    let rate = PassRate {
        messages: 120,
        passed: 0,
        rate: Some(0.0),
    };
    let reports = DomainReports {
        pass_rate_24h: rate.clone(),
        pass_rate_7d: rate,
        top_failing_sources: vec![source],
        enforcement: enforcement.summary(),
    };
    let body = super::dmarc::section(Some(&(reports, enforcement))).into_string();
    assert!(
        body.contains("<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'quoted'</td>"),
        "{body}"
    );
    assert!(
        body.contains("<td>0.00 % (0 of 120 messages)</td>"),
        "{body}"
    );
    assert!(
        body.contains(
            "<strong>The aligned DKIM signature did not verify</strong> (<code>bad.test</code>, \
             selector <code>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'quoted'</code>, \
             result fail), 120 messages. Fix &lt;script&gt;"
        ),
        "{body}"
    );
    assert_no_raw_markup(&body);
}
