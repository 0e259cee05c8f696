//! The analysis against a real state database: reports ingested through the ingest write path,
//! enrichment written as the enrichment task writes it, then the questions asked.

use super::db::AnalysisDb;
use super::readiness::{SourceClass, Verdict};
use super::senders::SenderMap;
use super::sources::ProblemKind;
use super::*;
use crate::ingest::store::IngestStore;
use crate::ingest::{Limits, Status, ingest};

/// One `<record>`: `(ip, count, dkim aligned, spf aligned, envelope_from, [(d, selector, result)],
/// [(spf domain, result)], override reason)`.
type Rec<'a> = (
    &'a str,
    u64,
    &'a str,
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str, &'a str)],
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
);

fn report(id: &str, end: i64, records: &[Rec<'_>]) -> String {
    let mut xml = format!(
        "<feedback><report_metadata><org_name>receiver.example</org_name><email>d@receiver.example</email>\
         <report_id>{id}</report_id><date_range><begin>{}</begin><end>{end}</end></date_range></report_metadata>\
         <policy_published><domain>example.com</domain><p>none</p></policy_published>",
        end - 86_399
    );
    for (ip, count, dkim, spf, envelope, sigs, spfs, reason) in records {
        xml += &format!(
            "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
             <disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf}</spf>{}</policy_evaluated></row>\
             <identifiers><header_from>example.com</header_from><envelope_from>{envelope}</envelope_from></identifiers><auth_results>",
            reason.map_or(String::new(), |r| format!(
                "<reason><type>{r}</type></reason>"
            ))
        );
        for (d, s, r) in *sigs {
            xml += &format!(
                "<dkim><domain>{d}</domain><selector>{s}</selector><result>{r}</result></dkim>"
            );
        }
        for (d, r) in *spfs {
            xml +=
                &format!("<spf><domain>{d}</domain><scope>mfrom</scope><result>{r}</result></spf>");
        }
        xml += "</auth_results></record>";
    }
    xml + "</feedback>"
}

/// Google passing, SendGrid partly failing (`sendgrid_failing` of 200), a spoofer, a forwarder.
fn scenario(sendgrid_failing: u64) -> Vec<String> {
    let now = crate::checks::unix_now();
    let google: Rec<'_> = (
        "192.0.2.1",
        1000,
        "pass",
        "fail",
        "example.com",
        &[("example.com", "google", "pass")],
        &[("example.com", "pass")],
        None,
    );
    let sg_pass: Rec<'_> = (
        "192.0.2.2",
        200 - sendgrid_failing,
        "pass",
        "fail",
        "bounces.sendgrid.net",
        &[
            ("example.com", "s1", "pass"),
            ("sendgrid.net", "smtpapi", "pass"),
        ],
        &[("bounces.sendgrid.net", "pass")],
        None,
    );
    let sg_fail: Rec<'_> = (
        "192.0.2.2",
        sendgrid_failing,
        "fail",
        "fail",
        "bounces.sendgrid.net",
        &[("sendgrid.net", "smtpapi", "pass")],
        &[("bounces.sendgrid.net", "pass")],
        None,
    );
    let spoof: Rec<'_> = (
        "203.0.113.9",
        300,
        "fail",
        "fail",
        "example.com",
        &[],
        &[("example.com", "fail")],
        None,
    );
    let forwarded: Rec<'_> = (
        "198.51.100.7",
        20,
        "fail",
        "fail",
        "example.com",
        &[("example.com", "google", "fail")],
        &[("example.com", "softfail")],
        Some("forwarded"),
    );
    let mut day1 = vec![google, sg_pass, spoof, forwarded];
    if sendgrid_failing > 0 {
        day1.push(sg_fail);
    }
    vec![report("r1", now - 3600, &day1)]
}

fn store(reports: &[String]) -> (tempfile::TempDir, AnalysisDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut w = IngestStore::open(&path).unwrap();
    for r in reports {
        let o = ingest(&mut r.as_bytes(), &Limits::default(), &mut w);
        assert_eq!(o.status(), Status::Ok, "{:?}", o.errors);
    }
    drop(w);
    let db = AnalysisDb::open(&path).unwrap();
    let now = crate::checks::unix_now();
    db.write_enrichment(
        &[
            (
                "192.0.2.1".into(),
                "ptr",
                Some("mail-a1.google.com".into()),
                now + 3600,
            ),
            (
                "192.0.2.2".into(),
                "ptr",
                Some("o1.ptr42.sendgrid.net".into()),
                now + 3600,
            ),
            ("203.0.113.9".into(), "no_ptr", None, now + 3600),
            (
                "198.51.100.7".into(),
                "ptr",
                Some("mx0a.pphosted.com".into()),
                now + 3600,
            ),
        ],
        now,
    )
    .unwrap();
    (dir, db)
}

#[test]
fn a_legitimate_sender_failing_four_percent_blocks_enforcement_and_says_what_to_fix() {
    let (_dir, db) = store(&scenario(50));
    let e = enforcement(
        &db,
        &SenderMap::embedded(),
        "example.com",
        DEFAULT_WINDOW,
        crate::checks::unix_now(),
    )
    .unwrap();
    assert_eq!(e.verdict, Verdict::NotReady, "{e:#?}");
    assert_eq!(e.total.messages, 1520);
    assert_eq!(e.total.passed, 1150);
    assert_eq!(e.legitimate.messages, 1200);
    assert_eq!(e.legitimate.failed, 50);
    assert_eq!(e.unauthorized_failed, 300);
    assert_eq!(e.forwarding_failed, 20);
    let first = &e.failing_sources[0];
    assert_eq!(first.sender, "SendGrid");
    assert_eq!(first.class, SourceClass::Legitimate);
    assert_eq!(first.failed, 50);
    assert_eq!(first.ips[0].ptr.as_deref(), Some("o1.ptr42.sendgrid.net"));
    let kinds: Vec<ProblemKind> = first.problems.iter().map(|p| p.kind).collect();
    assert!(kinds.contains(&ProblemKind::SpfNotAligned), "{kinds:?}");
    assert!(kinds.contains(&ProblemKind::DkimNotAligned), "{kinds:?}");
    assert!(
        e.to_fix
            .iter()
            .any(|f| f.starts_with("SendGrid (sendgrid.net): DKIM signs with d=sendgrid.net")),
        "{:?}",
        e.to_fix
    );
    let spoofer = e
        .failing_sources
        .iter()
        .find(|g| g.ips[0].ip == "203.0.113.9")
        .unwrap();
    assert_eq!(spoofer.class, SourceClass::Unauthorized);
    assert_eq!(spoofer.problems[0].kind, ProblemKind::SpfNotAuthorized);
    let forwarder = e
        .failing_sources
        .iter()
        .find(|g| g.sender == "Proofpoint")
        .unwrap();
    assert_eq!(forwarder.class, SourceClass::Forwarding);
}

#[test]
fn the_verdict_follows_the_share_of_legitimate_mail_failing() {
    for (failing, verdict) in [
        (10, Verdict::ReadyForQuarantine), // 10 of 1200: 0.8 %
        (0, Verdict::ReadyForReject),
    ] {
        let (_dir, db) = store(&scenario(failing));
        let e = enforcement(
            &db,
            &SenderMap::embedded(),
            "example.com",
            DEFAULT_WINDOW,
            crate::checks::unix_now(),
        )
        .unwrap();
        assert_eq!(e.verdict, verdict, "{failing}: {:?}", e.reasons);
        // Spoofed mail never counts against readiness, but is named.
        assert!(
            e.reasons
                .iter()
                .any(|r| r.contains("300 messages came from sources that never pass"))
        );
    }
}

#[test]
fn too_little_mail_or_a_window_without_reports_is_insufficient_data() {
    let (_dir, db) = store(&scenario(0));
    let e = enforcement(
        &db,
        &SenderMap::embedded(),
        "other.example",
        DEFAULT_WINDOW,
        crate::checks::unix_now(),
    )
    .unwrap();
    assert_eq!(e.verdict, Verdict::InsufficientData);
    assert_eq!(e.total.messages, 0);
    assert_eq!(e.pass_rate, None);
    // Reports older than the window do not count.
    let e = enforcement(
        &db,
        &SenderMap::embedded(),
        "example.com",
        DEFAULT_WINDOW,
        crate::checks::unix_now() + 40 * 86_400,
    )
    .unwrap();
    assert_eq!(e.total.messages, 0);
}

#[test]
fn overview_gives_pass_rates_and_the_top_failing_sources_with_their_identity() {
    let now = crate::checks::unix_now();
    let mut reports = scenario(50);
    // A report that ended three days ago: in the 7-day rate, not in the 24-hour one.
    reports.push(report(
        "old",
        now - 3 * 86_400,
        &[(
            "192.0.2.1",
            480,
            "fail",
            "fail",
            "example.com",
            &[("example.com", "google", "fail")],
            &[("example.com", "fail")],
            None,
        )],
    ));
    let (_dir, db) = store(&reports);
    let o = overview(&db, &SenderMap::embedded(), "example.com", now).unwrap();
    assert_eq!(o.pass_rate_24h.messages, 1520);
    assert_eq!(o.pass_rate_24h.passed, 1150);
    assert_eq!(o.pass_rate_7d.messages, 2000);
    assert_eq!(o.pass_rate_7d.passed, 1150);
    let top = &o.top_failing_sources[0];
    assert_eq!(top.ip, "192.0.2.1");
    assert_eq!(top.failed, 480);
    assert_eq!(top.identity.sender, "Google Workspace");
    assert_eq!(top.problems[0].kind, ProblemKind::SpfNotAuthorized);
    assert!(
        top.problems[0].fix.contains("include:_spf.google.com"),
        "{}",
        top.problems[0].fix
    );
    assert!(
        top.problems
            .iter()
            .any(|p| p.kind == ProblemKind::DkimFailed && p.selector.as_deref() == Some("google"))
    );
    let ips: Vec<&str> = o
        .top_failing_sources
        .iter()
        .map(|s| s.ip.as_str())
        .collect();
    assert_eq!(
        ips,
        ["192.0.2.1", "203.0.113.9", "192.0.2.2", "198.51.100.7"]
    );
}

#[test]
fn pending_sources_are_those_without_fresh_enrichment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut w = IngestStore::open(&path).unwrap();
    for r in scenario(5) {
        ingest(&mut r.as_bytes(), &Limits::default(), &mut w);
    }
    let db = AnalysisDb::open(&path).unwrap();
    let now = crate::checks::unix_now();
    let mut pending = db.pending_ips(0, None, now, 100).unwrap();
    pending.sort();
    assert_eq!(
        pending,
        ["192.0.2.1", "192.0.2.2", "198.51.100.7", "203.0.113.9"]
    );
    db.write_enrichment(&[("192.0.2.1".into(), "no_ptr", None, now + 60)], now)
        .unwrap();
    assert_eq!(
        db.pending_ips(0, Some("example.com"), now, 100)
            .unwrap()
            .len(),
        3
    );
    // Expired: asked again.
    assert_eq!(db.pending_ips(0, None, now + 120, 100).unwrap().len(), 4);
    assert!(
        db.pending_ips(0, Some("other.example"), now, 100)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn ingest_senders_file_extends_the_mapping_and_a_bad_one_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("senders.yaml");
    std::fs::write(&good, "relay.example: { name: Our relay, type: hosting }\n").unwrap();
    let yaml = |file: &std::path::Path| {
        format!("domains: []\ningest:\n  senders_file: {}\n", file.display())
    };
    let c = crate::config::load_str(&yaml(&good), "c.yaml").unwrap();
    let senders = &c.ingest.senders;
    assert_eq!(
        senders.identify(Some("mx1.relay.example")).sender,
        "Our relay"
    );
    assert_eq!(senders.identify(Some("o1.sendgrid.net")).sender, "SendGrid");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "relay.example: { name: Our relay, type: pigeon }\n").unwrap();
    let err = crate::config::load_str(&yaml(&bad), "c.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ingest.senders_file"), "{err}");
    assert!(err.contains("bad.yaml") && err.contains("line 1"), "{err}");
}
