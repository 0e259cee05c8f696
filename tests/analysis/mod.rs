//! What the reports say, end to end: a report stored by `senderscope ingest`, its sources enriched
//! through nsd (reverse DNS of 198.51.100.0/24), then the daemon's `/api/v1/domains/{d}/enforcement`,
//! `/api/v1/status`, `/api/v1/domains/{d}` (pass rates, top failing sources, the DKIM check of a
//! selector seen only in reports) and `senderscope report enforcement`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::daemon::{Daemon, TestConfig, binary};
use crate::harness::nsd::Nsd;

const DOMAIN: &str = "clean.dkim.test";

/// A report that ended an hour ago: Google passing (DKIM selector rsa2048, not configured), SendGrid
/// failing 60 of 260 (third-party DKIM and SPF only), a spoofer with no PTR, a forwarder.
fn report() -> String {
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let rec = |ip: &str,
               count: u32,
               dkim: &str,
               spf: &str,
               envelope: &str,
               auth: &str,
               reason: &str| {
        format!(
            "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated><disposition>none</disposition>\
             <dkim>{dkim}</dkim><spf>{spf}</spf>{reason}</policy_evaluated></row><identifiers><header_from>{DOMAIN}</header_from>\
             <envelope_from>{envelope}</envelope_from></identifiers><auth_results>{auth}</auth_results></record>"
        )
    };
    let sg_auth = "<dkim><domain>sendgrid.net</domain><selector>smtpapi</selector><result>pass</result></dkim>\
                   <spf><domain>em.sendgrid.net</domain><scope>mfrom</scope><result>pass</result></spf>";
    let records = [
        rec(
            "198.51.100.1",
            1000,
            "pass",
            "pass",
            DOMAIN,
            &format!(
                "<dkim><domain>{DOMAIN}</domain><selector>rsa2048</selector><result>pass</result></dkim>\
                      <spf><domain>{DOMAIN}</domain><result>pass</result></spf>"
            ),
            "",
        ),
        rec(
            "198.51.100.2",
            200,
            "pass",
            "fail",
            "em.sendgrid.net",
            &format!(
                "<dkim><domain>{DOMAIN}</domain><selector>ed25519</selector><result>pass</result></dkim>{sg_auth}"
            ),
            "",
        ),
        rec(
            "198.51.100.2",
            60,
            "fail",
            "fail",
            "em.sendgrid.net",
            sg_auth,
            "",
        ),
        rec(
            "198.51.100.9",
            300,
            "fail",
            "fail",
            DOMAIN,
            &format!("<spf><domain>{DOMAIN}</domain><result>fail</result></spf>"),
            "",
        ),
        rec(
            "198.51.100.7",
            15,
            "fail",
            "fail",
            DOMAIN,
            &format!("<spf><domain>{DOMAIN}</domain><result>softfail</result></spf>"),
            "<reason><type>forwarded</type></reason>",
        ),
    ];
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>receiver.example</org_name>\
         <email>dmarc@receiver.example</email><report_id>analysis-1</report_id><date_range><begin>{}</begin>\
         <end>{end}</end></date_range></report_metadata><policy_published><domain>{DOMAIN}</domain><p>none</p>\
         </policy_published>{}</feedback>",
        end - 86_399,
        records.concat()
    )
}

/// Config (domain with selector ed25519 only, DNS at `nsd`), the report ingested by the CLI.
fn setup(dir: &Path, nsd: &Nsd) -> (TestConfig, std::path::PathBuf) {
    let mut cfg = TestConfig::new(dir, &[DOMAIN]);
    cfg.dns_port = nsd.addr().port();
    cfg.dkim_selectors = vec!["ed25519".into()];
    let config = dir.join("config.yaml");
    cfg.write(&config);
    let file = dir.join("report.xml");
    std::fs::write(&file, report()).unwrap();
    let out = Command::new(binary())
        .args(["ingest", "--format", "json", "-c"])
        .arg(&config)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (cfg, config)
}

async fn nsd() -> Nsd {
    Nsd::serve(&Nsd::fixtures(&[
        "100.51.198.in-addr.arpa",
        "clean.dkim.test",
    ]))
    .await
}

#[tokio::test]
async fn the_daemon_enriches_sources_and_judges_enforcement_in_the_api() {
    let nsd = nsd().await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, config) = setup(dir.path(), &nsd);
    let d = Daemon::start(&config, cfg.port, &[]);
    let path = format!("/api/v1/domains/{DOMAIN}/enforcement");
    // The enrichment task resolves the sources after start; the answer follows the data.
    let r = d.wait_for(&path, Duration::from_secs(30), |r| {
        r.status == 200 && r.json()["failing_sources"][0]["sender"] == "SendGrid"
    });
    let e = r.json();
    assert_eq!(e["verdict"], "not_ready", "{e:#}");
    assert_eq!(e["window_days"], 30);
    assert_eq!(e["total"]["messages"], 1575);
    assert_eq!(e["legitimate"]["messages"], 1260);
    assert_eq!(e["legitimate"]["failed"], 60);
    assert_eq!(e["unauthorized_failed"], 300);
    assert_eq!(e["forwarding_failed"], 15);
    let sg = &e["failing_sources"][0];
    assert_eq!(sg["class"], "legitimate");
    assert_eq!(sg["network"], "sendgrid.net");
    assert_eq!(sg["ips"][0]["ptr"], "o1.ptr42.sendgrid.net");
    let kinds: Vec<&str> = sg["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"dkim_not_aligned") && kinds.contains(&"spf_not_aligned"),
        "{kinds:?}"
    );
    let classes: Vec<(&str, &str)> = e["failing_sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["sender"].as_str().unwrap(), g["class"].as_str().unwrap()))
        .collect();
    assert!(
        classes.contains(&("Proofpoint", "forwarding")),
        "{classes:?}"
    );
    assert!(classes.contains(&("other", "unauthorized")), "{classes:?}");

    // A shorter window, and bad requests.
    assert_eq!(d.get(&format!("{path}?window=7d")).json()["window_days"], 7);
    assert_eq!(d.get(&format!("{path}?window=5")).status, 400);
    assert_eq!(
        d.get("/api/v1/domains/unknown.test/enforcement").status,
        404
    );

    let status = d.get("/api/v1/status").json();
    let entry = &status["domains"][0];
    assert_eq!(entry["domain"], DOMAIN);
    assert_eq!(entry["enforcement"]["verdict"], "not_ready");
    assert_eq!(entry["enforcement"]["messages"], 1575);
    assert_eq!(entry["enforcement"]["blocking_sources"], 1);

    // The domain view: pass rates, top failing sources, and the DKIM check of the selector seen in
    // the report (rsa2048) beside the configured one.
    let detail = d.wait_for(
        &format!("/api/v1/domains/{DOMAIN}"),
        Duration::from_secs(20),
        |r| {
            r.json()["checks"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["check"] == "dkim"))
        },
    );
    let v = detail.json();
    let reports = &v["reports"];
    assert_eq!(reports["pass_rate_24h"]["messages"], 1575);
    assert_eq!(reports["pass_rate_24h"]["passed"], 1200);
    assert_eq!(reports["pass_rate_7d"]["messages"], 1575);
    assert_eq!(reports["enforcement"]["verdict"], "not_ready");
    let top = &reports["top_failing_sources"];
    assert_eq!(top[0]["ip"], "198.51.100.9");
    assert_eq!(top[0]["failed"], 300);
    assert_eq!(top[0]["sender"], "other");
    assert_eq!(top[1]["sender"], "SendGrid");
    let dkim = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "dkim")
        .unwrap();
    let unmonitored: Vec<&serde_json::Value> = dkim["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "dkim.selector_unmonitored")
        .collect();
    assert_eq!(unmonitored.len(), 1, "{dkim:#}");
    assert_eq!(unmonitored[0]["detail"]["selector"], "rsa2048");
    assert_eq!(unmonitored[0]["severity"], "info");
    assert!(
        dkim["record"]
            .as_str()
            .unwrap()
            .contains("rsa2048: v=DKIM1"),
        "the discovered selector's key was looked up: {dkim:#}"
    );

    // Who sends as the domain, by known sender, on /metrics (bounded labels: names, never IPs).
    let series = |sender: &str, result: &str| {
        format!(
            "senderscope_dmarc_source_messages{{domain=\"{DOMAIN}\",result=\"{result}\",sender=\"{sender}\"}}"
        )
    };
    let scrape = d.wait_for("/metrics", Duration::from_secs(20), |r| {
        r.value(&series("SendGrid", "pass")).is_some()
    });
    assert_eq!(scrape.value(&series("SendGrid", "pass")), Some(200.0));
    assert_eq!(scrape.value(&series("SendGrid", "fail")), Some(60.0));
    assert_eq!(scrape.value(&series("other", "fail")), Some(300.0));
    let total: f64 = scrape
        .body
        .lines()
        .filter(|l| l.starts_with("senderscope_dmarc_source_messages{"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum();
    assert_eq!(total, 1575.0, "every message under one sender");
    assert!(!scrape.body.contains("198.51.100."), "no IP in any label");
}

#[tokio::test]
async fn report_enforcement_prints_the_verdict_as_text_and_json() {
    let nsd = nsd().await;
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, config) = setup(dir.path(), &nsd);
    let run = |format: &str| {
        Command::new(binary())
            .args(["report", "enforcement", DOMAIN, "--format", format, "-c"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let json = run("json");
    assert_eq!(
        json.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let e: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(e["verdict"], "not_ready");
    assert_eq!(e["failing_sources"][0]["sender"], "SendGrid");
    assert!(
        e["to_fix"][0]
            .as_str()
            .unwrap()
            .starts_with("SendGrid (sendgrid.net): "),
        "{e:#}"
    );
    let text = run("text");
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(
        out.starts_with(&format!(
            "{DOMAIN}: not ready for enforcement (last 30 days)"
        )),
        "{out}"
    );
    assert!(
        out.contains("legitimate   SendGrid (sendgrid.net): 60 of 260 messages fail"),
        "{out}"
    );
    assert!(out.contains("198.51.100.2 o1.ptr42.sendgrid.net"), "{out}");
    assert!(
        out.contains("forwarding   Proofpoint (pphosted.com)"),
        "{out}"
    );

    // Without a state database: a clear error.
    let empty = dir.path().join("empty.yaml");
    std::fs::write(
        &empty,
        format!(
            "state:\n  path: {}/none/db\ndomains: []\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let none = Command::new(binary())
        .args(["report", "enforcement", DOMAIN, "-c"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no state database"));
}
